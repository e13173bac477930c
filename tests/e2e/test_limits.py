#!/usr/bin/python3
"""test_limits.py - the state stays bounded: state.max_checks refuses checks
new to a full state (dead-lettered with the reason, counted by `alertq
status`) while the checks it holds go on; state.retention prunes history and
delivered notifications older than it, but never a pending notification or
the transition of a check still firing."""

import sys
import time

import harness
from harness import check, wait_for

RULES = """
rules:
  - match: "*"
    critical: "> 90"
    escalation: log
""" + harness.LOGFILE_ESCALATION


def with_state(env, extra):
    """Adds keys to the state section harness.write_config wrote."""
    with open(env.config_path) as f:
        text = f.read()
    text = text.replace("state:\n", "state:\n" + extra, 1)
    with open(env.config_path, "w") as f:
        f.write(text)


def test(make):
    # --- state.max_checks --------------------------------------------------
    env = make("limits", partitions=1)
    env.write_config(RULES)
    with_state(env, "  max_checks: 5\n")
    env.start_broker()
    w = env.worker("worker")
    env.wait_joined(w)

    env.submit_lines([{"check": "cap.%d" % i, "value": 95, "interval": "1h"} for i in range(5)])
    wait_for("five checks stored", lambda: len(env.status()) == 5, timeout=60)
    env.submit_lines([{"check": "cap.%d" % i, "value": 95, "interval": "1h"} for i in range(5, 8)] +
                     [{"check": "cap.0", "value": 10, "interval": "1h", "message": "still applied"}])
    wait_for("a held check still applied", lambda: env.status()["cap.0"]["message"] == "still applied", timeout=60)
    status = env.status()
    check(sorted(status) == ["cap.%d" % i for i in range(5)], "the state holds %s" % sorted(status))
    check(status["cap.0"]["severity"] == "OK", "cap.0 did not return to OK: %s" % status["cap.0"])
    reasons = [r[0] for r in env.sql("SELECT reason FROM alertq_dead_letters ORDER BY \"offset\"")]
    check(len(reasons) == 3 and all(r.startswith("new check refused") and "max_checks is 5" in r for r in reasons),
          "dead-letter reasons: %r" % reasons)
    text = env.alertq("status").stdout
    check("NEW CHECKS REFUSED: 3" in text, "alertq status does not say checks were refused:\n%s" % text)
    check(env.stop(w) == 0, "the worker did not stop cleanly")

    # --- state.retention -----------------------------------------------------
    env = make("retention", partitions=1)
    env.write_config(RULES)
    with_state(env, "  retention: 2s\n")
    env.start_broker()
    w = env.worker("worker")
    env.wait_joined(w)
    env.submit_lines([{"check": "old.resolved", "value": 95, "interval": "1h"},
                      {"check": "old.resolved", "value": 10, "interval": "1h"},
                      {"check": "old.firing", "value": 10, "interval": "1h"},
                      {"check": "old.firing", "value": 95, "interval": "1h"}])
    wait_for("the log file told", lambda: len(env.alert_lines()) == 3, timeout=60)
    wait_for("every notification sent", lambda: env.sql(
        "SELECT count(*) FROM alertq_notifications WHERE state = 'sent'")[0][0] == "3", timeout=30)
    # one waiting for a channel that is gone: pending however old it is
    env.sql("INSERT INTO alertq_notifications (id, check_name, channel, payload, give_up_at, created_at)"
            " VALUES (gen_random_uuid(), 'old.firing', 'nowhere', '{}', now() + interval '1 day',"
            " now() - interval '1 hour')")
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    time.sleep(3)  # everything is older than the retention now
    w = env.worker("worker-2")
    env.wait_joined(w)
    wait_for("old history pruned", lambda: env.sql("SELECT count(*) FROM alertq_transitions")[0][0] == "1",
             timeout=30)
    left = env.sql("SELECT check_name, to_severity FROM alertq_transitions")
    check(left == [["old.firing", "CRITICAL"]], "transitions left: %r" % left)
    wait_for("delivered notifications pruned", lambda: env.sql(
        "SELECT count(*) FROM alertq_notifications WHERE state = 'sent'")[0][0] == "0", timeout=30)
    pending = env.sql("SELECT channel FROM alertq_notifications WHERE state = 'pending'")
    check(pending == [["nowhere"]], "pending notifications after pruning: %r" % pending)
    check("pruned" in env.log_of(w), "the worker did not say it pruned")
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    print("max_checks refused 3 new checks and kept applying the others; retention pruned history")


if __name__ == "__main__":
    sys.exit(harness.main(test))
