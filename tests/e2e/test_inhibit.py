#!/usr/bin/python3
"""test_inhibit.py - inhibition and routing by labels with two workers: an
uplink goes CRITICAL and 300 web checks of its site follow within 2 s, a
third of them published before it (other partitions, arriving first); none
of them is sent while the uplink fires, status shows what inhibits them; a
web check of another site is sent; when the uplink is OK again every target
still firing is told once, promptly, and one that resolved meanwhile never;
and a rule that matches a team label sends that team's check to its own
escalation policy."""

import sys
import time

import harness
import receivers
from harness import check, wait_for

TARGETS = 300
RESOLVED_WHILE_INHIBITED = 20

CONFIG = """
inhibit_wait: 2s
inhibit:
  - source: { match: "net.uplink.*", severity: CRITICAL }
    target: { match: "*", labels: { tier: "~web|app" } }
    equal: [site]
rules:
  - match: "*"
    labels: { team: db, env: "~prod|stage" }
    escalation: db-oncall
  - match: "*"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook] } ] }
    resolved: true
  db-oncall:
    CRITICAL: { levels: [ { after: 0s, notify: [dbhook] } ] }
    resolved: true
channels:
  hook: { type: webhook, url: "%s", format: json }
  dbhook: { type: webhook, url: "%s", format: json }
"""


def result(name, status, **labels):
    return {"check": name, "status": status, "message": "e2e", "labels": labels}


def target(i):
    return "web.par1.%03d" % i


def test(make):
    env = make("inhibit")
    hook = receivers.Webhook(env, "hook").start()
    dbhook = receivers.Webhook(env, "dbhook").start()
    env.write_config(CONFIG % (hook.url(), dbhook.url()))
    env.start_broker()
    w1 = env.worker("worker1")
    w2 = env.worker("worker2")
    env.wait_joined(w1)
    env.wait_joined(w2)

    def told(where, check_name=None):
        return [(n["check"], n["status"]) for n in where.notifications()
                if check_name is None or n["check"] == check_name]

    # a third of the targets first, then the uplink, then the rest: within 2 s
    first = TARGETS // 3
    start = time.monotonic()
    env.submit_lines([result(target(i), "CRITICAL", site="par1", tier="web") for i in range(first)])
    env.submit_lines([result("net.uplink.par1", "CRITICAL", site="par1"),
                      result("web.par2.000", "CRITICAL", site="par2", tier="web"),
                      result("db.rows", "CRITICAL", team="db", env="prod"),
                      result("db.other", "CRITICAL", team="db", env="preprod")])
    env.submit_lines([result(target(i), "CRITICAL", site="par1", tier="web") for i in range(first, TARGETS)])
    check(time.monotonic() - start < 2.5, "publishing took %.1fs, the test wants 2s" % (time.monotonic() - start))

    wait_for("every check CRITICAL", lambda: sum(1 for c in env.status().values()
                                                 if c["severity"] == "CRITICAL") == TARGETS + 4, timeout=60)
    # not inhibited: the uplink itself, another site's web check, and the
    # label-routed checks, each on its own policy's channel
    wait_for("the uplink and par2 told", lambda: len(told(hook)) >= 3, timeout=30)
    wait_for("db.rows told on dbhook", lambda: len(told(dbhook)) >= 1, timeout=30)
    # well past inhibit_wait: every target's row was decided
    time.sleep(2 + 4)
    check(sorted(told(hook)) == sorted([("net.uplink.par1", "firing"), ("web.par2.000", "firing"),
                                        ("db.other", "firing")]),
          "hook while the uplink fires: %s" % sorted(told(hook))[:10])
    check(told(dbhook) == [("db.rows", "firing")], "dbhook: %s (a team's rule routes by label)" % told(dbhook))
    status = env.status()
    inhibited = [c for c, s in status.items() if s.get("inhibited_by") == "net.uplink.par1"]
    check(sorted(inhibited) == [target(i) for i in range(TARGETS)],
          "inhibited_by: %d of %d targets (%s)" % (len(inhibited), TARGETS, sorted(inhibited)[:5]))
    for name in ("net.uplink.par1", "web.par2.000", "db.rows"):
        check("inhibited_by" in status[name] and status[name]["inhibited_by"] is None,
              "%s: inhibited_by %r" % (name, status[name].get("inhibited_by")))
    text = env.alertq("status").stdout
    check("inhibited by net.uplink.par1" in text, "status text does not say 'inhibited by':\n%s" % text[:2000])
    h = env.history(target(0))
    deliveries = [(n["delivery"], n["last_error"]) for t in h["transitions"] for n in t["notifications"]]
    check(deliveries == [("inhibited", "inhibited by net.uplink.par1")], "history of %s: %s" % (target(0), deliveries))
    text = env.alertq("history", target(0)).stdout
    check("inhibited by net.uplink.par1" in text, "history text:\n%s" % text)

    # some targets resolve while inhibited: never told, neither way; one
    # fires and resolves before its firing is even decided
    gone = [target(i) for i in range(RESOLVED_WHILE_INHIBITED)]
    env.submit_lines([result(c, "OK", site="par1", tier="web") for c in gone] +
                     [result("web.par1.brief", "CRITICAL", site="par1", tier="web")])
    env.submit_lines([result("web.par1.brief", "OK", site="par1", tier="web")])
    gone.append("web.par1.brief")
    wait_for("the resolved targets OK", lambda: all(env.status()[c]["severity"] == "OK" for c in gone),
             timeout=30)
    # an OK check is inhibited by nothing: let go at once, owed nothing
    wait_for("the resolved targets let go", lambda: all(env.status()[c]["inhibited_by"] is None for c in gone),
             timeout=5)
    # the channel was struck from those told: no resolved notification at all
    h = env.history(target(0))
    rows = [(t["to"], n["status"], n["delivery"]) for t in h["transitions"] for n in t["notifications"]]
    check(rows == [("CRITICAL", "firing", "inhibited")], "history of %s after it resolved: %s" % (target(0), rows))
    time.sleep(2 + 2)
    check(told(hook) and all(c in ("net.uplink.par1", "web.par2.000", "db.other") for c, _ in told(hook)),
          "a target was told while the uplink fires: %s" % told(hook))

    # the uplink ends: every target still firing is told, once, promptly
    env.submit_lines([result("net.uplink.par1", "OK", site="par1")])
    ended = time.monotonic()
    still = [target(i) for i in range(RESOLVED_WHILE_INHIBITED, TARGETS)]
    check(env.status()["web.par1.brief"]["severity"] == "OK", "web.par1.brief did not resolve")

    def targets_told():
        return [c for c, s in told(hook) if c.startswith("web.par1.")]
    wait_for("every target still firing told", lambda: len(targets_told()) >= len(still), timeout=60)
    took = time.monotonic() - ended
    print("released %d targets in %.1fs" % (len(still), took), file=sys.stderr)
    check(took < 10, "the release took %.1fs" % took)
    time.sleep(3)
    got = sorted(told(hook, None))
    want = sorted([("net.uplink.par1", "firing"), ("net.uplink.par1", "resolved"), ("web.par2.000", "firing"),
                   ("db.other", "firing")] + [(c, "firing") for c in still])
    check(got == want, "after the uplink ended: %d notifications, want %d; extra %s, missing %s" %
          (len(got), len(want), sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5]))
    check(len(targets_told()) == len(still), "a target was told twice: %d for %d" % (len(targets_told()), len(still)))
    status = env.status()
    check(all(s.get("inhibited_by") is None for s in status.values()),
          "still inhibited: %s" % [c for c, s in status.items() if s.get("inhibited_by")][:5])
    for w in (w1, w2):
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)


if __name__ == "__main__":
    sys.exit(harness.main(test))
