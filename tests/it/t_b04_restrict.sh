#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B04: plain dumps of pg_dump >= 15.14 carry `\restrict KEY` /
# `\unrestrict KEY`. A restore over 10 other rows gives the 1000 rows back; a
# `\!` shell escape smuggled in after `\restrict` never runs and leaves the
# database unchanged; a psql older than 15.14 fails before anything
# destructive, naming `\restrict` and its version.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

assert_exit 0 vigil backup
good=$(echo "$BACKUP_DIR"/db/app_*.sql.gz)
[[ -f $good ]] || fail "no db backup"
gzip -dc "$good" | grep -q '^\\restrict ' ||
	fail "setup: the local pg_dump ($(pg_dump --version)) writes no \\restrict line"

# ten_other_rows: the database the restores run over.
ten_other_rows() {
	sql "TRUNCATE items; INSERT INTO items SELECT g, 'other ' || g FROM generate_series(1, 10) g;" >/dev/null
}

# ---- the real dump restores: 1000 rows, none of the 10 others.
ten_other_rows
wait_next_second
assert_exit 0 vigil restore --db "${good##*/}" --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the restore"
assert_eq 0 "$(sql "SELECT count(*) FROM items WHERE t LIKE 'other %'")" "other rows left"

# ---- `\!` injected after `\restrict`: must never run.
ten_other_rows
pg_dump_norm >"$T/db-before.sql"
evil=app_20200101_000000.sql.gz
gzip -dc "$good" |
	INJ="\\! touch $T/pwned" awk '{ print } /^\\restrict / { print ENVIRON["INJ"] }' |
	gzip >"$BACKUP_DIR/db/$evil"
gzip -dc "$BACKUP_DIR/db/$evil" | grep -A1 '^\\restrict ' | grep -qx "\\\\! touch $T/pwned" ||
	fail "setup: injection not where intended"
seal_backup "$evil"
wait_next_second
assert_exit 1,2 vigil restore --db "$evil" --yes
[[ -e $T/pwned ]] && fail "the injected \\! command ran ($T/pwned exists)"
pg_dump_norm >"$T/db-after.sql"
diff -u "$T/db-before.sql" "$T/db-after.sql" >/dev/null || fail "database changed by a failed restore"
assert_eq 10 "$(sql 'SELECT count(*) FROM items')" "rows after the refused restore"

# ---- psql 15.13, which does not know `\restrict`.
make_shim psql '
for a in "$@"; do
	case $a in --version|-V) echo "psql (PostgreSQL) 15.13"; exit 0 ;; esac
done
cat >/dev/null
echo "psql:<stdin>:20: error: invalid command \restrict" >&2
echo "Try \? for help." >&2
exit 3'
wait_next_second
assert_exit 1,2 vigil PATH="$T/shim:$PATH" restore --db "${good##*/}" --yes
for needle in '\restrict' '15.13'; do
	grep -qF -- "$needle" "$ERR" "$OUT" "$LOG_DIR/restore.log" 2>/dev/null || {
		show_file "$ERR"
		show_file "$LOG_DIR/restore.log"
		fail "the old-psql failure does not name '$needle'"
	}
done
pg_dump_norm >"$T/db-after2.sql"
diff -u "$T/db-before.sql" "$T/db-after2.sql" >/dev/null || fail "database changed by the old-psql restore"
assert_eq 10 "$(sql 'SELECT count(*) FROM items')" "rows after the old-psql restore"
assert_no_temp "$BACKUP_DIR"
log "B04 ok"
