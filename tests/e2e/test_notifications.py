#!/usr/bin/python3
"""test_notifications.py - what each channel receives, as a user's receivers
see it: the json webhook's notification object, Idempotency-Key and signature,
the slack text, the email's headers and facts, the log file; a webhook that is
down and then answers 503 gets every notification once it is back; a 404 and a
channel that stays down past give_up_after show as undeliverable in
`alertq status` and `alertq history`."""

import sys
import time

import harness
import receivers
from harness import check, wait_for

SECRET = "e2e-hook-secret"

CONFIG = """
rules:
  - match: "web.*"
    warning: "> 50"
    critical: "> 90"
    escalation: page
  - match: "down.*"
    critical: "> 90"
    escalation: down
  - match: "gone.*"
    critical: "> 90"
    escalation: gone
  - match: "late.*"
    critical: "> 90"
    escalation: late
  - match: "slow.*"
    critical: "> 90"
    escalation: slow
  - match: "hang.*"
    critical: "> 90"
    escalation: hang
escalations:
  slow:
    CRITICAL: { levels: [ { after: 0s, notify: [slowhook] } ] }
  hang:
    CRITICAL: { levels: [ { after: 0s, notify: [hanghook] } ] }
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile, hook, slack, mail] } ] }
    WARNING:  { levels: [ { after: 0s, notify: [logfile, hook] } ] }
    resolved: true
  down:
    CRITICAL: { levels: [ { after: 0s, notify: [downhook] } ] }
    resolved: true
  gone:
    CRITICAL: { levels: [ { after: 0s, notify: [gonehook] } ] }
  late:
    CRITICAL: { levels: [ { after: 0s, notify: [deadhook] } ] }
channels:
  logfile:  { type: logfile }
  hook:     { type: webhook, url: "%(hook)s", format: json, secret_env: E2E_HOOK_SECRET }
  slack:    { type: webhook, url: "%(slack)s", format: slack }
  mail:     { type: email, url: "%(mail)s", from: alerts@e2e.example, to: [ops@e2e.example, boss@e2e.example],
              starttls: off }
  downhook: { type: webhook, url: "%(down)s", format: json, retry_initial: 500ms, retry_max: 2s }
  gonehook: { type: webhook, url: "%(gone)s", format: json }
  deadhook: { type: webhook, url: "%(dead)s", format: json, give_up_after: 3s, retry_initial: 500ms,
              retry_max: 1s }
  slowhook: { type: webhook, url: "%(slow)s", format: json, concurrency: 2 }
  hanghook: { type: webhook, url: "%(hang)s", format: json, timeout: 1s, retry_initial: 200ms, retry_max: 500ms }
"""


def by_channel(history):
    """{(transition index or 'escalation', channel): [notification]} of alertq history --json."""
    out = {}
    for i, t in enumerate(history["transitions"]):
        for n in t["notifications"]:
            out.setdefault((i, n["channel"]), []).append(n)
    return out


def test(make):
    env = make("notifications")
    env.env["E2E_HOOK_SECRET"] = SECRET
    hook = receivers.Webhook(env, "hook").start()
    slack = receivers.Webhook(env, "slack").start()
    mail = receivers.Smtp(env, "mail").start()
    gone = receivers.Webhook(env, "gone").start("--status", "404")
    down = receivers.Webhook(env, "down")  # not started yet
    dead = receivers.Webhook(env, "dead")  # never started
    slow = receivers.Webhook(env, "slow").start("--delay", "0.5")
    hang = receivers.Webhook(env, "hang").start("--delay", "3")
    env.write_config(CONFIG % {"hook": hook.url("/hook"), "slack": slack.url("/slack"), "mail": mail.url(),
                               "down": down.url("/down"), "gone": gone.url("/gone"), "dead": dead.url("/dead"),
                               "slow": slow.url("/slow"), "hang": hang.url("/hang")})
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)

    env.submit_lines([
        {"check": "web.a", "value": 60, "message": "sixty", "labels": {"team": "web"}},
        {"check": "web.a", "value": 95, "message": "ninety-five", "labels": {"team": "web"}},
        {"check": "down.a", "value": 99, "message": "first"},
        {"check": "gone.a", "value": 99, "message": "nobody home"},
        {"check": "late.a", "value": 99, "message": "no receiver"},
    ])
    wait_for("web.a CRITICAL notifications", lambda: len(hook.accepted()) >= 2 and slack.accepted()
             and mail.messages(), timeout=60)
    env.submit_lines([{"check": "web.a", "value": 10, "message": "ten", "labels": {"team": "web"}}])
    wait_for("web.a resolved everywhere", lambda: len(hook.accepted()) >= 3 and len(slack.accepted()) >= 2
             and len(mail.messages()) >= 2 and len([l for l in env.alert_lines() if l["check"] == "web.a"]) >= 3,
             timeout=60)

    # --- json webhook: the contract's object, key and signature ---------
    history = env.history("web.a")
    check([(t["from"], t["to"]) for t in history["transitions"]] ==
          [("OK", "WARNING"), ("WARNING", "CRITICAL"), ("CRITICAL", "OK")],
          "web.a transitions: %s" % history["transitions"])
    told = by_channel(history)
    want_channels = [{"logfile", "hook"}, {"logfile", "hook", "slack", "mail"}, {"logfile", "hook", "slack", "mail"}]
    for i, want in enumerate(want_channels):
        got = {ch for (k, ch) in told if k == i}
        check(got == want, "web.a transition %d told %s, expected %s" % (i, sorted(got), sorted(want)))
        for ch in got:
            check(len(told[(i, ch)]) == 1, "web.a transition %d: %d notifications to %s" % (i, len(told[(i, ch)]), ch))
    wait_for("every web.a notification marked sent",
             lambda: all(n["delivery"] == "sent" for ns in by_channel(env.history("web.a")).values() for n in ns))

    requests = [r for r in hook.records()]
    check(len(requests) == 3 and all(r["status"] == 200 for r in requests),
          "hook got %d requests, expected 3 answered 200: %s" % (len(requests), requests))
    got = [receivers.check_contract_request(r, SECRET) for r in requests]
    got.sort(key=lambda n: ["WARNING", "CRITICAL", "OK"].index(n["severity"]))
    want = [("firing", "WARNING", "OK", 60, "sixty"), ("firing", "CRITICAL", "WARNING", 95, "ninety-five"),
            ("resolved", "OK", "CRITICAL", 10, "ten")]
    for n, (status, severity, previous, value, message), i in zip(got, want, range(3)):
        check((n["check"], n["status"], n["severity"], n["previous_severity"], n["value"], n["message"]) ==
              ("web.a", status, severity, previous, value, message), "hook notification %d: %s" % (i, n))
        check(n["labels"] == {"team": "web"}, "hook notification labels %s" % n["labels"])
        check(n["escalation_level"] == 0, "hook notification escalation_level %s" % n["escalation_level"])
        check(n["notification_id"] == told[(i, "hook")][0]["notification_id"],
              "hook notification %d has id %s, history says %s" %
              (i, n["notification_id"], told[(i, "hook")][0]["notification_id"]))
        check(n["observed_at"].endswith("Z") and n["since"].endswith("Z"), "times not RFC 3339 UTC: %s" % n)
        check(len(n["event_id"]) == 36, "event_id %r" % n["event_id"])
    check(got[1]["since"] == got[1]["observed_at"], "CRITICAL since %s, began %s" % (got[1]["since"],
                                                                                      got[1]["observed_at"]))

    # --- slack: {"text": ...} with the check and severity ---------------
    texts = []
    for r in slack.records():
        body = r["json"] if "json" in r else __import__("json").loads(r["body"])
        check(set(body) == {"text"}, "slack body keys %s" % sorted(body))
        check(r["headers"].get("idempotency-key") in {told[(1, "slack")][0]["notification_id"],
                                                     told[(2, "slack")][0]["notification_id"]},
              "slack Idempotency-Key %r is no notification of web.a" % r["headers"].get("idempotency-key"))
        check("x-alertq-signature" not in r["headers"], "slack request signed without a secret")
        texts.append(body["text"])
    check(len(texts) == 2, "slack got %d requests, expected 2" % len(texts))
    firing = [t for t in texts if "firing" in t]
    resolved = [t for t in texts if "resolved" in t]
    check(len(firing) == 1 and "web.a" in firing[0] and "CRITICAL" in firing[0] and "95" in firing[0]
          and "ninety-five" in firing[0], "slack firing text: %s" % texts)
    check(len(resolved) == 1 and "web.a" in resolved[0] and "RESOLVED" in resolved[0], "slack resolved text: %s" % texts)

    # --- email: envelope, headers, facts ---------------------------------
    msgs = mail.messages()
    check(len(msgs) == 2, "mail got %d messages, expected 2" % len(msgs))
    subjects = sorted(m["message"]["Subject"] for m in msgs)
    check(subjects == ["[CRITICAL] web.a", "[RESOLVED] web.a"], "mail subjects %s" % subjects)
    for m in msgs:
        check(m["mail_from"] == "alerts@e2e.example", "envelope from %s" % m["mail_from"])
        check(sorted(m["rcpt_tos"]) == ["boss@e2e.example", "ops@e2e.example"], "envelope to %s" % m["rcpt_tos"])
        check(m["message"]["From"] == "alerts@e2e.example", "From: %s" % m["message"]["From"])
        check(m["message"]["To"].replace(" ", "") == "ops@e2e.example,boss@e2e.example", "To: %s" % m["message"]["To"])
        f = m["fields"]
        crit = m["message"]["Subject"].startswith("[CRITICAL]")
        level = 1 if crit else 2
        want = {"check": "web.a", "status": "firing" if crit else "resolved",
                "severity": "CRITICAL" if crit else "OK", "previous_severity": "WARNING" if crit else "CRITICAL",
                "value": "95" if crit else "10", "message": "ninety-five" if crit else "ten",
                "notification_id": told[(level, "mail")][0]["notification_id"], "escalation_level": "0"}
        for k, v in want.items():
            check(f.get(k) == v, "mail %s: %s is %r, expected %r" % (m["message"]["Subject"], k, f.get(k), v))
        check("team=web" in m["body"], "mail body without its labels: %s" % m["body"])

    # --- the log file carries the same objects ---------------------------
    lines = [l for l in env.alert_lines() if l["check"] == "web.a"]
    check(len(lines) == 3, "alerts.log has %d web.a lines, expected 3" % len(lines))
    for l in lines:
        check(set(l) == receivers.NOTIFICATION_KEYS, "alerts.log keys %s" % sorted(l))
    check(sorted((l["severity"], l["status"]) for l in lines) ==
          [("CRITICAL", "firing"), ("OK", "resolved"), ("WARNING", "firing")], "alerts.log says %s" % lines)

    # --- a receiver that is down, then answers 503, then 200 --------------
    wait_for("down.a tried while its receiver is down",
             lambda: (lambda n: n and n[0]["attempts"] >= 2 and n[0]["delivery"] == "pending" and n)(
                 [n for t in env.history("down.a")["transitions"] for n in t["notifications"]]), timeout=30)
    down.start("--fail-first", "2", "--fail-status", "503", "--retry-after", "1")
    env.submit_lines([{"check": "down.a", "value": 10, "message": "better"}])
    env.submit_lines([{"check": "down.a", "value": 98, "message": "second"}])
    wait_for("down.a's three notifications accepted", lambda: len(down.accepted()) >= 3, timeout=60)
    time.sleep(2)  # a duplicate would come now
    accepted = receivers.once_per_id(down.records(), "downhook")
    history = env.history("down.a")
    ids = [n["notification_id"] for t in history["transitions"] for n in t["notifications"]]
    check(len(ids) == 3 and set(ids) == set(accepted),
          "downhook accepted %s, history has %s" % (sorted(accepted), sorted(ids)))
    check([r["status"] for r in down.records()][:2] == [503, 503], "down receiver did not answer 503 first")
    for r in down.records():
        receivers.check_contract_request(r)
    check([(accepted[i]["status"], accepted[i]["message"]) for i in ids] ==
          [("firing", "first"), ("resolved", "better"), ("firing", "second")],
          "downhook got %s" % [accepted[i] for i in ids])
    wait_for("down.a notifications marked sent", lambda: all(
        n["delivery"] == "sent" for t in env.history("down.a")["transitions"] for n in t["notifications"]))

    # --- a permanent failure, and a channel that gives up ----------------
    def only_notification(check_name):
        ns = [n for t in env.history(check_name)["transitions"] for n in t["notifications"]]
        return ns[0] if len(ns) == 1 else None

    n = wait_for("gone.a undeliverable", lambda: (lambda n: n if n and n["delivery"] == "undeliverable" else None)(
        only_notification("gone.a")), timeout=30)
    check(n["attempts"] == 1, "a 404 was tried %d times, expected once" % n["attempts"])
    check("404" in (n["last_error"] or ""), "the 404's reason was not kept: %r" % n["last_error"])
    check(len(gone.records()) == 1, "the 404 receiver got %d requests, expected 1" % len(gone.records()))
    started = time.monotonic()
    n = wait_for("late.a undeliverable", lambda: (lambda n: n if n and n["delivery"] == "undeliverable" else None)(
        only_notification("late.a")), timeout=30)
    check(n["attempts"] >= 2, "late.a gave up after %d attempt(s)" % n["attempts"])
    check(n["last_error"], "late.a undeliverable without a reason")
    status = env.status()
    for name in ("gone.a", "late.a"):
        check(status[name]["undeliverable"] == 1, "status --json: %s undeliverable %s" % (name, status[name]))
    for name in ("web.a", "down.a"):
        check(status[name]["undeliverable"] == 0, "status --json: %s undeliverable %s" % (name, status[name]))
    text = env.alertq("status").stdout
    check("UNDELIVERABLE" in text and "gone.a -> gonehook" in text and "late.a -> deadhook" in text,
          "alertq status does not show the undeliverable notifications:\n%s" % text)
    check("undeliverable: 2" in text, "alertq status does not count 2 undeliverable:\n%s" % text)
    for name in ("gone.a", "late.a"):
        text = env.alertq("history", name).stdout
        check("undeliverable" in text, "alertq history %s does not say undeliverable:\n%s" % (name, text))
    # --- bounded concurrency and a per-request timeout -------------------
    env.submit_lines([{"check": "slow.%d" % i, "value": 99} for i in range(6)] + [{"check": "hang.a", "value": 99}])
    wait_for("six slow notifications", lambda: len(slow.accepted()) >= 6, timeout=60)
    arrivals = sorted(r["time"] for r in slow.records())
    most = max(sum(1 for b in arrivals if a <= b < a + 0.45) for a in arrivals)
    check(most <= 2, "%d requests in flight at once to a channel with concurrency 2" % most)
    check(len(arrivals) == 6, "the slow receiver got %d requests for 6 notifications" % len(arrivals))
    n = wait_for("hang.a timed out twice", lambda: (lambda n: n if n and n["attempts"] >= 2 else None)(
        only_notification("hang.a")), timeout=30)
    check(n["delivery"] == "pending" and "tim" in (n["last_error"] or "").lower(),
          "hang.a after timeouts: %s" % n)
    hang.start()
    n = wait_for("hang.a sent once its receiver answers in time", lambda: (lambda n: n if n["delivery"] == "sent"
                                                                          else None)(only_notification("hang.a")),
                 timeout=30)
    ids = {receivers.check_contract_request(r)["notification_id"] for r in hang.records()}
    check(ids == {n["notification_id"]}, "the hanging receiver got ids %s, expected only %s" %
          (ids, n["notification_id"]))
    print("late.a given up %.1fs after first checked" % (time.monotonic() - started))
    rc = env.stop(w)
    check(rc == 0, "worker exited %s" % rc)


if __name__ == "__main__":
    sys.exit(harness.main(test))
