#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# `vigil prune [--dry-run]` (README "Retention", "Commands"). Backups of both
# kinds on 2025-01-01..05; on 2025-01-12 (BACKUP_RETENTION_DAYS=7,
# BACKUP_KEEP_MIN=3):
#   - the dry run lists 01-01 and 01-02 of each kind to delete and deletes
#     nothing;
#   - a bit flipped in 01-04's database backup: the dry run's DELETE line
#     for it says it fails its check, and the floor reaches back to 01-02;
#   - while another process holds .vigil.lock, `vigil prune` exits 75 and
#     deletes nothing;
#   - a file the prune cannot delete (sticky directory, run as nobody) is a
#     FAILED line and exit 1; the rest is pruned; once it can, the next prune
#     deletes it: together exactly what the dry run listed;
#   - a backup file deleted without its .sha256 (a kill between the two
#     unlinks) leaves an orphan the next prune removes; a file without its
#     .sha256 is never listed as ok;
#   - vigil_pruned_total in /metrics counts the pruned files from the
#     manifests (promtool accepts the page) and survives a daemon restart.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"
it_setup
export BACKUP_RETENTION_DAYS=7 BACKUP_KEEP_MIN=3
NOW='@2025-01-12 03:00:00'

daily_backups 2025-01 01 05
files() { backup_files; }

# The dry run.
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
grep '^DELETE ' "$OUT" | awk '{print $2}' | sort >"$T/planned"
cat >"$T/want" <<-'EOF'
	db/app_20250101_030000.sql.gz
	db/app_20250102_030000.sql.gz
	media/media_20250101_030000.tar.gz
	media/media_20250102_030000.tar.gz
EOF
diff "$T/want" "$T/planned" || fail "dry run plan"
assert_eq 6 "$(grep -c '^KEEP ' "$OUT")" "KEEP lines of the dry run"
assert_contains "$OUT" "dry run: 4 to delete"
files | diff "$T/all" - || fail "the dry run deleted something"

# A damaged file does not count for the floor, and its line says why.
f4=$BACKUP_DIR/db/app_20250104_030000.sql.gz
cp -p "$f4" "$T/f4.orig"
/usr/bin/python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xff]))' "$f4"
assert_exit 0 vigil FAKETIME="$NOW" prune --dry-run
assert_output_match '^DELETE +db/app_20250104_030000\.sql\.gz +older than 7 days \(8 days old\); fails its checksum check, not counted for BACKUP_KEEP_MIN$'
assert_output_match '^KEEP +db/app_20250102_030000\.sql\.gz +newest 3 good backups \(BACKUP_KEEP_MIN\)$'
cp -p "$T/f4.orig" "$f4"

# The lock is held: 75, nothing deleted.
flock -o "$BACKUP_DIR/.vigil.lock" sleep 60 &
holder=$!
wait_until 10 "the lock holder" bash -c "! flock -n '$BACKUP_DIR/.vigil.lock' true"
assert_exit 75 vigil FAKETIME="$NOW" prune
assert_output_match "another run is in progress"
kill "$holder"
wait "$holder" 2>/dev/null
files | diff "$T/all" - || fail "a prune that did not get the lock deleted something"

# An undeletable file: in a sticky directory, nobody cannot delete root's file.
# (root owns the sticky directory: its owner could delete anything in it.)
chown -R nobody "$BACKUP_DIR" "$LOG_DIR"
chown root "$BACKUP_DIR/db"
chmod 1777 "$BACKUP_DIR/db"
chown root "$BACKUP_DIR/db/app_20250101_030000.sql.gz"
assert_exit 1 runuser -u nobody -- env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$NOW" \
	FAKETIME_DONT_FAKE_MONOTONIC=1 "$VIGIL" prune
assert_match "$OUT" '^FAILED +db/app_20250101_030000\.sql\.gz +older than 7 days \(11 days old\): cannot delete: Operation not permitted$'
assert_contains "$OUT" "pruned: 3 deleted"
assert_contains "$ERR" "prune failed: 1 file(s) could not be deleted"
grep '^DELETE ' "$OUT" | awk '{print $2}' >"$T/deleted"
assert_file "$BACKUP_DIR/db/app_20250101_030000.sql.gz"
assert_file "$BACKUP_DIR/db/app_20250101_030000.sql.gz.sha256"
chown -R root "$BACKUP_DIR" "$LOG_DIR"
chmod 0700 "$BACKUP_DIR/db"
assert_exit 0 vigil FAKETIME="$NOW" prune
grep '^DELETE ' "$OUT" | awk '{print $2}' >>"$T/deleted"
sort "$T/deleted" | diff "$T/want" - || fail "the prunes did not delete exactly what the dry run listed"
grep -vxF -f <(sed 'p; s/$/.sha256/' "$T/want") "$T/all" >"$T/left"
files | diff "$T/left" - || fail "files after the prunes"
check_i1

# A kill between the two unlinks: the next prune removes the orphan.
rm "$BACKUP_DIR/db/app_20250103_030000.sql.gz"
rm "$BACKUP_DIR/media/media_20250105_030000.tar.gz.sha256"
assert_exit 0 vigil list
assert_match "$OUT" '^media +media_20250105_030000\.tar\.gz .* no-checksum$'
assert_not_contains "$OUT" 'app_20250103_030000'
assert_exit 0 vigil FAKETIME="$NOW" prune
assert_match "$OUT" '^DELETE +db/app_20250103_030000\.sql\.gz\.sha256 +checksum file without its backup file$'
[[ ! -e $BACKUP_DIR/db/app_20250103_030000.sql.gz.sha256 ]] || fail "the orphan .sha256 is still there"
assert_file "$BACKUP_DIR/media/media_20250105_030000.tar.gz"

# /metrics: 2 db and 2 media files pruned, from the manifests, after a restart too.
for round in 1 2; do
	daemon_spawn "m$round" vigil serve
	assert_eq 2 "$(metric 'vigil_pruned_total{kind="db"}')" "db pruned (daemon $round)"
	assert_eq 2 "$(metric 'vigil_pruned_total{kind="media"}')" "media pruned (daemon $round)"
	assert_eq 5 "$(metric 'vigil_runs_total{kind="db",result="success"}')" "db runs (daemon $round)"
	curl -s --max-time 5 "http://$HTTP_LISTEN/metrics" >"$T/metrics"
	promtool check metrics <"$T/metrics" >"$T/promtool" 2>&1 || {
		cat "$T/promtool"
		fail "promtool rejects /metrics"
	}
	daemon_stop
done
log "prune command ok"
