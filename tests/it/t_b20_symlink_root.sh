#!/bin/bash
# FIELD-CASES B20: MEDIA_DIR=$T/media is a symlink to $T/real, which holds 3
# files, `loop -> .` and `out -> $T/outside/canary`. Back up, delete the 3
# files, restore media. Expect: the root link is followed and the 3 files
# archived; loop and out stored as links (`l` in tar -tvzf), no recursion,
# nothing twice. After the restore: the files are back, the links are still
# links (same targets), MEDIA_DIR is the same symlink, the canary unchanged.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

rm -rf "$MEDIA_DIR"
mkdir -p "$T/real/sub" "$T/outside"
printf 'one\n' >"$T/real/one.txt"
head -c 3000 /dev/urandom >"$T/real/two.jpg"
printf '%%PDF-1.4 three\n' >"$T/real/sub/three.pdf"
ln -s . "$T/real/loop"
ln -s "$T/outside/canary" "$T/real/out"
printf 'canary: do not touch\n' >"$T/outside/canary"
touch -d '2020-02-02 02:02:02' "$T/outside/canary"
ln -s "$T/real" "$MEDIA_DIR"
canary_before=$(stat -c '%s %Y %a' "$T/outside/canary"; sha256sum <"$T/outside/canary")
cp -a "$T/real" "$T/orig"

assert_exit 0 vigil backup
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ -f $arch ]] || fail "no media archive"
tar -tvzf "$arch" >"$IT_TMP/listing" || fail "tar -tvzf fails"
sed 's/^/    /' "$IT_TMP/listing"

# Entry names (for links, the part before " -> ").
awk '{ n = ""; for (i = 6; i <= NF; i++) { if ($i == "->") break; n = n (n == "" ? "" : " ") $i } print n }' \
	"$IT_TMP/listing" >"$IT_TMP/names"
assert_eq "./ loop one.txt out sub/ sub/three.pdf two.jpg" "$(sort "$IT_TMP/names" | tr '\n' ' ' | sed 's/ $//')" \
	"archive entries (exactly these, each once)"
[[ -z $(sort "$IT_TMP/names" | uniq -d) ]] || fail "entries archived twice: $(sort "$IT_TMP/names" | uniq -d)"
grep -E '^d' "$IT_TMP/listing" | grep -qE ' \./$' || fail "the root is not archived as a directory (bare link?)"
grep -qE '^l.* loop -> \.$' "$IT_TMP/listing" || fail "loop is not stored as a link to ."
grep -qE "^l.* out -> $T/outside/canary\$" "$IT_TMP/listing" || fail "out is not stored as a link to the canary"
grep -qE '^-.* one\.txt$' "$IT_TMP/listing" || fail "one.txt not a regular file entry"
grep -qE '^-.* 3000 .* two\.jpg$' "$IT_TMP/listing" || fail "two.jpg not a regular 3000-byte entry"
grep -qE '^-.* sub/three\.pdf$' "$IT_TMP/listing" || fail "sub/three.pdf not a regular file entry"

# Delete the 3 files, restore.
rm -f "$T/real/one.txt" "$T/real/two.jpg" "$T/real/sub/three.pdf"
wait_next_second
assert_exit 0 vigil restore --media "${arch##*/}" --yes

[[ -L $MEDIA_DIR ]] || fail "MEDIA_DIR is no longer a symlink"
assert_eq "$T/real" "$(readlink "$MEDIA_DIR")" "MEDIA_DIR link target"
[[ -d $T/real && ! -L $T/real ]] || fail "$T/real is no longer a directory"
for f in one.txt two.jpg sub/three.pdf; do
	[[ -f $T/real/$f && ! -L $T/real/$f ]] || fail "$f not restored as a file"
	cmp "$T/orig/$f" "$T/real/$f" || fail "$f differs after the restore"
done
[[ -L $T/real/loop ]] || fail "loop is no longer a symlink"
assert_eq . "$(readlink "$T/real/loop")" "loop target"
[[ -L $T/real/out ]] || fail "out is no longer a symlink"
assert_eq "$T/outside/canary" "$(readlink "$T/real/out")" "out target"
assert_eq "$canary_before" "$(stat -c '%s %Y %a' "$T/outside/canary"; sha256sum <"$T/outside/canary")" \
	"the canary (size, mtime, mode, sha256)"
assert_eq canary "$(ls -A "$T/outside")" "contents of $T/outside"
# The tree is exactly the original one (names, types, link targets, data).
diff -r --no-dereference "$T/orig" "$T/real" || fail "the restored tree differs from the original"
assert_eq "$(cd "$T/orig" && find . -printf '%y %p %l\n' | sort)" \
	"$(cd "$T/real" && find . -printf '%y %p %l\n' | sort)" "entries of the restored tree"
# Nothing of the restore was left in the real directory or next to the link.
assert_no_file "$T/real/.vigil-*"
assert_eq "backups logs media orig outside real" "$(cd "$T" && echo *)" \
	"entries of \$T (nothing written beside the link)"
check_i1
log "B20 ok"
