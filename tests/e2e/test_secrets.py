#!/usr/bin/python3
"""test_secrets.py - secrets given through the environment never show: a
webhook secret (secret_env), an SMTP password (password_env), a source DSN
with a password (dsn_env), a state DSN with a password, and a webhook URL with
user:password@; a plugin that prints the environment it was given gets none
of them. Channels fail at first and a source is unreachable, so the
error paths speak too. Every log, the stdout and stderr of every command,
alerts.log and a dump of the state database are searched for each secret."""

import base64
import os
import subprocess
import sys
import time

import harness
from harness import check, wait_for

SECRETS = {
    "HOOK_SECRET": "hmacKey-7Qz9Wv",
    "SMTP_PASSWORD": "smtpPass-4Rk2Lp",
    "STATE_PW": "statePass-8Tn3Xc",
    "APP_PW": "appPass-1Mv6Hd",
    "URL_PW": "urlPass-5Gb7Ks",
}

CONFIG = """
sources:
  app: { dsn_env: APP_DSN }
checks:
  - name: app.rows
    every: 1h
    sql: { source: app, query: "SELECT 1" }
  - name: plugin.env
    every: 1h
    command: [/bin/sh, -c, 'echo "env: $HOOK_SECRET $SMTP_PASSWORD $APP_DSN $ALERTQ_STATE_DSN $PATH"']
rules:
  - match: "*"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [logfile, hook, hook-down, mail] } ] }
    WARNING:  { levels: [ { after: 0s, notify: [logfile, hook, hook-down, mail] } ] }
    UNKNOWN:  { levels: [ { after: 0s, notify: [logfile, hook, hook-down, mail] } ] }
    resolved: true
channels:
  logfile: { type: logfile }
  hook: { type: webhook, url: "http://hookuser:%(url_pw)s@127.0.0.1:%(hook_port)d/hook", format: json,
          secret_env: HOOK_SECRET }
  hook-down: { type: webhook, url: "http://downuser:%(url_pw)s@127.0.0.1:%(closed_port)d/hook", format: json,
               give_up_after: 5s }
  mail: { type: email, url: "smtp://127.0.0.1:%(smtp_port)d", from: alerts@example.org, to: [ops@example.org],
          starttls: off, username_env: SMTP_USER, password_env: SMTP_PASSWORD }
"""


def test(make):
    env = make("secrets")
    s = SECRETS
    env.env["HOOK_SECRET"] = s["HOOK_SECRET"]
    env.env["SMTP_USER"] = "mailer"
    env.env["SMTP_PASSWORD"] = s["SMTP_PASSWORD"]
    env.env["APP_DSN"] = "postgresql://appuser:%s@127.0.0.1:%d/app" % (s["APP_PW"], harness.free_port())
    user_part, _, rest = harness.SERVER_DSN.partition("://")[2].partition("@")
    env.env["ALERTQ_STATE_DSN"] = "postgresql://%s:%s@%s" % (user_part.split(":")[0], s["STATE_PW"],
                                                              env.state_dsn.partition("@")[2])

    outputs = []
    tools = os.path.join(harness.SOURCE, "tests", "tools")
    hook_port_file = os.path.join(env.dir, "hook.port")
    smtp_port_file = os.path.join(env.dir, "smtp.port")
    env.spawn("hook-receiver", [harness.PYTHON, os.path.join(tools, "http_receiver.py"), "--port", "0",
                                "--port-file", hook_port_file, "--out", os.path.join(env.dir, "hook.jsonl"),
                                "--fail-first", "2", "--fail-status", "503"])
    env.spawn("smtp-receiver", [harness.PYTHON, os.path.join(tools, "smtp_receiver.py"), "--port", "0",
                                "--port-file", smtp_port_file, "--out", os.path.join(env.dir, "smtp.jsonl"),
                                "--auth", "mailer:" + s["SMTP_PASSWORD"], "--fail-first", "1",
                                "--fail-code", "451"])
    hook_port = int(wait_for("the webhook receiver", lambda: os.path.exists(hook_port_file) and open(hook_port_file).read().strip()))
    smtp_port = int(wait_for("the smtp receiver", lambda: os.path.exists(smtp_port_file) and open(smtp_port_file).read().strip()))
    env.write_config(CONFIG % {"url_pw": s["URL_PW"], "hook_port": hook_port, "closed_port": harness.free_port(),
                               "smtp_port": smtp_port})
    env.start_broker()

    def keep(out):
        outputs.append(" ".join(out.args) + "\n" + out.stdout + out.stderr)
        return out

    keep(env.alertq("check-config"))
    keep(env.alertq("migrate"))
    w = env.worker("worker")
    env.wait_joined(w)
    keep(env.producer("submit", "--check", "svc.a", "--status", "CRITICAL", "--message", "down"))
    keep(env.producer("--once", check_rc=False))  # the source is unreachable: its error is shown
    keep(env.producer("submit", "--file", "-", input='{"check": "svc.b", "status": "WARNING"}\nnot json\n',
                      check_rc=False))
    wait_for("the webhook delivered after its failures",
             lambda: os.path.exists(os.path.join(env.dir, "hook.jsonl")) and
             sum(1 for _ in open(os.path.join(env.dir, "hook.jsonl"))) >= 4, timeout=60)
    wait_for("the mail delivered after its failure",
             lambda: os.path.exists(os.path.join(env.dir, "smtp.jsonl")) and
             sum(1 for _ in open(os.path.join(env.dir, "smtp.jsonl"))) >= 2, timeout=60)
    wait_for("the unreachable webhook tried and given up",
             lambda: int(env.sql("SELECT count(*) FROM alertq_notifications WHERE channel = 'hook-down'"
                                 " AND state <> 'pending'")[0][0]) >= 1, timeout=60)
    os.kill(w.pid, 1)  # SIGHUP: the reload speaks too
    time.sleep(1)
    for args in (("status",), ("status", "--json"), ("history", "svc.a"), ("history", "svc.a", "--json"),
                 ("silences",)):
        keep(env.alertq(*args))
    keep(env.alertq("ack", "svc.a", "--by", "tester", "--comment", "looking"))
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    # a worker that cannot reach the database names it without its password
    env.env["ALERTQ_STATE_DSN"] = env.env["ALERTQ_STATE_DSN"].replace(env.state_dsn.partition("@")[2].partition("/")[0],
                                                                      "127.0.0.1:%d" % harness.free_port())
    keep(env.alertq("status", check_rc=False))
    w2 = env.worker("worker-no-db")
    time.sleep(2)
    env.stop(w2)

    dump = subprocess.run(["pg_dump", "--data-only", env.state_dsn], capture_output=True, text=True, check=True).stdout
    check("svc.a" in dump, "the dump does not hold the state it should")
    places = {"pg_dump": dump}
    for i, text in enumerate(outputs):
        places["command %d: %s" % (i, text.splitlines()[0][:80])] = text
    for proc in env.procs:
        if proc.name.startswith("worker") or proc.name == "devbroker":
            places[proc.logfile] = env.log_of(proc)
    alerts = os.path.join(env.log_dir, "alerts.log")
    check(os.path.exists(alerts), "no alerts.log")
    places[alerts] = open(alerts).read()
    check("svc.a" in places[alerts], "alerts.log does not hold the notifications")
    worker_log = env.log_of(w)
    check("hook-down" in worker_log, "the failing webhook left no trace in the worker's log")
    check(any("app" in t and "connect" in t for t in outputs), "the unreachable source left no error to look at")
    # the plugin's message is kept in the state: it ran, with PATH and none of the secrets
    check("env: " in dump and "/bin" in dump, "the plugin that prints its environment left no result")

    needles = dict(s)
    needles["URL_PW base64"] = base64.b64encode(("hookuser:" + s["URL_PW"]).encode()).decode()
    needles["SMTP base64"] = base64.b64encode(("\0mailer\0" + s["SMTP_PASSWORD"]).encode()).decode()
    leaks = []
    for where, text in places.items():
        for name, secret in needles.items():
            if secret in text:
                line = next(l for l in text.splitlines() if secret in l)
                leaks.append("%s shows %s: %s" % (where, name, line[:300]))
    check(not leaks, "secrets shown:\n" + "\n".join(leaks))
    print("searched %d places for %d secrets: none shown" % (len(places), len(needles)))


if __name__ == "__main__":
    sys.exit(harness.main(test))
