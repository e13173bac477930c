#!/usr/bin/env bash
# format.sh - formats alertq's C with the project's .clang-format.
#   format.sh          rewrite every file in place
#   format.sh --check  change nothing; list the files that differ, exit 1 if any
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v clang-format >/dev/null || { echo "format.sh: clang-format not installed (apt-get install clang-format)" >&2; exit 1; }
mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h' | grep -v '^tests/fuzz/corpus/')
if [ "${1:-}" = --check ]; then
	bad=0
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			echo "format.sh: $f is not formatted (run scripts/format.sh)" >&2
			bad=1
		fi
	done
	exit $bad
fi
clang-format --style=file -i "${files[@]}"
