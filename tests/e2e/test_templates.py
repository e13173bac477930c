#!/usr/bin/python3
"""test_templates.py - messages people act on: a rule's annotations rendered at
each transition reach the Slack text and the email built from the channels'
templates (summary and runbook link, event text escaped), a json webhook's
body template delivers its own JSON, history and status --json show the
annotations; check-config refuses an unknown placeholder with FILE:LINE and
--show-templates prints the sample alert rendered."""

import json
import os
import sys

import harness
import receivers
from harness import check, wait_for

RUNBOOK = "https://wiki.iact.example/runbooks/sessions"

CONFIG = """
rules:
  - match: "db.*"
    warning: "> 50000"
    critical: "> 100000"
    escalation: page
    annotations:
      summary: "{{check}} has {{value}} rows ({{severity}})"
      description: "{{message}}{{#labels.team}} (team {{labels.team}}){{/labels.team}}"
      runbook_url: "%(runbook)s"
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [slack, mail, hook, plainslack] } ] }
    resolved: true
channels:
  slack:
    type: webhook
    url: "%(slack)s"
    format: slack
    template: { text: ":rotating_light: {{severity}} {{check}}: {{annotations.summary}} <{{annotations.runbook_url}}|runbook> {{message}}" }
  plainslack: { type: webhook, url: "%(plainslack)s", format: slack }
  mail:
    type: email
    url: "%(mail)s"
    from: alerts@e2e.example
    to: [ops@e2e.example]
    starttls: off
    template:
      subject: "[{{severity}}] {{annotations.summary}}"
      body: |
        {{annotations.summary}}
        status: {{status}}
        {{#message}}message: {{message}}
        {{/message}}runbook: {{annotations.runbook_url}}
  hook:
    type: webhook
    url: "%(hook)s"
    template:
      body: '{"alert": "{{check}}", "value": {{value}}, "status": "{{status}}", "summary": "{{annotations.summary}}", "message": "{{message}}"}'
"""

BAD = """
channels:
  slack:
    type: webhook
    url: http://127.0.0.1:9/x
    format: slack
    template:
      text: "{{severity}} {{chek}}"
"""


def test(make):
    env = make("templates")
    slack = receivers.Webhook(env, "slack").start()
    plainslack = receivers.Webhook(env, "plainslack").start()
    hook = receivers.Webhook(env, "hook").start()
    mail = receivers.Smtp(env, "mail").start()
    env.write_config(CONFIG % {"runbook": RUNBOOK, "slack": slack.url("/slack"), "mail": mail.url(),
                               "hook": hook.url("/hook"), "plainslack": plainslack.url("/plain")})

    # --- check-config: the sample alert rendered --------------------------
    out = env.alertq("check-config", "--show-templates").stdout
    check("example.check has 120000 rows (CRITICAL)" in out, "--show-templates lacks the summary:\n" + out)
    check(":rotating_light: CRITICAL example.check: example.check has 120000 rows (CRITICAL) <%s|runbook>"
          % RUNBOOK in out, "--show-templates lacks the slack text:\n" + out)
    check('{"alert": "example.check", "value": 120000, "status": "firing"' in out,
          "--show-templates lacks the json body:\n" + out)
    check("channel mail" in out and "template.subject:" in out and "runbook: " + RUNBOOK in out,
          "--show-templates lacks the email:\n" + out)

    # --- an unknown placeholder: exit 2, FILE:LINE ------------------------
    bad = os.path.join(env.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write(BAD)
    r = env.run(os.path.join(harness.BUILD, "alertq"), "-c", bad, "check-config", check_rc=False)
    check(r.returncode == 2, "check-config of an unknown placeholder exited %d" % r.returncode)
    want = "%s:8: template.text of channel 'slack': unknown placeholder '{{chek}}' at line 1, column 14" % bad
    check(want in r.stderr, "check-config said %r, expected %r" % (r.stderr, want))

    # --- a check goes CRITICAL, then resolves -----------------------------
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    env.submit_lines([{"check": "db.sessions", "value": 120000, "message": "rows <!channel> & more",
                       "labels": {"team": "platform"}}])
    wait_for("the CRITICAL notifications", lambda: slack.accepted() and plainslack.accepted() and hook.accepted()
             and mail.messages(), timeout=60)

    text = slack.accepted()[0]["json"]["text"]
    check(text == ":rotating_light: CRITICAL db.sessions: db.sessions has 120000 rows (CRITICAL) <%s|runbook> "
          "rows &lt;!channel&gt; &amp; more" % RUNBOOK, "templated slack text: %r" % text)
    plain = plainslack.accepted()[0]["json"]["text"]
    lines = plain.split("\n")
    check(lines[0] == "db.sessions has 120000 rows (CRITICAL)", "built-in slack text starts %r" % plain)
    check(lines[-1] == "runbook: " + RUNBOOK, "built-in slack text ends %r" % plain)
    check("description: rows &lt;!channel&gt; &amp; more (team platform)" in plain, "built-in slack: %r" % plain)

    m = mail.messages()[0]
    check(m["message"]["Subject"] == "[CRITICAL] db.sessions has 120000 rows (CRITICAL)",
          "templated subject %r" % m["message"]["Subject"])
    body = m["body"].replace("\r\n", "\n")
    check(body == "db.sessions has 120000 rows (CRITICAL)\nstatus: firing\nmessage: rows <!channel> & more\n"
          "runbook: %s\n" % RUNBOOK, "templated email body %r" % body)

    req = hook.accepted()[0]
    check(req["json"] == {"alert": "db.sessions", "value": 120000, "status": "firing",
                          "summary": "db.sessions has 120000 rows (CRITICAL)", "message": "rows <!channel> & more"},
          "templated json body %r" % req["body"])
    check(req["headers"].get("idempotency-key"), "templated json body without Idempotency-Key")

    # --- status --json and history show the annotations --------------------
    st = env.status()["db.sessions"]
    want = {"summary": "db.sessions has 120000 rows (CRITICAL)",
            "description": "rows <!channel> & more (team platform)", "runbook_url": RUNBOOK}
    check(st.get("annotations") == want, "status --json annotations %r" % st.get("annotations"))

    env.submit_lines([{"check": "db.sessions", "value": 10, "message": "calm", "labels": {}}])
    wait_for("the resolved notifications", lambda: len(slack.accepted()) >= 2 and len(mail.messages()) >= 2
             and len(hook.accepted()) >= 2, timeout=60)
    history = env.history("db.sessions")
    got = [(t["from"], t["to"], t["annotations"].get("summary")) for t in history["transitions"]]
    check(got == [("OK", "CRITICAL", "db.sessions has 120000 rows (CRITICAL)"),
                  ("CRITICAL", "OK", "db.sessions has 10 rows (OK)")], "history annotations %r" % got)
    check(history["transitions"][1]["annotations"]["description"] == "calm", "resolved description %r" %
          history["transitions"][1]["annotations"])
    text = env.alertq("history", "db.sessions").stdout
    check("    summary: db.sessions has 10 rows (OK)" in text, "history text lacks the annotations:\n" + text)
    resolved = [r["json"] for r in hook.accepted() if r["json"]["status"] == "resolved"]
    check(resolved and resolved[0]["summary"] == "db.sessions has 10 rows (OK)", "resolved json %r" % resolved)
    check(env.status()["db.sessions"]["annotations"]["summary"] == "db.sessions has 10 rows (OK)",
          "status annotations after resolving %r" % env.status()["db.sessions"]["annotations"])
    env.stop(w)


if __name__ == "__main__":
    sys.exit(harness.main(test))
