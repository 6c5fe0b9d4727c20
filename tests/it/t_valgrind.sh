#!/bin/bash
# Memory errors and definite leaks: vigil's main commands run under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
# against a real cluster. valgrind follows no children (pg_dump, psql run
# natively). Expect: each exits 0 (no invalid read/write, no use of
# uninitialised values, no definite leak) and vigil's own work succeeded.
#   backup, list, list --json, verify latest, check-config,
#   restore --db latest --media latest --yes, and a failing backup.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil
# Under `make asan` (tests/asan.sh sets IT_SANITIZED) the binary carries
# AddressSanitizer, which cannot run inside valgrind (both claim the
# shadow memory); that run checks the same things itself, so this test
# belongs to `make check` only.
if [[ -n ${IT_SANITIZED:-} ]]; then
	log "skipped under $IT_SANITIZED: valgrind cannot run a sanitized binary"
	exit 0
fi
command -v valgrind >/dev/null || fail "valgrind is not installed (apt-get install valgrind)"
pg_start
vigil_env
fixture
# shellcheck disable=SC2034 # read by the vigil function of lib.sh
IT_VIGIL_TIMEOUT=${IT_VIGIL_TIMEOUT_VALGRIND:-400}

# vg NAME [VAR=VALUE...] ARGS...: vigil ARGS under valgrind (through the lib's vigil, so
# timeout and VAR=VALUE words work); the valgrind log is $IT_TMP/vg.NAME.log.
VG=$IT_TMP/valgrind-vigil
cat >"$VG" <<-EOF
	#!/bin/sh
	exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite \\
		--show-leak-kinds=definite --error-exitcode=99 --log-file="\$VG_LOG" "$VIGIL" "\$@"
EOF
chmod 755 "$VG"
vg() {
	local name=$1 VIGIL=$VG
	shift
	vigil VG_LOG="$IT_TMP/vg.$name.log" "$@"
}
# check_vg NAME: fail with the valgrind log unless it is clean.
check_vg() {
	local name=$1
	if ((RC == 99)) || grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid|uninitialised' "$IT_TMP/vg.$name.log"; then
		show_file "$IT_TMP/vg.$name.log" 80
		fail "valgrind reports errors for: $name"
	fi
	[[ -s $IT_TMP/vg.$name.log ]] && show_file "$IT_TMP/vg.$name.log" 20
	return 0
}

vgrun() {
	local name=$1
	shift
	assert_exit 0,99 vg "$name" "$@"
	check_vg "$name"
	assert_eq 0 "$RC" "exit code of vigil $* under valgrind"
}

vgrun backup backup
assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
check_i1
vgrun list list
assert_contains "$OUT" app_
vgrun list-json list --json
vgrun verify verify latest
vgrun check-config check-config
sql "DELETE FROM items WHERE id > 10" >/dev/null
wait_next_second
vgrun restore restore --db latest --media latest --yes
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the restore"
# A failing run frees what it allocated too.
wait_next_second
assert_exit 1,99 vg backup-fail POSTGRES_PASSWORD=wrong backup
check_vg backup-fail
assert_eq 1 "$RC" "exit code of the failing backup under valgrind"
log "valgrind ok"
