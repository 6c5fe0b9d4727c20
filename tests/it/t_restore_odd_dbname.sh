#!/bin/bash
# A target database whose name holds '=' (or looks like a URI) is a name,
# never a connection string: pg_dump always got "dbname='...'", and now
# pg_restore does too (it expands --dbname, so "x=y host=nowhere" was read
# as connection options and the custom-format restore failed).
set -u
. "$(dirname "$0")/lib.sh"
it_setup
odd='x=y host=nowhere'
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only
assert_exit 0 vigil restore --db latest --target-db "$odd" --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items' "dbname='$odd'")" "rows in \"$odd\" after the custom restore"
assert_exit 0 vigil backup --db-only
assert_exit 0 vigil restore --db latest --target-db "$odd" --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items' "dbname='$odd'")" "rows in \"$odd\" after the plain restore"
log "database names with '=' restore in both formats"
