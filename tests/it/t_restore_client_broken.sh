#!/bin/bash
# A pg_restore that cannot run (exit 127, the shells' "not found") or dies
# of a signal says nothing about the backup: verify, backup's check before
# commit and restore's validation report it as `child` (exit 1, "restore
# failed"), never as a corrupt file (restore used to refuse a good backup,
# exit 2, telling the operator in a recovery that the backup was bad).
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only
name=$(cd "$BACKUP_DIR/db" && ls app_*.dump)

for body in 'kill -KILL $$' 'echo "pg_restore: not here" >&2; exit 127'; do
	make_shim pg_restore "$body"
	log "pg_restore shim: $body"
	assert_exit 1 vigil PATH="$T/shim:$PATH" verify "$name"
	assert_output_match "^FAILED +db +$name: pg_restore --list (killed by signal 9|exited 127).*; hint: is the PostgreSQL client installed and on PATH\\? The backup file was not judged"
	assert_exit 1 vigil PATH="$T/shim:$PATH" restore --db "$name" --yes
	assert_contains "$ERR" "ERROR restore failed: "
	assert_not_contains "$ERR" "restore refused"
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "live rows after the failed restore"
	wait_next_second
	assert_exit 1 vigil PATH="$T/shim:$PATH" BACKUP_FORMAT=custom backup --db-only
	m=$(ls -t "$BACKUP_DIR"/runs/*.json | head -n 1)
	assert_eq child "$(manifest_get "$m" error.code)" "the failed run's error code"
done
# The real pg_restore: all good again.
assert_exit 0 vigil verify "$name"
log "a broken pg_restore is a child failure, not a corrupt backup"
