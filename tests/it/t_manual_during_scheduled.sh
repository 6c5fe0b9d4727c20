#!/bin/bash
# shellcheck disable=SC2016,SC2119 # SQL in single quotes; lib functions take optional args
# A manual `vigil backup` while the daemon's scheduled run (BACKUP_ON_START)
# is blocked on a table lock: the manual run exits 75 within 1 s with
# "another run is in progress" and writes nothing under BACKUP_DIR (no file
# created, deleted or changed; the scheduled run's temporary file stays; no
# manifest). It is not a skipped scheduled tick either. Once the lock is
# released the scheduled run completes normally: one db file, one media
# file, one success manifest.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
command -v curl >/dev/null || fail "this test needs curl"
pg_start
vigil_env
fixture
URL=http://$HTTP_LISTEN

lock_items

BACKUP_ON_START=true "$VIGIL" serve >"$T/serve.out" 2>&1 &
DPID=$!
wait_until 20 "the scheduled run's pg_dump to wait on the lock" vigil_waiting
wait_until 5 "the scheduled run's temporary file" has_temp
wait_until 10 "the daemon's /healthz" curl -s -o /dev/null --max-time 1 "$URL/healthz"
assert_eq 1 "$(metric vigil_running)" "vigil_running while the scheduled run is blocked"
tmp=$(compgen -G "$BACKUP_DIR/db/.vigil-tmp-*")
tree >"$T/tree.before"

t0=$(now_us)
IT_VIGIL_TIMEOUT=10 assert_exit 75 vigil backup
ms=$((($(now_us) - t0) / 1000))
((ms < 1000)) || fail "the manual run took $ms ms to give up, expected < 1000"
assert_output_match "another run is in progress"
tree >"$T/tree.after"
diff -u "$T/tree.before" "$T/tree.after" || fail "the manual run created, deleted or changed files under BACKUP_DIR"
assert_file "$tmp"
assert_count 0 "$BACKUP_DIR/runs/*.json"
_alive "$DPID" || fail "the daemon died"
assert_eq 0 "$(metric vigil_skipped_runs_total)" "vigil_skipped_runs_total (a refused manual run is no skipped tick)"
assert_eq 1 "$(metric vigil_running)" "vigil_running after the refused manual run"

# Release: the scheduled run completes.
unlock_items
wait_until 60 "the scheduled run to finish" grep -q "run finished" "$T/serve.out"
assert_contains "$T/serve.out" "run finished: exited 0"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
assert_count 1 "$BACKUP_DIR/runs/*.json"
assert_eq success "$(manifest_get "$BACKUP_DIR"/runs/*.json result)" "the scheduled run's result"
assert_no_temp "$BACKUP_DIR"
check_i1
kill -TERM "$DPID"
for ((i = 0; i < 100; i++)); do
	_alive "$DPID" || break
	sleep 0.05
done
_alive "$DPID" && fail "the idle daemon did not stop within 5 s of SIGTERM"
wait "$DPID"
assert_eq 0 "$?" "the idle daemon's exit code after SIGTERM"
log "manual-during-scheduled ok"
