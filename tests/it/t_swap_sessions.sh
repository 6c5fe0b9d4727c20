#!/bin/bash
# TRIAL F12: the swap cannot end the application's sessions - vigil runs as
# `owner` (owner of app, CREATEDB, not superuser) and two sessions of
# another role (`webapp`) sit in app. The restore gives up within 40 s
# (each of the 40 rename attempts is bounded; it took about 200 s when each
# waited 5 s), exit 1, "cannot swap the restored database in"; the
# "cannot end sessions" WARN appears once, with the pg_signal_backend hint;
# app is unchanged and the scratch database is dropped.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

pg_start
vigil_env
OPW="owner_pw_$RANDOM$RANDOM"
sql - postgres <<-EOF2 >/dev/null || fail "setup: roles"
	CREATE ROLE owner LOGIN CREATEDB PASSWORD '$OPW';
	CREATE ROLE webapp LOGIN;
	ALTER DATABASE app OWNER TO owner;
EOF2
sql "CREATE TABLE items(id int primary key, t text);
     INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1,100) g;
     ALTER TABLE items OWNER TO owner;" >/dev/null || fail "setup: items"
export POSTGRES_USER=owner POSTGRES_PASSWORD=$OPW
assert_exit 0 vigil backup --db-only
sql "DELETE FROM items WHERE id > 10" >/dev/null
pg_dump_norm >"$T/before.sql"

pids=()
for i in 1 2; do
	"$PGBIN/psql" -h "$PGHOST_T" -p "$PGPORT_T" -U webapp -d app -Xqc "SELECT pg_sleep(300)" \
		>/dev/null 2>&1 &
	pids+=($!)
done
at_exit "kill ${pids[*]} 2>/dev/null"
for _ in $(seq 50); do
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'webapp'" postgres) == 2 ]] && break
	sleep 0.1
done

wait_next_second
t0=$(date +%s)
assert_exit 1 vigil restore --db latest --yes --no-safety-backup
secs=$(($(date +%s) - t0))
((secs <= 40)) || fail "the swap took $secs s to give up"
log "gave up after $secs s"
assert_contains "$ERR" 'cannot swap the restored database in'
assert_contains "$ERR" 'hint: a role that is not superuser can only end sessions of roles it is a member of'
assert_eq 1 "$(grep -c 'WARN cannot end sessions on app' "$ERR")" "WARN lines about ending sessions"
pg_dump_norm >"$T/after.sql"
diff -u "$T/before.sql" "$T/after.sql" >/dev/null || fail "app changed"
left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
[[ -z $left ]] || fail "scratch database left: $left"
kill "${pids[@]}" 2>/dev/null
log "swap with sessions that cannot be ended ok"
