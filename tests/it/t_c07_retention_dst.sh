#!/bin/bash
# FIELD-CASES C07: retention counts local calendar days in TZ, so DST days
# and run lengths never change how many backups are kept (README
# "Retention"). TZ=America/New_York, BACKUP_RETENTION_DAYS=7,
# BACKUP_KEEP_MIN=3. One hand-made db backup a day stamped 03:00 from
# 2025-02-01 (valid name, .sha256, a run manifest recording its start; the
# mtime is the stamp plus 1-40 random minutes), added day by day, and
# `vigil prune` at 03:02 of each simulated day (libfaketime) across
# 2025-03-09 (spring forward), a plain week in June and 2025-11-02 (fall
# back): after every prune exactly the 8 newest stay (today and the 7 days
# before). A `touch`ed old file is pruned all the same.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
vigil_env
export TZ=America/New_York BACKUP_RETENTION_DAYS=7 BACKUP_KEEP_MIN=3 POSTGRES_DB=app MEDIA_DIR=
mkdir -p "$BACKUP_DIR/db" "$BACKUP_DIR/runs"

# gen FROM TO: the backups of days FROM..TO (YYYY-MM-DD), as a run would
# leave them.
gen() {
	"$PY" - "$BACKUP_DIR" "$1" "$2" <<-'EOF'
		import datetime, gzip, hashlib, json, os, random, sys
		from zoneinfo import ZoneInfo
		root, a, b = sys.argv[1:]
		tz = ZoneInfo("America/New_York")
		d = datetime.date.fromisoformat(a)
		while d <= datetime.date.fromisoformat(b):
		    local = datetime.datetime(d.year, d.month, d.day, 3, 0, 0, tzinfo=tz)
		    stamp = local.strftime("%Y%m%d_%H%M%S")
		    name = "app_%s.sql.gz" % stamp
		    data = gzip.compress(("-- backup of %s\n" % stamp).encode())
		    path = os.path.join(root, "db", name)
		    open(path, "wb").write(data)
		    sha = hashlib.sha256(data).hexdigest()
		    open(path + ".sha256", "w").write("%s  %s\n" % (sha, name))
		    t = local.timestamp() + random.randint(60, 2400)
		    os.utime(path, (t, t))
		    utc = lambda s: datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
		    m = {"manifest_version": 1, "run_id": stamp, "command": "backup",
		         "start": utc(local.timestamp()), "end": utc(local.timestamp() + 30),
		         "result": "success",
		         "artifacts": [{"kind": "db", "result": "success", "path": "db/" + name,
		                        "bytes": len(data), "sha256": sha}]}
		    json.dump(m, open(os.path.join(root, "runs", stamp + ".json"), "w"))
		    d += datetime.timedelta(days=1)
	EOF
}

# day D: prune at D 03:02 and expect the backups of D-7..D.
day() {
	local d=$1 want got i
	assert_exit 0 vigil FAKETIME="@$d 03:02:00" prune
	want=$(for i in 7 6 5 4 3 2 1 0; do date -d "$d - $i days" +app_%Y%m%d_030000.sql.gz; done)
	got=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz)
	[[ $got == "$want" ]] || fail "on $d kept: $(echo "$got" | tr '\n' ' ') wanted: $(echo "$want" | tr '\n' ' ')"
	[[ $(ls "$BACKUP_DIR/db" | grep -c 'sha256$') == 8 ]] || fail "on $d: .sha256 files left over"
}

# days FROM TO: each day, its backup added first, then pruned.
days() {
	local d=$1
	while [[ $d < $2 || $d == "$2" ]]; do
		gen "$d" "$d"
		day "$d"
		d=$(date -d "$d + 1 day" +%F)
	done
}

gen 2025-02-01 2025-02-28
days 2025-03-01 2025-03-16
gen 2025-03-17 2025-05-31
days 2025-06-01 2025-06-07
gen 2025-06-08 2025-10-26
# An old file touched today is still old: its run manifest says when it was made.
touch "$BACKUP_DIR/db/app_20251018_030000.sql.gz"
days 2025-10-27 2025-11-10
assert_contains "$LOG_DIR/backup.log" 'prune deleted kind=db file=app_20251018_030000.sql.gz'
log "C07 ok"
