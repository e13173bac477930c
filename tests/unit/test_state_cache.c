/* test_state_cache.c - the states a worker keeps between batches: a state
 * taken is no longer held (a failed batch cannot leave a half-applied one
 * behind), a state put back replaces the old one, the memory budget is never
 * passed, and a cache of budget 0 holds nothing */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/rules.h"
#include "alertq/util.h"
#include "consume/state_cache.h"

/* A state of check with a message of msg_len bytes and a row version. */
static struct aq_state make(const char *check, size_t msg_len, uint32_t version)
{
	struct aq_state st;
	aq_state_init(&st, check);
	free(st.message);
	st.message = malloc(msg_len + 1);
	ck_assert_ptr_nonnull(st.message);
	memset(st.message, 'm', msg_len);
	st.message[msg_len] = '\0';
	st.known = 1;
	st.row_version = version;
	return st;
}

START_TEST(take_moves_the_state_out)
{
	struct aq_state_cache c;
	aq_state_cache_init(&c, 1 << 20);
	struct aq_state st = make("web.up", 10, 7);
	aq_state_cache_put(&c, &st, 1000);
	ck_assert_ptr_null(st.check); /* moved in */

	struct aq_state got;
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(aq_state_cache_take(&c, "db.up", 1000, &got), 0);
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 1000, &got), 1);
	ck_assert_str_eq(got.check, "web.up");
	ck_assert_uint_eq(got.row_version, 7);
	ck_assert_uint_eq(strlen(got.message), 10);
	/* taken: a second batch does not get it too, nor a stale copy */
	struct aq_state again;
	memset(&again, 0, sizeof(again));
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 1000, &again), 0);
	ck_assert_ptr_null(again.check);

	/* put back, changed: the new one is what the next take gets */
	got.row_version = 9;
	aq_state_cache_put(&c, &got, 1000);
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 1000, &again), 1);
	ck_assert_uint_eq(again.row_version, 9);
	aq_state_release(&again);
	ck_assert_uint_eq(c.hits, 2);
	ck_assert_uint_eq(c.misses, 2);
	aq_state_cache_release(&c);
}
END_TEST

START_TEST(put_replaces_a_held_state)
{
	struct aq_state_cache c;
	aq_state_cache_init(&c, 1 << 20);
	struct aq_state a = make("web.up", 10, 1);
	struct aq_state b = make("web.up", 20, 2);
	aq_state_cache_put(&c, &a, 1000);
	size_t bytes = c.bytes;
	aq_state_cache_put(&c, &b, 1000);
	ck_assert_uint_eq(c.bytes, bytes + 10); /* one state held, the longer message */
	struct aq_state got;
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 1000, &got), 1);
	ck_assert_uint_eq(got.row_version, 2);
	aq_state_release(&got);
	aq_state_cache_release(&c);
}
END_TEST

START_TEST(budget_is_never_passed)
{
	enum {
		BUDGET = 64 * 1024
	};
	struct aq_state_cache c;
	aq_state_cache_init(&c, BUDGET);
	char name[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "check.%d", i);
		struct aq_state st = make(name, 100, (uint32_t)i + 1);
		aq_state_cache_put(&c, &st, 1000);
		ck_assert_uint_le(c.bytes, BUDGET);
	}
	ck_assert_uint_gt(c.clears, 0);
	/* the last one put is held; a state bigger than the budget is not */
	struct aq_state got;
	ck_assert_int_eq(aq_state_cache_take(&c, "check.1999", 1000, &got), 1);
	aq_state_release(&got);
	struct aq_state big = make("big", BUDGET, 1);
	aq_state_cache_put(&c, &big, 1000);
	ck_assert_ptr_null(big.check); /* released, not leaked */
	ck_assert_int_eq(aq_state_cache_take(&c, "big", 1000, &got), 0);
	ck_assert_uint_le(c.bytes, BUDGET);
	aq_state_cache_release(&c);
}
END_TEST

/* A state kept too long is not used: its row version could match a newer
 * row by chance once PostgreSQL's 32-bit transaction ids come round. */
START_TEST(old_states_are_not_used)
{
	struct aq_state_cache c;
	aq_state_cache_init(&c, 1 << 20);
	struct aq_state st = make("web.up", 10, 7);
	aq_state_cache_put(&c, &st, 5000);
	struct aq_state got;
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 5000 + AQ_STATE_CACHE_TTL_MS, &got), 0);
	ck_assert_ptr_null(got.check);
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 5001, &got), 0);
	st = make("web.up", 10, 8);
	aq_state_cache_put(&c, &st, 6000);
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 6000 + AQ_STATE_CACHE_TTL_MS - 1, &got), 1);
	ck_assert_uint_eq(got.row_version, 8);
	aq_state_release(&got);
	aq_state_cache_release(&c);
}
END_TEST

START_TEST(budget_zero_holds_nothing)
{
	struct aq_state_cache c;
	aq_state_cache_init(&c, 0);
	struct aq_state st = make("web.up", 1, 1);
	aq_state_cache_put(&c, &st, 1000);
	struct aq_state got;
	ck_assert_int_eq(aq_state_cache_take(&c, "web.up", 1000, &got), 0);
	ck_assert_uint_eq(c.bytes, 0);
	aq_state_cache_release(&c);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("state_cache");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, take_moves_the_state_out);
	tcase_add_test(tc, put_replaces_a_held_state);
	tcase_add_test(tc, budget_is_never_passed);
	tcase_add_test(tc, old_states_are_not_used);
	tcase_add_test(tc, budget_zero_holds_nothing);
	suite_add_tcase(suite, tc);
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
