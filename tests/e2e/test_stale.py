#!/usr/bin/python3
"""test_stale.py - the dead man's switch with two workers running: a check
that stops reporting goes stale once (one transition with cause stale, one
notification to the log file and one to a webhook), after its rule's
stale_after or, without one, twice the interval its results gave; a check
that keeps reporting does not; the next result ends it."""

import json
import os
import sys
import threading
import time

import harness
from harness import check, wait_for

CONFIG = """
rules:
  - match: "beat.*"
    stale_after: 3s
    stale_severity: CRITICAL
    escalation: both
  - match: "*"
    escalation: both
""" + harness.LOGFILE_AND_HOOK_ESCALATION


def received(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(json.loads(line)["body"]) for line in f if line.strip()]


def test(make):
    env = make("stale")
    port = harness.free_port()
    hook_out = os.path.join(env.dir, "hook.jsonl")
    env.spawn("receiver", [harness.PYTHON, os.path.join(harness.SOURCE, "tests/tools/http_receiver.py"),
                           "--port", str(port), "--out", hook_out])
    env.write_config(CONFIG % port)
    env.start_broker()
    w1 = env.worker("worker1")
    w2 = env.worker("worker2")
    env.wait_joined(w1)
    env.wait_joined(w2)

    # beat.silent: stale_after 3s; quiet.silent: no stale_after, interval 2s -> 4s
    env.producer("submit", "--check", "beat.silent", "--status", "OK", "--interval", "1h")
    env.producer("submit", "--check", "quiet.silent", "--status", "OK", "--interval", "2s")
    # beat.alive keeps reporting, well inside its 3s, until the end
    alive_stop = threading.Event()

    def keep_alive():
        while not alive_stop.is_set():
            env.producer("submit", "--check", "beat.alive", "--status", "OK", "--interval", "1h")
            alive_stop.wait(0.5)
    alive = threading.Thread(target=keep_alive, daemon=True)
    alive.start()
    time.sleep(6)

    def stale_ones():
        return {c: [t for t in env.history(c)["transitions"]] for c in ("beat.silent", "quiet.silent")}
    wait_for("both silent checks stale",
             lambda: all(len(t) >= 1 for t in stale_ones().values()), timeout=30)
    time.sleep(3)  # more ticks of both workers: still once
    for c, transitions in stale_ones().items():
        want_to = "CRITICAL" if c == "beat.silent" else "UNKNOWN"
        got = [(t["from"], t["to"], t["cause"]) for t in transitions]
        check(got == [("OK", want_to, "stale")], "%s: transitions %s, expected one stale OK -> %s" %
              (c, got, want_to))
        check(env.status()[c]["severity"] == want_to, "%s: status %s" % (c, env.status()[c]["severity"]))
    check(env.history("beat.alive")["transitions"] == [], "beat.alive, which kept reporting, went stale")
    alive_stop.set()
    alive.join()

    def told(where):
        return [(n["check"], n["severity"], n["status"]) for n in where if n["check"].endswith(".silent")]
    want = sorted([("beat.silent", "CRITICAL", "firing"), ("quiet.silent", "UNKNOWN", "firing")])
    wait_for("the webhook told", lambda: len(told(received(hook_out))) >= 2, timeout=30)
    time.sleep(1)
    check(sorted(told(env.alert_lines())) == want, "alerts.log: %s, expected %s" % (told(env.alert_lines()), want))
    check(sorted(told(received(hook_out))) == want, "webhook: %s, expected %s" % (told(received(hook_out)), want))

    # the next result ends it: one transition back, resolved once each
    env.producer("submit", "--check", "beat.silent", "--status", "OK", "--interval", "1h")
    wait_for("beat.silent back to OK", lambda: env.status()["beat.silent"]["severity"] == "OK", timeout=30)
    got = [(t["from"], t["to"], t["cause"]) for t in env.history("beat.silent")["transitions"]]
    check(got == [("OK", "CRITICAL", "stale"), ("CRITICAL", "OK", "result")],
          "beat.silent after a new result: %s" % got)
    want.append(("beat.silent", "OK", "resolved"))
    wait_for("the resolution told", lambda: len(told(received(hook_out))) >= 3, timeout=30)
    time.sleep(1)
    check(sorted(told(env.alert_lines())) == sorted(want), "alerts.log: %s" % told(env.alert_lines()))
    check(sorted(told(received(hook_out))) == sorted(want), "webhook: %s" % told(received(hook_out)))
    for w in (w1, w2):
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)


if __name__ == "__main__":
    sys.exit(harness.main(test))
