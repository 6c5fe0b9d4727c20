#!/bin/bash
# Errors verify used to lose (issue 10 item 5): `verify latest` (and a
# bare `verify`) took a backup directory it could not read for "no backups
# found". A directory that cannot be read is now a failure that names the
# directory and the errno, the other kind is still checked, exit 1.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup

# media/ replaced by a file: opendir fails with ENOTDIR (as root, a mode
# change would not stop us reading; EIO cannot be provoked here).
mv "$BACKUP_DIR/media" "$T/media.moved"
echo "not a directory" >"$BACKUP_DIR/media"
assert_exit 1 vigil verify latest
assert_contains "$ERR" "ERROR verify: cannot read $BACKUP_DIR/media: Not a directory"
assert_not_contains "$ERR" "no backups found"
assert_output_match '^ok +db +app_'
assert_output_match '^2 checked, 1 failed$'
assert_exit 1 vigil verify
assert_contains "$ERR" "cannot read $BACKUP_DIR/media: Not a directory"

# Both kinds unreadable: still not "no backups found".
rm "$BACKUP_DIR/media"
mv "$BACKUP_DIR/db" "$T/db.moved"
echo x >"$BACKUP_DIR/db"
echo x >"$BACKUP_DIR/media"
assert_exit 1 vigil verify latest
assert_contains "$ERR" "cannot read $BACKUP_DIR/db: Not a directory"
assert_not_contains "$ERR" "no backups found"

# Truly empty: the old message, exit 1.
rm "$BACKUP_DIR/db" "$BACKUP_DIR/media"
mkdir "$BACKUP_DIR/db" "$BACKUP_DIR/media"
assert_exit 1 vigil verify latest
assert_contains "$ERR" "verify: no backups found in $BACKUP_DIR"
log "verify reports unreadable backup directories"
