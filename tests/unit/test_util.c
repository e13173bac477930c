/* test_util.c - the small shared helpers of lib/base: redaction of secrets
 * in URLs and DSNs, as a table */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("redact");
	tcase_add_loop_test(tc, test_redact_table, 0, (int)(sizeof(redact_cases) / sizeof(redact_cases[0])));
	tcase_add_test(tc, test_redact_cut_to_fit);
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
