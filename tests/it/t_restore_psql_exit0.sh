#!/bin/bash
# A psql that exits 0 without running its whole input (a broken wrapper, a
# psql that ignores stdin) must not be taken for a finished load: a dump
# smaller than the pipe's buffer was written whole before psql exited, so
# nothing looked refused, and the empty scratch database was swapped in
# over the live one. The feeder now sends an end marker (SELECT '<marker>')
# after the dump and the row check, and a load whose psql never printed it
# fails (exit 1, live database untouched), in both restore modes.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup --db-only
before=$(sql 'SELECT count(*) FROM items')
assert_eq 1000 "$before" "rows before"

check_failed() {
	assert_contains "$ERR" "psql exited 0 but did not run its whole input (the end marker vigil sends after the dump never came back)"
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows in the live database after: $1"
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "$1: scratch database(s) left: $left"
}

for body in 'sleep 0.5; exit 0' 'cat >/dev/null; exit 0'; do
	make_shim psql "case \" \$* \" in *' --version '*) exec \"\$REAL\" \"\$@\";; esac; $body"
	log "psql shim: $body"
	assert_exit 1 vigil PATH="$T/shim:$PATH" restore --db latest --yes --no-safety-backup
	check_failed "default mode, $body"
	assert_exit 1 vigil PATH="$T/shim:$PATH" restore --db latest --yes --no-safety-backup --in-place
	check_failed "--in-place, $body"
done

# The real psql prints the marker: the restore still works.
assert_exit 0 vigil restore --db latest --yes --no-safety-backup
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after a real restore"
log "a psql that exits 0 without running its input fails the restore"
