#!/bin/bash
# The row check of a restore (README "A restore", step 5): the rows each
# table got inside the loading transaction must equal the rows of the
# dump's COPY block, else the transaction rolls back.
#
# A hand-made, otherwise valid dump (real pg_dump of the 1000-row fixture,
# matching .sha256) creates a BEFORE INSERT trigger on items ahead of its
# COPY that drops every even id, so COPY stores 500 of the 1000 rows
# without any error; a second one deletes every even id again in an AFTER
# INSERT trigger. Restored with the default scratch-database swap and
# with --in-place, with track_counts on (the check reads the transaction's
# insert counter) and off (it falls back to count(*)). Expect: exit 1 and
# "vigil: table public.items has 500 rows after loading, the dump holds
# 1000"; the live database exactly as before; no `_vigil_` database and
# no pre_restore_* copy left. Then a good backup restores with exit 0 and
# all rows in both modes, with track_counts off too, and so does a
# partitioned table dumped with and without --load-via-partition-root, and
# an extension's configuration table (more rows than the dump's COPY).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
sql "CREATE TABLE marker(x int); INSERT INTO marker VALUES (42);" >/dev/null

assert_exit 0 vigil backup --db-only
good=$(basename "$(echo "$BACKUP_DIR"/db/app_*.sql.gz)")
DB=$BACKUP_DIR/db
pg_dump_norm >"$T/full.sql"
grep -q '^COPY public.items ' "$T/full.sql" || fail "setup: no COPY public.items in the dump"
awk '/^COPY public.items /{
	print "CREATE FUNCTION public.skip_even() RETURNS trigger LANGUAGE plpgsql AS";
	print "$f$BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END$f$;";
	print "CREATE TRIGGER skip_even BEFORE INSERT ON public.items";
	print "    FOR EACH ROW EXECUTE FUNCTION public.skip_even();";
} { print }' "$T/full.sql" | gzip | put_backup app_20200101_000001.sql.gz >/dev/null
# The same 500 rows, but stored and then deleted by an AFTER INSERT trigger:
# the inserted rows alone would match.
awk '/^COPY public.items /{
	print "CREATE FUNCTION public.del_even() RETURNS trigger LANGUAGE plpgsql AS";
	print "$f$BEGIN IF NEW.id % 2 = 0 THEN DELETE FROM public.items WHERE id = NEW.id; END IF; RETURN NULL; END$f$;";
	print "CREATE TRIGGER del_even AFTER INSERT ON public.items";
	print "    FOR EACH ROW EXECUTE FUNCTION public.del_even();";
} { print }' "$T/full.sql" | gzip | put_backup app_20200101_000002.sql.gz >/dev/null
sql "DELETE FROM items WHERE id > 100; UPDATE items SET t = 'live';" >/dev/null
pg_dump_norm >"$T/before.sql"

expect_row_check_fails() {
	local what=$1 file=app_20200101_000001.sql.gz
	shift
	if [[ ${1:-} == --file ]]; then
		file=$2
		shift 2
	fi
	log "case: $what"
	assert_exit 1 vigil restore --db "$file" --yes "$@"
	assert_contains "$ERR" "vigil: table public.items has 500 rows after loading, the dump holds 1000"
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/before.sql" "$T/after.sql" >/dev/null || fail "$what: the live database changed"
	assert_eq "" "$(sql "SELECT datname FROM pg_database WHERE datname LIKE '%vigil%'" postgres)" \
		"$what: scratch database left behind"
	assert_no_file "$DB/pre_restore_*"
}

expect_row_check_fails "scratch swap, track_counts on"
expect_row_check_fails "scratch swap, in place" --in-place --no-safety-backup
sql "ALTER ROLE postgres SET track_counts = off" postgres >/dev/null
expect_row_check_fails "scratch swap, track_counts off"
expect_row_check_fails "in place, track_counts off" --in-place --no-safety-backup
expect_row_check_fails "deleted after insert, track_counts off" --file app_20200101_000002.sql.gz
sql "ALTER ROLE postgres RESET track_counts" postgres >/dev/null
expect_row_check_fails "deleted after insert, track_counts on" --file app_20200101_000002.sql.gz
expect_row_check_fails "deleted after insert, in place" --file app_20200101_000002.sql.gz \
	--in-place --no-safety-backup
sql "ALTER ROLE postgres SET track_counts = off" postgres >/dev/null

log "case: good backup, track_counts off"
assert_exit 0 vigil restore --db "$good" --yes --no-safety-backup
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the swap"
assert_exit 0 vigil restore --db "$good" --yes --no-safety-backup --in-place
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the in-place load"
sql "ALTER ROLE postgres RESET track_counts" postgres >/dev/null
log "case: good backup, track_counts on"
assert_exit 0 vigil restore --db "$good" --yes --no-safety-backup
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the swap"

# A partitioned table dumped with --load-via-partition-root: every
# partition's rows arrive in a COPY block naming the root, so the root is
# checked over its whole tree, with the rows of its blocks added up.
sql "CREATE TABLE parts(id int, t text) PARTITION BY RANGE (id);
     CREATE TABLE parts_lo PARTITION OF parts FOR VALUES FROM (0) TO (100);
     CREATE TABLE parts_hi PARTITION OF parts FOR VALUES FROM (100) TO (1000);
     INSERT INTO parts SELECT g, 'p' || g FROM generate_series(1, 300) g;" >/dev/null
for opts in "--load-via-partition-root" ""; do
	rm -f "$DB"/app_2*.sql.gz "$DB"/app_2*.sql.gz.sha256
	wait_next_second
	assert_exit 0 vigil PG_DUMP_EXTRA_OPTS="$opts" backup --db-only
	[[ -z $opts ]] || gzip -dc "$DB"/app_2*.sql.gz | grep -c '^COPY public.parts ' | grep -qx 2 ||
		fail "setup: expected two COPY blocks naming public.parts with $opts"
	for tc in off on; do
		log "case: partitioned table, PG_DUMP_EXTRA_OPTS='$opts', track_counts $tc"
		sql "ALTER ROLE postgres SET track_counts = $tc" postgres >/dev/null
		assert_exit 0 vigil restore --db latest --yes --no-safety-backup
		assert_eq "99 201" "$(sql 'SELECT (SELECT count(*) FROM parts_lo), (SELECT count(*) FROM parts_hi)' | tr '|' ' ')" \
			"partition rows after the restore"
	done
done
sql "ALTER ROLE postgres RESET track_counts" postgres >/dev/null

# An extension's configuration table: CREATE EXTENSION fills it, pg_dump
# dumps only the rows the user added (pg_extension_config_dump's filter),
# so after a restore it holds more rows than the dump's COPY block.
# (A throwaway extension in the server's extension directory, removed on
# exit: PostGIS's spatial_ref_sys is the common case.)
extdir=$("$PGBIN/pg_config" --sharedir)/extension
ext=vigil_t_cfg_$$
at_exit "rm -f '$extdir/$ext.control' '$extdir/$ext--1.0.sql'"
printf "default_version = '1.0'\nrelocatable = false\nschema = public\n" >"$extdir/$ext.control"
cat >"$extdir/$ext--1.0.sql" <<SQL
CREATE TABLE public.cfgtab(id int PRIMARY KEY, note text);
INSERT INTO public.cfgtab SELECT g, 'from the extension' FROM generate_series(1, 50) g;
SELECT pg_catalog.pg_extension_config_dump('public.cfgtab', 'WHERE id > 1000');
SQL
sql "CREATE EXTENSION $ext; INSERT INTO cfgtab VALUES (1001, 'user'), (1002, 'user');" >/dev/null
rm -f "$DB"/app_2*.sql.gz "$DB"/app_2*.sql.gz.sha256
wait_next_second
assert_exit 0 vigil backup --db-only
gzip -dc "$DB"/app_2*.sql.gz | grep -q '^COPY public.cfgtab ' || fail "setup: no COPY of cfgtab"
for tc in on off; do
	log "case: extension configuration table, track_counts $tc"
	sql "ALTER ROLE postgres SET track_counts = $tc" postgres >/dev/null
	assert_exit 0 vigil restore --db latest --yes --no-safety-backup
	assert_eq 52 "$(sql 'SELECT count(*) FROM cfgtab')" "cfgtab rows after the restore"
	assert_exit 0 vigil restore --db latest --yes --no-safety-backup --in-place
	assert_eq 52 "$(sql 'SELECT count(*) FROM cfgtab')" "cfgtab rows after the in-place restore"
done
sql "ALTER ROLE postgres RESET track_counts" postgres >/dev/null
assert_no_temp "$BACKUP_DIR"
log "row check ok"
