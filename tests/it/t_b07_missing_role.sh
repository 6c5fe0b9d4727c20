#!/bin/bash
# FIELD-CASES B07: restoring into another cluster where an owner role (a) or
# an extension (b) is missing. vigil's documented outcome: the load stops at
# the failing statement (psql ON_ERROR_STOP, one transaction), the restore
# exits 1 naming the cause, and the target database is exactly as before;
# never exit 0 with anything missing.
#   (a) source: items owned by app_owner; target cluster without that role,
#       restored as `restorer` (LOGIN CREATEDB, not superuser, owner of an
#       `app` of 10 rows) with the default scratch-database swap, then with
#       --in-place as restorer without CREATEDB: exit 1, the message says
#       role "app_owner" does not exist, `app` unchanged, no scratch database.
#   (b) a hand-made dump (real pg_dump header and trailer, matching .sha256)
#       with `CREATE EXTENSION IF NOT EXISTS no_such_ext;`: exit != 0, the
#       message names no_such_ext, `app` unchanged (both modes).
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

# ---- source cluster: items owned by app_owner, one good backup
pg_start src
vigil_env
fixture
sql "CREATE ROLE app_owner; ALTER TABLE items OWNER TO app_owner;" >/dev/null ||
	fail "setup: app_owner"
assert_exit 0 vigil backup
good=$(cd "$BACKUP_DIR/db" && echo app_*.sql.gz)
[[ -f $BACKUP_DIR/db/$good ]] || fail "no db backup"
gzip -dc "$BACKUP_DIR/db/$good" | grep -q 'OWNER TO app_owner;' ||
	fail "setup: the dump does not set the owner app_owner"

# ---- target cluster: no app_owner; restorer owns an `app` of 10 rows
pg_start dst
RPW="restorer_pw_$RANDOM$RANDOM"
sql - postgres <<-EOF >/dev/null || fail "setup: restorer"
	CREATE ROLE restorer LOGIN CREATEDB PASSWORD '$RPW';
	ALTER DATABASE app OWNER TO restorer;
EOF
sql "CREATE TABLE items(id int primary key, t text);
     INSERT INTO items SELECT g, 'target ' || g FROM generate_series(1,10) g;
     ALTER TABLE items OWNER TO restorer;
     CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);
     ALTER TABLE marker OWNER TO restorer;" >/dev/null || fail "setup: target app"
[[ -z $(sql "SELECT 1 FROM pg_roles WHERE rolname = 'app_owner'" postgres) ]] ||
	fail "setup: app_owner exists in the target cluster"
export POSTGRES_USER=restorer POSTGRES_PASSWORD=$RPW
pg_dump_norm >"$T/target-before.sql"

# unchanged WHAT: the target database is exactly as before, and no scratch
# or old copy of it was left behind.
unchanged() {
	local what=$1 left
	assert_eq 10 "$(sql 'SELECT count(*) FROM items')" "$what: rows in items"
	assert_eq 42 "$(sql 'SELECT x FROM marker')" "$what: marker row"
	assert_eq restorer "$(sql "SELECT tableowner FROM pg_tables WHERE tablename = 'items'")" \
		"$what: owner of items"
	pg_dump_norm >"$T/target-after.sql"
	diff -u "$T/target-before.sql" "$T/target-after.sql" >"$T/target.diff" ||
		fail "$what: database changed: $(head -n 20 "$T/target.diff")"
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "$what: scratch database(s) left: $left"
	assert_no_temp "$BACKUP_DIR"
}

# ---- (a) default mode: scratch database, then swap
log "(a) default mode, restorer with CREATEDB"
wait_next_second
assert_exit 1 vigil restore --db "$good" --yes
assert_contains "$ERR" "$(srvmsg 'role "app_owner" does not exist' 'no existe el rol «app_owner»')"
assert_contains "$LOG_DIR/restore.log" "$(srvmsg 'role "app_owner" does not exist' 'no existe el rol «app_owner»')"
assert_match "$ERR" 'ERROR .*restore failed'
unchanged "(a) default mode"

# ---- (a) --in-place, restorer without CREATEDB
log "(a) --in-place, restorer without CREATEDB"
sql "ALTER ROLE restorer NOCREATEDB" postgres >/dev/null
wait_next_second
: >"$LOG_DIR/restore.log"
assert_exit 1 vigil restore --db "$good" --yes --in-place
assert_contains "$ERR" "$(srvmsg 'role "app_owner" does not exist' 'no existe el rol «app_owner»')"
assert_contains "$LOG_DIR/restore.log" "$(srvmsg 'role "app_owner" does not exist' 'no existe el rol «app_owner»')"
unchanged "(a) --in-place"
# Without --in-place and without CREATEDB it cannot even make the scratch
# database: still exit 1, still unchanged.
wait_next_second
assert_exit 1 vigil restore --db "$good" --yes
unchanged "(a) default mode without CREATEDB"
sql "ALTER ROLE restorer CREATEDB" postgres >/dev/null

# ---- (b) a dump that needs an extension the cluster does not have
log "(b) CREATE EXTENSION IF NOT EXISTS no_such_ext"
sql "CREATE DATABASE seed OWNER restorer" postgres >/dev/null
POSTGRES_DB=seed sql "CREATE TABLE items(id int primary key, t text);
     INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1,1000) g;
     ALTER TABLE items OWNER TO restorer;" >/dev/null || fail "setup: seed"
ext=app_20200101_000001.sql.gz
"$PGBIN/pg_dump" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d seed |
	sed '/^SET row_security = off;$/a CREATE EXTENSION IF NOT EXISTS no_such_ext;' |
	gzip >"$BACKUP_DIR/db/$ext"
(cd "$BACKUP_DIR/db" && sha256sum "$ext" >"$ext.sha256")
gzip -dc "$BACKUP_DIR/db/$ext" | grep -qx 'CREATE EXTENSION IF NOT EXISTS no_such_ext;' ||
	fail "setup: no CREATE EXTENSION line"
gzip -dc "$BACKUP_DIR/db/$ext" | head -n 3 | grep -q '^-- PostgreSQL database dump$' ||
	fail "setup: header lost"
dump_complete "$BACKUP_DIR/db/$ext" || fail "setup: trailer lost"
# Validation alone accepts it: only the load can find the problem.
assert_exit 0 vigil verify "$ext"

for mode in default in-place; do
	args=(restore --db "$ext" --yes)
	[[ $mode == in-place ]] && args+=(--in-place)
	wait_next_second
	: >"$LOG_DIR/restore.log"
	assert_exit nz vigil "${args[@]}"
	assert_contains "$ERR" no_such_ext
	assert_contains "$LOG_DIR/restore.log" no_such_ext
	unchanged "(b) $mode"
done
log "B07 ok"
