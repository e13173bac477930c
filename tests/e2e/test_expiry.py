#!/usr/bin/python3
"""test_expiry.py - results that carry expires_at (Alertmanager's endsAt):
a CRITICAL result good for 3 s fires, and with nothing more sent the check
resolves by itself a few seconds later, cause expired, the log channel told
it resolved; a second check re-sent every second with a moving expires_at (4 s ahead)
stays firing until the re-sends stop, then expires the same way."""

import datetime
import sys
import threading
import time

import harness
from harness import check, wait_for

CONFIG = """
rules:
  - match: "*"
    escalation: log
escalations:
  log:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
"""


def rfc3339(seconds_ahead):
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_ahead)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (at.microsecond // 1000)


def transitions(env, name):
    return [(t["from"], t["to"], t["cause"]) for t in env.history(name)["transitions"]]


def told(env, name):
    return [(n["severity"], n["status"]) for n in env.alert_lines() if n["check"] == name]


def test(make):
    env = make("expiry")
    env.write_config(CONFIG)
    env.start_broker()
    w = env.worker("worker1")
    env.wait_joined(w)

    # once.expiring: one result, good for 3 s
    sent = time.time()
    env.producer("submit", "--check", "once.expiring", "--status", "CRITICAL", "--expires-at", rfc3339(3))
    wait_for("once.expiring fires", lambda: len(transitions(env, "once.expiring")) >= 1, timeout=30)

    # kept.firing: re-sent every second, each good for 4 s
    stop = threading.Event()

    def resend():
        while not stop.is_set():
            env.producer("submit", "--check", "kept.firing", "--status", "CRITICAL", "--expires-at", rfc3339(4))
            stop.wait(1)
    sender = threading.Thread(target=resend, daemon=True)
    sender.start()

    wait_for("once.expiring resolves by itself", lambda: len(transitions(env, "once.expiring")) >= 2, timeout=30)
    check(env.status()["once.expiring"]["severity"] == "OK", "once.expiring: %s" % env.status()["once.expiring"])
    check(time.time() - sent >= 3, "once.expiring resolved before its expiry")
    got = transitions(env, "once.expiring")
    check(got == [("OK", "CRITICAL", "result"), ("CRITICAL", "OK", "expired")],
          "once.expiring: transitions %s" % got)
    wait_for("the log told once.expiring resolved", lambda: ("OK", "resolved") in told(env, "once.expiring"),
             timeout=30)
    check(told(env, "once.expiring") == [("CRITICAL", "firing"), ("OK", "resolved")],
          "once.expiring: alerts.log %s" % told(env, "once.expiring"))

    # kept.firing has been re-sent for a while by now: still firing, never expired
    wait_for("kept.firing fires", lambda: env.status().get("kept.firing", {}).get("severity") == "CRITICAL",
             timeout=30)
    time.sleep(6)
    check(env.status()["kept.firing"]["severity"] == "CRITICAL", "kept.firing stopped firing while re-sent")
    check(transitions(env, "kept.firing") == [("OK", "CRITICAL", "result")],
          "kept.firing while re-sent: %s" % transitions(env, "kept.firing"))

    stop.set()
    sender.join()
    stopped = time.time()
    wait_for("kept.firing resolves once the re-sends stop",
             lambda: env.status()["kept.firing"]["severity"] == "OK", timeout=30)
    check(time.time() - stopped >= 1, "kept.firing resolved too soon after the last re-send")
    got = transitions(env, "kept.firing")
    check(got == [("OK", "CRITICAL", "result"), ("CRITICAL", "OK", "expired")], "kept.firing: transitions %s" % got)
    wait_for("the log told kept.firing resolved", lambda: ("OK", "resolved") in told(env, "kept.firing"),
             timeout=30)
    check(told(env, "kept.firing") == [("CRITICAL", "firing"), ("OK", "resolved")],
          "kept.firing: alerts.log %s" % told(env, "kept.firing"))
    check(env.stop(w) == 0, "worker1 did not stop cleanly")


if __name__ == "__main__":
    sys.exit(harness.main(test))
