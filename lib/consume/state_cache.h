/* state_cache.h - check states a worker keeps between its batches, so that
 * a batch reads from PostgreSQL only the checks it does not hold.
 *
 * A cached state is exactly what the worker last committed for its check
 * (or last read of it), with the version of the row that holds it
 * (aq_state.row_version): a batch that starts from it writes it back only
 * over that very version. When anything else changed the row meanwhile (an
 * ack, another worker's ticker or batch after a rebalance, the inhibition
 * pass), the batch fails as a conflict, nothing of it is committed, and the
 * states it took are read again. So the cache needs no invalidation: it can
 * be stale, never wrong.
 *
 * Bounded in bytes: when a state would not fit, every state is dropped and
 * the cache fills again (a clock of one hand, simple and predictable). A
 * state older than AQ_STATE_CACHE_TTL_MS is not used: a row version is
 * PostgreSQL's 32-bit xmin, which comes round again after 2^32
 * transactions, and an old version must never match a newer row by chance.
 * Used by the batch thread alone. */
#ifndef ALERTQ_CONSUME_STATE_CACHE_H
#define ALERTQ_CONSUME_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/rules.h"
#include "base/strmap.h"

/* How long a kept state may be used after it was put. */
#define AQ_STATE_CACHE_TTL_MS (10 * 60 * 1000)

struct aq_state_cache_slot;

struct aq_state_cache {
	struct aq_strmap index; /* check name -> slot */
	struct aq_state_cache_slot *slots;
	size_t nslots;
	size_t room; /* slots allocated */
	size_t bytes;
	size_t budget; /* bytes; 0: the cache is off */
	uint64_t hits, misses, clears;
	size_t cleared_states; /* how many it held when it was last emptied */
};

/* An empty cache of at most budget bytes (0: off, every take misses). */
void aq_state_cache_init(struct aq_state_cache *c, size_t budget);
void aq_state_cache_release(struct aq_state_cache *c);

/* Moves the cached state of check into *out and returns 1; the cache no
 * longer holds it (a batch that fails must not leave a half-applied state
 * behind). 0 when it holds none, or one put AQ_STATE_CACHE_TTL_MS or more
 * before now_ms (monotonic; *out untouched). */
int aq_state_cache_take(struct aq_state_cache *c, const char *check, int64_t now_ms, struct aq_state *out);

/* Keeps *st (moved in: *st is zeroed) as its check's state from now_ms
 * (monotonic), replacing any held. A state that would pass the budget
 * empties the cache first; one bigger than the budget by itself is not kept
 * (released). */
void aq_state_cache_put(struct aq_state_cache *c, struct aq_state *st, int64_t now_ms);

/* Drops every state. */
void aq_state_cache_clear(struct aq_state_cache *c);

#endif
