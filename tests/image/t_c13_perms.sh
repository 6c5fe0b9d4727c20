#!/bin/bash
# C13: ./backups bind-mounted as BACKUP_DIR with owners and modes the
# container user may not write; the postgres:15 stand-in as db. Each case is
# one sidecar (`docker run` of the image on the project's network, .env.prod,
# LOG_DIR a writable bind mount):
#   (a) ./backups root:root 0755, sidecar 999:999;
#   (d) ./backups mounted :ro, sidecar root;
#       -> found at `vigil serve` start (a probe file created and removed):
#       an ERROR naming /backups, the effective uid:gid, owner:group and
#       mode, and a fix; the daemon stays up; /healthz 503 naming /backups.
#   (b) owner 0, group 1000, mode 2775, sidecar 1000:1000 -> healthz 200,
#       `vigil backup` exit 0.
#   (c) as (b), sidecar root, BACKUP_FILE_MODE=0640 -> files 0640, dirs
#       0750 (setgid kept), group 1000: uid 1000 in group 1000 reads them,
#       others cannot.
#   (e) an old backup root 0600 in a writable directory, sidecar 999:
#       `vigil restore --db FILE --yes` fails before any destructive step
#       (no pre_restore copy, rows unchanged), naming the file and EACCES.
set -u
. "$(dirname "$0")/lib.sh"
project_new MEDIA_ALLOW_EMPTY=true
chmod 0755 "$PD" # the operator (uid 1000) must reach ./backups
dc up -d db || fail "up db"
wait_health db healthy 90
psql_db "CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)" ||
	fail "fixture"
NET=${PROJ}_default
# (by name: sidecar runs in $(...), a subshell, so it cannot record them)
at_exit 'docker ps -aq --filter "name=^$PROJ-" | xargs -r docker rm -f -v'

# sidecar NAME DIR OPTS... : start the daemon on DIR as /backups.
sidecar() {
	local c=$1 name=$PROJ-$1 dir=$2
	shift 2
	mkdir -p "$PD/logs-$c"
	chmod 0777 "$PD/logs-$c"
	docker run -d --name "$name" --network "$NET" --env-file "$PD/.env.prod" \
		-v "$dir:/backups${RO:-}" -v "$PD/logs-$c:/logs" "$@" "$VIGIL_IMAGE" >/dev/null ||
		fail "docker run $name"
	echo "$name"
}
# healthz_of NAME: wait up to 15 s for the daemon to answer; print it.
healthz_of() {
	local i out
	for ((i = 0; i < 30; i++)); do
		out=$(docker exec "$1" vigil healthcheck 2>&1) && break
		[[ $out == 503* ]] && break
		sleep 0.5
	done
	printf '%s\n' "$out"
}
# refused CASE NAME UIDGID OWNER MODE ERRNO HINT: the (a)/(d) expectations
# (EREs: the effective uid:gid, the directory's owner:group and mode, the
# strerror, the start of the fix).
refused() {
	local c=$1 n=$2 ug=$3 own=$4 mode=$5 err=$6 hint=$7
	sleep 3
	docker logs "$n" >"$PD/$c.log" 2>&1
	cat "$PD/$c.log"
	assert_eq true "$(docker inspect -f '{{.State.Running}}' "$n")" "($c) the daemon stays up"
	# (src/pipeline/startup.c's wording)
	local what="BACKUP_DIR /backups \\(owner:group $own, mode $mode\\) is not writable as uid:gid $ug: cannot create a file there: $err"
	assert_grep "ERROR start-up check failed: $what" "$PD/$c.log" "($c) the ERROR at start"
	assert_grep "ERROR start-up check failed: $what.*; hint: $hint" "$PD/$c.log" "($c) a fix"
	healthz_of "$n" >"$PD/$c.hz"
	cat "$PD/$c.hz"
	assert_grep "^503 .*\"reason\":\"start-up check failed: $what" "$PD/$c.hz" "($c) /healthz 503 with the reason"
	find "$PD/$c" -name ".vigil-probe*" | grep -q . && fail "($c) probe file left in $PD/$c" || :
}

# (a)
mkdir -p "$PD/a" && chmod 0755 "$PD/a"
n=$(sidecar a "$PD/a" --user 999:999)
refused a "$n" 999:999 0:0 0755 'Permission denied' 'on the host, chown -R 999:999 the directory mounted at /backups'

# (d)
mkdir -p "$PD/d" && chmod 0755 "$PD/d"
n=$(RO=:ro sidecar d "$PD/d")
refused d "$n" 0:0 0:0 0755 'Read-only file system; the file system is mounted read-only' \
	'remove :ro from the volume mounted at /backups'

# (b)
mkdir -p "$PD/b" && chown 0:1000 "$PD/b" && chmod 2775 "$PD/b"
n=$(sidecar b "$PD/b" --user 1000:1000)
healthz_of "$n" | tee "$PD/b.hz"
assert_grep '^200 ' "$PD/b.hz" "(b) /healthz"
docker exec "$n" vigil backup >"$PD/b.out" 2>&1
assert_eq 0 "$?" "(b) vigil backup as 1000:1000"

# (c)
mkdir -p "$PD/c" && chown 0:1000 "$PD/c" && chmod 2775 "$PD/c"
n=$(sidecar c "$PD/c" -e BACKUP_FILE_MODE=0640)
docker exec "$n" vigil backup >"$PD/c.out" 2>&1
assert_eq 0 "$?" "(c) vigil backup as root, BACKUP_FILE_MODE=0640"
(cd "$PD/c" && find db media runs -printf '%M %U:%G %p\n' | sort -k3) | tee "$PD/c.modes"
assert_no_grep '^-' <(grep -v '^-rw-r----- 0:1000 ' "$PD/c.modes") "(c) a file not 0640 root:1000"
assert_no_grep '^d' <(grep -v '^drwxr-s--- 0:1000 ' "$PD/c.modes") "(c) a directory not 2750 root:1000"
f=$(cd "$PD/c" && ls db/*.sql.gz)
setpriv --reuid 1000 --regid 1000 --clear-groups cat "$PD/c/$f" >/dev/null ||
	fail "(c) the operator (1000:1000) cannot read $f"
setpriv --reuid 1001 --regid 1001 --clear-groups cat "$PD/c/$f" >/dev/null 2>&1 &&
	fail "(c) another user (1001) can read $f"

# (e): the file of (c), made 0600 root, in a directory 999 may write.
mkdir -p "$PD/e" && cp -a "$PD/c/." "$PD/e/" && chown -R 999:999 "$PD/e"
chown 0:0 "$PD/e/$f" && chmod 0600 "$PD/e/$f"
n=$(sidecar e "$PD/e" --user 999:999)
psql_db "DELETE FROM items WHERE id > 50"
docker exec "$n" vigil restore --db "$(basename "$f")" --yes >"$PD/e.out" 2>&1
rc=$?
cat "$PD/e.out"
[[ $rc == 1 || $rc == 2 ]] || fail "(e) restore exit $rc, expected 1 or 2"
assert_grep "$(basename "$f").*(Permission denied|EACCES)" "$PD/e.out" "(e) EACCES naming the file"
assert_eq 50 "$(psql_db 'SELECT count(*) FROM items')" "(e) rows after the refused restore"
ls "$PD/e/db" | grep -q pre_restore && fail "(e) a safety copy was taken (a destructive step began)"
log ok
