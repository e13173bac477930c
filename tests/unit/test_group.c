/* test_group.c - grouped delivery without a database: the group_by keys of
 * a channel, a notification's group, what a flush tells, the grouped
 * message and its Slack, email and syslog text, and replay's counting */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "alertq/group.h"
#include "alertq/replay.h"
#include "unit.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define T0 1764262800000LL

static const char *const CHANNELS = "channels:\n"
				    "  plain: { type: logfile }\n"
				    "  grouped:\n"
				    "    type: logfile\n"
				    "    group_by: [team, site]\n"
				    "    group_wait: 10s\n"
				    "    group_interval: 5m\n"
				    "    max_alerts: 3\n"
				    "  bycheck: { type: logfile, group_by: [check] }\n"
				    "  defaults: { type: logfile, group_by: [team] }\n"
				    "  whole: { type: logfile, group_by: [] }\n";

static void parse(struct aq_config *cfg, const char *text)
{
	char err[2048];
	memset(cfg, 0, sizeof(*cfg));
	ck_assert_msg(aq_config_parse(cfg, "t.yaml", text, strlen(text), err, sizeof(err)) == 0, "%s", err);
}

START_TEST(channel_keys_and_defaults)
{
	struct aq_config cfg;
	parse(&cfg, CHANNELS);
	const struct aq_channel *plain = aq_config_channel(&cfg, "plain");
	const struct aq_channel *g = aq_config_channel(&cfg, "grouped");
	const struct aq_channel *d = aq_config_channel(&cfg, "defaults");
	ck_assert_int_eq(plain->grouped, 0);
	ck_assert_int_eq(g->grouped, 1);
	ck_assert_uint_eq(g->ngroup_by, 2);
	ck_assert_str_eq(g->group_by[0], "team");
	ck_assert_str_eq(g->group_by[1], "site");
	ck_assert_int_eq(g->group_wait_ms, 10 * SEC);
	ck_assert_int_eq(g->group_interval_ms, 5 * MIN);
	ck_assert_int_eq(g->max_alerts, 3);
	ck_assert_int_eq(d->group_wait_ms, 30 * SEC);
	ck_assert_int_eq(d->group_interval_ms, 5 * MIN);
	ck_assert_int_eq(d->max_alerts, 20);
	/* group_by: [] is one group for the whole channel */
	const struct aq_channel *whole = aq_config_channel(&cfg, "whole");
	ck_assert_int_eq(whole->grouped, 1);
	ck_assert_uint_eq(whole->ngroup_by, 0);
	struct aq_label labels[] = { { "team", "db" } };
	char *key, *named;
	ck_assert_int_eq(aq_group_of(whole, "disk", labels, 1, &key, &named), 0);
	ck_assert_str_eq(key, "[]");
	char *title = aq_group_title(named);
	ck_assert_str_eq(title, "all");
	free(title);
	free(key);
	free(named);
	aq_config_release(&cfg);
}
END_TEST

/* Each snippet and the one problem it must produce. */
static const struct {
	const char *text;
	const char *problem;
} BAD[] = {
	{ "channels:\n  c: { type: logfile, group_by: [team], max_alerts: 0 }\n",
	  "t.yaml:2: 'max_alerts' must be a whole number from 1 to 1000, not '0'" },
	{ "channels:\n  c: { type: logfile, group_by: [team], max_alerts: 1001 }\n",
	  "t.yaml:2: 'max_alerts' must be a whole number from 1 to 1000, not '1001'" },
	{ "channels:\n  c:\n    type: logfile\n    group_by: [team]\n    group_interval: 0s\n",
	  "t.yaml:5: 'group_interval' must be longer than 0" },
	{ "channels:\n  c:\n    type: logfile\n    group_by: [team]\n    group_wait: soon\n",
	  "t.yaml:5: 'group_wait':" },
	{ "channels:\n  c:\n    type: logfile\n    group_wait: 10s\n",
	  "t.yaml:4: 'group_wait', 'group_interval' and 'max_alerts' in channel 'c' need 'group_by'" },
	{ "channels:\n  c:\n    type: logfile\n    group_by: [team, site, team]\n",
	  "t.yaml:4: label 'team' twice in 'group_by' of channel 'c'" },
	{ "channels:\n  c:\n    type: logfile\n    group_by: [team, \"\"]\n",
	  "t.yaml:4: each label in 'group_by' must not be empty" },
	{ "channels:\n  c:\n    type: logfile\n    group_by: { team: 1 }\n", "t.yaml:4: " },
};

START_TEST(bad_grouping_is_refused_with_its_line)
{
	struct aq_config cfg;
	char err[2048];
	memset(&cfg, 0, sizeof(cfg));
	const char *text = BAD[_i].text;
	int rc = aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err));
	ck_assert_msg(rc == -1, "accepted:\n%s", text);
	ck_assert_msg(strncmp(err, BAD[_i].problem, strlen(BAD[_i].problem)) == 0, "got '%s', want '%s'", err,
		      BAD[_i].problem);
}
END_TEST

START_TEST(group_key_from_labels)
{
	struct aq_config cfg;
	parse(&cfg, CHANNELS);
	struct aq_label labels[] = { { "site", "par1" }, { "team", "db" }, { "env", "prod" } };
	char *key, *named;
	ck_assert_int_eq(aq_group_of(aq_config_channel(&cfg, "grouped"), "disk", labels, 3, &key, &named), 0);
	ck_assert_str_eq(key, "[\"db\",\"par1\"]");
	ck_assert_str_eq(named, "{\"team\":\"db\",\"site\":\"par1\"}");
	char *title = aq_group_title(named);
	ck_assert_str_eq(title, "team=db site=par1");
	free(title);
	free(key);
	free(named);
	/* an absent label is "": its group differs from any value's */
	ck_assert_int_eq(aq_group_of(aq_config_channel(&cfg, "grouped"), "disk", labels + 1, 1, &key, &named), 0);
	ck_assert_str_eq(key, "[\"db\",\"\"]");
	free(key);
	free(named);
	/* values that would run together in a plain join stay apart */
	struct aq_label a[] = { { "team", "a,b" }, { "site", "c" } };
	struct aq_label b[] = { { "team", "a" }, { "site", "b,c" } };
	char *ka, *kb;
	ck_assert_int_eq(aq_group_of(aq_config_channel(&cfg, "grouped"), "x", a, 2, &ka, &named), 0);
	free(named);
	ck_assert_int_eq(aq_group_of(aq_config_channel(&cfg, "grouped"), "x", b, 2, &kb, &named), 0);
	free(named);
	ck_assert_str_ne(ka, kb);
	free(ka);
	free(kb);
	/* "check" is the check's name */
	ck_assert_int_eq(aq_group_of(aq_config_channel(&cfg, "bycheck"), "disk", labels, 3, &key, &named), 0);
	ck_assert_str_eq(key, "[\"disk\"]");
	free(key);
	free(named);
	aq_config_release(&cfg);
}
END_TEST

/* A notification object for check, firing at severity (or resolved),
 * observed at observed_ms, since T0. */
static char *payload_at(const char *check, const char *severity, const char *previous, int resolved,
			int64_t observed_ms)
{
	struct aq_notification n;
	memset(&n, 0, sizeof(n));
	strcpy(n.notification_id, "11111111-1111-4111-8111-111111111111");
	n.check = (char *)check;
	n.resolved = resolved;
	n.severity = aq_status_parse(severity);
	n.previous_severity = aq_status_parse(previous);
	n.message = (char *)"m";
	n.has_value = 1;
	n.value = 95;
	n.observed_at_ms = observed_ms;
	n.since_ms = T0;
	return aq_notification_to_json(&n);
}

/* The same, told when it began (observed at T0). */
static char *payload(const char *check, const char *severity, const char *previous, int resolved)
{
	return payload_at(check, severity, previous, resolved, T0);
}

START_TEST(a_flush_lists_what_changed_once)
{
	/* told before: old (still firing, no change), gone (resolves now);
	 * new: a, b (fires twice: listed once, its latest), blip (fires and
	 * resolves unseen) */
	struct aq_group_member m[] = {
		{ .check = "b", .resolved = 0 },
		{ .check = "a", .resolved = 0 },
		{ .check = "blip", .resolved = 0 },
		{ .check = "gone", .resolved = 1 },
		{ .check = "b", .resolved = 0 },
		{ .check = "blip", .resolved = 1 },
	};
	struct aq_group_alert al[] = {
		{ .check = "a", .firing = 1 },
		{ .check = "b", .firing = 1 },
		{ .check = "blip", .firing = 0 },
		{ .check = "gone", .firing = 0, .told = 1 },
		{ .check = "old", .firing = 1, .told = 1 },
	};
	struct aq_group_flush f;
	ck_assert_int_eq(aq_group_decide(m, 6, al, 5, 20, &f), 0);
	ck_assert_int_eq(m[0].fate, AQ_MEMBER_SUPERSEDED);
	ck_assert_int_eq(m[1].fate, AQ_MEMBER_LISTED);
	ck_assert_int_eq(m[2].fate, AQ_MEMBER_COLLAPSED);
	ck_assert_int_eq(m[3].fate, AQ_MEMBER_LISTED);
	ck_assert_int_eq(m[4].fate, AQ_MEMBER_LISTED);
	ck_assert_int_eq(m[5].fate, AQ_MEMBER_COLLAPSED);
	ck_assert_uint_eq(f.listed, 3);
	ck_assert_uint_eq(f.collapsed, 2);
	ck_assert_uint_eq(f.firing, 3); /* a, b and old, which is not listed */
	ck_assert_uint_eq(f.resolved, 1);
	ck_assert_uint_eq(f.truncated, 0);
	ck_assert_int_eq(f.send, 1);
	/* what the group knows after */
	ck_assert_int_eq(al[0].told, 1);
	ck_assert_int_eq(al[1].told, 1);
	ck_assert_int_eq(al[2].gone, 1);
	ck_assert_int_eq(al[3].gone, 1);
	ck_assert_int_eq(al[4].gone, 0);
	ck_assert_int_eq(al[4].told, 1);
}
END_TEST

START_TEST(only_a_collapse_sends_nothing)
{
	struct aq_group_member m[] = { { .check = "blip", .resolved = 0 }, { .check = "blip", .resolved = 1 } };
	struct aq_group_alert al[] = { { .check = "blip", .firing = 0 } };
	struct aq_group_flush f;
	ck_assert_int_eq(aq_group_decide(m, 2, al, 1, 20, &f), 0);
	ck_assert_int_eq(f.send, 0);
	ck_assert_uint_eq(f.collapsed, 2);
	ck_assert_int_eq(al[0].gone, 1);
	/* told firing before: the resolve is sent */
	al[0].told = 1;
	struct aq_group_member r[] = { { .check = "blip", .resolved = 1 } };
	ck_assert_int_eq(aq_group_decide(r, 1, al, 1, 20, &f), 0);
	ck_assert_int_eq(f.send, 1);
	ck_assert_int_eq(r[0].fate, AQ_MEMBER_LISTED);
	ck_assert_uint_eq(f.resolved, 1);
	ck_assert_uint_eq(f.firing, 0);
}
END_TEST

START_TEST(max_alerts_lists_some_and_counts_the_rest)
{
	char names[10][8];
	struct aq_group_member m[10];
	struct aq_group_alert al[10];
	char *payloads[10];
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", 9 - i);
		payloads[i] = payload(names[i], "CRITICAL", "OK", 0);
		m[i] = (struct aq_group_member){ .check = names[i], .payload = payloads[i] };
		al[i] = (struct aq_group_alert){ .check = names[i], .firing = 1 };
	}
	struct aq_group_flush f;
	ck_assert_int_eq(aq_group_decide(m, 10, al, 10, 3, &f), 0);
	ck_assert_uint_eq(f.listed, 3);
	ck_assert_uint_eq(f.truncated, 7);
	ck_assert_uint_eq(f.firing, 10);
	char *json = aq_group_message_json("22222222-2222-4222-8222-222222222222", "ops", "{\"team\":\"db\"}", m, 10,
					   &f);
	ck_assert_ptr_nonnull(json);
	json_t *root = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "notification_id")),
			 "22222222-2222-4222-8222-222222222222");
	ck_assert_str_eq(json_string_value(json_object_get(root, "channel")), "ops");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "group"), "team")), "db");
	ck_assert_int_eq(json_integer_value(json_object_get(root, "firing")), 10);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "resolved")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "truncated")), 7);
	json_t *alerts = json_object_get(root, "alerts");
	ck_assert_uint_eq(json_array_size(alerts), 3);
	/* by check name: c0, c1, c2 */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(alerts, 0), "check")), "c0");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(alerts, 2), "check")), "c2");
	ck_assert_uint_eq(json_object_size(root), 7);
	json_decref(root);
	free(json);
	for (int i = 0; i < 10; i++)
		free(payloads[i]);
}
END_TEST

/* A grouped message of three alerts whose text tries Slack's markup, a
 * mail header and a line break. */
static char *hostile_message(void)
{
	/* db.repeat: a repeat of an alert told before (from OK, observed later than since) */
	char *p[4] = { payload("db.<!channel>", "CRITICAL", "OK", 0), payload("db.b&c", "WARNING", "CRITICAL", 0),
		       payload("db.old", "CRITICAL", "CRITICAL", 1),
		       payload_at("db.repeat", "CRITICAL", "OK", 0, T0 + 3600 * SEC) };
	struct aq_group_member m[4] = {
		{ .check = "db.<!channel>", .payload = p[0] },
		{ .check = "db.b&c", .payload = p[1] },
		{ .check = "db.old", .resolved = 1, .payload = p[2] },
		{ .check = "db.repeat", .payload = p[3] },
	};
	struct aq_group_alert al[4] = { { .check = "db.<!channel>", .firing = 1 },
					{ .check = "db.b&c", .firing = 1, .told = 1 },
					{ .check = "db.old", .firing = 0, .told = 1 },
					{ .check = "db.repeat", .firing = 1, .told = 1 } };
	struct aq_group_flush f;
	ck_assert_int_eq(aq_group_decide(m, 4, al, 4, 20, &f), 0);
	ck_assert_uint_eq(f.firing, 3);
	ck_assert_uint_eq(f.resolved, 1);
	char *json = aq_group_message_json("33333333-3333-4333-8333-333333333333", "ops",
					   "{\"team\":\"<db>\",\"site\":\"p\\u00e4r\\nis\"}", m, 4, &f);
	for (int i = 0; i < 4; i++)
		free(p[i]);
	ck_assert_ptr_nonnull(json);
	return json;
}

START_TEST(slack_text_of_a_group)
{
	char *json = hostile_message();
	char *body = aq_group_format_slack(NULL, json);
	ck_assert_ptr_nonnull(body);
	json_t *root = json_loads(body, 0, NULL);
	const char *text = json_string_value(json_object_get(root, "text"));
	const char *title = "[FIRING:3 RESOLVED:1] team=&lt;db&gt; site=p\xc3\xa4r is\nNew:\n";
	ck_assert_msg(strncmp(text, title, strlen(title)) == 0, "%s", text);
	ck_assert_ptr_null(strstr(text, "<!channel>"));
	ck_assert_ptr_nonnull(strstr(text, "db.&lt;!channel&gt;"));
	ck_assert_ptr_nonnull(strstr(text, "db.b&amp;c"));
	/* new, then still firing, then resolved */
	const char *n = strstr(text, "\nNew:\n"), *s = strstr(text, "\nStill firing:\n"), *r = strstr(text, "\nResolved:\n");
	ck_assert_msg(n && s && r && n < s && s < r, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "[RESOLVED] db.old resolved"));
	const char *repeat = strstr(text, "db.repeat firing");
	ck_assert_msg(repeat && repeat > s && repeat < r, "the repeat is not under Still firing: %s", text);
	json_decref(root);
	free(body);
	free(json);
}
END_TEST

/* A Slack channel's template writes each alert's line of its grouped
 * messages, its values escaped as in a single message. */
START_TEST(slack_lines_of_a_group_follow_the_template)
{
	struct aq_config cfg;
	parse(&cfg, "channels:\n  s: { type: webhook, url: \"http://127.0.0.1:1/\", format: slack, group_by: [team],"
		    " template: { text: \"{{severity}} *{{check}}* <https://runbooks.example/{{check}}|runbook>\" } }\n");
	char *json = hostile_message();
	char *body = aq_group_format_slack(aq_config_channel(&cfg, "s"), json);
	ck_assert_ptr_nonnull(body);
	json_t *root = json_loads(body, 0, NULL);
	const char *text = json_string_value(json_object_get(root, "text"));
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "\xe2\x80\xa2 CRITICAL *db.&lt;!channel&gt;* <https://runbooks.example/db.&lt;!channel&gt;|runbook>"),
		      "%s", text);
	ck_assert_msg(strstr(text, "\xe2\x80\xa2 WARNING *db.b&amp;c* <https://runbooks.example/db.b&amp;c|runbook>"), "%s",
		      text);
	ck_assert_ptr_null(strstr(text, "<!channel>"));
	json_decref(root);
	free(body);
	free(json);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(email_of_a_group)
{
	struct aq_config cfg;
	parse(&cfg, "channels:\n  mail: { type: email, url: \"smtp://127.0.0.1:1\", from: a@b.example, to: [c@d.example],"
		    " group_by: [team, site] }\n");
	char *json = hostile_message();
	size_t len;
	char *mail = aq_group_format_email(aq_config_channel(&cfg, "mail"), json, &len);
	ck_assert_ptr_nonnull(mail);
	ck_assert_uint_eq(len, strlen(mail));
	/* the title has a non-ASCII letter: encoded words, no raw line break */
	const char *subject = strstr(mail, "\r\nSubject: [FIRING:3 RESOLVED:1] =?UTF-8?B?");
	ck_assert_msg(subject != NULL, "%s", mail);
	ck_assert_ptr_nonnull(strstr(mail, "Message-ID: <33333333-3333-4333-8333-333333333333@alertq>"));
	ck_assert_msg(strstr(mail, "\r\n- [CRITICAL] db.<!channel> firing") != NULL, "%s", mail);
	ck_assert_ptr_nonnull(strstr(mail, "\r\nResolved:\r\n- [RESOLVED] db.old"));
	/* every line ends CRLF and is within SMTP's 998 bytes */
	for (const char *p = mail; *p;) {
		const char *end = strstr(p, "\r\n");
		ck_assert_ptr_nonnull(end);
		ck_assert_uint_le((size_t)(end - p), 998);
		ck_assert_ptr_null(memchr(p, '\n', (size_t)(end - p)));
		p = end + 2;
	}
	free(mail);
	free(json);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(a_huge_group_stays_within_the_caps)
{
	enum {
		N = 1000
	};
	static char names[N][300];
	static struct aq_group_member m[N];
	static struct aq_group_alert al[N];
	static char *p[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "%04d.%0250d", i, 0);
		p[i] = payload(names[i], "CRITICAL", "OK", 0);
		m[i] = (struct aq_group_member){ .check = names[i], .payload = p[i] };
		al[i] = (struct aq_group_alert){ .check = names[i], .firing = 1 };
	}
	struct aq_group_flush f;
	ck_assert_int_eq(aq_group_decide(m, N, al, N, 1000, &f), 0);
	char *json = aq_group_message_json("44444444-4444-4444-8444-444444444444", "ops", "{}", m, N, &f);
	ck_assert_ptr_nonnull(json);
	char *body = aq_group_format_slack(NULL, json);
	ck_assert_ptr_nonnull(body);
	ck_assert_uint_le(strlen(body), 40 * 1024);
	ck_assert_ptr_nonnull(strstr(body, " more\"}"));
	free(body);
	struct aq_config cfg;
	parse(&cfg, "channels:\n  mail: { type: email, url: \"smtp://127.0.0.1:1\", from: a@b.example, to: [c@d.example],"
		    " group_by: [team] }\n");
	size_t len;
	char *mail = aq_group_format_email(aq_config_channel(&cfg, "mail"), json, &len);
	ck_assert_ptr_nonnull(mail);
	ck_assert_uint_le(len, 128 * 1024);
	ck_assert_ptr_nonnull(strstr(mail, " more"));
	ck_assert_ptr_nonnull(strstr(mail, "Subject: [FIRING:1000 RESOLVED:0] all\r\n"));
	free(mail);
	int priority;
	char *line = aq_group_format_syslog(json, &priority);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_le(strlen(line), 1024);
	ck_assert_int_eq(priority, LOG_CRIT);
	ck_assert_ptr_nonnull(strstr(line, " more"));
	free(line);
	free(json);
	for (int i = 0; i < N; i++)
		free(p[i]);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(a_grouped_payload_is_recognised)
{
	char *json = hostile_message();
	struct aq_notification n;
	char err[128];
	ck_assert_int_eq(aq_group_note_read(&n, json, err, sizeof(err)), 1);
	ck_assert_str_eq(n.notification_id, "33333333-3333-4333-8333-333333333333");
	ck_assert_ptr_eq(n.group_payload, json);
	ck_assert_str_eq(n.check, "team=<db> site=p\xc3\xa4r is");
	aq_notification_release(&n);
	char *single = payload("x", "CRITICAL", "OK", 0);
	ck_assert_int_eq(aq_group_note_read(&n, single, err, sizeof(err)), 0);
	ck_assert_int_eq(aq_group_note_read(&n, "{\"alerts\": 3}", err, sizeof(err)), -1);
	free(single);
	free(json);
}
END_TEST

/* --- replay: messages, not notifications, for a grouped channel --- */

static const char *const REPLAY = "rules:\n"
				  "  - match: \"*\"\n"
				  "    critical: \"> 90\"\n"
				  "    escalation: page\n"
				  "escalations:\n"
				  "  page:\n"
				  "    CRITICAL: { levels: [ { after: 0s, notify: [log, grouped] } ] }\n"
				  "    resolved: true\n"
				  "channels:\n"
				  "  log: { type: logfile }\n"
				  "  grouped: { type: logfile, group_by: [site], group_wait: 30s, group_interval: 5m }\n";

static void apply(aq_replay_eval_t *ev, const char *check, const char *site, double value, int64_t at)
{
	struct aq_result r;
	struct aq_label label = { (char *)"site", (char *)site };
	char err[256];
	memset(&r, 0, sizeof(r));
	r.check = (char *)check;
	r.has_value = 1;
	r.value = value;
	r.status = AQ_STATUS_NONE;
	r.message = (char *)"m";
	r.labels = &label;
	r.nlabels = 1;
	r.observed_at_ms = at;
	ck_assert_msg(aq_replay_eval_apply(ev, &r, err, sizeof(err)) == 0, "%s", err);
}

static long count(const aq_replay_eval_t *ev, const char *channel)
{
	for (size_t i = 0; i < aq_replay_eval_channels(ev); i++) {
		const char *name;
		long n = aq_replay_eval_channel(ev, i, &name);
		if (strcmp(name, channel) == 0)
			return n;
	}
	return -1;
}

START_TEST(replay_counts_grouped_messages)
{
	struct aq_config cfg;
	parse(&cfg, REPLAY);
	aq_replay_eval_t *ev = aq_replay_eval_new(&cfg, NULL, NULL);
	char name[32];
	/* 300 checks in 3 sites fire within 2 s: 3 messages */
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "c%03d", i);
		apply(ev, name, i % 3 == 0 ? "par1" : i % 3 == 1 ? "ams1"
								 : "fra1",
		      95, T0 + i * 6);
	}
	/* an alert that fires and resolves inside group_wait, alone in its site */
	apply(ev, "blip", "lon1", 95, T0 + 5 * SEC);
	apply(ev, "blip", "lon1", 10, T0 + 10 * SEC);
	/* one more in par1 after the first message: it waits for group_interval */
	apply(ev, "late", "par1", 95, T0 + 1 * MIN);
	/* all of ams1 resolves: sent at once, not after group_interval */
	for (int i = 1; i < 300; i += 3) {
		snprintf(name, sizeof(name), "c%03d", i);
		apply(ev, name, "ams1", 10, T0 + 2 * MIN);
	}
	ck_assert_int_eq(count(ev, "log"), 300 + 2 + 1 + 100);
	/* 3 firing, ams1 resolved; par1's late one is still waiting at the end
	 * and counts as sent */
	ck_assert_int_eq(count(ev, "grouped"), 3 + 1 + 1);
	aq_replay_eval_free(ev);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(replay_resolve_waits_while_the_group_still_fires)
{
	struct aq_config cfg;
	parse(&cfg, REPLAY);
	aq_replay_eval_t *ev = aq_replay_eval_new(&cfg, NULL, NULL);
	apply(ev, "a", "par1", 95, T0);
	apply(ev, "b", "par1", 95, T0 + SEC);
	/* message 1 at T0 + 30s; a resolves at 1m: b still fires, so the
	 * resolve waits until T0 + 30s + 5m; b resolves at 2m: the whole group
	 * is clear and both go at once, one message */
	apply(ev, "a", "par1", 10, T0 + 1 * MIN);
	apply(ev, "b", "par1", 10, T0 + 2 * MIN);
	apply(ev, "c", "ams1", 95, T0 + 3 * MIN);
	apply(ev, "c", "ams1", 95, T0 + 3 * MIN + 40 * SEC);
	ck_assert_int_eq(count(ev, "grouped"), 3);
	aq_replay_eval_free(ev);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(replay_a_cleared_group_sends_at_once)
{
	struct aq_config cfg;
	parse(&cfg, REPLAY);
	aq_replay_eval_t *ev = aq_replay_eval_new(&cfg, NULL, NULL);
	/* message 1 at 30s; the resolve at 1m clears the group: message 2 then,
	 * not at 5m30s; firing again at 2m is a new group: message 3 at 2m30s */
	apply(ev, "a", "par1", 95, T0);
	apply(ev, "a", "par1", 10, T0 + 1 * MIN);
	apply(ev, "a", "par1", 95, T0 + 2 * MIN);
	apply(ev, "b", "ams1", 10, T0 + 3 * MIN);
	ck_assert_int_eq(count(ev, "grouped"), 3);
	aq_replay_eval_free(ev);
	aq_config_release(&cfg);
}
END_TEST

static Suite *group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, channel_keys_and_defaults);
	tcase_add_loop_test(tc, bad_grouping_is_refused_with_its_line, 0, (int)(sizeof(BAD) / sizeof(BAD[0])));
	tcase_add_test(tc, group_key_from_labels);
	tcase_add_test(tc, a_flush_lists_what_changed_once);
	tcase_add_test(tc, only_a_collapse_sends_nothing);
	tcase_add_test(tc, max_alerts_lists_some_and_counts_the_rest);
	tcase_add_test(tc, slack_text_of_a_group);
	tcase_add_test(tc, email_of_a_group);
	tcase_add_test(tc, a_huge_group_stays_within_the_caps);
	tcase_add_test(tc, a_grouped_payload_is_recognised);
	tcase_add_test(tc, slack_lines_of_a_group_follow_the_template);
	tcase_add_test(tc, replay_counts_grouped_messages);
	tcase_add_test(tc, replay_resolve_waits_while_the_group_still_fires);
	tcase_add_test(tc, replay_a_cleared_group_sends_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(group_suite());
}
