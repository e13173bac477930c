/* test_page.c - the status page: order, forms, refresh, caps, and every data text escaped where it lands */
#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/page.h"
#include "unit.h"

static const struct aq_page_ctx READER = { .csrf = NULL, .can_operate = 0, .who = "grafana", .refresh_s = 0 };
static const struct aq_page_ctx OPERATOR = { .csrf = "tok-123", .can_operate = 1, .who = "ops", .refresh_s = 30 };

/* ---- helpers ---- */

/* One status object as `alertq status --json` prints it. */
static json_t *check_json(const char *name, const char *severity, double value, const char *message)
{
	return json_pack("{s:s, s:s, s:s, s:s?, s:f, s:s, s:b, s:n, s:b, s:i, s:s, s:{s:s}, s:b, s:i, s:i}",
			 "check", name, "severity", severity, "previous_severity", "OK", "since",
			 strcmp(severity, "OK") == 0 ? NULL : "2026-11-27T16:00:00Z", "value", value, "last_seen",
			 "2026-11-27T17:00:00Z", "acked", 0, "acked_by", "silenced", 0, "escalation_level", 0,
			 "message", message, "labels", "team", "platform", "stale", 0, "undeliverable", 0,
			 "pending_notifications", 0);
}

/* The seed's three alerts and an OK check, in an order that is not the
 * page's (so the page must sort). */
static json_t *sample_checks(void)
{
	json_t *a = json_array();
	json_array_append_new(a, check_json("api.latency_p99", "OK", 120, "p99 120 ms"));
	json_array_append_new(a, check_json("system.session_rows", "WARNING", 60000, "60000 rows"));
	json_array_append_new(a, check_json("dora.change_failure_rate", "WARNING", 25, "5 of 20 deployments failed"));
	json_array_append_new(a, check_json("dora.days_since_last_deploy", "CRITICAL", 9, "last deployment 9 days ago"));
	return a;
}

static json_t *sample_silences(void)
{
	return json_pack("[{s:i, s:s, s:s, s:s, s:s, s:s}]", "id", 7, "match", "system.*", "starts_at",
			 "2026-11-27T16:00:00Z", "ends_at", "2026-11-27T18:00:00Z", "comment", "maintenance",
			 "created_by", "ops");
}

static json_t *sample_history(const char *name)
{
	return json_pack("{s:s, s:[{s:s, s:s, s:f, s:s, s:s, s:s, s:[{s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:n}]}],"
			 " s:[{s:s, s:s, s:i, s:s, s:s, s:i, s:n, s:s, s:s}]}",
			 "check", name, "transitions", "from", "OK", "to", "CRITICAL", "value", 9.0, "message",
			 "last deployment 9 days ago", "observed_at", "2026-11-27T16:00:00Z", "cause", "result",
			 "notifications", "notification_id", "n1", "channel", "ops-mail", "escalation_level", 0,
			 "status", "firing", "delivery", "undeliverable", "attempts", 12, "last_error",
			 "smtp 421 try later", "sent_at", "escalations", "notification_id", "n2", "channel",
			 "pager", "escalation_level", 1, "status", "firing", "delivery", "sent", "attempts", 1,
			 "last_error", "created_at", "2026-11-27T16:30:00Z", "sent_at", "2026-11-27T16:30:01Z");
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static long position_of(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);
	return p ? (long)(p - hay) : -1;
}

/* The test's own escaping for element text and attribute values. */
static char *escaped(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 6 + 1), *o = out;
	for (; *s; s++) {
		switch (*s) {
		case '&':
			o += sprintf(o, "&amp;");
			break;
		case '<':
			o += sprintf(o, "&lt;");
			break;
		case '>':
			o += sprintf(o, "&gt;");
			break;
		case '"':
			o += sprintf(o, "&quot;");
			break;
		case '\'':
			o += sprintf(o, "&#39;");
			break;
		default:
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static int is_void_tag(const char *name)
{
	return strcmp(name, "meta") == 0 || strcmp(name, "input") == 0 || strcmp(name, "br") == 0;
}

/* Checks the page is well formed as far as the page writes it: every '<'
 * opens a known tag (or the doctype), attributes are name="value" with no
 * event handler and no href other than a path or http(s), no '>' in text,
 * and non-void tags nest and close. Fails the test with the offset. */
static void assert_well_formed(const char *html)
{
	static const char *const known[] = { "html", "head", "meta", "title", "style", "body", "header", "h1",
					     "h2", "h3", "a", "span", "main", "section", "div", "p", "b",
					     "form", "input", "button", "details", "summary", "table", "thead",
					     "tbody", "tr", "th", "td", "ul", "li", "code", "script" };
	char stack[64][16];
	int depth = 0;
	const char *p = html;
	ck_assert_msg(strncmp(p, "<!DOCTYPE html>\n", 16) == 0, "no doctype");
	p += 16;
	while (*p) {
		if (*p == '>')
			ck_abort_msg("raw '>' in text at %ld", (long)(p - html));
		if (*p != '<') {
			p++;
			continue;
		}
		const char *tag = p++;
		int closing = *p == '/';
		if (closing)
			p++;
		char name[16];
		size_t n = 0;
		while (islower((unsigned char)*p) || isdigit((unsigned char)*p)) {
			ck_assert_msg(n < sizeof(name) - 1, "long tag name at %ld", (long)(tag - html));
			name[n++] = *p++;
		}
		name[n] = '\0';
		int found = 0;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			found |= strcmp(known[i], name) == 0;
		ck_assert_msg(found, "unknown tag '%s' at %ld: %.60s", name, (long)(tag - html), tag);
		while (*p != '>') {
			ck_assert_msg(*p != '\0' && *p != '<', "tag not closed at %ld", (long)(tag - html));
			if (*p == ' ') {
				p++;
				continue;
			}
			char attr[32];
			size_t k = 0;
			while (islower((unsigned char)*p) || *p == '-') {
				ck_assert_msg(k < sizeof(attr) - 1, "long attribute at %ld", (long)(p - html));
				attr[k++] = *p++;
			}
			attr[k] = '\0';
			ck_assert_msg(k > 0, "bad attribute at %ld: %.60s", (long)(p - html), p);
			ck_assert_msg(strncmp(attr, "on", 2) != 0, "event handler at %ld", (long)(p - html));
			if (*p == '=') {
				ck_assert_msg(p[1] == '"', "unquoted attribute at %ld", (long)(p - html));
				const char *value = p + 2;
				const char *end = strchr(value, '"');
				ck_assert_ptr_nonnull(end);
				ck_assert_msg(memchr(value, '<', (size_t)(end - value)) == NULL, "'<' in attribute");
				if (strcmp(attr, "href") == 0)
					ck_assert_msg((value[0] == '/' && value[1] != '/') || strncasecmp(value, "http://", 7) == 0 ||
							      strncasecmp(value, "https://", 8) == 0,
						      "href to %.40s", value);
				p = end + 1;
			}
		}
		p++;
		if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0) {
			if (!closing) {
				char close[16];
				snprintf(close, sizeof(close), "</%s>", name);
				const char *end = strstr(p, close);
				ck_assert_ptr_nonnull(end);
				ck_assert_msg(memchr(p, '<', (size_t)(end - p)) == NULL, "'<' inside %s", name);
				p = end + strlen(close);
			}
			continue;
		}
		if (is_void_tag(name))
			continue;
		if (closing) {
			ck_assert_msg(depth > 0 && strcmp(stack[depth - 1], name) == 0,
				      "</%s> closes %s at %ld", name, depth > 0 ? stack[depth - 1] : "nothing",
				      (long)(tag - html));
			depth--;
		} else {
			ck_assert_int_lt(depth, 64);
			snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
		}
	}
	ck_assert_msg(depth == 0, "%d tag(s) left open, innermost %s", depth, depth ? stack[depth - 1] : "");
}

/* ---- the index ---- */

START_TEST(test_alerts_first_in_severity_order)
{
	json_t *checks = sample_checks(), *silences = sample_silences();
	char *html = aq_page_index(checks, silences, NULL, &READER);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	long alerts = position_of(html, "id=\"alerts\"");
	long crit = position_of(html, ">dora.days_since_last_deploy<");
	long cfr = position_of(html, ">dora.change_failure_rate<");
	long rows = position_of(html, ">system.session_rows<");
	long table = position_of(html, "id=\"checks\"");
	long ok = position_of(html, ">api.latency_p99<");
	long sil = position_of(html, "id=\"silences\"");
	ck_assert_int_ge(alerts, 0);
	ck_assert_int_lt(alerts, crit);
	ck_assert_int_lt(crit, cfr);
	ck_assert_int_lt(cfr, rows);
	ck_assert_int_lt(rows, table);
	ck_assert_int_lt(table, ok); /* the OK check is no alert */
	ck_assert_int_lt(ok, sil);
	ck_assert_int_lt(position_of(html, "class=\"alert sev-critical\""), cfr);
	ck_assert_int_eq(count_of(html, "class=\"alert sev-warning\""), 2);
	ck_assert_int_eq(count_of(html, "class=\"alert "), 3);
	ck_assert_ptr_nonnull(strstr(html, "3 firing"));
	ck_assert_ptr_nonnull(strstr(html, "viewing as grafana"));
	ck_assert_ptr_nonnull(strstr(html, "last deployment 9 days ago"));
	ck_assert_ptr_nonnull(strstr(html, "team=platform"));
	ck_assert_ptr_nonnull(strstr(html, "maintenance"));
	ck_assert_int_eq(count_of(html, " data-row>"), 3 + 4);
	ck_assert_ptr_nonnull(strstr(html, "<meta name=\"viewport\""));
	ck_assert_ptr_null(strstr(html, "http-equiv=\"refresh\""));
	ck_assert_ptr_null(strstr(html, "src="));
	ck_assert_ptr_null(strstr(html, "@import"));
	free(html);
	json_decref(checks);
	json_decref(silences);
}
END_TEST

START_TEST(test_marks_and_annotations)
{
	json_t *checks = sample_checks();
	json_t *c = json_array_get(checks, 3);
	json_object_set_new(c, "acked", json_true());
	json_object_set_new(c, "acked_by", json_string("alice"));
	json_object_set_new(c, "silenced", json_true());
	json_object_set_new(c, "stale", json_true());
	json_object_set_new(c, "flapping", json_true());
	json_object_set_new(c, "undeliverable", json_integer(3));
	json_object_set_new(c, "inhibited_by", json_string("dc.power"));
	json_object_set_new(c, "annotations",
			    json_pack("{s:s, s:s, s:s}", "summary", "no deploys", "description", "line one\nline two",
				      "runbook_url", "https://runbooks.example/deploy?x=1&y=2"));
	char *html = aq_page_index(checks, NULL, NULL, &OPERATOR);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "acked by alice"));
	ck_assert_ptr_nonnull(strstr(html, ">silenced<"));
	ck_assert_ptr_nonnull(strstr(html, ">stale<"));
	ck_assert_ptr_nonnull(strstr(html, ">flapping<"));
	ck_assert_ptr_nonnull(strstr(html, ">3 undeliverable<"));
	ck_assert_ptr_nonnull(strstr(html, "inhibited by dc.power"));
	ck_assert_ptr_nonnull(strstr(html, "no deploys"));
	ck_assert_ptr_nonnull(strstr(html, "line one\nline two"));
	ck_assert_ptr_nonnull(strstr(html, "href=\"https://runbooks.example/deploy?x=1&amp;y=2\""));
	/* acked: unack offered instead of ack */
	ck_assert_ptr_nonnull(strstr(html, "action=\"/checks/dora.days_since_last_deploy/unack\""));
	ck_assert_ptr_null(strstr(html, "action=\"/checks/dora.days_since_last_deploy/ack\""));
	free(html);
	json_decref(checks);
}
END_TEST

START_TEST(test_forms_only_when_operating)
{
	json_t *checks = sample_checks(), *silences = sample_silences();
	char *html = aq_page_index(checks, silences, NULL, &OPERATOR);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "<form method=\"post\" action=\"/checks/dora.days_since_last_deploy/ack\">"
					   "<input type=\"hidden\" name=\"csrf\" value=\"tok-123\">"));
	ck_assert_ptr_nonnull(strstr(html, "<form method=\"post\" action=\"/silences\">"));
	ck_assert_ptr_nonnull(strstr(html, "name=\"comment\""));
	ck_assert_ptr_nonnull(strstr(html, "name=\"match\""));
	ck_assert_ptr_nonnull(strstr(html, "name=\"for\""));
	/* every post form carries the token */
	ck_assert_int_eq(count_of(html, "<form method=\"post\""), count_of(html, "name=\"csrf\" value=\"tok-123\""));
	/* 3 alerts: ack + silence each, and the silences section's form */
	ck_assert_int_eq(count_of(html, "<form method=\"post\""), 3 * 2 + 1);
	ck_assert_ptr_null(strstr(html, "/checks/api.latency_p99/ack")); /* OK: nothing to ack */
	ck_assert_ptr_nonnull(strstr(html, "<meta http-equiv=\"refresh\" content=\"30\">"));
	free(html);

	html = aq_page_index(checks, silences, NULL, &READER);
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_null(strstr(html, "method=\"post\""));
	ck_assert_ptr_null(strstr(html, "csrf"));
	free(html);

	struct aq_page_ctx no_token = OPERATOR;
	no_token.csrf = NULL;
	html = aq_page_index(checks, silences, NULL, &no_token);
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_null(strstr(html, "method=\"post\""));
	free(html);

	struct aq_page_ctx token_no_role = OPERATOR;
	token_no_role.can_operate = 0;
	html = aq_page_index(checks, silences, NULL, &token_no_role);
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_null(strstr(html, "tok-123"));
	free(html);
	json_decref(checks);
	json_decref(silences);
}
END_TEST

START_TEST(test_filter_server_side)
{
	json_t *checks = sample_checks();
	char *html = aq_page_index(checks, NULL, "DORA", &READER);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "value=\"DORA\""));
	ck_assert_ptr_nonnull(strstr(html, ">dora.change_failure_rate<"));
	ck_assert_ptr_null(strstr(html, "system.session_rows"));
	ck_assert_ptr_null(strstr(html, "api.latency_p99"));
	ck_assert_ptr_nonnull(strstr(html, "2 of 4 checks match"));
	ck_assert_ptr_nonnull(strstr(html, "3 firing")); /* the header counts all */
	ck_assert_ptr_nonnull(strstr(html, "id=\"filter\""));
	ck_assert_ptr_nonnull(strstr(html, "<script>"));
	free(html);
	json_decref(checks);
}
END_TEST

START_TEST(test_rows_capped)
{
	json_t *checks = json_array();
	char name[64];
	for (int i = 0; i < AQ_PAGE_MAX_ROWS + 100; i++) {
		snprintf(name, sizeof(name), "bulk.check_%05d", i);
		json_array_append_new(checks, check_json(name, "OK", i, "fine"));
	}
	char *html = aq_page_index(checks, NULL, NULL, &READER);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_int_eq(count_of(html, "<tr class=\"sev-ok\" data-row>"), AQ_PAGE_MAX_ROWS);
	ck_assert_ptr_nonnull(strstr(html, "100 more not shown"));
	free(html);
	json_decref(checks);
}
END_TEST

/* Every check at every text cap, escaped six times over: the page stops
 * adding rows in time and is still whole. */
START_TEST(test_huge_state_gives_whole_page)
{
	json_t *checks = json_array();
	char *big = malloc(4097);
	memset(big, '&', 4096);
	big[4096] = '\0';
	for (int i = 0; i < 1000; i++) {
		json_t *c = check_json("x", i % 2 ? "CRITICAL" : "OK", i, big);
		char name[600];
		snprintf(name, sizeof(name), "%05d%.500s", i, big);
		json_object_set_new(c, "check", json_string(name));
		json_t *labels = json_object(), *annotations = json_object();
		for (int k = 0; k < 20; k++) {
			char key[300];
			snprintf(key, sizeof(key), "%02d%.250s", k, big);
			json_object_set_new(labels, key, json_string(big));
			json_object_set_new(annotations, key, json_string(big));
		}
		json_object_set_new(annotations, "description", json_string(big));
		json_object_set_new(c, "labels", labels);
		json_object_set_new(c, "annotations", annotations);
		json_array_append_new(checks, c);
	}
	char *html = aq_page_index(checks, NULL, NULL, &OPERATOR);
	ck_assert_ptr_nonnull(html);
	size_t len = strlen(html);
	ck_assert_uint_le(len, AQ_PAGE_MAX_BYTES);
	ck_assert_str_eq(html + len - 8, "</html>\n");
	ck_assert_ptr_nonnull(strstr(html, "more not shown"));
	assert_well_formed(html);
	free(html);
	json_decref(checks);
	free(big);
}
END_TEST

/* ---- injection ---- */

static const char *const PAYLOADS[] = {
	"<script>alert(1)</script>",
	"\"><img src=x onerror=alert(1)>",
	"' onmouseover='alert(1)",
	"</textarea></title></style><script>alert(1)</script>",
	"a&b<c>d\"e'f",
	"&lt;already&gt;",
};

/* A status array where every data string of one check is payload. */
static json_t *hostile_checks(const char *payload)
{
	json_t *checks = sample_checks();
	json_t *c = check_json(payload, "CRITICAL", 1, payload);
	json_object_set_new(c, "acked", json_true());
	json_object_set_new(c, "acked_by", json_string(payload));
	json_object_set_new(c, "labels", json_pack("{s:s}", payload, payload));
	json_object_set_new(c, "previous_severity", json_string(payload));
	json_object_set_new(c, "since", json_string(payload));
	json_object_set_new(c, "inhibited_by", json_pack("[s]", payload));
	json_object_set_new(c, "annotations", json_pack("{s:s, s:s, s:s, s:s}", "summary", payload, "description", payload, "runbook_url", payload, payload, payload));
	json_array_append_new(checks, c);
	json_t *unacked = check_json(payload, "WARNING", 1, payload);
	json_array_append_new(checks, unacked);
	json_t *odd = check_json("odd.severity", "WARNING", 1, "odd");
	json_object_set_new(odd, "severity", json_string(payload));
	json_array_append_new(checks, odd);
	return checks;
}

static void assert_escaped(const char *html, const char *payload)
{
	assert_well_formed(html);
	ck_assert_ptr_null(strstr(html, "<script>alert"));
	ck_assert_ptr_null(strstr(html, "<img"));
	ck_assert_ptr_null(strstr(html, "onmouseover='"));
	ck_assert_ptr_null(strstr(html, "href=\"javascript"));
	if (strpbrk(payload, "<>\"'"))
		ck_assert_msg(strstr(html, payload) == NULL, "raw payload %s in page", payload);
	char *e = escaped(payload);
	ck_assert_msg(strstr(html, e) != NULL, "escaped payload %s not in page", e);
	free(e);
}

START_TEST(test_injection_index)
{
	const char *payload = PAYLOADS[_i];
	json_t *checks = hostile_checks(payload);
	json_t *silences = json_pack("[{s:i, s:s, s:s, s:s, s:s, s:s}]", "id", 1, "match", payload, "starts_at",
				     payload, "ends_at", payload, "comment", payload, "created_by", payload);
	struct aq_page_ctx ctx = OPERATOR;
	ctx.who = payload;
	ctx.csrf = payload;
	char *html = aq_page_index(checks, silences, payload, &ctx);
	ck_assert_ptr_nonnull(html);
	assert_escaped(html, payload);
	/* the name in a link is a percent-encoded path segment */
	ck_assert_ptr_null(strstr(html, "href=\"/checks/<"));
	ck_assert_ptr_null(strstr(html, "action=\"/checks/\""));
	free(html);
	/* without the filter the payload check is still escaped */
	html = aq_page_index(checks, silences, NULL, &ctx);
	ck_assert_ptr_nonnull(html);
	assert_escaped(html, payload);
	free(html);
	json_decref(checks);
	json_decref(silences);
}
END_TEST

START_TEST(test_injection_check_page)
{
	const char *payload = PAYLOADS[_i];
	json_t *checks = hostile_checks(payload);
	json_t *history = json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:i, s:s, s:s}]}],"
				    " s:[{s:s, s:s, s:s, s:i, s:s, s:s}]}",
				    "check", payload, "transitions", "from", payload, "to", payload, "message",
				    payload, "observed_at", payload, "cause", payload, "notifications", "channel",
				    payload, "status", payload, "delivery", payload, "last_error", payload, "attempts",
				    2, "sent_at", payload, "created_at", payload, "escalations", "channel", payload,
				    "status", payload, "created_at", payload, "attempts", 1, "delivery", payload,
				    "last_error", payload);
	struct aq_page_ctx ctx = OPERATOR;
	ctx.csrf = payload;
	char *html = aq_page_check(json_array_get(checks, 4), history, &ctx);
	ck_assert_ptr_nonnull(html);
	assert_escaped(html, payload);
	free(html);
	html = aq_page_error(400, payload);
	ck_assert_ptr_nonnull(html);
	assert_escaped(html, payload);
	free(html);
	json_decref(history);
	json_decref(checks);
}
END_TEST

START_TEST(test_names_percent_encoded)
{
	json_t *checks = json_array();
	json_array_append_new(checks, check_json("<script>alert(1)</script>", "CRITICAL", 1, "m"));
	json_array_append_new(checks, check_json("a/b?c#d e%f", "WARNING", 1, "m"));
	char *html = aq_page_index(checks, NULL, NULL, &OPERATOR);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "href=\"/checks/%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
	ck_assert_ptr_nonnull(strstr(html, "action=\"/checks/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/ack\""));
	ck_assert_ptr_nonnull(strstr(html, "href=\"/checks/a%2Fb%3Fc%23d%20e%25f\""));
	free(html);
	json_decref(checks);
}
END_TEST

static const struct {
	const char *url;
	int linked;
} RUNBOOKS[] = {
	{ "javascript:alert(1)", 0 },
	{ "JavaScript:alert(1)", 0 },
	{ " javascript:alert(1)", 0 },
	{ "data:text/html,<script>alert(1)</script>", 0 },
	{ "//evil.example/x", 0 },
	{ "/relative/path", 0 },
	{ "vbscript:msgbox(1)", 0 },
	{ "https://runbooks.example/a", 1 },
	{ "HTTP://runbooks.example/b", 1 },
	{ "https://x.example/\" onclick=\"alert(1)", 1 },
};

START_TEST(test_runbook_links_only_http)
{
	json_t *checks = json_array();
	json_t *c = check_json("dora.days_since_last_deploy", "CRITICAL", 9, "m");
	json_object_set_new(c, "annotations", json_pack("{s:s}", "runbook_url", RUNBOOKS[_i].url));
	json_array_append_new(checks, c);
	char *html = aq_page_index(checks, NULL, NULL, &READER);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	char *e = escaped(RUNBOOKS[_i].url);
	char *href = malloc(strlen(e) + 16);
	sprintf(href, "href=\"%s\"", e);
	if (RUNBOOKS[_i].linked)
		ck_assert_msg(strstr(html, href) != NULL, "no link to %s", RUNBOOKS[_i].url);
	else
		ck_assert_msg(strstr(html, href) == NULL, "a link to %s", RUNBOOKS[_i].url);
	ck_assert_msg(strstr(html, e) != NULL, "%s not shown", RUNBOOKS[_i].url);
	ck_assert_ptr_null(strstr(html, "<script>alert"));
	free(href);
	free(e);
	free(html);
	json_decref(checks);
}
END_TEST

/* ---- the check page and the error page ---- */

START_TEST(test_check_page)
{
	json_t *checks = sample_checks();
	json_t *c = json_array_get(checks, 3);
	json_t *history = sample_history("dora.days_since_last_deploy");
	char *html = aq_page_check(c, history, &OPERATOR);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "<title>dora.days_since_last_deploy - alertq</title>"));
	ck_assert_ptr_nonnull(strstr(html, "last deployment 9 days ago"));
	ck_assert_ptr_nonnull(strstr(html, "<b>ops-mail</b>"));
	ck_assert_ptr_nonnull(strstr(html, "undeliverable</span>, 12 attempt(s)"));
	ck_assert_ptr_nonnull(strstr(html, "last error: <code>smtp 421 try later</code>"));
	ck_assert_ptr_nonnull(strstr(html, "id=\"escalations\""));
	ck_assert_ptr_nonnull(strstr(html, "<b>pager</b>"));
	ck_assert_ptr_nonnull(strstr(html, "2026-11-27T16:30:00Z"));
	ck_assert_ptr_nonnull(strstr(html, "action=\"/checks/dora.days_since_last_deploy/ack\""));
	ck_assert_ptr_nonnull(strstr(html, "value=\"tok-123\""));
	ck_assert_ptr_nonnull(strstr(html, "<meta http-equiv=\"refresh\" content=\"30\">"));
	ck_assert_int_lt(position_of(html, "class=\"alert sev-critical\""), position_of(html, "id=\"history\""));
	free(html);

	html = aq_page_check(c, history, &READER);
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_null(strstr(html, "<form"));
	free(html);

	html = aq_page_check(NULL, NULL, &READER); /* nothing known: still a page */
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	free(html);
	json_decref(history);
	json_decref(checks);
}
END_TEST

START_TEST(test_error_page)
{
	char *html = aq_page_error(404, "no such check 'x'");
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	ck_assert_ptr_nonnull(strstr(html, "<h2>404</h2>"));
	ck_assert_ptr_nonnull(strstr(html, "no such check &#39;x&#39;"));
	free(html);
	html = aq_page_error(500, NULL);
	ck_assert_ptr_nonnull(html);
	assert_well_formed(html);
	free(html);
}
END_TEST

/* Not a test: AQ_PAGE_PREVIEW=DIR writes the sample pages there to look at
 * in a browser. */
static void write_preview(const char *dir)
{
	json_t *checks = sample_checks(), *silences = sample_silences();
	json_t *c = json_array_get(checks, 3);
	json_object_set_new(c, "annotations",
			    json_pack("{s:s, s:s, s:s}", "summary", "No deployment for 9 days", "description",
				      "The last production deploy was 9 days ago.\nCheck the pipeline.",
				      "runbook_url", "https://runbooks.example/dora/deploys"));
	json_object_set_new(c, "undeliverable", json_integer(1));
	json_t *w = json_array_get(checks, 1);
	json_object_set_new(w, "acked", json_true());
	json_object_set_new(w, "acked_by", json_string("alice"));
	json_object_set_new(w, "silenced", json_true());
	json_object_set_new(json_array_get(checks, 2), "flapping", json_true());
	json_array_append_new(checks, check_json("batch.nightly_export_with_a_rather_long_name_that_goes_on", "UNKNOWN", 0, "plugin timed out"));
	const struct {
		const char *file;
		char *html;
	} pages[] = {
		{ "page-preview.html", aq_page_index(checks, silences, NULL, &OPERATOR) },
		{ "page-check.html", aq_page_check(c, sample_history("dora.days_since_last_deploy"), &OPERATOR) },
	};
	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, pages[i].file);
		FILE *f = fopen(path, "w");
		if (f && pages[i].html)
			fputs(pages[i].html, f);
		if (f)
			fclose(f);
		free(pages[i].html);
	}
	json_decref(checks);
	json_decref(silences);
}

int main(void)
{
	if (getenv("AQ_PAGE_PREVIEW")) {
		write_preview(getenv("AQ_PAGE_PREVIEW"));
		return 0;
	}
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("page");
	tcase_add_test(tc, test_alerts_first_in_severity_order);
	tcase_add_test(tc, test_marks_and_annotations);
	tcase_add_test(tc, test_forms_only_when_operating);
	tcase_add_test(tc, test_filter_server_side);
	tcase_add_test(tc, test_rows_capped);
	tcase_add_test(tc, test_huge_state_gives_whole_page);
	tcase_add_loop_test(tc, test_injection_index, 0, sizeof(PAYLOADS) / sizeof(PAYLOADS[0]));
	tcase_add_loop_test(tc, test_injection_check_page, 0, sizeof(PAYLOADS) / sizeof(PAYLOADS[0]));
	tcase_add_test(tc, test_names_percent_encoded);
	tcase_add_loop_test(tc, test_runbook_links_only_http, 0, sizeof(RUNBOOKS) / sizeof(RUNBOOKS[0]));
	tcase_add_test(tc, test_check_page);
	tcase_add_test(tc, test_error_page);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
