#!/usr/bin/env bash
# sanitize.sh - the memory checks: builds alertq with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-asan/ and runs the unit tests and the
# pipeline and hostile-input end-to-end tests under them (leaks included), then runs every unit
# test binary of a plain build under valgrind memcheck, which must report no
# error and no byte definitely lost.
#
#   scripts/sanitize.sh            # unit tests + e2e.test_pipeline and test_hostile under ASan
#   scripts/sanitize.sh --all-e2e  # every end-to-end test under ASan (slow)
#
# The tests need PostgreSQL: ALERTQ_TEST_DSN from the environment (as
# scripts/test.sh exports it), else a throwaway server is started here.
# The plain build for valgrind is $ALERTQ_PLAIN_BUILD (default build/).
# tests/lsan.supp silences leaks inside third-party libraries only.
#
# Only the pipeline test and the hostile-input test (every kind of bad event
# and receiver answer) run under ASan by default: the other end-to-end tests
# drive the same binaries through longer scenarios, and under ASan on two
# cores they would take most of CI's time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
asan=$top/build-asan
plain=${ALERTQ_PLAIN_BUILD:-$top/build}
e2e_filter='^e2e\.test_(pipeline|hostile)$'
if [ "${1:-}" = "--all-e2e" ]; then
	e2e_filter='^e2e\.'
fi

if [ -z "${ALERTQ_TEST_DSN:-}" ]; then
	pgdir=$(mktemp -d /tmp/alertq-sanitize-pg.XXXXXX)
	cleanup() { "$top/tests/tools/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
	trap cleanup EXIT
	ALERTQ_TEST_DSN=$(ALERTQ_PG_FSYNC=off "$top/tests/tools/pg.sh" start "$pgdir")
	export ALERTQ_TEST_DSN
fi

failed_stages=()

echo "sanitize.sh: building with ASan+UBSan into $asan"
"$top/scripts/build.sh" "$asan" -DALERTQ_SANITIZE=ON

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0

echo "sanitize.sh: unit tests under ASan+UBSan"
if ! (cd "$asan" && ctest --output-on-failure --timeout 900 -L unit); then
	failed_stages+=("unit tests under ASan+UBSan")
fi
echo "sanitize.sh: end-to-end tests under ASan+UBSan ($e2e_filter)"
if ! (cd "$asan" && ctest --output-on-failure --timeout 900 -R "$e2e_filter"); then
	failed_stages+=("end-to-end tests under ASan+UBSan")
fi
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

echo "sanitize.sh: unit tests under valgrind memcheck ($plain)"
"$top/scripts/build.sh" "$plain"
vg_passed=0
vg_failed=0
for src in "$top"/tests/unit/test_*.c; do
	name=$(basename "$src" .c)
	log=$plain/valgrind-$name.log
	if (cd "$plain" && CK_FORK=no CK_DEFAULT_TIMEOUT=600 ALERTQ_SOURCE_DIR=$top \
		valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
		--log-file="$log" "./$name" >"$log.out" 2>&1); then
		echo "sanitize.sh: valgrind $name: 0 errors, 0 bytes definitely lost"
		vg_passed=$((vg_passed + 1))
	else
		echo "sanitize.sh: valgrind $name FAILED (log $log):" >&2
		grep -E "==[0-9]+== (ERROR SUMMARY|.*definitely lost|Invalid|Conditional|Use of|at 0x|by 0x)" "$log" | head -40 >&2 || true
		tail -5 "$log.out" >&2 || true
		vg_failed=$((vg_failed + 1))
	fi
done
echo "sanitize.sh: valgrind: $vg_passed passed, $vg_failed failed"
[ "$vg_failed" -eq 0 ] || failed_stages+=("valgrind memcheck of the unit tests")

if [ ${#failed_stages[@]} -ne 0 ]; then
	printf 'sanitize.sh: FAILED: %s\n' "${failed_stages[@]}" >&2
	exit 1
fi
echo "sanitize.sh: ASan, UBSan and valgrind clean"
