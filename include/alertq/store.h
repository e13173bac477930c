/* store.h - alert state in PostgreSQL: migrations, per-check state, history,
 * consumed offsets, the notification outbox, silences */
#ifndef ALERTQ_STORE_H
#define ALERTQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "alertq/rules.h"

typedef struct aq_store aq_store_t;

/* Connects to dsn. Returns a store, or NULL with the reason in err (the DSN's
 * password never appears in it). */
aq_store_t *aq_store_connect(const char *dsn, char *err, size_t errlen);
void aq_store_free(aq_store_t *s);

/* The libpq connection, for the queries of the command-line tool. */
PGconn *aq_store_conn(aq_store_t *s);

/* 1 when the last failure was the connection (the server is down or
 * restarting: wait and retry), 0 when it was the statement. */
int aq_store_connection_lost(aq_store_t *s);

/* Makes the connection again. Returns 0 or -1 with the reason in err. */
int aq_store_reconnect(aq_store_t *s, char *err, size_t errlen);

/* The schema version this build brings the database to. */
int aq_store_schema_version(void);

/* Applies the migrations the database lacks, one transaction each, under an
 * advisory lock so that workers starting together do not race. *applied is
 * set to how many ran. Returns 0 or -1 with the reason in err. */
int aq_store_migrate(aq_store_t *s, int *applied, char *err, size_t errlen);

/* Runs a statement without parameters (BEGIN, COMMIT, ROLLBACK...). Returns 0
 * or -1 with the server's message in err. */
int aq_store_exec(aq_store_t *s, const char *sql, char *err, size_t errlen);

/* A transaction: begin and commit return 0 or -1 with the reason in err (a
 * failed commit has rolled back). Rollback never fails from the caller's
 * point of view: on a lost connection there is nothing left to undo. */
int aq_store_begin(aq_store_t *s, char *err, size_t errlen);
int aq_store_commit(aq_store_t *s, char *err, size_t errlen);
void aq_store_rollback(aq_store_t *s);

/* The lock that tells a rebuild of the state from running workers: a worker
 * holds it shared for as long as it runs (taken again when its connection is
 * made again; the reconnection fails while a rebuild holds it), `alertq
 * replay --rebuild` holds it exclusively until it commits. Returns 0 when
 * taken, 1 when the other kind holds it, -1 with the reason in err. */
int aq_store_worker_lock(aq_store_t *s, int exclusive, char *err, size_t errlen);

/* Longest Kafka cluster id kept with an offset. */
#define AQ_CLUSTER_ID_MAX 128

/* The stored next offset of each partition, -1 where none is stored, and
 * (when clusters is not NULL) the Kafka cluster id it was stored against, ""
 * when not known. With lock, inside a transaction: the rows are created when
 * missing and locked (in partition order) until commit, so that two workers
 * never apply the same offsets. Returns 0 or -1. */
int aq_store_offsets(aq_store_t *s, const char *topic, const int32_t *partitions, size_t n, int lock,
		     int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], char *err, size_t errlen);

/* Loads the state of n checks (names need not be sorted) into states[i]
 * (aq_state_init'ed when unknown). With lock, inside a transaction, the rows
 * are locked until commit. Returns 0 or -1 (states then released). */
int aq_store_load_states(aq_store_t *s, const char *const *checks, size_t n, int lock,
			 struct aq_state *states, char *err, size_t errlen);

/* What one transaction writes: accumulate, then aq_store_write(). */
typedef struct aq_writes aq_writes_t;

aq_writes_t *aq_writes_new(void);
void aq_writes_free(aq_writes_t *w);
void aq_writes_clear(aq_writes_t *w);
int aq_writes_empty(const aq_writes_t *w);

/* Queues the state row of st (upsert). */
void aq_writes_state(aq_writes_t *w, const struct aq_state *st);

/* Queues a transition of check; ref (out, 37 bytes) names it for the
 * notifications it causes. */
void aq_writes_transition(aq_writes_t *w, const char *check, const struct aq_transition *tr, char ref[37]);

/* Queues an outbox row: payload is the notification's JSON. */
void aq_writes_notification(aq_writes_t *w, const char *id, const char *transition_ref, const char *check,
			    const char *channel, int level, int resolved, const char *payload,
			    int64_t give_up_after_ms);

/* Queues the next offset of a partition; aq_writes_offset_in also records
 * the Kafka cluster id it counts in (NULL: not known). */
void aq_writes_offset(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset);
void aq_writes_offset_in(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset,
			 const char *cluster_id);

/* Queues a dead letter record: the event at topic/partition/offset could not
 * be used, for reason. */
void aq_writes_dead_letter(aq_writes_t *w, const char *topic, int32_t partition, int64_t offset,
			   const char *reason);

/* Writes everything queued, inside the caller's transaction. Returns 0 or -1. */
int aq_store_write(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen);

/* 1 when a silence in force at now matches check. Silences are read at most
 * once a second. */
int aq_store_silenced(aq_store_t *s, const char *check, int64_t now_ms);

/* Forgets the silences read, so the next aq_store_silenced reads them again. */
void aq_store_silences_invalidate(aq_store_t *s);

/* A notification claimed for sending. */
struct aq_outbox_row {
	char id[37];
	char *payload;
	int attempts;
	int give_up; /* its give_up_at has passed */
};

/* Inside a transaction: claims up to max pending notifications of channel
 * whose time has come, locked (SKIP LOCKED: another worker's rows are left
 * alone) until commit. *rows is a new array of *n rows the caller frees with
 * aq_outbox_rows_free. Returns 0 or -1. */
int aq_store_claim(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
		   char *err, size_t errlen);
void aq_outbox_rows_free(struct aq_outbox_row *rows, size_t n);

/* One attempt's outcome: 0 sent; 1 retry after retry_ms (undeliverable when
 * its time is up); 2 permanent failure (undeliverable at once). */
struct aq_mark {
	const char *id;
	int outcome;
	int64_t retry_ms;
	const char *error; /* NULL or "" for none */
};

/* Records the outcomes of n attempts in one statement, inside the claiming
 * transaction. Returns 0 or -1 with the reason in err. */
int aq_store_mark_many(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen);

/* Checks due for time-driven work (escalation, repeats, staleness, end of a
 * silence): locks up to max rows with SKIP LOCKED inside a transaction and
 * returns their names (array and strings freed by the caller with
 * aq_names_free). Returns 0 or -1. */
int aq_store_due_checks(aq_store_t *s, int64_t now_ms, int max, char ***names, size_t *n, char *err,
			size_t errlen);
void aq_names_free(char **names, size_t n);

#endif
