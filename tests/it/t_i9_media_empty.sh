#!/bin/bash
# Issue 9, item 4 (F7): an empty MEDIA_DIR (a volume that was not mounted),
# or a file count that collapses against the last good media backup, is no
# silent success.
# 1. An empty MEDIA_DIR: `vigil backup --media-only` exits 3, logs "WARN
#    media directory ... holds no files ... hint: check that the media
#    volume is mounted"; the run manifest says "result": "warning", its media
#    artifact "warning" with the warning "./: media directory holds no files";
#    the archive is kept (it passes sha256sum -c).
# 2. The same with MEDIA_ALLOW_EMPTY=true: exit 0, "success".
# 3. 20 files: exit 0, "success" (the last good count). 10 files (exactly
#    half): exit 0. 4 files: exit 3, "media file count collapsed: 4 files,
#    the last good media backup (run R) had 10" with R that run's id, and a
#    second such run again compares with 10 (a warning is not a good
#    backup). MEDIA_ALLOW_EMPTY=true accepts it (exit 0, "success"); the next
#    plain run compares with 4 (below the minimum of 10) and succeeds.
# 4. check-config shows MEDIA_ALLOW_EMPTY; an invalid value is exit 2.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*

newest() { ls_manifests | sort | tail -1; }
media_art() { # media_art KEY: a key of the newest manifest's media artifact
	manifest_get "$(newest)" "artifacts.0.$1"
}

log "1. empty"
assert_exit 3 vigil backup --media-only
assert_match "$ERR" "WARN media directory $MEDIA_DIR holds no files: the backup is kept but the run is a warning; hint: check that the media volume is mounted"
assert_match "$LOG_DIR/backup.log" 'WARN media directory .* holds no files'
assert_eq warning "$(manifest_get "$(newest)" result)" "run result"
assert_eq media "$(media_art kind)" "artifact kind"
assert_eq warning "$(media_art result)" "media result"
assert_eq 0 "$(media_art files)" "media files"
assert_eq '["./: media directory holds no files"]' "$(media_art warnings)" "media warnings"
arch=$BACKUP_DIR/$(media_art path)
assert_file "$arch"
(cd "${arch%/*}" && sha256sum -c --status "${arch##*/}.sha256") || fail "sha256sum -c $arch"

log "2. empty, MEDIA_ALLOW_EMPTY=true"
wait_next_second
assert_exit 0 vigil MEDIA_ALLOW_EMPTY=true backup --media-only
assert_not_contains "$ERR" 'holds no files'
assert_eq success "$(manifest_get "$(newest)" result)" "run result"
assert_eq success "$(media_art result)" "media result"

log "3. collapse"
for i in $(seq 1 20); do printf '%s\n' "$i" >"$MEDIA_DIR/f$i.txt"; done
wait_next_second
assert_exit 0 vigil backup --media-only
rm "$MEDIA_DIR"/f1[1-9].txt "$MEDIA_DIR"/f20.txt
wait_next_second
assert_exit 0 vigil backup --media-only
good=$(manifest_get "$(newest)" run_id)
assert_eq 10 "$(media_art files)" "files"
rm "$MEDIA_DIR"/f[5-9].txt "$MEDIA_DIR/f10.txt"
for k in 1 2; do
	wait_next_second
	assert_exit 3 vigil backup --media-only
	assert_contains "$ERR" "WARN media file count collapsed: 4 files, the last good media backup (run $good) had 10: the backup is kept but the run is a warning; hint: check that the media volume is mounted and complete"
	assert_eq warning "$(manifest_get "$(newest)" result)" "run result ($k)"
	assert_eq "[\"./: media file count collapsed: 4 files, the last good media backup (run $good) had 10\"]" \
		"$(media_art warnings)" "media warnings ($k)"
done
wait_next_second
assert_exit 0 vigil MEDIA_ALLOW_EMPTY=true backup --media-only
assert_eq success "$(manifest_get "$(newest)" result)" "accepted"
wait_next_second
assert_exit 0 vigil backup --media-only
assert_eq success "$(manifest_get "$(newest)" result)" "after accepting"

log "4. check-config"
assert_exit 0 vigil check-config
assert_contains "$OUT" 'MEDIA_ALLOW_EMPTY=false'
assert_exit 2 vigil MEDIA_ALLOW_EMPTY=maybe check-config
assert_output_match 'MEDIA_ALLOW_EMPTY'
log "item 4 ok"
