/* consumer.h - the worker's Kafka consumer: setup, rebalance, pause and
 * resume, rewinding, and the commit kept for lag monitoring */
#ifndef ALERTQ_CONSUME_CONSUMER_H
#define ALERTQ_CONSUME_CONSUMER_H

#include <stddef.h>

#include "consume/worker_internal.h"

/* Creates w->consumer from w->cfg and subscribes it to the topic. On
 * assignment each partition starts at the offset stored with the state.
 * Returns 0, or -1 with the reason in err. */
int aq_consumer_setup(struct worker *w, char *err, size_t errlen);

/* Leaves the group and destroys the consumer; w->consumer may be NULL. */
void aq_consumer_close(struct worker *w);

/* Pauses (paused 1) or resumes (0) every assigned partition. */
void aq_consumer_set_paused(struct worker *w, int paused);

/* Keeps the group membership alive while consumption is paused, until the
 * monotonic clock reaches until_ms: polls, and moves back any partition
 * whose message arrives meanwhile, so that it is read again on resuming.
 * Returns 0, or -1 when w->sig->stop was set first. */
int aq_consumer_idle(struct worker *w, int64_t until_ms);

/* Commits the next offsets of the batch's messages to Kafka,
 * asynchronously: a convenience for lag monitoring only. */
void aq_consumer_commit(struct worker *w, const struct batch *b);

/* Writes the id of the Kafka cluster rk talks to into out, "" when not
 * known within timeout_ms. */
void aq_consumer_cluster(rd_kafka_t *rk, int timeout_ms, char *out, size_t outlen);

#endif
