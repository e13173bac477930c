#!/usr/bin/env bash
# run.sh - the benchmark, in one command: builds alertq, starts its own dev
# broker and PostgreSQL, measures Kafka's ceiling and alertq beside it in the
# same run -- and Prometheus Alertmanager, the peer, when it is installed --
# prints the tables and writes them to bench/results.md (or $1).
#
# Sizes (environment): BENCH_RESULTS throughput results per run (1000000),
# BENCH_SUBMIT lines for submit --file (200000), BENCH_CEILING events for the
# ceiling (1000000), BENCH_LATENCY_S seconds of the latency run (15);
# BENCH_KEEP=1 keeps the work directory (logs, receiver records);
# BENCH_CURVE results per point of the curve (300000; 200000 at 1M checks);
# BENCH_ONLY="latency peers" runs only the stages named (ceiling submit
# throughput curve latency notify memory backlog peers); BENCH_PEERS=1 installs
# Debian's prometheus-alertmanager when it is missing (the peer stage runs
# whenever it is installed, BENCH_PEERS=0 skips it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/bench/results.md}
build=${ALERTQ_BENCH_BUILD:-$top/build-bench}
results=${BENCH_RESULTS:-1000000}
submit_n=${BENCH_SUBMIT:-200000}
submit_rounds=3
ceiling_n=${BENCH_CEILING:-1000000}
latency_s=${BENCH_LATENCY_S:-15}
notify_n=50000
partitions=12
bin=$build
tools=$build/bench

curve_n=${BENCH_CURVE:-300000}
only=${BENCH_ONLY:-ceiling submit throughput curve latency notify memory backlog peers}
stage() { [[ " $only " == *" $1 "* ]]; }

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
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }

rows=()
# pct P [FILE]: the P-quantile (0..1) of sorted microseconds, in ms
pct() { awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.1f", v[i] / 1000 }' "${2:-$work/latency.us}"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# row FIGURE VALUE CEILING RATIO-NOTE
row() { rows+=("| $1 | $2 | $3 | $4 |"); say "$1: $2 (ceiling $3, $4)"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.3g", a / b }'; }

# figures of stages not run (BENCH_ONLY) are 0 and their ratios "-"
aq_ingest=0 aq_notify=0 aq_peak50=0 p50=0 p99=0
produce_rate=0 consume_rate=0 decode_rate=0 consumer_rss=0 http_rate=0
ceil_p50=0 ceil_p99=0 ceil_max=0

# --- 1. the ceiling ---
if stage ceiling; then
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
stop_broker
start_sink "$work/http-ceiling.sink"
line=$("$tools/bench_ceiling" http "http://127.0.0.1:$sink_port/hook" "$notify_n" 4) || die "ceiling: http failed: $line"
http_rate=$(field rate "$line")
stop_sink
row "raw produce (librdkafka, alertq's producer settings)" "$produce_rate/s" "-" "-"
row "raw consume (librdkafka, no processing)" "$consume_rate/s" "-" "-"
row "raw consume + alertq decode" "$decode_rate/s" "$consume_rate/s" "$(ratio "$decode_rate" "$consume_rate")"

fi

# --- 2. submit --file ---
if stage submit; then
say "2. alertq-producer submit --file, $submit_n lines, $submit_rounds times, each beside raw produce"
start_broker submit
awk -v n="$submit_n" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"check\": \"bench.%06d\", \"value\": %d}\n", i % 100000, (i % 97 == 0) ? 95 : 10 }' >"$work/submit.jsonl"
# the machine is shared: each round pairs the command with raw produce of
# as many events on the same broker just before it (to another topic), and
# the median round is reported
submit_pairs=()
for round in $(seq "$submit_rounds"); do
	line=$("$tools/bench_ceiling" produce "$brokers" alertq.checks.dlq "$submit_n" 100000) ||
		die "submit: raw produce failed: $line"
	raw=$(field rate "$line")
	t0=$(date +%s%6N)
	"$bin/alertq-producer" -c "$config" submit --file "$work/submit.jsonl" 2>"$work/submit.log" ||
		die "submit --file failed (see $work/submit.log)"
	t1=$(date +%s%6N)
	line=$("$tools/bench_ceiling" marks "$brokers" alertq.checks)
	[ "$(field high "$line")" = $((submit_n * round)) ] && [ "$(field low "$line")" = 0 ] ||
		die "submit: the topic holds $line, not $((submit_n * round))"
	sub=$(rate "$submit_n" $((t1 - t0)))
	say "submit round $round: $sub/s beside raw produce $raw/s"
	submit_pairs+=("$(ratio "$sub" "$raw") $sub $raw")
done
stop_broker
read -r submit_ratio submit_rate submit_raw < <(printf '%s\n' "${submit_pairs[@]}" | sort -g | sed -n "$(((submit_rounds + 1) / 2))p")
row "submit --file ($submit_n lines, whole command; median of $submit_rounds rounds)" "$submit_rate/s" \
	"$submit_raw/s (raw produce of $submit_n just before)" "$submit_ratio"
[ "$produce_rate" = 0 ] ||
	row "the same against raw produce of 1M events (the ceiling stage)" "$submit_rate/s" "$produce_rate/s" \
		"$(ratio "$submit_rate" "$produce_rate")"

fi

# --- 3. worker throughput, state durable ---
if stage throughput; then
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
		[ "$nw-$checks" = 1-10000 ] && aq_ingest=$value
		row "worker throughput, $nw worker(s), $((checks / 1000))k checks ($results results, $transitions transitions)" \
			"$value/s" "$consume_rate/s (raw consume)" "$(ratio "$value" "$consume_rate")"
	done
done

fi

# --- 3b. the curve: one worker's rate at 1k, 10k, 100k and 1M distinct checks ---
if stage curve; then
# each check gets its state first (one result each, not timed), then
# curve_n results over all of them are timed, 1% changing severity; 1M
# checks take fewer (two thirds) to keep the stage within ~3 minutes
curve_config=$work/alertq-curve.yaml
sed 's|^  dsn: .*|&\n  max_checks: 2000000|' "$config" >"$curve_config"
grep -q 'max_checks: 2000000' "$curve_config" || die "curve: cannot raise state.max_checks"
saved_config=$config
config=$curve_config
curve_points=(1000 10000 100000 1000000)
declare -A curve_rate curve_count
for checks in "${curve_points[@]}"; do
	name=curve$checks
	n=$curve_n
	[ "$checks" -ge 1000000 ] && n=$((curve_n * 2 / 3))
	say "3b. curve: 1 worker, $checks checks: state for each, then $n results timed"
	start_broker "$name"
	new_db "$name"
	start_sink "$work/$name.sink"
	start_workers "$name" 1
	"$tools/bench_gen" "$config" load "$checks" "$checks" 0 0 >"$work/$name.warm" 2>&1 ||
		die "$name: the generator failed (see $work/$name.warm)"
	wait_applied "$checks" 600 >/dev/null || die "$name: the first $checks not applied within 600 s ($(applied))"
	"$tools/bench_gen" "$config" load "$n" "$checks" 0 10 >"$work/$name.gen" 2>&1 ||
		die "$name: the generator failed (see $work/$name.gen)"
	t1=$(wait_applied $((checks + n)) 600) || die "$name: not applied within 600 s ($(applied) of $((checks + n)))"
	t0=$(field start_us "$(cat "$work/$name.gen")")
	no_loss "$name"
	[ "$(sql 'SELECT count(*) FROM alertq_checks')" = "$checks" ] || die "$name: not every check has state"
	stop_workers
	stop_sink
	stop_broker
	curve_rate[$checks]=$(rate "$n" $((t1 - t0)))
	curve_count[$checks]=$n
done
config=$saved_config
for checks in "${curve_points[@]}"; do
	label=$((checks / 1000))k
	[ "$checks" -ge 1000000 ] && label=$((checks / 1000000))M
	row "curve: 1 worker, $label checks (${curve_count[$checks]} results after one for each check)" \
		"${curve_rate[$checks]}/s" "${curve_rate[10000]}/s (10k checks)" \
		"$(ratio "${curve_rate[$checks]}" "${curve_rate[10000]}")"
done

fi

# --- 4. produce -> webhook latency ---
if stage latency; then
say "4. latency: 200 results/s for $latency_s s, every one a transition"
start_broker latency
# the floor: librdkafka alone, the same producer and consumer settings
line=$("$tools/bench_ceiling" latency "$brokers" alertq.checks.dlq 200 "$latency_s") || die "ceiling: latency failed: $line"
ceil_p50=$(field p50_us "$line"); ceil_p99=$(field p99_us "$line"); ceil_max=$(field max_us "$line")
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
p50=$(pct 0.5); p99=$(pct 0.99); pmax=$(pct 1)
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
row "produce -> webhook p50 ($sent results at 200/s)" "$p50 ms" "$(ms "$ceil_p50") ms (produce -> consume)" "$(ratio "$p50" "$(ms "$ceil_p50")")"
row "produce -> webhook p99" "$p99 ms" "$(ms "$ceil_p99") ms" "$(ratio "$p99" "$(ms "$ceil_p99")")"
row "produce -> webhook max" "$pmax ms" "$(ms "$ceil_max") ms" "$(ratio "$pmax" "$(ms "$ceil_max")")"

fi

# --- 5. notifications for 50k new alerts ---
if stage notify; then
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
aq_notify=$value
row "distinct notifications to the webhook, $((notify_n / 1000))k new alerts" "$value/s" \
	"$http_rate/s (libcurl alone, 4 connections)" "$(ratio "$value" "$http_rate")"

fi

# --- 6. resident memory ---
if stage memory; then
say "6. memory: one worker after 50k and 100k distinct checks"
start_broker memory
new_db memory
start_sink "$work/memory.sink"
start_workers memory 1
"$tools/bench_gen" "$config" load 50000 100000 0 10 >"$work/memory.gen1" 2>&1 || die "memory: generator failed"
wait_applied 50000 300 >/dev/null || die "memory: 50k not applied"
sleep 1
rss50=$(rss_kib "${workers[0]}")
aq_peak50=$(hwm_kib "${workers[0]}")
"$tools/bench_gen" "$config" load 50000 100000 50000 10 >"$work/memory.gen2" 2>&1 || die "memory: generator failed"
wait_applied 100000 300 >/dev/null || die "memory: 100k not applied"
sleep 1
rss100=$(rss_kib "${workers[0]}")
no_loss memory
stop_workers
stop_sink
stop_broker
row "worker resident memory, 50k checks" "$(mb "$rss50") MB" "$(mb "$consumer_rss") MB (bare consumer, 100k events)" "$(ratio "$rss50" "$consumer_rss")"
row "worker resident memory, 100k checks" "$(mb "$rss100") MB" "$(mb "$consumer_rss") MB" "$(ratio "$rss100" "$consumer_rss")"

fi

# --- 7. memory with a backlog: 1M results waiting on 48 partitions ---
if stage backlog; then
say "7. backlog: $results results for 100k checks waiting on 48 partitions, then one worker"
saved_partitions=$partitions
partitions=48
start_broker backlog
new_db backlog
start_sink "$work/backlog.sink"
"$tools/bench_gen" "$config" load "$results" 100000 0 10 >"$work/backlog.gen" 2>&1 ||
	die "backlog: the generator failed (see $work/backlog.gen)"
t0=$(date +%s%6N)
start_workers backlog 1
t1=$(wait_applied "$results" 600) || die "backlog: not applied within 600 s ($(applied) of $results)"
backlog_peak=$(hwm_kib "${workers[0]}")
no_loss backlog
budget=$(grep -o 'prefetch: [0-9]* MiB over [0-9]* partition(s)' "$work/backlog.worker1.log" | head -n 1 || true)
stop_workers
stop_sink
stop_broker
partitions=$saved_partitions
row "worker peak resident memory, 100k checks, $((results / 1000))k-result backlog on 48 partitions (${budget:-prefetch budget not logged})" \
	"$(mb "$backlog_peak") MB" "64 MB (target)" "$(ratio "$backlog_peak" 65536)"
row "worker throughput draining that backlog (from the worker's start, group join included)" \
	"$(rate "$results" $((t1 - t0)))/s" "$consume_rate/s (raw consume)" "$(ratio "$(rate "$results" $((t1 - t0)))" "$consume_rate")"
fi

# --- 8. the peer: Prometheus Alertmanager, same machine, same sink ---
am_bin=/usr/bin/prometheus-alertmanager
peer_rows=()
am_config=$work/alertmanager.yml
if stage peers && [ "${BENCH_PEERS:-}" != 0 ]; then
if [ ! -x "$am_bin" ] && [ "${BENCH_PEERS:-}" = 1 ]; then
	say "installing Debian's prometheus-alertmanager (BENCH_PEERS=1)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; } ||
		die "cannot install prometheus-alertmanager"
fi
if [ -x "$am_bin" ]; then
am_version="Alertmanager $("$am_bin" --version 2>&1 | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -n 1)"
say "8. peer: $am_version"
# no grouping delay, one group per alert, nothing resolved by timeout
# during the run: every alert posted is one notification, sent at once
cat >"$am_config" <<EOF
global:
  resolve_timeout: 1h
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:$sink_port/hook
        send_resolved: false
EOF
am_port=$(free_port)
am_url=http://127.0.0.1:$am_port
# start_am NAME: a fresh Alertmanager (own storage, no cluster); sets am_pid
start_am() {
	"$am_bin" --config.file="$am_config" --storage.path="$work/$1" \
		--web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
		--log.level=warn >"$work/$1.log" 2>&1 &
	am_pid=$!
	pids+=("$am_pid")
	for _ in $(seq 100); do
		curl -fs "$am_url/-/ready" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "Alertmanager did not start (see $work/$1.log)"
}
stop_am() { kill "$am_pid" 2>/dev/null || true; wait "$am_pid" 2>/dev/null || true; }
peer=$top/bench/peer_am.py

say "8a. peer ingest: $results alerts over 10k label sets, 2 connections"
start_am am-ingest
start_sink "$work/am-ingest.sink"
line=$(/usr/bin/python3 "$peer" "$am_url" load "$results" 10000 2) || die "peer ingest failed: $line"
am_ingest=$(field rate "$line")
stop_am
stop_sink

say "8b. peer notifications: $notify_n new alerts"
start_am am-notify
start_sink "$work/am-notify.sink"
line=$(/usr/bin/python3 "$peer" "$am_url" load "$notify_n" "$notify_n" 2) || die "peer notify failed: $line"
t0=$(field start_us "$line")
for _ in $(seq 1200); do
	[ "$(awk '{ print $3 }' "$work/am-notify.sink" | sort -u | wc -l)" -ge "$notify_n" ] && break
	sleep 0.1
done
am_peak=$(hwm_kib "$am_pid")
am_rss=$(rss_kib "$am_pid")
stop_am
stop_sink
distinct=$(awk '{ print $3 }' "$work/am-notify.sink" | sort -u | wc -l)
[ "$distinct" -ge "$notify_n" ] || die "peer: $distinct of $notify_n alerts reached the webhook"
t1=$(awk '!($3 in seen) { seen[$3] = 1; last = $1 } END { print last }' "$work/am-notify.sink")
am_notify=$(rate "$notify_n" $((t1 - t0)))

say "8c. peer latency: 200 new alerts/s for $latency_s s"
start_am am-latency
start_sink "$work/am-latency.sink"
/usr/bin/python3 "$peer" "$am_url" pace 200 "$latency_s" "$work/am-latency.sends" >"$work/am-latency.gen" 2>&1 ||
	die "peer latency: the poster failed (see $work/am-latency.gen)"
sent=$(wc -l <"$work/am-latency.sends")
for _ in $(seq 100); do
	[ "$(awk '{ print $3 }' "$work/am-latency.sink" | sort -u | wc -l)" -ge "$sent" ] && break
	sleep 0.1
done
stop_am
stop_sink
awk 'NR == FNR { sent[$1] = $2; next } ($3 in sent) && !($3 in seen) { seen[$3] = 1; print $1 - sent[$3] }' \
	"$work/am-latency.sends" "$work/am-latency.sink" | sort -n >"$work/am-latency.us"
got=$(wc -l <"$work/am-latency.us")
[ "$got" = "$sent" ] || die "peer latency: $got of $sent alerts reached the webhook"
am_p50=$(pct 0.5 "$work/am-latency.us")
am_p99=$(pct 0.99 "$work/am-latency.us")

# peer_row FIGURE ALERTQ-TEXT PEER-TEXT ALERTQ PEER
peer_row() { peer_rows+=("| $1 | $2 | $3 | $(ratio "$4" "$5") |"); say "peer: $1: alertq $2, Alertmanager $3"; }
peer_row "ingest, 10k distinct checks / label sets ($results results)" "$aq_ingest/s" "$am_ingest/s" "$aq_ingest" "$am_ingest"
peer_row "distinct notifications/s to the webhook, $((notify_n / 1000))k new alerts" "$aq_notify/s" "$am_notify/s" "$aq_notify" "$am_notify"
peer_row "p50 result (alert) -> webhook at 200/s" "$p50 ms" "$am_p50 ms" "$p50" "$am_p50"
peer_row "p99 result (alert) -> webhook at 200/s" "$p99 ms" "$am_p99 ms" "$p99" "$am_p99"
peer_row "peak resident memory, 50k checks (alerts)" "$(mb "$aq_peak50") MB" "$(mb "$am_peak") MB" "$aq_peak50" "$am_peak"
else
	say "8. peer: prometheus-alertmanager is not installed (BENCH_PEERS=1 installs it); skipped"
fi
fi

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
	if [ ${#peer_rows[@]} -gt 0 ]; then
		echo
		echo "## Beside $am_version: same machine, same sink, same run"
		echo
		echo "Alerts posted to its API v2 (/api/v2/alerts) in posts of 1000 over 2 kept-alive"
		echo "connections (bench/peer_am.py; one alert a post when paced at 200/s), each with an"
		echo "event_id label that bench_sink records. alertq's figures are those of the table"
		echo "above (peak resident memory: VmHWM of the worker at 50k checks). Ratio = alertq /"
		echo "Alertmanager: above 1 is better for rates, below 1 for latency and memory."
		echo "Alertmanager keeps alerts in memory; alertq commits state before it notifies."
		echo
		echo "| figure | alertq | Alertmanager | ratio |"
		echo "| --- | --- | --- | --- |"
		printf '%s\n' "${peer_rows[@]}"
		echo
		echo "Alertmanager's configuration:"
		echo
		echo '```yaml'
		sed "s/:$sink_port\//:SINK_PORT\//" "$am_config"
		echo '```'
	fi
} >"$out"
echo
cat "$out"
