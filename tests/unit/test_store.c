/* test_store.c - the state store against a real PostgreSQL: check state
 * written in a batch and read back unchanged, stored offsets, the outbox's
 * claims and outcomes, silences.
 * Needs ALERTQ_TEST_DSN (a superuser DSN; scripts/test.sh sets it). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/rules.h"
#include "alertq/store.h"
#include "alertq/util.h"
#include "store/store_internal.h"
#include "unit_db.h"

static char database[64];
static char dsn[1024];

static void setup(void)
{
	unit_db_create("store", database, sizeof(database), dsn, sizeof(dsn));
}

static void teardown(void)
{
	unit_db_drop(database);
}

/* A state whose every string needs some escaping on the way. */
static void nasty_state(struct aq_state *st, const char *check)
{
	static const char *const channels[] = { "hook", "quo\"te", "back\\slash", "tab\there", "NULL", "" };
	aq_state_init(st, check);
	st->severity = AQ_CRITICAL;
	st->previous_severity = AQ_WARNING;
	st->since_ms = 1764262800123LL;
	st->pending_severity = AQ_UNKNOWN;
	st->pending_count = 2;
	st->has_value = 1;
	st->value = 0.1 + 0.2;
	st->status = AQ_STATUS_NONE;
	free(st->message);
	st->message = strdup("line one\nline\ttwo \\N back\\slash \"quoted\" caf\xc3\xa9 \r end");
	st->nlabels = 3;
	st->labels = calloc(3, sizeof(*st->labels));
	st->labels[0].key = strdup("team");
	st->labels[0].value = strdup("platform");
	st->labels[1].key = strdup("q\"uote\\d");
	st->labels[1].value = strdup("tab\tnew\nline \\ \"x\" \x01 caf\xc3\xa9");
	st->labels[2].key = strdup("empty");
	st->labels[2].value = strdup("");
	st->last_seen_ms = 1764262860000LL;
	st->interval_ms = 60000;
	snprintf(st->last_event_id, sizeof(st->last_event_id), "%s", "0b8f9d1e-5c2a-4e7b-9a3d-2f6c8e1b4a70");
	st->stale_at_ms = 1764262980000LL;
	st->expires_at_ms = INT64_MAX - 1; /* the whole range of the column */
	st->stale = 1;
	st->episode = 7;
	st->escalation_level = 1;
	st->last_notified_ms = 1764262870000LL;
	st->next_action_ms = 1764263800000LL;
	st->ntold = sizeof(channels) / sizeof(channels[0]);
	st->told = calloc(st->ntold, sizeof(*st->told));
	for (size_t i = 0; i < st->ntold; i++)
		st->told[i] = strdup(channels[i]);
	st->acked = 1;
	st->suppressed = 1;
	/* flapping: a full window of 21 results (42 bits, the top ones set) */
	st->flap_history = (UINT64_C(1) << 42) - 1 - 0x6;
	st->flap_count = 21;
	st->flapping = 1;
	st->flapping_since_ms = 1764262500000LL;
}

static const char *label_of(const struct aq_state *st, const char *key)
{
	for (size_t i = 0; i < st->nlabels; i++)
		if (strcmp(st->labels[i].key, key) == 0)
			return st->labels[i].value;
	return NULL;
}

static void assert_same(const struct aq_state *want, const struct aq_state *got)
{
	ck_assert_str_eq(got->check, want->check);
	ck_assert_int_eq(got->known, 1);
	ck_assert_int_eq(got->severity, want->severity);
	ck_assert_int_eq(got->previous_severity, want->previous_severity);
	ck_assert_int_eq(got->since_ms, want->since_ms);
	ck_assert_int_eq(got->pending_severity, want->pending_severity);
	ck_assert_int_eq(got->pending_count, want->pending_count);
	ck_assert_int_eq(got->has_value, want->has_value);
	if (want->has_value)
		ck_assert_msg(got->value == want->value, "value %.17g, want %.17g", got->value, want->value);
	ck_assert_int_eq(got->status, want->status);
	ck_assert_str_eq(got->message, want->message);
	ck_assert_uint_eq(got->nlabels, want->nlabels);
	for (size_t i = 0; i < want->nlabels; i++) {
		const char *value = label_of(got, want->labels[i].key);
		ck_assert_msg(value != NULL, "label '%s' lost", want->labels[i].key);
		ck_assert_str_eq(value, want->labels[i].value);
	}
	ck_assert_int_eq(got->last_seen_ms, want->last_seen_ms);
	ck_assert_int_eq(got->interval_ms, want->interval_ms);
	ck_assert_str_eq(got->last_event_id, want->last_event_id);
	ck_assert_int_eq(got->stale_at_ms, want->stale_at_ms);
	ck_assert_int_eq(got->expires_at_ms, want->expires_at_ms);
	ck_assert_int_eq(got->stale, want->stale);
	ck_assert_int_eq(got->episode, want->episode);
	ck_assert_int_eq(got->escalation_level, want->escalation_level);
	ck_assert_int_eq(got->last_notified_ms, want->last_notified_ms);
	ck_assert_int_eq(got->next_action_ms, want->next_action_ms);
	ck_assert_uint_eq(got->ntold, want->ntold);
	for (size_t i = 0; i < want->ntold; i++)
		ck_assert_str_eq(got->told[i], want->told[i]);
	ck_assert_int_eq(got->acked, want->acked);
	ck_assert_int_eq(got->suppressed, want->suppressed);
	ck_assert_msg(got->flap_history == want->flap_history, "flap_history %llx, want %llx",
		      (unsigned long long)got->flap_history, (unsigned long long)want->flap_history);
	ck_assert_int_eq(got->flap_count, want->flap_count);
	ck_assert_int_eq(got->flapping, want->flapping);
	ck_assert_int_eq(got->flapping_since_ms, want->flapping_since_ms);
}

/* Writes n states in one transaction, reads them back into got. */
static void write_and_load(aq_store_t *s, struct aq_state *states, size_t n, struct aq_state *got)
{
	char err[1024];
	const char *names[8];
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	for (size_t i = 0; i < n; i++) {
		aq_writes_state(w, &states[i]);
		names[i] = states[i].check;
	}
	ck_assert_msg(aq_store_exec(s, "BEGIN", err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(aq_store_write(s, w, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(aq_store_exec(s, "COMMIT", err, sizeof(err)) == 0, "%s", err);
	aq_writes_free(w);
	ck_assert_msg(aq_store_load_states(s, names, n, 0, got, err, sizeof(err)) == 0, "%s", err);
}

/* _i: 0 the states go as parameters of an INSERT, 1 by COPY (a batch of
 * more than STATES_PARAMS_MAX) */
START_TEST(test_states_round_trip)
{
	char err[1024];
	store_states_params_max = _i ? 0 : STATES_PARAMS_MAX;
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct aq_state states[3];
	struct aq_state got[3];
	nasty_state(&states[0], "host.disk_root");
	nasty_state(&states[1], "we\"ird\\check\tname");
	aq_state_init(&states[2], "plain.ok"); /* no value, no labels, nothing told */
	/* a message longer than the pieces the COPY is handed over in, with
	 * characters it escapes falling on every side of their edges */
	free(states[2].message);
	states[2].message = malloc(200001);
	ck_assert_ptr_nonnull(states[2].message);
	for (int i = 0; i < 200000; i++)
		states[2].message[i] = "ab\\c\td\ne"[i % 8];
	states[2].message[200000] = '\0';
	write_and_load(s, states, 3, got);
	for (int i = 0; i < 3; i++) {
		assert_same(&states[i], &got[i]);
		aq_state_release(&got[i]);
	}

	/* the rows exist now: the same write updates them */
	states[0].severity = AQ_OK;
	states[0].has_value = 0;
	states[0].acked = 0;
	states[0].labels[0].value[0] = 'P';
	states[2].has_value = 1;
	states[2].value = -1e300;
	states[2].severity = AQ_WARNING;
	states[0].expires_at_ms = 0;               /* the UPDATE clears it */
	states[2].expires_at_ms = 1764263100000LL; /* and sets it */
	states[0].flapping = 0;                    /* flapping stopped: the UPDATE writes it */
	states[0].flap_history = 0x15;
	states[0].flap_count = 3;
	states[0].flapping_since_ms = 0;
	states[2].flapping = 1;
	states[2].flapping_since_ms = 1764263000000LL;
	write_and_load(s, states, 3, got);
	for (int i = 0; i < 3; i++) {
		assert_same(&states[i], &got[i]);
		aq_state_release(&got[i]);
		aq_state_release(&states[i]);
	}
	aq_store_free(s);
	store_states_params_max = STATES_PARAMS_MAX;
}
END_TEST

/* An expiry makes a check due at its time, like staleness. */
START_TEST(test_expiry_due)
{
	char err[1024];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct aq_state states[1];
	struct aq_state got[1];
	aq_state_init(&states[0], "expiry.due");
	states[0].severity = AQ_CRITICAL;
	states[0].expires_at_ms = 1764263100000LL;
	write_and_load(s, states, 1, got);
	aq_state_release(&got[0]);
	for (int later = 0; later <= 1; later++) {
		char **names = NULL;
		size_t n = 0;
		int found = 0;
		ck_assert_msg(aq_store_due_checks(s, 1764263100000LL - 1 + later, 500, &names, &n, err, sizeof(err)) ==
				      0,
			      "%s", err);
		for (size_t i = 0; i < n; i++)
			found |= strcmp(names[i], "expiry.due") == 0;
		aq_names_free(names, n);
		ck_assert_int_eq(found, later);
	}
	aq_state_release(&states[0]);
	aq_store_free(s);
}
END_TEST

/* Unacknowledging a flapping check resumes its escalation even at a
 * moment it is OK (it escalates at the worst severity it flaps at); a check
 * that is OK and not flapping has nothing to resume. */
START_TEST(test_unack_flapping)
{
	char err[1024];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct aq_state states[2];
	struct aq_state got[2];
	aq_state_init(&states[0], "flap.acked");
	states[0].flapping = 1;
	states[0].acked = 1;
	aq_state_init(&states[1], "calm.acked");
	states[1].acked = 1;
	write_and_load(s, states, 2, got);
	for (int i = 0; i < 2; i++) {
		int changed = 0;
		ck_assert_msg(aq_store_unack(s, states[i].check, 1764263100000LL, &changed, err, sizeof(err)) == 0, "%s",
			      err);
		ck_assert_int_eq(changed, 1);
		aq_state_release(&got[i]);
	}
	const char *names[] = { "flap.acked", "calm.acked" };
	ck_assert_msg(aq_store_load_states(s, names, 2, 0, got, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(got[0].next_action_ms, 1764263100000LL);
	ck_assert_int_eq(got[1].next_action_ms, 0);
	for (int i = 0; i < 2; i++) {
		aq_state_release(&got[i]);
		aq_state_release(&states[i]);
	}
	aq_store_free(s);
}
END_TEST

static aq_store_t *connect_store(void)
{
	char err[1024];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

/* The first cell of a query run on a connection of the test's own; "" for
 * NULL or no row. The caller frees it. */
static char *sql_value(const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(conn));
	char *value = strdup(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(conn);
	return value;
}

static void sql_run(const char *sql)
{
	free(sql_value(sql));
}

static long long sql_int(const char *sql)
{
	char *text = sql_value(sql);
	long long v = strtoll(text, NULL, 10);
	free(text);
	return v;
}

static void begin(aq_store_t *s)
{
	char err[1024];
	ck_assert_msg(aq_store_begin(s, err, sizeof(err)) == 0, "%s", err);
}

static void commit(aq_store_t *s)
{
	char err[1024];
	ck_assert_msg(aq_store_commit(s, err, sizeof(err)) == 0, "%s", err);
}

static void write_batch(aq_store_t *s, aq_writes_t *w)
{
	char err[1024];
	begin(s);
	ck_assert_msg(aq_store_write(s, w, err, sizeof(err)) == 0, "%s", err);
	commit(s);
	aq_writes_clear(w);
}

/* Queues n pending notifications of channel with ids[i] and payload
 * "{\"n\":i}", due now, given up after give_up_ms. */
static void add_notifications(aq_store_t *s, const char *channel, int n, char (*ids)[37], int64_t give_up_ms)
{
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < n; i++) {
		char payload[32];
		aq_uuid4(ids[i]);
		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		aq_writes_notification(w, ids[i], NULL, "host.check", channel, 0, 0, payload, give_up_ms);
	}
	write_batch(s, w);
	aq_writes_free(w);
}

static int claimed(const struct aq_outbox_row *rows, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].id, id) == 0)
			return 1;
	return 0;
}

/* Claims in a transaction of its own and returns how many rows came. */
static size_t claim_now(aq_store_t *s, const char *channel)
{
	char err[1024];
	struct aq_outbox_row *rows;
	size_t n;
	begin(s);
	ck_assert_msg(aq_store_claim(s, channel, 100, &rows, &n, err, sizeof(err)) == 0, "%s", err);
	commit(s);
	aq_outbox_rows_free(rows, n);
	return n;
}

START_TEST(test_claim_exclusive)
{
	char err[1024];
	char ids[5][37];
	aq_store_t *a = connect_store();
	aq_store_t *b = connect_store();
	add_notifications(a, "hook", 4, ids, 3600000);
	add_notifications(a, "other", 1, ids + 4, 3600000); /* another channel is never claimed */

	struct aq_outbox_row *ra, *rb;
	size_t na, nb;
	begin(a);
	ck_assert_msg(aq_store_claim(a, "hook", 3, &ra, &na, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(na, 3);
	begin(b);
	ck_assert_msg(aq_store_claim(b, "hook", 100, &rb, &nb, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(nb, 1); /* 4 written, 3 held by a */
	for (size_t i = 0; i < nb; i++)
		ck_assert_msg(!claimed(ra, na, rb[i].id), "%s claimed twice", rb[i].id);
	for (size_t i = 0; i < na; i++) {
		ck_assert_int_eq(ra[i].attempts, 0);
		ck_assert_int_eq(ra[i].give_up, 0);
		ck_assert_ptr_nonnull(strstr(ra[i].payload, "\"n\":"));
	}
	aq_outbox_rows_free(rb, nb);
	commit(b);

	/* a's rows stay claimed until its outcome; without one, they come back */
	struct aq_mark marks[3];
	for (size_t i = 0; i < na; i++)
		marks[i] = (struct aq_mark){ .id = ra[i].id, .outcome = 1, .retry_ms = 600000, .error = "503" };
	ck_assert_msg(aq_store_mark_many(a, marks, 2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(claim_now(b, "hook"), 1); /* b's row again: a holds its three until commit */
	commit(a);
	/* the two marked wait ten minutes; the unmarked one and b's row are due */
	ck_assert_uint_eq(claim_now(b, "hook"), 2);
	ck_assert_uint_eq(claim_now(b, "other"), 1);
	aq_outbox_rows_free(ra, na);
	aq_store_free(a);
	aq_store_free(b);
}
END_TEST

/* One attempt's outcome and the row it leaves. */
struct outcome_case {
	const char *name;
	int outcome;
	int64_t retry_ms;
	int64_t give_up_ms;
	const char *error;
	const char *state;
	int sent_at;       /* sent_at is set */
	int due_in_min_ms; /* next_attempt_at at least this far ahead */
	int claimable;     /* claimed again at once */
};

#define ANY_TIME (-3600000)

static const struct outcome_case outcome_cases[] = {
	{ "sent", 0, 0, 3600000, NULL, "sent", 1, ANY_TIME, 0 },
	{ "retry later", 1, 60000, 3600000, "HTTP 503", "pending", 0, 50000, 0 },
	{ "retry now", 1, 0, 3600000, "HTTP 503", "pending", 0, ANY_TIME, 1 },
	{ "retry past give up", 1, 60000, 1000, "timeout", "undeliverable", 0, ANY_TIME, 0 },
	{ "permanent", 2, 0, 3600000, "HTTP 400", "undeliverable", 0, ANY_TIME, 0 },
};

START_TEST(test_outcomes)
{
	const struct outcome_case *c = &outcome_cases[_i];
	char err[1024];
	char id[1][37];
	char sql[256];
	aq_store_t *s = connect_store();
	add_notifications(s, "hook", 1, id, c->give_up_ms);
	struct aq_outbox_row *rows;
	size_t n;
	begin(s);
	ck_assert_msg(aq_store_claim(s, "hook", 10, &rows, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	struct aq_mark mark = { .id = id[0], .outcome = c->outcome, .retry_ms = c->retry_ms, .error = c->error };
	ck_assert_msg(aq_store_mark_many(s, &mark, 1, err, sizeof(err)) == 0, "%s: %s", c->name, err);
	commit(s);
	aq_outbox_rows_free(rows, n);

	snprintf(sql, sizeof(sql), "SELECT state FROM alertq_notifications WHERE id = '%s'", id[0]);
	char *state = sql_value(sql);
	ck_assert_msg(strcmp(state, c->state) == 0, "%s: state %s, want %s", c->name, state, c->state);
	free(state);
	snprintf(sql, sizeof(sql), "SELECT attempts FROM alertq_notifications WHERE id = '%s'", id[0]);
	ck_assert_int_eq(sql_int(sql), 1);
	snprintf(sql, sizeof(sql), "SELECT sent_at IS NOT NULL FROM alertq_notifications WHERE id = '%s'", id[0]);
	char *sent = sql_value(sql);
	ck_assert_msg((sent[0] == 't') == c->sent_at, "%s: sent_at %s", c->name, sent);
	free(sent);
	snprintf(sql, sizeof(sql),
		 "SELECT (extract(epoch FROM next_attempt_at - now()) * 1000)::bigint FROM alertq_notifications"
		 " WHERE id = '%s'",
		 id[0]);
	ck_assert_msg(sql_int(sql) >= c->due_in_min_ms, "%s: next attempt too soon", c->name);
	snprintf(sql, sizeof(sql), "SELECT coalesce(last_error, '') FROM alertq_notifications WHERE id = '%s'",
		 id[0]);
	char *last_error = sql_value(sql);
	ck_assert_str_eq(last_error, c->error ? c->error : "");
	free(last_error);
	ck_assert_uint_eq(claim_now(s, "hook"), (size_t)c->claimable);
	aq_store_free(s);
}
END_TEST

START_TEST(test_offsets)
{
	char err[1024];
	aq_store_t *a = connect_store();
	aq_store_t *b = connect_store();
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	aq_writes_offset_in(w, "alerts", 0, 42, "cluster-A");
	aq_writes_offset(w, "alerts", 2, 9000000000LL);
	aq_writes_offset_in(w, "other", 0, 7, "cluster-B");
	write_batch(a, w);

	const int32_t parts[] = { 2, 0, 1 };
	int64_t next[3];
	char clusters[3][AQ_CLUSTER_ID_MAX];
	ck_assert_msg(aq_store_offsets(a, "alerts", parts, 3, 0, next, clusters, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(next[0], 9000000000LL);
	ck_assert_str_eq(clusters[0], "");
	ck_assert_int_eq(next[1], 42);
	ck_assert_str_eq(clusters[1], "cluster-A");
	ck_assert_int_eq(next[2], -1); /* never stored */
	ck_assert_str_eq(clusters[2], "");
	ck_assert_msg(aq_store_offsets(a, "alerts", parts, 3, 0, next, NULL, err, sizeof(err)) == 0, "%s", err);

	/* stored again: the newest wins, cluster id too */
	aq_writes_offset_in(w, "alerts", 0, 43, "cluster-C");
	write_batch(a, w);
	ck_assert_msg(aq_store_offsets(a, "alerts", parts, 3, 0, next, clusters, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(next[1], 43);
	ck_assert_str_eq(clusters[1], "cluster-C");

	/* locked: the missing row is made, and b waits for a's commit */
	begin(a);
	ck_assert_msg(aq_store_offsets(a, "alerts", parts, 3, 1, next, clusters, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(next[2], -1);
	begin(b);
	ck_assert_msg(aq_store_exec(b, "SET LOCAL lock_timeout = '200ms'", err, sizeof(err)) == 0, "%s", err);
	const int32_t one[] = { 1 };
	ck_assert_int_eq(aq_store_offsets(b, "alerts", one, 1, 1, next, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "lock") != NULL, "%s", err);
	ck_assert_int_eq(aq_store_connection_lost(b), 0);
	aq_store_rollback(b);
	aq_writes_offset(w, "alerts", 1, 5);
	ck_assert_msg(aq_store_write(a, w, err, sizeof(err)) == 0, "%s", err);
	commit(a);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_offsets WHERE topic = 'alerts'"), 3);
	ck_assert_msg(aq_store_offsets(b, "alerts", one, 1, 1, next, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(next[0], 5);
	aq_writes_free(w);
	aq_store_free(a);
	aq_store_free(b);
}
END_TEST

/* Whether a check is silenced at a time relative to now. */
struct silence_case {
	const char *check;
	int64_t at_ms; /* from now */
	int silenced;
};

static const struct silence_case silence_cases[] = {
	{ "db.replication", 0, 1 },       /* db.* for an hour */
	{ "db.replication", 7200000, 0 }, /* after its end */
	{ "web.latency", 0, 0 },          /* no match */
	{ "web.latency", 2000000, 0 },    /* its silence starts in an hour */
	{ "web.latency", 4000000, 1 },
	{ "old.check", 0, 0 }, /* its silence ended */
	{ "db", 0, 0 },        /* db.* needs the dot */
};

START_TEST(test_silences)
{
	char err[1024];
	char ends[AQ_STORE_TIME_MAX];
	int64_t id, old_id;
	aq_store_t *s = connect_store();
	ck_assert_msg(aq_store_silence_add(s, "db.*", 3600000, "upgrade", "ops", &id, ends, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(aq_store_silence_add(s, "old.*", 3600000, NULL, NULL, &old_id, ends, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_gt(old_id, id);
	ck_assert_msg(ends[0] != '\0', "no end time");
	sql_run("INSERT INTO alertq_silences (match, starts_at, ends_at) VALUES"
		" ('web.*', now() + interval '1 hour', now() + interval '2 hours')");
	int changed = 0;
	ck_assert_msg(aq_store_unsilence(s, old_id, &changed, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(changed, 1);
	ck_assert_msg(aq_store_unsilence(s, old_id, &changed, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(changed, 0);

	int64_t now = aq_now_ms();
	aq_store_silences_invalidate(s);
	for (size_t i = 0; i < sizeof(silence_cases) / sizeof(silence_cases[0]); i++) {
		const struct silence_case *c = &silence_cases[i];
		ck_assert_msg(aq_store_silenced(s, c->check, now + c->at_ms) == c->silenced, "%s at +%lld ms",
			      c->check, (long long)c->at_ms);
	}

	json_t *list;
	ck_assert_msg(aq_store_silences(s, &list, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(json_array_size(list), 2); /* db.* and web.*; old.* ended */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "match")), "db.*");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "created_by")), "ops");
	json_decref(list);

	/* a silence ended elsewhere stops counting once read again */
	sql_run("UPDATE alertq_silences SET ends_at = now()");
	aq_store_silences_invalidate(s);
	ck_assert_int_eq(aq_store_silenced(s, "db.replication", now), 0);
	aq_store_free(s);
}
END_TEST

/* A row that cannot be queued, and what the batch then does. */
struct refused_case {
	const char *name;
	int kind; /* 0 state, 1 transition, 2 notification, 3 offset, 4 state annotation, 5 transition annotation */
	const char *text;
	int severity;
};

static const struct refused_case refused_cases[] = {
	{ "state: Latin-1 message", 0, "caf\xe9", AQ_CRITICAL },
	{ "state: overlong label", 0, "\xc0\xaf", AQ_CRITICAL },
	{ "state: no such severity", 0, "fine", 9 },
	{ "transition: cut message", 1, "caf\xc3", AQ_CRITICAL },
	{ "transition: no such severity", 1, "fine", -5 },
	{ "notification: no payload", 2, NULL, AQ_OK },
	{ "notification: bad channel", 2, "\xff", AQ_OK },
	{ "offset: bad topic", 3, "top\x80ic", AQ_OK },
	{ "state: annotation not UTF-8", 4, "caf\xe9", AQ_CRITICAL },
	{ "transition: annotation not UTF-8", 5, "caf\xe9", AQ_CRITICAL },
};

START_TEST(test_writes_refused)
{
	const struct refused_case *c = &refused_cases[_i];
	char err[1024];
	aq_store_t *s = connect_store();
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(aq_writes_offset(w, "alerts", 0, 100), 0);
	int rc = 0;
	if (c->kind == 0) {
		struct aq_state st;
		aq_state_init(&st, "host.bad");
		st.severity = c->severity;
		free(st.message);
		st.message = strdup(strcmp(c->text, "\xc0\xaf") == 0 ? "" : c->text);
		if (strcmp(c->text, "\xc0\xaf") == 0) {
			st.nlabels = 1;
			st.labels = calloc(1, sizeof(*st.labels));
			st.labels[0].key = strdup("team");
			st.labels[0].value = strdup(c->text);
		}
		rc = aq_writes_state(w, &st);
		aq_state_release(&st);
	} else if (c->kind == 1) {
		struct aq_transition tr = { .from = AQ_OK, .to = c->severity, .message = c->text, .event_id = "e1" };
		char ref[37];
		rc = aq_writes_transition(w, "host.bad", &tr, ref);
	} else if (c->kind == 2) {
		char id[37];
		aq_uuid4(id);
		rc = aq_writes_notification(w, id, NULL, "host.bad", c->text ? c->text : "hook", 0, 0,
					    c->text ? "{}" : NULL, 60000);
	} else if (c->kind == 3) {
		rc = aq_writes_offset(w, c->text, 1, 5);
	} else {
		struct aq_label annotation = { "summary", (char *)c->text };
		struct aq_state st;
		aq_state_init(&st, "host.bad");
		st.severity = c->severity;
		st.annotations = &annotation;
		st.nannotations = 1;
		struct aq_transition tr = { .from = AQ_OK, .to = c->severity, .message = "m", .event_id = "e1", .annotations = &annotation, .nannotations = 1 };
		char ref[37];
		rc = c->kind == 4 ? aq_writes_state(w, &st) : aq_writes_transition(w, "host.bad", &tr, ref);
		st.annotations = NULL;
		st.nannotations = 0;
		aq_state_release(&st);
	}
	ck_assert_msg(rc == -1, "%s: queued", c->name);
	ck_assert_int_eq(aq_writes_empty(w), 0);
	begin(s);
	ck_assert_msg(aq_store_write(s, w, err, sizeof(err)) == -1, "%s: written", c->name);
	ck_assert_msg(strstr(err, "lost 1 row") != NULL, "%s: %s", c->name, err);
	aq_store_rollback(s);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_offsets"), 0);

	/* cleared, the batch is whole again */
	aq_writes_clear(w);
	ck_assert_int_eq(aq_writes_empty(w), 1);
	ck_assert_int_eq(aq_writes_offset(w, "alerts", 0, 100), 0);
	write_batch(s, w);
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets"), 100);
	aq_writes_free(w);
	aq_store_free(s);
}
END_TEST

/* What can be represented is kept: values that are not numbers, a dead
 * letter's reason in any bytes. */
START_TEST(test_writes_kept)
{
	char err[1024];
	aq_store_t *s = connect_store();
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	struct aq_transition tr = { .from = AQ_OK, .to = AQ_CRITICAL, .has_value = 1, .value = NAN, .message = "m" };
	char ref[37];
	ck_assert_int_eq(aq_writes_transition(w, "host.nan", &tr, ref), 0);
	tr.value = -INFINITY;
	tr.flap = AQ_FLAP_STARTED; /* history marks where it started to flap */
	tr.flapping = 1;
	ck_assert_int_eq(aq_writes_transition(w, "host.nan", &tr, ref), 0);
	ck_assert_int_eq(aq_writes_dead_letter(w, "alerts", 0, 7, "bad byte \xe9 and\nnewline"), 0);
	struct aq_state st[2], got[2];
	aq_state_init(&st[0], "host.nan");
	st[0].has_value = 1;
	st[0].value = NAN;
	aq_state_init(&st[1], "host.inf");
	st[1].has_value = 1;
	st[1].value = INFINITY;
	ck_assert_int_eq(aq_writes_state(w, &st[0]), 0);
	ck_assert_int_eq(aq_writes_state(w, &st[1]), 0);
	write_batch(s, w);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions WHERE value = 'NaN'"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions WHERE value = '-Infinity'"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions WHERE flapping = 'started'"
				 " AND value = '-Infinity'"),
			 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions WHERE flapping = ''"), 1);
	char *reason = sql_value("SELECT reason FROM alertq_dead_letters");
	ck_assert_str_eq(reason, "bad byte \xef\xbf\xbd and newline");
	free(reason);
	const char *names[] = { "host.nan", "host.inf" };
	ck_assert_msg(aq_store_load_states(s, names, 2, 0, got, err, sizeof(err)) == 0, "%s", err);
	ck_assert(isnan(got[0].value));
	ck_assert(isinf(got[1].value) && got[1].value > 0);
	for (int i = 0; i < 2; i++) {
		aq_state_release(&st[i]);
		aq_state_release(&got[i]);
	}
	aq_writes_free(w);
	aq_store_free(s);
}
END_TEST

/* Claims the n rows of ids in one transaction and records marks for them:
 * with pipelined 0 statement by statement (aq_store_claim,
 * aq_store_mark_many, COMMIT), with 1 as the dispatcher does
 * (aq_store_claim_begin, aq_store_mark_commit: a round trip each). */
static void claim_and_mark(aq_store_t *s, struct aq_mark *marks, size_t n, int pipelined)
{
	char err[1024];
	struct aq_outbox_row *rows;
	size_t got;
	if (pipelined) {
		ck_assert_msg(aq_store_claim_begin(s, "hook", 100, &rows, &got, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(got, n);
		ck_assert_msg(aq_store_mark_commit(s, marks, n, err, sizeof(err)) == 0, "%s", err);
	} else {
		begin(s);
		ck_assert_msg(aq_store_claim(s, "hook", 100, &rows, &got, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(got, n);
		ck_assert_msg(aq_store_mark_many(s, marks, n, err, sizeof(err)) == 0, "%s", err);
		commit(s);
	}
	aq_outbox_rows_free(rows, got);
}

static char *last_error_of(const char *id)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT coalesce(last_error, '') FROM alertq_notifications WHERE id = '%s'", id);
	return sql_value(sql);
}

/* A receiver's error text of any bytes, and what is kept of it. */
struct hostile_case {
	const char *error;
	const char *kept; /* NULL: only checked to be valid and within the cap */
};

START_TEST(test_outcomes_hostile)
{
	enum {
		BIG = 1024 * 1024
	};
	char *big = malloc(BIG + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', BIG);
	memcpy(big + 10, "\xc3\xa9\xe9", 3); /* valid, then Latin-1, deep inside */
	big[BIG] = '\0';
	const struct hostile_case cases[] = {
		{ "502 Bad Gateway: caf\xe9 na\xefve", "502 Bad Gateway: caf\xef\xbf\xbd na\xef\xbf\xbdve" },
		{ big, NULL },
		{ "before\0after", "before" }, /* a NUL ends what a C string holds */
		{ "esc\x1b[31m red\x7f bell\x07 tab\tline\r\n", "esc [31m red  bell  tab line " },
		{ "cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xff\xfe\x00", "\xef\xbf\xbd\xef\xbf\xbd" },
	};
	enum {
		N = sizeof(cases) / sizeof(cases[0])
	};
	char ids[N][37];
	struct aq_mark marks[N];
	aq_store_t *s = connect_store();
	add_notifications(s, "hook", N, ids, 3600000);
	for (size_t i = 0; i < N; i++)
		marks[i] = (struct aq_mark){ .id = ids[i], .outcome = (int)(i % 3), .retry_ms = 60000, .error = cases[i].error };
	claim_and_mark(s, marks, N, _i);
	for (size_t i = 0; i < N; i++) {
		char *kept = last_error_of(ids[i]);
		ck_assert_msg(strlen(kept) <= AQ_OUTBOX_ERROR_MAX, "case %zu: %zu bytes kept", i, strlen(kept));
		if (cases[i].kept)
			ck_assert_msg(strcmp(kept, cases[i].kept) == 0, "case %zu: kept '%s'", i, kept);
		else
			ck_assert_msg(strncmp(kept, "xxxxxxxxxx\xc3\xa9\xef\xbf\xbdxxx", 17) == 0, "case %zu: '%.40s'", i,
				      kept);
		free(kept);
	}
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE attempts = 1"), N);
	ck_assert_uint_eq(claim_now(s, "hook"), 0);
	free(big);
	aq_store_free(s);
}
END_TEST

/* A Retry-After of any size: the next attempt is at most a year away. */
START_TEST(test_outcomes_far_retry)
{
	char ids[2][37];
	aq_store_t *s = connect_store();
	add_notifications(s, "hook", 2, ids, 3600000LL * 24 * 3650);
	struct aq_mark marks[2] = {
		{ .id = ids[0], .outcome = 1, .retry_ms = INT64_MAX, .error = "Retry-After: forever" },
		{ .id = ids[1], .outcome = 1, .retry_ms = -5, .error = "Retry-After: yesterday" },
	};
	claim_and_mark(s, marks, 2, _i);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE state = 'pending'"
				 " AND next_attempt_at BETWEEN now() + interval '365 days' AND now() + interval '367 days'"),
			 1);
	ck_assert_uint_eq(claim_now(s, "hook"), 1); /* the one that asked for the past is due */
	char *kept = last_error_of(ids[0]);
	ck_assert_str_eq(kept, "Retry-After: forever");
	free(kept);
	aq_store_free(s);
}
END_TEST

/* The server refuses one row's outcome: the others are recorded as they are,
 * that one with a plain reason and its outcome, and none is sent again. */
START_TEST(test_outcomes_refused_row)
{
	char ids[3][37];
	aq_store_t *s = connect_store();
	add_notifications(s, "hook", 3, ids, 3600000);
	sql_run("CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
		" IF NEW.last_error LIKE '%poison%' THEN RAISE EXCEPTION 'refused by a trigger'; END IF;"
		" RETURN NEW; END $$");
	sql_run("CREATE TRIGGER refuse BEFORE UPDATE ON alertq_notifications FOR EACH ROW"
		" EXECUTE FUNCTION refuse_poison()");
	struct aq_mark marks[3] = {
		{ .id = ids[0], .outcome = 0 },
		{ .id = ids[1], .outcome = 1, .retry_ms = 600000, .error = "poison body" },
		{ .id = ids[2], .outcome = 2, .error = "HTTP 400" },
	};
	claim_and_mark(s, marks, 3, _i);
	char sql[160];
	const char *want[] = { "sent", "pending", "undeliverable" };
	for (int i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "SELECT state FROM alertq_notifications WHERE id = '%s'", ids[i]);
		char *state = sql_value(sql);
		ck_assert_str_eq(state, want[i]);
		free(state);
	}
	char *kept = last_error_of(ids[1]);
	ck_assert_msg(strncmp(kept, "outcome could not be recorded: ", 31) == 0 && strstr(kept, "refused by a trigger"),
		      "%s", kept);
	free(kept);
	kept = last_error_of(ids[2]);
	ck_assert_str_eq(kept, "HTTP 400");
	free(kept);
	ck_assert_uint_eq(claim_now(s, "hook"), 0);
	aq_store_free(s);
}
END_TEST

static void add_transition(aq_writes_t *w, const char *check, int to)
{
	struct aq_transition tr = { .from = AQ_OK, .to = to, .message = "m", .event_id = "e" };
	char ref[37];
	ck_assert_int_eq(aq_writes_transition(w, check, &tr, ref), 0);
}

START_TEST(test_prune)
{
	char err[1024];
	char ids[4][37];
	aq_store_t *s = connect_store();
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	struct aq_state st[3];
	const char *names[] = { "fire", "calm", "new" };
	for (int i = 0; i < 3; i++) {
		aq_state_init(&st[i], names[i]);
		st[i].severity = i == 0 ? AQ_CRITICAL : AQ_OK;
		ck_assert_int_eq(aq_writes_state(w, &st[i]), 0);
		aq_state_release(&st[i]);
	}
	add_transition(w, "fire", AQ_WARNING);
	add_transition(w, "fire", AQ_CRITICAL); /* the latest of a firing check: kept */
	add_transition(w, "calm", AQ_WARNING);
	add_transition(w, "calm", AQ_OK);
	write_batch(s, w);
	add_transition(w, "new", AQ_WARNING); /* young: kept */
	add_notifications(s, "hook", 4, ids, 3600000);
	sql_run("UPDATE alertq_transitions SET recorded_at = now() - interval '2 days'");
	write_batch(s, w);
	sql_run("UPDATE alertq_notifications SET created_at = now() - interval '2 days'");
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "UPDATE alertq_notifications SET state = 'sent', sent_at = now() - interval '2 days' WHERE id = '%s'",
		 ids[0]);
	sql_run(sql);
	snprintf(sql, sizeof(sql), "UPDATE alertq_notifications SET state = 'undeliverable' WHERE id = '%s'", ids[1]);
	sql_run(sql);
	snprintf(sql, sizeof(sql), "UPDATE alertq_notifications SET state = 'sent', sent_at = now() WHERE id = '%s'",
		 ids[2]); /* created long ago, sent just now: kept */
	sql_run(sql);
	/* ids[3] stays pending however old */

	int64_t count = 0;
	ck_assert_msg(aq_store_count_checks(s, &count, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(count, 3);

	int deleted = 0, total = 0, calls = 0;
	ck_assert_int_eq(aq_store_prune(s, -1, 2, &deleted, err, sizeof(err)), -1);
	ck_assert_int_eq(aq_store_prune(s, 1000, 0, &deleted, err, sizeof(err)), -1);
	do {
		ck_assert_msg(aq_store_prune(s, 24 * 3600000LL, 2, &deleted, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_le(deleted, 2);
		total += deleted;
		calls++;
	} while (deleted == 2 && calls < 10);
	ck_assert_int_eq(total, 5);
	ck_assert_int_eq(calls, 3);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions WHERE check_name = 'fire'"
				 " AND to_severity = 'CRITICAL'"),
			 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_transitions"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications"), 2);
	ck_assert_uint_eq(claim_now(s, "hook"), 1); /* the pending one is still work to do */
	ck_assert_int_eq(aq_store_count_checks(s, &count, err, sizeof(err)), 0);
	ck_assert_int_eq(count, 3);
	aq_writes_free(w);
	aq_store_free(s);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("store");
	TCase *tc = tcase_create("states");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_states_round_trip, 0, 2);
	tcase_add_test(tc, test_expiry_due);
	tcase_add_test(tc, test_unack_flapping);
	tcase_add_loop_test(tc, test_writes_refused, 0, sizeof(refused_cases) / sizeof(refused_cases[0]));
	tcase_add_test(tc, test_writes_kept);
	suite_add_tcase(suite, tc);
	tc = tcase_create("outbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_claim_exclusive);
	tcase_add_loop_test(tc, test_outcomes, 0, sizeof(outcome_cases) / sizeof(outcome_cases[0]));
	tcase_add_loop_test(tc, test_outcomes_hostile, 0, 2);
	tcase_add_loop_test(tc, test_outcomes_far_retry, 0, 2);
	tcase_add_loop_test(tc, test_outcomes_refused_row, 0, 2);
	suite_add_tcase(suite, tc);
	tc = tcase_create("offsets and silences");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_silences);
	tcase_add_test(tc, test_prune);
	suite_add_tcase(suite, tc);
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
