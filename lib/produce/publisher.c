/* publisher.c - publishing check results to Kafka */
#include "alertq/publisher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "alertq/kafka.h"

#define ENCODED_MAX (256 * 1024)
#define FINISH_TIMEOUT_MS 60000
/* How long a send waits for room in a full local queue. */
#define QUEUE_FULL_WAIT_MS 30000
/* Delivery reports are served every this many sends (and by poll, flush
 * and finish): serving them after each send cost a lock per result. */
#define SEND_POLL_EVERY 256

struct aq_publisher {
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic;
	aq_codec_t *codec;
	size_t queued;
	size_t delivered;
	size_t failed;
	unsigned char buf[ENCODED_MAX];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	aq_publisher_t *p = opaque;
	if (m->err) {
		p->failed++;
		aq_log(AQ_LOG_ERROR, "result for check '%.*s' not acknowledged by Kafka: %s", (int)m->key_len,
		       (const char *)m->key, rd_kafka_err2str(m->err));
	} else {
		p->delivered++;
	}
}

/* A publisher whose producer is configured for role (a producer role). */
static aq_publisher_t *publisher_new(const struct aq_config *cfg, enum aq_kafka_role role, char *err,
				     size_t errlen)
{
	char errstr[512];
	aq_publisher_t *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->codec = aq_codec_new(err, errlen);
	if (!p->codec)
		goto err;
	rd_kafka_conf_t *conf = aq_kafka_conf(cfg, role, err, errlen);
	if (!conf)
		goto err;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!p->rk) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the producer: %s", errstr);
		goto err;
	}
	conf = NULL; /* owned by the producer now */
	p->topic = rd_kafka_topic_new(p->rk, cfg->topic, NULL);
	if (!p->topic) {
		snprintf(err, errlen, "cannot use topic '%s': %s", cfg->topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		goto err;
	}
	return p;
err:
	if (p->rk)
		rd_kafka_destroy(p->rk);
	aq_codec_free(p->codec);
	free(p);
	return NULL;
}

aq_publisher_t *aq_publisher_new(const struct aq_config *cfg, char *err, size_t errlen)
{
	return publisher_new(cfg, AQ_KAFKA_PRODUCER, err, errlen);
}

aq_publisher_t *aq_publisher_new_bulk(const struct aq_config *cfg, char *err, size_t errlen)
{
	return publisher_new(cfg, AQ_KAFKA_PRODUCER_BULK, err, errlen);
}

void aq_publisher_free(aq_publisher_t *p)
{
	if (!p)
		return;
	aq_publisher_flush(p, 30000);
	rd_kafka_topic_destroy(p->topic);
	rd_kafka_destroy(p->rk);
	aq_codec_free(p->codec);
	free(p);
}

/* Queues the len bytes of p->buf, keyed by r's check; see aq_publisher_send. */
static int queue_encoded(aq_publisher_t *p, const struct aq_result *r, size_t len, char *err, size_t errlen)
{
	size_t keylen = strlen(r->check);
	int64_t give_up = 0;
	for (;;) {
		if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, p->buf, len,
				     r->check, keylen, NULL) == 0) {
			p->queued++;
			if (p->queued % SEND_POLL_EVERY == 0)
				rd_kafka_poll(p->rk, 0);
			return 0;
		}
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && give_up == 0)
			give_up = aq_monotonic_ms() + QUEUE_FULL_WAIT_MS;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || aq_monotonic_ms() > give_up) {
			snprintf(err, errlen, "cannot queue the result of '%s': %s", r->check,
				 rd_kafka_err2str(e));
			return -1;
		}
		rd_kafka_poll(p->rk, 10);
	}
}

int aq_publisher_send(aq_publisher_t *p, const struct aq_result *r, char *err, size_t errlen)
{
	size_t len = sizeof(p->buf);
	if (aq_codec_encode(p->codec, r, p->buf, &len, err, errlen) != 0)
		return -1;
	return queue_encoded(p, r, len, err, errlen);
}

int aq_publisher_send_valid(aq_publisher_t *p, const struct aq_result *r, char *err, size_t errlen)
{
	size_t len = sizeof(p->buf);
	if (aq_codec_encode_valid(p->codec, r, p->buf, &len, err, errlen) != 0)
		return -1;
	return queue_encoded(p, r, len, err, errlen);
}

void aq_publisher_poll(aq_publisher_t *p, int timeout_ms)
{
	rd_kafka_poll(p->rk, timeout_ms);
}

size_t aq_publisher_flush(aq_publisher_t *p, int timeout_ms)
{
	rd_kafka_flush(p->rk, timeout_ms);
	rd_kafka_poll(p->rk, 0);
	return p->queued - p->delivered;
}

int aq_publisher_finish(aq_publisher_t *p, char *err, size_t errlen)
{
	size_t left = aq_publisher_flush(p, FINISH_TIMEOUT_MS);
	size_t failed = aq_publisher_failed(p);
	if (left > 0 || failed > 0) {
		snprintf(err, errlen, "%zu result(s) not acknowledged by Kafka (%zu delivered)", left,
			 aq_publisher_delivered(p));
		return -1;
	}
	return 0;
}

size_t aq_publisher_delivered(const aq_publisher_t *p)
{
	return p->delivered;
}

size_t aq_publisher_failed(const aq_publisher_t *p)
{
	return p->failed;
}

static pthread_once_t source_once = PTHREAD_ONCE_INIT;
static char source_name[256];

static void source_init(void)
{
	const char *env = getenv("ALERTQ_SOURCE");
	if (env && *env) {
		snprintf(source_name, sizeof(source_name), "%s", env);
		return;
	}
	if (gethostname(source_name, sizeof(source_name) - 1) != 0)
		snprintf(source_name, sizeof(source_name), "unknown");
}

const char *aq_source_name(void)
{
	pthread_once(&source_once, source_init);
	return source_name;
}

void aq_result_stamp(struct aq_result *r)
{
	if (!r->event_id[0])
		aq_uuid4(r->event_id);
	if (!r->source)
		r->source = aq_strdup(aq_source_name());
	if (!r->message)
		r->message = aq_strdup("");
	if (r->observed_at_ms == 0)
		r->observed_at_ms = aq_now_ms();
}
