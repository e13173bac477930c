#!/usr/bin/python3
"""test_grouping.py - grouped delivery as a receiver sees it: 300 checks with
team and site labels going CRITICAL within 2 s make one grouped message per
(team, site), within group_wait + 1 s, listing every alert once; when they all
resolve, one message per group goes out at once, not after group_interval; an
alert that fires and resolves inside group_wait sends nothing and its history
says so; a Slack channel grouped by team lists max_alerts alerts and counts the
rest; a channel without group_by still gets one message per alert."""

import collections
import sys
import time

import harness
import receivers
from harness import check, wait_for

TEAMS = ["db", "web"]
SITES = ["par1", "ams1", "fra1"]
CHECKS = 300
GROUP_WAIT = 2.0

CONFIG = """
rules:
  - match: "app.*"
    critical: "> 90"
    escalation: page
  - match: "plain.*"
    critical: "> 90"
    escalation: plain
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [grouped, gslack, gmail, logfile] } ] }
    resolved: true
  plain:
    CRITICAL: { levels: [ { after: 0s, notify: [plainhook] } ] }
    resolved: true
channels:
  grouped:   { type: webhook, url: "%(grouped)s", format: json, group_by: [team, site], group_wait: 2s,
               group_interval: 1h, max_alerts: 1000 }
  gslack:    { type: webhook, url: "%(slack)s", format: slack, group_by: [team], group_wait: 2s,
               group_interval: 1h, max_alerts: 5 }
  plainhook: { type: webhook, url: "%(plain)s", format: json }
  gmail:     { type: email, url: "%(mail)s", from: alerts@e2e.example, to: [ops@e2e.example], starttls: off,
               group_by: [site], group_wait: 2s, group_interval: 1h, max_alerts: 3 }
  logfile:   { type: logfile, group_by: [team], group_wait: 2s, group_interval: 1h, max_alerts: 1000 }
"""


def labels_of(i):
    return {"team": TEAMS[i % 2], "site": SITES[(i // 2) % 3]}


def results(value, names=None):
    names = names if names is not None else range(CHECKS)
    return [{"check": "app.%03d" % i, "value": value, "labels": labels_of(i)} for i in names]


def grouped_messages(hook):
    """The grouped messages accepted, once each (redeliveries dropped), with their time."""
    seen = {}
    for r in hook.accepted():
        seen.setdefault(r["json"]["notification_id"], (r["time"], r["json"]))
    return sorted(seen.values(), key=lambda x: x[0])


def test(make):
    env = make("grouping")
    grouped = receivers.Webhook(env, "grouped").start()
    slack = receivers.Webhook(env, "slack").start()
    plain = receivers.Webhook(env, "plain").start()
    mail = receivers.Smtp(env, "mail").start()
    env.write_config(CONFIG % {"grouped": grouped.url(), "slack": slack.url(), "plain": plain.url(),
                               "mail": mail.url()})
    env.alertq("check-config")
    env.start_broker()
    worker = env.worker()
    env.wait_joined(worker)

    # --- 300 alerts fire within 2 s: one message per (team, site)
    env.submit_lines(results(95))
    applied = wait_for("300 checks CRITICAL", lambda: (lambda s: len(s) == CHECKS and all(
        c["severity"] == "CRITICAL" for c in s.values()))(env.status()), timeout=60)
    applied_at = time.time()
    check(applied, "not applied")
    msgs = wait_for("6 grouped messages", lambda: (lambda m: m if len(m) >= 6 else None)(grouped_messages(grouped)),
                    timeout=30)
    time.sleep(1.0)
    msgs = grouped_messages(grouped)
    check(len(msgs) == 6, "%d grouped messages for 6 groups" % len(msgs))
    told = collections.Counter()
    for at, m in msgs:
        check(at <= applied_at + GROUP_WAIT + 1.0,
              "a group's message came %.1fs after the last alert was applied" % (at - applied_at))
        check(set(m) == {"notification_id", "channel", "group", "firing", "resolved", "alerts", "truncated"},
              "grouped message keys %s" % sorted(m))
        check(m["channel"] == "grouped" and list(m["group"]) == ["team", "site"], "group %r" % m["group"])
        check(m["firing"] == 50 and m["resolved"] == 0 and m["truncated"] == 0,
              "counts firing %d resolved %d truncated %d" % (m["firing"], m["resolved"], m["truncated"]))
        for a in m["alerts"]:
            check(set(a) == receivers.NOTIFICATION_KEYS, "alert keys %s" % sorted(a))
            check(a["labels"]["team"] == m["group"]["team"] and a["labels"]["site"] == m["group"]["site"],
                  "%s listed in group %r" % (a["check"], m["group"]))
            check(a["status"] == "firing", "%s listed as %s" % (a["check"], a["status"]))
            told[a["check"]] += 1
    check(len(told) == CHECKS and set(told.values()) == {1},
          "%d alerts listed, counts %s" % (len(told), collections.Counter(told.values())))
    first = {r["headers"].get("idempotency-key") for r in grouped.accepted()}
    check(first == {m["notification_id"] for _, m in msgs}, "Idempotency-Key is not the notification_id")

    # the Slack channel groups by team only, listing 5 and counting the rest
    smsgs = wait_for("2 slack messages", lambda: (lambda m: m if len(m) >= 2 else None)(slack.accepted()), timeout=30)
    check(len(smsgs) == 2, "%d slack messages for 2 teams" % len(smsgs))
    for r in smsgs:
        text = r["json"]["text"]
        check(text.startswith("[FIRING:150 RESOLVED:0] team="), "slack title %r" % text[:60])
        check(text.count("\n\u2022 [CRITICAL] app.") == 5, "slack lists %d alerts" % text.count("\u2022"))
        check(text.rstrip().endswith("+145 more"), "slack does not count the rest: %r" % text[-40:])

    # the email channel groups by site: 3 messages, 3 alerts listed in each
    mails = wait_for("3 grouped emails", lambda: (lambda m: m if len(m) >= 3 else None)(mail.messages()), timeout=30)
    check(len(mails) == 3, "%d emails for 3 sites" % len(mails))
    subjects = sorted(str(m["message"]["subject"]) for m in mails)
    check(subjects == ["[FIRING:100 RESOLVED:0] site=%s" % s for s in sorted(SITES)], "subjects %r" % subjects)
    for m in mails:
        check(m["body"].count("- [CRITICAL] app.") == 3 and "+97 more" in m["body"], "email body %r" % m["body"])

    # the log file groups by team: one JSON line per message
    lines = wait_for("2 grouped log lines", lambda: (lambda l: l if len(l) >= 2 else None)(env.alert_lines()),
                     timeout=30)
    check(len(lines) == 2 and all(len(l["alerts"]) == 150 and l["channel"] == "logfile" for l in lines),
          "alerts.log: %r" % [(l.get("group"), len(l.get("alerts", []))) for l in lines])

    history = env.history("app.000")
    notes = [n for t in history["transitions"] for n in t["notifications"] if n["channel"] == "grouped"]
    check(len(history["transitions"][0]["notifications"]) == 4, "app.000 history %r" % history)
    check([n["delivery"] for n in notes] == ["grouped"], "app.000 history %r" % notes)
    check(msgs[0][1]["notification_id"] in "".join(n["last_error"] or "" for n in notes) or any(
        m["notification_id"] in (notes[0]["last_error"] or "") for _, m in msgs),
        "history does not name the grouped message: %r" % notes)

    # --- a channel without group_by: one message per alert
    env.submit_lines([{"check": "plain.%d" % i, "value": 95, "labels": labels_of(i)} for i in range(3)])
    pl = wait_for("3 plain messages", lambda: (lambda m: m if len(m) >= 3 else None)(plain.notifications()),
                  timeout=30)
    time.sleep(1.0)
    check(len(plain.notifications()) == 3, "%d plain messages for 3 alerts" % len(plain.notifications()))
    for r in plain.accepted():
        receivers.check_contract_request(r)

    # --- a newcomer to a group that has sent waits for group_interval (1h);
    # history shows it waiting
    late = {"check": "app.late", "labels": {"team": "db", "site": "par1"}}
    env.submit_lines([dict(late, value=95)])
    wait_for("app.late applied", lambda: "app.late" in env.status(), timeout=30)
    notes = wait_for("app.late waiting in its group", lambda: [
        n for t in env.history("app.late")["transitions"] for n in t["notifications"]
        if n["channel"] == "grouped" and n["delivery"] == "grouping"], timeout=30)
    check("waiting in its group until" in (notes[0]["last_error"] or ""), "app.late: %r" % notes)
    time.sleep(GROUP_WAIT + 1.0)
    check(len(grouped_messages(grouped)) == len(msgs), "app.late did not wait for group_interval")

    # --- all resolve: one message per group at once (group_interval is 1h);
    # app.late, never told, resolves unseen
    before = len(msgs)
    env.submit_lines(results(10) + [dict(late, value=10)])
    wait_for("300 checks OK", lambda: all(c["severity"] == "OK" for n, c in env.status().items()
                                          if n.startswith("app.")), timeout=60)
    resolved_at = time.time()
    msgs = wait_for("6 resolving messages",
                    lambda: (lambda m: m if len(m) >= before + 6 else None)(grouped_messages(grouped)), timeout=30)
    time.sleep(1.0)
    msgs = grouped_messages(grouped)
    check(len(msgs) == before + 6, "%d messages after the resolve, expected 6" % (len(msgs) - before))
    told = collections.Counter()
    for at, m in msgs[before:]:
        check(at <= resolved_at + GROUP_WAIT, "a resolve waited %.1fs" % (at - resolved_at))
        check(m["firing"] == 0 and m["resolved"] == 50, "counts firing %d resolved %d" % (m["firing"], m["resolved"]))
        for a in m["alerts"]:
            check(a["status"] == "resolved", "%s listed as %s" % (a["check"], a["status"]))
            told[a["check"]] += 1
    check(len(told) == CHECKS and set(told.values()) == {1}, "resolves listed %d" % len(told))

    # --- fires and resolves inside group_wait: nothing sent, history says so
    count = len(grouped_messages(grouped))
    blip = {"check": "app.blip", "labels": {"team": "db", "site": "par1"}}
    env.submit_lines([dict(blip, value=95), dict(blip, value=10)])
    wait_for("app.blip applied", lambda: (lambda s: s.get("app.blip", {}).get("severity") == "OK")(env.status()),
             timeout=30)
    wait_for("app.blip history", lambda: len(env.history("app.blip")["transitions"]) == 2, timeout=30)
    time.sleep(GROUP_WAIT + 2.0)
    check(len(grouped_messages(grouped)) == count, "a message was sent for an alert that fired and resolved "
          "inside group_wait: %r" % grouped_messages(grouped)[count:])
    notes = [n for t in env.history("app.blip")["transitions"] for n in t["notifications"]
             if n["channel"] == "grouped"]
    check(len(notes) == 2 and all(n["delivery"] == "collapsed" for n in notes),
          "app.blip's history: %r" % notes)
    check(all("resolved within group_wait" in (n["last_error"] or "") for n in notes),
          "app.blip's history does not say why: %r" % notes)
    text = env.alertq("history", "app.blip").stdout
    check("collapsed" in text and "resolved within group_wait" in text, "history text:\n%s" % text)

    env.stop(worker)


if __name__ == "__main__":
    sys.exit(harness.main(test))
