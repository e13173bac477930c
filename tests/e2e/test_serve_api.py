#!/usr/bin/python3
"""test_serve_api.py - alertq serve's JSON API as a client uses it: every
endpoint's happy path, each error code, the roles of tokens, a hostile check
name through the API, an acknowledgement by token shown by `alertq status`,
and the refusal to listen beyond loopback without tokens."""

import base64
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request

import harness
from harness import check, wait_for

RULES = """
rules:
  - match: "*"
    escalation: log
""" + harness.LOGFILE_ESCALATION

HOSTILE = "x<script>\"&'\u00e9/\u2603"
TOKENS = {"reader": "r-secret-1", "feeder": "i-secret-2", "ops": "o-secret-3"}
HTTP = """
http:
  listen: 127.0.0.1:%d
  tokens:
    - { name: reader, role: read, token_env: T_READ }
    - { name: feeder, role: ingest, token_env: T_INGEST }
    - { name: ops, role: operate, token_env: T_OPS }
    - { name: ghost, role: operate, token_env: T_UNSET_NEVER }
"""


def call(port, method, path, token=None, body=None, basic=None, raw=None):
    """(status, parsed JSON or text) of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if basic:
        req.add_header("Authorization", "Basic " + base64.b64encode(basic.encode()).decode())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, text, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
    return status, (json.loads(text) if ctype.startswith("application/json") else text)


def quote(name):
    return urllib.parse.quote(name, safe="")


def expect(got, status, what):
    check(got[0] == status, "%s: want %d, got %d %r" % (what, status, got[0], got[1]))
    if status >= 400:
        check(isinstance(got[1], dict) and isinstance(got[1].get("error"), str),
              "%s: the error is not JSON {\"error\": ...}: %r" % (what, got[1]))
    return got[1]


def start_serve(env, port):
    proc = env.spawn("serve", [os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "serve"])
    wait_for("serve to answer", lambda: healthy(port), timeout=30)
    return proc


def healthy(port):
    try:
        return call(port, "GET", "/-/healthy")[0] == 200
    except OSError:
        return False


def test(make):
    import urllib.parse  # noqa: F401 (quote)
    env = make("serve-api")
    port = harness.free_port()
    env.env.update({"T_READ": TOKENS["reader"], "T_INGEST": TOKENS["feeder"], "T_OPS": TOKENS["ops"]})
    env.env.pop("T_UNSET_NEVER", None)
    env.write_config(RULES + HTTP % port)
    env.start_broker()
    w = env.worker()
    env.wait_joined(w)
    env.submit_lines([{"check": "db.rows", "status": "CRITICAL", "message": "too many"},
                      {"check": "web.up", "status": "OK"},
                      {"check": "disk.root", "status": "WARNING"},
                      {"check": HOSTILE, "status": "CRITICAL", "message": "<b>hi</b>"}])
    wait_for("the results applied", lambda: len(env.status()) == 4)
    serve = start_serve(env, port)
    R, I, O = TOKENS["reader"], TOKENS["feeder"], TOKENS["ops"]

    # health and readiness need no token
    check(call(port, "GET", "/-/healthy")[1].strip() == "ok", "healthy")
    expect(call(port, "GET", "/-/ready"), 200, "ready")

    # alerts: the non-OK checks, as status --json has them
    alerts = expect(call(port, "GET", "/api/v1/alerts", R), 200, "alerts")
    status = env.status()
    check(sorted(a["check"] for a in alerts) == sorted(["db.rows", "disk.root", HOSTILE]), "alerts: %r" % alerts)
    for a in alerts:
        want = dict(status[a["check"]])
        check(a == want, "alert %r differs from status --json %r" % (a, want))
    crit = expect(call(port, "GET", "/api/v1/alerts?severity=critical&match=db.*", R), 200, "filtered")
    check([a["check"] for a in crit] == ["db.rows"], "severity+match filter: %r" % crit)
    page = expect(call(port, "GET", "/api/v1/alerts?limit=1&offset=1", R), 200, "paged")
    check(len(page) == 1 and page[0]["check"] == alerts[1]["check"], "limit/offset: %r" % page)
    expect(call(port, "GET", "/api/v1/alerts?limit=5001", R), 400, "limit over the max")
    expect(call(port, "GET", "/api/v1/alerts?severity=BAD", R), 400, "bad severity")

    # one check with its history; the hostile name round-trips escaped
    one = expect(call(port, "GET", "/api/v1/checks/db.rows", R), 200, "check")
    check(one["check"] == "db.rows" and one["severity"] == "CRITICAL", "check: %r" % one)
    check(one["history"]["transitions"][-1]["to"] == "CRITICAL", "history: %r" % one["history"])
    status_code, text = 0, ""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/checks/" + quote(HOSTILE), headers={"Authorization": "Bearer " + R})
    r = conn.getresponse()
    status_code, text = r.status, r.read().decode()
    headers = r.headers
    conn.close()
    check(status_code == 200, "hostile name: %d %s" % (status_code, text))
    # JSON-escaped (the quote), served as JSON a browser will not sniff as HTML
    check('x<script>\\"&' in text, "the hostile name is not JSON-escaped: %s" % text)
    check(headers["Content-Type"] == "application/json" and headers["X-Content-Type-Options"] == "nosniff",
          "hostile name: headers %r" % dict(headers))
    check(json.loads(text)["check"] == HOSTILE, "hostile name did not round-trip: %s" % text)
    expect(call(port, "GET", "/api/v1/checks/no.such", R), 404, "unknown check")
    expect(call(port, "GET", "/api/v1/checks/%FF%FE", R), 400, "a name that is not UTF-8")

    # auth: 401 without or with a wrong token; roles
    expect(call(port, "GET", "/api/v1/alerts"), 401, "no token")
    expect(call(port, "GET", "/api/v1/alerts", "wrong"), 401, "wrong token")
    expect(call(port, "GET", "/api/v1/alerts", R + "x"), 401, "token with a suffix")
    expect(call(port, "GET", "/api/v1/alerts", basic="reader:" + O), 401, "basic: name of another token")
    expect(call(port, "GET", "/api/v1/alerts", basic="reader:" + R), 200, "basic auth")
    expect(call(port, "GET", "/api/v1/alerts", I), 403, "ingest reads alerts")
    expect(call(port, "GET", "/api/v1/alerts", O), 200, "operate reads alerts")
    expect(call(port, "POST", "/api/v1/checks/db.rows/ack", R, {}), 403, "read acks")
    expect(call(port, "POST", "/api/v1/checks/db.rows/ack", I, {}), 403, "ingest acks")
    expect(call(port, "POST", "/api/v1/results", R, []), 403, "read ingests")
    expect(call(port, "DELETE", "/api/v1/alerts", R), 405, "method not allowed")
    expect(call(port, "POST", "/api/v1/checks/db.rows/ack", O, raw=b"{not json"), 400, "malformed JSON")

    # 413: a 2 MiB body, refused without reading it
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", "/api/v1/silences")
        conn.putheader("Authorization", "Bearer " + O)
        conn.putheader("Content-Length", str(len(big)))
        conn.endheaders()
        try:
            conn.send(big)
        except OSError:
            pass  # the server may answer and close before the body is sent
        r = conn.getresponse()
        check(r.status == 413, "2 MiB body: %d" % r.status)
        check("error" in json.loads(r.read().decode()), "413 is not a JSON error")
    finally:
        conn.close()

    # ack by token name, shown by alertq status; unack
    expect(call(port, "POST", "/api/v1/checks/db.rows/ack", O, {"comment": "on it"}), 200, "ack")
    check(env.status()["db.rows"]["acked_by"] == "ops", "acked_by: %r" % env.status()["db.rows"])
    expect(call(port, "POST", "/api/v1/checks/web.up/ack", O), 404, "ack of an OK check")
    expect(call(port, "DELETE", "/api/v1/checks/db.rows/ack", O), 200, "unack")
    check(not env.status()["db.rows"]["acked"], "unack did not take")
    expect(call(port, "POST", "/api/v1/checks/%s/ack" % quote(HOSTILE), O, {"by": "alice"}), 200, "ack by")
    check(env.status()[HOSTILE]["acked_by"] == "alice", "the body's by is kept")

    # silences
    sid = expect(call(port, "POST", "/api/v1/silences", O, {"match": "disk.*", "for": "2h", "comment": "maint"}),
                 200, "silence")["id"]
    listed = expect(call(port, "GET", "/api/v1/silences", R), 200, "silences")
    check([s["id"] for s in listed] == [sid] and listed[0]["created_by"] == "ops", "silences: %r" % listed)
    expect(call(port, "POST", "/api/v1/silences", O, {"match": "disk.*", "for": "soon"}), 400, "bad duration")
    expect(call(port, "POST", "/api/v1/silences", R, {"match": "x", "for": "1h"}), 403, "read silences")
    expect(call(port, "DELETE", "/api/v1/silences/%d" % sid, O), 200, "unsilence")
    expect(call(port, "DELETE", "/api/v1/silences/%d" % sid, O), 404, "unsilence twice")
    expect(call(port, "DELETE", "/api/v1/silences/abc", O), 400, "unsilence a non-number")

    # Alertmanager status for Prometheus
    st = expect(call(port, "GET", "/api/v2/status", R), 200, "am status")
    check(st["cluster"]["status"] == "ready" and "version" in st["versionInfo"], "am status: %r" % st)

    # the unset token is unusable, and its secret-less state is logged by name
    env.stop(serve)
    log = open(serve.logfile).read()
    check("T_UNSET_NEVER is not set" in log, "the unusable token was not reported:\n" + log)
    for secret in TOKENS.values():
        check(secret not in log, "a token was printed")

    # no tokens: loopback only
    env.write_config(RULES)
    out = env.alertq("serve", "--listen", "0.0.0.0:%d" % harness.free_port(), check_rc=False)
    check(out.returncode == 2 and "loopback" in out.stderr, "no tokens on 0.0.0.0: %d %s" % (out.returncode,
                                                                                          out.stderr))
    port2 = harness.free_port()
    open_serve = env.spawn("serve-open", [os.path.join(harness.BUILD, "alertq"), "-c", env.config_path, "serve",
                                          "--listen", "127.0.0.1:%d" % port2])
    wait_for("open serve", lambda: healthy(port2), timeout=30)
    expect(call(port2, "POST", "/api/v1/checks/db.rows/ack", body={}), 200, "loopback acks without a token")
    check(env.status()["db.rows"]["acked_by"] == "loopback", "acked_by loopback")
    env.stop(open_serve)


if __name__ == "__main__":
    sys.exit(harness.main(test))
