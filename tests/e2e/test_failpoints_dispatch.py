#!/usr/bin/python3
"""test_failpoints_dispatch.py - the delivery promises at the windows that
decide them, hit on purpose with failpoints (ALERTQ_FAILPOINTS): a worker
that crashes after claiming outbox rows loses none of them and sends none
twice; one that crashes after sending, before the outcome is recorded, sends
those again with the same notification_id and Idempotency-Key, once; one
frozen after sending keeps a second worker off its rows for as long as it
holds them (whether it then goes on, or is killed and the second one takes
them over); and a recording that fails is rolled back and retried with the
same id. Every notification ends marked sent, after one recorded attempt, in
`alertq history`. ALERTQ_FP_ONLY=claim,error runs only the named parts."""

import collections
import json
import os
import signal
import sys
import time

import harness
import receivers
from harness import check, wait_for

CONFIG = """
rules:
  - match: "*"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook] } ] }
channels:
  hook: { type: webhook, url: "%(hook)s", format: json, retry_initial: 200ms, retry_max: 1s }
"""

CHECKS = 24


# --- helpers of this file ----------------------------------------------------

def setup(make, name):
    env = make(name)
    hook = receivers.Webhook(env, "hook").start()
    env.write_config(CONFIG % {"hook": hook.url()})
    env.start_broker()
    return env, hook


def worker_with(env, name, failpoints):
    """A worker whose environment arms the failpoints spec."""
    child = dict(env.env)
    child["ALERTQ_FAILPOINTS"] = failpoints
    return env.spawn(name, [os.path.join(harness.BUILD, "alertq-worker"), "-c", env.config_path], env=child)


def fired(env, proc, point):
    return ("alertq: failpoint %s fires" % point) in env.log_of(proc)


def wait_crashed(env, proc, point):
    wait_for("%s to crash at %s" % (proc.name, point), lambda: proc.poll() is not None, timeout=60)
    check(proc.returncode == 137, "%s exited %s, expected 137 (the crash failpoint)" % (proc.name, proc.returncode))
    check(fired(env, proc, point), "%s exited without its failpoint %s firing" % (proc.name, point))


def stopped(proc):
    """True while proc is stopped by a signal (state T in /proc)."""
    try:
        with open("/proc/%d/stat" % proc.pid) as f:
            return f.read().rpartition(")")[2].split()[0] == "T"
    except OSError:
        return False


def submit(env, names):
    env.submit_lines([{"check": c, "value": 95, "message": "high"} for c in names])


def outbox(env):
    """{id: (check, state, attempts)} of the hook channel's outbox rows."""
    return {r[0]: (r[1], r[2], int(r[3])) for r in
            env.sql("SELECT id, check_name, state, attempts FROM alertq_notifications WHERE channel = 'hook'")}


def wait_until(what, predicate, timeout):
    """Like wait_for, with predicate returning (done, what it saw)."""
    deadline = time.monotonic() + timeout
    while True:
        done, seen = predicate()
        if done:
            return
        if time.monotonic() > deadline:
            harness.fail("timed out after %.0fs waiting for %s (%s)" % (timeout, what, seen))
        time.sleep(0.2)


def wait_settled(env, want, timeout=45):
    """Waits until the outbox holds want rows and none is pending."""
    def settled():
        rows = outbox(env)
        return len(rows) == want and all(s != "pending" for _, s, _ in rows.values()) and rows
    return wait_for("%d notifications no longer pending" % want, settled, timeout=timeout)


def by_check(hook):
    """{check: [request answered 200]}, every request checked against the
    contract (Idempotency-Key = notification_id) on the way."""
    out = collections.defaultdict(list)
    for r in hook.records():
        n = receivers.check_contract_request(r)
        check(r["status"] == 200, "the receiver answered %s" % r["status"])
        out[n["check"]].append(r)
    return out


def id_of(r):
    return json.loads(r["body"])["notification_id"]


def one_id_per_check(hook, names):
    """Each check's requests all carry one notification_id; returns
    ({check: id}, {id: number of requests})."""
    ids = {}
    times = collections.Counter()
    got = by_check(hook)
    for c in names:
        check(got.get(c), "%s never reached the receiver: lost" % c)
        seen = {id_of(r) for r in got[c]}
        check(len(seen) == 1, "%s reached the receiver under %d notification_ids %s: a redelivery with a new id"
              % (c, len(seen), sorted(seen)))
        ids[c] = seen.pop()
        times[ids[c]] = len(got[c])
    check(set(got) == set(names), "the receiver heard of checks never submitted: %s" % sorted(set(got) - set(names)))
    return ids, times


def check_marked_sent(env, ids):
    """alertq history shows each check's one notification, with the id the
    receiver saw, sent and recorded after one attempt."""
    for c, nid in ids.items():
        ns = [n for t in env.history(c)["transitions"] for n in t["notifications"]]
        check(len(ns) == 1, "history of %s holds %d notifications, expected 1" % (c, len(ns)))
        n = ns[0]
        check(n["notification_id"] == nid, "history of %s: id %s, the receiver saw %s" % (c, n["notification_id"], nid))
        check(n["delivery"] == "sent", "history of %s: delivery %s" % (c, n["delivery"]))
        check(n["attempts"] == 1, "history of %s: %d attempts recorded, expected 1" % (c, n["attempts"]))
    status = env.status()
    check(all(s["undeliverable"] == 0 for s in status.values()), "undeliverable notifications: %s" %
          [s for s in status.values() if s["undeliverable"]])


# --- 1. crash after the claim, before anything is sent -----------------------

def crash_after_claim(make):
    env, hook = setup(make, "fp-claim")
    w1 = worker_with(env, "worker1", "dispatch.after_claim=crash")
    env.wait_joined(w1)
    names = ["claim.%02d" % i for i in range(CHECKS)]
    submit(env, names)
    wait_crashed(env, w1, "dispatch.after_claim")
    check(not hook.records(), "the receiver got %d requests before the crash, expected none" % len(hook.records()))
    before = outbox(env)
    check(before, "the worker crashed at a claim, yet the outbox is empty")
    check(all(s == "pending" for _, s, _ in before.values()),
          "rows claimed by the crashed worker are not pending: %s" % sorted(set(s for _, s, _ in before.values())))

    print("claim: %d rows in the outbox at the crash" % len(before), file=sys.stderr)
    w2 = env.worker("worker2")
    wait_settled(env, CHECKS)
    time.sleep(1.5)  # a duplicate would come now
    accepted = receivers.once_per_id(hook.records(), "hook")
    ids, _ = one_id_per_check(hook, names)
    check(set(accepted) == set(ids.values()) and len(accepted) == CHECKS,
          "the receiver accepted %d notifications, expected %d" % (len(accepted), CHECKS))
    check(set(before) <= set(accepted), "rows claimed when the worker crashed were never delivered: %s"
          % sorted(set(before) - set(accepted)))
    check_marked_sent(env, ids)
    check(env.stop(w2) == 0, "worker2 did not stop cleanly")


# --- 2. crash after sending, before the outcome is recorded ------------------

def crash_after_deliver(make):
    env, hook = setup(make, "fp-deliver")
    # the first claim (one row) goes through; the second one crashes
    w1 = worker_with(env, "worker1", "dispatch.after_deliver=2*crash")
    env.wait_joined(w1)
    submit(env, ["first"])
    wait_settled(env, 1)
    check(w1.poll() is None, "worker1 died on its first claim")
    names = ["deliver.%02d" % i for i in range(CHECKS)]
    submit(env, names)
    wait_crashed(env, w1, "dispatch.after_deliver")
    sent_before = {id_of(r) for r in hook.records()} - {i for i, (c, _, _) in outbox(env).items() if c == "first"}
    check(sent_before, "the worker crashed after sending, yet the receiver has nothing of the second claim")
    rows = outbox(env)
    check(sent_before <= set(rows), "the receiver got notification_ids the outbox does not hold: %s"
          % sorted(sent_before - set(rows)))
    states = {rows[i][1] for i in sent_before}
    check(states == {"pending"}, "notifications sent but not recorded show as %s, expected pending" % states)

    print("deliver: %d sent before the crash without a record" % len(sent_before), file=sys.stderr)
    w2 = env.worker("worker2")
    wait_settled(env, CHECKS + 1)
    time.sleep(1.5)  # a third delivery would come now
    ids, times = one_id_per_check(hook, names + ["first"])
    check(times[ids["first"]] == 1, "the notification recorded before the crash was sent %d times"
          % times[ids["first"]])
    again = {i for i, k in times.items() if k > 1}
    check(again == sent_before, "sent again: %s; sent before the crash without a record: %s"
          % (sorted(again), sorted(sent_before)))
    third = {i: k for i, k in times.items() if k > 2}
    check(not third, "notifications delivered more than twice: %s" % third)
    first = {}
    for r in hook.records():
        nid = id_of(r)
        first.setdefault(nid, r)
        check(r["headers"].get("idempotency-key") == first[nid]["headers"].get("idempotency-key"),
              "a redelivery of %s carries Idempotency-Key %r, the first %r" %
              (nid, r["headers"].get("idempotency-key"), first[nid]["headers"].get("idempotency-key")))
    check_marked_sent(env, ids)
    check(env.stop(w2) == 0, "worker2 did not stop cleanly")


# --- 3. a worker frozen after sending, a second one running -----------------

def frozen_after_deliver(make, resume):
    """resume "cont": the frozen worker goes on and records its outcomes;
    "kill": it is killed, and the second worker takes its rows over."""
    env, hook = setup(make, "fp-frozen-" + resume)
    # SIGSTOP freezes the whole worker: its first claim waits a while, so
    # that the worker has consumed every event of the first round (and holds
    # no batch open, whose locks would stop worker2's consumer) when it
    # freezes holding that claim
    w1 = worker_with(env, "worker1", "dispatch.after_claim=sleep(2000);dispatch.after_deliver=stop")
    env.wait_joined(w1)
    names = ["frozen.%02d" % i for i in range(CHECKS)]
    submit(env, names[:CHECKS // 3])
    wait_for("worker1 frozen after sending", lambda: stopped(w1) and fired(env, w1, "dispatch.after_deliver"),
             timeout=60)
    held = {id_of(r) for r in hook.records()}
    check(held, "worker1 froze after sending, yet the receiver has nothing")
    rows = outbox(env)
    check(len(rows) == CHECKS // 3, "worker1 froze before it had consumed the first round: %d rows" % len(rows))
    check(held <= set(rows), "the receiver got notification_ids the outbox does not hold: %s"
          % sorted(held - set(rows)))
    print("frozen: worker1 holds %d rows it has sent" % len(held), file=sys.stderr)

    # the rest can only reach worker2, once the group has given it worker1's
    # partitions: that worker2 sends them shows its dispatcher at work while
    # worker1's rows are there to be taken
    submit(env, names[CHECKS // 3:])
    w2 = env.worker("worker2")
    def others_sent():
        rows = outbox(env)
        waiting = sorted(c for i, (c, s, _) in rows.items() if i not in held and s != "sent")
        return len(rows) == CHECKS and not waiting, "%d rows, not sent: %s" % (len(rows), waiting)
    wait_until("every row worker1 does not hold sent by worker2", others_sent, timeout=45)
    time.sleep(2)  # a double delivery by worker2 would come now
    check(stopped(w1), "worker1 is no longer frozen")
    check(w2.poll() is None, "worker2 exited %s" % w2.returncode)
    receivers.once_per_id(hook.records(), "hook while worker1 is frozen")
    rows = outbox(env)
    states = {rows[i][1] for i in held}
    check(states == {"pending"}, "rows held by the frozen worker show as %s, expected pending" % states)

    if resume == "cont":
        w1.send_signal(signal.SIGCONT)
    else:
        w1.kill()
        w1.wait()
    wait_settled(env, CHECKS)
    time.sleep(1.5)  # a (further) duplicate would come now
    ids, times = one_id_per_check(hook, names)
    if resume == "cont":
        accepted = receivers.once_per_id(hook.records(), "hook")
        check(len(accepted) == CHECKS, "the receiver accepted %d notifications, expected %d" % (len(accepted), CHECKS))
    else:
        again = {i: k for i, k in times.items() if k != 1}
        check(set(again) == held, "sent again after worker1 was killed: %s; it held %s" % (sorted(again), sorted(held)))
        check(all(k == 2 for k in again.values()), "notifications sent more than twice: %s" % again)
    check_marked_sent(env, ids)
    for w in (w1, w2) if resume == "cont" else (w2,):
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)


# --- 4. recording the outcome fails: rolled back, sent again, same id --------

def error_after_deliver(make):
    env, hook = setup(make, "fp-error")
    w = worker_with(env, "worker", "dispatch.after_deliver=error")
    env.wait_joined(w)
    names = ["error.%02d" % i for i in range(CHECKS)]
    submit(env, names)
    wait_settled(env, CHECKS)
    time.sleep(1.5)  # a third delivery would come now
    check(fired(env, w, "dispatch.after_deliver"), "the failpoint never fired")
    check("'hook': failpoint dispatch.after_deliver" in env.log_of(w), "the worker did not report the failed step")
    ids, times = one_id_per_check(hook, names)
    again = {i: k for i, k in times.items() if k != 1}
    check(again, "no notification was sent again after its outcome failed to be recorded")
    check(all(k == 2 for k in again.values()), "notifications sent more than twice: %s" % again)
    print("error: %d sent again after the failed recording" % len(again), file=sys.stderr)
    first = {}
    for r in hook.records():
        nid = id_of(r)
        first.setdefault(nid, r)
        check(r["headers"].get("idempotency-key") == first[nid]["headers"].get("idempotency-key"),
              "a redelivery of %s carries Idempotency-Key %r" % (nid, r["headers"].get("idempotency-key")))
    check_marked_sent(env, ids)
    check(w.poll() is None and env.stop(w) == 0, "the worker did not stop cleanly")


TESTS = {"claim": crash_after_claim, "deliver": crash_after_deliver,
         "frozen": lambda make: frozen_after_deliver(make, "cont"),
         "killed": lambda make: frozen_after_deliver(make, "kill"), "error": error_after_deliver}


def test(make):
    only = [x for x in os.environ.get("ALERTQ_FP_ONLY", "").split(",") if x]
    for name, fn in TESTS.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        fn(make)
        print("%s: %.1fs" % (name, time.monotonic() - started), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(harness.main(test))
