#!/bin/bash
# shellcheck disable=SC2016,SC2119 # python in single quotes; lib functions take optional args
# TRIAL-0.1.0 F8 and F5: `latest`, the order of `list` and `list --json`
# time_utc came from the local-time file name, and one backup made under a
# clock 30 days ahead pinned /healthz, the metrics and `latest`.
# Rule now: backups are ordered by the start their run manifest recorded
# (a UTC instant); the name's stamp counts only for a file no manifest
# records. A recorded time more than 5 min ahead of now is "future-dated".
#   1. DST fall-back, TZ=Europe/Madrid: a backup at 2026-10-25 00:45Z (named
#      02:45 CEST, 1000 rows), a row inserted, one at 01:15Z (named 02:15
#      CET, 1001 rows). `list` shows the 01:15Z one first; `list --json`
#      time_utc is each manifest's start (2026-10-25T01:15:0xZ / 00:45:0xZ)
#      and "recorded": true; `verify latest` checks the 01:15Z one (1001 rows).
#   2. TZ change: a backup with TZ=UTC, a row inserted, one with
#      TZ=America/Lima; with TZ=America/Lima `verify latest` checks the
#      second (1003 rows, the first has 1002) and `list` shows it first.
#   3. A backup under FAKETIME=+30d, a row inserted, a backup in real time:
#      `list` marks the first FUTURE-DATED (and WARNs), `list --json` has
#      "future": true for it only, `verify latest` checks the real one (1004
#      rows) and
#      WARNs "dated in the future". `vigil serve`: 200 "ok" with last_success
#      the real run's end (not 30 days ahead), vigil_future_manifests 1,
#      vigil_last_success_timestamp_seconds = the real run's end. Database
#      stopped, `vigil backup` exit 1: /healthz 503 "failing" (the future
#      success no longer hides it), consecutive failures 1.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

# offset_to UTC-TIME: a libfaketime offset (seconds) from now to that instant.
offset_to() {
	local off=$(($(date -u -d "$1" +%s) - $(date +%s)))
	((off >= 0)) && echo "+$off" || echo "$off"
}
db_names() { awk '$1 == "db" { print $2 }' "$OUT"; }
json_field() { # json_field NAME FIELD: from $OUT (list --json)
	"$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1])):
    if r["name"] == sys.argv[2]:
        v = r[sys.argv[3]]; print(v if isinstance(v, str) else json.dumps(v))' "$OUT" "$1" "$2"
}
newest_manifest() { ls_manifests | sort | tail -n 1; }
new_db_file() { comm -13 <(sort "$1") <(ls "$BACKUP_DIR/db" | grep -v sha256 | sort); }

# ---------------------------------------------------------------- 1. DST
log "1. DST fall-back in Europe/Madrid"
export TZ=Europe/Madrid BACKUP_DIR=$T/b1
ls "$BACKUP_DIR/db" 2>/dev/null >"$T/f0"
assert_exit 0 vigil FAKETIME="$(offset_to '2026-10-25 00:45:00Z')" backup --db-only
a=$(new_db_file "$T/f0")
a_start=$(manifest_get "$(newest_manifest)" start)
sql "INSERT INTO items VALUES (1001, 'x')" >/dev/null
ls "$BACKUP_DIR/db" >"$T/f0"
assert_exit 0 vigil FAKETIME="$(offset_to '2026-10-25 01:15:00Z')" backup --db-only
b=$(ls "$BACKUP_DIR/db" | grep -v sha256 | grep -vxF "$a")
b_start=$(manifest_get "$(ls_manifests | xargs grep -l "$b" | head -n 1)" start)
log "A=$a ($a_start)  B=$b ($b_start)"
[[ $a == app_20261025_0245* && $b == app_20261025_0215* ]] || fail "unexpected names: $a $b"
[[ $b_start == 2026-10-25T01:15:0?Z && $a_start == 2026-10-25T00:45:0?Z ]] || fail "unexpected starts"
assert_exit 0 vigil list
assert_eq "$b" "$(db_names | head -n 1)" "first db line of list after the fall-back"
assert_exit 0 vigil list --json
assert_eq "$b_start" "$(json_field "$b" time_utc)" "time_utc of B"
assert_eq "$a_start" "$(json_field "$a" time_utc)" "time_utc of A"
assert_eq true "$(json_field "$b" recorded)" "B recorded"
assert_eq false "$(json_field "$b" future)" "B future"
assert_exit 0 vigil verify latest
assert_output_match "ok +db +$b .*1001 rows"

# ---------------------------------------------------------------- 2. TZ change
log "2. TZ change UTC -> America/Lima"
export BACKUP_DIR=$T/b2
sql "INSERT INTO items VALUES (1002, 'y')" >/dev/null
assert_exit 0 vigil TZ=UTC backup --db-only
c=$(ls "$BACKUP_DIR/db" | grep -v sha256)
sql "INSERT INTO items VALUES (1003, 'z')" >/dev/null
wait_next_second
assert_exit 0 vigil TZ=America/Lima backup --db-only
d=$(ls "$BACKUP_DIR/db" | grep -v sha256 | grep -vxF "$c")
log "C=$c D=$d"
[[ $c > $d ]] || fail "setup: the UTC name should sort after the Lima name ($c, $d)"
assert_exit 0 vigil TZ=America/Lima list
assert_eq "$d" "$(db_names | head -n 1)" "first db line of list after the TZ change"
assert_exit 0 vigil TZ=America/Lima verify latest
assert_output_match "ok +db +$d .*1003 rows"

# ---------------------------------------------------------------- 3. future
log "3. one backup under a clock 30 days ahead"
export TZ=UTC BACKUP_DIR=$T/b3
assert_exit 0 vigil FAKETIME=+30d backup --db-only
e=$(ls "$BACKUP_DIR/db" | grep -v sha256)
sql "INSERT INTO items VALUES (1004, 'w')" >/dev/null
wait_next_second
assert_exit 0 vigil backup --db-only
fm=$(ls_manifests | xargs grep -L "$e" | head -n 1)
f=$(ls "$BACKUP_DIR/db" | grep -v sha256 | grep -vxF "$e")
f_end=$(date -u -d "$(manifest_get "$fm" end)" +%s)
log "E=$e (future) F=$f"
assert_exit 0 vigil list
assert_match "$OUT" "^db +$e .*FUTURE-DATED"
assert_not_contains "$OUT" "$f.*FUTURE"
assert_output_match 'WARN .*dated in the future'
assert_exit 0 vigil list --json
assert_eq true "$(json_field "$e" future)" "E future"
assert_eq false "$(json_field "$f" future)" "F future"
assert_exit 0 vigil verify latest
assert_output_match "ok +db +$f .*1004 rows"
assert_output_match "WARN $e is dated in the future"

daemon_spawn 1 vigil MEDIA_DIR= serve
http /healthz
assert_eq 200 "$HTTP_CODE" "/healthz with a future-dated success and a real one"
assert_contains "$T/http.body" "\"db\":\"$(date -u -d "@$f_end" +%Y-%m-%dT%H:%M:%SZ)\""
assert_eq 1 "$(metric vigil_future_manifests)" "vigil_future_manifests"
assert_eq "$f_end" "$(metric 'vigil_last_success_timestamp_seconds{kind="db"}')" "last success"
assert_contains "$DLOG" 'dated in the future'
pg_server stop
wait_next_second
assert_exit 1 vigil MEDIA_DIR= backup --db-only
failing() { http /healthz; [[ $HTTP_CODE == 503 ]]; }
wait_until 5 "/healthz 503 after a real failure" failing
assert_contains "$T/http.body" '"status":"failing"'
assert_eq 1 "$(metric 'vigil_consecutive_failures{kind="db"}')" "consecutive failures"
daemon_stop
pg_server start
log "time order ok"
