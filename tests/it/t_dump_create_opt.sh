#!/bin/bash
# TRIAL F23: PG_DUMP_EXTRA_OPTS=--create makes pg_dump write \connect; the
# backup is refused (exit 1, no backup file), and the message names the
# option (--create) instead of claiming pg_dump never writes \connect.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

pg_start
vigil_env
fixture
assert_exit 1 vigil PG_DUMP_EXTRA_OPTS=--create backup --db-only
assert_contains "$ERR" 'the psql meta-command \connect'
assert_contains "$ERR" 'which pg_dump writes only with --create (-C)'
assert_not_contains "$ERR" 'never writes'
assert_no_file "$BACKUP_DIR/db/app_*.sql.gz"
log "--create named ok"
