"""events.py - CheckResult events written by hand and raw Kafka access for
the end-to-end tests: Avro's zigzag varints and strings, producing arbitrary
key and value bytes to the checks topic, and dumping a topic with headers,
all through tests/tools/kafka_probe."""

import os
import subprocess
import time

import harness
from harness import check


def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(s):
    b = s.encode() if isinstance(s, str) else s
    return zigzag(len(b)) + b


def probe(env, *args, timeout=60):
    out = subprocess.run([os.path.join(harness.BUILD, "kafka_probe")] + list(args), capture_output=True,
                         text=True, timeout=timeout)
    return out


def dump(env, topic, count, timeout=30):
    out = probe(env, "dump", "127.0.0.1:%d" % env.broker_port, topic, str(count), str(timeout),
                timeout=timeout + 30)
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("dumped"):
            continue
        parts = line.split(" ")
        headers = {}
        for h in parts[4:]:
            name, _, value = h.partition("=")
            headers[name] = bytes.fromhex(value).decode() if value != "-" else ""
        rows.append({"partition": int(parts[0]), "offset": int(parts[1]),
                     "key": None if parts[2] == "-" else bytes.fromhex(parts[2]),
                     "value": b"" if parts[3] == "-" else bytes.fromhex(parts[3]), "headers": headers})
    return rows, out


def produce_raw(env, messages):
    path = os.path.join(env.dir, "raw-%d.txt" % time.monotonic_ns())
    with open(path, "w") as f:
        for key, value in messages:
            f.write("%s %s\n" % ("-" if key is None else (key.hex() or "-"), value.hex() or "-"))
    out = probe(env, "produce-file", "127.0.0.1:%d" % env.broker_port, "alertq.checks", path)
    check(out.returncode == 0, "kafka_probe produce-file failed: %s %s" % (out.stdout, out.stderr))
