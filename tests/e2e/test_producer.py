#!/usr/bin/python3
"""test_producer.py - the producer as the seed's team uses it: the shipped
example checks against the sample application database (--once, as cron),
Nagios plugin checks including one that hangs, the scheduled mode stopping
cleanly, submit from the command line and from JSON lines with a bad line
and a line too long to hold,
and configuration errors that name file:line and start nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import harness
from harness import check, wait_for

PLUGIN = os.path.join(harness.SOURCE, "tests", "data", "plugins", "emit.sh")
SLEEPER = os.path.join(harness.SOURCE, "tests", "data", "plugins", "sleeper.sh")


def seed_config(env):
    """examples/alertq.yaml with this test's broker, database and log dir."""
    with open(os.path.join(harness.SOURCE, "examples", "alertq.yaml")) as f:
        text = f.read()
    lines = []
    for line in text.splitlines():
        if line.startswith("log_dir:"):
            line = "log_dir: %s" % env.log_dir
        lines.append(line)
    with open(env.config_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    env.env["ALERTQ_KAFKA_BROKERS"] = "127.0.0.1:%d" % env.broker_port
    env.env["ALERTQ_STATE_DSN"] = env.state_dsn


def test_seed(make):
    env = make("seed")
    env.broker_port = harness.free_port()
    app = env.database + "_app"
    harness.psql(harness.SERVER_DSN, "CREATE DATABASE %s" % app)
    try:
        app_dsn = harness.dsn_for(app)
        env.run("psql", "-X", "-q", app_dsn, "-f", os.path.join(harness.SOURCE, "examples", "iact_sample.sql"))
        env.env["IACT_DSN"] = app_dsn
        seed_config(env)
        env.alertq("check-config")
        env.start_broker()
        worker = env.worker()
        env.wait_joined(worker)
        out = env.producer("--once")
        check(out.returncode == 0, "producer --once exited %d" % out.returncode)
        want = {"dora.days_since_last_deploy": "CRITICAL", "dora.change_failure_rate": "WARNING",
                "system.session_rows": "WARNING"}
        status = wait_for("the seed's three checks", lambda: (lambda s: s if len(s) == 3 else None)(env.status()))
        for name, severity in want.items():
            check(status[name]["severity"] == severity,
                  "%s is %s, expected %s" % (name, status[name]["severity"], severity))
        check(abs(status["system.session_rows"]["value"] - 60000) < 0.5, "session rows value %r" %
              status["system.session_rows"]["value"])
        check(abs(status["dora.change_failure_rate"]["value"] - 25) < 1e-6, "failure rate value %r" %
              status["dora.change_failure_rate"]["value"])
        check(status["dora.days_since_last_deploy"]["labels"].get("team") == "platform", "labels lost")
        lines = wait_for("three alerts in alerts.log", lambda: (lambda l: l if len(l) >= 3 else None)(env.alert_lines()))
        check(sorted((l["check"], l["severity"]) for l in lines) == sorted(want.items()),
              "alerts.log has %s" % [(l["check"], l["severity"]) for l in lines])
        # more sessions: the next cron run turns the WARNING into a CRITICAL
        harness.psql(app_dsn, "INSERT INTO django_session SELECT md5('x' || g), 'e30:1', now()"
                              " FROM generate_series(1, 45000) g")
        env.producer("--once")
        wait_for("system.session_rows CRITICAL",
                 lambda: env.status()["system.session_rows"]["severity"] == "CRITICAL")
        history = env.history("system.session_rows")
        check([(t["from"], t["to"]) for t in history["transitions"]] == [("OK", "WARNING"), ("WARNING", "CRITICAL")],
              "session history %s" % history["transitions"])
        env.stop(worker)
    finally:
        harness.psql(harness.SERVER_DSN, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % app)


def test_commands_and_schedule(make):
    env = make("plugins")
    env.write_config("""
checks:
  - name: plugin.ok
    every: 1s
    command: [%(p)s, "0", "DISK OK - free space: / 3326 MB (56%%) | /=2643MB;5948;5958;0;5968"]
  - name: plugin.critical
    every: 1s
    command: [%(p)s, "2", "PROCS CRITICAL: 412 processes"]
  - name: plugin.hangs
    every: 1h
    timeout: 1s
    command: [%(s)s, %(pidfile)s]
rules:
  - match: "*"
    escalation: log
escalations:
  log:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile] } ] }
    UNKNOWN: { levels: [ { after: 0s, notify: [logfile] } ] }
channels:
  logfile: { type: logfile }
""" % {"p": PLUGIN, "s": SLEEPER, "pidfile": os.path.join(env.dir, "sleeper.pid")})
    env.start_broker()
    worker = env.worker()
    env.wait_joined(worker)
    producer = env.spawn("producer", [os.path.join(harness.BUILD, "alertq-producer"), "-c", env.config_path])
    status = wait_for("plugin results", lambda: (lambda s: s if len(s) == 3 else None)(env.status()), timeout=60)
    check(status["plugin.ok"]["severity"] == "OK", "plugin.ok is %s" % status["plugin.ok"]["severity"])
    check(status["plugin.ok"]["value"] == 2643, "perfdata value %r" % status["plugin.ok"]["value"])
    check(status["plugin.ok"]["message"].startswith("DISK OK"), "message %r" % status["plugin.ok"]["message"])
    check(status["plugin.critical"]["severity"] == "CRITICAL", "plugin.critical is %s" % status["plugin.critical"]["severity"])
    check(status["plugin.hangs"]["severity"] == "UNKNOWN", "a hanging plugin is %s" % status["plugin.hangs"]["severity"])
    check("timed out" in status["plugin.hangs"]["message"], "hang message %r" % status["plugin.hangs"]["message"])
    # every 1s: the scheduled producer keeps reporting
    first = status["plugin.ok"]["last_seen"]
    wait_for("a later plugin.ok result", lambda: env.status()["plugin.ok"]["last_seen"] != first, timeout=20)
    rc = env.stop(producer)
    check(rc == 0, "producer exited %s on SIGTERM" % rc)
    check("stopping" in env.log_of(producer), "producer did not say it was stopping")
    env.stop(worker)


def test_submit(make):
    env = make("submit")
    env.write_config("rules:\n  - match: \"*\"\n")
    env.start_broker()
    mode = os.stat(os.path.join(env.dir, "bootstrap")).st_mode & 0o777
    check(mode == 0o640, "the dev broker's bootstrap file has mode %o, expected 640" % mode)
    worker = env.worker()
    env.wait_joined(worker)
    env.producer("submit", "--check", "backup.age", "--value", "30", "--status", "WARNING", "--message", "old",
                 "--label", "host=db1", "--interval", "1h")
    bad = ('{"check": "a.one", "value": 1, "status": "OK"}\n'
           'not json\n'
           '{"check": "", "value": 2}\n'
           '{"check": "a.two", "status": "MAYBE"}\n'
           '{"check": "a.three", "value": 3, "status": "CRITICAL", "observed_at": "2026-11-27T17:00:00Z"}\n')
    out = env.producer("submit", "--file", "-", input=bad, check_rc=False)
    check(out.returncode == 1, "submit with bad lines exited %d, expected 1" % out.returncode)
    for lineno in (2, 3, 4):
        check("-:%d:" % lineno in out.stderr, "line %d not reported: %s" % (lineno, out.stderr))
    check("-:1:" not in out.stderr and "-:5:" not in out.stderr, "good lines reported as bad: %s" % out.stderr)
    # a line longer than the cap (1 MiB) is reported and skipped without being held in memory
    path = os.path.join(env.dir, "huge.jsonl")
    with open(path, "w") as f:
        # written in pieces: a 64 MiB string in this process would count in the
        # child's peak RSS until its exec
        f.write('{"check": "a.huge", "message": "')
        piece = "x" * (1 << 20)
        for _ in range(64):
            f.write(piece)
        f.write('"}\n')
        f.write('{"check": "a.after", "status": "OK"}\n')
    with open(os.path.join(env.dir, "huge.err"), "w+") as err:
        proc = subprocess.Popen([os.path.join(harness.BUILD, "alertq-producer"), "-c", env.config_path, "submit",
                                 "--file", path], stdout=subprocess.DEVNULL, stderr=err, env=env.env)
        _, wstatus, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        err.seek(0)
        stderr = err.read()
    check(proc.returncode == 1, "submit with a huge line exited %d, expected 1" % proc.returncode)
    check("%s:1: line longer than 1048576 bytes" % path in stderr, "huge line not reported: %s" % stderr[:2000])
    check(":2:" not in stderr, "the line after the huge one was reported: %s" % stderr[:2000])
    check(usage.ru_maxrss < 48 * 1024, "submit held the huge line: peak RSS %d KiB" % usage.ru_maxrss)
    os.unlink(path)
    status = wait_for("submitted results", lambda: (lambda s: s if len(s) == 4 else None)(env.status()))
    check(status["backup.age"]["severity"] == "WARNING" and status["backup.age"]["value"] == 30,
          "backup.age %s" % status["backup.age"])
    check(status["backup.age"]["labels"] == {"host": "db1"}, "labels %s" % status["backup.age"]["labels"])
    check(status["a.three"]["last_seen"] == "2026-11-27T17:00:00Z", "observed_at %s" % status["a.three"]["last_seen"])
    check(set(status) == {"backup.age", "a.one", "a.three", "a.after"}, "checks %s" % sorted(status))
    usage = env.producer("submit", "--value", "3", check_rc=False)
    check(usage.returncode == 2 and "--check" in usage.stderr, "submit without --check: %d %s" %
          (usage.returncode, usage.stderr))
    env.stop(worker)


def test_config_errors(make):
    env = make("badconfig")
    env.write_config("rules:\n  - match: \"*\"\n    treshold: \"> 5\"\n    for: 0\n")
    with open(env.config_path) as f:
        numbered = f.read().splitlines()
    typo = 1 + next(i for i, l in enumerate(numbered) if "treshold" in l)
    zero = 1 + next(i for i, l in enumerate(numbered) if "for: 0" in l)
    for argv in ([os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "check-config"],
                 [os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "status"],
                 [os.path.join(harness.BUILD, "alertq-worker"), "-c", env.config_path],
                 [os.path.join(harness.BUILD, "alertq-producer"), "-c", env.config_path, "--once"]):
        out = env.run(*argv, check_rc=False, timeout=20)
        name = os.path.basename(argv[0])
        check(out.returncode == 2, "%s with a bad config exited %d" % (name, out.returncode))
        check("%s:%d: unknown key 'treshold'" % (env.config_path, typo) in out.stderr,
              "%s did not name file:line of the unknown key: %s" % (name, out.stderr))
        check("%s:%d:" % (env.config_path, zero) in out.stderr, "%s did not report the second problem: %s" %
              (name, out.stderr))
        check(out.stdout == "", "%s printed on stdout: %s" % (name, out.stdout))
    # nothing started: the state database has no tables
    check(env.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'alertq_%'") == [["0"]],
          "a bad config still touched the database")
    missing = env.run(os.path.join(harness.BUILD, "alertq"), "-c", "/nonexistent/alertq.yaml", "check-config",
                      check_rc=False)
    check(missing.returncode == 2 and "/nonexistent/alertq.yaml" in missing.stderr,
          "missing file: %d %s" % (missing.returncode, missing.stderr))
    # migrate brings an empty database to the current schema, twice without harm
    env.write_config("")
    first = env.alertq("migrate").stdout
    again = env.alertq("migrate").stdout
    check("migration(s) applied" in first and "(0 migration(s) applied)" in again, "migrate said %r then %r" %
          (first, again))


def test(make):
    test_config_errors(make)
    test_submit(make)
    test_commands_and_schedule(make)
    test_seed(make)


if __name__ == "__main__":
    sys.exit(harness.main(test))
