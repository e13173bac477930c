/* batch_io.h - a worker's batch in few round trips: its reads in one, its
 * writes and the COMMIT in another (libpq's pipeline mode) */
#ifndef ALERTQ_STORE_BATCH_IO_H
#define ALERTQ_STORE_BATCH_IO_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/store.h"

/* Begins a transaction and, in one round trip: creates the offset rows of
 * partitions that have none, locks and reads them (in partition order, as
 * aq_store_offsets with lock), reads the state of the n checks without a
 * lock, each with its row_version (with which not NULL, the n checks are
 * checks[which[k]], read into states[which[k]]); with lock, the checks'
 * rows are locked instead (in name order) and their row_version is 0; and
 * reads the silences
 * (aq_store_silenced answers from these until a second has passed). The
 * caller's arrays are filled as by those two functions. Returns 0, or -1
 * with err; then the caller rolls back and no state needs releasing. */
int aq_store_batch_read(aq_store_t *s, const char *topic, const int32_t *partitions, size_t nparts,
			int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], const char *const *checks,
			const size_t *which, size_t nchecks, int lock, struct aq_state *states, char *err,
			size_t errlen);

/* aq_store_write, then COMMIT, the COMMIT sent with the writes (one round
 * trip after the states' COPY, unless grouped notifications are queued).
 * A state with a row_version is written only over that version of its row:
 * when any changed since it was read, nothing is written and
 * aq_store_conflict() says so.
 * Returns 0 once the COMMIT succeeded; -1 with err when anything failed,
 * the COMMIT too (nothing is committed then; the caller rolls back, which
 * is harmless when the COMMIT has ended the transaction already). */
int aq_store_write_commit(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen);

/* The row version (xmin) the last aq_store_write or aq_store_write_commit
 * gave every check row it wrote; 0 when it wrote no state or failed. A
 * state written by a batch that committed is that version of its row. */
uint32_t aq_store_written_version(const aq_store_t *s);

#endif
