#!/bin/bash
# Operator mistakes in the configuration and on the command line are caught
# before anything runs, with the exact exit status and a message naming the
# variable or flag; nothing is written and nothing earlier is lost
# (issue 9 item 4 and the smaller findings of the 0.1.0 trial: F2, F15,
# F17, F19, F20, F21, F24).
set -u
. "$(dirname "$0")/lib.sh"
it_setup

# An earlier good backup that nothing below may touch.
assert_exit 0 vigil backup --db-only
good=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz)
snapshot "$BACKUP_DIR" >"$T/before"

# --- F2 / item 4: a prefix in vigil's hidden namespace ---------------------
# 0.1.0 wrote .vigil-tmp-x_*.sql.gz and the next run deleted it as a stale
# temporary file, so only the newest backup ever existed.
for cmd in check-config backup; do
	assert_exit 2 vigil BACKUP_PREFIX=.vigil-tmp-x "$cmd"
	assert_output_match 'configuration error: BACKUP_PREFIX "\.vigil-tmp-x" clashes with vigil.s own names'
	assert_output_match 'hint: set BACKUP_PREFIX'
done
assert_exit 2 vigil POSTGRES_DB=.vigil-tmp-db backup --db-only
assert_output_match 'BACKUP_PREFIX \(or POSTGRES_DB\)|BACKUP_PREFIX "\.vigil-tmp-db" clashes'
assert_no_file "$BACKUP_DIR/db/.vigil-tmp-*"
snapshot "$BACKUP_DIR" >"$T/after"
assert_kept "$T/before" "$T/after"

# --- F15: PG_DUMP_EXTRA_OPTS is checked before anything runs ---------------
for cmd in check-config backup serve; do
	assert_exit 2 vigil "PG_DUMP_EXTRA_OPTS='unbalanced" "$cmd"
	assert_output_match 'configuration error: PG_DUMP_EXTRA_OPTS: unbalanced'
done
# serve refused at start: nothing listens
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HTTP_LISTEN/healthz")
assert_eq 000 "$code" "no listener after a refused start"
# F23: an option vigil owns is named, with the reason
assert_exit 2 vigil PG_DUMP_EXTRA_OPTS=--create backup
assert_output_match "PG_DUMP_EXTRA_OPTS: --create is not allowed: vigil's restore creates the database itself"
assert_exit 2 vigil 'PG_DUMP_EXTRA_OPTS=-vFc' check-config
assert_output_match 'PG_DUMP_EXTRA_OPTS: -vFc is not allowed: the format is BACKUP_FORMAT'
assert_exit 2 vigil 'PG_DUMP_EXTRA_OPTS=--no-owner otherdb' backup
assert_output_match 'PG_DUMP_EXTRA_OPTS: "otherdb" is not an option'
# pg_dump's hidden no-value options are known too: the word after one would
# be taken by pg_dump as the database (the breaker's trial: a backup of app
# that held the database "other", restored with exit 0)
sql "CREATE DATABASE other" postgres >/dev/null
sql "CREATE TABLE secret(x int); INSERT INTO secret VALUES (42)" other >/dev/null
for o in '--attribute-inserts other' '--no-acl other' '--attr other'; do
	assert_exit 2 vigil "PG_DUMP_EXTRA_OPTS=$o" backup --db-only
	assert_output_match 'PG_DUMP_EXTRA_OPTS: "other" is not an option'
done
# An option vigil does not know (a newer pg_dump's) passes the check, and
# the word after it may be its value; if pg_dump takes it as a database
# instead, the database vigil names last makes that a second positional
# argument and pg_dump fails loudly. The wrapper plays a pg_dump that knows
# --future-flag as a flag without a value.
make_shim pg_dump 'for a; do shift; [ "$a" = --future-flag ] || set -- "$@" "$a"; done; exec "$REAL" "$@"'
assert_exit 1 vigil PATH="$T/shim:$PATH" 'PG_DUMP_EXTRA_OPTS=--future-flag other' backup --db-only
assert_output_match 'pg_dump exited 1: .*too many command-line arguments'
assert_no_file "$BACKUP_DIR/db/.vigil-tmp-*"
# a database name that looks like a connection string is still a name
sql 'CREATE DATABASE "x=y host=nowhere"' postgres >/dev/null
sql "CREATE TABLE t(i int); INSERT INTO t VALUES (7)" "dbname='x=y host=nowhere'" >/dev/null || fail "cannot fill x=y"
assert_exit 0 vigil 'POSTGRES_DB=x=y host=nowhere' BACKUP_PREFIX=xy backup --db-only
assert_output_match 'dump done file=xy_.* tables=1 rows=1'
# usual options still work, in both spellings of a value
assert_exit 0 vigil 'PG_DUMP_EXTRA_OPTS=--exclude-table-data items --no-owner' backup --db-only
assert_output_match 'dump done'

# --- F21: contradictory or repeated flags are usage errors -----------------
assert_exit 2 vigil backup --db-only --media-only
assert_output_match 'vigil backup: --db-only and --media-only exclude each other'
assert_exit 2 vigil backup --media-only --media-only
assert_exit 2 vigil restore --db latest --db "$good" --yes
assert_output_match 'vigil restore: --db is given twice'
assert_exit 2 vigil restore --media latest --in-place --yes
assert_output_match 'vigil restore: --in-place applies to a database restore'
assert_exit 2 vigil restore --list --db latest
assert_output_match 'vigil restore: --list takes no other option'
assert_exit 2 vigil verify latest "$good"
assert_output_match 'vigil verify: give one NAME, latest or all'
assert_exit 2 vigil list --json --json
assert_exit 0 vigil verify "$good"
sql "SELECT count(*) FROM items" | grep -qx 1000 || fail "items changed"

# --- F19: mistyped variables outside VIGIL_*/BACKUP_* ----------------------
assert_exit 0 vigil TZ= POSTGRES_PASSWROD=x MEDIA_EXCLUDES='*.tmp' TIMEZONE=Europe/Madrid \
	S3_BUKET=b PG_DUMP_EXTRA_OPT=-v PGDATA=/var/lib/postgresql/data MEDIA_URL=/media/ check-config
assert_output_match 'WARN variable POSTGRES_PASSWROD is not one of vigil.s and is ignored; hint: did you mean POSTGRES_PASSWORD\?'
assert_output_match 'variable MEDIA_EXCLUDES .*did you mean MEDIA_EXCLUDE\?'
assert_output_match 'variable TIMEZONE .*did you mean TZ\?'
assert_output_match 'variable S3_BUKET .*did you mean S3_BUCKET\?'
assert_output_match 'variable PG_DUMP_EXTRA_OPT .*did you mean PG_DUMP_EXTRA_OPTS\?'
grep -qE 'PGDATA|MEDIA_URL' "$ERR" && fail "other services' variables were warned about"
# TIME_ZONE beside a TZ (one .env.prod for Django and vigil): quiet
assert_exit 0 vigil TIME_ZONE=Europe/Madrid TZ=Europe/Madrid check-config
grep -q TIME_ZONE "$ERR" && fail "TIME_ZONE warned about although TZ is set"

# --- F24: the line about a bad TZ is stamped in UTC ------------------------
assert_exit 2 vigil TZ=UTC+1 check-config
assert_output_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z ERROR configuration error: TZ="UTC\+1"'

# --- F20: DATABASE_URL ------------------------------------------------------
url="postgres://postgres:$POSTGRES_PASSWORD@127.0.0.1:$POSTGRES_PORT/app"
# sslmode=require is honoured: the test cluster has no TLS, so it must fail
assert_exit 1 vigil POSTGRES_PASSWORD= POSTGRES_DB= "DATABASE_URL=$url?sslmode=require" backup --db-only
assert_output_match 'cannot connect to database "app"'
assert_exit 0 vigil POSTGRES_PASSWORD= POSTGRES_DB= "DATABASE_URL=$url?sslmode=disable" backup --db-only
# a parameter vigil does not use is named, not dropped silently
assert_exit 0 vigil POSTGRES_PASSWORD= POSTGRES_DB= "DATABASE_URL=$url?application_name=x" check-config
assert_output_match 'WARN DATABASE_URL: query parameter "application_name" ignored'
# GeoDjango's scheme
assert_exit 0 vigil POSTGRES_PASSWORD= POSTGRES_DB= "DATABASE_URL=postgis://postgres:$POSTGRES_PASSWORD@127.0.0.1:$POSTGRES_PORT/app" backup --db-only
assert_not_contains "$ERR" "$POSTGRES_PASSWORD"

# --- F17: redaction does not garble lines or reveal short passwords -------
sql "CREATE ROLE bk LOGIN SUPERUSER PASSWORD 'ump'" >/dev/null
assert_exit 0 vigil POSTGRES_USER=bk POSTGRES_PASSWORD=ump backup --db-only
assert_output_match 'INFO dump start database=app'
assert_output_match 'INFO dump done file=app_'
assert_not_contains "$ERR" 'd***'
# a password equal to the user name cannot be secret; said once, not masked
sql "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null
assert_exit 0 vigil POSTGRES_PASSWORD=postgres backup --db-only
assert_output_match 'WARN POSTGRES_PASSWORD is the same as POSTGRES_USER, which vigil prints in logs and file names, so it cannot be kept secret'
assert_not_contains "$ERR" '***'
log "t_config_mistakes: ok"
