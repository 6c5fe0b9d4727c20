#!/usr/bin/python3
"""tests/it/tools/smtp_server.py - a loopback SMTP server that records what
vigil's mail code sends, for the integration tests (started by
smtp_start in tests/it/notify_lib.sh). Runs with Debian's python3 and its
aiosmtpd 1.4.3 (python3-aiosmtpd).

Usage:
  smtp_server.py --out DIR [--port P] [--tls none|starttls|implicit]
                 [--cert FILE --key FILE] [--auth USER:PASS] [--auth-fail]
                 [--reject-rcpt] [--reject-rcpt-to ADDR] [--greet-delay S]
                 [--no-greet]

  --port P       listen on 127.0.0.1:P; 0 (the default) picks a free port.
  --tls none     plain SMTP (default).
  --tls starttls offers STARTTLS and refuses (530) every command but EHLO,
                 NOOP, STARTTLS and QUIT before it; AUTH is only offered
                 after it.
  --tls implicit TLS from the first byte (SMTPS, port 465 style).
  --cert, --key  the server certificate and key (PEM) for starttls and
                 implicit (notify_lib.sh's test_ca makes them).
  --auth U:P     AUTH (PLAIN, LOGIN) is required before MAIL and only U:P
                 passes. With --tls none, AUTH is offered in plaintext so
                 that a client which would send a password without TLS
                 does so, and it is recorded.
  --auth-fail    every AUTH attempt gets 535 (and AUTH is required, so
                 MAIL gets 530). Offered in plaintext with --tls none too.
                 Without --auth or --auth-fail, a plaintext server does not
                 offer AUTH, a TLS one accepts any credentials.
  --reject-rcpt  every RCPT TO gets 550.
  --reject-rcpt-to ADDR  RCPT TO:<ADDR> gets 550 (may be repeated); the
                 other recipients are accepted.
  --greet-delay S  hold the 220 greeting back S seconds (sendmail's
                 greet_pause, a tarpit); the connection is logged in
                 connections.log when it is accepted.
  --no-greet     a bare TCP listener: accepts connections and never sends
                 nor reads a byte (a server that never answers).

Records in DIR (a file appears complete: written aside, then renamed, or
appended one line at a time):
  msg-N.eml      N = 1, 2, ...: the DATA of each accepted message, the bytes
                 as received (CRLF kept) after removing the dot-stuffing.
                 Written before the 250 reply is sent.
  msg-N.json     {"mail_from", "rcpt_tos", "mail_options", "helo",
                 "auth_user" (null without AUTH), "tls" (the session was
                 encrypted)}; written just before msg-N.eml.
  auth.log       one JSON line per AUTH attempt that reached the credential
                 check, passed or not: {"mechanism", "login", "password",
                 "tls", "ok"}.
  commands.log   the verb of every command line received, one a line, in
                 order (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT, ...),
                 refused ones too (MAIL before STARTTLS, AUTH in plaintext).
  connections.log  --no-greet and --greet-delay only: one line per
                 accepted connection.
  port, pid      the port listened on, the server's pid.
  ready          written last, once the server accepts connections.
Its own log goes to stderr. SIGTERM or SIGINT: stops, exit 0. A usage
error is exit 2.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from records import announce, append_line, write_file

HOST = "127.0.0.1"


def text(b):
    """bytes from the wire as str for the JSON records."""
    if b is None or isinstance(b, str):
        return b
    return b.decode("utf-8", errors="backslashreplace")


def bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    return s


def session_tls(server):
    """The session is encrypted: implicit TLS, or after STARTTLS."""
    t = server.transport
    return t is not None and t.get_extra_info("ssl_object") is not None


class CommandLog(logging.Filter):
    """Appends the verb of every command line to commands.log.

    aiosmtpd has no hook that sees each command line before its checks (a
    MAIL refused for lack of STARTTLS never reaches a handler), but
    SMTP._handle_client logs every line it reads as a command at INFO,
    with the message "%r >> %r" and the arguments (peer, line); AUTH
    credentials are already masked there. DATA lines and AUTH challenge
    answers are not logged that way (at most at DEBUG)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def filter(self, record):
        if (record.levelno == logging.INFO and record.msg == "%r >> %r"
                and len(record.args) == 2 and isinstance(record.args[1], bytes)):
            verb = record.args[1].split(b" ", 1)[0].upper()
            append_line(self.path, verb.decode("ascii", errors="replace"))
        return True


class Recorder:
    """aiosmtpd handler: RCPT policy and the record of each message."""

    def __init__(self, out, reject_rcpt, reject_to=()):
        self.out = out
        self.reject_rcpt = reject_rcpt
        self.reject_to = set(reject_to)
        self.n = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt:
            return "550 5.1.1 <%s>: recipient rejected (--reject-rcpt)" % address
        if address in self.reject_to:
            return "550 5.1.1 <%s>: recipient rejected (--reject-rcpt-to)" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "helo": session.host_name,
            "auth_user": text(session.auth_data.login) if session.authenticated else None,
            "tls": session_tls(server),
        }
        base = os.path.join(self.out, "msg-%d" % n)
        write_file(base + ".json", (json.dumps(meta, indent=1) + "\n").encode())
        write_file(base + ".eml", envelope.original_content)
        return "250 2.0.0 OK: queued as msg-%d" % n


class Authenticator:
    """aiosmtpd authenticator: records every attempt in auth.log."""

    def __init__(self, out, creds, always_fail):
        self.path = os.path.join(out, "auth.log")
        self.creds = creds
        self.always_fail = always_fail

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login, password = text(auth_data.login), text(auth_data.password)
        if self.always_fail:
            ok = False
        elif self.creds is None:
            ok = True
        else:
            ok = (login, password) == self.creds
        append_line(self.path, json.dumps({
            "mechanism": mechanism, "login": login, "password": password,
            "tls": session_tls(server), "ok": ok}))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


class DelayedSMTP(SMTP):
    """An SMTP session that logs its connection and holds its greeting
    back for greet_delay seconds (--greet-delay)."""

    greet_delay = 0.0
    out = None

    async def _handle_client(self):
        if self.out:  # None for the Controller's own start-up connection
            append_line(os.path.join(self.out, "connections.log"), "%s:%d" % self.session.peer)
        await asyncio.sleep(self.greet_delay)
        await super()._handle_client()


class BoundController(Controller):
    """A Controller serving on a socket bound beforehand (port 0 works and
    the port is known without a race)."""

    def __init__(self, handler, sock, greet_delay=0.0, **kwargs):
        self.sock = sock
        self.greet_delay = greet_delay
        self.out = None  # set once started: the start-up connection is not logged
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1], **kwargs)

    def factory(self):
        if not self.greet_delay:
            return super().factory()
        s = DelayedSMTP(self.handler, **self.SMTP_kwargs)
        s.greet_delay, s.out = self.greet_delay, self.out
        return s

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock,
                                       ssl=self.ssl_context)


def serve_no_greet(sock, out, stop):
    """Accept connections and keep them open, silent, until stop."""
    held = []

    def accept_loop():
        while True:
            try:
                c, peer = sock.accept()
            except OSError:
                return
            held.append(c)
            append_line(os.path.join(out, "connections.log"), "%s:%d" % peer)

    threading.Thread(target=accept_loop, daemon=True).start()
    announce(out, sock.getsockname()[1])
    while not stop.wait(0.5):
        pass
    sock.close()
    for c in held:
        c.close()


def main():
    p = argparse.ArgumentParser(description="loopback SMTP server for vigil's tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--auth-fail", action="store_true")
    p.add_argument("--reject-rcpt", action="store_true")
    p.add_argument("--reject-rcpt-to", action="append", default=[], metavar="ADDR")
    p.add_argument("--greet-delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--no-greet", action="store_true")
    a = p.parse_args()
    creds = None
    if a.auth is not None:
        if ":" not in a.auth:
            p.error("--auth takes USER:PASS")
        creds = tuple(a.auth.split(":", 1))
    ctx = None
    if a.tls != "none" and not a.no_greet:
        if not (a.cert and a.key):
            p.error("--tls %s needs --cert and --key" % a.tls)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    os.makedirs(a.out, exist_ok=True)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.INFO)
    mail_log.addFilter(CommandLog(os.path.join(a.out, "commands.log")))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    sock = bind(a.port)
    if a.no_greet:
        serve_no_greet(sock, a.out, stop)
        return 0

    wants_auth = creds is not None or a.auth_fail
    kwargs = dict(
        server_hostname="smtp.test",
        authenticator=Authenticator(a.out, creds, a.auth_fail),
        auth_required=wants_auth,
        # aiosmtpd counts only STARTTLS as TLS: an implicit-TLS session
        # would never be offered AUTH. A plaintext server offers AUTH only
        # when asked to (--auth, --auth-fail), to record what a client sends.
        auth_require_tls=(a.tls == "starttls" or (a.tls == "none" and not wants_auth)),
    )
    if a.tls == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)
    elif a.tls == "implicit":
        kwargs.update(ssl_context=ctx)
    # aiosmtpd warns at each connection that AUTH without TLS is insecure:
    # here it is the point.
    warnings.simplefilter("ignore")
    controller = BoundController(Recorder(a.out, a.reject_rcpt, a.reject_rcpt_to), sock,
                                 greet_delay=a.greet_delay, **kwargs)
    controller.start()
    controller.out = a.out
    announce(a.out, controller.port)
    while not stop.wait(0.5):
        pass
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
