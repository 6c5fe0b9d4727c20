#!/bin/bash
# A media restore reports every removal of its own directories that fails
# (issue 10, item 5: "failures to remove stale files are silent"): a WARN
# naming the entry that could not be removed, relative to MEDIA_DIR, and
# why (strerror), with what the operator can do.
#   1. The swap is committed, but the replaced entries in .vigil-old-* cannot
#      all be deleted: the restore is complete with a warning (exit 3), and
#      the directory is left for the operator.
#   2. The swap fails and is rolled back, and the staging directory cannot be
#      removed: exit 1 as before, plus a WARN; the next restore removes it.
#      A restore that cannot remove such a leftover either says so (WARN).
#   3. The swap fails after a move aside and is rolled back, and the emptied
#      .vigil-old-* cannot be removed: exit 1, plus a WARN naming it.
# A small LD_PRELOAD library makes the removals fail: unlinkat(2) of a name
# equal to $IT_SHIM_UNLINK fails with EPERM, rmdir(2) of a path containing
# $IT_SHIM_RMDIR with EBUSY, and the $IT_SHIM_RENAME_N-th rename(2) into a
# ".vigil-old-" path with EIO (a swap failing half-way).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env

cat >"$T/rm_shim.c" <<-'C'
	#define _GNU_SOURCE
	#include <dlfcn.h>
	#include <errno.h>
	#include <stdlib.h>
	#include <string.h>
	int unlinkat(int dfd, const char *name, int flags)
	{
		static int (*real)(int, const char *, int);
		const char *f = getenv("IT_SHIM_UNLINK"), *b = strrchr(name, '/');
		if (!real)
			real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
		if (f && *f && strcmp(b ? b + 1 : name, f) == 0) {
			errno = EPERM;
			return -1;
		}
		return real(dfd, name, flags);
	}
	int rmdir(const char *path)
	{
		static int (*real)(const char *);
		const char *f = getenv("IT_SHIM_RMDIR");
		if (!real)
			real = (int (*)(const char *))dlsym(RTLD_NEXT, "rmdir");
		if (f && *f && strstr(path, f)) {
			errno = EBUSY;
			return -1;
		}
		return real(path);
	}
	int rename(const char *from, const char *to)
	{
		static int (*real)(const char *, const char *);
		static int n;
		const char *f = getenv("IT_SHIM_RENAME_N");
		if (!real)
			real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
		if (f && strstr(to, "/.vigil-old-") && ++n == atoi(f)) {
			errno = EIO;
			return -1;
		}
		return real(from, to);
	}
C
cc -shared -fPIC -o "$T/rm_shim.so" "$T/rm_shim.c" -ldl || fail "cannot build the removal shim"

# assert_log_line ERE: a line of the last command's stderr is exactly this
# (after the timestamp; case-sensitive).
assert_log_line() {
	if ! grep -qE -- "^[^ ]+ $1\$" "$ERR"; then
		show_file "$ERR"
		fail "no log line matches /^<time> $1\$/"
	fi
}
# left PREFIX: exactly one PREFIX-XXXXXX (mkdtemp) is left in MEDIA_DIR; its
# name in $LEFT.
left() {
	LEFT=$(cd "$MEDIA_DIR" && ls -d "$1"-* 2>/dev/null)
	[[ $LEFT =~ ^$1-[A-Za-z0-9]{6}$ ]] || fail "expected one $1-* left in MEDIA_DIR, found: $LEFT"
}
# tree_state of MEDIA_DIR without vigil's own top-level entries.
media_state() { tree_state "$MEDIA_DIR" | grep -v '^2e766967696c2d'; } # ".vigil-" in hex

rm -rf "${MEDIA_DIR:?}"/*
mkdir -p "$MEDIA_DIR/keep"
printf 'stuck as it was\n' >"$MEDIA_DIR/keep/stuck.txt"
printf 'a\n' >"$MEDIA_DIR/a.txt"
printf 'b\n' >"$MEDIA_DIR/keep/b.txt"
assert_exit 0 vigil backup --media-only
media_state >"$T/backed_up"

log "1. committed swap, the replaced entries cannot all be deleted"
printf 'stuck, changed after the backup\n' >"$MEDIA_DIR/keep/stuck.txt"
printf 'new\n' >"$MEDIA_DIR/new.txt"
assert_exit 3 vigil LD_PRELOAD="$T/rm_shim.so" IT_SHIM_UNLINK=stuck.txt \
	restore --media latest --yes --no-safety-backup
left .vigil-old
old=$LEFT
assert_log_line "WARN media restore: $old/keep/stuck\\.txt: cannot remove the old entries: Operation not permitted; hint: the restore is complete; delete $old by hand"
assert_match "$ERR" 'INFO restore media done .* warnings=1$'
assert_log_line 'INFO restore done exit=3 secs=[0-9.]+'
# The restore itself is complete; what could not be deleted stays, as it was live.
media_state >"$T/restored"
assert_tree_same "$T/backed_up" "$T/restored" "MEDIA_DIR after the committed restore"
assert_eq 'stuck, changed after the backup' "$(cat "$MEDIA_DIR/$old/keep/stuck.txt")" \
	"the entry that could not be deleted"
# (the removal stops at the first entry it cannot delete: a.txt went, new.txt
# comes after keep/ in strcmp order)
assert_eq 'keep keep/stuck.txt new.txt' "$(cd "$MEDIA_DIR/$old" && find . -mindepth 1 | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')" \
	"what is left in $old"
rm -rf "${MEDIA_DIR:?}/$old"
media_no_leftovers

log "2. failed swap, the staging directory cannot be removed"
printf 'new\n' >"$MEDIA_DIR/new.txt"
media_state >"$T/live"
assert_exit 1 vigil LD_PRELOAD="$T/rm_shim.so" IT_SHIM_UNLINK=stuck.txt IT_SHIM_RENAME_N=1 \
	restore --media latest --yes --no-safety-backup
left .vigil-restore
stage=$LEFT
assert_log_line "WARN media restore: $stage/keep/stuck\\.txt: cannot remove the staging directory: Operation not permitted \\(it holds only restored files; the next restore removes it\\)"
assert_log_line 'ERROR restore failed: the media directory is unchanged: cannot move .* to .*/\.vigil-old-[A-Za-z0-9]{6}/[a-z]+(\.txt)?: Input/output error'
media_state >"$T/after"
assert_tree_same "$T/live" "$T/after" "MEDIA_DIR after the failed restore"
[[ -z $(cd "$MEDIA_DIR" && ls -d .vigil-old-* 2>/dev/null) ]] || fail "an empty .vigil-old-* was left"
# A leftover staging directory that the next restore cannot remove either
# is a WARN too (it was skipped without a word); the restore goes on.
assert_exit 0 vigil LD_PRELOAD="$T/rm_shim.so" IT_SHIM_UNLINK="$stage" \
	restore --media latest --yes --no-safety-backup
assert_log_line "WARN cannot remove $MEDIA_DIR/$stage, left by an interrupted media restore: cannot remove [^ ]*$stage: Operation not permitted; hint: it holds no live file, delete it by hand"
[[ -d $MEDIA_DIR/$stage ]] || fail "$stage went although its removal failed"
# As the warning says, the next restore removes it.
assert_exit 0 vigil restore --media latest --yes --no-safety-backup
assert_log_line "INFO removed $MEDIA_DIR/$stage, left by an interrupted media restore"
media_no_leftovers

log "3. failed swap, the emptied .vigil-old-* cannot be removed"
printf 'new\n' >"$MEDIA_DIR/new.txt"
media_state >"$T/live"
assert_exit 1 vigil LD_PRELOAD="$T/rm_shim.so" IT_SHIM_RMDIR=/.vigil-old- IT_SHIM_RENAME_N=2 \
	restore --media latest --yes --no-safety-backup
left .vigil-old
old=$LEFT
assert_log_line "WARN media restore: $old: cannot remove the directory of the rolled-back swap: Device or resource busy; hint: every entry was moved back into MEDIA_DIR; check that it holds nothing you need, then delete it"
assert_log_line 'ERROR restore failed: the media directory is unchanged: cannot move .*: Input/output error'
media_state >"$T/after"
assert_tree_same "$T/live" "$T/after" "MEDIA_DIR after the rolled-back restore"
[[ -z $(ls -A "$MEDIA_DIR/$old") ]] || fail "$old is not empty"
[[ -z $(cd "$MEDIA_DIR" && ls -d .vigil-restore-* 2>/dev/null) ]] || fail "the staging directory was left"
log "failed removals of a media restore's own directories are reported"
