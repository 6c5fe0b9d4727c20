#!/bin/bash
# Issue 9, item 8, as the daemon sees it: a media backup of an empty
# MEDIA_DIR (a volume that was not mounted) is kept but is no good backup,
# so it is not the media kind's last success. /healthz is 503 with the
# reason and /metrics shows vigil_last_backup_suspect{kind="media"} 1 while
# it is the newest; a good media backup (or MEDIA_ALLOW_EMPTY=true) clears
# it. 0.1.0 answered 200 ok with the empty archive as last_success.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
rm -rf "${MEDIA_DIR:?}"/*

assert_exit 3 vigil backup
assert_output_match 'WARN media directory .* holds no files'
run=$(ls "$BACKUP_DIR/runs" | sort | tail -1)
assert_eq "media directory holds no files" "$(manifest_get "$BACKUP_DIR/runs/$run" artifacts.1.suspect)" \
	"the manifest's suspect reason"
assert_eq success "$(manifest_get "$BACKUP_DIR/runs/$run" artifacts.0.result)" "db result"

daemon_spawn main vigil serve
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz with an empty media backup as the newest"
assert_contains "$T/http.body" '"reason":"media: the last backup is not a good one: media directory holds no files; hint: check that the media volume is mounted'
assert_eq 1 "$(metric 'vigil_last_backup_suspect{kind="media"}')" "suspect gauge (media)"
assert_eq 0 "$(metric 'vigil_last_backup_suspect{kind="db"}')" "suspect gauge (db)"
assert_eq 0 "$(metric 'vigil_last_success_timestamp_seconds{kind="media"}')" "media last success"

# The volume is back: the next run is a good backup and health recovers.
printf 'photo\n' >"$MEDIA_DIR/a.jpg"
wait_next_second
assert_exit 0 vigil backup --media-only
healthy() { http /healthz && [[ $HTTP_CODE == 200 ]]; }
wait_until 10 "/healthz 200 after a good media backup" healthy
assert_contains "$T/http.body" '"status":"ok"'
assert_eq 0 "$(metric 'vigil_last_backup_suspect{kind="media"}')" "suspect gauge after"
daemon_stop
log "empty media is not a good backup for the daemon either"
