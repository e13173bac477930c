/* test_consume.c - the worker's consuming side without a broker: reasons
 * given to the dead-letter topic and table, the prefetch budget's limits */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/kafka.h"
#include "base/utf8.h"
#include "consume/consumer.h"
#include "consume/deadletter.h"

START_TEST(dead_letter_reasons_are_clean_and_bounded)
{
	char long_check[300];
	size_t len = 0;
	while (len + 2 < 255) { /* "é" * 126: a check name the decoder accepts */
		memcpy(long_check + len, "\xc3\xa9", 2);
		len += 2;
	}
	long_check[len] = '\0';
	char long_ascii[2000];
	memset(long_ascii, 'x', sizeof(long_ascii) - 1);
	long_ascii[sizeof(long_ascii) - 1] = '\0';
	static const struct {
		const char *arg;
		const char *want; /* NULL: only valid and bounded */
	} cases[] = {
		{ "bad magic", "bad magic" },
		{ "latin-1 caf\xe9", "latin-1 caf\xef\xbf\xbd" },
		{ "line\nbreak\ttab", "line break tab" },
		{ "cut short \xe2\x82", "cut short \xef\xbf\xbd\xef\xbf\xbd" },
		{ NULL, NULL }, /* long_check, quoted */
		{ NULL, NULL }, /* long_ascii */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[AQ_DEAD_LETTER_REASON_MAX + 1];
		memset(out, 'Z', sizeof(out));
		const char *arg = cases[i].arg ? cases[i].arg : i == 4 ? long_check
								       : long_ascii;
		aq_dead_letter_reason(out, "%s", arg);
		if (i == 4) {
			char shown[AQ_DEAD_LETTER_CHECK_SHOWN + 1];
			aq_text_clean_into(shown, sizeof(shown), arg, strlen(arg), AQ_TEXT_SPACES);
			aq_dead_letter_reason(out, "message key does not match check '%s'", shown);
			ck_assert_msg(out[strlen(out) - 1] == '\'', "case %zu: the quote was cut: %s", i, out);
		}
		size_t n = strnlen(out, sizeof(out));
		ck_assert_msg(n < sizeof(out), "case %zu: not terminated", i);
		ck_assert_msg(n <= AQ_DEAD_LETTER_REASON_MAX, "case %zu: %zu bytes", i, n);
		ck_assert_msg(aq_utf8_valid(out, n), "case %zu: not valid UTF-8: %s", i, out);
		for (size_t k = 0; k < n; k++)
			ck_assert_msg((unsigned char)out[k] >= 0x20 && out[k] != 0x7f, "case %zu: control byte", i);
		if (cases[i].want)
			ck_assert_str_eq(out, cases[i].want);
	}
}
END_TEST

/* A reason quoting the longest check name the decoder lets through stays
 * valid even when formatting fills the whole cap. */
START_TEST(dead_letter_reason_cut_inside_a_character)
{
	char name[256];
	name[0] = 'a'; /* odd length before the two-byte characters */
	size_t len = 1;
	while (len + 2 <= 254) {
		memcpy(name + len, "\xc3\xa9", 2);
		len += 2;
	}
	name[len] = '\0';
	char out[AQ_DEAD_LETTER_REASON_MAX + 1];
	aq_dead_letter_reason(out, "message key does not match check '%s'", name);
	ck_assert_uint_le(strlen(out), AQ_DEAD_LETTER_REASON_MAX);
	ck_assert(aq_utf8_valid(out, strlen(out)));
	ck_assert(strcmp(out + strlen(out) - 3, "...") == 0);
}
END_TEST

/* A sixteenth of the budget for a fetch response shared by the topic's
 * partitions, the rest for the queue every partition feeds, so one worker
 * holding every partition stays within it; the floors keep a partition able
 * to fetch and two batches queued. */
START_TEST(prefetch_budget_is_divided_among_partitions)
{
	static const struct {
		int budget_mb, partitions;
		long long min_messages, max_kbytes, fetch_max_bytes, partition_fetch_bytes;
	} cases[] = {
		{ 16, 48, 40000, 15360, 1048576, 65536 },          /* 1 MiB / 48; two batches queued */
		{ 16, 1, 40000, 15360, 1048576, 1048576 },         /* one partition takes it all */
		{ 1, 512, 40000, 960, 1048576, 65536 },            /* below the floors */
		{ 1024, 12, 1310720, 983040, 67108864, 5592405 },  /* the largest budget */
		{ 2048, 12, 2621440, 1966080, 67108864, 5592405 }, /* a response is capped */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_prefetch p;
		ck_assert_int_eq(aq_prefetch_limits(cases[i].budget_mb, cases[i].partitions, &p), 0);
		ck_assert_int_eq(p.queued_min_messages, cases[i].min_messages);
		ck_assert_int_eq(p.queued_max_kbytes, cases[i].max_kbytes);
		ck_assert_int_eq(p.fetch_max_bytes, cases[i].fetch_max_bytes);
		ck_assert_int_eq(p.partition_fetch_bytes, cases[i].partition_fetch_bytes);
		/* queue and fetch together stay within the budget, floors aside */
		long long budget = cases[i].budget_mb * 1024LL * 1024;
		if (cases[i].partition_fetch_bytes > AQ_PREFETCH_PARTITION_MIN_BYTES &&
		    cases[i].min_messages > AQ_PREFETCH_MIN_EVENTS)
			ck_assert_int_le(p.queued_min_messages * AQ_PREFETCH_EVENT_BYTES +
						 p.partition_fetch_bytes * cases[i].partitions,
					 budget);
	}
	struct aq_prefetch p;
	ck_assert_int_eq(aq_prefetch_limits(0, 12, &p), -1);
	ck_assert_int_eq(aq_prefetch_limits(16, 0, &p), -1);
}
END_TEST

/* What the budget derives goes into the consumer's configuration, except a
 * limit the operator gave in kafka.properties. */
START_TEST(prefetch_limits_set_unless_given)
{
	char brokers[] = "127.0.0.1:9", group[] = "g", key[] = "queued.min.messages", given[] = "123";
	struct aq_kafka_property property = { .key = key, .value = given };
	struct aq_config cfg = { 0 };
	cfg.brokers = brokers;
	cfg.group = group;
	cfg.properties = &property;
	cfg.nproperties = 1;
	cfg.prefetch_budget_mb = 16;
	char err[512];
	rd_kafka_conf_t *conf = aq_kafka_conf(&cfg, AQ_KAFKA_CONSUMER, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	struct aq_prefetch p;
	ck_assert_int_eq(aq_prefetch_conf(&cfg, 48, conf, &p, err, sizeof(err)), 0);
	static const struct {
		const char *key, *want;
	} want[] = {
		{ "queued.min.messages", "123" },
		{ "queued.max.messages.kbytes", "15360" },
		{ "fetch.max.bytes", "1048576" },
		{ "max.partition.fetch.bytes", "65536" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char value[64];
		size_t size = sizeof(value);
		ck_assert_int_eq(rd_kafka_conf_get(conf, want[i].key, value, &size), RD_KAFKA_CONF_OK);
		ck_assert_str_eq(value, want[i].want);
	}
	ck_assert_int_eq(aq_prefetch_conf(&cfg, 0, conf, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "prefetch_budget_mb"));
	rd_kafka_conf_destroy(conf);
}
END_TEST

int main(void)

{
	Suite *s = suite_create("consume");
	TCase *tc = tcase_create("dead letters");
	tcase_add_test(tc, dead_letter_reasons_are_clean_and_bounded);
	tcase_add_test(tc, dead_letter_reason_cut_inside_a_character);
	tcase_add_test(tc, prefetch_budget_is_divided_among_partitions);
	tcase_add_test(tc, prefetch_limits_set_unless_given);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
