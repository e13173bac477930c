#!/usr/bin/python3
"""smtp_receiver.py - an SMTP server on loopback that records every message it accepts, for tests.

Each accepted message is appended to OUT as one JSON line:

    {"time": 1764262800.123, "mail_from": "alerts@example", "rcpt_tos": ["admin@example"],
     "data": "From: ...\\r\\n...", "auth_user": null, "tls": false}

"data" is the raw message as received (after SMTP dot-unstuffing), decoded as
UTF-8 with invalid bytes replaced; "auth_user" is the login of an
authenticated session; "tls" says whether the session had switched to TLS. A
message is recorded before it is acknowledged.

Failures, for the first N messages (or all with --fail-all):

    --fail-first 2 --fail-code 451        answer "451 ..." at the end of DATA (temporary)
    --fail-first 1 --fail-code 550        answer "550 ..." (permanent)
    --fail-stage rcpt                     answer at RCPT TO instead of at DATA
    --fail-message TEXT --escapes         the reply's text, backslash escapes read as the
                                          exact bytes to send ("refus\\xe9": Latin-1 0xe9)

Rejected messages are not written to OUT. Without --tls-cert the server does
not offer STARTTLS; with --tls-cert/--tls-key it does (and --require-starttls
refuses mail before it). --auth USER:PASSWORD offers AUTH PLAIN/LOGIN, also
without TLS, and refuses wrong credentials with 535.

With --port 0 a free port is chosen; --port-file PATH receives the port
either way. "ready" is printed on stdout once the server listens. SIGTERM or
SIGINT stops the server; the exit status is then 0.
"""

import argparse
import asyncio
import codecs
import json
import logging
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on; 0 picks a free one")
    parser.add_argument("--port-file", help="write the port listened on into this file")
    parser.add_argument("--out", required=True, help="file that receives one JSON line per accepted message")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N", help="reject the first N messages")
    parser.add_argument("--fail-all", action="store_true", help="reject every message")
    parser.add_argument("--fail-code", type=int, default=451, help="reply code of a rejection (default 451)")
    parser.add_argument("--fail-message", help="reply text of a rejection (default suits the code)")
    parser.add_argument("--escapes", action="store_true",
                        help="--fail-message holds backslash escapes of the bytes to send")
    parser.add_argument("--fail-stage", choices=["data", "rcpt"], default="data",
                        help="when a rejection is answered (default data)")
    parser.add_argument("--tls-cert", help="certificate (PEM) to offer STARTTLS with")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    parser.add_argument("--require-starttls", action="store_true", help="refuse mail before STARTTLS")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="accept AUTH with these credentials")
    return parser.parse_args(argv)


class Handler:
    """Decides which messages fail and records the others."""

    def __init__(self, args):
        self.args = args
        self.count = 0
        self.out = open(args.out, "a", encoding="utf-8")
        text = args.fail_message
        if text is None:
            text = "4.3.0 try again later" if args.fail_code < 500 else "5.7.1 message rejected"
        self.reply = "%d %s" % (args.fail_code, text)
        if args.escapes:
            # aiosmtpd sends a bytes reply as it is
            self.reply = codecs.escape_decode(self.reply.encode("utf-8"))[0]

    def fails(self):
        """Counts one message and says whether it is to be rejected."""
        self.count += 1
        return self.args.fail_all or self.count <= self.args.fail_first

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.fail_stage == "rcpt" and not envelope.rcpt_tos and self.fails():
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.fail_stage == "data" and self.fails():
            return self.reply
        entry = {
            "time": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
            "auth_user": session.auth_data.login.decode("utf-8", errors="replace")
            if isinstance(session.auth_data, LoginPassword) else None,
            "tls": session.ssl is not None,
        }
        self.out.write(json.dumps(entry) + "\n")
        self.out.flush()
        return "250 OK message accepted"


def make_authenticator(credentials):
    user, _, password = credentials.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        # handled=False: aiosmtpd itself answers 535 to a refusal
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


def main(argv):
    args = parse_args(argv)
    # aiosmtpd logs a warning about its own use of a deprecated attribute during AUTH
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    handler = Handler(args)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    options = {"hostname": "smtp-receiver", "tls_context": tls_context,
               "require_starttls": args.require_starttls and tls_context is not None}
    if args.auth:
        options.update(authenticator=make_authenticator(args.auth), auth_require_tls=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, **options), host=args.host, port=args.port))
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
