/* consumer.c - the worker's Kafka consumer: setup (with its prefetch
 * bounded by one budget), rebalance, pause and resume, rewinding, and the
 * commit kept for lag monitoring */
#include "consume/consumer.h"

#include <stdio.h>
#include <string.h>

#include "alertq/kafka.h"
#include "alertq/util.h"
#include "consume/pace.h"

void aq_consumer_cluster(rd_kafka_t *rk, int timeout_ms, char *out, size_t outlen)
{
	char *id = rd_kafka_clusterid(rk, timeout_ms);
	snprintf(out, outlen, "%s", id ? id : "");
	if (id)
		rd_kafka_mem_free(rk, id);
}

/* Stops the worker with an error: the consumer cannot be trusted to read
 * what it should any more. Exit status 1. */
static void consumer_failed(struct worker *w)
{
	w->fatal = 1;
	w->sig->stop = 1;
}

/* Writes the partition numbers of parts as "0,3,7" into out, cut to fit. */
static void partitions_text(const rd_kafka_topic_partition_list_t *parts, char *out, size_t outlen)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; parts && i < parts->cnt && len < outlen - 16; i++)
		len += (size_t)snprintf(out + len, outlen - len, "%s%d", i ? "," : "",
					parts->elems[i].partition);
}

/* Pauses or resumes parts; the outcome of each is in its err. */
static void pause_or_resume(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int paused)
{
	for (int i = 0; i < parts->cnt; i++)
		parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (paused)
		rd_kafka_pause_partitions(rk, parts);
	else
		rd_kafka_resume_partitions(rk, parts);
}

int aq_consumer_set_paused(struct worker *w, int paused)
{
	const char *verb = paused ? "pause" : "resume";
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t e = rd_kafka_assignment(w->consumer, &parts);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR || !parts) {
		aq_log(AQ_LOG_ERROR, "cannot %s consumption: the assignment is unknown: %s; stopping", verb,
		       rd_kafka_err2str(e));
		if (parts)
			rd_kafka_topic_partition_list_destroy(parts);
		consumer_failed(w);
		return -1;
	}
	int failed = 0;
	for (int attempt = 0; attempt < AQ_CONSUMER_ATTEMPTS; attempt++) {
		pause_or_resume(w->consumer, parts, paused);
		failed = 0;
		for (int i = 0; i < parts->cnt; i++) {
			if (!parts->elems[i].err)
				continue;
			failed++;
			aq_log(AQ_LOG_WARN, "partition %d: cannot %s it: %s", (int)parts->elems[i].partition,
			       verb, rd_kafka_err2str(parts->elems[i].err));
		}
		if (!failed)
			break;
		aq_sleep_ms(AQ_CONSUMER_RETRY_MS);
	}
	rd_kafka_topic_partition_list_destroy(parts);
	if (failed) {
		aq_log(AQ_LOG_ERROR, "cannot %s %d partition(s) after %d attempts; stopping", verb, failed,
		       AQ_CONSUMER_ATTEMPTS);
		consumer_failed(w);
		return -1;
	}
	return 0;
}

/* A message polled while consumption is paused (fetched before the pause
 * took hold, or from a partition just assigned): it was not applied, so its
 * partition is moved back to it, to be read again when consuming resumes.
 * Dropping it would move the partition's position past it for good, and
 * its result would be lost: when no attempt succeeds the worker stops. */
static void rewind_to(struct worker *w, const rd_kafka_message_t *m)
{
	for (int attempt = 0; attempt < AQ_CONSUMER_ATTEMPTS; attempt++) {
		rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(parts, rd_kafka_topic_name(m->rkt), m->partition)->offset =
			m->offset;
		rd_kafka_error_t *error = rd_kafka_seek_partitions(w->consumer, parts, 5000);
		const char *why = error       ? rd_kafka_error_string(error)
			: parts->elems[0].err ? rd_kafka_err2str(parts->elems[0].err)
					      : NULL;
		if (why)
			aq_log(AQ_LOG_WARN, "partition %d: cannot go back to offset %lld: %s",
			       (int)m->partition, (long long)m->offset, why);
		if (error)
			rd_kafka_error_destroy(error);
		rd_kafka_topic_partition_list_destroy(parts);
		if (!why)
			return;
		aq_sleep_ms(AQ_CONSUMER_RETRY_MS);
	}
	aq_log(AQ_LOG_ERROR, "partition %d: cannot go back to offset %lld after %d attempts; stopping",
	       (int)m->partition, (long long)m->offset, AQ_CONSUMER_ATTEMPTS);
	consumer_failed(w);
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

/* Sets the start offset of each partition of parts to the one stored with
 * the state. Where none is stored, or it was stored against another Kafka
 * cluster, or the database cannot be asked now, the group's committed offset
 * is used; it is never ahead of the stored one, and the batch drops anything
 * already applied. */
static void start_at_stored(struct worker *w, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	int32_t partitions[AQ_ASSIGN_MAX] = { 0 };
	int64_t next[AQ_ASSIGN_MAX] = { 0 };
	char stored_clusters[AQ_ASSIGN_MAX][AQ_CLUSTER_ID_MAX];
	char cluster[AQ_CLUSTER_ID_MAX];
	size_t n = 0;
	char msg[1024];
	for (int i = 0; i < parts->cnt && n < AQ_ASSIGN_MAX; i++) {
		parts->elems[i].offset = RD_KAFKA_OFFSET_STORED;
		if (strcmp(parts->elems[i].topic, w->cfg.topic) == 0)
			partitions[n++] = parts->elems[i].partition;
	}
	if (n == 0)
		return;
	aq_consumer_cluster(rk, 1000, cluster, sizeof(cluster));
	if (aq_store_offsets(w->store, w->cfg.topic, partitions, n, 0, next, stored_clusters, msg,
			     sizeof(msg)) != 0) {
		aq_log(AQ_LOG_WARN, "cannot read stored offsets, starting from the group's: %s", msg);
		return;
	}
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
}

/* Whether the consumer's assignors rebalance with the cooperative protocol,
 * read from its configuration once at setup. rd_kafka_rebalance_protocol()
 * is not asked: called from a rebalance callback run by
 * rd_kafka_consumer_close() it can wait forever for the group thread that is
 * closing (a worker told to stop then never exits). librdkafka refuses
 * assignors of mixed protocols, so one name says it. */
static int conf_is_cooperative(const rd_kafka_conf_t *conf)
{
	char value[256];
	size_t size = sizeof(value);
	if (rd_kafka_conf_get(conf, "partition.assignment.strategy", value, &size) != RD_KAFKA_CONF_OK)
		return 0;
	return strstr(value, "cooperative") != NULL;
}

/* Adds (assign 1) or removes (0) parts: the whole assignment under the
 * eager protocol, only the partitions of parts under the cooperative one.
 * Returns 0, or -1 with the reason in err. */
static int change_assignment(rd_kafka_t *rk, int cooperative, rd_kafka_topic_partition_list_t *parts,
			     int assign, char *err, size_t errlen)
{
	if (cooperative) {
		rd_kafka_error_t *error = assign ? rd_kafka_incremental_assign(rk, parts)
						 : rd_kafka_incremental_unassign(rk, parts);
		if (!error)
			return 0;
		snprintf(err, errlen, "%s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		return -1;
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, assign ? parts : NULL);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	snprintf(err, errlen, "%s", rd_kafka_err2str(e));
	return -1;
}

/* Rebalance: partitions assigned start at their stored offsets; under the
 * cooperative protocol only the partitions named come and go, and the rest
 * are consumed on undisturbed. An assignment that cannot be changed stops
 * the worker: it would read partitions it does not own, or miss some. */
static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
		      void *opaque)
{
	struct worker *w = opaque;
	char listed[1024];
	char holding[1024];
	char why[512];
	int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	partitions_text(parts, listed, sizeof(listed));
	if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		aq_log(AQ_LOG_WARN, "rebalance failed: %s; dropping the assignment", rd_kafka_err2str(err));
		rd_kafka_resp_err_t e = rd_kafka_assign(rk, NULL);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			aq_log(AQ_LOG_ERROR, "cannot drop the assignment: %s; stopping", rd_kafka_err2str(e));
			consumer_failed(w);
		}
		return;
	}
	if (assign)
		start_at_stored(w, rk, parts);
	if (change_assignment(rk, w->cooperative, parts, assign, why, sizeof(why)) != 0) {
		aq_log(AQ_LOG_ERROR, "cannot %s partitions [%s]: %s; stopping", assign ? "take" : "give up",
		       listed, why);
		consumer_failed(w);
		return;
	}
	/* not asked while closing: called from rd_kafka_consumer_close(),
	 * rd_kafka_assignment() waits for the closing group thread, and with
	 * the broker gone it waits forever (the worker told to stop never
	 * exits); nothing is held after a close anyway */
	rd_kafka_topic_partition_list_t *now = NULL;
	if (w->closing || rd_kafka_assignment(rk, &now) != RD_KAFKA_RESP_ERR_NO_ERROR)
		now = NULL;
	partitions_text(now, holding, sizeof(holding));
	int now_held = now ? now->cnt : 0;
	if (now)
		rd_kafka_topic_partition_list_destroy(now);
	aq_log(AQ_LOG_INFO, "partitions %s: [%s]; holding [%s] (%s)", assign ? "assigned" : "revoked", listed,
	       holding, w->cooperative ? "cooperative" : "eager");
	if (assign && now_held > w->prefetch_partitions)
		aq_log(AQ_LOG_WARN,
		       "holding %d partitions, the prefetch budget was divided by %d: it can be exceeded "
		       "until the worker restarts",
		       now_held, w->prefetch_partitions);
	if (assign && w->paused)
		aq_consumer_set_paused(w, 1);
}

/* Whether kafka.properties sets key: the operator's value then stands. */
static int property_given(const struct aq_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->nproperties; i++)
		if (strcmp(cfg->properties[i].key, key) == 0)
			return 1;
	return 0;
}

/* The number of partitions of cfg's topic, asked of the cluster with a
 * short-lived client configured as the consumer is (security settings
 * included); -1 when it cannot be told. */
static int topic_partitions(const struct aq_config *cfg)
{
	char err[512];
	int count = -1;
	rd_kafka_conf_t *conf = aq_kafka_conf(cfg, AQ_KAFKA_READER, err, sizeof(err));
	if (!conf)
		return count;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return count;
	}
	rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, cfg->topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	if (topic &&
	    rd_kafka_metadata(rk, 0, topic, &md, AQ_PREFETCH_METADATA_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
		count = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	if (topic)
		rd_kafka_topic_destroy(topic);
	rd_kafka_destroy(rk);
	return count;
}

int aq_prefetch_limits(int budget_mb, int partitions, struct aq_prefetch *out)
{
	if (budget_mb < 1 || partitions < 1)
		return -1;
	/* a share for a fetch response on its way, the rest for what waits in
	 * the queue: the queue limits hold for the one queue every partition
	 * feeds (librdkafka compares a partition's forwarded queue), the fetch
	 * limits for a response and for each partition in it */
	int64_t budget = (int64_t)budget_mb * 1024 * 1024;
	int64_t fetch = budget / AQ_PREFETCH_FETCH_SHARE;
	int64_t queue = budget - fetch;
	int64_t events = queue / AQ_PREFETCH_EVENT_BYTES;
	if (fetch < AQ_PREFETCH_FETCH_MIN_BYTES)
		fetch = AQ_PREFETCH_FETCH_MIN_BYTES;
	if (fetch > AQ_PREFETCH_FETCH_MAX_BYTES)
		fetch = AQ_PREFETCH_FETCH_MAX_BYTES;
	int64_t per_partition = fetch / partitions;
	out->queued_min_messages = events < AQ_PREFETCH_MIN_EVENTS ? AQ_PREFETCH_MIN_EVENTS : events;
	out->queued_max_kbytes = queue / 1024;
	out->fetch_max_bytes = fetch;
	out->partition_fetch_bytes = per_partition < AQ_PREFETCH_PARTITION_MIN_BYTES
		? AQ_PREFETCH_PARTITION_MIN_BYTES
		: per_partition;
	return 0;
}

int aq_prefetch_conf(const struct aq_config *cfg, int partitions, rd_kafka_conf_t *conf,
		     struct aq_prefetch *p, char *err, size_t errlen)
{
	if (aq_prefetch_limits(cfg->prefetch_budget_mb, partitions, p) != 0) {
		snprintf(err, errlen, "kafka.prefetch_budget_mb: %d MiB over %d partition(s) is no budget",
			 cfg->prefetch_budget_mb, partitions);
		return -1;
	}
	const struct {
		const char *key;
		long long value;
	} limits[] = {
		{ "queued.min.messages", p->queued_min_messages },
		{ "queued.max.messages.kbytes", p->queued_max_kbytes },
		{ "max.partition.fetch.bytes", p->partition_fetch_bytes },
		{ "fetch.max.bytes", p->fetch_max_bytes },
	};
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		char value[32];
		if (property_given(cfg, limits[i].key))
			continue;
		snprintf(value, sizeof(value), "%lld", limits[i].value);
		if (aq_kafka_set(conf, limits[i].key, value, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Sets the consumer's prefetch limits from the budget and the topic's
 * partition count, asked of the cluster: librdkafka's limits are fixed when
 * the client is made, and a worker may be assigned every partition, so a
 * fetch response gives each partition of the topic its share. Returns 0, or
 * -1 with the reason in err. */
static int set_prefetch(struct worker *w, rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	struct aq_prefetch p;
	int partitions = topic_partitions(&w->cfg);
	int known = partitions > 0;
	if (!known)
		partitions = AQ_PREFETCH_PARTITIONS_UNKNOWN;
	if (aq_prefetch_conf(&w->cfg, partitions, conf, &p, err, errlen) != 0)
		return -1;
	w->prefetch_partitions = partitions;
	aq_log(AQ_LOG_INFO,
	       "prefetch: %d MiB over %d partition(s)%s: %lld events or %lld KiB queued, %lld KiB a "
	       "partition in a fetch",
	       w->cfg.prefetch_budget_mb, partitions, known ? "" : " (the topic's count not known)",
	       (long long)p.queued_min_messages, (long long)p.queued_max_kbytes,
	       (long long)p.partition_fetch_bytes / 1024);
	return 0;
}

int aq_consumer_setup(struct worker *w, char *err, size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = aq_kafka_conf(&w->cfg, AQ_KAFKA_CONSUMER, err, errlen);
	if (!conf)
		return -1;
	if (set_prefetch(w, conf, err, errlen) != 0) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rd_kafka_conf_set_opaque(conf, w);
	w->cooperative = conf_is_cooperative(conf);
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
	w->closing = 1;
	rd_kafka_consumer_close(w->consumer);
	rd_kafka_destroy(w->consumer);
	w->consumer = NULL;
}
