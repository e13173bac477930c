/* format.h - a notification written for each sink that is not plain JSON:
 * the Slack request body and the email message */
#ifndef ALERTQ_NOTIFY_FORMAT_H
#define ALERTQ_NOTIFY_FORMAT_H

#include <stddef.h>

#include "alertq/event.h"
#include "alertq/notify.h"
#include "base/buf.h"

/* Writes a value with the fewest significant digits that read back as the
 * same double ("120000", "0.1"). Defined in notification.c. */
void aq_format_value(double v, char *buf, size_t buflen);

/* The built-in Slack request body for n ({"text": ...}: the annotation
 * summary, the one-line summary, other annotations, the runbook last), in a
 * new string the caller frees; NULL when memory runs out. */
char *aq_format_slack(const struct aq_notification *n);

/* Appends s to b with Slack's text escapes (&amp; &lt; &gt;), so event data
 * can never mention @channel or forge a link. */
void aq_slack_escape(struct aq_buf *b, const char *s);

/* The request body of a webhook channel for n: its template's (slack
 * template.text, json template.body) when it has one, else the built-in
 * format. A template that fails to render gives the built-in format with a
 * line saying why (json: a "template_failed" member), counted and logged.
 * New string the caller frees; NULL when memory runs out. */
char *aq_format_webhook(const struct aq_channel *ch, const struct aq_notification *n);

/* The whole mail message for n as ch sends it (headers, blank line, body;
 * template.subject and template.body when ch has them, with the fallback of
 * aq_format_webhook),
 * in a new string the caller frees, its length in *len; NULL when it cannot
 * be written (memory). */
char *aq_format_email(const struct aq_channel *ch, const struct aq_notification *n, size_t *len);

/* One alert's line of a grouped Slack message, Slack-escaped: ch's
 * template.text rendered for n when ch has one (a failure counted and
 * logged like aq_format_webhook's, the line then starting with the note),
 * else n's one-line summary. New string the caller frees; NULL when memory
 * runs out. */
char *aq_format_slack_line(const struct aq_channel *ch, const struct aq_notification *n);

/* For grouped messages (group_format.c): writes a whole mail message for ch with the
 * subject "tag title" (title cleaned, encoded as RFC 2047 words when it must
 * be) and body (cleaned, LF-separated lines broken at the line limit, cut at
 * the message cap), in a new string (length in *len); NULL when memory runs
 * out. */
char *aq_format_email_text(const struct aq_channel *ch, const char *message_id, const char *tag,
			   const char *title, const char *body, size_t *len);

#endif
