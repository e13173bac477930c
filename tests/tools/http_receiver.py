#!/usr/bin/python3
"""http_receiver.py - an HTTP server on loopback that records every request, for tests.

Each request is appended to OUT as one JSON line:

    {"time": 1764262800.123, "method": "POST", "path": "/hook",
     "headers": {"content-type": "application/json", ...},
     "body": "...", "body_base64": "...", "status": 200, "client": "127.0.0.1:51234"}

Header names are lower-cased (the last one wins when a name repeats); "body" is
the body decoded as UTF-8 (invalid bytes replaced), "body_base64" the exact
bytes; "status" is what the receiver answered; "client" the address and port
the request came from (one per connection, so reused connections show). A
request is recorded before it is answered, so a client that has its response
finds its request in OUT.

The answer is 200 unless told otherwise:

    --status 404                         always answer 404
    --fail-first 3 --fail-status 503     answer 503 to the first 3 requests, then --status
    --retry-after 1                      add "Retry-After: 1" to every failing answer
    --delay 2.5                          wait 2.5 s before answering (timeouts)
    --response-body TEXT                 answer with this body (default "ok")
    --response-size 1048576              repeat the body until it is this many bytes
    --endless                            send the body over and over, chunked, without end
    --reason TEXT                        the reason phrase of the status line
    --location URL                       add "Location: URL" to every answer (redirects)
    --escapes                            read --response-body, --reason and --retry-after
                                         with backslash escapes and send exactly those
                                         bytes ("Requ\\xeate" sends the Latin-1 byte 0xea)

With --port 0 a free port is chosen; --port-file PATH receives the port
either way. "ready" is printed on stdout once the server listens. Requests are
served on threads, over HTTP/1.1 keep-alive connections. SIGTERM or SIGINT
stops the server; the exit status is then 0.
"""

import argparse
import base64
import codecs
import http.server
import json
import signal
import sys
import threading
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on; 0 picks a free one")
    parser.add_argument("--port-file", help="write the port listened on into this file")
    parser.add_argument("--out", required=True, help="file that receives one JSON line per request")
    parser.add_argument("--status", type=int, default=200, help="status answered (default 200)")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N",
                        help="answer --fail-status to the first N requests")
    parser.add_argument("--fail-status", type=int, default=503, help="status of failing answers (default 503)")
    parser.add_argument("--retry-after", metavar="VALUE",
                        help="Retry-After header value sent with every answer of status >= 400")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before answering each request")
    parser.add_argument("--response-body", default="ok", help="body of every answer (default 'ok')")
    parser.add_argument("--response-size", type=int, default=0, metavar="BYTES",
                        help="repeat the body until it is this long")
    parser.add_argument("--endless", action="store_true", help="send the body again and again, never ending")
    parser.add_argument("--reason", help="reason phrase of the status line")
    parser.add_argument("--location", help="Location header sent with every answer")
    parser.add_argument("--escapes", action="store_true",
                        help="--response-body, --reason and --retry-after hold backslash escapes of bytes")
    args = parser.parse_args(argv)
    args.body_bytes = as_bytes(args.response_body, args.escapes)
    if args.response_size > 0:
        unit = args.body_bytes or b"x"
        args.body_bytes = (unit * (args.response_size // len(unit) + 1))[:args.response_size]
    # http.server writes the status line and headers as Latin-1: a str of
    # code points below 256 goes out as exactly those bytes
    args.reason_text = as_bytes(args.reason, args.escapes).decode("latin-1") if args.reason is not None else None
    args.retry_after_text = (as_bytes(args.retry_after, args.escapes).decode("latin-1")
                             if args.retry_after is not None else None)
    return args


def as_bytes(text, escapes):
    """The bytes text stands for: its UTF-8, or with escapes the bytes its
    backslash escapes spell."""
    if text is None:
        return None
    if escapes:
        return codecs.escape_decode(text.encode("utf-8"))[0]
    return text.encode("utf-8")


class Recorder:
    """Counts requests and appends their records to the output file, one writer at a time."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0
        self.out = open(args.out, "a", encoding="utf-8")

    def record(self, handler, body):
        with self.lock:
            self.count += 1
            status = self.args.status
            if self.count <= self.args.fail_first:
                status = self.args.fail_status
            entry = {
                "time": time.time(),
                "method": handler.command,
                "path": handler.path,
                "headers": {k.lower(): v for k, v in handler.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
                "body_base64": base64.b64encode(body).decode("ascii"),
                "status": status,
                "client": "%s:%d" % handler.client_address[:2],
            }
            self.out.write(json.dumps(entry) + "\n")
            self.out.flush()
            return status


def make_handler(recorder):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            status = recorder.record(self, body)
            if recorder.args.delay > 0:
                time.sleep(recorder.args.delay)
            args = recorder.args
            payload = args.body_bytes
            try:
                self.send_response(status, args.reason_text)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                if args.endless:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(payload)))
                if status >= 400 and args.retry_after_text is not None:
                    self.send_header("Retry-After", args.retry_after_text)
                if args.location is not None:
                    self.send_header("Location", args.location)
                self.end_headers()
                if self.command == "HEAD":
                    return
                if not args.endless:
                    self.wfile.write(payload)
                    return
                chunk = b"%x\r\n%s\r\n" % (len(payload or b"x"), payload or b"x")
                while True:
                    self.wfile.write(chunk * 64)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

        def log_message(self, format, *args):
            pass

    return Handler


def main(argv):
    args = parse_args(argv)
    recorder = Recorder(args)
    server = http.server.ThreadingHTTPServer((args.host, args.port), make_handler(recorder))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file, "w", encoding="ascii") as f:
            f.write("%d\n" % port)

    def stop(signum, frame):
        # shutdown() waits for serve_forever, which runs in this same thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
