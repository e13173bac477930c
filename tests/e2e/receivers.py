"""receivers.py - the loopback webhook and SMTP receivers of tests/tools, run
by end-to-end tests: started on a fixed port (so one can be down first and
come up later on the address the configuration names), stopped, restarted with
other answers, and read back as the requests and messages they recorded."""

import email
import email.policy
import hashlib
import hmac
import json
import os
import signal

import harness
from harness import check, wait_for

TOOLS = os.path.join(harness.SOURCE, "tests", "tools")

# the keys of a notification object, as the contract lists them
NOTIFICATION_KEYS = {"notification_id", "check", "status", "severity", "previous_severity", "value", "message",
                     "labels", "observed_at", "since", "escalation_level", "event_id", "annotations"}


class Receiver:
    """One receiver process on a port of its own; records go to name.jsonl."""

    def __init__(self, env, name, tool):
        self.env = env
        self.name = name
        self.tool = tool
        self.port = harness.free_port()
        self.out = os.path.join(env.dir, name + ".jsonl")
        self.proc = None
        self.starts = 0

    def start(self, *args):
        """Starts the receiver with extra arguments; returns once it listens."""
        self.stop()
        self.starts += 1
        argv = [harness.PYTHON, os.path.join(TOOLS, self.tool), "--port", str(self.port), "--out", self.out]
        self.proc = self.env.spawn("%s.%d" % (self.name, self.starts), argv + list(args))
        wait_for("receiver %s to listen" % self.name, lambda: "ready" in self.env.log_of(self.proc), timeout=30)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.env.stop(self.proc, signal.SIGTERM, timeout=20)
        self.proc = None

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


class Webhook(Receiver):
    def __init__(self, env, name):
        super().__init__(env, name, "http_receiver.py")

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def accepted(self):
        """Requests answered 200, each with its body parsed."""
        got = []
        for r in self.records():
            if r["status"] == 200:
                r["json"] = json.loads(r["body"])
                got.append(r)
        return got

    def notifications(self):
        """The notification objects of the requests answered 200."""
        return [r["json"] for r in self.accepted()]


class Smtp(Receiver):
    def __init__(self, env, name):
        super().__init__(env, name, "smtp_receiver.py")

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def messages(self):
        """Accepted messages, each with 'message' (parsed) and 'fields' (the
        'name: value' lines of its body)."""
        got = []
        for r in self.records():
            msg = email.message_from_string(r["data"], policy=email.policy.default)
            body = msg.get_content()
            fields = {}
            for line in body.splitlines():
                if line.startswith(" ") or ": " not in line:
                    continue
                key, _, value = line.partition(": ")
                fields.setdefault(key, value)
            r["message"] = msg
            r["body"] = body
            r["fields"] = fields
            got.append(r)
        return got


def signature(secret, body_bytes):
    return "sha256=" + hmac.new(secret.encode(), body_bytes, hashlib.sha256).hexdigest()


def check_contract_request(r, secret=None):
    """A json webhook request as the contract describes it: the notification
    object's keys, Idempotency-Key = notification_id, and with a secret a
    signature that verifies."""
    import base64
    n = json.loads(r["body"])
    check(set(n) == NOTIFICATION_KEYS, "notification keys %s, expected %s" % (sorted(n), sorted(NOTIFICATION_KEYS)))
    check(r["method"] == "POST", "webhook used %s" % r["method"])
    check(r["headers"].get("content-type", "").startswith("application/json"),
          "webhook content-type %r" % r["headers"].get("content-type"))
    check(r["headers"].get("idempotency-key") == n["notification_id"],
          "Idempotency-Key %r differs from notification_id %r" % (r["headers"].get("idempotency-key"),
                                                                   n["notification_id"]))
    if secret is not None:
        body = base64.b64decode(r["body_base64"])
        want = signature(secret, body)
        check(r["headers"].get("x-alertq-signature") == want,
              "X-Alertq-Signature %r, expected %r" % (r["headers"].get("x-alertq-signature"), want))
    else:
        check("x-alertq-signature" not in r["headers"], "a signature was sent without a secret")
    return n


def once_per_id(records, what):
    """Every notification_id answered 200 exactly once; failed attempts only
    for ids that were finally accepted. Returns {id: notification}."""
    accepted = {}
    failed = set()
    for r in records:
        n = json.loads(r["body"])
        nid = n["notification_id"]
        if r["status"] == 200:
            check(nid not in accepted, "%s: notification %s accepted twice" % (what, nid))
            accepted[nid] = n
        else:
            failed.add(nid)
    lost = failed - set(accepted)
    check(not lost, "%s: notifications tried but never accepted: %s" % (what, sorted(lost)))
    return accepted
