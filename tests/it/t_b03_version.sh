#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B03 (the `vigil backup` part; `vigil serve` is tested with the
# daemon): a pg_dump older than the server is refused before dumping, with
# one message naming both versions; a newer pg_dump is fine.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
server_version=$(sql "SELECT current_setting('server_version_num')::int / 10000 || '.' || current_setting('server_version_num')::int % 10000")
log "server version $server_version"

# pg_dump 14.12: reports its version, refuses to dump (and says so in a file).
make_shim pg_dump "
for a in \"\$@\"; do
	case \$a in --version|-V) echo 'pg_dump (PostgreSQL) 14.12'; exit 0 ;; esac
done
touch '$T/dump-was-run'
echo 'pg_dump: error: aborting because of server version mismatch' >&2
exit 1"

ls_manifests >"$T/manifests-before"
assert_exit 1 vigil PATH="$T/shim:$PATH" backup
[[ -e $T/dump-was-run ]] && fail "vigil ran pg_dump although it is older than the server"
# One message names both versions.
cat "$OUT" "$ERR" >"$T/output"
for f in "$T/output" "$LOG_DIR/backup.log"; do
	grep -E "14\.12" "$f" |
		grep -qE "${server_version//./\\.}|(server|PostgreSQL)[^0-9]{0,20}15([^0-9.]|$)" || {
		show_file "$f"
		fail "$f: no line naming both pg_dump 14.12 and server $server_version"
	}
done
assert_no_file "$BACKUP_DIR/db/app_*"
assert_no_temp "$BACKUP_DIR"
assert_one_failure_manifest "$T/manifests-before"

# Control: a pg_dump reporting 16.4 (newer than the server) is accepted.
make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) echo "pg_dump (PostgreSQL) 16.4"; exit 0 ;; esac
done
exec "$REAL" "$@"'
wait_next_second
assert_exit 0 vigil PATH="$T/shim:$PATH" backup
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
check_i1
log "B03 ok"
