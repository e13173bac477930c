#!/usr/bin/env bash
# run.sh - the benchmark, in one command: builds alertq, starts its own dev
# broker and PostgreSQL, measures Kafka's ceiling and alertq beside it in the
# same run, prints the table and writes it to bench/results.md (or $1).
#
# Sizes (environment): BENCH_RESULTS throughput results per run (1000000),
# BENCH_SUBMIT lines for submit --file (200000), BENCH_CEILING events for the
# ceiling (1000000), BENCH_LATENCY_S seconds of the latency run (15);
# BENCH_KEEP=1 keeps the work directory (logs, receiver records).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/bench/results.md}
build=${ALERTQ_BENCH_BUILD:-$top/build-bench}
results=${BENCH_RESULTS:-1000000}
submit_n=${BENCH_SUBMIT:-200000}
ceiling_n=${BENCH_CEILING:-1000000}
latency_s=${BENCH_LATENCY_S:-15}
notify_n=50000
partitions=12
bin=$build
tools=$build/bench

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

say "building into $build"
"$top/scripts/build.sh" "$build" -DALERTQ_BENCH=ON

work=$(mktemp -d /tmp/alertq-bench.XXXXXX)
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

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
sink_port=$(free_port)
config=$work/alertq.yaml
cat >"$config" <<EOF
kafka:
  brokers: 127.0.0.1:9092
  topic: alertq.checks
  dead_letter_topic: alertq.checks.dlq
  group: alertq-bench
state:
  dsn: postgresql://unused@127.0.0.1:1/unused
log_dir: $work/log
rules:
  - match: "*"
    warning: "> 50"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL:
      levels:
        - { after: 0s, notify: [hook] }
    resolved: true
channels:
  hook: { type: webhook, url: "http://127.0.0.1:$sink_port/hook", format: json }
EOF
mkdir -p "$work/log"

# --- the pieces each measurement starts afresh: broker, database, sink, workers ---

# start_broker NAME: a new dev broker with the config's topics; sets brokers
start_broker() {
	rm -f "$work/$1.boot"
	"$bin/alertq-devbroker" -c "$config" --port 0 --partitions $partitions \
		--bootstrap-file "$work/$1.boot" >"$work/$1.broker.log" 2>&1 &
	broker_pid=$!
	pids+=("$broker_pid")
	for _ in $(seq 100); do [ -s "$work/$1.boot" ] && break; sleep 0.1; done
	[ -s "$work/$1.boot" ] || die "the dev broker did not start (see $work/$1.broker.log)"
	brokers=$(cat "$work/$1.boot")
	export ALERTQ_KAFKA_BROKERS=$brokers
}
stop_broker() { kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; }

# new_db NAME: a new database; sets db and exports it to alertq
new_db() {
	psql -X -q "$server_dsn" -c "CREATE DATABASE bench_$1" >/dev/null
	db=${server_dsn%/*}/bench_$1
	export ALERTQ_STATE_DSN=$db
}
sql() { psql -X -q -At "$db" -c "$1"; }

# start_sink FILE
start_sink() {
	"$tools/bench_sink" "$sink_port" "$1" &
	sink_pid=$!
	pids+=("$sink_pid")
	sleep 0.2
}
stop_sink() { kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; }

# start_workers NAME COUNT: starts COUNT workers, waits until the group has
# settled with every partition assigned once; sets workers
start_workers() {
	workers=()
	for i in $(seq "$2"); do
		"$bin/alertq-worker" -c "$config" >"$work/$1.worker$i.log" 2>&1 &
		workers+=("$!")
		pids+=("$!")
	done
	local deadline=$((SECONDS + 90))
	while [ $SECONDS -lt $deadline ]; do
		local total=0 ok=1
		for i in $(seq "$2"); do
			local last
			last=$(grep -o 'partitions assigned: \[[0-9,]*\]' "$work/$1.worker$i.log" | tail -n 1 || true)
			[ -n "$last" ] || { ok=0; break; }
			# a later revoke means a new assignment is coming
			if [ "$(grep -c 'partitions revoked' "$work/$1.worker$i.log" || true)" -ge \
				"$(grep -c 'partitions assigned' "$work/$1.worker$i.log")" ]; then ok=0; break; fi
			last=${last#*[}; last=${last%]}
			[ -n "$last" ] && total=$((total + $(tr ',' '\n' <<<"$last" | wc -l)))
		done
		if [ $ok = 1 ] && [ $total = $partitions ]; then sleep 1; return 0; fi
		sleep 0.2
	done
	die "workers of $1 did not settle on $partitions partitions (see $work/$1.worker*.log)"
}
stop_workers() {
	for pid in "${workers[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
}

applied() { sql "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM alertq_offsets"; }

# wait_applied N TIMEOUT: polls the stored offsets until they sum to N;
# prints the time it was seen (us) or fails
wait_applied() {
	local line
	line=$("$tools/bench_ceiling" applied "$db" "$1" "$2") || return 1
	field at_us "$line"
}

# field KEY LINE: the value of key=value in line
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# no_loss NAME: nothing removed by the broker's retention, nothing dead-lettered
no_loss() {
	local marks low
	marks=$("$tools/bench_ceiling" marks "$brokers" alertq.checks)
	low=$(field low "$marks")
	[ "$low" = 0 ] || die "$1: the broker dropped events (low watermarks sum to $low)"
	! grep -q 'removed by retention\|dead-letter' "$work/$1".worker*.log ||
		die "$1: the worker saw missing offsets or dead letters (see $work/$1.worker*.log)"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }

rows=()
# row FIGURE VALUE CEILING RATIO-NOTE
row() { rows+=("| $1 | $2 | $3 | $4 |"); say "$1: $2 (ceiling $3, $4)"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3g", a / b }'; }

# --- 1. the ceiling ---
say "1. ceiling: $ceiling_n events produced and consumed with librdkafka alone"
start_broker ceiling
line=$("$tools/bench_ceiling" produce "$brokers" alertq.checks "$ceiling_n" 100000) || die "ceiling: produce failed: $line"
produce_rate=$(field rate "$line")
line=$("$tools/bench_ceiling" consume "$brokers" alertq.checks "$ceiling_n") || die "ceiling: consume failed: $line"
consume_rate=$(field rate "$line")
[ "$(field consumed "$line")" = "$ceiling_n" ] || die "ceiling: consumed $(field consumed "$line") of $ceiling_n"
line=$("$tools/bench_ceiling" consume "$brokers" alertq.checks "$ceiling_n" decode) || die "ceiling: decode failed: $line"
decode_rate=$(field rate "$line")
line=$("$tools/bench_ceiling" marks "$brokers" alertq.checks)
[ "$(field low "$line")" = 0 ] || die "ceiling: the broker dropped events ($line)"
line=$("$tools/bench_ceiling" consume "$brokers" alertq.checks 100000) || die "ceiling: consume failed: $line"
consumer_rss=$(field rss_kib "$line")
line=$("$tools/bench_ceiling" latency "$brokers" alertq.checks.dlq 200 "$latency_s") || die "ceiling: latency failed: $line"
ceil_p50=$(field p50_us "$line"); ceil_p99=$(field p99_us "$line"); ceil_max=$(field max_us "$line")
stop_broker
start_sink "$work/http-ceiling.sink"
line=$("$tools/bench_ceiling" http "http://127.0.0.1:$sink_port/hook" "$notify_n" 4) || die "ceiling: http failed: $line"
http_rate=$(field rate "$line")
stop_sink
row "raw produce (librdkafka, alertq's producer settings)" "$produce_rate/s" "-" "-"
row "raw consume (librdkafka, no processing)" "$consume_rate/s" "-" "-"
row "raw consume + alertq decode" "$decode_rate/s" "$consume_rate/s" "$(ratio "$decode_rate" "$consume_rate")"

# --- 2. submit --file ---
say "2. alertq-producer submit --file, $submit_n lines"
start_broker submit
awk -v n="$submit_n" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"check\": \"bench.%06d\", \"value\": %d}\n", i % 100000, (i % 97 == 0) ? 95 : 10 }' >"$work/submit.jsonl"
t0=$(date +%s%6N)
"$bin/alertq-producer" -c "$config" submit --file "$work/submit.jsonl" 2>"$work/submit.log" ||
	die "submit --file failed (see $work/submit.log)"
t1=$(date +%s%6N)
line=$("$tools/bench_ceiling" marks "$brokers" alertq.checks)
[ "$(field high "$line")" = "$submit_n" ] && [ "$(field low "$line")" = 0 ] ||
	die "submit: the topic holds $line, not $submit_n"
stop_broker
submit_rate=$(rate "$submit_n" $((t1 - t0)))
row "submit --file ($submit_n lines, whole command)" "$submit_rate/s" "$produce_rate/s (raw produce)" \
	"$(ratio "$submit_rate" "$produce_rate")"

# --- 3. worker throughput, state durable ---
for nw in 1 2; do
	for checks in 10000 100000; do
		name=tp${nw}w${checks}
		say "3. throughput: $nw worker(s), $checks checks, $results results, 1% changing severity"
		start_broker "$name"
		new_db "$name"
		start_sink "$work/$name.sink"
		start_workers "$name" "$nw"
		"$tools/bench_gen" "$config" load "$results" "$checks" 0 10 >"$work/$name.gen" 2>&1 &
		gen=$!
		pids+=("$gen")
		t1=$(wait_applied "$results" 300) || die "$name: not applied within 300 s ($(applied) of $results)"
		wait "$gen" || die "$name: the generator failed (see $work/$name.gen)"
		t0=$(field start_us "$(cat "$work/$name.gen")")
		no_loss "$name"
		expect=$((results < checks ? results : checks))
		[ "$(sql 'SELECT count(*) FROM alertq_checks')" = "$expect" ] || die "$name: not every check has state"
		transitions=$(sql 'SELECT count(*) FROM alertq_transitions')
		stop_workers
		stop_sink
		stop_broker
		value=$(rate "$results" $((t1 - t0)))
		row "worker throughput, $nw worker(s), $((checks / 1000))k checks ($results results, $transitions transitions)" \
			"$value/s" "$consume_rate/s (raw consume)" "$(ratio "$value" "$consume_rate")"
	done
done

# --- 4. produce -> webhook latency ---
say "4. latency: 200 results/s for $latency_s s, every one a transition"
start_broker latency
new_db latency
start_sink "$work/latency.sink"
start_workers latency 1
"$tools/bench_gen" "$config" pace 200 "$latency_s" 100 "$work/latency.sends" >"$work/latency.gen" 2>&1 ||
	die "latency: the generator failed (see $work/latency.gen)"
sent=$(wc -l <"$work/latency.sends")
for _ in $(seq 100); do
	[ "$(awk '{ print $3 }' "$work/latency.sink" | sort -u | wc -l)" -ge "$sent" ] && break
	sleep 0.1
done
stop_workers
stop_sink
stop_broker
# the first arrival of each event's notification, less its send time
awk 'NR == FNR { sent[$1] = $2; next } ($3 in sent) && !($3 in seen) { seen[$3] = 1; print $1 - sent[$3] }' \
	"$work/latency.sends" "$work/latency.sink" | sort -n >"$work/latency.us"
got=$(wc -l <"$work/latency.us")
[ "$got" = "$sent" ] || die "latency: $got of $sent results reached the webhook"
pct() { awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.1f", v[i] / 1000 }' "$work/latency.us"; }
p50=$(pct 0.5); p99=$(pct 0.99); pmax=$(pct 1)
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
row "produce -> webhook p50 ($sent results at 200/s)" "$p50 ms" "$(ms "$ceil_p50") ms (produce -> consume)" "$(ratio "$p50" "$(ms "$ceil_p50")")"
row "produce -> webhook p99" "$p99 ms" "$(ms "$ceil_p99") ms" "$(ratio "$p99" "$(ms "$ceil_p99")")"
row "produce -> webhook max" "$pmax ms" "$(ms "$ceil_max") ms" "$(ratio "$pmax" "$(ms "$ceil_max")")"

# --- 5. notifications for 50k new alerts ---
say "5. notifications: $notify_n new CRITICAL alerts to the webhook"
start_broker notify
new_db notify
start_sink "$work/notify.sink"
start_workers notify 1
"$tools/bench_gen" "$config" load "$notify_n" "$notify_n" 0 -1 >"$work/notify.gen" 2>&1 ||
	die "notifications: the generator failed (see $work/notify.gen)"
t0=$(field start_us "$(cat "$work/notify.gen")")
for _ in $(seq 1200); do
	[ "$(wc -l <"$work/notify.sink")" -ge "$notify_n" ] &&
		[ "$(awk '{ print $2 }' "$work/notify.sink" | sort -u | wc -l)" -ge "$notify_n" ] && break
	sleep 0.1
done
stop_workers
stop_sink
stop_broker
distinct=$(awk '{ print $2 }' "$work/notify.sink" | sort -u | wc -l)
[ "$distinct" -ge "$notify_n" ] || die "notifications: $distinct of $notify_n reached the webhook"
# when the last distinct notification first arrived
t1=$(awk '!($2 in seen) { seen[$2] = 1; last = $1 } END { print last }' "$work/notify.sink")
value=$(rate "$notify_n" $((t1 - t0)))
row "distinct notifications to the webhook, $((notify_n / 1000))k new alerts" "$value/s" \
	"$http_rate/s (libcurl alone, 4 connections)" "$(ratio "$value" "$http_rate")"

# --- 6. resident memory ---
say "6. memory: one worker after 50k and 100k distinct checks"
start_broker memory
new_db memory
start_sink "$work/memory.sink"
start_workers memory 1
"$tools/bench_gen" "$config" load 50000 100000 0 10 >"$work/memory.gen1" 2>&1 || die "memory: generator failed"
wait_applied 50000 300 >/dev/null || die "memory: 50k not applied"
sleep 1
rss50=$(rss_kib "${workers[0]}")
"$tools/bench_gen" "$config" load 50000 100000 50000 10 >"$work/memory.gen2" 2>&1 || die "memory: generator failed"
wait_applied 100000 300 >/dev/null || die "memory: 100k not applied"
sleep 1
rss100=$(rss_kib "${workers[0]}")
no_loss memory
stop_workers
stop_sink
stop_broker
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
row "worker resident memory, 50k checks" "$(mb "$rss50") MB" "$(mb "$consumer_rss") MB (bare consumer, 100k events)" "$(ratio "$rss50" "$consumer_rss")"
row "worker resident memory, 100k checks" "$(mb "$rss100") MB" "$(mb "$consumer_rss") MB" "$(ratio "$rss100" "$consumer_rss")"

# --- the table ---
{
	echo "# alertq benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),"
	echo "kernel $(uname -r), commit ${BENCH_COMMIT:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)}."
	echo "Dev broker ($partitions partitions, zstd), PostgreSQL with fsync on, one machine shared by all."
	echo "Ratio = value / ceiling measured in the same run (for latency and memory, lower is better)."
	echo
	echo "| figure | value | ceiling | ratio |"
	echo "| --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} >"$out"
echo
cat "$out"
