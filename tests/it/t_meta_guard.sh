#!/bin/bash
# No psql meta-command from a dump ever runs during a restore, even one
# crafted to slip past vigil's own scanner (dumpscan.c). psql 15.14+ runs
# the load under `\restrict <random key>`, so psql itself refuses them.
#
# Each hand-made dump is real pg_dump output of the fixture with a snippet
# after line 25 and a matching .sha256 (anyone who can write BACKUP_DIR can
# write that too); each snippet tries `\! touch $T/pwned_<case>` a way a
# scanner may miss: a meta-command on a COPY header line, a COPY TO made
# to look like COPY FROM, a dollar-quote tag longer than 64 bytes,
# standard_conforming_strings off, a lower-case `copy ... from stdin`, a
# dollar quote right after a digit, and a plain `\!` line as a control;
# then what would break the single transaction or the scanner's view: an
# early `commit;`, SAVEPOINT ... ROLLBACK TO, a NUL byte, and a
# `\unrestrict` after SQL on one line.
# Restored with the default scratch swap and with --in-place. Expect: exit
# 2 (refused: vigil's scan or psql's restricted mode names the
# meta-command), no pwned file, the live database unchanged, no
# `_vigil_` database and no pre_restore_* copy (the swap's copy follows the
# load; the in-place runs skip theirs).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
DB=$BACKUP_DIR/db
mkdir -p "$DB"
pg_dump_norm >"$T/full.sql"
pg_dump_norm >"$T/before.sql"
L=$(printf 'A%.0s' $(seq 70))
declare -A S
S[plain]="\\! touch $T/pwned_plain"
S[copy_tail]="CREATE TEMP TABLE z1(t text);
COPY pg_temp.z1 FROM stdin; \\! touch $T/pwned_copy_tail # FROM stdin;
\\."
S[fake_copy]="CREATE TEMP TABLE z2(t text);
COPY pg_temp.z2 TO STDOUT; -- FROM stdin;
\\! touch $T/pwned_fake_copy
INSERT INTO pg_temp.z2 VALUES ('a'),('b'),('c');
COPY pg_temp.z2 FROM stdin;
\\."
S[long_dollar_tag]="SELECT \$$L\$ ' \$$L\$ \\! touch $T/pwned_long_dollar_tag #'
;"
S[scs_off]="SET standard_conforming_strings = off;
SELECT 'x\\' ' \\! touch $T/pwned_scs_off #'
;
SET standard_conforming_strings = on;"
S[lowercase_copy]="CREATE TEMP TABLE z3(t text);
copy pg_temp.z3 from stdin;
'
\\.
\\! touch $T/pwned_lowercase_copy
SELECT 1; --'"
S[digit_dollar]="SELECT 1\$\$ ' \$\$ \\! touch $T/pwned_digit_dollar #'
;"
# Transaction commands: commit the drop-everything step of --in-place and
# what was loaded so far, or hide rows from the row check.
S[early_commit]="commit;
CREATE TABLE public.pwned_early_commit(x int);"
S[savepoint]="SAVEPOINT s;
CREATE TABLE public.pwned_savepoint(x int);
ROLLBACK TO SAVEPOINT s;"
S[nul_byte]=$'SELECT 1;\x01'
S[stray_unrestrict]="SELECT 1; \\unrestrict abc"
i=0
for k in plain copy_tail fake_copy long_dollar_tag scs_off lowercase_copy digit_dollar \
	early_commit savepoint nul_byte stray_unrestrict; do
	i=$((i + 1))
	name=app_20200101_0000$(printf '%02d' $i).sql.gz
	{ head -n 25 "$T/full.sql"; printf '%s\n' "${S[$k]}" | tr '\001' '\000'; tail -n +26 "$T/full.sql"; } |
		gzip | put_backup "$name" >/dev/null
	for mode in "" "--in-place --no-safety-backup"; do
		log "case: $k ${mode:-(scratch swap)}"
		# shellcheck disable=SC2086 # mode is one or two options
		assert_exit 2 vigil restore --db "$name" --yes $mode
		[[ -s $ERR ]] || fail "$k: no reason given"
		[[ -e $T/pwned_$k ]] && fail "$k ${mode}: a meta-command ran in psql"
		assert_eq "" "$(sql "SELECT relname FROM pg_class WHERE relname LIKE 'pwned%'")" \
			"$k ${mode}: a table the dump made survived"
		pg_dump_norm >"$T/after.sql"
		diff -u "$T/before.sql" "$T/after.sql" >/dev/null || fail "$k ${mode}: the live database changed"
		assert_eq "" "$(sql "SELECT datname FROM pg_database WHERE datname LIKE '%vigil%'" postgres)" \
			"$k ${mode}: scratch database left behind"
		assert_no_file "$DB/pre_restore_*"
	done
done
assert_no_temp "$BACKUP_DIR"
log "meta-command guard ok"
