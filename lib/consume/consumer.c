/* consumer.c - the worker's Kafka consumer: setup, rebalance, pause and
 * resume, rewinding, and the commit kept for lag monitoring */
#include "consume/consumer.h"

#include <stdio.h>
#include <string.h>

#include "alertq/kafka.h"
#include "alertq/util.h"

void aq_consumer_cluster(rd_kafka_t *rk, int timeout_ms, char *out, size_t outlen)
{
	char *id = rd_kafka_clusterid(rk, timeout_ms);
	snprintf(out, outlen, "%s", id ? id : "");
	if (id)
		rd_kafka_mem_free(rk, id);
}

void aq_consumer_set_paused(struct worker *w, int paused)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(w->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
		return;
	if (paused)
		rd_kafka_pause_partitions(w->consumer, parts);
	else
		rd_kafka_resume_partitions(w->consumer, parts);
	rd_kafka_topic_partition_list_destroy(parts);
}

/* A message polled while consumption is paused (fetched before the pause
 * took hold, or from a partition just assigned): it was not applied, so its
 * partition is moved back to it, to be read again when consuming resumes.
 * Dropping it would move the partition's position past it for good. */
static void rewind_to(struct worker *w, const rd_kafka_message_t *m)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, rd_kafka_topic_name(m->rkt), m->partition)->offset =
		m->offset;
	rd_kafka_error_t *error = rd_kafka_seek_partitions(w->consumer, parts, 5000);
	if (!error && parts->elems[0].err)
		aq_log(AQ_LOG_WARN, "partition %d: cannot go back to offset %lld: %s", (int)m->partition,
		       (long long)m->offset, rd_kafka_err2str(parts->elems[0].err));
	if (error) {
		aq_log(AQ_LOG_WARN, "partition %d: cannot go back to offset %lld: %s", (int)m->partition,
		       (long long)m->offset, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	rd_kafka_topic_partition_list_destroy(parts);
}

int aq_consumer_idle(struct worker *w, int64_t until_ms)
{
	while (aq_monotonic_ms() < until_ms) {
		if (w->sig->stop)
			return -1;
		/* keep the group membership alive; nothing is fetched while paused */
		rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 100);
		if (!m)
			continue;
		if (!m->err)
			rewind_to(w, m);
		rd_kafka_message_destroy(m);
	}
	return 0;
}

void aq_consumer_commit(struct worker *w, const struct batch *b)
{
	rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(16);
	for (size_t i = 0; i < b->nitems; i++) {
		const rd_kafka_message_t *m = b->items[i].msg;
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
			offsets, rd_kafka_topic_name(m->rkt), m->partition);
		if (!tp)
			tp = rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(m->rkt),
							       m->partition);
		if (m->offset + 1 > tp->offset)
			tp->offset = m->offset + 1;
	}
	if (offsets->cnt > 0)
		rd_kafka_commit(w->consumer, offsets, 1);
	rd_kafka_topic_partition_list_destroy(offsets);
}

/* Assignment: start each partition at the offset stored with the state.
 * Where none is stored, or it was stored against another Kafka cluster, or
 * the database cannot be asked now, the group's committed offset is used; it
 * is never ahead of the stored one, and the batch drops anything already
 * applied. */
static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
		      void *opaque)
{
	struct worker *w = opaque;
	if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		aq_log(AQ_LOG_INFO, "partitions revoked: %d", parts->cnt);
		rd_kafka_assign(rk, NULL);
		return;
	}
	int32_t partitions[512] = { 0 };
	int64_t next[512] = { 0 };
	char stored_clusters[512][AQ_CLUSTER_ID_MAX];
	char cluster[AQ_CLUSTER_ID_MAX];
	size_t n = 0;
	char msg[1024];
	for (int i = 0; i < parts->cnt && n < 512; i++) {
		parts->elems[i].offset = RD_KAFKA_OFFSET_STORED;
		if (strcmp(parts->elems[i].topic, w->cfg.topic) == 0)
			partitions[n++] = parts->elems[i].partition;
	}
	aq_consumer_cluster(rk, 1000, cluster, sizeof(cluster));
	if (aq_store_offsets(w->store, w->cfg.topic, partitions, n, 0, next, stored_clusters, msg,
			     sizeof(msg)) == 0) {
		for (size_t k = 0; k < n; k++) {
			/* an offset of another cluster's log means nothing here */
			if (next[k] < 0 ||
			    (stored_clusters[k][0] && cluster[0] && strcmp(stored_clusters[k], cluster) != 0))
				continue;
			for (int i = 0; i < parts->cnt; i++)
				if (parts->elems[i].partition == partitions[k] &&
				    strcmp(parts->elems[i].topic, w->cfg.topic) == 0)
					parts->elems[i].offset = next[k];
		}
	} else {
		aq_log(AQ_LOG_WARN, "cannot read stored offsets, starting from the group's: %s", msg);
	}
	size_t len = 0;
	msg[0] = '\0';
	for (int i = 0; i < parts->cnt && len < sizeof(msg) - 16; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%d", i ? "," : "",
					parts->elems[i].partition);
	aq_log(AQ_LOG_INFO, "partitions assigned: [%s]", msg);
	rd_kafka_assign(rk, parts);
	if (w->paused)
		aq_consumer_set_paused(w, 1);
}

int aq_consumer_setup(struct worker *w, char *err, size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = aq_kafka_conf(&w->cfg, AQ_KAFKA_CONSUMER, err, errlen);
	if (!conf)
		return -1;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rd_kafka_conf_set_opaque(conf, w);
	w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!w->consumer) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the consumer: %s", errstr);
		return -1;
	}
	conf = NULL; /* owned by the consumer now */
	rd_kafka_poll_set_consumer(w->consumer);

	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, w->cfg.topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(w->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		snprintf(err, errlen, "cannot subscribe to '%s': %s", w->cfg.topic, rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

void aq_consumer_close(struct worker *w)
{
	if (!w->consumer)
		return;
	rd_kafka_consumer_close(w->consumer);
	rd_kafka_destroy(w->consumer);
	w->consumer = NULL;
}
