#!/bin/bash
# Issue 9, item 5 / F18: a mount point below MEDIA_DIR. rename(2) cannot
# move a mounted directory aside, so the 0.1.0 restore failed halfway
# through its swap with EBUSY (rolled back, exit 1, no hint).
# The backup (exit 0) says so already: "INFO media note: uploads is a
# mount point below MEDIA_DIR ...".
# Expect: `vigil restore --media latest --yes` is refused before anything
# is done: exit 2, "restore refused: uploads is a mount point below
# MEDIA_DIR ...; hint: unmount it" on stderr and in
# restore.log; no pre_restore_* copy, MEDIA_DIR (and the mounted volume)
# byte for byte as before, no .vigil-* left.
# A mount point that vigil never moves is fine: BACKUP_DIR as a tmpfs
# mounted inside MEDIA_DIR, the same restore (uploads unmounted) exits 0.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
mkdir -p "$MEDIA_DIR/uploads"
mount -t tmpfs -o size=8m,mode=0755 tmpfs "$MEDIA_DIR/uploads" || fail "mount tmpfs (needs root)"
# shellcheck disable=SC2016 # expanded when the trap runs
at_exit 'umount -l "$MEDIA_DIR/uploads" 2>/dev/null'
printf 'on the volume\n' >"$MEDIA_DIR/uploads/u.txt"
assert_exit 0 vigil backup --media-only
assert_contains "$ERR" "INFO media note: uploads is a mount point below MEDIA_DIR ($MEDIA_DIR)"
printf 'edited\n' >"$MEDIA_DIR/hello.txt"
printf 'new\n' >"$MEDIA_DIR/uploads/new.txt"
tree_state "$MEDIA_DIR" >"$T/before"

log "restore with a mount point below MEDIA_DIR"
wait_next_second
assert_exit 2 vigil restore --media latest --yes
assert_contains "$ERR" "ERROR restore refused: uploads is a mount point below MEDIA_DIR ($MEDIA_DIR): a restore cannot move a mounted directory aside; hint: unmount it"
assert_contains "$LOG_DIR/restore.log" 'uploads is a mount point below MEDIA_DIR'
assert_no_file "$BACKUP_DIR/media/pre_restore_*"
tree_state "$MEDIA_DIR" >"$T/after"
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after the refused restore"
media_no_leftovers

log "a mounted BACKUP_DIR inside MEDIA_DIR is no obstacle"
umount "$MEDIA_DIR/uploads" || fail "umount"
cp -a "$BACKUP_DIR" "$T/bk-copy"
export BACKUP_DIR=$MEDIA_DIR/backups
mkdir -p "$BACKUP_DIR"
mount -t tmpfs -o size=8m,mode=0700 tmpfs "$BACKUP_DIR" || fail "mount tmpfs"
# shellcheck disable=SC2016 # expanded when the trap runs
at_exit 'umount -l "$MEDIA_DIR/backups" 2>/dev/null'
cp -a "$T/bk-copy/." "$BACKUP_DIR/"
wait_next_second
assert_exit 0 vigil restore --media latest --yes
assert_eq 'on the volume' "$(cat "$MEDIA_DIR/uploads/u.txt")" "restored uploads/u.txt"
assert_eq 'hello media' "$(cat "$MEDIA_DIR/hello.txt")" "restored hello.txt"
mountpoint -q "$BACKUP_DIR" || fail "BACKUP_DIR is no longer mounted"
media_no_leftovers
log "F18 ok"
