#!/bin/bash
# FIELD-CASES C13 (c): BACKUP_DIR owner 0, group 1000, mode 2775; vigil as
# root with BACKUP_FILE_MODE=0640 under umask 077 (the umask must not
# matter); LOG_DIR made by vigil. After a backup (db and media), a restore
# (pre_restore_ safety copy) and a daemon start, every file vigil wrote in
# BACKUP_DIR and LOG_DIR is 0640 (the hidden .vigil.lock 0600, README
# BACKUP_FILE_MODE), every directory it made 0750 (2750 under the setgid
# BACKUP_DIR); the operator, uid 1000 group 1000, reads every file, and a
# uid:gid 2000:2000 ("others") reads none.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
chmod 755 "$T"
chown 0:1000 "$BACKUP_DIR"
chmod 2775 "$BACKUP_DIR"
rmdir "$LOG_DIR"
export BACKUP_FILE_MODE=0640

umask 077
assert_exit 0 vigil backup
wait_next_second
assert_exit 0 vigil restore --db latest --yes
daemon_spawn c vigil serve
daemon_stop
umask 022

assert_count 1 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
find "$BACKUP_DIR" "$LOG_DIR" -mindepth 1 -printf '%y %m %G %P\n' | sort -k4 >"$T/modes"
cat "$T/modes" | sed 's/^/    /'
bad=$(awk '$1 == "f" && $4 != ".vigil.lock" && $2 != "640" ||
	$1 == "f" && $4 == ".vigil.lock" && $2 != "600" ||
	$1 == "d" && $2 != "750" && $2 != "2750" { print }' "$T/modes")
[[ -z $bad ]] || fail "(c) modes not as documented: $bad"
assert_eq 750 "$(stat -c %a "$LOG_DIR")" "LOG_DIR made by vigil"
for d in db media runs; do
	assert_eq "2750 1000" "$(stat -c '%a %g' "$BACKUP_DIR/$d")" "$d/ (setgid kept, group 1000)"
done
assert_eq 2775 "$(stat -c %a "$BACKUP_DIR")" "BACKUP_DIR itself is the operator's"
(($(grep -c '^f' "$T/modes") >= 8)) || fail "(c) too few files to judge"
# Who can read: group 1000 (the operator) every file under BACKUP_DIR;
# others nothing. LOG_DIR's group is root's (no setgid there): others
# still read nothing.
while read -r y _ g p; do
	[[ $y == f && $p != .vigil.lock ]] || continue
	setpriv --reuid=2000 --regid=2000 --clear-groups cat "$BACKUP_DIR/$p" >/dev/null 2>&1 &&
		fail "(c) others can read $p"
	[[ $g == 1000 ]] || fail "(c) $p has group $g, not 1000"
	setpriv --reuid=1000 --regid=1000 --clear-groups cat "$BACKUP_DIR/$p" >/dev/null ||
		fail "(c) the operator (1000:1000) cannot read $p"
done < <(find "$BACKUP_DIR" -mindepth 1 -printf '%y %m %G %P\n')
for f in "$LOG_DIR"/*; do
	setpriv --reuid=2000 --regid=2000 --clear-groups cat "$f" >/dev/null 2>&1 &&
		fail "(c) others can read $f"
done
log "C13 (c) modes ok"
