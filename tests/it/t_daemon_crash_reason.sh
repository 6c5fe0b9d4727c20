#!/bin/bash
# A run that dies of a signal nobody sent (a crash) leaves no manifest; the
# daemon writes the failure manifest for it with reason `child` and a hint
# that it is a bug, not `io` with "check that BACKUP_DIR is writable" (a
# wrong lead for the operator). /metrics counts it by that reason.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
# pg_dump (not its --version) kills its parent, the `vigil backup` run, with
# SIGILL (a crash signal AddressSanitizer leaves alone, so `make asan` sees
# the same death).
make_shim pg_dump 'case " $* " in *" --version "*) exec "$REAL" "$@";; esac; kill -ILL $PPID; sleep 1; exit 1'
ls "$BACKUP_DIR/runs" 2>/dev/null >"$T/before"
IT_VIGIL_TIMEOUT=120 daemon_spawn 1 vigil PATH="$T/shim:$PATH" BACKUP_ON_START=true serve
wait_until 60 "the start-up run to die" grep -q 'run finished: killed by signal 4' "$DLOG"
m=$(ls -t "$BACKUP_DIR"/runs/*.json | head -n 1)
assert_eq child "$(manifest_get "$m" error.code)" "the crashed run's reason"
msg=$(manifest_get "$m" error.message)
[[ $msg == *"the run killed by signal 4"*"left no run manifest; hint: see backup.log; a run that dies of a signal is a bug in vigil, please report it with that log" ]] ||
	fail "unexpected message: $msg"
assert_eq 1 "$(metric 'vigil_failures_total{kind="db",reason="child"}')" "failures by reason child"
daemon_stop
log "a crashed run is a child failure with a bug hint"
