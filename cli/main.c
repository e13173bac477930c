/* main.c - alertq: status, history, acknowledgement, silences, replay,
 * configuration checks and schema migration */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/admin.h"
#include "alertq/config.h"
#include "alertq/replay.h"
#include "alertq/store.h"
#include "alertq/version.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT and SIGTERM ask a long command (replay) to stop; it notices
 * within about 100 ms, undoes what it must and returns. */
static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *out)
{
	fputs("usage: alertq [-c FILE] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  status [--json]                          every known check and its alert state\n"
	      "  history CHECK [--json]                   transitions and the notifications they caused\n"
	      "  ack CHECK [--by NAME] [--comment TEXT]   stop escalation and repeats for this episode\n"
	      "  unack CHECK                              take an acknowledgement back\n"
	      "  silence MATCH --for DURATION [--comment TEXT]\n"
	      "                                           hold notifications of matching checks back\n"
	      "  silences [--json]                        the silences in force\n"
	      "  unsilence ID                             end a silence now\n"
	      "  replay --from beginning|OFFSET|TIME [--to OFFSET|TIME]\n"
	      "         (--dry-run [--rules FILE] [--json] | --rebuild)\n"
	      "                                           re-read the checks topic up to --to (not\n"
	      "                                           included; default: its end now): --dry-run shows\n"
	      "                                           what the rules (or FILE's) would have done,\n"
	      "                                           --rebuild replaces the alert state with it, no\n"
	      "                                           notifications (workers must be stopped)\n"
	      "  check-config                             validate the configuration and exit\n"
	      "  migrate                                  bring the state database's schema up to date\n"
	      "\n"
	      "  -c, --config FILE   configuration (default ./alertq.yaml)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       the version\n"
	      "\n"
	      "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
	      out);
}

struct args {
	int json;
	const char *by;
	const char *comment;
	const char *duration;
	const char *from;
	const char *to;
	const char *rules;
	int dry_run;
	int rebuild;
	const char *positional[4];
	int npositional;
};

/* Parses the options after the command. Returns 0 or 2 (usage error). */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },          { "by", required_argument, NULL, 'b' },
		{ "comment", required_argument, NULL, 'm' }, { "for", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },    { "to", required_argument, NULL, 'T' },
		{ "rules", required_argument, NULL, 'r' },   { "dry-run", no_argument, NULL, 'd' },
		{ "rebuild", no_argument, NULL, 'R' },       { NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	optind = 0; /* 0: glibc starts over, permuting again */
	for (;;) {
		int opt = getopt_long(argc, argv, "", options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'j':
			a->json = 1;
			break;
		case 'b':
			a->by = optarg;
			break;
		case 'm':
			a->comment = optarg;
			break;
		case 'f':
			a->duration = optarg;
			break;
		case 'F':
			a->from = optarg;
			break;
		case 'T':
			a->to = optarg;
			break;
		case 'r':
			a->rules = optarg;
			break;
		case 'd':
			a->dry_run = 1;
			break;
		case 'R':
			a->rebuild = 1;
			break;
		default:
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->npositional == 4)
			return 2;
		a->positional[a->npositional++] = argv[i];
	}
	return 0;
}

static int need(const struct args *a, int n, const char *what)
{
	if (a->npositional == n)
		return 0;
	fprintf(stderr, "alertq: %s\n", what);
	return 2;
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
	char err[8192];
	struct aq_config cfg;
	struct args a;

	aq_log_init("alertq");
	for (;;) {
		int opt = getopt_long(argc, argv, "+c:hV", options, NULL);
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
			printf("alertq %s\n", ALERTQ_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *command = argv[optind];
	static const char *const commands[] = { "status",  "history",  "ack",       "unack",
						"silence", "silences", "unsilence", "check-config",
						"migrate", "replay",   NULL };
	int known = 0;
	for (int i = 0; commands[i]; i++)
		known |= strcmp(command, commands[i]) == 0;
	if (!known) {
		fprintf(stderr, "alertq: unknown command '%s'\n", command);
		usage(stderr);
		return 2;
	}
	if (parse_args(argc - optind, argv + optind, &a) != 0) {
		usage(stderr);
		return 2;
	}

	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (strcmp(command, "check-config") == 0) {
		printf("%s: ok (%zu checks, %zu rules, %zu escalations, %zu channels)\n", config_path,
		       cfg.nchecks, cfg.nrules, cfg.nescalations, cfg.nchannels);
		aq_config_release(&cfg);
		return 0;
	}

	if (strcmp(command, "replay") == 0) {
		int rc = need(&a, 0, "replay takes no arguments, only options (see --help)");
		if (rc == 0 && a.dry_run == a.rebuild) {
			fprintf(stderr, "alertq: replay needs either --dry-run or --rebuild\n");
			rc = 2;
		}
		if (rc == 0 && a.rebuild && (a.rules || a.json)) {
			fprintf(stderr,
				"alertq: --rules and --json go with --dry-run; a rebuild uses the configured"
				" rules\n");
			rc = 2;
		}
		if (rc == 0) {
			struct aq_replay_options opt = { a.from, a.to,    a.rebuild,
							 a.json, a.rules, &stop_requested };
			err[0] = '\0';
			catch_stop_signals();
			rc = aq_replay_run(&cfg, &opt, stdout, err, sizeof(err));
			if (rc != 0 && err[0])
				fprintf(stderr,
					rc == 2 && a.rules && strncmp(err, a.rules, strlen(a.rules)) == 0
						? "%s\n"
						: "alertq: %s\n",
					err);
		}
		aq_config_release(&cfg);
		return rc;
	}

	int rc = 2;
	int64_t duration_ms = 0;
	if (strcmp(command, "history") == 0 || strcmp(command, "ack") == 0 || strcmp(command, "unack") == 0 ||
	    strcmp(command, "unsilence") == 0) {
		rc = need(&a, 1, "this command takes exactly one argument (see --help)");
	} else if (strcmp(command, "silence") == 0) {
		rc = need(&a, 1, "silence takes one MATCH glob and --for DURATION");
		if (rc == 0 && !a.duration) {
			fprintf(stderr, "alertq: silence needs --for DURATION (e.g. --for 2h)\n");
			rc = 2;
		}
		if (rc == 0 && aq_duration_parse(a.duration, &duration_ms, err, sizeof(err)) != 0) {
			fprintf(stderr, "alertq: --for: %s\n", err);
			rc = 2;
		}
	} else {
		rc = need(&a, 0, "this command takes no arguments (see --help)");
	}
	if (rc != 0) {
		aq_config_release(&cfg);
		return rc;
	}

	aq_store_t *store = aq_store_connect(cfg.state_dsn, err, sizeof(err));
	if (!store) {
		fprintf(stderr, "alertq: %s\n", err);
		aq_config_release(&cfg);
		return 1;
	}
	err[0] = '\0';
	if (strcmp(command, "migrate") == 0) {
		int applied = 0;
		rc = aq_store_migrate(store, &applied, err, sizeof(err)) == 0 ? 0 : 1;
		if (rc == 0)
			printf("state database at schema version %d (%d migration(s) applied)\n",
			       aq_store_schema_version(), applied);
	} else {
		/* every other command reads the schema the workers make */
		int applied = 0;
		if (aq_store_migrate(store, &applied, err, sizeof(err)) != 0) {
			rc = 1;
		} else if (strcmp(command, "status") == 0) {
			rc = aq_admin_status(store, stdout, a.json, err, sizeof(err));
		} else if (strcmp(command, "history") == 0) {
			rc = aq_admin_history(store, a.positional[0], stdout, a.json, err, sizeof(err));
		} else if (strcmp(command, "ack") == 0) {
			rc = aq_admin_ack(store, a.positional[0], a.by, a.comment, err, sizeof(err));
			if (rc == 0)
				printf("acknowledged %s\n", a.positional[0]);
		} else if (strcmp(command, "unack") == 0) {
			rc = aq_admin_unack(store, a.positional[0], err, sizeof(err));
			if (rc == 0)
				printf("acknowledgement of %s taken back\n", a.positional[0]);
		} else if (strcmp(command, "silence") == 0) {
			rc = aq_admin_silence(store, a.positional[0], duration_ms, a.comment, a.by, stdout,
					      err, sizeof(err));
		} else if (strcmp(command, "silences") == 0) {
			rc = aq_admin_silences(store, stdout, a.json, err, sizeof(err));
		} else if (strcmp(command, "unsilence") == 0) {
			rc = aq_admin_unsilence(store, a.positional[0], err, sizeof(err));
			if (rc == 0)
				printf("silence %s ended\n", a.positional[0]);
		}
	}
	if (rc != 0 && err[0])
		fprintf(stderr, "alertq: %s\n", err);
	aq_store_free(store);
	aq_config_release(&cfg);
	return rc;
}
