/* test_template.c - the template language: placeholders, sections, escaping
 * per target, refusals with their position, bounds, and the templated and
 * fallback formats of the channels */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/notify.h"
#include "alertq/rules.h"
#include "base/utf8.h"
#include "notify/format.h"
#include "notify/template.h"
#include "unit.h"

static struct aq_label labels[] = {
	{ "team", "platform" },
	{ "site", "par1" },
};
static struct aq_label annotations[] = {
	{ "summary", "sessions are high" },
	{ "runbook_url", "https://wiki.iact.example/runbooks/sessions" },
};

/* The values every table row renders, unless it changes them. */
static void values(struct aq_template_values *v)
{
	aq_template_values_sample(v, labels, 2, annotations, 2);
}

static struct aq_template *parse_ok(const char *text, enum aq_template_scope scope)
{
	char err[256] = "";
	struct aq_template *t = aq_template_parse(text, strlen(text), scope, err, sizeof(err));
	ck_assert_msg(t != NULL, "'%s' refused: %s", text, err);
	return t;
}

/* Renders text with the sample values for target; the result must be
 * there and valid UTF-8. */
static char *render(const char *text, const struct aq_template_values *v, enum aq_template_target target)
{
	struct aq_template *t = parse_ok(text, AQ_TEMPLATE_CHANNEL);
	char err[256] = "";
	char *out = aq_template_render(t, v, target, AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
	ck_assert_msg(out != NULL, "'%s' did not render: %s", text, err);
	ck_assert(aq_utf8_valid(out, strlen(out)));
	aq_template_unref(t);
	return out;
}

/* ---- every placeholder, plain text ---- */

static const struct {
	const char *text;
	const char *want;
} placeholder_cases[] = {
	{ "{{check}}", "example.check" },
	{ "{{severity}}", "CRITICAL" },
	{ "{{previous_severity}}", "WARNING" },
	{ "{{status}}", "firing" },
	{ "{{value}}", "120000" },
	{ "{{message}}", "example message" },
	{ "{{since}}", "2026-11-27T16:00:00Z" },
	{ "{{observed_at}}", "2026-11-27T17:00:00Z" },
	{ "{{escalation_level}}", "0" },
	{ "{{labels.team}}/{{labels.site}}", "platform/par1" },
	{ "{{annotations.summary}} {{annotations.runbook_url}}",
	  "sessions are high https://wiki.iact.example/runbooks/sessions" },
	{ "{{ check }}", "example.check" },
	{ "no placeholder", "no placeholder" },
	{ "", "" },
	{ "a } b }} c {", "a } b }} c {" },
	/* what is missing renders empty */
	{ "[{{labels.nope}}]", "[]" },
	{ "[{{annotations.nope}}]", "[]" },
	/* sections */
	{ "{{#labels.team}}team {{labels.team}}{{/labels.team}}", "team platform" },
	{ "{{#labels.nope}}shown{{/labels.nope}}rest", "rest" },
	{ "{{^labels.nope}}no such label{{/labels.nope}}", "no such label" },
	{ "{{^labels.team}}hidden{{/labels.team}}x", "x" },
	{ "{{#check}}{{#labels.nope}}in{{/labels.nope}}out{{/check}}", "out" },
	{ "{{#annotations.runbook_url}}<{{annotations.runbook_url}}|runbook>{{/annotations.runbook_url}}",
	  "<https://wiki.iact.example/runbooks/sessions|runbook>" },
	{ "{{# value }}v={{value}}{{/ value }}", "v=120000" },
};

START_TEST(test_placeholders)
{
	struct aq_template_values v;
	values(&v);
	char *out = render(placeholder_cases[_i].text, &v, AQ_TEMPLATE_TEXT);
	ck_assert_str_eq(out, placeholder_cases[_i].want);
	free(out);
}
END_TEST

START_TEST(test_status_strings)
{
	/* the status is the notification's own word, whatever it is */
	struct aq_template_values v;
	values(&v);
	v.status = "flapping";
	char *out = render("{{status}}", &v, AQ_TEMPLATE_TEXT);
	ck_assert_str_eq(out, "flapping");
	free(out);
	struct aq_notification n = { 0 };
	n.check = "c";
	n.message = "m";
	n.resolved = 1;
	aq_template_values_for(&v, &n);
	out = render("{{status}} {{severity}} [{{value}}] {{#value}}x{{/value}}", &v, AQ_TEMPLATE_TEXT);
	ck_assert_str_eq(out, "resolved OK [] ");
	free(out);
}
END_TEST

/* ---- escaping by target: the values, never the template's text ---- */

static const struct {
	enum aq_template_target target;
	const char *text;
	const char *message;
	const char *want;
} escape_cases[] = {
	{ AQ_TEMPLATE_SLACK, "<{{message}}|x> &", "<!channel> & <http://evil|y>",
	  "<&lt;!channel&gt; &amp; &lt;http://evil|y&gt;|x> &" },
	{ AQ_TEMPLATE_SLACK, "{{message}}", "two\nlines", "two\nlines" },
	{ AQ_TEMPLATE_EMAIL_HEADER, "[{{severity}}] {{message}}", "a\r\nBcc: evil@x\nz",
	  "[CRITICAL] a Bcc: evil@x z" },
	{ AQ_TEMPLATE_EMAIL_HEADER, "line\none {{message}}", "m", "line one m" },
	{ AQ_TEMPLATE_EMAIL_BODY, "{{message}}\nend", "a\r\nb\tc", "a\nb c\nend" },
	{ AQ_TEMPLATE_TEXT, "{{message}}", "a <b> & \"c\"", "a <b> & \"c\"" },
	{ AQ_TEMPLATE_JSON, "{\"m\": \"{{message}}\"}", "say \"hi\" \\ now\nnext\x01",
	  "{\"m\": \"say \\\"hi\\\" \\\\ now\\nnext \"}" },
	{ AQ_TEMPLATE_JSON, "{\"v\": {{value}}, \"c\": \"{{check}}\"}", "m",
	  "{\"v\": 120000, \"c\": \"example.check\"}" },
	/* bytes that are not UTF-8 are replaced, in every target */
	{ AQ_TEMPLATE_TEXT, "{{message}}", "a\xff\xfe"
					   "b",
	  "a\xef\xbf\xbd\xef\xbf\xbd"
	  "b" },
	{ AQ_TEMPLATE_SLACK, "{{message}}", "\xc3", "\xef\xbf\xbd" },
	{ AQ_TEMPLATE_EMAIL_HEADER, "{{message}}", "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd" },
	{ AQ_TEMPLATE_JSON, "[\"{{message}}\"]", "\xed\xa0\x80", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]" },
};

START_TEST(test_escaping)
{
	struct aq_template_values v;
	values(&v);
	v.message = escape_cases[_i].message;
	char *out = render(escape_cases[_i].text, &v, escape_cases[_i].target);
	ck_assert_str_eq(out, escape_cases[_i].want);
	if (escape_cases[_i].target == AQ_TEMPLATE_EMAIL_HEADER)
		ck_assert(!strpbrk(out, "\r\n"));
	free(out);
}
END_TEST

START_TEST(test_json_value_null)
{
	struct aq_template_values v;
	values(&v);
	v.value[0] = '\0';
	v.value_is_number = 0;
	char *out = render("{\"v\": {{value}}}", &v, AQ_TEMPLATE_JSON);
	ck_assert_str_eq(out, "{\"v\": null}");
	free(out);
	/* not finite: no JSON number */
	snprintf(v.value, sizeof(v.value), "inf");
	out = render("{\"v\": {{value}}}", &v, AQ_TEMPLATE_JSON);
	ck_assert_str_eq(out, "{\"v\": null}");
	free(out);
}
END_TEST

START_TEST(test_json_invalid_refused)
{
	struct aq_template_values v;
	values(&v);
	struct aq_template *t = parse_ok("{\"m\": {{message}}}", AQ_TEMPLATE_CHANNEL);
	char err[256];
	char *out = aq_template_render(t, &v, AQ_TEMPLATE_JSON, AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err, "not JSON"), "%s", err);
	aq_template_unref(t);
}
END_TEST

/* ---- refused at parse, with where ---- */

static const struct {
	const char *text;
	enum aq_template_scope scope;
	const char *want;
} refused_cases[] = {
	{ "{{chek}}", AQ_TEMPLATE_CHANNEL, "unknown placeholder '{{chek}}' at line 1, column 1 of the template" },
	{ "ab\ncd {{}}", AQ_TEMPLATE_CHANNEL, "unknown placeholder '{{}}' at line 2, column 4 of the template" },
	{ "{{labels}}", AQ_TEMPLATE_CHANNEL, "unknown placeholder '{{labels}}' at line 1, column 1 of the template" },
	{ "{{annotations.a-b}}", AQ_TEMPLATE_CHANNEL,
	  "unknown placeholder '{{annotations.a-b}}' at line 1, column 1 of the template" },
	{ "{{annotations.summary}}", AQ_TEMPLATE_ANNOTATION,
	  "an annotation cannot name another: '{{annotations.summary}}' at line 1, column 1 of the template" },
	{ "x {{check", AQ_TEMPLATE_CHANNEL, "unclosed placeholder '{{check' at line 1, column 3 of the template" },
	{ "{{#check}}x", AQ_TEMPLATE_CHANNEL, "unclosed section 'check' at line 1, column 1 of the template" },
	{ "{{#check}}{{#value}}{{/check}}{{/value}}", AQ_TEMPLATE_CHANNEL,
	  "end of a section that is not the open one: '{{/check}}' at line 1, column 21 of the template" },
	{ "{{/check}}", AQ_TEMPLATE_CHANNEL,
	  "end of a section that is not open: '{{/check}}' at line 1, column 1 of the template" },
	{ "{{#nope}}{{/nope}}", AQ_TEMPLATE_CHANNEL,
	  "unknown placeholder '{{#nope}}' at line 1, column 1 of the template" },
	{ "a\xff", AQ_TEMPLATE_CHANNEL, "the template is not valid UTF-8" },
};

START_TEST(test_refused)
{
	char err[256] = "";
	const char *text = refused_cases[_i].text;
	struct aq_template *t = aq_template_parse(text, strlen(text), refused_cases[_i].scope, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err, refused_cases[_i].want);
}
END_TEST

START_TEST(test_depth_and_length_refused)
{
	char text[AQ_TEMPLATE_SOURCE_MAX + 2];
	char err[256];
	size_t len = 0;
	for (int i = 0; i < AQ_TEMPLATE_DEPTH_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "{{#check}}");
	for (int i = 0; i < AQ_TEMPLATE_DEPTH_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "{{/check}}");
	struct aq_template *t = aq_template_parse(text, len, AQ_TEMPLATE_CHANNEL, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	aq_template_unref(t);
	len = (size_t)snprintf(text, sizeof(text), "{{#check}}");
	for (int i = 0; i < AQ_TEMPLATE_DEPTH_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "{{#value}}");
	ck_assert_ptr_null(aq_template_parse(text, len, AQ_TEMPLATE_CHANNEL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "nested too deep"), "%s", err);

	memset(text, 'a', sizeof(text));
	ck_assert_ptr_nonnull(t = aq_template_parse(text, AQ_TEMPLATE_SOURCE_MAX, AQ_TEMPLATE_CHANNEL, err,
						    sizeof(err)));
	aq_template_unref(t);
	ck_assert_ptr_null(aq_template_parse(text, AQ_TEMPLATE_SOURCE_MAX + 1, AQ_TEMPLATE_CHANNEL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "longer than"), "%s", err);
}
END_TEST

/* ---- bounds ---- */

START_TEST(test_output_bounded)
{
	struct aq_template_values v;
	values(&v);
	struct aq_template *t = parse_ok("\xc3\xa9\xc3\xa9\xc3\xa9 {{check}}", AQ_TEMPLATE_CHANNEL);
	char err[256];
	/* without cut: refused */
	char *out = aq_template_render(t, &v, AQ_TEMPLATE_TEXT, 10, 0, err, sizeof(err));
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "the rendered text is longer than 10 bytes");
	/* with cut: on a character boundary */
	out = aq_template_render(t, &v, AQ_TEMPLATE_TEXT, 5, 1, err, sizeof(err));
	ck_assert_str_eq(out, "\xc3\xa9\xc3\xa9");
	free(out);
	/* exactly the bound is fine */
	out = aq_template_render(t, &v, AQ_TEMPLATE_TEXT, 20, 0, err, sizeof(err));
	ck_assert_str_eq(out, "\xc3\xa9\xc3\xa9\xc3\xa9 example.check");
	free(out);
	aq_template_unref(t);

	/* one value shows at most AQ_TEMPLATE_VALUE_MAX bytes */
	char *big = malloc(3 * AQ_TEMPLATE_VALUE_MAX);
	memset(big, 'x', 3 * AQ_TEMPLATE_VALUE_MAX - 1);
	big[3 * AQ_TEMPLATE_VALUE_MAX - 1] = '\0';
	v.message = big;
	t = parse_ok("{{message}}", AQ_TEMPLATE_CHANNEL);
	out = aq_template_render(t, &v, AQ_TEMPLATE_TEXT, AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
	ck_assert_uint_eq(strlen(out), AQ_TEMPLATE_VALUE_MAX);
	ck_assert(strcmp(out + AQ_TEMPLATE_VALUE_MAX - 3, "...") == 0);
	free(out);
	aq_template_unref(t);
	/* five of them pass the output bound */
	t = parse_ok("{{message}}{{message}}{{message}}{{message}}{{message}}", AQ_TEMPLATE_CHANNEL);
	out = aq_template_render(t, &v, AQ_TEMPLATE_SLACK, AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
	ck_assert_ptr_null(out);
	aq_template_unref(t);
	free(big);
}
END_TEST

START_TEST(test_annotations_rendered_and_cut)
{
	struct aq_rule rule = { 0 };
	struct aq_annotation a[2];
	char err[256];
	a[0].key = "summary";
	a[0].tpl = parse_ok("{{check}} is {{severity}} ({{labels.team}})", AQ_TEMPLATE_ANNOTATION);
	char *long_text = malloc(2 * AQ_ANNOTATION_VALUE_MAX);
	memset(long_text, 'y', 2 * AQ_ANNOTATION_VALUE_MAX);
	/* a two-byte character across the bound */
	memcpy(long_text + AQ_ANNOTATION_VALUE_MAX - 1, "\xc3\xa9", 2);
	a[1].key = "long";
	a[1].tpl = aq_template_parse(long_text, 2 * AQ_ANNOTATION_VALUE_MAX, AQ_TEMPLATE_ANNOTATION, err, sizeof(err));
	ck_assert_ptr_nonnull(a[1].tpl);
	rule.annotations = a;
	rule.nannotations = 2;
	struct aq_template_values v;
	values(&v);
	struct aq_label *out;
	size_t n;
	aq_annotations_render(&rule, &v, &out, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0].key, "summary");
	ck_assert_str_eq(out[0].value, "example.check is CRITICAL (platform)");
	ck_assert_str_eq(out[1].key, "long");
	ck_assert_uint_eq(strlen(out[1].value), AQ_ANNOTATION_VALUE_MAX - 1);
	aq_labels_free(out, n);
	aq_annotations_render(NULL, &v, &out, &n);
	ck_assert_uint_eq(n, 0);

	/* at a transition, against the state as it is after it */
	struct aq_state st;
	aq_state_init(&st, "db.rows");
	struct aq_result r = { 0 };
	snprintf(r.event_id, sizeof(r.event_id), "e1");
	r.check = "db.rows";
	r.has_value = 1;
	r.value = 7;
	r.status = AQ_CRITICAL;
	r.message = "m";
	r.observed_at_ms = 1000;
	struct aq_transition tr;
	rule.nannotations = 1;
	aq_template_unref(a[0].tpl);
	a[0].tpl = parse_ok("{{check}} {{value}} {{severity}} from {{previous_severity}} {{status}}",
			    AQ_TEMPLATE_ANNOTATION);
	ck_assert_int_eq(aq_state_apply(&st, &rule, &r, &tr), 1);
	ck_assert_uint_eq(tr.nannotations, 1);
	ck_assert_str_eq(tr.annotations[0].value, "db.rows 7 CRITICAL from OK firing");
	ck_assert_ptr_eq(tr.annotations, st.annotations);
	r.status = AQ_OK;
	r.value = 1;
	ck_assert_int_eq(aq_state_apply(&st, &rule, &r, &tr), 1);
	ck_assert_str_eq(st.annotations[0].value, "db.rows 1 OK from CRITICAL resolved");
	aq_state_release(&st);
	aq_template_unref(a[0].tpl);
	aq_template_unref(a[1].tpl);
	free(long_text);
}
END_TEST

/* ---- the channels' formats ---- */

static void notification(struct aq_notification *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->notification_id, sizeof(n->notification_id), "6f1c1a0e-4b7d-4c2e-9a51-0d2f3b4c5d6e");
	n->check = aq_strdup("system.session_rows");
	n->severity = AQ_CRITICAL;
	n->previous_severity = AQ_WARNING;
	n->has_value = 1;
	n->value = 120000;
	n->message = aq_strdup("rows <high> & rising");
	n->observed_at_ms = 1795798800000LL;
	n->since_ms = 1795795200000LL;
	n->annotations = calloc(3, sizeof(*n->annotations));
	n->annotations[0].key = aq_strdup("runbook_url");
	n->annotations[0].value = aq_strdup("https://wiki.iact.example/runbooks/sessions?a=1&b=2");
	n->annotations[1].key = aq_strdup("description");
	n->annotations[1].value = aq_strdup("too many sessions");
	n->annotations[2].key = aq_strdup("summary");
	n->annotations[2].value = aq_strdup("120000 session rows <!channel>");
	n->nannotations = 3;
}

static struct aq_channel channel(enum aq_channel_type type, enum aq_webhook_format format)
{
	struct aq_channel ch;
	memset(&ch, 0, sizeof(ch));
	ch.name = "test";
	ch.type = type;
	ch.format = format;
	ch.from = "alerts@iact.example";
	static char *to[] = { "admin@iact.example", NULL };
	ch.to = to;
	ch.nto = 1;
	return ch;
}

/* The "text" of a Slack body. New string. */
static char *slack_text(const char *body)
{
	json_t *root = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(root);
	char *text = strdup(json_string_value(json_object_get(root, "text")));
	json_decref(root);
	return text;
}

START_TEST(test_slack_builtin_shows_annotations)
{
	struct aq_notification n;
	notification(&n);
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, AQ_FORMAT_SLACK);
	char *body = aq_format_webhook(&ch, &n);
	char *text = slack_text(body);
	/* summary first, runbook last, all escaped */
	const char *start = "120000 session rows &lt;!channel&gt;\n[CRITICAL] system.session_rows";
	ck_assert_msg(strncmp(text, start, strlen(start)) == 0, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "\ndescription: too many sessions\n"));
	const char *runbook = "runbook: https://wiki.iact.example/runbooks/sessions?a=1&amp;b=2";
	ck_assert_str_eq(text + strlen(text) - strlen(runbook), runbook);
	free(text);
	free(body);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_slack_template)
{
	struct aq_notification n;
	notification(&n);
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, AQ_FORMAT_SLACK);
	ch.template_text = parse_ok(":rotating_light: {{severity}} {{check}}: {{annotations.summary}} "
				    "<{{annotations.runbook_url}}|runbook>",
				    AQ_TEMPLATE_CHANNEL);
	char *body = aq_format_webhook(&ch, &n);
	char *text = slack_text(body);
	ck_assert_str_eq(text, ":rotating_light: CRITICAL system.session_rows: 120000 session rows &lt;!channel&gt; "
			       "<https://wiki.iact.example/runbooks/sessions?a=1&amp;b=2|runbook>");
	free(text);
	free(body);
	aq_template_unref(ch.template_text);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_slack_template_fallback_counted)
{
	struct aq_notification n;
	notification(&n);
	free(n.message);
	/* a message of 5 x 16 KiB... of which each placeholder shows 16 KiB */
	n.message = malloc(AQ_TEMPLATE_VALUE_MAX + 1);
	memset(n.message, 'm', AQ_TEMPLATE_VALUE_MAX);
	n.message[AQ_TEMPLATE_VALUE_MAX] = '\0';
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, AQ_FORMAT_SLACK);
	ch.template_text = parse_ok("{{message}}{{message}}{{message}}{{message}}{{message}}", AQ_TEMPLATE_CHANNEL);
	unsigned long before = aq_template_failure_count();
	char *body = aq_format_webhook(&ch, &n);
	ck_assert_uint_eq(aq_template_failure_count(), before + 1);
	char *text = slack_text(body);
	const char *note = "(template failed: the rendered text is longer than 65536 bytes; built-in format follows)\n";
	ck_assert_msg(strncmp(text, note, strlen(note)) == 0, "%.200s", text);
	ck_assert_ptr_nonnull(strstr(text, "[CRITICAL] system.session_rows firing"));
	free(text);
	free(body);
	aq_template_unref(ch.template_text);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_json_template_and_fallback)
{
	struct aq_notification n;
	notification(&n);
	struct aq_channel ch = channel(AQ_CHANNEL_WEBHOOK, AQ_FORMAT_JSON);
	ch.template_body = parse_ok("{\"alert\": \"{{check}}\", \"value\": {{value}}, \"summary\": "
				    "\"{{annotations.summary}}\", \"team\": \"{{labels.team}}\"}",
				    AQ_TEMPLATE_CHANNEL);
	char *body = aq_format_webhook(&ch, &n);
	ck_assert_str_eq(body, "{\"alert\": \"system.session_rows\", \"value\": 120000, \"summary\": "
			       "\"120000 session rows <!channel>\", \"team\": \"\"}");
	free(body);
	aq_template_unref(ch.template_body);

	/* a body that is no JSON for this alert: the built-in object, saying why */
	ch.template_body = parse_ok("{\"m\": {{message}}}", AQ_TEMPLATE_CHANNEL);
	unsigned long before = aq_template_failure_count();
	body = aq_format_webhook(&ch, &n);
	ck_assert_uint_eq(aq_template_failure_count(), before + 1);
	json_t *root = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "check")), "system.session_rows");
	const char *failed = json_string_value(json_object_get(root, "template_failed"));
	ck_assert_msg(failed && strncmp(failed, "(template failed: the rendered body is not JSON", 47) == 0, "%s",
		      body);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "annotations"), "summary")),
			 "120000 session rows <!channel>");
	json_decref(root);
	free(body);
	aq_template_unref(ch.template_body);

	/* without a template: the notification object */
	ch.template_body = NULL;
	body = aq_format_webhook(&ch, &n);
	char *plain = aq_notification_to_json(&n);
	ck_assert_str_eq(body, plain);
	free(plain);
	free(body);
	aq_notification_release(&n);
}
END_TEST

/* The header block and the body of a mail message, split. */
static void split_mail(char *mail, char **headers, char **body)
{
	char *gap = strstr(mail, "\r\n\r\n");
	ck_assert_ptr_nonnull(gap);
	*gap = '\0';
	*headers = mail;
	*body = gap + 4;
}

START_TEST(test_email_builtin_shows_annotations)
{
	struct aq_notification n;
	notification(&n);
	struct aq_channel ch = channel(AQ_CHANNEL_EMAIL, AQ_FORMAT_JSON);
	size_t len;
	char *mail = aq_format_email(&ch, &n, &len);
	char *headers, *body;
	split_mail(mail, &headers, &body);
	ck_assert_ptr_nonnull(strstr(headers, "Subject: [CRITICAL] system.session_rows"));
	ck_assert_msg(strncmp(body, "summary: 120000 session rows <!channel>\r\ncheck: ", 48) == 0, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "\r\ndescription: too many sessions\r\n"));
	const char *runbook = "runbook_url: https://wiki.iact.example/runbooks/sessions?a=1&b=2\r\n";
	ck_assert_str_eq(body + strlen(body) - strlen(runbook), runbook);
	free(mail);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_email_templates)
{
	struct aq_notification n;
	notification(&n);
	free(n.message);
	n.message = aq_strdup("line one\r\nline two");
	struct aq_channel ch = channel(AQ_CHANNEL_EMAIL, AQ_FORMAT_JSON);
	ch.template_subject = parse_ok("[{{severity}}] {{annotations.summary}} {{message}}", AQ_TEMPLATE_CHANNEL);
	ch.template_body = parse_ok("{{annotations.summary}}\n\n{{message}}\n{{#annotations.runbook_url}}runbook: "
				    "{{annotations.runbook_url}}{{/annotations.runbook_url}}",
				    AQ_TEMPLATE_CHANNEL);
	size_t len;
	char *mail = aq_format_email(&ch, &n, &len);
	char *headers, *body;
	split_mail(mail, &headers, &body);
	ck_assert_msg(strstr(headers, "\r\nSubject: [CRITICAL] 120000 session rows <!channel> line one line "
				      "two\r\n"),
		      "%s", headers);
	ck_assert_str_eq(body, "120000 session rows <!channel>\r\n\r\nline one\r\nline two\r\nrunbook: "
			       "https://wiki.iact.example/runbooks/sessions?a=1&b=2\r\n");
	free(mail);

	/* a long subject is cut, a long body line broken: SMTP's 998 bytes hold */
	free(n.message);
	n.message = malloc(5000);
	memset(n.message, 'w', 4999);
	n.message[4999] = '\0';
	mail = aq_format_email(&ch, &n, &len);
	char *subject = strstr(mail, "\r\nSubject: ");
	ck_assert_ptr_nonnull(subject);
	/* at most AQ_TEMPLATE_SUBJECT_MAX bytes, base64 in folded encoded words */
	ck_assert_uint_lt((size_t)(strstr(subject, "\r\nDate: ") - subject), AQ_TEMPLATE_SUBJECT_MAX * 2);
	for (char *line = mail; *line;) {
		size_t line_len = strcspn(line, "\r");
		ck_assert_uint_le(line_len, 998);
		line += line_len;
		ck_assert_msg(strncmp(line, "\r\n", 2) == 0, "bare CR");
		line += 2;
	}
	free(mail);

	/* a body too long to render: the built-in message, saying why */
	aq_template_unref(ch.template_body);
	ch.template_body = parse_ok("{{message}}{{message}}{{message}}{{message}}{{message}}{{message}}{{message}}"
				    "{{message}}{{message}}{{message}}{{message}}{{message}}{{message}}{{message}}",
				    AQ_TEMPLATE_CHANNEL);
	unsigned long before = aq_template_failure_count();
	mail = aq_format_email(&ch, &n, &len);
	ck_assert_uint_eq(aq_template_failure_count(), before + 1);
	split_mail(mail, &headers, &body);
	ck_assert_ptr_nonnull(strstr(headers, "Subject: [CRITICAL] system.session_rows"));
	ck_assert_msg(strncmp(body, "(template failed: the rendered text is longer than 65536 bytes; built-in "
				    "format follows)\r\nsummary: ",
			      strlen("(template failed: the rendered text is longer than 65536 bytes; built-in "
				     "format follows)\r\nsummary: ")) == 0,
		      "%.300s", body);
	free(mail);
	aq_template_unref(ch.template_subject);
	aq_template_unref(ch.template_body);
	aq_notification_release(&n);
}
END_TEST

START_TEST(test_config_templates_shared_by_rules_file)
{
	static const char base_text[] =
		"channels:\n"
		"  s: {type: webhook, url: http://x, format: slack, template: {text: \"{{check}}!\"}}\n"
		"rules:\n"
		"  - match: \"*\"\n"
		"    annotations: {summary: \"{{check}} at {{value}}\"}\n";
	static const char rules_text[] = "rules:\n  - match: \"db.*\"\n";
	struct aq_config base = { 0 }, rules = { 0 };
	char err[1024];
	ck_assert_msg(aq_config_parse(&base, "b.yaml", base_text, strlen(base_text), err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_ptr_nonnull(base.channels[0].template_text);
	ck_assert_str_eq(aq_template_source(base.channels[0].template_text), "{{check}}!");
	ck_assert_uint_eq(base.rules[0].nannotations, 1);
	ck_assert_str_eq(base.rules[0].annotations[0].key, "summary");
	ck_assert_int_eq(aq_config_parse_rules(&rules, "r.yaml", rules_text, strlen(rules_text), &base, err,
					       sizeof(err)),
			 0);
	aq_config_release(&base);
	/* the copy keeps its own reference */
	ck_assert_str_eq(aq_template_source(rules.channels[0].template_text), "{{check}}!");
	aq_config_release(&rules);
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("language");
	tcase_add_loop_test(tc, test_placeholders, 0, (int)(sizeof(placeholder_cases) / sizeof(placeholder_cases[0])));
	tcase_add_test(tc, test_status_strings);
	tcase_add_loop_test(tc, test_escaping, 0, (int)(sizeof(escape_cases) / sizeof(escape_cases[0])));
	tcase_add_test(tc, test_json_value_null);
	tcase_add_test(tc, test_json_invalid_refused);
	tcase_add_loop_test(tc, test_refused, 0, (int)(sizeof(refused_cases) / sizeof(refused_cases[0])));
	tcase_add_test(tc, test_depth_and_length_refused);
	tcase_add_test(tc, test_output_bounded);
	tcase_add_test(tc, test_annotations_rendered_and_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("formats");
	tcase_add_test(tc, test_slack_builtin_shows_annotations);
	tcase_add_test(tc, test_slack_template);
	tcase_add_test(tc, test_slack_template_fallback_counted);
	tcase_add_test(tc, test_json_template_and_fallback);
	tcase_add_test(tc, test_email_builtin_shows_annotations);
	tcase_add_test(tc, test_email_templates);
	tcase_add_test(tc, test_config_templates_shared_by_rules_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(template_suite());
}
