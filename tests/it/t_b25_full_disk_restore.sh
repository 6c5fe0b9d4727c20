#!/bin/bash
# FIELD-CASES B25: a restore must not destroy anything before a checked
# safety copy exists. BACKUP_DIR is a 1 MiB tmpfs holding good backups; the
# live database and media then change (so a restore would be visible).
# Full disk (a filler leaves 4 KiB): `vigil restore --db <good> --yes` and
#   `vigil restore --media <good> --yes` both exit 1 before anything
#   destructive: rows and media unchanged, no pre_restore_* (nor temporary)
#   file left, the cause logged.
# With space (filler removed), both again: exit 0, the restore happened;
#   each pre_restore_* copy exists, passes gzip -t and sha256sum -c (I1), is
#   named in $LOG_DIR/restore.log; restoring it (`vigil restore --db
#   pre_restore_... --yes`, `--media pre_restore_...`) brings the old state
#   back exactly.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
# Media that compress to more than 4 KiB (so its safety copy cannot fit).
head -c 65536 /dev/urandom >"$MEDIA_DIR/img/noise.bin"

mount -t tmpfs -o size=1m,mode=0755 tmpfs "$BACKUP_DIR" || fail "mount tmpfs (needs root)"
# shellcheck disable=SC2016 # expanded when the trap runs
at_exit 'umount -l "$BACKUP_DIR" 2>/dev/null'
assert_exit 0 vigil backup
gooddb=$(cd "$BACKUP_DIR/db" && echo app_*.sql.gz)
goodmedia=$(cd "$BACKUP_DIR/media" && echo media_*.tar.gz)
[[ -f $BACKUP_DIR/db/$gooddb && -f $BACKUP_DIR/media/$goodmedia ]] || fail "no good backups"
check_i1

# The live state diverges from the backups.
sql "DELETE FROM items WHERE id > 500; CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);" >/dev/null
printf 'added after the backup\n' >"$MEDIA_DIR/new.txt"
printf 'hello media, edited\n' >"$MEDIA_DIR/hello.txt"
rm "$MEDIA_DIR/docs/report.pdf"
pg_dump_norm >"$T/db-live.sql"
media_state() {
	(cd "$MEDIA_DIR" && find . -printf '%y %m %U:%G %s %T@ %p -> %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}
media_state >"$T/media-live"

# ---- full disk: a filler leaves 4 KiB
avail=$(($(stat -f -c '%a * %S' "$BACKUP_DIR")))
head -c $((avail - 4096)) /dev/zero >"$BACKUP_DIR/filler" || fail "setup: filler"
avail=$(($(stat -f -c '%a * %S' "$BACKUP_DIR")))
assert_eq 4096 "$avail" "bytes left on the tmpfs"
snapshot "$BACKUP_DIR" >"$T/backups-full"

unchanged() {
	local what=$1
	pg_dump_norm >"$T/db-now.sql"
	diff -u "$T/db-live.sql" "$T/db-now.sql" >/dev/null || fail "$what: the database changed"
	assert_eq 500 "$(sql 'SELECT count(*) FROM items')" "$what: rows"
	media_state >"$T/media-now"
	diff -u "$T/media-live" "$T/media-now" || fail "$what: the media directory changed"
	assert_no_file "$MEDIA_DIR/.vigil-*"
}

log "full disk: --db"
wait_next_second
assert_exit 1 vigil restore --db "$gooddb" --yes
assert_match "$ERR" 'No space left on device'
assert_match "$LOG_DIR/restore.log" 'No space left on device'
assert_no_file "$BACKUP_DIR/*/pre_restore_*"
assert_no_temp "$BACKUP_DIR"
unchanged "full disk --db"
snapshot "$BACKUP_DIR" >"$T/backups-now"
assert_kept "$T/backups-full" "$T/backups-now"

log "full disk: --media"
wait_next_second
assert_exit 1 vigil restore --media "$goodmedia" --yes
assert_match "$ERR" 'No space left on device'
assert_no_file "$BACKUP_DIR/*/pre_restore_*"
assert_no_temp "$BACKUP_DIR"
unchanged "full disk --media"
snapshot "$BACKUP_DIR" >"$T/backups-now"
assert_kept "$T/backups-full" "$T/backups-now"

# ---- with space
rm "$BACKUP_DIR/filler"
: >"$LOG_DIR/restore.log"

log "with space: --db"
wait_next_second
assert_exit 0 vigil restore --db "$gooddb" --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the restore"
assert_count 1 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
predb=$(cd "$BACKUP_DIR/db" && echo pre_restore_*.sql.gz)

log "with space: --media"
wait_next_second
assert_exit 0 vigil restore --media "$goodmedia" --yes
[[ -f $MEDIA_DIR/docs/report.pdf && ! -e $MEDIA_DIR/new.txt ]] || fail "the media restore did not happen"
assert_count 1 "$BACKUP_DIR/media/pre_restore_*.tar.gz"
premedia=$(cd "$BACKUP_DIR/media" && echo pre_restore_*.tar.gz)

for p in "db/$predb" "media/$premedia"; do
	gzip -t "$BACKUP_DIR/$p" || fail "gzip -t $p fails"
	assert_file "$BACKUP_DIR/$p.sha256"
	(cd "$BACKUP_DIR/${p%%/*}" && sha256sum -c --status "${p#*/}.sha256") || fail "sha256sum -c $p fails"
	assert_contains "$LOG_DIR/restore.log" "${p#*/}"
done
dump_complete "$BACKUP_DIR/db/$predb" || fail "$predb lacks the pg_dump trailer"
check_i1
assert_no_temp "$BACKUP_DIR"

log "restoring the safety copies brings the old state back"
wait_next_second
assert_exit 0 vigil restore --db "$predb" --yes
wait_next_second
assert_exit 0 vigil restore --media "$premedia" --yes
unchanged "after restoring the safety copies"
assert_eq 42 "$(sql 'SELECT x FROM marker')" "marker row"
log "B25 ok"
