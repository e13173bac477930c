#!/usr/bin/python3
"""test_serve_ingest.py - results and Prometheus alerts sent to alertq serve
end to end: POST /api/v1/results answered once Kafka holds the results and
applied by the worker; a request with bad items refused whole with their
indexes and nothing published; the size cap and the ingest role; Prometheus
2.x's POST /api/v2/alerts firing and resolving a check and the logfile told;
GET /api/v2/status as Alertmanager answers it; GET /metrics parsed as
Prometheus text and compared with the state."""

import datetime
import http.client
import json
import os
import re
import sys
import time

import events
import harness
from harness import check, wait_for
from test_serve_api import call, expect, healthy

RULES = """
rules:
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION

TOKENS = {"prom": "p-secret-1", "ops": "o-secret-2", "viewer": "v-secret-3"}
HTTP = """
http:
  tokens:
    - { name: prom, role: ingest, token_env: T_PROM }
    - { name: ops, role: operate, token_env: T_OPS }
    - { name: viewer, role: read, token_env: T_VIEW }
"""
TOPIC = "alertq.checks"
PARTITIONS = 4

# name{labels} value, labels as name="value" with \\, \" and \n escaped
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_metrics(text):
    """[(name, {label: value}, float)] of Prometheus text; fails on any line
    that is neither a comment nor a sample."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, "not a Prometheus sample line: %r" % line)
        labels = {}
        rest = m.group(2) or ""
        pos = 0
        while pos < len(rest):
            lm = LABEL.match(rest, pos)
            check(lm, "bad labels in %r" % line)
            labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            pos = lm.end()
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric(samples, name, **labels):
    got = [v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
    check(len(got) == 1, "metric %s%r: %d samples in %r" % (name, labels, len(got), samples))
    return got[0]


def rfc3339_ns(ms):
    """ms since the epoch as Prometheus writes times: UTC with nanoseconds."""
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % ((ms % 1000) * 1000000 + 123456)


def prometheus_alert(name, instance, severity, starts_ms, ends_ms):
    """One alert exactly as Prometheus 2.x posts it to Alertmanager."""
    return {"labels": {"alertname": name, "instance": instance, "job": "web", "severity": severity},
            "annotations": {"summary": "%s on %s" % (name, instance),
                            "description": "p99 latency above 2s for 5 minutes"},
            "startsAt": rfc3339_ns(starts_ms), "endsAt": rfc3339_ns(ends_ms),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29+%3E+2&g0.tab=1"}


def topic_rows(env):
    """Every message the checks topic holds (what 3 seconds of reading from
    the beginning give)."""
    rows, out = events.dump(env, TOPIC, 1000000, timeout=3)
    check(re.search(r"^dumped %d$" % len(rows), out.stdout, re.M),
          "kafka_probe dump failed: %s %s" % (out.stdout, out.stderr))  # it exits 1 when fewer came
    return rows


def post_raw(port, path, token, body):
    """(status, JSON) of a POST whose body may be refused before it is read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", "Bearer " + token)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            conn.send(body)
        except OSError:
            pass  # answered and closed before the whole body went
        r = conn.getresponse()
        return r.status, json.loads(r.read().decode())
    finally:
        conn.close()


def test(make):
    env = make("serve-ingest", partitions=PARTITIONS)
    port = harness.free_port()
    env.env.update({"T_PROM": TOKENS["prom"], "T_OPS": TOKENS["ops"], "T_VIEW": TOKENS["viewer"]})
    env.write_config(RULES + HTTP)
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    serve = env.spawn("serve", [os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "serve",
                                "--listen", "127.0.0.1:%d" % port])
    wait_for("serve to answer", lambda: healthy(port), timeout=30)
    P, O, V = TOKENS["prom"], TOKENS["ops"], TOKENS["viewer"]

    # --- POST /api/v1/results: answered once Kafka has them, then applied
    before = len(topic_rows(env))
    three = [{"check": "db.rows", "status": "CRITICAL", "message": "too many", "value": 120000},
             {"check": "web.up", "status": "OK"},
             {"check": "disk.root", "status": "WARNING", "labels": {"team": "infra"}}]
    got = expect(call(port, "POST", "/api/v1/results", P, three), 200, "three results")
    check(got == {"accepted": 3}, "accepted: %r" % got)
    rows = topic_rows(env)
    check(len(rows) == before + 3, "right after the 200 the topic holds %d messages, not %d" % (len(rows),
                                                                                               before + 3))
    for r in three:
        check(any(events.avro_string(r["check"]) in row["value"] for row in rows),
              "%s is not in the topic: %r" % (r["check"], rows))
    wait_for("the three results applied", lambda: len(env.status()) == 3)
    st = env.status()
    check(st["db.rows"]["severity"] == "CRITICAL" and st["db.rows"]["value"] == 120000, "db.rows: %r" % st)
    check(st["web.up"]["severity"] == "OK" and st["disk.root"]["severity"] == "WARNING", "status: %r" % st)
    check(st["disk.root"]["labels"] == {"team": "infra"}, "labels: %r" % st["disk.root"])

    # --- a bad request publishes nothing and says which items are bad
    count = len(topic_rows(env))
    mixed = [{"check": "ok.one", "status": "OK"},
             {"check": "", "status": "CRITICAL"},
             {"check": "ok.two", "value": 3},
             {"check": "bad.status", "status": "BROKEN"},
             {"check": "ok.three", "status": "WARNING"}]
    got = expect(call(port, "POST", "/api/v1/results", P, mixed), 400, "two bad items")
    items = got.get("items")
    check(isinstance(items, list) and [i["index"] for i in items] == [1, 3], "bad items: %r" % got)
    check(all(isinstance(i["error"], str) and i["error"] for i in items), "reasons: %r" % items)
    check("status" in items[1]["error"], "the reason of item 3 does not say what: %r" % items[1])
    expect(call(port, "POST", "/api/v1/results", P, raw=b"{not json"), 400, "not JSON")
    expect(call(port, "POST", "/api/v1/results", P, {"check": "x", "status": "OK"}), 400, "not an array")
    expect(call(port, "POST", "/api/v1/results", P, ["x"]), 400, "an item that is not an object")
    big = json.dumps([{"check": "big.%d" % i, "status": "OK", "message": "m" * 200}
                      for i in range(6000)]).encode()
    check(len(big) > 1024 * 1024, "the big body is only %d bytes" % len(big))
    status, body = post_raw(port, "/api/v1/results", P, big)
    check(status == 413 and "error" in body, "over 1 MiB: %d %r" % (status, body))
    expect(call(port, "POST", "/api/v1/results", V, three), 403, "viewer ingests")
    expect(call(port, "POST", "/api/v1/results", O, three), 403, "ops ingests")
    expect(call(port, "POST", "/api/v2/alerts", V, []), 403, "viewer posts alerts")
    expect(call(port, "POST", "/api/v2/alerts", O, []), 403, "ops posts alerts")
    expect(call(port, "POST", "/api/v1/results", None, three), 401, "no token")
    expect(call(port, "POST", "/api/v1/results", "p-secret-x", three), 401, "wrong token")
    rows = topic_rows(env)
    check(len(rows) == count, "refused requests published: %d messages, %d before" % (len(rows), count))
    check(not any(events.avro_string(n) in r["value"] for r in rows for n in ("ok.one", "ok.two", "ok.three")),
          "a good item of a refused request was published")

    # --- Prometheus: fire, then resolve
    now = int(time.time() * 1000)
    firing = [prometheus_alert("HighLatency", "web-1:9090", "critical", now - 60000, now + 180000),
              prometheus_alert("DiskFilling", "web-2:9100", "warning", now - 30000, now + 180000)]
    got = expect(call(port, "POST", "/api/v2/alerts", P, firing), 200, "prometheus firing")
    check(got == {"accepted": 2}, "alerts accepted: %r" % got)
    name = "HighLatency/web-1:9090"
    wait_for("HighLatency firing", lambda: env.status().get(name, {}).get("severity") == "CRITICAL")
    wait_for("DiskFilling warning", lambda: env.status().get("DiskFilling/web-2:9100", {}).get("severity")
             == "WARNING")
    hl = env.status()[name]
    check(hl["message"] == "HighLatency on web-1:9090", "message: %r" % hl)
    check(hl["labels"].get("job") == "web" and hl["labels"].get("severity") == "critical"
          and hl["labels"].get("annotation_description") == "p99 latency above 2s for 5 minutes"
          and hl["labels"].get("generator_url", "").startswith("http://prometheus:9090/graph?g0.expr="),
          "labels: %r" % hl["labels"])
    check("alertname" not in hl["labels"], "alertname kept as a label: %r" % hl["labels"])
    wait_for("the logfile told of HighLatency", lambda: any(
        a["check"] == name and a["status"] == "firing" for a in env.alert_lines()))

    # /metrics while it fires
    crit = sum(1 for c in env.status().values() if c["severity"] == "CRITICAL")
    check(crit == 2, "critical checks: %r" % env.status())
    text = expect(call(port, "GET", "/metrics", V), 200, "metrics (viewer)")
    samples = parse_metrics(text)
    check(metric(samples, "alertq_checks", severity="CRITICAL") == crit, "alertq_checks CRITICAL: %r" % samples)
    check(metric(samples, "alertq_checks", severity="WARNING") == 2, "alertq_checks WARNING: %r" % samples)
    check(metric(samples, "alertq_checks", severity="OK") == 1, "alertq_checks OK: %r" % samples)
    check(metric(samples, "alertq_dead_letters_total") == 0, "dead letters: %r" % samples)
    check(any(n == "alertq_build_info" and v == 1 and ls.get("version") for n, ls, v in samples),
          "build info: %r" % samples)
    lag = {ls["partition"]: v for n, ls, v in samples if n == "alertq_consumer_lag"}
    check(sorted(lag) == [str(p) for p in range(PARTITIONS)], "consumer lag partitions: %r" % lag)
    check(all(v >= 0 for v in lag.values()), "lag: %r" % lag)
    metric(samples, "alertq_notifications_pending", channel="logfile")
    check(metric(samples, "alertq_notifications_total", channel="logfile", outcome="sent") >= 1,
          "logfile sent: %r" % samples)

    # the same alert with endsAt in the past: resolved, and the logfile told
    now = int(time.time() * 1000)
    resolved = [prometheus_alert("HighLatency", "web-1:9090", "critical", now - 120000, now - 1000)]
    expect(call(port, "POST", "/api/v2/alerts", P, resolved), 200, "prometheus resolved")
    wait_for("HighLatency resolved", lambda: env.status()[name]["severity"] == "OK")
    wait_for("the logfile told HighLatency resolved", lambda: any(
        a["check"] == name and a["status"] == "resolved" for a in env.alert_lines()))

    # a firing alert not sent again resolves by itself at its endsAt, as in
    # Alertmanager, and the logfile is told
    now = int(time.time() * 1000)
    short = [prometheus_alert("Flaky", "web-3:9090", "critical", now - 1000, now + 4000)]
    expect(call(port, "POST", "/api/v2/alerts", P, short), 200, "prometheus short-lived")
    wait_for("Flaky firing", lambda: env.status().get("Flaky/web-3:9090", {}).get("severity") == "CRITICAL")
    fired = time.time()
    wait_for("Flaky expired", lambda: env.status()["Flaky/web-3:9090"]["severity"] == "OK", timeout=20)
    check(time.time() * 1000 >= now + 4000, "Flaky resolved before its endsAt")
    check(time.time() - fired < 15, "Flaky resolved %.1fs after firing" % (time.time() - fired))
    wait_for("the logfile told Flaky resolved", lambda: any(
        a["check"] == "Flaky/web-3:9090" and a["status"] == "resolved" for a in env.alert_lines()))

    # a bad alert among good ones: nothing of it published
    count = len(topic_rows(env))
    got = expect(call(port, "POST", "/api/v2/alerts", P,
                      [firing[0], {"labels": {"job": "x"}}, dict(firing[1], startsAt="yesterday")]),
                 400, "bad alerts")
    check([i["index"] for i in got.get("items", [])] == [1, 2], "bad alerts: %r" % got)
    check(len(topic_rows(env)) == count, "a refused alert request published")

    # what Prometheus and Grafana ask Alertmanager
    st = expect(call(port, "GET", "/api/v2/status", V), 200, "am status")
    check(st["cluster"]["status"] == "ready" and isinstance(st["versionInfo"].get("version"), str)
          and "uptime" in st, "am status: %r" % st)

    # /metrics: no token from loopback (the contract: none on loopback), a
    # dead letter counted, lag drained once the worker applied everything
    events.produce_raw(env, [(b"poison", b"\x00not avro")])

    def drained():
        s = parse_metrics(expect(call(port, "GET", "/metrics"), 200, "metrics without a token on loopback"))
        lags = [v for n, _, v in s if n == "alertq_consumer_lag"]
        return s if metric(s, "alertq_dead_letters_total") == 1 and lags and sum(lags) == 0 else None
    samples = wait_for("the dead letter counted and the lag drained", drained, timeout=60, interval=0.5)
    check(metric(samples, "alertq_checks", severity="CRITICAL") == 1, "after resolving: %r" % samples)
    expect(call(port, "GET", "/metrics", O), 200, "metrics (ops)")

    env.stop(serve)
    log = env.log_of(serve)
    for secret in TOKENS.values():
        check(secret not in log, "a token was printed")


if __name__ == "__main__":
    sys.exit(harness.main(test))
