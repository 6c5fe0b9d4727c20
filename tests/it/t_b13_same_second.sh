#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B13: runs in the same second never replace a file. With the
# clock frozen at 2025-05-05 03:00:00 (libfaketime): `vigil backup` twice,
# then `vigil restore --db <first db file> --yes` twice (safety copies in the
# same second). Every file present after any step keeps its sha256 through
# all later steps; a clash gets a distinct name or fails that run (exit 1).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
pg_start
vigil_env
fixture
export FAKETIME='2025-05-05 03:00:00' FAKETIME_DONT_FAKE_MONOTONIC=1

# step NAME: after a step, no file seen so far changed or vanished.
snapshot "$BACKUP_DIR" >"$T/seen"
check_step() {
	snapshot "$BACKUP_DIR" >"$T/now"
	assert_kept "$T/seen" "$T/now"
	sort -u "$T/seen" "$T/now" >"$T/seen.new"
	mv "$T/seen.new" "$T/seen"
	assert_no_temp "$BACKUP_DIR"
	check_i1
	log "after $1: $(wc -l <"$T/now") files"
}

assert_exit 0 vigil backup
first=app_20250505_030000.sql.gz
assert_file "$BACKUP_DIR/db/$first"
assert_file "$BACKUP_DIR/media/media_20250505_030000.tar.gz"
assert_file "$BACKUP_DIR/runs/20250505_030000.json"
check_step "backup 1"

assert_exit 0,1 vigil backup
if [[ $RC == 0 ]]; then
	assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz"
	assert_count 2 "$BACKUP_DIR/media/media_*.tar.gz"
else
	assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
	assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
fi
check_step "backup 2 (rc=$RC)"

sql "DELETE FROM items WHERE id > 500" >/dev/null
assert_exit 0 vigil restore --db "$first" --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after restore 1"
assert_count 1 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
check_step "restore 1"

sql "DELETE FROM items WHERE id > 700" >/dev/null
assert_exit 0,1 vigil restore --db "$first" --yes
if [[ $RC == 0 ]]; then
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after restore 2"
	assert_count 2 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
else
	assert_eq 700 "$(sql 'SELECT count(*) FROM items')" "rows after the failed restore 2"
	assert_count 1 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
fi
check_step "restore 2 (rc=$RC)"
log "B13 ok"
