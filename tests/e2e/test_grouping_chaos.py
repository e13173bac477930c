#!/usr/bin/python3
"""test_grouping_chaos.py - grouped delivery under SIGKILL: two workers apply
rounds of 300 checks changing (CRITICAL, WARNING, OK) while groups flush every
second, and one or both workers are killed with SIGKILL again and again (and
started again). Afterwards every notification the groups took in is accounted
for exactly once: listed in exactly one delivered grouped message (redeliveries
share its notification_id), superseded by a later change of the same alert in
that message, or collapsed (fired and resolved before its group told it); none
is missing, no group is left waiting, and each alert's last listed state is
its real one."""

import collections
import os
import random
import signal
import sys
import threading
import time

import harness
import receivers
from harness import check, iso, wait_for

CHECKS = ["app.%03d" % i for i in range(300)]
ROUNDS = 16
ROUND_GAP_S = 2.0
KILL_GAP_S = (3.0, 6.0)
# a killed member is noticed soon, so the survivor takes its partitions
KAFKA = "  properties: { session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\" }\n"

CONFIG = """
rules:
  - match: "app.*"
    warning: "> 50"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [grouped] } ] }
    WARNING: { levels: [ { after: 0s, notify: [grouped] } ] }
    resolved: true
channels:
  grouped: { type: webhook, url: "%(hook)s", format: json, group_by: [team, site], group_wait: 300ms,
             group_interval: 500ms, max_alerts: 1000, retry_initial: 200ms, retry_max: 1s }
"""


def labels_of(i):
    return {"team": ["db", "web"][i % 2], "site": ["par1", "ams1", "fra1"][(i // 2) % 3]}


def make_rounds():
    base_ms = int(time.time() * 1000) - ROUNDS * 60000
    rng = random.Random(7)
    rounds = []
    for rnd in range(ROUNDS):
        last = rnd == ROUNDS - 1
        rounds.append([{"check": c, "labels": labels_of(i), "interval": "1h",
                        "value": 10 if last else rng.choice([10, 10, 60, 95, 95]),
                        "observed_at": iso(base_ms + rnd * 60000 + i)} for i, c in enumerate(CHECKS)])
    return rounds


def test(make):
    env = make("grouping-chaos")
    hook = receivers.Webhook(env, "hook").start()
    env.write_config(CONFIG % {"hook": hook.url()}, extra_kafka=KAFKA)
    env.start_broker()
    workers = [env.worker("worker-a"), env.worker("worker-b")]
    env.wait_joined(workers[0])

    done = threading.Event()
    kills = [0]

    rng = random.Random(3)

    def restart(v):
        # a worker started again may crash on its own, right inside a flush's
        # transaction or between a delivery and its record
        points = "group.before_commit=%d*crash;dispatch.after_deliver=%d*crash" % (
            rng.randint(1, 3), rng.randint(1, 3))
        workers[v] = env.worker("worker-%s" % "ab"[v], failpoints=points if rng.random() < 0.7 else None)

    def chaos():
        next_kill = time.monotonic() + rng.uniform(*KILL_GAP_S)
        while not done.is_set():
            time.sleep(0.2)
            for v in range(2):
                if workers[v].poll() is not None:
                    kills[0] += 1
                    restart(v)
            if time.monotonic() < next_kill:
                continue
            next_kill = time.monotonic() + rng.uniform(*KILL_GAP_S)
            victims = [0, 1] if rng.random() < 0.3 else [rng.randrange(2)]
            for v in victims:
                os.kill(workers[v].pid, signal.SIGKILL)
                workers[v].wait()
                kills[0] += 1
            for v in victims:
                restart(v)

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        for batch in make_rounds():
            env.submit_lines(batch)
            time.sleep(ROUND_GAP_S)
        time.sleep(3.0)
    finally:
        done.set()
        killer.join()
    check(kills[0] >= 8, "only %d kills and crashes" % kills[0])
    for v in range(2):  # the last ones may have crashed at a failpoint: plain workers finish the work
        os.kill(workers[v].pid, signal.SIGKILL)
        workers[v].wait()
        workers[v] = env.worker("worker-%s" % "ab"[v])

    wait_for("every check OK", lambda: (lambda s: len(s) == len(CHECKS) and all(
        c["severity"] == "OK" for c in s.values()))(env.status()), timeout=90)
    wait_for("no group left waiting", lambda: env.sql(
        "SELECT (SELECT count(*) FROM alertq_group_members) + (SELECT count(*) FROM alertq_groups)"
        " + (SELECT count(*) FROM alertq_notifications WHERE state = 'pending')")[0][0] == "0", timeout=60)

    # what the receiver got, once per message id
    delivered = {}
    for r in hook.accepted():
        m = r["json"]
        check(r["headers"].get("idempotency-key") == m["notification_id"], "Idempotency-Key differs")
        if m["notification_id"] in delivered:
            check(delivered[m["notification_id"]] == m, "a redelivery of %s differs" % m["notification_id"])
        delivered[m["notification_id"]] = m
    listed = collections.Counter()
    message_of = {}
    for mid, m in delivered.items():
        for a in m["alerts"]:
            listed[a["notification_id"]] += 1
            message_of[a["notification_id"]] = mid
    check(not [n for n, k in listed.items() if k > 1], "an alert notification listed in two messages")

    # every notification a group took in, and what became of it
    transitions = int(env.sql("SELECT count(*) FROM alertq_transitions")[0][0])
    rows = env.sql("SELECT id, check_name, state, coalesce(last_error, '') FROM alertq_notifications"
                   " WHERE check_name LIKE 'app.%' ORDER BY created_at")
    check(len(rows) == transitions, "%d grouped notifications for %d transitions" % (len(rows), transitions))
    fates = collections.Counter()
    for nid, c, state, note in rows:
        fates[state if state == "collapsed" else note.split(" ")[0]] += 1
        if state == "collapsed":
            check(nid not in listed, "collapsed %s was sent" % nid)
            continue
        check(state == "grouped", "%s of %s is %s" % (nid, c, state))
        mid = note.rsplit(" ", 1)[-1] if note.startswith("in grouped") else note.split(" ")[-1]
        if note.startswith("in grouped message"):
            check(listed[nid] == 1, "%s of %s listed %d times" % (nid, c, listed[nid]))
            check(message_of[nid] == mid, "%s of %s is in %s, history says %s" % (nid, c, message_of[nid], mid))
        else:
            check(note.startswith("superseded in grouped message"), "note %r" % note)
            mid = note.split(" ")[-1]
            check(mid in delivered, "%s superseded in %s, which was never delivered" % (nid, mid))
            check(nid not in listed, "superseded %s was listed" % nid)
    sent = {r[0] for r in env.sql("SELECT id FROM alertq_notifications WHERE state = 'sent'")}
    check(set(delivered) == sent, "delivered %d messages, outbox sent %d" % (len(delivered), len(sent)))

    # the last thing each alert's group told it is its final state (resolved), or nothing
    last = {}
    for mid, m in sorted(delivered.items(), key=lambda kv: min([a["observed_at"] for a in kv[1]["alerts"]] or [""])):
        for a in m["alerts"]:
            if a["check"] not in last or a["observed_at"] >= last[a["check"]]["observed_at"]:
                last[a["check"]] = a
    wrong = [c for c, a in last.items() if a["status"] != "resolved"]
    check(not wrong, "%d alerts were last told firing: %s" % (len(wrong), wrong[:5]))
    print("kills %d, transitions %d, messages %d, fates %s" % (kills[0], transitions, len(delivered), dict(fates)))
    for w in workers:
        env.stop(w)


if __name__ == "__main__":
    sys.exit(harness.main(test))
