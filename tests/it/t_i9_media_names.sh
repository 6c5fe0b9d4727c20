#!/bin/bash
# Issue 9, item 2: names are byte strings. MEDIA_DIR holds the widest set
# of names Linux allows: invalid UTF-8 bytes, an NFC/NFD pair ("Año.jpg"
# both ways, also as directories), one name per control byte 0x01-0x1f
# (newline and tab among them) and one with all of them, 0x7f, leading and
# trailing spaces, leading dashes, backslashes, quotes, "*?[", names of
# exactly 255 bytes (ASCII, 2-byte UTF-8, invalid bytes), a path of about
# 4 KiB (16 directories of 250 bytes), symlinks whose targets are such
# names (one dangling), modes 0600/0751/0444.
# For LC_ALL=C and LC_ALL=C.UTF-8 in turn: back up, change the live tree,
# `vigil restore --media latest --yes`. Expect exit 0, a summary with the
# true counts, and the restored tree equal to the original byte for byte
# (path bytes, types, modes, owners, sizes, mtimes, SHA-256 of contents and
# link targets). GNU tar extracting the same archive (tar -xzf, run under
# C.UTF-8) gives the same tree apart from the root entry itself.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
"$PY" - "$MEDIA_DIR" <<-'EOF' || fail "cannot make the tree"
	import os, sys
	root = os.fsencode(sys.argv[1])
	def put(rel, data=None, mode=0o644):
	    p = os.path.join(root, rel)
	    with open(p, "wb") as f:
	        f.write(data if data is not None else b"content of " + rel + b"\n")
	    os.chmod(p, mode)
	names = [b"\xff\xfe", b"bad\xc3(utf8", b"A\xc3\xb1o.jpg", b"An\xcc\x83o.jpg",
	         b"\x7fdel", b" lead", b"trail ", b"  ", b"-rf", b"--help", b"back\\slash\\",
	         b"quote'", b'dq"', b"star*", b"q?", b"br[a]", b"all" + bytes(range(1, 32)),
	         b"x" * 255, "é".encode() * 127 + b"x", b"\xff" * 255, b"$(echo hi)", b"%s%n"]
	names += [b"c" + bytes([i]) for i in range(1, 32)]
	for n in names:
	    put(n)
	os.chmod(os.path.join(root, b"x" * 255), 0o600)
	os.chmod(os.path.join(root, b"  "), 0o444)
	for d in (b"A\xc3\xb1o", b"An\xcc\x83o", b"\n", b"d\xfe"):
	    os.mkdir(os.path.join(root, d), 0o751)
	    put(os.path.join(d, b"An\xcc\x83o.jpg"))
	    put(os.path.join(d, b"A\xc3\xb1o.jpg"))
	deep = root
	for i in range(16):
	    deep = os.path.join(deep, (b"%02d" % i) + b"d" * 248)
	    os.mkdir(deep)
	put(os.path.join(deep, b"end\n.txt"))
	os.symlink(b"An\xcc\x83o.jpg", os.path.join(root, b"link-nfd"))
	os.symlink(b"\xff\xfe", os.path.join(root, b"link\xfe"))
	os.symlink(b"no such\nfile", os.path.join(root, b"dangling"))
	os.symlink(b"../../etc/passwd", os.path.join(root, b"out"))
EOF
chmod 0751 "$MEDIA_DIR"
tree_state "$MEDIA_DIR" >"$T/orig"
nfiles=$(awk '$2 == 10' "$T/orig" | wc -l)
ndirs=$(awk '$2 == 4' "$T/orig" | wc -l)
nlinks=$(awk '$2 == 12' "$T/orig" | wc -l)
log "tree: $nfiles files, $ndirs directories, $nlinks symlinks"
((nfiles > 60 && ndirs == 21 && nlinks == 4)) || fail "setup: unexpected counts"

for loc in C C.UTF-8; do
	log "LC_ALL=$loc"
	wait_next_second
	LC_ALL=$loc assert_exit 0 vigil backup --media-only
	arch=$(ls -t "$BACKUP_DIR"/media/media_*.tar.gz | head -1)
	# the live tree changes, so a restore has something to undo
	rm -f "$MEDIA_DIR/An"$'\xcc\x83'"o.jpg" "$MEDIA_DIR/"$'\xff\xfe'
	printf 'new\n' >"$MEDIA_DIR/A"$'\xc3\xb1'"o.jpg"
	wait_next_second
	LC_ALL=$loc assert_exit 0 vigil restore --media latest --yes
	assert_contains "$OUT" ": $nfiles files, $ndirs directories, $nlinks symlinks"
	tree_state "$MEDIA_DIR" >"$T/now"
	assert_tree_same "$T/orig" "$T/now" "restored under LC_ALL=$loc"
	media_no_leftovers

	log "GNU tar extracts the archive made under LC_ALL=$loc identically"
	rm -rf "$T/gnu"
	mkdir "$T/gnu"
	LC_ALL=C.UTF-8 tar -xzf "$arch" -C "$T/gnu" 2>"$T/tar.err" || {
		cat "$T/tar.err"
		fail "GNU tar cannot extract $arch"
	}
	tree_state "$T/gnu" | sed 1d >"$T/gnu.state"
	sed 1d "$T/orig" >"$T/orig.noroot"
	assert_tree_same "$T/orig.noroot" "$T/gnu.state" "GNU tar's extraction ($loc)"
done
log "item 2 ok"
