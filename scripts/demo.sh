#!/usr/bin/env bash
# demo.sh - sets everything up and shows alertq working end to end: a dev
# broker, a throwaway PostgreSQL holding both the sample application database
# and alertq's state, two workers, the producer running the seed's checks, a
# Slack-style webhook receiver and an SMTP catcher on loopback. Everything
# stops at the end; the files stay in the directory it prints.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
py=/usr/bin/python3

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building alertq (installing Debian packages first if any are missing)"
"$top/scripts/build.sh" "$build"

demo=$(mktemp -d /tmp/alertq-demo.XXXXXX)
chmod 755 "$demo"
pids=()
cleanup() {
	# the last started first: workers and serve leave the group and close
	# their clients while the broker they talk to is still there
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$top/tests/tools/pg.sh" stop "$demo/pg" || true
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "starting a throwaway PostgreSQL with the sample application database"
server=$("$top/tests/tools/pg.sh" start "$demo/pg")
base=${server%/postgres}
psql -X -q "$server" -c "CREATE DATABASE alertq" -c "CREATE DATABASE iact"
psql -X -q "$base/iact" -f "$top/examples/iact_sample.sql"
export ALERTQ_STATE_DSN=$base/alertq IACT_DSN=$base/iact

say "starting the Slack-style webhook receiver and the SMTP catcher"
$py "$top/tests/tools/http_receiver.py" --port 0 --port-file "$demo/webhook.port" --out "$demo/webhook.jsonl" >"$demo/webhook.log" 2>&1 &
pids+=($!)
export SMTP_USER=alertq SMTP_PASSWORD=demo-only-password
$py "$top/tests/tools/smtp_receiver.py" --port 0 --port-file "$demo/smtp.port" --out "$demo/mail.jsonl" \
	--auth "$SMTP_USER:$SMTP_PASSWORD" >"$demo/smtp.log" 2>&1 &
pids+=($!)
for f in webhook.port smtp.port; do
	for _ in $(seq 100); do [ -s "$demo/$f" ] && break; sleep 0.1; done
done
export SLACK_WEBHOOK_URL="http://127.0.0.1:$(cat "$demo/webhook.port")/services/demo"
export SMTP_URL="smtp://127.0.0.1:$(cat "$demo/smtp.port")"

# The shipped example, with the demo's log directory; the catcher speaks no
# TLS, the email level comes after 10 s instead of 15 min, and Slack's
# grouped messages wait 3 s for company instead of 30 s, and 5 s between
# messages of one group instead of 5 min.
sed -e "s|^log_dir: .*|log_dir: $demo/log|" -e "s|starttls: required|starttls: off|" \
	-e "s|group_wait: 30s|group_wait: 3s|" -e "s|group_interval: 5m|group_interval: 5s|" \
	-e "s|{ after: 15m, notify: \[oncall-email\] }|{ after: 10s, notify: [oncall-email] }|" \
	"$top/examples/alertq.yaml" >"$demo/alertq.yaml"
config=$demo/alertq.yaml
"$build/alertq" -c "$config" check-config --show-templates

say "starting the dev broker and two workers"
port=$(free_port)
export ALERTQ_KAFKA_BROKERS=127.0.0.1:$port
"$build/alertq-devbroker" -c "$config" --port "$port" --bootstrap-file "$demo/bootstrap" >"$demo/devbroker.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$demo/bootstrap" ] && break; sleep 0.1; done
for n in 1 2; do
	"$build/alertq-worker" -c "$config" >"$demo/worker$n.log" 2>&1 &
	pids+=($!)
done
for _ in $(seq 300); do
	[ "$(grep -h -c 'partitions assigned' "$demo"/worker*.log | paste -sd+ | bc)" -ge 2 ] && break
	sleep 0.1
done
grep -h "partitions assigned" "$demo"/worker*.log

# the status page (no tokens in the example: loopback only, and it may do everything)
web_port=$(free_port)
"$build/alertq" -c "$config" serve --listen "127.0.0.1:$web_port" >"$demo/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$web_port/-/healthy" >/dev/null 2>&1 && break; sleep 0.1; done

wait_for_alerts() {
	local want=$1
	for _ in $(seq 300); do
		got=$("$build/alertq" -c "$config" status --json | $py -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["severity"] != "OK"))')
		[ "$got" -ge "$want" ] && return 0
		sleep 0.2
	done
	echo "demo: alerts did not appear; see $demo/worker*.log" >&2
	exit 1
}

say "running the seed's checks once (alertq-producer --once, as cron would)"
"$build/alertq-producer" -c "$config" --once
wait_for_alerts 3
sleep 1

say "alertq status"
"$build/alertq" -c "$config" status
echo "the status page: http://127.0.0.1:$web_port/ (while the demo runs)"

say "$demo/log/alerts.log (one JSON line per notification)"
cat "$demo/log/alerts.log"

slack_messages() {
	$py -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(json.loads(l)["body"])["text"])' "$demo/webhook.jsonl"
}

say "the Slack-style webhook received (one grouped message for team=platform; each alert in the channel's template: summary, runbook link)"
for _ in $(seq 100); do [ -s "$demo/webhook.jsonl" ] && break; sleep 0.1; done
slack_messages

say "the session table grows past 100,000 rows: WARNING becomes CRITICAL"
psql -X -q "$IACT_DSN" -c "INSERT INTO django_session SELECT md5('more' || g), 'e30:1', now() FROM generate_series(1, 45000) g"
"$build/alertq-producer" -c "$config" --once
for _ in $(seq 100); do
	"$build/alertq" -c "$config" status --json | grep -q '"severity": "CRITICAL"' &&
		[ "$(grep -c CRITICAL "$demo/log/alerts.log")" -ge 2 ] && break
	sleep 0.2
done
"$build/alertq" -c "$config" status

say "the Slack message for the CRITICAL session table, with its runbook"
for _ in $(seq 100); do grep -q 'CRITICAL system.session_rows' "$demo/webhook.jsonl" && break; sleep 0.2; done
slack_messages | grep 'system.session_rows'

say "nobody acknowledged the CRITICAL alerts: after 10 s they escalate to email"
for _ in $(seq 150); do [ "$(wc -l <"$demo/mail.jsonl" 2>/dev/null || echo 0)" -ge 2 ] && break; sleep 0.2; done
$py -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    subject = [h for h in m["data"].splitlines() if h.startswith("Subject:")][0]
    print("to %s: %s" % (", ".join(m["rcpt_tos"]), subject))' "$demo/mail.jsonl" 2>/dev/null || echo "(no mail yet)"

say "acknowledging system.session_rows stops its escalation and repeats"
"$build/alertq" -c "$config" ack system.session_rows --by demo --comment "cleaning up sessions"

say "alertq history system.session_rows"
"$build/alertq" -c "$config" history system.session_rows

say "done"
echo "Everything the demo wrote is in $demo (worker logs, alerts.log, webhook and mail captures)."
echo "syslog got the same notifications where a syslog daemon runs (journalctl -t alertq)."
