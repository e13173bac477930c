#!/usr/bin/env bash
# test_devbroker.sh - alertq-devbroker as its users meet it: fixed port, topics, a real client, signals
set -euo pipefail

BUILD_DIR=${ALERTQ_BUILD_DIR:?set ALERTQ_BUILD_DIR to the build directory}
SOURCE_DIR=${ALERTQ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DEVBROKER=$BUILD_DIR/alertq-devbroker

WORK=$(mktemp -d)
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.err; do
		[ -e "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

pass() {
	echo "ok: $*"
}

# The probe is built with the project when CMake knows it; otherwise build it here.
PROBE=$BUILD_DIR/kafka_probe
if [ ! -x "$PROBE" ]; then
	PROBE=$WORK/kafka_probe
	# shellcheck disable=SC2046
	cc -std=gnu11 -o "$PROBE" "$SOURCE_DIR/tests/tools/kafka_probe.c" $(pkg-config --cflags --libs rdkafka) ||
		fail "cannot build tests/tools/kafka_probe.c"
fi

# True when nothing accepts connections on 127.0.0.1:$1.
port_unused() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts a devbroker in the background with the given arguments, its output in
# $WORK/$name.out and .err; sets STARTED_PID.
start_devbroker() {
	local name=$1
	shift
	"$DEVBROKER" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	STARTED_PID=$!
	PIDS+=("$STARTED_PID")
}

# Waits until the devbroker $2 (named $1) printed its address; prints it.
# Returns 1 when it exits or stays silent for 20 s.
wait_for_address() {
	local name=$1 pid=$2
	for _ in $(seq 200); do
		if [ -s "$WORK/$name.out" ]; then
			head -n 1 "$WORK/$name.out"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Sends SIGTERM to $1 and checks that it exits 0 within 10 s.
stop_cleanly() {
	local pid=$1 rc
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "pid $pid still running 10 s after SIGTERM"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM, expected 0"
}

# --- the command line -------------------------------------------------------

"$DEVBROKER" --version | grep -Eq '^alertq-devbroker [0-9]+\.[0-9]+' || fail "--version"
"$DEVBROKER" --help | grep -q '5 MiB' || fail "--help does not tell the per-partition limit"
"$DEVBROKER" --help | grep -q 'restart' || fail "--help does not tell that nothing survives a restart"
rc=0
"$DEVBROKER" --partitions 0 2>"$WORK/usage.err" || rc=$?
[ "$rc" -eq 2 ] || fail "--partitions 0 exited $rc, expected 2"
rc=0
"$DEVBROKER" --no-such-option 2>>"$WORK/usage.err" || rc=$?
[ "$rc" -eq 2 ] || fail "an unknown option exited $rc, expected 2"
rm -f "$WORK/usage.err"
pass "command line"

# --- a broker on a fixed port -------------------------------------------------

BOOTSTRAP_FILE=$WORK/bootstrap
PORT=
for _ in $(seq 20); do
	candidate=$((20000 + RANDOM % 40000))
	port_unused "$candidate" || continue
	start_devbroker main --port "$candidate" --bootstrap-file "$BOOTSTRAP_FILE"
	MAIN_PID=$STARTED_PID
	if address=$(wait_for_address main "$MAIN_PID"); then
		PORT=$candidate
		break
	fi
	# someone else took the port in between: try another
	grep -q 'already in use' "$WORK/main.err" || fail "devbroker did not start"
done
[ -n "$PORT" ] || fail "no free port found"

[ "$address" = "127.0.0.1:$PORT" ] || fail "printed '$address', expected 127.0.0.1:$PORT"
[ -f "$BOOTSTRAP_FILE" ] || fail "--bootstrap-file was not written"
[ "$(cat "$BOOTSTRAP_FILE")" = "127.0.0.1:$PORT" ] || fail "bootstrap file holds '$(cat "$BOOTSTRAP_FILE")'"
pass "listening on $address, bootstrap file written"

# --- a second broker on the same port -------------------------------------------

rc=0
"$DEVBROKER" --port "$PORT" >"$WORK/second.out" 2>"$WORK/second.err" || rc=$?
[ "$rc" -eq 1 ] || fail "second devbroker on port $PORT exited $rc, expected 1"
grep -qx "alertq-devbroker: port $PORT on 127.0.0.1 is already in use" "$WORK/second.err" ||
	fail "second devbroker did not say the port is in use"
[ ! -s "$WORK/second.out" ] || fail "second devbroker printed an address"
kill -0 "$MAIN_PID" 2>/dev/null || fail "the first devbroker died"
rm -f "$WORK/second.err"
pass "port in use is refused with exit 1"

# --- a real client: metadata, produce, consume in a group ------------------------

for topic in alertq.checks alertq.checks.dlq; do
	out=$("$PROBE" metadata "$address" "$topic" 2>"$WORK/probe.err") || fail "metadata of $topic"
	[ "$out" = "partitions 12" ] || fail "$topic: '$out', expected 12 partitions"
done
pass "alertq.checks and alertq.checks.dlq have 12 partitions"

out=$("$PROBE" produce "$address" alertq.checks 5 2>"$WORK/probe.err") || fail "produce: $out"
[ "$out" = "delivered 5" ] || fail "produce: '$out'"
out=$("$PROBE" consume "$address" alertq.checks e2e-group 5 60 2>"$WORK/probe.err") || fail "consume: $out"
[ "$out" = "consumed 5" ] || fail "consume: '$out'"
pass "5 messages produced and consumed in a group"

# The group's committed offsets are kept: the next member gets only new messages.
out=$("$PROBE" produce "$address" alertq.checks 3 2>"$WORK/probe.err") || fail "produce: $out"
out=$("$PROBE" consume "$address" alertq.checks e2e-group 3 60 2>"$WORK/probe.err") || fail "consume: $out"
[ "$out" = "consumed 3" ] || fail "second consume: '$out'"
rm -f "$WORK/probe.err"
pass "the group resumes from its committed offsets"

# --- SIGTERM ---------------------------------------------------------------------

stop_cleanly "$MAIN_PID"
[ ! -e "$BOOTSTRAP_FILE" ] || fail "bootstrap file left behind after exit"
port_unused "$PORT" || fail "port $PORT still accepts connections after exit"
pass "SIGTERM: exit 0, bootstrap file removed"

# --- topics and partitions from the command line and the configuration -----------

cat >"$WORK/alertq.yaml" <<'EOF'
kafka:
  brokers: 127.0.0.1:9092
  topic: e2e.checks
  dead_letter_topic: e2e.checks.dlq
  group: e2e-workers
EOF
start_devbroker config -c "$WORK/alertq.yaml" --port 0 --partitions 3
CONFIG_PID=$STARTED_PID
address=$(wait_for_address config "$CONFIG_PID") || fail "devbroker with -c did not start"
for topic in e2e.checks e2e.checks.dlq; do
	out=$("$PROBE" metadata "$address" "$topic" 2>"$WORK/probe.err") || fail "metadata of $topic"
	[ "$out" = "partitions 3" ] || fail "$topic: '$out', expected 3 partitions"
done
rm -f "$WORK/probe.err"
kill -INT "$CONFIG_PID"
rc=0
wait "$CONFIG_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGINT, expected 0"
pass "topics of -c and --partitions 3 on $address, SIGINT: exit 0"

# A configuration error is reported as given and nothing starts.
printf 'kafka:\n  topic: [unclosed\n' >"$WORK/broken.yaml"
rc=0
"$DEVBROKER" -c "$WORK/broken.yaml" --port 0 >"$WORK/broken.out" 2>"$WORK/broken.err" || rc=$?
[ "$rc" -eq 2 ] || fail "a broken configuration exited $rc, expected 2"
grep -q "broken.yaml:" "$WORK/broken.err" || fail "the configuration error does not name the file"
[ ! -s "$WORK/broken.out" ] || fail "a broker started despite the configuration error"
rm -f "$WORK/broken.err"
pass "configuration error: exit 2"

echo "all devbroker tests passed"
