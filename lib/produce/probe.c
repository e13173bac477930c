/* probe.c - running checks: SQL against a named source, Nagios plugin commands */
#include "alertq/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#define OUTPUT_CAP (64 * 1024) /* plugin output kept; the rest is read and dropped */
#define MESSAGE_MAX 1024       /* longest message a result carries, in bytes */
#define POLL_SLICE_MS 100      /* how often a quiet plugin is checked for having exited */
#define REAP_SLICE_MS 10
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

extern char **environ;

/* What a plugin gets of the producer's environment: where to find programs,
 * who and where it runs, and how to speak. Nothing else, so that secrets the
 * producer holds in its environment (DSNs, SMTP passwords, webhook secrets)
 * never reach a third-party plugin. LC_* is taken as a prefix. */
static const char *const plugin_env_names[] = { "PATH",     "HOME", "USER",   "LOGNAME", "LANG",
						"LANGUAGE", "TZ",   "TMPDIR", NULL };

struct aq_prober {
	const struct aq_config *cfg;
	PGconn **conns; /* indexed like cfg->sources; NULL until first used */
};

aq_prober_t *aq_prober_new(const struct aq_config *cfg)
{
	aq_prober_t *p = aq_xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	if (cfg->nsources > 0)
		p->conns = aq_xcalloc(cfg->nsources, sizeof(*p->conns));
	return p;
}

void aq_prober_free(aq_prober_t *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->cfg->nsources && p->conns; i++)
		if (p->conns[i])
			PQfinish(p->conns[i]);
	free(p->conns);
	free(p);
}

/* ---- messages ---- */

/* Copies at most the first line of text (up to '\n', or to stop when stop is
 * not '\0'), with surrounding white space removed, into out. Bytes that are
 * not printable UTF-8 become '?', so that a message is always valid text.
 * Returns out. */
static char *first_line(const char *text, char stop, char *out, size_t outlen)
{
	size_t n = 0;
	const unsigned char *s = (const unsigned char *)text;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	while (*s && *s != '\n' && (stop == '\0' || *s != stop) && n + 5 < outlen) {
		size_t seq = 0;
		if (*s >= 0x20 && *s < 0x7f)
			seq = 1;
		else if (*s == '\t')
			seq = 1;
		else if (*s >= 0xc2 && *s <= 0xdf)
			seq = 2;
		else if (*s >= 0xe0 && *s <= 0xef)
			seq = 3;
		else if (*s >= 0xf0 && *s <= 0xf4)
			seq = 4;
		for (size_t k = 1; k < seq; k++)
			if ((s[k] & 0xc0) != 0x80)
				seq = 0;
		if (seq == 0) {
			out[n++] = '?';
			s++;
			continue;
		}
		memcpy(out + n, s, seq);
		n += seq;
		s += seq;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\r'))
		n--;
	if (outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return out;
}

/* Sets the result UNKNOWN, without a value, with a printf-style message. */
__attribute__((format(printf, 2, 3))) static void set_unknown(struct aq_result *out, const char *fmt, ...)
{
	char msg[MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(out->message);
	out->message = aq_strdup(msg);
	out->status = AQ_UNKNOWN;
	out->has_value = 0;
	out->value = 0;
}

/* Writes a duration as seconds ("30s", "1.5s") into buf. */
static void format_seconds(int64_t ms, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%gs", (double)ms / AQ_MS_PER_SECOND);
}

/* ---- sql ---- */

/* Ignores server notices (a ROLLBACK outside a transaction warns, for one):
 * nothing a check reports comes from them. */
static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The server's error for a failed command: the primary message when the
 * server sent one, else libpq's own text (a lost connection, say), first
 * line only. */
static void pg_error_text(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *text = primary ? primary : PQerrorMessage(conn);

	if (!primary && strncmp(text, "ERROR:", 6) == 0)
		text += 6;
	first_line(text, '\0', buf, buflen);
	if (buf[0] == '\0')
		snprintf(buf, buflen, "unknown database error");
}

/* Runs a statement that returns no rows. Returns 0, or -1 with the error in
 * err (the connection may be broken then; the caller checks). */
static int pg_command(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		pg_error_text(conn, res, err, errlen);
	PQclear(res);
	return ok ? 0 : -1;
}

/* Returns the cached connection for source number idx, made first when there
 * is none or the one there is broken, or NULL with the reason in err (no
 * connection is cached then). *fresh tells whether it was just made. */
static PGconn *source_conn(aq_prober_t *p, size_t idx, int64_t timeout_ms, int *fresh, char *err,
			   size_t errlen)
{
	const struct aq_source *src = &p->cfg->sources[idx];
	PGconn *conn = p->conns[idx];
	char timeout[32];

	*fresh = 0;
	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	if (conn) {
		PQfinish(conn);
		p->conns[idx] = NULL;
	}

	int64_t secs = (timeout_ms + AQ_MS_PER_SECOND - 1) / AQ_MS_PER_SECOND;
	snprintf(timeout, sizeof(timeout), "%lld", (long long)(secs < 2 ? 2 : secs));
	const char *const keys[] = { "dbname", "connect_timeout", "fallback_application_name", NULL };
	const char *const values[] = { src->dsn, timeout, "alertq-producer", NULL };

	conn = PQconnectdbParams(keys, values, 1);
	if (!conn) {
		snprintf(err, errlen, "source '%s': out of memory", src->name);
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		char why[MESSAGE_MAX / 2];
		/* libpq names host and port, never the password */
		first_line(PQerrorMessage(conn), '\0', why, sizeof(why));
		snprintf(err, errlen, "cannot connect to source '%s': %s", src->name, why);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, quiet_notices, NULL);
	p->conns[idx] = conn;
	*fresh = 1;
	return conn;
}

/* Drops the cached connection for source idx unless it is still good to use:
 * connected and outside any transaction. */
static void keep_or_drop(aq_prober_t *p, size_t idx)
{
	PGconn *conn = p->conns[idx];

	if (!conn)
		return;
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE)
		return;
	PQfinish(conn);
	p->conns[idx] = NULL;
}

/* Reads the query's one value out of res into out (status NONE), or sets out
 * UNKNOWN saying what was wrong with the shape or the text of the answer. */
static void take_value(const PGresult *res, struct aq_result *out)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		set_unknown(out, "query returned no result, expected 1 row");
		return;
	}
	int rows = PQntuples(res);
	int cols = PQnfields(res);
	if (rows != 1) {
		set_unknown(out, "query returned %d rows, expected 1", rows);
		return;
	}
	if (cols != 1) {
		set_unknown(out, "query returned %d columns, expected 1", cols);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		set_unknown(out, "query returned NULL, expected a number");
		return;
	}
	const char *text = PQgetvalue(res, 0, 0);
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end != '\0' || !isfinite(v)) {
		char shown[64];
		first_line(text, '\0', shown, sizeof(shown));
		set_unknown(out, "query returned '%s', expected a number", shown);
		return;
	}
	out->status = AQ_STATUS_NONE;
	out->has_value = 1;
	out->value = v;
}

/* Runs one attempt of the query inside a read-only transaction that is always
 * rolled back. Fills out and returns 0 when the query ran (whatever its
 * answer); returns -1 with out UNKNOWN when the connection failed before the
 * query started, so that a stale cached connection can be replaced. */
static int sql_attempt(aq_prober_t *p, size_t idx, const struct aq_check *check, struct aq_result *out)
{
	char err[MESSAGE_MAX];
	char setting[64];
	int fresh;
	PGconn *conn = source_conn(p, idx, check->timeout_ms, &fresh, err, sizeof(err));

	if (!conn) {
		set_unknown(out, "%s", err);
		return 0;
	}
	if (pg_command(conn, "BEGIN READ ONLY", err, sizeof(err)) < 0) {
		set_unknown(out, "%s", err);
		keep_or_drop(p, idx);
		return (fresh || p->conns[idx]) ? 0 : -1;
	}
	snprintf(setting, sizeof(setting), "SET LOCAL statement_timeout = %lld",
		 (long long)(check->timeout_ms > 0 ? check->timeout_ms : 0));
	if (pg_command(conn, setting, err, sizeof(err)) < 0) {
		set_unknown(out, "%s", err);
		goto done;
	}

	/* The extended protocol takes exactly one statement, so a query cannot
	 * end the read-only transaction with a COMMIT of its own. */
	PGresult *res = PQexecParams(conn, check->query, 0, NULL, NULL, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY) {
		take_value(res, out);
	} else {
		pg_error_text(conn, res, err, sizeof(err));
		set_unknown(out, "%s", err);
	}
	PQclear(res);
done:
	if (PQstatus(conn) == CONNECTION_OK)
		pg_command(conn, "ROLLBACK", err, sizeof(err));
	keep_or_drop(p, idx);
	return 0;
}

/* Runs an sql check into out (its common fields already set). */
static void run_sql(aq_prober_t *p, const struct aq_check *check, struct aq_result *out)
{
	const struct aq_source *src = check->source ? aq_config_source(p->cfg, check->source) : NULL;

	if (!src) {
		set_unknown(out, "unknown source '%s'", check->source ? check->source : "");
		return;
	}
	if (!src->dsn) {
		if (src->dsn_env)
			set_unknown(out, "source '%s': environment variable %s is not set", src->name,
				    src->dsn_env);
		else
			set_unknown(out, "source '%s' has no dsn", src->name);
		return;
	}
	if (!check->query) {
		set_unknown(out, "check has no query");
		return;
	}
	size_t idx = (size_t)(src - p->cfg->sources);
	/* A cached connection the server has since closed fails on first use;
	 * one more try on a new connection tells that apart from a real outage. */
	if (sql_attempt(p, idx, check, out) < 0)
		sql_attempt(p, idx, check, out);
}

/* ---- command ---- */

/* Finds the first perfdata entry after the first '|' of the first line of
 * output ("label=value[UOM];warn;crit;min;max", label possibly quoted) and
 * stores its value. Returns 1 when there was a numeric value, else 0. */
static int perfdata_value(const char *output, double *value)
{
	const char *eol = strchr(output, '\n');
	const char *bar = strchr(output, '|');

	if (!bar || (eol && bar > eol))
		return 0;
	const char *s = bar + 1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\'') {
		/* a quoted label may hold spaces and '=', and '' for a quote */
		s++;
		for (;;) {
			if (*s == '\0' || *s == '\n')
				return 0;
			if (*s == '\'' && s[1] == '\'') {
				s += 2;
				continue;
			}
			if (*s == '\'')
				break;
			s++;
		}
		s++;
		if (*s != '=')
			return 0;
	} else {
		const char *label = s;
		while (*s && *s != '=' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			s++;
		if (*s != '=' || s == label)
			return 0;
	}
	s++;
	/* only plain decimal numbers: strtod would also take "inf" or "0x1f" */
	if (!(*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9')))
		return 0;
	char *end = NULL;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v) || memchr(s, 'x', (size_t)(end - s)) ||
	    memchr(s, 'X', (size_t)(end - s)))
		return 0;
	while ((*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z') || *end == '%')
		end++;
	if (!(*end == ';' || *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n' || *end == '\0'))
		return 0;
	*value = v;
	return 1;
}

/* Reads what the pipe has now into buf (up to OUTPUT_CAP, the rest is
 * dropped). Returns 1 at end of file, 0 when the pipe is merely empty, -1 on
 * a read error. */
static int drain(int fd, char *buf, size_t *len)
{
	char spill[4096];

	for (;;) {
		ssize_t n;
		if (*len < OUTPUT_CAP)
			n = read(fd, buf + *len, OUTPUT_CAP - *len);
		else
			n = read(fd, spill, sizeof(spill));
		if (n > 0) {
			if (*len < OUTPUT_CAP)
				*len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
}

/* Waits for pid until deadline (monotonic ms). Returns 1 with *status set
 * once it has exited, 0 when the deadline passed first. */
static int reap_until(pid_t pid, int64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* not ours to wait for any more; nothing is left */
		if (aq_monotonic_ms() >= deadline)
			return 0;
		poll(NULL, 0, REAP_SLICE_MS);
	}
}

/* Whether the environment entry "NAME=value" is one a plugin of check
 * gets: the minimal environment, and the names the check lists in env. */
static int plugin_env_keeps(const struct aq_check *check, const char *entry)
{
	size_t len = strcspn(entry, "=");
	if (entry[len] != '=')
		return 0;
	if (len > 3 && strncmp(entry, "LC_", 3) == 0)
		return 1;
	for (int i = 0; plugin_env_names[i]; i++)
		if (strlen(plugin_env_names[i]) == len && strncmp(entry, plugin_env_names[i], len) == 0)
			return 1;
	for (size_t i = 0; i < check->nenv; i++)
		if (strlen(check->env[i]) == len && strncmp(entry, check->env[i], len) == 0)
			return 1;
	return 0;
}

/* Returns the environment a plugin runs with: the entries of ours that
 * plugin_env_keeps for check, and PATH=DEFAULT_PATH when we have no PATH. The array
 * is the caller's (free() it); its strings are borrowed from environ or
 * static. Built before fork, as the child may not allocate. */
static char **plugin_env(const struct aq_check *check)
{
	size_t n = 0;
	int has_path = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **env = aq_xcalloc(n + 2, sizeof(*env));
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		if (!plugin_env_keeps(check, *e))
			continue;
		has_path |= strncmp(*e, "PATH=", 5) == 0;
		env[k++] = *e;
	}
	if (!has_path)
		env[k++] = (char *)"PATH=" DEFAULT_PATH;
	env[k] = NULL;
	return env;
}

/* The child's side of spawn_plugin, between fork and exec: only
 * async-signal-safe calls, as the parent may have other threads. Reports an
 * exec failure as errno on err_fd and never returns. */
static void exec_plugin(char *const argv[], char *const envp[], int out_fd, int err_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int e;

	/* a group of its own lets a timeout kill whatever the plugin started */
	setpgid(0, 0);
	/* the daemon's signal mask and handlers are not the plugin's business */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	int in_fd = open("/dev/null", O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		goto err;
	/* a name without '/' is looked up on our PATH, which the plugin gets too */
	execvpe(argv[0], argv, envp);
err:
	e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Starts argv in a process group of its own, with the environment envp,
 * stdin from /dev/null, stdout and stderr into out_fd. Returns the pid, or -1
 * with errno set when it could not be started (no process is left behind
 * then). */
static pid_t spawn_plugin(char *const argv[], char *const envp[], int out_fd)
{
	int errpipe[2];
	int child_errno = 0;
	ssize_t n;

	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(errpipe[0]);
		close(errpipe[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(errpipe[0]);
		exec_plugin(argv, envp, out_fd, errpipe[1]);
	}
	/* also here, so that a kill of the group cannot come before the child
	 * has made it (fails harmlessly once the child has exec'd) */
	setpgid(pid, pid);
	close(errpipe[1]);
	/* end of file: the exec went through and closed the pipe */
	do
		n = read(errpipe[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = child_errno;
		return -1;
	}
	return pid;
}

/* Sets out from how the plugin ended and what it wrote. */
static void plugin_result(int wstatus, const char *output, struct aq_result *out)
{
	char line[MESSAGE_MAX];
	double v;

	first_line(output, '|', line, sizeof(line));
	if (WIFSIGNALED(wstatus)) {
		const char *name = sigabbrev_np(WTERMSIG(wstatus));
		if (name)
			set_unknown(out, "killed by signal SIG%s%s%s", name, line[0] ? ": " : "", line);
		else
			set_unknown(out, "killed by signal %d%s%s", WTERMSIG(wstatus), line[0] ? ": " : "",
				    line);
		return;
	}
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	if (code < AQ_OK || code > AQ_UNKNOWN) {
		set_unknown(out, "exited with status %d, expected 0-3%s%s", code, line[0] ? ": " : "", line);
		return;
	}
	out->status = code;
	free(out->message);
	out->message = aq_strdup(line[0] ? line : "(no output)");
	out->has_value = perfdata_value(output, &v);
	out->value = out->has_value ? v : 0;
}

/* Runs a command check into out (its common fields already set). */
static void run_command(const struct aq_check *check, int64_t started, struct aq_result *out)
{
	int fds[2] = { -1, -1 };
	char *output = NULL;
	size_t len = 0;
	int wstatus = 0;
	int reaped = 0;
	int timed_out = 0;
	char ebuf[256];
	char **envp = NULL;
	pid_t pid;

	if (!check->argv || !check->argv[0]) {
		set_unknown(out, "check has no command");
		return;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		set_unknown(out, "cannot make a pipe: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	/* only our end: the plugin's stdout stays blocking */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		set_unknown(out, "cannot set up the pipe: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	envp = plugin_env(check);
	pid = spawn_plugin(check->argv, envp, fds[1]);
	free(envp);
	if (pid < 0) {
		set_unknown(out, "cannot run '%s': %s", check->argv[0],
			    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	close(fds[1]);
	fds[1] = -1;
	/* allocated only now, so that a forked child holds no copy of it */
	output = malloc(OUTPUT_CAP + 1);
	if (!output) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		set_unknown(out, "out of memory");
		goto done;
	}

	int64_t deadline = started + check->timeout_ms;
	for (;;) {
		int eof = drain(fds[0], output, &len);
		if (eof != 0 || reaped)
			break;
		/* a plugin that left a background child holding the pipe is done
		 * when it exits itself, not when the pipe closes */
		pid_t r = waitpid(pid, &wstatus, WNOHANG);
		if (r == pid) {
			reaped = 1;
			continue; /* take what it wrote last */
		}
		int64_t left = deadline - aq_monotonic_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		poll(&pfd, 1, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
	}
	if (!reaped && !timed_out) {
		reaped = reap_until(pid, deadline, &wstatus);
		timed_out = !reaped;
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		char secs[32];
		format_seconds(check->timeout_ms, secs, sizeof(secs));
		set_unknown(out, "timed out after %s", secs);
		goto done;
	}
	output[len] = '\0';
	plugin_result(wstatus, output, out);
done:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(output);
}

/* ---- both ---- */

/* Sets the fields every result has. Returns 0 (out of memory aborts). */
static int fill_common(const struct aq_check *check, int64_t observed_at, struct aq_result *out)
{
	char host[256];
	const char *source = getenv("ALERTQ_SOURCE");

	if (!source || !*source) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		source = host;
	}
	aq_uuid4(out->event_id);
	out->check = aq_strdup(check->name);
	out->source = aq_strdup(source);
	out->observed_at_ms = observed_at;
	out->interval_ms = check->every_ms;
	out->status = AQ_UNKNOWN;
	if (aq_labels_copy(&out->labels, check->labels, check->nlabels) < 0)
		return -1;
	out->nlabels = check->nlabels;
	return 0;
}

int aq_prober_run(aq_prober_t *p, const struct aq_check *check, struct aq_result *out)
{
	int64_t observed_at = aq_now_ms();
	int64_t started = aq_monotonic_ms();

	memset(out, 0, sizeof(*out));
	if (fill_common(check, observed_at, out) < 0)
		goto err;
	if (check->kind == AQ_CHECK_SQL)
		run_sql(p, check, out);
	else
		run_command(check, started, out);
	return 0;
err:
	aq_result_release(out);
	return -1;
}
