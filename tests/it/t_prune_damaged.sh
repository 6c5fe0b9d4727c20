#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# Damaged checksum files or run manifests never make `vigil prune` delete
# every backup of a kind (I3, README "Retention", the floor). Backups of both
# kinds on 2025-01-01..05, pruned on 2025-01-25 (BACKUP_RETENTION_DAYS=7,
# BACKUP_KEEP_MIN=3: every file is expired, the floor keeps 3 per kind):
#   1. every db .sha256 cut to its bare 64 hex digits (no name: not a line
#      `sha256sum -c` reads): the floor finds no good db backup, so no db
#      backup is deleted (each KEEP line and a WARN say why), while media is
#      pruned down to its floor; then .sha256 lines as `sha256sum -c` also
#      accepts them (CRLF, "*name", "SHA256 (name) = ") count as good again
#      and pruning resumes;
#   2. every run manifest's "bytes" off by one: nothing of either kind is
#      deleted; repaired, plus manifests that are not usable (an unreadable
#      start, a future date, an end before its start) recording the newest
#      backups with a wrong sha256 and size: those records are not
#      believed, pruning is normal.
#   3. media of 01-05 recorded as suspect (an empty media directory) by a
#      manifest that is not usable (its end before its start: the clock
#      stepped back during the run): the suspect record is still believed,
#      so the floor reaches back to 01-02 and only 01-01 goes.
# Before the fix, 1 deleted all 5 db backups and 2 all 10 backups.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
it_setup
export BACKUP_RETENTION_DAYS=7 BACKUP_KEEP_MIN=3
NOW='@2025-01-25 03:00:00'

daily_backups 2025-01 01 05
files() { backup_files; }
mkdir "$T/pristine"
cp -a "$BACKUP_DIR/." "$T/pristine/"
restore_pristine() {
	find "$BACKUP_DIR" -mindepth 1 -delete
	cp -a "$T/pristine/." "$BACKUP_DIR/"
}
media_pruned() { # the media lines of a plan that prunes media normally
	assert_output_match '^DELETE +media/media_20250101_030000\.tar\.gz +older than 7 days \(24 days old\)$'
	assert_output_match '^DELETE +media/media_20250102_030000\.tar\.gz +older than 7 days \(23 days old\)$'
	assert_output_match '^KEEP +media/media_20250103_030000\.tar\.gz +newest 3 good backups \(BACKUP_KEEP_MIN\)$'
}
held='older than 7 days, but only 0 of BACKUP_KEEP_MIN=3 backups passed the good-backup check: nothing of this kind is deleted'

# 1. Bare hashes: `vigil list` still says ok, the floor cannot check them.
for d in 01 02 03 04 05; do
	f=$BACKUP_DIR/db/app_202501${d}_030000.sql.gz.sha256
	head -c 64 "$f" >"$T/h" && cat "$T/h" >"$f"
done
assert_exit 0 vigil list
[[ $(grep -cE '^db +app_202501.* ok$' "$OUT") == 5 ]] || { show_file "$OUT"; fail "list: not 5 db ok"; }
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
assert_not_contains "$OUT" 'DELETE  db/'
for d in 01 02 03 04 05; do
	assert_output_match "^KEEP +db/app_202501${d}_030000\\.sql\\.gz +$held; fails its checksum check, not counted for BACKUP_KEEP_MIN\$"
done
media_pruned
assert_contains "$ERR" "is not a sha256sum line for app_20250105_030000.sql.gz"
assert_contains "$ERR" "db: only 0 of BACKUP_KEEP_MIN=3 backups passed the good-backup check (5 failed the checksum check, 0 more"
assert_contains "$ERR" "nothing of this kind is deleted, 5 backups older than 7 days are kept"
assert_contains "$ERR" "db: every backup but the newest (app_20250105_030000.sql.gz, 2025-01-05) is older than 7 days (the next newest is from 2025-01-04, today is 2025-01-25): the clock or the schedule looks wrong, or backups have been failing; only 0 of BACKUP_KEEP_MIN=3 backups passed the good-backup check, so nothing of this kind is deleted"
assert_contains "$OUT" "dry run: 2 to delete"
assert_exit 0 vigil FAKETIME="$NOW" prune
assert_contains "$OUT" "pruned: 2 deleted"
files | grep -c '^db/' | grep -qx 10 || fail "db files were deleted: $(files)"
assert_no_file "$BACKUP_DIR/media/media_20250102_030000.tar.gz"
assert_file "$BACKUP_DIR/media/media_20250103_030000.tar.gz"

# The lines `sha256sum -c` accepts count again: pruning resumes by itself.
cd "$BACKUP_DIR/db" || fail "cd"
sha256sum app_20250103_030000.sql.gz | sed 's/$/\r/' >app_20250103_030000.sql.gz.sha256
sha256sum -b app_20250104_030000.sql.gz >app_20250104_030000.sql.gz.sha256
sha256sum --tag app_20250105_030000.sql.gz >app_20250105_030000.sql.gz.sha256
for d in 03 04 05; do
	sha256sum -c --quiet "app_202501${d}_030000.sql.gz.sha256" || fail "sha256sum -c rejects $d"
done
cd - >/dev/null || fail "cd"
assert_exit 0 vigil FAKETIME="$NOW" prune
assert_output_match '^DELETE +db/app_20250101_030000\.sql\.gz +older than 7 days \(24 days old\)$'
assert_output_match '^KEEP +db/app_20250103_030000\.sql\.gz +newest 3 good backups \(BACKUP_KEEP_MIN\)$'
assert_contains "$OUT" "pruned: 2 deleted"
assert_no_file "$BACKUP_DIR/db/app_20250102_030000.sql.gz"
assert_file "$BACKUP_DIR/db/app_20250103_030000.sql.gz"
assert_exit 0 vigil verify "$BACKUP_DIR/db/app_20250103_030000.sql.gz"

# 2. Every manifest's sizes off by one: no kind has a good backup.
restore_pristine
for m in "$BACKUP_DIR"/runs/*.json; do
	"$PY" - "$m" <<-'PY'
		import json, sys
		p = sys.argv[1]
		m = json.load(open(p))
		for a in m["artifacts"]:
		    a["bytes"] += 1
		json.dump(m, open(p, "w"))
	PY
done
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
assert_not_contains "$OUT" 'DELETE '
assert_output_match "^KEEP +media/media_20250101_030000\\.tar\\.gz +$held\$"
assert_contains "$ERR" "db: only 0 of BACKUP_KEEP_MIN=3 backups passed the good-backup check (0 failed the checksum check, 5 more"
assert_contains "$ERR" "media: only 0 of BACKUP_KEEP_MIN=3"
assert_exit 0 vigil FAKETIME="$NOW" prune
assert_contains "$OUT" "pruned: 0 deleted"
files | diff "$T/all" - || fail "a prune with damaged manifests deleted something"

# Repaired, plus two manifests that are not believed: normal pruning.
restore_pristine
# copy of|start|end|run id: an unreadable start, a future date, an end
# before its start (believed, the newest record of 01-05's files).
for fake in '20250103_030000|99999999999999999999|99999999999999999999|20250103_040000' \
	'20250104_030000|2025-06-01T01:00:00Z|2025-06-01T01:01:00Z|20250601_030000' \
	'20250105_030000|2025-01-05T05:00:00Z|2025-01-05T04:00:00Z|20250105_050000'; do
	IFS='|' read -r src start end id <<<"$fake"
	"$PY" - "$BACKUP_DIR/runs/$src.json" "$start" "$end" "$id" <<-'PY'
		import json, sys
		src, start, end, run_id = sys.argv[1:]
		m = json.load(open(src))
		m["start"] = int(start) if start.isdigit() else start
		m["end"] = int(end) if end.isdigit() else end
		m["run_id"] = run_id
		for a in m["artifacts"]:
		    a["sha256"] = "0" * 64
		    a["bytes"] += 1
		json.dump(m, open(src.rsplit("/", 1)[0] + "/" + run_id + ".json", "w"))
	PY
done
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
grep '^DELETE ' "$OUT" | awk '{print $2}' | sort >"$T/planned"
cat >"$T/want" <<-'EOF'
	db/app_20250101_030000.sql.gz
	db/app_20250102_030000.sql.gz
	media/media_20250101_030000.tar.gz
	media/media_20250102_030000.tar.gz
EOF
diff "$T/want" "$T/planned" || fail "plan with unbelievable manifests"
assert_output_match '^KEEP +db/app_20250105_030000\.sql\.gz +newest 3 good backups \(BACKUP_KEEP_MIN\)$'
assert_not_contains "$ERR" "only 0 of"
assert_exit 0 vigil FAKETIME="$NOW" prune
assert_contains "$OUT" "pruned: 4 deleted"
files | grep -c . | grep -qx 12 || fail "expected 12 files left: $(files)"

# 3. Negative evidence counts from any manifest.
restore_pristine
"$PY" - "$BACKUP_DIR/runs/20250105_030000.json" <<-'PY'
	import json, sys
	m = json.load(open(sys.argv[1]))
	m["end"] = "2025-01-05T01:00:00Z"
	for a in m["artifacts"]:
	    if a["kind"] == "media":
	        a["result"] = "warning"
	        a["suspect"] = "media directory holds no files"
	m["result"] = "warning"
	json.dump(m, open(sys.argv[1], "w"))
PY
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
assert_output_match '^DELETE +media/media_20250101_030000\.tar\.gz +older than 7 days \(24 days old\)$'
assert_output_match '^KEEP +media/media_20250102_030000\.tar\.gz +newest 3 good backups \(BACKUP_KEEP_MIN\)$'
log "damaged checksums or manifests never empty a kind"
