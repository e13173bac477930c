/* syslog.c - the syslog channel: each notification's summary at a priority
 * following its severity */
#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>

#include "alertq/event.h"
#include "alertq/group.h"
#include "notify/channel.h"

static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;

/* Opens the syslog connection for the whole process; run through pthread_once. */
static void syslog_init(void)
{
	openlog("alertq", LOG_PID, LOG_DAEMON);
}

/* Writes each item's summary to syslog at a priority following its severity. */
static void syslog_deliver(void *state, const struct aq_channel *ch, struct aq_delivery *items, size_t n)
{
	(void)state;
	(void)ch;
	pthread_once(&syslog_once, syslog_init);
	for (size_t i = 0; i < n; i++) {
		const struct aq_notification *note = items[i].notification;
		int priority = LOG_WARNING;
		if (note->resolved)
			priority = LOG_NOTICE;
		else if (note->severity == AQ_CRITICAL)
			priority = LOG_CRIT;
		char *summary = note->group_payload ? aq_group_format_syslog(note->group_payload, &priority)
						    : aq_notification_summary(note);
		if (!summary) {
			aq_delivery_set(&items[i], AQ_DELIVERY_RETRY, "out of memory");
			continue;
		}
		syslog(priority, "%s", summary);
		free(summary);
	}
}

const struct aq_channel_ops aq_syslog_ops = {
	.deliver = syslog_deliver,
};
