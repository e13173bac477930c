#!/usr/bin/python3
"""test_hostile_receivers.py - receivers that answer in bytes that are not
UTF-8: a webhook answering 400 with a Latin-1 error page and an SMTP server
rejecting with 550 and Latin-1 text each make their notification
undeliverable once, are never sent it again, and `alertq status` says so; a
webhook answering 503 with a Latin-1 body is retried after retry_initial and
gets the notification exactly once when it answers 200 again."""

import json
import sys
import time

import harness
import receivers
from harness import check, wait_for

CONFIG = """
rules:
  - match: "latin.*"
    critical: "> 90"
    escalation: latin
  - match: "mail.*"
    critical: "> 90"
    escalation: mail
  - match: "busy.*"
    critical: "> 90"
    escalation: busy
escalations:
  latin:
    CRITICAL: { levels: [ { after: 0s, notify: [latinhook] } ] }
  mail:
    CRITICAL: { levels: [ { after: 0s, notify: [latinmail] } ] }
  busy:
    CRITICAL: { levels: [ { after: 0s, notify: [busyhook] } ] }
channels:
  latinhook: { type: webhook, url: "%(latin)s", format: json, retry_initial: 500ms, retry_max: 1s }
  latinmail: { type: email, url: "%(mail)s", from: alerts@e2e.example, to: [ops@e2e.example], starttls: off,
               retry_initial: 500ms, retry_max: 1s }
  busyhook:  { type: webhook, url: "%(busy)s", format: json, retry_initial: 1s, retry_max: 2s }
"""

# backslash escapes the receivers send as the exact bytes: Latin-1, not UTF-8
LATIN1_PAGE = "<html><body>Requ\\xeate invalide : le champ \\xabtext\\xbb est obligatoire</body></html>"
LATIN1_REPLY = "5.7.1 Message refus\\xe9 : destinataire inconnu"
LATIN1_BUSY = "Service indisponible, r\\xe9essayez plus tard"
BUSY_FAILURES = 3
# long enough for a notification whose outcome could not be recorded to be
# claimed and sent again several times
WATCH_S = 10


def only_notification(env, check_name):
    """The one notification of check_name, or None (also while the check is
    not yet known)."""
    out = env.alertq("history", check_name, "--json", check_rc=False)
    if out.returncode != 0:
        return None
    ns = [n for t in json.loads(out.stdout)["transitions"] for n in t["notifications"]]
    return ns[0] if len(ns) == 1 else None


def undeliverable(env, check_name):
    n = only_notification(env, check_name)
    return n if n and n["delivery"] == "undeliverable" else None


def failures_logged(env, proc, channel):
    return sum(1 for line in env.log_of(proc).splitlines()
               if "channel '%s'" % channel in line and "failed for good" in line)


def test(make):
    env = make("hostile")
    latin = receivers.Webhook(env, "latin").start("--status", "400", "--escapes", "--response-body", LATIN1_PAGE)
    mail = receivers.Smtp(env, "mail").start("--fail-all", "--fail-code", "550", "--escapes",
                                              "--fail-message", LATIN1_REPLY)
    busy = receivers.Webhook(env, "busy").start("--fail-first", str(BUSY_FAILURES), "--fail-status", "503",
                                                "--escapes", "--response-body", LATIN1_BUSY)
    env.write_config(CONFIG % {"latin": latin.url(), "mail": mail.url(), "busy": busy.url()})
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    env.submit_lines([{"check": "latin.a", "value": 99, "message": "up"},
                      {"check": "mail.a", "value": 99, "message": "up"},
                      {"check": "busy.a", "value": 99, "message": "up"}])

    # --- permanent failures in Latin-1: recorded once, never sent again ---
    n = wait_for("latin.a undeliverable", lambda: undeliverable(env, "latin.a"), timeout=60)
    check("HTTP 400" in (n["last_error"] or ""), "the 400's reason was not kept: %r" % n["last_error"])
    check("Requ\ufffdte invalide" in n["last_error"],
          "the Latin-1 byte is not shown as U+FFFD: %r" % n["last_error"])
    n = wait_for("mail.a undeliverable", lambda: undeliverable(env, "mail.a"), timeout=60)
    check("SMTP 550" in (n["last_error"] or ""), "the 550's reason was not kept: %r" % n["last_error"])
    check("refus\ufffd" in n["last_error"], "the Latin-1 byte is not shown as U+FFFD: %r" % n["last_error"])
    time.sleep(WATCH_S)
    check(len(latin.records()) == 1, "the 400 receiver got %d requests, expected 1" % len(latin.records()))
    check(not mail.records(), "the 550 server accepted a message")
    for check_name, channel in (("latin.a", "latinhook"), ("mail.a", "latinmail")):
        n = only_notification(env, check_name)
        check(n["delivery"] == "undeliverable" and n["attempts"] == 1,
              "%s: %s after %d attempts, expected undeliverable after 1" % (check_name, n["delivery"], n["attempts"]))
        count = failures_logged(env, w, channel)
        check(count == 1, "%s: the worker tried %d times, expected once" % (channel, count))
    check("invalid byte sequence" not in env.log_of(w), "recording an outcome failed:\n%s" % env.log_of(w)[-3000:])

    status = env.status()
    for name in ("latin.a", "mail.a"):
        check(status[name]["undeliverable"] == 1, "status --json: %s undeliverable %s" % (name, status[name]))
    check(status["busy.a"]["undeliverable"] == 0, "status --json: busy.a %s" % status["busy.a"])
    text = env.alertq("status").stdout
    check("UNDELIVERABLE" in text and "latin.a -> latinhook" in text and "mail.a -> latinmail" in text,
          "alertq status does not show the undeliverable notifications:\n%s" % text)

    # --- a transient failure in Latin-1: retried, delivered exactly once ---
    wait_for("busy.a delivered", lambda: busy.accepted(), timeout=60)
    wait_for("busy.a marked sent", lambda: (lambda n: n and n["delivery"] == "sent")(
        only_notification(env, "busy.a")), timeout=30)
    time.sleep(3)  # a second delivery would show now
    records = busy.records()
    statuses = [r["status"] for r in records]
    check(statuses == [503] * BUSY_FAILURES + [200], "the busy receiver answered %s" % statuses)
    ids = {receivers.check_contract_request(r)["notification_id"] for r in records}
    check(len(ids) == 1, "the busy receiver got %d notifications, expected 1" % len(ids))
    times = [r["time"] for r in records]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # a retry waits between half and all of its backoff: retry_initial (1s),
    # doubling up to retry_max (2s)
    check(all(g >= 0.45 for g in gaps), "retries came sooner than retry_initial allows: gaps %s" % gaps)
    check(all(g < 4 for g in gaps), "retries came later than retry_max allows: gaps %s" % gaps)

    rc = env.stop(w)
    check(rc == 0, "worker exited %s" % rc)


if __name__ == "__main__":
    sys.exit(harness.main(test))
