#!/usr/bin/python3
"""test_outage.py - what a worker and a producer do when what they depend on
goes away. PostgreSQL stopped for ~10 s while results flow: the worker says
so once, pauses, carries on when the database is back, and nothing is lost or
doubled. SIGTERM in the middle of a large batch: exit 0 and nothing
half-applied. The broker killed: a submit reports the results it could not
deliver and exits 1, and a worker keeps running and says what is wrong."""

import os
import re
import signal
import sys
import threading
import time

import harness
from harness import check, iso, wait_for

RULES = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
""" + harness.LOGFILE_ESCALATION
REFERENCE_RULES = [("svc.*", (">", 50), (">", 90), 1)]
VALUES = [10, 60, 95, 95, 20, 70]
OUTAGE_LINE = "state database unavailable, consumption paused"
BACK_LINE = "state database is back"


def rounds(checks, first, count, base_ms, salt=0):
    out = []
    for rnd in range(first, first + count):
        for i, c in enumerate(checks):
            v = VALUES[(rnd * 7 + i * 3 + salt) % len(VALUES)]
            out.append({"check": c, "value": v, "message": "round %d" % rnd, "interval": "1h",
                        "observed_at": iso(base_ms + rnd * 1000 + i)})
    return out


def transitions_by_check(env):
    got = {}
    for name, frm, to, value in env.sql("SELECT check_name, from_severity, to_severity, value"
                                        " FROM alertq_transitions ORDER BY check_name, observed_at_ms, id"):
        got.setdefault(name, []).append((frm, to, float(value) if value != "" else None))
    return got


def check_against_reference(env, results, checks):
    expected = harness.reference(results, REFERENCE_RULES)
    got = transitions_by_check(env)
    status = env.status()
    total = 0
    for c in checks:
        want = [(a, b, float(v)) for a, b, v in expected[c][1]]
        check(got.get(c, []) == want, "%s: transitions %s, expected %s" % (c, got.get(c, []), want))
        check(status[c]["severity"] == expected[c][0], "%s: severity %s, expected %s" %
              (c, status[c]["severity"], expected[c][0]))
        total += len(want)
    return total


def database_outage(make):
    env = make("outage-db")
    with harness.OwnPostgres("outage") as pg:
        pg.start_for(env)
        env.write_config(RULES)
        env.start_broker()
        w = env.worker("worker")
        env.wait_joined(w)

        checks = ["svc.%03d" % i for i in range(100)]
        base_ms = int(time.time() * 1000) - 3600 * 1000
        results = []
        errors = []
        stop_submitting = threading.Event()

        def submit_loop():
            rnd = 0
            try:
                while not stop_submitting.is_set():
                    batch = rounds(checks, rnd, 2, base_ms)
                    env.submit_lines(batch)
                    results.extend(batch)
                    rnd += 2
                    time.sleep(0.3)
            except Exception as e:
                errors.append(str(e))

        submitter = threading.Thread(target=submit_loop)
        submitter.start()
        wait_for("results applied before the outage",
                 lambda: len(env.status()) == len(checks), timeout=60)
        log_before = len(env.log_of(w).splitlines())
        pg.run("stop", check=True)
        down_at = time.monotonic()
        time.sleep(10)
        check(w.poll() is None, "the worker died while the database was down")
        during = env.log_of(w).splitlines()[log_before:]
        pg.run("start", capture_output=True, check=True)
        print("database down for %.1fs" % (time.monotonic() - down_at))
        time.sleep(3)
        stop_submitting.set()
        submitter.join()
        check(not errors, "submitting failed: %s" % errors)
        last = results[-1]["message"]
        wait_for("every result applied after the outage",
                 lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message = '%s'" % last)[0][0]) == len(checks),
                 timeout=60, interval=0.5)
        total = check_against_reference(env, results, checks)

        log = env.log_of(w)
        check(log.count(OUTAGE_LINE) == 1, "the outage was logged %d times, expected once:\n%s" %
              (log.count(OUTAGE_LINE), log[-3000:]))
        check(log.count(BACK_LINE) == 1, "the recovery was logged %d times, expected once" % log.count(BACK_LINE))
        # once per thread that noticed, never once per event or per retry
        check(len(during) <= 6, "%d log lines during a 10 s outage:\n%s" % (len(during), "\n".join(during)))
        lines = [l for l in env.alert_lines()]
        ids = {l["notification_id"] for l in lines}
        wait_for("every notification in alerts.log", lambda: len({l["notification_id"] for l in env.alert_lines()}) >= total,
                 timeout=60)
        ids = {l["notification_id"] for l in env.alert_lines()}
        check(len(ids) == total, "alerts.log has %d notifications for %d transitions" % (len(ids), total))
        print("database outage: %d results, %d transitions, %d log lines while down" % (len(results), total, len(during)))

        next_round = refused_writes(env, w, checks, base_ms, len(results) // len(checks))
        sigterm_mid_batch(env, w, checks, base_ms, next_round)


def refused_writes(env, w, checks, base_ms, first_round):
    """The database up but refusing the batch's writes for a while (here a
    trigger; in life a constraint, a full disk, a permission): the worker
    retries the same batch and reads nothing past it meanwhile, so every
    result submitted during the refusal is applied afterwards."""
    env.sql("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'writes refused for a while'; END$$;"
            " CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON alertq_offsets"
            " FOR EACH ROW EXECUTE FUNCTION refuse()")
    results = []
    for k in range(8):
        batch = rounds(checks, first_round + 2 * k, 2, base_ms, salt=2)
        env.submit_lines(batch)
        results.extend(batch)
        time.sleep(0.8)
    check("writes refused for a while" in env.log_of(w), "the worker did not say why its batch failed")
    env.sql("DROP TRIGGER refuse ON alertq_offsets; DROP FUNCTION refuse()")
    last = results[-1]["message"]
    wait_for("every result applied after the refusal",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message = '%s'" % last)[0][0]) == len(checks),
             timeout=60, interval=0.5)
    # the history of the refused stretch: every result, in order, once
    per_check = {}
    for r in results:
        per_check.setdefault(r["check"], []).append(r)
    first_ms = base_ms + first_round * 1000  # the first result's observed_at
    got = {}
    for name, frm, to, value in env.sql("SELECT check_name, from_severity, to_severity, value FROM alertq_transitions"
                                        " WHERE observed_at_ms >= %d ORDER BY check_name, observed_at_ms, id" % first_ms):
        got.setdefault(name, []).append((frm, to, float(value)))
    status = env.status()
    for c in checks:
        before = env.sql("SELECT to_severity FROM alertq_transitions WHERE check_name = '%s' AND observed_at_ms < %d"
                         " ORDER BY observed_at_ms DESC, id DESC LIMIT 1" % (c, first_ms))
        sev = before[0][0] if before else "OK"
        want = []
        for r in per_check[c]:
            v = r["value"]
            new = "CRITICAL" if v > 90 else "WARNING" if v > 50 else "OK"
            if new != sev:
                want.append((sev, new, float(v)))
                sev = new
        check(got.get(c, []) == want, "%s during the refusal: transitions %s, expected %s" % (c, got.get(c, []), want))
        check(status[c]["severity"] == sev, "%s: severity %s after the refusal, expected %s" % (c, status[c]["severity"], sev))
    print("refused writes: %d results submitted meanwhile, all applied once" % len(results))
    return first_round + 16


def sigterm_mid_batch(env, w, checks, base_ms, first_round):
    """SIGTERM while a large backlog is applied: exit 0; every check's state
    and history match a prefix of its results; a new worker then finishes
    the rest without doubling anything."""
    many = ["svc.%03d" % i for i in range(2000)]
    backlog = rounds(many, first_round, 15, base_ms, salt=1)
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    env.submit_lines(backlog)
    w = env.worker("worker-term")
    env.wait_joined(w)
    wait_for("the backlog being applied",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message LIKE 'round %%'"
                                 " AND check_name >= 'svc.100'")[0][0]) > 0, timeout=60, interval=0.05)
    w.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = w.wait(timeout=60)
    check(rc == 0, "the worker exited %s on SIGTERM mid-batch" % rc)
    print("SIGTERM: exit 0 after %.2fs" % (time.monotonic() - t0))

    # whatever was applied is a whole prefix of each check's results
    per_check = {}
    for r in backlog:
        per_check.setdefault(r["check"], []).append(r)
    state = {row[0]: row[1] for row in env.sql("SELECT check_name, message FROM alertq_checks WHERE check_name >= 'svc.100'")}
    got = transitions_by_check(env)
    partial = 0
    for c in many[100:]:
        if c not in state:
            check(c not in got, "%s has history but no state" % c)
            continue
        n = int(state[c].split()[1]) - first_round + 1
        if n < 15:
            partial += 1
        expected = harness.reference(per_check[c][:n], REFERENCE_RULES)[c]
        want = [(a, b, float(v)) for a, b, v in expected[1]]
        check(got.get(c, []) == want, "%s after SIGTERM: transitions %s, expected %s" % (c, got.get(c, []), want))
    print("SIGTERM: %d of %d new checks had state, %d part way" % (len(state), len(many) - 100, partial))

    w = env.worker("worker-after")
    last = "round %d" % (first_round + 14)
    wait_for("the rest of the backlog applied",
             lambda: int(env.sql("SELECT count(*) FROM alertq_checks WHERE message = '%s'" % last)[0][0]) == len(many),
             timeout=120, interval=0.5)
    per_check_all = {}
    for r in backlog:
        per_check_all.setdefault(r["check"], []).append(r)
    got = transitions_by_check(env)
    for c in many[100:]:
        expected = harness.reference(per_check_all[c], REFERENCE_RULES)[c]
        want = [(a, b, float(v)) for a, b, v in expected[1]]
        check(got.get(c, []) == want, "%s after the restart: transitions %s, expected %s" % (c, got.get(c, []), want))
    check(env.stop(w) == 0, "the last worker did not stop cleanly")


def broker_outage(make):
    env = make("outage-broker")
    env.write_config(RULES, extra_kafka="  properties: { message.timeout.ms: \"8000\" }\n")
    env.start_broker()
    w = env.worker("worker")
    env.wait_joined(w)
    env.submit_lines(rounds(["svc.000", "svc.001"], 0, 1, int(time.time() * 1000) - 60000))
    wait_for("results applied", lambda: len(env.status()) == 2, timeout=60)

    env.broker.send_signal(signal.SIGKILL)
    env.broker.wait()
    log_before = len(env.log_of(w).splitlines())
    t0 = time.monotonic()
    out = env.producer("submit", "--check", "svc.undelivered", "--value", "1", check_rc=False)
    took = time.monotonic() - t0
    check(out.returncode == 1, "submit to a dead broker exited %d, expected 1:\n%s" % (out.returncode, out.stderr))
    check(took < 8 + 10, "submit to a dead broker took %.1fs with an 8 s delivery timeout" % took)
    check("svc.undelivered" in out.stderr and "not acknowledged" in out.stderr,
          "submit did not name the undelivered result:\n%s" % out.stderr)
    text = "".join('{"check": "svc.lost.%d", "value": 1}\n' % i for i in range(3))
    out = env.producer("submit", "--file", "-", input=text, check_rc=False)
    check(out.returncode == 1, "submit --file to a dead broker exited %d, expected 1" % out.returncode)
    for i in range(3):
        check("svc.lost.%d" % i in out.stderr, "submit --file did not name svc.lost.%d:\n%s" % (i, out.stderr))
    check(re.search(r"\b3 result\(s\) not acknowledged", out.stderr),
          "submit --file did not count the undelivered results:\n%s" % out.stderr)
    print("dead broker: submit exited 1 after %.1fs naming the result" % took)

    time.sleep(max(0.0, 12 - (time.monotonic() - t0)))
    check(w.poll() is None, "the worker died while the broker was down (exit %s)" % w.returncode)
    during = env.log_of(w).splitlines()[log_before:]
    check(any(re.search(r"refused|down|disconnect|transport", l, re.I) for l in during),
          "the worker did not log the broker outage:\n%s" % "\n".join(during[-20:]))
    check(len(during) < 60, "%d log lines in ~12 s of broker outage:\n%s" % (len(during), "\n".join(during[-20:])))
    env.start_broker()
    # the new broker's topic starts again at offset 0, below the offsets the
    # database holds: the running worker, and one started afresh, must read
    # it rather than skip it as applied before
    for name, message in (("running", "after the broker restart"), ("new", "seen by a new worker")):
        if name == "new":
            t0 = time.monotonic()
            check(env.stop(w, timeout=30) == 0, "the worker did not stop cleanly after the broker outage")
            print("dead broker: worker alive, %d log lines while down, stopped in %.1fs" %
                  (len(during), time.monotonic() - t0))
            w = env.worker("worker-new-broker")
            env.wait_joined(w)
        check(w.poll() is None, "the worker died when the broker came back (exit %s)" % w.returncode)
        value = 95 if name == "running" else 60
        env.submit_lines([{"check": "svc.%03d" % i, "value": value, "message": message} for i in range(2)])
        wait_for("results on the new broker applied by the %s worker" % name,
                 lambda: all(env.status()["svc.%03d" % i]["message"] == message for i in range(2)), timeout=60)
        want = "CRITICAL" if value == 95 else "WARNING"
        check(all(env.status()["svc.%03d" % i]["severity"] == want for i in range(2)),
              "results on the new broker did not change the state")
    # told to stop while the broker is gone again (stopped as an operator
    # stops it), it still exits: the close's revoke must not wait for a
    # group thread that cannot finish
    env.broker.send_signal(signal.SIGTERM)
    env.broker.wait()
    t0 = time.monotonic()
    check(env.stop(w, timeout=30) == 0, "the worker did not stop cleanly with the broker gone")
    print("dead broker: a worker told to stop exited in %.1fs" % (time.monotonic() - t0))


def test(make):
    database_outage(make)
    broker_outage(make)


if __name__ == "__main__":
    sys.exit(harness.main(test))
