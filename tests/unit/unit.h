/* unit.h - what every unit test program shares: running its Check suite */
#ifndef ALERTQ_TESTS_UNIT_H
#define ALERTQ_TESTS_UNIT_H

#include <check.h>
#include <stdlib.h>

/* Runs every test in s and frees it; returns the exit status for main():
 * EXIT_SUCCESS when none failed, EXIT_FAILURE otherwise. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
