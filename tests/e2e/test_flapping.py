#!/usr/bin/python3
"""test_flapping.py - flapping detection as a receiver sees it: a check that
alternates OK / CRITICAL at every result sends exactly one `flapping`
notification, not one per transition, while `status` shows it flapping and
history goes on; once it settles (CRITICAL, or OK) its real state is sent
once; `replay --dry-run` gives the same transitions as history and counts
the same notifications."""

import collections
import json
import os
import sys
import time

import harness
import receivers
from harness import check, iso, wait_for

CONFIG = """
rules:
  - match: "flap.*"
    critical: "> 90"
    escalation: page
    flapping: { low: 25, high: 30 }
  - match: "calm.*"
    critical: "> 90"
    escalation: page
escalations:
  page:
    CRITICAL: { levels: [ { after: 0s, notify: [hook] } ] }
    resolved: true
channels:
  hook: { type: webhook, url: "%(hook)s", format: json }
"""

ALTERNATING = 30
SETTLED = 21


def results(check_name, base_ms, values, first):
    return [{"check": check_name, "value": v, "message": "r%d" % (first + i), "interval": "1h",
             "observed_at": iso(base_ms + (first + i) * 60000)} for i, v in enumerate(values)]


def notifications_of(hook, check_name):
    """What the hook received of check_name, in the order of the results
    (a channel delivers several at once, in any order)."""
    return sorted((n for n in hook.notifications() if n["check"] == check_name), key=lambda n: n["observed_at"])


def test(make):
    env = make("flapping")
    hook = receivers.Webhook(env, "hook").start()
    env.write_config(CONFIG % {"hook": hook.url("/hook")})
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)

    # an hour ago, a result a minute: nothing goes stale meanwhile
    base_ms = int(time.time() * 1000) - 60 * 60000
    alternating = [95 if i % 2 == 0 else 10 for i in range(ALTERNATING)]  # CRITICAL first, OK last
    checks = ["flap.crit", "flap.ok", "calm.x"]
    env.submit_lines([r for c in checks for r in results(c, base_ms, alternating, 0)])
    wait_for("every result of the alternation applied",
             lambda: all(env.status().get(c, {}).get("message") == "r%d" % (ALTERNATING - 1) for c in checks),
             timeout=120)
    # without flapping: every transition is told (30 here)
    wait_for("calm.x told at every transition", lambda: len(notifications_of(hook, "calm.x")) >= ALTERNATING,
             timeout=60)

    # --- while it flaps: one flapping notification, nothing else -------
    # told as usual for six results (firing, resolved, ...), then at the
    # seventh (34.4 %% >= 30) one "flapping", then nothing for 23 more
    time.sleep(2)  # anything wrongly planned has had time to arrive
    status = env.status()
    for c in ("flap.crit", "flap.ok"):
        got = notifications_of(hook, c)
        statuses = [n["status"] for n in got]
        check(statuses == ["firing", "resolved"] * 3 + ["flapping"],
              "%s sent %s while it flapped, expected 3 firing / resolved then one flapping" % (c, statuses))
        flapping = got[-1]
        check(flapping["severity"] == "CRITICAL" and flapping.get("flapping") is True,
              "%s: the flapping notification %s" % (c, flapping))
        check(status[c]["flapping"] is True, "status --json of %s: flapping %s" % (c, status[c].get("flapping")))
        check(status[c]["severity"] == "OK", "%s: severity %s" % (c, status[c]["severity"]))
        for n in got[:-1]:
            check("flapping" not in n, "a notification before flapping says flapping: %s" % n)
    check(status["calm.x"]["flapping"] is False, "calm.x flaps: %s" % status["calm.x"])
    text = env.alertq("status").stdout
    marked = [line.split()[0] for line in text.splitlines() if line.endswith("(flapping)")]
    check(sorted(marked) == ["flap.crit", "flap.ok"], "status marks %s flapping:\n%s" % (marked, text))
    history = env.history("flap.crit")
    check(len(history["transitions"]) == ALTERNATING,
          "flap.crit: %d transitions in history, expected %d" % (len(history["transitions"]), ALTERNATING))
    marks = [t["flapping"] for t in history["transitions"]]
    check(marks == [""] * 6 + ["started"] + ["flapping"] * (ALTERNATING - 7),
          "flap.crit history marks %s" % marks)
    told = [n for t in history["transitions"] for n in t["notifications"]]
    check([n["status"] for n in told] == ["firing", "resolved"] * 3 + ["flapping"],
          "flap.crit history notifications %s" % [n["status"] for n in told])

    # --- it settles: its real state, once ------------------------------
    env.submit_lines(results("flap.crit", base_ms, [95] * SETTLED, ALTERNATING) +
                     results("flap.ok", base_ms, [10] * SETTLED, ALTERNATING))
    last = "r%d" % (ALTERNATING + SETTLED - 1)
    wait_for("the settled results applied",
             lambda: all(env.status()[c]["message"] == last for c in ("flap.crit", "flap.ok")), timeout=120)
    wait_for("the real states sent", lambda: len(notifications_of(hook, "flap.crit")) >= 8 and
             len(notifications_of(hook, "flap.ok")) >= 8, timeout=60)
    time.sleep(2)
    status = env.status()
    crit = notifications_of(hook, "flap.crit")
    check(len(crit) == 8, "flap.crit: %d notifications, expected 8: %s" % (len(crit), crit))
    check((crit[-1]["status"], crit[-1]["severity"]) == ("firing", "CRITICAL") and "flapping" not in crit[-1],
          "flap.crit settled: sent %s" % crit[-1])
    ok = notifications_of(hook, "flap.ok")
    check(len(ok) == 8, "flap.ok: %d notifications, expected 8: %s" % (len(ok), ok))
    check(ok[-1]["status"] == "resolved" and "flapping" not in ok[-1], "flap.ok settled: sent %s" % ok[-1])
    for c, severity in (("flap.crit", "CRITICAL"), ("flap.ok", "OK")):
        check(status[c]["flapping"] is False and status[c]["severity"] == severity,
              "%s after settling: %s" % (c, status[c]))
    # history: the change back to CRITICAL still flapping, then the stop
    # (only flapping changed: from == to), after 16 CRITICAL or 15 OK
    for c, stop_at, stop in (("flap.crit", 46, ("CRITICAL", "CRITICAL")), ("flap.ok", 45, ("OK", "OK"))):
        tr = env.history(c)["transitions"]
        stops = [t for t in tr if t["flapping"] == "stopped"]
        check(len(stops) == 1 and (stops[0]["from"], stops[0]["to"]) == stop,
              "%s: flapping stopped at %s" % (c, stops))
        check(stops[0]["message"] == "r%d" % (stop_at - 1), "%s stopped at %s, expected result %d" %
              (c, stops[0]["message"], stop_at))

    # --- replay: the same transitions, the same notifications ----------
    out = env.alertq("replay", "--from", "beginning", "--dry-run", "--json")
    doc = json.loads(out.stdout)
    replayed = collections.defaultdict(list)
    for t in doc["transitions"]:
        replayed[t["check"]].append((t["from"], t["to"], t.get("flapping", "")))
    for c in checks:
        stored = [(t["from"], t["to"], t["flapping"]) for t in env.history(c)["transitions"]]
        check(replayed[c] == stored, "%s: replay gives\n%s\nhistory has\n%s" % (c, replayed[c], stored))
    sent = len(hook.notifications())
    check(doc["notifications"] == {"hook": sent},
          "replay counts notifications %s, the hook received %d" % (doc["notifications"], sent))
    check(sent == 8 + 8 + ALTERNATING, "the hook received %d notifications" % sent)

    rc = env.stop(w)
    check(rc == 0, "worker exited %s" % rc)


if __name__ == "__main__":
    sys.exit(harness.main(test))
