/* test_ingest.c - the bodies of POST /api/v1/results and POST /api/v2/alerts:
 * what Prometheus and Grafana send made into results, and every bad body
 * refused whole with each bad item's index and reason */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "alertq/util.h"
#include "serve/ingest.h"
#include "unit.h"

/* The clock of the Alertmanager cases: 2026-11-27T17:05:00Z. */
#define NOW_MS 1795799100000LL

static int64_t at(const char *text)
{
	int64_t ms = 0;
	char err[256];
	ck_assert_msg(aq_parse_time(text, &ms, err, sizeof(err)) == 0, "%s", err);
	return ms;
}

static const char *label(const struct aq_result *r, const char *key)
{
	for (size_t i = 0; i < r->nlabels; i++)
		if (strcmp(r->labels[i].key, key) == 0)
			return r->labels[i].value;
	return NULL;
}

static void free_results(struct aq_result *rs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aq_result_release(&rs[i]);
	free(rs);
}

/* Asserts errors is exactly the indexes want (nwant of them), each with a
 * reason holding the matching part of wants. */
static void assert_errors(json_t *errors, const long *want, const char *const *parts, size_t nwant)
{
	ck_assert_ptr_nonnull(errors);
	char *dump = json_dumps(errors, 0);
	ck_assert_msg(json_array_size(errors) == nwant, "errors %s", dump);
	for (size_t i = 0; i < nwant; i++) {
		json_t *e = json_array_get(errors, i);
		ck_assert_int_eq(json_integer_value(json_object_get(e, "index")), want[i]);
		const char *reason = json_string_value(json_object_get(e, "error"));
		ck_assert_ptr_nonnull(reason);
		ck_assert_msg(strstr(reason, parts[i]) != NULL, "error %zu: '%s' lacks '%s' (%s)", i, reason,
			      parts[i], dump);
		ck_assert_uint_le(strlen(reason), AQ_INGEST_REASON_MAX);
	}
	free(dump);
}

START_TEST(results_accepted)
{
	const char *body = "[{\"check\": \"db.rows\", \"value\": 12.5, \"status\": \"WARNING\", \"message\": \"m\","
			   " \"labels\": {\"team\": \"db\"}, \"interval\": \"5m\","
			   " \"observed_at\": \"2026-11-27T17:00:00Z\"},"
			   " {\"check\": \"host.up\"}]";
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_results(body, strlen(body), &rs, &n, &errors), 0);
	ck_assert_ptr_null(errors);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(rs[0].check, "db.rows");
	ck_assert_int_eq(rs[0].has_value, 1);
	ck_assert(rs[0].value == 12.5);
	ck_assert_int_eq(rs[0].status, AQ_WARNING);
	ck_assert_str_eq(rs[0].message, "m");
	ck_assert_str_eq(label(&rs[0], "team"), "db");
	ck_assert_int_eq(rs[0].interval_ms, 300000);
	ck_assert_int_eq(rs[0].observed_at_ms, at("2026-11-27T17:00:00Z"));
	ck_assert_str_eq(rs[1].check, "host.up");
	ck_assert_int_eq(rs[1].has_value, 0);
	ck_assert_int_eq(rs[1].status, AQ_STATUS_NONE);
	for (size_t i = 0; i < n; i++) {
		char err[256];
		ck_assert_msg(aq_result_validate(&rs[i], aq_now_ms(), err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(strlen(rs[i].event_id), 36);
	}
	free_results(rs, n);

	ck_assert_int_eq(aq_ingest_results("[]", 2, &rs, &n, &errors), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(errors);
	free_results(rs, n);
}
END_TEST

START_TEST(results_refused_whole)
{
	/* items 1, 3 and 4 are bad: each is named, nothing is returned */
	const char *body = "[{\"check\": \"ok.one\"},"
			   " {\"check\": \"has space\"},"
			   " {\"check\": \"ok.two\", \"status\": \"CRITICAL\"},"
			   " {\"check\": \"x\", \"status\": \"BAD\"},"
			   " 42]";
	struct aq_result *rs = (struct aq_result *)1;
	size_t n = 99;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_results(body, strlen(body), &rs, &n, &errors), -1);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(n, 0);
	static const long want[] = { 1, 3, 4 };
	static const char *const parts[] = { "check", "status", "object" };
	assert_errors(errors, want, parts, 3);
	json_decref(errors);
}
END_TEST

struct bad_body {
	const char *body;
	const char *part;
};

START_TEST(results_bad_bodies)
{
	static const struct bad_body cases[] = {
		{ "", "invalid JSON" },
		{ "[{\"check\": \"a\"}", "invalid JSON" },
		{ "{\"check\": \"a\"}", "expected a JSON array" },
		{ "\"text\"", "JSON array" },
		{ "[{\"check\": \"a\", \"check\": \"b\"}]", "invalid JSON" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_result *rs = NULL;
		size_t n = 0;
		json_t *errors = NULL;
		ck_assert_int_eq(aq_ingest_results(cases[i].body, strlen(cases[i].body), &rs, &n, &errors), -1);
		static const long whole[] = { -1 };
		assert_errors(errors, whole, &cases[i].part, 1);
		json_decref(errors);
	}
}
END_TEST

/* One item past the limit is refused before any item is read; at the limit
 * every item is read. */
START_TEST(results_item_limit)
{
	for (int extra = 0; extra <= 1; extra++) {
		size_t items = AQ_INGEST_ITEMS_MAX + (size_t)extra;
		const char *item = "{\"check\":\"c\"},";
		size_t len = 2 + items * strlen(item);
		char *body = malloc(len + 1);
		ck_assert_ptr_nonnull(body);
		char *p = body;
		*p++ = '[';
		for (size_t i = 0; i < items; i++)
			p += sprintf(p, "%s", item);
		p[-1] = ']';
		*p = '\0';
		struct aq_result *rs = NULL;
		size_t n = 0;
		json_t *errors = NULL;
		int rc = aq_ingest_results(body, strlen(body), &rs, &n, &errors);
		if (extra) {
			ck_assert_int_eq(rc, -1);
			static const long whole[] = { -1 };
			static const char *const parts[] = { "more than 10000" };
			assert_errors(errors, whole, parts, 1);
			json_decref(errors);
		} else {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(n, AQ_INGEST_ITEMS_MAX);
			free_results(rs, n);
		}
		free(body);
	}
}
END_TEST

/* A reason made from a long field name is cut to AQ_INGEST_REASON_MAX. */
START_TEST(results_reason_cut)
{
	char body[2048];
	char name[1000];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(body, sizeof(body), "[{\"check\": \"a\", \"%s\": 1}]", name);
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_results(body, strlen(body), &rs, &n, &errors), -1);
	static const long want[] = { 0 };
	static const char *const parts[] = { "unknown field 'nnn" };
	assert_errors(errors, want, parts, 1);
	json_decref(errors);
}
END_TEST

/* Exactly what Prometheus 2.x POSTs for a firing alert (endsAt is the time it
 * will be resolved by unless sent again: now + 4 resend delays). */
static const char *const prometheus_firing =
	"[{\"annotations\":{\"description\":\"node01:9100 of job node has been down for more than 1 minute.\","
	"\"summary\":\"Instance node01:9100 down\"},"
	"\"endsAt\":\"2026-11-27T17:09:00.123456789Z\","
	"\"startsAt\":\"2026-11-27T17:00:00.123456789Z\","
	"\"generatorURL\":\"http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1\","
	"\"labels\":{\"alertname\":\"InstanceDown\",\"instance\":\"node01:9100\",\"job\":\"node\","
	"\"severity\":\"critical\"}}]";

/* ... and once the alert stopped firing: endsAt is when it was resolved. */
static const char *const prometheus_resolved =
	"[{\"annotations\":{\"description\":\"node01:9100 of job node has been down for more than 1 minute.\","
	"\"summary\":\"Instance node01:9100 down\"},"
	"\"endsAt\":\"2026-11-27T17:04:30.5Z\","
	"\"startsAt\":\"2026-11-27T17:00:00.123456789Z\","
	"\"generatorURL\":\"http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1\","
	"\"labels\":{\"alertname\":\"InstanceDown\",\"instance\":\"node01:9100\",\"job\":\"node\","
	"\"severity\":\"critical\"}}]";

START_TEST(alertmanager_prometheus_firing_then_resolved)
{
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(prometheus_firing, strlen(prometheus_firing), NOW_MS, &rs, &n,
						&errors),
			 0);
	ck_assert_ptr_null(errors);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rs[0].check, "InstanceDown/node01:9100");
	ck_assert_int_eq(rs[0].status, AQ_CRITICAL);
	ck_assert_str_eq(rs[0].message, "Instance node01:9100 down");
	ck_assert_int_eq(rs[0].observed_at_ms, at("2026-11-27T17:00:00.123Z"));
	ck_assert_int_eq(rs[0].has_value, 0);
	ck_assert_ptr_null(label(&rs[0], "alertname"));
	ck_assert_str_eq(label(&rs[0], "instance"), "node01:9100");
	ck_assert_str_eq(label(&rs[0], "job"), "node");
	ck_assert_str_eq(label(&rs[0], "severity"), "critical");
	ck_assert_str_eq(label(&rs[0], "annotation_summary"), "Instance node01:9100 down");
	ck_assert_str_eq(label(&rs[0], "annotation_description"),
			 "node01:9100 of job node has been down for more than 1 minute.");
	ck_assert_str_eq(label(&rs[0], "generator_url"), "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
	ck_assert_uint_eq(rs[0].nlabels, 6);
	ck_assert_int_eq(rs[0].expires_at_ms, at("2026-11-27T17:09:00.123Z"));
	free_results(rs, n);

	ck_assert_int_eq(aq_ingest_alertmanager(prometheus_resolved, strlen(prometheus_resolved), NOW_MS, &rs, &n,
						&errors),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rs[0].check, "InstanceDown/node01:9100");
	ck_assert_int_eq(rs[0].status, AQ_OK);
	ck_assert_int_eq(rs[0].observed_at_ms, at("2026-11-27T17:04:30.500Z"));
	ck_assert_int_eq(rs[0].expires_at_ms, NOW_MS + AQ_INGEST_ALERT_TTL_MS);
	free_results(rs, n);
}
END_TEST

/* What Grafana's alerting sends to an external Alertmanager: no instance, no
 * severity, Go's zero time for an unset endsAt, annotations of its own. */
START_TEST(alertmanager_grafana)
{
	const char *body =
		"[{\"labels\":{\"alertname\":\"HighLatency\",\"grafana_folder\":\"Prod\","
		"\"__alert_rule_uid__\":\"a1b2c3\"},"
		"\"annotations\":{\"__dashboardUid__\":\"xyz\",\"__panelId__\":\"2\","
		"\"description\":\"p99 over 2s\"},"
		"\"startsAt\":\"2026-11-27T17:06:00+01:00\","
		"\"endsAt\":\"0001-01-01T00:00:00Z\","
		"\"generatorURL\":\"https://grafana.example/alerting/grafana/a1b2c3/view\"}]";
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(rs[0].check, "HighLatency");
	ck_assert_int_eq(rs[0].status, AQ_CRITICAL);
	ck_assert_str_eq(rs[0].message, "p99 over 2s");
	ck_assert_int_eq(rs[0].observed_at_ms, at("2026-11-27T16:06:00Z"));
	ck_assert_str_eq(label(&rs[0], "grafana_folder"), "Prod");
	ck_assert_str_eq(label(&rs[0], "annotation___panelId__"), "2");
	ck_assert_int_eq(rs[0].expires_at_ms, NOW_MS + AQ_INGEST_ALERT_TTL_MS);
	free_results(rs, n);
}
END_TEST

struct severity_case {
	const char *severity; /* NULL: no label */
	int status;
};

START_TEST(alertmanager_severity)
{
	static const struct severity_case cases[] = {
		{ "critical", AQ_CRITICAL },
		{ "CRITICAL", AQ_CRITICAL },
		{ "warning", AQ_WARNING },
		{ "Warning", AQ_WARNING },
		{ "info", AQ_CRITICAL },
		{ "page", AQ_CRITICAL },
		{ "", AQ_CRITICAL },
		{ NULL, AQ_CRITICAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];
		char sev[128] = "";
		if (cases[i].severity)
			snprintf(sev, sizeof(sev), ",\"severity\":\"%s\"", cases[i].severity);
		snprintf(body, sizeof(body), "[{\"labels\":{\"alertname\":\"A\"%s}}]", sev);
		struct aq_result *rs = NULL;
		size_t n = 0;
		json_t *errors = NULL;
		ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), 0);
		ck_assert_msg(rs[0].status == cases[i].status, "severity '%s': status %d", cases[i].severity,
			      rs[0].status);
		/* no startsAt: observed now */
		ck_assert_int_eq(rs[0].observed_at_ms, NOW_MS);
		ck_assert_str_eq(rs[0].message, "");
		free_results(rs, n);
	}
}
END_TEST

/* A startsAt after now is not believed: observed now. */
START_TEST(alertmanager_future_start)
{
	const char *body = "[{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"2026-11-27T18:00:00Z\","
			   "\"endsAt\":\"2026-11-27T18:30:00Z\"}]";
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_int_eq(rs[0].observed_at_ms, NOW_MS);
	ck_assert_int_eq(rs[0].status, AQ_CRITICAL);
	ck_assert_int_eq(rs[0].expires_at_ms, at("2026-11-27T18:30:00Z"));
	free_results(rs, n);
}
END_TEST

/* An alert firing for years (Prometheus' Watchdog) is observed now, so that
 * its expiry stays within a year of it; one resolved that long ago carries
 * no expiry; an endsAt more than a year ahead is refused as an expiry no
 * result may carry. */
START_TEST(alertmanager_long_firing)
{
	const char *old = "[{\"labels\":{\"alertname\":\"Watchdog\"},\"startsAt\":\"2024-01-01T00:00:00.5Z\","
			  "\"endsAt\":\"2026-11-27T17:09:00Z\"}]";
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(old, strlen(old), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_int_eq(rs[0].observed_at_ms, NOW_MS);
	ck_assert_int_eq(rs[0].expires_at_ms, at("2026-11-27T17:09:00Z"));
	free_results(rs, n);

	const char *gone = "[{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"2024-01-01T00:00:00Z\","
			   "\"endsAt\":\"2024-01-02T00:00:00Z\"}]";
	ck_assert_int_eq(aq_ingest_alertmanager(gone, strlen(gone), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_int_eq(rs[0].status, AQ_OK);
	ck_assert_int_eq(rs[0].observed_at_ms, at("2024-01-02T00:00:00Z"));
	ck_assert_int_eq(rs[0].expires_at_ms, 0);
	free_results(rs, n);

	const char *far = "[{\"labels\":{\"alertname\":\"A\"},\"endsAt\":\"2028-01-01T00:00:00Z\"}]";
	ck_assert_int_eq(aq_ingest_alertmanager(far, strlen(far), NOW_MS, &rs, &n, &errors), -1);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(json_array_size(errors), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "index")), 0);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(errors, 0), "error")),
				     "expires_at"));
	json_decref(errors);
}
END_TEST

/* A long annotation is cut to what a label holds rather than refused. */
START_TEST(alertmanager_long_annotation)
{
	size_t big = AQ_LABEL_VALUE_MAX * 3;
	char *body = malloc(big + 256);
	ck_assert_ptr_nonnull(body);
	int len = sprintf(body, "[{\"labels\":{\"alertname\":\"A\"},\"annotations\":{\"runbook\":\"");
	memset(body + len, 'r', big);
	strcpy(body + len + big, "\"}}]");
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_uint_eq(strlen(label(&rs[0], "annotation_runbook")), AQ_LABEL_VALUE_MAX);
	free_results(rs, n);
	free(body);
}
END_TEST

START_TEST(alertmanager_refused_whole)
{
	const char *body = "[{\"labels\":{\"alertname\":\"Good\"}},"                                  /* 0 */
			   " {\"labels\":{\"alertname\":\"Has Space\"}},"                             /* 1 */
			   " {\"labels\":{\"job\":\"x\"}},"                                           /* 2 */
			   " {\"labels\":{\"alertname\":\"A\",\"instance\":\"tab\\there\"}},"         /* 3 */
			   " {\"labels\":{\"alertname\":\"A\",\"n\":1}},"                             /* 4 */
			   " {\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"yesterday\"},"          /* 5 */
			   " {\"labels\":{\"alertname\":\"A\"},\"endsAt\":17},"                       /* 6 */
			   " {\"labels\":{\"alertname\":\"A\"},\"annotations\":[]},"                  /* 7 */
			   " [],"                                                                     /* 8 */
			   " {\"labels\":{\"alertname\":\"A\"},\"generatorURL\":false},"              /* 9 */
			   " {\"labels\":{\"alertname\":\"A\"},\"endsAt\":\"1999-12-31T00:00:00Z\"}," /* 10 */
			   " {\"labels\":{\"alertname\":\"Good\",\"instance\":\"i\"}}]";              /* 11 */
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), -1);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(n, 0);
	static const long want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const char *const parts[] = { "check", "alertname", "check", "labels", "startsAt",
					     "endsAt", "annotations", "object", "generatorURL",
					     "observed_at" };
	assert_errors(errors, want, parts, 10);
	json_decref(errors);
}
END_TEST

START_TEST(alertmanager_long_check_name)
{
	char body[1024];
	char name[AQ_CHECK_NAME_MAX];
	memset(name, 'a', sizeof(name) - 2);
	name[sizeof(name) - 2] = '\0'; /* 253 bytes: with "/" and a 2-byte instance, 256 */
	snprintf(body, sizeof(body), "[{\"labels\":{\"alertname\":\"%s\",\"instance\":\"ab\"}}]", name);
	struct aq_result *rs = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), -1);
	static const long want[] = { 0 };
	static const char *const parts[] = { "longer than 255" };
	assert_errors(errors, want, parts, 1);
	json_decref(errors);
	/* one byte shorter fits */
	snprintf(body, sizeof(body), "[{\"labels\":{\"alertname\":\"%s\",\"instance\":\"a\"}}]", name);
	ck_assert_int_eq(aq_ingest_alertmanager(body, strlen(body), NOW_MS, &rs, &n, &errors), 0);
	ck_assert_uint_eq(strlen(rs[0].check), AQ_CHECK_NAME_MAX);
	free_results(rs, n);
}
END_TEST

START_TEST(alertmanager_bad_bodies)
{
	static const struct bad_body cases[] = {
		{ "", "invalid JSON" },
		{ "{\"labels\":{\"alertname\":\"A\"}}", "expected a JSON array" },
		{ "null", "JSON array" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_result *rs = NULL;
		size_t n = 0;
		json_t *errors = NULL;
		ck_assert_int_eq(aq_ingest_alertmanager(cases[i].body, strlen(cases[i].body), NOW_MS, &rs, &n,
							&errors),
				 -1);
		static const long whole[] = { -1 };
		assert_errors(errors, whole, &cases[i].part, 1);
		json_decref(errors);
	}
}
END_TEST

static Suite *ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc = tcase_create("ingest");
	tcase_add_test(tc, results_accepted);
	tcase_add_test(tc, results_refused_whole);
	tcase_add_test(tc, results_bad_bodies);
	tcase_add_test(tc, results_item_limit);
	tcase_add_test(tc, results_reason_cut);
	tcase_add_test(tc, alertmanager_prometheus_firing_then_resolved);
	tcase_add_test(tc, alertmanager_grafana);
	tcase_add_test(tc, alertmanager_severity);
	tcase_add_test(tc, alertmanager_future_start);
	tcase_add_test(tc, alertmanager_long_annotation);
	tcase_add_test(tc, alertmanager_refused_whole);
	tcase_add_test(tc, alertmanager_long_check_name);
	tcase_add_test(tc, alertmanager_bad_bodies);
	tcase_add_test(tc, alertmanager_long_firing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(ingest_suite());
}
