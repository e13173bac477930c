#!/usr/bin/env bash
# test.sh - builds alertq and runs every test: the unit tests (Check) and the
# end-to-end tests that drive the real binaries against the development
# broker and a throwaway PostgreSQL started here.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
"$top/scripts/build.sh" "$build"

pgdir=$(mktemp -d /tmp/alertq-test-pg.XXXXXX)
cleanup() { "$top/tests/tools/pg.sh" stop "$pgdir" || true; rm -rf "$pgdir"; }
trap cleanup EXIT
ALERTQ_TEST_DSN=$(ALERTQ_PG_FSYNC=off "$top/tests/tools/pg.sh" start "$pgdir")
export ALERTQ_TEST_DSN

cd "$build"
ctest --output-on-failure --timeout 900 "$@"
