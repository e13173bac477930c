/* replay_eval.c - rules evaluation without a database: results in, in
 * order, transitions and notifications out, with time taken from the
 * results (what `alertq replay` runs) */
#include "alertq/replay_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/saturate.h"
#include "base/strmap.h"
#include "evaluate/group_replay.h"

#define CHECKS_MAX (4u * 1024 * 1024)
#define GAP_STEPS_MAX 10000 /* time-driven steps between two results of a check */

struct channel_count {
	char *name;
	long count;
};

/* Inhibition, as the worker does it at delivery time: a target's
 * notification waits (deferred) until observed_at + inhibit_wait and counts
 * only if no source fires then. */
struct deferred {
	size_t state;
	char *channel;
	int resolved;
	int64_t due_ms;
};

/* Channels a check's firing reached in its episode (for its resolve). */
struct heard {
	char **channels;
	size_t n;
};

struct aq_replay_eval {
	const struct aq_config *cfg;
	aq_replay_sink_fn sink;
	void *opaque;
	struct aq_state *states;
	size_t nstates;
	size_t capacity;
	struct aq_strmap index; /* check name (borrowed from states[i].check) -> i */
	size_t transitions;
	struct channel_count *channels;
	size_t nchannels;
	/* inhibition (only with cfg->ninhibits) */
	struct heard *heard;      /* parallel to states */
	unsigned char *is_source; /* parallel to states: matches a source side */
	size_t *sources;          /* the states that do */
	size_t nsources;
	struct deferred *deferred; /* in time order, roughly: decided from head */
	size_t ndeferred;
	size_t deferred_head;
	size_t ninhibited;
	struct group_replay *groups; /* grouped channels count messages, not notifications */
};

static void count_channel(aq_replay_eval_t *ev, const char *name)
{
	for (size_t i = 0; i < ev->nchannels; i++) {
		if (strcmp(ev->channels[i].name, name) == 0) {
			ev->channels[i].count++;
			return;
		}
	}
	struct channel_count *grown = realloc(ev->channels, (ev->nchannels + 1) * sizeof(*grown));
	if (!grown)
		return;
	ev->channels = grown;
	ev->channels[ev->nchannels].name = aq_strdup(name);
	ev->channels[ev->nchannels].count = 1;
	ev->nchannels++;
}

aq_replay_eval_t *aq_replay_eval_new(const struct aq_config *cfg, aq_replay_sink_fn sink, void *opaque)
{
	aq_replay_eval_t *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->cfg = cfg;
	ev->sink = sink;
	ev->opaque = opaque;
	ev->capacity = 1024;
	aq_strmap_init(&ev->index);
	ev->states = calloc(ev->capacity, sizeof(*ev->states));
	ev->heard = calloc(ev->capacity, sizeof(*ev->heard));
	ev->is_source = calloc(ev->capacity, sizeof(*ev->is_source));
	ev->channels = calloc(cfg->nchannels ? cfg->nchannels : 1, sizeof(*ev->channels));
	ev->groups = group_replay_new();
	if (!ev->states || !ev->heard || !ev->is_source || !ev->channels || !ev->groups ||
	    aq_strmap_reserve(&ev->index, ev->capacity) != 0) {
		aq_replay_eval_free(ev);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nchannels; i++) {
		ev->channels[i].name = aq_strdup(cfg->channels[i].name);
		ev->nchannels++;
	}
	return ev;
}

void aq_replay_eval_free(aq_replay_eval_t *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->nstates; i++)
		aq_state_release(&ev->states[i]);
	for (size_t i = 0; ev->heard && i < ev->nstates; i++) {
		for (size_t k = 0; k < ev->heard[i].n; k++)
			free(ev->heard[i].channels[k]);
		free(ev->heard[i].channels);
	}
	free(ev->heard);
	free(ev->is_source);
	free(ev->sources);
	for (size_t i = ev->deferred_head; i < ev->ndeferred; i++)
		free(ev->deferred[i].channel);
	free(ev->deferred);
	for (size_t i = 0; i < ev->nchannels; i++)
		free(ev->channels[i].name);
	free(ev->channels);
	group_replay_free(ev->groups);
	free(ev->states);
	aq_strmap_release(&ev->index);
	free(ev);
}

/* Doubles the room for states. Returns 0 or -1 (out of memory; nothing
 * changed that matters: the index only grows). */
static int grow(aq_replay_eval_t *ev)
{
	size_t capacity = ev->capacity * 2;
	if (aq_strmap_reserve(&ev->index, capacity) != 0)
		return -1;
	struct aq_state *states = realloc(ev->states, capacity * sizeof(*states));
	if (!states)
		return -1;
	ev->states = states;
	struct heard *heard = realloc(ev->heard, capacity * sizeof(*heard));
	if (!heard)
		return -1;
	ev->heard = heard;
	memset(ev->heard + ev->capacity, 0, (capacity - ev->capacity) * sizeof(*heard));
	unsigned char *is_source = realloc(ev->is_source, capacity);
	if (!is_source)
		return -1;
	ev->is_source = is_source;
	memset(ev->is_source + ev->capacity, 0, capacity - ev->capacity);
	ev->capacity = capacity;
	return 0;
}

/* The state of check, made at OK when it is new; NULL when there are too
 * many checks or memory ran out. */
static struct aq_state *state_for(aq_replay_eval_t *ev, const char *check)
{
	size_t found;
	if (aq_strmap_get(&ev->index, check, &found))
		return &ev->states[found];
	if (ev->nstates >= CHECKS_MAX)
		return NULL;
	if (ev->nstates + 1 > ev->capacity && grow(ev) != 0)
		return NULL;
	struct aq_state *st = &ev->states[ev->nstates];
	aq_state_init(st, check);
	/* room was reserved for capacity names: the put cannot fail */
	if (aq_strmap_put(&ev->index, st->check, ev->nstates, NULL) < 0) {
		aq_state_release(st);
		return NULL;
	}
	ev->nstates++;
	return st;
}

/* --- inhibition --- */

static int heard_has(const struct heard *h, const char *channel)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->channels[i], channel) == 0)
			return 1;
	return 0;
}

static void heard_add(struct heard *h, const char *channel)
{
	if (heard_has(h, channel))
		return;
	h->channels = aq_xrealloc(h->channels, (h->n + 1) * sizeof(*h->channels));
	h->channels[h->n++] = aq_strdup(channel);
}

static void heard_remove(struct heard *h, const char *channel)
{
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->channels[i], channel) == 0) {
			free(h->channels[i]);
			h->channels[i] = h->channels[--h->n];
			return;
		}
	}
}

/* Strikes channel from the channels st counts as told (it never was). */
static void told_remove(struct aq_state *st, const char *channel)
{
	for (size_t i = 0; i < st->ntold; i++) {
		if (strcmp(st->told[i], channel) == 0) {
			free(st->told[i]);
			st->told[i] = st->told[--st->ntold];
			return;
		}
	}
}

/* Notes state i as a possible source when it matches a source side. */
static void note_source(aq_replay_eval_t *ev, size_t i)
{
	const struct aq_state *st = &ev->states[i];
	if (ev->is_source[i])
		return;
	for (size_t k = 0; k < ev->cfg->ninhibits; k++) {
		if (aq_check_match(&ev->cfg->inhibits[k].source, st->check, st->labels, st->nlabels)) {
			ev->sources = aq_xrealloc(ev->sources, (ev->nsources + 1) * sizeof(*ev->sources));
			ev->sources[ev->nsources++] = i;
			ev->is_source[i] = 1;
			return;
		}
	}
}

/* The check that inhibits state t now, or NULL. */
static const char *find_source(const aq_replay_eval_t *ev, size_t t)
{
	const struct aq_state *st = &ev->states[t];
	for (size_t k = 0; k < ev->cfg->ninhibits; k++) {
		const struct aq_inhibit *e = &ev->cfg->inhibits[k];
		if (!aq_check_match(&e->target, st->check, st->labels, st->nlabels))
			continue;
		for (size_t j = 0; j < ev->nsources; j++) {
			const struct aq_state *src = &ev->states[ev->sources[j]];
			if (aq_inhibit_inhibits(e, st->check, st->labels, st->nlabels, src->check,
						src->labels, src->nlabels, src->severity))
				return src->check;
		}
	}
	return NULL;
}

static void set_inhibited_by(aq_replay_eval_t *ev, struct aq_state *st, const char *src)
{
	if (!src && st->inhibited_by)
		ev->ninhibited--;
	else if (src && !st->inhibited_by)
		ev->ninhibited++;
	free(st->inhibited_by);
	st->inhibited_by = src ? aq_strdup(src) : NULL;
}

/* Counts one notification of st to channel at at_ms; a grouped channel's
 * joins its group, which counts the messages when its timers run out. */
static void count_one(aq_replay_eval_t *ev, const struct aq_state *st, const char *channel, int resolved,
		      int64_t at_ms)
{
	const struct aq_channel *ch = aq_config_channel(ev->cfg, channel);
	if (ch && ch->grouped)
		group_replay_add(ev->groups, ch, st, resolved, at_ms);
	else
		count_channel(ev, channel);
}

/* Decides one deferred notification, as the dispatcher decides a held row. */
static void decide(aq_replay_eval_t *ev, const struct deferred *d)
{
	struct aq_state *st = &ev->states[d->state];
	struct heard *h = &ev->heard[d->state];
	if (!aq_inhibit_any_target(ev->cfg, st->check, st->labels, st->nlabels)) {
		count_one(ev, st, d->channel, d->resolved, d->due_ms);
		return;
	}
	if (d->resolved) {
		/* who never heard it fire does not hear it end */
		if (heard_has(h, d->channel))
			count_one(ev, st, d->channel, 1, d->due_ms);
		heard_remove(h, d->channel);
		return;
	}
	const char *src = find_source(ev, d->state);
	if (!src) {
		count_one(ev, st, d->channel, 0, d->due_ms);
		heard_add(h, d->channel);
		return;
	}
	if (st->severity != AQ_OK) {
		st->suppressed = 1;
		set_inhibited_by(ev, st, src);
		if (!heard_has(h, d->channel))
			told_remove(st, d->channel);
	}
}

/* Decides the deferred notifications due by until_ms. */
static void flush(aq_replay_eval_t *ev, int64_t until_ms)
{
	while (ev->deferred_head < ev->ndeferred && ev->deferred[ev->deferred_head].due_ms <= until_ms) {
		struct deferred *d = &ev->deferred[ev->deferred_head++];
		decide(ev, d);
		free(d->channel);
	}
	if (ev->deferred_head == ev->ndeferred)
		ev->deferred_head = ev->ndeferred = 0;
}

/* Counts a plan's notifications for state i at at_ms: a possible target's
 * wait until it can be decided (inhibit_wait after a transition, at once
 * for a tick's). */
static void count_plan(aq_replay_eval_t *ev, size_t i, const struct aq_plan *plan, int transition,
		       int64_t at_ms)
{
	const struct aq_state *st = &ev->states[i];
	int target = ev->cfg->ninhibits > 0 &&
		aq_inhibit_any_target(ev->cfg, st->check, st->labels, st->nlabels);
	group_replay_advance(ev->groups, at_ms);
	for (size_t k = 0; k < plan->n; k++) {
		if (!target) {
			count_one(ev, st, plan->items[k].channel, plan->items[k].resolved, at_ms);
			continue;
		}
		ev->deferred = aq_xrealloc(ev->deferred, (ev->ndeferred + 1) * sizeof(*ev->deferred));
		struct deferred *d = &ev->deferred[ev->ndeferred++];
		d->state = i;
		d->channel = aq_strdup(plan->items[k].channel);
		d->resolved = plan->items[k].resolved;
		d->due_ms = transition ? aq_add_ms_sat(at_ms, ev->cfg->inhibit_wait_ms) : at_ms;
	}
	if (!transition)
		flush(ev, at_ms);
}

/* After a transition of state i at at_ms: a check no longer firing lets go
 * of what it inhibited, which is told now (as the ticker does when a source
 * ends); a target back at OK with nothing held back is free again. */
static void after_transition(aq_replay_eval_t *ev, size_t i, int count, int64_t at_ms)
{
	struct aq_state *changed = &ev->states[i];
	if (ev->cfg->ninhibits == 0)
		return;
	note_source(ev, i);
	if (changed->inhibited_by && changed->severity == AQ_OK && !changed->suppressed)
		set_inhibited_by(ev, changed, NULL);
	if (ev->ninhibited == 0)
		return;
	for (size_t t = 0; t < ev->nstates && ev->ninhibited > 0; t++) {
		struct aq_state *st = &ev->states[t];
		if (!st->inhibited_by || strcmp(st->inhibited_by, changed->check) != 0)
			continue;
		/* told now; still inhibited by another source, decide() finds it */
		set_inhibited_by(ev, st, NULL);
		struct aq_plan plan;
		const struct aq_rule *rule = aq_config_rule_for(ev->cfg, st->check, st->labels, st->nlabels);
		aq_plan_tick(st, aq_rule_policy(ev->cfg, rule), at_ms, 0, &plan);
		if (count)
			count_plan(ev, t, &plan, 0, at_ms);
	}
}

/* Hands a transition to the sink. Returns its status. */
static int emit(aq_replay_eval_t *ev, const struct aq_state *st, const struct aq_transition *tr,
		const struct aq_plan *plan, char *err, size_t errlen)
{
	ev->transitions++;
	if (ev->sink && ev->sink(ev->opaque, st, tr, plan) != 0) {
		snprintf(err, errlen, "writing the transitions of '%s' failed", st->check);
		return -1;
	}
	return 0;
}

/* Time-driven work due up to until_ms (inclusive when inclusive, else
 * before it): staleness, expiry, and levels and repeats, each at its own time, as
 * the worker's ticker would do it. count: the notifications count. */
static int run_clock(aq_replay_eval_t *ev, size_t i, int64_t until_ms, int inclusive, int count, char *err,
		     size_t errlen)
{
	struct aq_state *st = &ev->states[i];
	const struct aq_rule *rule = aq_config_rule_for(ev->cfg, st->check, st->labels, st->nlabels);
	const struct aq_escalation *policy = aq_rule_policy(ev->cfg, rule);
	for (int step = 0; step < GAP_STEPS_MAX; step++) {
		int64_t at = aq_state_next_deadline(st);
		if (at == 0 || at > until_ms || (!inclusive && at == until_ms))
			return 0;
		struct aq_plan plan;
		plan.n = 0;
		for (int k = 0; k < AQ_STATE_TIME_STEPS; k++) {
			struct aq_transition tr;
			if (aq_state_time_step(st, rule, at, &tr)) {
				aq_plan_transition(st, policy, &tr, at, 0, &plan);
				if (count)
					count_plan(ev, i, &plan, 1, at);
				if (emit(ev, st, &tr, &plan, err, errlen) != 0)
					return -1;
				after_transition(ev, i, count, at);
			}
		}
		aq_plan_tick(st, policy, at, 0, &plan);
		if (count)
			count_plan(ev, i, &plan, 0, at);
		if (st->stale_at_ms == at)
			st->stale_at_ms = 0;
	}
	/* a repeat far shorter than the gap: the rest is one step at the end */
	struct aq_plan plan;
	aq_plan_tick(st, policy, until_ms, 0, &plan);
	if (count)
		count_plan(ev, i, &plan, 0, until_ms);
	return 0;
}

int aq_replay_eval_apply(aq_replay_eval_t *ev, const struct aq_result *r, char *err, size_t errlen)
{
	struct aq_state *st = state_for(ev, r->check);
	if (!st) {
		snprintf(err, errlen, "more than %u checks, or out of memory", CHECKS_MAX);
		return -1;
	}
	size_t i = (size_t)(st - ev->states);
	/* what was held back until now is decided by the states as they are now */
	flush(ev, r->observed_at_ms);
	if (run_clock(ev, i, r->observed_at_ms, 0, 1, err, errlen) != 0)
		return -1;
	const struct aq_rule *rule = aq_config_rule_for(ev->cfg, st->check, r->labels, r->nlabels);
	struct aq_transition tr;
	int changed = aq_state_apply(st, rule, r, &tr);
	if (ev->cfg->ninhibits > 0)
		note_source(ev, i);
	if (!changed)
		return 0;
	struct aq_plan plan;
	aq_plan_transition(st, aq_rule_policy(ev->cfg, rule), &tr, r->observed_at_ms, 0, &plan);
	count_plan(ev, i, &plan, 1, r->observed_at_ms);
	if (emit(ev, st, &tr, &plan, err, errlen) != 0)
		return -1;
	after_transition(ev, i, 1, r->observed_at_ms);
	return 0;
}

int aq_replay_eval_settle(aq_replay_eval_t *ev, int64_t now_ms, char *err, size_t errlen)
{
	for (size_t i = 0; i < ev->nstates; i++)
		if (run_clock(ev, i, now_ms, 1, 0, err, errlen) != 0)
			return -1;
	return 0;
}

void aq_replay_eval_finish(aq_replay_eval_t *ev)
{
	flush(ev, INT64_MAX);
}

size_t aq_replay_eval_transitions(const aq_replay_eval_t *ev)
{
	return ev->transitions;
}

size_t aq_replay_eval_checks(const aq_replay_eval_t *ev)
{
	return ev->nstates;
}

const struct aq_state *aq_replay_eval_state(const aq_replay_eval_t *ev, size_t i)
{
	return i < ev->nstates ? &ev->states[i] : NULL;
}

const struct aq_state *aq_replay_eval_find(const aq_replay_eval_t *ev, const char *check)
{
	size_t found;
	return aq_strmap_get(&ev->index, check, &found) ? &ev->states[found] : NULL;
}

size_t aq_replay_eval_channels(const aq_replay_eval_t *ev)
{
	return ev->nchannels;
}

long aq_replay_eval_channel(const aq_replay_eval_t *ev, size_t i, const char **name)
{
	*name = ev->channels[i].name;
	/* the groups still waiting at the end would send when their timers ran out */
	group_replay_finish(ev->groups);
	return ev->channels[i].count + group_replay_count(ev->groups, ev->channels[i].name);
}
