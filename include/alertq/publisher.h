/* publisher.h - publishing check results to Kafka */
#ifndef ALERTQ_PUBLISHER_H
#define ALERTQ_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/event.h"

typedef struct aq_publisher aq_publisher_t;

/* An idempotent producer (acks=all) for cfg's topic: each result leaves at
 * once, for the least latency. NULL with the reason in err. cfg must outlive
 * it. */
aq_publisher_t *aq_publisher_new(const struct aq_config *cfg, char *err, size_t errlen);

/* The same for many results in a row (`submit --file`): results linger
 * AQ_KAFKA_BULK_LINGER_MS to fill batches; a flush sends at once. */
aq_publisher_t *aq_publisher_new_bulk(const struct aq_config *cfg, char *err, size_t errlen);

/* Flushes what is queued (up to 30 s), then frees. */
void aq_publisher_free(aq_publisher_t *p);

/* Encodes r and queues it, keyed by check name. When the local queue is
 * full it serves delivery reports and waits (up to the delivery timeout).
 * Returns 0, or -1 with the reason in err (the result is then not sent). */
int aq_publisher_send(aq_publisher_t *p, const struct aq_result *r, char *err, size_t errlen);

/* aq_publisher_send for a result that has just passed aq_result_validate()
 * (its message within AQ_MESSAGE_MAX), which is not checked again (see
 * aq_codec_encode_valid). */
int aq_publisher_send_valid(aq_publisher_t *p, const struct aq_result *r, char *err, size_t errlen);

/* Serves delivery reports for up to timeout_ms. */
void aq_publisher_poll(aq_publisher_t *p, int timeout_ms);

/* Waits until every queued result is acknowledged or failed, up to
 * timeout_ms. Returns the number still not delivered (failed or pending). */
size_t aq_publisher_flush(aq_publisher_t *p, int timeout_ms);

/* Waits up to a minute until every queued result is acknowledged. Returns 0
 * when all were, or -1 with how many were not in err. */
int aq_publisher_finish(aq_publisher_t *p, char *err, size_t errlen);

/* Results acknowledged by Kafka, and results that failed (each failure is
 * logged with its check name and reason). */
size_t aq_publisher_delivered(const aq_publisher_t *p);
size_t aq_publisher_failed(const aq_publisher_t *p);

/* The source name results carry: $ALERTQ_SOURCE, else the host name. */
const char *aq_source_name(void);

/* Sets what every result needs and a submit may leave out: a new event_id,
 * the source name, observed_at now when 0. */
void aq_result_stamp(struct aq_result *r);

#endif
