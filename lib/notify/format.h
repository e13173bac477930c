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

#endif
