#!/bin/bash
# shellcheck disable=SC2016,SC2119 # SQL in single quotes; lib functions take optional args
# FIELD-CASES B15: as PID 1 the daemon must take SIGTERM/SIGINT, stop a
# running job cleanly and reap every child, adopted orphans included.
# The daemon runs as PID 1 of its own PID namespace:
#   unshare --pid --fork --mount-proc --kill-child vigil serve
# (--kill-child only so that nothing outlives a failed test), and
# `nsenter --target <daemon> --pid --mount vigil backup` stands in for
# `docker compose exec backup vigil backup`.
#   (a)  idle, SIGTERM: exit 0 in under 1 s.
#   (b)  BACKUP_ON_START=true, pg_dump blocked on a table lock, SIGTERM:
#        exit 143 within 5 s, no temporary file, no new final-named db
#        file, no pg_dump process or backend left.
#   (c)  as (b) with SIGINT: exit 130.
#   (b') as (b) for a plain `vigil backup` (not the daemon): exit 143.
#   (d)  a pg_dump shim that orphans a child: BACKUP_ON_START=true, 20
#        nsenter'd `vigil backup` runs (each exit 0), 200 /healthz (each 200),
#        no Z in the namespace's `ps`; then a shim that orphans likewise and
#        exits 1: the run is recorded as a failure ("pg_dump exited 1"),
#        still no zombie.
# Signals are sent to the process with SIGINT/SIGQUIT at their default
# dispositions (`env --default-signal`), as under Docker; a background job of
# a non-interactive bash would otherwise inherit them ignored.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
for tool in unshare nsenter curl pgrep ps; do
	command -v "$tool" >/dev/null || fail "this test needs $tool"
done
pg_start
vigil_env
fixture
VIGIL_EXE=$(readlink -f "$VIGIL")
URL=http://$HTTP_LISTEN

# ---------------------------------------------------------------- helpers

no_vigil_backend() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vigil'") == 0 ]]
}

# our_pg_dumps: pids of pg_dump processes talking to this test's cluster
# (vigil gives them PGPORT=<port>); other tests may run pg_dump meanwhile.
our_pg_dumps() {
	local p
	for p in $(pgrep -x pg_dump); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "PGPORT=$PGPORT_T" && echo "$p"
	done
}

# signal_and_wait SIG PID WAITPID LIMIT_S: send SIG to PID and wait until it
# is gone; $WMS is the milliseconds from the signal to its end (for the daemon
# that is what Docker waits for). Then wait for our child WAITPID (PID
# itself, or unshare, which returns the daemon's exit code); $WRC its exit
# code. Fails when either still runs LIMIT_S + 5 s after the signal.
signal_and_wait() {
	local sig=$1 pid=$2 wpid=$3 limit=$4 t0 t1 p
	t0=$(date +%s%N)
	kill -s "$sig" "$pid" || fail "kill -s $sig $pid failed"
	for p in "$pid" "$wpid"; do
		while _alive "$p"; do
			t1=$(date +%s%N)
			if (((t1 - t0) / 1000000 > (limit + 5) * 1000)); then
				kill -9 "$wpid" "$pid" 2>/dev/null
				[[ -n ${DLOG:-} ]] && show_file "$DLOG"
				fail "SIG$sig: process $p still running $((limit + 5)) s later"
			fi
			sleep 0.005
		done
		[[ $p == "$pid" ]] && WMS=$((($(date +%s%N) - t0) / 1000000))
	done
	wait "$wpid"
	WRC=$?
	log "SIG$sig -> exit $WRC after $WMS ms"
}

# start_daemon NAME [VAR=VAL...]: vigil serve as PID 1 of a new PID
# namespace; $UPID is unshare (our child), $DPID the daemon's host pid,
# $DLOG its stdout+stderr. Returns once /healthz answers.
start_daemon() {
	local name=$1 i nspid
	shift
	DLOG=$T/daemon-$name.out
	env --default-signal=INT,QUIT,TERM "$@" \
		unshare --pid --fork --mount-proc --kill-child "$VIGIL" serve >"$DLOG" 2>&1 &
	UPID=$!
	DPID=
	for ((i = 0; i < 200; i++)); do
		DPID=$(pgrep -P "$UPID" | head -n 1)
		[[ -n $DPID && $(readlink "/proc/$DPID/exe" 2>/dev/null) == "$VIGIL_EXE" ]] && break
		DPID=
		_alive "$UPID" || break
		sleep 0.05
	done
	[[ -n $DPID ]] || {
		show_file "$DLOG"
		fail "daemon $name did not start under unshare"
	}
	nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$DPID/status")
	assert_eq 1 "$nspid" "the daemon's pid inside its namespace"
	for ((i = 0; i < 150; i++)); do
		curl -s -o /dev/null --max-time 1 "$URL/healthz" && break
		_alive "$DPID" || break
		sleep 0.1
	done
	curl -s -o /dev/null --max-time 1 "$URL/healthz" || {
		show_file "$DLOG"
		fail "daemon $name does not answer $URL/healthz"
	}
	log "daemon $name: unshare $UPID, vigil host pid $DPID (PID 1 in its namespace)"
}

ns() { timeout -k 5 60 nsenter --target "$DPID" --pid --mount "$@"; }

# assert_no_zombies: no Z in `ps -eo stat` inside the namespace. A zombie
# seen once must be gone 1.5 s later (the instant between a child's exit and
# its reaping is not a leak; a zombie that stays is).
zombies() { ns ps -eo pid=,stat=,comm= | awk '$2 ~ /^Z/ {print $1}' | sort; }
assert_no_zombies() {
	local z z2 stuck
	ns ps -eo pid,ppid,stat,comm >"$T/ps.txt" || fail "ps inside the namespace failed"
	[[ $(awk 'NR == 2 {print $1}' "$T/ps.txt") == 1 ]] || {
		show_file "$T/ps.txt"
		fail "ps does not see the namespace (no PID 1 first)"
	}
	z=$(zombies)
	[[ -z $z ]] && return 0
	sleep 1.5
	z2=$(zombies)
	stuck=$(comm -12 <(echo "$z") <(echo "$z2"))
	if [[ -n $stuck ]]; then
		ns ps -eo pid,ppid,stat,comm | sed 's/^/    /'
		fail "$1: zombie(s) in the daemon's namespace: $(echo "$stuck" | tr '\n' ' ')"
	fi
}

# Final-named (non-hidden) files under a backup directory.
finals() { (cd "$1" && find . -type f ! -name '.*' | sort); }

# assert_stopped_clean DIR WHAT: after a stop, no temporary file, no
# final-named db file, no pg_dump of ours, and its backend gone within 5 s.
assert_stopped_clean() {
	local dir=$1 what=$2 left
	assert_no_temp "$dir"
	assert_count 0 "$dir/db/app_*"
	left=$(our_pg_dumps)
	[[ -z $left ]] || fail "$what: pg_dump still running: $(ps -o pid,ppid,stat,args -p "$(echo "$left" | paste -sd,)")"
	wait_until 5 "$what: pg_dump's backend to go (pg_stat_activity, application_name vigil)" no_vigil_backend
}

# ---------------------------------------------------------------- (a) idle
log "case a: idle daemon, SIGTERM"
start_daemon a BACKUP_DIR="$T/a-backups"
sleep 0.5
signal_and_wait TERM "$DPID" "$UPID" 1
assert_eq 0 "$WRC" "(a) exit code after SIGTERM while idle"
((WMS < 1000)) || fail "(a) idle SIGTERM took $WMS ms, expected < 1000"
assert_contains "$DLOG" "stopped exit=0"

# ---------------------------------------------------------------- (b), (c)
lock_items

# stop_case NAME SIG CODE: daemon with BACKUP_ON_START, pg_dump blocked, SIG.
stop_case() {
	local name=$1 sig=$2 code=$3 dir=$T/$1-backups
	log "case $name: daemon as PID 1, pg_dump blocked on the lock, SIG$sig"
	start_daemon "$name" BACKUP_DIR="$dir" BACKUP_ON_START=true
	wait_until 20 "($name) pg_dump to wait on the table lock" vigil_waiting
	wait_until 5 "($name) the run's temporary file" has_temp "$dir"
	[[ -n $(our_pg_dumps) ]] || fail "($name) no pg_dump process found while blocked"
	signal_and_wait "$sig" "$DPID" "$UPID" 5
	assert_eq "$code" "$WRC" "($name) exit code after SIG$sig during a run"
	((WMS <= 5000)) || fail "($name) SIG$sig took $WMS ms, expected <= 5000"
	assert_contains "$DLOG" "stopped exit=$code"
	assert_stopped_clean "$dir" "($name)"
}
stop_case b TERM 143
stop_case c INT 130

# ---------------------------------------------------------------- (b') plain backup
log "case b2: plain vigil backup, pg_dump blocked on the lock, SIGTERM"
dir=$T/b2-backups
DLOG=$T/backup-b2.out
env --default-signal=INT,QUIT,TERM BACKUP_DIR="$dir" "$VIGIL" backup >"$DLOG" 2>&1 &
BPID=$!
wait_until 20 "(b2) pg_dump to wait on the table lock" vigil_waiting
wait_until 5 "(b2) the run's temporary file" has_temp "$dir"
signal_and_wait TERM "$BPID" "$BPID" 5
assert_eq 143 "$WRC" "(b2) exit code of vigil backup after SIGTERM"
((WMS <= 5000)) || fail "(b2) SIGTERM took $WMS ms, expected <= 5000"
# 143 from vigil itself (it logged it), not death by the default action.
assert_contains "$DLOG" "exit=143"
assert_stopped_clean "$dir" "(b2)"
unlock_items

# ---------------------------------------------------------------- (d) orphans
log "case d: orphaning pg_dump shim, 20 exec'd runs, 200 /healthz"
mkdir -p "$T/shim"
cat >"$T/shim/pg_dump" <<EOF
#!/bin/bash
echo "\$\$ \$*" >>"$T/shim.calls"
(sleep 0.2 &)
exec $PGBIN/pg_dump "\$@"
EOF
chmod 0755 "$T/shim/pg_dump"
dir=$T/d-backups
export BACKUP_DIR=$dir
SHIMPATH=$T/shim:$PATH
start_daemon d1 BACKUP_DIR="$dir" BACKUP_ON_START=true PATH="$SHIMPATH"
wait_until 60 "the start-up run to finish" grep -q "run finished" "$DLOG"
assert_contains "$DLOG" "run finished: exited 0"
for ((i = 1; i <= 20; i++)); do
	assert_exit 0 env BACKUP_DIR="$dir" PATH="$SHIMPATH" \
		timeout -k 5 60 nsenter --target "$DPID" --pid --mount "$VIGIL" backup
done
assert_count 21 "$dir/db/app_*.sql.gz"
assert_count 21 "$dir/media/media_*.tar.gz"
assert_count 21 "$dir/runs/*.json"
results=$("$PY" -c 'import json, sys
for f in sys.argv[1:]: print(json.load(open(f))["result"])' "$dir"/runs/*.json | sort | uniq -c | xargs)
assert_eq "21 success" "$results" "results of the 21 run manifests"
check_i1 "$dir"
calls=$(wc -l <"$T/shim.calls")
((calls >= 42)) || fail "the pg_dump shim ran $calls times, expected >= 42 (--version + dump per run)"
# 200 requests, each on its own connection, from 4 curl processes (a curl
# start costs more than a request).
args=()
for ((i = 1; i <= 50; i++)); do args+=(-o /dev/null "$URL/healthz"); done
for ((i = 1; i <= 4; i++)); do
	curl -s -H 'Connection: close' --max-time 2 -w '%{http_code}\n' "${args[@]}"
done >"$T/healthz.codes"
assert_eq "200 200" "$(sort "$T/healthz.codes" | uniq -c | xargs)" "/healthz status codes of 200 requests"
sleep 0.5 # the last orphaned sleeps end
assert_no_zombies "(d) after 21 runs"
signal_and_wait TERM "$DPID" "$UPID" 1
assert_eq 0 "$WRC" "(d) exit code of the idle daemon after SIGTERM"

log "case d2: the shim orphans a child and exits 1"
cat >"$T/shim/pg_dump" <<EOF
#!/bin/bash
# --version must pass, or the pre-flight (not the dump) is what fails.
[ "\${1:-}" = --version ] && exec $PGBIN/pg_dump --version
(sleep 0.2 &)
$PGBIN/pg_dump "\$@"
exit 1
EOF
ls_manifests >"$T/manifests.before"
start_daemon d2 BACKUP_DIR="$dir" BACKUP_ON_START=true PATH="$SHIMPATH"
wait_until 60 "the failing start-up run to finish" grep -q "run finished" "$DLOG"
assert_contains "$DLOG" "run finished: exited 1"
assert_one_failure_manifest "$T/manifests.before"
m=$(new_manifests "$T/manifests.before")
msg=$(manifest_get "$m" error.message) || fail "manifest $m has no error.message"
[[ $msg == *"pg_dump exited 1"* ]] || fail "failure message '$msg' lacks 'pg_dump exited 1'"
assert_count 21 "$dir/db/app_*.sql.gz"
assert_no_temp "$dir"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")
assert_eq 503 "$code" "/healthz after the failed run"
sleep 0.5
assert_no_zombies "(d2) after the failed run"
signal_and_wait TERM "$DPID" "$UPID" 1
assert_eq 0 "$WRC" "(d2) exit code of the idle daemon after SIGTERM"
log "B15 ok"
