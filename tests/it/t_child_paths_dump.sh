#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# Issue 10, the child module (src/infra/child.c) on the pg_dump path (dump_run):
# pg_dump's stdout and stderr are read with one poll, so
#   1. a pg_dump that writes 1 MiB to stderr before its dump does not
#      deadlock vigil: exit 0, the dump is whole (plain and custom), and the
#      stderr tail in the WARN line is bounded;
#   2. the same, then exit 1: exit 1, "pg_dump exited 1: xxx..." with a
#      bounded tail;
#   3. a pg_dump that hangs ends at the run's deadline (BACKUP_RUN_TIMEOUT=4s):
#      exit 1 after 4 s and a little, the deadline named, db err_code
#      "timeout", the hanging pg_dump gone;
#   4. a hanging pg_dump that ignores SIGTERM is killed (SIGKILL) 5 s after
#      it was asked to stop: exit 1 after 4 + 5 s and a little, nothing left.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# shim_dump BODY: pg_dump runs BODY for a dump; `--version` is the real one.
shim_dump() {
	make_shim pg_dump "
for a in \"\$@\"; do
	case \$a in --version|-V) exec \"\$REAL\" \"\$@\" ;; esac
done
$1"
}
# left_running: the hanging pg_dump (its pid in $T/hang.pid) is still alive
left_running() { [[ -s $T/hang.pid ]] && kill -0 "$(cat "$T/hang.pid")" 2>/dev/null; }
MIB_X='head -c 1048576 /dev/zero | tr "\0" x >&2'

log "1. 1 MiB on stderr before the dump"
shim_dump "$MIB_X"'; exec "$REAL" "$@"'
for fmt in plain custom; do
	wait_next_second
	t0=$(now_us)
	IT_VIGIL_TIMEOUT=60 assert_exit 0 vigil PATH="$T/shim:$PATH" BACKUP_FORMAT="$fmt" backup --db-only
	(($(now_us) - t0 < 30000000)) || fail "1 ($fmt): took 30 s or more"
	assert_match "$LOG_DIR/backup.log" 'WARN pg_dump said: x{1000}'
	# the tail is bounded: the WARN line is not a MiB long
	long=$(awk 'length($0) > 4000' "$LOG_DIR/backup.log" | wc -l)
	assert_eq 0 "$long" "1 ($fmt): log lines over 4000 bytes"
done
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_*.dump"
check_i1

log "2. 1 MiB on stderr, then exit 1"
shim_dump "$MIB_X"'; exit 1'
wait_next_second
ls_manifests >"$T/m2"
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil PATH="$T/shim:$PATH" backup --db-only
assert_output_match 'database backup failed: pg_dump exited 1: x{1000}'
fm=$(assert_one_failure_manifest "$T/m2"; new_manifests "$T/m2")
assert_eq dump "$(manifest_get "$fm" artifacts.0.error.code)" "2: db err_code"
msg=$(manifest_get "$fm" artifacts.0.error.message)
((${#msg} < 2000)) || fail "2: the message holds ${#msg} bytes of pg_dump's stderr"
assert_no_temp "$BACKUP_DIR"

# hang_case N BODY MIN_MS MAX_MS: pg_dump runs BODY (which writes its pid to
# $T/hang.pid and hangs); with BACKUP_RUN_TIMEOUT=4s the backup must exit 1
# after MIN_MS to MAX_MS, name the deadline, record err_code "timeout",
# leave no temporary file and no pg_dump behind.
hang_case() {
	local n=$1 body=$2 min=$3 max=$4 el fm
	shim_dump "$body"
	wait_next_second
	rm -f "$T/hang.pid"
	ls_manifests >"$T/m$n"
	t0=$(now_us)
	IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil PATH="$T/shim:$PATH" BACKUP_RUN_TIMEOUT=4s backup --db-only
	el=$((($(now_us) - t0) / 1000))
	((el >= min && el < max)) || fail "$n: took $el ms, expected $min to $max ms"
	assert_output_match 'database backup failed: the run was still going after BACKUP_RUN_TIMEOUT \(4s\)'
	fm=$(assert_one_failure_manifest "$T/m$n"; new_manifests "$T/m$n")
	assert_eq timeout "$(manifest_get "$fm" artifacts.0.error.code)" "$n: db err_code"
	assert_no_temp "$BACKUP_DIR"
	sleep 0.2
	left_running && fail "$n: the hanging pg_dump was left running"
}

log "3. pg_dump hangs: BACKUP_RUN_TIMEOUT=4s ends it"
hang_case 3 'echo $$ >"'"$T"'/hang.pid"; exec sleep 300' 3500 15000

log "4. pg_dump hangs and ignores SIGTERM: SIGKILL 5 s later"
hang_case 4 'trap "" TERM; echo $$ >"'"$T"'/hang.pid"; exec sleep 300' 8500 20000

log "pg_dump's pipes: no deadlock, the deadline holds"
