#!/usr/bin/python3
"""test_escalation.py - escalation that operators can steer, seen at the
receivers: a level reached by time alone, `alertq ack` stopping it and
`unack` resuming it, a new episode starting afresh, silences holding
notifications back and their end telling them, resolved notices to exactly
the channels told, repeats."""

import sys
import time

import harness
import receivers
from harness import check, wait_for

CONFIG = """
rules:
  - match: "esc.*"
    critical: "> 90"
    escalation: esc
  - match: "ack.*"
    critical: "> 90"
    escalation: slow
  - match: "sil.*"
    critical: "> 90"
    escalation: esc
  - match: "rep.*"
    critical: "> 90"
    escalation: rep
  - match: "exp.*"
    critical: "> 90"
    escalation: once
escalations:
  once:
    CRITICAL: { levels: [ { after: 0s, notify: [first] } ] }
  esc:
    CRITICAL: { levels: [ { after: 0s, notify: [first] }, { after: 3s, notify: [second] } ] }
    resolved: true
  slow:
    CRITICAL: { levels: [ { after: 0s, notify: [first] }, { after: 5s, notify: [second] } ] }
    resolved: true
  rep:
    CRITICAL: { levels: [ { after: 0s, notify: [first] } ], repeat: 3s }
    resolved: true
channels:
  first:  { type: webhook, url: "%(first)s", format: json }
  second: { type: webhook, url: "%(second)s", format: json }
  unused: { type: webhook, url: "%(unused)s", format: json }
"""


def told(receiver, check_name, status="firing"):
    """Notifications receiver accepted for check_name with status, in order of arrival."""
    return [r for r in receiver.accepted() if r["json"]["check"] == check_name and r["json"]["status"] == status]


def test(make):
    env = make("escalation")
    first = receivers.Webhook(env, "first").start()
    second = receivers.Webhook(env, "second").start()
    unused = receivers.Webhook(env, "unused").start()
    env.write_config(CONFIG % {"first": first.url(), "second": second.url(), "unused": unused.url()})
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)

    # a silence first, right after other transitions (so the worker has
    # just looked at the silences): results that follow it are held back
    env.submit_lines([{"check": "esc.busy", "value": 99}, {"check": "esc.busy", "value": 1}])
    out = env.alertq("silence", "sil.*", "--for", "10m", "--comment", "maintenance").stdout
    silence_id = out.split()[1].rstrip(":")
    check(silence_id.isdigit(), "silence printed %r" % out)
    env.alertq("silence", "exp.*", "--for", "4s")
    sent = time.time()
    env.submit_lines([
        {"check": "exp.a", "value": 99, "message": "silenced for a while"},
        {"check": "esc.a", "value": 99, "message": "escalates"},
        {"check": "esc.quick", "value": 99, "message": "short"},
        {"check": "esc.quick", "value": 1, "message": "over"},
        {"check": "ack.a", "value": 99, "message": "to be acked"},
        {"check": "sil.a", "value": 99, "message": "in maintenance"},
        {"check": "rep.a", "value": 99, "message": "repeats"},
    ])
    silences = env.alertq("silences").stdout
    check("sil.*" in silences and "maintenance" in silences, "alertq silences:\n%s" % silences)

    # --- level 0 now, level 1 after 3s with no new result ----------------
    wait_for("esc.a level 0", lambda: told(first, "esc.a"), timeout=30)
    lvl1 = wait_for("esc.a level 1", lambda: told(second, "esc.a"), timeout=30)
    check(len(lvl1) == 1 and lvl1[0]["json"]["escalation_level"] == 1, "esc.a level 1: %s" % lvl1)
    check(lvl1[0]["time"] >= sent + 3.0 - 0.5, "esc.a level 1 came %.1fs after the result" % (lvl1[0]["time"] - sent))
    lvl0 = told(first, "esc.a")
    check(len(lvl0) == 1 and lvl0[0]["json"]["escalation_level"] == 0, "esc.a level 0: %s" % lvl0)
    check(lvl1[0]["json"]["since"] == lvl0[0]["json"]["since"], "level 1 says since %s, level 0 %s" %
          (lvl1[0]["json"]["since"], lvl0[0]["json"]["since"]))
    st = env.status()["esc.a"]
    check(st["escalation_level"] == 1 and st["severity"] == "CRITICAL", "status of esc.a: %s" % st)
    history = env.history("esc.a")
    check(len(history["transitions"]) == 1, "esc.a transitions: %s" % history["transitions"])
    check([(n["channel"], n["escalation_level"]) for n in history["escalations"]] == [("second", 1)],
          "esc.a escalations in history: %s" % history["escalations"])
    text = env.alertq("history", "esc.a").stdout
    check("escalations and repeats" in text and "second" in text, "alertq history esc.a:\n%s" % text)

    # resolved: exactly the channels told in the episode
    env.submit_lines([{"check": "esc.a", "value": 5, "message": "fixed"}])
    wait_for("esc.a resolved", lambda: told(first, "esc.a", "resolved") and told(second, "esc.a", "resolved"))
    check(told(first, "esc.quick") and not told(second, "esc.quick"), "esc.quick level 0 only")
    wait_for("esc.quick resolved", lambda: told(first, "esc.quick", "resolved"))

    # --- ack stops escalation, unack resumes it --------------------------
    wait_for("ack.a level 0", lambda: told(first, "ack.a"), timeout=30)
    out = env.alertq("ack", "ack.a", "--by", "alice", "--comment", "on it")
    check("acknowledged ack.a" in out.stdout, "alertq ack said %r" % out.stdout)
    st = env.status()["ack.a"]
    check(st["acked"] is True and st["acked_by"] == "alice", "status after ack: %s" % st)
    check("yes" in [line.split()[5] for line in env.alertq("status").stdout.splitlines() if line.startswith("ack.a")],
          "alertq status does not show ack.a acked")
    time.sleep(max(0, sent + 5 + 3 - time.time()))  # level 1 would have come by now
    check(not told(second, "ack.a"), "ack.a escalated to level 1 after the ack: %s" % told(second, "ack.a"))
    check(env.status()["ack.a"]["escalation_level"] == 0, "ack.a level after ack: %s" % env.status()["ack.a"])
    env.alertq("unack", "ack.a")
    check(env.status()["ack.a"]["acked"] is False, "still acked after unack")
    wait_for("ack.a level 1 after unack", lambda: told(second, "ack.a"), timeout=15)
    # a new episode after OK starts afresh: level 0 again, then level 1 again, without an ack
    env.alertq("ack", "ack.a")
    env.submit_lines([{"check": "ack.a", "value": 1, "message": "ok"}])
    wait_for("ack.a resolved", lambda: told(first, "ack.a", "resolved") and told(second, "ack.a", "resolved"))
    check(env.status()["ack.a"]["acked"] is False, "ack.a still acked after OK: %s" % env.status()["ack.a"])
    second_episode = time.time()
    env.submit_lines([{"check": "ack.a", "value": 97, "message": "again"}])
    wait_for("ack.a level 0 of the new episode", lambda: len(told(first, "ack.a")) == 2, timeout=30)
    wait_for("ack.a level 1 of the new episode", lambda: len(told(second, "ack.a")) == 2, timeout=30)
    check(told(second, "ack.a")[1]["time"] >= second_episode + 5 - 0.5, "new episode escalated early")

    # --- silence: state and history kept, notifications held back --------
    st = env.status()["sil.a"]
    check(st["severity"] == "CRITICAL" and st["silenced"] is True, "status of sil.a: %s" % st)
    check(len(env.history("sil.a")["transitions"]) == 1, "sil.a has no transition in history")
    check(not told(first, "sil.a") and not told(second, "sil.a"), "sil.a notified while silenced")
    check(env.status()["sil.a"]["escalation_level"] == 1, "sil.a did not escalate while silenced")
    env.alertq("unsilence", silence_id)
    check("sil.*" not in env.alertq("silences").stdout, "silence still listed after unsilence")
    wait_for("sil.a told at the end of its silence", lambda: told(first, "sil.a") and told(second, "sil.a"),
             timeout=15)
    check(env.status()["sil.a"]["silenced"] is False, "sil.a still silenced")

    # --- a silence that runs out while the alert fires: told then --------
    got = wait_for("exp.a told when its silence ran out", lambda: told(first, "exp.a"), timeout=30)
    check(len(got) == 1 and got[0]["time"] >= sent + 4 - 1.0,
          "exp.a told %.1fs after its result, its silence lasted 4s" % (got[0]["time"] - sent))

    # --- repeat every 3s until acked -------------------------------------
    reps = wait_for("rep.a repeated twice", lambda: (lambda r: r if len(r) >= 3 else None)(told(first, "rep.a")),
                    timeout=30)
    times = [r["time"] for r in reps]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 2.9 for g in gaps), "rep.a repeated after %s seconds, expected 3s or more" % gaps)
    check(len({r["json"]["notification_id"] for r in reps}) == len(reps), "repeats share a notification_id")
    env.alertq("ack", "rep.a")
    time.sleep(1)  # a repeat queued just before the ack may still arrive
    count = len(told(first, "rep.a"))
    time.sleep(4.5)
    check(len(told(first, "rep.a")) <= count, "rep.a repeated after its ack: %d -> %d" %
          (count, len(told(first, "rep.a"))))

    # nothing went anywhere it was not due, and no id came twice
    check(not unused.records(), "a channel no policy names got %d requests" % len(unused.records()))
    for r in (first, second):
        receivers.once_per_id(r.records(), r.name)
    summary = {}
    for r in (first, second):
        for a in r.accepted():
            key = (r.name, a["json"]["check"], a["json"]["status"])
            summary[key] = summary.get(key, 0) + 1
    check(summary.get(("second", "esc.a", "resolved")) == 1 and summary.get(("first", "esc.quick", "resolved")) == 1
          and ("second", "esc.quick", "resolved") not in summary, "resolved notices: %s" % summary)
    rc = env.stop(w)
    check(rc == 0, "worker exited %s" % rc)


if __name__ == "__main__":
    sys.exit(harness.main(test))
