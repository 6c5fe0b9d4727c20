#!/bin/bash
# FIELD-CASES B22: a file over 8 GiB (the ustar size field's limit).
# $MEDIA_DIR/big.bin is a sparse 9 GiB file ending in "END". Back up, move
# big.bin aside, restore media. Expect: `tar -tvzf` lists big.bin with
# 9663676416 bytes; the restored file passes `cmp` with the original, END
# included; never a skipped file or a corrupt archive (sha256sum -c; GNU tar
# lists it and extracts the same bytes too).
# Runtime: ~80 s when vigil stores the file sparse (pax sparse entries, the
# current build); 6-7 min on a loaded 2-CPU machine when all 9 GiB of zeros
# go through gzip (earlier builds): then run it with IT_TIMEOUT=900 or more
# (run.sh's default is 300 s). vigil calls get IT_VIGIL_TIMEOUT_BIG (1500 s).
set -u
. "$(dirname "$0")/lib.sh"
require_vigil
# shellcheck disable=SC2034 # read by the vigil function of lib.sh
IT_VIGIL_TIMEOUT=${IT_VIGIL_TIMEOUT_BIG:-1500}
pg_start
vigil_env
fixture

SIZE=$((9 * 2 ** 30))
assert_eq 9663676416 "$SIZE" "9 GiB"
truncate -s 9G "$MEDIA_DIR/big.bin"
printf END | dd of="$MEDIA_DIR/big.bin" bs=1 seek=$((SIZE - 3)) conv=notrunc status=none
assert_eq "$SIZE" "$(stat -c %s "$MEDIA_DIR/big.bin")" "size of big.bin"
assert_eq END "$(tail -c 3 "$MEDIA_DIR/big.bin")" "last bytes of big.bin"
log "big.bin uses $(du -k "$MEDIA_DIR/big.bin" | cut -f1) KiB on disk"

t0=$SECONDS
assert_exit 0 vigil backup
log "backup: $((SECONDS - t0)) s"
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ -f $arch ]] || fail "no media archive"
m=$(ls_manifests)
assert_eq success "$(manifest_get "$m" result)" "run result"
assert_eq 4 "$(manifest_get "$m" artifacts.1.files)" "files in the manifest (big.bin and the 3 of vigil_env)"

mv "$MEDIA_DIR/big.bin" "$T/big.bin.orig"
# tar -tvzf may decode the whole stream (minutes): it runs in the background
# while vigil restores from the same (unchanging) archive and cmp runs. So
# does an extraction by GNU tar (another reader of the format), compared
# with the original.
(
	t0=$SECONDS
	tar -tvzf "$arch" >"$IT_TMP/listing" 2>"$IT_TMP/listing.err"
	echo "$? $((SECONDS - t0))" >"$IT_TMP/listing.rc"
) &
lister=$!
(
	t0=$SECONDS
	mkdir "$T/gnutar"
	tar -xzf "$arch" -C "$T/gnutar" big.bin 2>"$IT_TMP/gnutar.err" &&
		cmp "$T/big.bin.orig" "$T/gnutar/big.bin" >>"$IT_TMP/gnutar.err" 2>&1
	echo "$? $((SECONDS - t0))" >"$IT_TMP/gnutar.rc"
	rm -rf "$T/gnutar"
) &
gnutar=$!
wait_next_second
t0=$SECONDS
assert_exit 0 vigil restore --media "${arch##*/}" --yes
log "restore: $((SECONDS - t0)) s"

assert_file "$MEDIA_DIR/big.bin"
assert_eq "$SIZE" "$(stat -c %s "$MEDIA_DIR/big.bin")" "size of the restored big.bin"
assert_eq END "$(tail -c 3 "$MEDIA_DIR/big.bin")" "last bytes of the restored big.bin"
log "restored big.bin uses $(du -k "$MEDIA_DIR/big.bin" | cut -f1) KiB on disk"
t0=$SECONDS
cmp "$T/big.bin.orig" "$MEDIA_DIR/big.bin" || fail "the restored big.bin differs from the original"
log "cmp: $((SECONDS - t0)) s"
wait "$lister"
read -r trc tsecs <"$IT_TMP/listing.rc"
log "tar -tvzf: $tsecs s"
((trc == 0)) || fail "tar -tvzf fails (the archive is corrupt): $(cat "$IT_TMP/listing.err")"
sed 's/^/    /' "$IT_TMP/listing"
wait "$gnutar"
read -r grc gsecs <"$IT_TMP/gnutar.rc"
log "GNU tar -xzf big.bin + cmp: $gsecs s"
((grc == 0)) || fail "GNU tar extracts a different big.bin (or fails): $(cat "$IT_TMP/gnutar.err")"
line=$(grep -E ' big\.bin$' "$IT_TMP/listing") || fail "big.bin is not in the archive"
assert_eq 9663676416 "$(awk '{ print $3 }' <<<"$line")" "size of big.bin in tar -tvzf"
[[ $line == -* ]] || fail "big.bin is not a regular file entry: $line"
assert_eq 7 "$(wc -l <"$IT_TMP/listing")" "entries in the archive"
# (check_i1 would gzip -t the 9 GiB again: tar -tvzf above already decoded
# the whole stream; the checksum is enough here.)
(cd "$BACKUP_DIR/media" && sha256sum -c --status "${arch##*/}.sha256") || fail "sha256sum -c fails"

for f in hello.txt img/photo.jpg docs/report.pdf; do
	assert_file "$MEDIA_DIR/$f"
done
assert_no_file "$MEDIA_DIR/.vigil-*"
assert_no_temp "$BACKUP_DIR"
log "B22 ok"
