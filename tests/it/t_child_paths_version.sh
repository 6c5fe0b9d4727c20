#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# Issue 10, the child module (src/infra/child.c) on the `--version` path
# (db_tool_version, run by the backup's pre-flight and by `vigil version`):
#   1. a `pg_dump --version` that writes 1 MiB to stderr before its answer
#      does not deadlock vigil: the backup exits 0, `vigil version` names
#      pg_dump's version; the child's stderr goes on to vigil's stderr, as
#      when it was inherited;
#   2. one that writes 1 MiB to stderr and then hangs is killed after 10 s:
#      exit 1 after about 10 s with "did not finish within 10 s", a failure
#      manifest (db err_code "child"), the hanging child gone.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# shim_version BODY: `pg_dump --version` runs BODY; dumps are the real ones.
shim_version() {
	make_shim pg_dump "
for a in \"\$@\"; do
	case \$a in --version|-V) $1 ;; esac
done
exec \"\$REAL\" \"\$@\""
}
left_running() { [[ -s $T/hang.pid ]] && kill -0 "$(cat "$T/hang.pid")" 2>/dev/null; }
MIB_X='head -c 1048576 /dev/zero | tr "\0" x >&2'

log "1. 1 MiB on stderr before the version"
shim_version "$MIB_X; exec \"\$REAL\" --version"
t0=$(now_us)
IT_VIGIL_TIMEOUT=60 assert_exit 0 vigil PATH="$T/shim:$PATH" backup --db-only
(($(now_us) - t0 < 30000000)) || fail "1: took 30 s or more"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
# vigil's stderr got it all, in lines of CHILD_LINE_MAX (4096) bytes
assert_eq 1048576 "$(tr -cd x <"$ERR" | wc -c)" "1: x bytes passed on to vigil's stderr"
assert_eq 4096 "$(grep -m1 -E '^x+$' "$ERR" | tr -d '\n' | wc -c)" "1: the first line's length"
check_i1
IT_VIGIL_TIMEOUT=60 assert_exit 0 vigil PATH="$T/shim:$PATH" version
assert_output_match '^pg_dump 15\.[0-9]+$'

log "2. 1 MiB on stderr, then the version hangs: killed after 10 s"
shim_version "$MIB_X; echo \$\$ >'$T/hang.pid'; exec sleep 300"
wait_next_second
rm -f "$T/hang.pid"
ls_manifests >"$T/m2"
t0=$(now_us)
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil PATH="$T/shim:$PATH" backup --db-only
el=$(($(now_us) - t0))
((el >= 9500000 && el < 20000000)) || fail "2: took $((el / 1000)) ms, expected about 10 s"
assert_output_match 'database backup failed: `pg_dump --version` did not finish within 10 s and was killed; hint: is pg_dump on PATH a working PostgreSQL client\?'
fm=$(assert_one_failure_manifest "$T/m2"; new_manifests "$T/m2")
assert_eq child "$(manifest_get "$fm" artifacts.0.error.code)" "2: db err_code"
assert_no_temp "$BACKUP_DIR"
sleep 0.2
left_running && fail "2: the hanging pg_dump --version was left running"
log "the --version child: no deadlock, killed at 10 s"
