/* group.h - grouped delivery: the group a notification joins on a channel
 * with group_by, what a group's flush tells, the grouped message and its
 * text for each sink, and the flush of due groups */
#ifndef ALERTQ_GROUP_H
#define ALERTQ_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/notify.h"
#include "alertq/store.h"

/* The label name in group_by that stands for the check's name. */
#define AQ_GROUP_BY_CHECK "check"

/* The group of a notification of check (with its labels) on ch: *key, an
 * unambiguous text (a JSON array of the group_by values, an absent label
 * being ""), and *labels, a JSON object of group_by name to value. Both new
 * strings the caller frees. Returns 0, or -1 when memory runs out (both
 * NULL). */
int aq_group_of(const struct aq_channel *ch, const char *check, const struct aq_label *labels, size_t nlabels,
		char **key, char **labels_json);

/* What a flush does with one notification waiting in a group. */
enum aq_group_fate {
	AQ_MEMBER_LISTED,     /* listed in the grouped message */
	AQ_MEMBER_SUPERSEDED, /* a later notification of the same alert is listed instead */
	AQ_MEMBER_TRUNCATED,  /* over max_alerts: counted, not listed */
	AQ_MEMBER_COLLAPSED   /* fired and resolved before the group told it: nothing sent */
};

/* A notification waiting in a group, in arrival order. */
struct aq_group_member {
	const char *check;       /* borrowed */
	int resolved;            /* 0: firing */
	const char *payload;     /* the notification object (JSON), borrowed; NULL for counting only */
	enum aq_group_fate fate; /* out */
	int was_told;            /* out: the group had told this alert firing before */
};

/* An alert a group knows: its latest state (firing) and whether a message
 * of the group told it firing (told). A flush updates told, and sets gone
 * when the group no longer needs the row (the alert is resolved). */
struct aq_group_alert {
	const char *check; /* borrowed */
	int firing;
	int told;
	int gone; /* out */
};

/* The outcome of a flush. */
struct aq_group_flush {
	size_t firing;    /* alerts of the group firing after it */
	size_t resolved;  /* alerts resolved in this message (listed or counted) */
	size_t listed;    /* alerts the message lists */
	size_t truncated; /* changed alerts over max_alerts, counted only */
	size_t collapsed; /* members that fired and resolved unseen: nothing sent */
	int send;         /* 1 when there is a message to send */
};

/* Decides a flush: each alert with members is told once, by its latest
 * member (new firing first, then still firing, then resolved; by check name
 * within each), up to max_alerts; an alert whose latest member is resolved
 * and that the group never told firing sends nothing (its members are
 * collapsed). members[].fate and .was_told and alerts[] are filled in. A
 * member's check missing from alerts counts as never told. Returns 0, or -1
 * when memory runs out (nothing decided). */
int aq_group_decide(struct aq_group_member *members, size_t nmembers, struct aq_group_alert *alerts,
		    size_t nalerts, int max_alerts, struct aq_group_flush *out);

/* The grouped message (contract JSON: notification_id, channel, group,
 * firing, resolved, alerts, truncated) of a decided flush: the listed
 * members' payloads, in the decided order. labels_json is the group's
 * labels object. New string the caller frees; NULL when memory runs out or a
 * payload is not JSON. */
char *aq_group_message_json(const char *notification_id, const char *channel, const char *labels_json,
			    const struct aq_group_member *members, size_t nmembers,
			    const struct aq_group_flush *f);

/* --- the grouped message at delivery (group_format.c) --- */

/* Reads an outbox payload: returns 1 when it is a grouped message (n then
 * has notification_id, check set to the group's title and group_payload
 * borrowing payload), 0 when it is not (n untouched), -1 when it claims to
 * be one and is not readable (reason in err). */
int aq_group_note_read(struct aq_notification *n, const char *payload, char *err, size_t errlen);

/* The group's title from its labels object: "team=db site=par1" (clean
 * text, "all" for a channel grouped by nothing). New string; NULL when
 * memory runs out. */
char *aq_group_title(const char *labels_json);

/* A grouped message for each sink, from its JSON (group_payload): the
 * Slack body ({"text": ...}); the whole mail message for ch (length in
 * *len); one syslog line (*priority set). New strings the caller frees;
 * NULL when the JSON is unreadable or memory runs out. */
char *aq_group_format_slack(const struct aq_channel *ch, const char *group_json);
char *aq_group_format_email(const struct aq_channel *ch, const char *group_json, size_t *len);
char *aq_group_format_syslog(const char *group_json, int *priority);

/* --- the flush (grouper.c) --- */

/* Flushes the due groups of channel ch in one transaction per claim of at
 * most max groups: each becomes one pending outbox row, its members are
 * consumed and its timers set; two workers never flush the same group. On
 * a connected store not in a transaction. *flushed counts the messages
 * queued. Returns 0, or -1 with the reason in err (the transaction rolled
 * back: nothing changed). */
int aq_grouper_flush(aq_store_t *s, const struct aq_channel *ch, int max, size_t *flushed, char *err,
		     size_t errlen);

#endif
