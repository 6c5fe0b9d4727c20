#!/bin/bash
# shellcheck disable=SC2016,SC2119 # python, SQL and at_exit bodies are single-quoted on purpose; lib functions take optional args
# FIELD-CASES B09: /healthz must say whether backups work, not only that the
# process lives. The daemon's state is rebuilt from runs/*.json, and README
# "The daemon" says it "survives restarts and includes manual runs", so every
# run below is a separate, manual `vigil backup` that the daemon must notice.
#
#   1. `vigil serve` on an empty BACKUP_DIR: 200 {"status":"pending"}.
#   2. one good `vigil backup`: 200 "ok" (within 5 s: the daemon has to notice
#      a manifest it did not write itself).
#   3. database stopped, two `vigil backup` (exit 1 each): 503 "failing" with
#      a reason naming the db kind and the cause; `vigil healthcheck` exit 1;
#      /metrics: vigil_consecutive_failures{kind="db"} 1 then 2, last success
#      unchanged, last failure set, vigil_runs_total{...,result="failure"} 2.
#   4. database back, one more backup: 200 "ok", consecutive failures 0.
#      A stopped (SIGSTOP) daemon makes `vigil healthcheck` exit 1 within
#      8 s; HTTP_LISTEN=off makes it exit 1.
#   5. restarts with that success on disk: now -> 200 ok and the counters
#      survive; FAKETIME=+25h -> 200; FAKETIME=+27h -> 503 (default max age
#      = schedule period 24 h + 2 h = 26 h). HEALTHCHECK_MAX_AGE=1h:
#      FAKETIME=+30m -> 200, +2h -> 503. HEALTHCHECK_MAX_AGE=3s on an empty
#      BACKUP_DIR: "pending" first, 503 once the daemon is older than 3 s.
#      check-config shows the age (93600 s default, 90m = 5400 s); invalid
#      HEALTHCHECK_MAX_AGE values are exit 2 naming the variable.
#   5d. the media kind fails (MEDIA_DIR missing): 503 naming media; a
#      --db-only success leaves it 503, a --media-only success makes it 200.
#   6. BACKUP_ON_START=true while another session holds LOCK TABLE items IN
#      ACCESS EXCLUSIVE MODE: with pg_dump provably waiting on the lock,
#      1000 sequential GET /healthz, then 1000 from 4 concurrent clients (a
#      new connection each, python3 http.client): all 200 "ok", p99 < 100 ms
#      in each phase (p50/p99/max printed). Then the lock goes, the run
#      completes and is counted. Without a daemon, `vigil healthcheck` is 1.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

N_DAEMON=0
# daemon_start [VAR=VAL...]: `vigil serve` through lib.sh's daemon_spawn.
daemon_start() {
	N_DAEMON=$((N_DAEMON + 1))
	IT_VIGIL_TIMEOUT=280 daemon_spawn "$N_DAEMON" vigil "$@" serve
	log "daemon $N_DAEMON ($*) pid $DPID is up"
}

# expect_health CODE STATUS [SECONDS]: /healthz answers CODE with
# "status":"STATUS" (retried for up to SECONDS, default 0: the state must
# already be there); the body stays in $T/http.body.
expect_health() {
	local code=$1 status=$2 secs=${3:-0} deadline
	deadline=$((SECONDS + secs))
	while :; do
		http /healthz
		[[ $HTTP_CODE == "$code" ]] && grep -qF "\"status\":\"$status\"" "$T/http.body" && {
			log "/healthz $HTTP_CODE $(tr -d '\n' <"$T/http.body")"
			return 0
		}
		((SECONDS < deadline)) || break
		sleep 0.1
	done
	show_file "$T/http.body"
	show_file "$DLOG" 20
	fail "/healthz: expected $code \"$status\" (within ${secs}s), got $HTTP_CODE $(tr -d '\n' <"$T/http.body")"
}

# metrics: fetch /metrics into $T/metrics.txt. m 'NAME{LABELS}': one value.
metrics() {
	http /metrics
	[[ $HTTP_CODE == 200 ]] || fail "/metrics answered $HTTP_CODE"
	cp "$T/http.body" "$T/metrics.txt"
}
m() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.txt")
	[[ -n $v ]] || {
		show_file "$T/metrics.txt" 80
		fail "/metrics has no sample $1"
	}
	printf '%s\n' "$v"
}
# expect_metric 'NAME{LABELS}' VALUE: from the last metrics call.
expect_metric() { assert_eq "$2" "$(m "$1")" "/metrics $1"; }

# reason: the "reason" of the last /healthz body.
reason() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("reason",""))' "$T/http.body"; }

manifest_end() { # Unix seconds of a manifest's "end"
	date -u -d "$(manifest_get "$1" end)" +%s
}

# ---------------------------------------------------------------- 1. pending
log "1. fresh start on an empty BACKUP_DIR"
daemon_start
expect_health 200 pending
assert_exit 0 vigil healthcheck
metrics
expect_metric 'vigil_runs_total{kind="db",result="success"}' 0
expect_metric 'vigil_runs_total{kind="db",result="failure"}' 0
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' 0
expect_metric 'vigil_consecutive_failures{kind="db"}' 0

# ---------------------------------------------------------------- 2. success
log "2. one good manual backup"
ls_manifests >"$T/m0"
assert_exit 0 vigil backup
ok1=$(new_manifests "$T/m0")
[[ -f $ok1 ]] || fail "no manifest for the good run"
end1=$(manifest_end "$ok1")
# The daemon reads runs/ at start and after its own runs; README "The daemon" says
# state "includes manual runs", so it must notice this one by itself.
expect_health 200 ok 5
assert_contains "$T/http.body" "\"db\":\"$(date -u -d "@$end1" +%Y-%m-%dT%H:%M:%SZ)\""
assert_exit 0 vigil healthcheck
metrics
expect_metric 'vigil_runs_total{kind="db",result="success"}' 1
expect_metric 'vigil_runs_total{kind="media",result="success"}' 1
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$end1"
expect_metric 'vigil_last_success_timestamp_seconds{kind="media"}' "$end1"
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
expect_metric 'vigil_backups_stored{kind="db"}' 1

# ---------------------------------------------------------------- 3. failures
log "3. database stopped, two failing backups"
pg_server stop
for n in 1 2; do
	wait_next_second
	ls_manifests >"$T/m0"
	assert_exit 1 vigil backup
	assert_one_failure_manifest "$T/m0"
	fm=$(new_manifests "$T/m0")
	expect_health 503 failing 5
	r=$(reason)
	log "reason: $r"
	[[ $r == *db* ]] || fail "the 503 reason does not name the db kind: $r"
	[[ $r =~ [Cc]onnect|refused|reach ]] || fail "the 503 reason does not give the cause (connection refused): $r"
	assert_not_contains "$T/http.body" "$POSTGRES_PASSWORD"
	assert_exit 1 vigil healthcheck
	assert_output_match '503'
	# The daemon notices a manual run's manifest within about a second
	# (it stats runs/ once a second): wait for it, bounded.
	for _ in $(seq 1 50); do
		metrics
		[[ $(m 'vigil_consecutive_failures{kind="db"}') == "$n" ]] && break
		sleep 0.1
	done
	expect_metric 'vigil_consecutive_failures{kind="db"}' "$n"
	expect_metric 'vigil_runs_total{kind="db",result="failure"}' "$n"
	expect_metric 'vigil_runs_total{kind="db",result="success"}' 1
	expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$end1"
	expect_metric 'vigil_last_failure_timestamp_seconds{kind="db"}' "$(manifest_end "$fm")"
	expect_metric 'vigil_backups_stored{kind="db"}' 1
done
assert_not_contains "$T/metrics.txt" "$POSTGRES_PASSWORD"

# ---------------------------------------------------------------- 4. recovery
log "4. database back, one more backup"
pg_server start
wait_next_second
ls_manifests >"$T/m0"
assert_exit 0 vigil backup
ok2=$(new_manifests "$T/m0")
end2=$(manifest_end "$ok2")
expect_health 200 ok 5
assert_exit 0 vigil healthcheck
metrics
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
expect_metric 'vigil_runs_total{kind="db",result="failure"}' 2
expect_metric 'vigil_runs_total{kind="db",result="success"}' 2
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$end2"
expect_metric 'vigil_backups_stored{kind="db"}' 2
# A daemon that no longer answers is unhealthy too: `vigil healthcheck`
# gives up (exit 1) within its 5 s timeout instead of hanging.
kill -STOP "$DPID"
t0=$SECONDS
assert_exit 1 vigil healthcheck
kill -CONT "$DPID"
((SECONDS - t0 <= 8)) || fail "vigil healthcheck took $((SECONDS - t0)) s against a stopped daemon"
assert_exit 0 vigil healthcheck
assert_exit 1 vigil HTTP_LISTEN=off healthcheck
daemon_stop

# ---------------------------------------------------------------- 5. age
log "5. restarts with that success on disk"
daemon_start
expect_health 200 ok
metrics
expect_metric 'vigil_runs_total{kind="db",result="failure"}' 2
expect_metric 'vigil_runs_total{kind="db",result="success"}' 2
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$end2"
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
daemon_stop

daemon_start FAKETIME=+25h
expect_health 200 ok
daemon_stop

daemon_start FAKETIME=+27h
expect_health 503 failing
r=$(reason)
log "reason: $r"
[[ $r =~ HEALTHCHECK_MAX_AGE|older|stale ]] || fail "the 503 reason does not say the last success is too old: $r"
[[ $r =~ 26h ]] || fail "the 503 reason does not name the default limit (26h): $r"
assert_exit 1 vigil healthcheck
daemon_stop

log "5b. HEALTHCHECK_MAX_AGE=1h"
daemon_start HEALTHCHECK_MAX_AGE=1h FAKETIME=+30m
expect_health 200 ok
daemon_stop
daemon_start HEALTHCHECK_MAX_AGE=1h FAKETIME=+2h
expect_health 503 failing
r=$(reason)
log "reason: $r"
[[ $r =~ HEALTHCHECK_MAX_AGE|older|stale ]] || fail "the 503 reason does not say the last success is too old: $r"
assert_exit 1 vigil HEALTHCHECK_MAX_AGE=1h healthcheck
daemon_stop

assert_exit 0 vigil HEALTHCHECK_MAX_AGE=90m check-config
assert_contains "$OUT" 'older than 5400s'
assert_exit 0 vigil check-config
assert_contains "$OUT" 'older than 93600s'
for bad in soon 0 -1h 1x; do
	assert_exit 2 vigil HEALTHCHECK_MAX_AGE="$bad" check-config
	assert_output_match 'HEALTHCHECK_MAX_AGE'
done

log "5c. pending expires: HEALTHCHECK_MAX_AGE=3s on an empty BACKUP_DIR"
saved_backup_dir=$BACKUP_DIR
export BACKUP_DIR=$T/empty-backups
mkdir -p "$BACKUP_DIR"
daemon_start HEALTHCHECK_MAX_AGE=3s
expect_health 200 pending
sleep 4
expect_health 503 failing 3
log "reason: $(reason)"
daemon_stop
export BACKUP_DIR=$saved_backup_dir

# ---------------------------------------------------------------- 5d. media
log "5d. the media kind fails (MEDIA_DIR missing, e.g. a volume not mounted)"
daemon_start
expect_health 200 ok
mv "$MEDIA_DIR" "$MEDIA_DIR.off"
wait_next_second
ls_manifests >"$T/m0"
assert_exit 1 vigil backup
assert_one_failure_manifest "$T/m0"
expect_health 503 failing 5
r=$(reason)
log "reason: $r"
# The failed run's own reason, or (once the new manifest has made the daemon
# re-run its start-up checks) the start-up check's, which comes first.
[[ $r == media:* || $r == "start-up check failed: MEDIA_DIR $MEDIA_DIR does not exist;"* ]] ||
	fail "the 503 reason does not name the media kind or MEDIA_DIR: $r"
[[ $r == *"$MEDIA_DIR"* ]] || fail "the 503 reason does not name the missing MEDIA_DIR: $r"
assert_exit 1 vigil healthcheck
metrics
expect_metric 'vigil_consecutive_failures{kind="media"}' 1
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
mv "$MEDIA_DIR.off" "$MEDIA_DIR"
# A database-only run does not make the media kind healthy...
wait_next_second
assert_exit 0 vigil backup --db-only
sleep 2
expect_health 503 failing
[[ $(reason) == media* ]] || fail "after a --db-only run the 503 reason is not the media kind's: $(reason)"
# ...a media run does.
wait_next_second
assert_exit 0 vigil backup --media-only
expect_health 200 ok 5
metrics
expect_metric 'vigil_consecutive_failures{kind="media"}' 0
db_ok_before=$(m 'vigil_runs_total{kind="db",result="success"}')
daemon_stop

# ---------------------------------------------------------------- 6. latency
log "6. /healthz latency while a backup waits on a table lock"
sql "SELECT 1" >/dev/null
(sql "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1) &
locker=$!
deadline=$((SECONDS + 15))
until [[ $(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
               WHERE c.relname = 'items' AND l.mode = 'AccessExclusiveLock' AND l.granted") == 1 ]]; do
	((SECONDS < deadline)) || fail "setup: the lock on items was not taken within 15 s"
	sleep 0.1
done
wait_next_second
ls_manifests >"$T/m0"
daemon_start BACKUP_ON_START=true
# pg_dump (application_name "vigil") must be waiting on the lock before we
# measure: its LOCK TABLE ... IN ACCESS SHARE MODE is queued behind ours.
dump_waiting() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app'
	          AND wait_event_type = 'Lock' AND query ILIKE 'LOCK TABLE %items%'") -ge 1 ]]
}
deadline=$((SECONDS + 30))
until dump_waiting; do
	((SECONDS < deadline)) || {
		show_file "$DLOG"
		sql "SELECT pid, application_name, state, wait_event_type, query FROM pg_stat_activity"
		fail "setup: no pg_dump waiting on the lock within 30 s"
	}
	sleep 0.2
done
metrics
expect_metric vigil_running 1
"$PY" - "$HTTP_LISTEN" 1000 4 "$T/latency.txt" <<-'EOF' || fail "/healthz latency or answers, see above"
	import http.client, math, sys, threading, time
	host, port = sys.argv[1].rsplit(":", 1)
	n, nthreads, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
	bad = []
	def client(count, lat):
	    deadline = time.monotonic() + 120
	    for i in range(count):
	        if time.monotonic() > deadline:
	            bad.append("gave up after %d requests (120 s)" % i)
	            return
	        t0 = time.perf_counter()
	        try:
	            c = http.client.HTTPConnection(host, int(port), timeout=5)
	            c.request("GET", "/healthz")
	            r = c.getresponse()
	            body = r.read().decode("utf-8", "replace")
	            c.close()
	            status = r.status
	        except Exception as e:
	            status, body = 0, repr(e)
	        lat.append(time.perf_counter() - t0)
	        if status != 200 or '"status":"ok"' not in body:
	            bad.append("request %d: %s %s" % (i, status, body.strip()))
	def report(label, lat):
	    lat = sorted(lat)
	    q = lambda p: lat[max(0, math.ceil(p * len(lat)) - 1)] * 1000
	    line = "healthz latency, %s, %d requests: p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (
	        label, len(lat), q(0.50), q(0.99), lat[-1] * 1000)
	    print("# " + line)
	    open(out, "a").write(line + "\n")
	    if len(lat) < 500:
	        bad.append("%s: only %d requests" % (label, len(lat)))
	    if q(0.99) >= 100:
	        bad.append("%s: p99 %.2f ms is not under 100 ms" % (label, q(0.99)))
	seq = []
	client(n, seq)
	report("sequential", seq)
	per = [[] for _ in range(nthreads)]
	ts = [threading.Thread(target=client, args=(n // nthreads, per[i])) for i in range(nthreads)]
	for t in ts:
	    t.start()
	for t in ts:
	    t.join()
	report("%d concurrent clients" % nthreads, [x for l in per for x in l])
	for b in bad[:10]:
	    print("   ", b)
	sys.exit(1 if bad else 0)
EOF
# Still blocked after the measurement: the numbers were taken during the run.
dump_waiting || fail "pg_dump no longer waited on the lock at the end of the measurement"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null
# The run completes now and is counted.
deadline=$((SECONDS + 60))
until metrics && [[ $(m vigil_running) == 0 && $(m 'vigil_runs_total{kind="db",result="success"}') == $((db_ok_before + 1)) ]]; do
	((SECONDS < deadline)) || {
		show_file "$DLOG"
		fail "the start-up run did not finish within 60 s of releasing the lock"
	}
	sleep 0.2
done
ok3=$(new_manifests "$T/m0")
[[ $(printf '%s\n' "$ok3" | grep -c .) == 1 ]] || fail "expected one new manifest, got: $ok3"
assert_eq success "$(manifest_get "$ok3" result)" "result of the start-up run"
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$(manifest_end "$ok3")"
expect_health 200 ok
daemon_stop
# No daemon: `vigil healthcheck` fails at once, it does not hang.
assert_exit 1 vigil healthcheck
check_i1
assert_no_temp "$BACKUP_DIR"
cat "$T/latency.txt"
log "B09 ok"
