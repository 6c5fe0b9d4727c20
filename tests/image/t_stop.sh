#!/bin/bash
# `docker-compose stop backup` during a long backup (issue 12): a run the
# daemon started (BACKUP_ON_START=true) waits for a table that another
# session holds with LOCK TABLE in an open transaction. Expect: the stop
# takes less than stop_grace_period (30 s; vigil needs about 5 s), the
# container's exit code is 143 (README: serve exits 128+N when the stop
# interrupted a run), no .vigil-tmp-* file is left, the run is recorded as
# "interrupted"; the next start (with the lock gone) makes a new backup and
# removes none of the good files made before.
set -u
. "$(dirname "$0")/lib.sh"
project_new BACKUP_ON_START=true MEDIA_ALLOW_EMPTY=true

dc up -d db || fail "up db"
wait_health db healthy 90
psql_db "CREATE TABLE items(id int PRIMARY KEY, t text);
	INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g;" || fail "fixture"
up_healthy
# The start run's success is the good backup that must survive.
for _ in $(seq 60); do
	grep -q '^200 {"status":"ok"' <(health_log backup) && break
	sleep 0.5
done
assert_grep '^200 \{"status":"ok"' <(health_log backup) "the start run did not succeed"
(cd "$PD/backups" && find db media -type f -name '*.sha256' | sort) >"$PD/good"
assert_eq 2 "$(wc -l <"$PD/good")" "good backup files (db, media) after the start run"

# Hold the lock, then restart backup: its start run waits for the lock.
dc exec -T db psql -U app -d app -Xq -c "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;
	SELECT pg_sleep(600);" >/dev/null 2>&1 &
lockpid=$!
at_exit "kill $lockpid"
for _ in $(seq 40); do
	[[ $(psql_db "SELECT count(*) FROM pg_locks WHERE relation = 'items'::regclass AND granted
		AND mode = 'AccessExclusiveLock'") == 1 ]] && break
	sleep 0.25
done
dc restart -t 30 backup || fail "restart backup"
for _ in $(seq 80); do
	[[ $(psql_db "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") -ge 1 ]] && break
	sleep 0.25
done
psql_db "SELECT application_name, state, wait_event_type, query FROM pg_stat_activity
	WHERE wait_event_type = 'Lock'" | tee "$PD/waiting"
assert_eq 1 "$(wc -l <"$PD/waiting")" "pg_dump waiting for the lock"
sleep 1
ls -la "$PD/backups/db"

t0=$(date +%s.%N)
dc stop backup || fail "docker-compose stop backup"
secs=$(echo "$(date +%s.%N) - $t0" | bc)
log "docker-compose stop backup took ${secs}s (stop_grace_period 30s)"
(($(echo "$secs < 25" | bc))) || fail "the stop took ${secs}s (Docker would SIGKILL at 30 s)"
assert_eq 143 "$(docker inspect -f '{{.State.ExitCode}}' "$(cid backup)")" "exit code of the stopped daemon"
assert_eq false "$(docker inspect -f '{{.State.OOMKilled}}' "$(cid backup)")" "OOM"
find "$PD/backups" -name '.vigil-tmp-*' >"$PD/tmpleft"
[[ ! -s $PD/tmpleft ]] || { cat "$PD/tmpleft"; fail "temporary files left after the stop"; }
grep -l '"interrupted"' "$PD"/backups/runs/*.json >"$PD/intr" || fail "no run manifest says interrupted"

# Lock gone, next start: a new good backup, the old one intact.
kill "$lockpid" 2>/dev/null
psql_db "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null
dc start backup || fail "start backup"
for _ in $(seq 60); do
	grep -q '^200 {"status":"ok"' <(health_log backup) && break
	sleep 0.5
done
assert_grep '^200 \{"status":"ok"' <(health_log backup) "health after the next start's run"
while read -r f; do
	(cd "$PD/backups/${f%%/*}" && sha256sum -c "${f#*/}") || fail "good file $f damaged or removed"
done <"$PD/good"
n=$(cd "$PD/backups" && find db media -type f -name '*.sha256' | wc -l)
assert_eq 4 "$n" "backup files after the next start (2 old + 2 new)"
log "ok (stop took ${secs}s)"
