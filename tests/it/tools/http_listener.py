#!/usr/bin/python3
"""tests/it/tools/http_listener.py - a loopback HTTP server that records
the requests of vigil's webhook and ping code and answers as a test asks,
for the integration tests (started by http_start in tests/it/notify_lib.sh).
Standard library only.

Usage:
  http_listener.py --out DIR [--port P] [--mode MODE] [--cert FILE --key FILE]

  --port P      listen on 127.0.0.1:P; 0 (the default) picks a free port.
  --mode MODE   how to answer every request (default record):
    record                 200, body "OK".
    status:N               status N (100-599), body its reason phrase.
    status-seq:N1,N2,...   the first request gets N1, the second N2, ...;
                           after the list, the last status again and again.
    blackhole              accepts each connection, never reads from it nor
                           writes to it; it stays open until the client
                           closes it or the server exits.
    trickle                reads the request, sends "HTTP/1.1 200 OK\\r\\n",
                           then a header line one byte at a time, the first
                           at once, then one every 10 s, never ending.
  --cert, --key serve HTTPS with this certificate and key (PEM; test_ca in
                notify_lib.sh makes them). The TLS handshake happens in the
                connection's own thread (in blackhole mode, never).

Each connection has its own thread: a blackhole or trickling connection
never keeps others from being accepted and answered. Every response but
trickle's closes its connection ("Connection: close"). Chunked request
bodies are decoded and "Expect: 100-continue" is answered.

Records in DIR (a file appears complete: written aside, then renamed, or
appended one line at a time), each before the answer is sent:
  req-N.json       N = 1, 2, ...: {"method", "path" (the request target as
                   sent, query included), "version", "headers" (names in
                   lower case; a repeated header's values joined by ", "),
                   "body_len", "body" (the body as text when it is UTF-8,
                   else base64), "body_b64" (true when base64), "status"
                   (what it is answered; 200 for trickle)}.
  requests.log     one line "METHOD PATH" per request, in order.
  connections.log  one line "HOST:PORT" per accepted connection (blackhole
                   ones too, which have no request).
  port, pid        the port listened on, the server's pid.
  ready            written last, once the server accepts connections.
Its access log goes to stderr. SIGTERM or SIGINT: stops, exit 0. A usage
error is exit 2.
"""

import argparse
import base64
import itertools
import json
import os
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from records import announce, append_line, write_file

HOST = "127.0.0.1"
TRICKLE_EVERY = 10.0  # seconds between two trickled bytes
stop = threading.Event()


def parse_mode(p, mode):
    """(kind, statuses) from --mode; p.error (exit 2) when it is wrong."""
    kind, _, arg = mode.partition(":")
    if kind in ("record", "blackhole", "trickle") and not arg:
        return kind, [200]
    if kind in ("status", "status-seq") and arg:
        try:
            codes = [int(c) for c in arg.split(",")]
        except ValueError:
            codes = []
        if codes and all(100 <= c <= 599 for c in codes) and (
                kind == "status-seq" or len(codes) == 1):
            return kind, codes
    p.error("--mode: record, status:N, status-seq:N1,N2,..., blackhole or trickle, not %r" % mode)


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, addr, out, kind, codes, tls):
        super().__init__(addr, Handler)
        self.out = out
        self.kind = kind
        self.codes = codes
        self.tls = tls
        self.n = 0
        self.lock = threading.Lock()

    def next_request(self):
        """(N, status) for the request just read."""
        with self.lock:
            self.n += 1
            return self.n, self.codes[min(self.n, len(self.codes)) - 1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        srv = self.server
        append_line(os.path.join(srv.out, "connections.log"), "%s:%d" % self.client_address)
        if srv.tls is not None and srv.kind != "blackhole":
            self.request = srv.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self):
        if self.server.kind == "blackhole":
            stop.wait()
            return
        super().handle()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, n, body, status):
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        try:
            shown, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            shown, b64 = base64.b64encode(body).decode("ascii"), True
        rec = {"method": self.command, "path": self.path, "version": self.request_version,
               "headers": headers, "body_len": len(body), "body": shown,
               "body_b64": b64, "status": status}
        out = self.server.out
        write_file(os.path.join(out, "req-%d.json" % n), (json.dumps(rec, indent=1) + "\n").encode())
        append_line(os.path.join(out, "requests.log"), "%s %s" % (self.command, self.path))

    def trickle(self):
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self.wfile.flush()
        for i, b in enumerate(itertools.chain(b"X-Trickle: ", itertools.repeat(ord("a")))):
            if i > 0 and stop.wait(TRICKLE_EVERY):
                return
            try:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
            except OSError:
                return

    def do_any(self):
        body = self.read_body()
        n, status = self.server.next_request()
        self.record(n, body, status)
        if self.server.kind == "trickle":
            self.trickle()
            return
        reply = b"OK" if status == 200 else self.responses.get(status, ("",))[0].encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status >= 200 and status not in (204, 304):
            self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = do_any


def main():
    p = argparse.ArgumentParser(description="loopback HTTP listener for vigil's tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", default="record")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    kind, codes = parse_mode(p, a.mode)
    tls = None
    if a.cert or a.key:
        if not (a.cert and a.key):
            p.error("--cert and --key go together")
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)
    os.makedirs(a.out, exist_ok=True)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    srv = Listener((HOST, a.port), a.out, kind, codes, tls)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    announce(a.out, srv.server_address[1])
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
