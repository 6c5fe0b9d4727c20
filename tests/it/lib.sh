# shellcheck shell=bash
# tests/it/lib.sh - helpers for vigil's integration tests (and scripts/demo.sh).
#
# Sourced by every tests/it/t_*.sh. A test is a bash script with `set -u`
# that passes when it exits 0; any assertion below that fails prints why and
# exits 1. Tests run as root on plain Debian 12 without Docker, following
# the field cases' notes on running them on plain Debian:
#
#   pg_start [NAME]   throwaway PostgreSQL 15 cluster (initdb into a temp dir,
#                     run as postgres, 127.0.0.1 on a free port, password auth
#                     over TCP, trust over its own unix socket, fsync=off),
#                     database `app` created. Exports PGBIN, PGPORT_T,
#                     PGDATA_T, PGHOST_T (socket dir) and vigil's POSTGRES_*
#                     variables, and puts $PGBIN first on PATH. NAME defaults
#                     to "main"; several clusters may run at once, `pg_use
#                     NAME` makes one current again (exports switch to it).
#                     With IT_PG_LC_MESSAGES set (e.g. es_ES.UTF-8, see
#                     need_locale), the server's messages are in that language.
#   need_locale L     generate locale L (localedef) unless it exists.
#   srvmsg EN ES      the server message to expect, in the cluster's language.
#   pg_server start|stop [NAME]   stop/start the server, keep its data.
#   pg_stop [NAME]    stop and remove it (all clusters are removed on exit).
#   sql "SQL" [DB]    psql as superuser over the unix socket, -XAtq,
#                     ON_ERROR_STOP; DB defaults to $POSTGRES_DB. `sql -f F`
#                     or `sql - < F` runs a file / stdin.
#   pg_dump_norm [DB] pg_dump of DB to stdout without \restrict/\unrestrict.
#   vigil_env         $T (temp dir), BACKUP_DIR, LOG_DIR, MEDIA_DIR (with a
#                     few files), HTTP_LISTEN=127.0.0.1:<free port>, TZ=UTC,
#                     VIGIL=<repo>/build/vigil.
#   fixture           FIELD-CASES' fixture: items(id, t) with 1000 md5 rows.
#   vigil [VAR=VAL..] ARGS...  runs $VIGIL under `timeout $IT_VIGIL_TIMEOUT`
#                     with VAR=VAL added to its environment; when FAKETIME
#                     is set, only vigil (and its children) get libfaketime
#                     preloaded.
#
# Assertions: fail MSG; assert_eq EXPECTED ACTUAL MSG; assert_exit CODE CMD...
# (CODE may be "1,2" or "nz" for any non-zero; stdout/stderr land in the
# files $OUT and $ERR, the exit code in $RC); assert_contains FILE TEXT;
# assert_not_contains FILE TEXT; assert_match FILE ERE; assert_output_match
# ERE (stdout or stderr of the last assert_exit); assert_file PATH; assert_no_file GLOB;
# assert_count N GLOB. See also snapshot/assert_kept, check_i1, manifest_get.
#
# Environment knobs: IT_KEEP=1 keeps temp dirs, IT_VIGIL_TIMEOUT (default 120 s)
# bounds each vigil call, VIGIL overrides the binary under test.

# Where the repo is, whoever sources us.
IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
VIGIL=${VIGIL:-$IT_ROOT/build/vigil}
IT_VIGIL_TIMEOUT=${IT_VIGIL_TIMEOUT:-120}

# Start from a clean slate: nothing from the caller's environment may change
# what vigil or libpq do (a stray PGPASSWORD or BACKUP_DIR would falsify a test).
_it_scrub_env() {
	local v
	for v in $(compgen -e); do
		case $v in
		POSTGRES_* | BACKUP_* | VIGIL_* | EMAIL_* | S3_* | PG* | DATABASE_URL | \
			MEDIA_DIR | MEDIA_EXCLUDE | MEDIA_ALLOW_EMPTY | LOG_DIR | HTTP_LISTEN | HEALTHCHECK_* | \
			PRE_RESTORE_* | DEFAULT_FROM_EMAIL | FAKETIME* | LD_PRELOAD | SSL_CERT_FILE | TZDIR)
			[[ $v == PGBIN ]] || unset "$v" ;;
		esac
	done
}
_it_scrub_env
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
export PGBIN VIGIL FAKETIME_LIB
export LC_ALL=C.UTF-8 TZ=UTC
umask 022

IT_TMP=$(mktemp -d /tmp/vigil-it.XXXXXX)
OUT=$IT_TMP/out
ERR=$IT_TMP/err
RC=0
: >"$OUT"
: >"$ERR"
_IT_NCMD=0
_IT_AT_EXIT=()
declare -gA _PG_DIR=() _PG_PORT=() _PG_PW=()

# ---------------------------------------------------------------- reporting

log() { printf '# %s\n' "$*"; }

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	local i
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		printf '    at %s (%s:%s)\n' "${FUNCNAME[i]}" "${BASH_SOURCE[i]##*/}" "${BASH_LINENO[i - 1]}" >&2
	done
	exit 1
}

# show_file FILE [N]: the last N (40) lines of FILE, indented, for a log.
show_file() {
	local f=$1 n=${2:-40}
	if [[ -s $f ]]; then
		echo "---- ${f/#$IT_TMP/\$IT_TMP} (last $n lines)"
		tail -n "$n" "$f" | sed 's/^/    /'
	else
		echo "---- ${f/#$IT_TMP/\$IT_TMP}: (empty)"
	fi
}

at_exit() { _IT_AT_EXIT+=("$*"); }

# ---------------------------------------------------------------- assertions

assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$1', got '$2'"
}

# _rc_ok RC SPEC: SPEC is a number, a comma list ("1,2") or "nz".
_rc_ok() {
	local rc=$1 spec=$2 c
	if [[ $spec == nz ]]; then
		((rc != 0)) && ((rc != 124)) && ((rc != 137))
		return
	fi
	IFS=, read -ra c <<<"$spec"
	for spec in "${c[@]}"; do
		[[ $rc == "$spec" ]] && return 0
	done
	return 1
}

# assert_exit CODE CMD...: run CMD without a terminal (stdin /dev/null),
# stdout to $OUT, stderr to $ERR (fresh files each call, earlier ones kept
# as $IT_TMP/cmd.N.{out,err}), exit code in $RC; fail unless RC matches.
assert_exit() {
	local want=$1 t0 ms shown
	shift
	_IT_NCMD=$((_IT_NCMD + 1))
	OUT=$IT_TMP/cmd.$_IT_NCMD.out
	ERR=$IT_TMP/cmd.$_IT_NCMD.err
	t0=${EPOCHREALTIME/[.,]/}
	"$@" </dev/null >"$OUT" 2>"$ERR"
	RC=$?
	ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
	shown="$*"
	shown=${shown//"$PATH"/\$PATH}
	printf '+ [%d] %s  (rc=%d, %d ms)\n' "$_IT_NCMD" "$shown" "$RC" "$ms"
	if ! _rc_ok "$RC" "$want"; then
		show_file "$OUT" 60
		show_file "$ERR" 60
		fail "exit code of '$shown': expected $want, got $RC"
	fi
	tail -n 12 "$ERR" | sed 's/^/    stderr: /'
	return 0
}

assert_contains() {
	local f=$1 text=$2
	[[ -e $f ]] || fail "assert_contains: no file $f"
	if ! grep -qF -- "$text" "$f"; then
		show_file "$f" 60
		fail "$f does not contain '$text'"
	fi
}

# assert_match FILE ERE: like assert_contains with an extended regex (-i).
assert_match() {
	local f=$1 re=$2
	[[ -e $f ]] || fail "assert_match: no file $f"
	if ! grep -qiE -- "$re" "$f"; then
		show_file "$f" 60
		fail "$f does not match /$re/"
	fi
}

# assert_output_match ERE: the last assert_exit command's stdout or stderr
# matches ERE (-i); vigil may print its log lines on either.
assert_output_match() {
	if ! grep -qiE -- "$1" "$OUT" "$ERR"; then
		show_file "$OUT"
		show_file "$ERR"
		fail "the output of the last command does not match /$1/"
	fi
}

assert_not_contains() {
	local f=$1 text=$2
	[[ -e $f ]] || return 0
	if grep -qF -- "$text" "$f"; then
		grep -nF -- "$text" "$f" | head -n 5 | sed 's/^/    /'
		fail "$f contains '$text'"
	fi
}

assert_file() { [[ -e $1 || -L $1 ]] || fail "expected file $1"; }

# assert_no_file GLOB (quote it): no path matches the glob (dotfiles too).
assert_no_file() {
	local m
	# A word without glob characters stays itself under nullglob: test it exists.
	m=$(shopt -s dotglob nullglob; for f in $1; do [[ -e $f || -L $f ]] && echo "$f"; done)
	[[ -z $m ]] || fail "expected no file matching $1, found: $(echo "$m" | tr '\n' ' ')"
}

# assert_count N GLOB: exactly N paths match GLOB.
assert_count() {
	local n
	# shellcheck disable=SC2086 # $2 is a glob
	n=$(shopt -s nullglob; set -- $2; echo $#)
	# shellcheck disable=SC2086
	[[ $n == "$1" ]] || fail "expected $1 file(s) matching $2, found $n: $(shopt -s nullglob; echo $2)"
}

# ---------------------------------------------------------------- PostgreSQL

_free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

free_port() { _free_port; }

_as_pg() { runuser -u postgres -- "$@"; }

# pg_start [NAME]: see the header. Retries with another port when the one
# picked was taken in the meantime (other engineers run tests in parallel).
pg_start() {
	local name=${1:-main} dir port pw try
	[[ $(id -u) -eq 0 ]] || fail "integration tests run as root (runuser, mount)"
	[[ -x $PGBIN/initdb ]] || fail "no PostgreSQL 15 in $PGBIN (run: make deps)"
	dir=$(mktemp -d /tmp/vigil-pg-"$name".XXXXXX)
	chmod 0700 "$dir"
	chown postgres:postgres "$dir"
	[[ -n ${IT_STATE_DIR:-} ]] && echo "$dir" >>"$IT_STATE_DIR/clusters"
	pw="pw_${RANDOM}${RANDOM}_${RANDOM}"
	printf '%s\n' "$pw" >"$dir/pwfile"
	chown postgres:postgres "$dir/pwfile"
	chmod 0600 "$dir/pwfile"
	if ! _as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile" \
		>"$dir/initdb.log" 2>&1; then
		show_file "$dir/initdb.log"
		fail "initdb failed"
	fi
	rm -f "$dir/pwfile"
	echo "include_if_exists = 'vigil_test.conf'" >>"$dir/data/postgresql.conf"
	_PG_DIR[$name]=$dir
	_PG_PW[$name]=$pw
	for try in 1 2 3 4 5 6 7 8; do
		port=$(_free_port)
		cat >"$dir/data/vigil_test.conf" <<-EOF
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$dir'
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			max_connections = 50
			shared_buffers = 32MB
			logging_collector = off
			log_min_messages = warning
		EOF
		if [[ -n ${IT_PG_LC_MESSAGES:-} ]]; then
			echo "lc_messages = '$IT_PG_LC_MESSAGES'" >>"$dir/data/vigil_test.conf"
		fi
		chown postgres:postgres "$dir/data/vigil_test.conf"
		_PG_PORT[$name]=$port
		if _as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
			break
		fi
		if ((try == 8)); then
			show_file "$dir/server.log"
			fail "pg_ctl start failed (cluster $name)"
		fi
		sleep 0.$RANDOM
	done
	pg_use "$name"
	sql "CREATE DATABASE app" postgres >/dev/null || fail "CREATE DATABASE app failed"
	log "cluster $name: port $port, dir $dir"
}

# srvmsg ENGLISH SPANISH: the server message text to expect from the test
# cluster, in the language of its lc_messages (IT_PG_LC_MESSAGES, Spanish by
# default, see run.sh). Only tests that check what the operator is shown
# use it; vigil itself never decides by such text.
srvmsg() {
	case ${IT_PG_LC_MESSAGES:-} in
	es*) printf '%s' "$2" ;;
	*) printf '%s' "$1" ;;
	esac
}

# need_locale es_ES.UTF-8: make the locale exist (the locales package is in
# scripts/deps.sh; its data is generated here, not by every machine's set-up).
need_locale() {
	local l=$1 norm
	norm=$(printf '%s' "$l" | tr 'A-Z' 'a-z' | sed 's/utf-8/utf8/')
	locale -a 2>/dev/null | tr 'A-Z' 'a-z' | grep -qx "$norm" && return 0
	localedef -i "${l%%.*}" -f UTF-8 "$l" >/dev/null 2>&1 ||
		fail "cannot generate locale $l (is the locales package installed? make deps)"
}

# pg_use NAME: make cluster NAME the current one (exports switch to it).
pg_use() {
	local name=${1:-main}
	[[ -n ${_PG_DIR[$name]:-} ]] || fail "pg_use: no cluster $name"
	PGCLUSTER_T=$name
	PGDATA_T=${_PG_DIR[$name]}/data
	PGHOST_T=${_PG_DIR[$name]}
	PGPORT_T=${_PG_PORT[$name]}
	export PGCLUSTER_T PGDATA_T PGHOST_T PGPORT_T
	export POSTGRES_HOST=127.0.0.1
	export POSTGRES_PORT=$PGPORT_T
	export POSTGRES_USER=postgres
	export POSTGRES_PASSWORD=${_PG_PW[$name]}
	export POSTGRES_DB=app
	case ":$PATH:" in
	"$PGBIN":*) ;;
	*) export PATH="$PGBIN:$PATH" ;;
	esac
}

# pg_server start|stop|restart [NAME]: control the server, keep the data.
pg_server() {
	local action=$1 name=${2:-${PGCLUSTER_T:-main}} dir
	dir=${_PG_DIR[$name]:-}
	[[ -n $dir ]] || fail "pg_server: no cluster $name"
	case $action in
	stop) _as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ;;
	start | restart) _as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 "$action" >/dev/null ;;
	*) fail "pg_server: bad action $action" ;;
	esac || {
		show_file "$dir/server.log"
		fail "pg_ctl $action failed (cluster $name)"
	}
}

# pg_stop [NAME]: stop the cluster and remove its directory.
pg_stop() {
	local name=${1:-${PGCLUSTER_T:-main}} dir
	dir=${_PG_DIR[$name]:-}
	[[ -n $dir ]] || return 0
	if [[ -f $dir/data/postmaster.pid ]]; then
		_as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	fi
	[[ ${IT_KEEP:-0} == 1 ]] || rm -rf "$dir"
	unset "_PG_DIR[$name]" "_PG_PORT[$name]" "_PG_PW[$name]"
}

# sql "SQL" [DB] | sql -f FILE [DB] | sql - [DB] (stdin): psql as superuser
# over the current cluster's unix socket; prints unaligned tuples only.
sql() {
	local db
	[[ -n ${PGHOST_T:-} ]] || fail "sql: no cluster (pg_start first)"
	if [[ $1 == -f ]]; then
		db=${3:-${POSTGRES_DB:-app}}
		"$PGBIN/psql" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -f "$2"
	elif [[ $1 == - ]]; then
		db=${2:-${POSTGRES_DB:-app}}
		"$PGBIN/psql" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -f -
	else
		db=${2:-${POSTGRES_DB:-app}}
		"$PGBIN/psql" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -c "$1"
	fi
}

# pg_dump_norm [DB] [pg_dump options...]: a dump for comparisons, without
# the random \restrict key lines of pg_dump >= 15.14.
pg_dump_norm() {
	local db=${1:-${POSTGRES_DB:-app}}
	shift || true
	"$PGBIN/pg_dump" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d "$db" "$@" |
		grep -v -E '^\\(un)?restrict '
	return "${PIPESTATUS[0]}"
}

# fixture: FIELD-CASES' fixture in $POSTGRES_DB.
fixture() {
	sql "CREATE TABLE items(id int primary key, t text);
	     INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1,1000) g;" >/dev/null ||
		fail "fixture failed"
}

# ---------------------------------------------------------------- vigil

# vigil_env: per-test directories and vigil's environment (FIELD-CASES setup).
vigil_env() {
	T=$(mktemp -d /tmp/vigil-t.XXXXXX)
	chmod 0755 "$T"
	[[ -n ${IT_STATE_DIR:-} ]] && echo "$T" >>"$IT_STATE_DIR/dirs"
	export T
	export BACKUP_DIR=$T/backups LOG_DIR=$T/logs MEDIA_DIR=$T/media
	mkdir -p "$BACKUP_DIR" "$LOG_DIR" "$MEDIA_DIR/img" "$MEDIA_DIR/docs"
	printf 'hello media\n' >"$MEDIA_DIR/hello.txt"
	printf '\xff\xd8\xff\xe0fake jpeg %s\xff\xd9' "$(seq 1 200)" >"$MEDIA_DIR/img/photo.jpg"
	printf '%%PDF-1.4\n%% fake\n%%%%EOF\n' >"$MEDIA_DIR/docs/report.pdf"
	HTTP_LISTEN=127.0.0.1:$(_free_port)
	export HTTP_LISTEN
	export TZ=UTC
	export VIGIL
}

# require_vigil: fail early and clearly while the binary does not exist.
require_vigil() {
	[[ -x $VIGIL ]] || fail "no vigil binary at $VIGIL (run: make)"
}

# it_setup: the usual start of a test - the binary exists, a cluster
# "main" runs, vigil's environment points at it and the fixture is loaded.
it_setup() {
	require_vigil
	pg_start
	vigil_env
	fixture
}

# vigil [VAR=VALUE...] ARGS...: run $VIGIL ARGS under `timeout
# $IT_VIGIL_TIMEOUT`, with the leading VAR=VALUE words added to its environment
# (`vigil POSTGRES_PASSWORD=wrong backup`). When FAKETIME is set (in the
# environment or as such a word), only vigil and its children get
# libfaketime preloaded, never the test's own tools.
vigil() {
	local envs=() ft=${FAKETIME:-}
	while (($# > 0)) && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
		[[ $1 == FAKETIME=* ]] && ft=${1#FAKETIME=}
		envs+=("$1")
		shift
	done
	if [[ -n $ft ]]; then
		envs+=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$ft"
			FAKETIME_DONT_FAKE_MONOTONIC="${FAKETIME_DONT_FAKE_MONOTONIC:-1}")
	fi
	timeout -k 5 "$IT_VIGIL_TIMEOUT" env "${envs[@]}" "$VIGIL" "$@"
}

# make_shim NAME BODY: an executable $T/shim/NAME (sh script) with BODY;
# the caller puts $T/shim first on PATH for the vigil call. In BODY, $REAL is
# the real binary of that name in $PGBIN.
make_shim() {
	local name=$1 body=$2
	mkdir -p "$T/shim"
	{
		echo '#!/bin/sh'
		echo "REAL=$PGBIN/$name"
		printf '%s\n' "$body"
	} >"$T/shim/$name"
	chmod 0755 "$T/shim/$name"
}

# wait_next_second: sleep until the wall clock enters a new second, so that
# the next run gets a timestamp (and file names) of its own.
wait_next_second() {
	local s
	s=$(date +%s)
	while [[ $(date +%s) == "$s" ]]; do sleep 0.05; done
}

# snapshot DIR: "sha256  ./path" of every regular non-hidden file under DIR
# (hidden files are temporaries or the lock), sorted.
snapshot() {
	(cd "$1" && find . -type f ! -name '.*' -print0 | sort -z | xargs -0 -r sha256sum)
}

# assert_kept OLD NEW: every line of snapshot OLD is still in snapshot NEW
# (no file removed or changed).
assert_kept() {
	local lost
	lost=$(comm -23 <(sort "$1") <(sort "$2"))
	[[ -z $lost ]] || fail "files changed or removed: $lost"
}

# assert_no_temp DIR: no hidden file (vigil's temporaries) anywhere under
# DIR except the lock file.
assert_no_temp() {
	local left
	left=$(find "$1" -name '.*' ! -name .vigil.lock ! -path "$1" 2>/dev/null)
	[[ -z $left ]] || fail "temporary files left: $left"
}

# check_i1 [DIR]: invariant I1 for every final file under DIR ($BACKUP_DIR):
# .gz streams decode, .zst too, every .sha256 verifies (sha256sum -c in its
# directory), every regular backup has its .sha256, every plain dump ends
# with pg_dump's completion trailer.
check_i1() {
	local dir=${1:-$BACKUP_DIR} f base
	while IFS= read -r -d '' f; do
		base=${f##*/}
		case $base in
		*.sha256)
			(cd "${f%/*}" && sha256sum -c --status "$base") ||
				fail "I1: sha256sum -c $f fails"
			;;
		*.gz)
			gzip -t "$f" 2>/dev/null || fail "I1: gzip -t $f fails"
			;;
		*.zst)
			zstd -qt "$f" 2>/dev/null || fail "I1: zstd -t $f fails"
			;;
		esac
		case $base in
		*.sql.gz | *.sql.zst | *.sql)
			dump_complete "$f" || fail "I1: $f lacks the pg_dump trailer"
			;;
		esac
		case $base in
		pre_restore_* | *.sha256 | *.json) ;;
		*.gz | *.zst | *.dump | *.sql)
			[[ -f $f.sha256 ]] || fail "I1: $f has no .sha256"
			;;
		esac
	done < <(find "$dir" -type f ! -name '.*' -print0)
}

# cat_any FILE: decompressed content of a .gz/.zst/plain file.
cat_any() {
	case $1 in
	*.gz) gzip -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac
}

# dump_complete FILE: the plain dump ends with pg_dump's trailer "--
# PostgreSQL database dump complete": only "--", blank lines and the
# `\unrestrict KEY` line may follow it (pg_dump 15.14+ writes \unrestrict
# after the trailer).
dump_complete() {
	local last
	last=$(cat_any "$1" 2>/dev/null | tail -n 12 |
		grep -v -e '^\\unrestrict [A-Za-z0-9]*$' -e '^--$' -e '^$' | tail -n 1)
	[[ $last == '-- PostgreSQL database dump complete' ]]
}

# manifest_get FILE KEY[.KEY...]: a value of a run manifest (JSON); lists and
# objects print as JSON, a missing key prints nothing and returns 1.
manifest_get() {
	"$PY" - "$1" "$2" <<-'EOF'
		import json, sys
		v = json.load(open(sys.argv[1]))
		for k in sys.argv[2].split("."):
		    if isinstance(v, dict) and k in v:
		        v = v[k]
		    elif isinstance(v, list) and k.isdigit() and int(k) < len(v):
		        v = v[int(k)]
		    else:
		        sys.exit(1)
		print(v if isinstance(v, str) else json.dumps(v))
	EOF
}

# new_manifests BEFORE_LIST: manifests in $BACKUP_DIR/runs not in the file
# BEFORE_LIST (made by: ls_manifests > file).
ls_manifests() {
	(shopt -s nullglob; for f in "$BACKUP_DIR"/runs/*.json; do echo "$f"; done)
}
new_manifests() {
	comm -13 <(sort "$1") <(ls_manifests | sort)
}

# assert_one_failure_manifest BEFORE_LIST: exactly one new manifest, with
# "result": "failure"; prints its path.
assert_one_failure_manifest() {
	local new n res
	new=$(new_manifests "$1")
	n=$(printf '%s' "$new" | grep -c . || true)
	[[ $n == 1 ]] || fail "expected exactly 1 new run manifest, found $n: $new"
	res=$(manifest_get "$new" result) || fail "manifest $new has no result"
	[[ $res == failure ]] || {
		show_file "$new"
		fail "manifest $new: result '$res', expected 'failure'"
	}
}

# ---------------------------------------------------------------- cleanup

# ---------------------------------------------------------------- hand-made backups

# backup_files: the files under BACKUP_DIR/db and BACKUP_DIR/media, sorted.
backup_files() { (cd "$BACKUP_DIR" && find db media -type f | sort); }

# daily_backups YYYY-MM FIRST LAST: `vigil backup` (exit 0) at 03:00 of each
# day FIRST..LAST of that month under FAKETIME; $T/all lists the files, which
# must be 4 a day (both kinds, each with its .sha256).
daily_backups() {
	local d
	for ((d = 10#$2; d <= 10#$3; d++)); do
		assert_exit 0 vigil FAKETIME="@$1-$(printf %02d "$d") 03:00:00" backup
	done
	backup_files >"$T/all"
	[[ $(wc -l <"$T/all") == $((4 * (10#$3 - 10#$2 + 1))) ]] ||
		fail "expected 4 files a day: $(cat "$T/all")"
}

# seal_backup NAME: (re)write BACKUP_DIR/db/NAME.sha256 for that file, as
# sha256sum writes it - what anyone who can write BACKUP_DIR can do.
seal_backup() { (cd "$BACKUP_DIR/db" && sha256sum "$1" >"$1.sha256"); }

# put_backup NAME: stdin (compressed as NAME's suffix says) becomes
# BACKUP_DIR/db/NAME with a matching .sha256; prints NAME.
put_backup() {
	mkdir -p "$BACKUP_DIR/db"
	cat >"$BACKUP_DIR/db/$1"
	seal_backup "$1"
	echo "$1"
}

# ---------------------------------------------------------------- waiting and locks

# now_us: microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }

# wait_until SECS WHAT CMD...: poll CMD every 0.1 s; fail after SECS.
wait_until() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(now_us) + secs * 1000000))
	until "$@"; do
		(($(now_us) < end)) || fail "timed out after ${secs}s waiting for $what"
		sleep 0.1
	done
}

# _alive PID: PID exists and is not a zombie (a finished child of ours stays
# a zombie until `wait`).
_alive() {
	local st
	[[ -r /proc/$1/stat ]] || return 1
	read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
	[[ $st != Z ]]
}

# lock_items / unlock_items: another session (application_name it_lock)
# holds ACCESS EXCLUSIVE on items in an open transaction, so pg_dump's LOCK
# TABLE ... ACCESS SHARE waits (FIELD-CASES "Faults"); $LOCKER is its psql.
lock_granted() {
	[[ $(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	          WHERE a.application_name = 'it_lock' AND l.granted
	            AND l.mode = 'AccessExclusiveLock' AND l.relation = 'items'::regclass") == 1 ]]
}
lock_items() {
	PGAPPNAME=it_lock sql "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);" \
		>/dev/null 2>&1 &
	LOCKER=$!
	wait_until 15 "the lock holder" lock_granted
}
unlock_items() {
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'it_lock'" >/dev/null
	wait "$LOCKER" 2>/dev/null
}

# vigil_waiting: a backend of vigil or its pg_dump (both connect with
# application_name vigil) waits on a lock.
vigil_waiting() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity
	          WHERE application_name = 'vigil' AND wait_event_type = 'Lock'") -ge 1 ]]
}

# has_temp [DIR]: DIR (default BACKUP_DIR) holds a temporary db file.
has_temp() { compgen -G "${1:-$BACKUP_DIR}/db/.vigil-tmp-*" >/dev/null; }

# tree: every path under BACKUP_DIR (hidden ones too) with type and size.
tree() { (cd "$BACKUP_DIR" && find . -printf '%y %s %p\n' | sort -k3); }

# metric NAME: its value in the daemon's /metrics at HTTP_LISTEN.
metric() { curl -s --max-time 2 "http://$HTTP_LISTEN/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

# ---------------------------------------------------------------- daemons
# For tests of `vigil serve`: http PATH [METHOD] sets HTTP_CODE and writes
# $T/http.body and $T/http.head; daemon_spawn NAME CMD... starts CMD (which
# runs `vigil serve`) in the background with its output in $DLOG, sets DPID
# from its "serving pid=" line and returns once /healthz answers;
# daemon_stop sends SIGTERM and asserts exit 0 within 5 s; daemon_kill
# (run at exit) never leaves a daemon behind.
DPID=
DJOB=
DLOG=

http() { # http PATH [METHOD]: HTTP_CODE, $T/http.body, $T/http.head
	HTTP_CODE=$(curl -s -D "$T/http.head" -o "$T/http.body" -w '%{http_code}' \
		${2:+-X "$2"} --max-time 5 "http://$HTTP_LISTEN$1" 2>/dev/null)
	[[ -n $HTTP_CODE ]] || HTTP_CODE=000
}

# daemon_spawn NAME CMD...: CMD (which runs `vigil serve`) in the
# background, its output in $DLOG; DPID from its "serving pid=" line;
# returns once /healthz answers.
daemon_spawn() {
	local name=$1 i
	shift
	DLOG=$T/daemon.$name.log
	"$@" >"$DLOG" 2>&1 &
	DJOB=$!
	DPID=
	for ((i = 0; i < 150; i++)); do
		[[ -z $DPID ]] && DPID=$(grep -oE 'serving pid=[0-9]+' "$DLOG" | head -n 1 | cut -d= -f2)
		if [[ -n $DPID ]]; then
			http /healthz
			[[ $HTTP_CODE != 000 ]] && return 0
		fi
		kill -0 "$DJOB" 2>/dev/null || {
			show_file "$DLOG"
			fail "daemon ($name) exited at start"
		}
		sleep 0.1
	done
	show_file "$DLOG"
	fail "daemon ($name) did not answer within 15 s"
}

daemon_stop() {
	local i rc
	[[ -n $DPID ]] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$DJOB" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DJOB" 2>/dev/null && {
		show_file "$DLOG"
		fail "daemon did not stop within 5 s of SIGTERM"
	}
	wait "$DJOB"
	rc=$?
	DPID=
	[[ $rc == 0 ]] || {
		show_file "$DLOG"
		fail "daemon exited $rc after SIGTERM while idle, expected 0"
	}
}
# Never leave a daemon behind on a failure (the EXIT trap only kills our
# subshells): SIGTERM, so it cleans up (libfaketime's shm too), then SIGKILL.
daemon_kill() {
	local i
	[[ -n $DPID ]] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$DPID" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$DPID" 2>/dev/null
}
at_exit daemon_kill

_it_cleanup() {
	local rc=$? c m name
	set +e
	for c in "${_IT_AT_EXIT[@]}"; do eval "$c"; done
	# Background helpers of the test (lock holders, loops, daemons).
	for c in $(jobs -p); do kill "$c" 2>/dev/null; done
	for c in $(jobs -p); do kill -9 "$c" 2>/dev/null; done
	for name in "${!_PG_DIR[@]}"; do
		[[ ${IT_KEEP:-0} == 1 ]] && echo "# kept cluster $name: ${_PG_DIR[$name]} (stopped)"
		pg_stop "$name"
	done
	for d in "${T:-}" "$IT_TMP"; do
		[[ -n $d && -d $d ]] || continue
		# tmpfs mounts (full-disk cases) first, deepest first.
		for m in $(findmnt -rn -o TARGET | grep -F "$d/" | sort -r); do
			umount -l "$m"
		done
		[[ ${IT_KEEP:-0} == 1 ]] || rm -rf "$d"
	done
	[[ ${IT_KEEP:-0} == 1 ]] && echo "# kept: ${T:-} $IT_TMP"
	exit "$rc"
}
trap _it_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
