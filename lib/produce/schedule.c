/* schedule.c - running the configured checks: each on its own schedule until
 * told to stop, or each once (for cron) */
#include "alertq/schedule.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/probe.h"

#define SEND_ERR_MAX 512
#define IDLE_SLICE_MS 100    /* how often the loop looks at the stop flag */
#define IDLE_DEFAULT_MS 1000 /* longest wait when no check is due */

int aq_schedule_once(const struct aq_config *cfg, aq_publisher_t *pub, const volatile sig_atomic_t *stop,
		     char *err, size_t errlen)
{
	aq_prober_t *prober = aq_prober_new(cfg);
	size_t failed = 0;
	for (size_t i = 0; i < cfg->nchecks && !*stop; i++) {
		struct aq_result r;
		char serr[SEND_ERR_MAX];
		memset(&r, 0, sizeof(r));
		if (aq_prober_run(prober, &cfg->checks[i], &r) != 0) {
			failed++;
			continue;
		}
		if (aq_publisher_send(pub, &r, serr, sizeof(serr)) != 0) {
			aq_log(AQ_LOG_ERROR, "%s", serr);
			failed++;
		}
		aq_result_release(&r);
	}
	aq_prober_free(prober);
	if (aq_publisher_finish(pub, err, errlen) != 0)
		return -1;
	if (failed > 0) {
		snprintf(err, errlen, "%zu check(s) produced no result that could be sent", failed);
		return -1;
	}
	return 0;
}

int aq_schedule_run(const struct aq_config *cfg, aq_publisher_t *pub, const volatile sig_atomic_t *stop,
		    char *err, size_t errlen)
{
	aq_prober_t *prober = aq_prober_new(cfg);
	int64_t *next = aq_xcalloc(cfg->nchecks, sizeof(*next));
	int rc;
	aq_log(AQ_LOG_INFO, "running %zu check(s)", cfg->nchecks);
	while (!*stop) {
		int64_t now = aq_monotonic_ms();
		int64_t soonest = now + IDLE_DEFAULT_MS;
		for (size_t i = 0; i < cfg->nchecks && !*stop; i++) {
			if (next[i] > now) {
				if (next[i] < soonest)
					soonest = next[i];
				continue;
			}
			struct aq_result r;
			char serr[SEND_ERR_MAX];
			memset(&r, 0, sizeof(r));
			if (aq_prober_run(prober, &cfg->checks[i], &r) == 0) {
				if (aq_publisher_send(pub, &r, serr, sizeof(serr)) != 0)
					aq_log(AQ_LOG_ERROR, "%s", serr);
				aq_result_release(&r);
			}
			/* keep the cadence: the next run is due one interval after this one was */
			next[i] = (next[i] ? next[i] : now) + cfg->checks[i].every_ms;
			if (next[i] < aq_monotonic_ms())
				next[i] = aq_monotonic_ms();
			if (next[i] < soonest)
				soonest = next[i];
		}
		int64_t wait = soonest - aq_monotonic_ms();
		if (wait > IDLE_SLICE_MS)
			wait = IDLE_SLICE_MS;
		aq_publisher_poll(pub, wait > 0 ? (int)wait : 0);
	}
	aq_log(AQ_LOG_INFO, "stopping: delivering what was produced");
	rc = aq_publisher_finish(pub, err, errlen);
	free(next);
	aq_prober_free(prober);
	return rc;
}
