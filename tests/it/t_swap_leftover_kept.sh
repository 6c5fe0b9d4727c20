#!/bin/bash
# A scratch database left by an interrupted restore that vigil cannot drop
# is reported: vigil runs as `owner` (owner of app, CREATEDB, not
# superuser), and the leftover app_vigil_new_<stamp> belongs to the
# superuser. The DROP failed without a word before (issue 10: failures to
# remove stale things were silent); now a WARN names it with a hint, and
# the restore itself goes on (exit 0: the leftover only takes space).
set -u
. "$(dirname "$0")/lib.sh"
require_vigil
pg_start
vigil_env
fixture
OPW="owner_pw_$RANDOM$RANDOM"
sql - postgres <<-EOF2 >/dev/null || fail "setup: roles"
	CREATE ROLE owner LOGIN CREATEDB PASSWORD '$OPW';
	ALTER DATABASE app OWNER TO owner;
	CREATE DATABASE app_vigil_new_20200101_000000;
EOF2
sql "ALTER TABLE items OWNER TO owner" >/dev/null
export POSTGRES_USER=owner POSTGRES_PASSWORD=$OPW
assert_exit 0 vigil backup --db-only
wait_next_second
assert_exit 0 vigil restore --db latest --yes --no-safety-backup
assert_output_match 'WARN cannot drop app_vigil_new_20200101_000000, left by an interrupted restore: .*; hint: drop it by hand as its owner or a superuser'
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the restore"
log "an undroppable leftover scratch database is reported"
