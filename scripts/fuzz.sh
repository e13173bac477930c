#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets (tests/fuzz/fuzz_*.c, clang with
# ASan+UBSan) into build-fuzz/ and runs each for SECONDS seconds (default 30)
# from its seed corpus in tests/fuzz/corpus/<target>/. Fails when any target
# finds a crash, a leak or undefined behaviour; the input that did it is left
# in build-fuzz/artifacts/<target>/ (add it to the corpus once fixed).
#
#   scripts/fuzz.sh          # 30 s per target
#   scripts/fuzz.sh 600      # a long run: 10 minutes per target
#   scripts/fuzz.sh 60 fuzz_event fuzz_config   # only these targets
#
# New inputs found are kept in build-fuzz/corpus/<target>/, so a later run
# starts where this one stopped; the committed corpus is never written to.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
shift || true
dir=$top/build-fuzz

"$top/scripts/deps.sh"
CC=clang cmake -S "$top" -B "$dir" -DALERTQ_FUZZ=ON -DALERTQ_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for src in "$top"/tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0

passed=0
failed=0
for t in "${targets[@]}"; do
	work=$dir/corpus/$t
	artifacts=$dir/artifacts/$t
	mkdir -p "$work" "$artifacts"
	log=$dir/$t.log
	echo "fuzz.sh: $t for ${seconds}s"
	if "$dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$work" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz.sh: $t ok, ${runs:-?} inputs run"
		passed=$((passed + 1))
	else
		echo "fuzz.sh: $t FAILED; log $log, input in $artifacts/:" >&2
		grep -E "ERROR|runtime error|SUMMARY|Test unit written|fuzz_[a-z]+:" "$log" | head -20 >&2 || true
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
