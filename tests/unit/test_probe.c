/* test_probe.c - checks run by the prober: Nagios plugins from tests/data/plugins, SQL against PostgreSQL */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "alertq/probe.h"
#include "unit.h"

/* ---- helpers ---- */

/* Writes the path of a fixture plugin into buf; fails the test when
 * ALERTQ_SOURCE_DIR is not set. */
static void plugin_path(const char *name, char *buf, size_t buflen)
{
	const char *dir = getenv("ALERTQ_SOURCE_DIR");
	ck_assert_msg(dir != NULL, "ALERTQ_SOURCE_DIR is not set (the source tree, for tests/data/plugins)");
	snprintf(buf, buflen, "%s/tests/data/plugins/%s", dir, name);
}

/* A command check of up to three arguments after the program, built by
 * hand. The strings are borrowed from the caller. */
struct command_check {
	struct aq_check check;
	char *argv[5];
};

static void command_check_init(struct command_check *c, int64_t timeout_ms, const char *prog, const char *a1,
			       const char *a2, const char *a3)
{
	memset(c, 0, sizeof(*c));
	c->argv[0] = (char *)prog;
	c->argv[1] = (char *)a1;
	c->argv[2] = a1 ? (char *)a2 : NULL;
	c->argv[3] = a1 && a2 ? (char *)a3 : NULL;
	c->check.name = "test.command";
	c->check.every_ms = 60000;
	c->check.timeout_ms = timeout_ms;
	c->check.kind = AQ_CHECK_COMMAND;
	c->check.argv = c->argv;
	for (c->check.argc = 0; c->argv[c->check.argc]; c->check.argc++)
		;
}

/* Runs check on a prober of its own (commands need no configuration). */
static void run_once(const struct aq_check *check, struct aq_result *r)
{
	static const struct aq_config empty;
	aq_prober_t *p = aq_prober_new(&empty);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(aq_prober_run(p, check, r), 0);
	aq_prober_free(p);
}

/* Asserts that this process has no child left to reap. */
static void assert_no_children(void)
{
	int st;
	pid_t r = waitpid(-1, &st, WNOHANG);
	ck_assert_msg(r == -1 && errno == ECHILD, "a child process was left behind (waitpid gave %d)",
		      (int)r);
}

/* 1 when pid no longer runs: gone, or a zombie waiting for whoever adopted it. */
static int process_gone(pid_t pid)
{
	char path[64], buf[256];
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* Waits up to about a second for pid to be gone; returns 1 if it is. */
static int wait_gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		if (process_gone(pid))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* Reads up to two pids that a fixture wrote to path, waiting up to 5 s for
 * the file. Returns how many it read. */
static int read_pids(const char *path, pid_t *a, pid_t *b)
{
	int n = 0;
	for (int i = 0; i < 500 && n == 0; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			int x = 0, y = 0;
			n = fscanf(f, "%d %d", &x, &y);
			fclose(f);
			*a = x;
			*b = y;
			if (n < 0)
				n = 0;
		}
		if (n == 0)
			usleep(10000);
	}
	return n;
}

/* ---- command checks ---- */

struct plugin_case {
	int exit_code;
	const char *text; /* NULL: no output */
	int status;
	int has_value;
	double value;
	const char *message; /* exact, or a prefix when prefix is set */
	int prefix;
};

static const struct plugin_case plugin_cases[] = {
	/* exit codes */
	{ 0, "OK - all fine", AQ_OK, 0, 0, "OK - all fine", 0 },
	{ 1, "WARNING - getting full", AQ_WARNING, 0, 0, "WARNING - getting full", 0 },
	{ 2, "CRITICAL - full", AQ_CRITICAL, 0, 0, "CRITICAL - full", 0 },
	{ 3, "UNKNOWN - cannot tell", AQ_UNKNOWN, 0, 0, "UNKNOWN - cannot tell", 0 },
	{ 4, "four is not a status", AQ_UNKNOWN, 0, 0, "exited with status 4, expected 0-3: four is not a status",
	  0 },
	{ 127, NULL, AQ_UNKNOWN, 0, 0, "exited with status 127, expected 0-3", 0 },
	{ 0, NULL, AQ_OK, 0, 0, "(no output)", 0 },
	/* perfdata */
	{ 0, "DISK OK | /=2643MB;5948;5958;0;5968", AQ_OK, 1, 2643, "DISK OK", 0 },
	{ 0, "PING OK | 'time'=0.5s", AQ_OK, 1, 0.5, "PING OK", 0 },
	{ 0, "LOAD OK | load1=0.150;5.000;10.000;0; load5=0.200;4.000;6.000;0;", AQ_OK, 1, 0.15, "LOAD OK", 0 },
	{ 1, "DISK WARNING | 'free space /var'=12.5%;20;10;0;100", AQ_WARNING, 1, 12.5, "DISK WARNING", 0 },
	{ 0, "X | 'it''s'=7", AQ_OK, 1, 7, "X", 0 },
	{ 0, "PING OK | rta=-1.5ms;100;500", AQ_OK, 1, -1.5, "PING OK", 0 },
	{ 0, "NET OK | bytes=42c", AQ_OK, 1, 42, "NET OK", 0 },
	{ 0, "NET OK | bytes=1e3B", AQ_OK, 1, 1000, "NET OK", 0 },
	{ 0, "tight|a=1", AQ_OK, 1, 1, "tight", 0 },
	{ 0, "   padded message   |   a=3   ", AQ_OK, 1, 3, "padded message", 0 },
	{ 0, "no perfdata at all", AQ_OK, 0, 0, "no perfdata at all", 0 },
	{ 0, "empty perfdata |", AQ_OK, 0, 0, "empty perfdata", 0 },
	{ 0, "| a=5", AQ_OK, 1, 5, "(no output)", 0 },
	/* malformed perfdata: no value, the status still stands */
	{ 0, "X | garbage", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a=", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a=U;1;2", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | =5", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | 'unterminated=5", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a=1.2.3", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a=inf", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a=0x1f", AQ_OK, 0, 0, "X", 0 },
	{ 0, "X | a 5", AQ_OK, 0, 0, "X", 0 },
	/* bytes that are not text become '?' */
	{ 0, "bad \x01 byte \xff here", AQ_OK, 0, 0, "bad ? byte ? here", 0 },
};

START_TEST(test_plugin_table)
{
	const struct plugin_case *c = &plugin_cases[_i];
	char prog[4096], code[16];
	struct command_check cc;
	struct aq_result r;

	plugin_path("emit.sh", prog, sizeof(prog));
	snprintf(code, sizeof(code), "%d", c->exit_code);
	command_check_init(&cc, 10000, prog, code, c->text, NULL);
	run_once(&cc.check, &r);
	ck_assert_msg(r.status == c->status, "case %d (%s): status %d, expected %d", _i,
		      c->text ? c->text : "(none)", r.status, c->status);
	ck_assert_msg(r.has_value == c->has_value, "case %d (%s): has_value %d", _i,
		      c->text ? c->text : "(none)", r.has_value);
	if (c->has_value)
		ck_assert_double_eq_tol(r.value, c->value, 1e-9);
	ck_assert_ptr_nonnull(r.message);
	ck_assert_str_eq(r.message, c->message);
	aq_result_release(&r);
	assert_no_children();
}
END_TEST

START_TEST(test_common_fields)
{
	char prog[4096];
	struct command_check cc;
	struct aq_result r;
	struct aq_label labels[] = { { "team", "platform" }, { "tier", "1" } };

	setenv("ALERTQ_SOURCE", "probe-test-host", 1);
	plugin_path("emit.sh", prog, sizeof(prog));
	command_check_init(&cc, 10000, prog, "0", "fine", NULL);
	cc.check.name = "host.fine";
	cc.check.every_ms = 300000;
	cc.check.labels = labels;
	cc.check.nlabels = 2;
	int64_t before = aq_now_ms();
	run_once(&cc.check, &r);
	int64_t after = aq_now_ms();
	unsetenv("ALERTQ_SOURCE");

	ck_assert_uint_eq(strlen(r.event_id), 36);
	ck_assert_int_eq(r.event_id[14], '4');
	ck_assert_str_eq(r.check, "host.fine");
	ck_assert_str_eq(r.source, "probe-test-host");
	ck_assert_int_ge(r.observed_at_ms, before);
	ck_assert_int_le(r.observed_at_ms, after);
	ck_assert_int_eq(r.interval_ms, 300000);
	ck_assert_uint_eq(r.nlabels, 2);
	ck_assert_ptr_ne(r.labels, labels);
	ck_assert_str_eq(r.labels[0].key, "team");
	ck_assert_str_eq(r.labels[0].value, "platform");
	ck_assert_ptr_ne(r.labels[1].value, labels[1].value);
	ck_assert_str_eq(r.labels[1].value, "1");

	/* a second run is another event */
	struct aq_result r2;
	run_once(&cc.check, &r2);
	ck_assert_str_ne(r.event_id, r2.event_id);
	aq_result_release(&r2);
	aq_result_release(&r);

	/* without ALERTQ_SOURCE, the host name */
	char host[256];
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	run_once(&cc.check, &r);
	ck_assert_str_eq(r.source, host);
	aq_result_release(&r);
}
END_TEST

/* Plugins from tests/data/plugins run with no arguments: what each one
 * comes to. */
static const struct fixture_case {
	const char *plugin;
	int64_t timeout_ms;
	int status;
	const char *message;
	int has_value;
	double value;
	int64_t within_ms; /* 0: not timed */
} fixture_cases[] = {
	{ "multiline.sh", 10000, AQ_OK, "DISK OK - free space: / 3326 MB (56%)", 1, 2643, 0 },
	{ "stderr.sh", 10000, AQ_CRITICAL, "PROCS CRITICAL: 0 processes", 0, 0, 0 },
	{ "silent.sh", 10000, AQ_OK, "(no output)", 0, 0, 0 },
	/* the output past the cap is drained, so the plugin finishes and is not
	 * left blocked on a full pipe until its timeout */
	{ "long_output.sh", 20000, AQ_WARNING, "LOAD WARNING - lots to say", 1, 3.5, 15000 },
	{ "signalled.sh", 10000, AQ_UNKNOWN, "killed by signal SIGTERM: about to die", 0, 0, 0 },
};

/* Runs check as run_once does; returns how long it took in milliseconds. */
static int64_t run_timed(const struct aq_check *check, struct aq_result *r)
{
	int64_t start = aq_monotonic_ms();
	run_once(check, r);
	return aq_monotonic_ms() - start;
}

START_TEST(test_fixture_table)
{
	const struct fixture_case *c = &fixture_cases[_i];
	char prog[4096];
	struct command_check cc;
	struct aq_result r;

	plugin_path(c->plugin, prog, sizeof(prog));
	command_check_init(&cc, c->timeout_ms, prog, NULL, NULL, NULL);
	int64_t took = run_timed(&cc.check, &r);
	ck_assert_msg(r.status == c->status, "%s: status %d, expected %d", c->plugin, r.status, c->status);
	ck_assert_ptr_nonnull(r.message);
	ck_assert_msg(strcmp(r.message, c->message) == 0, "%s: message '%s'", c->plugin, r.message);
	ck_assert_msg(r.has_value == c->has_value, "%s: has_value %d", c->plugin, r.has_value);
	if (c->has_value)
		ck_assert_double_eq(r.value, c->value);
	if (c->within_ms)
		ck_assert_msg(took < c->within_ms, "%s: took %lld ms", c->plugin, (long long)took);
	aq_result_release(&r);
	assert_no_children();
}
END_TEST

/* A fresh directory for a fixture to write its pids into. */
struct pidfile {
	char dir[32];
	char path[64];
};

static void pidfile_make(struct pidfile *p)
{
	strcpy(p->dir, "/tmp/aq_probe_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/pids", p->dir);
}

static void pidfile_remove(struct pidfile *p)
{
	unlink(p->path);
	rmdir(p->dir);
}

START_TEST(test_timeout_kills_group)
{
	char prog[4096];
	struct pidfile pf;
	struct command_check cc;
	struct aq_result r;
	pid_t plugin = 0, child = 0;

	pidfile_make(&pf);
	plugin_path("sleeper.sh", prog, sizeof(prog));
	command_check_init(&cc, 1000, prog, pf.path, NULL, NULL);
	int64_t took = run_timed(&cc.check, &r);

	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	ck_assert_str_eq(r.message, "timed out after 1s");
	ck_assert_int_eq(r.has_value, 0);
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 3000);
	ck_assert_int_eq(read_pids(pf.path, &plugin, &child), 2);
	ck_assert_msg(wait_gone(plugin), "plugin %d still runs after its timeout", (int)plugin);
	ck_assert_msg(wait_gone(child), "the plugin's child %d still runs after the timeout", (int)child);
	aq_result_release(&r);
	assert_no_children();

	/* the duration is said as it was configured */
	command_check_init(&cc, 1500, prog, pf.path, NULL, NULL);
	unlink(pf.path);
	run_once(&cc.check, &r);
	ck_assert_str_eq(r.message, "timed out after 1.5s");
	ck_assert_int_eq(read_pids(pf.path, &plugin, &child), 2);
	ck_assert(wait_gone(plugin));
	ck_assert(wait_gone(child));
	aq_result_release(&r);
	assert_no_children();
	pidfile_remove(&pf);
}
END_TEST

START_TEST(test_background_child_does_not_hold_up)
{
	char prog[4096];
	struct pidfile pf;
	struct command_check cc;
	struct aq_result r;
	pid_t left = 0, unused = 0;

	pidfile_make(&pf);
	plugin_path("background.sh", prog, sizeof(prog));
	command_check_init(&cc, 10000, prog, pf.path, NULL, NULL);
	int64_t took = run_timed(&cc.check, &r);

	/* the plugin exited; a child still holding its stdout does not make
	 * the check wait for the timeout */
	ck_assert_int_eq(r.status, AQ_OK);
	ck_assert_str_eq(r.message, "OK - left something running");
	ck_assert_int_lt(took, 5000);
	ck_assert_int_ge(read_pids(pf.path, &left, &unused), 1);
	if (left > 0)
		kill(left, SIGKILL);
	aq_result_release(&r);
	assert_no_children();
	pidfile_remove(&pf);
}
END_TEST

START_TEST(test_cannot_run)
{
	char prog[4096], msg[4200];
	struct command_check cc;
	struct aq_result r;

	plugin_path("no-such-plugin", prog, sizeof(prog));
	command_check_init(&cc, 10000, prog, NULL, NULL, NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	snprintf(msg, sizeof(msg), "cannot run '%s': No such file or directory", prog);
	ck_assert_str_eq(r.message, msg);
	aq_result_release(&r);
	assert_no_children();

	/* looked up on PATH when there is no slash */
	command_check_init(&cc, 10000, "alertq-no-such-plugin", NULL, NULL, NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	ck_assert_str_eq(r.message, "cannot run 'alertq-no-such-plugin': No such file or directory");
	aq_result_release(&r);

	/* found on PATH */
	command_check_init(&cc, 10000, "sh", "-c", "echo 'SH OK | x=9'", NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_OK);
	ck_assert_str_eq(r.message, "SH OK");
	ck_assert_double_eq(r.value, 9);
	aq_result_release(&r);

	/* a file that is not executable */
	plugin_path("README", prog, sizeof(prog));
	command_check_init(&cc, 10000, prog, NULL, NULL, NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	snprintf(msg, sizeof(msg), "cannot run '%s': Permission denied", prog);
	ck_assert_str_eq(r.message, msg);
	aq_result_release(&r);
	assert_no_children();
}
END_TEST

START_TEST(test_plugin_environment)
{
	struct command_check cc;
	struct aq_result r;

	setenv("ALERTQ_WEBHOOK_SECRET", "hook-secret", 1);
	setenv("SMTP_PASSWORD", "smtp-secret", 1);
	setenv("IACT_DSN", "postgresql://u:dsn-secret@h/db", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("LC_TIME", "C", 1);
	setenv("TZ", "UTC", 1);
	command_check_init(&cc, 10000, "sh", "-c",
			   "echo \"secrets:${ALERTQ_WEBHOOK_SECRET-}${SMTP_PASSWORD-}${IACT_DSN-}"
			   " kept:${PATH:+path} $LANG $LC_TIME $TZ\"",
			   NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_OK);
	ck_assert_str_eq(r.message, "secrets: kept:path C.UTF-8 C UTC");
	aq_result_release(&r);

	/* the plugin's whole environment: nothing but what it is given */
	command_check_init(&cc, 10000, "sh", "-c", "env | grep -v -E '^(PWD|SHLVL|_)=' | cut -d= -f1 | sort | tr '\\n' ' '",
			   NULL);
	run_once(&cc.check, &r);
	ck_assert_int_eq(r.status, AQ_OK);
	const char *allowed[] = { "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LC_TIME",
				  NULL };
	char *names = strdup(r.message);
	for (char *save = NULL, *name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		int ok = 0;
		for (int i = 0; allowed[i]; i++)
			ok |= strcmp(name, allowed[i]) == 0;
		ck_assert_msg(ok, "the plugin got %s (all: %s)", name, r.message);
	}
	free(names);
	aq_result_release(&r);

	/* a variable the check lists in env reaches it, the others still do not */
	static char *listed[] = { "IACT_DSN", NULL };
	command_check_init(&cc, 10000, "sh", "-c", "echo \"${IACT_DSN-} ${SMTP_PASSWORD-none}\"", NULL);
	cc.check.env = listed;
	cc.check.nenv = 1;
	run_once(&cc.check, &r);
	ck_assert_str_eq(r.message, "postgresql://u:dsn-secret@h/db none");
	aq_result_release(&r);

	/* no PATH of our own: a safe default */
	char *path = strdup(getenv("PATH"));
	unsetenv("PATH");
	command_check_init(&cc, 10000, "/bin/sh", "-c", "echo \"$PATH\"", NULL);
	run_once(&cc.check, &r);
	setenv("PATH", path, 1);
	free(path);
	ck_assert_str_eq(r.message, "/usr/local/bin:/usr/bin:/bin");
	aq_result_release(&r);
	unsetenv("ALERTQ_WEBHOOK_SECRET");
	unsetenv("SMTP_PASSWORD");
	unsetenv("IACT_DSN");
}
END_TEST

/* ---- sql checks ---- */

/* The test server's DSN; fails the test when ALERTQ_TEST_DSN is not set. */
static const char *test_dsn(void)
{
	const char *dsn = getenv("ALERTQ_TEST_DSN");
	ck_assert_msg(dsn != NULL && *dsn,
		      "ALERTQ_TEST_DSN is not set: the SQL tests need a superuser DSN of a throwaway "
		      "PostgreSQL (d=$(mktemp -d); tests/tools/pg.sh start $d prints one)");
	return dsn;
}

/* A port on 127.0.0.1 that nothing listens on (just given up by the kernel). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A configuration with four sources: app (the test server), nodsn (its
 * variable was not set), down (nothing listens; the DSN has a password) and
 * other (the test server again, its own connection). */
struct sql_env {
	struct aq_config cfg;
	struct aq_source sources[4];
	char down_dsn[128];
	aq_prober_t *prober;
	PGconn *admin;
};

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void sql_env_init(struct sql_env *e)
{
	const char *dsn = test_dsn();

	memset(e, 0, sizeof(*e));
	snprintf(e->down_dsn, sizeof(e->down_dsn), "postgresql://probe:sekrit-pw@127.0.0.1:%d/postgres",
		 closed_port());
	e->sources[0] = (struct aq_source){ .name = "app", .dsn = (char *)dsn };
	e->sources[1] = (struct aq_source){ .name = "nodsn", .dsn = NULL, .dsn_env = "PROBE_TEST_UNSET_DSN" };
	e->sources[2] = (struct aq_source){ .name = "down", .dsn = e->down_dsn };
	e->sources[3] = (struct aq_source){ .name = "other", .dsn = (char *)dsn };
	e->cfg.sources = e->sources;
	e->cfg.nsources = 4;
	e->prober = aq_prober_new(&e->cfg);
	ck_assert_ptr_nonnull(e->prober);
	e->admin = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(e->admin) == CONNECTION_OK, "cannot connect to ALERTQ_TEST_DSN: %s",
		      PQerrorMessage(e->admin));
	PQsetNoticeProcessor(e->admin, ignore_notice, NULL);
}

static void sql_env_release(struct sql_env *e)
{
	aq_prober_free(e->prober);
	PQfinish(e->admin);
}

/* Runs sql against a source on the env's prober. */
static void run_sql(struct sql_env *e, const char *source, const char *query, int64_t timeout_ms,
		    struct aq_result *r)
{
	struct aq_check check = {
		.name = "test.sql",
		.every_ms = 3600000,
		.timeout_ms = timeout_ms,
		.kind = AQ_CHECK_SQL,
		.source = (char *)source,
		.query = (char *)query,
	};
	ck_assert_int_eq(aq_prober_run(e->prober, &check, r), 0);
	ck_assert_str_eq(r->check, "test.sql");
	ck_assert_int_eq(r->interval_ms, 3600000);
}

/* Runs a statement on the admin connection; fails the test if it fails. */
static void admin_exec(struct sql_env *e, const char *sql)
{
	PGresult *res = PQexec(e->admin, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		      PQerrorMessage(e->admin));
	PQclear(res);
}

static void assert_value(const struct aq_result *r, double value)
{
	ck_assert_msg(r->status == AQ_STATUS_NONE, "status %d, message: %s", r->status,
		      r->message ? r->message : "(null)");
	ck_assert_int_eq(r->has_value, 1);
	ck_assert_double_eq_tol(r->value, value, 1e-9);
}

static void assert_unknown(const struct aq_result *r, const char *part)
{
	ck_assert_int_eq(r->status, AQ_UNKNOWN);
	ck_assert_int_eq(r->has_value, 0);
	ck_assert_ptr_nonnull(r->message);
	ck_assert_msg(strstr(r->message, part) != NULL, "message '%s' lacks '%s'", r->message, part);
}

/* Runs query on source and asserts that it gave value. */
static void expect_value(struct sql_env *e, const char *source, const char *query, int64_t timeout_ms,
			 double value)
{
	struct aq_result r;
	run_sql(e, source, query, timeout_ms, &r);
	assert_value(&r, value);
	aq_result_release(&r);
}

/* Runs query on source and asserts that it was UNKNOWN with part in the message. */
static void expect_unknown(struct sql_env *e, const char *source, const char *query, int64_t timeout_ms,
			   const char *part)
{
	struct aq_result r;
	run_sql(e, source, query, timeout_ms, &r);
	assert_unknown(&r, part);
	aq_result_release(&r);
}

START_TEST(test_sql_numeric)
{
	static const struct {
		const char *query;
		double value;
	} cases[] = {
		{ "SELECT 42", 42 },
		{ "SELECT 42.5", 42.5 },
		{ "SELECT -7::bigint", -7 },
		{ "SELECT 3.25::numeric(10,2)", 3.25 },
		{ "SELECT 1e3::float8", 1000 },
		{ "SELECT 12345678901234::bigint", 12345678901234.0 },
		{ "SELECT extract(epoch FROM interval '2 days') / 86400", 2 },
		{ "SELECT '17'", 17 },
	};
	struct sql_env e;

	sql_env_init(&e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_value(&e, "app", cases[i].query, 5000, cases[i].value);
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_count_rows)
{
	struct sql_env e;

	sql_env_init(&e);
	admin_exec(&e, "DROP TABLE IF EXISTS probe_sessions");
	admin_exec(&e, "CREATE TABLE probe_sessions (id int)");
	admin_exec(&e, "INSERT INTO probe_sessions SELECT generate_series(1, 3)");
	expect_value(&e, "app", "SELECT count(*) FROM probe_sessions", 5000, 3);

	admin_exec(&e, "INSERT INTO probe_sessions VALUES (4)");
	expect_value(&e, "app", "SELECT count(*) FROM probe_sessions", 5000, 4);
	admin_exec(&e, "DROP TABLE probe_sessions");
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_read_only)
{
	struct sql_env e;
	struct aq_result r;

	sql_env_init(&e);
	admin_exec(&e, "DROP TABLE IF EXISTS probe_ro");
	admin_exec(&e, "CREATE TABLE probe_ro (id int)");
	admin_exec(&e, "CREATE SEQUENCE IF NOT EXISTS probe_ro_seq");

	run_sql(&e, "app", "INSERT INTO probe_ro VALUES (1) RETURNING 1", 5000, &r);
	assert_unknown(&r, "read-only transaction");
	ck_assert_str_eq(r.message, "cannot execute INSERT in a read-only transaction");
	aq_result_release(&r);

	expect_unknown(&e, "app", "SELECT nextval('probe_ro_seq')", 5000, "read-only transaction");

	/* a query cannot end the read-only transaction itself */
	run_sql(&e, "app", "COMMIT; INSERT INTO probe_ro VALUES (2) RETURNING 1", 5000, &r);
	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	aq_result_release(&r);

	/* nothing was written, and the prober still works */
	expect_value(&e, "app", "SELECT count(*) FROM probe_ro", 5000, 0);

	admin_exec(&e, "DROP TABLE probe_ro");
	admin_exec(&e, "DROP SEQUENCE probe_ro_seq");
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_statement_timeout)
{
	struct sql_env e;
	struct aq_result r;

	sql_env_init(&e);
	int64_t start = aq_monotonic_ms();
	run_sql(&e, "app", "SELECT pg_sleep(5)", 1000, &r);
	int64_t took = aq_monotonic_ms() - start;
	ck_assert_int_eq(r.status, AQ_UNKNOWN);
	ck_assert_str_eq(r.message, "canceling statement due to statement timeout");
	ck_assert_int_lt(took, 2500);
	aq_result_release(&r);

	/* each run sets its own timeout, for its own transaction only */
	expect_value(&e, "app", "SELECT CASE WHEN current_setting('statement_timeout') = '5s' THEN 1 ELSE 0 END",
		     5000, 1);
	expect_value(&e, "app", "SELECT 1 FROM pg_sleep(1.5)", 5000, 1);
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_bad_shapes)
{
	static const struct {
		const char *query;
		const char *message;
	} cases[] = {
		{ "SELECT 1 WHERE false", "query returned 0 rows, expected 1" },
		{ "SELECT generate_series(1, 2)", "query returned 2 rows, expected 1" },
		{ "SELECT 1, 2", "query returned 2 columns, expected 1" },
		{ "SELECT NULL::int", "query returned NULL, expected a number" },
		{ "SELECT 'abc'", "query returned 'abc', expected a number" },
		{ "SELECT '12abc'", "query returned '12abc', expected a number" },
		{ "SELECT ''", "query returned '', expected a number" },
		{ "SELECT 'NaN'::float8", "query returned 'NaN', expected a number" },
		{ "SELECT 'Infinity'::float8", "query returned 'Infinity', expected a number" },
		{ "SELECT true", "query returned 't', expected a number" },
		{ "SELEC 1", "syntax error at or near \"SELEC\"" },
		{ "SELECT * FROM probe_no_such_table", "relation \"probe_no_such_table\" does not exist" },
		{ "SELECT 1/0", "division by zero" },
		{ "", "query returned no result, expected 1 row" },
	};
	struct sql_env e;
	struct aq_result r;

	sql_env_init(&e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_sql(&e, "app", cases[i].query, 5000, &r);
		ck_assert_msg(r.status == AQ_UNKNOWN, "%s: status %d", cases[i].query, r.status);
		ck_assert_int_eq(r.has_value, 0);
		ck_assert_msg(r.message && strcmp(r.message, cases[i].message) == 0, "%s: message '%s'",
			      cases[i].query, r.message ? r.message : "(null)");
		aq_result_release(&r);
	}
	/* and after all that the connection still answers */
	expect_value(&e, "app", "SELECT 5", 5000, 5);
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_unreachable)
{
	struct sql_env e;
	struct aq_result r;

	sql_env_init(&e);
	int64_t start = aq_monotonic_ms();
	run_sql(&e, "down", "SELECT 1", 2000, &r);
	ck_assert_int_lt(aq_monotonic_ms() - start, 3000);
	assert_unknown(&r, "cannot connect to source 'down'");
	ck_assert_msg(strstr(r.message, "sekrit-pw") == NULL, "the password is in '%s'", r.message);
	aq_result_release(&r);

	/* tried again on the next run, still down */
	expect_unknown(&e, "down", "SELECT 1", 2000, "cannot connect to source 'down'");
	sql_env_release(&e);
}
END_TEST

START_TEST(test_sql_missing_source)
{
	struct sql_env e;
	struct aq_result r;

	sql_env_init(&e);
	run_sql(&e, "nodsn", "SELECT 1", 2000, &r);
	assert_unknown(&r, "source 'nodsn'");
	ck_assert_str_eq(r.message, "source 'nodsn': environment variable PROBE_TEST_UNSET_DSN is not set");
	aq_result_release(&r);

	expect_unknown(&e, "ghost", "SELECT 1", 2000, "unknown source 'ghost'");
	sql_env_release(&e);
}
END_TEST

/* Runs SELECT pg_backend_pid() on source and returns it (0 when the run
 * gave no value). */
static int backend_pid(struct sql_env *e, const char *source)
{
	struct aq_result r;
	run_sql(e, source, "SELECT pg_backend_pid()", 5000, &r);
	int pid = r.has_value ? (int)r.value : 0;
	aq_result_release(&r);
	return pid;
}

START_TEST(test_sql_connection_reused_and_remade)
{
	struct sql_env e;
	char sql[128];

	sql_env_init(&e);
	int first = backend_pid(&e, "app");
	ck_assert_int_gt(first, 0);
	ck_assert_int_eq(backend_pid(&e, "app"), first);
	ck_assert_int_eq(backend_pid(&e, "app"), first);

	/* each source has its own connection */
	int other = backend_pid(&e, "other");
	ck_assert_int_gt(other, 0);
	ck_assert_int_ne(other, first);

	/* the server drops it: a run or two later a new one serves */
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", first);
	admin_exec(&e, sql);
	for (int i = 0; i < 100; i++) {
		snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity WHERE pid = %d", first);
		PGresult *res = PQexec(e.admin, sql);
		int still = PQntuples(res);
		PQclear(res);
		if (!still)
			break;
		usleep(20000);
	}
	struct aq_result r;
	run_sql(&e, "app", "SELECT pg_backend_pid()", 5000, &r);
	ck_assert(r.status == AQ_UNKNOWN || r.status == AQ_STATUS_NONE);
	aq_result_release(&r);
	int again = backend_pid(&e, "app");
	ck_assert_int_gt(again, 0);
	ck_assert_int_ne(again, first);
	ck_assert_int_eq(backend_pid(&e, "app"), again);
	ck_assert_int_eq(backend_pid(&e, "other"), other);
	sql_env_release(&e);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("command");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_plugin_table, 0, (int)(sizeof(plugin_cases) / sizeof(plugin_cases[0])));
	tcase_add_test(tc, test_common_fields);
	tcase_add_loop_test(tc, test_fixture_table, 0, (int)(sizeof(fixture_cases) / sizeof(fixture_cases[0])));
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_background_child_does_not_hold_up);
	tcase_add_test(tc, test_cannot_run);
	tcase_add_test(tc, test_plugin_environment);
	suite_add_tcase(s, tc);

	tc = tcase_create("sql");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sql_numeric);
	tcase_add_test(tc, test_sql_count_rows);
	tcase_add_test(tc, test_sql_read_only);
	tcase_add_test(tc, test_sql_statement_timeout);
	tcase_add_test(tc, test_sql_bad_shapes);
	tcase_add_test(tc, test_sql_unreachable);
	tcase_add_test(tc, test_sql_missing_source);
	tcase_add_test(tc, test_sql_connection_reused_and_remade);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(probe_suite());
}
