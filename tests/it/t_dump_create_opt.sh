#!/bin/bash
# TRIAL F23: PG_DUMP_EXTRA_OPTS=--create makes pg_dump write \connect.
# The option is refused before anything runs (exit 2, naming it); a dump
# that still holds what --create writes (here a pg_dump wrapper adds the
# option behind vigil's back) is refused by the dump pass (exit 1, no
# backup file), and the message names --create instead of claiming pg_dump
# never writes \connect.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 2 vigil PG_DUMP_EXTRA_OPTS=--create backup --db-only
assert_contains "$ERR" 'PG_DUMP_EXTRA_OPTS: --create is not allowed'
assert_no_file "$BACKUP_DIR/db/app_*.sql.gz"

make_shim pg_dump '[ "$1" = --version ] && exec "$REAL" "$@"; exec "$REAL" --create "$@"'
assert_exit 1 vigil PATH="$T/shim:$PATH" backup --db-only
assert_contains "$ERR" 'the psql meta-command \connect'
assert_contains "$ERR" 'which pg_dump writes only with --create (-C)'
assert_not_contains "$ERR" 'never writes'
assert_no_file "$BACKUP_DIR/db/app_*.sql.gz"
assert_no_file "$BACKUP_DIR/db/.vigil-tmp-*"
log "--create named ok"
