#!/usr/bin/env bash
# test.sh - builds alertq and runs every test: the unit tests (Check) and the
# end-to-end tests that drive the real binaries against the development
# broker and a throwaway PostgreSQL started here; then a short fuzz run of
# every libFuzzer target (scripts/fuzz.sh, 20 s each) and the memory checks
# (scripts/sanitize.sh: unit tests and the pipeline test under ASan+UBSan,
# unit tests under valgrind). ALERTQ_TEST_QUICK=1 runs the ctest stage only.
# A formatting difference (scripts/format.sh --check) fails too.
# Each stage says when it fails; the last line counts every test and stage.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
"$top/scripts/build.sh" "$build"

pgdir=$(mktemp -d /tmp/alertq-test-pg.XXXXXX)
cleanup() { "$top/tests/tools/pg.sh" stop "$pgdir" || true; rm -rf "$pgdir"; }
trap cleanup EXIT
ALERTQ_TEST_DSN=$(ALERTQ_PG_FSYNC=off "$top/tests/tools/pg.sh" start "$pgdir")
export ALERTQ_TEST_DSN

stage_passed=0
stage_failed=0
failed_stages=()
echo "test.sh: stage format (scripts/format.sh --check)"
if "$top/scripts/format.sh" --check; then
	stage_passed=$((stage_passed + 1))
else
	stage_failed=$((stage_failed + 1))
	failed_stages+=("format (scripts/format.sh --check)")
fi
ctest_log=$(mktemp /tmp/alertq-ctest.XXXXXX)
echo "test.sh: stage ctest"
if (cd "$build" && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$ctest_log"; then
	:
else
	failed_stages+=("ctest")
fi
# "100% tests passed, 0 tests failed out of 14"
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$ctest_log" | tail -n 1 || true)
rm -f "$ctest_log"
if [ -n "$summary" ]; then
	total=$(echo "$summary" | sed -E 's/.* out of ([0-9]+).*/\1/')
	bad=$(echo "$summary" | sed -E 's/.*, ([0-9]+) tests? failed.*/\1/')
	stage_passed=$((stage_passed + total - bad))
	stage_failed=$((stage_failed + bad))
elif [ ${#failed_stages[@]} -ne 0 ]; then
	stage_failed=$((stage_failed + 1))
fi

if [ "${ALERTQ_TEST_QUICK:-0}" != 1 ]; then
	echo "test.sh: stage fuzz (20 s per target)"
	if "$top/scripts/fuzz.sh" 20; then
		stage_passed=$((stage_passed + 1))
	else
		stage_failed=$((stage_failed + 1))
		failed_stages+=("fuzz (scripts/fuzz.sh)")
	fi
	echo "test.sh: stage sanitize (ASan+UBSan, valgrind)"
	if ALERTQ_PLAIN_BUILD=$build "$top/scripts/sanitize.sh"; then
		stage_passed=$((stage_passed + 1))
	else
		stage_failed=$((stage_failed + 1))
		failed_stages+=("sanitize (scripts/sanitize.sh)")
	fi
fi

if [ ${#failed_stages[@]} -ne 0 ]; then
	printf 'test.sh: FAILED stage: %s\n' "${failed_stages[@]}"
fi
echo "$stage_passed passed, $stage_failed failed"
[ ${#failed_stages[@]} -eq 0 ]
