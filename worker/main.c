/* main.c - alertq-worker: one member of the worker group */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "alertq/util.h"
#include "base/failpoint.h"
#include "alertq/version.h"
#include "alertq/worker.h"

static struct aq_worker_signals signals_seen;

static void on_stop(int sig)
{
	(void)sig;
	signals_seen.stop = 1;
}

static void on_hangup(int sig)
{
	(void)sig;
	signals_seen.reload = 1;
}

static void usage(FILE *out)
{
	fputs("usage: alertq-worker [-c FILE]\n"
	      "\n"
	      "Consumes check results from Kafka as a member of the worker group, applies the\n"
	      "rules, keeps alert state in PostgreSQL (migrating its schema first), escalates\n"
	      "and delivers notifications. Start as many as you like with the same config.\n"
	      "SIGTERM/SIGINT: finish the batch in hand, commit, leave the group.\n"
	      "SIGHUP: reopen log files and reload rules, escalations and channels.\n"
	      "\n"
	      "  -c, --config FILE   configuration (default ./alertq.yaml)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       the version\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = "alertq.yaml";
	for (;;) {
		int opt = getopt_long(argc, argv, "c:hV", options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("alertq-worker %s\n", ALERTQ_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "alertq-worker: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	aq_log_init("alertq-worker");
	if (aq_failpoints_init() != 0)
		return 2;
	struct aq_config cfg;
	char err[8192];
	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return aq_worker_run(&cfg, config_path, &signals_seen) == 0 ? 0 : 1;
}
