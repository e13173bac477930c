#!/usr/bin/python3
"""test_chaos.py - nothing lost, nothing doubled, under attack: two workers
consume 20,000 results for 500 checks whose severity changes often, while a
worker is killed with SIGKILL every few seconds (and started again) and the
state database restarts once. Afterwards the stored state and the history
equal the reference evaluation of what was submitted, every notification
reached the webhook receiver and the log file (retries carry an id already
seen, nothing else), and the workers are alive."""

import collections
import json
import os
import random
import signal
import sys
import threading
import time

import harness
from harness import check, iso, wait_for

CHECKS = ["svc.%03d" % i for i in range(500)]
ROUNDS = 40
CHUNKS = 40
CHUNK_GAP_S = 0.8
KILL_EVERY_S = 6.0
KILLS_MIN = 7
PG_RESTART_AT_S = 20.0

RULES = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: both
""" + harness.LOGFILE_AND_HOOK_ESCALATION
REFERENCE_RULES = [("svc.*", (">", 50), (">", 90), 1)]


def make_results():
    base_ms = int(time.time() * 1000) - ROUNDS * 60000
    rng = random.Random(11)
    current = {c: 10 for c in CHECKS}
    results = []
    for rnd in range(ROUNDS):
        for i, c in enumerate(CHECKS):
            if rng.random() < 0.35:
                current[c] = rng.choice([10, 20, 60, 70, 95, 99, None])
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i)}
            if current[c] is not None:
                r["value"] = current[c]
            results.append(r)
    return results


def test(make):
    env = make("chaos")
    with harness.OwnPostgres("chaos") as pg:
        run_chaos(env, pg)


def run_chaos(env, pg):
    pg.start_for(env)

    received = os.path.join(env.dir, "received.jsonl")
    port_file = os.path.join(env.dir, "receiver.port")
    env.spawn("receiver", [harness.PYTHON, os.path.join(harness.SOURCE, "tests", "tools", "http_receiver.py"),
                           "--port", "0", "--port-file", port_file, "--out", received])
    port = int(wait_for("the webhook receiver", lambda: os.path.exists(port_file) and open(port_file).read().strip()))
    env.write_config(RULES % port)
    env.start_broker()
    workers = [env.worker("worker1"), env.worker("worker2")]
    env.wait_joined(workers[0])
    env.wait_joined(workers[1])

    results = make_results()
    size = (len(results) + CHUNKS - 1) // CHUNKS
    chunks = [results[i:i + size] for i in range(0, len(results), size)]
    submit_errors = []

    def submit_all():
        try:
            for k, chunk in enumerate(chunks):
                out = env.submit_lines(chunk)
                if "%d delivered" % len(chunk) not in out.stderr:
                    submit_errors.append(out.stderr)
                if k + 1 < len(chunks):
                    time.sleep(CHUNK_GAP_S)
        except Exception as e:  # reported by the main thread
            submit_errors.append(str(e))

    submitter = threading.Thread(target=submit_all)
    start = time.monotonic()
    submitter.start()
    rng = random.Random(5)
    kills = 0
    pg_restarts = 0
    next_kill = start + KILL_EVERY_S / 2
    while submitter.is_alive() or kills < KILLS_MIN:
        now = time.monotonic()
        if pg_restarts == 0 and now - start >= PG_RESTART_AT_S:
            pg.run("restart", capture_output=True, text=True, check=True)
            pg_restarts += 1
            print("%.1fs: PostgreSQL restarted" % (time.monotonic() - start))
        if now >= next_kill:
            i = rng.randrange(2)
            victim = workers[i]
            check(victim.poll() is None, "%s died by itself (exit %s)" % (victim.name, victim.returncode))
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            kills += 1
            workers[i] = env.worker(victim.name)  # the other one keeps running meanwhile
            print("%.1fs: killed %s, started it again" % (time.monotonic() - start, victim.name))
            next_kill = now + KILL_EVERY_S
        time.sleep(0.2)
    submitter.join()
    check(not submit_errors, "submitting failed: %s" % submit_errors)
    print("%.1fs: chaos over, %d kills, %d PostgreSQL restart(s)" % (time.monotonic() - start, kills, pg_restarts))

    last = "round %d" % (ROUNDS - 1)
    wait_for("every check at its last result",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message = '%s'" % last)[0][0]) == len(CHECKS),
             timeout=120, interval=1.0)
    print("%.1fs: every result applied" % (time.monotonic() - start))

    expected = harness.reference(results, REFERENCE_RULES)
    status = env.status()
    check(len(status) == len(CHECKS), "status shows %d checks, expected %d" % (len(status), len(CHECKS)))
    for c in CHECKS:
        check(status[c]["severity"] == expected[c][0],
              "%s: severity %s, expected %s" % (c, status[c]["severity"], expected[c][0]))

    def want_of(c):
        return [(a, b, float(v) if v is not None else None) for a, b, v in expected[c][1]]

    # the whole history in one query; a few checks through the CLI as well
    got = collections.defaultdict(list)
    for name, frm, to, value in env.sql("SELECT check_name, from_severity, to_severity, value"
                                        " FROM alertq_transitions ORDER BY check_name, observed_at_ms, id"):
        got[name].append((frm, to, float(value) if value != "" else None))
    transitions = 0
    for c in CHECKS:
        check(got[c] == want_of(c), "%s: transitions %s, expected %s" % (c, got[c], want_of(c)))
        transitions += len(got[c])
    for c in CHECKS[::100]:
        history = env.history(c)
        cli = [(t["from"], t["to"], t["value"]) for t in history["transitions"]]
        check(cli == want_of(c), "%s: history shows %s, expected %s" % (c, cli, want_of(c)))

    # every notification reached each channel; repeats only of ids already seen
    def deliveries():
        out = []
        if os.path.exists(received):
            with open(received) as f:
                out = [json.loads(json.loads(line)["body"]) for line in f if line.strip()]
        return out

    wait_for("every notification delivered to the webhook and the log file",
             lambda: len({d["notification_id"] for d in deliveries()}) >= transitions and
             len({d["notification_id"] for d in env.alert_lines()}) >= transitions,
             timeout=120, interval=1.0)
    duplicates = 0
    for channel, seen in (("hook", deliveries()), ("logfile", env.alert_lines())):
        first = {}
        per_check = collections.defaultdict(list)
        for d in seen:
            nid = d["notification_id"]
            if nid in first:
                duplicates += 1
                check(first[nid] == d, "%s: notification %s delivered twice with different content" % (channel, nid))
                continue
            first[nid] = d
            per_check[d["check"]].append(d)
        check(len(first) == transitions, "%s: %d distinct notifications for %d transitions" %
              (channel, len(first), transitions))
        for c in CHECKS:
            told = [(d["previous_severity"], d["severity"], d["status"])
                    for d in sorted(per_check[c], key=lambda d: d["observed_at"])]
            want = [(a, b, "resolved" if b == "OK" else "firing") for a, b, _ in expected[c][1]]
            check(told == want, "%s: %s was told %s, expected %s" % (c, channel, told, want))
    pending = env.sql("SELECT count(*) FROM alertq_notifications WHERE state <> 'sent'")[0][0]
    check(pending == "0", "%s notifications not marked sent" % pending)

    for w in workers:
        check(w.poll() is None, "%s is not alive at the end (exit %s)" % (w.name, w.returncode))
    for w in workers:
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)
    print("results %d, checks %d, transitions %d, notifications %d per channel, duplicate deliveries %d, "
          "kills %d, PostgreSQL restarts %d, %.0fs" % (len(results), len(CHECKS), transitions, transitions,
                                                       duplicates, kills, pg_restarts, time.monotonic() - start))


if __name__ == "__main__":
    sys.exit(harness.main(test))
