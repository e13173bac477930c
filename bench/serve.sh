#!/usr/bin/env bash
# serve.sh - the load test of `alertq serve`: builds alertq, starts its own dev
# broker, PostgreSQL and a worker, fills the state with 50,000 checks, then
# measures with wrk the HTTP layer's ceiling (GET /-/healthy), the alert list
# (GET /api/v1/alerts) and ingest (POST /api/v1/results, 100 results a
# request) beside the raw publish rate measured in the same run. Prints the
# table and writes it to bench/serve-results.md (or $1).
#
# Environment: BENCH_CHECKS checks in the state (50000), BENCH_WRK_S seconds
# per wrk run (10), BENCH_WRK_THREADS (2) and BENCH_WRK_CONNS (16) for wrk,
# BENCH_ALERTS_CONNS (2) connections for the alert list, whose requests each
# read the whole state (16 of them at once answer none within a run), BENCH_CEILING events for the raw produce (200000), BENCH_ALERTS_PATH the
# alert list's path (/api/v1/alerts?limit=500); BENCH_KEEP=1 keeps the work
# directory; BENCH_NO_BUILD=1 uses $ALERTQ_BENCH_BUILD as it is (built with
# -DALERTQ_BENCH=ON). Needs wrk (scripts/deps.sh installs it) and curl.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/bench/serve-results.md}
build=${ALERTQ_BENCH_BUILD:-$top/build-bench}
checks=${BENCH_CHECKS:-50000}
wrk_s=${BENCH_WRK_S:-10}
wrk_threads=${BENCH_WRK_THREADS:-2}
wrk_conns=${BENCH_WRK_CONNS:-16}
alerts_conns=${BENCH_ALERTS_CONNS:-2}
ceiling_n=${BENCH_CEILING:-200000}
alerts_path=${BENCH_ALERTS_PATH:-/api/v1/alerts?limit=500}
batch=100 # results in one POST /api/v1/results
partitions=12
bin=$build
tools=$build/bench

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { say "serve.sh: $*"; exit 1; }

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or scripts/deps.sh)"
command -v curl >/dev/null || die "curl is not installed"

if [ -z "${BENCH_NO_BUILD:-}" ]; then
	say "building into $build"
	"$top/scripts/build.sh" "$build" -DALERTQ_BENCH=ON
fi
"$bin/alertq" --help 2>&1 | grep -Eq '^[[:space:]]+serve([[:space:]]|$)' ||
	die "this alertq ($bin/alertq) has no serve command: build a tree that has alertq serve"

work=$(mktemp -d /tmp/alertq-serve-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$top/tests/tools/pg.sh" stop "$work/pg" || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

server_dsn=$("$top/tests/tools/pg.sh" start "$work/pg")
say "PostgreSQL at $server_dsn (fsync on); work in $work"
psql -X -q "$server_dsn" -c "CREATE DATABASE bench_serve" >/dev/null
db=${server_dsn%/*}/bench_serve
export ALERTQ_STATE_DSN=$db

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
base=http://127.0.0.1:$port
config=$work/alertq.yaml
mkdir -p "$work/log"
# no http section: no tokens, so serve listens on loopback only (--listen
# below) and asks no one for a token
cat >"$config" <<EOF
kafka:
  brokers: 127.0.0.1:9092
  topic: alertq.checks
  dead_letter_topic: alertq.checks.dlq
  group: alertq-bench-serve
state:
  dsn: postgresql://unused@127.0.0.1:1/unused
log_dir: $work/log
rules:
  - match: "*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
escalations:
  log:
    CRITICAL:
      levels:
        - { after: 0s, notify: [logfile] }
channels:
  logfile: { type: logfile }
EOF

field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3g", a / b }'; }
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); say "$1: $2 (ceiling $3, $4)"; }

# --- the dev broker and the raw publish rate ---
"$bin/alertq-devbroker" -c "$config" --port 0 --partitions $partitions \
	--bootstrap-file "$work/boot" >"$work/broker.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do [ -s "$work/boot" ] && break; sleep 0.1; done
[ -s "$work/boot" ] || die "the dev broker did not start (see $work/broker.log)"
brokers=$(cat "$work/boot")
export ALERTQ_KAFKA_BROKERS=$brokers

# the raw rate goes to the dead-letter topic, so the checks topic holds only
# what the state and serve put there
say "1. raw produce: $ceiling_n events with librdkafka alone"
line=$("$tools/bench_ceiling" produce "$brokers" alertq.checks.dlq "$ceiling_n" 100000) ||
	die "raw produce failed: $line"
produce_rate=$(field rate "$line")

# --- the state: $checks checks, about 1% of them CRITICAL ---
say "2. filling the state: $checks checks through one worker"
"$bin/alertq-worker" -c "$config" >"$work/worker.log" 2>&1 &
worker=$!
pids+=("$worker")
line=$("$tools/bench_gen" "$config" load "$checks" "$checks" 0 10) || die "the generator failed: $line"
publisher_rate=$(field rate "$line")
"$tools/bench_ceiling" applied "$db" "$checks" 600 >/dev/null ||
	die "the worker did not apply $checks results within 600 s (see $work/worker.log)"
kill "$worker"
wait "$worker" 2>/dev/null || true
n_checks=$(psql -X -q -At "$db" -c "SELECT count(*) FROM alertq_checks")
[ "$n_checks" = "$checks" ] || die "the state holds $n_checks checks, not $checks"

# --- alertq serve ---
"$bin/alertq" -c "$config" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 100); do
	curl -fsS -o /dev/null "$base/-/healthy" 2>/dev/null && break
	kill -0 "$serve_pid" 2>/dev/null || die "alertq serve exited (see $work/serve.log)"
	sleep 0.1
done
curl -fsS -o /dev/null "$base/-/ready" || die "alertq serve is not ready (see $work/serve.log)"
alerts_s=$(curl -fsS -o "$work/alerts.json" -w '%{time_total}' "$base$alerts_path") || die "GET $alerts_path failed"
say "one GET $alerts_path alone: ${alerts_s}s"
n_alerts=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/alerts.json") ||
	die "GET $alerts_path did not give a JSON array"

# one body of $batch submit objects over $batch checks (bench.NNNNNN, in the state)
awk -v n="$batch" 'BEGIN { printf "["; for (i = 0; i < n; i++)
	printf "%s{\"check\": \"bench.%06d\", \"value\": %d}", (i ? "," : ""), i, 10; print "]" }' >"$work/results.json"
accepted=$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$work/results.json" "$base/api/v1/results") ||
	die "POST /api/v1/results failed"
grep -Eq "\"accepted\": *$batch\b" <<<"$accepted" || die "POST /api/v1/results answered $accepted"
cat >"$work/post.lua" <<EOF
local f = io.open("$work/results.json")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF

# run_wrk NAME URL [SCRIPT [CONNECTIONS]]: requests/s; fails on socket errors or non-2xx answers
run_wrk() {
	local log=$work/wrk-$1.log conns=${4:-$wrk_conns}
	# --timeout: wrk's default of 2 s drops slow answers without a word, and
	# a run where none came back in time reads as 0 requests/s
	wrk -t"$wrk_threads" -c"$conns" -d"${wrk_s}s" --timeout 60s ${3:+-s "$3"} "$2" >"$log" 2>&1 ||
		die "wrk $1 failed (see $log)"
	! grep -q 'Non-2xx or 3xx responses\|Socket errors' "$log" || die "wrk $1: errors: $(grep -h 'Non-2xx\|Socket' "$log")"
	grep -Eq '^ +[1-9][0-9]* requests in' "$log" || die "wrk $1: no request answered within ${wrk_s}s (see $log)"
	awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$log"
}

say "3. GET /-/healthy for ${wrk_s}s, $wrk_conns connections"
healthy_rps=$(run_wrk healthy "$base/-/healthy")
say "4. GET $alerts_path ($n_alerts alerts of $checks checks), $alerts_conns connections"
alerts_rps=$(run_wrk alerts "$base$alerts_path" "" "$alerts_conns")
say "5. POST /api/v1/results, $batch results a request"
before=$(field high "$("$tools/bench_ceiling" marks "$brokers" alertq.checks)")
post_rps=$(run_wrk ingest "$base/api/v1/results" "$work/post.lua")
sleep 1
after=$(field high "$("$tools/bench_ceiling" marks "$brokers" alertq.checks)")
done_requests=$(awk '/requests in/ { print $1 }' "$work/wrk-ingest.log")
# every answered request's results are in the topic (requests cut off at the end may add more)
[ $((after - before)) -ge $((done_requests * batch)) ] ||
	die "ingest: $done_requests requests answered, but the topic grew by $((after - before)), not $((done_requests * batch))"
ingest_rate=$(awk -v r="$post_rps" -v b="$batch" 'BEGIN { printf "%.0f", r * b }')
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true

row "GET /-/healthy (the HTTP layer's ceiling)" "$healthy_rps req/s" "-" "-"
row "GET $alerts_path ($n_alerts alerts, $checks checks, $alerts_conns connections; one request alone ${alerts_s}s)" "$alerts_rps req/s" "$healthy_rps req/s (/-/healthy)" \
	"$(ratio "$alerts_rps" "$healthy_rps")"
row "POST /api/v1/results ($batch a request, $post_rps req/s)" "$ingest_rate results/s" \
	"$produce_rate/s (raw produce)" "$(ratio "$ingest_rate" "$produce_rate")"
row "the same beside alertq's publisher alone (bench_gen)" "$ingest_rate results/s" "$publisher_rate/s" \
	"$(ratio "$ingest_rate" "$publisher_rate")"

{
	echo "# alertq serve benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),"
	echo "kernel $(uname -r), commit ${BENCH_COMMIT:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)}."
	echo "wrk -t$wrk_threads -c$wrk_conns (-c$alerts_conns for the alert list) -d${wrk_s}s on the same machine as alertq serve (no tokens, loopback),"
	echo "the dev broker ($partitions partitions) and PostgreSQL (fsync on); no worker runs while wrk does."
	echo "Ratio = value / ceiling measured in the same run."
	echo
	echo "| figure | value | ceiling | ratio |"
	echo "| --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} >"$out"
echo
cat "$out"
