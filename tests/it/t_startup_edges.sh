#!/bin/bash
# Start-up edge cases found by a breaker round (issue 12):
#   1. A probe file left by a crash (vigil is PID 1 in a container, so the
#      probe's name repeats: .vigil-probe-1) is removed and the check
#      passes; no probe file is left behind.
#   2. SSL_CERT_FILE naming a non-empty file that holds no PEM certificate is
#      found by name ("no PEM certificate in it"), at start (/healthz 503)
#      and by `vigil notify --test`, not reported as "certificate not
#      trusted" at every alert.
#   4. (below 3) A BACKUP_DIR chown'ed to the container's user without -R:
#      the top-level probe passes, but runs/ (root, 0700) cannot be written
#      or read and LOG_DIR's backup.log (root, 0600) cannot be appended to;
#      /healthz is 503 naming runs/, never "ok" with no state.
#   3. HTTP_LISTEN=[::]:port listens for IPv4 and IPv6 (dual stack: Docker's
#      networks are IPv4 by default), and `vigil healthcheck` reaches it.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

log "1. a probe file left by a crash of PID 1"
touch "$BACKUP_DIR/.vigil-probe-1"
daemon_spawn 1 unshare --pid --fork --mount-proc "$VIGIL" serve
# "serving pid=1" is its pid inside the namespace: stop it by its host pid.
DPID=$(pgrep -P "$DJOB" | head -n 1)
[[ -n $DPID ]] || fail "1: no vigil under unshare"
http /healthz
assert_not_contains "$T/http.body" "start-up check failed"
assert_eq 1 "$(metric 'vigil_startup_check_ok{check="backup_dir"}')" "1: backup_dir check"
[[ -z $(compgen -G "$BACKUP_DIR/.vigil-probe-*") ]] || fail "1: a probe file is left: $(ls -A "$BACKUP_DIR")"
daemon_stop

log "2. SSL_CERT_FILE without a PEM certificate"
printf 'not a certificate\n' >"$T/garbage.pem"
export BACKUP_WEBHOOK_URL=https://127.0.0.1:9/hook BACKUP_NOTIFY_TIMEOUT=3
assert_exit 1 vigil SSL_CERT_FILE="$T/garbage.pem" notify --test
assert_contains "$ERR" "webhook https://127.0.0.1:9/hook: not sent: SSL_CERT_FILE=$T/garbage.pem is not a readable CA bundle: no PEM certificate in it; hint:"
daemon_spawn 2 env SSL_CERT_FILE="$T/garbage.pem" "$VIGIL" serve
http /healthz
assert_eq 503 "$HTTP_CODE" "2: /healthz"
assert_contains "$T/http.body" "start-up check failed: alerts over TLS (BACKUP_WEBHOOK_URL) cannot be sent: SSL_CERT_FILE=$T/garbage.pem is not a readable CA bundle: no PEM certificate in it"
daemon_stop
unset BACKUP_WEBHOOK_URL BACKUP_NOTIFY_TIMEOUT

log "3. HTTP_LISTEN=[::]:port is dual stack"
port=${HTTP_LISTEN##*:}
export HTTP_LISTEN="[::]:$port"
daemon_spawn 3 "$VIGIL" serve
code4=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz")
assert_eq 200 "$code4" "3: /healthz over IPv4"
if [[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null) == 0 ]]; then
	code6=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://[::1]:$port/healthz")
	assert_eq 200 "$code6" "3: /healthz over IPv6"
fi
assert_exit 0 vigil healthcheck
assert_contains "$OUT" '200 {"status":"pending"'
daemon_stop
HTTP_LISTEN=127.0.0.1:$port

log "4. a BACKUP_DIR chown'ed without -R, run as 1000:1000"
mkdir -p "$BACKUP_DIR/runs" "$BACKUP_DIR/db"
chmod 0700 "$BACKUP_DIR/runs"
chown 1000:1000 "$BACKUP_DIR" "$BACKUP_DIR/db" "$LOG_DIR"
chmod 0755 "$T" "$LOG_DIR" "$BACKUP_DIR"
touch "$LOG_DIR/backup.log"
chmod 0600 "$LOG_DIR/backup.log"
daemon_spawn 4 setpriv --reuid=1000 --regid=1000 --clear-groups "$VIGIL" serve
http /healthz
assert_eq 503 "$HTTP_CODE" "4: /healthz"
assert_contains "$T/http.body" "\"reason\":\"start-up check failed: BACKUP_DIR $BACKUP_DIR/runs (owner:group 0:0, mode 0700) is not writable as uid:gid 1000:1000: cannot create a file there: Permission denied; hint: on the host, chown -R 1000:1000 the directory mounted at $BACKUP_DIR;"
assert_contains "$DLOG" "ERROR start-up check failed: LOG_DIR: $LOG_DIR/backup.log (owner:group 0:0, mode 0600) cannot be written as uid:gid 1000:1000: Permission denied; hint: on the host, chown -R 1000:1000 the directory mounted at $LOG_DIR;"
daemon_stop
log "ok"
