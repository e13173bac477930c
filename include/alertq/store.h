/* store.h - alert state in PostgreSQL: migrations, per-check state, history,
 * consumed offsets, the notification outbox, silences, and what the alertq
 * command reads and changes
 *
 * Unless said otherwise, a function returning int returns 0 on success and
 * -1 on failure with the reason (one line, what failed first) in err, which
 * holds errlen bytes; after a failure aq_store_connection_lost() tells a lost
 * connection (wait, reconnect, retry) from a refused statement. Outputs are
 * only meaningful on success. A store is used by one thread at a time. */
#ifndef ALERTQ_STORE_H
#define ALERTQ_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alertq/rules.h"

typedef struct aq_store aq_store_t;

/* Connects to dsn. Returns a new store the caller frees with aq_store_free,
 * or NULL with the reason in err (the DSN's password never appears in it). */
aq_store_t *aq_store_connect(const char *dsn, char *err, size_t errlen);

/* Closes the connection and frees s; s may be NULL. */
void aq_store_free(aq_store_t *s);

/* 1 when the last failure was the connection (the server is down or
 * restarting: wait and retry), 0 when it was the statement. */
int aq_store_connection_lost(aq_store_t *s);

/* 1 when the last failure since aq_store_begin was a refusal of what was
 * written, not a failure to work: a constraint, an encoding, a value out of
 * range, a row too large (SQLSTATE classes 22, 23, 54), or a row the batch's
 * writes could not hold for what it held (aq_writes_item_fault). Writing the same again fails again, so the item
 * behind it has to be set aside; 0 for everything else (connection lost,
 * deadlock, server errors), which is worth retrying. */
int aq_store_refused_item(const aq_store_t *s);

/* 1 when the last failure was another transaction getting in the way: a
 * check's row read by a batch without a lock changed before the batch wrote
 * it back (an ack, another worker's ticker), or a deadlock. Nothing was
 * committed; reading again and applying again is the remedy, at once. */
int aq_store_conflict(const aq_store_t *s);

/* Forgets what the last failure was (aq_store_refused_item,
 * aq_store_conflict), before work that may fail without the database. */
void aq_store_failure_forget(aq_store_t *s);

/* Makes the connection again (and takes the worker lock again when it was
 * held). On failure the store has no usable connection until a later
 * reconnect succeeds. */
int aq_store_reconnect(aq_store_t *s, char *err, size_t errlen);

/* The schema version this build brings the database to. */
int aq_store_schema_version(void);

/* Applies the migrations the database lacks, one transaction each, under an
 * advisory lock so that workers starting together do not race. *applied is
 * set to how many ran; a failed migration is rolled back and the ones
 * before it stay applied. */
int aq_store_migrate(aq_store_t *s, int *applied, char *err, size_t errlen);

/* Runs a statement without parameters or rows (a DELETE of a whole table,
 * say). err gets the statement and the server's message. */
int aq_store_exec(aq_store_t *s, const char *sql, char *err, size_t errlen);

/* A transaction: a failed commit has rolled back. Rollback never fails from
 * the caller's point of view: on a lost connection there is nothing left to
 * undo. */
int aq_store_begin(aq_store_t *s, char *err, size_t errlen);
int aq_store_commit(aq_store_t *s, char *err, size_t errlen);
void aq_store_rollback(aq_store_t *s);

/* The lock that tells a rebuild of the state from running workers: a worker
 * holds it shared for as long as it runs (taken again when its connection is
 * made again; the reconnection fails while a rebuild holds it), `alertq
 * replay --rebuild` holds it exclusively until its connection closes.
 * Returns 0 when taken, 1 when the other kind holds it, -1 with the reason
 * in err. */
int aq_store_worker_lock(aq_store_t *s, int exclusive, char *err, size_t errlen);

/* Longest Kafka cluster id kept with an offset, with its NUL. */
#define AQ_CLUSTER_ID_MAX 128

/* Fills the caller's arrays of n: next_offsets[i] the stored next offset of
 * partitions[i], -1 where none is stored, and (when clusters is not NULL)
 * clusters[i] the Kafka cluster id it was stored against, "" when not
 * known. With lock, inside a transaction: the rows are created when missing
 * and locked (in partition order) until commit, so that two workers never
 * apply the same offsets. */
int aq_store_offsets(aq_store_t *s, const char *topic, const int32_t *partitions, size_t n, int lock,
		     int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], char *err, size_t errlen);

/* Loads the state of n checks (names need not be sorted) into the caller's
 * states[i], which the caller releases with aq_state_release; a check never
 * stored gets aq_state_init (known = 0). With lock, inside a transaction,
 * the rows are locked until commit. On failure no state needs releasing. */
int aq_store_load_states(aq_store_t *s, const char *const *checks, size_t n, int lock,
			 struct aq_state *states, char *err, size_t errlen);

/* What one transaction writes: accumulate, then aq_store_write(). Every
 * aq_writes_* function copies what it is given; the caller keeps its own.
 *
 * The functions that queue a row return 0, or -1 when the row could not be
 * queued: memory ran out, the batch passed its size cap, or a value cannot
 * be stored (a text that is not well-formed UTF-8, a severity outside enum
 * aq_status). A batch that lost a row stays refused: aq_store_write fails
 * with the first reason until aq_writes_clear, so that its offsets are never
 * committed without its rows. */
typedef struct aq_writes aq_writes_t;

/* A new, empty batch the caller frees with aq_writes_free; NULL when out of
 * memory. */
aq_writes_t *aq_writes_new(void);

/* Frees w; w may be NULL. */
void aq_writes_free(aq_writes_t *w);

/* Empties w for the next batch, keeping its memory. */
void aq_writes_clear(aq_writes_t *w);

/* 1 when nothing is queued and no row was lost. */
int aq_writes_empty(const aq_writes_t *w);

/* Queues the state row of st (upsert). Its value may be NaN or infinite. */
int aq_writes_state(aq_writes_t *w, const struct aq_state *st);

/* Queues a transition of check; ref (out, 37 bytes, set even on failure)
 * names it for the notifications it causes. Its value may be NaN or
 * infinite. */
int aq_writes_transition(aq_writes_t *w, const char *check, const struct aq_transition *tr, char ref[37]);

/* Holds the outbox row queued last for the inhibition check: it is written
 * 'held', due hold_ms from now, and a dispatcher decides then whether it is
 * sent or inhibited (see store/inhibit.h). Returns 0, or -1 when out of
 * memory (the writes then refuse to be written). */
int aq_writes_notification_hold(aq_writes_t *w, int64_t hold_ms);

/* Queues an outbox row: payload is the notification's JSON; transition_ref
 * NULL or "" when no transition caused it (an escalation, a repeat). */
int aq_writes_notification(aq_writes_t *w, const char *id, const char *transition_ref, const char *check,
			   const char *channel, int level, int resolved, const char *payload,
			   int64_t give_up_after_ms);

/* Queues the next offset of a partition; aq_writes_offset_in also records
 * the Kafka cluster id it counts in (NULL: not known). */
int aq_writes_offset(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset);
int aq_writes_offset_in(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset,
			const char *cluster_id);

/* Queues a dead letter record: the event at topic/partition/offset could not
 * be used, for reason (any bytes: it is kept cleaned by aq_text_clean and cut
 * to 1000 bytes, never refused for its content). */
int aq_writes_dead_letter(aq_writes_t *w, const char *topic, int32_t partition, int64_t offset,
			  const char *reason);

/* 1 when rows were lost and every one of them for what it held (text that
 * is not UTF-8, a severity that does not exist...), not for memory or size:
 * queueing the same again would lose them again. */
int aq_writes_item_fault(const aq_writes_t *w);

/* Why the first row the writes could not hold was lost ("" when none was);
 * valid until the writes are cleared or freed. */
const char *aq_writes_error(const aq_writes_t *w);

/* Writes everything queued, inside the caller's transaction; w is left as
 * it was (clear it for the next batch). Fails without writing anything when
 * a row was lost (see above). On failure the caller rolls back. */
int aq_store_write(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen);

/* 1 when a silence in force at now matches check, else 0. Silences are read
 * at most once a second; when reading them fails, the last ones read stay in
 * force. */
int aq_store_silenced(aq_store_t *s, const char *check, int64_t now_ms);

/* Forgets the silences read, so the next aq_store_silenced reads them again. */
void aq_store_silences_invalidate(aq_store_t *s);

/* A notification claimed for sending. */
struct aq_outbox_row {
	char id[37];
	char *payload; /* owned by the row */
	int attempts;
	int give_up; /* its give_up_at has passed */
};

/* Inside a transaction: claims up to max pending notifications of channel
 * whose time has come, locked (SKIP LOCKED: another worker's rows are left
 * alone) until commit. *rows is a new array of *n rows (NULL when none) the
 * caller frees with aq_outbox_rows_free; on failure *rows is NULL. */
int aq_store_claim(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
		   char *err, size_t errlen);

/* Begins a transaction whose COMMIT does not wait for its fsync (it records
 * outcomes of posts already made: a mark lost in a crash means the row is
 * sent again with the same notification_id) and claims as aq_store_claim,
 * in one round trip. On failure the caller rolls back. */
int aq_store_claim_begin(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
			 char *err, size_t errlen);

/* Frees rows and their payloads; rows may be NULL. */
void aq_outbox_rows_free(struct aq_outbox_row *rows, size_t n);

/* One attempt's outcome: 0 sent; 1 retry after retry_ms (undeliverable when
 * its time is up); 2 permanent failure (undeliverable at once). */
struct aq_mark {
	const char *id;
	int outcome;
	int64_t retry_ms;
	const char *error; /* NULL or "" for none */
};

/* Longest error text kept with an attempt, in bytes. */
#define AQ_OUTBOX_ERROR_MAX 1000

/* Longest wait before a retry (a year); longer ones are cut to it. */
#define AQ_OUTBOX_RETRY_MAX_MS (366LL * 24 * 3600 * 1000)

/* Records the outcomes of n attempts, inside the claiming transaction (it
 * uses savepoints). Each error is first made valid UTF-8 without control
 * characters and cut to AQ_OUTBOX_ERROR_MAX (aq_text_clean). When the one
 * statement for all of them is refused for a reason other than a lost
 * connection, each row is recorded by itself, and a row still refused gets
 * its outcome with the error "outcome could not be recorded: " and the
 * server's (cleaned) message, so that a delivery that happened is never
 * sent again because its outcome could not be stored. Returns 0 when every
 * outcome was recorded, -1 with the reason in err otherwise (the caller
 * rolls the claim back). */
int aq_store_mark_many(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen);

/* aq_store_mark_many, then COMMIT; the outcomes and the COMMIT go in one
 * round trip when the server takes the one statement for all of them.
 * Returns 0 once committed, -1 with err otherwise (the caller rolls back). */
int aq_store_mark_commit(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen);

/* Checks due for time-driven work (escalation, repeats, staleness, end of a
 * silence): locks up to max rows with SKIP LOCKED inside a transaction.
 * *names is a new array of *n names (NULL when none) the caller frees, with
 * the names, by aq_names_free; on failure *names is NULL. */
int aq_store_due_checks(aq_store_t *s, int64_t now_ms, int max, char ***names, size_t *n, char *err,
			size_t errlen);

/* Frees names and each of its n strings; names may be NULL. */
void aq_names_free(char **names, size_t n);

/* Keeps the database from growing without end: deletes transitions
 * recorded more than older_than_ms ago (by the database's clock), except
 * the latest one of each check that is not OK, then delivered (sent or
 * undeliverable) notifications created (and sent) that long ago; pending
 * notifications are never touched. At most max_rows rows in all are
 * deleted, oldest transitions first, so that each call is short; *deleted
 * says how many, and a caller repeats while it equals max_rows. Outside a
 * transaction each of its two statements commits by itself. Fails (nothing
 * deleted) when older_than_ms is negative or max_rows not positive. */
int aq_store_prune(aq_store_t *s, int64_t older_than_ms, int max_rows, int *deleted, char *err,
		   size_t errlen);

/* Sets *count to the number of checks the state holds (for a cap on how
 * many distinct checks are kept). */
int aq_store_count_checks(aq_store_t *s, int64_t *count, char *err, size_t errlen);

/* What the alertq command reads and changes. Each json_t * result is a new
 * reference the caller releases with json_decref; on failure it is NULL.
 * Times shown to people are the server's text (timestamptz); times the
 * state keeps in milliseconds stay integers (*_ms). */

/* Every known check, worst first, then by name: *checks is an array of
 * objects {check, severity, previous_severity, since_ms, value (number or
 * null), last_seen_ms, acked, acked_by (string or null), silenced (a silence
 * in force matches it), escalation_level (-1: none), message, labels
 * (object), stale, undeliverable, pending_notifications (counts)}. */
int aq_store_status(aq_store_t *s, json_t **checks, char *err, size_t errlen);

/* Which checks aq_store_status_of reads. */
enum aq_status_scope {
	AQ_STATUS_ALL,    /* every check */
	AQ_STATUS_NOT_OK, /* the ones that fire (what an alert list shows) */
	AQ_STATUS_ONE,    /* the check named (an empty array when unknown) */
};

/* aq_store_status for scope: the database reads only the rows asked for,
 * so an alert list or one check costs the same with 100 checks or 100,000. */
int aq_store_status_of(aq_store_t *s, enum aq_status_scope scope, const char *check, json_t **checks,
		       char *err, size_t errlen);

/* The newest max undeliverable notifications, newest first: *rows is an
 * array of {check, channel, attempts, last_error ("" for none),
 * created_at}. */
int aq_store_undeliverable(aq_store_t *s, int max, json_t **rows, char *err, size_t errlen);

/* Counts over the whole database. */
/* How a dead letter's reason starts when a new check was refused because the
 * state holds state.max_checks checks already. */
#define AQ_CHECK_REFUSED_REASON "new check refused"

struct aq_store_totals {
	int64_t dead_letters;
	int64_t checks_refused; /* dead letters of new checks past state.max_checks */
	int64_t pending;        /* notifications waiting to be sent */
	int64_t undeliverable;  /* notifications given up */
};

/* Fills the caller's *t. */
int aq_store_totals(aq_store_t *s, struct aq_store_totals *t, char *err, size_t errlen);

/* The history of check: *transitions, oldest first, objects {ref, from, to,
 * value (number or null), message, observed_at_ms, event_id, cause,
 * recorded_at}; *notifications, oldest first, objects {notification_id,
 * transition_ref (string, or null for escalations and repeats), channel,
 * escalation_level, resolved, delivery (pending, sent, undeliverable),
 * attempts, last_error (string or null), created_at, sent_at (string or
 * null)}. Returns 0, 1 when the check is not known (both set to NULL), or
 * -1 with the reason in err. */
int aq_store_history(aq_store_t *s, const char *check, json_t **transitions, json_t **notifications,
		     char *err, size_t errlen);

/* Acknowledges the current episode of check, if it is firing (by and comment
 * may be NULL). *changed is 1 when it was, 0 when the check is unknown or
 * OK. */
int aq_store_ack(aq_store_t *s, const char *check, const char *by, const char *comment, int *changed,
		 char *err, size_t errlen);

/* Removes the acknowledgement of check and makes it due at now_ms when it
 * is firing. *changed is 1, or 0 when the check is unknown or not
 * acknowledged. */
int aq_store_unack(aq_store_t *s, const char *check, int64_t now_ms, int *changed, char *err, size_t errlen);

/* Room for a time as the server shows it ("2026-12-01 12:13:20+00"). */
#define AQ_STORE_TIME_MAX 64

/* Adds a silence of the checks matching glob (fnmatch) for duration_ms from
 * now (comment and by may be NULL). Sets *id and ends_at (the caller's
 * buffer, the server's text). */
int aq_store_silence_add(aq_store_t *s, const char *glob, int64_t duration_ms, const char *comment,
			 const char *by, int64_t *id, char ends_at[AQ_STORE_TIME_MAX], char *err,
			 size_t errlen);

/* The silences not yet ended, by id: *silences is an array of {id, match,
 * starts_at, ends_at, comment, created_by}. */
int aq_store_silences(aq_store_t *s, json_t **silences, char *err, size_t errlen);

/* Ends silence id now. *changed is 1, or 0 when no silence id is in force. */
int aq_store_unsilence(aq_store_t *s, int64_t id, int *changed, char *err, size_t errlen);

/* What GET /metrics reads from the state database (lib/store/metrics.c). */
struct aq_store_channel_metrics {
	char *channel;            /* owned by the metrics */
	int64_t pending;          /* notifications waiting to be sent */
	int64_t oldest_pending_s; /* whole seconds the oldest pending one has waited; 0 when none */
	int64_t sent;             /* delivered, still in the outbox (not yet pruned) */
	int64_t undeliverable;    /* given up, still in the outbox */
};

struct aq_store_partition_offset {
	int32_t partition;
	int64_t next_offset; /* the next offset the workers will apply */
};

struct aq_store_metrics {
	int64_t checks[4]; /* checks by current severity, indexed by enum aq_status (AQ_OK..AQ_UNKNOWN) */
	struct aq_store_channel_metrics *channels; /* every channel the outbox names, by name (bytewise) */
	size_t nchannels;
	int64_t dead_letters;
	struct aq_store_partition_offset
		*offsets; /* the stored offsets of the topic asked for, by partition */
	size_t noffsets;
};

/* Fills the caller's *m (zeroed first) with the counts of the state, the
 * outbox and the dead letters, and the stored offsets of topic (none when
 * topic is NULL). The caller releases *m with aq_store_metrics_release,
 * also after a failure. */
int aq_store_metrics(aq_store_t *s, const char *topic, struct aq_store_metrics *m, char *err, size_t errlen);

/* Frees what m owns and zeroes it. */
void aq_store_metrics_release(struct aq_store_metrics *m);

/* --- grouped delivery (lib/store/groups.c) --- */

/* A notification for a channel with group_by, as the batch queues it; all
 * borrowed for the call. */
struct aq_group_member_in {
	const char *id;             /* the notification's own id */
	const char *transition_ref; /* NULL or "" when none */
	const char *check;
	const char *channel;
	const char *group_key;    /* aq_group_of's key */
	const char *group_labels; /* aq_group_of's labels object */
	int level;
	int resolved;
	const char *payload; /* the notification object */
	int64_t group_wait_ms;
	int64_t group_interval_ms;
};

/* Queues a notification into its group instead of the outbox (writes.c);
 * aq_store_write saves it with aq_store_write_group_members. Returns 0, or
 * -1 (counted as a loss: the batch refuses to write). */
int aq_writes_group_member(aq_writes_t *w, const struct aq_group_member_in *m);

/* Saves a batch's grouped notifications (rows: aq_writes_group_member's
 * JSON objects, borrowed) in the caller's transaction: each joins its
 * group's members, the group's alerts take its state, and the group's next
 * flush is set (group_wait for a new group, group_interval after a message,
 * at once when none of its alerts fires any more). Locks the groups, in
 * order. Returns 0 or -1 with the reason in err. */
int aq_store_write_group_members(aq_store_t *s, json_t *rows, char *err, size_t errlen);

/* A group due to flush: its key and labels (JSON object), owned. */
struct aq_group_row {
	char *key;
	char *labels;
};

/* Claims (FOR UPDATE SKIP LOCKED, in the caller's transaction) up to max
 * groups of channel whose flush is due. *groups is freed with
 * aq_group_rows_free (also when *n is 0). Returns 0 or -1 with err. */
int aq_store_due_groups(aq_store_t *s, const char *channel, int max, struct aq_group_row **groups, size_t *n,
			char *err, size_t errlen);
void aq_group_rows_free(struct aq_group_row *groups, size_t n);

/* A notification waiting in a group; strings owned by the content. */
struct aq_group_member_row {
	int64_t id;
	char *check;
	char transition_ref[37]; /* "" when none */
	char notification_id[37];
	int level;
	int resolved;
	char *payload;
};

/* An alert the group knows: its latest state and whether it was told. */
struct aq_group_alert_row {
	char *check;
	int firing;
	int told;
};

struct aq_group_content {
	struct aq_group_member_row *members; /* in arrival order */
	size_t nmembers;
	struct aq_group_alert_row *alerts;
	size_t nalerts;
};

/* Reads a claimed group's members and alerts into *c (released with
 * aq_group_content_release, also after a failure). Returns 0 or -1. */
int aq_store_group_read(aq_store_t *s, const char *channel, const char *key, struct aq_group_content *c,
			char *err, size_t errlen);
void aq_group_content_release(struct aq_group_content *c);

/* What one flush of a group writes. */
struct aq_group_flushed {
	const char *message_id; /* NULL: nothing is sent */
	const char *message_check;
	const char *message_payload;
	int message_resolved;
	int64_t give_up_after_ms;
	int64_t last_member_id; /* members up to this id are consumed */
	/* array of {id, transition_ref, check_name, level, resolved, payload,
	 * state ('grouped' or 'collapsed'), note}: a history row per member */
	json_t *history;
	json_t *alerts; /* array of {check_name, told, gone} */
};

/* Records a claimed group's flush in the caller's transaction: the grouped
 * message as a pending outbox row, the members' history rows, the members
 * consumed, the alerts told, and the group's timers (the group is removed
 * when none of its alerts fires). Returns 0 or -1 with err. */
int aq_store_group_flushed(aq_store_t *s, const char *channel, const char *key,
			   const struct aq_group_flushed *f, char *err, size_t errlen);

#endif
