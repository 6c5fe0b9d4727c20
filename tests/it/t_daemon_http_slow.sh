#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# TRIAL-0.1.0 F11: 32 slow connections from one address kept /healthz and
# /metrics unreachable for as long as they trickled (libmicrohttpd's
# inactivity timeout is reset by every byte).
#   40 sockets send a partial request, then one header line a second for
#   12 s; meanwhile a probe a second (`GET /healthz`, 6 s timeout, as in the
#   trial) must get 200 {"status":"pending"} every time, and /metrics 200.
#   Every trickling socket is closed by the server (end of file or reset)
#   within 5 s of its opening plus one watch period: none is still open
#   after 8 s.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

daemon_spawn 1 vigil serve
"$PY" - "$HTTP_LISTEN" <<'EOF' || fail "slow clients kept the listener busy, see above"
import socket, sys, time, urllib.request, urllib.error
host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
socks = [socket.create_connection((host, port)) for _ in range(40)]
opened = time.monotonic()
for s in socks:
    s.send(b"GET /healthz HTTP/1.1\r\n")
bad = []
closed_at = {}
for t in range(12):
    for path in ("/healthz", "/metrics"):
        t0 = time.monotonic()
        try:
            r = urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=6)
            code = r.status
            body = r.read().decode()
            if path == "/healthz" and '"status":"pending"' not in body:
                code = "body " + body.strip()
        except Exception as e:
            code = type(e).__name__
        ms = (time.monotonic() - t0) * 1000
        print("# t=%2d %s -> %s (%.0f ms)" % (t, path, code, ms))
        if code != 200:
            bad.append("t=%d %s: %s" % (t, path, code))
    for i, s in enumerate(socks):
        if i in closed_at:
            continue
        try:
            s.send(b"X: y\r\n")
            s.setblocking(False)
            try:
                if s.recv(1024) == b"":
                    closed_at[i] = time.monotonic() - opened
            except BlockingIOError:
                pass
            s.setblocking(True)
        except OSError:
            closed_at[i] = time.monotonic() - opened
    time.sleep(1)
open_left = [i for i in range(len(socks)) if i not in closed_at or closed_at[i] > 8]
print("# trickling sockets closed by the server: %d of %d, latest after %.1f s" % (
    len(closed_at), len(socks), max(closed_at.values()) if closed_at else -1))
if open_left:
    bad.append("%d trickling sockets were still open after 8 s" % len(open_left))
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
EOF
http /healthz
assert_eq 200 "$HTTP_CODE" "/healthz after the trickle"
assert_contains "$T/http.body" '"status":"pending"'
daemon_stop
log "slow clients ok"
