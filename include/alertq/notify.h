/* notify.h - notifications: the object of the contract, and the channels that
 * carry it (logfile, syslog, webhook, email) */
#ifndef ALERTQ_NOTIFY_H
#define ALERTQ_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/util.h"

/* One notification, as the contract describes it. Strings are owned by the
 * struct and freed by aq_notification_release(). */
struct aq_notification {
	char notification_id[37];
	char *check;
	int resolved;          /* 0: "firing", 1: "resolved" */
	int severity;          /* enum aq_status */
	int previous_severity; /* enum aq_status */
	int has_value;
	double value;
	char *message;
	struct aq_label *labels;
	size_t nlabels;
	int64_t observed_at_ms;
	int64_t since_ms;
	int escalation_level;
	char event_id[37]; /* "" when the notification has no event (stale, end of silence) */
	/* the rule's annotations as rendered at the check's last transition */
	struct aq_label *annotations;
	size_t nannotations;
	/* flapping: status "flapping" when flapping_started (resolved is 0 then);
	 * "flapping": true on everything sent while the check flaps (the key is
	 * left out otherwise) */
	int flapping_started;
	int flapping;
	/* grouped delivery: when this outbox row is a grouped message, its JSON
	 * (borrowed from the row, valid while the row is; NULL otherwise); only
	 * notification_id and check (the group's title) are set then */
	const char *group_payload;
};

/* The notification's status as the contract spells it: "firing",
 * "resolved" or "flapping". Never NULL. */
const char *aq_notification_status(const struct aq_notification *n);

void aq_notification_release(struct aq_notification *n);

/* The notification object as compact JSON (keys as in the contract), in a new
 * string the caller frees. NULL only when memory runs out. */
char *aq_notification_to_json(const struct aq_notification *n);

/* Parses what aq_notification_to_json wrote into n (zeroed or released).
 * Returns 0, or -1 with a message in err. */
int aq_notification_from_json(struct aq_notification *n, const char *json, char *err, size_t errlen);

/* One line of text with the same facts, for syslog, Slack and the email
 * subject line's companion: "[CRITICAL] system.session_rows firing: value
 * 120000 (was WARNING since ...): message". New string, caller frees. */
char *aq_notification_summary(const struct aq_notification *n);

/* Result of one delivery attempt. */
enum aq_delivery_result {
	AQ_DELIVERED = 0,
	AQ_DELIVERY_RETRY = 1,     /* transient: connection error, timeout, HTTP 5xx/408/429, SMTP 4xx */
	AQ_DELIVERY_PERMANENT = 2, /* other HTTP 4xx, SMTP 5xx, a missing secret variable */
};

/* Size of a delivery's error text, its NUL included. */
#define AQ_DELIVERY_ERROR_MAX 512

struct aq_delivery {
	const struct aq_notification *notification; /* in */
	enum aq_delivery_result result;             /* out */
	int64_t retry_after_ms;                     /* out: from Retry-After, 0 if none */
	/* out: the reason when not delivered; whatever a receiver sent, always
	 * valid UTF-8 without control characters, cut to fit with "..." */
	char error[AQ_DELIVERY_ERROR_MAX];
};

/* A sender delivers notifications over one channel, reusing connections and
 * keeping at most the channel's concurrency in flight. One per thread. */
typedef struct aq_sender aq_sender_t;

/* Returns a sender for ch (which must outlive it); log_dir is where logfile
 * channels write alerts.log. NULL with a message in err on failure. */
aq_sender_t *aq_sender_new(const struct aq_channel *ch, const char *log_dir, char *err, size_t errlen);
void aq_sender_free(aq_sender_t *s);

/* Delivers n notifications, filling result, retry_after_ms and error of each.
 * Returns when every item has a result; each request is bounded by the
 * channel's timeout. A logfile line is flushed to disk before it counts as
 * delivered. */
void aq_sender_deliver(aq_sender_t *s, struct aq_delivery *items, size_t n);

/* Asks every logfile sender to reopen its file before its next write (call
 * from a SIGHUP path; async-signal-safe). */
void aq_logfile_reopen(void);

#endif
