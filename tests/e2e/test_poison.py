#!/usr/bin/python3
"""test_poison.py - events a worker cannot use, produced straight to the
topic between good results: garbage, truncated, wrong magic, an unknown
schema fingerprint, a key that does not name the event's check, NaN and
infinite values, empty and over-long check names, a far-future observed_at,
one too large to carry with the headers (cut to fit, and said so).
Each lands in the dead-letter topic with its original key and bytes and
headers naming the error and where it came from; `alertq status` counts
them; the good results around them are applied in order; the worker lives."""

import os
import struct
import sys
import time
import uuid

import harness
from events import avro_string, dump, produce_raw, zigzag
from harness import check, wait_for

RULES = """
rules:
  - match: "svc.*"
    warning: "> 50"
    critical: "> 90"
    escalation: log
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION
REFERENCE_RULES = [("svc.*", (">", 50), (">", 90), 1), ("*", None, None, 1)]
CHECKS = ["svc.%02d" % i for i in range(8)]
VALUES = [10, 60, 95, 20, 95, 55, 5, 99, 30]


def encode_body(check_name, value, observed_at_ms, message="poison"):
    """The binary body of a CheckResult, written field by field."""
    body = avro_string(str(uuid.uuid4())) + avro_string(check_name) + avro_string("test_poison")
    body += zigzag(observed_at_ms)
    body += zigzag(1) + struct.pack("<d", value) if value is not None else zigzag(0)
    body += zigzag(0)  # status: null
    body += avro_string(message)
    body += zigzag(0)  # labels: empty map
    body += zigzag(60000)
    body += zigzag(0)  # expires_at: null (version 2)
    return body


def test(make):
    env = make("poison", partitions=3)
    env.write_config(RULES)
    env.start_broker()
    w = env.worker("worker")
    env.wait_joined(w)

    now = int(time.time() * 1000)
    good = []

    def round_of(rnd):
        rs = [{"check": c, "value": VALUES[(rnd + i) % len(VALUES)], "message": "round %d" % rnd,
               "interval": "1h", "observed_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000 - 600 + rnd)) + "Z"}
              for i, c in enumerate(CHECKS)]
        good.extend(rs)
        env.submit_lines(rs)

    round_of(0)
    # the writer fingerprint of this build, from a real event on the topic
    rows, out = dump(env, "alertq.checks", len(CHECKS))
    check(len(rows) == len(CHECKS), "could not read the submitted events back: %s" % out.stderr)
    header = rows[0]["value"][:10]
    check(header[:2] == b"\xc3\x01", "submitted events do not start with the single-object magic")

    def event(check_name, value=42.0, observed_at=now - 1000):
        return header + encode_body(check_name, value, observed_at)

    target = CHECKS[0]  # same key: same partition as the good results of that check
    poison = [
        # (key, value, error substring expected in alertq-error)
        (target.encode(), b"this is not avro at all", "bad magic"),
        (target.encode(), event(target)[:25], "truncated"),
        (target.encode(), b"\xc3\x02" + event(target)[2:], "bad magic"),
        (target.encode(), b"\xc3\x01" + b"\x01\x02\x03\x04\x05\x06\x07\x08" + event(target)[10:], "unknown schema fingerprint"),
        (CHECKS[1].encode(), event(target), "key does not match"),
        (None, event(target), "key does not match"),
        (target.encode(), b"", "too short"),
    ]
    poison2 = [
        (target.encode(), event(target, value=float("nan")), "not a finite number"),
        (target.encode(), event(target, value=float("inf")), "not a finite number"),
        (b"", event(""), "check name is empty"),
        (("x" * 300).encode(), event("x" * 300), "more than 255"),
        (target.encode(), event("\u00e9" * 127), "key does not match"),  # reason cut inside a character
        (target.encode(), event(target, observed_at=now + 3 * 86400 * 1000), "in the future"),
        (target.encode(), event(target) + b"\x00\x00", "trailing bytes"),
    ]
    produce_raw(env, [(k, v) for k, v, _ in poison])
    round_of(1)
    produce_raw(env, [(k, v) for k, v, _ in poison2])
    round_of(2)
    produce_raw(env, [(k, v) for k, v, _ in poison[:2]])
    round_of(3)
    bad = poison + poison2 + poison[:2]

    wait_for("every good result applied",
             lambda: all(s.get("message") == "round 3" for s in env.status().values()) and
             len(env.status()) == len(CHECKS), timeout=60)
    wait_for("every dead letter recorded",
             lambda: int(env.sql("SELECT count(*) FROM alertq_dead_letters")[0][0]) == len(bad), timeout=30)
    check(w.poll() is None, "the worker died on poison events")

    # the dead-letter topic: original key and bytes, reason and origin
    dlq, out = dump(env, "alertq.checks.dlq", len(bad))
    check(len(dlq) == len(bad), "dead-letter topic has %d messages, expected %d: %s" % (len(dlq), len(bad), out.stderr))
    source, out = dump(env, "alertq.checks", len(good) + len(bad))
    check(len(source) == len(good) + len(bad), "source topic has %d messages: %s" % (len(source), out.stderr))
    by_origin = {(r["partition"], r["offset"]): r for r in source}
    dlq.sort(key=lambda r: (r["headers"].get("alertq-source-partition", ""), int(r["headers"].get("alertq-source-offset", "0"))))
    remaining = list(bad)
    for r in dlq:
        h = r["headers"]
        for name in ("alertq-error", "alertq-source-topic", "alertq-source-partition", "alertq-source-offset"):
            check(name in h, "dead letter without header %s: %r" % (name, h))
        check(h["alertq-source-topic"] == "alertq.checks", "alertq-source-topic is %r" % h["alertq-source-topic"])
        origin = by_origin.get((int(h["alertq-source-partition"]), int(h["alertq-source-offset"])))
        check(origin is not None, "dead letter names no message of the source topic: %r" % h)
        check(origin["value"] == r["value"] and origin["key"] == r["key"],
              "dead letter bytes differ from the source message at %s/%s" %
              (h["alertq-source-partition"], h["alertq-source-offset"]))
        match = next((b for b in remaining if b[1] == r["value"] and (b[0] or None) == (r["key"] or None)), None)
        check(match is not None, "unexpected dead letter: key %r value %r" % (r["key"], r["value"][:40]))
        check(match[2] in h["alertq-error"], "dead letter for %r says %r, expected it to name %r" %
              (r["value"][:30], h["alertq-error"], match[2]))
        remaining.remove(match)
    check(not remaining, "poison events missing from the dead-letter topic: %r" % remaining)
    rows = env.sql("SELECT reason FROM alertq_dead_letters")
    check(len(rows) == len(bad), "alertq_dead_letters has %d rows" % len(rows))

    text = env.alertq("status").stdout
    check("dead letters: %d" % len(bad) in text, "alertq status does not count %d dead letters:\n%s" % (len(bad), text))

    # the good results around the poison: in order, each once
    expected = harness.reference(good, REFERENCE_RULES)
    status = env.status()
    for c in CHECKS:
        check(status[c]["severity"] == expected[c][0], "%s: severity %s, expected %s" %
              (c, status[c]["severity"], expected[c][0]))
        got = [(t["from"], t["to"], t["value"]) for t in env.history(c)["transitions"]]
        want = [(a, b, float(v)) for a, b, v in expected[c][1]]
        check(got == want, "%s: transitions %s, expected %s" % (c, got, want))
    # a message too large to carry to the dead-letter topic with the headers:
    # cut to fit and said so, never a partition stuck behind it
    big = b"\xff\xff" + os.urandom(999000)
    produce_raw(env, [(target.encode(), big)])
    round_of(4)
    wait_for("the results after an oversized poison event applied",
             lambda: all(s.get("message") == "round 4" for s in env.status().values()), timeout=60)
    dlq, out = dump(env, "alertq.checks.dlq", len(bad) + 1)
    check(len(dlq) == len(bad) + 1, "dead-letter topic has %d messages, expected %d" % (len(dlq), len(bad) + 1))
    cut = [r for r in dlq if "alertq-truncated" in r["headers"]]
    check(len(cut) == 1, "%d dead letters say they were cut, expected 1" % len(cut))
    check(big.startswith(cut[0]["value"]) and len(cut[0]["value"]) > 900000,
          "the cut dead letter is not a long prefix of the original (%d bytes)" % len(cut[0]["value"]))
    check("bad magic" in cut[0]["headers"]["alertq-error"] and
          "of %d bytes" % len(big) in cut[0]["headers"]["alertq-truncated"],
          "the cut dead letter's headers: %r" % {k: v for k, v in cut[0]["headers"].items()})
    check("dead letters: %d" % (len(bad) + 1) in env.alertq("status").stdout, "status does not count the cut one")

    check(w.poll() is None, "the worker died")
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    print("good results %d, poison events %d, all dead-lettered with their reason" % (len(good), len(bad) + 1))


if __name__ == "__main__":
    sys.exit(harness.main(test))
