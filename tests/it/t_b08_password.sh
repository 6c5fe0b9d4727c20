#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# FIELD-CASES B08 (without the mail part, which belongs to notifications):
# the password  p@ss:w/rd%20 'q"$&#\  works given verbatim in the
# environment, in POSTGRES_PASSWORD_FILE (one trailing newline stripped) and
# percent-encoded in DATABASE_URL; `vigil backup` and `vigil restore --db
# latest --yes` exit 0 each time, and the password, raw or encoded, is in no
# argv of pg_dump/psql/pg_restore, no log, no manifest, no vigil output. A
# passfile, if used, is 0600 and gone afterwards.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# shellcheck disable=SC1003 # the backslash is the password's last character
PW='p@ss:w/rd%20 '"'"'q"$&#\'
PW_SQL=${PW//\'/\'\'}
PW_URL=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PW")
log "password (url-encoded): $PW_URL"
sql "CREATE ROLE bk LOGIN CREATEDB PASSWORD '$PW_SQL';
     ALTER DATABASE app OWNER TO bk;
     ALTER TABLE items OWNER TO bk;" >/dev/null || fail "creating role bk failed"
# The role really has this password (over TCP, scram).
PGPASSWORD=$PW "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT_T" -U bk -d app -XAtqc 'SELECT 1' >/dev/null ||
	fail "setup: bk cannot log in with the password"

# Shims record each call's argv (/proc/$$/cmdline), and mode and path of
# PGPASSFILE if one is given, then run the real program.
mkdir -p "$T/argv"
for p in pg_dump psql pg_restore; do
	make_shim "$p" "
n=\$(date +%s%N).\$\$
cp /proc/\$\$/cmdline '$T/argv/$p.'\$n
if [ -n \"\${PGPASSFILE:-}\" ]; then
	echo \"\$PGPASSFILE \$(stat -c %a \"\$PGPASSFILE\" 2>/dev/null)\" >>'$T/passfiles'
fi
exec \"\$REAL\" \"\$@\""
done

# run_way NAME VAR=VALUE...: check-config, backup, restore with that config.
run_way() {
	local name=$1
	shift
	log "way: $name"
	assert_exit 0 vigil "$@" check-config
	wait_next_second
	assert_exit 0 vigil "$@" PATH="$T/shim:$PATH" backup
	wait_next_second
	sql "DELETE FROM items WHERE id > 900" >/dev/null
	assert_exit 0 vigil "$@" PATH="$T/shim:$PATH" restore --db latest --yes
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "$name: rows after the restore"
	assert_eq bk "$(sql "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'")" \
		"$name: owner of app"
}

base=(POSTGRES_USER=bk POSTGRES_DB=app POSTGRES_HOST=127.0.0.1 POSTGRES_PORT="$PGPORT_T")
unset POSTGRES_PASSWORD POSTGRES_USER POSTGRES_HOST POSTGRES_PORT POSTGRES_DB

run_way "verbatim environment" "${base[@]}" POSTGRES_PASSWORD="$PW"

printf '%s\n' "$PW" >"$T/secret"
chmod 0600 "$T/secret"
run_way "POSTGRES_PASSWORD_FILE" "${base[@]}" POSTGRES_PASSWORD_FILE="$T/secret"

run_way "DATABASE_URL" DATABASE_URL="postgres://bk:$PW_URL@127.0.0.1:$PGPORT_T/app"

# Every program vigil ran was recorded.
compgen -G "$T/argv/pg_dump.*" >/dev/null || fail "the pg_dump shim was never called"
compgen -G "$T/argv/psql.*" >/dev/null || fail "the psql shim was never called"

# The password in no argv, log, manifest or output; also not its distinctive
# pieces (raw or percent-encoded), in case a tool quoted or escaped it.
needles=("$PW" "$PW_URL" 'p@ss:w' 'p%40ss' 'p@ss%3A' 'rd%2520' "rd%20 '")
printf '%s\n' "${needles[@]}" >"$T/needles"
hay=("$T"/argv/* "$LOG_DIR"/* "$BACKUP_DIR"/runs/*.json "$IT_TMP"/cmd.*)
checked=0
for f in "${hay[@]}"; do
	[[ -f $f ]] || continue
	checked=$((checked + 1))
	if tr '\0' ' ' <"$f" | grep -qF -f "$T/needles"; then
		fail "the password appears in ${f/#$T/\$T}: $(tr '\0' ' ' <"$f" | grep -F -f "$T/needles" | head -n 2)"
	fi
done
log "checked $checked files for the password"
# No password in any db or media file name either.
find "$BACKUP_DIR" "$LOG_DIR" -name '*p@ss*' | grep -q . && fail "password in a file name"

# A passfile, if vigil used one, was 0600 and is gone.
if [[ -f $T/passfiles ]]; then
	while read -r path mode; do
		assert_eq 600 "$mode" "mode of passfile $path"
		[[ -e $path ]] && fail "passfile $path left behind"
	done <"$T/passfiles"
fi
log "B08 ok"
