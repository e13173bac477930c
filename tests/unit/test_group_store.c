/* test_group_store.c - grouped delivery in the state database: members
 * joining their group and its timers, a flush turning a group into one
 * outbox row, the flush at once when a group clears, a collapse, the row
 * lock between two flushers, and pruning of the history rows */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/group.h"
#include "alertq/notify.h"
#include "unit.h"
#include "unit_db.h"

static char database[128];
static char dsn[512];

static void setup(void)
{
	unit_db_create("group", database, sizeof(database), dsn, sizeof(dsn));
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

/* The first cell of sql on a connection of the test's own ("" for none);
 * the caller frees it. */
static char *sql_value(const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(conn));
	char *out = strdup(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(conn);
	return out;
}

static long long sql_int(const char *sql)
{
	char *text = sql_value(sql);
	long long v = strtoll(text, NULL, 10);
	free(text);
	return v;
}

static void sql_run(const char *sql)
{
	free(sql_value(sql));
}

/* The channel "ops", grouped by site, waiting 30 s, then 1 h. */
static char *group_by[] = { (char *)"site", NULL };
static struct aq_channel ops = {
	.name = (char *)"ops",
	.grouped = 1,
	.group_by = group_by,
	.ngroup_by = 1,
	.group_wait_ms = 30000,
	.group_interval_ms = 3600000,
	.max_alerts = 20,
	.give_up_after_ms = 3600000,
};

/* Queues a notification of check at site (firing or resolved) for ops. */
static void add(aq_writes_t *w, const char *check, const char *site, int resolved)
{
	struct aq_label label = { (char *)"site", (char *)site };
	struct aq_notification n;
	memset(&n, 0, sizeof(n));
	aq_uuid4(n.notification_id);
	n.check = (char *)check;
	n.resolved = resolved;
	n.severity = resolved ? AQ_OK : AQ_CRITICAL;
	n.previous_severity = resolved ? AQ_CRITICAL : AQ_OK;
	n.message = (char *)"m";
	n.labels = &label;
	n.nlabels = 1;
	char *payload = aq_notification_to_json(&n);
	char *key, *labels;
	ck_assert_int_eq(aq_group_of(&ops, check, &label, 1, &key, &labels), 0);
	struct aq_group_member_in m = { .id = n.notification_id,
					.check = check,
					.channel = "ops",
					.group_key = key,
					.group_labels = labels,
					.resolved = resolved,
					.payload = payload,
					.group_wait_ms = ops.group_wait_ms,
					.group_interval_ms = ops.group_interval_ms };
	ck_assert_int_eq(aq_writes_group_member(w, &m), 0);
	free(payload);
	free(key);
	free(labels);
}

static void write_batch(aq_store_t *s, aq_writes_t *w)
{
	char err[1024];
	ck_assert_msg(aq_store_begin(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(aq_store_write(s, w, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(aq_store_commit(s, err, sizeof(err)) == 0, "%s", err);
	aq_writes_clear(w);
}

static size_t flush(aq_store_t *s)
{
	char err[1024];
	size_t flushed = 99;
	ck_assert_msg(aq_grouper_flush(s, &ops, 64, &flushed, err, sizeof(err)) == 0, "%s", err);
	return flushed;
}

/* Makes every group of ops due now. */
static void make_due(void)
{
	sql_run("UPDATE alertq_groups SET next_flush_at = now() - interval '1 second'"
		" WHERE next_flush_at IS NOT NULL");
}

START_TEST(timers_messages_and_the_flush_at_once)
{
	aq_store_t *s = connect_store();
	aq_writes_t *w = aq_writes_new();
	add(w, "a", "par1", 0);
	add(w, "b", "par1", 0);
	add(w, "c", "ams1", 0);
	write_batch(s, w);
	/* two new groups, waiting group_wait */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_groups WHERE next_flush_at"
				 " BETWEEN now() + interval '25 seconds' AND now() + interval '31 seconds'"),
			 2);
	ck_assert_uint_eq(flush(s), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications"), 0);
	make_due();
	ck_assert_uint_eq(flush(s), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE state = 'pending'"
				 " AND channel = 'ops' AND check_name = 'group site=par1'"),
			 1);
	char *payload = sql_value("SELECT payload FROM alertq_notifications WHERE check_name = 'group site=par1'");
	json_t *m = json_loads(payload, 0, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "firing")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(m, "alerts")), 2);
	json_decref(m);
	free(payload);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE state = 'grouped'"), 3);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_group_members"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_groups WHERE next_flush_at IS NULL"
				 " AND last_sent_at IS NOT NULL"),
			 2);

	/* a newcomer waits group_interval after the last message */
	add(w, "d", "par1", 0);
	write_batch(s, w);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_groups WHERE group_key = '[\"par1\"]'"
				 " AND next_flush_at > now() + interval '50 minutes'"),
			 1);
	/* a resolve while others fire waits too */
	add(w, "a", "par1", 1);
	write_batch(s, w);
	ck_assert_uint_eq(flush(s), 0);
	/* the last firing alert of the group resolves: at once */
	add(w, "b", "par1", 1);
	add(w, "d", "par1", 1);
	write_batch(s, w);
	ck_assert_uint_eq(flush(s), 1);
	payload = sql_value("SELECT payload FROM alertq_notifications WHERE check_name = 'group site=par1'"
			    " ORDER BY created_at DESC LIMIT 1");
	m = json_loads(payload, 0, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "firing")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "resolved")), 2); /* d was never told */
	json_decref(m);
	free(payload);
	/* d fired and resolved unseen: collapsed, both notifications */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE state = 'collapsed'"
				 " AND check_name = 'd' AND last_error LIKE 'resolved within group_wait%'"),
			 2);
	/* a cleared group is forgotten; ams1 goes on */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_groups"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_group_alerts WHERE group_key = '[\"par1\"]'"), 0);

	/* history rows are pruned like delivered ones */
	sql_run("UPDATE alertq_notifications SET created_at = now() - interval '2 days'"
		" WHERE state IN ('grouped', 'collapsed')");
	int deleted = 0;
	char err[1024];
	ck_assert_msg(aq_store_prune(s, 24 * 3600000LL, 1000, &deleted, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(deleted, 3 + 2 + 2);
	aq_writes_free(w);
	aq_store_free(s);
}
END_TEST

START_TEST(two_flushers_never_take_the_same_group)
{
	char err[1024];
	aq_store_t *a = connect_store();
	aq_store_t *b = connect_store();
	aq_writes_t *w = aq_writes_new();
	add(w, "x", "par1", 0);
	write_batch(a, w);
	make_due();
	/* a holds the group, as a flush in progress does */
	ck_assert_msg(aq_store_begin(a, err, sizeof(err)) == 0, "%s", err);
	struct aq_group_row *rows;
	size_t n;
	ck_assert_msg(aq_store_due_groups(a, "ops", 10, &rows, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	aq_group_rows_free(rows, n);
	ck_assert_uint_eq(flush(b), 0);
	aq_store_rollback(a);
	ck_assert_uint_eq(flush(b), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alertq_notifications WHERE state = 'pending'"), 1);
	aq_writes_free(w);
	aq_store_free(a);
	aq_store_free(b);
}
END_TEST

static Suite *group_store_suite(void)
{
	Suite *s = suite_create("group_store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, timers_messages_and_the_flush_at_once);
	tcase_add_test(tc, two_flushers_never_take_the_same_group);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(group_store_suite());
}
