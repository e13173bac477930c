#!/usr/bin/python3
"""test_pipeline.py - the whole path as a user runs it: results submitted to
the dev broker, two workers in one group, alert state in PostgreSQL, the log
file. One worker is stopped mid-stream; the other takes its partitions over
and nothing is skipped or applied twice."""

import collections
import random
import sys

import harness
from harness import check, iso, wait_for

RULES = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
  - match: "slow.*"
    warning: ">= 10"
    critical: ">= 1000"
    for: 3
    escalation: log
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION
REFERENCE_RULES = [("svc.*", (">", 50), (">", 90), 1), ("slow.*", (">=", 10), (">=", 1000), 3), ("*", None, None, 1)]
ROUNDS = 8


def make_results():
    import time
    base_ms = int(time.time() * 1000) - ROUNDS * 60000  # recent: nothing goes stale
    rng = random.Random(7)
    checks = (["svc.%03d" % i for i in range(200)] + ["slow.%03d" % i for i in range(60)] +
              ["cmd.%03d" % i for i in range(40)])
    results = []
    for rnd in range(ROUNDS):
        for i, c in enumerate(checks):
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i), "labels": {"round": str(rnd)}}
            if c.startswith("cmd."):
                r["status"] = rng.choice(["OK", "OK", "WARNING", "CRITICAL", "UNKNOWN"])
            elif c.startswith("slow."):
                r["value"] = rng.choice([1, 15, 15, 15, 2000])
            else:
                r["value"] = rng.choice([10, 20, 60, 70, 95, 12, None])
            results.append(r)
    return checks, results


def test(make):
    env = make("pipeline")
    env.write_config(RULES)
    env.start_broker()
    w1 = env.worker("worker1")
    w2 = env.worker("worker2")
    env.wait_joined(w1)
    env.wait_joined(w2)

    checks, results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    # let the group get going, then stop one member while results keep coming
    wait_for("first results applied", lambda: len(env.status()) >= 100, timeout=60)
    rc = env.stop(w1)
    check(rc == 0, "worker1 exited %s on SIGTERM, expected 0" % rc)
    check("leaving the group" in env.log_of(w1), "worker1 did not say it left the group")
    out = env.submit_lines(results[half:])
    check("%d delivered" % (len(results) - half) in out.stderr,
          "submit did not report every result delivered: %s" % out.stderr)

    last = "round %d" % (ROUNDS - 1)
    wait_for("every check at its last result",
             lambda: all(c.get("message") == last for c in env.status().values()) and len(env.status()) == len(checks),
             timeout=120)
    check("partitions assigned" in env.log_of(w2).split("partitions revoked")[-1],
          "worker2 was not assigned partitions after worker1 left")

    expected = harness.reference(results, REFERENCE_RULES)
    status = env.status()
    transitions_seen = 0
    for c in checks:
        want_severity, want_transitions = expected[c]
        got = status[c]
        check(got["severity"] == want_severity,
              "%s: severity %s, expected %s" % (c, got["severity"], want_severity))
        history = env.history(c)
        got_transitions = [(t["from"], t["to"], t["value"]) for t in history["transitions"]]
        want = [(a, b, float(v) if v is not None else None) for a, b, v in want_transitions]
        check(got_transitions == want, "%s: transitions %s, expected %s" % (c, got_transitions, want))
        for t in history["transitions"]:
            delivered = [n for n in t["notifications"] if n["channel"] == "logfile"]
            check(len(delivered) == 1, "%s: transition %s -> %s caused %d logfile notifications" %
                  (c, t["from"], t["to"], len(delivered)))
        transitions_seen += len(got_transitions)

    # the log file: one line per transition, each told once, in order per check
    lines = wait_for("every notification in alerts.log",
                     lambda: (lambda l: l if len(l) >= transitions_seen else None)(env.alert_lines()), timeout=60)
    ids = [line["notification_id"] for line in lines]
    check(len(ids) == len(set(ids)), "a notification_id appears twice in alerts.log")
    check(len(lines) == transitions_seen,
          "alerts.log has %d lines for %d transitions" % (len(lines), transitions_seen))
    per_check = collections.defaultdict(list)
    for line in lines:
        for key in ("notification_id", "check", "status", "severity", "previous_severity", "value", "message",
                    "labels", "observed_at", "since", "escalation_level", "event_id"):
            check(key in line, "alerts.log line without '%s': %s" % (key, line))
        per_check[line["check"]].append(line)
    for c in checks:
        got = [(l["previous_severity"], l["severity"], l["status"])
               for l in sorted(per_check[c], key=lambda l: l["observed_at"])]
        want = [(a, b, "resolved" if b == "OK" else "firing") for a, b, _ in expected[c][1]]
        check(got == want, "%s: alerts.log says %s, expected %s" % (c, got, want))

    rc = env.stop(w2)
    check(rc == 0, "worker2 exited %s on SIGTERM" % rc)
    print("checks %d, results %d, transitions %d, log lines %d" %
          (len(checks), len(results), transitions_seen, len(lines)))


if __name__ == "__main__":
    sys.exit(harness.main(test))
