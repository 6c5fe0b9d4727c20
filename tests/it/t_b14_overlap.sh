#!/bin/bash
# shellcheck disable=SC2016,SC2119 # SQL in single quotes; lib functions take optional args
# FIELD-CASES B14: a manual run that overlaps a scheduled or slow run must
# not make duplicate or torn backups.
#   Part 1: pg_dump of run #1 is blocked on a table lock; run #2 exits 75
#   within 1 s with "another run is in progress", creating or deleting
#   nothing (#1's temporary file stays); after the lock is released #1 exits
#   0 with exactly one db file and one media file.
#   Part 2: `vigil serve` with BACKUP_SCHEDULE='* * * * *' while a blocked
#   manual run spans a minute boundary: the tick is skipped with a log line
#   ("skipped"), writes no manifest (runs/*.json grows by exactly one, the
#   manual run's), /metrics shows vigil_skipped_runs_total 1 and no failure.
# Part 2 waits for the next minute boundary: up to ~80 s in all.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
command -v curl >/dev/null || fail "this test needs curl"
pg_start
vigil_env
fixture
URL=http://$HTTP_LISTEN

# ---------------------------------------------------------------- helpers

# wait_child PID SECS: wait (bounded) for our background child; $WRC.
wait_child() {
	local pid=$1 secs=$2 end
	end=$(($(now_us) + secs * 1000000))
	while _alive "$pid"; do
		if (($(now_us) > end)); then
			kill -9 "$pid" 2>/dev/null
			fail "process $pid still running after ${secs}s"
		fi
		sleep 0.05
	done
	wait "$pid"
	WRC=$?
}

# ---------------------------------------------------------------- part 1
log "part 1: run #2 while run #1 is blocked on the table lock"
lock_items
"$VIGIL" backup >"$T/run1.out" 2>&1 &
R1=$!
wait_until 20 "run #1's pg_dump to wait on the lock" vigil_waiting
wait_until 5 "run #1's temporary file" has_temp
tmp1=$(compgen -G "$BACKUP_DIR/db/.vigil-tmp-*")
tree >"$T/tree.before"
t0=$(now_us)
IT_VIGIL_TIMEOUT=10 assert_exit 75 vigil backup
ms=$((($(now_us) - t0) / 1000))
((ms < 1000)) || fail "run #2 took $ms ms to give up, expected < 1000"
assert_output_match "another run is in progress"
tree >"$T/tree.after"
diff -u "$T/tree.before" "$T/tree.after" || fail "run #2 created, deleted or changed files under BACKUP_DIR"
assert_file "$tmp1"
_alive "$R1" || fail "run #1 ended while the lock was held"
unlock_items
wait_child "$R1" 60
[[ $WRC == 0 ]] || {
	show_file "$T/run1.out"
	fail "run #1: exit $WRC, expected 0"
}
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz.sha256"
assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz.sha256"
assert_count 1 "$BACKUP_DIR/runs/*.json"
assert_eq success "$(manifest_get "$BACKUP_DIR"/runs/*.json result)" "run #1's result"
assert_no_temp "$BACKUP_DIR"
check_i1

# ---------------------------------------------------------------- part 2
log "part 2: a scheduled tick inside a blocked manual run"
ls_manifests >"$T/manifests.before"
lock_items
"$VIGIL" backup >"$T/run3.out" 2>&1 &
R3=$!
wait_until 20 "the manual run's pg_dump to wait on the lock" vigil_waiting
# The daemon must be up a few seconds before its first tick.
while ((10#$(date +%S) >= 52)); do sleep 0.2; done
BACKUP_SCHEDULE='* * * * *' "$VIGIL" serve >"$T/serve.out" 2>&1 &
DPID=$!
started=$(date +%s)
tick=$(((started / 60 + 1) * 60))
log "daemon pid $DPID started at $(date -u -d @"$started" +%T), tick expected at $(date -u -d @"$tick" +%T)"
wait_until 15 "the daemon's /healthz" curl -s -o /dev/null --max-time 1 "$URL/healthz"
assert_eq 0 "$(metric vigil_skipped_runs_total)" "vigil_skipped_runs_total before the tick"
# Hold the lock until ~10 s after the tick.
while (($(date +%s) < tick + 10)); do sleep 0.5; done
_alive "$R3" || fail "the manual run ended while the lock was held"
assert_contains "$T/serve.out" "skipped"
assert_match "$T/serve.out" "scheduled run skipped"
assert_eq 1 "$(metric vigil_skipped_runs_total)" "vigil_skipped_runs_total after the tick"
assert_eq "" "$(new_manifests "$T/manifests.before")" "manifests written for the skipped tick"
unlock_items
wait_child "$R3" 60
[[ $WRC == 0 ]] || {
	show_file "$T/run3.out"
	fail "the manual run: exit $WRC, expected 0"
}
new=$(new_manifests "$T/manifests.before")
assert_eq 1 "$(printf '%s\n' "$new" | grep -c .)" "new run manifests (the manual run's only)"
assert_eq success "$(manifest_get "$new" result)" "the manual run's result"
# The daemon picks the new manifest up (it stats runs/ every second).
metrics_current() { [[ $(metric 'vigil_runs_total{kind="db",result="success"}') == 2 ]]; }
wait_until 5 "/metrics to count the manual run" metrics_current
curl -s --max-time 2 "$URL/metrics" >"$T/metrics.txt"
for k in db media; do
	assert_eq 2 "$(metric "vigil_runs_total{kind=\"$k\",result=\"success\"}")" "$k successes"
	assert_eq 0 "$(metric "vigil_runs_total{kind=\"$k\",result=\"failure\"}")" "$k failures in /metrics"
	assert_eq 0 "$(metric "vigil_consecutive_failures{kind=\"$k\"}")" "$k consecutive failures"
	assert_eq 0 "$(metric "vigil_last_failure_timestamp_seconds{kind=\"$k\"}")" "$k last failure"
done
assert_eq 1 "$(metric vigil_skipped_runs_total)" "vigil_skipped_runs_total at the end"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")" "/healthz"
assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 2 "$BACKUP_DIR/media/media_*.tar.gz"
assert_no_temp "$BACKUP_DIR"
check_i1
# All of the above must have happened before the next tick (tick + 60 s).
(($(date +%s) < tick + 58)) || fail "test too slow: the next tick may have fired"
kill -TERM "$DPID"
wait_child "$DPID" 10
assert_eq 0 "$WRC" "the idle daemon's exit code after SIGTERM"
assert_count 2 "$BACKUP_DIR/runs/*.json"
log "B14 ok"
