/* test_notify.c - notifications and their channels, against real HTTP and SMTP receivers on loopback */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "alertq/event.h"
#include "alertq/notify.h"
#include "base/utf8.h"
#include "notify/format.h"
#include "unit.h"

#define NOTIFICATION_ID "6f1c1a0e-4b7d-4c2e-9a51-0d2f3b4c5d6e"
#define EVENT_ID "0b8e2f9a-1c3d-4e5f-8a7b-9c0d1e2f3a4b"
#define T_OBSERVED 1795798800000LL /* 2026-11-27T17:00:00Z */
#define T_SINCE 1795795200000LL    /* 2026-11-27T16:00:00Z */

static char tmpdir[] = "/tmp/alertq-test-notify-XXXXXX";

/* ---- helpers ---- */

/* Fills n with the contract's example notification (owned strings). */
static void sample(struct aq_notification *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->notification_id, sizeof(n->notification_id), "%s", NOTIFICATION_ID);
	n->check = aq_strdup("system.session_rows");
	n->severity = AQ_CRITICAL;
	n->previous_severity = AQ_WARNING;
	n->has_value = 1;
	n->value = 120000;
	n->message = aq_strdup("session rows above 100000");
	n->nlabels = 1;
	n->labels = calloc(1, sizeof(*n->labels));
	n->labels[0].key = aq_strdup("team");
	n->labels[0].value = aq_strdup("platform");
	n->observed_at_ms = T_OBSERVED;
	n->since_ms = T_SINCE;
	n->escalation_level = 0;
	snprintf(n->event_id, sizeof(n->event_id), "%s", EVENT_ID);
}

/* A channel built by hand, as the configuration would: strings borrowed. */
static struct aq_channel channel(enum aq_channel_type type, const char *url)
{
	struct aq_channel ch;
	memset(&ch, 0, sizeof(ch));
	ch.name = "test";
	ch.type = type;
	ch.url = (char *)url;
	ch.timeout_ms = 5000;
	ch.concurrency = 4;
	ch.give_up_after_ms = 86400000;
	return ch;
}

/* Delivers one notification over ch, on a sender whose log_dir is log_dir,
 * and returns its delivery record. */
static struct aq_delivery deliver_in(const char *log_dir, const struct aq_channel *ch,
				     const struct aq_notification *n)
{
	char err[256];
	aq_sender_t *s = aq_sender_new(ch, log_dir, err, sizeof(err));
	ck_assert_msg(s != NULL, "aq_sender_new: %s", err);
	struct aq_delivery d = { .notification = n };
	aq_sender_deliver(s, &d, 1);
	aq_sender_free(s);
	return d;
}

/* Delivers one notification over ch and returns its delivery record. */
static struct aq_delivery deliver_one(const struct aq_channel *ch, const struct aq_notification *n)
{
	return deliver_in(tmpdir, ch, n);
}

/* A receiver process started by a test. */
struct receiver {
	pid_t pid;
	int port;
	char out[PATH_MAX];
};

#define MAX_RECEIVERS 4
static struct receiver receivers[MAX_RECEIVERS];

/* Stops a receiver with SIGTERM and reaps it. */
static void receiver_stop(struct receiver *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	int status;
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
}

/* Teardown: stops whatever receivers a test left running (also when it failed). */
static void stop_receivers(void)
{
	for (int i = 0; i < MAX_RECEIVERS; i++)
		receiver_stop(&receivers[i]);
}

/* Starts tests/tools/<script> with --port 0, its records going to a fresh
 * file, plus up to six more arguments (NULL-terminated); waits for "ready"
 * and reads the port it took. */
static struct receiver *receiver_start(const char *script, const char *a1, const char *a2, const char *a3,
				       const char *a4, const char *a5, const char *a6)
{
	static int serial;
	struct receiver *r = NULL;
	for (int i = 0; i < MAX_RECEIVERS && !r; i++)
		if (receivers[i].pid == 0)
			r = &receivers[i];
	ck_assert_ptr_nonnull(r);
	const char *src = getenv("ALERTQ_SOURCE_DIR");
	ck_assert_msg(src != NULL, "ALERTQ_SOURCE_DIR is not set (the source tree, for tests/tools)");
	char path[PATH_MAX], port_file[PATH_MAX];
	snprintf(path, sizeof(path), "%s/tests/tools/%s", src, script);
	serial++;
	/* tests may each run in a process of their own: the pid keeps names apart */
	snprintf(r->out, sizeof(r->out), "%s/records-%d-%d.jsonl", tmpdir, (int)getpid(), serial);
	snprintf(port_file, sizeof(port_file), "%s/port-%d-%d", tmpdir, (int)getpid(), serial);
	const char *argv[] = { "/usr/bin/python3", path, "--port", "0", "--port-file", port_file, "--out",
			       r->out, a1, a2, a3, a4, a5, a6, NULL };
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* no check macros here: they would report from the child */
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	ck_assert_int_gt(pid, 0);
	r->pid = pid;
	char buf[64] = "";
	size_t got = 0;
	const char *problem = NULL;
	while (!problem && got < sizeof(buf) - 1 && !strstr(buf, "ready\n")) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t n = -1;
		if (poll(&pfd, 1, 20000) != 1)
			problem = "did not get ready";
		else
			n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		if (!problem && n <= 0)
			problem = "exited before it was ready";
		if (!problem) {
			got += (size_t)n;
			buf[got] = '\0';
		}
	}
	close(fds[0]);
	ck_assert_msg(problem == NULL, "%s %s", script, problem);
	FILE *f = fopen(port_file, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &r->port), 1);
	fclose(f);
	return r;
}

/* Reads a JSON-lines file into a new array of its objects (empty when the
 * file does not exist). */
static json_t *read_lines(const char *path)
{
	json_t *all = json_array();
	FILE *f = fopen(path, "r");
	if (!f)
		return all;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		json_error_t jerr;
		json_t *v = json_loads(line, 0, &jerr);
		ck_assert_msg(v != NULL, "not a JSON line in %s: %s", path, jerr.text);
		json_array_append_new(all, v);
	}
	free(line);
	fclose(f);
	return all;
}

/* A URL on the receiver's port, in buf. */
static const char *receiver_url(const struct receiver *r, const char *scheme, const char *path, char *buf,
				size_t buflen)
{
	snprintf(buf, buflen, "%s://127.0.0.1:%d%s", scheme, r->port, path);
	return buf;
}

/* The string member key of the object (or of its "headers" object). */
static const char *member(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static const char *header(json_t *record, const char *name)
{
	return member(json_object_get(record, "headers"), name);
}

/* A loopback port with nothing listening: bound, then released. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

/* Fails the test unless error is what a delivery may store: valid UTF-8,
 * no control characters, shorter than its buffer. */
static void check_error_text(const char *error)
{
	size_t len = strnlen(error, AQ_DELIVERY_ERROR_MAX);
	ck_assert_msg(len < AQ_DELIVERY_ERROR_MAX, "error text not terminated within its buffer");
	ck_assert_msg(aq_utf8_valid(error, len), "error text is not UTF-8: %s", error);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)error[i] >= 0x20 && error[i] != 0x7f,
			      "control character 0x%02x in error text: %s", (unsigned char)error[i], error);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* ---- the object ---- */

START_TEST(test_json_exact)
{
	struct aq_notification n;
	sample(&n);
	char *json = aq_notification_to_json(&n);
	ck_assert_str_eq(json, "{\"notification_id\":\"" NOTIFICATION_ID "\",\"check\":\"system.session_rows\","
			       "\"status\":\"firing\",\"severity\":\"CRITICAL\",\"previous_severity\":\"WARNING\","
			       "\"value\":120000,\"message\":\"session rows above 100000\","
			       "\"labels\":{\"team\":\"platform\"},\"observed_at\":\"2026-11-27T17:00:00Z\","
			       "\"since\":\"2026-11-27T16:00:00Z\",\"escalation_level\":0,"
			       "\"event_id\":\"" EVENT_ID "\",\"annotations\":{}}");
	free(json);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_json_resolved_null_value)
{
	struct aq_notification n, back;
	sample(&n);
	n.resolved = 1;
	n.severity = AQ_OK;
	n.previous_severity = AQ_CRITICAL;
	n.has_value = 0;
	n.event_id[0] = '\0';
	n.escalation_level = 2;
	char *json = aq_notification_to_json(&n);
	json_t *root = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(root);
	static const char *const keys[] = { "notification_id", "check", "status", "severity",
					    "previous_severity", "value", "message", "labels",
					    "observed_at", "since", "escalation_level", "event_id",
					    "annotations" };
	ck_assert_int_eq(json_object_size(root), sizeof(keys) / sizeof(keys[0]));
	void *it = json_object_iter(root);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++, it = json_object_iter_next(root, it))
		ck_assert_str_eq(json_object_iter_key(it), keys[i]);
	ck_assert(json_is_null(json_object_get(root, "value")));
	ck_assert(json_is_null(json_object_get(root, "event_id")));
	ck_assert_str_eq(member(root, "status"), "resolved");
	ck_assert_str_eq(member(root, "severity"), "OK");
	ck_assert_str_eq(member(root, "previous_severity"), "CRITICAL");
	ck_assert_int_eq(json_integer_value(json_object_get(root, "escalation_level")), 2);

	char err[256];
	ck_assert_int_eq(aq_notification_from_json(&back, json, err, sizeof(err)), 0);
	ck_assert_int_eq(back.resolved, 1);
	ck_assert_int_eq(back.has_value, 0);
	ck_assert_str_eq(back.event_id, "");
	ck_assert_int_eq(back.severity, AQ_OK);
	ck_assert_int_eq(back.previous_severity, AQ_CRITICAL);
	ck_assert_int_eq(back.escalation_level, 2);
	json_decref(root);
	free(json);
	aq_notification_release(&back);
	aq_notification_release(&n);
}
END_TEST

static const struct {
	double value;
	const char *json;
} value_cases[] = {
	{ 120000, "120000" },
	{ 0.1, "0.1" },
	{ -3.5, "-3.5" },
	{ 0, "0" },
	{ 1e300, "1e300" },
	{ 2.0 / 3, NULL },
	{ 1e20, "1e20" },
	{ -42, "-42" },
};

START_TEST(test_json_round_trip)
{
	struct aq_notification n, back;
	sample(&n);
	n.value = value_cases[_i].value;
	free(n.message);
	n.message = aq_strdup("line one\nline \"two\" \xc3\xa9\t\\ end");
	aq_labels_free(n.labels, n.nlabels);
	n.nlabels = 2;
	n.labels = calloc(2, sizeof(*n.labels));
	n.labels[0].key = aq_strdup("team");
	n.labels[0].value = aq_strdup("platform");
	n.labels[1].key = aq_strdup("env");
	n.labels[1].value = aq_strdup("prod");
	n.observed_at_ms = T_OBSERVED + 123;
	n.escalation_level = 1;
	n.nannotations = 1;
	n.annotations = calloc(1, sizeof(*n.annotations));
	n.annotations[0].key = aq_strdup("runbook_url");
	n.annotations[0].value = aq_strdup("https://wiki.iact.example/runbooks/x?a=\"1\"");
	char *json = aq_notification_to_json(&n);
	ck_assert_ptr_nonnull(json);
	if (value_cases[_i].json) {
		char expect[64];
		snprintf(expect, sizeof(expect), "\"value\":%s,", value_cases[_i].json);
		ck_assert_msg(strstr(json, expect), "%s not in %s", expect, json);
	}
	ck_assert_ptr_nonnull(strstr(json, "\"observed_at\":\"2026-11-27T17:00:00.123Z\""));

	char err[256];
	ck_assert_int_eq(aq_notification_from_json(&back, json, err, sizeof(err)), 0);
	ck_assert_str_eq(back.notification_id, n.notification_id);
	ck_assert_str_eq(back.check, n.check);
	ck_assert_int_eq(back.resolved, 0);
	ck_assert_int_eq(back.severity, AQ_CRITICAL);
	ck_assert_int_eq(back.previous_severity, AQ_WARNING);
	ck_assert_int_eq(back.has_value, 1);
	ck_assert_msg(back.value == n.value, "%.17g read back as %.17g", n.value, back.value);
	ck_assert_str_eq(back.message, n.message);
	ck_assert_uint_eq(back.nlabels, 2);
	ck_assert_str_eq(back.labels[0].key, "team");
	ck_assert_str_eq(back.labels[0].value, "platform");
	ck_assert_str_eq(back.labels[1].key, "env");
	ck_assert_str_eq(back.labels[1].value, "prod");
	ck_assert_int_eq(back.observed_at_ms, n.observed_at_ms);
	ck_assert_int_eq(back.since_ms, n.since_ms);
	ck_assert_int_eq(back.escalation_level, 1);
	ck_assert_str_eq(back.event_id, EVENT_ID);
	ck_assert_uint_eq(back.nannotations, 1);
	ck_assert_str_eq(back.annotations[0].key, "runbook_url");
	ck_assert_str_eq(back.annotations[0].value, n.annotations[0].value);

	/* what was read writes the same text again */
	char *again = aq_notification_to_json(&back);
	ck_assert_str_eq(again, json);
	free(again);
	free(json);
	aq_notification_release(&back);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_json_invalid_utf8_and_odd_values)
{
	struct aq_notification n;
	sample(&n);
	free(n.message);
	n.message = aq_strdup("bad \xff byte");
	n.value = 0.0 / 0.0;
	char *json = aq_notification_to_json(&n);
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(strstr(json, "\"message\":\"bad \xef\xbf\xbd byte\""));
	ck_assert_ptr_nonnull(strstr(json, "\"value\":null"));
	free(json);
	aq_notification_release(&n);
}
END_TEST

/* Label keys the event allows (control characters included) reach the
 * JSON as they are: cleaned, "a\x01" and "a\x02" would both be "a " and one
 * label would be lost. A key that is not UTF-8 is still cleaned. */
START_TEST(test_json_label_keys_kept)
{
	struct aq_notification n, back;
	sample(&n);
	aq_labels_free(n.labels, n.nlabels);
	n.nlabels = 4;
	n.labels = calloc(4, sizeof(*n.labels));
	n.labels[0].key = aq_strdup("a\x01");
	n.labels[0].value = aq_strdup("one");
	n.labels[1].key = aq_strdup("a\x02");
	n.labels[1].value = aq_strdup("two");
	n.labels[2].key = aq_strdup("line\nbreak\f");
	n.labels[2].value = aq_strdup("three");
	n.labels[3].key = aq_strdup("bad \xff");
	n.labels[3].value = aq_strdup("four");
	char *json = aq_notification_to_json(&n);
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_null(strchr(json, '\n'));
	char err[256];
	ck_assert_int_eq(aq_notification_from_json(&back, json, err, sizeof(err)), 0);
	ck_assert_uint_eq(back.nlabels, 4);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(back.labels[i].key, n.labels[i].key);
		ck_assert_str_eq(back.labels[i].value, n.labels[i].value);
	}
	ck_assert_str_eq(back.labels[3].key, "bad \xef\xbf\xbd");
	ck_assert_str_eq(back.labels[3].value, "four");
	free(json);
	aq_notification_release(&back);
	aq_notification_release(&n);
}
END_TEST

static const struct {
	const char *json;
	const char *error;
} bad_json_cases[] = {
	{ "not json", "not JSON" },
	{ "[1]", "must be a JSON object" },
	{ "{\"check\":\"x\"}", "missing key 'notification_id'" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"burning\"}", "'status' must be" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"BAD\"}",
	  "unknown severity 'BAD'" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"OK\","
	  "\"previous_severity\":\"OK\",\"value\":\"1\"}",
	  "'value' must be a number or null" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"OK\","
	  "\"previous_severity\":\"OK\",\"value\":1,\"message\":\"m\",\"labels\":{\"a\":1}}",
	  "label 'a' must be a string" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"OK\","
	  "\"previous_severity\":\"OK\",\"value\":1,\"message\":\"m\",\"labels\":{},"
	  "\"observed_at\":\"2026-11-27T17:00:00Z\",\"since\":\"2026-11-27T17:00:00Z\",\"escalation_level\":0,"
	  "\"event_id\":null,\"annotations\":{\"summary\":[1]}}",
	  "annotation 'summary' must be a string" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"OK\","
	  "\"previous_severity\":\"OK\",\"value\":1,\"message\":\"m\",\"labels\":{},"
	  "\"observed_at\":\"2026-11-27T17:00:00Z\",\"since\":\"2026-11-27T17:00:00Z\",\"escalation_level\":0,"
	  "\"event_id\":null,\"annotations\":\"x\"}",
	  "'annotations' must be an object" },
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\",\"severity\":\"OK\","
	  "\"previous_severity\":\"OK\",\"value\":1,\"message\":\"m\",\"labels\":{},"
	  "\"observed_at\":\"yesterday\"}",
	  "'observed_at': invalid time" },
	/* the quoted name is cut inside the "\xc3\xa9": the message stays UTF-8 */
	{ "{\"notification_id\":\"a\",\"check\":\"x\",\"status\":\"firing\","
	  "\"severity\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3\xa9\"}",
	  "unknown severity 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xef\xbf\xbd'" },
};

START_TEST(test_from_json_errors)
{
	struct aq_notification n;
	memset(&n, 0, sizeof(n));
	char err[256] = "";
	ck_assert_int_eq(aq_notification_from_json(&n, bad_json_cases[_i].json, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad_json_cases[_i].error), "error '%s' lacks '%s'", err,
		      bad_json_cases[_i].error);
	check_error_text(err);
	ck_assert_ptr_null(n.check);
	ck_assert_ptr_null(n.labels);
}
END_TEST

START_TEST(test_summary)
{
	struct aq_notification n;
	sample(&n);
	char *text = aq_notification_summary(&n);
	ck_assert_str_eq(text, "[CRITICAL] system.session_rows firing: value 120000 (was WARNING since "
			       "2026-11-27T16:00:00Z): session rows above 100000 [team=platform]");
	free(text);

	n.resolved = 1;
	n.severity = AQ_OK;
	n.previous_severity = AQ_CRITICAL;
	n.has_value = 0;
	n.escalation_level = 2;
	free(n.message);
	n.message = aq_strdup("back to\nnormal\r\n");
	text = aq_notification_summary(&n);
	ck_assert_str_eq(text, "[RESOLVED] system.session_rows resolved: no value (was CRITICAL since "
			       "2026-11-27T16:00:00Z): back to normal [team=platform; escalation level 2]");
	free(text);

	/* a long message is cut, and the line stays one line */
	free(n.message);
	n.message = malloc(5001);
	memset(n.message, 'x', 5000);
	n.message[4000] = '\n';
	n.message[5000] = '\0';
	text = aq_notification_summary(&n);
	ck_assert_uint_lt(strlen(text), 1400);
	ck_assert_ptr_null(strchr(text, '\n'));
	ck_assert_ptr_nonnull(strstr(text, "..."));
	free(text);
	aq_notification_release(&n);
}
END_TEST

/* Outside text in every field a sink shows: the syslog line (the summary)
 * stays one line of valid UTF-8, the JSON stays valid and reads back. */
static const char *const hostile_texts[] = {
	"line\nbreak\r\nand\rreturn",
	"escape \x1b[2J\x1b[31mred\x07 bell \x7f del \t tab",
	"latin-1 caf\xe9 \xab quoted \xbb",
	"broken \xc3 \xe2\x82 \xf0\x9f\x98 overlong \xc0\xaf surrogate \xed\xa0\x80 high \xf5\x80\x80\x80",
	"<!channel> & \"quotes\" \\ backslash",
};

START_TEST(test_hostile_text_in_summary_and_json)
{
	const char *text = hostile_texts[_i];
	struct aq_notification n, back;
	sample(&n);
	free(n.check);
	free(n.message);
	free(n.labels[0].key);
	free(n.labels[0].value);
	n.check = aq_strdup(text);
	n.message = aq_strdup(text);
	n.labels[0].key = aq_strdup(text);
	n.labels[0].value = aq_strdup(text);
	char *summary = aq_notification_summary(&n);
	ck_assert_ptr_nonnull(summary);
	check_error_text(summary);
	char *json = aq_notification_to_json(&n);
	ck_assert_ptr_nonnull(json);
	ck_assert_msg(aq_utf8_valid(json, strlen(json)), "JSON is not UTF-8: %s", json);
	ck_assert_ptr_null(strchr(json, '\n'));
	char err[256];
	ck_assert_msg(aq_notification_from_json(&back, json, err, sizeof(err)) == 0, "%s", err);
	aq_notification_release(&back);
	free(summary);
	free(json);
	aq_notification_release(&n);
}
END_TEST

/* ---- webhook ---- */

START_TEST(test_webhook_json_signed)
{
	struct receiver *r = receiver_start("http_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	ch.secret = "s3cret-key";
	ch.secret_env = "ALERTQ_WEBHOOK_SECRET";
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_t *rec = json_array_get(records, 0);
	char *json = aq_notification_to_json(&n);
	ck_assert_str_eq(member(rec, "method"), "POST");
	ck_assert_str_eq(member(rec, "path"), "/hook");
	ck_assert_str_eq(member(rec, "body"), json);
	ck_assert_str_eq(header(rec, "content-type"), "application/json");
	ck_assert_str_eq(header(rec, "idempotency-key"), NOTIFICATION_ID);

	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	const char *body = member(rec, "body");
	HMAC(EVP_sha256(), ch.secret, (int)strlen(ch.secret), (const unsigned char *)body, strlen(body), mac,
	     &mac_len);
	char expect[8 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256=";
	for (unsigned int i = 0; i < mac_len; i++)
		snprintf(expect + 7 + 2 * i, 3, "%02x", mac[i]);
	ck_assert_str_eq(header(rec, "x-alertq-signature"), expect);
	free(json);
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_slack_unsigned)
{
	struct receiver *r = receiver_start("http_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/slack", url, sizeof(url)));
	ch.format = AQ_FORMAT_SLACK;
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_t *rec = json_array_get(records, 0);
	ck_assert_ptr_null(header(rec, "x-alertq-signature"));
	json_t *body = json_loads(member(rec, "body"), 0, NULL);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(json_object_size(body), 1);
	const char *text = member(body, "text");
	char *summary = aq_notification_summary(&n);
	ck_assert_str_eq(text, summary);
	ck_assert_ptr_nonnull(strstr(text, "system.session_rows"));
	ck_assert_ptr_nonnull(strstr(text, "CRITICAL"));
	free(summary);
	json_decref(body);
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

/* Event data that Slack would read as markup, and what reaches Slack. */
static const struct {
	const char *check, *message, *label;
	const char *wire; /* part of the text sent */
} slack_escape_cases[] = {
	{ "db.main", "<!channel> <http://evil|click> & co", "ops",
	  "&lt;!channel&gt; &lt;http://evil|click&gt; &amp; co" },
	{ "db.main", "<!here> wake up", "ops", "&lt;!here&gt; wake up" },
	{ "<@U024BE7LH>", "ok", "ops", "&lt;@U024BE7LH&gt; firing" },
	{ "db.main", "ok", "<!subteam^S123|oncall>", "team=&lt;!subteam^S123|oncall&gt;" },
	{ "db.main", "&lt; already escaped", "ops", "&amp;lt; already escaped" },
};

START_TEST(test_webhook_slack_escaped)
{
	struct receiver *r = receiver_start("http_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/slack", url, sizeof(url)));
	ch.format = AQ_FORMAT_SLACK;
	struct aq_notification n;
	sample(&n);
	free(n.check);
	free(n.message);
	free(n.labels[0].value);
	n.check = aq_strdup(slack_escape_cases[_i].check);
	n.message = aq_strdup(slack_escape_cases[_i].message);
	n.labels[0].value = aq_strdup(slack_escape_cases[_i].label);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_t *body = json_loads(member(json_array_get(records, 0), "body"), 0, NULL);
	ck_assert_ptr_nonnull(body);
	const char *text = member(body, "text");
	ck_assert_msg(strstr(text, slack_escape_cases[_i].wire), "'%s' lacks '%s'", text,
		      slack_escape_cases[_i].wire);
	/* no markup at all is left */
	ck_assert_msg(!strchr(text, '<') && !strchr(text, '>'), "markup in '%s'", text);
	json_decref(body);
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

/* How each answer of a webhook is taken. */
static const struct {
	const char *status;
	enum aq_delivery_result result;
	const char *error;
} status_cases[] = {
	{ "200", AQ_DELIVERED, "" },
	{ "204", AQ_DELIVERED, "" },
	{ "400", AQ_DELIVERY_PERMANENT, "HTTP 400 Bad Request from http://127.0.0.1:" },
	{ "404", AQ_DELIVERY_PERMANENT, "HTTP 404 Not Found from http://127.0.0.1:" },
	{ "410", AQ_DELIVERY_PERMANENT, "HTTP 410 Gone" },
	{ "408", AQ_DELIVERY_RETRY, "HTTP 408 Request Timeout" },
	{ "429", AQ_DELIVERY_RETRY, "HTTP 429 Too Many Requests" },
	{ "500", AQ_DELIVERY_RETRY, "HTTP 500 Internal Server Error" },
	{ "503", AQ_DELIVERY_RETRY, "HTTP 503 Service Unavailable" },
};

START_TEST(test_webhook_status)
{
	struct receiver *r =
		receiver_start("http_receiver.py", "--status", status_cases[_i].status, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, status_cases[_i].result);
	ck_assert_msg(strstr(d.error, status_cases[_i].error), "error '%s' lacks '%s'", d.error,
		      status_cases[_i].error);
	ck_assert_int_eq(d.retry_after_ms, 0);
	/* the path of a webhook URL can be a secret: errors name the server only */
	ck_assert_ptr_null(strstr(d.error, "/hook"));
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_retry_after_then_delivered)
{
	struct receiver *r = receiver_start("http_receiver.py", "--fail-first", "1", "--fail-status", "503",
					    "--retry-after", "1");
	char url[128], err[256];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	struct aq_notification n;
	sample(&n);
	aq_sender_t *s = aq_sender_new(&ch, tmpdir, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	struct aq_delivery d = { .notification = &n };
	aq_sender_deliver(s, &d, 1);
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_int_eq(d.retry_after_ms, 1000);
	ck_assert_ptr_nonnull(strstr(d.error, "HTTP 503"));
	/* the same sender, the same notification, again */
	aq_sender_deliver(s, &d, 1);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	ck_assert_int_eq(d.retry_after_ms, 0);
	ck_assert_str_eq(d.error, "");
	aq_sender_free(s);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 2);
	ck_assert_str_eq(header(json_array_get(records, 0), "idempotency-key"),
			 header(json_array_get(records, 1), "idempotency-key"));
	/* the sender kept its connection from one call to the next */
	ck_assert_str_eq(member(json_array_get(records, 0), "client"),
			 member(json_array_get(records, 1), "client"));
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_connection_refused)
{
	char url[128];
	snprintf(url, sizeof(url), "http://alertq:hunter2@127.0.0.1:%d/hook?token=abc", closed_port());
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, url);
	ch.secret = "s3cret-key";
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_ptr_nonnull(strstr(d.error, "cannot deliver to http://***@127.0.0.1:"));
	ck_assert_ptr_null(strstr(d.error, "hunter2"));
	ck_assert_ptr_null(strstr(d.error, "token"));
	ck_assert_ptr_null(strstr(d.error, "s3cret"));
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_timeout)
{
	struct receiver *r = receiver_start("http_receiver.py", "--delay", "5", NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	ch.timeout_ms = 500;
	struct aq_notification n;
	sample(&n);
	int64_t start = aq_monotonic_ms();
	struct aq_delivery d = deliver_one(&ch, &n);
	int64_t took = aq_monotonic_ms() - start;
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_msg(strstr(d.error, "timed out"), "error: %s", d.error);
	ck_assert_msg(took >= 450 && took < 2500, "took %lld ms for a 500 ms timeout", (long long)took);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_batch_concurrency)
{
	enum {
		COUNT = 50
	};
	/* each answer takes 100 ms: 50 of them four at a time take 1.25 s, one at a time 5 s */
	struct receiver *r = receiver_start("http_receiver.py", "--delay", "0.1", NULL, NULL, NULL, NULL);
	char url[128], err[256];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	struct aq_notification notes[COUNT];
	struct aq_delivery items[COUNT];
	for (int i = 0; i < COUNT; i++) {
		sample(&notes[i]);
		aq_uuid4(notes[i].notification_id);
		items[i] = (struct aq_delivery){ .notification = &notes[i], .result = AQ_DELIVERY_RETRY };
	}
	aq_sender_t *s = aq_sender_new(&ch, tmpdir, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	int64_t start = aq_monotonic_ms();
	aq_sender_deliver(s, items, COUNT);
	int64_t took = aq_monotonic_ms() - start;
	aq_sender_free(s);
	for (int i = 0; i < COUNT; i++)
		ck_assert_msg(items[i].result == AQ_DELIVERED, "item %d: %s", i, items[i].error);
	ck_assert_msg(took >= 1200, "50 requests of 100 ms took %lld ms: more than 4 in flight",
		      (long long)took);
	ck_assert_msg(took < 4500, "50 requests of 100 ms took %lld ms: not 4 in flight", (long long)took);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), COUNT);
	/* kept-alive connections: no more than the four requests in flight needed */
	json_t *clients = json_object();
	for (size_t j = 0; j < json_array_size(records); j++)
		json_object_set_new(clients, member(json_array_get(records, j), "client"), json_true());
	ck_assert_uint_le(json_object_size(clients), 4);
	json_decref(clients);
	for (int i = 0; i < COUNT; i++) {
		int found = 0;
		for (size_t j = 0; j < json_array_size(records); j++)
			if (strcmp(header(json_array_get(records, j), "idempotency-key"),
				   notes[i].notification_id) == 0)
				found++;
		ck_assert_int_eq(found, 1);
	}
	json_decref(records);
	for (int i = 0; i < COUNT; i++)
		aq_notification_release(&notes[i]);
}
END_TEST

/* Receivers that answer badly, one row each: whatever they send, the
 * delivery's error is clean text within its cap and the outcome is right. */
#define LATIN1_BODY "Requ\\xeate invalide : le champ \\xabtext\\xbb manque"
static const struct {
	const char *what;
	const char *args[6];
	long timeout_ms;
	enum aq_delivery_result result;
	const char *error;   /* part of the error text */
	int64_t retry_after; /* expected retry_after_ms */
	int64_t max_ms;      /* the delivery takes less than this */
} hostile_http_cases[] = {
	{ "400 with a Latin-1 body",
	  { "--status", "400", "--escapes", "--response-body", LATIN1_BODY },
	  5000,
	  AQ_DELIVERY_PERMANENT,
	  "HTTP 400 Bad Request from http://127.0.0.1:",
	  0,
	  3000 },
	{ "400 with a Latin-1 body, the bytes replaced",
	  { "--status", "400", "--escapes", "--response-body", LATIN1_BODY },
	  5000,
	  AQ_DELIVERY_PERMANENT,
	  "Requ\xef\xbf\xbdte invalide",
	  0,
	  3000 },
	{ "400 with a Latin-1 reason and a bell",
	  { "--status", "400", "--escapes", "--reason", "Mauvaise requ\\xeate\\x07!" },
	  5000,
	  AQ_DELIVERY_PERMANENT,
	  "HTTP 400 Mauvaise requ\xef\xbf\xbdte !",
	  0,
	  3000 },
	{ "500 with a 1 MiB body", { "--status", "500", "--response-size", "1048576" }, 5000, AQ_DELIVERY_RETRY, "HTTP 500 Internal Server Error", 0, 3000 },
	{ "503 with a body that never ends", { "--status", "503", "--endless" }, 5000, AQ_DELIVERY_RETRY, "HTTP 503 Service Unavailable", 0, 3000 },
	{ "200 with a body that never ends", { "--endless" }, 5000, AQ_DELIVERED, "", 0, 3000 },
	{ "200 with an invalid UTF-8 body",
	  { "--escapes", "--response-body", "\\xff\\xfe\\xc0\\xaf\\x1b[2J\\xed\\xa0\\x80" },
	  5000,
	  AQ_DELIVERED,
	  "",
	  0,
	  3000 },
	{ "400 with control characters and invalid UTF-8",
	  { "--status", "400", "--escapes", "--response-body", "\\x1b[31m\\xc0\\xaf\\x00\\x7f\\xf5!" },
	  5000,
	  AQ_DELIVERY_PERMANENT,
	  "HTTP 400",
	  0,
	  3000 },
	{ "503 with a garbage Retry-After",
	  { "--status", "503", "--escapes", "--retry-after", "soon\\xff\\x01" },
	  5000,
	  AQ_DELIVERY_RETRY,
	  "HTTP 503",
	  0,
	  3000 },
	{ "429 with a Retry-After of centuries", { "--status", "429", "--retry-after", "99999999999" }, 5000, AQ_DELIVERY_RETRY, "HTTP 429", 86400000, 3000 },
	{ "301 redirect", { "--status", "301", "--location", "http://127.0.0.1:1/elsewhere" }, 5000, AQ_DELIVERY_PERMANENT, "HTTP 301 Moved Permanently from http://127.0.0.1:", 0, 3000 },
	{ "307 redirect", { "--status", "307", "--location", "/hook2" }, 5000, AQ_DELIVERY_PERMANENT, "(redirects are not followed)", 0, 3000 },
	{ "never answers", { "--delay", "5" }, 500, AQ_DELIVERY_RETRY, "timed out", 0, 2500 },
};

START_TEST(test_webhook_hostile)
{
	const char *const *a = hostile_http_cases[_i].args;
	struct receiver *r = receiver_start("http_receiver.py", a[0], a[1], a[2], a[3], a[4], a[5]);
	char url[128];
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, receiver_url(r, "http", "/hook", url, sizeof(url)));
	ch.timeout_ms = hostile_http_cases[_i].timeout_ms;
	struct aq_notification n;
	sample(&n);
	int64_t start = aq_monotonic_ms();
	struct aq_delivery d = deliver_one(&ch, &n);
	int64_t took = aq_monotonic_ms() - start;
	const char *what = hostile_http_cases[_i].what;
	ck_assert_msg(d.result == hostile_http_cases[_i].result, "%s: result %d: %s", what, d.result, d.error);
	check_error_text(d.error);
	ck_assert_msg(strstr(d.error, hostile_http_cases[_i].error), "%s: error '%s' lacks '%s'", what, d.error,
		      hostile_http_cases[_i].error);
	ck_assert_msg(d.retry_after_ms == hostile_http_cases[_i].retry_after, "%s: retry after %lld ms", what,
		      (long long)d.retry_after_ms);
	ck_assert_msg(took < hostile_http_cases[_i].max_ms, "%s: took %lld ms", what, (long long)took);
	/* a redirect is not followed: one request reached the receiver */
	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_webhook_missing_variables)
{
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, NULL);
	ch.url_env = "SLACK_WEBHOOK_URL";
	ch.format = AQ_FORMAT_SLACK;
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_PERMANENT);
	ck_assert_str_eq(d.error, "environment variable SLACK_WEBHOOK_URL is not set");

	/* a signed channel whose secret is missing is not sent unsigned */
	ch = channel(AQ_CHANNEL_WEBHOOK, "http://127.0.0.1:9/hook");
	ch.secret_env = "ALERTQ_WEBHOOK_SECRET";
	d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_PERMANENT);
	ck_assert_str_eq(d.error, "environment variable ALERTQ_WEBHOOK_SECRET is not set");
	aq_notification_release(&n);
}
END_TEST

/* ---- email ---- */

/* An email channel to the receiver r, STARTTLS off, two recipients. */
static struct aq_channel email_channel(struct receiver *r, char *url, size_t urllen)
{
	static char *to[] = { "admin@iact.example", "ops@iact.example" };
	struct aq_channel ch = channel(AQ_CHANNEL_EMAIL, receiver_url(r, "smtp", "", url, urllen));
	ch.from = "alerts@iact.example";
	ch.to = to;
	ch.nto = 2;
	ch.starttls = AQ_STARTTLS_OFF;
	return ch;
}

START_TEST(test_email_delivered)
{
	struct receiver *r = receiver_start("smtp_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	n.resolved = 1;
	n.severity = AQ_OK;
	n.previous_severity = AQ_CRITICAL;
	d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 2);
	json_t *rec = json_array_get(records, 0);
	ck_assert_str_eq(member(rec, "mail_from"), "alerts@iact.example");
	json_t *rcpt = json_object_get(rec, "rcpt_tos");
	ck_assert_uint_eq(json_array_size(rcpt), 2);
	ck_assert_str_eq(json_string_value(json_array_get(rcpt, 0)), "admin@iact.example");
	ck_assert_str_eq(json_string_value(json_array_get(rcpt, 1)), "ops@iact.example");
	const char *data = member(rec, "data");
	static const char *const expected[] = {
		"From: alerts@iact.example\r\n",
		"To: admin@iact.example,\r\n ops@iact.example\r\n",
		"\r\nSubject: [CRITICAL] system.session_rows\r\n",
		"\r\nDate: ",
		"\r\nMessage-ID: <" NOTIFICATION_ID "@alertq>\r\n",
		"\r\nMIME-Version: 1.0\r\n",
		"\r\nContent-Type: text/plain; charset=utf-8\r\n",
		"\r\nContent-Transfer-Encoding: 8bit\r\n",
		"\r\n\r\ncheck: system.session_rows\r\n",
		"\r\nstatus: firing\r\n",
		"\r\nseverity: CRITICAL\r\n",
		"\r\nprevious_severity: WARNING\r\n",
		"\r\nvalue: 120000\r\n",
		"\r\nmessage: session rows above 100000\r\n",
		"\r\nlabels: team=platform\r\n",
		"\r\nobserved_at: 2026-11-27T17:00:00Z\r\n",
		"\r\nsince: 2026-11-27T16:00:00Z\r\n",
		"\r\nescalation_level: 0\r\n",
		"\r\nevent_id: " EVENT_ID "\r\n",
		"\r\nnotification_id: " NOTIFICATION_ID "\r\n",
		"\r\n\r\n[CRITICAL] system.session_rows firing: value 120000 (was WARNING since "
		"2026-11-27T16:00:00Z): session rows above 100000 [team=platform]\r\n",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_msg(strstr(data, expected[i]), "message lacks '%s':\n%s", expected[i], data);
	data = member(json_array_get(records, 1), "data");
	ck_assert_ptr_nonnull(strstr(data, "\r\nSubject: [RESOLVED] system.session_rows\r\n"));
	ck_assert_ptr_nonnull(strstr(data, "\r\nstatus: resolved\r\n"));
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_email_multiline_message_and_auth)
{
	struct receiver *r = receiver_start("smtp_receiver.py", "--auth", "alertq:pa55word", NULL, NULL, NULL,
					    NULL);
	char url[128];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	ch.username = "alertq";
	ch.username_env = "SMTP_USER";
	ch.password = "pa55word";
	ch.password_env = "SMTP_PASSWORD";
	struct aq_notification n;
	sample(&n);
	free(n.message);
	n.message = aq_strdup("first line\n.second line\r\nthird");
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_t *rec = json_array_get(records, 0);
	ck_assert_str_eq(member(rec, "auth_user"), "alertq");
	ck_assert_ptr_nonnull(
		strstr(member(rec, "data"), "\r\nmessage: first line\r\n  .second line\r\n  third\r\n"));
	json_decref(records);

	/* a wrong password is a 535: permanent, and the password is not shown */
	ch.password = "wrong-pass";
	d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERY_PERMANENT, "result %d: %s", d.result, d.error);
	ck_assert_msg(strstr(d.error, "535"), "error: %s", d.error);
	ck_assert_ptr_null(strstr(d.error, "wrong-pass"));

	/* a credential whose variable is not set */
	ch.password = NULL;
	d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_PERMANENT);
	ck_assert_str_eq(d.error, "environment variable SMTP_PASSWORD is not set");
	aq_notification_release(&n);
}
END_TEST

static const struct {
	const char *code;
	const char *stage;
	enum aq_delivery_result result;
} smtp_failure_cases[] = {
	{ "451", "data", AQ_DELIVERY_RETRY },
	{ "550", "data", AQ_DELIVERY_PERMANENT },
	{ "450", "rcpt", AQ_DELIVERY_RETRY },
	{ "553", "rcpt", AQ_DELIVERY_PERMANENT },
};

START_TEST(test_email_failures)
{
	struct receiver *r = receiver_start("smtp_receiver.py", "--fail-first", "1", "--fail-code",
					    smtp_failure_cases[_i].code, "--fail-stage", smtp_failure_cases[_i].stage);
	char url[128], err[256];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	struct aq_notification n;
	sample(&n);
	aq_sender_t *s = aq_sender_new(&ch, tmpdir, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	struct aq_delivery d = { .notification = &n };
	aq_sender_deliver(s, &d, 1);
	ck_assert_int_eq(d.result, smtp_failure_cases[_i].result);
	char expect[64];
	snprintf(expect, sizeof(expect), "SMTP %s ", smtp_failure_cases[_i].code);
	ck_assert_msg(strstr(d.error, expect), "error '%s' lacks '%s'", d.error, expect);
	ck_assert_msg(strstr(d.error, "from smtp://127.0.0.1:"), "error: %s", d.error);
	/* only the first message fails: the same sender gets the next through */
	aq_sender_deliver(s, &d, 1);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	aq_sender_free(s);
	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

/* SMTP servers that answer badly, one row each. */
static const struct {
	const char *what;
	const char *args[6];
	enum aq_delivery_result result;
	const char *error;
} hostile_smtp_cases[] = {
	{ "550 with Latin-1 text at DATA",
	  { "--fail-all", "--fail-code", "550", "--escapes", "--fail-message",
	    "5.7.1 Message refus\\xe9 \\xab spam \\xbb\\x1b[0m" },
	  AQ_DELIVERY_PERMANENT,
	  "SMTP 550 5.7.1 Message refus\xef\xbf\xbd" },
	{ "451 with Latin-1 text",
	  { "--fail-all", "--fail-code", "451", "--escapes", "--fail-message", "4.3.0 r\\xe9essayez plus tard" },
	  AQ_DELIVERY_RETRY,
	  "SMTP 451 4.3.0 r\xef\xbf\xbd"
	  "essayez" },
	{ "554 with a reply of 1000 bytes",
	  { "--fail-all", "--fail-code", "554", "--fail-message",
	    "5.0.0 "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
	  AQ_DELIVERY_PERMANENT,
	  "SMTP 554 5.0.0 xxx" },
};

START_TEST(test_email_hostile)
{
	const char *const *a = hostile_smtp_cases[_i].args;
	struct receiver *r = receiver_start("smtp_receiver.py", a[0], a[1], a[2], a[3], a[4], a[5]);
	char url[128];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	const char *what = hostile_smtp_cases[_i].what;
	ck_assert_msg(d.result == hostile_smtp_cases[_i].result, "%s: result %d: %s", what, d.result, d.error);
	check_error_text(d.error);
	ck_assert_msg(strstr(d.error, hostile_smtp_cases[_i].error), "%s: error '%s' lacks '%s'", what, d.error,
		      hostile_smtp_cases[_i].error);
	aq_notification_release(&n);
}
END_TEST

/* Large events by email: the largest alertq accepts, a message from old
 * data far over the limit, and more labels than the limit allows. */
static const struct {
	const char *what;
	size_t message_len;
	size_t nlabels;
	const char *marker; /* a line of the body that must be there, or NULL */
	int whole_cut;      /* the body ends in the message-level cut marker */
} large_email_cases[] = {
	{ "the largest event accepted", 4096, 64, NULL, 0 },
	{ "a message of 1 MiB", 1024 * 1024, 64, "  [message cut: 1048576 bytes, the first 8192 shown]", 0 },
	{ "300 labels of 1 KiB", 4096, 300, NULL, 1 },
};

/* The largest size a whole message may reach (format.c's MESSAGE_MAX). */
#define EMAIL_MESSAGE_MAX (128 * 1024)

START_TEST(test_email_large_event)
{
	struct receiver *r = receiver_start("smtp_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	struct aq_notification n;
	sample(&n);
	/* a check name of 255 bytes, two-byte characters and all */
	free(n.check);
	n.check = malloc(256);
	for (int i = 0; i < 127; i++)
		memcpy(n.check + 2 * i, "\xc3\xa9", 2);
	memcpy(n.check + 254, "c", 2);
	/* a message with a line far over 998 bytes, blank lines, controls and
	 * bytes that are not UTF-8 */
	size_t mlen = large_email_cases[_i].message_len;
	free(n.message);
	n.message = malloc(mlen + 1);
	for (size_t i = 0; i < mlen; i++)
		n.message[i] = "abcdefghij\xe9\x01 "[i % 13];
	memcpy(n.message + 3000, "\n\n\r\n.\n", 6);
	n.message[mlen] = '\0';
	aq_labels_free(n.labels, n.nlabels);
	n.nlabels = large_email_cases[_i].nlabels;
	n.labels = calloc(n.nlabels, sizeof(*n.labels));
	for (size_t i = 0; i < n.nlabels; i++) {
		n.labels[i].key = malloc(129);
		n.labels[i].value = malloc(1025);
		memset(n.labels[i].key, 'k', 128);
		snprintf(n.labels[i].key, 129, "key%03zu", i);
		n.labels[i].key[6] = 'k';
		n.labels[i].key[128] = '\0';
		for (size_t j = 0; j < 1024; j++)
			n.labels[i].value[j] = "v\xc3\xbc\n"[j % 4];
		n.labels[i].value[1024] = '\0';
	}
	struct aq_delivery d = deliver_one(&ch, &n);
	const char *what = large_email_cases[_i].what;
	ck_assert_msg(d.result == AQ_DELIVERED, "%s: not delivered: %s", what, d.error);

	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 1);
	const char *data = member(json_array_get(records, 0), "data");
	size_t len = strlen(data);
	ck_assert_msg(len <= EMAIL_MESSAGE_MAX, "%s: message of %zu bytes", what, len);
	ck_assert_msg(aq_utf8_valid(data, len), "%s: message is not UTF-8", what);
	/* every line within SMTP's 998 bytes, CRLF included; no bare CR or LF */
	int in_headers = 1, saw_subject = 0;
	for (const char *line = data; *line;) {
		const char *end = strstr(line, "\r\n");
		ck_assert_msg(end != NULL, "%s: the message does not end in CRLF", what);
		size_t line_len = (size_t)(end - line);
		ck_assert_msg(line_len + 2 <= 998, "%s: a line of %zu bytes: %.60s", what, line_len + 2, line);
		ck_assert_msg(!memchr(line, '\n', line_len) && !memchr(line, '\r', line_len), "%s: bare CR or LF",
			      what);
		if (in_headers && line_len == 0) {
			in_headers = 0;
		} else if (in_headers) {
			/* a header line is "Name: value" or the folded rest of one */
			size_t name = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");
			ck_assert_msg(line[0] == ' ' || (name > 0 && line[name] == ':'), "%s: header line '%.60s'",
				      what, line);
			ck_assert_msg(line_len <= 78, "%s: header line of %zu bytes: %.60s", what, line_len, line);
			saw_subject |= strncmp(line, "Subject: [CRITICAL] =?UTF-8?B?", 30) == 0;
		}
		line = end + 2;
	}
	ck_assert_msg(!in_headers && saw_subject, "%s: no header block or subject", what);
	const char *body = strstr(data, "\r\n\r\n") + 4;
	ck_assert_ptr_nonnull(strstr(body, "check: \xc3\xa9\xc3\xa9"));
	if (large_email_cases[_i].marker)
		ck_assert_msg(strstr(body, large_email_cases[_i].marker), "%s: no '%s'", what,
			      large_email_cases[_i].marker);
	const char *cut = strstr(body, "[cut: this notification is longer than");
	if (large_email_cases[_i].whole_cut) {
		ck_assert_msg(cut != NULL, "%s: no cut marker", what);
		ck_assert_msg(strlen(cut) < 100, "%s: the cut marker is not at the end", what);
	} else {
		ck_assert_msg(cut == NULL, "%s: cut", what);
		/* every label is there, the last one whole, and then the summary */
		char key[16];
		snprintf(key, sizeof(key), "key%03zuk", n.nlabels - 1);
		ck_assert_msg(strstr(body, key), "%s: label %s missing", what, key);
		ck_assert_ptr_nonnull(strstr(body, "notification_id: " NOTIFICATION_ID "\r\n\r\n[CRITICAL] "));
	}
	json_decref(records);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_email_starttls_required_not_offered)
{
	struct receiver *r = receiver_start("smtp_receiver.py", NULL, NULL, NULL, NULL, NULL, NULL);
	char url[128];
	struct aq_channel ch = email_channel(r, url, sizeof(url));
	ch.starttls = AQ_STARTTLS_REQUIRED;
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	/* RETRY, not PERMANENT: the server may be given TLS, and the notification
	 * waits for that until the channel gives up -- it is never sent in clear */
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_msg(strstr(d.error, "STARTTLS"), "error: %s", d.error);
	json_t *records = read_lines(r->out);
	ck_assert_uint_eq(json_array_size(records), 0);
	json_decref(records);

	/* "try" goes on in clear when the server has no STARTTLS */
	ch.starttls = AQ_STARTTLS_TRY;
	d = deliver_one(&ch, &n);
	ck_assert_msg(d.result == AQ_DELIVERED, "not delivered: %s", d.error);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_email_connection_refused)
{
	char url[128];
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", closed_port());
	static char *to[] = { "admin@iact.example" };
	struct aq_channel ch = channel(AQ_CHANNEL_EMAIL, url);
	ch.from = "alerts@iact.example";
	ch.to = to;
	ch.nto = 1;
	ch.starttls = AQ_STARTTLS_OFF;
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_one(&ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_ptr_nonnull(strstr(d.error, "cannot deliver to smtp://127.0.0.1:"));
	aq_notification_release(&n);
}
END_TEST

/* ---- logfile and syslog ---- */

START_TEST(test_logfile_append_and_reopen)
{
	char dir[PATH_MAX], path[PATH_MAX], rotated[PATH_MAX], err[256];
	snprintf(dir, sizeof(dir), "%s/logs/nested", tmpdir);
	snprintf(path, sizeof(path), "%s/alerts.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/alerts.log.1", dir);
	struct aq_channel ch = channel(AQ_CHANNEL_LOGFILE, NULL);
	aq_sender_t *s = aq_sender_new(&ch, dir, err, sizeof(err));
	ck_assert_msg(s != NULL, "aq_sender_new: %s", err);

	struct aq_notification notes[3];
	struct aq_delivery items[3];
	for (int i = 0; i < 3; i++) {
		sample(&notes[i]);
		aq_uuid4(notes[i].notification_id);
		notes[i].escalation_level = i;
		items[i] = (struct aq_delivery){ .notification = &notes[i] };
	}
	aq_sender_deliver(s, items, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(items[i].result == AQ_DELIVERED, "item %d: %s", i, items[i].error);
	struct stat st;
	/* what alertq creates is not for every user to read */
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0750);
	snprintf(rotated, sizeof(rotated), "%s/logs", tmpdir);
	ck_assert_int_eq(stat(rotated, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0750);
	snprintf(rotated, sizeof(rotated), "%s/alerts.log.1", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);

	/* each line reads back as the notification it stands for */
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *line = NULL;
	size_t cap = 0;
	int count = 0;
	while (getline(&line, &cap, f) > 0) {
		struct aq_notification back;
		ck_assert_int_lt(count, 3);
		ck_assert_int_eq(aq_notification_from_json(&back, line, err, sizeof(err)), 0);
		ck_assert_str_eq(back.notification_id, notes[count].notification_id);
		ck_assert_int_eq(back.escalation_level, count);
		aq_notification_release(&back);
		count++;
	}
	ck_assert_int_eq(count, 3);
	fclose(f);

	/* rotation: renamed away, the writer keeps the old file until asked to reopen */
	ck_assert_int_eq(rename(path, rotated), 0);
	aq_sender_deliver(s, items, 1);
	ck_assert_int_eq(items[0].result, AQ_DELIVERED);
	ck_assert_int_eq(access(path, F_OK), -1);
	aq_logfile_reopen();
	aq_sender_deliver(s, items + 1, 2);
	ck_assert_int_eq(items[1].result, AQ_DELIVERED);
	aq_sender_free(s);

	json_t *old_lines = read_lines(rotated);
	json_t *new_lines = read_lines(path);
	ck_assert_uint_eq(json_array_size(old_lines), 4);
	ck_assert_uint_eq(json_array_size(new_lines), 2);
	ck_assert_str_eq(member(json_array_get(new_lines, 0), "notification_id"), notes[1].notification_id);
	json_decref(old_lines);
	json_decref(new_lines);
	free(line);
	for (int i = 0; i < 3; i++)
		aq_notification_release(&notes[i]);
}
END_TEST

START_TEST(test_logfile_cannot_write)
{
	char dir[PATH_MAX], blocker[PATH_MAX], err[256];
	/* a file where the directory should be */
	snprintf(blocker, sizeof(blocker), "%s/not-a-dir", tmpdir);
	FILE *f = fopen(blocker, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/logs", blocker);
	struct aq_channel ch = channel(AQ_CHANNEL_LOGFILE, NULL);
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_in(dir, &ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_msg(strstr(d.error, "Not a directory") && strstr(d.error, "not-a-dir"), "error: %s", d.error);

	/* no log_dir at all is a setup error */
	ck_assert_ptr_null(aq_sender_new(&ch, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "the log file channel needs log_dir");
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_logfile_symlink_refused)
{
	char dir[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/symlinked", tmpdir);
	snprintf(path, sizeof(path), "%s/alerts.log", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	struct aq_channel ch = channel(AQ_CHANNEL_LOGFILE, NULL);
	struct aq_notification n;
	sample(&n);
	struct aq_delivery d = deliver_in(dir, &ch, &n);
	ck_assert_int_eq(d.result, AQ_DELIVERY_RETRY);
	ck_assert_msg(strstr(d.error, "is a symbolic link, which is not followed") && strstr(d.error, path),
		      "error: %s", d.error);
	/* nothing was written where the link points */
	ck_assert_int_eq(access(target, F_OK), -1);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_syslog_delivered)
{
	struct aq_channel ch = channel(AQ_CHANNEL_SYSLOG, NULL);
	char err[256];
	aq_sender_t *s = aq_sender_new(&ch, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	struct aq_notification notes[3];
	struct aq_delivery items[3];
	for (int i = 0; i < 3; i++) {
		sample(&notes[i]);
		items[i] = (struct aq_delivery){ .notification = &notes[i], .result = AQ_DELIVERY_RETRY };
	}
	notes[1].severity = AQ_WARNING;
	notes[2].resolved = 1;
	aq_sender_deliver(s, items, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(items[i].result, AQ_DELIVERED);
	aq_sender_free(s);
	for (int i = 0; i < 3; i++)
		aq_notification_release(&notes[i]);
}
END_TEST

START_TEST(test_unknown_channel_type)
{
	struct aq_channel ch = channel((enum aq_channel_type)42, NULL);
	char err[256];
	ck_assert_ptr_null(aq_sender_new(&ch, tmpdir, err, sizeof(err)));
	ck_assert_str_eq(err, "channel 'test': unknown channel type 42");
}
END_TEST

/* A check name that looks like an RFC 2047 encoded word (or holds one) is
 * encoded in the subject, so that a mail reader shows the name itself and
 * not what it would decode; an ordinary ASCII name stays as it is. */
static const struct {
	const char *check;
	const char *subject; /* the Subject line, NULL: encoded words */
} subject_cases[] = {
	{ "system.session_rows", "Subject: [CRITICAL] system.session_rows\r\n" },
	{ "=?UTF-8?B?b2s=?=", NULL },
	{ "svc.=?x", NULL },
};

START_TEST(test_email_subject_encoded_word_lookalike)
{
	struct aq_notification n;
	sample(&n);
	free(n.check);
	n.check = aq_strdup(subject_cases[_i].check);
	struct aq_channel ch = channel(AQ_CHANNEL_EMAIL, "smtp://127.0.0.1:9");
	ch.from = "alerts@example.org";
	char *to[] = { "ops@example.org" };
	ch.to = to;
	ch.nto = 1;
	size_t len = 0;
	char *msg = aq_format_email(&ch, &n, &len);
	ck_assert_ptr_nonnull(msg);
	const char *subject = strstr(msg, "\r\nSubject: ");
	ck_assert_ptr_nonnull(subject);
	subject += 2;
	if (subject_cases[_i].subject) {
		ck_assert_int_eq(strncmp(subject, subject_cases[_i].subject, strlen(subject_cases[_i].subject)), 0);
	} else {
		/* one encoded word: the name base64-encoded, and never as it is */
		const char *end = strstr(subject, "\r\n");
		ck_assert_ptr_nonnull(end);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(end - subject), subject);
		unsigned char b64[128];
		EVP_EncodeBlock(b64, (const unsigned char *)n.check, (int)strlen(n.check));
		char expect[256];
		snprintf(expect, sizeof(expect), "Subject: [CRITICAL] =?UTF-8?B?%s?=", (const char *)b64);
		ck_assert_str_eq(line, expect);
	}
	free(msg);
	aq_notification_release(&n);
}
END_TEST

static Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("object");
	tcase_add_test(tc, test_json_exact);
	tcase_add_test(tc, test_json_resolved_null_value);
	tcase_add_loop_test(tc, test_json_round_trip, 0, (int)(sizeof(value_cases) / sizeof(value_cases[0])));
	tcase_add_test(tc, test_json_invalid_utf8_and_odd_values);
	tcase_add_test(tc, test_json_label_keys_kept);
	tcase_add_loop_test(tc, test_email_subject_encoded_word_lookalike, 0,
			    (int)(sizeof(subject_cases) / sizeof(subject_cases[0])));
	tcase_add_loop_test(tc, test_from_json_errors, 0,
			    (int)(sizeof(bad_json_cases) / sizeof(bad_json_cases[0])));
	tcase_add_test(tc, test_summary);
	tcase_add_loop_test(tc, test_hostile_text_in_summary_and_json, 0,
			    (int)(sizeof(hostile_texts) / sizeof(hostile_texts[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("webhook");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, stop_receivers);
	tcase_add_test(tc, test_webhook_json_signed);
	tcase_add_test(tc, test_webhook_slack_unsigned);
	tcase_add_loop_test(tc, test_webhook_slack_escaped, 0,
			    (int)(sizeof(slack_escape_cases) / sizeof(slack_escape_cases[0])));
	tcase_add_loop_test(tc, test_webhook_status, 0, (int)(sizeof(status_cases) / sizeof(status_cases[0])));
	tcase_add_test(tc, test_webhook_retry_after_then_delivered);
	tcase_add_test(tc, test_webhook_connection_refused);
	tcase_add_test(tc, test_webhook_timeout);
	tcase_add_test(tc, test_webhook_batch_concurrency);
	tcase_add_test(tc, test_webhook_missing_variables);
	tcase_add_loop_test(tc, test_webhook_hostile, 0,
			    (int)(sizeof(hostile_http_cases) / sizeof(hostile_http_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("email");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, stop_receivers);
	tcase_add_test(tc, test_email_delivered);
	tcase_add_test(tc, test_email_multiline_message_and_auth);
	tcase_add_loop_test(tc, test_email_failures, 0,
			    (int)(sizeof(smtp_failure_cases) / sizeof(smtp_failure_cases[0])));
	tcase_add_loop_test(tc, test_email_hostile, 0,
			    (int)(sizeof(hostile_smtp_cases) / sizeof(hostile_smtp_cases[0])));
	tcase_add_loop_test(tc, test_email_large_event, 0,
			    (int)(sizeof(large_email_cases) / sizeof(large_email_cases[0])));
	tcase_add_test(tc, test_email_starttls_required_not_offered);
	tcase_add_test(tc, test_email_connection_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("local");
	tcase_add_test(tc, test_logfile_append_and_reopen);
	tcase_add_test(tc, test_logfile_cannot_write);
	tcase_add_test(tc, test_logfile_symlink_refused);
	tcase_add_test(tc, test_syslog_delivered);
	tcase_add_test(tc, test_unknown_channel_type);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* modes of created files are checked as given, not as a umask leaves them */
	umask(022);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	int status = unit_run(notify_suite());
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
