/* test_rules.c - severity under a rule, the state machine, and the
 * escalation plan, table by table */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/rules.h"
#include "unit.h"

#define MIN (60 * 1000LL)
#define T0 1764262800000LL /* 2025-11-27T17:00:00Z */

static struct aq_rule session_rule(int for_count)
{
	struct aq_rule r;
	memset(&r, 0, sizeof(r));
	r.match = "system.session_rows";
	r.warning = (struct aq_threshold){ 1, AQ_OP_GT, 50000 };
	r.critical = (struct aq_threshold){ 1, AQ_OP_GT, 100000 };
	r.for_count = for_count;
	r.stale_severity = AQ_UNKNOWN;
	return r;
}

static struct aq_result result(int has_value, double value, int status, int64_t at)
{
	struct aq_result r;
	memset(&r, 0, sizeof(r));
	r.check = "system.session_rows";
	r.has_value = has_value;
	r.value = value;
	r.status = status;
	r.message = "m";
	r.observed_at_ms = at;
	r.interval_ms = 60000;
	strcpy(r.event_id, "00000000-0000-4000-8000-000000000000");
	return r;
}

START_TEST(severity_under_rule)
{
	static const struct {
		int thresholds;
		int has_value;
		double value;
		int status;
		int want;
	} cases[] = {
		{ 1, 1, 0, AQ_STATUS_NONE, AQ_OK },
		{ 1, 1, 50000, AQ_STATUS_NONE, AQ_OK },
		{ 1, 1, 50001, AQ_STATUS_NONE, AQ_WARNING },
		{ 1, 1, 100000, AQ_STATUS_NONE, AQ_WARNING },
		{ 1, 1, 100001, AQ_STATUS_NONE, AQ_CRITICAL },
		{ 1, 1, 100001, AQ_OK, AQ_CRITICAL },    /* thresholds win over the result's status */
		{ 1, 1, 10, AQ_CRITICAL, AQ_OK },        /* ... either way */
		{ 1, 0, 0, AQ_STATUS_NONE, AQ_UNKNOWN }, /* no value to compare */
		{ 1, 1, 10, AQ_UNKNOWN, AQ_UNKNOWN },    /* the check itself failed */
		{ 0, 1, 10, AQ_CRITICAL, AQ_CRITICAL },  /* no thresholds: the result's status */
		{ 0, 1, 10, AQ_WARNING, AQ_WARNING },
		{ 0, 1, 10, AQ_OK, AQ_OK },
		{ 0, 1, 10, AQ_STATUS_NONE, AQ_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_rule rule = session_rule(1);
		if (!cases[i].thresholds)
			rule.warning.set = rule.critical.set = 0;
		struct aq_result r = result(cases[i].has_value, cases[i].value, cases[i].status, T0);
		ck_assert_msg(aq_rule_severity(&rule, &r) == cases[i].want, "case %zu: got %s want %s", i,
			      aq_status_name(aq_rule_severity(&rule, &r)), aq_status_name(cases[i].want));
	}
	struct aq_result r = result(1, 5, AQ_WARNING, T0);
	ck_assert_int_eq(aq_rule_severity(NULL, &r), AQ_WARNING);
}
END_TEST

/* A sequence of values through the state machine: the severity after each
 * result and whether that result was a transition. */
START_TEST(state_sequences)
{
	static const struct {
		const char *name;
		int for_count;
		int n;
		double values[8];
		int want_severity[8];
		int want_transition[8];
	} cases[] = {
		{ "first ok is no transition", 1, 1, { 10 }, { AQ_OK }, { 0 } },
		{ "first critical is a transition from ok", 1, 1, { 200000 }, { AQ_CRITICAL }, { 1 } },
		{ "warning then critical then ok", 1, 3, { 60000, 200000, 10 }, { AQ_WARNING, AQ_CRITICAL, AQ_OK }, { 1, 1, 1 } },
		{ "same severity twice is one transition", 1, 3, { 60000, 70000, 80000 }, { AQ_WARNING, AQ_WARNING, AQ_WARNING }, { 1, 0, 0 } },
		{ "for 3 fires on the third", 3, 3, { 60000, 60000, 60000 }, { AQ_OK, AQ_OK, AQ_WARNING }, { 0, 0, 1 } },
		{ "for 3 streak broken by ok", 3, 5, { 60000, 60000, 10, 60000, 60000 }, { AQ_OK, AQ_OK, AQ_OK, AQ_OK, AQ_OK }, { 0, 0, 0, 0, 0 } },
		{ "for 2 fires at the severity of the last", 2, 2, { 60000, 200000 }, { AQ_OK, AQ_CRITICAL }, { 0, 1 } },
		{ "better takes one result even with for 3", 3, 5, { 200000, 200000, 200000, 60000, 10 }, { AQ_OK, AQ_OK, AQ_CRITICAL, AQ_WARNING, AQ_OK }, { 0, 0, 1, 1, 1 } },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct aq_rule rule = session_rule(cases[c].for_count);
		struct aq_state st;
		aq_state_init(&st, "system.session_rows");
		for (int i = 0; i < cases[c].n; i++) {
			struct aq_result r = result(1, cases[c].values[i], AQ_STATUS_NONE, T0 + i * MIN);
			struct aq_transition tr;
			int changed = aq_state_apply(&st, &rule, &r, &tr);
			ck_assert_msg(changed == cases[c].want_transition[i], "%s: result %d transition %d", cases[c].name,
				      i, changed);
			ck_assert_msg(st.severity == cases[c].want_severity[i], "%s: result %d severity %s",
				      cases[c].name, i, aq_status_name(st.severity));
			if (changed) {
				ck_assert_int_eq(tr.to, st.severity);
				ck_assert_int_eq(tr.observed_at_ms, T0 + i * MIN);
				ck_assert_int_eq(st.since_ms, T0 + i * MIN);
			}
		}
		aq_state_release(&st);
	}
}
END_TEST

START_TEST(staleness)
{
	struct aq_rule rule = session_rule(1);
	struct aq_state st;
	struct aq_transition tr;
	aq_state_init(&st, "system.session_rows");
	struct aq_result r = result(1, 10, AQ_STATUS_NONE, T0);
	aq_state_apply(&st, &rule, &r, &tr);
	/* default: twice the interval */
	ck_assert_int_eq(st.stale_at_ms, T0 + 2 * MIN);
	rule.stale_after_ms = 10 * MIN;
	aq_state_apply(&st, &rule, &r, &tr);
	ck_assert_int_eq(st.stale_at_ms, T0 + 10 * MIN);

	ck_assert_int_eq(aq_state_go_stale(&st, &rule, T0 + 10 * MIN, &tr), 1);
	ck_assert_int_eq(tr.from, AQ_OK);
	ck_assert_int_eq(tr.to, AQ_UNKNOWN);
	ck_assert_int_eq(tr.stale, 1);
	ck_assert_int_eq(st.stale_at_ms, 0); /* fires once */
	ck_assert_ptr_nonnull(strstr(st.message, "no result since"));

	/* its next result ends it, whatever `for` says */
	rule.for_count = 5;
	struct aq_result back = result(1, 200000, AQ_STATUS_NONE, T0 + 11 * MIN);
	ck_assert_int_eq(aq_state_apply(&st, &rule, &back, &tr), 1);
	ck_assert_int_eq(tr.from, AQ_UNKNOWN);
	ck_assert_int_eq(tr.to, AQ_CRITICAL);
	ck_assert_int_eq(st.stale, 0);
	aq_state_release(&st);
}
END_TEST

static char *crit_level0[] = { "logfile", "ops-webhook" };
static char *crit_level1[] = { "oncall-email" };
static char *warn_level0[] = { "logfile" };

static struct aq_escalation policy(void)
{
	static struct aq_level crit[2];
	static struct aq_level warn[1];
	crit[0] = (struct aq_level){ 0, crit_level0, 2 };
	crit[1] = (struct aq_level){ 15 * MIN, crit_level1, 1 };
	warn[0] = (struct aq_level){ 0, warn_level0, 1 };
	struct aq_escalation e;
	memset(&e, 0, sizeof(e));
	e.name = "default";
	e.severity[AQ_CRITICAL] = (struct aq_severity_policy){ crit, 2, 240 * MIN };
	e.severity[AQ_WARNING] = (struct aq_severity_policy){ warn, 1, 0 };
	e.resolved = 1;
	return e;
}

/* "a:0,b:0" for the plan, in order; "r" after a level marks resolved. */
static void plan_text(const struct aq_plan *plan, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < plan->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s:%d%s", i ? "," : "", plan->items[i].channel,
					 plan->items[i].level, plan->items[i].resolved ? "r" : "");
}

/* Applies a result of value at `at` and writes the plan it gives into got. */
static void apply(struct aq_state *st, const struct aq_escalation *e, double value, int64_t at, int silenced,
		  char *got, size_t gotlen)
{
	struct aq_rule rule = session_rule(1);
	struct aq_result r = result(1, value, AQ_STATUS_NONE, at);
	struct aq_transition tr;
	struct aq_plan plan = { .n = 0 };
	if (aq_state_apply(st, &rule, &r, &tr))
		aq_plan_transition(st, e, &tr, at, silenced, &plan);
	plan_text(&plan, got, gotlen);
}

/* Moves time on to `at` and writes the plan it gives into got. */
static void tick(struct aq_state *st, const struct aq_escalation *e, int64_t at, int silenced, char *got,
		 size_t gotlen)
{
	struct aq_plan plan = { .n = 0 };
	aq_plan_tick(st, e, at, silenced, &plan);
	plan_text(&plan, got, gotlen);
}

/* Escalation scenarios: results, acknowledgements and ticks applied in
 * order to one check's state, with the plan each gives ("" for none) and
 * the state asserted in between. */
enum step_op {
	STEP_END,
	STEP_APPLY,
	STEP_TICK,
	STEP_ACK,
	STEP_EXPECT
}; /* STEP_END: the zeroed rest */
enum state_field {
	F_EPISODE,
	F_NEXT_ACTION,
	F_LEVEL,
	F_NTOLD,
	F_ACKED,
	F_SUPPRESSED,
	F_SEVERITY
};

struct step {
	enum step_op op;
	double value;           /* STEP_APPLY */
	int64_t at;             /* STEP_APPLY, STEP_TICK */
	int silenced;           /* STEP_APPLY, STEP_TICK */
	const char *plan;       /* STEP_APPLY, STEP_TICK */
	enum state_field field; /* STEP_EXPECT */
	int64_t want;           /* STEP_EXPECT */
};

#define APPLY(value, at, silenced, plan)                            \
	{                                                           \
		STEP_APPLY, (value), (at), (silenced), (plan), 0, 0 \
	}
#define TICK(at, silenced, plan)                             \
	{                                                    \
		STEP_TICK, 0, (at), (silenced), (plan), 0, 0 \
	}
#define ACK                                   \
	{                                     \
		STEP_ACK, 0, 0, 0, NULL, 0, 0 \
	}
#define EXPECT(field, want)                                 \
	{                                                   \
		STEP_EXPECT, 0, 0, 0, NULL, (field), (want) \
	}

#define MAX_STEPS 16

static const struct {
	const char *name;
	const char *check;
	int no_policy; /* no escalation policy: nobody is told */
	struct step steps[MAX_STEPS];
} scenarios[] = {
	{ "levels, repeat and resolve", "system.session_rows", 0, { APPLY(200000, T0, 0, "logfile:0,ops-webhook:0"), EXPECT(F_EPISODE, 1), EXPECT(F_NEXT_ACTION, T0 + 15 * MIN), TICK(T0 + 14 * MIN, 0, ""), TICK(T0 + 15 * MIN, 0, "oncall-email:1"), EXPECT(F_LEVEL, 1),
								    /* the repeat is due 4 h after the last notification */
								    EXPECT(F_NEXT_ACTION, T0 + 15 * MIN + 240 * MIN), TICK(T0 + 100 * MIN, 0, ""), TICK(T0 + 255 * MIN, 0, "logfile:0,ops-webhook:0,oncall-email:1"),
								    /* a new result at the same severity notifies nothing */
								    APPLY(150000, T0 + 256 * MIN, 0, ""),
								    /* back to OK: every channel told in the episode hears it resolved */
								    APPLY(10, T0 + 260 * MIN, 0, "logfile:1r,ops-webhook:1r,oncall-email:1r"), EXPECT(F_NEXT_ACTION, 0), EXPECT(F_NTOLD, 0), TICK(T0 + 600 * MIN, 0, "") } },
	{ "ack and a new episode", "x", 0, { APPLY(200000, T0, 0, "logfile:0,ops-webhook:0"), ACK, TICK(T0 + 20 * MIN, 0, ""), TICK(T0 + 500 * MIN, 0, ""),
					     /* a change of severity is still told while acknowledged */
					     APPLY(60000, T0 + 501 * MIN, 0, "logfile:0"), APPLY(10, T0 + 502 * MIN, 0, "logfile:0r,ops-webhook:0r"), EXPECT(F_ACKED, 0),
					     /* a new episode starts afresh: escalates again */
					     APPLY(200000, T0 + 600 * MIN, 0, "logfile:0,ops-webhook:0"), EXPECT(F_EPISODE, 2), TICK(T0 + 615 * MIN, 0, "oncall-email:1") } },
	{ "silence", "x", 0, { APPLY(200000, T0, 1, ""), EXPECT(F_SUPPRESSED, 1), TICK(T0 + 5 * MIN, 1, ""),
			       /* silence over, still firing: told now */
			       TICK(T0 + 6 * MIN, 0, "logfile:0,ops-webhook:0"), EXPECT(F_SUPPRESSED, 0), TICK(T0 + 7 * MIN, 0, ""), TICK(T0 + 15 * MIN, 0, "oncall-email:1") } },
	{ "resolved during silence", "x", 0, { APPLY(200000, T0, 0, "logfile:0,ops-webhook:0"),
					       /* silenced, then resolved: held back, not forgotten */
					       APPLY(10, T0 + MIN, 1, ""), TICK(T0 + 2 * MIN, 1, ""), TICK(T0 + 3 * MIN, 0, "logfile:0r,ops-webhook:0r"), EXPECT(F_NTOLD, 0), EXPECT(F_SUPPRESSED, 0), TICK(T0 + 4 * MIN, 0, "") } },
	{ "ack during silence", "x", 0, { APPLY(200000, T0, 1, ""), ACK,
					  /* acknowledged while silenced: the end of the silence owes nobody anything */
					  TICK(T0 + 2 * MIN, 0, ""), EXPECT(F_SUPPRESSED, 0), TICK(T0 + 20 * MIN, 0, "") } },
	{ "no policy tells nobody", "x", 1, { APPLY(200000, T0, 0, ""), EXPECT(F_SEVERITY, AQ_CRITICAL), TICK(T0 + 100 * MIN, 0, "") } },
};

static int64_t state_field(const struct aq_state *st, enum state_field field)
{
	switch (field) {
	case F_EPISODE:
		return st->episode;
	case F_NEXT_ACTION:
		return st->next_action_ms;
	case F_LEVEL:
		return st->escalation_level;
	case F_NTOLD:
		return (int64_t)st->ntold;
	case F_ACKED:
		return st->acked;
	case F_SUPPRESSED:
		return st->suppressed;
	case F_SEVERITY:
		return st->severity;
	}
	return -1;
}

START_TEST(escalation_scenarios)
{
	struct aq_escalation policy_e = policy();
	const struct aq_escalation *e = scenarios[_i].no_policy ? NULL : &policy_e;
	struct aq_state st;
	aq_state_init(&st, scenarios[_i].check);
	for (size_t k = 0; k < MAX_STEPS && scenarios[_i].steps[k].op != STEP_END; k++) {
		const struct step *sp = &scenarios[_i].steps[k];
		char got[512];
		switch (sp->op) {
		case STEP_APPLY:
			apply(&st, e, sp->value, sp->at, sp->silenced, got, sizeof(got));
			break;
		case STEP_TICK:
			tick(&st, e, sp->at, sp->silenced, got, sizeof(got));
			break;
		case STEP_ACK:
			aq_state_ack(&st);
			continue;
		case STEP_END: /* not reached: the loop stops there */
			continue;
		case STEP_EXPECT: {
			int64_t have = state_field(&st, sp->field);
			ck_assert_msg(have == sp->want, "%s, step %zu: field %d is %lld, want %lld", scenarios[_i].name, k,
				      (int)sp->field, (long long)have, (long long)sp->want);
			continue;
		}
		}
		ck_assert_msg(strcmp(got, sp->plan) == 0, "%s, step %zu: plan '%s', want '%s'", scenarios[_i].name, k,
			      got, sp->plan);
	}
	aq_state_release(&st);
}
END_TEST

/* Deadlines from hostile input: an event's interval_ms or observed_at near
 * the top of int64 saturate at INT64_MAX (never reached) instead of
 * overflowing (run under UBSan by scripts/sanitize.sh). */
#define DAY (24 * 60 * MIN)
#define YEAR (366 * DAY) /* the longest duration the configuration takes */
static const struct {
	int64_t stale_after_ms;
	int64_t last_seen_ms;
	int64_t interval_ms;
	int64_t want;
} deadlines[] = {
	{ 0, T0, MIN, T0 + 2 * MIN },
	{ 0, T0, 0, 0 },                            /* no interval, no rule: never stale */
	{ 10 * MIN, T0, INT64_MAX, T0 + 10 * MIN }, /* the rule wins over the event */
	{ 0, T0, INT64_C(1) << 62, INT64_MAX },     /* 2 * interval overflows */
	{ 0, T0, INT64_MAX / 2 + 1, INT64_MAX },    /* ... by one */
	{ 0, T0, INT64_MAX, INT64_MAX },            /* ... by far */
	{ 0, INT64_MAX - MIN, MIN, INT64_MAX },     /* the sum overflows */
	{ 0, INT64_MAX - 2 * MIN, MIN, INT64_MAX }, /* exactly the top */
	{ YEAR, INT64_MAX - 1, 0, INT64_MAX },      /* stale_after at its bound */
	{ YEAR, INT64_MAX - YEAR, INT64_C(1) << 62, INT64_MAX },
	{ YEAR, INT64_MAX - YEAR - 1, 0, INT64_MAX - 1 },
};

START_TEST(stale_deadline_saturates)
{
	struct aq_rule rule = session_rule(1);
	rule.stale_after_ms = deadlines[_i].stale_after_ms;
	int64_t got = aq_stale_deadline(&rule, deadlines[_i].last_seen_ms, deadlines[_i].interval_ms);
	ck_assert_msg(got == deadlines[_i].want, "case %d: got %lld, want %lld", _i, (long long)got,
		      (long long)deadlines[_i].want);
	if (deadlines[_i].stale_after_ms == 0) {
		got = aq_stale_deadline(NULL, deadlines[_i].last_seen_ms, deadlines[_i].interval_ms);
		ck_assert_msg(got == deadlines[_i].want, "case %d without a rule: got %lld", _i, (long long)got);
	}
}
END_TEST

/* A result with interval_ms 2^62 observed near the end of time: the state
 * machine and the escalation plan stay defined. */
START_TEST(extreme_result_times)
{
	static const int64_t times[] = { INT64_MAX - YEAR - 1, INT64_MAX - 15 * MIN, INT64_MAX - 1, INT64_MAX };
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t at = times[i];
		struct aq_escalation e = policy();
		e.severity[AQ_CRITICAL].repeat_ms = YEAR;
		struct aq_rule rule = session_rule(1);
		struct aq_state st;
		struct aq_transition tr;
		struct aq_plan plan = { .n = 0 };
		aq_state_init(&st, "x");
		struct aq_result r = result(1, 200000, AQ_STATUS_NONE, at);
		r.interval_ms = INT64_C(1) << 62;
		ck_assert_int_eq(aq_state_apply(&st, &rule, &r, &tr), 1);
		ck_assert_msg(st.stale_at_ms == INT64_MAX, "case %zu: stale at %lld", i, (long long)st.stale_at_ms);
		aq_plan_transition(&st, &e, &tr, at, 0, &plan);
		/* level 0 now; level 1 too at the very end, where 15 minutes on saturates to now */
		ck_assert_uint_eq(plan.n, at == INT64_MAX ? 3 : 2);
		/* level 1 is 15 minutes on, or never when that is past the end */
		int64_t want = at <= INT64_MAX - 15 * MIN ? at + 15 * MIN : INT64_MAX;
		ck_assert_msg(st.next_action_ms == want, "case %zu: next %lld", i, (long long)st.next_action_ms);
		aq_plan_tick(&st, &e, INT64_MAX, 0, &plan);
		ck_assert_int_eq(st.escalation_level, 1);
		/* the repeat, a year after, saturates */
		int64_t repeat = at < INT64_MAX - YEAR ? at + YEAR : INT64_MAX;
		ck_assert_msg(st.next_action_ms == repeat || st.next_action_ms == INT64_MAX, "case %zu: next %lld", i,
			      (long long)st.next_action_ms);
		aq_plan_tick(&st, &e, INT64_MAX, 0, &plan);
		aq_state_release(&st);
	}
}
END_TEST

/* ---- expiry: a result's expires_at passing ---- */

enum expiry_op {
	X_END,
	X_RESULT,
	X_TICK
};

struct expiry_step {
	enum expiry_op op;
	int64_t at;         /* observed_at, or the tick's now */
	double value;       /* X_RESULT: 200000 CRITICAL, 60000 WARNING, 10 OK */
	int64_t expires_at; /* X_RESULT */
	int64_t interval;   /* X_RESULT */
	const char *want;   /* transitions "FROM>TO(cause)[plan]" and a tick's plan "tick[plan]"; "" for none */
	int severity;       /* after the step */
	int64_t expires;    /* the state's expires_at after the step */
};

#define XR(at, value, expires, interval, want, sev, exp)               \
	{                                                              \
		X_RESULT, at, value, expires, interval, want, sev, exp \
	}
#define XT(at, want, sev, exp)                      \
	{                                           \
		X_TICK, at, 0, 0, 0, want, sev, exp \
	}

static const struct {
	const char *name;
	int for_count;
	struct expiry_step steps[8];
} expiries[] = {
	{ "a firing check expires and resolves, told like any resolve",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, T0 + 3 * MIN),
	    XT(T0 + 3 * MIN - 1, "", AQ_CRITICAL, T0 + 3 * MIN),
	    XT(T0 + 3 * MIN, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0),
	    XT(T0 + 10 * MIN, "", AQ_OK, 0) } },
	{ "re-sent before expiry: the deadline moves",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, T0 + 3 * MIN),
	    XR(T0 + 1 * MIN, 200000, T0 + 4 * MIN, 0, "", AQ_CRITICAL, T0 + 4 * MIN),
	    XT(T0 + 3 * MIN, "", AQ_CRITICAL, T0 + 4 * MIN),
	    XR(T0 + 3 * MIN + 1, 60000, T0 + 6 * MIN, 0, "CRITICAL>WARNING(result)[logfile:0]", AQ_WARNING,
	       T0 + 6 * MIN),
	    XT(T0 + 4 * MIN, "", AQ_WARNING, T0 + 6 * MIN),
	    XT(T0 + 6 * MIN, "WARNING>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0) } },
	{ "expired, then fires again: a new episode that expires too",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, T0 + 3 * MIN),
	    XT(T0 + 3 * MIN, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0),
	    XR(T0 + 5 * MIN, 200000, T0 + 8 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL,
	       T0 + 8 * MIN),
	    XT(T0 + 8 * MIN, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0) } },
	{ "an OK result resolves and clears it",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, T0 + 3 * MIN),
	    XR(T0 + 1 * MIN, 10, 0, 0, "CRITICAL>OK(result)[logfile:0r,ops-webhook:0r]", AQ_OK, 0),
	    XT(T0 + 3 * MIN, "", AQ_OK, 0) } },
	{ "a result without expires_at clears it: the check fires on",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, T0 + 3 * MIN),
	    XR(T0 + 1 * MIN, 200000, 0, 0, "", AQ_CRITICAL, 0),
	    XT(T0 + 3 * MIN, "", AQ_CRITICAL, 0),
	    XT(T0 + 15 * MIN, "tick[oncall-email:1]", AQ_CRITICAL, 0) } },
	{ "stale first, then expired, in one tick, in deadline order",
	  1,
	  { XR(T0, 200000, T0 + 3 * MIN, MIN, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL,
	       T0 + 3 * MIN),
	    XT(T0 + 5 * MIN, "CRITICAL>UNKNOWN(stale)[]UNKNOWN>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0),
	    XT(T0 + 60 * MIN, "", AQ_OK, 0) } },
	{ "expired before its staleness was due: no staleness after it",
	  1,
	  { XR(T0, 200000, T0 + 1 * MIN, MIN, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL,
	       T0 + 1 * MIN),
	    XT(T0 + 5 * MIN, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0),
	    XT(T0 + 60 * MIN, "", AQ_OK, 0) } },
	{ "equal deadlines: expiry wins",
	  1,
	  { XR(T0, 200000, T0 + 2 * MIN, MIN, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL,
	       T0 + 2 * MIN),
	    XT(T0 + 2 * MIN, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]", AQ_OK, 0) } },
	{ "an OK check's expiry passes quietly",
	  1,
	  { XR(T0, 10, T0 + 1 * MIN, 0, "", AQ_OK, T0 + 1 * MIN), XT(T0 + 1 * MIN, "", AQ_OK, 0) } },
	{ "a streak toward `for` expires with its result",
	  2,
	  { XR(T0, 200000, T0 + 1 * MIN, 0, "", AQ_OK, T0 + 1 * MIN), XT(T0 + 1 * MIN, "", AQ_OK, 0),
	    XR(T0 + 2 * MIN, 200000, 0, 0, "", AQ_OK, 0),
	    XR(T0 + 3 * MIN, 200000, 0, 0, "OK>CRITICAL(result)[logfile:0,ops-webhook:0]", AQ_CRITICAL, 0) } },
};

/* What the ticker does at now: time-driven transitions, then the plan's tick. */
static void expiry_tick(struct aq_state *st, const struct aq_rule *rule, const struct aq_escalation *e, int64_t now,
			char *got, size_t gotlen)
{
	struct aq_transition tr;
	struct aq_plan plan = { .n = 0 };
	char text[512];
	size_t used = strlen(got);
	for (int k = 0; k < AQ_STATE_TIME_STEPS; k++) {
		if (!aq_state_time_step(st, rule, now, &tr))
			continue;
		aq_plan_transition(st, e, &tr, now, 0, &plan);
		plan_text(&plan, text, sizeof(text));
		used += (size_t)snprintf(got + used, gotlen - used, "%s>%s(%s)[%s]", aq_status_name(tr.from),
					 aq_status_name(tr.to), aq_transition_cause(&tr), text);
		if (tr.expired)
			ck_assert_ptr_nonnull(strstr(st->message, "expired at"));
	}
	aq_plan_tick(st, e, now, 0, &plan);
	if (plan.n) {
		plan_text(&plan, text, sizeof(text));
		snprintf(got + used, gotlen - used, "tick[%s]", text);
	}
}

START_TEST(expiry_scenarios)
{
	struct aq_escalation e = policy();
	struct aq_rule rule = session_rule(expiries[_i].for_count);
	struct aq_state st;
	aq_state_init(&st, "system.session_rows");
	for (size_t k = 0; k < sizeof(expiries[_i].steps) / sizeof(expiries[_i].steps[0]); k++) {
		const struct expiry_step *x = &expiries[_i].steps[k];
		char got[1024] = "";
		if (x->op == X_END)
			break;
		if (x->op == X_RESULT) {
			struct aq_result r = result(1, x->value, AQ_STATUS_NONE, x->at);
			struct aq_transition tr;
			struct aq_plan plan = { .n = 0 };
			char text[512];
			r.expires_at_ms = x->expires_at;
			r.interval_ms = x->interval;
			if (aq_state_apply(&st, &rule, &r, &tr)) {
				aq_plan_transition(&st, &e, &tr, x->at, 0, &plan);
				plan_text(&plan, text, sizeof(text));
				snprintf(got, sizeof(got), "%s>%s(%s)[%s]", aq_status_name(tr.from), aq_status_name(tr.to),
					 aq_transition_cause(&tr), text);
			}
		} else {
			expiry_tick(&st, &rule, &e, x->at, got, sizeof(got));
		}
		ck_assert_msg(strcmp(got, x->want) == 0, "%s, step %zu: got '%s', want '%s'", expiries[_i].name, k, got,
			      x->want);
		ck_assert_msg(st.severity == x->severity, "%s, step %zu: severity %s", expiries[_i].name, k,
			      aq_status_name(st.severity));
		ck_assert_msg(st.expires_at_ms == x->expires, "%s, step %zu: expires_at %lld", expiries[_i].name, k,
			      (long long)st.expires_at_ms);
	}
	aq_state_release(&st);
}
END_TEST

/* Deadlines near the end of time: nothing overflows, the earliest wins. */
START_TEST(expiry_near_the_end)
{
	struct aq_escalation e = policy();
	struct aq_rule rule = session_rule(1);
	struct aq_state st;
	char got[1024] = "";
	aq_state_init(&st, "x");
	struct aq_result r = result(1, 200000, AQ_STATUS_NONE, AQ_OBSERVED_AT_MAX_MS - MIN);
	r.interval_ms = INT64_C(1) << 62; /* stale: saturates */
	r.expires_at_ms = AQ_OBSERVED_AT_MAX_MS;
	struct aq_transition tr;
	struct aq_plan plan = { .n = 0 };
	ck_assert_int_eq(aq_state_apply(&st, &rule, &r, &tr), 1);
	aq_plan_transition(&st, &e, &tr, r.observed_at_ms, 0, &plan);
	ck_assert_int_eq(st.stale_at_ms, INT64_MAX);
	ck_assert_int_eq(aq_state_next_deadline(&st), AQ_OBSERVED_AT_MAX_MS);
	expiry_tick(&st, &rule, &e, AQ_OBSERVED_AT_MAX_MS - 1, got, sizeof(got));
	ck_assert_str_eq(got, "");
	expiry_tick(&st, &rule, &e, AQ_OBSERVED_AT_MAX_MS, got, sizeof(got));
	ck_assert_str_eq(got, "CRITICAL>OK(expired)[logfile:0r,ops-webhook:0r]");
	ck_assert_int_eq(st.stale_at_ms, 0);
	ck_assert_int_eq(aq_state_next_deadline(&st), 0);

	/* a stored state whose deadlines sit at the very end */
	st.severity = AQ_CRITICAL;
	st.expires_at_ms = INT64_MAX;
	st.stale_at_ms = INT64_MAX;
	got[0] = '\0';
	ck_assert_int_eq(aq_state_time_step(&st, &rule, INT64_MAX - 1, &tr), 0);
	ck_assert_int_eq(st.expires_at_ms, INT64_MAX);
	ck_assert_int_eq(aq_state_time_step(&st, &rule, INT64_MAX, &tr), 1);
	ck_assert_int_eq(tr.expired, 1);
	ck_assert_int_eq(st.severity, AQ_OK);
	ck_assert_int_eq(aq_state_time_step(&st, &rule, INT64_MAX, &tr), 0);
	aq_state_release(&st);
}
END_TEST

START_TEST(rule_policy_by_name)
{
	struct aq_escalation escalations[2];
	struct aq_config cfg;
	memset(escalations, 0, sizeof(escalations));
	memset(&cfg, 0, sizeof(cfg));
	escalations[0].name = "pager";
	escalations[1].name = "mail";
	cfg.escalations = escalations;
	cfg.nescalations = 2;
	struct aq_rule rule = session_rule(1);
	ck_assert_ptr_null(aq_rule_policy(&cfg, NULL));
	ck_assert_ptr_null(aq_rule_policy(&cfg, &rule)); /* names none */
	rule.escalation = "mail";
	ck_assert_ptr_eq(aq_rule_policy(&cfg, &rule), &escalations[1]);
	rule.escalation = "nobody";
	ck_assert_ptr_null(aq_rule_policy(&cfg, &rule));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, severity_under_rule);
	tcase_add_test(tc, state_sequences);
	tcase_add_test(tc, staleness);
	tcase_add_loop_test(tc, escalation_scenarios, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
	tcase_add_test(tc, rule_policy_by_name);
	tcase_add_loop_test(tc, stale_deadline_saturates, 0, (int)(sizeof(deadlines) / sizeof(deadlines[0])));
	tcase_add_test(tc, extreme_result_times);
	tcase_add_loop_test(tc, expiry_scenarios, 0, (int)(sizeof(expiries) / sizeof(expiries[0])));
	tcase_add_test(tc, expiry_near_the_end);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
