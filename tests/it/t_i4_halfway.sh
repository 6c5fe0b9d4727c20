#!/bin/bash
# Invariant I4 (restore is all or nothing) for a load that fails halfway.
# Hand-made, otherwise valid dumps (real pg_dump of 1000 rows, header and
# trailer kept, matching .sha256) with one failing statement injected:
#   late:  `INSERT INTO nonexistent VALUES (1);` just before the trailer,
#          after every table, row and constraint was loaded;
#   mid:   the same statement between the two tables' data (one table is
#          fully loaded, the other not yet).
# Each is restored with the default scratch-database swap and with
# --in-place. Expect: exit 1 naming the failing relation, the live database
# exactly as before (pg_dump_norm identical), no database with `_vigil_` in
# its name left behind, no temporary file in BACKUP_DIR.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil
pg_start
vigil_env

# The live database: differs from the dump in rows, tables and a view, so
# any partial load would show in the comparison.
fixture
sql "DELETE FROM items WHERE id > 10;
     UPDATE items SET t = 'live ' || id;
     CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);
     CREATE VIEW live_view AS SELECT count(*) AS n FROM items;
     CREATE SEQUENCE live_seq START 77;" >/dev/null || fail "setup: live database"

# The dumps come from another database with the fixture and a second table.
sql "CREATE DATABASE seed" postgres >/dev/null
POSTGRES_DB=seed fixture
POSTGRES_DB=seed sql "CREATE TABLE zz_other(id int primary key, v text);
     INSERT INTO zz_other SELECT g, 'v' || g FROM generate_series(1,500) g;" >/dev/null
pg_dump_norm seed >"$T/seed-norm.sql"
"$PGBIN/pg_dump" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d seed >"$T/seed.sql" ||
	fail "setup: pg_dump seed"

mkdir -p "$BACKUP_DIR/db"
# handmade N AWK_PROGRAM: seed.sql through awk into db/app_20200101_00000N.sql.gz
# plus its .sha256; prints the name.
handmade() { awk "$2" "$T/seed.sql" | gzip | put_backup "app_20200101_00000$1.sql.gz"; }
BAD='INSERT INTO nonexistent VALUES (1);'
# late: before the "--" line that opens the trailer comment.
# shellcheck disable=SC2016 # awk programs
late=$(handmade 1 '{ l[NR] = $0 }
	END { for (i = 1; i <= NR; i++) {
		if (l[i] == "--" && l[i+1] == "-- PostgreSQL database dump complete") print "'"$BAD"'"
		print l[i] } }')
# mid: right after the end of the first COPY block (items), before zz_other's.
mid=$(handmade 2 '{ print } /^\\\.$/ && !done { print "'"$BAD"'"; done = 1 }')

for f in "$late" "$mid"; do
	[[ $(gzip -dc "$BACKUP_DIR/db/$f" | grep -cxF "$BAD") == 1 ]] || fail "setup: $f lacks the bad statement"
	dump_complete "$BACKUP_DIR/db/$f" || fail "setup: $f lost its trailer"
	gzip -dc "$BACKUP_DIR/db/$f" | grep -q '^COPY public.zz_other' || fail "setup: $f lost zz_other"
done
# Where the statement sits: "late" after the constraints, "mid" between the
# two COPY blocks.
gzip -dc "$BACKUP_DIR/db/$late" | sed -n "/^ADD CONSTRAINT\|ADD CONSTRAINT/,\$p" | grep -qxF "$BAD" ||
	fail "setup: the late statement is not after the constraints"
gzip -dc "$BACKUP_DIR/db/$mid" | sed -n '/^COPY public.items/,/^COPY public.zz_other/p' | grep -qxF "$BAD" ||
	fail "setup: the mid statement is not between the COPY blocks"
# Control: without the bad line the same dump restores (so the failure
# below really comes from that statement).
good=$(handmade 3 '{ print }')

pg_dump_norm >"$T/before.sql"

unchanged() {
	local what=$1 left
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/before.sql" "$T/after.sql" >"$T/diff" ||
		fail "$what: the database changed: $(head -n 30 "$T/diff")"
	assert_eq 10 "$(sql 'SELECT count(*) FROM items')" "$what: rows in items"
	assert_eq 42 "$(sql 'SELECT x FROM marker')" "$what: marker"
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "$what: database(s) left behind: $left"
	assert_eq "app postgres seed template0 template1" \
		"$(sql "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database" postgres)" \
		"$what: databases of the cluster"
	assert_no_temp "$BACKUP_DIR"
}

for f in "$late" "$mid"; do
	for mode in default in-place; do
		args=(restore --db "$f" --yes)
		[[ $mode == in-place ]] && args+=(--in-place)
		log "case: $f $mode"
		wait_next_second
		assert_exit 1 vigil "${args[@]}"
		assert_contains "$ERR" "$(srvmsg 'relation "nonexistent" does not exist' 'no existe la relación «nonexistent»')"
		assert_contains "$LOG_DIR/restore.log" "$(srvmsg 'relation "nonexistent" does not exist' 'no existe la relación «nonexistent»')"
		unchanged "$f $mode"
	done
done

# The control restores completely, both ways.
for mode in default in-place; do
	args=(restore --db "$good" --yes --no-safety-backup)
	[[ $mode == in-place ]] && args+=(--in-place)
	log "control: $mode"
	wait_next_second
	assert_exit 0 vigil "${args[@]}"
	pg_dump_norm >"$T/restored.sql"
	diff -u "$T/seed-norm.sql" "$T/restored.sql" >"$T/diff" ||
		fail "control $mode: restored database differs from the seed: $(head -n 30 "$T/diff")"
	sql "DROP TABLE zz_other" >/dev/null # the in-place run must remove it again
done
log "I4 halfway ok"
