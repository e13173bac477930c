/* metrics.h - the Prometheus text (format 0.0.4) of GET /metrics */
#ifndef ALERTQ_SERVE_METRICS_H
#define ALERTQ_SERVE_METRICS_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "alertq/config.h"
#include "alertq/store.h"
#include "base/buf.h"

/* How long /metrics waits for Kafka's metadata and each partition's high
 * watermark before it leaves the consumer lag out. */
#define AQ_METRICS_KAFKA_TIMEOUT_MS 2000

/* The Prometheus text of /metrics into b: from the store (and the consumer lag from Kafka when rk is not NULL).
 *
 * Appends, each with HELP and TYPE: alertq_checks{severity} (OK, WARNING,
 * CRITICAL, UNKNOWN, each even at 0); alertq_notifications_pending{channel},
 * alertq_notifications_oldest_pending_seconds{channel} (whole seconds) and
 * alertq_notifications_total{channel,outcome} (outcome sent or undeliverable;
 * rows pruned past state.retention leave it, which Prometheus takes as a
 * counter reset) for every configured channel and every channel the outbox
 * names; alertq_dead_letters_total; alertq_consumer_lag{partition} (the high
 * watermark of cfg->topic less the next offset the workers stored, or less
 * the low watermark where none is stored), left out with a comment line
 * saying why when rk or cfg is NULL or Kafka does not answer;
 * alertq_build_info{version} 1. cfg may be NULL (no configured channels, no
 * lag). Returns 0, or -1 with the reason in err when the store fails or b
 * failed (what was appended stays in b). */
int aq_metrics_render(aq_store_t *s, rd_kafka_t *rk, const struct aq_config *cfg, struct aq_buf *b, char *err,
		      size_t errlen);

/* Appends value to b as a label value of the text format: UTF-8 made valid,
 * then backslash, double quote and newline escaped (\\, \", \n). */
void aq_metrics_label_value(struct aq_buf *b, const char *value);

#endif
