#!/bin/bash
# SIGTERM/SIGINT during a restore's load (I4, README "Exit codes" "128+N"): the
# load is abandoned at once, psql is killed before it commits, the scratch
# database is dropped, the live database is exactly as before and no
# pre_restore_* copy is left (copies follow the load).
#
# Hand-made, otherwise valid dumps (real pg_dump of the fixture, matching
# .sha256) hold `SELECT pg_sleep(60);` so the load is known to be busy:
#   end:    just before pg_dump's trailer, after vigil fed everything and
#           waits for psql (a long index build looks like this);
#   middle: after the first COPY, followed by 2 MB of comments, so vigil
#           is blocked writing to psql.
# Each gets SIGTERM (default swap; also --in-place for "end") or SIGINT
# once pg_sleep runs. Expect: exit 143 (130 for SIGINT) within 5 s, the
# loading session gone within 3 s (in place it would hold the live
# database's locks), no `_vigil_` database, database unchanged.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
sql "CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);" >/dev/null
DB=$BACKUP_DIR/db
mkdir -p "$DB"
pg_dump_norm >"$T/full.sql"
sql "DELETE FROM items WHERE id > 10" >/dev/null
pg_dump_norm >"$T/before.sql"

# handmade N: stdin to db/app_20200101_00000N.sql.gz plus .sha256; prints the name.
handmade() { gzip | put_backup "app_20200101_00000$1.sql.gz"; }
end=$(sed 's/^-- PostgreSQL database dump complete/SELECT pg_sleep(60);\n&/' "$T/full.sql" | handmade 1)
head -c 1500000 /dev/urandom | base64 -w 76 | sed 's/^/-- /' >"$T/pad"
middle=$(awk -v pad="$T/pad" '{print} /^\\\.$/ && !done {print "SELECT pg_sleep(60);";
	while ((getline l < pad) > 0) print l; done = 1}' "$T/full.sql" | handmade 2)
gzip -dc "$DB/$middle" | tail -6 | grep -q 'dump complete' || fail "setup: middle lost its trailer"

# sleeping: the load runs its pg_sleep (and vigil, $RPID, still runs).
sleeping() {
	_alive "$RPID" || { cat "$T/err"; fail "vigil ended before the sleep"; }
	[[ -n $(sql "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'" postgres) ]]
}
session_gone() {
	[[ -z $(sql "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'" postgres) ]]
}

stop_during_sleep() {
	local what=$1 sig=$2 want=$3 file=$4 t0 rc
	shift 4
	log "case: $what"
	"$VIGIL" restore --db "$file" --yes "$@" >"$T/out" 2>"$T/err" &
	RPID=$!
	wait_until 20 "$what: the load's pg_sleep" sleeping
	t0=$(now_us)
	kill -"$sig" "$RPID"
	wait "$RPID"
	rc=$?
	assert_eq "$want" "$rc" "$what: exit code"
	(($(now_us) - t0 < 5000000)) || fail "$what: took 5 s or more"
	assert_contains "$T/err" "stopped by signal"
	# The backend notices its killed psql within client_connection_check_interval (1 s).
	wait_until 3 "$what: the loading session to end" session_gone
	assert_eq "" "$(sql "SELECT datname FROM pg_database WHERE datname LIKE '%vigil%'" postgres)" \
		"$what: scratch database left behind"
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/before.sql" "$T/after.sql" >/dev/null || fail "$what: the live database changed"
	assert_no_file "$DB/pre_restore_*"
}

stop_during_sleep "SIGTERM, vigil waits for psql" TERM 143 "$end"
stop_during_sleep "SIGTERM, vigil blocked writing to psql" TERM 143 "$middle"
stop_during_sleep "SIGINT, vigil waits for psql" INT 130 "$end"
stop_during_sleep "SIGTERM, in place" TERM 143 "$end" --in-place --no-safety-backup
assert_no_temp "$BACKUP_DIR"
log "restore signal ok"
