#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B06: a corrupt or wrong-format backup is refused before the
# live database is touched. Each hand-made backup has vigil's name and a
# matching .sha256, so only the check under test can reject it. Expect:
# exit 2, no pre_restore_* file, the database unchanged (marker row 42).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
sql "CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);" >/dev/null

assert_exit 0 vigil backup
good=$(echo "$BACKUP_DIR"/db/app_*.sql.gz)
[[ -f $good ]] || fail "no db backup"
DB=$BACKUP_DIR/db
pg_dump_norm >"$T/db-before.sql"

# handmade N: stdin as db/app_20200101_<N, 6 digits>.sql.gz plus its .sha256;
# prints the name.
handmade() { put_backup "$(printf 'app_20200101_%06d.sql.gz' "$1")"; }

cut=$(head -c 5000 "$good" | handmade 1)
[[ $(stat -c %s "$good") -gt 5000 ]] || fail "setup: the good dump is too small to cut"
text=$(printf 'this is not a backup\njust some text\n' | handmade 2)
custom=$(pg_dump -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d app -Fc | gzip | handmade 3)
empty=$(printf '' | gzip -n | handmade 4)
[[ $(stat -c %s "$DB/$empty") == 20 ]] || fail "setup: the empty gzip is not 20 bytes"
notrailer=$(pg_dump_norm | sed '/^-- PostgreSQL database dump complete/,$d' | gzip | handmade 5)
gzip -dc "$DB/$notrailer" | grep -q 'PostgreSQL database dump complete' && fail "setup: trailer still there"

# Defects past the first MiB, which restore finds only while loading into
# its scratch database (one pass): the refusal must look the same - and a
# meta-command must never reach psql.
pad() { head -c 1500000 /dev/urandom | base64 -w 76 | sed 's/^/-- /'; }
pg_dump_norm >"$T/full.sql"
{ head -n 25 "$T/full.sql"; pad; printf '\\! touch %s/pwned\n' "$T"; tail -n +26 "$T/full.sql"; } |
	gzip >"$T/meta.sql.gz"
deepmeta=$(handmade 7 <"$T/meta.sql.gz")
{ head -n 25 "$T/full.sql"; pad; tail -n +26 "$T/full.sql"; } | gzip >"$T/padded.sql.gz"
deepcut=$(head -c $(($(stat -c %s "$T/padded.sql.gz") * 3 / 4)) "$T/padded.sql.gz" | handmade 8)
deepnotrailer=$({ head -n 25 "$T/full.sql"; pad; tail -n +26 "$T/full.sql" |
	sed '/^-- PostgreSQL database dump complete/,$d'; } | gzip | handmade 9)
# Damage past the first MiB that also breaks the SQL (as a flipped byte
# would): one gzip member whose data says "CREATE TABLF" but whose CRC-32
# is that of the good text. psql stops on the syntax error 40 MB before
# the CRC is reached; the file must still be refused as damaged, with
# psql's error second.
python3 - "$T/full.sql" "$T/crc.sql.gz" <<'PY'
import os, struct, sys, zlib
lines = open(sys.argv[1], 'rb').read().split(b'\n')
pad = b''.join(b'-- ' + os.urandom(57).hex().encode() + b'\n' for _ in range(12000))
good = b'\n'.join(lines[:25]) + b'\n' + pad + b'\n'.join(lines[25:])
i = good.index(b'CREATE TABLE public.items')
j = good.index(b');\n', i) + 3  # psql fails here; 40 MB follow, so it fails first
good = good[:j] + b''.join(b'-- ' + os.urandom(37).hex().encode() + b'\n' for _ in range(520000)) + good[j:]
bad = good[:i] + b'CREATE TABLF' + good[i + 12:]
c = zlib.compressobj(6, zlib.DEFLATED, -15)
body = c.compress(bad) + c.flush()
open(sys.argv[2], 'wb').write(b'\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03' + body +
                              struct.pack('<II', zlib.crc32(good), len(good) & 0xffffffff))
PY
deepcrc=$(handmade 10 <"$T/crc.sql.gz")
[[ $(gzip -dc "$DB/$deepmeta" | grep -n '^\\! touch' | cut -d: -f1) -gt 20000 ]] ||
	fail "setup: the meta-command is not past the first MiB"

# A good dump outside BACKUP_DIR, reached through a symlink inside it.
cp "$good" "$T/outside.sql.gz"
ln -s "$T/outside.sql.gz" "$DB/app_20200101_000006.sql.gz"
seal_backup app_20200101_000006.sql.gz
touch "$T/hostname"

expect_refused() {
	local what=$1
	shift
	log "case: $what"
	assert_exit 2 vigil restore "$@"
	[[ -s $ERR ]] || fail "$what: no reason given on stderr"
	assert_no_file "$BACKUP_DIR/db/pre_restore_*"
	assert_no_file "$BACKUP_DIR/media/pre_restore_*"
	assert_eq 42 "$(sql 'SELECT x FROM marker')" "$what: marker row"
	pg_dump_norm >"$T/db-after.sql"
	diff -u "$T/db-before.sql" "$T/db-after.sql" >/dev/null || fail "$what: database changed"
	assert_eq "" "$(sql "SELECT datname FROM pg_database WHERE datname LIKE '%vigil%'" postgres)" \
		"$what: scratch database left behind"
}

expect_refused "cut by head -c 5000" --db "$cut" --yes
expect_refused "a text file" --db "$text" --yes
expect_refused "gzipped custom-format dump" --db "$custom" --yes
expect_refused "20-byte empty gzip" --db "$empty" --yes
expect_refused "plain dump without trailer" --db "$notrailer" --yes
expect_refused "meta-command past the first MiB" --db "$deepmeta" --yes
[[ -e $T/pwned ]] && fail "the meta-command reached psql"
assert_contains "$ERR" 'meta-command \!'
expect_refused "cut past the first MiB" --db "$deepcut" --yes
expect_refused "no trailer, past the first MiB" --db "$deepnotrailer" --yes
assert_contains "$ERR" "no completion trailer"
expect_refused "damaged past the first MiB, SQL broken by it" --db "$deepcrc" --yes
assert_contains "$ERR" "psql had stopped on"
expect_refused "missing NAME" --db app_20990101_000000.sql.gz --yes
expect_refused "no NAME at all" --yes --db
expect_refused "relative path outside" --db ../../etc/hostname --yes
expect_refused "absolute path outside" --db /etc/hostname --yes
expect_refused "absolute path via .." --db "$BACKUP_DIR/../hostname" --yes
expect_refused "symlink leading outside" --db app_20200101_000006.sql.gz --yes

# A good, older backup copied over the newest one, .sha256 rewritten to
# match: every check of the file alone passes, but its run manifest
# recorded other bytes. list says mismatch; verify and restore refuse it.
wait_next_second
assert_exit 0 vigil backup --db-only
newest=$(cd "$DB" && ls app_*.sql.gz | grep -v "^app_2020" | sort | tail -1)
[[ -n $newest && $newest != "$(basename "$good")" ]] || fail "setup: no second backup"
cp "$good" "$DB/$newest"
seal_backup "$newest"
assert_exit 0 vigil list
assert_match "$OUT" "$newest.*mismatch"
assert_exit 1 vigil verify latest
assert_contains "$OUT" "is not the file its backup run wrote"
expect_refused "replaced after the backup, .sha256 too" --db latest --yes
assert_contains "$ERR" "is not the file its backup run wrote"
assert_no_temp "$BACKUP_DIR"
log "B06 ok"
