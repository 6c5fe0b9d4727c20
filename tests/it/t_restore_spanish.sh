#!/bin/bash
# Issue 9: restores against a server whose messages are in Spanish
# (lc_messages = es_ES.UTF-8). vigil decides by SQLSTATE and the catalogs,
# never by a message's text, so:
#   - the default restore (safety copy, scratch, swap) exits 0, and the
#     database equals the backup;
#   - `--target-db` a database that does not exist exits 0 (no safety copy
#     needed: decided from pg_database, not from "does not exist");
#   - `--in-place` exits 0;
#   - a failing restore (an owner role missing) exits 1 with vigil's
#     "restore failed", the live database unchanged, no scratch left;
#   - `--in-place` of 20 000 large objects exits 1 with vigil's hint
#     "set max_locks_per_transaction to at least" (SQLSTATE 53200).
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

need_locale es_ES.UTF-8
IT_PG_LC_MESSAGES=es_ES.UTF-8 pg_start
vigil_env
sql "SELECT 1/0" >"$T/es.out" 2>&1 && fail "setup: 1/0 succeeded"
grep -q 'división por cero' "$T/es.out" || fail "setup: server messages are not Spanish: $(cat "$T/es.out")"
fixture
pg_dump_norm >"$T/src.sql"
assert_exit 0 vigil backup --db-only

no_scratch() {
	local l
	l=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $l ]] || fail "$1: left behind: $l"
}
same() {
	pg_dump_norm "${2:-app}" >"$T/after.sql"
	diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" || fail "$1: differs: $(head -n 20 "$T/diff")"
}

log "default restore"
sql "DELETE FROM items WHERE id > 10" >/dev/null
wait_next_second
assert_exit 0 vigil restore --db latest --yes
assert_contains "$ERR" 'restore safety copy'
same default
no_scratch default

log "--target-db a new database"
wait_next_second
assert_exit 0 vigil restore --db latest --yes --target-db fresh
assert_contains "$ERR" 'database fresh does not exist; no safety copy needed'
same target-db fresh
no_scratch target-db

log "--in-place"
sql "DELETE FROM items WHERE id > 10" >/dev/null
wait_next_second
assert_exit 0 vigil restore --db latest --yes --in-place --no-safety-backup
same in-place

log "a failing restore: the owner role is missing"
sql "CREATE ROLE gone; ALTER TABLE items OWNER TO gone" >/dev/null
wait_next_second
assert_exit 0 vigil backup --db-only
sql "ALTER TABLE items OWNER TO postgres; DROP ROLE gone" >/dev/null
pg_dump_norm >"$T/src.sql"
for mode in default in-place; do
	args=(restore --db latest --yes --no-safety-backup)
	[[ $mode == in-place ]] && args+=(--in-place)
	wait_next_second
	assert_exit 1 vigil "${args[@]}"
	assert_contains "$ERR" 'ERROR restore failed: psql exited 3'
	assert_contains "$ERR" '42704' # undefined_object, whatever the language
	same "failing $mode"
	no_scratch "failing $mode"
done

log "--in-place out of the lock table"
sql "CREATE TABLE docs(id int, f oid);
     INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to('doc ' || g, 'UTF8'))
       FROM generate_series(1, 20000) g;" >/dev/null || fail "setup: large objects"
pg_dump_norm >"$T/src.sql"
wait_next_second
assert_exit 0 vigil backup --db-only
wait_next_second
assert_exit 1 vigil restore --db latest --yes --in-place --no-safety-backup
assert_contains "$ERR" 'hint: set max_locks_per_transaction to at least'
same "in-place, out of locks"
log "Spanish server messages ok"
