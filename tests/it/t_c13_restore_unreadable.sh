#!/bin/bash
# FIELD-CASES C13 (e): an old backup owned by root with mode 0600 (and its
# .sha256) in an otherwise writable BACKUP_DIR; `vigil restore --db <that
# file> --yes` as 999:999. Expect: exit 1 before any destructive step, the
# error names the file with EACCES ("Permission denied"), its owner:group
# and mode and the user; the database is untouched (same rows, no scratch
# or old database), no pre_restore_ copy, nothing new in BACKUP_DIR.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
chmod 755 "$T"

assert_exit 0 vigil backup --db-only
f=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz)
# Everything but the backup and its checksum is given to 999.
chown -R 999:999 "$BACKUP_DIR" "$LOG_DIR"
chown 0:0 "$BACKUP_DIR/db/$f" "$BACKUP_DIR/db/$f.sha256"
chmod 0600 "$BACKUP_DIR/db/$f" "$BACKUP_DIR/db/$f.sha256"
sql "DELETE FROM items WHERE id > 900"
snapshot "$BACKUP_DIR" >"$T/before"
dbs() { sql "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database" postgres; }
dbs_before=$(dbs)

assert_exit 1 setpriv --reuid=999 --regid=999 --clear-groups "$VIGIL" restore --db "$f" --yes
assert_contains "$ERR" "ERROR restore failed: cannot read $BACKUP_DIR/db/$f (owner:group 0:0, mode 0600) as uid:gid 999:999: Permission denied; nothing was changed; hint: run the restore as root"
assert_eq 900 "$(sql 'SELECT count(*) FROM items')" "rows after the refused restore"
assert_eq "$dbs_before" "$(dbs)" "databases after the refused restore"
assert_no_file "$BACKUP_DIR/db/pre_restore_*"
snapshot "$BACKUP_DIR" >"$T/after"
diff -u "$T/before" "$T/after" || fail "(e) BACKUP_DIR changed"
log "C13 (e) ok"
