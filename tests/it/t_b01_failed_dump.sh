#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B01: a failed dump never hides behind a good-looking file.
# Every variant: exit 1, no new final-named db file, no temporary file left,
# no db file pruned, a failure manifest, and the cause as the server or
# pg_dump stated it, in vigil's output and in $LOG_DIR/backup.log.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# One good backup first: it must survive every failed run unchanged.
assert_exit 0 vigil backup
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
check_i1

# expect_failed_dump CAUSE_REGEX: after a `vigil backup` that exited 1.
expect_failed_dump() {
	local cause=$1
	snapshot "$BACKUP_DIR/db" >"$T/db-after"
	if ! diff "$T/db-before" "$T/db-after"; then
		fail "the db directory changed (new, pruned or altered files)"
	fi
	assert_no_temp "$BACKUP_DIR"
	assert_one_failure_manifest "$T/manifests-before"
	assert_output_match "$cause"
	assert_match "$LOG_DIR/backup.log" "$cause"
	grep -qE "ERROR.*($cause)" "$LOG_DIR/backup.log" || fail "no ERROR line naming the cause in backup.log"
	check_i1
}

# run_case NAME CAUSE_REGEX [VAR=VALUE...]: `vigil backup` with the given
# environment changes must exit 1 naming CAUSE.
run_case() {
	local name=$1 cause=$2
	shift 2
	log "case: $name"
	wait_next_second
	snapshot "$BACKUP_DIR/db" >"$T/db-before"
	ls_manifests >"$T/manifests-before"
	assert_exit 1 vigil "$@" backup
	expect_failed_dump "$cause"
}

run_case "wrong password" "$(srvmsg 'password authentication failed' 'la autentificación password falló')" POSTGRES_PASSWORD=wrong
run_case "unknown host" 'could not translate host name' POSTGRES_HOST=nonexistent.invalid
run_case "no such database" "$(srvmsg 'database "nope" does not exist' 'no existe la base de datos «nope»')" POSTGRES_DB=nope
assert_no_file "$BACKUP_DIR/db/nope_*"

# pg_dump shims; `--version` goes to the real pg_dump.
make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) exec "$REAL" "$@" ;; esac
done
exit 0'
run_case "pg_dump prints nothing, exits 0" 'trailer|wrote nothing|empty' PATH="$T/shim:$PATH"

# The same kind: a dump cut right before its trailer, exit 0.
make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) exec "$REAL" "$@" ;; esac
done
"$REAL" "$@" | sed "/^-- PostgreSQL database dump complete/,\$d"'
run_case "pg_dump output without trailer, exit 0" 'trailer' PATH="$T/shim:$PATH"

make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) exec "$REAL" "$@" ;; esac
done
"$REAL" "$@"
exit 1'
run_case "pg_dump dumps, then exits 1" 'exited 1' PATH="$T/shim:$PATH"

# The first backup is still there, byte for byte, and still the only one.
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz.sha256"
log "B01 ok"
