/* worker_internal.h - the state a running worker's parts share: the batch
 * applier, the dead-letter producer, the Kafka consumer, the dispatchers and
 * the ticker. Private to the library. */
#ifndef ALERTQ_CONSUME_WORKER_INTERNAL_H
#define ALERTQ_CONSUME_WORKER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/store.h"
#include "alertq/worker.h"
#include "base/strmap.h"
#include "consume/state_cache.h"

/* Most messages one batch holds. */
#define AQ_BATCH_MAX 20000
/* How long a batch waits for its first message. */
#define AQ_BATCH_WAIT_MS 100

struct dispatcher;

struct worker {
	struct aq_config cfg;
	struct aq_worker_signals *sig;
	rd_kafka_t *consumer;
	rd_kafka_t *dlq;     /* producer for the dead-letter topic */
	size_t dlq_max;      /* bytes of key and value a dead letter may carry */
	size_t dlq_failed;   /* dead letters Kafka did not take, since the batch began */
	char dlq_error[256]; /* why the last one was not taken */
	aq_store_t *store;
	aq_codec_t *codec;
	aq_writes_t *writes;
	struct aq_state_cache cache;  /* states kept between batches (state.cache_mb) */
	int64_t cache_full_logged_ms; /* monotonic: when it may say again the cache was full */
	int lock_reads;            /* the batch met other writers again and again: its rows are read locked */
	int store_down;            /* said once in the log, until it is back */
	int paused;                /* consumption paused while a batch cannot be applied */
	int fatal;                 /* the consumer hit a fatal error: stop, exit status 1 */
	int cooperative;           /* the group rebalances incrementally (cooperative-sticky) */
	int64_t checks_stored;     /* how many checks the state held when last counted, plus new ones since */
	int64_t checks_counted_ms; /* monotonic time of that count; 0: never */

	pthread_rwlock_t cfg_lock; /* held to read cfg in the ticker and dispatchers */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake; /* new outbox rows */
	unsigned long wake_seq;
	volatile int threads_stop;

	struct dispatcher *dispatchers;
	size_t ndispatchers;
	pthread_t ticker;
	int ticker_started;
	/* the prefetch budget: partitions it was divided among (consumer.c) */
	int prefetch_partitions;
	/* set by aq_consumer_close(): a rebalance now is the close's revoke */
	int closing;
};

/* One delivery thread: sends the outbox rows of one channel. */
struct dispatcher {
	struct worker *w;
	const struct aq_channel *channel;
	pthread_t thread;
	int started;
};

/* Longest reason a dead letter carries (alertq-error header, dead-letter
 * row), in bytes. */
#define AQ_DEAD_LETTER_REASON_MAX 255

/* One decoded message of a batch. */
struct item {
	rd_kafka_message_t *msg;
	struct aq_result result;
	int ok;
	char error[AQ_DEAD_LETTER_REASON_MAX + 1]; /* from aq_dead_letter_reason */
	size_t state;                              /* index into the batch's states */
	/* the dead-letter topic has it: sent by an attempt of this batch whose
	 * flush succeeded (a later attempt records it again, sends it no more) */
	int dead_lettered;
	int dead_letter_sent; /* sent by this attempt, not yet flushed */
};

/* The messages read in one go and the states of the checks they touch. */
struct batch {
	struct item *items;
	size_t nitems;
	struct aq_state *states;
	const char **names;     /* names[i] is states[i]'s check, borrowed from an item */
	unsigned char *refused; /* refused[i]: states[i] is a new check past state.max_checks */
	size_t *unread;         /* indexes of the states not in the worker's cache */
	size_t nstates;
	struct aq_strmap index; /* check name -> index into states */
};

#endif
