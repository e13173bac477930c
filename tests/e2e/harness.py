"""harness.py - what the end-to-end tests share: a dev broker, a database of
their own on the test PostgreSQL, config files, workers, the CLI, receivers.

Everything runs the real binaries from ALERTQ_BUILD_DIR, as a user would."""

import datetime
import json
import os
import random
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("ALERTQ_BUILD_DIR", "")
SOURCE = os.environ.get("ALERTQ_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SERVER_DSN = os.environ.get("ALERTQ_TEST_DSN", "")
PYTHON = "/usr/bin/python3"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    raise AssertionError(message)


def check(condition, message):
    if not condition:
        fail(message)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, predicate, timeout=60.0, interval=0.2):
    """Polls predicate until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    fail("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


def dsn_for(database):
    base, _, _ = SERVER_DSN.rpartition("/")
    return base + "/" + database


def psql(dsn, sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                         check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


class Env:
    """One test's world: a temporary directory, a dev broker, a database."""

    def __init__(self, name, partitions=12):
        if not BUILD or not SERVER_DSN:
            fail("ALERTQ_BUILD_DIR and ALERTQ_TEST_DSN must be set (run through scripts/test.sh)")
        self.dir = tempfile.mkdtemp(prefix="alertq-%s." % name)
        self.procs = []
        self.log_dir = os.path.join(self.dir, "log")
        suffix = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
        self.database = "alertq_%s_%s" % (name.replace("-", "_"), suffix)
        psql(SERVER_DSN, "CREATE DATABASE %s" % self.database)
        self.state_dsn = dsn_for(self.database)
        self.broker_port = None
        self.partitions = partitions
        self.config_path = os.path.join(self.dir, "alertq.yaml")
        self.env = dict(os.environ)
        self.env["ALERTQ_DEBUG"] = ""
        self.env.pop("ALERTQ_DEBUG")

    # --- processes -------------------------------------------------------

    def spawn(self, name, argv, env=None):
        out = open(os.path.join(self.dir, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env or self.env,
                                start_new_session=True)
        proc.name = name
        proc.logfile = os.path.join(self.dir, name + ".log")
        self.procs.append(proc)
        return proc

    def start_broker(self):
        self.broker_port = self.broker_port or free_port()
        bootstrap = os.path.join(self.dir, "bootstrap")
        argv = [os.path.join(BUILD, "alertq-devbroker"), "--port", str(self.broker_port),
                "--partitions", str(self.partitions), "--bootstrap-file", bootstrap]
        if os.path.exists(self.config_path):
            argv += ["-c", self.config_path]
        self.broker = self.spawn("devbroker", argv)
        wait_for("the dev broker", lambda: os.path.exists(bootstrap), timeout=30)
        return self.broker

    def write_config(self, body, extra_kafka=""):
        """Writes alertq.yaml: the kafka and state sections, then body."""
        port = self.broker_port or free_port()
        self.broker_port = port
        text = ("kafka:\n"
                "  brokers: 127.0.0.1:%d\n"
                "  topic: alertq.checks\n"
                "  dead_letter_topic: alertq.checks.dlq\n"
                "  group: alertq-workers\n"
                "%s"
                "state:\n"
                "  dsn: %s\n"
                "log_dir: %s\n" % (port, extra_kafka, self.state_dsn, self.log_dir)) + body
        with open(self.config_path, "w") as f:
            f.write(text)
        return self.config_path

    def worker(self, name="worker", failpoints=None):
        """Starts alertq-worker; failpoints, when given, is its ALERTQ_FAILPOINTS
        (see lib/base/failpoint.h), e.g. "batch.before_commit=crash"."""
        env = None
        if failpoints:
            env = dict(self.env)
            env["ALERTQ_FAILPOINTS"] = failpoints
        return self.spawn(name, [os.path.join(BUILD, "alertq-worker"), "-c", self.config_path], env=env)

    def wait_fired(self, proc, point, timeout=60):
        """Waits until proc says failpoint point fired."""
        wait_for("failpoint %s to fire in %s" % (point, proc.name),
                 lambda: "failpoint %s fires" % point in self.log_of(proc), timeout=timeout)

    def wait_joined(self, proc, timeout=60):
        wait_for("%s to be assigned partitions" % proc.name,
                 lambda: "partitions assigned" in self.log_of(proc), timeout=timeout)

    def log_of(self, proc):
        with open(proc.logfile, errors="replace") as f:
            return f.read()

    def stop(self, proc, sig=signal.SIGTERM, timeout=60):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                fail("%s did not stop within %ds after signal %d" % (proc.name, timeout, sig))
        return proc.returncode

    def close(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        if os.environ.get("ALERTQ_TEST_KEEP"):
            print("kept %s and database %s" % (self.dir, self.database), file=sys.stderr)
            return
        try:
            psql(SERVER_DSN, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.database)
        except subprocess.CalledProcessError:
            pass

    def dump_logs(self):
        for proc in self.procs:
            print("----- %s (%s)" % (proc.name, proc.logfile), file=sys.stderr)
            text = self.log_of(proc)
            print(text[-6000:], file=sys.stderr)

    # --- commands --------------------------------------------------------

    def run(self, *args, input=None, check_rc=True, timeout=120):
        argv = list(args)
        out = subprocess.run(argv, input=input, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check_rc and out.returncode != 0:
            fail("%s exited %d:\n%s%s" % (" ".join(argv), out.returncode, out.stdout, out.stderr))
        return out

    def alertq(self, *args, check_rc=True):
        return self.run(os.path.join(BUILD, "alertq"), "-c", self.config_path, *args, check_rc=check_rc)

    def producer(self, *args, input=None, check_rc=True):
        return self.run(os.path.join(BUILD, "alertq-producer"), "-c", self.config_path, *args, input=input,
                        check_rc=check_rc)

    def submit_lines(self, results):
        """Publishes results (dicts) with submit --file -; returns the run."""
        text = "".join(json.dumps(r) + "\n" for r in results)
        return self.producer("submit", "--file", "-", input=text)

    def status(self):
        return {c["check"]: c for c in json.loads(self.alertq("status", "--json").stdout)}

    def history(self, check):
        return json.loads(self.alertq("history", check, "--json").stdout)

    def sql(self, query):
        return psql(self.state_dsn, query)

    def alert_lines(self):
        path = os.path.join(self.log_dir, "alerts.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


# An escalation policy "log" that tells the log file about every severity,
# and resolved notices: most tests append it to their rules.
LOGFILE_ESCALATION = """
escalations:
  log:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile] } ] }
    WARNING:  { levels: [ { after: 0s, notify: [logfile] } ] }
    UNKNOWN:  { levels: [ { after: 0s, notify: [logfile] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
"""

# The same policy "both", telling the log file and a webhook (its port left
# as %d for the test to fill in).
LOGFILE_AND_HOOK_ESCALATION = """
escalations:
  both:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile, hook] } ] }
    WARNING:  { levels: [ { after: 0s, notify: [logfile, hook] } ] }
    UNKNOWN:  { levels: [ { after: 0s, notify: [logfile, hook] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
  hook: { type: webhook, url: "http://127.0.0.1:%d/hook", format: json }
"""


def iso(ms):
    """ms since the epoch as an RFC 3339 time in UTC with milliseconds."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class OwnPostgres:
    """A PostgreSQL server of the test's own, in a fresh directory, for tests
    that stop or restart the state database; stopped when the with block ends."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="alertq-%s-pg." % name)
        self.script = os.path.join(SOURCE, "tests", "tools", "pg.sh")

    def run(self, action, **kw):
        """pg.sh action on this server; keyword arguments go to subprocess.run."""
        return subprocess.run([self.script, action, self.dir], **kw)

    def start_for(self, env):
        """Starts the server and makes its database alertq env's state database."""
        server = self.run("start", capture_output=True, text=True, check=True).stdout.strip()
        psql(server, "CREATE DATABASE alertq")
        env.state_dsn = server.rpartition("/")[0] + "/alertq"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.run("stop", capture_output=True)
        return False


RANK = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}


def reference(results, rules):
    """Evaluates results in order the way the contract describes; rules is a
    list of (glob, warning, critical, for) with thresholds as (op, number) or
    None. Returns {check: (severity, [(from, to, value)])}."""
    import fnmatch
    import operator
    ops = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
           "!=": operator.ne}
    state = {}
    for r in results:
        check = r["check"]
        rule = next((x for x in rules if fnmatch.fnmatchcase(check, x[0])), None)
        if rule and (rule[1] or rule[2]):
            value = r.get("value")
            if r.get("status") == "UNKNOWN" or value is None:
                sev = "UNKNOWN"
            elif rule[2] and ops[rule[2][0]](value, rule[2][1]):
                sev = "CRITICAL"
            elif rule[1] and ops[rule[1][0]](value, rule[1][1]):
                sev = "WARNING"
            else:
                sev = "OK"
        else:
            sev = r.get("status") or "UNKNOWN"
        need = rule[3] if rule else 1
        cur, streak, transitions = state.get(check, ("OK", 0, []))
        if sev == cur:
            streak = 0
        elif RANK[sev] < RANK[cur]:
            transitions.append((cur, sev, r.get("value")))
            cur, streak = sev, 0
        else:
            streak += 1
            if streak >= need:
                transitions.append((cur, sev, r.get("value")))
                cur, streak = sev, 0
        state[check] = (cur, streak, transitions)
    return {k: (v[0], v[2]) for k, v in state.items()}


def check_applied_once(env, checks, results, rules):
    """Every result applied exactly once, as the contract evaluates them:
    each check's severity and transitions equal reference(results, rules),
    the stored offsets add up to the results sent, and alerts.log (the
    LOGFILE_ESCALATION channel) has one line per transition, no id twice.
    Returns the number of transitions."""
    import collections
    expected = reference(results, rules)
    status = env.status()
    transitions = 0
    for c in checks:
        want_severity, want = expected[c]
        check(status[c]["severity"] == want_severity, "%s: severity %s, expected %s" %
              (c, status[c]["severity"], want_severity))
        got = [(t["from"], t["to"], t["value"]) for t in env.history(c)["transitions"]]
        want = [(a, b, float(v) if v is not None else None) for a, b, v in want]
        check(got == want, "%s: transitions %s, expected %s" % (c, got, want))
        transitions += len(got)
    rows = env.sql("SELECT sum(next_offset) FROM alertq_offsets")
    check(int(rows[0][0]) == len(results), "stored offsets add up to %s, %d results were sent" %
          (rows[0][0], len(results)))

    lines = wait_for("every notification in alerts.log",
                     lambda: (lambda l: l if len(l) >= transitions else None)(env.alert_lines()), timeout=60)
    ids = [line["notification_id"] for line in lines]
    check(len(ids) == len(set(ids)), "a notification_id appears twice in alerts.log")
    check(len(lines) == transitions, "alerts.log has %d lines for %d transitions" % (len(lines), transitions))
    per_check = collections.Counter(line["check"] for line in lines)
    for c in checks:
        check(per_check[c] == len(expected[c][1]), "%s: %d log lines for %d transitions" %
              (c, per_check[c], len(expected[c][1])))
    return transitions


def main(test):
    """Runs test(env_factory) and reports; exit status 0 or 1."""
    envs = []

    def make(name, **kw):
        e = Env(name, **kw)
        envs.append(e)
        return e
    try:
        test(make)
    except Exception as e:  # any failure: show what the processes said
        for env in envs:
            env.dump_logs()
        import traceback
        traceback.print_exc()
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        for env in envs:
            env.close()
    print("PASS")
    return 0
