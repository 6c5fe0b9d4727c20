#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# Issue 10, the child module (src/infra/child.c) on verify's `pg_restore --list`
# path (custom-format backups):
#   1. a pg_restore that writes 1 MiB to stderr before its table of contents
#      does not deadlock vigil: exit 0, "ok", "1 checked, 0 failed";
#   2. the same, then exit 1: the file FAILED with "pg_restore --list exited
#      1: xxx..." (a bounded tail), exit 1;
#   3. a pg_restore that hangs ends at verify's own limit (300 s, README,
#      verify): exit 1, "pg_restore --list did not finish within 300 s and
#      was killed", the hanging child gone. The 300 s pass in about 6 s:
#      vigil runs under libfaketime at 50 times the speed, its monotonic
#      clock included; the hanging child runs without it.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only
name=$(basename "$(ls "$BACKUP_DIR"/db/app_*.dump)")
left_running() { [[ -s $T/hang.pid ]] && kill -0 "$(cat "$T/hang.pid")" 2>/dev/null; }
MIB_X='head -c 1048576 /dev/zero | tr "\0" x >&2'

log "1. 1 MiB on stderr before the table of contents"
make_shim pg_restore "$MIB_X"'; exec "$REAL" "$@"'
t0=$(now_us)
IT_VIGIL_TIMEOUT=60 assert_exit 0 vigil PATH="$T/shim:$PATH" verify latest
(($(now_us) - t0 < 30000000)) || fail "1: took 30 s or more"
assert_contains "$OUT" "ok      db    $name"
assert_contains "$OUT" '1 checked, 0 failed'

log "2. 1 MiB on stderr, then exit 1"
make_shim pg_restore "$MIB_X"'; exit 1'
IT_VIGIL_TIMEOUT=60 assert_exit 1 vigil PATH="$T/shim:$PATH" verify latest
assert_match "$OUT" "^FAILED  db    $name: pg_restore --list exited 1: x{900,999}$"
assert_contains "$OUT" '1 checked, 1 failed'
long=$(awk 'length($0) > 2000' "$OUT" | wc -l)
assert_eq 0 "$long" "2: output lines over 2000 bytes"

log "3. pg_restore hangs: killed at 300 s (about 6 s at 50 times the speed)"
make_shim pg_restore 'echo $$ >"'"$T"'/hang.pid"; exec env -u LD_PRELOAD -u FAKETIME sleep 300'
rm -f "$T/hang.pid"
t0=$(now_us)
# (vigil() takes FAKETIME_DONT_FAKE_MONOTONIC from the caller's environment)
IT_VIGIL_TIMEOUT=60 FAKETIME_DONT_FAKE_MONOTONIC=0 assert_exit 1 vigil PATH="$T/shim:$PATH" \
	FAKETIME='+0 x50' verify latest
el=$(($(now_us) - t0))
((el >= 4000000 && el < 30000000)) || fail "3: took $((el / 1000)) ms, expected about 6 s"
assert_contains "$OUT" "FAILED  db    $name: pg_restore --list did not finish within 300 s and was killed"
assert_contains "$OUT" '1 checked, 1 failed'
sleep 0.2
left_running && fail "3: the hanging pg_restore was left running"
log "pg_restore --list: no deadlock, the limit holds"
