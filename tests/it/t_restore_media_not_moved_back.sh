#!/bin/bash
# A media swap that fails half-way and whose rollback cannot move every
# entry back leaves MEDIA_DIR changed: the restore must not say "the media
# directory is unchanged". restore.c decided this by looking for the words
# "could not be moved back" in the extractor's message, and only for a
# media-only restore: after a database restore it claimed the media
# directory unchanged anyway (issue 10, decisions by matching messages).
# It now reads the extractor's count (media_stats.not_moved_back). An
# LD_PRELOAD shim fails the 2nd rename into .vigil-old- (the swap) and
# every rename out of .vigil-old- (the rollback) with EIO.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup

cat >"$T/rb_shim.c" <<-'C'
	#define _GNU_SOURCE
	#include <dlfcn.h>
	#include <errno.h>
	#include <string.h>
	int rename(const char *from, const char *to)
	{
		static int (*real)(const char *, const char *);
		static int n;
		if (!real)
			real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
		if ((strstr(to, "/.vigil-old-") && ++n == 2) || strstr(from, "/.vigil-old-")) {
			errno = EIO;
			return -1;
		}
		return real(from, to);
	}
C
cc -shared -fPIC -o "$T/rb_shim.so" "$T/rb_shim.c" -ldl || fail "cannot build the rename shim"

wait_next_second
assert_exit 1 vigil LD_PRELOAD="$T/rb_shim.so" restore --media latest --yes --no-safety-backup
assert_output_match 'ERROR restore failed: restore failed and 1 entries could not be moved back: MEDIA_DIR lacks them'
assert_not_contains "$ERR" 'unchanged'
log "media-only: a rollback that lost an entry is not called unchanged"

# Put MEDIA_DIR back by hand, as the hint says.
old=$(find "$MEDIA_DIR" -maxdepth 1 -name '.vigil-old-*')
[[ -n $old ]] || fail "no .vigil-old-* holding the entry that was not moved back"
(shopt -s dotglob && mv "$old"/* "$MEDIA_DIR"/) && rmdir "$old" || fail "cannot move the entry back"

wait_next_second
assert_exit 1 vigil LD_PRELOAD="$T/rb_shim.so" restore --db latest --media latest --yes \
	--no-safety-backup
assert_output_match 'ERROR restore failed: the database WAS restored, but the media restore failed: restore failed and 1 entries could not be moved back'
assert_not_contains "$ERR" 'unchanged'
log "database and media: the media directory is not called unchanged either"
