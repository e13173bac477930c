/* publisher.c - publishing check results to Kafka, and the results given to
 * `submit` on the command line or as JSON lines */
#include "alertq/publisher.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "alertq/kafka.h"

#define ENCODED_MAX (256 * 1024)

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

aq_publisher_t *aq_publisher_new(const struct aq_config *cfg, char *err, size_t errlen)
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
	rd_kafka_conf_t *conf = aq_kafka_conf(cfg, AQ_KAFKA_PRODUCER, err, errlen);
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

int aq_publisher_send(aq_publisher_t *p, const struct aq_result *r, char *err, size_t errlen)
{
	size_t len = sizeof(p->buf);
	if (aq_codec_encode(p->codec, r, p->buf, &len, err, errlen) != 0)
		return -1;
	int64_t give_up = aq_monotonic_ms() + 30000;
	for (;;) {
		if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, p->buf, len,
				     r->check, strlen(r->check), NULL) == 0) {
			p->queued++;
			rd_kafka_poll(p->rk, 0);
			return 0;
		}
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || aq_monotonic_ms() > give_up) {
			snprintf(err, errlen, "cannot queue the result of '%s': %s", r->check,
				 rd_kafka_err2str(e));
			return -1;
		}
		rd_kafka_poll(p->rk, 10);
	}
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

static const char *const submit_keys[] = { "check",    "value",       "status",      "message", "labels",
					   "interval", "interval_ms", "observed_at", NULL };

int aq_submit_parse(const char *text, size_t len, struct aq_result *r, char *err, size_t errlen)
{
	json_error_t jerr;
	memset(r, 0, sizeof(*r));
	r->status = AQ_STATUS_NONE;
	json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "expected a JSON object");
		goto err;
	}
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value)
	{
		int known = 0;
		for (int i = 0; submit_keys[i]; i++)
			known |= strcmp(key, submit_keys[i]) == 0;
		if (!known) {
			snprintf(err, errlen, "unknown field '%s'", key);
			goto err;
		}
	}
	json_t *check = json_object_get(obj, "check");
	if (!json_is_string(check) || json_string_length(check) == 0) {
		snprintf(err, errlen, "'check' must be a non-empty string");
		goto err;
	}
	if (json_string_length(check) > AQ_CHECK_NAME_MAX) {
		snprintf(err, errlen, "'check' is longer than %d bytes", AQ_CHECK_NAME_MAX);
		goto err;
	}
	r->check = aq_strdup(json_string_value(check));
	value = json_object_get(obj, "value");
	if (value && !json_is_null(value)) {
		if (!json_is_number(value) || !isfinite(json_number_value(value))) {
			snprintf(err, errlen, "'value' must be a number or null");
			goto err;
		}
		r->has_value = 1;
		r->value = json_number_value(value);
	}
	value = json_object_get(obj, "status");
	if (value && !json_is_null(value)) {
		r->status = json_is_string(value) ? aq_status_parse(json_string_value(value))
						  : AQ_STATUS_NONE;
		if (r->status == AQ_STATUS_NONE) {
			snprintf(err, errlen, "'status' must be one of OK, WARNING, CRITICAL, UNKNOWN");
			goto err;
		}
	}
	value = json_object_get(obj, "message");
	if (value && !json_is_null(value)) {
		if (!json_is_string(value)) {
			snprintf(err, errlen, "'message' must be a string");
			goto err;
		}
		r->message = aq_strdup(json_string_value(value));
	}
	value = json_object_get(obj, "labels");
	if (value && !json_is_null(value)) {
		if (!json_is_object(value) || json_object_size(value) > 64) {
			snprintf(err, errlen, "'labels' must be an object of at most 64 strings");
			goto err;
		}
		r->labels = calloc(json_object_size(value) + 1, sizeof(*r->labels));
		json_t *v;
		json_object_foreach(value, key, v)
		{
			if (!json_is_string(v)) {
				snprintf(err, errlen, "label '%s' must be a string", key);
				goto err;
			}
			r->labels[r->nlabels].key = aq_strdup(key);
			r->labels[r->nlabels].value = aq_strdup(json_string_value(v));
			r->nlabels++;
		}
	}
	value = json_object_get(obj, "interval");
	if (value && !json_is_null(value)) {
		char derr[256];
		if (!json_is_string(value) ||
		    aq_duration_parse(json_string_value(value), &r->interval_ms, derr, sizeof(derr)) != 0) {
			snprintf(err, errlen, "'interval' must be a duration such as \"5m\"");
			goto err;
		}
	}
	value = json_object_get(obj, "interval_ms");
	if (value && !json_is_null(value)) {
		if (!json_is_integer(value) || json_integer_value(value) < 0) {
			snprintf(err, errlen, "'interval_ms' must be a non-negative integer");
			goto err;
		}
		r->interval_ms = json_integer_value(value);
	}
	value = json_object_get(obj, "observed_at");
	if (value && !json_is_null(value)) {
		char terr[256];
		if (!json_is_string(value) ||
		    aq_parse_time(json_string_value(value), &r->observed_at_ms, terr, sizeof(terr)) != 0) {
			snprintf(err, errlen,
				 "'observed_at' must be an RFC 3339 time such as 2026-11-27T17:00:00Z");
			goto err;
		}
	}
	json_decref(obj);
	aq_result_stamp(r);
	return 0;
err:
	json_decref(obj);
	aq_result_release(r);
	return -1;
}
