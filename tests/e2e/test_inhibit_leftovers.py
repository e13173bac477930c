#!/usr/bin/python3
"""test_inhibit_leftovers.py - a notification held for the inhibition check
under a configuration with inhibit rules is still decided and sent by a
worker whose configuration no longer has any: such a worker does not look
for held rows on every claim, only now and then (every 10 s)."""

import sys

import harness
import receivers
from harness import check, wait_for

WITH_RULES = """
inhibit_wait: 3s
inhibit:
  - source: { match: "net.uplink.*", severity: CRITICAL }
    target: { match: "web.*" }
rules:
  - match: "*"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook] } ] }
channels:
  hook: { type: webhook, url: "%s", format: json }
"""

WITHOUT_RULES = """
rules:
  - match: "*"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook] } ] }
channels:
  hook: { type: webhook, url: "%s", format: json }
"""


def test(make):
    env = make("inhibit-leftovers")
    hook = receivers.Webhook(env, "hook").start()
    env.write_config(WITH_RULES % hook.url())
    env.start_broker()
    w1 = env.worker("worker1")
    env.wait_joined(w1)
    env.submit_lines([{"check": "web.front", "status": "CRITICAL", "message": "e2e"}])

    def held():
        return env.sql("SELECT state FROM alertq_notifications WHERE check_name = 'web.front'") == [["held"]]
    wait_for("the notification held for the inhibition check", held, timeout=30)
    check(env.stop(w1) == 0, "worker1 did not stop cleanly")
    check(held(), "the held notification was decided before worker1 stopped")

    env.write_config(WITHOUT_RULES % hook.url())
    w2 = env.worker("worker2")
    env.wait_joined(w2)
    wait_for("the held notification sent by a worker without inhibit rules",
             lambda: [n["check"] for n in hook.notifications()] == ["web.front"], timeout=40)
    rows = env.sql("SELECT state FROM alertq_notifications WHERE check_name = 'web.front'")
    check(rows == [["sent"]], "the notification's row: %s" % rows)
    check(env.stop(w2) == 0, "worker2 did not stop cleanly")


if __name__ == "__main__":
    sys.exit(harness.main(test))
