#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# The pre-flight runs `pg_dump --version` while it connects (dump.c,
# dump_preflight). A broken pg_dump must not turn that into a hang:
#   1. database down + a pg_dump whose --version never answers: exit 1 with
#      the connection error, at once, nothing left running;
#   2. database up + the same pg_dump: exit 1 after the 10 s limit with a
#      message naming it, nothing left running;
#   3. SIGTERM while --version hangs: exit 143 within a second;
#   4. --version printing binary garbage: exit 1, and the failure manifest
#      is still valid JSON;
#   5. the --version child gets no secret (I5): no POSTGRES_PASSWORD,
#      PGPASSWORD, DATABASE_URL or *SECRET* in its environment.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# A pg_dump whose --version hangs (as a broken wrapper script would); its
# sleep writes its pid so the test can tell whether it was left running.
make_shim pg_dump "
for a in \"\$@\"; do
	case \$a in --version|-V) echo \$\$ >'$T/hang.pid'; exec sleep 300 ;; esac
done
exec \"\$REAL\" \"\$@\""

# left_running: the hanging child is still alive
left_running() { [[ -s $T/hang.pid ]] && kill -0 "$(cat "$T/hang.pid")" 2>/dev/null; }

log "1. database down, --version hangs"
rm -f "$T/hang.pid"
ls_manifests >"$T/m1"
t0=$(now_us)
assert_exit 1 vigil PATH="$T/shim:$PATH" POSTGRES_PORT="$(free_port)" backup --db-only
(($(now_us) - t0 < 5000000)) || fail "1: took 5 s or more (waited for pg_dump --version)"
assert_contains "$LOG_DIR/backup.log" "cannot connect to database"
sleep 0.2
left_running && fail "1: pg_dump --version left running"
assert_one_failure_manifest "$T/m1" >/dev/null

log "2. database up, --version hangs: killed after 10 s"
rm -f "$T/hang.pid"
ls_manifests >"$T/m2"
t0=$(now_us)
assert_exit 1 vigil PATH="$T/shim:$PATH" backup --db-only
el=$(($(now_us) - t0))
((el >= 9000000 && el < 20000000)) || fail "2: took $((el / 1000)) ms, expected about 10 s"
assert_contains "$ERR" "did not finish within 10 s"
sleep 0.2
left_running && fail "2: pg_dump --version left running"
assert_one_failure_manifest "$T/m2" >/dev/null
assert_no_temp "$BACKUP_DIR"

log "3. SIGTERM while --version hangs"
rm -f "$T/hang.pid"
env PATH="$T/shim:$PATH" "$VIGIL" backup --db-only >"$T/out3" 2>"$T/err3" &
pid=$!
hang_started() { [[ -s $T/hang.pid ]]; }
wait_until 5 "pg_dump --version to start" hang_started
t0=$(now_us)
kill -TERM "$pid"
wait "$pid"
rc=$?
assert_eq 143 "$rc" "3: exit code"
(($(now_us) - t0 < 1000000)) || fail "3: took a second or more to stop"
assert_contains "$T/err3" "stopped by signal 15"
sleep 0.2
left_running && fail "3: pg_dump --version left running"

log "4. --version prints binary garbage"
make_shim pg_dump '
for a in "$@"; do
	case $a in --version|-V) printf "pg_dump \001\377\376 \"quoted\" \\\\ x\n"; exit 0 ;; esac
done
exec "$REAL" "$@"'
ls_manifests >"$T/m4"
assert_exit 1 vigil PATH="$T/shim:$PATH" backup --db-only
assert_contains "$ERR" "cannot parse \`pg_dump --version\` output"
m=$(assert_one_failure_manifest "$T/m4"; new_manifests "$T/m4")
"$PY" -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$m" ||
	fail "4: the failure manifest is not valid UTF-8 JSON"

log "5. the --version child gets no secret"
make_shim pg_dump "
for a in \"\$@\"; do
	case \$a in --version|-V) env >'$T/version.env'; exec \"\$REAL\" --version ;; esac
done
exec \"\$REAL\" \"\$@\""
wait_next_second
assert_exit 0 vigil PATH="$T/shim:$PATH" DATABASE_URL_IGNORED=1 S3_SECRET_ACCESS_KEY=s3cr3t-test \
	backup --db-only
assert_file "$T/version.env"
if grep -E '^(POSTGRES_PASSWORD|PGPASSWORD|DATABASE_URL|[A-Z0-9_]*SECRET[A-Z0-9_]*)=' "$T/version.env"; then
	fail "5: a secret reached pg_dump --version"
fi
grep -q "$POSTGRES_PASSWORD" "$T/version.env" && fail "5: the password reached pg_dump --version"
grep -q "s3cr3t-test" "$T/version.env" && fail "5: the S3 secret reached pg_dump --version"
check_i1
log "pre-flight ok"
