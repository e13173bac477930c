/* main.c - alertq-producer: runs the configured checks on their schedules (or
 * once, for cron) and publishes each result; `submit` publishes results given
 * on the command line or as JSON lines */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/probe.h"
#include "alertq/publisher.h"
#include "alertq/version.h"

#define LINE_MAX_BYTES (1024 * 1024)

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

/* Waits for every queued result; returns 0 when all were acknowledged. */
static int finish(aq_publisher_t *pub)
{
	size_t left = aq_publisher_flush(pub, 60000);
	size_t failed = aq_publisher_failed(pub);
	if (left > 0 || failed > 0) {
		aq_log(AQ_LOG_ERROR, "%zu result(s) not acknowledged by Kafka (%zu delivered)", left,
		       aq_publisher_delivered(pub));
		return 1;
	}
	return 0;
}

static int run_once(const struct aq_config *cfg, aq_publisher_t *pub)
{
	aq_prober_t *prober = aq_prober_new(cfg);
	int rc = 0;
	for (size_t i = 0; i < cfg->nchecks && !stop_requested; i++) {
		struct aq_result r;
		char err[512];
		memset(&r, 0, sizeof(r));
		if (aq_prober_run(prober, &cfg->checks[i], &r) != 0) {
			rc = 1;
			continue;
		}
		if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0) {
			aq_log(AQ_LOG_ERROR, "%s", err);
			rc = 1;
		}
		aq_result_release(&r);
	}
	aq_prober_free(prober);
	return finish(pub) || rc;
}

static int run_schedule(const struct aq_config *cfg, aq_publisher_t *pub)
{
	aq_prober_t *prober = aq_prober_new(cfg);
	int64_t *next = calloc(cfg->nchecks ? cfg->nchecks : 1, sizeof(*next));
	int rc = 0;
	if (!prober || !next) {
		aq_log(AQ_LOG_ERROR, "out of memory");
		free(next);
		aq_prober_free(prober);
		return 1;
	}
	aq_log(AQ_LOG_INFO, "running %zu check(s)", cfg->nchecks);
	while (!stop_requested) {
		int64_t now = aq_monotonic_ms();
		int64_t soonest = now + 1000;
		for (size_t i = 0; i < cfg->nchecks && !stop_requested; i++) {
			if (next[i] > now) {
				if (next[i] < soonest)
					soonest = next[i];
				continue;
			}
			struct aq_result r;
			char err[512];
			memset(&r, 0, sizeof(r));
			if (aq_prober_run(prober, &cfg->checks[i], &r) == 0) {
				if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0)
					aq_log(AQ_LOG_ERROR, "%s", err);
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
		if (wait > 100)
			wait = 100;
		aq_publisher_poll(pub, wait > 0 ? (int)wait : 0);
	}
	aq_log(AQ_LOG_INFO, "stopping: delivering what was produced");
	rc = finish(pub);
	free(next);
	aq_prober_free(prober);
	return rc;
}

/* submit --file: one JSON object a line; a bad line is reported with its
 * number and skipped. */
static int submit_file(aq_publisher_t *pub, const char *path)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!in) {
		aq_log(AQ_LOG_ERROR, "cannot open '%s': %m", path);
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	size_t bad = 0;
	size_t sent = 0;
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		char err[512];
		struct aq_result r;
		if (len > LINE_MAX_BYTES) {
			fprintf(stderr, "%s:%ld: line longer than %d bytes\n", path, lineno, LINE_MAX_BYTES);
			bad++;
			continue;
		}
		if (aq_submit_parse(line, (size_t)len, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s:%ld: %s\n", path, lineno, err);
			bad++;
			continue;
		}
		if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s:%ld: %s\n", path, lineno, err);
			bad++;
		} else {
			sent++;
		}
		aq_result_release(&r);
		if (stop_requested)
			break;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	int rc = finish(pub);
	aq_log(AQ_LOG_INFO, "submitted %zu result(s), %zu delivered, %zu bad line(s)", sent,
	       aq_publisher_delivered(pub), bad);
	return rc || bad > 0;
}

static int add_label(struct aq_result *r, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return -1;
	struct aq_label *grown = realloc(r->labels, (r->nlabels + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	r->labels = grown;
	r->labels[r->nlabels].key = strndup(kv, (size_t)(eq - kv));
	r->labels[r->nlabels].value = aq_strdup(eq + 1);
	r->nlabels++;
	return 0;
}

static int submit_main(int argc, char **argv, const struct aq_config *cfg)
{
	static const struct option options[] = {
		{ "check", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' },
		{ "status", required_argument, NULL, 's' },
		{ "message", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct aq_result r;
	const char *file = NULL;
	char err[512] = ""; /* read after a failed delivery too, when nothing wrote it */
	int rc = 2;
	memset(&r, 0, sizeof(r));
	r.status = AQ_STATUS_NONE;
	optind = 0; /* 0: glibc starts over, permuting again */
	for (;;) {
		int opt = getopt_long(argc, argv, "h", options, NULL);
		if (opt == -1)
			break;
		char *end;
		switch (opt) {
		case 'k':
			free(r.check);
			r.check = aq_strdup(optarg);
			break;
		case 'v':
			r.value = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "alertq-producer: --value '%s' is not a number\n", optarg);
				goto out;
			}
			r.has_value = 1;
			break;
		case 's':
			r.status = aq_status_parse(optarg);
			if (r.status == AQ_STATUS_NONE) {
				fprintf(stderr,
					"alertq-producer: --status must be OK, WARNING, CRITICAL or "
					"UNKNOWN\n");
				goto out;
			}
			break;
		case 'm':
			free(r.message);
			r.message = aq_strdup(optarg);
			break;
		case 'l':
			if (add_label(&r, optarg) != 0) {
				fprintf(stderr, "alertq-producer: --label expects KEY=VALUE, got '%s'\n",
					optarg);
				goto out;
			}
			break;
		case 'i':
			if (aq_duration_parse(optarg, &r.interval_ms, err, sizeof(err)) != 0) {
				fprintf(stderr, "alertq-producer: --interval: %s\n", err);
				goto out;
			}
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "alertq-producer: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (!file && (!r.check || !*r.check)) {
		fprintf(stderr, "alertq-producer: submit needs --check NAME or --file PATH\n");
		goto out;
	}
	if (r.check && strlen(r.check) > AQ_CHECK_NAME_MAX) {
		fprintf(stderr, "alertq-producer: --check is longer than %d bytes\n", AQ_CHECK_NAME_MAX);
		goto out;
	}
	aq_publisher_t *pub = aq_publisher_new(cfg, err, sizeof(err));
	if (!pub) {
		aq_log(AQ_LOG_ERROR, "%s", err);
		rc = 1;
		goto out;
	}
	if (file) {
		rc = submit_file(pub, file);
	} else {
		aq_result_stamp(&r);
		rc = aq_publisher_send(pub, &r, err, sizeof(err)) == 0 ? finish(pub) : 1;
		if (rc && err[0])
			aq_log(AQ_LOG_ERROR, "%s", err);
	}
	aq_publisher_free(pub);
out:
	aq_result_release(&r);
	return rc;
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
			return 0;
		case 'V':
			printf("alertq-producer %s\n", ALERTQ_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	const char *command = optind < argc ? argv[optind] : NULL;
	if (command && strcmp(command, "submit") != 0) {
		fprintf(stderr, "alertq-producer: unknown command '%s'\n", command);
		usage(stderr);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
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
			return 1;
		}
		rc = once ? run_once(&cfg, pub) : run_schedule(&cfg, pub);
		aq_publisher_free(pub);
	}
	aq_config_release(&cfg);
	return rc;
}
