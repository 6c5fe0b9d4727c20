#!/bin/bash
# SIGTERM while the daemon's start-up pre-flight runs its `pg_dump
# --version` child: the child module takes the signal in (it ends the
# child), and the daemon must still stop, at once, with no start-up run.
# It used to carry on serving (`docker stop` then ends in SIGKILL).
set -u
. "$(dirname "$0")/lib.sh"
it_setup
make_shim pg_dump 'case " $* " in *" --version "*) sleep 3;; esac; exec "$REAL" "$@"'
PATH="$T/shim:$PATH" BACKUP_ON_START=true timeout -k 5 60 "$VIGIL" serve >"$T/out" 2>"$T/err" &
pid=$!
wait_until 10 "the version check to start" pgrep -f 'sleep 3' >/dev/null
kill -TERM "$pid"
t0=$(now_us)
wait "$pid"
rc=$?
ms=$((($(now_us) - t0) / 1000))
cat "$T/err"
assert_eq 0 "$rc" "the daemon's exit status after a stop while idle"
((ms < 5000)) || fail "the daemon took ${ms} ms to stop"
assert_contains "$T/err" "received Terminated, stopping"
assert_not_contains "$T/err" "start-up run started"
log "a stop during the start-up pre-flight stops the daemon"
