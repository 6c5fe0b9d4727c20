#!/bin/bash
# C15: Docker's health check during a long healthy run, with idle and slow
# HTTP clients. SCALED DOWN for CI time (said here, as the field case
# allows): the table lock blocks pg_dump for 40 s instead of 120 s, and
# MEDIA_DIR holds 256 MiB of random data instead of 2 GiB. The expectations
# are the field case's, unchanged:
#   - a fresh start is healthy during its grace window (never unhealthy);
#   - during the run (the daemon's start-up run, waiting for the lock, then
#     archiving the media): Docker's status, polled every second, never
#     turns unhealthy; 200 `curl -sS -m 1 /healthz` all answer 200 in < 1 s
#     with a body saying a run is in progress and for how long
#     ("running":{..."seconds":N...}); 64 idle TCP connections and a /metrics
#     client that reads one byte a second block neither other clients nor
#     the backup, which succeeds; the server closes the idle connections
#     within 10 s (+2 s slack) of their opening;
#   - `vigil healthcheck` gives up on a server that accepts and never
#     answers within its own timeout of at most 2 s (exit 1).
# (The image's HEALTHCHECK itself, and that no curl/wget is in the image,
# are checked in t_image.)
set -u
. "$(dirname "$0")/lib.sh"
LOCK_SECS=40
MEDIA_MIB=256
project_new BACKUP_ON_START=true

dc up -d db || fail "up db"
wait_health db healthy 90
psql_db "CREATE TABLE items(id int PRIMARY KEY, t text);
	INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g;" || fail "fixture"
# The media, written into the volume before the daemon starts.
docker run --rm -v "${PROJ}_media:/media" --entrypoint sh "$VIGIL_IMAGE" -c \
	"head -c $((MEDIA_MIB << 20)) /dev/urandom >/media/big.bin" || fail "writing $MEDIA_MIB MiB of media"
docker exec "$(cid db)" psql -U app -d app -Xq -c "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;
	SELECT pg_sleep($LOCK_SECS); COMMIT;" >/dev/null 2>&1 &
lockpid=$!
at_exit "kill $lockpid"
sleep 1
dc up -d backup || fail "up backup"
bcid=$(cid backup)

"$PY" - "$VIGIL_TEST_PORT" "$bcid" "$PD" <<'EOF2'

import socket, subprocess, sys, threading, time
port, cid, pd = int(sys.argv[1]), sys.argv[2], sys.argv[3]
bad = []
stop = threading.Event()

def status():
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", cid],
                          capture_output=True, text=True).stdout.strip()

statuses = []
def poll_status():
    while not stop.is_set():
        statuses.append(status())
        time.sleep(1)

# Wait for the listener (the fresh start's grace window begins).
t0 = time.monotonic()
while time.monotonic() - t0 < 30:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
th = threading.Thread(target=poll_status); th.start()

idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
idle_open = time.monotonic()
slow = socket.create_connection(("127.0.0.1", port))
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
slow_bytes = [0]
def slow_reader():
    while not stop.is_set():
        try:
            b = slow.recv(1)
        except OSError:
            break
        if not b:
            break
        slow_bytes[0] += 1
        time.sleep(1)
threading.Thread(target=slow_reader, daemon=True).start()

closed = {}
def watch_idle():
    while not stop.is_set() and len(closed) < len(idle):
        for i, s in enumerate(idle):
            if i in closed:
                continue
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed[i] = time.monotonic() - idle_open
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = time.monotonic() - idle_open
        time.sleep(0.2)
threading.Thread(target=watch_idle, daemon=True).start()

running_seen = 0
for n in range(200):
    t = time.monotonic()
    r = subprocess.run(["curl", "-sS", "-m", "1", "-w", "\n%{http_code}",
                        "http://127.0.0.1:%d/healthz" % port], capture_output=True, text=True)
    ms = (time.monotonic() - t) * 1000
    body, _, code = r.stdout.rpartition("\n")
    if n % 20 == 0:
        print("# %3d %s %.0f ms %s" % (n, code, ms, body.strip()))
    if r.returncode != 0 or code != "200" or ms >= 1000:
        bad.append("curl %d: rc=%d code=%s %.0f ms %s %s" % (n, r.returncode, code, ms, body.strip(), r.stderr.strip()))
    elif '"running":{' in body and '"seconds":' in body:
        running_seen += 1
    time.sleep(0.2)
print("# /healthz said a run is in progress (with its duration) in %d of 200 answers" % running_seen)
if running_seen == 0:
    bad.append("no /healthz answer said that a run is in progress and for how long")

# The run must finish (success) while the slow client still reads.
t = time.monotonic()
while time.monotonic() - t < 120:
    out = subprocess.run(["curl", "-sS", "-m", "1", "http://127.0.0.1:%d/healthz" % port],
                         capture_output=True, text=True).stdout
    if '"status":"ok"' in out:
        break
    time.sleep(1)
else:
    bad.append("the run did not succeed within 120 s of the curls: %s" % out.strip())
stop.set(); th.join()
print("# slow /metrics client read %d bytes" % slow_bytes[0])
late = {i: round(v, 1) for i, v in closed.items() if v > 12}
print("# idle connections closed by the server: %d of 64, latest after %.1f s" %
      (len(closed), max(closed.values()) if closed else -1))
if len(closed) < 64 or late:
    bad.append("idle connections not closed within 12 s: open %d, late %s" % (64 - len(closed), late))
print("# health statuses seen: %s" % sorted(set(statuses)))
if "unhealthy" in statuses:
    bad.append("Docker's status turned unhealthy")
for b in bad:
    print("BAD:", b)
sys.exit(1 if bad else 0)
EOF2
py_rc=$?

# vigil healthcheck's own timeout: a listener that accepts and never answers.
gw=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}' "$bcid")
hp=$(free_port)
"$PY" -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8); c=[]
while True: c.append(s.accept())' "$hp" &
silent=$!
at_exit "kill $silent"
sleep 0.5
t0=$(date +%s.%N)
docker exec -e HTTP_LISTEN="$gw:$hp" "$bcid" vigil healthcheck >"$PD/hc" 2>&1
rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
cat "$PD/hc"
log "vigil healthcheck against a silent server: exit $rc after ${secs}s"
assert_eq 1 "$rc" "healthcheck against a silent server"
(($(echo "$secs < 2.6" | bc))) || fail "vigil healthcheck waited ${secs}s (its own timeout must be <= 2 s)"
assert_eq 0 "$py_rc" "C15 expectations during the run (BAD lines above)"
log ok
