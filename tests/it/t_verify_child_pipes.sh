#!/bin/bash
# verify's `pg_restore --list` child (custom-format backups) is read on
# both pipes at once: a pg_restore that writes 1 MiB to stderr before its
# table of contents no longer deadlocks vigil (0.1.0 read stdout to the end
# first, so both waited on each other forever); a pg_restore that hangs is
# ended by SIGTERM to vigil (exit 143 within seconds; 0.1.0 did not look).
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only

make_shim pg_restore 'head -c 1048576 /dev/zero | tr "\0" x >&2; exec "$REAL" "$@"'
assert_exit 0 timeout 60 env PATH="$T/shim:$PATH" "$VIGIL" verify latest
assert_output_match 'ok +db +app_.*\.dump'

make_shim pg_restore 'exec sleep 300'
env PATH="$T/shim:$PATH" "$VIGIL" verify latest </dev/null >"$T/out" 2>"$T/err" &
pid=$!
# Only this vigil's child counts (pgrep is machine-wide: another suite's
# "sleep 300" must not start the clock early).
wait_until 10 "pg_restore started" pgrep -P "$pid" -x sleep >/dev/null
hung=$(pgrep -P "$pid" -x sleep)
t0=$(now_us)
kill -TERM "$pid"
wait "$pid"
rc=$?
ms=$((($(now_us) - t0) / 1000))
cat "$T/err"
assert_eq 143 "$rc" "verify stopped while pg_restore hangs"
# a stop is no verdict on the file: "stopped", never "FAILED"
assert_match "$T/out" '^stopped db +app_.*\.dump$'
assert_not_contains "$T/out" "FAILED"
((ms < 5000)) || fail "verify took ${ms} ms to stop"
kill -0 "$hung" 2>/dev/null && fail "the hanging pg_restore was left running"
log "verify's child pipes: no deadlock, stop honoured"
