#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# FIELD-CASES B10: failed runs never prune (README "Retention"). With
# BACKUP_RETENTION_DAYS=7, BACKUP_KEEP_MIN=3 and BACKUP_DIR on a 256 KiB
# tmpfs: good backups on 2025-01-10, 11 and 12 (mtimes at their stamps);
# then the database is stopped and MEDIA_DIR gets 1 MiB of random data (the
# media archive cannot fit), and `vigil backup` runs daily from 01-20 to
# 01-27: each exits 1 and deletes nothing (same files, same sha256). Once
# both are fixed, the 01-28 run prunes exactly the 01-10 file of each kind
# (and its .sha256), and its run manifest lists them. An expired safety copy
# (pre_restore_, no floor) makes "a failed run deletes nothing" testable: the
# floor alone would keep the three good backups anyway. It goes on 01-28.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
it_setup
export BACKUP_RETENTION_DAYS=7 BACKUP_KEEP_MIN=3
mount -t tmpfs -o size=256k tmpfs "$BACKUP_DIR" || fail "cannot mount a tmpfs"

for d in 10 11 12; do
	assert_exit 0 vigil FAKETIME="@2025-01-$d 03:00:00" backup
	touch -d "2025-01-$d 03:00:00" "$BACKUP_DIR/db/app_202501${d}_030000.sql.gz" \
		"$BACKUP_DIR/media/media_202501${d}_030000.tar.gz"
done
assert_count 3 "$BACKUP_DIR/db/app_*.sql.gz"
assert_count 3 "$BACKUP_DIR/media/media_*.tar.gz"
df -k "$BACKUP_DIR" | sed 's/^/# /'

# A safety copy 58 days old on 01-28 (PRE_RESTORE_RETENTION_DAYS=30).
cp "$BACKUP_DIR/db/app_20250110_030000.sql.gz" "$BACKUP_DIR/db/pre_restore_20241201_030000.sql.gz"
seal_backup pre_restore_20241201_030000.sql.gz

# Both kinds fail from now on.
pg_server stop
head -c 1048576 /dev/urandom >"$MEDIA_DIR/big.bin"
(cd "$BACKUP_DIR" && find db media -type f | sort | xargs sha256sum) >"$T/before"
for d in 20 21 22 23 24 25 26 27; do
	assert_exit 1 vigil FAKETIME="@2025-01-$d 03:00:00" backup
	m=$BACKUP_DIR/runs/202501${d}_030000.json
	assert_file "$m"
	assert_eq failure "$(manifest_get "$m" artifacts.0.result)" "db result on 01-$d"
	assert_eq failure "$(manifest_get "$m" artifacts.1.result)" "media result on 01-$d"
	manifest_get "$m" pruned >/dev/null && fail "the failed run of 01-$d recorded pruned files"
	(cd "$BACKUP_DIR" && find db media -type f | sort | xargs sha256sum) >"$T/now"
	diff "$T/before" "$T/now" || fail "the failed run of 01-$d changed the backups"
done
assert_contains "$BACKUP_DIR/runs/20250127_030000.json" '"code":	"nospace"'

# Fixed: the next success prunes only the 01-10 files.
pg_server start
rm -f "$MEDIA_DIR/big.bin"
assert_exit 0 vigil FAKETIME="@2025-01-28 03:00:00" backup
assert_contains "$ERR" 'prune deleted kind=db file=app_20250110_030000.sql.gz'
(cd "$BACKUP_DIR" && find db media -type f | sort) >"$T/after"
cat >"$T/want" <<-'EOF'
	db/app_20250111_030000.sql.gz
	db/app_20250111_030000.sql.gz.sha256
	db/app_20250112_030000.sql.gz
	db/app_20250112_030000.sql.gz.sha256
	db/app_20250128_030000.sql.gz
	db/app_20250128_030000.sql.gz.sha256
	media/media_20250111_030000.tar.gz
	media/media_20250111_030000.tar.gz.sha256
	media/media_20250112_030000.tar.gz
	media/media_20250112_030000.tar.gz.sha256
	media/media_20250128_030000.tar.gz
	media/media_20250128_030000.tar.gz.sha256
EOF
diff "$T/want" "$T/after" || fail "the 01-28 run did not prune exactly the 01-10 files"
grep -v -e 20250110 -e pre_restore "$T/before" >"$T/before.kept"
(cd "$BACKUP_DIR" && sha256sum -c --quiet "$T/before.kept") || fail "a kept backup changed"
m=$BACKUP_DIR/runs/20250128_030000.json
got=$("$PY" -c 'import json,sys; print(" ".join(p["kind"] + "/" + p["name"] + "=" + p["reason"]
	for p in json.load(open(sys.argv[1]))["pruned"]))' "$m")
assert_eq "db/app_20250110_030000.sql.gz=older than 7 days (18 days old) db/pre_restore_20241201_030000.sql.gz=safety copy older than 30 days (58 days old) media/media_20250110_030000.tar.gz=older than 7 days (18 days old)" \
	"$got" "the 01-28 manifest's pruned list"
check_i1
log "B10 ok"
