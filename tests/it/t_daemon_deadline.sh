#!/bin/bash
# shellcheck disable=SC2016,SC2119 # SQL in single quotes; lib functions take optional args
# TRIAL-0.1.0 F6: a session holding an ACCESS EXCLUSIVE lock made pg_dump
# wait forever; later runs were skipped and /healthz said 200.
#   1. BACKUP_LOCK_WAIT_TIMEOUT=2s with the lock held: `vigil backup` exits 1
#      within 30 s, "database backup failed: pg_dump exited 1", a failure
#      manifest (db err_code "dump"), no db file, no temporary file.
#   2. PG_DUMP_EXTRA_OPTS=--lock-wait-timeout=1000 wins over
#      BACKUP_LOCK_WAIT_TIMEOUT=1h: exit 1 within 30 s.
#   3. BACKUP_RUN_TIMEOUT=4s, BACKUP_LOCK_WAIT_TIMEOUT=1h: exit 1 after 4 to
#      30 s, "BACKUP_RUN_TIMEOUT (4s)" in the log, manifest result failure
#      with db err_code "timeout" and media err_code "timeout" (the media
#      part is not started), no temporary file, no pg_dump left waiting.
#      check-config shows the defaults (21600 s, 300 s); bad values exit 2.
#   4. the daemon, BACKUP_ON_START=true, BACKUP_RUN_TIMEOUT=4s: that run's
#      failure makes /healthz 503 with the timeout in the reason, and
#      vigil_runs_total{kind="db",result="failure"} 4 (parts 1-3 made three).
#   5. a run that cannot see its own deadline (SIGSTOPped): /healthz 503
#      "a backup run has been going for ..., longer than BACKUP_RUN_TIMEOUT",
#      vigil_run_overdue 1; 35 s after the deadline the daemon kills it,
#      writes the failure manifest the run could not ("left no run
#      manifest", err_code "timeout"), and vigil_run_overdue is 0; a
#      restarted daemon still answers 503 with that reason. Its alerts are
#      sent by a `vigil notify` child: one webhook with that manifest.
#   6. the same, but the stuck run is let go (SIGCONT) right after the
#      daemon's SIGTERM: it writes its own failure manifest and, stopped by a
#      signal, sends no alerts itself; the daemon sends them: one webhook.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup

dump_gone() { ! pgrep -f "pg_dump.*--lock-wait-timeout" >/dev/null; }

# ---------------------------------------------------------------- 1
log "1. BACKUP_LOCK_WAIT_TIMEOUT=2s while the table is locked"
lock_items
ls_manifests >"$T/m0"
t0=$SECONDS
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil BACKUP_LOCK_WAIT_TIMEOUT=2s backup
((SECONDS - t0 < 30)) || fail "the run took $((SECONDS - t0)) s with a 2 s lock wait timeout"
assert_output_match 'database backup failed: pg_dump exited 1'
assert_output_match 'statement timeout|lock'
assert_one_failure_manifest "$T/m0"
fm=$(new_manifests "$T/m0")
assert_eq dump "$(manifest_get "$fm" artifacts.0.error.code)" "db err_code of the lock-wait failure"
assert_count 0 "$BACKUP_DIR/db/*.sql.gz"
assert_no_temp "$BACKUP_DIR"

# ---------------------------------------------------------------- 2
log "2. the operator's --lock-wait-timeout in PG_DUMP_EXTRA_OPTS wins"
wait_next_second
t0=$SECONDS
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil BACKUP_LOCK_WAIT_TIMEOUT=1h \
	PG_DUMP_EXTRA_OPTS=--lock-wait-timeout=1000 backup --db-only
((SECONDS - t0 < 30)) || fail "PG_DUMP_EXTRA_OPTS' --lock-wait-timeout did not win ($((SECONDS - t0)) s)"
assert_output_match 'pg_dump exited 1'

# ---------------------------------------------------------------- 3
log "3. BACKUP_RUN_TIMEOUT=4s, lock wait 1h"
wait_next_second
ls_manifests >"$T/m0"
t0=$SECONDS
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil BACKUP_RUN_TIMEOUT=4s BACKUP_LOCK_WAIT_TIMEOUT=1h backup
secs=$((SECONDS - t0))
((secs >= 3 && secs < 30)) || fail "the run ended after $secs s, expected 4 s (BACKUP_RUN_TIMEOUT) + a little"
assert_output_match 'BACKUP_RUN_TIMEOUT \(4s\)'
assert_output_match 'media backup not started'
assert_one_failure_manifest "$T/m0"
fm=$(new_manifests "$T/m0")
assert_eq timeout "$(manifest_get "$fm" artifacts.0.error.code)" "db err_code after the deadline"
assert_eq timeout "$(manifest_get "$fm" artifacts.1.error.code)" "media err_code after the deadline"
[[ $(manifest_get "$fm" artifacts.0.error.message) == *"BACKUP_RUN_TIMEOUT (4s)"* ]] ||
	fail "the manifest's message does not name the deadline: $(manifest_get "$fm" artifacts.0.error.message)"
assert_no_temp "$BACKUP_DIR"
wait_until 10 "pg_dump to be gone" dump_gone
assert_exit 0 vigil check-config
assert_contains "$OUT" 'BACKUP_RUN_TIMEOUT=21600'
assert_contains "$OUT" 'BACKUP_LOCK_WAIT_TIMEOUT=300'
for bad in soon 0 -1h; do
	assert_exit 2 vigil BACKUP_RUN_TIMEOUT="$bad" check-config
	assert_output_match 'BACKUP_RUN_TIMEOUT'
	assert_exit 2 vigil BACKUP_LOCK_WAIT_TIMEOUT="$bad" check-config
	assert_output_match 'BACKUP_LOCK_WAIT_TIMEOUT'
done

# ---------------------------------------------------------------- 4
log "4. the daemon's start-up run passes its deadline"
wait_next_second
IT_VIGIL_TIMEOUT=200 daemon_spawn 1 vigil BACKUP_ON_START=true BACKUP_RUN_TIMEOUT=4s \
	BACKUP_LOCK_WAIT_TIMEOUT=1h serve
wait_until 30 "the start-up run to fail" grep -q 'run finished: exited 1' "$DLOG"
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz after a run that passed its deadline"
assert_contains "$T/http.body" '"status":"failing"'
assert_contains "$T/http.body" 'BACKUP_RUN_TIMEOUT (4s)'
# parts 1-3 left three db failure manifests; this run is the fourth
assert_eq 4 "$(metric 'vigil_runs_total{kind="db",result="failure"}')" "db failures"
assert_eq 0 "$(metric vigil_run_overdue)" "vigil_run_overdue after the run"
daemon_stop

# ---------------------------------------------------------------- 5
log "5. a stuck run (SIGSTOP) past its deadline"
wait_next_second
ls_manifests >"$T/m0"
http_start HOOK5 record
IT_VIGIL_TIMEOUT=200 daemon_spawn 2 vigil BACKUP_ON_START=true BACKUP_RUN_TIMEOUT=3s \
	BACKUP_LOCK_WAIT_TIMEOUT=1h BACKUP_WEBHOOK_URL="$HTTP_L_URL/hook" serve
has_child() { child=$(pgrep -P "$DPID" | head -n 1) && [[ -n $child ]]; }
wait_until 10 "the daemon's start-up run" has_child
wait_until 20 "its pg_dump to wait on the lock" vigil_waiting
kill -STOP "$child"
sleep 5
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz while a run is stuck past its deadline"
assert_match "$T/http.body" 'a backup run has been going for [0-9]+s, longer than BACKUP_RUN_TIMEOUT \(3s\)'
assert_eq 1 "$(metric vigil_run_overdue)" "vigil_run_overdue while stuck"
assert_eq 1 "$(metric vigil_running)" "vigil_running while stuck"
wait_until 60 "the daemon to kill the stuck run" grep -q 'run finished: killed by signal 9' "$DLOG"
assert_contains "$DLOG" 'still going'
assert_one_failure_manifest "$T/m0"
fm=$(new_manifests "$T/m0")
assert_eq timeout "$(manifest_get "$fm" artifacts.0.error.code)" "err_code of the daemon-written manifest"
[[ $(manifest_get "$fm" error.message) == *"left no run manifest"* ]] ||
	fail "unexpected message in the daemon's manifest: $(manifest_get "$fm" error.message)"
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz after the stuck run was killed"
assert_contains "$T/http.body" 'left no run manifest'
assert_eq 0 "$(metric vigil_run_overdue)" "vigil_run_overdue after the kill"
assert_eq 0 "$(metric vigil_running)" "vigil_running after the kill"
wait_until 20 "the killed run's webhook" test -e "$HTTP_L_DIR/req-1.json"
sleep 1
assert_eq 1 "$(http_req_count "$HTTP_L_DIR")" "webhooks for the killed run"
assert_contains "$HTTP_L_DIR/req-1.json" 'left no run manifest'
daemon_stop
# That manifest was written by the daemon, so the failure survives a restart.
daemon_spawn 3 vigil serve
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz after a restart"
assert_contains "$T/http.body" 'left no run manifest'
daemon_stop
unlock_items
wait_until 30 "the orphaned pg_dump to end" dump_gone

# ---------------------------------------------------------------- 6
log "6. a stuck run let go after the daemon's SIGTERM alerts through the daemon"
lock_items
wait_next_second
ls_manifests >"$T/m0"
http_start HOOK6 record
IT_VIGIL_TIMEOUT=200 daemon_spawn 4 vigil BACKUP_ON_START=true BACKUP_RUN_TIMEOUT=3s \
	BACKUP_LOCK_WAIT_TIMEOUT=1h BACKUP_WEBHOOK_URL="$HTTP_L_URL/hook" serve
wait_until 10 "the daemon's start-up run" has_child
wait_until 20 "its pg_dump to wait on the lock" vigil_waiting
kill -STOP "$child"
wait_until 60 "the daemon to stop the stuck run" grep -q 'stopping it' "$DLOG"
kill -CONT "$child"
wait_until 20 "the run to end" grep -q 'run finished: ' "$DLOG"
assert_contains "$DLOG" 'run finished: exited 143'
assert_one_failure_manifest "$T/m0"
fm=$(new_manifests "$T/m0")
[[ $(manifest_get "$fm" error.message) != *"left no run manifest"* ]] ||
	fail "the run's own manifest was expected, not the daemon's"
wait_until 20 "the stopped run's webhook" test -e "$HTTP_L_DIR/req-1.json"
sleep 1
assert_eq 1 "$(http_req_count "$HTTP_L_DIR")" "webhooks for the stopped run"
assert_contains "$HTTP_L_DIR/req-1.json" '\"result\":\t\"failure\"'
daemon_stop
unlock_items
wait_until 30 "the orphaned pg_dump to end" dump_gone
assert_no_temp "$BACKUP_DIR"
log "deadline ok"
