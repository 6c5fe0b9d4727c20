#!/bin/bash
# Issue 9 / F1: a media restore onto a file system that fills up must fail,
# not leave zero-filled files. MEDIA_DIR is a 4 MiB tmpfs holding three
# 1 MiB random files, so extracting next to them runs out of space.
# Expect: `vigil restore --media latest --yes` exits 1 with "cannot write
# fN.bin: ...No space left on device" (and "the media directory is
# unchanged") on stderr and in restore.log, no "restore done"; MEDIA_DIR is
# byte for byte as before (names, modes, mtimes, contents, the root's own
# mtime) and holds no .vigil-* staging or old directory. With space (a
# bigger tmpfs, same files) the same restore exits 0.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
mount -t tmpfs -o size=4m,mode=0755 tmpfs "$MEDIA_DIR" || fail "mount tmpfs (needs root)"
# shellcheck disable=SC2016 # expanded when the trap runs
at_exit 'umount -l "$MEDIA_DIR" 2>/dev/null'
for i in 1 2 3; do head -c 1M /dev/urandom >"$MEDIA_DIR/f$i.bin" || fail "setup: f$i.bin"; done
assert_exit 0 vigil backup --media-only
tree_state "$MEDIA_DIR" >"$T/before"

log "restore onto a full tmpfs"
wait_next_second
assert_exit 1 vigil restore --media latest --yes
assert_match "$ERR" 'ERROR restore failed: the media directory is unchanged: cannot write f[0-9]\.bin: .*No space left on device'
assert_match "$LOG_DIR/restore.log" 'cannot write f[0-9]\.bin: .*No space left on device'
assert_not_contains "$LOG_DIR/restore.log" 'restore done'
assert_not_contains "$OUT" 'restore complete'
tree_state "$MEDIA_DIR" >"$T/after"
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after the failed restore"
media_no_leftovers

log "with space, the same restore works"
mount -o remount,size=16m "$MEDIA_DIR" || fail "remount"
wait_next_second
assert_exit 0 vigil restore --media latest --yes
assert_contains "$OUT" ': 3 files, 1 directories, 0 symlinks'
tree_state "$MEDIA_DIR" >"$T/after"
# mtimes of the root may legitimately be reapplied; contents must be equal
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after the good restore"
media_no_leftovers
log "F1 ok"
