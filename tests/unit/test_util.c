/* test_util.c - the small shared helpers of lib/base: redaction of secrets
 * in URLs and DSNs, as a table; random UUIDs */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alertq/util.h"

struct redact_case {
	const char *in;
	const char *out;
};

static const struct redact_case redact_cases[] = {
	{ "postgresql://u:p@h/db", "postgresql://***@h/db" },
	{ "postgresql://u:p@h:5432/db?sslmode=require", "postgresql://***@h:5432/db?sslmode=require" },
	{ "postgresql://h/db?password=x", "postgresql://h/db?password=***" },
	{ "postgresql://h/db?sslmode=require&password=x&user=u", "postgresql://h/db?sslmode=require&password=***&user=u" },
	{ "postgresql://u:p@h/db?password=x", "postgresql://***@h/db?password=***" },
	{ "postgresql://h/db?PASSWORD=x", "postgresql://h/db?PASSWORD=***" },
	{ "http://hookuser:pw@127.0.0.1:8080/hook", "http://***@127.0.0.1:8080/hook" },
	{ "http://127.0.0.1/a@b", "http://127.0.0.1/a@b" },
	{ "host=db password=secret user=x", "host=db password=*** user=x" },
	{ "host=db password = 'se cret' user=x", "host=db password=*** user=x" },
	{ "host=db password= 'se cret'", "host=db password=***" },
	{ "password='a\\'b' dbname=app", "password=*** dbname=app" },
	{ "password=\"x\" dbname=app", "password=*** dbname=app" },
	{ "password='unterminated", "password=***" },
	{ "dbname=app passwd=x", "dbname=app passwd=***" },
	{ "dbname=app sslpassword_file=/p user=x", "dbname=app sslpassword_file=/p user=x" },
	{ "host=db user=x", "host=db user=x" },
	{ "", "" },
	{ NULL, "(none)" },
};

START_TEST(test_redact_table)
{
	const struct redact_case *c = &redact_cases[_i];
	char out[256];
	memset(out, 'z', sizeof(out));
	aq_redact_url(c->in, out, sizeof(out));
	ck_assert_msg(strcmp(out, c->out) == 0, "'%s' gave '%s', expected '%s'", c->in ? c->in : "(null)", out,
		      c->out);
}
END_TEST

START_TEST(test_redact_cut_to_fit)
{
	char out[12];
	aq_redact_url("host=db password=topsecret user=x", out, sizeof(out));
	ck_assert_str_eq(out, "host=db pas");
	aq_redact_url("postgresql://u:topsecret@h/db", out, sizeof(out));
	ck_assert_ptr_null(strstr(out, "top"));
	aq_redact_url("password=x", out, 0); /* writes nothing */
}
END_TEST

/* Whether id is a canonical lower-case version 4 (RFC 4122 variant) UUID. */
static int uuid4_canonical(const char *id)
{
	if (strlen(id) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = id[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return id[14] == '4' && strchr("89ab", id[19]) != NULL;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

#define UUID_COUNT 20000
#define UUID_THREADS 4

/* Every id canonical, no two alike, each hex digit of the random positions
 * used (a table or pool mistake shows as a digit never or always seen). */
START_TEST(test_uuid4_canonical_and_distinct)
{
	static char ids[UUID_COUNT][37];
	unsigned seen[16] = { 0 };
	for (int i = 0; i < UUID_COUNT; i++) {
		aq_uuid4(ids[i]);
		ck_assert_msg(uuid4_canonical(ids[i]), "'%s' is not a canonical v4 uuid", ids[i]);
		char d = ids[i][0];
		seen[d <= '9' ? d - '0' : d - 'a' + 10]++;
	}
	for (int d = 0; d < 16; d++)
		ck_assert_msg(seen[d] > UUID_COUNT / 32, "digit %x led %u of %d ids", d, seen[d], UUID_COUNT);
	qsort(ids, UUID_COUNT, sizeof(ids[0]), id_cmp);
	for (int i = 1; i < UUID_COUNT; i++)
		ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0, "'%s' made twice", ids[i]);
}
END_TEST

static char thread_ids[UUID_THREADS][UUID_COUNT / UUID_THREADS][37];

static void *make_ids(void *arg)
{
	char(*mine)[37] = arg;
	for (int i = 0; i < UUID_COUNT / UUID_THREADS; i++)
		aq_uuid4(mine[i]);
	return NULL;
}

START_TEST(test_uuid4_threads_share_nothing)
{
	pthread_t t[UUID_THREADS];
	for (int i = 0; i < UUID_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, make_ids, thread_ids[i]), 0);
	for (int i = 0; i < UUID_THREADS; i++)
		pthread_join(t[i], NULL);
	char(*all)[37] = &thread_ids[0][0];
	for (int i = 0; i < UUID_COUNT; i++)
		ck_assert(uuid4_canonical(all[i]));
	qsort(all, UUID_COUNT, sizeof(all[0]), id_cmp);
	for (int i = 1; i < UUID_COUNT; i++)
		ck_assert_msg(strcmp(all[i - 1], all[i]) != 0, "'%s' made twice", all[i]);
}
END_TEST

/* A forked child must not make the ids its parent is about to make. */
START_TEST(test_uuid4_fork_does_not_repeat)
{
	char first[37], parent[37], child[37] = "";
	int fds[2];
	aq_uuid4(first); /* the pool now holds bytes both would inherit */
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		aq_uuid4(child);
		ssize_t n = write(fds[1], child, sizeof(child));
		_exit(n == (ssize_t)sizeof(child) ? 0 : 1);
	}
	aq_uuid4(parent);
	ck_assert_int_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
	int status;
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
	ck_assert(uuid4_canonical(child));
	ck_assert_msg(strcmp(parent, child) != 0, "parent and child both made '%s'", child);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("redact");
	tcase_add_loop_test(tc, test_redact_table, 0, (int)(sizeof(redact_cases) / sizeof(redact_cases[0])));
	tcase_add_test(tc, test_redact_cut_to_fit);
	suite_add_tcase(s, tc);
	tc = tcase_create("uuid");
	tcase_add_test(tc, test_uuid4_canonical_and_distinct);
	tcase_add_test(tc, test_uuid4_threads_share_nothing);
	tcase_add_test(tc, test_uuid4_fork_does_not_repeat);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
