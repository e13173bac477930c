/* batch.h - collecting a batch of results and applying it exactly once */
#ifndef ALERTQ_CONSUME_BATCH_H
#define ALERTQ_CONSUME_BATCH_H

#include <stddef.h>

#include "consume/worker_internal.h"

/* Allocates room for AQ_BATCH_MAX messages. Returns 0, or -1 when out of
 * memory (aq_batch_release frees what was allocated). */
int aq_batch_init(struct batch *b);

/* Frees the messages in hand and the batch's memory. */
void aq_batch_release(struct batch *b);

/* Reads up to AQ_BATCH_MAX messages: waits up to AQ_BATCH_WAIT_MS for the
 * first, then takes what is already there, and decodes them. A fatal
 * consumer error sets w->fatal and w->sig->stop. Returns the number read. */
size_t aq_batch_collect(struct worker *w, struct batch *b);

/* Applies the batch in one transaction (states, history, outbox and the
 * next offsets), retrying with backoff while it fails (database down, or a
 * statement refused) with consumption paused, so that nothing past the
 * batch is read meanwhile. Returns 0 when applied, -1 when asked to stop
 * first. */
int aq_batch_apply_until_done(struct worker *w, struct batch *b);

/* Frees the messages in hand; the batch is empty after. */
void aq_batch_release_items(struct batch *b);

#endif
