/* test_replay.c - the replay's evaluation: transitions and notifications
 * from results in order, with time taken from the results */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/replay.h"
#include "unit.h"

#define MIN (60 * 1000LL)
#define T0 1764262800000LL /* 2025-11-27T17:00:00Z */

static const char *const CONFIG = "rules:\n"
				  "  - match: \"svc.*\"\n"
				  "    warning: \"> 50\"\n"
				  "    critical: \"> 90\"\n"
				  "    escalation: pager\n"
				  "  - match: \"slow.*\"\n"
				  "    critical: \">= 10\"\n"
				  "    for: 2\n"
				  "    escalation: pager\n"
				  "    stale_after: 30m\n"
				  "  - match: \"*\"\n"
				  "escalations:\n"
				  "  pager:\n"
				  "    CRITICAL:\n"
				  "      levels:\n"
				  "        - { after: 0s, notify: [log] }\n"
				  "        - { after: 15m, notify: [mail] }\n"
				  "      repeat: 1h\n"
				  "    WARNING: { levels: [ { after: 0s, notify: [log] } ] }\n"
				  "    UNKNOWN: { levels: [ { after: 0s, notify: [log] } ] }\n"
				  "    resolved: true\n"
				  "channels:\n"
				  "  log: { type: logfile }\n"
				  "  mail: { type: logfile }\n"
				  "  idle: { type: logfile }\n";

struct seen {
	char text[64][96];
	size_t n;
};

static int collect(void *opaque, const struct aq_state *st, const struct aq_transition *tr,
		   const struct aq_plan *plan)
{
	struct seen *s = opaque;
	(void)plan;
	if (s->n < 64)
		snprintf(s->text[s->n++], sizeof(s->text[0]), "%s %s>%s%s%s", st->check, aq_status_name(tr->from),
			 aq_status_name(tr->to), tr->stale ? " stale" : "", tr->expired ? " expired" : "");
	return 0;
}

static void load(struct aq_config *cfg)
{
	char err[2048];
	memset(cfg, 0, sizeof(*cfg));
	ck_assert_msg(aq_config_parse(cfg, "test.yaml", CONFIG, strlen(CONFIG), err, sizeof(err)) == 0, "%s", err);
}

static void apply(aq_replay_eval_t *ev, const char *check, int has_value, double value, int status, int64_t at)
{
	struct aq_result r;
	char err[256];
	memset(&r, 0, sizeof(r));
	r.check = (char *)check;
	r.has_value = has_value;
	r.value = value;
	r.status = status;
	r.message = (char *)"m";
	r.observed_at_ms = at;
	r.interval_ms = 0; /* no staleness but a rule's stale_after */
	strcpy(r.event_id, "00000000-0000-4000-8000-000000000000");
	ck_assert_msg(aq_replay_eval_apply(ev, &r, err, sizeof(err)) == 0, "%s", err);
}

static long count(const aq_replay_eval_t *ev, const char *channel)
{
	for (size_t i = 0; i < aq_replay_eval_channels(ev); i++) {
		const char *name;
		long n = aq_replay_eval_channel(ev, i, &name);
		if (strcmp(name, channel) == 0)
			return n;
	}
	return -1;
}

/* A replay over CONFIG that collects its transitions in seen. */
struct replay_run {
	struct aq_config cfg;
	struct seen seen;
	aq_replay_eval_t *ev;
};

static void replay_open(struct replay_run *run)
{
	run->seen.n = 0;
	load(&run->cfg);
	run->ev = aq_replay_eval_new(&run->cfg, collect, &run->seen);
	ck_assert_ptr_nonnull(run->ev);
}

static void replay_close(struct replay_run *run)
{
	aq_replay_eval_free(run->ev);
	aq_config_release(&run->cfg);
}

START_TEST(transitions_in_order_per_check)
{
	struct replay_run run;
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	/* two checks interleaved; each starts at OK at its first result */
	apply(ev, "svc.a", 1, 10, AQ_OK, T0);
	apply(ev, "svc.b", 1, 95, AQ_OK, T0 + 1);
	apply(ev, "svc.a", 1, 60, AQ_OK, T0 + 2);
	apply(ev, "svc.b", 1, 20, AQ_OK, T0 + 3);
	apply(ev, "svc.a", 1, 95, AQ_OK, T0 + 4);
	apply(ev, "cmd.c", 0, 0, AQ_OK, T0 + 5);
	apply(ev, "cmd.c", 0, 0, AQ_STATUS_NONE, T0 + 6);
	const char *want[] = { "svc.b OK>CRITICAL", "svc.a OK>WARNING", "svc.b CRITICAL>OK",
			       "svc.a WARNING>CRITICAL", "cmd.c OK>UNKNOWN" };
	ck_assert_uint_eq(run.seen.n, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(run.seen.text[i], want[i]);
	ck_assert_uint_eq(aq_replay_eval_transitions(ev), 5);
	ck_assert_uint_eq(aq_replay_eval_checks(ev), 3);
	ck_assert_int_eq(aq_replay_eval_find(ev, "svc.a")->severity, AQ_CRITICAL);
	ck_assert_int_eq(aq_replay_eval_find(ev, "svc.b")->severity, AQ_OK);
	ck_assert_ptr_null(aq_replay_eval_find(ev, "svc.z"));
	/* log: 4 firing + 1 resolved (svc.b told log); cmd.c has no escalation */
	ck_assert_int_eq(count(ev, "log"), 4);
	ck_assert_int_eq(count(ev, "mail"), 0);
	ck_assert_int_eq(count(ev, "idle"), 0);
	replay_close(&run);
}
END_TEST

START_TEST(for_count_needs_a_streak)
{
	struct replay_run run;
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	apply(ev, "slow.a", 1, 20, AQ_OK, T0);
	apply(ev, "slow.a", 1, 1, AQ_OK, T0 + MIN);
	apply(ev, "slow.a", 1, 20, AQ_OK, T0 + 2 * MIN);
	ck_assert_uint_eq(run.seen.n, 0);
	apply(ev, "slow.a", 1, 20, AQ_OK, T0 + 3 * MIN);
	ck_assert_uint_eq(run.seen.n, 1);
	ck_assert_str_eq(run.seen.text[0], "slow.a OK>CRITICAL");
	replay_close(&run);
}
END_TEST

START_TEST(levels_and_repeats_fall_due_between_results)
{
	struct replay_run run;
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	apply(ev, "svc.a", 1, 95, AQ_OK, T0);
	ck_assert_int_eq(count(ev, "log"), 1);
	ck_assert_int_eq(count(ev, "mail"), 0);
	/* 10 minutes on: the 15m level is not due yet */
	apply(ev, "svc.a", 1, 95, AQ_OK, T0 + 10 * MIN);
	ck_assert_int_eq(count(ev, "mail"), 0);
	/* 2h30 on: mail at 15m, repeats of both at 1h15 and 2h15 */
	apply(ev, "svc.a", 1, 95, AQ_OK, T0 + 150 * MIN);
	ck_assert_int_eq(count(ev, "mail"), 3);
	ck_assert_int_eq(count(ev, "log"), 3);
	/* resolved goes to both channels told */
	apply(ev, "svc.a", 1, 1, AQ_OK, T0 + 151 * MIN);
	ck_assert_int_eq(count(ev, "mail"), 4);
	ck_assert_int_eq(count(ev, "log"), 4);
	ck_assert_uint_eq(run.seen.n, 2);
	replay_close(&run);
}
END_TEST

START_TEST(a_gap_longer_than_stale_after_goes_stale_once)
{
	struct replay_run run;
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	apply(ev, "slow.a", 1, 1, AQ_OK, T0);
	apply(ev, "slow.a", 1, 1, AQ_OK, T0 + 20 * MIN);
	ck_assert_uint_eq(run.seen.n, 0);
	/* silent for 3h: stale at 50m, once; the next result ends it */
	apply(ev, "slow.a", 1, 1, AQ_OK, T0 + 200 * MIN);
	ck_assert_uint_eq(run.seen.n, 2);
	ck_assert_str_eq(run.seen.text[0], "slow.a OK>UNKNOWN stale");
	ck_assert_str_eq(run.seen.text[1], "slow.a UNKNOWN>OK");
	ck_assert_int_eq(count(ev, "log"), 2);
	replay_close(&run);
}
END_TEST

static void apply_expiring(aq_replay_eval_t *ev, const char *check, double value, int64_t at, int64_t expires_at)
{
	struct aq_result r;
	char err[256];
	memset(&r, 0, sizeof(r));
	r.check = (char *)check;
	r.has_value = 1;
	r.value = value;
	r.status = AQ_STATUS_NONE;
	r.message = (char *)"m";
	r.observed_at_ms = at;
	r.expires_at_ms = expires_at;
	strcpy(r.event_id, "00000000-0000-4000-8000-000000000000");
	ck_assert_msg(aq_replay_eval_apply(ev, &r, err, sizeof(err)) == 0, "%s", err);
}

/* Expiry at its own time between results, as the worker's ticker does it:
 * re-sent results move it, a silence longer than it resolves the check at
 * expires_at exactly, and what was told hears it resolved. */
START_TEST(expiries_fall_due_between_results)
{
	struct replay_run run;
	char err[256];
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	/* re-sent every minute, each good for 3: it fires on */
	for (int i = 0; i < 5; i++)
		apply_expiring(ev, "svc.a", 95, T0 + i * MIN, T0 + (i + 3) * MIN);
	ck_assert_uint_eq(run.seen.n, 1);
	ck_assert_str_eq(run.seen.text[0], "svc.a OK>CRITICAL");
	/* then nothing until 20 minutes on: it resolved at 7m, before the 15m level */
	apply_expiring(ev, "svc.a", 95, T0 + 20 * MIN, T0 + 23 * MIN);
	ck_assert_uint_eq(run.seen.n, 3);
	ck_assert_str_eq(run.seen.text[1], "svc.a CRITICAL>OK expired");
	ck_assert_str_eq(run.seen.text[2], "svc.a OK>CRITICAL");
	ck_assert_int_eq(count(ev, "mail"), 0);
	ck_assert_int_eq(count(ev, "log"), 3); /* fired, resolved, fired */
	const struct aq_state *st = aq_replay_eval_find(ev, "svc.a");
	ck_assert_int_eq(st->episode, 2);
	ck_assert_int_eq(st->expires_at_ms, T0 + 23 * MIN);
	/* settling to a time past it expires it too, at its time */
	ck_assert_int_eq(aq_replay_eval_settle(ev, T0 + 23 * MIN, err, sizeof(err)), 0);
	ck_assert_uint_eq(run.seen.n, 4);
	ck_assert_str_eq(run.seen.text[3], "svc.a CRITICAL>OK expired");
	ck_assert_int_eq(st->since_ms, T0 + 23 * MIN);
	ck_assert_int_eq(st->expires_at_ms, 0);
	replay_close(&run);
}
END_TEST

START_TEST(settle_brings_state_to_now_without_counting)
{
	struct replay_run run;
	char err[256];
	replay_open(&run);
	aq_replay_eval_t *ev = run.ev;
	apply(ev, "svc.a", 1, 95, AQ_OK, T0);
	apply(ev, "slow.a", 1, 1, AQ_OK, T0);
	ck_assert_int_eq(aq_replay_eval_settle(ev, T0 + 40 * MIN, err, sizeof(err)), 0);
	const struct aq_state *st = aq_replay_eval_find(ev, "svc.a");
	ck_assert_int_eq(st->escalation_level, 1); /* the 15m level counts as told */
	ck_assert_int_eq(count(ev, "mail"), 0);
	ck_assert_int_eq(aq_replay_eval_find(ev, "slow.a")->severity, AQ_UNKNOWN);
	ck_assert_uint_eq(run.seen.n, 2);
	ck_assert_str_eq(run.seen.text[1], "slow.a OK>UNKNOWN stale");
	replay_close(&run);
}
END_TEST

/* more checks than the first allocation holds: every state is found again
 * after the table grows */
START_TEST(many_checks_each_found_again)
{
	struct aq_config cfg;
	char name[32];
	load(&cfg);
	aq_replay_eval_t *ev = aq_replay_eval_new(&cfg, NULL, NULL);
	ck_assert_ptr_nonnull(ev);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "svc.%d", i);
		apply(ev, name, 1, i % 2 ? 95 : 10, AQ_OK, T0 + i);
	}
	ck_assert_uint_eq(aq_replay_eval_checks(ev), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "svc.%d", i);
		const struct aq_state *st = aq_replay_eval_find(ev, name);
		ck_assert_ptr_nonnull(st);
		ck_assert_str_eq(st->check, name);
		ck_assert_int_eq(st->severity, i % 2 ? AQ_CRITICAL : AQ_OK);
	}
	ck_assert_uint_eq(aq_replay_eval_transitions(ev), 2500);
	aq_replay_eval_free(ev);
	aq_config_release(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("eval");
	tcase_add_test(tc, transitions_in_order_per_check);
	tcase_add_test(tc, for_count_needs_a_streak);
	tcase_add_test(tc, levels_and_repeats_fall_due_between_results);
	tcase_add_test(tc, a_gap_longer_than_stale_after_goes_stale_once);
	tcase_add_test(tc, settle_brings_state_to_now_without_counting);
	tcase_add_test(tc, expiries_fall_due_between_results);
	tcase_add_test(tc, many_checks_each_found_again);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
