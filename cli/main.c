/* main.c - alertq: status, history, acknowledgement, silences, replay,
 * the HTTP server, configuration checks and schema migration */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/admin.h"
#include "alertq/config.h"
#include "alertq/replay.h"
#include "alertq/serve.h"
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

struct args {
	int json;
	const char *by;
	const char *comment;
	const char *duration;
	const char *from;
	const char *to;
	const char *rules;
	const char *listen;
	int dry_run;
	int rebuild;
	int show_templates;
	const char *positional[4];
	int npositional;
};

/* Parses the options after the command. Returns 0 or 2 (usage error). */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },           { "by", required_argument, NULL, 'b' },
		{ "comment", required_argument, NULL, 'm' },  { "for", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },     { "to", required_argument, NULL, 'T' },
		{ "rules", required_argument, NULL, 'r' },    { "dry-run", no_argument, NULL, 'd' },
		{ "rebuild", no_argument, NULL, 'R' },        { "listen", required_argument, NULL, 'l' },
		{ "show-templates", no_argument, NULL, 'S' }, { NULL, 0, NULL, 0 },
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
		case 'l':
			a->listen = optarg;
			break;
		case 'S':
			a->show_templates = 1;
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

/* What a command gets: its options, the configuration and, when it asked
 * for one, the state database (migrated). A command writes its failure
 * into err and returns its exit status. */
struct context {
	const char *config_path;
	const struct args *a;
	struct aq_config *cfg;
	aq_store_t *store;
	int migrations_applied;
	int64_t duration_ms; /* silence --for */
	char *err;
	size_t errlen;
};

static int need(const struct args *a, int n, const char *what)
{
	if (a->npositional == n)
		return 0;
	fprintf(stderr, "alertq: %s\n", what);
	return 2;
}

static int no_arguments(struct context *ctx)
{
	return need(ctx->a, 0, "this command takes no arguments (see --help)");
}

static int one_argument(struct context *ctx)
{
	return need(ctx->a, 1, "this command takes exactly one argument (see --help)");
}

static int check_silence(struct context *ctx)
{
	if (need(ctx->a, 1, "silence takes one MATCH glob and --for DURATION") != 0)
		return 2;
	if (!ctx->a->duration) {
		fprintf(stderr, "alertq: silence needs --for DURATION (e.g. --for 2h)\n");
		return 2;
	}
	if (aq_duration_parse(ctx->a->duration, &ctx->duration_ms, ctx->err, ctx->errlen) != 0) {
		fprintf(stderr, "alertq: --for: %s\n", ctx->err);
		ctx->err[0] = '\0';
		return 2;
	}
	return 0;
}

static int check_replay(struct context *ctx)
{
	const struct args *a = ctx->a;
	if (need(a, 0, "replay takes no arguments, only options (see --help)") != 0)
		return 2;
	if (a->dry_run == a->rebuild) {
		fprintf(stderr, "alertq: replay needs either --dry-run or --rebuild\n");
		return 2;
	}
	if (a->rebuild && (a->rules || a->json)) {
		fprintf(stderr,
			"alertq: --rules and --json go with --dry-run; a rebuild uses the configured"
			" rules\n");
		return 2;
	}
	struct aq_replay_options opt = { a->from, a->to, a->rebuild, a->json, a->rules, NULL };
	if (aq_replay_check(ctx->cfg, &opt, ctx->err, ctx->errlen) != 0) {
		/* the rules file's problems already start with its name */
		if (a->rules && strncmp(ctx->err, a->rules, strlen(a->rules)) == 0)
			fprintf(stderr, "%s\n", ctx->err);
		else
			fprintf(stderr, "alertq: %s\n", ctx->err);
		ctx->err[0] = '\0';
		return 2;
	}
	return 0;
}

static int check_serve(struct context *ctx)
{
	if (need(ctx->a, 0, "serve takes no arguments, only --listen ADDR:PORT") != 0)
		return 2;
	struct aq_serve_options opt = { ctx->a->listen, NULL };
	if (aq_serve_check(ctx->cfg, &opt, ctx->err, ctx->errlen) != 0) {
		fprintf(stderr, "alertq: %s\n", ctx->err);
		ctx->err[0] = '\0';
		return 2;
	}
	return 0;
}

static int run_serve(struct context *ctx)
{
	struct aq_serve_options opt = { ctx->a->listen, &stop_requested };
	catch_stop_signals();
	return aq_serve_run(ctx->cfg, &opt, ctx->err, ctx->errlen) == 0 ? 0 : 1;
}

static int run_check_config(struct context *ctx)
{
	const struct aq_config *cfg = ctx->cfg;
	printf("%s: ok (%zu checks, %zu rules, %zu escalations, %zu channels)\n", ctx->config_path,
	       cfg->nchecks, cfg->nrules, cfg->nescalations, cfg->nchannels);
	/* a rule an earlier one shadows is a warning: the file still loads */
	char shadowed[4096];
	if (aq_config_shadowed_rules(cfg, shadowed, sizeof(shadowed)) > 0)
		fprintf(stderr, "%s\n", shadowed);
	if (ctx->a->show_templates && aq_admin_show_templates(cfg, stdout, ctx->err, ctx->errlen) != 0)
		return 2;
	return 0;
}

static int run_migrate(struct context *ctx)
{
	printf("state database at schema version %d (%d migration(s) applied)\n", aq_store_schema_version(),
	       ctx->migrations_applied);
	return 0;
}

static int run_status(struct context *ctx)
{
	return aq_admin_status(ctx->store, stdout, ctx->a->json, ctx->err, ctx->errlen) == 0 ? 0 : 1;
}

static int run_history(struct context *ctx)
{
	return aq_admin_history(ctx->store, ctx->a->positional[0], stdout, ctx->a->json, ctx->err,
				ctx->errlen) == 0
		? 0
		: 1;
}

static int run_ack(struct context *ctx)
{
	const struct args *a = ctx->a;
	int rc = aq_admin_ack(ctx->store, a->positional[0], a->by, a->comment, ctx->err, ctx->errlen);
	if (rc != 0)
		return 1;
	printf("acknowledged %s\n", a->positional[0]);
	return 0;
}

static int run_unack(struct context *ctx)
{
	int rc = aq_admin_unack(ctx->store, ctx->a->positional[0], ctx->err, ctx->errlen);
	if (rc != 0)
		return 1;
	printf("acknowledgement of %s taken back\n", ctx->a->positional[0]);
	return 0;
}

static int run_silence(struct context *ctx)
{
	const struct args *a = ctx->a;
	return aq_admin_silence(ctx->store, a->positional[0], ctx->duration_ms, a->comment, a->by, stdout,
				ctx->err, ctx->errlen) == 0
		? 0
		: 1;
}

static int run_silences(struct context *ctx)
{
	return aq_admin_silences(ctx->store, stdout, ctx->a->json, ctx->err, ctx->errlen) == 0 ? 0 : 1;
}

static int run_unsilence(struct context *ctx)
{
	int rc = aq_admin_unsilence(ctx->store, ctx->a->positional[0], ctx->err, ctx->errlen);
	if (rc != 0)
		return 1;
	printf("silence %s ended\n", ctx->a->positional[0]);
	return 0;
}

static int run_replay(struct context *ctx)
{
	const struct args *a = ctx->a;
	struct aq_replay_options opt = { a->from, a->to, a->rebuild, a->json, a->rules, &stop_requested };
	catch_stop_signals();
	return aq_replay_run(ctx->cfg, &opt, stdout, ctx->err, ctx->errlen) == 0 ? 0 : 1;
}

struct command {
	const char *name;
	int (*check)(struct context *ctx); /* the arguments: 0, or 2 after a message; NULL: any */
	int (*run)(struct context *ctx);
	int needs_store; /* 1: connected and migrated before run */
	const char *usage;
};

static const struct command commands[] = {
	{ "status", no_arguments, run_status, 1,
	  "  status [--json]                          every known check and its alert state\n" },
	{ "history", one_argument, run_history, 1,
	  "  history CHECK [--json]                   transitions and the notifications they caused\n" },
	{ "ack", one_argument, run_ack, 1,
	  "  ack CHECK [--by NAME] [--comment TEXT]   stop escalation and repeats for this episode\n" },
	{ "unack", one_argument, run_unack, 1,
	  "  unack CHECK                              take an acknowledgement back\n" },
	{ "silence", check_silence, run_silence, 1,
	  "  silence MATCH --for DURATION [--comment TEXT]\n"
	  "                                           hold notifications of matching checks back\n" },
	{ "silences", no_arguments, run_silences, 1,
	  "  silences [--json]                        the silences in force\n" },
	{ "unsilence", one_argument, run_unsilence, 1,
	  "  unsilence ID                             end a silence now\n" },
	{ "replay", check_replay, run_replay, 0,
	  "  replay --from beginning|OFFSET|TIME [--to OFFSET|TIME]\n"
	  "         (--dry-run [--rules FILE] [--json] | --rebuild)\n"
	  "                                           re-read the checks topic up to --to (not\n"
	  "                                           included; default: its end now): --dry-run shows\n"
	  "                                           what the rules (or FILE's) would have done,\n"
	  "                                           --rebuild replaces the alert state with it, no\n"
	  "                                           notifications (workers must be stopped)\n" },
	{ "serve", check_serve, run_serve, 1,
	  "  serve [--listen ADDR:PORT]               the state over HTTP: JSON API, health (http: in\n"
	  "                                           the configuration; default 127.0.0.1:9094)\n" },
	{ "check-config", NULL, run_check_config, 0,
	  "  check-config [--show-templates]          validate the configuration and exit; with\n"
	  "                                           --show-templates, print every template and\n"
	  "                                           annotation rendered for a sample alert\n" },
	{ "migrate", no_arguments, run_migrate, 1,
	  "  migrate                                  bring the state database's schema up to date\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fputs("usage: alertq [-c FILE] COMMAND [ARGS]\n\ncommands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fputs(commands[i].usage, out);
	fputs("\n"
	      "  -c, --config FILE   configuration (default ./alertq.yaml)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       the version\n"
	      "\n"
	      "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
	      out);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Connects to the state database and migrates it (every command reads the
 * schema the workers make), then runs the command. */
static int run_with_store(const struct command *cmd, struct context *ctx)
{
	ctx->store = aq_store_connect(ctx->cfg->state_dsn, ctx->err, ctx->errlen);
	if (!ctx->store)
		return 1;
	int rc = 1;
	if (aq_store_migrate(ctx->store, &ctx->migrations_applied, ctx->err, ctx->errlen) == 0)
		rc = cmd->run(ctx);
	aq_store_free(ctx->store);
	ctx->store = NULL;
	return rc;
}

/* Parses the global options; the command's index in argv goes into
 * *command_at. Returns -1 to go on, or the exit status. */
static int parse_global(int argc, char **argv, const char **config_path, int *command_at)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	for (;;) {
		int opt = getopt_long(argc, argv, "+c:hV", options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'c':
			*config_path = optarg;
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
	*command_at = optind;
	return -1;
}

int main(int argc, char **argv)
{
	const char *config_path = "alertq.yaml";
	char err[8192] = "";
	struct aq_config cfg;
	struct args a;
	int at = 0;

	aq_log_init("alertq");
	int rc = parse_global(argc, argv, &config_path, &at);
	if (rc >= 0)
		return rc;
	const struct command *cmd = find_command(argv[at]);
	if (!cmd) {
		fprintf(stderr, "alertq: unknown command '%s'\n", argv[at]);
		usage(stderr);
		return 2;
	}
	if (parse_args(argc - at, argv + at, &a) != 0) {
		usage(stderr);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	struct context ctx = { config_path, &a, &cfg, NULL, 0, 0, err, sizeof(err) };
	rc = cmd->check ? cmd->check(&ctx) : 0;
	if (rc == 0)
		rc = cmd->needs_store ? run_with_store(cmd, &ctx) : cmd->run(&ctx);
	if (rc != 0 && err[0])
		fprintf(stderr, "alertq: %s\n", err);
	aq_config_release(&cfg);
	return rc;
}
