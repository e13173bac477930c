#!/usr/bin/python3
"""test_reload.py - SIGHUP: a changed threshold applies to the results that
follow; a file with errors is refused with its errors (file:line) in the
worker's log, and the running rules stay in force."""

import signal
import sys

import harness
from harness import check, wait_for

RULES = """
rules:
  - match: "svc.*"
    critical: "%s"
    escalation: log
escalations:
  log:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
"""


def submit(env, check_name, value):
    env.producer("submit", "--check", check_name, "--value", str(value), "--message", "v%s" % value)
    wait_for("%s=%s applied" % (check_name, value),
             lambda: env.status().get(check_name, {}).get("message") == "v%s" % value, timeout=60)
    return env.status()[check_name]["severity"]


def reload(env, worker, count):
    worker.send_signal(signal.SIGHUP)
    wait_for("reload #%d handled" % count,
             lambda: env.log_of(worker).count("configuration reloaded") + env.log_of(worker).count("reload refused")
             >= count, timeout=30)


def test(make):
    env = make("reload")
    env.write_config(RULES % "> 90")
    env.start_broker()
    worker = env.worker()
    env.wait_joined(worker)

    check(submit(env, "svc.a", 80) == "OK", "80 under '> 90' is not OK")

    env.write_config(RULES % "> 70")
    reload(env, worker, 1)
    check("configuration reloaded" in env.log_of(worker), "the worker did not reload")
    check(submit(env, "svc.a", 80) == "CRITICAL", "80 under the reloaded '> 70' is not CRITICAL")
    check(submit(env, "svc.b", 60) == "OK", "60 under '> 70' is not OK")

    # a bad file: a higher threshold, and two errors
    env.write_config((RULES % "> 1000").replace("    escalation: log\n", "    escalation: nowhere\n    fro: 2\n"))
    with open(env.config_path) as f:
        lines = f.read().splitlines()
    bad_lines = [i + 1 for i, line in enumerate(lines) if "nowhere" in line or "fro:" in line]
    reload(env, worker, 2)
    log = env.log_of(worker).split("configuration reloaded")[-1]
    check("reload refused" in log, "the bad file was not refused:\n%s" % log)
    for n in bad_lines:
        check("%s:%d:" % (env.config_path, n) in log, "the worker's log lacks %s:%d:\n%s" % (env.config_path, n, log))
    # the running rules (critical > 70) still apply, not the file's > 1000;
    # the tools need a valid file, so it becomes one, with no SIGHUP this time
    env.write_config(RULES % "> 1000")
    check(submit(env, "svc.b", 75) == "CRITICAL", "75 is not CRITICAL: the refused file took effect")
    history = [(t["from"], t["to"]) for t in env.history("svc.b")["transitions"]]
    check(history == [("OK", "CRITICAL")], "svc.b history %s" % history)
    wait_for("both alerts in alerts.log",
             lambda: sorted(l["check"] for l in env.alert_lines()) == ["svc.a", "svc.b"], timeout=30)
    check(env.stop(worker) == 0, "the worker did not stop cleanly after the reloads")


if __name__ == "__main__":
    sys.exit(harness.main(test))
