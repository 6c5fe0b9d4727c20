#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B02: a full disk (a) or a pg_dump killed mid-stream (b) never
# leaves a cut-off or empty file under a final name. Both: exit 1 with the
# cause logged, I1 for every file, earlier backups byte-identical, no
# temporary file left, nothing pruned, a failure manifest.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# (a) BACKUP_DIR on a 256 KiB tmpfs, two good backups.
mount -t tmpfs -o size=256k,mode=0700 tmpfs "$BACKUP_DIR" || fail "mount tmpfs (needs root)"
assert_exit 0 vigil backup
wait_next_second
assert_exit 0 vigil backup
assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 2 "$BACKUP_DIR/media/media_*.tar.gz"
check_i1

# (b) its own, ample BACKUP_DIR with one good backup of the small table.
AMPLE=$T/ample
mkdir -p "$AMPLE"
assert_exit 0 vigil BACKUP_DIR="$AMPLE" backup
BACKUP_DIR=$AMPLE check_i1

log "growing items to ~130 MB"
sql "INSERT INTO items SELECT g, repeat(md5(g::text), 20) FROM generate_series(1001, 200000) g;" ||
	fail "insert failed"

# ---- (a) disk full
wait_next_second
snapshot "$BACKUP_DIR" >"$T/full-before"
ls_manifests >"$T/manifests-before"
assert_exit 1 vigil backup
assert_output_match 'No space left on device'
assert_match "$LOG_DIR/backup.log" 'No space left on device'
snapshot "$BACKUP_DIR" >"$T/full-after"
assert_kept "$T/full-before" "$T/full-after"
assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz.sha256"
assert_no_temp "$BACKUP_DIR"
check_i1
assert_one_failure_manifest "$T/manifests-before"

# ---- (b) pg_dump cut after 1 MiB and killed by signal 9
make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) exec "$REAL" "$@" ;; esac
done
"$REAL" "$@" | head -c 1048576
kill -9 $$'
export BACKUP_DIR=$AMPLE
wait_next_second
snapshot "$BACKUP_DIR" >"$T/ample-before"
ls_manifests >"$T/manifests-before"
assert_exit 1 vigil PATH="$T/shim:$PATH" backup
assert_output_match 'pg_dump killed by signal 9'
assert_match "$LOG_DIR/backup.log" 'pg_dump killed by signal 9'
snapshot "$BACKUP_DIR" >"$T/ample-after"
assert_kept "$T/ample-before" "$T/ample-after"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz.sha256"
assert_no_temp "$BACKUP_DIR"
check_i1
assert_one_failure_manifest "$T/manifests-before"
# No pg_dump of ours is left behind.
pgrep -f "$T/shim/pg_dump" >/dev/null && fail "the pg_dump shim is still running"
log "B02 ok"
