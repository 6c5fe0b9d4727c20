#!/bin/bash
# The `pg_dump --version` check runs while vigil connects to the server,
# and its 10 s limit counts from when vigil waits for the answer, not from
# the child's start: a connection that takes 10 s (libpq's connect_timeout
# for a first address that never answers, here a proxy that holds the first
# connection silently and forwards the next) no longer fails every backup
# with "`pg_dump --version` did not finish within 10 s".
set -u
. "$(dirname "$0")/lib.sh"
it_setup
port=$(_free_port)
cat >"$T/proxy.py" <<'PY'
import socket, sys, threading
listen, target = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen)); srv.listen(16)
held = []
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
first = True
while True:
    c, _ = srv.accept()
    if first:          # the first connection: accepted, never answered
        first = False; held.append(c); continue
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
python3 "$T/proxy.py" "$port" "$POSTGRES_PORT" &
proxy=$!
trap 'kill $proxy 2>/dev/null' EXIT
wait_until 10 "the proxy to listen" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
# wait_until's own probe was the first connection: restart the proxy so the
# backup's first attempt is the one held.
kill $proxy; wait $proxy 2>/dev/null
python3 "$T/proxy.py" "$port" "$POSTGRES_PORT" &
proxy=$!
sleep 0.5
t0=$(now_us)
assert_exit 0 vigil POSTGRES_HOST=127.0.0.1,127.0.0.1 POSTGRES_PORT="$port" backup --db-only
el=$((($(now_us) - t0) / 1000))
log "backup through a 10 s first connection took ${el} ms"
((el >= 9000)) || fail "the first connection was not held (${el} ms): the test proves nothing"
assert_not_contains "$ERR" "did not finish within"
log "the version check's limit does not include the connection time"
