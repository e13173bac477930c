/* test_base.c - the shared helpers: UTF-8 cleaning and cutting, the capped
 * buffer and the name -> index table */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/failpoint.h"
#include "base/strmap.h"
#include "base/terminal.h"
#include "base/utf8.h"
#include "unit.h"

START_TEST(utf8_validity)
{
	static const struct {
		const char *bytes;
		int valid;
	} cases[] = {
		{ "plain ascii", 1 },
		{ "caf\xc3\xa9", 1 },
		{ "\xe2\x82\xac euro", 1 },
		{ "\xf0\x9f\x94\xa5 fire", 1 },
		{ "latin-1 caf\xe9", 0 },
		{ "stray \x80 continuation", 0 },
		{ "overlong \xc0\xaf slash", 0 },
		{ "overlong \xe0\x80\xaf", 0 },
		{ "surrogate \xed\xa0\x80", 0 },
		{ "past max \xf4\x90\x80\x80", 0 },
		{ "cut short \xe2\x82", 0 },
		{ "\xf5\x80\x80\x80", 0 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		ck_assert_msg(aq_utf8_valid(cases[c].bytes, strlen(cases[c].bytes)) == cases[c].valid, "case %zu", c);
	ck_assert_int_eq(aq_utf8_valid("a\0b", 3), 0); /* NUL is refused */
	ck_assert_int_eq(aq_utf8_valid("", 0), 1);
}
END_TEST

START_TEST(utf8_cut_on_boundaries)
{
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5"; /* a é € 🔥: 1+2+3+4 bytes */
	size_t len = strlen(s);
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10 };
	for (size_t max = 0; max <= len; max++)
		ck_assert_msg(aq_utf8_cut(s, len, max) == want[max], "max %zu: %zu", max, aq_utf8_cut(s, len, max));
	ck_assert_uint_eq(aq_utf8_cut(s, len, 100), len);
}
END_TEST

START_TEST(text_clean_is_valid_and_bounded)
{
	static const struct {
		const char *in;
		size_t cap;
		enum aq_text_controls controls;
		const char *want;
	} cases[] = {
		{ "ok text", 100, AQ_TEXT_SPACES, "ok text" },
		{ "Erreur: caract\xe8re invalide", 100, AQ_TEXT_SPACES, "Erreur: caract\xef\xbf\xbdre invalide" },
		{ "two\r\nlines\nhere", 100, AQ_TEXT_SPACES, "two lines here" },
		{ "two\r\nlines\rhere", 100, AQ_TEXT_NEWLINES, "two\nlines\nhere" },
		{ "tab\there\x1b[31m", 100, AQ_TEXT_NEWLINES, "tab here [31m" },
		{ "abcdefghij", 10, AQ_TEXT_SPACES, "abcdefghij" },
		{ "abcdefghijk", 10, AQ_TEXT_SPACES, "abcdefg..." },
		/* the cut never splits the two-byte characters */
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, AQ_TEXT_SPACES, "\xc3\xa9\xc3\xa9..." },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 9, AQ_TEXT_SPACES, "\xc3\xa9\xc3\xa9\xc3\xa9..." },
		{ "\xff\xff\xff", 100, AQ_TEXT_SPACES, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xff\xff\xff\xff", 7, AQ_TEXT_SPACES, "\xef\xbf\xbd..." },
		{ "abcdef", 2, AQ_TEXT_SPACES, "ab" },
		{ NULL, 10, AQ_TEXT_SPACES, "" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char *out = aq_text_clean(cases[c].in, cases[c].cap, cases[c].controls);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strcmp(out, cases[c].want) == 0, "case %zu: got '%s'", c, out);
		ck_assert_msg(strlen(out) <= cases[c].cap, "case %zu: %zu bytes", c, strlen(out));
		ck_assert_msg(aq_utf8_valid(out, strlen(out)), "case %zu: not valid UTF-8", c);
		free(out);
	}
	/* every cut of a multi-byte text stays valid and within the buffer */
	const char *greek = "\xce\xb1\xce\xb2\xce\xb3 \xe2\x82\xac \xf0\x9f\x94\xa5\xf0\x9f\x94\xa5 end";
	for (size_t outlen = 1; outlen < 40; outlen++) {
		char buf[64];
		memset(buf, 'X', sizeof(buf));
		aq_text_clean_into(buf, outlen, greek, strlen(greek), AQ_TEXT_SPACES);
		ck_assert_msg(strlen(buf) < outlen, "outlen %zu", outlen);
		ck_assert_msg(aq_utf8_valid(buf, strlen(buf)), "outlen %zu: '%s'", outlen, buf);
		ck_assert_int_eq(buf[outlen], 'X');
	}
}
END_TEST

START_TEST(buf_grows_to_its_cap_and_no_further)
{
	struct aq_buf b;
	aq_buf_init(&b, 10);
	aq_buf_puts(&b, "12345");
	aq_buf_printf(&b, "%d", 678);
	ck_assert_str_eq(b.data, "12345678");
	ck_assert_int_eq(b.failed, 0);
	aq_buf_puts(&b, "90");
	ck_assert_int_eq(b.failed, 0);
	ck_assert_uint_eq(b.len, 10);
	aq_buf_puts(&b, "x");
	ck_assert_int_eq(b.failed, 1);
	ck_assert_ptr_null(aq_buf_take(&b));

	aq_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		aq_buf_printf(&b, "line %d with some text that is longer than the small buffer%s\n", i,
			      i % 100 ? "" : "................................................................................................................................................................................................................................................................");
	ck_assert_int_eq(b.failed, 0);
	ck_assert_ptr_nonnull(strstr(b.data, "line 999 "));
	char *text = aq_buf_take(&b);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_null(b.data);
	free(text);
	text = aq_buf_take(&b);
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

START_TEST(strmap_maps_many_names)
{
	enum {
		N = 5000
	};
	static char names[N][16];
	struct aq_strmap m;
	aq_strmap_init(&m);
	size_t index;
	ck_assert_int_eq(aq_strmap_get(&m, "absent", &index), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "check.%zu", i);
		ck_assert_int_eq(aq_strmap_put(&m, names[i], i, NULL), 0);
	}
	ck_assert_uint_eq(m.n, N);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(aq_strmap_get(&m, names[i], &index), 1);
		ck_assert_uint_eq(index, i);
	}
	size_t existing = 0;
	char again[16];
	strcpy(again, names[42]);
	ck_assert_int_eq(aq_strmap_put(&m, again, 7, &existing), 1);
	ck_assert_uint_eq(existing, 42);
	ck_assert_int_eq(aq_strmap_get(&m, "check.5000", &index), 0);
	aq_strmap_clear(&m);
	ck_assert_int_eq(aq_strmap_get(&m, names[1], &index), 0);
	ck_assert_int_eq(aq_strmap_put(&m, names[1], 1, NULL), 0);
	aq_strmap_release(&m);
}
END_TEST

START_TEST(terminal_text_cannot_drive_the_terminal)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "db.disk_root", "db.disk_root" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "\x1b[2Jgone", "\\x1b[2Jgone" },
		{ "\x1b]0;title\x07", "\\x1b]0;title\\x07" },
		{ "line\nnext\rback\ttab", "line\\x0anext\\x0dback\\x09tab" },
		{ "del\x7f", "del\\x7f" },
		{ "c1 \xc2\x9b"
		  "31m",
		  "c1 \\xc2\\x9b31m" },
		{ "latin1 caf\xe9", "latin1 caf\\xe9" },
		{ "back\\slash", "back\\\\slash" },
		{ "rtl \xe2\x80\xae evil", "rtl \\u{202e} evil" },
		{ "isolate \xe2\x81\xa6x", "isolate \\u{2066}x" },
		{ NULL, "" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char out[128];
		aq_terminal_text(out, sizeof(out), cases[c].in);
		ck_assert_msg(strcmp(out, cases[c].want) == 0, "case %zu: got '%s'", c, out);
	}
	/* cut whole: never half an escape or half a character */
	char small[6];
	aq_terminal_text(small, sizeof(small), "ab\x1b"
					       "cd");
	ck_assert_str_eq(small, "ab");
	aq_terminal_text(small, sizeof(small), "abcd\xc3\xa9");
	ck_assert_str_eq(small, "abcd");
}
END_TEST

/* Reads spec as ALERTQ_FAILPOINTS from a clean slate; returns what
 * aq_failpoints_init returned. */
static int failpoints_read(const char *spec)
{
	aq_failpoints_reset();
	setenv("ALERTQ_FAILPOINTS", spec, 1);
	int rc = aq_failpoints_init();
	unsetenv("ALERTQ_FAILPOINTS");
	return rc;
}

START_TEST(failpoints_refuse_a_bad_spec)
{
	static const char *const bad[] = {
		"batch.before_commit", /* no action */
		"=crash",              /* no name */
		"a=",                  /* empty action */
		"a=explode",           /* unknown action */
		"a=error;b=explode",   /* one bad entry of two */
		"a=0*crash",           /* the 0th time never comes */
		"a=-2*crash",          /* nor the -2nd */
		"a=x*crash",           /* not a count */
		"a=2x*crash",          /* a count with trailing text */
		"a=*crash",            /* a star without a count */
		"a=sleep(",            /* unfinished */
		"a=sleep(5",           /* unclosed */
		"a=sleep()",           /* no milliseconds */
		"a=sleep(-1)",         /* negative */
		"a=sleep(5)x",         /* trailing text */
		"a=sleep(five)",       /* not a number */
		"a=CRASH",             /* actions are lower case */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(failpoints_read(bad[i]) == -1, "'%s' was accepted", bad[i]);
		ck_assert_msg(!aq_failpoints_armed, "'%s' left failpoints armed", bad[i]);
		ck_assert_int_eq(aq_failpoint_hit("a"), 0);
	}

	/* a name as long as the limit, and one too long */
	char spec[256];
	memset(spec, 'n', 63);
	snprintf(spec + 63, sizeof(spec) - 63, "=error");
	ck_assert_int_eq(failpoints_read(spec), 0);
	memset(spec, 'n', 64);
	snprintf(spec + 64, sizeof(spec) - 64, "=error");
	ck_assert_int_eq(failpoints_read(spec), -1);

	/* sixteen entries, and seventeen */
	size_t len = 0;
	for (int i = 0; i < 16; i++)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len, "p%d=error;", i);
	ck_assert_int_eq(failpoints_read(spec), 0);
	ck_assert_int_eq(aq_failpoint_hit("p15"), -1);
	snprintf(spec + len, sizeof(spec) - len, "p16=error");
	ck_assert_int_eq(failpoints_read(spec), -1);
	ck_assert_int_eq(aq_failpoint_hit("p0"), 0);
	aq_failpoints_reset();
}
END_TEST

START_TEST(failpoints_fire_once_on_the_nth_hit)
{
	/* unset or empty: nothing armed, nothing fires */
	aq_failpoints_reset();
	unsetenv("ALERTQ_FAILPOINTS");
	ck_assert_int_eq(aq_failpoints_init(), 0);
	ck_assert(!aq_failpoints_armed);
	ck_assert_int_eq(failpoints_read(""), 0);
	ck_assert(!aq_failpoints_armed);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);

	/* error: -1 once, on the first hit */
	ck_assert_int_eq(failpoints_read("a=error"), 0);
	ck_assert(aq_failpoints_armed);
	ck_assert_int_eq(AQ_FAILPOINT("b"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), -1);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);

	/* N*: on the N-th hit of that point, each point counted alone; empty
	 * entries are allowed */
	ck_assert_int_eq(failpoints_read(";a=3*error;;b=error;c=1*error;"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("b"), -1);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("c"), -1);
	ck_assert_int_eq(AQ_FAILPOINT("a"), -1);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
		ck_assert_int_eq(AQ_FAILPOINT("b"), 0);
	}

	/* several entries of one point: each counts every hit */
	ck_assert_int_eq(failpoints_read("a=1*error;a=3*error"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), -1);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), -1);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);

	/* sleep(MS): the caller waits, and the step does not fail */
	ck_assert_int_eq(failpoints_read("a=2*sleep(60)"), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	ck_assert_int_eq(AQ_FAILPOINT("a"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 60, "slept %ld ms", ms);

	/* a reset forgets everything */
	ck_assert_int_eq(failpoints_read("a=error"), 0);
	aq_failpoints_reset();
	ck_assert(!aq_failpoints_armed);
	ck_assert_int_eq(aq_failpoint_hit("a"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("base");
	tcase_add_test(tc, utf8_validity);
	tcase_add_test(tc, utf8_cut_on_boundaries);
	tcase_add_test(tc, text_clean_is_valid_and_bounded);
	tcase_add_test(tc, buf_grows_to_its_cap_and_no_further);
	tcase_add_test(tc, strmap_maps_many_names);
	tcase_add_test(tc, terminal_text_cannot_drive_the_terminal);
	tcase_add_test(tc, failpoints_refuse_a_bad_spec);
	tcase_add_test(tc, failpoints_fire_once_on_the_nth_hit);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
