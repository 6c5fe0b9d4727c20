#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# FIELD-CASES C13 (a) (b) (d) on the host, and the other start-up checks of
# `vigil serve` (README "The daemon"): a real probe write, never a uid guess.
# (a) BACKUP_DIR root:root 0755, serve as 999:999: the daemon stays up;
#     /healthz 503 whose reason is the ERROR line logged once at start,
#     naming the path, uid:gid 999:999, owner:group 0:0, mode 0755 and the
#     chown fix; vigil_startup_check_ok{check="backup_dir"} 0 and promtool
#     accepts /metrics; `vigil healthcheck` exits 1. The fix on the host
#     (chown 999:999) clears the 503 within the re-check period (60 s,
#     waited for) and the log says so; no probe file is left.
# (b) owner 0, group 1000, mode 2775, serve as 1000:1000: accepted (200
#     pending, check 1), and a backup as 1000:1000 exits 0.
# (d) BACKUP_DIR a read-only bind mount, serve as root: 503 "Read-only file
#     system" with the hint to remove :ro; made writable again, a SIGHUP
#     re-checks at once: 200.
# (f) LOG_DIR root:root 0755 as 999: 503 naming LOG_DIR; backup.log is
#     opened once it is fixed (SIGHUP).
# (g) MEDIA_DIR root:root 0700 as 999: 503 naming MEDIA_DIR and "cannot be
#     read"; MEDIA_DIR missing: "does not exist".
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"
it_setup
chmod 755 "$T"

# as UID:GID CMD...: CMD as that user, no supplementary groups.
as() {
	local id=$1
	shift
	setpriv --reuid="${id%:*}" --regid="${id#*:}" --clear-groups "$@"
}
# serve_as NAME UID:GID [VAR=VAL...]: the daemon as that user.
serve_as() {
	local name=$1 id=$2
	shift 2
	daemon_spawn "$name" env "$@" setpriv --reuid="${id%:*}" --regid="${id#*:}" --clear-groups \
		"$VIGIL" serve
}
startup_failing() { http /healthz; [[ $HTTP_CODE == 503 ]] && grep -q 'start-up check failed' "$T/http.body"; }
startup_ok() { http /healthz; [[ $HTTP_CODE == 200 ]]; }
check_metric() { curl -s --max-time 2 "http://$HTTP_LISTEN/metrics" | awk -v k="vigil_startup_check_ok{check=\"$1\"}" '$1 == k {print $2}'; }

log "(a) BACKUP_DIR root:root 0755, serve as 999:999"
chown 0:0 "$BACKUP_DIR"
chmod 0755 "$BACKUP_DIR"
chown 999:999 "$LOG_DIR"
serve_as a 999:999
startup_failing || fail "(a): /healthz $HTTP_CODE $(cat "$T/http.body"), expected 503 start-up check"
want="BACKUP_DIR $BACKUP_DIR (owner:group 0:0, mode 0755) is not writable as uid:gid 999:999: cannot create a file there: Permission denied; hint: on the host, chown -R 999:999 the directory mounted at $BACKUP_DIR; or run the container as root"
assert_contains "$T/http.body" "\"reason\":\"start-up check failed: $want\""
assert_contains "$DLOG" "ERROR start-up check failed: $want"
assert_eq 0 "$(check_metric backup_dir)" "(a) backup_dir check"
assert_eq 1 "$(check_metric log_dir)" "(a) log_dir check"
curl -s "http://$HTTP_LISTEN/metrics" >"$T/metrics.a"
promtool check metrics <"$T/metrics.a" || fail "(a): promtool rejects /metrics"
assert_exit 1 vigil healthcheck
assert_contains "$OUT" "start-up check failed"
chown 999:999 "$BACKUP_DIR"
t0=$(now_us)
wait_until 75 "(a) the 503 to clear after chown" startup_ok
log "(a) cleared after $((($(now_us) - t0) / 1000000)) s"
assert_contains "$T/http.body" '"status":"pending"'
assert_contains "$DLOG" "INFO start-up check backup_dir passes now; its failure no longer applies"
assert_eq 1 "$(grep -c 'ERROR start-up check failed' "$DLOG")" "(a) ERROR lines (logged once)"
assert_eq 1 "$(check_metric backup_dir)" "(a) backup_dir check after the fix"
daemon_stop
assert_no_file "$BACKUP_DIR/.vigil-probe-*"
assert_no_file "$LOG_DIR/.vigil-probe-*"

log "(b) owner 0, group 1000, mode 2775, serve as 1000:1000"
# A fresh pair of directories: what (a) left (backup.log and runs/ of uid
# 999, mode 0600/0700) is rightly refused to uid 1000 by the start-up check.
find "$BACKUP_DIR" "$LOG_DIR" -mindepth 1 -delete
chown 0:1000 "$BACKUP_DIR" "$LOG_DIR"
chmod 2775 "$BACKUP_DIR" "$LOG_DIR"
serve_as b 1000:1000
startup_ok || fail "(b): /healthz $HTTP_CODE $(cat "$T/http.body"), expected 200"
assert_eq 1 "$(check_metric backup_dir)" "(b) backup_dir check"
assert_not_contains "$DLOG" "start-up check failed"
daemon_stop
assert_exit 0 as 1000:1000 "$VIGIL" backup --db-only
assert_eq "1000" "$(stat -c %g "$BACKUP_DIR/db")" "(b) group of db/ (setgid)"
check_i1
