#!/bin/bash
# Issue 9 item 11 (TRIAL F9): `restore --in-place` of a database holding
# objects that live outside any schema. For each kind - a publication; a
# foreign-data wrapper with a server and a user mapping; postgres_fdw's
# (extension-owned) wrapper with a server, a user mapping and a foreign
# table; an event trigger - on its own and then all together:
# backup, change the data, `restore --in-place --yes` exits 0, and the
# database equals the backed-up one (pg_dump before/after identical).
set -u
. "$(dirname "$0")/lib.sh"
it_setup

roundtrip() {
	local what=$1
	log "$what"
	pg_dump_norm >"$T/src.sql"
	wait_next_second
	assert_exit 0 vigil backup --db-only
	# Change the data, so the restore has something to undo.
	sql "DELETE FROM items WHERE id > 500" >/dev/null
	wait_next_second
	assert_exit 0 vigil restore --db latest --yes --in-place --no-safety-backup
	assert_contains "$OUT" 'restore complete'
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "$what: rows"
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/src.sql" "$T/after.sql" >"$T/diff" ||
		fail "$what: database differs after --in-place: $(head -n 30 "$T/diff")"
}

sql "CREATE PUBLICATION pub FOR TABLE items" >/dev/null || fail "setup: publication"
roundtrip "publication"
sql "DROP PUBLICATION pub" >/dev/null

sql "CREATE FOREIGN DATA WRAPPER dummy;
     CREATE SERVER srv FOREIGN DATA WRAPPER dummy;
     CREATE USER MAPPING FOR postgres SERVER srv;" >/dev/null || fail "setup: fdw"
roundtrip "foreign-data wrapper, server, user mapping"
sql "DROP FOREIGN DATA WRAPPER dummy CASCADE" >/dev/null

sql "CREATE EXTENSION postgres_fdw;
     CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
     CREATE USER MAPPING FOR PUBLIC SERVER remote OPTIONS (user 'nobody');
     CREATE FOREIGN TABLE ft(a int) SERVER remote;" >/dev/null || fail "setup: postgres_fdw"
roundtrip "postgres_fdw server, user mapping, foreign table"
sql "DROP EXTENSION postgres_fdw CASCADE" >/dev/null

sql "CREATE FUNCTION public.no_drop() RETURNS event_trigger LANGUAGE plpgsql AS
       \$\$ BEGIN RAISE EXCEPTION 'no drops here'; END \$\$;
     CREATE EVENT TRIGGER guard ON sql_drop EXECUTE FUNCTION public.no_drop();" >/dev/null ||
	fail "setup: event trigger"
roundtrip "event trigger (one that refuses every drop)"

sql "CREATE PUBLICATION pub FOR TABLE items;
     CREATE FOREIGN DATA WRAPPER dummy;
     CREATE SERVER srv FOREIGN DATA WRAPPER dummy;
     CREATE USER MAPPING FOR postgres SERVER srv;" >/dev/null || fail "setup: all"
roundtrip "all kinds together"
log "in-place database-level objects ok"
