#!/bin/bash
# Temporary files of an interrupted run that cannot be removed (issue 10
# item 5: the failure was silent). Each run removes ".vigil-tmp-*" left in
# db/, media/ and runs/; one it cannot remove (here a read-only bind mount)
# is now a WARN naming the path and errno, the others are still removed,
# and the run goes on (exit 0): the backup itself is not at stake.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

mkdir -p "$BACKUP_DIR/db/.vigil-tmp-stuck" "$BACKUP_DIR/media" "$BACKUP_DIR/runs"
echo data >"$BACKUP_DIR/db/.vigil-tmp-stuck/part"
echo data >"$BACKUP_DIR/db/.vigil-tmp-app_20260101_030000.sql.gz"
echo data >"$BACKUP_DIR/media/.vigil-tmp-media_20260101_030000.tar.gz"
mount --bind "$BACKUP_DIR/db/.vigil-tmp-stuck" "$BACKUP_DIR/db/.vigil-tmp-stuck"
mount -o remount,ro,bind "$BACKUP_DIR/db/.vigil-tmp-stuck"

assert_exit 0 vigil backup
assert_contains "$ERR" "WARN cannot remove a stale temporary file of an interrupted run: $BACKUP_DIR/db/.vigil-tmp-stuck: cannot remove part: Read-only file system; hint: it takes space until removed by hand"
assert_contains "$ERR" "removed 1 stale temporary file(s) in $BACKUP_DIR/db"
assert_contains "$ERR" "removed 1 stale temporary file(s) in $BACKUP_DIR/media"
[[ -e $BACKUP_DIR/db/.vigil-tmp-app_20260101_030000.sql.gz ]] && fail "a removable stale file was left"
[[ -e $BACKUP_DIR/db/.vigil-tmp-stuck/part ]] || fail "the read-only file vanished?"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"

umount "$BACKUP_DIR/db/.vigil-tmp-stuck"
assert_exit 0 vigil backup
assert_not_contains "$ERR" "cannot remove"
assert_contains "$ERR" "removed 1 stale temporary file(s) in $BACKUP_DIR/db"
log "stale temporary files that cannot be removed are reported"
