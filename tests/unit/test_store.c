/* test_store.c - check state written in a batch and read back from
 * PostgreSQL unchanged: new rows and updated ones, strings that need
 * escaping, labels, told channels, values and missing values.
 * Needs ALERTQ_TEST_DSN (a superuser DSN; scripts/test.sh sets it). */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/rules.h"
#include "alertq/store.h"

static char database[64];
static char dsn[1024];

/* Creates a database of this test's own on the server of ALERTQ_TEST_DSN. */
static void setup(void)
{
	const char *server = getenv("ALERTQ_TEST_DSN");
	char err[1024];
	ck_assert_msg(server && *server, "ALERTQ_TEST_DSN is not set");
	snprintf(database, sizeof(database), "alertq_unit_store_%d", (int)getpid());
	PGconn *conn = PQconnectdb(server);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	char sql[256];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", database);
	PGresult *res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	const char *slash = strrchr(server, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(dsn, sizeof(dsn), "%.*s/%s", (int)(slash - server), server, database);
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	int applied = 0;
	ck_assert_msg(aq_store_migrate(s, &applied, err, sizeof(err)) == 0, "%s", err);
	aq_store_free(s);
}

static void teardown(void)
{
	PGconn *conn = PQconnectdb(getenv("ALERTQ_TEST_DSN"));
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", database);
	PQclear(PQexec(conn, sql));
	PQfinish(conn);
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

START_TEST(test_states_round_trip)
{
	char err[1024];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct aq_state states[3];
	struct aq_state got[3];
	nasty_state(&states[0], "host.disk_root");
	nasty_state(&states[1], "we\"ird\\check\tname");
	aq_state_init(&states[2], "plain.ok"); /* no value, no labels, nothing told */
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
	write_and_load(s, states, 3, got);
	for (int i = 0; i < 3; i++) {
		assert_same(&states[i], &got[i]);
		aq_state_release(&got[i]);
		aq_state_release(&states[i]);
	}
	aq_store_free(s);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("store");
	TCase *tc = tcase_create("states");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_states_round_trip);
	suite_add_tcase(suite, tc);
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
