# shellcheck shell=bash
# tests/it/media_lib.sh - helpers for the media tests, sourced after lib.sh.
#
#   media_only_env    vigil_env without a database: POSTGRES_DB=app is set
#                     (vigil needs it to start), no cluster is started, so
#                     only `backup --media-only` and `restore --media` work.
#   tree_state DIR    one line per entry below DIR and DIR itself ("."):
#                     the path's bytes in hex, type, mode, uid:gid, size,
#                     mtime in ns, the SHA-256 of a regular file's content
#                     or a symlink's target bytes. Walks with directory file
#                     descriptors, so names of any bytes and paths longer
#                     than PATH_MAX are fine; sorted by path bytes.
#   assert_tree_same A B WHAT   two tree_state files are equal (shows the diff).
#   media_no_leftovers   no .vigil-* entry in $MEDIA_DIR.
#   rename_shim N kill|eio   build $T/rename_shim.so, an LD_PRELOAD library
#                     whose rename(2) kills the process (SIGKILL) or fails
#                     with EIO at the Nth move into a ".vigil-old-" path:
#                     a media swap interrupted half-way.

media_only_env() {
	require_vigil
	vigil_env
	export POSTGRES_DB=app HTTP_LISTEN=off
}

tree_state() {
	"$PY" - "$1" <<-'EOF'
		import hashlib, os, stat, sys
		root = os.fsencode(sys.argv[1])
		rows = []
		def row(rel, st, dfd, name):
		    t = stat.S_IFMT(st.st_mode)
		    h = "-"
		    if stat.S_ISREG(st.st_mode):
		        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
		        d = hashlib.sha256()
		        while True:
		            b = os.read(fd, 1 << 20)
		            if not b:
		                break
		            d.update(b)
		        os.close(fd)
		        h = d.hexdigest()
		    elif stat.S_ISLNK(st.st_mode):
		        h = "->" + os.readlink(name, dir_fd=dfd).hex()
		    rows.append((rel, "%s %o %o %d:%d %d %d %s" % (rel.hex() or ".", t >> 12,
		                 stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
		                 st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
		                 st.st_mtime_ns, h)))
		def walk(dfd, rel):
		    for name in map(os.fsencode, os.listdir(dfd)):
		        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
		        r = rel + b"/" + name if rel else name
		        row(r, st, dfd, name)
		        if stat.S_ISDIR(st.st_mode):
		            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
		            walk(fd, r)
		            os.close(fd)
		fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
		row(b"", os.fstat(fd), None, root)
		walk(fd, b"")
		for _, line in sorted(rows):
		    print(line)
	EOF
	(($? == 0)) || fail "tree_state $1 failed"
}

assert_tree_same() {
	diff -u "$1" "$2" >"$IT_TMP/tree.diff" || {
		head -c 4000 "$IT_TMP/tree.diff"
		fail "$3: the trees differ"
	}
}

media_no_leftovers() {
	local left
	left=$(find "$MEDIA_DIR" -maxdepth 1 -name '.vigil-*')
	[[ -z $left ]] || fail "left in MEDIA_DIR: $left"
}

rename_shim() {
	local n=$1 action
	case $2 in
	kill) action='raise(SIGKILL);' ;;
	eio) action='errno = EIO; return -1;' ;;
	*) fail "rename_shim: kill or eio, not $2" ;;
	esac
	cat >"$T/rename_shim.c" <<-C
		#define _GNU_SOURCE
		#include <dlfcn.h>
		#include <errno.h>
		#include <signal.h>
		#include <string.h>
		int rename(const char *from, const char *to)
		{
			static int (*real)(const char *, const char *);
			static int n;
			if (!real)
				real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
			if (strstr(to, "/.vigil-old-") && ++n == $n) {
				$action
			}
			return real(from, to);
		}
	C
	cc -shared -fPIC -o "$T/rename_shim.so" "$T/rename_shim.c" -ldl || fail "cannot build the rename shim"
}
