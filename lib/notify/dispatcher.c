/* dispatcher.c - the worker's delivery threads: one per channel, claiming
 * outbox rows and delivering them */
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
/* How often a channel without group_by looks for groups left waiting, and
 * a worker without inhibit rules for rows held under a configuration that
 * had them. */
#define GROUP_LEFTOVERS_EVERY_MS 10000

void aq_dispatchers_wake(struct worker *w)
{
	pthread_mutex_lock(&w->wake_lock);
	w->wake_seq++;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->wake_lock);
}

/* Sends the claimed rows over the dispatcher's channel and records every
 * outcome in one statement, committed with it: delivered, retry after a
 * backoff (or the receiver's Retry-After when longer), or failed for good
 * (an unreadable payload among the reasons). Returns 0, or -1 with the
 * reason in err (the caller rolls the claim back and the rows are tried
 * again). */
static int deliver_claim(struct dispatcher *d, aq_store_t *store, aq_sender_t *sender,
			 const struct aq_outbox_row *rows, size_t n, char *err, size_t errlen)
{
	struct aq_notification *notes = calloc(n, sizeof(*notes));
	struct aq_delivery *items = calloc(n, sizeof(*items)); /* the readable ones, in claim order */
	size_t *row_of = calloc(n, sizeof(*row_of));
	struct aq_mark *marks = calloc(n, sizeof(*marks));
	char(*unreadable)[UNREADABLE_REASON_MAX + 1] = calloc(n, sizeof(*unreadable));
	size_t nitems = 0;
	int rc = -1;

	if (!notes || !items || !row_of || !marks || !unreadable) {
		snprintf(err, errlen, "delivering notifications: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char perr[200];
		marks[i].id = rows[i].id;
		int grouped = aq_group_note_read(&notes[i], rows[i].payload, perr, sizeof(perr));
		if (grouped < 0 ||
		    (grouped == 0 &&
		     aq_notification_from_json(&notes[i], rows[i].payload, perr, sizeof(perr)) != 0)) {
			char reason[sizeof(perr) + 32];
			snprintf(reason, sizeof(reason), "unreadable payload: %s", perr);
			aq_text_clean_into(unreadable[i], sizeof(unreadable[i]), reason, strlen(reason),
					   AQ_TEXT_SPACES);
			marks[i].outcome = 2;
			marks[i].error = unreadable[i];
			continue;
		}
		items[nitems].notification = &notes[i];
		row_of[nitems++] = i;
	}
	if (AQ_FAILPOINT("dispatch.after_claim") != 0) {
		snprintf(err, errlen, "failpoint dispatch.after_claim");
		goto out;
	}
	if (nitems > 0)
		aq_sender_deliver(sender, items, nitems);
	if (AQ_FAILPOINT("dispatch.after_deliver") != 0) {
		snprintf(err, errlen, "failpoint dispatch.after_deliver");
		goto out;
	}
	for (size_t k = 0; k < nitems; k++) {
		size_t i = row_of[k];
		struct aq_mark *m = &marks[i];
		m->outcome = items[k].result == AQ_DELIVERED   ? 0
			: items[k].result == AQ_DELIVERY_RETRY ? 1
							       : 2;
		m->error = items[k].error;
		if (m->outcome == 1) {
			m->retry_ms = aq_backoff_ms(rows[i].attempts, d->channel->retry_initial_ms,
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
	rc = aq_store_mark_commit(store, marks, n, err, errlen);
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

void *aq_dispatcher_main(void *arg)
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
	int64_t leftovers_at = 0;
	while (!w->threads_stop) {
		if (!store) {
			store = aq_store_connect(w->cfg.state_dsn, err, sizeof(err));
			if (!store) {
				if (!down)
					aq_log(AQ_LOG_WARN, "channel '%s': %s", d->channel->name, err);
				down = 1;
				aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
				continue;
			}
			down = 0;
			attempt = 0;
		}
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
		int leftovers = now >= leftovers_at;
		if (leftovers)
			leftovers_at = now + GROUP_LEFTOVERS_EVERY_MS;
		/* held rows of possible inhibition targets are decided first, in a
		 * short transaction of their own: the claim's lasts as long as the
		 * deliveries, and must not hold the checks' rows that long. Rows
		 * are held only under inhibit rules: without any, the three round
		 * trips are spared on every claim but the leftovers' */
		int released = 0, inhibited = 0;
		pthread_rwlock_rdlock(&w->cfg_lock);
		int held = 0;
		if (w->cfg.ninhibits > 0 || leftovers)
			held = aq_store_begin(store, err, sizeof(err)) == 0 &&
					aq_store_inhibit_pass(store, &w->cfg, d->channel->name, max,
							      &released, &inhibited, err, sizeof(err)) == 0 &&
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
		 * allows; nothing is lost and nothing else is doubled. The claim
		 * is one round trip, the outcomes with the COMMIT another */
		if (aq_store_claim_begin(store, d->channel->name, max, &rows, &n, err, sizeof(err)) != 0)
			goto failed;
		if (n > 0) {
			int rc = deliver_claim(d, store, sender, rows, n, err, sizeof(err));
			aq_outbox_rows_free(rows, n);
			if (rc != 0)
				goto failed;
		} else if (aq_store_commit(store, err, sizeof(err)) != 0) {
			goto failed;
		}
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
		aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
	}
	aq_sender_free(sender);
	aq_store_free(store);
	return NULL;
}
