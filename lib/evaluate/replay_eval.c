/* replay_eval.c - rules evaluation without a database: results in, in
 * order, transitions and notifications out, with time taken from the
 * results (what `alertq replay` runs) */
#include "alertq/replay_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"

#define CHECKS_MAX (4u * 1024 * 1024)
#define GAP_STEPS_MAX 10000 /* time-driven steps between two results of a check */

struct channel_count {
	char *name;
	long count;
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
	ev->channels = calloc(cfg->nchannels ? cfg->nchannels : 1, sizeof(*ev->channels));
	if (!ev->states || !ev->channels || aq_strmap_reserve(&ev->index, ev->capacity) != 0) {
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
	for (size_t i = 0; i < ev->nchannels; i++)
		free(ev->channels[i].name);
	free(ev->channels);
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

/* Counts a plan's notifications. */
static void count_plan(aq_replay_eval_t *ev, const struct aq_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		count_channel(ev, plan->items[i].channel);
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
static int run_clock(aq_replay_eval_t *ev, struct aq_state *st, int64_t until_ms, int inclusive, int count,
		     char *err, size_t errlen)
{
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
					count_plan(ev, &plan);
				if (emit(ev, st, &tr, &plan, err, errlen) != 0)
					return -1;
			}
		}
		aq_plan_tick(st, policy, at, 0, &plan);
		if (count)
			count_plan(ev, &plan);
		if (st->stale_at_ms == at)
			st->stale_at_ms = 0;
	}
	/* a repeat far shorter than the gap: the rest is one step at the end */
	struct aq_plan plan;
	aq_plan_tick(st, policy, until_ms, 0, &plan);
	if (count)
		count_plan(ev, &plan);
	return 0;
}

int aq_replay_eval_apply(aq_replay_eval_t *ev, const struct aq_result *r, char *err, size_t errlen)
{
	struct aq_state *st = state_for(ev, r->check);
	if (!st) {
		snprintf(err, errlen, "more than %u checks, or out of memory", CHECKS_MAX);
		return -1;
	}
	if (run_clock(ev, st, r->observed_at_ms, 0, 1, err, errlen) != 0)
		return -1;
	const struct aq_rule *rule = aq_config_rule_for(ev->cfg, st->check, r->labels, r->nlabels);
	struct aq_transition tr;
	if (!aq_state_apply(st, rule, r, &tr))
		return 0;
	struct aq_plan plan;
	aq_plan_transition(st, aq_rule_policy(ev->cfg, rule), &tr, r->observed_at_ms, 0, &plan);
	count_plan(ev, &plan);
	return emit(ev, st, &tr, &plan, err, errlen);
}

int aq_replay_eval_settle(aq_replay_eval_t *ev, int64_t now_ms, char *err, size_t errlen)
{
	for (size_t i = 0; i < ev->nstates; i++)
		if (run_clock(ev, &ev->states[i], now_ms, 1, 0, err, errlen) != 0)
			return -1;
	return 0;
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
	return ev->channels[i].count;
}
