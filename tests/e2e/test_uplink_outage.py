#!/usr/bin/python3
"""test_uplink_outage.py - grouping and inhibition together, the outage of
the README's "Noise control": an uplink goes CRITICAL and 300 checks behind
it follow within 2 s, some of them before it. While the uplink fires the
grouped channel gets the uplink's own message and nothing of the 300; when
it ends, one grouped message per (team, site) lists every target still
firing exactly once."""

import sys
import time

import harness
import receivers
from harness import check, wait_for

TEAMS = ("web", "app")
PER_TEAM = 150

CONFIG = """
inhibit_wait: 2s
inhibit:
  - source: { match: "net.uplink.*", severity: CRITICAL }
    target: { match: "*", labels: { tier: "~web|app" } }
    equal: [site]
rules:
  - match: "*"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [grouped] } ] }
    resolved: true
channels:
  grouped: { type: webhook, url: "%s", format: json,
             group_by: [team, site], group_wait: 5s, group_interval: 1h, max_alerts: 1000 }
"""


def result(name, status, **labels):
    return {"check": name, "status": status, "message": "e2e", "labels": labels}


def targets():
    return [("%s.par1.%03d" % (team, i), team) for team in TEAMS for i in range(PER_TEAM)]


def test(make):
    env = make("uplink_outage")
    hook = receivers.Webhook(env, "grouped").start()
    env.write_config(CONFIG % hook.url())
    env.start_broker()
    w1 = env.worker("worker1")
    w2 = env.worker("worker2")
    env.wait_joined(w1)
    env.wait_joined(w2)

    behind = [result(name, "CRITICAL", team=team, site="par1", tier=team) for name, team in targets()]
    start = time.monotonic()
    env.submit_lines(behind[:50])
    env.submit_lines([result("net.uplink.par1", "CRITICAL", team="net", site="par1")])
    env.submit_lines(behind[50:])
    check(time.monotonic() - start < 2.5, "publishing took %.1fs, the test wants 2s" % (time.monotonic() - start))
    wait_for("every check CRITICAL", lambda: sum(1 for c in env.status().values()
                                                 if c["severity"] == "CRITICAL") == len(behind) + 1, timeout=60)

    def messages():
        return hook.notifications()

    def alerts_of(m):
        return [(a["check"], a["status"]) for a in m["alerts"]]

    wait_for("the uplink's own message", lambda: len(messages()) >= 1, timeout=30)
    # past inhibit_wait and group_wait: nothing of the 300 may come
    time.sleep(2 + 5 + 3)
    got = messages()
    check(len(got) == 1 and got[0]["group"] == {"team": "net", "site": "par1"} and
          alerts_of(got[0]) == [("net.uplink.par1", "firing")],
          "while the uplink fires: %s" % [(m["group"], alerts_of(m)[:3]) for m in got])

    env.submit_lines([result("net.uplink.par1", "OK", team="net", site="par1")])
    ended = time.monotonic()

    def of_team(team):
        return [m for m in messages() if m["group"] == {"team": team, "site": "par1"}]
    wait_for("one message per team", lambda: all(of_team(t) for t in TEAMS), timeout=60)
    print("grouped messages %.1fs after the uplink ended" % (time.monotonic() - ended), file=sys.stderr)
    time.sleep(3)
    for team in TEAMS:
        got = of_team(team)
        check(len(got) == 1, "team %s: %d messages, want one" % (team, len(got)))
        listed = alerts_of(got[0])
        want = [(name, "firing") for name, t in targets() if t == team]
        check(sorted(listed) == sorted(want) and len(listed) == len(set(listed)),
              "team %s: %d alerts listed (%d distinct), want %d" % (team, len(listed), len(set(listed)), len(want)))
        check(got[0]["firing"] == PER_TEAM and got[0]["truncated"] == 0,
              "team %s: firing %s truncated %s" % (team, got[0]["firing"], got[0]["truncated"]))
    uplink = [alerts_of(m) for m in messages() if m["group"] == {"team": "net", "site": "par1"}]
    check(uplink == [[("net.uplink.par1", "firing")], [("net.uplink.par1", "resolved")]],
          "the uplink's group: %s" % uplink)
    check(len(messages()) == 2 + len(TEAMS), "messages in all: %d" % len(messages()))
    for w in (w1, w2):
        check(env.stop(w) == 0, "%s did not stop cleanly" % w.name)


if __name__ == "__main__":
    sys.exit(harness.main(test))
