/* store_internal.h - what the store's files share: the handle, the advisory
 * lock keys, and the checking of libpq results */
#ifndef ALERTQ_STORE_INTERNAL_H
#define ALERTQ_STORE_INTERNAL_H

#include <libpq-fe.h>

#include "alertq/store.h"

struct silence {
	char *match;
	int64_t starts_ms;
	int64_t ends_ms;
};

struct aq_store {
	PGconn *conn;
	char *dsn;
	int connection_lost;
	int item_refused;         /* the last failure was a refusal of what was written */
	int conflict;             /* the last failure: rows changed since read, or a deadlock */
	uint32_t written_version; /* the row version a batch's writes gave its checks' rows */
	int worker_lock;          /* held shared: take it again on reconnect */
	struct silence *silences;
	size_t nsilences;
	int64_t silences_read_ms; /* monotonic; 0: never read */
};

/* Advisory lock keys: migrations run one at a time under MIGRATION_LOCK;
 * workers hold WORKER_LOCK shared against a rebuild that holds it exclusive. */
#define MIGRATION_LOCK "7316514"
#define WORKER_LOCK "7316515"

/* A batch of 20k states is a few MiB; this is far beyond any real one. */
#define COPY_MAX ((size_t)512 * 1024 * 1024)

/* Copies the first line of libpq's message for conn into err. */
void store_conn_error(aq_store_t *s, const char *what, char *err, size_t errlen);

/* Checks a result; on failure fills err, notes whether the connection is
 * gone, clears res and returns -1. */
int store_check_result(aq_store_t *s, PGresult *res, ExecStatusType want, const char *what, char *err,
		       size_t errlen);

/* Runs a statement without parameters; on failure err says what failed
 * (what, short) and the server's message. 0 or -1. */
int store_exec(aq_store_t *s, const char *sql, const char *what, char *err, size_t errlen);

/* Runs a query whose rows do not matter; 0 or -1. */
int store_run_query(aq_store_t *s, const char *sql, int nparams, const char *const *params, char *err,
		    size_t errlen);

/* Frees the silences read (silences.c). */
void store_silences_clear(aq_store_t *s);

/* Batches of up to this many states send them as the parameters of one
 * INSERT in the writes' pipeline; bigger ones by COPY (writes.c). A
 * variable so that tests can take either way. */
#define STATES_PARAMS_MAX 32
extern int store_states_params_max;

/* Whether res, a COMMIT's successful result, committed: 0, or -1 with err
 * when the transaction had failed before (the server then rolls back and
 * says so in the command tag). */
int store_committed(aq_store_t *s, PGresult *res, char *err, size_t errlen);

/* One statement of a pipeline (store_pipeline). */
struct store_step {
	const char *sql;
	int nparams;
	const char *const *params;
	ExecStatusType want; /* the status that means it worked */
	const char *what;    /* what it does, for err */
	PGresult **keep;     /* not NULL: receives its result, which the caller clears */
};

/* Sends n statements at once in libpq's pipeline mode and reads their
 * results in order: one round trip instead of n. Statements in a pipeline
 * cannot use each other's results, and none may be a COPY. The first that
 * fails fills err (and the store's connection_lost / item_refused, as
 * store_check_result does); the server skips every statement after it, so
 * inside a transaction block nothing after it happened and the caller rolls
 * back. On failure no result is kept (*keep is NULL). Returns 0 or -1. */
int store_pipeline(aq_store_t *s, struct store_step *steps, size_t n, char *err, size_t errlen);

/* Takes the rows of a read of the silences (SILENCES_SQL): the store's
 * silences are these from now on, as though just read (silences.c). */
#define SILENCES_SQL                                                         \
	"SELECT match, (extract(epoch FROM starts_at) * 1000)::bigint,"      \
	" (extract(epoch FROM ends_at) * 1000)::bigint FROM alertq_silences" \
	" WHERE ends_at > now()"
void store_silences_take(aq_store_t *s, PGresult *res);

/* The row of one grouped notification, as aq_store_write_group_members
 * reads it (groups.c); a new object, or NULL when memory runs out. */
json_t *store_group_member_row(const struct aq_group_member_in *m);

#endif
