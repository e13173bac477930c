/* test_submit.c - submit's command line and JSON lines: what is accepted,
 * and every refusal with its reason, as tables */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/submit.h"
#include "produce/submit_line.h"

#define LONG_KEY                                                                                               \
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" /* 260 bytes */

/* A string of n copies of c, owned by the caller. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

struct args_case {
	const char *argv[8];
	int rc;
	const char *err; /* part of the reason, when rc is -1 */
};

static const struct args_case args_cases[] = {
	{ { "submit", "--check", "a.b", "--value", "3", "--label", "host=db1" }, 0, NULL },
	{ { "submit", "--file", "-" }, 0, NULL },
	{ { "submit", "--value", "3" }, -1, "needs --check" },
	{ { "submit", "--check", "a", "--value", "x" }, -1, "not a number" },
	{ { "submit", "--check", "a", "--status", "MAYBE" }, -1, "--status" },
	{ { "submit", "--check", "a", "--label", "novalue" }, -1, "KEY=VALUE" },
	{ { "submit", "--check", "a", "--label", "=v" }, -1, "KEY=VALUE" },
	{ { "submit", "--check", "a", "--label", "k=1", "--label", "k=2" }, -1, "appears twice" },
	{ { "submit", "--check", "a", "--label", LONG_KEY "=v" }, -1, "more than 128" },
	{ { "submit", "--check", "a", "--message", "bad \xff utf-8" }, -1, "message is not valid utf-8" },
	{ { "submit", "--check", "caf\xc3", "--value", "1" }, -1, "check name is not valid utf-8" },
	{ { "submit", "--check", "a", "--label", "k=\xe2\x82" }, -1, "value is not valid utf-8" },
	{ { "submit", "--check", "a", "--interval", "5 minutes" }, -1, "--interval" },
	{ { "submit", "--check", "a", "--expires-at", "in 5 minutes" }, -1, "--expires-at must be an RFC 3339 time" },
	{ { "submit", "--check", "a", "--expires-at", "2020-01-01T00:00:00Z" }, -1, "expires_at is before observed_at" },
	{ { "submit", "--check", "a", "--expires-at", "2999-01-01T00:00:00Z" }, -1, "more than 366 days" },
};

START_TEST(test_args_table)
{
	const struct args_case *c = &args_cases[_i];
	struct aq_submit_request req;
	char err[512] = "";
	int argc = 0;
	while (argc < 8 && c->argv[argc])
		argc++;
	int rc = aq_submit_args(argc, (char **)c->argv, &req, err, sizeof(err));
	ck_assert_msg(rc == c->rc, "case %d: rc %d, expected %d (%s)", _i, rc, c->rc, err);
	if (c->err)
		ck_assert_msg(strstr(err, c->err) != NULL, "case %d: '%s' does not say '%s'", _i, err, c->err);
	aq_submit_request_release(&req);
}
END_TEST

START_TEST(test_args_long_message)
{
	/* a message over the limit is cut as a worker's decoder would cut it */
	char *msg = repeat('m', 4097);
	char *argv[] = { "submit", "--check", "a", "--message", msg, NULL };
	struct aq_submit_request req;
	char err[512] = "";
	ck_assert_int_eq(aq_submit_args(5, argv, &req, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(req.result.message), AQ_MESSAGE_MAX);
	ck_assert_str_eq(req.result.message + AQ_MESSAGE_MAX - 3, "...");
	aq_submit_request_release(&req);
	msg[4096] = '\0';
	ck_assert_int_eq(aq_submit_args(5, argv, &req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.result.message, msg);
	aq_submit_request_release(&req);
	free(msg);
}
END_TEST

struct json_case {
	const char *json;
	int rc;
	const char *err;
};

static const struct json_case json_cases[] = {
	{ "{\"check\": \"a.one\", \"value\": 1, \"status\": \"OK\", \"labels\": {\"team\": \"x\"}}", 0, NULL },
	{ "not json", -1, "invalid JSON" },
	{ "{\"check\": \"\"}", -1, "non-empty" },
	{ "{\"check\": \"a\", \"status\": \"MAYBE\"}", -1, "'status'" },
	{ "{\"check\": \"a\", \"labels\": {\"\": \"v\"}}", -1, "key is empty" },
	{ "{\"check\": \"a\", \"labels\": {\"" LONG_KEY "\": \"v\"}}", -1, "more than 128" },
	{ "{\"check\": \"a\", \"labels\": {\"k\": 1}}", -1, "must be a string" },
	{ "{\"check\": \"a\", \"extra\": 1}", -1, "unknown field" },
	{ "{\"check\": \"a.one\", \"observed_at\": \"2026-11-27T17:00:00Z\", \"expires_at\": \"2026-11-27T17:03:00Z\"}", 0,
	  NULL },
	{ "{\"check\": \"a.one\", \"expires_at\": null}", 0, NULL },
	{ "{\"check\": \"a\", \"expires_at\": 1795885380000}", -1, "'expires_at' must be an RFC 3339 time" },
	{ "{\"check\": \"a\", \"expires_at\": \"soon\"}", -1, "'expires_at' must be an RFC 3339 time" },
	{ "{\"check\": \"a\", \"observed_at\": \"2026-11-27T17:00:00Z\", \"expires_at\": \"2026-11-27T16:59:59Z\"}", -1,
	  "expires_at is before observed_at" },
	{ "{\"check\": \"a\", \"observed_at\": \"2026-11-27T17:00:00Z\", \"expires_at\": \"2027-11-29T17:00:00Z\"}", -1,
	  "more than 366 days" },
};

START_TEST(test_json_table)
{
	const struct json_case *c = &json_cases[_i];
	struct aq_result r;
	char err[512] = "";
	int rc = aq_submit_parse(c->json, strlen(c->json), &r, err, sizeof(err));
	ck_assert_msg(rc == c->rc, "case %d: rc %d, expected %d (%s)", _i, rc, c->rc, err);
	if (c->err)
		ck_assert_msg(strstr(err, c->err) != NULL, "case %d: '%s' does not say '%s'", _i, err, c->err);
	if (rc == 0) {
		ck_assert_str_eq(r.check, "a.one");
		ck_assert_str_eq(r.source, "test-source");
		ck_assert(r.event_id[0] != '\0');
		aq_result_release(&r);
	}
}
END_TEST

/* expires_at reaches the result, from a file line and from argv */
START_TEST(test_expires_at)
{
	const char *json = "{\"check\": \"a\", \"observed_at\": \"2026-11-27T17:00:00Z\","
			   " \"expires_at\": \"2026-11-27T17:03:00.5Z\"}";
	struct aq_result r;
	char err[512] = "";
	ck_assert_msg(aq_submit_parse(json, strlen(json), &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.expires_at_ms, r.observed_at_ms + 180500);
	aq_result_release(&r);

	char when[40];
	aq_format_time(aq_now_ms() + 60000, when, sizeof(when));
	char *argv[] = { "submit", "--check", "a", "--status", "CRITICAL", "--expires-at", when, NULL };
	struct aq_submit_request req;
	ck_assert_msg(aq_submit_args(7, argv, &req, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_gt(req.result.expires_at_ms, req.result.observed_at_ms);
	aq_submit_request_release(&req);
}
END_TEST

START_TEST(test_json_long_message)
{
	char *msg = repeat('m', 5000);
	char *json = malloc(6000);
	ck_assert_ptr_nonnull(json);
	snprintf(json, 6000, "{\"check\": \"a\", \"message\": \"%s\"}", msg);
	struct aq_result r;
	char err[512] = "";
	ck_assert_int_eq(aq_submit_parse(json, strlen(json), &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(r.message), AQ_MESSAGE_MAX);
	ck_assert_str_eq(r.message + AQ_MESSAGE_MAX - 3, "...");
	aq_result_release(&r);
	free(json);
	free(msg);
}
END_TEST

/* ---- the quick reading of a line against jansson's ---- */

/* Whether a and b are the same reading, field by field. */
static void assert_same_reading(const struct aq_result *a, const struct aq_result *b, const char *line)
{
	ck_assert_msg(strcmp(a->check, b->check) == 0, "%s: check", line);
	ck_assert_msg(a->has_value == b->has_value && memcmp(&a->value, &b->value, sizeof(a->value)) == 0,
		      "%s: value %g against %g", line, a->value, b->value);
	ck_assert_msg(a->status == b->status, "%s: status", line);
	ck_assert_msg((a->message == NULL) == (b->message == NULL) &&
			      (!a->message || strcmp(a->message, b->message) == 0),
		      "%s: message", line);
	ck_assert_msg(a->interval_ms == b->interval_ms, "%s: interval_ms", line);
	ck_assert_msg(a->observed_at_ms == b->observed_at_ms, "%s: observed_at", line);
	ck_assert_msg(a->expires_at_ms == b->expires_at_ms, "%s: expires_at", line);
	ck_assert_msg(a->nlabels == b->nlabels && (a->labels == NULL) == (b->labels == NULL), "%s: labels", line);
	for (size_t i = 0; i < a->nlabels; i++)
		ck_assert_msg(strcmp(a->labels[i].key, b->labels[i].key) == 0 &&
				      strcmp(a->labels[i].value, b->labels[i].value) == 0,
			      "%s: label %zu", line, i);
	ck_assert_msg(a->event_id[0] == '\0' && b->event_id[0] == '\0' && !a->source && !b->source &&
			      a->observed_at_ms == b->observed_at_ms,
		      "%s: stamped", line);
}

/* Reads line both ways: when the quick reading takes it, jansson's must
 * read it too, to the same result. Returns whether the quick one took it. */
static int read_both(const char *line, size_t len)
{
	struct aq_result a, b;
	char err[512] = "";
	int quick = aq_submit_line_quick(line, len, &a);
	int jrc = aq_submit_line_json(line, len, &b, err, sizeof(err));
	if (quick) {
		ck_assert_msg(jrc == 0, "'%.*s': read quickly, but jansson says %s", (int)len, line, err);
		assert_same_reading(&a, &b, line);
		aq_result_release(&a);
	} else {
		struct aq_result zero;
		memset(&zero, 0, sizeof(zero));
		ck_assert_msg(memcmp(&a, &zero, sizeof(a)) == 0, "'%.*s': left behind", (int)len, line);
	}
	if (jrc == 0)
		aq_result_release(&b);
	return quick;
}

struct quick_case {
	const char *line;
	int quick; /* whether the quick reading takes it */
};

#define LABELS_8(p)                                                                                 \
	"\"" p "a\":\"1\",\"" p "b\":\"2\",\"" p "c\":\"3\",\"" p "d\":\"4\",\"" p "e\":\"5\",\"" p \
	"f\":\"6\",\"" p "g\":\"7\",\"" p "h\":\"8\""
#define LABELS_64_ITEMS                                                                       \
	LABELS_8("1")                                                                         \
	"," LABELS_8("2") "," LABELS_8("3") "," LABELS_8("4") "," LABELS_8("5") "," LABELS_8( \
		"6") "," LABELS_8("7") "," LABELS_8("8")
#define LABELS_64 "{" LABELS_64_ITEMS "}"

static const struct quick_case quick_cases[] = {
	{ "{\"check\": \"bench.000001\", \"value\": 10}", 1 },
	{ " \t{\"check\":\"a\",\"value\":-12.25e-1,\"status\":\"critical\",\"message\":\"d\xc3\xa9j\xc3\xa0 vu\","
	  "\"labels\":{\"team\":\"db\",\"tier\":\"\"},\"interval\":\"5m\",\"observed_at\":\"2026-11-27T17:00:00Z\","
	  "\"expires_at\":\"2026-11-27T17:05:00.5+01:00\"} \r",
	  1 },
	{ "{\"check\": \"a\", \"interval\": \"5m\", \"interval_ms\": 7}", 1 },
	{ "{\"interval_ms\": 7, \"interval\": \"5m\", \"check\": \"a\"}", 1 },
	{ "{\"check\": \"a\", \"value\": null, \"status\": null, \"message\": null, \"labels\": null, \"interval\": null,"
	  " \"interval_ms\": null, \"observed_at\": null, \"expires_at\": null}",
	  1 },
	{ "{\"check\": \"a\", \"labels\": {}}", 1 },
	{ "{\"check\": \"a\", \"labels\": " LABELS_64 "}", 1 },
	{ "{\"check\": \"a\", \"value\": -0}", 1 },
	{ "{\"check\": \"a\", \"value\": 0.0}", 1 },
	{ "{\"check\": \"a\", \"value\": 1E2}", 1 },
	{ "{\"check\": \"a\", \"value\": 1e-400}", 1 },
	{ "{\"check\": \"a\", \"value\": 9007199254740993}", 1 },
	{ "{\"check\": \"a\", \"value\": 9223372036854775807}", 1 },
	{ "{\"check\": \"a\", \"interval_ms\": 9223372036854775807}", 1 },
	{ "{\"check\": \"a\", \"message\": \"\x7f\"}", 1 },
	/* left to jansson: it reads these, or refuses them with its reason */
	{ "{\"check\": \"a\", \"labels\": {" LABELS_64_ITEMS ",\"z\":\"9\"}}", 0 },
	{ "{\"check\": \"a\", \"message\": \"tab\\there\"}", 0 },
	{ "{\"check\": \"a\", \"message\": \"raw\ttab\"}", 0 },
	{ "{\"\\u0063heck\": \"a\"}", 0 },
	{ "{\"check\": \"caf\xc3\"}", 0 },
	{ "{\"check\": \"a\", \"check\": \"b\"}", 0 },
	{ "{\"check\": \"a\", \"labels\": {\"k\": \"1\", \"k\": \"2\"}}", 0 },
	{ "{\"check\": \"a\", \"labels\": {\"k\": 1}}", 0 },
	{ "{\"check\": \"a\", \"labels\": {\"k\": {}}}", 0 },
	{ "{\"check\": \"a\", \"value\": 1e400}", 0 },
	{ "{\"check\": \"a\", \"value\": 92233720368547758070}", 0 },
	{ "{\"check\": \"a\", \"value\": 01}", 0 },
	{ "{\"check\": \"a\", \"value\": 1.}", 0 },
	{ "{\"check\": \"a\", \"value\": .5}", 0 },
	{ "{\"check\": \"a\", \"value\": +1}", 0 },
	{ "{\"check\": \"a\", \"value\": 1e}", 0 },
	{ "{\"check\": \"a\", \"value\": 1x}", 0 },
	{ "{\"check\": \"a\", \"value\": \"1\"}", 0 },
	{ "{\"check\": \"a\", \"value\": true}", 0 },
	{ "{\"check\": \"a\", \"value\": nul}", 0 },
	{ "{\"check\": \"a\", \"interval_ms\": 5.0}", 0 },
	{ "{\"check\": \"a\", \"interval_ms\": -1}", 0 },
	{ "{\"check\": \"a\", \"interval\": \"5 minutes\"}", 0 },
	{ "{\"check\": \"a\", \"status\": \"MAYBE\"}", 0 },
	{ "{\"check\": \"a\", \"observed_at\": \"yesterday\"}", 0 },
	{ "{\"check\": \"a\", \"extra\": 1}", 0 },
	{ "{\"check\": \"\"}", 0 },
	{ "{\"check\": \"" LONG_KEY "\"}", 0 },
	{ "{\"check\": 1}", 0 },
	{ "{}", 0 },
	{ "[{\"check\": \"a\"}]", 0 },
	{ "{\"check\": \"a\"} x", 0 },
	{ "{\"check\": \"a\"}{}", 0 },
	{ "{\"check\": \"a\",}", 0 },
	{ "{\"check\" \"a\"}", 0 },
	{ "{\"check\": \"a\"", 0 },
	{ "", 0 },
};

START_TEST(test_quick_reading_table)
{
	const struct quick_case *c = &quick_cases[_i];
	ck_assert_msg(read_both(c->line, strlen(c->line)) == c->quick, "case %d '%s': quick reading %s", _i,
		      c->line, c->quick ? "did not take it" : "took it");
}
END_TEST

/* Lines changed a byte at a time from the table's: whatever the quick
 * reading takes, jansson reads the same. */
START_TEST(test_quick_reading_mutations)
{
	static const char alphabet[] = "{}[]\":,. \t-+0123456789eE.nultr\\\x7f\xc3\xa9\x01"
				       "abck";
	unsigned seed = 12345;
	int taken = 0;
	for (int round = 0; round < 40000; round++) {
		const char *base = quick_cases[round % 15].line;
		char line[2048];
		size_t len = strlen(base);
		if (len >= sizeof(line) - 4)
			continue;
		memcpy(line, base, len);
		for (int edits = 1 + (int)((seed >> 5) % 3); edits > 0; edits--) {
			seed = seed * 1103515245 + 12345;
			size_t at = (seed >> 8) % (len + 1);
			char c = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
			switch ((seed >> 16) % 3) {
			case 0: /* replace */
				if (at < len)
					line[at] = c;
				break;
			case 1: /* insert */
				memmove(line + at + 1, line + at, len - at);
				line[at] = c;
				len++;
				break;
			default: /* delete */
				if (at < len) {
					memmove(line + at, line + at + 1, len - at - 1);
					len--;
				}
			}
		}
		line[len] = '\0';
		taken += read_both(line, len);
	}
	ck_assert_int_gt(taken, 1000);
}
END_TEST

static Suite *submit_suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc = tcase_create("submit");
	tcase_add_loop_test(tc, test_args_table, 0, (int)(sizeof(args_cases) / sizeof(args_cases[0])));
	tcase_add_test(tc, test_args_long_message);
	tcase_add_loop_test(tc, test_json_table, 0, (int)(sizeof(json_cases) / sizeof(json_cases[0])));
	tcase_add_test(tc, test_json_long_message);
	tcase_add_test(tc, test_expires_at);
	tcase_add_loop_test(tc, test_quick_reading_table, 0, (int)(sizeof(quick_cases) / sizeof(quick_cases[0])));
	tcase_add_test(tc, test_quick_reading_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setenv("ALERTQ_SOURCE", "test-source", 1);
	SRunner *sr = srunner_create(submit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
