/* test_submit.c - submit's command line and JSON lines: what is accepted,
 * and every refusal with its reason, as tables */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/submit.h"

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

static Suite *submit_suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc = tcase_create("submit");
	tcase_add_loop_test(tc, test_args_table, 0, (int)(sizeof(args_cases) / sizeof(args_cases[0])));
	tcase_add_test(tc, test_args_long_message);
	tcase_add_loop_test(tc, test_json_table, 0, (int)(sizeof(json_cases) / sizeof(json_cases[0])));
	tcase_add_test(tc, test_json_long_message);
	tcase_add_test(tc, test_expires_at);
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
