/* ticker.c - the worker's ticker thread: escalation by time, repeats,
 * staleness, expiry, ends of silences */
#include "notify/ticker.h"

#include <stdlib.h>

#include "alertq/rules.h"
#include "alertq/util.h"
#include "consume/pace.h"
#include "consume/plan.h"
#include "notify/dispatcher.h"
#include "store/inhibit.h"

/* How often the ticker looks for checks that are due. */
#define TICK_MS 250
/* Pruning past state.retention: how often, and in what steps. */
#define PRUNE_EVERY_MS 60000
#define PRUNE_ROWS 1000
#define PRUNE_STATEMENTS 20

/* Whether st is still inhibited: a source fires for it now (the one it
 * names, or another). A check neither firing nor owed a held-back resolve
 * is let go. Updates inhibited_by in the store and in st. Returns 1, 0, or
 * -1 with err. */
static int still_inhibited(struct worker *w, aq_store_t *store, struct aq_state *st, char *err, size_t errlen)
{
	struct aq_inhibit_source src;
	int found = 0;
	if (st->severity != AQ_OK || st->suppressed) {
		found = aq_store_inhibit_source(store, &w->cfg, st->check, st->labels, st->nlabels, &src, err,
						errlen);
		if (found < 0)
			return -1;
	}
	if (aq_store_set_inhibited_by(store, st->check, found ? &src : NULL, err, errlen) != 0)
		return -1;
	free(st->inhibited_by);
	st->inhibited_by = found ? aq_strdup(src.name) : NULL;
	return found;
}

/* One pass over the checks that are due: staleness and expiry, then the escalations
 * and repeats their plans call for, in one transaction. Returns 0, or -1
 * with the reason (nothing is written then). */
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
		const struct aq_rule *rule = aq_config_rule_for(&w->cfg, st->check, st->labels, st->nlabels);
		const struct aq_escalation *policy = aq_rule_policy(&w->cfg, rule);
		int silenced = aq_store_silenced(store, st->check, now_ms);
		/* an inhibited check is silenced while its source fires; when it
		 * ends, aq_plan_tick tells what was held back, as after a silence */
		if (st->inhibited_by) {
			int inhibited = still_inhibited(w, store, st, err, errlen);
			if (inhibited < 0)
				goto fail;
			silenced = silenced || inhibited;
		}
		struct aq_plan plan;
		struct aq_transition tr;
		for (int step = 0; step < AQ_STATE_TIME_STEPS; step++) {
			if (aq_state_time_step(st, rule, now_ms, &tr)) {
				char ref[37];
				aq_writes_transition(writes, st->check, &tr, ref);
				aq_plan_transition(st, policy, &tr, now_ms, silenced, &plan);
				aq_queue_plan(&w->cfg, writes, st, &tr, ref, &plan);
				queued += (int)plan.n;
			}
		}
		aq_plan_tick(st, policy, now_ms, silenced, &plan);
		aq_queue_plan(&w->cfg, writes, st, NULL, NULL, &plan);
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
		aq_dispatchers_wake(w);
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

/* Deletes history and delivered notifications older than
 * state.retention, at most PRUNE_ROWS rows a statement and PRUNE_STATEMENTS
 * statements a tick, so that it never holds the ticker up for long and
 * catches up over a few ticks after a long pause. Returns 0 or -1 with err. */
static int prune(struct worker *w, aq_store_t *store, char *err, size_t errlen)
{
	int64_t total = 0;
	for (int i = 0; i < PRUNE_STATEMENTS && !w->threads_stop; i++) {
		int deleted = 0;
		if (aq_store_prune(store, w->cfg.state_retention_ms, PRUNE_ROWS, &deleted, err, errlen) != 0)
			return -1;
		total += deleted;
		if (deleted < PRUNE_ROWS)
			break;
	}
	if (total > 0)
		aq_log(AQ_LOG_INFO,
		       "pruned %lld row(s) of history and delivered notifications older than the retention",
		       (long long)total);
	return 0;
}

void *aq_ticker_main(void *arg)
{
	struct worker *w = arg;
	aq_store_t *store = NULL;
	char err[1024];
	int down = 0;
	int attempt = 0;
	int64_t pruned_ms = 0; /* monotonic; 0: not yet */
	while (!w->threads_stop) {
		if (!store) {
			store = aq_store_connect(w->cfg.state_dsn, err, sizeof(err));
			if (!store) {
				down = 1;
				aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
				continue;
			}
			down = 0;
			attempt = 0;
		}
		pthread_rwlock_rdlock(&w->cfg_lock);
		int rc = tick(w, store, err, sizeof(err));
		if (rc == 0 && aq_monotonic_ms() - pruned_ms >= PRUNE_EVERY_MS) {
			/* a failed prune waits for the next minute; ticks go on */
			if (prune(w, store, err, sizeof(err)) != 0 && !aq_store_connection_lost(store))
				aq_log(AQ_LOG_ERROR, "pruning past state.retention: %s", err);
			pruned_ms = aq_monotonic_ms();
		}
		pthread_rwlock_unlock(&w->cfg_lock);
		if (rc == 0)
			attempt = 0;
		if (rc != 0 || aq_store_connection_lost(store)) {
			if (aq_store_connection_lost(store)) {
				aq_store_free(store);
				store = NULL;
			} else if (!down) {
				aq_log(AQ_LOG_ERROR, "escalation: %s", err);
			}
			aq_sleep_ms(aq_backoff_ms(attempt++, 200, 5000));
			continue;
		}
		aq_sleep_ms(TICK_MS);
	}
	aq_store_free(store);
	return NULL;
}
