/* fuzz_config.c - libFuzzer target: aq_config_parse on arbitrary YAML */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* the loader reads these; keep the run independent of the caller's */
	unsetenv("ALERTQ_KAFKA_BROKERS");
	unsetenv("ALERTQ_STATE_DSN");
	setenv("ALERTQ_FUZZ_DSN", "postgresql://fuzz@127.0.0.1/fuzz", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aq_config cfg;
	char err[4096];

	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_parse(&cfg, "fuzz.yaml", (const char *)data, size, err, sizeof(err)) == 0) {
		/* what the worker and producer look up once a file is loaded */
		for (size_t i = 0; i < cfg.nchecks; i++) {
			const struct aq_rule *rule = aq_config_rule_for(&cfg, cfg.checks[i].name, cfg.checks[i].labels, cfg.checks[i].nlabels);
			if (cfg.checks[i].source && !aq_config_source(&cfg, cfg.checks[i].source))
				abort();
			if (rule && rule->escalation && !aq_config_escalation(&cfg, rule->escalation))
				abort();
		}
		for (size_t i = 0; i < cfg.nescalations; i++)
			for (int s = 0; s < 4; s++)
				for (size_t l = 0; l < cfg.escalations[i].severity[s].nlevels; l++)
					for (size_t n = 0;
					     n < cfg.escalations[i].severity[s].levels[l].nnotify; n++)
						if (!aq_config_channel(&cfg,
								       cfg.escalations[i]
									       .severity[s]
									       .levels[l]
									       .notify[n]))
							abort();
		aq_config_release(&cfg);
	}
	return 0;
}
