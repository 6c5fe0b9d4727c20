#!/bin/bash
# FIELD-CASES B24: media restore must not rewrite paths (every "media/"
# substring) nor write outside MEDIA_DIR.
# Part 1: a tree with uploads/social_media/x.jpg and media/y.jpg; back up,
#   copy it aside; add new.jpg, edit x.jpg; restore media. Expect: `diff -r`
#   of the restored tree against the copy is empty; new.jpg (and the edited
#   x.jpg) are in the media/pre_restore_* archive.
# Part 2: hand-made archives (Python tarfile, gzip, vigil's name
#   media_YYYYMMDD_HHMMSS.tar.gz and a matching .sha256) with `../evil`, an
#   absolute `$T/evil2`, and `lnk -> $T` followed by `lnk/evil3`: all three in
#   one archive (as FIELD-CASES says) and each in its own, every one after a
#   harmless entry; also `sub/../../evil` and hard links (carrying data) to
#   `$T/victim` and `../victim`. Expect for each: refused at validation with exit 2,
#   nothing written outside MEDIA_DIR, MEDIA_DIR unchanged (names, types,
#   modes, mtimes, contents), no pre_restore_* made, no staging directory.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

# ---------------------------------------------------------------- part 1
rm -rf "${MEDIA_DIR:?}"/*
mkdir -p "$MEDIA_DIR/uploads/social_media" "$MEDIA_DIR/media" "$MEDIA_DIR/uploads/media_kit"
printf 'x original\n' >"$MEDIA_DIR/uploads/social_media/x.jpg"
printf 'y\n' >"$MEDIA_DIR/media/y.jpg"
printf 'z\n' >"$MEDIA_DIR/uploads/media_kit/media.jpg"
printf 'top\n' >"$MEDIA_DIR/media.txt"
assert_exit 0 vigil backup
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ -f $arch ]] || fail "no media archive"
cp -a "$MEDIA_DIR" "$T/copy"
printf 'new\n' >"$MEDIA_DIR/new.jpg"
printf 'x edited\n' >"$MEDIA_DIR/uploads/social_media/x.jpg"
wait_next_second
assert_exit 0 vigil restore --media "${arch##*/}" --yes
diff -r --no-dereference "$T/copy" "$MEDIA_DIR" || fail "the restored tree differs from the copy"
assert_eq "$(cd "$T/copy" && find . -printf '%y %p\n' | sort)" "$(cd "$MEDIA_DIR" && find . -printf '%y %p\n' | sort)" \
	"entries of the restored tree"
assert_count 1 "$BACKUP_DIR/media/pre_restore_*.tar.gz"
pre=$(echo "$BACKUP_DIR"/media/pre_restore_*.tar.gz)
tar -tzf "$pre" >"$IT_TMP/pre-list" || fail "tar -tzf $pre"
grep -qx 'new.jpg' "$IT_TMP/pre-list" || fail "new.jpg is not in $pre"
assert_eq 'x edited' "$(tar -xzOf "$pre" uploads/social_media/x.jpg)" "x.jpg in the safety copy"
check_i1

# ---------------------------------------------------------------- part 2
DB=$BACKUP_DIR/media
# handmade N SPEC...: a pax tar.gz with vigil's name and .sha256; SPEC items
# are f:NAME (a file), d:NAME (a directory), l:NAME:TARGET (a symlink),
# h:NAME:TARGET (a hard link carrying data, which an extractor writes into
# the linked file).
# Prints the file name.
handmade() {
	local name=media_20200101_00000$1.tar.gz
	shift
	"$PY" - "$IT_TMP/h.tar" "$@" <<-'EOF' || fail "python tarfile failed"
		import io, sys, tarfile, time
		out, items = sys.argv[1], sys.argv[2:]
		with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
		    for it in items:
		        kind, rest = it.split(":", 1)
		        if kind in ("l", "h"):
		            name, target = rest.split(":", 1)
		        else:
		            name = rest
		        ti = tarfile.TarInfo(name)
		        ti.mtime = int(time.time()) - 3600
		        if kind == "f":
		            data = ("payload of %s\n" % name).encode()
		            ti.size = len(data)
		            ti.mode = 0o644
		            tf.addfile(ti, io.BytesIO(data))
		        elif kind == "d":
		            ti.type = tarfile.DIRTYPE
		            ti.mode = 0o755
		            tf.addfile(ti)
		        elif kind == "h":
		            data = b"overwritten through a hard link\n"
		            ti.type = tarfile.LNKTYPE
		            ti.linkname = target
		            ti.size = len(data)
		            ti.mode = 0o644
		            tf.addfile(ti, io.BytesIO(data))
		        else:
		            ti.type = tarfile.SYMTYPE
		            ti.linkname = target
		            ti.mode = 0o777
		            tf.addfile(ti)
	EOF
	gzip -n -c "$IT_TMP/h.tar" >"$DB/$name"
	(cd "$DB" && sha256sum "$name" >"$name.sha256")
	echo "$name"
}

all=$(handmade 1 d:./ f:harmless.txt f:../evil "f:$T/evil2" "l:lnk:$T" f:lnk/evil3)
dotdot=$(handmade 2 d:./ f:harmless.txt f:../evil)
absolute=$(handmade 3 d:./ f:harmless.txt "f:$T/evil2")
vialink=$(handmade 4 d:./ f:harmless.txt "l:lnk:$T" f:lnk/evil3)
deepdotdot=$(handmade 5 d:./ f:harmless.txt d:sub/ f:sub/../../evil)
# The same kind through hard links: to a file outside by absolute path and
# by "..": extracting would link (and write) the victim outside MEDIA_DIR.
printf 'victim\n' >"$T/victim"
hardabs=$(handmade 6 d:./ f:harmless.txt "h:hl:$T/victim")
harddotdot=$(handmade 7 d:./ f:harmless.txt "h:hl:../victim")
cases=("$all" "$dotdot" "$absolute" "$vialink" "$deepdotdot" "$hardabs" "$harddotdot")
# What the archives hold really (GNU tar lists them as written).
for a in "${cases[@]}"; do
	log "$a: $(tar -tzf "$DB/$a" 2>/dev/null | tr '\n' ' ')"
done
tar -tzf "$DB/$all" | grep -qx '../evil' || fail "setup: ../evil not in the archive"
tar -tzf "$DB/$all" 2>/dev/null | grep -qxF "$T/evil2" || fail "setup: $T/evil2 not in the archive"
"$PY" -c 'import sys, tarfile; n = tarfile.open(sys.argv[1]).getnames(); sys.exit(0 if sys.argv[2] in n else 1)' \
	"$DB/$all" "$T/evil2" || fail "setup: the absolute name was not stored as absolute"

# state: what must not change. Everything under $T except BACKUP_DIR and
# LOG_DIR (names, types, modes, owners, mtimes, link targets, sizes), the
# contents of MEDIA_DIR, and the parent of $T (for ../../ escapes).
state() {
	(cd "$T" && find . \( -path ./backups -o -path ./logs \) -prune -o \
		-printf '%y %m %U:%G %T@ %s %n %p -> %l\n' | sort)
	(cd "$MEDIA_DIR" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
	for f in evil evil2 evil3; do [[ -e ${T%/*}/$f ]] && echo "${T%/*}/$f"; done; true
}
state >"$IT_TMP/state-before"
pre_count() { (shopt -s nullglob; set -- "$BACKUP_DIR"/*/pre_restore_*; echo $#); }
pre_before=$(pre_count)

for a in "${cases[@]}"; do
	log "case: $a"
	wait_next_second
	assert_exit 2 vigil restore --media "$a" --yes
	assert_contains "$ERR" "$a"
	assert_match "$ERR" 'evil|victim' # the reason names the entry
	assert_match "$ERR" 'ERROR .*restore refused'
	for f in "$T/evil" "$T/evil2" "$T/evil3" "${T%/*}/evil" "$MEDIA_DIR/harmless.txt" "$MEDIA_DIR/lnk" "$MEDIA_DIR/hl"; do
		[[ -e $f || -L $f ]] && fail "$a: $f was written"
	done
	assert_eq victim "$(cat "$T/victim")" "$a: content of the victim file"
	state >"$IT_TMP/state-after"
	diff -u "$IT_TMP/state-before" "$IT_TMP/state-after" || fail "$a: something changed"
	assert_eq "$pre_before" "$(pre_count)" "$a: pre_restore_* files (refused before the safety copy)"
	assert_no_file "$MEDIA_DIR/.vigil-*"
	assert_no_temp "$BACKUP_DIR"
done
log "B24 ok"
