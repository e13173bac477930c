/* kafka.h - librdkafka configuration for alertq's producers and consumers */
#ifndef ALERTQ_KAFKA_H
#define ALERTQ_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "alertq/config.h"

enum aq_kafka_role {
	AQ_KAFKA_PRODUCER,      /* idempotent, acks=all, a result leaves at once */
	AQ_KAFKA_CONSUMER,      /* the worker group: manual offsets */
	AQ_KAFKA_READER,        /* replay: a private group that never commits */
	AQ_KAFKA_PRODUCER_BULK, /* as AQ_KAFKA_PRODUCER, lingering to fill batches */
};

/* linger.ms of a bulk producer, and the consumers' fetch.wait.max.ms (what
 * a result waits at worst on the development broker). */
#define AQ_KAFKA_BULK_LINGER_MS "10"
#define AQ_KAFKA_FETCH_WAIT_MS "1"

/* A new configuration for role: bootstrap.servers from cfg, alertq's
 * defaults for the role, then cfg's kafka.properties (which win). Returns
 * NULL with the reason in err when a property is refused. */
rd_kafka_conf_t *aq_kafka_conf(const struct aq_config *cfg, enum aq_kafka_role role, char *err,
			       size_t errlen);

/* Sets one property; returns 0 or -1 with librdkafka's reason in err. */
int aq_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err, size_t errlen);

#endif
