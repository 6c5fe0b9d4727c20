#!/bin/bash
# shellcheck disable=SC2016,SC2119,SC2120 # python bodies are single-quoted on purpose; optional args
# README "The daemon", /metrics: Prometheus text format accepted by `promtool
# check metrics`, every name prefixed vigil_, and the families the spec names:
# per kind last success/failure timestamps, last duration, last size, runs by
# result, consecutive failures, backups stored (count, bytes), pruned total;
# plus next run time, running flag, database reachability, notification
# failures, offsite and verify timestamps, build info.
#
# /metrics of one `vigil serve` is checked (promtool exit 0 and no output,
# names, families and TYPEs, no duplicate series, values) in five states:
#   1. before any run;   2. after a good manual `vigil backup`;
#   3. after a failed one (database stopped, exit 1);
#   4. after a warning run (exit 3): $MEDIA_DIR/growing.log (30 MB) grows by
#      4 KiB every millisecond while it is archived, so it always "changed
#      while read" (archive.c compares the size and mtime before and after);
#   5. after a restart of the daemon (the values come back from runs/*.json).
# Also: other paths 404, POST/PUT/DELETE 405 (with Allow), HEAD 200, and the
# 0.0.4 content type.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"
pg_start
vigil_env
fixture

N_DAEMON=0
daemon_start() { # daemon_start [VAR=VAL...]: a `vigil serve` through lib.sh's daemon_spawn
	N_DAEMON=$((N_DAEMON + 1))
	IT_VIGIL_TIMEOUT=280 daemon_spawn "$N_DAEMON" vigil "$@" serve
}

# check_metrics STATE: fetch /metrics into $T/metrics.STATE.txt and check
# promtool, names, families, types, duplicates.
NAMES_PER_KIND="vigil_last_success_timestamp_seconds vigil_last_failure_timestamp_seconds
vigil_last_duration_seconds vigil_last_size_bytes vigil_consecutive_failures
vigil_backups_stored vigil_backups_stored_bytes vigil_pruned_total"
NAMES_DAEMON="vigil_next_run_timestamp_seconds vigil_running vigil_database_up
vigil_offsite_last_success_timestamp_seconds
vigil_verify_last_success_timestamp_seconds"
check_metrics() {
	local state=$1 f rc
	f=$T/metrics.$state.txt
	M=$f
	http /metrics
	[[ $HTTP_CODE == 200 ]] || fail "$state: /metrics answered $HTTP_CODE"
	cp "$T/http.body" "$f"
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/http.head" || {
		show_file "$T/http.head"
		fail "$state: /metrics content type is not text/plain; version=0.0.4"
	}
	promtool check metrics <"$f" >"$T/promtool.$state" 2>&1
	rc=$?
	if [[ $rc != 0 || -s $T/promtool.$state ]]; then
		show_file "$T/promtool.$state"
		fail "$state: promtool check metrics exit $rc (or lint output)"
	fi
	"$PY" - "$f" "$state" "$NAMES_PER_KIND" "$NAMES_DAEMON" <<-'EOF' || fail "$state: /metrics content, see above"
		import re, sys
		path, state, per_kind, daemon = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
		bad, types, series = [], {}, {}
		sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
		for n, line in enumerate(open(path), 1):
		    line = line.rstrip("\n")
		    if line.startswith("# TYPE ") or line.startswith("# HELP "):
		        parts = line.split(" ", 3)
		        if not parts[2].startswith("vigil_"):
		            bad.append("line %d: %s" % (n, line))
		        if parts[1] == "TYPE":
		            types[parts[2]] = parts[3]
		        continue
		    if not line or line.startswith("#"):
		        continue
		    m = sample.match(line)
		    if not m:
		        bad.append("line %d unparsable: %r" % (n, line))
		        continue
		    name, labels, value = m.group(1), m.group(3) or "", m.group(4)
		    if not name.startswith("vigil_"):
		        bad.append("line %d: name without vigil_: %s" % (n, name))
		    try:
		        float(value)
		    except ValueError:
		        bad.append("line %d: value %r" % (n, value))
		    key = name + "{" + ",".join(sorted(labels.split(","))) + "}"
		    if key in series:
		        bad.append("duplicate series %s" % key)
		    series[key] = value
		def need(key):
		    if key not in series:
		        bad.append("missing %s" % key)
		for name in per_kind:
		    for kind in ("db", "media"):
		        need('%s{kind="%s"}' % (name, kind))
		for kind in ("db", "media"):
		    for res in ("failure", "success", "warning"):
		        need('vigil_runs_total{kind="%s",result="%s"}' % (kind, res))
		for name in daemon:
		    need(name + "{}")
		for ch in ("mail", "ping", "webhook"):
		    need('vigil_notification_failures_total{channel="%s"}' % ch)
		    for res in ("failed", "sent"):
		        need('vigil_notifications_total{channel="%s",result="%s"}' % (ch, res))
		if not any(k.startswith("vigil_build_info{") and v == "1" for k, v in series.items()):
		    bad.append("missing vigil_build_info{...} 1")
		for name in per_kind + daemon + ["vigil_runs_total", "vigil_build_info",
		                                 "vigil_notification_failures_total", "vigil_notifications_total"]:
		    want = "counter" if name.endswith("_total") else "gauge"
		    if types.get(name) != want:
		        bad.append("TYPE of %s: %s, expected %s" % (name, types.get(name), want))
		for b in bad:
		    print("   ", b)
		print("# %s: %d series, %d families, promtool clean" % (state, len(series), len(types)))
		sys.exit(1 if bad else 0)
	EOF
}

# m 'NAME{LABELS}': a value from the last check_metrics.
m() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$M")
	[[ -n $v ]] || fail "/metrics ($M) has no sample $1"
	printf '%s\n' "$v"
}
expect_metric() { assert_eq "$2" "$(m "$1")" "/metrics $1"; }
# expect_runs KIND SUCCESS WARNING FAILURE
expect_runs() {
	expect_metric "vigil_runs_total{kind=\"$1\",result=\"success\"}" "$2"
	expect_metric "vigil_runs_total{kind=\"$1\",result=\"warning\"}" "$3"
	expect_metric "vigil_runs_total{kind=\"$1\",result=\"failure\"}" "$4"
}
manifest_end() { date -u -d "$(manifest_get "$1" end)" +%s; }

# wait_runs N: until /metrics counts N db runs (the daemon notices manual
# runs by itself, README "The daemon"), at most 5 s.
wait_runs() {
	local deadline=$((SECONDS + 5)) s
	while :; do
		http /metrics
		s=$(awk '$1 ~ /^vigil_runs_total\{kind="db"/ { n += $2 } END { print n + 0 }' "$T/http.body")
		[[ $s == "$1" ]] && return 0
		((SECONDS < deadline)) || fail "/metrics counts $s db runs after 5 s, expected $1 (manual runs must be picked up)"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- HTTP surface
daemon_start
log "paths and methods"
for p in / /foo /metrics/ /healthz/x /metricsx /Metrics; do
	http "$p"
	assert_eq 404 "$HTTP_CODE" "GET $p"
done
for p in /metrics /healthz; do
	for meth in POST PUT DELETE; do
		http "$p" "$meth"
		assert_eq 405 "$HTTP_CODE" "$meth $p"
		grep -qi '^allow: .*GET' "$T/http.head" || fail "$meth $p: 405 without an Allow header naming GET"
	done
	HTTP_CODE=$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 5 "http://$HTTP_LISTEN$p")
	assert_eq 200 "$HTTP_CODE" "HEAD $p"
done

# ---------------------------------------------------------------- 1. no run yet
log "1. before any run"
check_metrics fresh
expect_runs db 0 0 0
expect_runs media 0 0 0
for k in db media; do
	expect_metric "vigil_last_success_timestamp_seconds{kind=\"$k\"}" 0
	expect_metric "vigil_consecutive_failures{kind=\"$k\"}" 0
	expect_metric "vigil_backups_stored{kind=\"$k\"}" 0
	expect_metric "vigil_pruned_total{kind=\"$k\"}" 0
done
expect_metric vigil_running 0
# TZ=UTC, default schedule "0 3 * * *": the next 03:00:00Z.
now=$(date +%s)
next=$((now - now % 86400 + 3 * 3600))
((next <= now)) && next=$((next + 86400))
expect_metric vigil_next_run_timestamp_seconds "$next"
ver=$("$VIGIL" version | awk 'NR == 1 { print $2 }')
grep -q "^vigil_build_info{version=\"$ver\"" "$M" || fail "vigil_build_info does not carry version $ver"
# The reachability probe runs at start.
deadline=$((SECONDS + 10))
until check_metrics fresh-probe && [[ $(m vigil_database_up) == 1 ]]; do
	((SECONDS < deadline)) || fail "vigil_database_up is not 1 within 10 s of start"
	sleep 0.5
done

# ---------------------------------------------------------------- 2. success
log "2. after a good run"
ls_manifests >"$T/m0"
assert_exit 0 vigil backup
ok1=$(new_manifests "$T/m0")
wait_runs 1
check_metrics success
expect_runs db 1 0 0
expect_runs media 1 0 0
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$(manifest_end "$ok1")"
expect_metric 'vigil_last_failure_timestamp_seconds{kind="db"}' 0
dbfile=$BACKUP_DIR/$(manifest_get "$ok1" artifacts.0.path)
mediafile=$BACKUP_DIR/$(manifest_get "$ok1" artifacts.1.path)
[[ -f $dbfile && -f $mediafile ]] || fail "manifest paths do not exist: $dbfile $mediafile"
expect_metric 'vigil_last_size_bytes{kind="db"}' "$(stat -c %s "$dbfile")"
expect_metric 'vigil_last_size_bytes{kind="media"}' "$(stat -c %s "$mediafile")"
expect_metric 'vigil_backups_stored{kind="db"}' 1
expect_metric 'vigil_backups_stored{kind="media"}' 1
expect_metric 'vigil_backups_stored_bytes{kind="db"}' "$(stat -c %s "$dbfile")"
expect_metric 'vigil_backups_stored_bytes{kind="media"}' "$(stat -c %s "$mediafile")"
"$PY" -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.0015)' \
	"$(m 'vigil_last_duration_seconds{kind="db"}')" "$(manifest_get "$ok1" artifacts.0.seconds)" ||
	fail "vigil_last_duration_seconds{kind=\"db\"} $(m 'vigil_last_duration_seconds{kind="db"}') differs from the manifest's $(manifest_get "$ok1" artifacts.0.seconds)"

# ---------------------------------------------------------------- 3. failure
log "3. after a failed run"
pg_server stop
wait_next_second
ls_manifests >"$T/m0"
assert_exit 1 vigil backup
assert_one_failure_manifest "$T/m0"
f1=$(new_manifests "$T/m0")
wait_runs 2
check_metrics failure
expect_runs db 1 0 1
expect_runs media 2 0 0
expect_metric 'vigil_consecutive_failures{kind="db"}' 1
expect_metric 'vigil_last_failure_timestamp_seconds{kind="db"}' "$(manifest_end "$f1")"
expect_metric 'vigil_last_success_timestamp_seconds{kind="db"}' "$(manifest_end "$ok1")"
expect_metric 'vigil_backups_stored{kind="db"}' 1
assert_not_contains "$M" "$POSTGRES_PASSWORD"
pg_server start

# ---------------------------------------------------------------- 4. warning
log "4. after a warning run (a media file grows while it is read)"
head -c 30000000 /dev/urandom >"$MEDIA_DIR/growing.log"
"$PY" - "$MEDIA_DIR/growing.log" "$T/stop-writer" <<-'EOF' &
	import os, sys, time
	block = os.urandom(4096)
	end = time.monotonic() + 120
	with open(sys.argv[1], "ab", buffering=0) as f:
	    while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
	        f.write(block)
	        time.sleep(0.001)
EOF
writer=$!
wait_next_second
ls_manifests >"$T/m0"
assert_exit 3 vigil backup
touch "$T/stop-writer"
wait "$writer"
w1=$(new_manifests "$T/m0")
assert_eq warning "$(manifest_get "$w1" result)" "result of the warning run"
assert_eq warning "$(manifest_get "$w1" artifacts.1.result)" "media result of the warning run"
nwarn=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["artifacts"][1]["warnings"]))' "$w1")
((nwarn >= 1)) || fail "the warning run's manifest lists no warning"
rm -f "$MEDIA_DIR/growing.log"
wait_runs 3
check_metrics warning
expect_runs db 2 0 1
expect_runs media 2 1 0
expect_metric 'vigil_warnings_total{kind="media"}' "$nwarn"
expect_metric 'vigil_consecutive_failures{kind="db"}' 0
expect_metric 'vigil_consecutive_failures{kind="media"}' 0
expect_metric 'vigil_last_success_timestamp_seconds{kind="media"}' "$(manifest_end "$w1")"
expect_metric 'vigil_backups_stored{kind="db"}' 2
expect_metric 'vigil_backups_stored{kind="media"}' 3
cp "$M" "$T/before-restart.txt"
daemon_stop

# ---------------------------------------------------------------- 5. restart
log "5. after a restart"
daemon_start
check_metrics restart
# Everything read from disk comes back identical; only the start time and
# the probe's view may differ.
diff <(grep -v -e '^vigil_start_timestamp_seconds' -e '^vigil_database_up' "$T/before-restart.txt") \
	<(grep -v -e '^vigil_start_timestamp_seconds' -e '^vigil_database_up' "$M") ||
	fail "/metrics after the restart differs from before it (see diff above)"
daemon_stop
check_i1
log "metrics ok"
