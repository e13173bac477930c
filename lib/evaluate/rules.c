/* rules.c - applying rules to results: per-check state, transitions, and the
 * escalation plan */
#include "alertq/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/saturate.h"
#include "evaluate/flapping.h"

int aq_severity_rank(int severity)
{
	switch (severity) {
	case AQ_OK:
		return 0;
	case AQ_WARNING:
		return 1;
	case AQ_UNKNOWN:
		return 2;
	case AQ_CRITICAL:
		return 3;
	default:
		return 0;
	}
}

static void told_clear(struct aq_state *st)
{
	for (size_t i = 0; i < st->ntold; i++)
		free(st->told[i]);
	free(st->told);
	st->told = NULL;
	st->ntold = 0;
}

void aq_state_init(struct aq_state *st, const char *check)
{
	memset(st, 0, sizeof(*st));
	st->check = aq_strdup(check);
	st->severity = AQ_OK;
	st->previous_severity = AQ_OK;
	st->pending_severity = AQ_STATUS_NONE;
	st->status = AQ_STATUS_NONE;
	st->escalation_level = -1;
	st->message = aq_strdup("");
}

void aq_state_release(struct aq_state *st)
{
	free(st->check);
	free(st->message);
	aq_labels_free(st->labels, st->nlabels);
	aq_labels_free(st->annotations, st->nannotations);
	told_clear(st);
	free(st->inhibited_by);
	memset(st, 0, sizeof(*st));
}

int aq_rule_severity(const struct aq_rule *rule, const struct aq_result *r)
{
	if (rule && (rule->warning.set || rule->critical.set)) {
		if (r->status == AQ_UNKNOWN || !r->has_value)
			return AQ_UNKNOWN;
		if (aq_threshold_met(&rule->critical, r->value))
			return AQ_CRITICAL;
		if (aq_threshold_met(&rule->warning, r->value))
			return AQ_WARNING;
		return AQ_OK;
	}
	if (r->status == AQ_STATUS_NONE)
		return AQ_UNKNOWN;
	return r->status;
}

const struct aq_escalation *aq_rule_policy(const struct aq_config *cfg, const struct aq_rule *rule)
{
	if (!cfg || !rule || !rule->escalation)
		return NULL;
	return aq_config_escalation(cfg, rule->escalation);
}

int64_t aq_stale_deadline(const struct aq_rule *rule, int64_t last_seen_ms, int64_t interval_ms)
{
	/* interval_ms comes from the event: saturate, never overflow (a
	 * deadline of INT64_MAX is never reached) */
	if (rule && rule->stale_after_ms > 0)
		return aq_add_ms_sat(last_seen_ms, rule->stale_after_ms);
	if (interval_ms > 0)
		return aq_add_ms_sat(last_seen_ms, aq_mul_ms_sat(interval_ms, 2));
	return 0;
}

static void fill_transition(struct aq_transition *tr, const struct aq_state *st, int from, int to)
{
	tr->from = from;
	tr->to = to;
	tr->has_value = st->has_value;
	tr->value = st->value;
	tr->observed_at_ms = st->last_seen_ms;
	tr->message = st->message;
	tr->event_id = st->last_event_id;
	tr->stale = st->stale;
	tr->expired = 0;
	tr->annotations = NULL;
	tr->nannotations = 0;
	tr->flap = AQ_FLAP_SAME;
	tr->flapping = st->flapping;
}

const char *aq_transition_cause(const struct aq_transition *tr)
{
	if (tr->expired)
		return "expired";
	return tr->stale ? "stale" : "result";
}

const char *aq_transition_flapping(const struct aq_transition *tr)
{
	if (tr->flap == AQ_FLAP_STARTED)
		return "started";
	if (tr->flap == AQ_FLAP_STOPPED)
		return "stopped";
	return tr->flapping ? "flapping" : "";
}

/* Forgets st's flapping window. Returns 1 when st was flapping. */
static int flap_reset(struct aq_state *st)
{
	int was = st->flapping;
	st->flap_history = 0;
	st->flap_count = 0;
	st->flapping = 0;
	st->flapping_since_ms = 0;
	return was;
}

/* Adds a result's raw severity to st's flapping window and decides whether
 * it flaps now. A rule without `flapping:` keeps no window, and ends the
 * flapping a rule that had it left behind. Returns what changed. */
static enum aq_flap_change flap_note(struct aq_state *st, const struct aq_rule *rule, int severity,
				     int64_t observed_at_ms)
{
	int was = st->flapping;
	if (!rule || !rule->flapping.set)
		return flap_reset(st) ? AQ_FLAP_STOPPED : AQ_FLAP_SAME;
	struct aq_flap_window w = { st->flap_history, st->flap_count };
	aq_flap_push(&w, severity);
	st->flap_history = w.history;
	st->flap_count = w.count;
	st->flapping = aq_flap_decide(was, &w, rule->flapping.low, rule->flapping.high);
	if (st->flapping == was)
		return AQ_FLAP_SAME;
	st->flapping_since_ms = st->flapping ? observed_at_ms : 0;
	return st->flapping ? AQ_FLAP_STARTED : AQ_FLAP_STOPPED;
}

static void record_result(struct aq_state *st, const struct aq_rule *rule, const struct aq_result *r)
{
	st->has_value = r->has_value;
	st->value = r->has_value ? r->value : 0;
	st->status = r->status;
	free(st->message);
	st->message = aq_strdup(r->message ? r->message : "");
	aq_labels_free(st->labels, st->nlabels);
	st->labels = NULL;
	st->nlabels = 0;
	if (aq_labels_copy(&st->labels, r->labels, r->nlabels) == 0)
		st->nlabels = r->nlabels;
	st->last_seen_ms = r->observed_at_ms;
	st->interval_ms = r->interval_ms;
	memcpy(st->last_event_id, r->event_id, sizeof(st->last_event_id));
	st->last_event_id[sizeof(st->last_event_id) - 1] = '\0';
	st->stale_at_ms = aq_stale_deadline(rule, r->observed_at_ms, r->interval_ms);
	/* a result without one clears it: only the last result's counts */
	st->expires_at_ms = r->expires_at_ms;
	st->dirty = 1;
}

int aq_state_apply(struct aq_state *st, const struct aq_rule *rule, const struct aq_result *r,
		   struct aq_transition *tr)
{
	int severity = aq_rule_severity(rule, r);
	int for_count = rule && rule->for_count > 0 ? rule->for_count : 1;
	int from = st->severity;
	int was_stale = st->stale;

	record_result(st, rule, r);
	st->stale = 0;

	enum aq_flap_change flap = flap_note(st, rule, severity, r->observed_at_ms);
	int fire = 0;
	if (severity == from) {
		st->pending_severity = AQ_STATUS_NONE;
		st->pending_count = 0;
	} else if (was_stale || aq_severity_rank(severity) < aq_severity_rank(from)) {
		/* getting better takes one result, and a result ends staleness */
		fire = 1;
	} else {
		st->pending_count++;
		st->pending_severity = severity;
		fire = st->pending_count >= for_count;
	}
	if (!fire && flap == AQ_FLAP_SAME)
		return 0;
	if (!fire) {
		/* only flapping changed: history marks it as a transition to where it is */
		fill_transition(tr, st, from, from);
		tr->flap = flap;
		return 1;
	}

	st->previous_severity = from;
	st->severity = severity;
	st->since_ms = r->observed_at_ms;
	st->pending_severity = AQ_STATUS_NONE;
	st->pending_count = 0;
	fill_transition(tr, st, from, severity);
	aq_state_annotate(st, rule, tr);
	tr->flap = flap;
	return 1;
}

int aq_state_go_stale(struct aq_state *st, const struct aq_rule *rule, int64_t now_ms,
		      struct aq_transition *tr)
{
	int severity = rule ? rule->stale_severity : AQ_UNKNOWN;
	int from = st->severity;
	char last[40];
	char message[160];

	/* stale fires once: the next result sets a new deadline */
	st->stale_at_ms = 0;
	st->stale = 1;
	st->dirty = 1;
	st->pending_severity = AQ_STATUS_NONE;
	st->pending_count = 0;
	aq_format_time(st->last_seen_ms, last, sizeof(last));
	snprintf(message, sizeof(message), "no result since %s", last);
	free(st->message);
	st->message = aq_strdup(message);
	/* without results nothing flaps: its real state is the stale one */
	int was_flapping = flap_reset(st);
	if (severity == from && !was_flapping)
		return 0;
	if (severity != from) {
		st->previous_severity = from;
		st->severity = severity;
		st->since_ms = now_ms;
	}
	fill_transition(tr, st, from, severity);
	tr->observed_at_ms = now_ms;
	tr->event_id = "";
	aq_state_annotate(st, rule, tr);
	tr->flap = was_flapping ? AQ_FLAP_STOPPED : AQ_FLAP_SAME;
	return 1;
}

int aq_state_expire(struct aq_state *st, int64_t now_ms, struct aq_transition *tr)
{
	int from = st->severity;
	char expired[40], last[40];
	char message[160];

	st->expires_at_ms = 0;
	st->stale_at_ms = 0;
	st->stale = 0;
	st->pending_severity = AQ_STATUS_NONE;
	st->pending_count = 0;
	st->dirty = 1;
	/* the last result no longer holds, nor the flapping it was part of */
	int was_flapping = flap_reset(st);
	if (from == AQ_OK && !was_flapping)
		return 0;
	aq_format_time(now_ms, expired, sizeof(expired));
	aq_format_time(st->last_seen_ms, last, sizeof(last));
	snprintf(message, sizeof(message), "expired at %s, no result since %s", expired, last);
	free(st->message);
	st->message = aq_strdup(message);
	if (from != AQ_OK) {
		st->previous_severity = from;
		st->severity = AQ_OK;
		st->since_ms = now_ms;
	}
	fill_transition(tr, st, from, AQ_OK);
	tr->observed_at_ms = now_ms;
	tr->event_id = "";
	tr->expired = 1;
	tr->flap = was_flapping ? AQ_FLAP_STOPPED : AQ_FLAP_SAME;
	return 1;
}

int aq_state_time_step(struct aq_state *st, const struct aq_rule *rule, int64_t now_ms,
		       struct aq_transition *tr)
{
	int stale_due = st->stale_at_ms > 0 && st->stale_at_ms <= now_ms;
	int expiry_due = st->expires_at_ms > 0 && st->expires_at_ms <= now_ms;

	if (expiry_due && (!stale_due || st->expires_at_ms <= st->stale_at_ms)) {
		if (!aq_state_expire(st, now_ms, tr))
			return 0;
		aq_state_annotate(st, rule, tr);
		return 1;
	}
	if (stale_due)
		return aq_state_go_stale(st, rule, now_ms, tr);
	return 0;
}

int64_t aq_state_next_deadline(const struct aq_state *st)
{
	const int64_t deadlines[] = { st->stale_at_ms, st->expires_at_ms, st->next_action_ms };
	int64_t at = 0;
	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++)
		if (deadlines[i] > 0 && (at == 0 || deadlines[i] < at))
			at = deadlines[i];
	return at;
}

static void remember_told(struct aq_state *st, const char *channel)
{
	for (size_t i = 0; i < st->ntold; i++)
		if (strcmp(st->told[i], channel) == 0)
			return;
	char **grown = realloc(st->told, (st->ntold + 1) * sizeof(*grown));
	if (!grown)
		return;
	st->told = grown;
	st->told[st->ntold++] = aq_strdup(channel);
}

static void plan_add(struct aq_plan *plan, const char *channel, int level, int resolved)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strcmp(plan->items[i].channel, channel) == 0 && plan->items[i].resolved == resolved)
			return;
	if (plan->n >= AQ_PLAN_MAX)
		return;
	/* callers' plans are not zeroed: every field is set here */
	memset(&plan->items[plan->n], 0, sizeof(plan->items[plan->n]));
	snprintf(plan->items[plan->n].channel, sizeof(plan->items[plan->n].channel), "%s", channel);
	plan->items[plan->n].level = level;
	plan->items[plan->n].resolved = resolved;
	plan->n++;
}

/* Tells (or, when silenced, holds back) the channels of levels from..to. */
static void tell_levels(struct aq_state *st, const struct aq_severity_policy *sp, int from, int to,
			int64_t now_ms, int silenced, struct aq_plan *plan)
{
	for (int level = from; level <= to && level < (int)sp->nlevels; level++) {
		for (size_t c = 0; c < sp->levels[level].nnotify; c++) {
			const char *channel = sp->levels[level].notify[c];
			if (silenced) {
				st->suppressed = 1;
				continue;
			}
			plan_add(plan, channel, level, 0);
			remember_told(st, channel);
		}
	}
	st->last_notified_ms = now_ms;
}

/* When escalation levels count from: the start of the severity, or while
 * the check flaps, the start of the flapping (its severity keeps changing). */
static int64_t escalation_base(const struct aq_state *st)
{
	return st->flapping ? st->flapping_since_ms : st->since_ms;
}

/* Levels whose `after` has passed since the severity began: tells the ones
 * not told yet. Returns 1 when any level was reached. */
static int reach_due_levels(struct aq_state *st, const struct aq_severity_policy *sp, int64_t now_ms,
			    int silenced, struct aq_plan *plan)
{
	int due = st->escalation_level;
	while (due + 1 < (int)sp->nlevels &&
	       aq_add_ms_sat(escalation_base(st), sp->levels[due + 1].after_ms) <= now_ms)
		due++;
	if (due == st->escalation_level)
		return 0;
	tell_levels(st, sp, st->escalation_level + 1, due, now_ms, silenced, plan);
	st->escalation_level = due;
	return 1;
}

static void schedule_next(struct aq_state *st, const struct aq_severity_policy *sp)
{
	int64_t next = 0;
	if (!st->acked) {
		int level = st->escalation_level + 1;
		if (level < (int)sp->nlevels)
			next = aq_add_ms_sat(escalation_base(st), sp->levels[level].after_ms);
		if (sp->repeat_ms > 0 && st->escalation_level >= 0) {
			int64_t repeat = aq_add_ms_sat(st->last_notified_ms, sp->repeat_ms);
			if (next == 0 || repeat < next)
				next = repeat;
		}
	}
	st->next_action_ms = next;
}

static void tell_resolved(struct aq_state *st, struct aq_plan *plan)
{
	for (size_t i = 0; i < st->ntold; i++)
		plan_add(plan, st->told[i], st->escalation_level < 0 ? 0 : st->escalation_level, 1);
}

static void end_episode(struct aq_state *st)
{
	told_clear(st);
	st->escalation_level = -1;
	st->next_action_ms = 0;
	st->last_notified_ms = 0;
	st->acked = 0;
	st->suppressed = 0;
}

/* The worst severity of st's flapping window: what a flapping check is
 * told as, and whose policy escalates it. */
static int flap_severity(const struct aq_state *st)
{
	struct aq_flap_window w = { st->flap_history, st->flap_count };
	return aq_flap_worst(&w);
}

/* Marks the plan's items as sent while st flaps (started: status "flapping"). */
static void mark_flapping(const struct aq_state *st, struct aq_plan *plan, int started)
{
	int severity = flap_severity(st);
	for (size_t i = 0; i < plan->n; i++) {
		plan->items[i].flapping = 1;
		plan->items[i].flapping_started = started;
		plan->items[i].flap_severity = severity;
	}
}

/* Flapping started: one "flapping" notification to every channel told in
 * the episode and to level 0 of the worst severity in the window (whatever
 * its `after`); later levels count from now. */
static void plan_flapping_started(struct aq_state *st, const struct aq_escalation *policy, int64_t now_ms,
				  int silenced, struct aq_plan *plan)
{
	if (st->ntold == 0 && st->escalation_level < 0) {
		/* nobody has been told of anything: a new episode */
		end_episode(st);
		st->episode++;
	}
	if (!policy) {
		st->next_action_ms = 0;
		return;
	}
	const struct aq_severity_policy *sp = &policy->severity[flap_severity(st)];
	for (size_t i = 0; i < st->ntold; i++) {
		if (silenced)
			st->suppressed = 1;
		else
			plan_add(plan, st->told[i], 0, 0);
	}
	st->escalation_level = -1;
	if (sp->nlevels > 0) {
		tell_levels(st, sp, 0, 0, now_ms, silenced, plan);
		st->escalation_level = 0;
	}
	st->last_notified_ms = now_ms;
	schedule_next(st, sp);
	mark_flapping(st, plan, 1);
}

void aq_plan_transition(struct aq_state *st, const struct aq_escalation *policy,
			const struct aq_transition *tr, int64_t now_ms, int silenced, struct aq_plan *plan)
{
	plan->n = 0;
	st->dirty = 1;
	if (tr->flap == AQ_FLAP_STARTED) {
		plan_flapping_started(st, policy, now_ms, silenced, plan);
		return;
	}
	if (st->flapping)
		return; /* while it flaps its transitions tell nobody; aq_plan_tick escalates */
	if (tr->to == AQ_OK) {
		if (policy && policy->resolved && st->ntold > 0 && silenced) {
			/* the channels told hear it resolved when the silence ends */
			st->next_action_ms = 0;
			st->acked = 0;
			st->suppressed = 1;
			return;
		}
		if (policy && policy->resolved)
			tell_resolved(st, plan);
		end_episode(st);
		return;
	}
	/* flapping stopped: its real state goes through the policy below, and
	 * the episode it flapped in goes on (those told hear it resolve) */
	if (tr->from == AQ_OK && tr->flap != AQ_FLAP_STOPPED) {
		end_episode(st);
		st->episode++;
	}
	st->escalation_level = -1;
	if (!policy) {
		st->next_action_ms = 0;
		return;
	}
	const struct aq_severity_policy *sp = &policy->severity[tr->to];
	reach_due_levels(st, sp, now_ms, silenced, plan);
	schedule_next(st, sp);
}

void aq_plan_tick(struct aq_state *st, const struct aq_escalation *policy, int64_t now_ms, int silenced,
		  struct aq_plan *plan)
{
	plan->n = 0;
	if (!st->flapping && st->severity == AQ_OK && st->suppressed && !silenced) {
		/* resolved during a silence that has now ended */
		if (policy && policy->resolved)
			tell_resolved(st, plan);
		end_episode(st);
		st->dirty = 1;
		return;
	}
	/* a flapping check escalates at the worst severity it flaps at, even
	 * at moments it is OK */
	int severity = st->flapping ? flap_severity(st) : st->severity;
	if (severity == AQ_OK || !policy) {
		if (st->next_action_ms) {
			st->next_action_ms = 0;
			st->dirty = 1;
		}
		return;
	}
	const struct aq_severity_policy *sp = &policy->severity[severity];
	if (st->suppressed && !silenced) {
		/* the silence is over and it still fires; acknowledged meanwhile: nobody is owed it */
		st->suppressed = 0;
		st->dirty = 1;
		if (!st->acked)
			tell_levels(st, sp, 0, st->escalation_level, now_ms, 0, plan);
	}
	if (!st->acked && st->next_action_ms && st->next_action_ms <= now_ms) {
		st->dirty = 1;
		if (!reach_due_levels(st, sp, now_ms, silenced, plan) && sp->repeat_ms > 0 &&
		    st->escalation_level >= 0 && aq_add_ms_sat(st->last_notified_ms, sp->repeat_ms) <= now_ms)
			tell_levels(st, sp, 0, st->escalation_level, now_ms, silenced, plan);
	}
	int64_t before = st->next_action_ms;
	schedule_next(st, sp);
	if (before != st->next_action_ms)
		st->dirty = 1;
	if (st->flapping)
		mark_flapping(st, plan, 0);
}

void aq_state_ack(struct aq_state *st)
{
	st->acked = 1;
	st->next_action_ms = 0;
	st->dirty = 1;
}
