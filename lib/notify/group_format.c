/* group_format.c - a grouped message written for each sink: recognised in
 * the outbox, its title, the Slack text, the email and the syslog line */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "alertq/event.h"
#include "alertq/group.h"
#include "base/buf.h"
#include "base/utf8.h"
#include "notify/format.h"

/* Most of a group label key or value the title shows. */
#define TITLE_PART_MAX 128
/* The title as a whole. */
#define TITLE_MAX 1024
/* Slack's text, escaped; Slack itself cuts a message near 40,000 characters. */
#define SLACK_GROUP_TEXT_MAX (38 * 1024)
/* The email body before it is written as lines (the message cap applies after). */
#define EMAIL_BODY_MAX (120 * 1024)
/* A syslog line. */
#define SYSLOG_LINE_MAX 1024
/* Room kept for the closing "+N more" line. */
#define MORE_ROOM 64

int aq_group_note_read(struct aq_notification *n, const char *payload, char *err, size_t errlen)
{
	/* the common case, a single notification, is not parsed twice */
	if (!strstr(payload, "\"alerts\""))
		return 0;
	json_t *root = json_loads(payload, 0, NULL);
	if (!json_is_object(root) || !json_object_get(root, "alerts")) {
		json_decref(root);
		return 0;
	}
	json_t *id = json_object_get(root, "notification_id");
	json_t *group = json_object_get(root, "group");
	if (!json_is_array(json_object_get(root, "alerts")) || !json_is_string(id) ||
	    strlen(json_string_value(id)) != 36 || !json_is_object(group)) {
		snprintf(err, errlen, "a grouped message without its notification_id, group or alerts");
		json_decref(root);
		return -1;
	}
	char *labels = json_dumps(group, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *title = labels ? aq_group_title(labels) : NULL;
	free(labels);
	if (!title) {
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -1;
	}
	memset(n, 0, sizeof(*n));
	snprintf(n->notification_id, sizeof(n->notification_id), "%s", json_string_value(id));
	n->check = title;
	n->resolved = json_integer_value(json_object_get(root, "firing")) == 0;
	n->group_payload = payload;
	json_decref(root);
	return 1;
}

char *aq_group_title(const char *labels_json)
{
	json_t *labels = json_loads(labels_json, 0, NULL);
	if (!json_is_object(labels)) {
		json_decref(labels);
		return NULL;
	}
	struct aq_buf b;
	aq_buf_init(&b, TITLE_MAX);
	const char *key;
	json_t *value;
	json_object_foreach(labels, key, value)
	{
		char k[TITLE_PART_MAX], v[TITLE_PART_MAX];
		const char *text = json_is_string(value) ? json_string_value(value) : "";
		aq_text_clean_into(k, sizeof(k), key, strlen(key), AQ_TEXT_SPACES);
		aq_text_clean_into(v, sizeof(v), text, strlen(text), AQ_TEXT_SPACES);
		if (b.len + strlen(k) + strlen(v) + 2 >= TITLE_MAX)
			break;
		aq_buf_printf(&b, "%s%s=%s", b.len ? " " : "", k, v);
	}
	if (b.len == 0)
		aq_buf_puts(&b, "all");
	json_decref(labels);
	return aq_buf_take(&b);
}

/* A grouped message read for writing: its title, tag and alerts. */
struct grouped {
	json_t *root;
	json_t *alerts;
	char *title;
	char tag[64]; /* "[FIRING:3 RESOLVED:1]" */
	long long truncated;
};

static void grouped_release(struct grouped *g)
{
	json_decref(g->root);
	free(g->title);
}

/* Reads group_json into g. Returns 0, or -1 (g released) when it is not a
 * grouped message or memory runs out. */
static int grouped_read(struct grouped *g, const char *group_json)
{
	memset(g, 0, sizeof(*g));
	g->root = json_loads(group_json, 0, NULL);
	g->alerts = json_object_get(g->root, "alerts");
	json_t *group = json_object_get(g->root, "group");
	if (!json_is_array(g->alerts) || !json_is_object(group))
		goto fail;
	char *labels = json_dumps(group, JSON_COMPACT | JSON_PRESERVE_ORDER);
	g->title = labels ? aq_group_title(labels) : NULL;
	free(labels);
	if (!g->title)
		goto fail;
	snprintf(g->tag, sizeof(g->tag), "[FIRING:%lld RESOLVED:%lld]",
		 (long long)json_integer_value(json_object_get(g->root, "firing")),
		 (long long)json_integer_value(json_object_get(g->root, "resolved")));
	g->truncated = (long long)json_integer_value(json_object_get(g->root, "truncated"));
	return 0;
fail:
	grouped_release(g);
	return -1;
}

/* The kind of change an alert of the message is: 0 new (it has just
 * started firing: from OK, told at the moment it began), 1 still firing (at
 * another severity, an escalation or a repeat), 2 resolved. */
static int change_of(const struct aq_notification *n)
{
	if (n->resolved)
		return 2;
	return n->previous_severity == AQ_OK && n->observed_at_ms == n->since_ms ? 0 : 1;
}

static const char *const change_heading[] = { "New", "Still firing", "Resolved" };

/* Reads the i-th alert of g into n (released by the caller). Returns 0 or -1. */
static int alert_at(const struct grouped *g, size_t i, struct aq_notification *n)
{
	char perr[128];
	char *text = json_dumps(json_array_get(g->alerts, i), JSON_COMPACT);
	int rc = text ? aq_notification_from_json(n, text, perr, sizeof(perr)) : -1;
	free(text);
	return rc;
}

/* Adds one alert's line, escaped already for where it lands (and its
 * heading, first time): 0, or -1 when it would not leave room for the
 * closing line (nothing added). */
static int add_alert_line(struct aq_buf *b, const char *line, const char *heading_text, int *heading,
			  const char *bullet)
{
	size_t need = strlen(line) + 64 + MORE_ROOM;
	if (b->len + need > b->max)
		return -1;
	if (!*heading) {
		aq_buf_printf(b, "\n%s:", heading_text);
		*heading = 1;
	}
	aq_buf_printf(b, "\n%s", bullet);
	aq_buf_puts(b, line);
	return 0;
}

/* Writes the lines of g into b: a heading per kind of change, each alert's
 * summary on a line of its own (prefixed bullet), and a last line counting
 * what was left out (truncated, or what did not fit b). slack: a Slack
 * message, whose lines are aq_format_slack_line's for ch (its template when
 * it has one, Slack-escaped); else plain summaries. */
static void add_alert_lines(struct aq_buf *b, const struct grouped *g, const char *bullet, int slack,
			    const struct aq_channel *ch)
{
	size_t n = json_array_size(g->alerts);
	long long more = g->truncated;
	int full = 0;
	/* one pass per kind of change, so each heading comes once */
	for (int change = 0; change < 3; change++) {
		int heading = 0;
		for (size_t i = 0; i < n; i++) {
			struct aq_notification note;
			if (alert_at(g, i, &note) != 0) {
				more += change == 0;
				continue;
			}
			int kind = change_of(&note);
			char *summary = NULL;
			if (kind == change && !full)
				summary = slack ? aq_format_slack_line(ch, &note)
						: aq_notification_summary(&note);
			aq_notification_release(&note);
			if (kind != change)
				continue;
			if (full) {
				more++;
				continue;
			}
			if (!summary) {
				b->failed = 1;
				return;
			}
			if (add_alert_line(b, summary, change_heading[change], &heading, bullet) != 0) {
				full = 1;
				more++;
			}
			free(summary);
		}
	}
	if (more > 0)
		aq_buf_printf(b, "\n+%lld more", more);
}

char *aq_group_format_slack(const struct aq_channel *ch, const char *group_json)
{
	struct grouped g;
	if (grouped_read(&g, group_json) != 0)
		return NULL;
	struct aq_buf text;
	aq_buf_init(&text, SLACK_GROUP_TEXT_MAX);
	aq_buf_printf(&text, "%s ", g.tag);
	aq_slack_escape(&text, g.title);
	add_alert_lines(&text, &g, "\xe2\x80\xa2 ", 1, ch);
	grouped_release(&g);
	char *escaped = aq_buf_take(&text);
	if (!escaped)
		return NULL;
	char *body = NULL;
	json_t *root = json_pack("{s:s}", "text", escaped);
	if (root)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	free(escaped);
	return body;
}

char *aq_group_format_email(const struct aq_channel *ch, const char *group_json, size_t *len)
{
	struct grouped g;
	*len = 0;
	if (grouped_read(&g, group_json) != 0)
		return NULL;
	struct aq_buf body;
	aq_buf_init(&body, EMAIL_BODY_MAX);
	aq_buf_printf(&body, "%s %s", g.tag, g.title);
	add_alert_lines(&body, &g, "- ", 0, NULL);
	const char *id = json_string_value(json_object_get(g.root, "notification_id"));
	aq_buf_printf(&body, "\n\ngroup: %s\nnotification_id: %s", g.title, id ? id : "");
	char *text = aq_buf_take(&body);
	char *message = text ? aq_format_email_text(ch, id ? id : "", g.tag, g.title, text, len) : NULL;
	free(text);
	grouped_release(&g);
	return message;
}

char *aq_group_format_syslog(const char *group_json, int *priority)
{
	struct grouped g;
	if (grouped_read(&g, group_json) != 0)
		return NULL;
	*priority = json_integer_value(json_object_get(g.root, "firing")) > 0 ? LOG_WARNING : LOG_NOTICE;
	struct aq_buf line;
	aq_buf_init(&line, SYSLOG_LINE_MAX);
	aq_buf_printf(&line, "%s %s:", g.tag, g.title);
	size_t n = json_array_size(g.alerts);
	long long more = g.truncated;
	for (size_t i = 0; i < n; i++) {
		struct aq_notification note;
		if (alert_at(&g, i, &note) != 0) {
			more++;
			continue;
		}
		if (!note.resolved && note.severity == AQ_CRITICAL)
			*priority = LOG_CRIT;
		char check[TITLE_PART_MAX];
		aq_text_clean_into(check, sizeof(check), note.check, strlen(note.check), AQ_TEXT_SPACES);
		const char *tag = note.resolved ? "RESOLVED" : aq_severity_name(note.severity);
		if (line.len + strlen(check) + strlen(tag) + 4 + MORE_ROOM > SYSLOG_LINE_MAX)
			more++;
		else
			aq_buf_printf(&line, " %s %s%s", tag, check, i + 1 < n ? "," : "");
		aq_notification_release(&note);
	}
	if (more > 0)
		aq_buf_printf(&line, " +%lld more", more);
	grouped_release(&g);
	return aq_buf_take(&line);
}
