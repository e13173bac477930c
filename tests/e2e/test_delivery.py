#!/usr/bin/python3
"""test_delivery.py - nothing lost, nothing sent twice: two workers with one
config share the outbox and the escalation ticker, and every notification
reaches a healthy receiver exactly once; then, written against the contract
alone, a webhook and an SMTP server on loopback with the SMTP one down for a
while: every notification arrives, once per notification_id."""

import collections
import sys
import time

import harness
import receivers
from harness import check, wait_for

TWO_WORKERS = """
rules:
  - match: "*"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook, logfile] }, { after: 2s, notify: [late] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
  hook:    { type: webhook, url: "%(hook)s", format: json, concurrency: 2 }
  late:    { type: webhook, url: "%(late)s", format: json }
"""

OUTSIDE = """
rules:
  - match: "*"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [ops-webhook, oncall-email] } ] }
    resolved: true
channels:
  ops-webhook:  { type: webhook, url: "%(hook)s", format: json, secret_env: E2E_SECRET }
  oncall-email: { type: email, url: "%(mail)s", from: alerts@e2e.example, to: [admin@e2e.example], starttls: off }
"""

CHECKS = 40


def two_workers(make):
    env = make("delivery-two")
    hook = receivers.Webhook(env, "hook").start()
    late = receivers.Webhook(env, "late").start()
    env.write_config(TWO_WORKERS % {"hook": hook.url(), "late": late.url()})
    env.start_broker()
    w1 = env.worker("worker1")
    w2 = env.worker("worker2")
    env.wait_joined(w1)
    env.wait_joined(w2)
    names = ["two.%02d" % i for i in range(CHECKS)]
    env.submit_lines([{"check": c, "value": 95, "message": "high"} for c in names])
    wait_for("level 1 of every check", lambda: len(late.accepted()) >= CHECKS, timeout=60)
    resolving = names[:CHECKS // 2]
    env.submit_lines([{"check": c, "value": 5, "message": "low"} for c in resolving])
    want = CHECKS + len(resolving)
    wait_for("every notification", lambda: len(hook.accepted()) >= want and len(late.accepted()) >= want
             and len(env.alert_lines()) >= want, timeout=60)
    time.sleep(3)  # a duplicate, a second escalation or a stray repeat would show now

    for r in (hook, late):
        got = receivers.once_per_id(r.records(), r.name)
        check(len(got) == want, "%s received %d notifications, expected %d" % (r.name, len(got), want))
        level = 0 if r is hook else 1
        per = collections.Counter((n["check"], n["status"], n["escalation_level"] if n["status"] == "firing" else None)
                                  for n in got.values())
        for c in names:
            check(per[(c, "firing", level)] == 1, "%s: %s told %d times at level %d" %
                  (r.name, c, per[(c, "firing", level)], level))
            check(per[(c, "resolved", None)] == (1 if c in resolving else 0),
                  "%s: %s resolved %d times" % (r.name, c, per[(c, "resolved", None)]))
        rows = env.sql("SELECT id, state FROM alertq_notifications WHERE channel = '%s'" % r.name)
        check(sorted(x[0] for x in rows) == sorted(got), "%s: the outbox and the receiver disagree" % r.name)
        check(all(x[1] == "sent" for x in rows), "%s: outbox rows not sent: %s" % (r.name, rows))
    ids = [l["notification_id"] for l in env.alert_lines()]
    check(len(ids) == want and len(set(ids)) == want, "alerts.log: %d lines, %d ids, expected %d" %
          (len(ids), len(set(ids)), want))
    for w in (w1, w2):
        rc = env.stop(w)
        check(rc == 0, "%s exited %s" % (w.name, rc))


def outside(make):
    env = make("delivery-outside")
    env.env["E2E_SECRET"] = "outside-secret"
    hook = receivers.Webhook(env, "ops").start()
    mail = receivers.Smtp(env, "smtp")  # down at first
    env.write_config(OUTSIDE % {"hook": hook.url(), "mail": mail.url()})
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    names = ["out.%d" % i for i in range(10)]
    env.submit_lines([{"check": c, "value": 99, "message": "up"} for c in names])
    wait_for("webhook told of every check", lambda: len(hook.accepted()) >= len(names), timeout=60)
    env.submit_lines([{"check": c, "value": 1, "message": "down"} for c in names[:5]])
    wait_for("webhook told of every resolution", lambda: len(hook.accepted()) >= len(names) + 5, timeout=60)
    time.sleep(4)  # the mail server stays down a while longer
    check(not mail.records(), "mail arrived while the server was down")
    mail.start()
    wait_for("every mail", lambda: len(mail.messages()) >= 15, timeout=90)
    time.sleep(3)

    got = receivers.once_per_id(hook.records(), "webhook")
    for r in hook.records():
        receivers.check_contract_request(r, "outside-secret")
    per = collections.Counter((n["check"], n["status"]) for n in got.values())
    for i, c in enumerate(names):
        check(per[(c, "firing")] == 1 and per[(c, "resolved")] == (1 if i < 5 else 0),
              "webhook: %s firing %d, resolved %d" % (c, per[(c, "firing")], per[(c, "resolved")]))
    msgs = mail.messages()
    check(len(msgs) == 15, "%d mails, expected 15" % len(msgs))
    subjects = collections.Counter(m["message"]["Subject"] for m in msgs)
    for i, c in enumerate(names):
        check(subjects["[CRITICAL] %s" % c] == 1, "mail '[CRITICAL] %s' came %d times" %
              (c, subjects["[CRITICAL] %s" % c]))
        mentions = [m for m in msgs if c in m["message"]["Subject"].split()]
        check(len(mentions) == (2 if i < 5 else 1), "%d mails about %s" % (len(mentions), c))
    for m in msgs:
        check(m["rcpt_tos"] == ["admin@e2e.example"] and m["mail_from"] == "alerts@e2e.example",
              "mail envelope %s -> %s" % (m["mail_from"], m["rcpt_tos"]))
    status = env.status()
    check(all(c["undeliverable"] == 0 for c in status.values()),
          "undeliverable after delivery: %s" % [c for c in status.values() if c["undeliverable"]])
    rc = env.stop(w)
    check(rc == 0, "worker exited %s" % rc)


def test(make):
    two_workers(make)
    outside(make)


if __name__ == "__main__":
    sys.exit(harness.main(test))
