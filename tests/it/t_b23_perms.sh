#!/bin/bash
# FIELD-CASES B23: unreadable files and ownership.
# (a) `vigil backup` as uid 1000 (setpriv --reuid=1000 --regid=1000
#     --clear-groups; BACKUP_DIR and LOG_DIR owned by uid 1000) with
#     $MEDIA_DIR/private/s.jpg root-owned, mode 000. Expect: exit 1, the media
#     kind fails, the log and the manifest name private/s.jpg, the db kind
#     succeeds (its file is there and verifies); no media file, no temporary
#     file. Again with MEDIA_EXCLUDE=private/s.jpg: exit 0, the archive has
#     private/ but not s.jpg.
# (b) as root: files 33:33 mode 0640, a directory 2775, a file 0600, set
#     mtimes; back up, delete the tree, restore media. Expect: `stat -c '%u %g
#     %a %Y %n'` of every entry (the root included) identical before and after.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

# ---------------------------------------------------------------- (a)
log "(a) as uid 1000, private/s.jpg unreadable"
mkdir -p "$MEDIA_DIR/private"
printf 'secret jpeg\n' >"$MEDIA_DIR/private/s.jpg"
printf 'public jpeg\n' >"$MEDIA_DIR/private/p.jpg"
chown 0:0 "$MEDIA_DIR/private/s.jpg"
chmod 000 "$MEDIA_DIR/private/s.jpg"
chown 1000:1000 "$BACKUP_DIR" "$LOG_DIR"
chmod 755 "$T"
# uid 1000 really cannot read it (and can read the rest).
setpriv --reuid=1000 --regid=1000 --clear-groups cat "$MEDIA_DIR/private/s.jpg" >/dev/null 2>&1 &&
	fail "setup: uid 1000 can read s.jpg"
setpriv --reuid=1000 --regid=1000 --clear-groups cat "$MEDIA_DIR/private/p.jpg" >/dev/null ||
	fail "setup: uid 1000 cannot read p.jpg"

# vigil1000 ARGS...: the lib's vigil (timeout, VAR=VALUE words) as uid 1000.
cat >"$IT_TMP/as1000" <<-EOF
	#!/bin/sh
	exec setpriv --reuid=1000 --regid=1000 --clear-groups "$VIGIL" "\$@"
EOF
chmod 755 "$IT_TMP/as1000"
vigil1000() {
	local VIGIL=$IT_TMP/as1000
	vigil "$@"
}

ls_manifests >"$T/manifests-before"
assert_exit 1 vigil1000 backup
assert_contains "$ERR" private/s.jpg
assert_match "$ERR" 'ERROR .*private/s\.jpg'
assert_contains "$LOG_DIR/backup.log" private/s.jpg
assert_one_failure_manifest "$T/manifests-before"
m=$(new_manifests "$T/manifests-before")
assert_eq db "$(manifest_get "$m" artifacts.0.kind)" "first artifact"
assert_eq success "$(manifest_get "$m" artifacts.0.result)" "db artifact result"
assert_eq media "$(manifest_get "$m" artifacts.1.kind)" "second artifact"
assert_eq failure "$(manifest_get "$m" artifacts.1.result)" "media artifact result"
manifest_get "$m" artifacts.1.error >"$T/media-error"
assert_contains "$T/media-error" private/s.jpg
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz.sha256"
assert_count 0 "$BACKUP_DIR/media/media_*"
db1=$(echo "$BACKUP_DIR"/db/app_*.sql.gz)
assert_eq 1000 "$(stat -c %u "$db1")" "owner of the db file"
assert_no_temp "$BACKUP_DIR"
check_i1
assert_exit 0 vigil verify "${db1##*/}"

log "(a) again with MEDIA_EXCLUDE=private/s.jpg"
wait_next_second
assert_exit 0 vigil1000 MEDIA_EXCLUDE=private/s.jpg backup
assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
tar -tzf "$arch" >"$T/list-a" || fail "tar -tzf $arch"
grep -qx 'private/' "$T/list-a" || fail "private/ not archived"
grep -qx 'private/p.jpg' "$T/list-a" || fail "private/p.jpg not archived"
grep -q 's\.jpg' "$T/list-a" && fail "the excluded s.jpg was archived"
assert_count 2 "$BACKUP_DIR/db/app_*.sql.gz"
check_i1

# ---------------------------------------------------------------- (b)
log "(b) owners, modes and mtimes survive a media restore"
export MEDIA_DIR=$T/media_b BACKUP_DIR=$T/backups_b
mkdir -p "$MEDIA_DIR/uploads/2024" "$MEDIA_DIR/shared" "$BACKUP_DIR"
printf 'a\n' >"$MEDIA_DIR/uploads/a.jpg"
printf 'b\n' >"$MEDIA_DIR/uploads/2024/b.jpg"
printf 'c\n' >"$MEDIA_DIR/shared/c.txt"
printf 'private\n' >"$MEDIA_DIR/private.key"
printf 'plain\n' >"$MEDIA_DIR/plain.txt"
chown 33:33 "$MEDIA_DIR/uploads/a.jpg" "$MEDIA_DIR/uploads/2024/b.jpg" "$MEDIA_DIR/uploads" \
	"$MEDIA_DIR/uploads/2024"
chmod 0640 "$MEDIA_DIR/uploads/a.jpg" "$MEDIA_DIR/uploads/2024/b.jpg"
chown 1000:33 "$MEDIA_DIR/shared" "$MEDIA_DIR/shared/c.txt"
chmod 2775 "$MEDIA_DIR/shared"
chmod 0664 "$MEDIA_DIR/shared/c.txt"
chmod 0600 "$MEDIA_DIR/private.key"
chown 1000:1000 "$MEDIA_DIR/private.key"
chmod 0750 "$MEDIA_DIR/uploads"
chmod 0700 "$MEDIA_DIR/uploads/2024"
chmod 0751 "$MEDIA_DIR"
chown 33:33 "$MEDIA_DIR"
touch -h -d '2021-03-04 05:06:07' "$MEDIA_DIR/uploads/a.jpg"
touch -h -d '2019-12-31 23:59:59' "$MEDIA_DIR/uploads/2024/b.jpg"
touch -h -d '2022-01-01 00:00:01' "$MEDIA_DIR/shared/c.txt"
touch -h -d '2001-09-09 01:46:40' "$MEDIA_DIR/private.key"
touch -h -d '2023-07-07 07:07:07' "$MEDIA_DIR/plain.txt"
# directories last, deepest first (their mtimes change when entries change)
touch -h -d '2020-02-20 20:20:20' "$MEDIA_DIR/uploads/2024"
touch -h -d '2020-02-21 21:21:21' "$MEDIA_DIR/uploads"
touch -h -d '2020-02-22 22:22:22' "$MEDIA_DIR/shared"
touch -h -d '2018-08-08 08:08:08' "$MEDIA_DIR"

stat_tree() { (cd "$MEDIA_DIR" && find . -print0 | sort -z | xargs -0 stat -c '%u %g %a %Y %n'); }
stat_tree >"$T/stat-before"
sed 's/^/    /' "$T/stat-before"
# The setup is what it should be (setgid dir 2775, 33:33 0640 files, ...).
grep -qx '1000 33 2775 [0-9]* ./shared' "$T/stat-before" || fail "setup: shared is not 2775"
grep -qx '33 33 640 [0-9]* ./uploads/a.jpg' "$T/stat-before" || fail "setup: a.jpg"
grep -qx '1000 1000 600 [0-9]* ./private.key' "$T/stat-before" || fail "setup: private.key"

assert_exit 0 vigil backup
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ -f $arch ]] || fail "no media archive"
find "$MEDIA_DIR" -mindepth 1 -delete
chmod 0700 "$MEDIA_DIR"
chown 0:0 "$MEDIA_DIR"
[[ -z $(ls -A "$MEDIA_DIR") ]] || fail "setup: tree not deleted"
wait_next_second
assert_exit 0 vigil restore --media "${arch##*/}" --yes
stat_tree >"$T/stat-after"
diff -u "$T/stat-before" "$T/stat-after" || fail "owners, modes or mtimes differ after the restore"
for f in uploads/a.jpg uploads/2024/b.jpg shared/c.txt private.key plain.txt; do
	[[ -f $MEDIA_DIR/$f ]] || fail "$f not restored"
done
assert_eq private "$(cat "$MEDIA_DIR/private.key")" "content of private.key"
log "B23 ok"
