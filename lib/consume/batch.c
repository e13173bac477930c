/* batch.c - collecting a batch of results and applying it exactly once.
 *
 * Exactly once: the next offset of every partition is stored in PostgreSQL in
 * the same transaction as the state, history and outbox rows its results
 * produced. A batch locks its partitions' offset rows first and drops every
 * message below the stored offset, so a result redelivered by Kafka (after a
 * crash, a rebalance, or two members briefly owning a partition) changes
 * nothing the second time. On assignment the consumer seeks to the stored
 * offsets. The Kafka commit that follows is only a convenience for tools that
 * look at the group's lag; it is never the source of truth. */
#include "consume/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/rules.h"
#include "alertq/util.h"
#include "base/failpoint.h"
#include "base/utf8.h"
#include "consume/consumer.h"
#include "consume/deadletter.h"
#include "consume/pace.h"
#include "consume/plan.h"
#include "store/batch_io.h"

/* Most partitions one batch may hold messages of. */
#define BATCH_PARTITIONS_MAX 512
#ifdef ALERTQ_NO_FAILPOINTS
#define FAILPOINTS_ARMED 0
#else
#define FAILPOINTS_ARMED aq_failpoints_armed
#endif

/* What becomes of a check a batch holds a state of (struct batch's
 * refused[i]). */
enum check_fate {
	CHECK_WRITTEN = 0, /* its state is written back */
	CHECK_REFUSED,     /* new, past state.max_checks: its results are set aside */
	CHECK_UNTOUCHED,   /* every result of it was applied before: left as it is */
};

/* How many times in a row a batch is applied again at once when another
 * transaction changed one of its checks' rows (aq_store_conflict); after
 * that it waits and retries as after any failure. From the
 * CONFLICT_LOCK_AFTER-th time on, its rows are read locked (and not taken
 * from the cache), which no other writer can get in the way of. */
#define CONFLICT_RETRIES 5
#define CONFLICT_LOCK_AFTER 2

/* How often at most the worker says its state cache was too small. */
#define CACHE_FULL_LOG_MS 60000

/* How long a count of the state's checks is trusted for state.max_checks
 * (new checks of this worker are added to it meanwhile). */
#define CHECKS_RECOUNT_MS 10000

int aq_batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	aq_strmap_init(&b->index);
	b->items = calloc(AQ_BATCH_MAX, sizeof(*b->items));
	b->states = calloc(AQ_BATCH_MAX, sizeof(*b->states));
	b->names = calloc(AQ_BATCH_MAX, sizeof(*b->names));
	b->refused = calloc(AQ_BATCH_MAX, sizeof(*b->refused));
	b->unread = calloc(AQ_BATCH_MAX, sizeof(*b->unread));
	if (!b->items || !b->states || !b->names || !b->refused || !b->unread ||
	    aq_strmap_reserve(&b->index, AQ_BATCH_MAX) != 0)
		return -1;
	return 0;
}

void aq_batch_release_items(struct batch *b)
{
	for (size_t i = 0; i < b->nitems; i++) {
		if (b->items[i].ok)
			aq_result_release(&b->items[i].result);
		rd_kafka_message_destroy(b->items[i].msg);
	}
	b->nitems = 0;
}

void aq_batch_release(struct batch *b)
{
	if (b->items)
		aq_batch_release_items(b);
	free(b->items);
	free(b->states);
	free(b->names);
	free(b->refused);
	free(b->unread);
	aq_strmap_release(&b->index);
	memset(b, 0, sizeof(*b));
}

/* Returns the index of name among the batch's checks, adding it, or -1
 * when out of memory. */
static int batch_check(struct batch *b, const char *name, size_t *index)
{
	int added = aq_strmap_put(&b->index, name, b->nstates, index);
	if (added < 0)
		return -1;
	if (added == 0) {
		b->names[b->nstates] = name;
		*index = b->nstates++;
	}
	return 0;
}

size_t aq_batch_collect(struct worker *w, struct batch *b)
{
	b->nitems = 0;
	int64_t deadline = aq_monotonic_ms() + AQ_BATCH_WAIT_MS;
	while (b->nitems < AQ_BATCH_MAX && !w->sig->stop) {
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
			aq_dead_letter_reason(it->error, "%s", derr);
		} else if (aq_result_accept(&it->result, m->key, m->key_len, aq_now_ms(), derr,
					    sizeof(derr)) != 0) {
			aq_dead_letter_reason(it->error, "%s", derr);
			aq_result_release(&it->result);
		} else {
			it->ok = 1;
		}
	}
	return b->nitems;
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

/* Sets an item aside: from now on it goes to the dead-letter topic with
 * reason, on this attempt and every later one. */
static void set_aside(struct item *it, const char *reason)
{
	if (it->ok)
		aq_result_release(&it->result);
	it->ok = 0;
	aq_dead_letter_reason(it->error, "%s", reason);
}

/* Sends an item that is set aside to the dead-letter topic and records it in
 * the batch's writes, so its offset counts as done only with it. Returns 0
 * or -1 with err. */
static int dead_letter(struct worker *w, struct item *it, char *err, size_t errlen)
{
	it->state = SIZE_MAX;
	if (!it->dead_lettered) {
		if (aq_dead_letter_send(w, it->msg, it->error, err, errlen) != 0)
			return -1;
		it->dead_letter_sent = 1;
	}
	if (aq_writes_dead_letter(w->writes, w->cfg.topic, it->msg->partition, it->msg->offset, it->error) !=
	    0) {
		snprintf(err, errlen, "queueing a dead letter: out of memory");
		return -1;
	}
	return 0;
}

/* Whether a check the state does not hold yet may be added: the state holds
 * fewer than state.max_checks. Counts the checks stored now and then, and
 * adds the ones this worker made since. Returns 1 or 0, or -1 with err. */
static int room_for_new_check(struct worker *w, size_t made, char *err, size_t errlen)
{
	int64_t now = aq_monotonic_ms();
	if (w->checks_counted_ms == 0 || now - w->checks_counted_ms > CHECKS_RECOUNT_MS) {
		if (aq_store_count_checks(w->store, &w->checks_stored, err, errlen) != 0)
			return -1;
		w->checks_counted_ms = now;
	}
	return w->checks_stored + (int64_t)made < (int64_t)w->cfg.state_max_checks;
}

/* Applies one batch in one transaction. Returns 0, or -1 with the reason
 * (nothing is applied then, and the caller retries; *refused says whether
 * the database refused what one of the items made, see
 * aq_store_refused_item). */
static int apply_batch(struct worker *w, struct batch *b, int *refused, char *err, size_t errlen)
{
	int64_t now_ms = aq_now_ms();
	int32_t partitions[BATCH_PARTITIONS_MAX];
	int64_t first[BATCH_PARTITIONS_MAX];
	int64_t next_offsets[BATCH_PARTITIONS_MAX];
	int64_t last[BATCH_PARTITIONS_MAX];
	char stored_clusters[BATCH_PARTITIONS_MAX][AQ_CLUSTER_ID_MAX];
	char cluster[AQ_CLUSTER_ID_MAX];
	size_t nparts = 0;
	size_t dead = 0;
	size_t made = 0; /* checks new to the state */

	*refused = 0;
	aq_store_failure_forget(w->store); /* a failure below may not reach it */
	aq_writes_clear(w->writes);
	aq_dead_letter_begin(w);
	for (size_t i = 0; i < b->nitems; i++) {
		int32_t p = b->items[i].msg->partition;
		size_t k = 0;
		while (k < nparts && partitions[k] != p)
			k++;
		if (k == nparts) {
			if (nparts == BATCH_PARTITIONS_MAX) {
				snprintf(err, errlen, "too many partitions in one batch");
				return -1;
			}
			partitions[nparts] = p;
			first[nparts] = b->items[i].msg->offset;
			last[nparts] = -1;
			nparts++;
		}
	}

	if (AQ_FAILPOINT("batch.before_begin") != 0) {
		snprintf(err, errlen, "failpoint batch.before_begin");
		return -1;
	}
	/* the checks the batch's results name, once each: their states are read
	 * (and locked) with the offsets, before the offsets say which results
	 * were applied before */
	aq_strmap_clear(&b->index);
	b->nstates = 0;
	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		it->state = SIZE_MAX;
		if (it->ok && batch_check(b, it->result.check, &it->state) != 0) {
			snprintf(err, errlen, "applying a batch: out of memory");
			return -1;
		}
	}
	/* states the worker kept from its last batches are taken as they are
	 * (their row versions are checked when they are written back); the
	 * others are read. A silence made just before these results arrived
	 * holds them back: the silences are read with the rest */
	size_t nunread = 0;
	int64_t mono_ms = aq_monotonic_ms();
	for (size_t i = 0; i < b->nstates; i++)
		if (w->lock_reads || !aq_state_cache_take(&w->cache, b->names[i], mono_ms, &b->states[i]))
			b->unread[nunread++] = i;
	if (aq_store_batch_read(w->store, w->cfg.topic, partitions, nparts, next_offsets, stored_clusters,
				b->names, b->unread, nunread, w->lock_reads, b->states, err, errlen) != 0)
		goto rollback;
	if (AQ_FAILPOINT("batch.after_offsets_locked") != 0) {
		snprintf(err, errlen, "failpoint batch.after_offsets_locked");
		goto rollback;
	}
	aq_consumer_cluster(w->consumer, 0, cluster, sizeof(cluster));
	for (size_t k = 0; k < nparts; k++)
		if (next_offsets[k] >= 0 &&
		    log_replaced(w, partitions[k], next_offsets[k], first[k], stored_clusters[k], cluster))
			next_offsets[k] = -1;

	memset(b->refused, CHECK_UNTOUCHED, b->nstates);
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
			if (dead_letter(w, it, err, errlen) != 0)
				goto rollback;
			dead++;
			continue;
		}
		b->refused[it->state] = CHECK_WRITTEN;
	}

	/* a check new to the state past state.max_checks is refused, every
	 * result of it in this batch with it */
	for (size_t i = 0; i < b->nstates; i++) {
		if (b->states[i].known || b->refused[i] == CHECK_UNTOUCHED)
			continue;
		int room = room_for_new_check(w, made, err, errlen);
		if (room < 0)
			goto rollback;
		if (room) {
			made++;
			continue;
		}
		for (size_t j = 0; j < b->nitems; j++) {
			struct item *it = &b->items[j];
			if (it->state != i)
				continue;
			char reason[AQ_DEAD_LETTER_REASON_MAX + 1];
			snprintf(reason, sizeof(reason),
				 AQ_CHECK_REFUSED_REASON
				 ": the state holds %lld checks, state.max_checks is %d",
				 (long long)(w->checks_stored + (int64_t)made), w->cfg.state_max_checks);
			set_aside(it, reason);
			if (dead_letter(w, it, err, errlen) != 0)
				goto rollback;
			dead++;
		}
		b->refused[i] = CHECK_REFUSED;
	}

	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		if (it->state == SIZE_MAX)
			continue;
		struct aq_state *st = &b->states[it->state];
		const struct aq_rule *rule = aq_config_rule_for(&w->cfg, st->check, it->result.labels,
								it->result.nlabels);
		struct aq_transition tr;
		if (!aq_state_apply(st, rule, &it->result, &tr))
			continue;
		char ref[37];
		if (aq_writes_transition(w->writes, st->check, &tr, ref) != 0)
			goto lost_row;
		struct aq_plan plan;
		aq_plan_transition(st, aq_rule_policy(&w->cfg, rule), &tr, now_ms,
				   aq_store_silenced(w->store, st->check, now_ms), &plan);
		if (aq_queue_plan(&w->cfg, w->writes, st, &tr, ref, &plan) != 0)
			goto lost_row;
	}
	for (size_t i = 0; i < b->nstates; i++)
		if (b->refused[i] == CHECK_WRITTEN && aq_writes_state(w->writes, &b->states[i]) != 0)
			goto lost_row;
	for (size_t k = 0; k < nparts; k++)
		if (last[k] >= 0 &&
		    aq_writes_offset_in(w->writes, w->cfg.topic, partitions[k], last[k] + 1, cluster) != 0) {
			snprintf(err, errlen, "queueing the offsets: out of memory");
			goto rollback;
		}

	/* a dead letter must be in Kafka before its offset counts as done; once
	 * there, an attempt after this one (a conflict, a refused COMMIT, a
	 * refusal being narrowed down) does not send it again */
	if (dead > 0 && aq_dead_letter_flush(w, err, errlen) != 0)
		goto rollback;
	for (size_t i = 0; dead > 0 && i < b->nitems; i++)
		if (b->items[i].dead_letter_sent)
			b->items[i].dead_lettered = 1;
	if (FAILPOINTS_ARMED) {
		/* the writes apart from the COMMIT, for the failpoint between */
		if (aq_store_write(w->store, w->writes, err, errlen) != 0) {
			*refused = aq_store_refused_item(w->store);
			goto rollback;
		}
		if (AQ_FAILPOINT("batch.before_commit") != 0) {
			snprintf(err, errlen, "failpoint batch.before_commit");
			goto rollback;
		}
		if (aq_store_commit(w->store, err, errlen) != 0) {
			*refused = aq_store_refused_item(w->store);
			goto rollback;
		}
	} else if (aq_store_write_commit(w->store, w->writes, err, errlen) != 0) {
		/* the COMMIT went with the writes; it may have failed itself */
		*refused = aq_store_refused_item(w->store);
		goto rollback;
	}
	/* committed: a state written over the version it was read from (or
	 * kept at) is now exactly the new version of its row, and is kept for
	 * the next batch. Not kept: a new check's (a row made meanwhile keeps
	 * columns the batch does not write, inhibited_by), one read locked,
	 * one left untouched (its time in the cache would start again) */
	uint32_t version = aq_store_written_version(w->store);
	uint64_t clears = w->cache.clears;
	for (size_t i = 0; i < b->nstates; i++) {
		struct aq_state *st = &b->states[i];
		if (b->refused[i] == CHECK_WRITTEN && version && st->known && st->row_version) {
			st->row_version = version;
			aq_state_cache_put(&w->cache, st, mono_ms);
		} else {
			aq_state_release(st);
		}
	}
	if (w->cache.clears != clears && aq_monotonic_ms() >= w->cache_full_logged_ms) {
		w->cache_full_logged_ms = aq_monotonic_ms() + CACHE_FULL_LOG_MS;
		aq_log(AQ_LOG_INFO,
		       "state cache full at %zu check(s) (state.cache_mb: %d): emptied, batches read "
		       "more from the database; a larger state.cache_mb holds more",
		       w->cache.cleared_states, w->cfg.state_cache_mb);
	}
	w->checks_stored += (int64_t)made;
	if (dead > 0)
		aq_log(AQ_LOG_WARN, "%zu event(s) sent to the dead-letter topic %s", dead,
		       w->cfg.dead_letter_topic);
	return 0;
lost_row:
	/* a row the batch could not hold: for what it held (an item's fault) or
	 * for memory (worth retrying) */
	snprintf(err, errlen, "%s", aq_writes_error(w->writes));
	*refused = aq_writes_item_fault(w->writes);
rollback:
	aq_store_rollback(w->store);
	for (size_t i = 0; i < b->nstates; i++)
		if (b->states[i].check)
			aq_state_release(&b->states[i]);
	return -1;
}

/* Applies the items [from, to) of b through view (b's copy): the whole range
 * in one transaction, and when the database refuses what one of them made,
 * each half in turn, until the item behind the refusal stands alone; it is
 * then set aside (to the dead-letter topic, with the database's reason) and
 * the items around it are applied. k refused items out of n cost about
 * k * 2 * log2(n) transactions. Items applied before are dropped by their
 * stored offsets as usual, so order and exactly-once hold. Returns 0 when
 * every item is applied or set aside, or -1 with err on a failure that is not
 * an item's (the caller waits and retries). */
static int apply_range(struct worker *w, struct batch *b, struct batch *view, size_t from, size_t to,
		       char *err, size_t errlen)
{
	int refused;
	view->items = &b->items[from];
	view->nitems = to - from;
	if (apply_batch(w, view, &refused, err, errlen) == 0)
		return 0;
	if (!refused)
		return -1;
	if (to - from > 1) {
		size_t mid = from + (to - from) / 2;
		if (apply_range(w, b, view, from, mid, err, errlen) != 0)
			return -1;
		return apply_range(w, b, view, mid, to, err, errlen);
	}
	struct item *it = &b->items[from];
	if (!it->ok)
		return -1; /* its dead letter was refused: not the item's doing */
	char reason[AQ_DEAD_LETTER_REASON_MAX + 1];
	aq_dead_letter_reason(reason, "the state database refused what it made: %s", err);
	aq_log(AQ_LOG_WARN, "partition %d offset %lld set aside: %s", (int)it->msg->partition,
	       (long long)it->msg->offset, reason);
	set_aside(it, reason);
	view->items = it;
	view->nitems = 1;
	return apply_batch(w, view, &refused, err, errlen);
}

int aq_batch_apply_until_done(struct worker *w, struct batch *b)
{
	char err[1024];
	int attempt = 0;
	int conflicts = 0;
	for (;;) {
		int refused;
		int rc = apply_batch(w, b, &refused, err, sizeof(err));
		if (rc != 0 && !refused && aq_store_conflict(w->store) && conflicts++ < CONFLICT_RETRIES) {
			/* an ack or a ticker wrote a row the batch had read: read
			 * it again, nothing of the batch was committed */
			w->lock_reads = conflicts >= CONFLICT_LOCK_AFTER;
			aq_log(AQ_LOG_INFO, "applying the batch again%s: %s",
			       w->lock_reads ? " with its checks locked" : "", err);
			continue;
		}
		if (rc != 0 && refused) {
			aq_log(AQ_LOG_WARN, "a batch was refused (%s); finding the result behind it", err);
			struct batch view = *b;
			rc = apply_range(w, b, &view, 0, b->nitems, err, sizeof(err));
			/* the name table lives in the view; it may have grown there */
			b->index = view.index;
		}
		if (rc == 0) {
			w->lock_reads = 0;
			if (w->store_down)
				aq_log(AQ_LOG_INFO, "state database is back; consuming again");
			else if (w->paused)
				aq_log(AQ_LOG_INFO, "batch applied after %d attempt(s); consuming again",
				       attempt + 1);
			if (w->paused)
				aq_consumer_set_paused(w, 0);
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
			w->paused = 1;
			if (aq_consumer_set_paused(w, 1) != 0)
				return -1; /* the worker stops */
		}
		if (aq_consumer_idle(w, aq_monotonic_ms() + aq_backoff_ms(attempt++, 200, 5000)) != 0)
			return -1;
		if (aq_store_connection_lost(w->store)) {
			/* a row version means something only on the server that
			 * gave it: after a failover a new primary may hand the
			 * same one out again */
			aq_state_cache_clear(&w->cache);
			if (aq_store_reconnect(w->store, err, sizeof(err)) != 0)
				continue;
		}
	}
}
