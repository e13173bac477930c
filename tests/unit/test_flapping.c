/* test_flapping.c - flapping detection: the weighted state-change
 * percentage, its window, the thresholds' hysteresis, `flapping:` in the
 * configuration, and what a flapping check tells its channels */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/notify.h"
#include "alertq/rules.h"
#include "evaluate/flapping.h"
#include "unit.h"

#define MIN (60 * 1000LL)
#define T0 1764262800000LL /* 2025-11-27T17:00:00Z */

/* A window from a string of severities, oldest first: O, W, C, U. */
static struct aq_flap_window window_of(const char *text)
{
	struct aq_flap_window w = { 0, 0 };
	for (const char *p = text; *p; p++)
		aq_flap_push(&w, *p == 'C' ? AQ_CRITICAL : *p == 'W' ? AQ_WARNING
				     : *p == 'U'                     ? AQ_UNKNOWN
								     : AQ_OK);
	return w;
}

/* Percentages worked out by hand: a change between the k-th and (k+1)-th of
 * 21 results weighs 0.8 + 0.4 (k - 1) / 19; the percentage is the sum over 20. */
START_TEST(percentages)
{
	static const struct {
		const char *results;
		double percent;
	} cases[] = {
		{ "", 0 },
		{ "C", 0 },
		{ "OOOOOOOOOOOOOOOOOOOOO", 0 }, /* 21 the same */
		{ "CCCCCCCCCCCCCCCCCCCCC", 0 },
		{ "COCOCOCOCOCOCOCOCOCOC", 100 }, /* every result a change: 20 weights sum to 20 */
		{ "OWCUOWCUOWCUOWCUOWCUO", 100 }, /* any change of severity counts, not only to OK */
		{ "OOOOOOOOOOOOOOOOOOOOC", 6 },   /* one change, the newest: 1.2 / 20 */
		{ "COOOOOOOOOOOOOOOOOOOO", 4 },   /* one change, the oldest: 0.8 / 20 */
		/* two changes at the new end weigh more than two at the old end:
		 * (1.2 + (0.8 + 0.4 * 18 / 19)) / 20 and (0.8 + (0.8 + 0.4 / 19)) / 20 */
		{ "OOOOOOOOOOOOOOOOOOOCO", (1.2 + 0.8 + 0.4 * 18 / 19) * 5 },
		{ "OCOOOOOOOOOOOOOOOOOOO", (0.8 + 0.8 + 0.4 / 19) * 5 },
		/* fewer than 21 results sit at the new end: 7 alternating hold the
		 * six newest changes, k = 15..20 */
		{ "COCOCOC", (6 * 0.8 + 0.4 * (14 + 15 + 16 + 17 + 18 + 19) / 19) * 5 },
		{ "COCOCO", (5 * 0.8 + 0.4 * (15 + 16 + 17 + 18 + 19) / 19) * 5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_flap_window w = window_of(cases[i].results);
		double got = aq_flap_percent(&w);
		ck_assert_msg(fabs(got - cases[i].percent) < 1e-9, "'%s': %.6f %%, want %.6f %%", cases[i].results,
			      got, cases[i].percent);
	}
}
END_TEST

/* The window holds 21 results: a change older than that no longer counts. */
START_TEST(window_of_21)
{
	struct aq_flap_window w = window_of("COOOOOOOOOOOOOOOOOOOO");
	ck_assert_int_eq(w.count, AQ_FLAP_WINDOW);
	ck_assert_int_eq(aq_flap_units(&w), 76); /* 0.8 / 20 = 4 % = 76 / 19 */
	aq_flap_push(&w, AQ_OK);
	ck_assert_int_eq(w.count, AQ_FLAP_WINDOW);
	ck_assert_int_eq(aq_flap_units(&w), 0);
	ck_assert_int_eq(aq_flap_severity_at(&w, 0), AQ_OK);
	/* never more than 42 bits, however many results */
	for (int i = 0; i < 100; i++)
		aq_flap_push(&w, i % 2 ? AQ_UNKNOWN : AQ_CRITICAL);
	ck_assert_msg(w.history >> 42 == 0, "history %llx", (unsigned long long)w.history);
	ck_assert_int_eq(aq_flap_units(&w), 1900);
	ck_assert_int_eq(aq_flap_worst(&w), AQ_CRITICAL);
	/* a value that is no severity is kept as UNKNOWN, never spills into the next result */
	aq_flap_push(&w, AQ_OK);
	aq_flap_push(&w, 7);
	ck_assert_int_eq(aq_flap_severity_at(&w, 0), AQ_UNKNOWN);
	ck_assert_int_eq(aq_flap_severity_at(&w, 1), AQ_OK);
	struct aq_flap_window empty = { 0, 0 };
	ck_assert_int_eq(aq_flap_worst(&empty), AQ_OK);
	/* a count past the window (a damaged row) reads as a full window */
	struct aq_flap_window damaged = window_of("WOWOWOWOWOWOWOWOWOWOW");
	damaged.history |= UINT64_C(0xffff) << 42; /* UNKNOWN past the window */
	damaged.count = 99;
	ck_assert_int_eq(aq_flap_units(&damaged), 1900);
	ck_assert_int_eq(aq_flap_worst(&damaged), AQ_WARNING);
}
END_TEST

/* Starts at >= high, stops at < low; in between it stays as it was. */
START_TEST(hysteresis)
{
	struct aq_flap_window all = window_of("COCOCOCOCOCOCOCOCOCOC"); /* 100 % */
	struct aq_flap_window seven = window_of("COCOCOC");             /* 34.42 % */
	ck_assert_int_eq(aq_flap_decide(0, &all, 25, 100), 1);          /* at high exactly */
	ck_assert_int_eq(aq_flap_decide(0, &seven, 25, 34), 1);
	ck_assert_int_eq(aq_flap_decide(0, &seven, 25, 35), 0);
	ck_assert_int_eq(aq_flap_decide(1, &seven, 34, 50), 1);         /* between low and high: stays flapping */
	ck_assert_int_eq(aq_flap_decide(0, &seven, 34, 50), 0);         /* ... or not flapping */
	ck_assert_int_eq(aq_flap_decide(1, &seven, 35, 50), 0);         /* below low: stops */
	struct aq_flap_window one = window_of("OOOOOOOOOOOOOOOOOOOOC"); /* 6 % */
	ck_assert_int_eq(aq_flap_decide(1, &one, 6, 30), 1);            /* at low exactly: goes on */
}
END_TEST

/* `flapping:` in a rule: read, or refused with FILE:LINE. */
START_TEST(configuration)
{
	static const struct {
		const char *flapping;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "{ low: 25, high: 30 }", NULL },
		{ "{ low: 0.5, high: 100 }", NULL },
		{ "{ low: 30, high: 30 }", "t.yaml:4: flapping 'low' must be below 'high'" },
		{ "{ low: 40, high: 30 }", "t.yaml:4: flapping 'low' must be below 'high'" },
		{ "{ low: 0, high: 30 }", "t.yaml:4: flapping 'low' must be a percentage over 0" },
		{ "{ low: 25, high: 101 }", "t.yaml:4: flapping 'high' must be a percentage over 0" },
		{ "{ low: -5, high: 30 }", "t.yaml:4: flapping 'low' must be a percentage" },
		{ "{ low: nan, high: 30 }", "t.yaml:4: flapping 'low' must be a percentage" },
		{ "{ low: 25x, high: 30 }", "t.yaml:4: flapping 'low' must be a percentage" },
		{ "{ high: 30 }", "t.yaml:4: 'flapping' needs both 'low' and 'high'" },
		{ "{ low: 25, high: 30, window: 5 }", "t.yaml:4:" },
		{ "yes", "t.yaml:4:" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], err[1024] = "";
		snprintf(text, sizeof(text),
			 "rules:\n"
			 "  - match: \"x.*\"\n"
			 "    critical: \"> 1\"\n"
			 "    flapping: %s\n",
			 cases[i].flapping);
		struct aq_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		int rc = aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err));
		if (!cases[i].error) {
			ck_assert_msg(rc == 0, "'%s': %s", cases[i].flapping, err);
			ck_assert_int_eq(cfg.rules[0].flapping.set, 1);
			ck_assert(cfg.rules[0].flapping.low < cfg.rules[0].flapping.high);
			aq_config_release(&cfg);
			continue;
		}
		ck_assert_msg(rc != 0, "'%s' was accepted", cases[i].flapping);
		ck_assert_msg(strstr(err, cases[i].error) != NULL, "'%s': '%s' has no '%s'", cases[i].flapping, err,
			      cases[i].error);
	}
	/* without it, no flapping detection */
	const char *plain = "rules:\n  - match: \"x.*\"\n    critical: \"> 1\"\n";
	struct aq_config cfg;
	char err[1024] = "";
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_msg(aq_config_parse(&cfg, "t.yaml", plain, strlen(plain), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cfg.rules[0].flapping.set, 0);
	aq_config_release(&cfg);
}
END_TEST

/* --- the state machine and the plan --- */

static char *crit_level0[] = { "logfile", "ops-webhook" };
static char *crit_level1[] = { "oncall-email" };

/* CRITICAL: level 0 at once, level 1 after 15 minutes, repeats every 4 h. */
static struct aq_escalation policy(void)
{
	static struct aq_level crit[2];
	crit[0] = (struct aq_level){ 0, crit_level0, 2 };
	crit[1] = (struct aq_level){ 15 * MIN, crit_level1, 1 };
	struct aq_escalation e;
	memset(&e, 0, sizeof(e));
	e.name = "default";
	e.severity[AQ_CRITICAL] = (struct aq_severity_policy){ crit, 2, 240 * MIN };
	e.resolved = 1;
	return e;
}

static struct aq_rule flapping_rule(void)
{
	struct aq_rule r;
	memset(&r, 0, sizeof(r));
	r.match = "x";
	r.critical = (struct aq_threshold){ 1, AQ_OP_GT, 1 };
	r.for_count = 1;
	r.stale_severity = AQ_UNKNOWN;
	r.flapping = (struct aq_flapping){ 1, 25, 30 };
	return r;
}

/* "a:0,b:0" for the plan; after a level "r" marks resolved, "F" status
 * flapping, "f" sent while flapping; "@C" the severity a flapping one tells. */
static void plan_text(const struct aq_plan *plan, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < plan->n && used < len; i++) {
		const struct aq_planned *p = &plan->items[i];
		used += (size_t)snprintf(buf + used, len - used, "%s%s:%d%s%s%s", i ? "," : "", p->channel, p->level,
					 p->resolved ? "r" : "", p->flapping_started ? "F" : p->flapping ? "f"
													 : "",
					 p->flapping ? (p->flap_severity == AQ_CRITICAL ? "@C" : "@?") : "");
	}
}

/* Applies one result (critical: value 5, else 0) at `at`. Returns 1 when
 * it was a transition; the plan it gave goes into got. */
static int apply(struct aq_state *st, const struct aq_rule *rule, const struct aq_escalation *e, int critical,
		 int64_t at, struct aq_transition *tr, char *got, size_t gotlen)
{
	struct aq_result r;
	memset(&r, 0, sizeof(r));
	r.check = "x";
	r.has_value = 1;
	r.value = critical ? 5 : 0;
	r.status = AQ_STATUS_NONE;
	r.message = "m";
	r.observed_at_ms = at;
	strcpy(r.event_id, "00000000-0000-4000-8000-000000000000");
	struct aq_plan plan;
	memset(&plan, 0xff, sizeof(plan)); /* as the worker's: never zeroed */
	plan.n = 0;
	int changed = aq_state_apply(st, rule, &r, tr);
	if (changed)
		aq_plan_transition(st, e, tr, at, 0, &plan);
	plan_text(&plan, got, gotlen);
	return changed;
}

static void tick(struct aq_state *st, const struct aq_escalation *e, int64_t at, char *got, size_t gotlen)
{
	struct aq_plan plan;
	memset(&plan, 0xff, sizeof(plan));
	plan.n = 0;
	aq_plan_tick(st, e, at, 0, &plan);
	plan_text(&plan, got, gotlen);
}

/* Alternating CRITICAL / OK once a minute: told as usual for six results,
 * one "flapping" notification at the seventh (34.4 % >= 30), then nothing
 * however often it changes, while history goes on; level 1 still comes 15
 * minutes after it started to flap, at CRITICAL even when it is OK then. */
START_TEST(one_flapping_notification)
{
	struct aq_rule rule = flapping_rule();
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	static const char *const before[] = { "logfile:0,ops-webhook:0", "logfile:0r,ops-webhook:0r" };
	aq_state_init(&st, "x");
	for (int i = 0; i < 6; i++) {
		ck_assert(apply(&st, &rule, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got)));
		ck_assert_msg(strcmp(got, before[i % 2]) == 0, "result %d: '%s'", i + 1, got);
		ck_assert_int_eq(st.flapping, 0);
	}
	ck_assert(apply(&st, &rule, &e, 1, T0 + 6 * MIN, &tr, got, sizeof(got)));
	ck_assert_str_eq(got, "logfile:0F@C,ops-webhook:0F@C");
	ck_assert_int_eq(tr.flap, AQ_FLAP_STARTED);
	ck_assert_int_eq(tr.to, AQ_CRITICAL);
	ck_assert_str_eq(aq_transition_flapping(&tr), "started");
	ck_assert_int_eq(st.flapping, 1);
	ck_assert_int_eq(st.flapping_since_ms, T0 + 6 * MIN);
	ck_assert_int_eq(st.next_action_ms, T0 + 21 * MIN); /* level 1, 15 min after it started to flap */
	int64_t episode = st.episode;

	/* 14 more changes: transitions, each marked, none told */
	for (int i = 7; i < 21; i++) {
		ck_assert(apply(&st, &rule, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got)));
		ck_assert_msg(strcmp(got, "") == 0, "result %d told '%s'", i + 1, got);
		ck_assert_int_eq(tr.flap, AQ_FLAP_SAME);
		ck_assert_str_eq(aq_transition_flapping(&tr), "flapping");
		if (i == 19) {
			/* at minute 20 it is OK: level 1 is not due yet */
			tick(&st, &e, T0 + 20 * MIN, got, sizeof(got));
			ck_assert_str_eq(got, "");
		}
	}
	ck_assert_int_eq(st.episode, episode); /* the episode stays open through OK */
	ck_assert_int_eq(st.severity, AQ_CRITICAL);
	/* the escalation still comes, marked flapping, at CRITICAL */
	tick(&st, &e, T0 + 21 * MIN, got, sizeof(got));
	ck_assert_str_eq(got, "oncall-email:1f@C");
	ck_assert(apply(&st, &rule, &e, 0, T0 + 21 * MIN + 1, &tr, got, sizeof(got)));
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(st.severity, AQ_OK);
	/* ... and repeats, at moments it is OK too */
	ck_assert_int_eq(st.next_action_ms, T0 + 21 * MIN + 240 * MIN);
	tick(&st, &e, T0 + 261 * MIN, got, sizeof(got));
	ck_assert_str_eq(got, "logfile:0f@C,ops-webhook:0f@C,oncall-email:1f@C");
	aq_state_release(&st);
}
END_TEST

/* Flapping, then settled: its real state is told once, when it stops. */
START_TEST(real_state_when_it_stops)
{
	struct aq_rule rule = flapping_rule();
	struct aq_escalation e = policy();
	for (int settle_critical = 0; settle_critical < 2; settle_critical++) {
		struct aq_state st;
		struct aq_transition tr;
		char got[512];
		int flapping_told = 0, stopped_at = -1;
		aq_state_init(&st, "x");
		/* 30 alternating results (the last OK), then 25 the same */
		for (int i = 0; i < 55; i++) {
			int critical = i < 30 ? i % 2 == 0 : settle_critical;
			int changed = apply(&st, &rule, &e, critical, T0 + i * MIN, &tr, got, sizeof(got));
			if (changed && tr.flap == AQ_FLAP_STARTED)
				flapping_told++;
			if (changed && tr.flap == AQ_FLAP_STOPPED) {
				ck_assert_int_eq(stopped_at, -1);
				stopped_at = i + 1;
				/* from == to: only flapping changed */
				ck_assert_int_eq(tr.from, tr.to);
				ck_assert_str_eq(aq_transition_flapping(&tr), "stopped");
				if (settle_critical) {
					/* CRITICAL since result 31, 15 min ago: levels 0 and 1 are due */
					ck_assert_str_eq(got, "logfile:0,ops-webhook:0,oncall-email:1");
				} else {
					/* resolved to everyone told in the episode, level 1 included */
					ck_assert_str_eq(got, "logfile:1r,ops-webhook:1r,oncall-email:1r");
					ck_assert_int_eq((int)st.ntold, 0);
				}
			} else if (i >= 7 && i + 1 != 7) {
				ck_assert_msg(strcmp(got, "") == 0, "result %d told '%s'", i + 1, got);
			}
			if (i == 21) {
				/* the escalation to level 1 meanwhile */
				tick(&st, &e, T0 + 21 * MIN, got, sizeof(got));
				ck_assert_str_eq(got, "oncall-email:1f@C");
			}
		}
		ck_assert_int_eq(flapping_told, 1);
		/* worked out by hand (README): 16 CRITICAL (a change, then 15 the
		 * same) or 15 OK after the alternation bring it to 21.05 % < 25 */
		ck_assert_int_eq(stopped_at, settle_critical ? 46 : 45);
		ck_assert_int_eq(st.flapping, 0);
		ck_assert_int_eq(st.flapping_since_ms, 0);
		aq_state_release(&st);
	}
}
END_TEST

/* Flapping starts as it goes OK while firing: everyone told in the episode
 * (level 1 too) hears it flaps, no resolved; the episode stays open. */
START_TEST(started_while_told)
{
	struct aq_rule rule = flapping_rule();
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	aq_state_init(&st, "x");
	/* O C O C O C: the second result fires, the fourth resolves... */
	for (int i = 0; i < 6; i++)
		apply(&st, &rule, &e, i % 2 == 1, T0 + i * MIN, &tr, got, sizeof(got));
	tick(&st, &e, T0 + 20 * MIN, got, sizeof(got));
	ck_assert_str_eq(got, "oncall-email:1");
	/* the seventh result, OK: six changes, 34.4 % */
	ck_assert(apply(&st, &rule, &e, 0, T0 + 21 * MIN, &tr, got, sizeof(got)));
	ck_assert_int_eq(tr.flap, AQ_FLAP_STARTED);
	ck_assert_str_eq(got, "logfile:0F@C,ops-webhook:0F@C,oncall-email:0F@C");
	ck_assert_int_eq((int)st.ntold, 3);
	aq_state_release(&st);
}
END_TEST

/* With `for: 2` flapping can stop on the very result that makes it fire
 * (from OK): the episode it flapped in goes on, so those told while it
 * flapped (level 1 here) hear it resolve. */
START_TEST(stopped_as_it_fires)
{
	static const char sequence[] = "OCOOOOCOCCOOOOOOOOOOOCC"; /* starts at the 11th, stops at the 23rd */
	struct aq_rule rule = flapping_rule();
	rule.for_count = 2;
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	aq_state_init(&st, "x");
	for (int i = 0; sequence[i]; i++) {
		int64_t at = T0 + 2 * i * MIN;
		int changed = apply(&st, &rule, &e, sequence[i] == 'C', at, &tr, got, sizeof(got));
		if (i == 10)
			ck_assert(changed && tr.flap == AQ_FLAP_STARTED);
		tick(&st, &e, at, got, sizeof(got));
		if (i == 18)
			ck_assert_str_eq(got, "oncall-email:1f@C"); /* 15 min after it started */
	}
	ck_assert_int_eq(tr.flap, AQ_FLAP_STOPPED);
	ck_assert_int_eq(tr.from, AQ_OK);
	ck_assert_int_eq(tr.to, AQ_CRITICAL);
	ck_assert_int_eq((int)st.ntold, 3);
	apply(&st, &rule, &e, 0, T0 + 50 * MIN, &tr, got, sizeof(got));
	ck_assert_str_eq(got, "logfile:0r,ops-webhook:0r,oncall-email:0r");
	aq_state_release(&st);
}
END_TEST

/* A rule without `flapping:` never flaps, and a rule that loses it (a
 * reload) stops a check flapping: its real state is told. */
START_TEST(off_unless_set)
{
	struct aq_rule rule = flapping_rule();
	struct aq_rule plain = flapping_rule();
	plain.flapping.set = 0;
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	aq_state_init(&st, "x");
	for (int i = 0; i < 30; i++) {
		apply(&st, &plain, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got));
		ck_assert_str_eq(got, i % 2 == 0 ? "logfile:0,ops-webhook:0" : "logfile:0r,ops-webhook:0r");
		ck_assert_int_eq(st.flapping, 0);
		ck_assert_int_eq(st.flap_count, 0);
	}
	for (int i = 30; i < 37; i++)
		apply(&st, &rule, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got));
	ck_assert_int_eq(st.flapping, 1);
	/* the 38th result is OK, no transition, under a rule without flapping */
	ck_assert(apply(&st, &plain, &e, 1, T0 + 37 * MIN, &tr, got, sizeof(got)));
	ck_assert_int_eq(tr.flap, AQ_FLAP_STOPPED);
	ck_assert_int_eq(st.flapping, 0);
	aq_state_release(&st);
}
END_TEST

/* A flapping check whose results stop: expiry ends flapping and resolves. */
START_TEST(expiry_ends_flapping)
{
	struct aq_rule rule = flapping_rule();
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	aq_state_init(&st, "x");
	for (int i = 0; i < 8; i++)
		apply(&st, &rule, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got));
	ck_assert_int_eq(st.flapping, 1);
	ck_assert_int_eq(st.severity, AQ_OK);
	ck_assert(aq_state_expire(&st, T0 + 60 * MIN, &tr));
	ck_assert_int_eq(tr.flap, AQ_FLAP_STOPPED);
	ck_assert_int_eq(st.flapping, 0);
	struct aq_plan plan = { .n = 0 };
	aq_plan_transition(&st, &e, &tr, T0 + 60 * MIN, 0, &plan);
	plan_text(&plan, got, sizeof(got));
	ck_assert_str_eq(got, "logfile:0r,ops-webhook:0r");
	aq_state_release(&st);
}
END_TEST

/* A flapping check whose results stop coming: staleness ends flapping too,
 * and its real (stale) state is told through the policy. */
START_TEST(staleness_ends_flapping)
{
	struct aq_rule rule = flapping_rule();
	rule.stale_severity = AQ_CRITICAL;
	struct aq_escalation e = policy();
	struct aq_state st;
	struct aq_transition tr;
	char got[512];
	aq_state_init(&st, "x");
	for (int i = 0; i < 9; i++)
		apply(&st, &rule, &e, i % 2 == 0, T0 + i * MIN, &tr, got, sizeof(got));
	ck_assert_int_eq(st.flapping, 1);
	ck_assert_int_eq(st.severity, AQ_CRITICAL);
	/* already CRITICAL: only flapping changes */
	ck_assert(aq_state_go_stale(&st, &rule, T0 + 60 * MIN, &tr));
	ck_assert_int_eq(tr.flap, AQ_FLAP_STOPPED);
	ck_assert_int_eq(tr.from, tr.to);
	ck_assert_int_eq(st.flapping, 0);
	ck_assert_int_eq(st.flap_count, 0);
	struct aq_plan plan = { .n = 0 };
	aq_plan_transition(&st, &e, &tr, T0 + 60 * MIN, 0, &plan);
	plan_text(&plan, got, sizeof(got));
	/* CRITICAL since result 9 (minute 8): both levels due at minute 60 */
	ck_assert_str_eq(got, "logfile:0,ops-webhook:0,oncall-email:1");
	aq_state_release(&st);
}
END_TEST

/* The notification says flapping: status, JSON member, summary, and back. */
START_TEST(notification_status)
{
	struct aq_notification n;
	memset(&n, 0, sizeof(n));
	snprintf(n.notification_id, sizeof(n.notification_id), "00000000-0000-4000-8000-000000000001");
	n.check = "x";
	n.message = "m";
	n.severity = AQ_CRITICAL;
	n.previous_severity = AQ_OK;
	n.observed_at_ms = T0;
	n.since_ms = T0;
	char err[256];
	static const struct {
		int resolved, started, flapping;
		const char *status, *member, *summary;
	} cases[] = {
		{ 0, 0, 0, "\"status\":\"firing\"", "\"annotations\":{}}", "x firing:" },
		{ 1, 0, 0, "\"status\":\"resolved\"", "\"annotations\":{}}", "x resolved:" },
		{ 0, 1, 1, "\"status\":\"flapping\"", "\"flapping\":true", "x flapping:" },
		{ 0, 0, 1, "\"status\":\"firing\"", "\"flapping\":true", "[flapping]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n.resolved = cases[i].resolved;
		n.flapping_started = cases[i].started;
		n.flapping = cases[i].flapping;
		char *json = aq_notification_to_json(&n);
		ck_assert_ptr_nonnull(json);
		ck_assert_msg(strstr(json, cases[i].status) && strstr(json, cases[i].member), "%zu: %s", i, json);
		char *summary = aq_notification_summary(&n);
		ck_assert_msg(strstr(summary, cases[i].summary) != NULL, "%zu: %s", i, summary);
		free(summary);
		struct aq_notification back;
		memset(&back, 0, sizeof(back));
		ck_assert_msg(aq_notification_from_json(&back, json, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(back.resolved, cases[i].resolved);
		ck_assert_int_eq(back.flapping_started, cases[i].started);
		ck_assert_int_eq(back.flapping, cases[i].flapping);
		aq_notification_release(&back);
		free(json);
	}
	/* an unknown status and a flapping that is no boolean are refused */
	struct aq_notification bad;
	memset(&bad, 0, sizeof(bad));
	n.resolved = 0;
	n.flapping_started = 0;
	n.flapping = 1;
	char *json = aq_notification_to_json(&n);
	char *status = strstr(json, "\"firing\"");
	memcpy(status, "\"flappy\"", 8);
	ck_assert_int_eq(aq_notification_from_json(&bad, json, err, sizeof(err)), -1);
	memcpy(status, "\"firing\"", 8);
	char *member = strstr(json, "\"flapping\":true");
	memcpy(member, "\"flapping\":   1", 15);
	ck_assert_int_eq(aq_notification_from_json(&bad, json, err, sizeof(err)), -1);
	free(json);
}
END_TEST

static Suite *flapping_suite(void)
{
	Suite *s = suite_create("flapping");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, percentages);
	tcase_add_test(tc, window_of_21);
	tcase_add_test(tc, hysteresis);
	tcase_add_test(tc, configuration);
	tcase_add_test(tc, one_flapping_notification);
	tcase_add_test(tc, real_state_when_it_stops);
	tcase_add_test(tc, off_unless_set);
	tcase_add_test(tc, started_while_told);
	tcase_add_test(tc, stopped_as_it_fires);
	tcase_add_test(tc, expiry_ends_flapping);
	tcase_add_test(tc, staleness_ends_flapping);
	tcase_add_test(tc, notification_status);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(flapping_suite());
}
