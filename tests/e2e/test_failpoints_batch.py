#!/usr/bin/python3
"""test_failpoints_batch.py - the narrow windows where a batch is applied
exactly once or not, hit on purpose with failpoints (lib/base/failpoint.h)
rather than by chance as test_chaos does:

  zombie          a worker frozen (SIGSTOP) holding a batch it has read but
                  not applied loses its partitions to another worker, which
                  applies everything; woken, it must apply nothing of its
                  stale batch (the batch drops what is below the offset
                  stored in PostgreSQL).
  zombie_locked   the same with the worker frozen after it locked its
                  partitions' offset rows: the other worker waits for the
                  lock, then applies only what the woken one did not.
  before_commit   a worker dies just before COMMIT: the worker started in
                  its place applies the batch; nothing is lost (the Kafka
                  commit comes only after the PostgreSQL one).
  after_commit    a worker dies after COMMIT, before the Kafka commit, and
                  the worker started in its place cannot read the stored
                  offsets when it is assigned the partitions, so Kafka
                  really delivers the applied messages again: they must
                  change nothing.
  commit_refused  PostgreSQL refuses one COMMIT (a deferred trigger raising
                  serialization_failure): the batch is tried again and
                  applied once.

Each ends with every check's severity and history equal to the reference
evaluation of what was submitted, the stored offsets adding up to the
results sent, and one alerts.log line per transition, each notification id
once. `test_failpoints_batch.py NAME...` runs only the windows named."""

import collections
import os
import random
import signal
import sys
import time

import harness
from harness import check, iso, wait_for
from test_scaling import assignment, shared_out

CHECKS = ["svc.%03d" % i for i in range(60)]
ROUNDS = 8
RULES = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
""" + harness.LOGFILE_ESCALATION
REFERENCE_RULES = [("svc.*", (">", 50), (">", 90), 1)]
PARTITIONS = 12


def make_results():
    """ROUNDS results for every check, severities changing often, so that
    any result applied twice (or lost) changes the history."""
    base_ms = int(time.time() * 1000) - ROUNDS * 60000
    rng = random.Random(31)
    results = []
    for rnd in range(ROUNDS):
        for i, c in enumerate(CHECKS):
            r = {"check": c, "message": "round %d" % rnd, "interval": "1h",
                 "observed_at": iso(base_ms + rnd * 60000 + i)}
            value = rng.choice([10, 60, 95, None])
            if value is not None:
                r["value"] = value
            results.append(r)
    return results


def process_state(proc):
    """The state letter of proc in /proc (R, S, T for stopped...)."""
    with open("/proc/%d/stat" % proc.pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def transitions_stored(env):
    return int(env.sql("SELECT count(*) FROM alertq_transitions")[0][0])


def offsets_stored(env):
    """The sum of the stored next offsets (the results applied), 0 when none."""
    return int(env.sql("SELECT coalesce(sum(next_offset), 0) FROM alertq_offsets WHERE next_offset >= 0")[0][0])


def assert_exactly_once(env, results):
    """Every result applied once: state and history equal the reference, the
    offsets add up to the results sent, one notification per transition in
    alerts.log and no id twice."""
    last = results[-1]["message"]
    wait_for("every check at its last result",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message = '%s'" % last)[0][0])
             == len(CHECKS), timeout=30, interval=0.5)
    expected = harness.reference(results, REFERENCE_RULES)
    severities = dict(env.sql("SELECT check_name, severity FROM alertq_checks"))
    got = collections.defaultdict(list)
    for name, frm, to, value in env.sql("SELECT check_name, from_severity, to_severity, value"
                                        " FROM alertq_transitions ORDER BY check_name, observed_at_ms, id"):
        got[name].append((frm, to, float(value) if value != "" else None))
    transitions = 0
    for c in CHECKS:
        want = [(a, b, float(v) if v is not None else None) for a, b, v in expected[c][1]]
        check(severities.get(c) == expected[c][0], "%s: severity %s, expected %s" %
              (c, severities.get(c), expected[c][0]))
        check(got[c] == want, "%s: transitions %s, expected %s" % (c, got[c], want))
        transitions += len(want)
    for c in CHECKS[::20]:  # the CLI shows the same history
        cli = [(t["from"], t["to"], t["value"]) for t in env.history(c)["transitions"]]
        check(cli == got[c], "%s: alertq history shows %s, expected %s" % (c, cli, got[c]))
    check(offsets_stored(env) == len(results), "the stored offsets add up to %d, %d results were sent" %
          (offsets_stored(env), len(results)))

    wait_for("every notification told to the log file",
             lambda: len(env.alert_lines()) >= transitions and
             env.sql("SELECT count(*) FROM alertq_notifications WHERE state <> 'sent'")[0][0] == "0",
             timeout=30, interval=0.5)
    lines = env.alert_lines()
    ids = [line["notification_id"] for line in lines]
    check(len(ids) == len(set(ids)), "a notification_id appears twice in alerts.log")
    check(len(lines) == transitions, "alerts.log has %d lines for %d transitions" % (len(lines), transitions))
    per_check = collections.defaultdict(list)
    for line in lines:
        per_check[line["check"]].append(line)
    for c in CHECKS:
        told = [(l["previous_severity"], l["severity"], l["status"])
                for l in sorted(per_check[c], key=lambda l: l["observed_at"])]
        want = [(a, b, "resolved" if b == "OK" else "firing") for a, b, _ in expected[c][1]]
        check(told == want, "%s: alerts.log says %s, expected %s" % (c, told, want))
    return transitions


def start(make, name):
    env = make(name, partitions=PARTITIONS)
    env.write_config(RULES)
    env.start_broker()
    return env


def stop_all(env, procs):
    for p in procs:
        check(p.poll() is None, "%s is not alive at the end (exit %s)" % (p.name, p.returncode))
        check(env.stop(p) == 0, "%s did not stop cleanly" % p.name)
    env.close()  # the broker too, before the next window starts


def zombie(make):
    env = start(make, "fp-zombie")
    # after the stale batch, after_commit says the zombie is past it
    a = env.worker("workerA", failpoints="batch.before_begin=stop;batch.after_commit=sleep(1)")
    env.wait_joined(a)
    results = make_results()
    env.submit_lines(results)
    env.wait_fired(a, "batch.before_begin")
    wait_for("workerA frozen", lambda: process_state(a) == "T", timeout=10)
    check(transitions_stored(env) == 0, "workerA applied something before it froze")

    # heartbeats are frozen too: the group drops workerA after its session
    # timeout and workerB takes every partition
    began = time.monotonic()
    b = env.worker("workerB")
    wait_for("workerB holding all %d partitions" % PARTITIONS,
             lambda: assignment(env, b) == set(range(PARTITIONS)), timeout=40)
    transitions = assert_exactly_once(env, results)
    print("%.1fs: workerB took over and applied everything (%d transitions)" %
          (time.monotonic() - began, transitions))
    check(process_state(a) == "T", "workerA woke before it was sent SIGCONT")

    # the zombie wakes inside its batch, before BEGIN, and applies it
    os.kill(a.pid, signal.SIGCONT)
    env.wait_fired(a, "batch.after_commit", timeout=30)
    print("%.1fs: workerA woke and went through its stale batch" % (time.monotonic() - began))
    assert_exactly_once(env, results)
    # it rejoins, and the two share the partitions; still nothing twice
    wait_for("workerA and workerB sharing the partitions", lambda: shared_out(env, [a, b], PARTITIONS), timeout=40)
    assert_exactly_once(env, results)
    stop_all(env, [a, b])


def zombie_locked(make):
    env = start(make, "fp-zombie-locked")
    a = env.worker("workerA", failpoints="batch.after_offsets_locked=stop;batch.after_commit=sleep(1)")
    env.wait_joined(a)  # migrated
    # the partitions' offset rows exist, nothing stored in them yet (as the
    # worker leaves them): taking them is a row lock, not an insert
    env.sql("INSERT INTO alertq_offsets (topic, partition, next_offset)"
            " SELECT 'alertq.checks', p, -1 FROM generate_series(0, %d) p" % (PARTITIONS - 1))
    results = make_results()
    env.submit_lines(results)
    env.wait_fired(a, "batch.after_offsets_locked")
    wait_for("workerA frozen", lambda: process_state(a) == "T", timeout=10)

    # workerB takes the partitions over and must wait for workerA's locks
    # rather than apply what workerA will apply when it wakes
    b = env.worker("workerB")
    wait_for("workerB holding all %d partitions" % PARTITIONS,
             lambda: assignment(env, b) == set(range(PARTITIONS)), timeout=40)

    def blocked():
        return int(env.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND wait_event_type = 'Lock'")[0][0]) > 0
    how = wait_for("workerB waiting for the offset rows workerA holds (or done without them)",
                   lambda: "blocked" if blocked() else "done" if offsets_stored(env) == len(results) else None,
                   timeout=20)
    print("zombie_locked: workerB %s" % how)

    # woken, workerA applies its batch (it read the offsets under its lock);
    # workerB then reads the offsets workerA stored and applies only the rest
    os.kill(a.pid, signal.SIGCONT)
    env.wait_fired(a, "batch.after_commit", timeout=30)
    transitions = assert_exactly_once(env, results)
    check(how == "blocked", "workerB applied every result while workerA held offset rows")
    print("zombie_locked: %d transitions, each once" % transitions)
    stop_all(env, [a, b])


def before_commit(make):
    env = start(make, "fp-before-commit")
    a = env.worker("workerA", failpoints="batch.before_commit=crash")
    env.wait_joined(a)
    results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    env.wait_fired(a, "batch.before_commit")
    a.wait(timeout=30)
    check(a.returncode == 137, "workerA exited %s, expected 137 from the crash" % a.returncode)
    check(transitions_stored(env) == 0 and offsets_stored(env) == 0,
          "workerA's batch is in PostgreSQL although it died before COMMIT")

    b = env.worker("workerB")
    env.wait_joined(b)
    env.submit_lines(results[half:])
    transitions = assert_exactly_once(env, results)
    print("before_commit: %d transitions, each once" % transitions)
    stop_all(env, [b])


def after_commit(make):
    env = start(make, "fp-after-commit")
    a = env.worker("workerA", failpoints="batch.after_commit=crash")
    env.wait_joined(a)
    results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    env.wait_fired(a, "batch.after_commit")
    a.wait(timeout=30)
    check(a.returncode == 137, "workerA exited %s, expected 137 from the crash" % a.returncode)
    applied = offsets_stored(env)
    check(applied > 0 and transitions_stored(env) > 0, "workerA's batch is not in PostgreSQL after COMMIT")

    # the stored offsets cannot be read when workerB is assigned the
    # partitions: it starts from the group's committed offsets, which
    # workerA never advanced, and Kafka delivers the applied messages again
    env.sql("ALTER TABLE alertq_offsets RENAME TO alertq_offsets_away")
    b = env.worker("workerB")
    wait_for("workerB starting from the group's offsets",
             lambda: "cannot read stored offsets, starting from the group's" in env.log_of(b), timeout=40)
    env.sql("ALTER TABLE alertq_offsets_away RENAME TO alertq_offsets")
    env.submit_lines(results[half:])
    transitions = assert_exactly_once(env, results)
    print("after_commit: %d results applied before the crash, delivered again; %d transitions, each once" %
          (applied, transitions))
    stop_all(env, [b])


REFUSE_ONE_COMMIT = """
CREATE SEQUENCE fp_offset_writes;
CREATE FUNCTION fp_refuse_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a sequence, as its value survives the rollback of the refused transaction
  IF nextval('fp_offset_writes') = 1 THEN
    RAISE EXCEPTION 'the test refuses this commit once' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER fp_refuse_first_commit AFTER INSERT OR UPDATE ON alertq_offsets
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fp_refuse_first_commit();
"""


def commit_refused(make):
    env = start(make, "fp-commit-refused")
    a = env.worker("workerA")
    env.wait_joined(a)  # migrated: the offsets table is there
    env.sql(REFUSE_ONE_COMMIT)
    results = make_results()
    half = len(results) // 2
    env.submit_lines(results[:half])
    wait_for("the first COMMIT refused",
             lambda: env.sql("SELECT is_called FROM fp_offset_writes")[0][0] == "t", timeout=30)
    env.submit_lines(results[half:])
    transitions = assert_exactly_once(env, results)
    log = env.log_of(a)
    # refused as a conflict (SQLSTATE 40001): the batch is applied again at once
    check("applying the batch again: COMMIT: ERROR:  the test refuses this commit once" in log,
          "workerA did not say its COMMIT was refused")
    writes = int(env.sql("SELECT last_value FROM fp_offset_writes")[0][0])
    check(writes > 1, "the refusing trigger ran %d time(s)" % writes)
    print("commit_refused: %d transitions, each once" % transitions)
    stop_all(env, [a])


WINDOWS = {"zombie": zombie, "zombie_locked": zombie_locked, "before_commit": before_commit, "after_commit": after_commit,
           "commit_refused": commit_refused}


def test(make):
    names = sys.argv[1:] or list(WINDOWS)
    for name in names:
        began = time.monotonic()
        WINDOWS[name](make)
        print("%s: passed in %.0fs" % (name, time.monotonic() - began))


if __name__ == "__main__":
    sys.exit(harness.main(test))
