/* consumer.h - the worker's Kafka consumer: setup, rebalance, pause and
 * resume, rewinding, and the commit kept for lag monitoring */
#ifndef ALERTQ_CONSUME_CONSUMER_H
#define ALERTQ_CONSUME_CONSUMER_H

#include <stddef.h>

#include "consume/worker_internal.h"

/* How often pausing, resuming or moving back a partition is tried before
 * the worker stops. */
#define AQ_CONSUMER_ATTEMPTS 3
#define AQ_CONSUMER_RETRY_MS 100
/* Most partitions of one assignment whose stored offsets are looked up. */
#define AQ_ASSIGN_MAX 512

/* Prefetch. What one event is taken to cost in the client while it waits:
 * librdkafka keeps ~450 bytes of bookkeeping per message beside its record,
 * and a fetch response's buffer stays whole until its last message is
 * freed; measured ~760 bytes an event for results of ~170 bytes on the wire
 * (1M results waiting on 48 partitions). The share of the budget a fetch
 * response gets (1/16: 1 MiB at 16 MiB): a response arrives whole however
 * full the queue is, and its records grow ~4x in the client, so its size is
 * what a backlog's peak follows (8 MiB responses: 107-149 MB, 2 MiB: 94-104
 * MB, 1 MiB: 77-98 MB). The fewest events queued, whatever the budget: two
 * batches, so that a batch fills while the one before commits (with the
 * budget's 16k events, 10k checks ran at 0.4 of the rate; with one batch
 * or one and a half and 1 MiB responses at 0.5-0.6: librdkafka 2.0 seems to
 * fetch again only a while after the queue falls below its threshold);
 * the least a partition gets of a fetch; the smallest and largest
 * fetch response (librdkafka wants one to hold a message of
 * message.max.bytes); the partition count assumed when the topic's cannot
 * be told, and how long it is asked for. */
#define AQ_PREFETCH_EVENT_BYTES 768
#define AQ_PREFETCH_FETCH_SHARE 16
#define AQ_PREFETCH_MIN_EVENTS (2 * AQ_BATCH_MAX)
#define AQ_PREFETCH_PARTITION_MIN_BYTES (64 * 1024)
#define AQ_PREFETCH_FETCH_MIN_BYTES (1024 * 1024)
#define AQ_PREFETCH_FETCH_MAX_BYTES (64 * 1024 * 1024)
#define AQ_PREFETCH_PARTITIONS_UNKNOWN 64
#define AQ_PREFETCH_METADATA_MS 5000

/* librdkafka's prefetch limits for one budget. */
struct aq_prefetch {
	long long queued_min_messages;   /* queued.min.messages */
	long long queued_max_kbytes;     /* queued.max.messages.kbytes */
	long long partition_fetch_bytes; /* max.partition.fetch.bytes */
	long long fetch_max_bytes;       /* fetch.max.bytes */
};

/* Divides budget_mb MiB: 1/AQ_PREFETCH_FETCH_SHARE to one fetch response
 * (within AQ_PREFETCH_FETCH_MIN_BYTES..AQ_PREFETCH_FETCH_MAX_BYTES), shared
 * by partitions (each given at least AQ_PREFETCH_PARTITION_MIN_BYTES), the
 * rest to the queue of fetched events (by count at AQ_PREFETCH_EVENT_BYTES
 * each, at least AQ_PREFETCH_MIN_EVENTS, and by size). Returns 0, or -1 when
 * either is below 1. */
int aq_prefetch_limits(int budget_mb, int partitions, struct aq_prefetch *out);

/* Sets into conf (a consumer's, from aq_kafka_conf) the limits of
 * cfg->prefetch_budget_mb over partitions, each unless cfg's
 * kafka.properties gives it (the operator's value stands), and fills p with
 * them. Returns 0, or -1 with the reason in err (a budget or partition count
 * below 1, or a value librdkafka refuses). */
int aq_prefetch_conf(const struct aq_config *cfg, int partitions, rd_kafka_conf_t *conf,
		     struct aq_prefetch *p, char *err, size_t errlen);

/* Creates w->consumer from w->cfg and subscribes it to the topic. Its
 * prefetch is bounded by kafka.prefetch_budget_mb over all the topic's
 * partitions (see aq_prefetch_limits; asked of the cluster first). On
 * assignment each partition starts at the offset stored with the state;
 * eager and cooperative assignors (partition.assignment.strategy) both
 * work. A rebalance that cannot be carried out stops the worker.
 * Returns 0, or -1 with the reason in err. */
int aq_consumer_setup(struct worker *w, char *err, size_t errlen);

/* Leaves the group and destroys the consumer; w->consumer may be NULL. */
void aq_consumer_close(struct worker *w);

/* Pauses (paused 1) or resumes (0) every assigned partition, trying a
 * partition that refuses AQ_CONSUMER_ATTEMPTS times. Returns 0, or -1 after
 * logging which partitions refused and stopping the worker (w->fatal and
 * w->sig->stop set): a partition left running while the batch is retried,
 * or left paused for good, would be consumed wrongly. */
int aq_consumer_set_paused(struct worker *w, int paused);

/* Keeps the group membership alive while consumption is paused, until the
 * monotonic clock reaches until_ms: polls, and moves back any partition
 * whose message arrives meanwhile, so that it is read again on resuming
 * (the worker stops when one cannot be moved back). Returns 0, or -1 when
 * w->sig->stop was set first. */
int aq_consumer_idle(struct worker *w, int64_t until_ms);

/* Commits the next offsets of the batch's messages to Kafka,
 * asynchronously: a convenience for lag monitoring only. */
void aq_consumer_commit(struct worker *w, const struct batch *b);

/* Writes the id of the Kafka cluster rk talks to into out, "" when not
 * known within timeout_ms. */
void aq_consumer_cluster(rd_kafka_t *rk, int timeout_ms, char *out, size_t outlen);

#endif
