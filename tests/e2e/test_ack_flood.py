#!/usr/bin/python3
"""test_ack_flood.py - acks made while a worker is flooded with results of
the very checks acked: a worker's batch reads its checks' rows without a lock
and writes each back only over the version it read, so an ack that lands
between the two makes the batch read again rather than be written over.
Every ack stays, every result is applied once, and the worker never logs a
failed batch: it applies a batch that met an ack again at once."""

import os
import random
import sys
import threading
import time

import harness
from harness import check, wait_for

CHECKS = 200
FLOOD = 300000

CONFIG = """
rules:
  - match: "flood.*"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
"""


def applied(env):
    rows = env.sql("SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM alertq_offsets")
    return int(rows[0][0])


def test(make):
    env = make("ack-flood")
    env.write_config(CONFIG)
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)

    names = ["flood.%03d" % i for i in range(CHECKS)]
    env.submit_lines([{"check": n, "value": 99} for n in names])
    wait_for("every check CRITICAL",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE severity = 'CRITICAL'")[0][0])
             == CHECKS, timeout=60)

    # the flood: results of the same checks, every one still CRITICAL
    flood = os.path.join(env.dir, "flood.jsonl")
    rnd = random.Random(7)
    with open(flood, "w") as f:
        for i in range(FLOOD):
            f.write('{"check": "%s", "value": %d}\n' % (names[i % CHECKS], rnd.randint(91, 99)))
    done = {}

    def submit():
        done["run"] = env.producer("submit", "--file", flood, check_rc=False)
    flooder = threading.Thread(target=submit)
    flooder.start()
    # ack every check while the flood is applied, in an order of its own,
    # from several shells at once as a team would
    wait_for("the flood to start", lambda: applied(env) > CHECKS, timeout=60)
    order = list(names)
    rnd.shuffle(order)
    acked_at = []
    lock = threading.Lock()

    def acker(part):
        for n in part:
            env.alertq("ack", n, "--by", "ops", "--comment", "looking")
            with lock:
                acked_at.append(time.monotonic())
    ackers = [threading.Thread(target=acker, args=(order[i::8],)) for i in range(8)]
    for t in ackers:
        t.start()
    wait_for("every result applied", lambda: applied(env) == CHECKS + FLOOD, timeout=180, interval=0.05)
    flood_end = time.monotonic()
    for t in ackers:
        t.join()
    flooder.join()
    run = done["run"]
    check(run.returncode == 0, "submit --file exited %d: %s" % (run.returncode, run.stderr))
    during = sum(1 for t in acked_at if t < flood_end)
    check(during > CHECKS // 2, "only %d of %d acks landed during the flood: it was too short to test "
          "anything" % (during, CHECKS))

    acked = env.sql("SELECT check_name, acked, coalesce(acked_by, ''), coalesce(ack_comment, '')"
                    " FROM alertq_checks ORDER BY check_name")
    check(len(acked) == CHECKS, "%d checks stored, %d expected" % (len(acked), CHECKS))
    lost = [row[0] for row in acked if row[1] != "t" or row[2] != "ops" or row[3] != "looking"]
    check(not lost, "%d ack(s) written over by the flood, e.g. %s" % (len(lost), lost[:5]))
    # still CRITICAL: the flood never resolved them, and the acks did not either
    critical = int(env.sql("SELECT count(*) FROM alertq_checks WHERE severity = 'CRITICAL'")[0][0])
    check(critical == CHECKS, "%d of %d checks CRITICAL after the flood" % (critical, CHECKS))
    log = env.log_of(w)
    again = log.count("applying the batch again")
    check("applying a batch failed" not in log,
          "a batch that met an ack failed instead of being applied again:\n%s" %
          "\n".join(line for line in log.splitlines() if "applying a batch failed" in line)[:2000])
    check(again <= CHECKS, "%d batches applied again for %d acks" % (again, CHECKS))
    print("%d of %d acks landed during the flood; %d batch(es) met one and were applied again"
          % (during, CHECKS, again))

    # the narrow window on purpose: a batch that has read its check's row
    # pauses, an ack lands, and the batch must read again, not write over it
    env.submit_lines([{"check": "flood.late", "value": 99}])
    wait_for("flood.late CRITICAL", lambda: env.sql(
        "SELECT severity FROM alertq_checks WHERE check_name = 'flood.late'") == [["CRITICAL"]])
    env.stop(w)
    w2 = env.worker("worker2", failpoints="batch.after_offsets_locked=sleep(3000)")
    env.wait_joined(w2)
    env.submit_lines([{"check": "flood.late", "value": 97, "message": "read before the ack"}])
    env.wait_fired(w2, "batch.after_offsets_locked")
    env.alertq("ack", "flood.late", "--by", "ops", "--comment", "in the window")
    wait_for("the paused batch applied", lambda: applied(env) == CHECKS + FLOOD + 2, timeout=60)
    row = env.sql("SELECT acked, acked_by, ack_comment, message FROM alertq_checks"
                  " WHERE check_name = 'flood.late'")
    check(row == [["t", "ops", "in the window", "read before the ack"]],
          "the ack made while the batch paused was written over: %r" % row)
    log = env.log_of(w2)
    check("applying the batch again" in log and "changed since the batch read them" in log,
          "the batch that met the ack was not applied again:\n%s" % log[-3000:])

    # between two batches: worker2 keeps the state it committed for
    # flood.late; an unack changes the row, and the next result must start
    # from the row, not from the kept state (which still says acked)
    before = log.count("applying the batch again")
    env.alertq("unack", "flood.late")
    env.submit_lines([{"check": "flood.late", "value": 98, "message": "after the unack"}])
    wait_for("the result after the unack applied", lambda: applied(env) == CHECKS + FLOOD + 3, timeout=60)
    row = env.sql("SELECT acked, coalesce(acked_by, ''), message FROM alertq_checks"
                  " WHERE check_name = 'flood.late'")
    check(row == [["f", "", "after the unack"]], "the unack was written over by a kept state: %r" % row)
    check(env.log_of(w2).count("applying the batch again") > before,
          "the batch after the unack did not meet it: the kept state was not checked against the row")

    # a batch that keeps meeting other writers: acked in its first pause,
    # unacked in its second; its third attempt reads the row locked, so the
    # ack made in that pause waits for the batch instead of failing it again
    env.stop(w2)
    point = "batch.after_offsets_locked"
    w3 = env.worker("worker3", failpoints=";".join("%s=%d*sleep(2500)" % (point, n) for n in (1, 2, 3)))
    env.wait_joined(w3)

    def fired(n):
        return lambda: env.log_of(w3).count("failpoint %s fires" % point) >= n
    env.submit_lines([{"check": "flood.late", "value": 96, "message": "met three times"}])
    wait_for("the first pause", fired(1), timeout=30)
    env.alertq("ack", "flood.late", "--by", "first")
    wait_for("the second pause", fired(2), timeout=30)
    env.alertq("unack", "flood.late")
    wait_for("the third pause", fired(3), timeout=30)
    env.alertq("ack", "flood.late", "--by", "third")  # waits for the batch's lock
    wait_for("the batch applied", lambda: applied(env) == CHECKS + FLOOD + 4, timeout=60)
    row = env.sql("SELECT acked, acked_by, message FROM alertq_checks WHERE check_name = 'flood.late'")
    check(row == [["t", "third", "met three times"]], "after three pauses: %r" % row)
    log = env.log_of(w3)
    check(log.count("changed since the batch read them") == 2 and "with its checks locked" in log,
          "the third attempt was not made with the rows locked, or met the ack again:\n%s" % log[-3000:])


if __name__ == "__main__":
    sys.exit(harness.main(test))
