#!/usr/bin/python3
# peer_am.py - drives Prometheus Alertmanager for bench/run.sh, the peer
# measured beside alertq in the same run: posts alerts to its API v2
# (/api/v2/alerts) over kept-alive connections, each alert carrying an
# event_id label that bench_sink finds in the webhook body.
#
#   peer_am.py URL load COUNT DISTINCT CONNS
#       COUNT alerts over DISTINCT label sets (alertname bench, check
#       bench.NNNNNN), in posts of 1000, over CONNS connections at once;
#       bodies are built before the clock starts
#   peer_am.py URL pace RATE SECONDS OUT
#       RATE new alerts a second, one a post; writes "event_id send_us"
#       lines to OUT
#
# Prints one line of `key=value` pairs, like bench_gen.
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid

POST_ALERTS = 1000


def now_us():
    return time.time_ns() // 1000


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def post(conn, body):
    conn.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError("alertmanager answered %d" % r.status)


def alert(check, event_id):
    return {"labels": {"alertname": "bench", "check": check, "event_id": event_id},
            "annotations": {"summary": "bench"}}


def cmd_load(url, count, distinct, conns):
    # one body per distinct chunk; later rounds post the same alerts again
    bodies = []
    for first in range(0, min(count, distinct), POST_ALERTS):
        n = min(POST_ALERTS, distinct - first)
        bodies.append(json.dumps([alert("bench.%06d" % (first + i), str(uuid.uuid4()))
                                  for i in range(n)]).encode())
    posts = []
    left = count
    while left > 0:
        for b in bodies:
            if left <= 0:
                break
            posts.append(b)
            left -= POST_ALERTS
    failed = []
    lock = threading.Lock()
    nxt = [0]

    def run():
        c = connect(url)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(posts):
                break
            try:
                post(c, posts[i])
            except Exception as e:  # noqa: BLE001 - reported, counted
                failed.append(str(e))
                c.close()
                c = connect(url)
        c.close()

    start = now_us()
    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = now_us()
    print("start_us=%d end_us=%d sent=%d failed=%d rate=%.0f" %
          (start, end, count, len(failed), count / ((end - start) / 1e6)))
    return 1 if failed else 0


def cmd_pace(url, rate, seconds, out_path):
    c = connect(url)
    total = int(rate * seconds)
    failed = 0
    with open(out_path, "w") as out:
        start = now_us()
        for i in range(total):
            due = start + int(i * 1e6 / rate)
            wait = due - now_us()
            if wait > 0:
                time.sleep(wait / 1e6)
            event_id = str(uuid.uuid4())
            body = json.dumps([alert("lat.%06d" % i, event_id)]).encode()
            sent = now_us()
            try:
                post(c, body)
            except Exception as e:  # noqa: BLE001 - reported, counted
                print("peer_am: %s" % e, file=sys.stderr)
                failed += 1
                c.close()
                c = connect(url)
                continue
            out.write("%s %d\n" % (event_id, sent))
    print("sent=%d failed=%d" % (total - failed, failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 6 and argv[2] == "load":
        return cmd_load(argv[1], int(argv[3]), int(argv[4]), int(argv[5]))
    if len(argv) >= 6 and argv[2] == "pace":
        return cmd_pace(argv[1], float(argv[3]), float(argv[4]), argv[5])
    print("usage: peer_am.py URL load COUNT DISTINCT CONNS | URL pace RATE SECONDS OUT",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
