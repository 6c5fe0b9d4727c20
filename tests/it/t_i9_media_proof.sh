#!/bin/bash
# Issue 9, item 3: the media restore proves its result before the swap.
# A preloaded shim makes write(2) into any file whose path contains
# "victim" store a flipped first byte while reporting success, so
# libarchive sees no error at all.
# Expect: `vigil restore --media latest --yes` exits 1 with 'the extracted
# "sub/victim.bin" does not match the archive: its content differs' on
# stderr and in restore.log, no "restore done"; MEDIA_DIR is byte for byte
# as before (it was edited after the backup, so a swap would show) and holds
# no .vigil-* directory. Without the shim the same restore exits 0, the
# summary's counts are those found in the checked tree ("3 files, 2
# directories, 1 symlinks") and the tree equals the backed-up one.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
mkdir "$MEDIA_DIR/sub"
head -c 300000 /dev/urandom >"$MEDIA_DIR/sub/victim.bin"
printf 'keep\n' >"$MEDIA_DIR/a.txt"
printf 'x' >"$MEDIA_DIR/b.txt"
ln -s sub/victim.bin "$MEDIA_DIR/link"
tree_state "$MEDIA_DIR" >"$T/backed-up"
assert_exit 0 vigil backup --media-only

cat >"$T/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	char p[64], t[4096];
	ssize_t k;
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	k = readlink(p, t, sizeof t - 1);
	if (k > 0 && n > 0 && (t[k] = 0, strstr(t, "victim"))) {
		char *c = malloc(n);
		ssize_t r;
		memcpy(c, buf, n);
		c[0] ^= 0x55;
		r = real(fd, c, n);
		free(c);
		return r;
	}
	return real(fd, buf, n);
}
C
cc -shared -fPIC -o "$T/shim.so" "$T/shim.c" -ldl || fail "cannot build the shim"

printf 'edited after the backup\n' >"$MEDIA_DIR/a.txt"
rm "$MEDIA_DIR/b.txt"
tree_state "$MEDIA_DIR" >"$T/live"

log "a write that loses data silently"
wait_next_second
assert_exit 1 vigil LD_PRELOAD="$T/shim.so" restore --media latest --yes
assert_match "$ERR" 'ERROR restore failed: the media directory is unchanged: the extracted "sub/victim.bin" does not match the archive: its content differs'
assert_contains "$LOG_DIR/restore.log" 'the extracted "sub/victim.bin" does not match the archive'
assert_not_contains "$LOG_DIR/restore.log" 'restore done'
tree_state "$MEDIA_DIR" >"$T/now"
assert_tree_same "$T/live" "$T/now" "MEDIA_DIR after the failed restore"
media_no_leftovers

log "without the shim"
wait_next_second
assert_exit 0 vigil restore --media latest --yes
assert_match "$OUT" ': 3 files, 2 directories, 1 symlinks$'
assert_contains "$LOG_DIR/restore.log" 'restore media extracted tree checked against the archive'
tree_state "$MEDIA_DIR" >"$T/now"
assert_tree_same "$T/backed-up" "$T/now" "MEDIA_DIR after the restore"
media_no_leftovers
log "item 3 ok"
