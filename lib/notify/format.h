/* format.h - a notification written for each sink that is not plain JSON:
 * the Slack request body and the email message */
#ifndef ALERTQ_NOTIFY_FORMAT_H
#define ALERTQ_NOTIFY_FORMAT_H

#include <stddef.h>

#include "alertq/event.h"
#include "alertq/notify.h"

/* Writes a value with the fewest significant digits that read back as the
 * same double ("120000", "0.1"). Defined in notification.c. */
void aq_format_value(double v, char *buf, size_t buflen);

/* The Slack request body for n ({"text": summary}), in a new string the
 * caller frees; NULL when memory runs out. */
char *aq_format_slack(const struct aq_notification *n);

/* The whole mail message for n as ch sends it (headers, blank line, body),
 * in a new string the caller frees, its length in *len; NULL when it cannot
 * be written (memory). */
char *aq_format_email(const struct aq_channel *ch, const struct aq_notification *n, size_t *len);

/* For grouped messages (group_format.c): appends s with Slack's text
 * escapes (&, <, >) to b; and writes a whole mail message for ch with the
 * subject "tag title" (title cleaned, encoded as RFC 2047 words when it must
 * be) and body (cleaned, LF-separated lines broken at the line limit, cut at
 * the message cap), in a new string (length in *len); NULL when memory runs
 * out. */
struct aq_buf;
void aq_slack_escape(struct aq_buf *b, const char *s);
char *aq_format_email_text(const struct aq_channel *ch, const char *message_id, const char *tag,
			   const char *title, const char *body, size_t *len);

#endif
