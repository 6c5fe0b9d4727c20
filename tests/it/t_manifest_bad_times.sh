#!/bin/bash
# A run manifest whose start/end times are missing or unreadable (edited by
# hand, damaged) does not date its backup 1970-01-01: `list` and `latest`
# use the stamp in the file's name, with a WARN, and the daemon ignores that
# manifest (a WARN) instead of folding a run "at 1970" into /healthz.
# 0.1.0-era builds listed it as 1970-01-01 00:00:00 and made the older
# backup `latest`.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

assert_exit 0 vigil backup --db-only
older=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz)
sql "INSERT INTO items VALUES (1001, 'newer')" >/dev/null
wait_next_second
assert_exit 0 vigil backup --db-only
newer=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz | grep -vxF "$older")
run=$(ls -t "$BACKUP_DIR/runs" | head -n 1)

for bad in '"garbage"' '"2026-13-45T99:99:99Z"' 'null' '12345' '"2026-12-06T21:10:07Zjunk"' \
	'"1970-01-01T00:00:01Z"' '"2026-02-31T00:00:00Z"' '"2025-01-01T00:00:00Z"'; do
	"$PY" - "$BACKUP_DIR/runs/$run" "$bad" <<-'PY'
		import json, sys
		p, bad = sys.argv[1], json.loads(sys.argv[2])
		m = json.load(open(p))
		m["start"] = bad
		m["end"] = bad
		json.dump(m, open(p, "w"))
	PY
	assert_exit 0 vigil list
	head -n 2 "$OUT" | tail -n 1 | grep -qF "$newer" || { show_file "$OUT"; fail "$bad: $newer is not listed first"; }
	assert_not_contains "$OUT" '1970-01-01'
	assert_output_match "WARN the run manifest that records $newer has no readable start time, or one that disagrees with the stamp in its name; the name's stamp is used instead"
	assert_exit 0 vigil verify latest
	assert_output_match "ok +db +$newer .*1001 rows"
done

daemon_spawn main vigil serve
http /healthz
assert_eq 200 "$HTTP_CODE" "/healthz with one unreadable manifest beside a good one"
assert_contains "$DLOG" "WARN ignoring run manifest $run: its start or end time is missing, unreadable or out of order"
daemon_stop
# An end long before its start (a success "11 months ago") is left out too,
# rather than failing /healthz as stale.
"$PY" - "$BACKUP_DIR/runs/$run" <<-'PY'
	import json, sys, time
	p = sys.argv[1]
	m = json.load(open(p))
	now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
	m["start"] = now
	m["end"] = "2026-01-01T00:00:00Z"
	json.dump(m, open(p, "w"))
PY
daemon_spawn second vigil serve
http /healthz
assert_eq 200 "$HTTP_CODE" "/healthz with an end before its start"
assert_contains "$DLOG" "WARN ignoring run manifest $run: its start or end time is missing, unreadable or out of order"
daemon_stop
log "unreadable manifest times fall back to the name's stamp"
