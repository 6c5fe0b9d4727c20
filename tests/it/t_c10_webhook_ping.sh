#!/bin/bash
# shellcheck disable=SC2016,SC2119 # python in single quotes; lib functions take optional args
# FIELD-CASES C10: webhooks and pings that fail, hang or trickle must neither
# change a run's result nor hold the run, the schedule or shutdown (README
# "Alerts"). BACKUP_NOTIFY_TIMEOUT=3 unless said otherwise.
#
#  1. ping and webhook at a recorder, good run: exit 0; the ping server saw
#     exactly "GET /ping/UUID/start", "POST /ping/UUID"; the webhook one POST
#     /hook with Content-Type application/json whose body is the run manifest
#     (run_id, result success); the manifest records both as "sent".
#  2. database stopped: exit 1; "/start" then "/fail", never the plain URL;
#     the webhook body says result failure; both "sent".
#  3. webhook at status-seq:500,500,200 (default timeout): 3 attempts, "sent".
#     webhook at 404: exactly 1 attempt, "failed", exit 0, an ERROR line
#     naming the webhook, the redacted URL and the status.
#     ping at status:500: 3 attempts of /start, then 3 of the plain URL,
#     "failed", exit 0, an ERROR line naming the ping.
#  4. webhook at a black hole, then a trickle: the run takes at most 3 s
#     (+2 s slack) longer than a run without alerts and at least 2.5 s
#     longer, exit 0, backup files made as usual; with the default timeout
#     the black hole costs 15 s (14-19 s).
#     A daemon over those manifests counts the failures in
#     vigil_notification_failures_total{channel} (promtool-clean families are
#     t_metrics_promtool's).
#  5. `vigil serve` as PID 1 (unshare), BACKUP_SCHEDULE='* * * * *', the clock
#     at 02:59:50 going 6 times as fast (FAKETIME x6, so a minute is 10 s),
#     webhook at a black hole: the 03:00 run and the 03:01 run both start on
#     time (within 10 fake seconds of the minute; none skipped), each exits 0
#     with its files; the first run's webhook is "failed" and counted; SIGTERM
#     while the 03:01 run's webhook hangs ends the daemon within 5 s.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
for tool in unshare pgrep; do
	command -v "$tool" >/dev/null || fail "this test needs $tool"
done
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (apt-get install faketime)"
it_setup
export BACKUP_NOTIFY_TIMEOUT=3
UUID=5f1c0de0-c10-check

# reqs DIR: the requests a listener recorded, one "METHOD PATH" a line.
reqs() { cat "$1/requests.log" 2>/dev/null; }
# last_manifest: the newest run manifest.
last_manifest() { ls_manifests | sort | tail -n 1; }
# notice FILE CHANNEL: "result[: error]" of that channel in the manifest.
notice() {
	"$PY" - "$1" "$2" <<-'EOF'
		import json, sys
		m = json.load(open(sys.argv[1]))
		for n in m.get("notifications", []):
		    if n["channel"] == sys.argv[2]:
		        print(n["result"] + (": " + n["error"] if n.get("error") else ""))
	EOF
}
expect_notice() { # expect_notice CHANNEL RESULT
	local got
	got=$(notice "$(last_manifest)" "$1")
	[[ $got == "$2" || $got == "$2: "* ]] || {
		show_file "$(last_manifest)"
		fail "manifest notice of $1: expected $2, got '$got'"
	}
}
# timed_backup VAR=VAL...: `vigil backup` with those settings, exit 0;
# ELAPSED is its wall time in ms.
timed_backup() {
	local t0
	t0=$(now_us)
	assert_exit 0 vigil "$@" backup
	ELAPSED=$((($(now_us) - t0) / 1000))
	log "took $ELAPSED ms"
}

# ---------------------------------------------------------------- 1. good run
log "1. ping and webhook at recorders, good run"
http_start ping record
http_start hook record
wait_next_second
assert_exit 0 vigil BACKUP_PING_URL="$HTTP_L_URL_ping/ping/$UUID" BACKUP_WEBHOOK_URL="$HTTP_L_URL_hook/hook" backup
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID" "$(reqs "$HTTP_L_DIR_ping")" "ping requests of a good run"
assert_eq "POST /hook" "$(reqs "$HTTP_L_DIR_hook")" "webhook requests of a good run"
assert_eq application/json "$(manifest_get "$HTTP_L_DIR_hook/req-1.json" headers.content-type)" "webhook Content-Type"
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); json.loads(r["body"]) ' "$HTTP_L_DIR_hook/req-1.json" ||
	fail "the webhook body is not JSON"
"$PY" -c 'import json,sys; print(json.loads(json.load(open(sys.argv[1]))["body"])["run_id"])' \
	"$HTTP_L_DIR_hook/req-1.json" >"$T/hook.runid"
mf=$(last_manifest)
assert_eq "$(basename "$mf" .json)" "$(cat "$T/hook.runid")" "run_id in the webhook body"
"$PY" -c 'import json,sys; print(json.loads(json.load(open(sys.argv[1]))["body"])["result"])' \
	"$HTTP_L_DIR_hook/req-1.json" >"$T/hook.result"
assert_eq success "$(cat "$T/hook.result")" "result in the webhook body"
assert_contains "$HTTP_L_DIR_ping/req-2.json" 'success'
expect_notice webhook sent
expect_notice ping sent

# ---------------------------------------------------------------- 2. failed run
log "2. database stopped: /start then /fail"
http_start ping2 record
http_start hook2 record
pg_server stop
wait_next_second
assert_exit 1 vigil BACKUP_PING_URL="$HTTP_L_URL_ping2/ping/$UUID" BACKUP_WEBHOOK_URL="$HTTP_L_URL_hook2/hook" backup
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID/fail" "$(reqs "$HTTP_L_DIR_ping2")" "ping requests of a failed run"
assert_eq "POST /hook" "$(reqs "$HTTP_L_DIR_hook2")" "webhook requests of a failed run"
"$PY" -c 'import json,sys; print(json.loads(json.load(open(sys.argv[1]))["body"])["result"])' \
	"$HTTP_L_DIR_hook2/req-1.json" >"$T/hook.result"
assert_eq failure "$(cat "$T/hook.result")" "result in the webhook body of the failed run"
assert_contains "$HTTP_L_DIR_ping2/req-2.json" 'db_connect'
assert_eq failure "$(manifest_get "$(last_manifest)" result)" "result of the failed run"
expect_notice webhook sent
expect_notice ping sent
pg_server start

# ---------------------------------------------------------------- 3. statuses
log "3a. webhook answers 500, 500, 200: sent after 3 attempts"
http_start seq status-seq:500,500,200
wait_next_second
assert_exit 0 vigil BACKUP_NOTIFY_TIMEOUT=15 BACKUP_WEBHOOK_URL="$HTTP_L_URL_seq/hook" backup
assert_eq 3 "$(reqs "$HTTP_L_DIR_seq" | grep -c '^POST /hook$')" "webhook attempts against 500,500,200"
expect_notice webhook sent

log "3b. webhook answers 404: one attempt, failed, run still exit 0"
http_start nf status:404
wait_next_second
snapshot "$BACKUP_DIR" >"$T/snap.before"
assert_exit 0 vigil BACKUP_WEBHOOK_URL="$HTTP_L_URL_nf/hook?token=c10tok" backup
assert_eq "POST /hook?token=c10tok" "$(reqs "$HTTP_L_DIR_nf")" "webhook attempts against 404"
expect_notice webhook failed
assert_output_match "ERROR .*webhook.*127\.0\.0\.1:$HTTP_L_PORT_nf/hook.*404"
assert_not_contains "$ERR" c10tok
assert_eq success "$(manifest_get "$(last_manifest)" result)" "result of the run whose webhook failed"
snapshot "$BACKUP_DIR" >"$T/snap.after"
assert_kept "$T/snap.before" "$T/snap.after"
check_i1

log "3c. ping answers 500: 3 attempts of each, failed, run still exit 0"
http_start p500 status:500
wait_next_second
assert_exit 0 vigil BACKUP_NOTIFY_TIMEOUT=15 BACKUP_PING_URL="$HTTP_L_URL_p500/ping/$UUID" backup
assert_eq "3 GET /ping/$UUID/start
3 POST /ping/$UUID" "$(reqs "$HTTP_L_DIR_p500" | uniq -c | sed 's/^ *//')" "ping attempts against 500"
expect_notice ping failed
assert_output_match "ERROR .*ping"
assert_not_contains "$ERR" "$UUID"

# ---------------------------------------------------------------- 4. bounds
log "4. black hole and trickle: bounded by BACKUP_NOTIFY_TIMEOUT"
wait_next_second
timed_backup
base=$ELAPSED
http_start hole blackhole
http_start drip trickle
for srv in hole drip; do
	wait_next_second
	url_var=HTTP_L_URL_$srv
	timed_backup BACKUP_WEBHOOK_URL="${!url_var}/hook"
	expect_notice webhook failed
	assert_eq success "$(manifest_get "$(last_manifest)" result)" "result with the webhook at $srv"
	extra=$((ELAPSED - base))
	log "$srv: the alert cost $extra ms (bound 3000 ms)"
	((extra >= 2500 && extra <= 5000)) || fail "$srv: the webhook added $extra ms, expected 2500-5000 (BACKUP_NOTIFY_TIMEOUT=3)"
done
log "4b. the default BACKUP_NOTIFY_TIMEOUT (15 s) at the black hole"
wait_next_second
timed_backup BACKUP_NOTIFY_TIMEOUT= BACKUP_WEBHOOK_URL="$HTTP_L_URL_hole/hook"
extra=$((ELAPSED - base))
log "default timeout: the alert cost $extra ms"
((extra >= 14000 && extra <= 19000)) || fail "the default bound cost $extra ms, expected 14000-19000"
expect_notice webhook failed
check_i1

log "4c. the counters of a daemon over these manifests"
daemon_spawn counters vigil serve
# webhook failed: 404, black hole, trickle, black hole; ping failed: 500.
assert_eq 4 "$(metric 'vigil_notification_failures_total{channel="webhook"}')" "webhook failures counted"
assert_eq 1 "$(metric 'vigil_notification_failures_total{channel="ping"}')" "ping failures counted"
assert_eq 0 "$(metric 'vigil_notification_failures_total{channel="mail"}')" "mail failures counted"
assert_eq 3 "$(metric 'vigil_notifications_total{channel="webhook",result="sent"}')" "webhooks sent counted"
daemon_stop

# ---------------------------------------------------------------- 5. daemon
log "5. vigil serve as PID 1, every minute at 6x, webhook at the black hole"
export BACKUP_DIR=$T/daemon-backups
mkdir -p "$BACKUP_DIR"
http_start hole5 blackhole
http_start ping5 record
VIGIL_EXE=$(readlink -f "$VIGIL")
DLOG=$T/daemon5.log
env --default-signal=INT,QUIT,TERM BACKUP_SCHEDULE='* * * * *' \
	BACKUP_WEBHOOK_URL="$HTTP_L_URL_hole5/hook" BACKUP_PING_URL="$HTTP_L_URL_ping5/ping/$UUID" \
	LD_PRELOAD="$FAKETIME_LIB" FAKETIME='@2025-06-10 02:59:50 x6' FAKETIME_DONT_RESET=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 \
	unshare --pid --fork --mount-proc --kill-child "$VIGIL" serve >"$DLOG" 2>&1 &
UPID=$!
for ((i = 0; i < 100; i++)); do
	DPID=$(pgrep -P "$UPID" | head -n 1)
	[[ -n $DPID && $(readlink "/proc/$DPID/exe" 2>/dev/null) == "$VIGIL_EXE" ]] && break
	DPID=
	sleep 0.05
done
[[ -n $DPID ]] || { show_file "$DLOG"; fail "the daemon did not start under unshare"; }
assert_eq 1 "$(awk '/^NSpid:/ {print $NF}' "/proc/$DPID/status")" "the daemon's pid in its namespace"
wait_until 30 "the 03:00 run to finish" grep -q 'run finished' "$DLOG"
assert_contains "$DLOG" 'run finished: exited 0'
grep -qE '^2025-06-10T03:00:(0[0-9]|10)\+00:00 INFO scheduled run started' "$DLOG" || {
	show_file "$DLOG"
	fail "the 03:00 run did not start within 10 s of 03:00"
}
wait_until 5 "the daemon to count the webhook failure" eval \
	'[[ $(metric "vigil_notification_failures_total{channel=\"webhook\"}") == 1 ]]'
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID" "$(reqs "$HTTP_L_DIR_ping5")" "pings of the 03:00 run (webhook failed, run good)"
# The 03:01 run: on time although the 03:00 run's webhook hung for 3 s.
wait_until 30 "the 03:01 run's webhook to hang" eval '[[ $(wc -l <"$HTTP_L_DIR_hole5/connections.log") -ge 2 ]]'
grep -qE '^2025-06-10T03:01:(0[0-9]|10)\+00:00 INFO scheduled run started' "$DLOG" || {
	show_file "$DLOG"
	fail "the 03:01 run did not start within 10 s of 03:01"
}
assert_not_contains "$DLOG" 'skipped'
assert_count 2 "$BACKUP_DIR/db/app_20250610_030*.sql.gz"
t0=$(now_us)
kill -TERM "$DPID"
while _alive "$DPID"; do
	(($(now_us) - t0 < 6000000)) || { show_file "$DLOG"; fail "the daemon still runs 6 s after SIGTERM"; }
	sleep 0.05
done
ms=$((($(now_us) - t0) / 1000))
wait "$UPID"
log "SIGTERM during a hanging webhook: daemon gone after $ms ms (exit $?)"
((ms <= 5000)) || fail "SIGTERM took $ms ms, expected <= 5000"
assert_not_contains "$DLOG" 'did not stop in time'
assert_no_temp "$BACKUP_DIR"
check_i1
log "C10 ok"
