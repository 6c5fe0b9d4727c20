#!/bin/bash
# Issue 9 item 12 (TRIAL F10): POSTGRES_DB=postgres (the official image's
# default) is backed up, and restorable:
#   - the default restore (scratch database made and swapped in from
#     template1) exits 0; `postgres` equals the backed-up database and no
#     scratch or old copy is left;
#   - `--in-place` exits 0 with the same result;
#   - `--target-db postgres` for another database's backup (POSTGRES_DB=app)
#     is still refused with exit 2 and "cannot be a restore target", and
#     `postgres` is unchanged.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

pg_start
vigil_env
export POSTGRES_DB=postgres
fixture
pg_dump_norm >"$T/src.sql"
assert_exit 0 vigil backup --db-only
ls "$BACKUP_DIR"/db/postgres_*.sql.gz >/dev/null || fail "no backup of postgres"

left() {
	local l
	l=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" template1)
	[[ -z $l ]] || fail "$1: left behind: $l"
}

log "default restore of postgres"
sql "DELETE FROM items WHERE id > 10; CREATE TABLE extra(x int)" >/dev/null
wait_next_second
assert_exit 0 vigil restore --db latest --yes --no-safety-backup
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the default restore"
pg_dump_norm >"$T/after.sql"
diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" || fail "default: differs: $(head -n 20 "$T/diff")"
left default

log "--in-place restore of postgres"
sql "DELETE FROM items WHERE id > 10; CREATE TABLE extra(x int)" >/dev/null
wait_next_second
assert_exit 0 vigil restore --db latest --yes --in-place
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after --in-place"
pg_dump_norm >"$T/after.sql"
diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" || fail "in-place: differs: $(head -n 20 "$T/diff")"
left in-place

log "--target-db postgres for app's backup: still refused"
export POSTGRES_DB=app
sql "CREATE TABLE a(x int)" app >/dev/null
wait_next_second
assert_exit 0 vigil backup --db-only
wait_next_second
assert_exit 2 vigil restore --db latest --yes --target-db postgres
assert_contains "$ERR" 'cannot be a restore target'
pg_dump_norm postgres >"$T/after.sql"
diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" || fail "refused: postgres changed"
log "postgres database ok"
