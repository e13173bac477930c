#!/usr/bin/python3
"""test_hostile.py - hostile input never silences alerting: a table of events
an attacker with write access to the checks topic could send, and of answers
an ordinary receiver could give, each with the outcome users depend on
(dead-lettered with a reason / applied with its text cut / delivered once /
escaped on the wire). Every event goes to one partition, in order, and a good
event after all of them must be applied: nothing may wedge the partition."""

import http.server
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid

import harness
import receivers
from events import avro_string, dump, produce_raw, zigzag
from harness import check, wait_for

LATIN1_PAGE = "Erreur: requête invalide à cause du paramètre « x »".encode("latin-1")
INVALID_UTF8 = b"ok \xff\xfe \xc0\xaf done"
SLACK_ATTACK = "<!channel> <http://evil.example|click here> & <@U123> co"
MESSAGE_MAX_AT_LEAST = 1024
MESSAGE_MAX_AT_MOST = 64 * 1024


# --- receivers that misbehave: one HTTP server, one SMTP server ---------------

class Hooks:
    """An HTTP server whose answer depends on the path; every request is kept."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with hooks.lock:
                    seen = sum(1 for p, _ in hooks.requests if p == self.path)
                    hooks.requests.append((self.path, body))
                status, answer = 200, b"ok"
                if self.path == "/latin1":
                    status, answer = 400, LATIN1_PAGE
                elif self.path == "/bigbody" and seen == 0:
                    status, answer = 503, (b"\xe9" + os.urandom(64)) * (1 << 14)
                elif self.path == "/badutf8":
                    answer = INVALID_UTF8
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("X-Reason", LATIN1_PAGE.decode("latin-1"))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def bodies(self, path):
        with self.lock:
            return [b for p, b in self.requests if p == path]


class RefusingSmtp:
    """An SMTP server that takes the envelope and refuses every message at
    DATA with a permanent 550 whose text is Latin-1."""

    def __init__(self):
        self.data_commands = 0
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 refusing ESMTP\r\n")
                for line in self.rfile:
                    verb = line.strip().split(b" ")[0].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250 refusing\r\n")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == b"DATA":
                        smtp.data_commands += 1
                        self.wfile.write(b"550 Bo\xeete pleine, d\xe9sol\xe9 \xa9 \xff\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"502 no\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# --- events, written by hand ---------------------------------------------------

def encode_body(check_name, value=None, observed_at_ms=None, message=b"hostile", labels=(), interval_ms=60000,
                status=None):
    """The binary body of a CheckResult; strings may be bytes (any bytes)."""
    if observed_at_ms is None:
        observed_at_ms = int(time.time() * 1000) - 1000
    body = avro_string(str(uuid.uuid4())) + avro_string(check_name) + avro_string("test_hostile")
    body += zigzag(observed_at_ms)
    body += zigzag(1) + struct.pack("<d", value) if value is not None else zigzag(0)
    body += zigzag(1) + zigzag(["OK", "WARNING", "CRITICAL", "UNKNOWN"].index(status)) if status else zigzag(0)
    body += avro_string(message)
    if labels:
        body += zigzag(len(labels))
        for k, v in labels:
            body += avro_string(k) + avro_string(v)
    body += zigzag(0)
    body += zigzag(interval_ms)
    body += zigzag(0)  # expires_at: null (version 2)
    return body


def name_bytes(name):
    return name.encode() if isinstance(name, str) else name


def rules_config(hooks, smtp, mail):
    channels = {
        "latin1-hook": "{ type: webhook, url: '%s', format: json }" % hooks.url("/latin1"),
        "big-hook": "{ type: webhook, url: '%s', format: json, retry_initial: 1s, retry_max: 2s }" % hooks.url("/bigbody"),
        "badutf8-hook": "{ type: webhook, url: '%s', format: json }" % hooks.url("/badutf8"),
        "slack-hook": "{ type: webhook, url: '%s', format: slack }" % hooks.url("/slack"),
        "refusing-mail": ("{ type: email, url: 'smtp://127.0.0.1:%d', from: alerts@example.org, to: [ops@example.org],"
                          " starttls: off }" % smtp.port),
        "mail": "{ type: email, url: '%s', from: alerts@example.org, to: [ops@example.org], starttls: off }" % mail.url(),
        "logfile": "{ type: logfile }",
    }
    routes = [("rx.latin1", "latin1-hook"), ("rx.bigbody", "big-hook"), ("rx.badutf8", "badutf8-hook"),
              ("rx.slack", "slack-hook"), ("rx.smtp550", "refusing-mail"), ("rx.email.*", "mail")]
    text = "rules:\n"
    for match, channel in routes:
        text += "  - { match: '%s', critical: '> 90', escalation: to-%s }\n" % (match, channel)
    text += "  - { match: '*', critical: '> 90', escalation: to-logfile }\n"
    text += "escalations:\n"
    for channel in list(dict(routes).values()) + ["logfile"]:
        text += "  to-%s:\n    CRITICAL: { levels: [ { after: 0s, notify: [%s] } ] }\n" % (channel, channel)
        text += "    UNKNOWN: { levels: [ { after: 0s, notify: [%s] } ] }\n" % channel
    text += "channels:\n"
    for name, body in channels.items():
        text += "  %s: %s\n" % (name, body)
    return text


def test(make):
    env = make("hostile", partitions=1)
    hooks = Hooks()
    smtp = RefusingSmtp()
    mail = receivers.Smtp(env, "mail").start()
    env.write_config(rules_config(hooks, smtp, mail))
    env.start_broker()
    w = env.worker("worker")
    env.wait_joined(w)

    # the writer fingerprint of this build, from a real event on the topic
    env.submit_lines([{"check": "good.first", "value": 1, "interval": "1h"}])
    rows, out = dump(env, "alertq.checks", 1)
    check(len(rows) == 1, "could not read the submitted event back: %s" % out.stderr)
    header = rows[0]["value"][:10]

    # A failure that belongs to one item, injected in PostgreSQL: the state of
    # these checks cannot be written. It must be dead-lettered, the rest applied.
    wait_for("the state tables", lambda: env.sql("SELECT to_regclass('alertq_checks') IS NOT NULL")[0][0] == "t")
    env.sql("CREATE FUNCTION hostile_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.check_name LIKE 'db.refused%' THEN RAISE EXCEPTION 'refused by a constraint of the test' "
            "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$;"
            "CREATE TRIGGER hostile_refuse BEFORE INSERT OR UPDATE ON alertq_checks "
            "FOR EACH ROW EXECUTE FUNCTION hostile_refuse();")

    multibyte_name = "é" * 127  # 254 bytes of two-byte characters
    largest_name = "rx.email." + "é" * 123  # 255 bytes
    # 64 labels, keys of 125 bytes and values of 1,024 bytes, all multi-byte
    largest_labels = [(("k%02d" % i + "ß" * 61).encode(), ("v" + "€" * 341).encode()) for i in range(64)]
    dead = "dead-lettered"
    applied = "applied"
    # (what, key, body, outcome, words the reason names / check to look at)
    table = [
        ("key differs from a long multi-byte check name", b"other-key", encode_body(multibyte_name, 95), dead, "key"),
        ("check name over 255 bytes of two-byte characters", ("é" * 150).encode(), encode_body("é" * 150, 95), dead, "255"),
        ("check name cut inside a character", ("é" * 100).encode()[:-1], encode_body(("é" * 100).encode()[:-1], 95), dead, "utf-8"),
        ("check name with a space", b"bad name", encode_body("bad name", 95), dead, "name"),
        ("check name with a terminal escape", b"bad\x1b[2Jname", encode_body(b"bad\x1b[2Jname", 95), dead, "name"),
        ("check name with a newline", b"bad\nname", encode_body(b"bad\nname", 95), dead, "name"),
        ("check name with a Latin-1 byte", b"caf\xe9", encode_body(b"caf\xe9", 95), dead, "utf-8"),
        ("message that is not UTF-8", b"ev.latin1msg", encode_body("ev.latin1msg", 95, message=LATIN1_PAGE), dead, "utf-8"),
        ("message with a NUL byte", b"ev.nul", encode_body("ev.nul", 95, message=b"a\x00b"), dead, "utf-8"),
        ("65 labels", b"ev.labels", encode_body("ev.labels", 95, labels=[(b"k%d" % i, b"v") for i in range(65)]), dead, "labels"),
        ("label key of 200 bytes", b"ev.longkey", encode_body("ev.longkey", 95, labels=[(b"k" * 200, b"v")]), dead, "label"),
        ("label value of 5000 bytes", b"ev.longvalue", encode_body("ev.longvalue", 95, labels=[(b"k", b"v" * 5000)]), dead, "label"),
        ("label key that is not UTF-8", b"ev.badkey", encode_body("ev.badkey", 95, labels=[(b"k\xe9\xff", b"v")]), dead, "utf-8"),
        ("interval of ten years", b"ev.interval", encode_body("ev.interval", 95, interval_ms=10 * 366 * 86400000), dead, "interval"),
        ("negative interval", b"ev.neginterval", encode_body("ev.neginterval", 95, interval_ms=-5), dead, "interval"),
        ("observed in 1970", b"ev.old", encode_body("ev.old", 95, observed_at_ms=1000), dead, "observed_at"),
        ("observed at the largest time", b"ev.future", encode_body("ev.future", 95, observed_at_ms=(1 << 63) - 1), dead, "observed_at"),
        ("state the database refuses", b"db.refused", encode_body("db.refused", 95), dead, "refused by a constraint"),
        ("message of 100 KiB", b"ev.bigmessage", encode_body("ev.bigmessage", 95, message=("ünïcödé " * 12800).encode()), applied, "ev.bigmessage"),
        ("message with terminal escapes", b"ev.terminal", encode_body("ev.terminal", 95, message=b"\x1b]0;pwned\x07\x1b[2J gone"), applied, "ev.terminal"),
        ("Slack mention and forged link", b"rx.slack", encode_body("rx.slack", 95, message=SLACK_ATTACK.encode()), applied, "rx.slack"),
        ("webhook answers 400 with a Latin-1 page", b"rx.latin1", encode_body("rx.latin1", 95), applied, "rx.latin1"),
        ("webhook answers 503 with 1 MiB, then 200", b"rx.bigbody", encode_body("rx.bigbody", 95), applied, "rx.bigbody"),
        ("webhook answers 200 with invalid UTF-8", b"rx.badutf8", encode_body("rx.badutf8", 95), applied, "rx.badutf8"),
        ("a second state it refuses, later in the batch", b"db.refused.again", encode_body("db.refused.again", 95), dead,
         "refused by a constraint"),
        ("SMTP refuses with a Latin-1 550", b"rx.smtp550", encode_body("rx.smtp550", 95), applied, "rx.smtp550"),
        ("the largest event alertq accepts, by email", largest_name.encode(),
         encode_body(largest_name, 95, message=("€" * 20000).encode(), labels=largest_labels), applied, largest_name),
    ]
    produce_raw(env, [(key, header + body) for _, key, body, _, _ in table])
    env.submit_lines([{"check": "good.last", "value": 1, "interval": "1h", "message": "after everything"}])

    wait_for("the good event after every hostile one applied",
             lambda: env.status().get("good.last", {}).get("message") == "after everything", timeout=90)
    check(w.poll() is None, "the worker died")

    # --- dead letters: each with its reason, readable --------------------------
    want_dead = [row for row in table if row[3] == dead]
    # once each, though the batches refused by the database were tried again
    # (halved until the refused result stood alone)
    dlq, out = dump(env, "alertq.checks.dlq", 1000, timeout=10)
    by_bytes = {r["value"]: r for r in dlq}
    for what, key, body, _, reason in want_dead:
        r = by_bytes.get(header + body)
        check(r is not None, "%s: not in the dead-letter topic" % what)
        copies = sum(1 for d in dlq if d["value"] == header + body)
        check(copies == 1, "%s: %d times in the dead-letter topic" % (what, copies))
        error = r["headers"].get("alertq-error", "")
        check(reason.lower() in error.lower(), "%s: the dead letter says %r, expected it to name %r" % (what, error, reason))
    reasons = [row[0] for row in env.sql("SELECT reason FROM alertq_dead_letters")]
    check(len(reasons) == len(want_dead), "alertq_dead_letters has %d rows, expected %d" % (len(reasons), len(want_dead)))
    check(all(0 < len(r.encode()) <= 2048 for r in reasons), "a dead-letter reason is empty or unbounded")
    status = env.status()
    for what, key, body, outcome, name in table:
        if outcome == applied:
            check(name in status, "%s: check %r not applied" % (what, name))
    check("db.refused" not in status and "db.refused.again" not in status, "a refused state was written after all")

    # --- text applied: cut, valid, bounded; terminal output escaped ------------
    big = status["ev.bigmessage"]["message"]
    check(MESSAGE_MAX_AT_LEAST <= len(big.encode()) <= MESSAGE_MAX_AT_MOST,
          "a 100 KiB message is kept with %d bytes" % len(big.encode()))
    check(big.startswith("ünïcödé ünïcödé") and not big.endswith("ünïcödé "),
          "the cut message shows no marker: ...%r" % big[-20:])
    text = env.alertq("status").stdout + env.alertq("history", "ev.terminal").stdout
    check("\x1b" not in text and "\x07" not in text, "a terminal escape reached the terminal: %r" %
          [line for line in text.splitlines() if "\x1b" in line or "\x07" in line])
    check("pwned" in text, "alertq status no longer shows the message with the escapes")

    # --- receivers -----------------------------------------------------------
    slack = wait_for("the Slack message", lambda: hooks.bodies("/slack"), timeout=30)
    slack_text = json.loads(slack[0])["text"]
    check("<!channel>" not in slack_text and "<http://evil" not in slack_text and "<@U123>" not in slack_text,
          "the Slack text carries a live mention or link: %r" % slack_text)
    check("&lt;!channel&gt;" in slack_text and "&amp; " in slack_text, "the Slack text is not escaped: %r" % slack_text)

    def notification(name):
        ns = [n for t in env.history(name)["transitions"] for n in t["notifications"]]
        return ns[0] if len(ns) == 1 else None

    def settled(name, delivery):
        return lambda: (lambda n: n if n and n["delivery"] == delivery else None)(notification(name))

    n = wait_for("the Latin-1 400 marked undeliverable", settled("rx.latin1", "undeliverable"), timeout=30)
    check("400" in (n["last_error"] or ""), "the 400's reason was not kept: %r" % n["last_error"])
    n = wait_for("the Latin-1 550 marked undeliverable", settled("rx.smtp550", "undeliverable"), timeout=30)
    check("550" in (n["last_error"] or ""), "the 550's reason was not kept: %r" % n["last_error"])
    wait_for("the 1 MiB 503 delivered after a retry", settled("rx.bigbody", "sent"), timeout=30)
    wait_for("the invalid-UTF-8 200 marked sent", settled("rx.badutf8", "sent"), timeout=30)
    errors = [row[0] for row in env.sql("SELECT coalesce(last_error, '') FROM alertq_notifications")]
    check(all(len(e.encode()) <= 2048 for e in errors), "a delivery error is unbounded: %d bytes" %
          max(len(e.encode()) for e in errors))
    time.sleep(6)  # a notification whose outcome was not recorded would be sent again by now
    check(len(hooks.bodies("/latin1")) == 1, "the 400 receiver was asked %d times" % len(hooks.bodies("/latin1")))
    check(smtp.data_commands == 1, "the refusing SMTP server got DATA %d times" % smtp.data_commands)
    check(len(hooks.bodies("/bigbody")) == 2, "the 503-then-200 receiver was asked %d times" % len(hooks.bodies("/bigbody")))
    check(len(hooks.bodies("/badutf8")) == 1, "the invalid-UTF-8 receiver was asked %d times" % len(hooks.bodies("/badutf8")))
    status = env.status()
    check(status["rx.latin1"]["undeliverable"] == 1 and status["rx.smtp550"]["undeliverable"] == 1,
          "status does not show the refused notifications as undeliverable")

    messages = wait_for("the largest event's email", lambda: mail.messages(), timeout=30)
    check(len(messages) == 1, "%d emails for the largest event" % len(messages))
    data = messages[0]["data"]
    longest = max(len(line.encode()) for line in data.split("\n"))
    check(longest <= 998, "an email line is %d bytes long" % longest)
    check(messages[0]["message"]["subject"].startswith("[CRITICAL] rx.email."), "subject %r" % messages[0]["message"]["subject"])

    check(w.poll() is None, "the worker died")
    check(env.stop(w) == 0, "the worker did not stop cleanly")
    print("%d hostile rows: %d dead-lettered with a reason, %d applied; the event after them applied" %
          (len(table), len(want_dead), len(table) - len(want_dead)))


if __name__ == "__main__":
    sys.exit(harness.main(test))
