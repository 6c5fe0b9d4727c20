#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# TRIAL-0.1.0 F4: a run that fails without writing a run manifest (BACKUP_DIR
# read-only or full) was invisible: /healthz 200, 0 failures in /metrics.
# The daemon now counts a failed child (exit not 0, 3 or 75) that left no
# manifest as a failure of the kinds it ran (invariant I2 (docs/design.md)).
#   1. one good `vigil backup`, then BACKUP_DIR bind-mounted read-only and
#      `vigil serve` with BACKUP_ON_START=true: the run exits 1 ("cannot open
#      the run lock"), no manifest can be written by anyone; /healthz 503
#      "failing" with "the run exited 1 and left no run manifest";
#      vigil_runs_total{kind="db"|"media",result="failure"} 1,
#      vigil_consecutive_failures 1, vigil_last_failure_timestamp_seconds
#      >= the daemon's start, vigil_unrecorded_failures_total 1, success
#      count and last success unchanged; the daemon's log says it could not
#      write the manifest either. runs/ is unchanged.
#   2. a restart while still read-only: that failure was only in memory
#      (documented), the start-up run fails again and counts again: 503.
#   3. BACKUP_DIR on a full tmpfs, BACKUP_SCHEDULE='* * * * *': the same 503
#      (the start-up check: "No space left on device") and counts ("No space
#      left" in the daemon's log); the next minute's
#      run fails too: failures 2, consecutive failures 2,
#      vigil_unrecorded_failures_total 2, still 503. After the filler is
#      removed a manual backup succeeds and /healthz is 200 "ok", consecutive
#      failures 0, the two unrecorded failures still in vigil_runs_total.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# expect_failing_unrecorded START WHY: /healthz (503, start-up check
# failed: WHY) and /metrics after one unrecorded failure of both kinds on
# top of one recorded success.
expect_failing_unrecorded() {
	local start=$1 why=$2 k lf
	wait_until 30 "the start-up run to fail" grep -q 'run finished: exited 1' "$DLOG"
	# the log line comes a moment before the state is rebuilt
	wait_until 5 "/healthz 503" eval 'http /healthz; [[ $HTTP_CODE == 503 ]]'
	assert_eq 503 "$HTTP_CODE" "/healthz after a run that left no manifest"
	assert_contains "$T/http.body" '"status":"failing"'
	assert_contains "$T/http.body" "start-up check failed: BACKUP_DIR $BACKUP_DIR (owner:group 0:0, mode "
	assert_contains "$T/http.body" "$why"
	assert_contains "$DLOG" 'the run exited 1 without a run manifest, and the daemon cannot write one either'
	for k in db media; do
		assert_eq 1 "$(metric "vigil_runs_total{kind=\"$k\",result=\"failure\"}")" "$k failures"
		assert_eq 1 "$(metric "vigil_runs_total{kind=\"$k\",result=\"success\"}")" "$k successes"
		assert_eq 1 "$(metric "vigil_consecutive_failures{kind=\"$k\"}")" "$k consecutive failures"
		lf=$(metric "vigil_last_failure_timestamp_seconds{kind=\"$k\"}")
		((lf >= start)) || fail "$k last failure $lf is before the daemon's start $start"
	done
	assert_eq "$end1" "$(metric 'vigil_last_success_timestamp_seconds{kind="db"}')" "db last success"
	assert_eq 1 "$(metric vigil_unrecorded_failures_total)" "vigil_unrecorded_failures_total"
	assert_contains "$DLOG" 'cannot write one either'
}

# ---------------------------------------------------------------- 1
log "1. read-only BACKUP_DIR"
assert_exit 0 vigil backup
ok1=$(ls_manifests)
end1=$(date -u -d "$(manifest_get "$ok1" end)" +%s)
mount --bind "$BACKUP_DIR" "$BACKUP_DIR" || fail "mount --bind failed"
at_exit "umount -l '$BACKUP_DIR' 2>/dev/null"
mount -o remount,bind,ro "$BACKUP_DIR" || fail "remount ro failed"
tree >"$T/tree.before"
start=$(date +%s)
daemon_spawn 1 vigil BACKUP_ON_START=true serve
expect_failing_unrecorded "$start" 'cannot create a file there: Read-only file system' 
assert_contains "$DLOG" 'cannot open the run lock'
tree >"$T/tree.after"
diff -u "$T/tree.before" "$T/tree.after" || fail "files changed under a read-only BACKUP_DIR?"
daemon_stop

# ---------------------------------------------------------------- 2
log "2. restart, still read-only: the start-up run fails and counts again"
start=$(date +%s)
daemon_spawn 2 vigil BACKUP_ON_START=true serve
expect_failing_unrecorded "$start" 'Read-only file system' 
daemon_stop
umount "$BACKUP_DIR" || fail "umount failed"

# ---------------------------------------------------------------- 3
log "3. BACKUP_DIR on a full tmpfs"
export BACKUP_DIR=$T/full
mkdir -p "$BACKUP_DIR"
mount -t tmpfs -o size=4m tmpfs "$BACKUP_DIR" || fail "mount tmpfs failed"
at_exit "umount -l '$BACKUP_DIR' 2>/dev/null"
assert_exit 0 vigil backup
ok1=$(ls_manifests)
end1=$(date -u -d "$(manifest_get "$ok1" end)" +%s)
dd if=/dev/zero of="$BACKUP_DIR/filler" bs=64k 2>/dev/null
ls_manifests >"$T/m0"
start=$(date +%s)
daemon_spawn 3 vigil BACKUP_ON_START=true BACKUP_SCHEDULE='* * * * *' serve
expect_failing_unrecorded "$start" 'No space left on device' 
assert_contains "$DLOG" 'No space left on device'
# the next scheduled run fails the same way and counts on top
two_failures() { [[ $(metric 'vigil_consecutive_failures{kind="db"}') == 2 ]]; }
wait_until 75 "a second unrecorded failure (the next minute's run)" two_failures
for k in db media; do
	assert_eq 2 "$(metric "vigil_runs_total{kind=\"$k\",result=\"failure\"}")" "$k failures after two runs"
	assert_eq 2 "$(metric "vigil_consecutive_failures{kind=\"$k\"}")" "$k consecutive failures after two runs"
done
assert_eq 2 "$(metric vigil_unrecorded_failures_total)" "vigil_unrecorded_failures_total after two runs"
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz after two unrecorded failures"
[[ -z $(new_manifests "$T/m0") ]] || fail "a manifest was written on a full disk?"
rm -f "$BACKUP_DIR/filler"
wait_next_second
assert_exit 0 vigil backup
# the manual run's manifest makes the daemon re-check BACKUP_DIR at once
wait_until 10 "/healthz 200 ok" eval 'http /healthz; [[ $HTTP_CODE == 200 ]]'
assert_contains "$T/http.body" '"status":"ok"'
assert_eq 0 "$(metric 'vigil_consecutive_failures{kind="db"}')" "db consecutive failures after recovery"
assert_eq 2 "$(metric 'vigil_runs_total{kind="db",result="failure"}')" "db failures after recovery"
assert_eq 2 "$(metric 'vigil_runs_total{kind="db",result="success"}')" "db successes after recovery"
daemon_stop
assert_no_temp "$BACKUP_DIR"
log "unrecorded failures ok"
