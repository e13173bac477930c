/* worker.c - the worker: consumes results, applies rules, keeps state in
 * PostgreSQL, escalates and delivers notifications from the outbox.
 *
 * Exactly once: the next offset of every partition is stored in PostgreSQL in
 * the same transaction as the state, history and outbox rows its results
 * produced. A batch locks its partitions' offset rows first and drops every
 * message below the stored offset, so a result redelivered by Kafka (after a
 * crash, a rebalance, or two members briefly owning a partition) changes
 * nothing the second time. On assignment the consumer seeks to the stored
 * offsets. The Kafka commit that follows is only a convenience for tools that
 * look at the group's lag; it is never the source of truth. */
#include "alertq/worker.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/kafka.h"
#include "alertq/notify.h"
#include "alertq/rules.h"
#include "alertq/store.h"

#define BATCH_MAX 20000
#define BATCH_WAIT_MS 100
#define FUTURE_SLACK_MS (24LL * 3600 * 1000)
#define TICK_MS 250
#define BACKOFF_MAX_MS 30000

struct dispatcher;

struct worker {
	struct aq_config cfg;
	struct aq_worker_signals *sig;
	rd_kafka_t *consumer;
	rd_kafka_t *dlq; /* producer for the dead-letter topic */
	rd_kafka_topic_t *dlq_topic;
	size_t dlq_max;      /* bytes of key and value a dead letter may carry */
	size_t dlq_failed;   /* dead letters Kafka did not take, since the batch began */
	char dlq_error[256]; /* why the last one was not taken */
	aq_store_t *store;
	aq_codec_t *codec;
	aq_writes_t *writes;
	int store_down; /* said once in the log, until it is back */
	int paused;     /* consumption paused while a batch cannot be applied */
	int fatal;      /* the consumer hit a fatal error: stop, exit status 1 */

	pthread_rwlock_t cfg_lock; /* held to read cfg in the ticker and dispatchers */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake; /* new outbox rows */
	unsigned long wake_seq;
	volatile int threads_stop;

	struct dispatcher *dispatchers;
	size_t ndispatchers;
	pthread_t ticker;
	int ticker_started;
};

struct dispatcher {
	struct worker *w;
	const struct aq_channel *channel;
	pthread_t thread;
	int started;
};

/* One decoded message of a batch. */
struct item {
	rd_kafka_message_t *msg;
	struct aq_result result;
	int ok;
	char error[256];
	size_t state; /* index into the batch's states */
};

/* --- small helpers --- */

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Exponential backoff with jitter: about base * 2^attempt, capped. */
static int64_t backoff_ms(int attempt, int64_t base, int64_t cap)
{
	int64_t ms = base;
	for (int i = 0; i < attempt && ms < cap; i++)
		ms *= 2;
	if (ms > cap)
		ms = cap;
	return ms / 2 + (int64_t)rand() % (ms / 2 + 1);
}

static void wake_dispatchers(struct worker *w)
{
	pthread_mutex_lock(&w->wake_lock);
	w->wake_seq++;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->wake_lock);
}

/* Builds a notification for st as planned, queues it in the outbox. */
static void queue_notification(const struct aq_config *cfg, aq_writes_t *writes, const struct aq_state *st,
			       const struct aq_transition *tr, const char *transition_ref,
			       const struct aq_planned *p)
{
	const struct aq_channel *ch = aq_config_channel(cfg, p->channel);
	struct aq_notification n;
	memset(&n, 0, sizeof(n));
	aq_uuid4(n.notification_id);
	n.check = st->check;
	n.resolved = p->resolved;
	n.severity = st->severity;
	n.previous_severity = tr ? tr->from : st->previous_severity;
	n.has_value = st->has_value;
	n.value = st->value;
	n.message = st->message;
	n.labels = st->labels;
	n.nlabels = st->nlabels;
	n.observed_at_ms = tr ? tr->observed_at_ms : st->last_seen_ms;
	n.since_ms = st->since_ms;
	n.escalation_level = p->level;
	snprintf(n.event_id, sizeof(n.event_id), "%s", tr ? tr->event_id : st->last_event_id);
	char *payload = aq_notification_to_json(&n);
	if (!payload)
		return;
	aq_writes_notification(writes, n.notification_id, transition_ref, st->check, p->channel, p->level,
			       p->resolved, payload, ch ? ch->give_up_after_ms : 24LL * 3600 * 1000);
	free(payload);
}

static void queue_plan(const struct aq_config *cfg, aq_writes_t *writes, const struct aq_state *st,
		       const struct aq_transition *tr, const char *transition_ref, const struct aq_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		queue_notification(cfg, writes, st, tr, transition_ref, &plan->items[i]);
}

static const struct aq_escalation *policy_for(const struct aq_config *cfg, const struct aq_rule *rule)
{
	if (!rule || !rule->escalation)
		return NULL;
	return aq_config_escalation(cfg, rule->escalation);
}

/* --- the batch: a small open-addressing index from check name to state --- */

struct batch {
	struct item *items;
	size_t nitems;
	struct aq_state *states;
	const char **names;
	size_t nstates;
	size_t *slots; /* index + 1 into states, 0 empty */
	size_t nslots;
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns the index of name among the batch's checks, adding it. */
static size_t batch_check(struct batch *b, const char *name)
{
	size_t slot = hash_name(name) & (b->nslots - 1);
	while (b->slots[slot]) {
		size_t idx = b->slots[slot] - 1;
		if (strcmp(b->names[idx], name) == 0)
			return idx;
		slot = (slot + 1) & (b->nslots - 1);
	}
	b->names[b->nstates] = name;
	b->slots[slot] = b->nstates + 1;
	return b->nstates++;
}

/* Checks fields the codec cannot judge. Returns 0 or -1 with reason. */
static int sane_result(const struct aq_result *r, int64_t now_ms, char *err, size_t errlen)
{
	if (r->observed_at_ms > now_ms + FUTURE_SLACK_MS) {
		snprintf(err, errlen, "observed_at is more than a day in the future");
		return -1;
	}
	if (r->observed_at_ms < 946684800000LL) { /* 2000-01-01 */
		snprintf(err, errlen, "observed_at is before the year 2000");
		return -1;
	}
	if (r->interval_ms < 0) {
		snprintf(err, errlen, "interval_ms is negative");
		return -1;
	}
	return 0;
}

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

/* Sends a message that cannot be used to the dead-letter topic with its
 * original key and bytes, and headers naming the reason and origin. A message
 * too large to carry with the headers (the broker took it without them) is
 * cut to fit, with a header alertq-truncated giving the original sizes: it
 * must not stop its partition. Returns 0, or -1 with the reason. */
static int send_dead_letter(struct worker *w, const rd_kafka_message_t *m, const char *reason, char *err,
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
		if (key_len > 1024)
			key_len = 1024;
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

/* The id of the Kafka cluster the consumer talks to now, "" when not known. */
static void current_cluster(rd_kafka_t *rk, int timeout_ms, char *out, size_t outlen)
{
	char *id = rd_kafka_clusterid(rk, timeout_ms);
	snprintf(out, outlen, "%s", id ? id : "");
	if (id)
		rd_kafka_mem_free(rk, id);
}

/* Says whether the stored next offset of partition, stored against cluster
 * stored_cluster, counts in another log than the one the batch came from
 * (whose first message here is at offset first). A stored offset means
 * nothing in a new log, and the new log's messages must not be dropped as
 * applied before. Two signs: another cluster id (the development broker keeps
 * nothing over a restart and comes back as a new cluster), or a log that ends
 * before the stored offset -- offsets only grow in one log and every applied
 * message came from it, so a shorter log is a new one (the topic deleted and
 * created again). The end is asked of the broker, as the one cached from
 * fetches may predate what another member applied since. Returns 1 after
 * saying so in the log, else 0 (also when the broker cannot be asked). */
static int log_replaced(struct worker *w, int32_t partition, int64_t next_offset, int64_t first,
			const char *stored_cluster, const char *cluster)
{
	int64_t low = -1;
	int64_t high = -1;
	if (stored_cluster[0] && cluster[0] && strcmp(stored_cluster, cluster) != 0) {
		aq_log(AQ_LOG_WARN,
		       "partition %d: its stored offset %lld counts in Kafka cluster %s, this is %s: "
		       "the log is new; applying it from offset %lld",
		       (int)partition, (long long)next_offset, stored_cluster, cluster, (long long)first);
		return 1;
	}
	if (first >= next_offset ||
	    rd_kafka_query_watermark_offsets(w->consumer, w->cfg.topic, partition, &low, &high, 2000) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR ||
	    high < 0 || high >= next_offset)
		return 0;
	aq_log(AQ_LOG_WARN,
	       "partition %d: the log ends at offset %lld, before the stored next offset %lld: "
	       "the topic is new; applying it from offset %lld",
	       (int)partition, (long long)high, (long long)next_offset, (long long)first);
	return 1;
}

/* Applies one batch in one transaction. Returns 0, or -1 with the reason
 * (nothing is applied then, and the caller retries). */
static int apply_batch(struct worker *w, struct batch *b, char *err, size_t errlen)
{
	int64_t now_ms = aq_now_ms();
	int32_t partitions[512];
	int64_t first[512];
	int64_t next_offsets[512];
	int64_t last[512];
	char stored_clusters[512][AQ_CLUSTER_ID_MAX];
	char cluster[AQ_CLUSTER_ID_MAX];
	size_t nparts = 0;
	size_t dead = 0;

	aq_writes_clear(w->writes);
	w->dlq_failed = 0;
	/* a silence made just before these results arrived must hold them back */
	aq_store_silences_invalidate(w->store);
	for (size_t i = 0; i < b->nitems; i++) {
		int32_t p = b->items[i].msg->partition;
		size_t k = 0;
		while (k < nparts && partitions[k] != p)
			k++;
		if (k == nparts) {
			if (nparts == sizeof(partitions) / sizeof(partitions[0])) {
				snprintf(err, errlen, "too many partitions in one batch");
				return -1;
			}
			partitions[nparts] = p;
			first[nparts] = b->items[i].msg->offset;
			last[nparts] = -1;
			nparts++;
		}
	}

	if (aq_store_begin(w->store, err, errlen) != 0)
		return -1;
	if (aq_store_offsets(w->store, w->cfg.topic, partitions, nparts, 1, next_offsets, stored_clusters,
			     err, errlen) != 0)
		goto rollback;
	current_cluster(w->consumer, 0, cluster, sizeof(cluster));
	for (size_t k = 0; k < nparts; k++)
		if (next_offsets[k] >= 0 &&
		    log_replaced(w, partitions[k], next_offsets[k], first[k], stored_clusters[k], cluster))
			next_offsets[k] = -1;

	/* the checks this batch touches, once each, with their state locked */
	memset(b->slots, 0, b->nslots * sizeof(*b->slots));
	b->nstates = 0;
	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		size_t k = 0;
		while (partitions[k] != it->msg->partition)
			k++;
		if (next_offsets[k] >= 0 && it->msg->offset < next_offsets[k]) {
			it->state = SIZE_MAX; /* applied before */
			continue;
		}
		if (next_offsets[k] >= 0 && it->msg->offset > next_offsets[k] && last[k] < 0 &&
		    first[k] == it->msg->offset)
			aq_log(AQ_LOG_WARN,
			       "partition %d: expected offset %lld, got %lld (removed by retention?)",
			       (int)it->msg->partition, (long long)next_offsets[k],
			       (long long)it->msg->offset);
		last[k] = it->msg->offset;
		if (!it->ok) {
			it->state = SIZE_MAX;
			if (send_dead_letter(w, it->msg, it->error, err, errlen) != 0)
				goto rollback;
			aq_writes_dead_letter(w->writes, w->cfg.topic, it->msg->partition, it->msg->offset,
					      it->error);
			dead++;
			continue;
		}
		it->state = batch_check(b, it->result.check);
	}
	if (b->nstates > 0 &&
	    aq_store_load_states(w->store, b->names, b->nstates, 1, b->states, err, errlen) != 0)
		goto rollback;

	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		if (it->state == SIZE_MAX)
			continue;
		struct aq_state *st = &b->states[it->state];
		const struct aq_rule *rule = aq_config_rule_for(&w->cfg, st->check);
		struct aq_transition tr;
		if (!aq_state_apply(st, rule, &it->result, &tr))
			continue;
		char ref[37];
		aq_writes_transition(w->writes, st->check, &tr, ref);
		struct aq_plan plan;
		aq_plan_transition(st, policy_for(&w->cfg, rule), &tr, now_ms,
				   aq_store_silenced(w->store, st->check, now_ms), &plan);
		queue_plan(&w->cfg, w->writes, st, &tr, ref, &plan);
	}
	for (size_t i = 0; i < b->nstates; i++)
		aq_writes_state(w->writes, &b->states[i]);
	for (size_t k = 0; k < nparts; k++)
		if (last[k] >= 0)
			aq_writes_offset_in(w->writes, w->cfg.topic, partitions[k], last[k] + 1, cluster);

	/* a dead letter must be in Kafka before its offset counts as done */
	if (dead > 0) {
		rd_kafka_resp_err_t e = rd_kafka_flush(w->dlq, 10000);
		if (e) {
			snprintf(err, errlen, "dead-letter topic: %s", rd_kafka_err2str(e));
			goto rollback;
		}
		if (w->dlq_failed > 0) {
			snprintf(err, errlen, "dead-letter topic: %zu event(s) not taken: %s", w->dlq_failed,
				 w->dlq_error);
			goto rollback;
		}
	}
	if (aq_store_write(w->store, w->writes, err, errlen) != 0)
		goto rollback;
	if (aq_store_commit(w->store, err, errlen) != 0)
		goto release;
	for (size_t i = 0; i < b->nstates; i++)
		aq_state_release(&b->states[i]);
	if (dead > 0)
		aq_log(AQ_LOG_WARN, "%zu event(s) sent to the dead-letter topic %s", dead,
		       w->cfg.dead_letter_topic);
	return 0;
rollback:
	aq_store_rollback(w->store);
release:
	for (size_t i = 0; i < b->nstates; i++)
		if (b->states[i].check)
			aq_state_release(&b->states[i]);
	return -1;
}

/* Pauses or resumes every assigned partition. */
static void set_paused(struct worker *w, int paused)
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

/* Applies the batch, retrying with backoff while it fails (database down,
 * or a statement refused) with consumption paused, so that nothing past the
 * batch is read meanwhile. Returns 0 when applied, -1 when asked to stop
 * first. */
static int apply_until_done(struct worker *w, struct batch *b)
{
	char err[1024];
	int attempt = 0;
	for (;;) {
		if (apply_batch(w, b, err, sizeof(err)) == 0) {
			if (w->store_down)
				aq_log(AQ_LOG_INFO, "state database is back; consuming again");
			else if (w->paused)
				aq_log(AQ_LOG_INFO, "batch applied after %d attempt(s); consuming again",
				       attempt + 1);
			if (w->paused)
				set_paused(w, 0);
			w->paused = 0;
			w->store_down = 0;
			return 0;
		}
		if (!aq_store_connection_lost(w->store)) {
			/* a statement failed with the server up: a deadlock or a bug;
			 * say it every time, as it is not expected */
			aq_log(AQ_LOG_ERROR, "applying a batch failed, will retry: %s", err);
		} else if (!w->store_down) {
			aq_log(AQ_LOG_WARN,
			       "state database unavailable, consumption paused until it is back: %s", err);
			w->store_down = 1;
		}
		if (!w->paused) {
			set_paused(w, 1);
			w->paused = 1;
		}
		int64_t until = aq_monotonic_ms() + backoff_ms(attempt++, 200, 5000);
		while (aq_monotonic_ms() < until) {
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
		if (aq_store_connection_lost(w->store) && aq_store_reconnect(w->store, err, sizeof(err)) != 0)
			continue;
	}
}

/* Commits the next offsets of what was applied to Kafka, asynchronously: a
 * convenience for lag monitoring only. */
static void commit_to_kafka(struct worker *w, struct batch *b)
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
	current_cluster(rk, 1000, cluster, sizeof(cluster));
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
		set_paused(w, 1);
}

/* --- dispatchers: one thread per channel, sending from the outbox --- */

/* Sends the claimed rows over the dispatcher's channel and records every
 * outcome in one statement: delivered, retry after a backoff (or the
 * receiver's Retry-After when longer), or failed for good (an unreadable
 * payload among the reasons). Returns 0, or -1 with the reason in err (the
 * caller rolls the claim back and the rows are tried again). */
static int deliver_claim(struct dispatcher *d, aq_store_t *store, aq_sender_t *sender,
			 const struct aq_outbox_row *rows, size_t n, char *err, size_t errlen)
{
	struct aq_notification *notes = calloc(n, sizeof(*notes));
	struct aq_delivery *items = calloc(n, sizeof(*items)); /* the readable ones, in claim order */
	size_t *row_of = calloc(n, sizeof(*row_of));
	struct aq_mark *marks = calloc(n, sizeof(*marks));
	char(*unreadable)[256] = calloc(n, sizeof(*unreadable));
	size_t nitems = 0;
	int rc = -1;

	if (!notes || !items || !row_of || !marks || !unreadable) {
		snprintf(err, errlen, "delivering notifications: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char perr[200];
		marks[i].id = rows[i].id;
		if (aq_notification_from_json(&notes[i], rows[i].payload, perr, sizeof(perr)) != 0) {
			snprintf(unreadable[i], sizeof(unreadable[i]), "unreadable payload: %s", perr);
			marks[i].outcome = 2;
			marks[i].error = unreadable[i];
			continue;
		}
		items[nitems].notification = &notes[i];
		row_of[nitems++] = i;
	}
	if (nitems > 0)
		aq_sender_deliver(sender, items, nitems);
	for (size_t k = 0; k < nitems; k++) {
		size_t i = row_of[k];
		struct aq_mark *m = &marks[i];
		m->outcome = items[k].result == AQ_DELIVERED   ? 0
			: items[k].result == AQ_DELIVERY_RETRY ? 1
							       : 2;
		m->error = items[k].error;
		if (m->outcome == 1) {
			m->retry_ms = backoff_ms(rows[i].attempts, d->channel->retry_initial_ms,
						 d->channel->retry_max_ms);
			if (items[k].retry_after_ms > m->retry_ms)
				m->retry_ms = items[k].retry_after_ms;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (marks[i].outcome != 0)
			aq_log(AQ_LOG_WARN, "channel '%s': notification %s %s: %s", d->channel->name,
			       rows[i].id, marks[i].outcome == 1 ? "will be retried" : "failed for good",
			       marks[i].error);
	rc = aq_store_mark_many(store, marks, n, err, errlen);
out:
	for (size_t i = 0; notes && i < n; i++)
		aq_notification_release(&notes[i]);
	free(notes);
	free(items);
	free(row_of);
	free(marks);
	free(unreadable);
	return rc;
}

static void *dispatch_main(void *arg)
{
	struct dispatcher *d = arg;
	struct worker *w = d->w;
	char err[1024];
	int down = 0;
	int attempt = 0;
	aq_store_t *store = NULL;
	aq_sender_t *sender = aq_sender_new(d->channel, w->cfg.log_dir, err, sizeof(err));
	if (!sender) {
		aq_log(AQ_LOG_ERROR, "channel '%s': %s", d->channel->name, err);
		return NULL;
	}
	/* claims big enough that the scan for pending rows, which walks past
	 * the entries of rows sent since the oldest open snapshot, is seldom */
	int max = d->channel->concurrency * 64;
	while (!w->threads_stop) {
		if (!store) {
			store = aq_store_connect(w->cfg.state_dsn, err, sizeof(err));
			if (!store) {
				if (!down)
					aq_log(AQ_LOG_WARN, "channel '%s': %s", d->channel->name, err);
				down = 1;
				sleep_ms(backoff_ms(attempt++, 200, 5000));
				continue;
			}
			down = 0;
			attempt = 0;
		}
		pthread_mutex_lock(&w->wake_lock);
		unsigned long seq = w->wake_seq;
		pthread_mutex_unlock(&w->wake_lock);

		struct aq_outbox_row *rows = NULL;
		size_t n = 0;
		if (aq_store_begin(store, err, sizeof(err)) != 0 ||
		    aq_store_claim(store, d->channel->name, max, &rows, &n, err, sizeof(err)) != 0)
			goto failed;
		if (n > 0) {
			int rc = deliver_claim(d, store, sender, rows, n, err, sizeof(err));
			aq_outbox_rows_free(rows, n);
			if (rc != 0)
				goto failed;
		}
		if (aq_store_commit(store, err, sizeof(err)) != 0)
			goto failed;
		if (n == (size_t)max)
			continue;
		/* wait for new rows from this process, or look again in a while
		 * for other workers' rows and retries that come due */
		pthread_mutex_lock(&w->wake_lock);
		if (w->wake_seq == seq && !w->threads_stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 200 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->wake, &w->wake_lock, &until);
		}
		pthread_mutex_unlock(&w->wake_lock);
		continue;
	failed:
		aq_store_rollback(store);
		if (aq_store_connection_lost(store)) {
			if (!down)
				aq_log(AQ_LOG_WARN, "channel '%s': state database unavailable: %s",
				       d->channel->name, err);
			down = 1;
			aq_store_free(store);
			store = NULL;
		} else {
			aq_log(AQ_LOG_ERROR, "channel '%s': %s", d->channel->name, err);
		}
		sleep_ms(backoff_ms(attempt++, 200, 5000));
	}
	aq_sender_free(sender);
	aq_store_free(store);
	return NULL;
}

/* --- the ticker: escalation by time, repeats, staleness, ends of silences --- */

static int tick(struct worker *w, aq_store_t *store, char *err, size_t errlen)
{
	int64_t now_ms = aq_now_ms();
	char **names = NULL;
	size_t n = 0;
	struct aq_state *states = NULL;
	aq_writes_t *writes = aq_writes_new();
	int queued = 0;

	/* silences made or ended since the last tick count now */
	aq_store_silences_invalidate(store);

	if (aq_store_begin(store, err, errlen) != 0)
		goto fail;
	if (aq_store_due_checks(store, now_ms, 500, &names, &n, err, errlen) != 0)
		goto fail;
	if (n > 0) {
		states = calloc(n, sizeof(*states));
		if (!states ||
		    aq_store_load_states(store, (const char *const *)names, n, 0, states, err, errlen) != 0)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct aq_state *st = &states[i];
		const struct aq_rule *rule = aq_config_rule_for(&w->cfg, st->check);
		const struct aq_escalation *policy = policy_for(&w->cfg, rule);
		int silenced = aq_store_silenced(store, st->check, now_ms);
		struct aq_plan plan;
		struct aq_transition tr;
		if (st->stale_at_ms > 0 && st->stale_at_ms <= now_ms) {
			int changed = aq_state_go_stale(st, rule, now_ms, &tr);
			if (changed) {
				char ref[37];
				aq_writes_transition(writes, st->check, &tr, ref);
				aq_plan_transition(st, policy, &tr, now_ms, silenced, &plan);
				queue_plan(&w->cfg, writes, st, &tr, ref, &plan);
				queued += (int)plan.n;
			}
		}
		aq_plan_tick(st, policy, now_ms, silenced, &plan);
		queue_plan(&w->cfg, writes, st, NULL, NULL, &plan);
		queued += (int)plan.n;
		if (st->dirty)
			aq_writes_state(writes, st);
	}
	if (aq_store_write(store, writes, err, errlen) != 0 || aq_store_commit(store, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		aq_state_release(&states[i]);
	free(states);
	aq_names_free(names, n);
	aq_writes_free(writes);
	if (queued)
		wake_dispatchers(w);
	return 0;
fail:
	aq_store_rollback(store);
	for (size_t i = 0; states && i < n; i++)
		if (states[i].check)
			aq_state_release(&states[i]);
	free(states);
	aq_names_free(names, n);
	aq_writes_free(writes);
	return -1;
}

static void *ticker_main(void *arg)
{
	struct worker *w = arg;
	aq_store_t *store = NULL;
	char err[1024];
	int down = 0;
	int attempt = 0;
	while (!w->threads_stop) {
		if (!store) {
			store = aq_store_connect(w->cfg.state_dsn, err, sizeof(err));
			if (!store) {
				down = 1;
				sleep_ms(backoff_ms(attempt++, 200, 5000));
				continue;
			}
			down = 0;
			attempt = 0;
		}
		pthread_rwlock_rdlock(&w->cfg_lock);
		int rc = tick(w, store, err, sizeof(err));
		pthread_rwlock_unlock(&w->cfg_lock);
		if (rc != 0) {
			if (aq_store_connection_lost(store)) {
				aq_store_free(store);
				store = NULL;
			} else if (!down) {
				aq_log(AQ_LOG_ERROR, "escalation: %s", err);
			}
			sleep_ms(backoff_ms(attempt++, 200, 5000));
			continue;
		}
		sleep_ms(TICK_MS);
	}
	aq_store_free(store);
	return NULL;
}

/* --- start, run, reload, stop --- */

static void stop_threads(struct worker *w)
{
	w->threads_stop = 1;
	wake_dispatchers(w);
	for (size_t i = 0; i < w->ndispatchers; i++)
		if (w->dispatchers[i].started)
			pthread_join(w->dispatchers[i].thread, NULL);
	free(w->dispatchers);
	w->dispatchers = NULL;
	w->ndispatchers = 0;
	if (w->ticker_started)
		pthread_join(w->ticker, NULL);
	w->ticker_started = 0;
	w->threads_stop = 0;
}

static int start_threads(struct worker *w)
{
	w->dispatchers = calloc(w->cfg.nchannels ? w->cfg.nchannels : 1, sizeof(*w->dispatchers));
	if (!w->dispatchers)
		return -1;
	w->ndispatchers = w->cfg.nchannels;
	for (size_t i = 0; i < w->cfg.nchannels; i++) {
		struct dispatcher *d = &w->dispatchers[i];
		d->w = w;
		d->channel = &w->cfg.channels[i];
		if (pthread_create(&d->thread, NULL, dispatch_main, d) != 0)
			return -1;
		d->started = 1;
	}
	if (pthread_create(&w->ticker, NULL, ticker_main, w) != 0)
		return -1;
	w->ticker_started = 1;
	return 0;
}

/* SIGHUP: reopen log files and load the configuration again. A file with
 * errors is refused with its errors and the running configuration stays. */
static void reload(struct worker *w, const char *path)
{
	char err[8192];
	struct aq_config fresh;
	memset(&fresh, 0, sizeof(fresh));
	aq_logfile_reopen();
	if (aq_config_load(&fresh, path, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "reload refused, the running configuration stays:\n%s", err);
		return;
	}
	if (strcmp(fresh.topic, w->cfg.topic) != 0 || strcmp(fresh.group, w->cfg.group) != 0 ||
	    strcmp(fresh.brokers, w->cfg.brokers) != 0 || strcmp(fresh.state_dsn, w->cfg.state_dsn) != 0)
		aq_log(AQ_LOG_WARN, "reload: kafka and state settings take effect at the next start");
	stop_threads(w);
	pthread_rwlock_wrlock(&w->cfg_lock);
	/* the connections stay; rules, escalations and channels are new */
	struct aq_config old = w->cfg;
	w->cfg = fresh;
	free(w->cfg.topic);
	w->cfg.topic = aq_strdup(old.topic);
	free(w->cfg.dead_letter_topic);
	w->cfg.dead_letter_topic = aq_strdup(old.dead_letter_topic);
	free(w->cfg.state_dsn);
	w->cfg.state_dsn = aq_strdup(old.state_dsn);
	aq_config_release(&old);
	pthread_rwlock_unlock(&w->cfg_lock);
	if (start_threads(w) != 0)
		aq_log(AQ_LOG_ERROR, "reload: cannot start the delivery threads");
	aq_log(AQ_LOG_INFO, "configuration reloaded: %zu rules, %zu escalations, %zu channels", w->cfg.nrules,
	       w->cfg.nescalations, w->cfg.nchannels);
}

static int setup_kafka(struct worker *w, char *err, size_t errlen)
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

	conf = aq_kafka_conf(&w->cfg, AQ_KAFKA_PRODUCER, err, errlen);
	if (!conf)
		return -1;
	char max_bytes[32];
	size_t max_len = sizeof(max_bytes);
	long max = 1000000;
	if (rd_kafka_conf_get(conf, "message.max.bytes", max_bytes, &max_len) == RD_KAFKA_CONF_OK)
		max = atol(max_bytes);
	/* room for the headers (the reason is at most 255 bytes) and framing */
	w->dlq_max = max > 16384 ? (size_t)max - 4096 : (size_t)max / 2;
	rd_kafka_conf_set_dr_msg_cb(conf, on_dead_letter_delivery);
	rd_kafka_conf_set_opaque(conf, w);
	w->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!w->dlq) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the dead-letter producer: %s", errstr);
		return -1;
	}

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

/* Reads up to BATCH_MAX messages: waits up to BATCH_WAIT_MS for the first,
 * then takes what is already there. */
static size_t collect(struct worker *w, struct batch *b)
{
	b->nitems = 0;
	int64_t deadline = aq_monotonic_ms() + BATCH_WAIT_MS;
	while (b->nitems < BATCH_MAX && !w->sig->stop) {
		int64_t left = deadline - aq_monotonic_ms();
		rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer,
							       b->nitems ? 0 : (int)(left > 0 ? left : 0));
		if (!m)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				aq_log(AQ_LOG_WARN, "consumer: %s", rd_kafka_message_errstr(m));
			int fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
			rd_kafka_message_destroy(m);
			if (fatal) {
				w->fatal = 1;
				w->sig->stop = 1;
				break;
			}
			continue;
		}
		struct item *it = &b->items[b->nitems++];
		memset(it, 0, sizeof(*it));
		it->msg = m;
		char derr[256];
		if (aq_codec_decode(w->codec, m->payload, m->len, &it->result, derr, sizeof(derr)) != 0) {
			snprintf(it->error, sizeof(it->error), "%s", derr);
		} else if (sane_result(&it->result, aq_now_ms(), derr, sizeof(derr)) != 0) {
			snprintf(it->error, sizeof(it->error), "%s", derr);
			aq_result_release(&it->result);
		} else if (!m->key || m->key_len != strlen(it->result.check) ||
			   memcmp(m->key, it->result.check, m->key_len) != 0) {
			snprintf(it->error, sizeof(it->error), "message key does not match check '%s'",
				 it->result.check);
			aq_result_release(&it->result);
		} else {
			it->ok = 1;
		}
	}
	return b->nitems;
}

static void batch_release_items(struct batch *b)
{
	for (size_t i = 0; i < b->nitems; i++) {
		if (b->items[i].ok)
			aq_result_release(&b->items[i].result);
		rd_kafka_message_destroy(b->items[i].msg);
	}
	b->nitems = 0;
}

int aq_worker_run(const char *config_path, struct aq_worker_signals *sig)
{
	struct worker w;
	struct batch b;
	char err[8192];
	int rc = 1;
	int applied = 0;

	memset(&w, 0, sizeof(w));
	memset(&b, 0, sizeof(b));
	w.sig = sig;
	pthread_rwlock_init(&w.cfg_lock, NULL);
	pthread_mutex_init(&w.wake_lock, NULL);
	pthread_cond_init(&w.wake, NULL);
	srand((unsigned)(getpid() ^ aq_now_ms()));

	if (aq_config_load(&w.cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		rc = 2;
		goto out;
	}
	w.codec = aq_codec_new(err, sizeof(err));
	w.writes = aq_writes_new();
	b.items = calloc(BATCH_MAX, sizeof(*b.items));
	b.states = calloc(BATCH_MAX, sizeof(*b.states));
	b.names = calloc(BATCH_MAX, sizeof(*b.names));
	b.nslots = 1;
	while (b.nslots < 2 * BATCH_MAX)
		b.nslots *= 2;
	b.slots = calloc(b.nslots, sizeof(*b.slots));
	if (!w.codec || !w.writes || !b.items || !b.states || !b.names || !b.slots) {
		aq_log(AQ_LOG_ERROR, "cannot start: %s", w.codec ? "out of memory" : err);
		goto out;
	}

	/* the database may still be starting (compose, boot): wait for it */
	for (int attempt = 0; !w.store && !sig->stop; attempt++) {
		w.store = aq_store_connect(w.cfg.state_dsn, err, sizeof(err));
		if (!w.store) {
			if (attempt == 0)
				aq_log(AQ_LOG_WARN, "%s; retrying", err);
			sleep_ms(backoff_ms(attempt, 200, 5000));
		}
	}
	if (!w.store) {
		rc = 0;
		goto out;
	}
	if (aq_store_migrate(w.store, &applied, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "cannot migrate the state database: %s", err);
		goto out;
	}
	if (applied)
		aq_log(AQ_LOG_INFO, "state database migrated to schema version %d",
		       aq_store_schema_version());
	/* held shared while running: `alertq replay --rebuild` takes it
	 * exclusively, so a worker waits for a rebuild and a rebuild refuses
	 * to start while a worker runs */
	for (int said = 0; !sig->stop; said = 1) {
		int held = aq_store_worker_lock(w.store, 0, err, sizeof(err));
		if (held < 0) {
			aq_log(AQ_LOG_ERROR, "%s", err);
			goto out;
		}
		if (held == 0)
			break;
		if (!said)
			aq_log(AQ_LOG_INFO, "a rebuild of the state is running; waiting for it to finish");
		sleep_ms(1000);
	}
	if (setup_kafka(&w, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "%s", err);
		goto out;
	}
	if (start_threads(&w) != 0) {
		aq_log(AQ_LOG_ERROR, "cannot start the delivery threads");
		goto out;
	}
	aq_log(AQ_LOG_INFO, "consuming '%s' as group '%s' from %s", w.cfg.topic, w.cfg.group, w.cfg.brokers);

	while (!sig->stop) {
		if (sig->reload) {
			sig->reload = 0;
			reload(&w, config_path);
		}
		if (collect(&w, &b) == 0)
			continue;
		if (apply_until_done(&w, &b) == 0) {
			commit_to_kafka(&w, &b);
			wake_dispatchers(&w);
		}
		batch_release_items(&b);
	}
	rc = w.fatal ? 1 : 0;
	aq_log(AQ_LOG_INFO, "stopping%s: leaving the group", w.fatal ? " after a fatal Kafka error" : "");
out:
	batch_release_items(&b);
	stop_threads(&w);
	if (w.consumer) {
		rd_kafka_consumer_close(w.consumer);
		rd_kafka_destroy(w.consumer);
	}
	if (w.dlq) {
		rd_kafka_flush(w.dlq, 10000);
		rd_kafka_destroy(w.dlq);
	}
	aq_store_free(w.store);
	aq_codec_free(w.codec);
	aq_writes_free(w.writes);
	free(b.items);
	free(b.states);
	free(b.names);
	free(b.slots);
	aq_config_release(&w.cfg);
	pthread_rwlock_destroy(&w.cfg_lock);
	pthread_mutex_destroy(&w.wake_lock);
	pthread_cond_destroy(&w.wake);
	return rc;
}
