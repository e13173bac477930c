/* test_metrics.c - the text of GET /metrics against a real PostgreSQL: rows
 * inserted, the exact lines rendered, label values escaped.
 * Needs ALERTQ_TEST_DSN (a superuser DSN; scripts/test.sh sets it). */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/config.h"
#include "alertq/store.h"
#include "base/buf.h"
#include "serve/metrics.h"
#include "unit.h"
#include "unit_db.h"

static char database[64];
static char dsn[1024];

static void setup(void)
{
	unit_db_create("metrics", database, sizeof(database), dsn, sizeof(dsn));
}

static void teardown(void)
{
	unit_db_drop(database);
}

static char *render(aq_store_t *s, const struct aq_config *cfg)
{
	struct aq_buf b;
	char err[512];
	aq_buf_init(&b, 1024 * 1024);
	ck_assert_msg(aq_metrics_render(s, NULL, cfg, &b, err, sizeof(err)) == 0, "%s", err);
	char *text = aq_buf_take(&b);
	ck_assert_ptr_nonnull(text);
	return text;
}

#define BUILD_INFO                                                                 \
	"# HELP alertq_build_info The version of alertq serving this, always 1.\n" \
	"# TYPE alertq_build_info gauge\n"                                         \
	"alertq_build_info{version=\"" ALERTQ_VERSION "\"} 1\n"

#define LAG_LEFT_OUT                                                                                               \
	"# HELP alertq_consumer_lag Results on the checks topic the workers have not applied yet, by partition.\n" \
	"# TYPE alertq_consumer_lag gauge\n"                                                                       \
	"# alertq_consumer_lag left out: no Kafka connection\n"

START_TEST(empty_database)
{
	char err[512];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	char *text = render(s, NULL);
	ck_assert_str_eq(text,
			 "# HELP alertq_checks Checks the state holds, by current severity.\n"
			 "# TYPE alertq_checks gauge\n"
			 "alertq_checks{severity=\"OK\"} 0\n"
			 "alertq_checks{severity=\"WARNING\"} 0\n"
			 "alertq_checks{severity=\"CRITICAL\"} 0\n"
			 "alertq_checks{severity=\"UNKNOWN\"} 0\n"
			 "# HELP alertq_notifications_pending Notifications waiting to be sent, by channel.\n"
			 "# TYPE alertq_notifications_pending gauge\n"
			 "# HELP alertq_notifications_oldest_pending_seconds Seconds the oldest notification waiting to"
			 " be sent has waited, by channel; 0 when none waits.\n"
			 "# TYPE alertq_notifications_oldest_pending_seconds gauge\n"
			 "# HELP alertq_notifications_total Notifications delivered (outcome sent) or given up (outcome"
			 " undeliverable) still in the outbox, by channel; pruning past state.retention lowers it.\n"
			 "# TYPE alertq_notifications_total counter\n"
			 "# HELP alertq_dead_letters_total Events set aside as dead letters.\n"
			 "# TYPE alertq_dead_letters_total counter\n"
			 "alertq_dead_letters_total 0\n" LAG_LEFT_OUT BUILD_INFO);
	free(text);
	aq_store_free(s);
}
END_TEST

START_TEST(rows_counted)
{
	char err[512];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	static const char *const inserts[] = {
		"INSERT INTO alertq_checks (check_name, severity, since_ms) VALUES"
		" ('a', 'CRITICAL', 1), ('b', 'CRITICAL', 1), ('c', 'OK', 1), ('d', 'WARNING', 1)",
		"INSERT INTO alertq_notifications (id, check_name, channel, payload, state, give_up_at, created_at)"
		" VALUES (gen_random_uuid(), 'a', 'hook', '{}', 'pending', now() + interval '1 day',"
		"   now() - interval '3600 seconds'),"
		" (gen_random_uuid(), 'a', 'hook', '{}', 'pending', now() + interval '1 day', now()),"
		" (gen_random_uuid(), 'a', 'hook', '{}', 'sent', now(), now() - interval '7200 seconds'),"
		" (gen_random_uuid(), 'b', 'q\"uo\\te', '{}', 'undeliverable', now(), now()),"
		" (gen_random_uuid(), 'b', 'new\nline', '{}', 'sent', now(), now())",
		"INSERT INTO alertq_dead_letters (topic, partition, \"offset\", reason) VALUES"
		" ('alertq.checks', 0, 1, 'x'), ('alertq.checks', 1, 9, 'y')",
		"INSERT INTO alertq_offsets (topic, partition, next_offset) VALUES ('alertq.checks', 0, 5)",
	};
	for (size_t i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++)
		ck_assert_msg(aq_store_exec(s, inserts[i], err, sizeof(err)) == 0, "%s", err);

	struct aq_channel channels[2];
	memset(channels, 0, sizeof(channels));
	channels[0].name = "idle"; /* configured, never used: its series exist at 0 */
	channels[1].name = "hook";
	struct aq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.topic = "alertq.checks";
	cfg.channels = channels;
	cfg.nchannels = 2;

	char *text = render(s, &cfg);
	ck_assert_str_eq(text,
			 "# HELP alertq_checks Checks the state holds, by current severity.\n"
			 "# TYPE alertq_checks gauge\n"
			 "alertq_checks{severity=\"OK\"} 1\n"
			 "alertq_checks{severity=\"WARNING\"} 1\n"
			 "alertq_checks{severity=\"CRITICAL\"} 2\n"
			 "alertq_checks{severity=\"UNKNOWN\"} 0\n"
			 "# HELP alertq_notifications_pending Notifications waiting to be sent, by channel.\n"
			 "# TYPE alertq_notifications_pending gauge\n"
			 "alertq_notifications_pending{channel=\"hook\"} 2\n"
			 "alertq_notifications_pending{channel=\"idle\"} 0\n"
			 "alertq_notifications_pending{channel=\"new\\nline\"} 0\n"
			 "alertq_notifications_pending{channel=\"q\\\"uo\\\\te\"} 0\n"
			 "# HELP alertq_notifications_oldest_pending_seconds Seconds the oldest notification waiting to"
			 " be sent has waited, by channel; 0 when none waits.\n"
			 "# TYPE alertq_notifications_oldest_pending_seconds gauge\n"
			 "alertq_notifications_oldest_pending_seconds{channel=\"hook\"} 3600\n"
			 "alertq_notifications_oldest_pending_seconds{channel=\"idle\"} 0\n"
			 "alertq_notifications_oldest_pending_seconds{channel=\"new\\nline\"} 0\n"
			 "alertq_notifications_oldest_pending_seconds{channel=\"q\\\"uo\\\\te\"} 0\n"
			 "# HELP alertq_notifications_total Notifications delivered (outcome sent) or given up (outcome"
			 " undeliverable) still in the outbox, by channel; pruning past state.retention lowers it.\n"
			 "# TYPE alertq_notifications_total counter\n"
			 "alertq_notifications_total{channel=\"hook\",outcome=\"sent\"} 1\n"
			 "alertq_notifications_total{channel=\"hook\",outcome=\"undeliverable\"} 0\n"
			 "alertq_notifications_total{channel=\"idle\",outcome=\"sent\"} 0\n"
			 "alertq_notifications_total{channel=\"idle\",outcome=\"undeliverable\"} 0\n"
			 "alertq_notifications_total{channel=\"new\\nline\",outcome=\"sent\"} 1\n"
			 "alertq_notifications_total{channel=\"new\\nline\",outcome=\"undeliverable\"} 0\n"
			 "alertq_notifications_total{channel=\"q\\\"uo\\\\te\",outcome=\"sent\"} 0\n"
			 "alertq_notifications_total{channel=\"q\\\"uo\\\\te\",outcome=\"undeliverable\"} 1\n"
			 "# HELP alertq_dead_letters_total Events set aside as dead letters.\n"
			 "# TYPE alertq_dead_letters_total counter\n"
			 "alertq_dead_letters_total 2\n" LAG_LEFT_OUT BUILD_INFO);
	free(text);

	struct aq_store_metrics m;
	ck_assert_msg(aq_store_metrics(s, "alertq.checks", &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(m.noffsets, 1);
	ck_assert_int_eq(m.offsets[0].partition, 0);
	ck_assert_int_eq(m.offsets[0].next_offset, 5);
	aq_store_metrics_release(&m);
	aq_store_free(s);
}
END_TEST

/* Text past the buffer's cap is an error, not a cut page. */
START_TEST(buffer_cap)
{
	char err[512];
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct aq_buf b;
	aq_buf_init(&b, 100);
	ck_assert_int_eq(aq_metrics_render(s, NULL, NULL, &b, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 100"));
	aq_buf_release(&b);
	aq_store_free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_database);
	tcase_add_test(tc, rows_counted);
	tcase_add_test(tc, buffer_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(metrics_suite());
}
