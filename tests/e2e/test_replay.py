#!/usr/bin/python3
"""test_replay.py - alertq replay as an operator uses it: a dry run reports
exactly the transitions the rules (or a changed rules file) give for what is
in the topic, and the notifications per channel, from the beginning, from an
offset, from a time (the dev broker cannot look offsets up by time: the
fallback reads everything and filters on message timestamps), up to an
offset or a time; it moves neither the workers' offsets nor their group. An
offset that retention removed is an error. --rebuild is refused while a
worker runs, and with the workers stopped it rebuilds the state from the
topic without sending anything; a worker then goes on from there."""

import collections
import json
import os
import random
import sys
import time

import harness
from harness import check, iso, wait_for

CONFIG = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
  - match: "slow.*"
    warning: ">= 10"
    critical: ">= 1000"
    for: 2
    escalation: log
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION + """  hook: { type: webhook, url: "http://127.0.0.1:9/never", format: json }
"""
RULES = [("svc.*", (">", 50), (">", 90), 1), ("slow.*", (">=", 10), (">=", 1000), 2), ("*", None, None, 1)]
POLICY = {"CRITICAL": ["logfile"], "WARNING": ["logfile"], "UNKNOWN": ["logfile"]}

# a changed rules file: its own rules and escalations, the configured channels
RULES_FILE2 = """# what if the thresholds were tighter and CRITICAL went to the hook too
rules:
  - match: "svc.*"
    warning: "> 30"
    critical: "> 65"
    escalation: loud
  - match: "slow.*"
    critical: ">= 10"
    for: 3
    escalation: loud
  - match: "*"
    escalation: loud
escalations:
  loud:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile, hook] } ] }
    WARNING:  { levels: [ { after: 0s, notify: [logfile] } ] }
    resolved: true
"""
RULES2 = [("svc.*", (">", 30), (">", 65), 1), ("slow.*", None, (">=", 10), 3), ("*", None, None, 1)]
POLICY2 = {"CRITICAL": ["logfile", "hook"], "WARNING": ["logfile"], "UNKNOWN": []}

# only rules: the configured escalations and channels stand
RULES_FILE3 = """rules:
  - match: "*"
    warning: "> 15"
    escalation: log
"""
RULES3 = [("*", (">", 15), None, 1)]

ROUNDS = 8


def make_results():
    base_ms = int(time.time() * 1000) - ROUNDS * 60000  # recent: nothing goes stale
    rng = random.Random(11)
    checks = ["svc.%02d" % i for i in range(24)] + ["slow.%02d" % i for i in range(8)] + \
        ["cmd.%02d" % i for i in range(8)]
    rounds = []
    for rnd in range(ROUNDS):
        batch = []
        for i, c in enumerate(checks):
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i)}
            if c.startswith("cmd."):
                r["status"] = rng.choice(["OK", "OK", "WARNING", "CRITICAL", "UNKNOWN"])
            elif c.startswith("slow."):
                r["value"] = rng.choice([1, 15, 15, 15, 2000])
            else:
                r["value"] = rng.choice([10, 20, 40, 60, 70, 95, None])
            batch.append(r)
        rounds.append(batch)
    return checks, rounds


def expected(results, rules, policy, channels=("logfile", "hook")):
    """The reference transitions per check and the notifications per channel
    they cause under policy (level 0 at once; resolved to every channel told)."""
    ref = harness.reference(results, rules)
    counts = {c: 0 for c in channels}
    for check_name, (_, transitions) in ref.items():
        told = set()
        for frm, to, _ in transitions:
            if to == "OK":
                for ch in told:
                    counts[ch] += 1
                told = set()
                continue
            if frm == "OK":
                told = set()
            for ch in policy.get(to, []):
                counts[ch] += 1
                told.add(ch)
    per_check = {c: [(a, b, float(v) if v is not None else None) for a, b, v in t]
                 for c, (_, t) in ref.items() if t}
    return per_check, counts


def replay(env, *args, config=None, check_rc=True):
    argv = [os.path.join(harness.BUILD, "alertq"), "-c", config or env.config_path, "replay"] + list(args)
    return env.run(*argv, check_rc=check_rc)


def dry_run_json(env, *args, config=None):
    out = replay(env, *args, "--dry-run", "--json", config=config)
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        harness.fail("replay --json printed no JSON object:\n%s" % out.stdout)
    per_check = collections.defaultdict(list)
    for t in doc["transitions"]:
        for key in ("check", "from", "to", "value", "observed_at"):
            check(key in t, "a transition without '%s': %s" % (key, t))
        per_check[t["check"]].append((t["from"], t["to"], t["value"]))
    return dict(per_check), doc["notifications"], doc, out.stderr


def same(what, got, want):
    got_t, got_n = got
    want_t, want_n = want
    for c in sorted(set(got_t) | set(want_t)):
        check(got_t.get(c, []) == want_t.get(c, []),
              "%s: %s: transitions %s, expected %s" % (what, c, got_t.get(c, []), want_t.get(c, [])))
    check(got_n == want_n, "%s: notifications %s, expected %s" % (what, got_n, want_n))
    return sum(len(t) for t in want_t.values())


def positions(env, count):
    """{check: [offset of its 1st message, 2nd, ...]} and each message's partition, from the topic."""
    out = env.run(os.path.join(harness.BUILD, "kafka_probe"), "dump", "127.0.0.1:%d" % env.broker_port,
                  "alertq.checks", str(count), "30")
    offsets = collections.defaultdict(list)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "dumped":
            continue
        key = bytes.fromhex(parts[2]).decode() if parts[2] != "-" else ""
        offsets[key].append(int(parts[1]))
    for key in offsets:
        offsets[key].sort()  # one check lives in one partition, in produce order
    return offsets


def stored_offsets(env):
    """{partition: next offset} of the partitions that have messages."""
    return {int(p): int(n) for p, n in env.sql("SELECT partition, next_offset FROM alertq_offsets") if int(n) > 0}


def test(make):
    env = make("replay")
    env.write_config(CONFIG)
    env.start_broker()
    worker = env.worker("worker1")
    env.wait_joined(worker)

    checks, rounds = make_results()
    first = [r for rnd in rounds[:4] for r in rnd]
    second = [r for rnd in rounds[4:] for r in rnd]
    everything = first + second
    # two results no worker can read: counted and reported, never fatal
    garbage = os.path.join(env.dir, "garbage")
    with open(garbage, "w") as f:
        f.write("%s %s\n" % (b"svc.00".hex(), b"not avro at all".hex()))
        f.write("%s %s\n" % (b"cmd.00".hex(), "c301"))  # the magic, then nothing
    env.run(os.path.join(harness.BUILD, "kafka_probe"), "produce-file", "127.0.0.1:%d" % env.broker_port,
            "alertq.checks", garbage)
    env.submit_lines(first)
    time.sleep(1.5)
    between_ms = int(time.time() * 1000)
    between = iso(between_ms)
    time.sleep(1.5)
    env.submit_lines(second)
    total = len(everything) + 2
    wait_for("every check at its last result",
             lambda: all(c.get("message") == "round %d" % (ROUNDS - 1) for c in env.status().values())
             and len(env.status()) == len(checks), timeout=120)
    offsets_before = stored_offsets(env)
    check(sum(offsets_before.values()) == total,
          "the workers stored offsets for %s messages, expected %d" % (offsets_before, total))
    log_before = env.log_of(worker)

    # the configured rules: exactly the reference, and the garbage reported
    got_t, got_n, doc, err = dry_run_json(env, "--from", "beginning")
    n = same("configured rules", (got_t, got_n), expected(everything, RULES, POLICY))
    check(n > 40, "only %d transitions: the data does not exercise the rules" % n)
    check(doc.get("unusable") == 2, "replay counted %s unusable messages, expected 2" % doc.get("unusable"))
    check("2 message(s) could not be used" in err, "replay did not report the unusable messages: %s" % err)
    # and what the worker made of the same results
    for c in checks[:6] + checks[24:28]:
        hist = [(t["from"], t["to"], t["value"]) for t in env.history(c)["transitions"]]
        check(hist == got_t.get(c, []), "%s: worker history %s, replay %s" % (c, hist, got_t.get(c, [])))

    # a changed rules file (its own escalations, the configured channels)
    rules2 = os.path.join(env.dir, "rules2.yaml")
    with open(rules2, "w") as f:
        f.write(RULES_FILE2)
    got_t, got_n, _, _ = dry_run_json(env, "--from", "beginning", "--rules", rules2)
    same("rules2.yaml", (got_t, got_n), expected(everything, RULES2, POLICY2))
    check(got_n["hook"] > 0, "the changed rules sent nothing to the hook: %s" % got_n)
    # a rules file with rules only: the configured escalations and channels
    rules3 = os.path.join(env.dir, "rules3.yaml")
    with open(rules3, "w") as f:
        f.write(RULES_FILE3)
    got_t, got_n, _, _ = dry_run_json(env, "--from", "beginning", "--rules", rules3)
    same("rules3.yaml", (got_t, got_n), expected(everything, RULES3, POLICY))
    # a broken rules file: its problems with file:line, exit 2
    bad = os.path.join(env.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write("rules:\n  - match: \"*\"\n    warning: \"~ 3\"\n")
    out = replay(env, "--from", "beginning", "--dry-run", "--rules", bad, check_rc=False)
    check(out.returncode == 2 and "bad.yaml:3:" in out.stderr,
          "a bad rules file gave exit %d and %r" % (out.returncode, out.stderr))

    # --from OFFSET applies to every partition; --to OFFSET stops before it
    where = positions(env, total)
    by_check = collections.defaultdict(list)
    for r in everything:
        by_check[r["check"]].append(r)

    def between_offsets(lo, hi):
        kept = []
        for c in checks:
            offs = [o for o in where[c] if o not in garbage_offsets.get(c, ())]
            kept += [r for r, o in zip(by_check[c], offs) if lo <= o < hi]
        return kept
    garbage_offsets = {"svc.00": {min(where["svc.00"])}, "cmd.00": {min(where["cmd.00"])}}
    got = dry_run_json(env, "--from", "7")[:2]
    same("--from 7", got, expected(between_offsets(7, 10 ** 9), RULES, POLICY))
    got = dry_run_json(env, "--from", "3", "--to", "12")[:2]
    same("--from 3 --to 12", got, expected(between_offsets(3, 12), RULES, POLICY))

    # --from TIME: the dev broker finds no offset by time; the fallback says so
    got_t, got_n, _, err = dry_run_json(env, "--from", between)
    check("reading them from the beginning" in err and "timestamp" in err,
          "replay --from TIME did not say it fell back to message timestamps: %r" % err)
    same("--from %s" % between, (got_t, got_n), expected(second, RULES, POLICY))
    got = dry_run_json(env, "--from", "beginning", "--to", between)[:2]
    same("--to %s" % between, got, expected(first, RULES, POLICY))
    out = replay(env, "--from", iso(int(time.time() * 1000) + 3600000), "--dry-run", "--json")
    check(json.loads(out.stdout)["transitions"] == [], "--from an hour ahead found transitions")

    # bad bounds are usage errors
    out = replay(env, "--from", "yesterday", "--dry-run", check_rc=False)
    check(out.returncode == 2 and "--from" in out.stderr, "--from yesterday: exit %d %r" % (out.returncode, out.stderr))
    out = replay(env, "--from", "beginning", check_rc=False)
    check(out.returncode == 2, "replay without --dry-run or --rebuild exited %d" % out.returncode)

    # nothing moved: stored offsets, and the workers' group never saw a member
    offsets_after = stored_offsets(env)
    check(offsets_after == offsets_before, "a dry run moved the stored offsets: %s -> %s" %
          (offsets_before, offsets_after))
    check("partitions revoked" not in env.log_of(worker)[len(log_before):],
          "the worker's group rebalanced during the dry runs (replay joined it?)")

    # --rebuild: refused while a worker runs
    out = replay(env, "--from", "beginning", "--rebuild", check_rc=False)
    check(out.returncode == 1 and "workers are running" in out.stderr,
          "rebuild beside a running worker: exit %d %r" % (out.returncode, out.stderr))
    rc = env.stop(worker)
    check(rc == 0, "worker1 exited %s on SIGTERM" % rc)
    # damage the state, then rebuild it from the topic
    wait_for("alerts.log complete", lambda: len(env.alert_lines()) == n, timeout=60)
    lines_before = len(env.alert_lines())
    outbox_before = env.sql("SELECT count(*) FROM alertq_notifications")[0][0]
    env.sql("DELETE FROM alertq_checks WHERE check_name LIKE 'svc.0%'")
    env.sql("UPDATE alertq_checks SET severity = 'CRITICAL' WHERE check_name LIKE 'cmd.%'")
    env.sql("DELETE FROM alertq_transitions WHERE check_name LIKE 'slow.%'")
    env.sql("UPDATE alertq_offsets SET next_offset = 0")
    out = replay(env, "--from", "beginning", "--rebuild")
    check("rebuilt the state of %d check(s)" % len(checks) in out.stdout, "rebuild said: %s" % out.stdout)
    ref = harness.reference(everything, RULES)
    status = env.status()
    check(len(status) == len(checks), "after the rebuild %d checks, expected %d" % (len(status), len(checks)))
    for c in checks:
        check(status[c]["severity"] == ref[c][0], "%s: rebuilt severity %s, expected %s" %
              (c, status[c]["severity"], ref[c][0]))
        hist = [(t["from"], t["to"], t["value"]) for t in env.history(c)["transitions"]]
        want = [(a, b, float(v) if v is not None else None) for a, b, v in ref[c][1]]
        check(hist == want, "%s: rebuilt history %s, expected %s" % (c, hist, want))
    check(env.sql("SELECT count(*) FROM alertq_notifications")[0][0] == outbox_before,
          "the rebuild queued notifications")
    offsets_rebuilt = stored_offsets(env)
    check(offsets_rebuilt == offsets_before, "rebuilt offsets %s, expected the end %s" %
          (offsets_rebuilt, offsets_before))

    # a worker goes on from the end: one new result, one new notification
    worker2 = env.worker("worker2")
    env.wait_joined(worker2)
    target = next(c for c in checks if c.startswith("svc.") and ref[c][0] == "OK")
    env.submit_lines([{"check": target, "value": 99, "message": "after the rebuild", "interval": "1h"}])
    wait_for("the new result applied", lambda: env.status()[target]["message"] == "after the rebuild", timeout=60)
    hist = env.history(target)["transitions"]
    check([(t["from"], t["to"]) for t in hist[-1:]] == [("OK", "CRITICAL")],
          "%s after the rebuild: %s" % (target, hist[-1:]))
    check(len(hist) == len(ref[target][1]) + 1, "%s: %d transitions after one new result, expected %d" %
          (target, len(hist), len(ref[target][1]) + 1))
    lines = wait_for("the new notification", lambda: (lambda l: l if len(l) > lines_before else None)(
        env.alert_lines()), timeout=60)
    time.sleep(2)
    lines = env.alert_lines()
    check(len(lines) == lines_before + 1 and lines[-1]["check"] == target,
          "alerts.log grew by %d lines after the rebuild, expected 1 (for %s)" % (len(lines) - lines_before, target))
    env.stop(worker2)

    # an offset that retention removed is an error, not a jump: fill one
    # partition of another topic beyond what the dev broker keeps
    big = os.path.join(env.dir, "big")
    rng = random.Random(3)
    with open(big, "w") as f:
        for _ in range(8):
            f.write("%s %s\n" % (b"big".hex(), rng.randbytes(800000).hex()))
    env.run(os.path.join(harness.BUILD, "kafka_probe"), "produce-file", "127.0.0.1:%d" % env.broker_port,
            "alertq.big", big, timeout=300)
    with open(env.config_path) as f:
        text = f.read()
    big_config = os.path.join(env.dir, "big.yaml")
    with open(big_config, "w") as f:
        f.write(text.replace("topic: alertq.checks\n", "topic: alertq.big\n"))
    out = replay(env, "--from", "0", "--dry-run", config=big_config, check_rc=False)
    check(out.returncode == 1 and "retention" in out.stderr,
          "--from 0 below the low watermark: exit %d, %r" % (out.returncode, out.stderr))
    out = replay(env, "--from", "beginning", "--dry-run", "--json", config=big_config)
    doc = json.loads(out.stdout)
    check(doc["unusable"] >= 1 and doc["transitions"] == [], "the big topic replayed as %s" % doc)
    print("results %d, transitions %d" % (len(everything), n))


if __name__ == "__main__":
    sys.exit(harness.main(test))
