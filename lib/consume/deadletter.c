/* deadletter.c - the dead-letter producer: results that can never be
 * applied go to the dead-letter topic with the reason in a header */
#include "consume/deadletter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/kafka.h"
#include "base/utf8.h"

/* Room to format a reason before it is cleaned and cut. */
#define REASON_DRAFT_MAX 1024

/* Delivery reports of the dead-letter producer, served by its flush: counts
 * what Kafka did not take, so that its offset is not stored as done. */
static void on_dead_letter_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct worker *w = opaque;
	(void)rk;
	if (!m->err)
		return;
	w->dlq_failed++;
	snprintf(w->dlq_error, sizeof(w->dlq_error), "%s", rd_kafka_err2str(m->err));
}

char *aq_dead_letter_reason(char *out, const char *fmt, ...)
{
	char draft[REASON_DRAFT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(draft, sizeof(draft), fmt, ap);
	va_end(ap);
	if (n < 0)
		draft[0] = '\0';
	return aq_text_clean_into(out, AQ_DEAD_LETTER_REASON_MAX + 1, draft, strlen(draft), AQ_TEXT_SPACES);
}

int aq_dead_letter_setup(struct worker *w, char *err, size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = aq_kafka_conf(&w->cfg, AQ_KAFKA_PRODUCER, err, errlen);
	if (!conf)
		return -1;
	char max_bytes[32];
	size_t max_len = sizeof(max_bytes);
	long max = 1000000;
	if (rd_kafka_conf_get(conf, "message.max.bytes", max_bytes, &max_len) == RD_KAFKA_CONF_OK)
		max = atol(max_bytes);
	/* room for the headers (the reason is at most AQ_DEAD_LETTER_REASON_MAX
	 * bytes) and framing */
	w->dlq_max = max > 16384 ? (size_t)max - 4096 : (size_t)max / 2;
	rd_kafka_conf_set_dr_msg_cb(conf, on_dead_letter_delivery);
	rd_kafka_conf_set_opaque(conf, w);
	w->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!w->dlq) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the dead-letter producer: %s", errstr);
		return -1;
	}
	return 0;
}

void aq_dead_letter_begin(struct worker *w)
{
	w->dlq_failed = 0;
}

int aq_dead_letter_send(struct worker *w, const rd_kafka_message_t *m, const char *reason, char *err,
			size_t errlen)
{
	char partition[16];
	char offset[24];
	char truncated[96];
	size_t key_len = m->key_len;
	size_t len = m->len;
	snprintf(partition, sizeof(partition), "%d", (int)m->partition);
	snprintf(offset, sizeof(offset), "%lld", (long long)m->offset);
	rd_kafka_headers_t *headers = rd_kafka_headers_new(5);
	rd_kafka_header_add(headers, "alertq-error", -1, reason, -1);
	rd_kafka_header_add(headers, "alertq-source-topic", -1, rd_kafka_topic_name(m->rkt), -1);
	rd_kafka_header_add(headers, "alertq-source-partition", -1, partition, -1);
	rd_kafka_header_add(headers, "alertq-source-offset", -1, offset, -1);
	if (key_len + len > w->dlq_max) {
		/* the key keeps at most half the room, so the value always has some */
		if (key_len > 1024)
			key_len = 1024;
		if (key_len > w->dlq_max / 2)
			key_len = w->dlq_max / 2;
		if (len > w->dlq_max - key_len)
			len = w->dlq_max - key_len;
		snprintf(truncated, sizeof(truncated), "key %zu of %zu bytes, value %zu of %zu bytes",
			 key_len, m->key_len, len, m->len);
		rd_kafka_header_add(headers, "alertq-truncated", -1, truncated, -1);
	}
	rd_kafka_resp_err_t e = rd_kafka_producev(
		w->dlq, RD_KAFKA_V_TOPIC(w->cfg.dead_letter_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_KEY(m->key, key_len), RD_KAFKA_V_VALUE(m->payload, len),
		RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
	if (e) {
		rd_kafka_headers_destroy(headers); /* still ours when refused */
		snprintf(err, errlen, "dead-letter topic: %s", rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

int aq_dead_letter_flush(struct worker *w, char *err, size_t errlen)
{
	rd_kafka_resp_err_t e = rd_kafka_flush(w->dlq, 10000);
	if (e) {
		snprintf(err, errlen, "dead-letter topic: %s", rd_kafka_err2str(e));
		return -1;
	}
	if (w->dlq_failed > 0) {
		snprintf(err, errlen, "dead-letter topic: %zu event(s) not taken: %s", w->dlq_failed,
			 w->dlq_error);
		return -1;
	}
	return 0;
}

void aq_dead_letter_close(struct worker *w)
{
	if (!w->dlq)
		return;
	rd_kafka_flush(w->dlq, 10000);
	rd_kafka_destroy(w->dlq);
	w->dlq = NULL;
}
