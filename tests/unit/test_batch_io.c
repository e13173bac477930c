/* test_batch_io.c - a worker's batch in few round trips (store/batch_io.h):
 * the reads lock what they must, the silences come with them, the writes
 * and the COMMIT go together, a row changed since it was read fails the
 * batch, and a failure anywhere commits nothing */
#include <check.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/rules.h"
#include "alertq/store.h"
#include "alertq/util.h"
#include "store/batch_io.h"
#include "unit_db.h"

static char database[64];
static char dsn[1024];

static void setup(void)
{
	unit_db_create("batchio", database, sizeof(database), dsn, sizeof(dsn));
}

static void teardown(void)
{
	unit_db_drop(database);
}

static aq_store_t *connect_store(void)
{
	char err[1024];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

/* Runs sql on a connection of the test's own; the first cell as a number
 * (0 for no row or a statement without rows). */
static long long sql_int(const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(conn));
	long long v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	PQfinish(conn);
	return v;
}

/* Reads a batch of partitions {0, 1} and checks, then writes states for
 * them and next offset `next` of partition 0, committing; asserts it
 * worked. */
static void apply(aq_store_t *s, const char *const *checks, size_t n, int64_t next)
{
	char err[1024];
	const int32_t parts[] = { 0, 1 };
	int64_t offsets[2];
	char clusters[2][AQ_CLUSTER_ID_MAX];
	struct aq_state states[4];
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 2, offsets, clusters, checks, NULL, n, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	for (size_t i = 0; i < n; i++) {
		states[i].last_seen_ms = next;
		ck_assert_int_eq(aq_writes_state(w, &states[i]), 0);
	}
	ck_assert_int_eq(aq_writes_offset_in(w, "alerts", 0, next, "cluster-A"), 0);
	ck_assert_msg(aq_store_write_commit(s, w, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < n; i++)
		aq_state_release(&states[i]);
	aq_writes_free(w);
}

START_TEST(test_read_and_commit)
{
	char err[1024];
	aq_store_t *s = connect_store();
	const char *checks[] = { "web.up", "db.up" };
	apply(s, checks, 2, 10); /* both new: inserted */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE last_seen_ms = 10"), 2);
	/* every row written has the version the write said (what a worker's
	 * kept states rely on), inserted ... */
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alertq_checks WHERE xmin::text = '%u'",
		 (unsigned)aq_store_written_version(s));
	ck_assert_uint_ne(aq_store_written_version(s), 0);
	ck_assert_int_eq(sql_int(sql), 2);
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets WHERE partition = 0"), 10);
	/* the partition without an offset got its row, none stored in it */
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets WHERE partition = 1"), -1);

	/* read again: known, with what was written; one new beside them */
	const int32_t parts[] = { 0, 1 };
	int64_t offsets[2];
	char clusters[2][AQ_CLUSTER_ID_MAX];
	struct aq_state states[3];
	const char *more[] = { "db.up", "new.one", "web.up" };
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 2, offsets, clusters, more, NULL, 3, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(offsets[0], 10);
	ck_assert_str_eq(clusters[0], "cluster-A");
	ck_assert_int_eq(offsets[1], -1);
	ck_assert_int_eq(states[0].known, 1);
	ck_assert_int_eq(states[0].last_seen_ms, 10);
	ck_assert_int_eq(states[1].known, 0);
	ck_assert_int_eq(states[2].known, 1);
	for (int i = 0; i < 3; i++)
		aq_state_release(&states[i]);
	aq_store_rollback(s);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks"), 2); /* the read wrote nothing */

	/* known states only: updated (no insert needed) */
	apply(s, checks, 2, 11);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE last_seen_ms = 11"), 2);
	/* ... and updated */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alertq_checks WHERE xmin::text = '%u'",
		 (unsigned)aq_store_written_version(s));
	ck_assert_int_eq(sql_int(sql), 2);

	/* read locked: no version, the write is unconditional */
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 2, offsets, clusters, checks, NULL, 2, 1, states,
					  err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(states[0].known, 1);
	ck_assert_uint_eq(states[0].row_version, 0);
	for (int i = 0; i < 2; i++)
		aq_state_release(&states[i]);
	aq_store_rollback(s);
	aq_store_free(s);
}
END_TEST

START_TEST(test_read_locks)
{
	char err[1024];
	aq_store_t *a = connect_store();
	aq_store_t *b = connect_store();
	const char *checks[] = { "web.up" };
	apply(a, checks, 1, 5);

	/* a holds the offset rows: b's read waits for them (and gives up here) */
	const int32_t parts[] = { 0 };
	int64_t offsets[1];
	struct aq_state states[1];
	ck_assert_msg(aq_store_batch_read(a, "alerts", parts, 1, offsets, NULL, checks, NULL, 1, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	aq_state_release(&states[0]);
	/* the test's database only (dropped after the test) */
	char sql[160];
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET lock_timeout = '200ms'", database);
	sql_int(sql);
	aq_store_free(b);
	b = connect_store();
	ck_assert_int_eq(aq_store_batch_read(b, "alerts", parts, 1, offsets, NULL, checks, NULL, 1, 0, states, err,
					     sizeof(err)),
			 -1);
	ck_assert_msg(strstr(err, "lock") != NULL, "%s", err);
	ck_assert_int_eq(aq_store_connection_lost(b), 0);
	aq_store_rollback(b);

	/* the check's row is not locked by the read: a batch of another
	 * partition naming it reads it at once (the write checks its version) */
	const int32_t other[] = { 7 };
	ck_assert_msg(aq_store_batch_read(b, "alerts", other, 1, offsets, NULL, checks, NULL, 1, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(states[0].known, 1);
	ck_assert_uint_ne(states[0].row_version, 0);
	aq_state_release(&states[0]);
	aq_store_rollback(b);
	aq_store_rollback(a);

	/* free again, the same connection works (the pipeline left behind) */
	ck_assert_msg(aq_store_batch_read(b, "alerts", parts, 1, offsets, NULL, checks, NULL, 1, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(offsets[0], 5);
	aq_state_release(&states[0]);
	aq_store_rollback(b);
	aq_store_free(a);
	aq_store_free(b);
}
END_TEST

/* Reads web.up and db.up as a batch of partition 0 would, sets their
 * last_seen_ms to seen and queues them into a new aq_writes_t. */
static aq_writes_t *read_and_queue(aq_store_t *s, struct aq_state *states, int64_t seen)
{
	char err[1024];
	const char *checks[] = { "web.up", "db.up" };
	const int32_t parts[] = { 0 };
	int64_t offsets[1];
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 1, offsets, NULL, checks, NULL, 2, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < 2; i++) {
		states[i].last_seen_ms = seen;
		states[i].acked = 0; /* as read: neither was acked then */
		ck_assert_int_eq(aq_writes_state(w, &states[i]), 0);
	}
	ck_assert_int_eq(aq_writes_offset_in(w, "alerts", 0, seen, "cluster-A"), 0);
	return w;
}

/* A row changed between a batch's read and its write (here an ack made
 * meanwhile) fails the whole batch as a conflict: nothing is written over
 * the ack, not even the other check or the offset; read again, it goes. */
START_TEST(test_changed_row_fails_the_batch)
{
	char err[1024];
	aq_store_t *s = connect_store();
	const char *checks[] = { "web.up", "db.up" };
	apply(s, checks, 2, 5);
	sql_int("UPDATE alertq_checks SET severity = 'CRITICAL'");

	struct aq_state states[2];
	aq_writes_t *w = read_and_queue(s, states, 6);
	/* an operator acks web.up while the batch decides */
	sql_int("UPDATE alertq_checks SET acked = true, acked_by = 'ops' WHERE check_name = 'web.up'");
	ck_assert_int_eq(aq_store_write_commit(s, w, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "changed since the batch read them") != NULL, "%s", err);
	ck_assert_int_eq(aq_store_conflict(s), 1);
	ck_assert_int_eq(aq_store_refused_item(s), 0);
	ck_assert_int_eq(aq_store_connection_lost(s), 0);
	aq_store_rollback(s);
	for (int i = 0; i < 2; i++)
		aq_state_release(&states[i]);
	aq_writes_free(w);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE acked AND acked_by = 'ops'"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE last_seen_ms = 6"), 0);
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets WHERE partition = 0"), 5);

	/* read again: the ack is in the state read, and kept */
	const int32_t parts[] = { 0 };
	int64_t offsets[1];
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 1, offsets, NULL, checks, NULL, 2, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(states[0].acked, 1); /* web.up, as read */
	w = aq_writes_new();
	for (int i = 0; i < 2; i++) {
		states[i].last_seen_ms = 7;
		ck_assert_int_eq(aq_writes_state(w, &states[i]), 0);
	}
	ck_assert_msg(aq_store_write_commit(s, w, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(aq_store_conflict(s), 0);
	for (int i = 0; i < 2; i++)
		aq_state_release(&states[i]);
	aq_writes_free(w);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE last_seen_ms = 7"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE acked AND acked_by = 'ops'"), 1);

	/* a row removed since the read is a change too */
	w = read_and_queue(s, states, 8);
	sql_int("DELETE FROM alertq_checks WHERE check_name = 'db.up'");
	ck_assert_int_eq(aq_store_write_commit(s, w, err, sizeof(err)), -1);
	ck_assert_int_eq(aq_store_conflict(s), 1);
	aq_store_rollback(s);
	for (int i = 0; i < 2; i++)
		aq_state_release(&states[i]);
	aq_writes_free(w);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_checks WHERE last_seen_ms = 8"), 0);
	aq_store_free(s);
}
END_TEST

/* The silences come with the batch's reads: one ended since is still in
 * force for the batch (it is read no more than once a second). */
START_TEST(test_read_takes_silences)
{
	char err[1024];
	aq_store_t *s = connect_store();
	sql_int("INSERT INTO alertq_silences (match, ends_at) VALUES ('db.*', now() + interval '1 hour')");
	const int32_t parts[] = { 0 };
	int64_t offsets[1];
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 1, offsets, NULL, NULL, NULL, 0, 0, NULL, err, sizeof(err)) ==
			      0,
		      "%s", err);
	sql_int("DELETE FROM alertq_silences");
	ck_assert_int_eq(aq_store_silenced(s, "db.up", aq_now_ms()), 1);
	ck_assert_int_eq(aq_store_silenced(s, "web.up", aq_now_ms()), 0);
	aq_store_rollback(s);
	aq_store_free(s);
}
END_TEST

/* A statement the server refuses in the writes' pipeline: the ones after
 * it and the COMMIT do not happen, the refusal is the item's, and the
 * connection goes on. */
START_TEST(test_write_refused_commits_nothing)
{
	char err[1024];
	aq_store_t *s = connect_store();
	const char *checks[] = { "web.up" };
	apply(s, checks, 1, 5);

	const int32_t parts[] = { 0 };
	int64_t offsets[1];
	struct aq_state states[1];
	ck_assert_msg(aq_store_batch_read(s, "alerts", parts, 1, offsets, NULL, checks, NULL, 1, 0, states, err,
					  sizeof(err)) == 0,
		      "%s", err);
	aq_writes_t *w = aq_writes_new();
	ck_assert_ptr_nonnull(w);
	states[0].last_seen_ms = 6;
	ck_assert_int_eq(aq_writes_state(w, &states[0]), 0);
	char id[37];
	aq_uuid4(id);
	/* the same id twice: the second breaks the notifications' key */
	ck_assert_int_eq(aq_writes_notification(w, id, NULL, "web.up", "hook", 0, 0, "{}", 60000), 0);
	ck_assert_int_eq(aq_writes_notification(w, id, NULL, "web.up", "hook", 0, 0, "{}", 60000), 0);
	ck_assert_int_eq(aq_writes_offset_in(w, "alerts", 0, 6, "cluster-A"), 0);
	ck_assert_int_eq(aq_store_write_commit(s, w, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "saving notifications") != NULL, "%s", err);
	ck_assert_int_eq(aq_store_refused_item(s), 1);
	ck_assert_int_eq(aq_store_connection_lost(s), 0);
	aq_store_rollback(s);
	aq_state_release(&states[0]);
	aq_writes_free(w);
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets WHERE partition = 0"), 5);
	ck_assert_int_eq(sql_int("SELECT last_seen_ms FROM alertq_checks"), 5);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications"), 0);

	apply(s, checks, 1, 7); /* the connection is fine */
	ck_assert_int_eq(sql_int("SELECT next_offset FROM alertq_offsets WHERE partition = 0"), 7);
	aq_store_free(s);
}
END_TEST

/* A COMMIT of a transaction a statement failed in rolls back: it must not
 * count as committed, on its own or sent with the writes. */
START_TEST(test_commit_of_failed_transaction)
{
	char err[1024];
	aq_store_t *s = connect_store();
	for (int with_writes = 0; with_writes < 2; with_writes++) {
		ck_assert_msg(aq_store_begin(s, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(aq_store_exec(s, "SELECT 1 / 0", err, sizeof(err)), -1);
		if (with_writes) {
			aq_writes_t *w = aq_writes_new();
			ck_assert_ptr_nonnull(w);
			ck_assert_int_eq(aq_store_write_commit(s, w, err, sizeof(err)), -1);
			aq_writes_free(w);
		} else {
			ck_assert_int_eq(aq_store_commit(s, err, sizeof(err)), -1);
		}
		ck_assert_msg(strstr(err, "rolled back") != NULL, "%s", err);
		aq_store_rollback(s);
	}
	aq_store_free(s);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("batch_io");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_and_commit);
	tcase_add_test(tc, test_read_locks);
	tcase_add_test(tc, test_changed_row_fails_the_batch);
	tcase_add_test(tc, test_read_takes_silences);
	tcase_add_test(tc, test_write_refused_commits_nothing);
	tcase_add_test(tc, test_commit_of_failed_transaction);
	suite_add_tcase(suite, tc);
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
