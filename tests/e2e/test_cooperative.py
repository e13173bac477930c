#!/usr/bin/python3
"""test_cooperative.py - two workers with the cooperative-sticky assignor
(kafka.properties: partition.assignment.strategy). A member joining takes
partitions from the other without stopping it, a member leaving hands its
partitions over incrementally, each partition starts at the offset stored
with the state, and every result is applied exactly once."""

import re
import sys
import threading

import harness
from harness import check, wait_for
from test_pipeline import RULES, REFERENCE_RULES, iso  # the same rules and reference

ROUNDS = 6
PARTITIONS = 12
COOPERATIVE = "  properties:\n    partition.assignment.strategy: cooperative-sticky\n"
CHANGE = re.compile(r"partitions (assigned|revoked): \[([0-9,]*)\]; holding \[([0-9,]*)\] \((\w+)\)")


def make_results():
    import random
    import time
    base_ms = int(time.time() * 1000) - ROUNDS * 60000
    rng = random.Random(31)
    checks = ["svc.%03d" % i for i in range(240)] + ["slow.%03d" % i for i in range(60)]
    results = []
    for rnd in range(ROUNDS):
        for i, c in enumerate(checks):
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i)}
            r["value"] = rng.choice([1, 15, 15, 2000] if c.startswith("slow.") else [10, 60, 70, 95, None])
            results.append(r)
    return checks, results


def numbers(text):
    return {int(p) for p in text.split(",") if p}


def changes(env, proc):
    """proc's assignment changes, oldest first: (kind, listed, holding, protocol)."""
    return [(m[0], numbers(m[1]), numbers(m[2]), m[3]) for m in CHANGE.findall(env.log_of(proc))]


def holding(env, proc):
    found = changes(env, proc)
    return found[-1][2] if found else None


def shared_out(env, procs):
    """The members' assignments when together they hold every partition once."""
    held = [holding(env, p) for p in procs]
    if any(not h for h in held):
        return None
    if sum(len(h) for h in held) != PARTITIONS or set().union(*held) != set(range(PARTITIONS)):
        return None
    return held


def test(make):
    env = make("cooperative", partitions=PARTITIONS)
    env.write_config(RULES, extra_kafka=COOPERATIVE)
    env.start_broker()
    w1 = env.worker("worker1")
    wait_for("worker1 holding all partitions", lambda: shared_out(env, [w1]), timeout=120)
    w2 = env.worker("worker2")
    held = wait_for("two workers sharing the partitions", lambda: shared_out(env, [w1, w2]), timeout=120)
    print("assignments: %s" % held)
    for w in (w1, w2):
        protocols = {c[3] for c in changes(env, w)}
        check(protocols == {"cooperative"}, "%s rebalanced with %s, expected cooperative" % (w.name, protocols))
    # worker1 gave up only what worker2 took, and kept the rest all along
    revoked = [c for c in changes(env, w1) if c[0] == "revoked"]
    check(revoked and all(c[2] for c in revoked),
          "worker1 should have given up part of its partitions, not all: %s" % changes(env, w1))

    checks, results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    wait_for("first results applied", lambda: len(env.status()) >= 100, timeout=60)

    # stop worker1 while the second half is being sent
    w2_before = len(changes(env, w2))
    w1_held = holding(env, w1)
    sent = {}
    sender = threading.Thread(target=lambda: sent.update(out=env.submit_lines(results[half:])))
    sender.start()
    rc = env.stop(w1)
    sender.join()
    check(rc == 0, "worker1 exited %s on SIGTERM, expected 0" % rc)
    check("%d delivered" % (len(results) - half) in sent["out"].stderr, "submit: %s" % sent["out"].stderr)

    wait_for("worker2 holding all partitions", lambda: shared_out(env, [w2]), timeout=120)
    after = changes(env, w2)[w2_before:]
    print("worker2 after worker1 left: %s" % after)
    check(all(c[0] == "assigned" for c in after),
          "worker2 gave partitions up when worker1 left (not incremental): %s" % after)
    check(set().union(*(c[1] for c in after)) == w1_held,
          "worker2 was assigned %s, worker1 held %s" % ([c[1] for c in after], w1_held))

    last = "round %d" % (ROUNDS - 1)
    wait_for("every check at its last result",
             lambda: (lambda s: len(s) == len(checks) and all(c["message"] == last for c in s.values()))(env.status()),
             timeout=180)

    transitions = harness.check_applied_once(env, checks, results, REFERENCE_RULES)
    check(env.stop(w2) == 0, "worker2 did not stop cleanly")
    print("checks %d, results %d, transitions %d" % (len(checks), len(results), transitions))


if __name__ == "__main__":
    sys.exit(harness.main(test))
