#!/bin/bash
# Issue 9 item 10 (TRIAL F3): databases too large for one transaction's
# share of the server's lock table, at default lock settings
# (max_locks_per_transaction 64; this cluster has max_connections 50).
#   (a) 20 000 large objects (lo_from_bytea), plain and custom format:
#       `verify` exits 0 and WARNs that one transaction needs about 20 000
#       locks, naming max_locks_per_transaction and the value to set; the
#       default restore (scratch database, statement by statement) exits 0
#       and the database equals the source (pg_dump before/after);
#       `--in-place` exits 1 with vigil's hint "set max_locks_per_transaction
#       to at least", and the live database is unchanged.
#   (b) schema-per-tenant: 300 schemas x 10 tables (each with a primary key
#       and a text column, one row each): the default restore exits 0 with
#       the row check passed, and the database equals the source.
# Both: no scratch database left behind.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

pg_start
vigil_env

no_scratch() {
	local left
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "$1: scratch database(s) left: $left"
}

# ---- (a) 20 000 large objects
sql "CREATE TABLE docs(id int PRIMARY KEY, f oid);
     INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to('doc ' || g, 'UTF8'))
       FROM generate_series(1, 20000) g;" >/dev/null || fail "setup: large objects"
pg_dump_norm >"$T/src.sql"

for fmt in plain custom; do
	log "(a) 20000 large objects, BACKUP_FORMAT=$fmt"
	wait_next_second
	assert_exit 0 vigil BACKUP_FORMAT=$fmt backup --db-only
	assert_exit 0 vigil verify latest
	assert_match "$OUT" 'needs about 200[0-9][0-9] locks'
	assert_contains "$OUT" 'max_locks_per_transaction 64 x (max_connections 50 + max_prepared_transactions 0) = 3200'
	assert_contains "$OUT" 'hint: set max_locks_per_transaction to at least 448'
	assert_contains "$ERR" "WARN verify"

	wait_next_second
	assert_exit 0 vigil restore --db latest --yes --no-safety-backup
	assert_eq 20000 "$(sql 'SELECT count(*) FROM pg_largeobject_metadata')" "$fmt: large objects"
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" || fail "$fmt: restored database differs: $(head -n 20 "$T/diff")"
	no_scratch "$fmt default"

	# --in-place needs one transaction: refused by the server's lock table,
	# with the way out; nothing changed.
	sql "CREATE TABLE marker(x int); INSERT INTO marker VALUES (42)" >/dev/null
	pg_dump_norm >"$T/before-inplace.sql"
	wait_next_second
	assert_exit 1 vigil restore --db latest --yes --in-place --no-safety-backup
	assert_contains "$ERR" 'restore failed'
	assert_contains "$ERR" 'hint: set max_locks_per_transaction to at least 448 and restart PostgreSQL'
	assert_contains "$ERR" 'or restore without --in-place'
	pg_dump_norm >"$T/after-inplace.sql"
	diff -u "$T/before-inplace.sql" "$T/after-inplace.sql" >"$T/diff" ||
		fail "$fmt: failed --in-place changed the database: $(head -n 20 "$T/diff")"
	assert_eq 42 "$(sql 'SELECT x FROM marker')" "$fmt: marker after failed --in-place"
	sql "DROP TABLE marker" >/dev/null
	no_scratch "$fmt in-place"
done

# ---- (b) 300 schemas x 10 tables
log "(b) 300 schemas x 10 tables"
sql "CREATE DATABASE tenants" postgres >/dev/null
# One transaction per schema: all of it in one would hit the lock table too.
for ((s = 1; s <= 300; s++)); do
	printf 'DO $$ BEGIN FOR t IN 1..10 LOOP
	  EXECUTE format(%s, t); EXECUTE format(%s, t, t); END LOOP; END $$;\n' \
		"'CREATE TABLE IF NOT EXISTS t$s.tab%s(id int PRIMARY KEY, v text)'" \
		"'INSERT INTO t$s.tab%s VALUES (%s, ''tenant $s'')'" |
		sed "1i CREATE SCHEMA t$s;"
done >"$T/tenants.sql"
sql -f "$T/tenants.sql" tenants >/dev/null || fail "setup: tenants"
pg_dump_norm tenants >"$T/tenants-src.sql"
export POSTGRES_DB=tenants
wait_next_second
assert_exit 0 vigil backup --db-only
assert_exit 0 vigil verify latest
assert_contains "$OUT" 'hint: set max_locks_per_transaction to at least'
wait_next_second
assert_exit 0 vigil restore --db latest --yes --no-safety-backup
assert_contains "$OUT" '3000 tables, 3000 rows'
assert_eq 3000 "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname LIKE 't%'" tenants)" "tables"
pg_dump_norm tenants >"$T/tenants-after.sql"
diff -u "$T/tenants-src.sql" "$T/tenants-after.sql" >"$T/diff" ||
	fail "tenants: restored database differs: $(head -n 20 "$T/diff")"
no_scratch tenants
log "big restore ok"
