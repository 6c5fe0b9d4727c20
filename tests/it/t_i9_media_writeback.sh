#!/bin/bash
# Issue 9 (breaker trial): the media restore must reach the disk before it
# is proved and swapped in. MEDIA_DIR is an ext4 file system on a loop
# device whose backing file lies on a 24 MiB tmpfs: the 15 MiB it holds fit,
# a second copy (the staging tree) does not, so write(2) succeeds into the
# page cache and write-back then fails (the loop device gets ENOSPC, ext4
# sees EIO).
# 1. 15 random 1 MiB files, sync, `vigil backup --media-only`: exit 0.
# 2. `vigil restore --media latest --yes`: exit 1, "restore failed: the media
#    directory is unchanged: cannot write the extracted files to disk in
#    <MEDIA_DIR>"; no .vigil-* left; after sync and dropping the page cache
#    MEDIA_DIR is byte-identical to before (tree_state) - the old build
#    exited 0 and 7 of the 15 files then differed.
# Needs root and loop devices; without them it says SKIP and passes.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
skip() { log "SKIP: $*"; exit 0; }
((EUID == 0)) || skip "needs root for mount and losetup"
command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null || skip "no losetup or mkfs.ext4"

B=$T/backing
mkdir -p "$B"
mount -t tmpfs -o size=24m tmpfs "$B" || skip "cannot mount a tmpfs"
at_exit "umount -l '$B' 2>/dev/null"
truncate -s 200M "$B/img"
# Without a journal: with one, the failed write-back of the staged files
# also fails journal writes, ext4 aborts the journal and remounts itself
# read-only, and then nobody (vigil included) can remove the staging
# directory; the data loss the test is about is the same either way.
mkfs.ext4 -q -F -O ^has_journal "$B/img" >/dev/null 2>&1 || fail "mkfs.ext4"
LOOP=$(losetup -f --show "$B/img" 2>/dev/null) || skip "loop devices unavailable (losetup -f failed)"
# at_exit runs in order: unmount the file system, then free the loop device
# (the tmpfs entry above comes first but is a lazy unmount, harmless).
at_exit "umount '$MEDIA_DIR' 2>/dev/null || umount -l '$MEDIA_DIR' 2>/dev/null; losetup -d '$LOOP' 2>/dev/null"
rm -rf "${MEDIA_DIR:?}"
mkdir -p "$MEDIA_DIR"
mount "$LOOP" "$MEDIA_DIR" || skip "cannot mount $LOOP"
rmdir "$MEDIA_DIR/lost+found"
for i in $(seq 1 15); do head -c 1048576 /dev/urandom >"$MEDIA_DIR/f$i.bin"; done
sync

log "1. backup"
assert_exit 0 vigil backup --media-only
tree_state "$MEDIA_DIR" >"$T/before"

log "2. restore onto a device that fails at write-back"
assert_exit 1 vigil restore --media latest --yes
assert_contains "$ERR" "restore failed: the media directory is unchanged: cannot write the extracted files to disk in $MEDIA_DIR"
media_no_leftovers
sync
echo 3 >/proc/sys/vm/drop_caches
tree_state "$MEDIA_DIR" >"$T/after"
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after the failed restore"
log "ok"
