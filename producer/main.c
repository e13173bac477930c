/* main.c - alertq-producer: runs the configured checks on their schedules (or
 * once, for cron) and publishes each result; `submit` publishes results given
 * on the command line or as JSON lines */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/probe.h"
#include "alertq/publisher.h"
#include "alertq/schedule.h"
#include "alertq/submit.h"
#include "alertq/version.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* a result was not delivered, or a submit line was bad */
	EXIT_USAGE = 2,   /* usage or configuration error */
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fputs("usage: alertq-producer [-c FILE] [--once]\n"
	      "       alertq-producer [-c FILE] submit --check NAME [--value X] [--status S] [--message "
	      "TEXT]\n"
	      "                              [--label K=V]... [--interval DURATION]\n"
	      "                              [--expires-at TIME]\n"
	      "       alertq-producer [-c FILE] submit --file PATH   (JSON lines; - for stdin)\n"
	      "\n"
	      "Runs every configured check on its own schedule and publishes each result to\n"
	      "Kafka, keyed by check name. --once runs each check once, waits until Kafka has\n"
	      "acknowledged every result and exits (for cron). SIGTERM/SIGINT stop it after\n"
	      "what was produced is delivered.\n"
	      "\n"
	      "  -c, --config FILE   configuration (default ./alertq.yaml)\n"
	      "      --once          run every check once and exit\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       the version\n"
	      "\n"
	      "Exit status: 0 all delivered, 1 a result was not delivered (or a submit line was\n"
	      "bad), 2 usage or configuration error.\n",
	      out);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Runs `submit`: returns the exit status. */
static int submit_main(int argc, char **argv, const struct aq_config *cfg)
{
	struct aq_submit_request req;
	char err[512];
	int status = EXIT_RUNTIME;

	if (aq_submit_args(argc, argv, &req, err, sizeof(err)) != 0) {
		if (err[0])
			fprintf(stderr, "alertq-producer: %s\n", err);
		aq_submit_request_release(&req);
		return EXIT_USAGE;
	}
	if (req.help) {
		usage(stdout);
		aq_submit_request_release(&req);
		return EXIT_OK;
	}
	aq_publisher_t *pub = req.file ? aq_publisher_new_bulk(cfg, err, sizeof(err))
				       : aq_publisher_new(cfg, err, sizeof(err));
	if (!pub) {
		aq_log(AQ_LOG_ERROR, "%s", err);
		aq_submit_request_release(&req);
		return EXIT_RUNTIME;
	}
	int rc;
	if (req.file)
		rc = aq_submit_file(pub, req.file, &stop_requested, stderr, err, sizeof(err));
	else
		rc = aq_submit_one(pub, &req.result, err, sizeof(err));
	if (rc == 0)
		status = EXIT_OK;
	else
		aq_log(AQ_LOG_ERROR, "%s", err);
	aq_publisher_free(pub);
	aq_submit_request_release(&req);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = "alertq.yaml";
	int once = 0;
	char err[8192];
	struct aq_config cfg;

	aq_log_init("alertq-producer");
	for (;;) {
		/* '+': stop at the subcommand, whose options are its own */
		int opt = getopt_long(argc, argv, "+c:hV", options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("alertq-producer %s\n", ALERTQ_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	const char *command = optind < argc ? argv[optind] : NULL;
	if (command && strcmp(command, "submit") != 0) {
		fprintf(stderr, "alertq-producer: unknown command '%s'\n", command);
		usage(stderr);
		return EXIT_USAGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	install_signals();
	int rc;
	if (command) {
		rc = submit_main(argc - optind, argv + optind, &cfg);
	} else {
		aq_publisher_t *pub = aq_publisher_new(&cfg, err, sizeof(err));
		if (!pub) {
			aq_log(AQ_LOG_ERROR, "%s", err);
			aq_config_release(&cfg);
			return EXIT_RUNTIME;
		}
		if (once)
			rc = aq_schedule_once(&cfg, pub, &stop_requested, err, sizeof(err));
		else
			rc = aq_schedule_run(&cfg, pub, &stop_requested, err, sizeof(err));
		if (rc != 0)
			aq_log(AQ_LOG_ERROR, "%s", err);
		rc = rc == 0 ? EXIT_OK : EXIT_RUNTIME;
		aq_publisher_free(pub);
	}
	aq_config_release(&cfg);
	return rc;
}
