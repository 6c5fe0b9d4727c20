#!/bin/bash
# The shipped docker-compose.prod.yml (with the test override: port, 2 s
# health interval) in a real engine, issue 12 "Testing in a real Docker
# engine":
#   up -d -> db and backup healthy; PID 1 of backup is vigil; /healthz pending;
#   exec -T backup vigil backup -> files in ./backups that the host's own
#   sha256sum -c, gzip -t and tar accept; health log turns "ok";
#   exec -T backup vigil list --json -> stdout is one clean JSON array;
#   restore without a TTY: refused (exit 2, "not on a terminal"), also with
#   the right word piped in; with a TTY: a wrong word and ^D are refused
#   (exit 2, "not confirmed"), the database name restores (exit 0, the
#   deleted rows are back); --yes without a TTY restores; none hangs;
#   db stopped -> a backup fails naming host `db` and the resolver's error
#   (never "connection refused"), and Docker turns backup unhealthy.
set -u
. "$(dirname "$0")/lib.sh"
project_new
up_healthy

assert_eq /usr/local/bin/vigil "$(dc exec -T backup readlink /proc/1/exe)" "PID 1's program"
docker top "$(cid backup)" -o pid,args | tee "$PD/top"
assert_grep '^ *[0-9]+ +vigil serve$' "$PD/top" "docker top: vigil serve"
assert_grep '"status":"pending"' <(health_log backup) "health before any backup"

# Data: 1000 rows; media with non-ASCII names.
psql_db "CREATE TABLE items(id int PRIMARY KEY, t text);
	INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g;" ||
	fail "loading the fixture"
dc exec -T backup sh -c 'mkdir -p /media/fotos && head -c 300000 /dev/urandom >/media/fotos/año.jpg &&
	echo hola >/media/léeme.txt' || fail "writing media"

dc exec -T backup vigil backup >"$PD/backup.out" 2>&1
rc=$?
cat "$PD/backup.out"
assert_eq 0 "$rc" "exec -T backup vigil backup"

# The host's stock tools accept the files.
(
	set -e
	cd "$PD/backups/db"
	sha256sum -c ./*.sha256
	gzip -t ./*.sql.gz
	zcat ./*.sql.gz | grep -q 'PostgreSQL database dump complete'
	zcat ./*.sql.gz | grep -c '^[0-9]*	[0-9a-f]\{32\}$' | grep -qx 1000
	cd ../media
	sha256sum -c ./*.sha256
	gzip -t ./*.tar.gz
	tar -tzf ./*.tar.gz | sort
) >"$PD/host.out" 2>&1 || { cat "$PD/host.out"; fail "host tools rejected the backup files"; }
cat "$PD/host.out"
assert_grep '^fotos/año\.jpg$' "$PD/host.out" "tar lists the media file"
assert_grep '^léeme\.txt$' "$PD/host.out" "tar lists the media file"

# pending -> ok, as Docker's health check sees it.
for _ in $(seq 40); do
	grep -q '"status":"ok"' <(health_log backup) && break
	sleep 0.5
done
assert_grep '^200 \{"status":"ok"' <(health_log backup) "health after a backup"
assert_eq healthy "$(health backup)" "Docker's status after a backup"

# list --json through exec -T: stdout alone is the JSON.
dc exec -T backup vigil list --json >"$PD/list.json" 2>"$PD/list.err"
assert_eq 0 "$?" "list --json"
"$PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))
kinds = sorted(x["kind"] for x in a)
assert kinds == ["db", "media"], kinds
' "$PD/list.json" || { cat "$PD/list.json"; fail "list --json output is not the clean JSON array"; }

# Restores. Delete half the rows; each refused restore must leave 500.
psql_db "DELETE FROM items WHERE id > 500"
rows() { psql_db "SELECT count(*) FROM items"; }

timeout -k 5 60 docker-compose --ansi never -p "$PROJ" --project-directory "$PD" \
	-f "$IMG_ROOT/docker-compose.prod.yml" -f "$IMG_ROOT/tests/image/compose.test.yml" \
	exec -T backup vigil restore --db latest </dev/null >"$PD/r1" 2>&1
assert_eq 2 "$?" "restore, exec -T, no input"
assert_grep 'not on a terminal: add --yes' "$PD/r1" "restore without a TTY"
printf 'app\n' | timeout -k 5 60 docker-compose --ansi never -p "$PROJ" --project-directory "$PD" \
	-f "$IMG_ROOT/docker-compose.prod.yml" -f "$IMG_ROOT/tests/image/compose.test.yml" \
	exec -T backup vigil restore --db latest >"$PD/r2" 2>&1
assert_eq 2 "$?" "restore, exec -T, the name piped in"
assert_grep 'not on a terminal: add --yes' "$PD/r2" "restore without a TTY, name piped"
assert_eq 500 "$(rows)" "rows after refused restores (no TTY)"

with_tty 'nope\n' 60 exec backup vigil restore --db latest >"$PD/r3" 2>&1
assert_eq 2 "$?" "restore, TTY, a wrong word"
assert_grep 'Type the database name \(app\) to continue' "$PD/r3" "the prompt"
assert_grep 'not confirmed; nothing was changed' "$PD/r3" "restore, TTY, wrong word"
with_tty '\x04' 60 exec backup vigil restore --db latest >"$PD/r4" 2>&1
assert_eq 2 "$?" "restore, TTY, ^D (end of input)"
assert_grep 'not confirmed; nothing was changed' "$PD/r4" "restore, TTY, ^D"
assert_eq 500 "$(rows)" "rows after refused restores (TTY)"

with_tty 'app\n' 120 exec backup vigil restore --db latest >"$PD/r5" 2>&1
rc=$?
cat "$PD/r5"
assert_eq 0 "$rc" "restore, TTY, the database name typed"
assert_eq 1000 "$(rows)" "rows after the confirmed restore"

psql_db "DELETE FROM items WHERE id > 10"
timeout -k 5 120 docker-compose --ansi never -p "$PROJ" --project-directory "$PD" \
	-f "$IMG_ROOT/docker-compose.prod.yml" -f "$IMG_ROOT/tests/image/compose.test.yml" \
	exec -T backup vigil restore --db latest --yes </dev/null >"$PD/r6" 2>&1
assert_eq 0 "$?" "restore --yes, exec -T"
assert_eq 1000 "$(rows)" "rows after restore --yes"

# A failing backup: db stopped (its name leaves Docker's DNS).
dc stop -t 10 db || fail "stop db"
dc exec -T backup vigil backup --db-only >"$PD/fail.out" 2>&1
rc=$?
cat "$PD/fail.out"
assert_eq 1 "$rc" "backup with db stopped"
assert_grep '"?db"?' "$PD/fail.out" "the error names the host"
assert_no_grep 'onnection refused' "$PD/fail.out" "a DNS failure reported as connection refused"
wait_health backup unhealthy 30
assert_grep '^503 .*"status":"failing"' <(health_log backup) "health after the failed backup"
log "ok (up -> healthy in ${UP_SECS}s)"
