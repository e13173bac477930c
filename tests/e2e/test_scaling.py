#!/usr/bin/python3
"""test_scaling.py - three workers share twelve partitions; results for many
checks are evaluated in produce order; stopping one worker (SIGTERM) moves
its partitions to the other two, and nothing is skipped or applied twice."""

import re
import sys

import harness
from harness import check, wait_for
from test_pipeline import RULES, REFERENCE_RULES, iso  # the same rules and reference

ROUNDS = 6


def make_results():
    import random
    import time
    base_ms = int(time.time() * 1000) - ROUNDS * 60000
    rng = random.Random(23)
    checks = ["svc.%03d" % i for i in range(240)] + ["slow.%03d" % i for i in range(60)]
    results = []
    for rnd in range(ROUNDS):
        for i, c in enumerate(checks):
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i)}
            r["value"] = rng.choice([1, 15, 15, 2000] if c.startswith("slow.") else [10, 60, 70, 95, None])
            results.append(r)
    return checks, results


def assignment(env, proc):
    """The partitions proc holds now, from its log (None before any)."""
    text = env.log_of(proc)
    found = re.findall(r"partitions assigned: \[([0-9,]*)\]", text)
    if not found:
        return None
    if text.rfind("partitions revoked") > text.rfind("partitions assigned"):
        return set()
    return {int(p) for p in found[-1].split(",") if p}


def shared_out(env, procs, partitions=12):
    """The members' assignments when together they hold every partition once."""
    held = [assignment(env, p) for p in procs]
    if any(not h for h in held):
        return None
    if sum(len(h) for h in held) != partitions or set().union(*held) != set(range(partitions)):
        return None
    return held


def test(make):
    env = make("scaling", partitions=12)
    env.write_config(RULES)
    env.start_broker()
    workers = [env.worker("worker%d" % i) for i in (1, 2, 3)]
    held = wait_for("three workers sharing the twelve partitions", lambda: shared_out(env, workers), timeout=120)
    print("assignments: %s" % held)

    checks, results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    wait_for("first results applied", lambda: len(env.status()) >= 100, timeout=60)
    rc = env.stop(workers[0])
    check(rc == 0, "worker1 exited %s on SIGTERM, expected 0" % rc)
    out = env.submit_lines(results[half:])
    check("%d delivered" % (len(results) - half) in out.stderr, "submit: %s" % out.stderr)

    held = wait_for("the two left sharing all twelve partitions", lambda: shared_out(env, workers[1:]), timeout=120)
    print("after worker1 left: %s" % held)
    last = "round %d" % (ROUNDS - 1)
    wait_for("every check at its last result",
             lambda: (lambda s: len(s) == len(checks) and all(c["message"] == last for c in s.values()))(env.status()),
             timeout=180)

    transitions = harness.check_applied_once(env, checks, results, REFERENCE_RULES)
    for w in workers[1:]:
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)
    print("checks %d, results %d, transitions %d" % (len(checks), len(results), transitions))


if __name__ == "__main__":
    sys.exit(harness.main(test))
