/* deadletter.h - the dead-letter producer: results that can never be
 * applied go to the dead-letter topic with the reason in a header */
#ifndef ALERTQ_CONSUME_DEADLETTER_H
#define ALERTQ_CONSUME_DEADLETTER_H

#include <stddef.h>

#include "consume/worker_internal.h"

/* Most bytes of a check name a reason quotes. */
#define AQ_DEAD_LETTER_CHECK_SHOWN 64

/* Formats a reason printf-style into out (AQ_DEAD_LETTER_REASON_MAX + 1
 * bytes), made valid UTF-8 without control characters and cut on a
 * character boundary: arguments may hold any bytes of an event. Every
 * reason given to aq_dead_letter_send and aq_writes_dead_letter is made
 * here. Returns out. */
char *aq_dead_letter_reason(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Creates w->dlq from w->cfg. Returns 0, or -1 with the reason in err
 * (w->dlq is NULL then). */
int aq_dead_letter_setup(struct worker *w, char *err, size_t errlen);

/* Forgets the failures counted so far: called as a batch begins. */
void aq_dead_letter_begin(struct worker *w);

/* Queues m for the dead-letter topic with its original key and bytes, and
 * headers naming the reason (from aq_dead_letter_reason) and origin. A message too large to carry with
 * the headers is cut to fit, with a header alertq-truncated giving the
 * original sizes: it must not stop its partition. Returns 0, or -1 with the
 * reason (nothing was queued). */
int aq_dead_letter_send(struct worker *w, const rd_kafka_message_t *m, const char *reason, char *err,
			size_t errlen);

/* Waits until every dead letter queued since aq_dead_letter_begin is in
 * Kafka. Returns 0, or -1 with the reason when one was not taken. */
int aq_dead_letter_flush(struct worker *w, char *err, size_t errlen);

/* Flushes what is left (up to 10 s) and destroys the producer; w->dlq may be
 * NULL. */
void aq_dead_letter_close(struct worker *w);

#endif
