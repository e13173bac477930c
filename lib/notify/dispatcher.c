/* dispatcher.c - the worker's delivery threads: one per channel, claiming
 * outbox rows and delivering them, each with a recorder thread that commits
 * a claim's outcomes while the next claim is sent */
#include "notify/dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertq/group.h"
#include "alertq/notify.h"
#include "alertq/util.h"
#include "base/failpoint.h"
#include "base/utf8.h"
#include "consume/pace.h"
#include "store/inhibit.h"

/* Longest reason recorded for a row whose payload cannot be read, in bytes. */
#define UNREADABLE_REASON_MAX 255
/* Due groups a grouped channel's thread flushes in one transaction. */
#define GROUPS_PER_FLUSH 64
/* How often a channel without group_by looks for groups left waiting. */
#define GROUP_LEFTOVERS_EVERY_MS 10000

void aq_dispatchers_wake(struct worker *w)
{
	pthread_mutex_lock(&w->wake_lock);
	w->wake_seq++;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->wake_lock);
}

/* One claim's rows on their way: what was posted and the outcome of each,
 * from the claim until its marks are committed. */
struct claim {
	struct aq_outbox_row *rows;
	size_t n;
	struct aq_notification *notes;
	struct aq_delivery *items; /* the readable ones, in claim order */
	size_t *row_of;
	struct aq_mark *marks;
	char (*unreadable)[UNREADABLE_REASON_MAX + 1];
};

/* Frees c and everything it holds; c may be NULL. */
static void claim_free(struct claim *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->notes && i < c->n; i++)
		aq_notification_release(&c->notes[i]);
	free(c->notes);
	free(c->items);
	free(c->row_of);
	free(c->marks);
	free(c->unreadable);
	aq_outbox_rows_free(c->rows, c->n);
	free(c);
}

/* Sends the n claimed rows (which c takes) over the dispatcher's channel and
 * sets each one's outcome in c->marks: delivered, retry after a backoff (or
 * the receiver's Retry-After when longer), or failed for good (an
 * unreadable payload among the reasons). Returns the claim, or NULL with
 * the reason in err (the rows are freed; the caller rolls the claim back
 * and the rows are tried again). */
static struct claim *deliver_claim(struct dispatcher *d, aq_sender_t *sender, struct aq_outbox_row *rows,
				   size_t n, char *err, size_t errlen)
{
	struct claim *c = calloc(1, sizeof(*c));
	if (!c) {
		aq_outbox_rows_free(rows, n);
		snprintf(err, errlen, "delivering notifications: out of memory");
		return NULL;
	}
	c->rows = rows;
	c->n = n;
	c->notes = calloc(n, sizeof(*c->notes));
	c->items = calloc(n, sizeof(*c->items));
	c->row_of = calloc(n, sizeof(*c->row_of));
	c->marks = calloc(n, sizeof(*c->marks));
	c->unreadable = calloc(n, sizeof(*c->unreadable));
	size_t nitems = 0;
	struct aq_mark *marks = c->marks;

	if (!c->notes || !c->items || !c->row_of || !marks || !c->unreadable) {
		snprintf(err, errlen, "delivering notifications: out of memory");
		goto err;
	}
	for (size_t i = 0; i < n; i++) {
		char perr[200];
		marks[i].id = rows[i].id;
		int grouped = aq_group_note_read(&c->notes[i], rows[i].payload, perr, sizeof(perr));
		if (grouped < 0 ||
		    (grouped == 0 &&
		     aq_notification_from_json(&c->notes[i], rows[i].payload, perr, sizeof(perr)) != 0)) {
			char reason[sizeof(perr) + 32];
			snprintf(reason, sizeof(reason), "unreadable payload: %s", perr);
			aq_text_clean_into(c->unreadable[i], sizeof(c->unreadable[i]), reason, strlen(reason),
					   AQ_TEXT_SPACES);
			marks[i].outcome = 2;
			marks[i].error = c->unreadable[i];
			continue;
		}
		c->items[nitems].notification = &c->notes[i];
		c->row_of[nitems++] = i;
	}
	if (AQ_FAILPOINT("dispatch.after_claim") != 0) {
		snprintf(err, errlen, "failpoint dispatch.after_claim");
		goto err;
	}
	if (nitems > 0)
		aq_sender_deliver(sender, c->items, nitems);
	if (AQ_FAILPOINT("dispatch.after_deliver") != 0) {
		snprintf(err, errlen, "failpoint dispatch.after_deliver");
		goto err;
	}
	for (size_t k = 0; k < nitems; k++) {
		size_t i = c->row_of[k];
		struct aq_mark *m = &marks[i];
		const struct aq_delivery *item = &c->items[k];
		m->outcome = item->result == AQ_DELIVERED ? 0 : item->result == AQ_DELIVERY_RETRY ? 1 : 2;
		m->error = item->error;
		if (m->outcome == 1) {
			m->retry_ms = aq_backoff_ms(rows[i].attempts, d->channel->retry_initial_ms,
						    d->channel->retry_max_ms);
			if (item->retry_after_ms > m->retry_ms)
				m->retry_ms = item->retry_after_ms;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (marks[i].outcome != 0)
			aq_log(AQ_LOG_WARN, "channel '%s': notification %s %s: %s", d->channel->name,
			       rows[i].id, marks[i].outcome == 1 ? "will be retried" : "failed for good",
			       marks[i].error);
	return c;
err:
	claim_free(c);
	return NULL;
}

/* A connection whose claim is open: the rows stay locked by its
 * transaction until the marks are committed on it. */
struct lane {
	aq_store_t *store;
};

/* Records a posted claim's outcomes and commits them on its own connection
 * while the dispatcher claims and posts the next rows on the other one: the
 * rows of a claim stay locked (FOR UPDATE) until their marks commit, so the
 * next claim skips them, and a crash before the commit leaves them pending
 * to be sent again with the same ids. One claim at a time. */
struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started;
	int stop;
	struct lane *lane;   /* the job, or NULL when idle */
	struct claim *claim; /* the job's claim; the recorder frees it */
	struct lane *failed; /* the last job's lane when it failed, for the dispatcher */
	char err[1024];      /* why */
};

/* Records the outcomes of claim c (which it frees) on lane and commits them;
 * on failure sets r->failed and r->err (the transaction is left for the
 * dispatcher to roll back). */
static void record_claim(struct recorder *r, struct lane *lane, struct claim *c)
{
	char err[sizeof(r->err)];
	int rc = -1;
	if (AQ_FAILPOINT("dispatch.before_record") != 0)
		snprintf(err, sizeof(err), "failpoint dispatch.before_record");
	else
		rc = aq_store_mark_many(lane->store, c->marks, c->n, err, sizeof(err));
	if (rc == 0)
		rc = aq_store_commit(lane->store, err, sizeof(err));
	claim_free(c);
	if (rc != 0) {
		pthread_mutex_lock(&r->lock);
		r->failed = lane;
		snprintf(r->err, sizeof(r->err), "%s", err);
		pthread_mutex_unlock(&r->lock);
	}
}

/* The recorder thread: marks and commits each claim it is given. */
static void *recorder_main(void *arg)
{
	struct recorder *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->lane && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (!r->lane)
			break;
		struct lane *lane = r->lane;
		struct claim *c = r->claim;
		pthread_mutex_unlock(&r->lock);
		record_claim(r, lane, c);
		pthread_mutex_lock(&r->lock);
		r->lane = NULL;
		r->claim = NULL;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Waits until the recorder is idle. Returns the lane of its last job when
 * that failed, with the reason in err (the dispatcher rolls it back), else
 * NULL. */
static struct lane *recorder_wait(struct recorder *r, char *err, size_t errlen)
{
	pthread_mutex_lock(&r->lock);
	while (r->lane)
		pthread_cond_wait(&r->cond, &r->lock);
	struct lane *failed = r->failed;
	if (failed)
		snprintf(err, errlen, "%s", r->err);
	r->failed = NULL;
	pthread_mutex_unlock(&r->lock);
	return failed;
}

/* Gives the idle recorder the claim c posted on lane (it takes c); records
 * it at once when the recorder has no thread. */
static void recorder_give(struct recorder *r, struct lane *lane, struct claim *c)
{
	if (!r->started) {
		record_claim(r, lane, c);
		return;
	}
	pthread_mutex_lock(&r->lock);
	r->lane = lane;
	r->claim = c;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Rolls back lane's transaction after err; drops its connection when that is
 * lost. Logs the first outage and every other error. */
static void lane_failed(struct dispatcher *d, struct lane *lane, const char *err, int *down)
{
	aq_store_rollback(lane->store);
	if (aq_store_connection_lost(lane->store)) {
		if (!*down)
			aq_log(AQ_LOG_WARN, "channel '%s': state database unavailable: %s", d->channel->name,
			       err);
		*down = 1;
		aq_store_free(lane->store);
		lane->store = NULL;
	} else {
		aq_log(AQ_LOG_ERROR, "channel '%s': %s", d->channel->name, err);
	}
}

void *aq_dispatcher_main(void *arg)
{
	struct dispatcher *d = arg;
	struct worker *w = d->w;
	char err[1024];
	char rec_err[1024];
	int down = 0;
	int attempt = 0;
	struct lane lanes[2] = { { NULL }, { NULL } };
	int cur = 0; /* the lane to claim on; the recorder is only ever on the other */
	struct recorder rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	aq_sender_t *sender = aq_sender_new(d->channel, w->cfg.log_dir, err, sizeof(err));
	if (!sender) {
		aq_log(AQ_LOG_ERROR, "channel '%s': %s", d->channel->name, err);
		return NULL;
	}
	if (pthread_create(&rec.thread, NULL, recorder_main, &rec) == 0)
		rec.started = 1;
	else
		aq_log(AQ_LOG_WARN,
		       "channel '%s': cannot start a thread to record outcomes: recording them in turn",
		       d->channel->name);
	/* claims big enough that the scan for pending rows, which walks past
	 * the entries of rows sent since the oldest open snapshot, is seldom */
	int max = d->channel->concurrency * 64;
	int64_t leftovers_at = 0;
	while (!w->threads_stop) {
		struct lane *lane = &lanes[cur];
		if (!lane->store) {
			lane->store = aq_store_connect(w->cfg.state_dsn, err, sizeof(err));
			if (!lane->store) {
				if (!down)
					aq_log(AQ_LOG_WARN, "channel '%s': %s", d->channel->name, err);
				down = 1;
				aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
				continue;
			}
			down = 0;
			attempt = 0;
		}
		aq_store_t *store = lane->store;
		pthread_mutex_lock(&w->wake_lock);
		unsigned long seq = w->wake_seq;
		pthread_mutex_unlock(&w->wake_lock);

		/* a channel without group_by still sends what waits in groups from
		 * a configuration that had it, now and then */
		size_t flushed = 0;
		int64_t now = aq_monotonic_ms();
		if ((d->channel->grouped || now >= leftovers_at) &&
		    aq_grouper_flush(store, d->channel, GROUPS_PER_FLUSH, &flushed, err, sizeof(err)) != 0)
			goto failed;
		if (now >= leftovers_at)
			leftovers_at = now + GROUP_LEFTOVERS_EVERY_MS;
		/* held rows of possible inhibition targets are decided first, in a
		 * short transaction of their own: the claim's lasts as long as the
		 * deliveries, and must not hold the checks' rows that long */
		int released = 0, inhibited = 0;
		pthread_rwlock_rdlock(&w->cfg_lock);
		int held = aq_store_begin(store, err, sizeof(err)) == 0 &&
				aq_store_inhibit_pass(store, &w->cfg, d->channel->name, max, &released,
						      &inhibited, err, sizeof(err)) == 0 &&
				aq_store_commit(store, err, sizeof(err)) == 0
			? 0
			: -1;
		pthread_rwlock_unlock(&w->cfg_lock);
		if (held != 0)
			goto failed;
		if (inhibited > 0)
			aq_log(AQ_LOG_INFO, "channel '%s': %d notification(s) inhibited", d->channel->name,
			       inhibited);

		struct aq_outbox_row *rows = NULL;
		size_t n = 0;
		/* the claim's COMMIT records only the outcomes of posts already
		 * made, so it does not wait for its fsync: a mark lost in a crash
		 * leaves the row pending, and it is sent again with the same
		 * notification_id (the Idempotency-Key), which at-least-once
		 * allows; nothing is lost and nothing else is doubled */
		if (aq_store_begin(store, err, sizeof(err)) != 0 ||
		    aq_store_exec(store, "SET LOCAL synchronous_commit = off", err, sizeof(err)) != 0 ||
		    aq_store_claim(store, d->channel->name, max, &rows, &n, err, sizeof(err)) != 0)
			goto failed;
		if (n == 0) {
			if (aq_store_commit(store, err, sizeof(err)) != 0)
				goto failed;
		} else {
			/* posted while the recorder commits the claim before */
			struct claim *c = deliver_claim(d, sender, rows, n, err, sizeof(err));
			if (!c)
				goto failed;
			struct lane *lost = recorder_wait(&rec, rec_err, sizeof(rec_err));
			if (lost)
				lane_failed(d, lost, rec_err, &down);
			recorder_give(&rec, lane, c);
			cur ^= 1;
			if (lost) {
				aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
				continue;
			}
			if (n == (size_t)max)
				continue;
		}
		/* nothing more due now: every outcome committed before waiting */
		struct lane *lost = recorder_wait(&rec, rec_err, sizeof(rec_err));
		if (lost) {
			lane_failed(d, lost, rec_err, &down);
			aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
			continue;
		}
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
		lane_failed(d, lane, err, &down);
		aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
	}
	struct lane *lost = recorder_wait(&rec, rec_err, sizeof(rec_err));
	if (lost)
		lane_failed(d, lost, rec_err, &down);
	if (rec.started) {
		pthread_mutex_lock(&rec.lock);
		rec.stop = 1;
		pthread_cond_broadcast(&rec.cond);
		pthread_mutex_unlock(&rec.lock);
		pthread_join(rec.thread, NULL);
	}
	aq_sender_free(sender);
	aq_store_free(lanes[0].store);
	aq_store_free(lanes[1].store);
	return NULL;
}
