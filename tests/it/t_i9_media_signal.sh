#!/bin/bash
# Issue 9, item 5 / F25: SIGTERM after the media swap was committed, while
# the replaced entries are being deleted. 0.1.0 went on silently and exited
# 0. The swap is committed at that point (the restored tree is live), so
# vigil finishes the clean-up (stopping halfway would leave a half-deleted
# .vigil-old-* that later restores report as possibly holding live files)
# and says so; the exit is 3 (completed, with a warning).
# A preloaded shim makes each unlinkat(2) take 10 ms, so deleting the 300
# replaced files takes about 3 s.
# Expect: restore.log has "restore media swap committed: the restored
# entries are live"; SIGTERM then; exit 3 within 10 s; "WARN media restore:
# ./: stop requested (signal 15) after the swap was committed: the restore
# is complete and its clean-up was finished" and "restore done exit=3";
# MEDIA_DIR equals the backed-up tree; no .vigil-* left.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
tree_state "$MEDIA_DIR" >"$T/backed-up"
assert_exit 0 vigil backup --media-only
mkdir "$MEDIA_DIR/junk"
for i in $(seq 1 300); do : >"$MEDIA_DIR/junk/$i"; done

cat >"$T/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>
int unlinkat(int dfd, const char *p, int flags)
{
	static int (*real)(int, const char *, int);
	if (!real)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
	usleep(10000);
	return real(dfd, p, flags);
}
C
cc -shared -fPIC -o "$T/shim.so" "$T/shim.c" -ldl || fail "cannot build the shim"

committed() {
	_alive "$RPID" || { cat "$T/err"; fail "vigil ended before the swap was committed"; }
	grep -q 'restore media swap committed: the restored entries are live' "$LOG_DIR/restore.log"
}
LD_PRELOAD=$T/shim.so "$VIGIL" restore --media latest --yes >"$T/out" 2>"$T/err" &
RPID=$!
wait_until 20 "the swap" committed
t0=$(now_us)
kill -TERM "$RPID"
wait "$RPID"
rc=$?
assert_eq 3 "$rc" "exit code"
(($(now_us) - t0 < 10000000)) || fail "took 10 s or more after the signal"
assert_contains "$T/err" 'WARN media restore: ./: stop requested (signal 15) after the swap was committed: the restore is complete and its clean-up was finished'
assert_contains "$LOG_DIR/restore.log" 'restore done exit=3'
tree_state "$MEDIA_DIR" >"$T/now"
assert_tree_same "$T/backed-up" "$T/now" "MEDIA_DIR after the restore"
media_no_leftovers
log "F25 ok"
