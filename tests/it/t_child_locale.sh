#!/bin/bash
# The PostgreSQL tools vigil runs speak English whatever locale the
# operator set (a Spanish-speaking office may well set LC_ALL=es_ES.UTF-8):
# vigil quotes their messages in logs and failure manifests and must never
# have to understand a translation. Children get LC_MESSAGES=C; an LC_ALL is
# turned into the same value for the data categories (LC_CTYPE, LC_COLLATE,
# ...), which keep the operator's locale.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
need_locale es_ES.UTF-8

# What pg_dump's environment holds, seen through a wrapper.
make_shim pg_dump 'env | grep -E "^(LC_|LANG)" | sort >"'"$T"'/pg_dump.env"; exec "$REAL" "$@"'
assert_exit 0 vigil PATH="$T/shim:$PATH" LC_ALL=es_ES.UTF-8 LANG=es_ES.UTF-8 backup --db-only
assert_contains "$T/pg_dump.env" 'LC_MESSAGES=C'
assert_contains "$T/pg_dump.env" 'LC_CTYPE=es_ES.UTF-8'
assert_contains "$T/pg_dump.env" 'LC_COLLATE=es_ES.UTF-8'
assert_not_contains "$T/pg_dump.env" 'LC_ALL='

# A failing dump under a Spanish LC_ALL: libpq's and pg_dump's own words in
# the error are English (their Spanish catalogs are installed with the
# client: "la conexión al servidor ... falló" before this change).
assert_exit 1 vigil LC_ALL=es_ES.UTF-8 POSTGRES_PASSWORD=wrong backup --db-only
assert_output_match 'connection to server at "127\.0\.0\.1", port [0-9]+ failed'
assert_not_contains "$ERR" 'conexión'
run=$(ls -t "$BACKUP_DIR/runs" | head -n 1)
assert_contains "$BACKUP_DIR/runs/$run" 'connection to server at'

# verify's pg_restore --list gets the same environment, without secrets.
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only
make_shim pg_restore 'env | grep -E "^(LC_|POSTGRES_PASSWORD|PGPASSWORD)" | sort >"'"$T"'/pg_restore.env"; exec "$REAL" "$@"'
assert_exit 0 vigil PATH="$T/shim:$PATH" LC_ALL=es_ES.UTF-8 verify latest
assert_contains "$T/pg_restore.env" 'LC_MESSAGES=C'
assert_not_contains "$T/pg_restore.env" 'PASSWORD'
log "children speak English"
