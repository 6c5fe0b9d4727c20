# shellcheck shell=bash
# tests/image/lib.sh - helpers for the Docker tests (tests/image/t_*.sh).
#
# A test is a bash script with `set -u`, run by tests/image/run.sh as root
# on a machine with a Docker engine, after the image under test has been
# built; it passes when it exits 0. Each test makes its own compose project
# (unique name, temp project directory holding .env.prod, backups/, logs/),
# from the shipped docker-compose.prod.yml plus tests/image/compose.test.yml,
# and removes it on exit (down -v), whatever happened.
#
#   project_new [ENV=VAL...]  temp project dir $PD with .env.prod (db
#                     credentials app/app/secret-pw, POSTGRES_HOST=db, TZ=UTC,
#                     plus the given lines); exports PROJ, VIGIL_TEST_PORT.
#   dc ARGS...        docker-compose for that project (the files: the shipped
#                     compose file, compose.test.yml, then DC_EXTRA_FILES).
#   cid SERVICE       the container id of a service.
#   health SERVICE    its Docker health status (starting/healthy/unhealthy).
#   wait_health SERVICE STATUS SECS   wait for it; fails after SECS.
#   psql_db SQL       psql in the db container as the app user, -XAtq.
#   healthz           curl the published /healthz (body to stdout).
#
# Assertions: fail MSG; assert_eq EXPECTED ACTUAL MSG; assert_grep ERE FILE
# MSG; assert_no_grep ERE FILE MSG. at_exit CMD runs CMD on exit (before
# the project is removed), after_down CMD after it. Environment:
# VIGIL_IMAGE (the image under test, set by run.sh), IMAGE_KEEP=1 keeps the
# project on exit.

IMG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${VIGIL_IMAGE:?VIGIL_IMAGE (the image under test) must be set; see tests/image/run.sh}"
export VIGIL_IMAGE LC_ALL=C.UTF-8
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
PD=
PROJ=
_AT_EXIT=()
_AFTER_DOWN=()

log() { printf '# %s\n' "$*"; }
# fail MSG: print MSG and the call stack (bash's `caller`), exit 1.
fail() {
	local i=0
	printf 'FAIL: %s\n' "$*" >&2
	while caller "$i" | sed 's/^/    at line /' >&2 && [[ -n $(caller "$i") ]]; do ((i++)); done
	exit 1
}
assert_eq() { [[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$1', got '$2'"; }
assert_grep() {
	grep -Eq -- "$1" "$2" || { sed 's/^/    /' "$2" | tail -n 30 >&2; fail "${3:-no match} (expected /$1/ in ${2##*/})"; }
}
assert_no_grep() {
	! grep -Eq -- "$1" "$2" || { grep -E -- "$1" "$2" | sed 's/^/    /' >&2; fail "${3:-unexpected match} (/$1/ in ${2##*/})"; }
}
at_exit() { _AT_EXIT+=("$*"); }
# after_down CMD: run CMD on exit after the project is removed (an image its
# containers use); not with IMAGE_KEEP=1.
after_down() { _AFTER_DOWN+=("$*"); }

_img_cleanup() {
	local rc=$? c
	for c in "${_AT_EXIT[@]}"; do eval "$c" >/dev/null 2>&1; done
	if [[ -n $PROJ ]]; then
		if ((rc != 0)); then
			log "logs of $PROJ (last 40 lines):"
			dc logs --no-color --tail=40 2>&1 | sed 's/^/    /'
		fi
		[[ ${IMAGE_KEEP:-0} == 1 ]] || dc down -v --remove-orphans -t 5 >/dev/null 2>&1
	fi
	[[ -z $PD || ${IMAGE_KEEP:-0} == 1 ]] || rm -rf "$PD"
	if [[ ${IMAGE_KEEP:-0} != 1 ]]; then
		for c in "${_AFTER_DOWN[@]}"; do eval "$c" >/dev/null 2>&1; done
	fi
	exit "$rc"
}
trap _img_cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

project_new() {
	PD=$(mktemp -d /tmp/vigil-image.XXXXXX)
	PROJ=vigilimg$$$(basename "$0" .sh | tr -cd 'a-z0-9' | tail -c 12)
	VIGIL_TEST_PORT=$(free_port)
	export PROJ VIGIL_TEST_PORT
	{
		printf '%s\n' POSTGRES_HOST=db POSTGRES_USER=app POSTGRES_PASSWORD=secret-pw \
			POSTGRES_DB=app TZ=UTC
		(($# == 0)) || printf '%s\n' "$@"
	} >"$PD/.env.prod"
	mkdir -p "$PD/backups" "$PD/logs"
}

# More override files for one test (t_c12_resolve: compose.c12.yml).
DC_EXTRA_FILES=()
_dc_files() {
	local f
	printf '%s\n' -f "$IMG_ROOT/docker-compose.prod.yml" -f "$IMG_ROOT/tests/image/compose.test.yml"
	for f in "${DC_EXTRA_FILES[@]}"; do printf '%s\n' -f "$f"; done
}
dc() {
	local files
	mapfile -t files < <(_dc_files)
	docker-compose --ansi never -p "$PROJ" --project-directory "$PD" "${files[@]}" "$@"
}

cid() { dc ps -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(cid "$1")" 2>/dev/null; }

wait_health() {
	local svc=$1 want=$2 secs=$3 t0=$SECONDS st
	while ((SECONDS - t0 < secs)); do
		st=$(health "$svc")
		[[ $st == "$want" ]] && return 0
		sleep 0.5
	done
	docker inspect -f '{{json .State.Health}}' "$(cid "$svc")" | head -c 2000 >&2
	fail "$svc is '$st', not '$want', after ${secs}s"
}

# (docker exec, not docker-compose exec: a second less per call, for polls)
psql_db() {
	[[ -n ${_DB_CID:-} ]] || _DB_CID=$(cid db)
	docker exec "$_DB_CID" psql -U app -d app -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

healthz() { curl -sS -m 2 "http://127.0.0.1:$VIGIL_TEST_PORT/healthz"; }

# dc_cmd ARGS: the dc command line as one shell-quoted string (for `script`).
dc_cmd() {
	local s files
	mapfile -t files < <(_dc_files)
	printf -v s '%q ' docker-compose --ansi never -p "$PROJ" --project-directory "$PD" \
		"${files[@]}" "$@"
	printf '%s' "$s"
}

# with_tty INPUT SECS ARGS: `dc ARGS` on a pseudo-terminal (script(1));
# INPUT (printf %b escapes: \x04 is ^D) is typed once the restore's prompt
# ("to continue: ") is on the screen, as an operator would (typed earlier, a
# ^D would meet docker-compose's terminal before it goes raw); the terminal
# stays open until the command ends. Killed after SECS (exit 124). The
# screen goes to stdout.
with_tty() {
	local input=$1 secs=$2 fifo scr pid rc i
	shift 2
	fifo=$(mktemp -u /tmp/vigil-image-tty.XXXXXX)
	scr=$fifo.out
	mkfifo "$fifo"
	timeout -k 5 "$secs" script -qefc "$(dc_cmd "$@")" /dev/null <"$fifo" >"$scr" 2>&1 &
	pid=$!
	exec {tty_fd}>"$fifo"
	for ((i = 0; i < secs * 5; i++)); do
		grep -q 'to continue: ' "$scr" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	printf '%b' "$input" >&"$tty_fd"
	wait "$pid"
	rc=$?
	exec {tty_fd}>&-
	cat "$scr"
	rm -f "$fifo" "$scr"
	return "$rc"
}

# health_log SERVICE: the output of the newest health check Docker ran.
health_log() {
	docker inspect -f '{{with .State.Health}}{{range .Log}}{{.Output}}{{end}}{{end}}' "$(cid "$1")" | grep . |
		tail -n 1
}

# up_healthy: `dc up -d`, then db and backup healthy; sets UP_SECS.
up_healthy() {
	local t0=$SECONDS
	dc up -d || fail "docker-compose up -d failed"
	wait_health db healthy 90
	wait_health backup healthy 120
	UP_SECS=$((SECONDS - t0))
	log "docker-compose up -d -> db and backup healthy in ${UP_SECS}s"
}
