#!/bin/bash
# shellcheck disable=SC2016,SC2119,SC2012 # at_exit body single-quoted on purpose; optional args; ls of vigil names
# FIELD-CASES B17: the schedule fires in TZ's local time, an unset TZ is UTC
# (never the host's /etc/localtime), and a bad or missing zone is exit 2
# naming TZ, never a silent UTC.
#
# (a) TZ=America/Los_Angeles, `vigil serve` under FAKETIME='@2025-06-10
#     02:59:50' (read in the process's TZ: 09:59:50Z), default schedule: the
#     run starts at 03:00:00-07:00 (10:00Z) - not before, and within 15 s;
#     names read _20250610_0300xx; every log line shows -07:00; /metrics'
#     next run is 10:00Z before, and 2025-06-11 10:00Z after.
#     FAKETIME_DONT_RESET=1 (libfaketime README 4c): without it the daemon's
#     child `vigil backup` would restart the fake clock at 02:59:50.
# (b) TZ unset, the clock at 2025-06-10T02:59:50Z given as an offset (an '@'
#     date would be read in the host zone, Tokyo here), /etc/localtime ->
#     Asia/Tokyo inside `unshare --mount` (an overlay over /etc, because the
#     host's /etc/localtime is a symlink into zoneinfo and a bind mount would
#     follow it onto Etc/UTC itself): the run starts at 03:00Z, names and
#     log lines in UTC (+00:00). Control: `date` in that namespace says JST.
# (c) TZ=Mars/Olympus (glibc would silently use UTC), and the same kind:
#     a typo, a zoneinfo file that is not TZif, a directory, a path out of
#     zoneinfo; last, as (c2), a TZif file cut short (TZDIR): `vigil serve` (BACKUP_ON_START=true), `vigil check-config`
#     and `vigil backup` exit 2 naming TZ; nothing runs, nothing is written.
# (d) TZ=Europe/Berlin with /usr/share/zoneinfo hidden under an empty tmpfs
#     inside `unshare --mount`: serve and check-config exit 2 naming TZ, the
#     file looked for, TZDIR and the fixes, and nothing runs. Controls: TZ=UTC
#     and TZ unset work there (built in), and
#     Europe/Berlin works without the tmpfs.
# (e) `vigil check-config` prints five next fire times with their offsets:
#     exact lines for Europe/Madrid across the spring-forward (with "30 2 * *
#     *" the skipped 02:30 fires at 03:00 CEST), America/New_York across the
#     fall-back (01:30 fires once), America/Los_Angeles at (a)'s instant.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (apt-get install faketime)"
pg_start
vigil_env
fixture


metric() { # metric NAME: its value in a fresh /metrics
	http /metrics
	awk -v k="$1" '$1 == k { print $2 }' "$T/http.body"
}

# part DIR: fresh BACKUP_DIR and LOG_DIR under $T/DIR.
part() {
	export BACKUP_DIR=$T/$1/backups LOG_DIR=$T/$1/logs
	mkdir -p "$BACKUP_DIR" "$LOG_DIR"
}

# wait_run SECONDS: until exactly one manifest exists in $BACKUP_DIR/runs
# and the daemon reports no run in progress; prints the manifest's path.
wait_run() {
	local deadline=$((SECONDS + $1)) mf
	while :; do
		mf=$(ls_manifests)
		if [[ -n $mf && $(metric vigil_running) == 0 ]]; then
			[[ $(printf '%s\n' "$mf" | grep -c .) == 1 ]] || fail "more than one run: $mf"
			printf '%s\n' "$mf"
			return 0
		fi
		((SECONDS < deadline)) || {
			show_file "$DLOG"
			fail "no completed run within $1 s"
		}
		sleep 0.25
	done
}

# expect_names STAMP_RE: the db file, media file and manifest of the one run
# carry a local stamp matching STAMP_RE (e.g. 20250610_0300[0-9]{2}).
expect_names() {
	local re=$1 f
	for f in "$BACKUP_DIR"/db/app_*.sql.gz "$BACKUP_DIR"/media/media_*.tar.gz "$BACKUP_DIR"/runs/*.json; do
		[[ -f $f ]] || fail "missing file: $f"
		[[ ${f##*/} =~ ${re}\. ]] || fail "file name ${f##*/} does not carry the stamp /$re/"
	done
	assert_count 1 "$BACKUP_DIR/db/app_*.sql.gz"
	assert_count 1 "$BACKUP_DIR/media/media_*.tar.gz"
	log "names: $(cd "$BACKUP_DIR" && ls db/*.gz media/*.gz runs/*.json | tr '\n' ' ')"
}

# expect_log_offset FILE OFFSET: every log line of FILE carries OFFSET
# (e.g. -07:00) in its leading timestamp.
expect_log_offset() {
	local f=$1 off=$2 bad
	[[ -s $f ]] || fail "$f is empty"
	bad=$(grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\$off " "$f" | head -n 5)
	[[ -z $bad ]] || {
		show_file "$f"
		fail "log lines of $f without the offset $off: $bad"
	}
}

# ---------------------------------------------------------------- (e)
log "(e) check-config: next fire times with offsets"
# next_lines: the fire-time lines of the last check-config output.
next_lines() { grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$OUT"; }
assert_exit 0 vigil TZ=Europe/Madrid FAKETIME='2025-03-28 12:00:00' check-config
assert_contains "$OUT" 'TZ=Europe/Madrid'
assert_eq "2025-03-29T03:00:00+01:00 (2025-03-29T02:00:00Z)
2025-03-30T03:00:00+02:00 (2025-03-30T01:00:00Z)
2025-03-31T03:00:00+02:00 (2025-03-31T01:00:00Z)
2025-04-01T03:00:00+02:00 (2025-04-01T01:00:00Z)
2025-04-02T03:00:00+02:00 (2025-04-02T01:00:00Z)" "$(next_lines)" "next runs, Europe/Madrid, default schedule"
assert_exit 0 vigil TZ=Europe/Madrid BACKUP_SCHEDULE='30 2 * * *' FAKETIME='2025-03-28 12:00:00' check-config
assert_eq "2025-03-29T02:30:00+01:00 (2025-03-29T01:30:00Z)
2025-03-30T03:00:00+02:00 (2025-03-30T01:00:00Z)
2025-03-31T02:30:00+02:00 (2025-03-31T00:30:00Z)
2025-04-01T02:30:00+02:00 (2025-04-01T00:30:00Z)
2025-04-02T02:30:00+02:00 (2025-04-02T00:30:00Z)" "$(next_lines)" "next runs, Europe/Madrid, 02:30 across the gap"
assert_exit 0 vigil TZ=America/New_York BACKUP_SCHEDULE='30 1 * * *' FAKETIME='2025-11-01 12:00:00' check-config
assert_eq "2025-11-02T01:30:00-04:00 (2025-11-02T05:30:00Z)
2025-11-03T01:30:00-05:00 (2025-11-03T06:30:00Z)
2025-11-04T01:30:00-05:00 (2025-11-04T06:30:00Z)
2025-11-05T01:30:00-05:00 (2025-11-05T06:30:00Z)
2025-11-06T01:30:00-05:00 (2025-11-06T06:30:00Z)" "$(next_lines)" "next runs, America/New_York, 01:30 across the fall-back"
assert_exit 0 vigil TZ=America/Los_Angeles FAKETIME='@2025-06-10 02:59:50' check-config
assert_eq "2025-06-10T03:00:00-07:00 (2025-06-10T10:00:00Z)" "$(next_lines | head -n 1)" "next run, America/Los_Angeles"

# ---------------------------------------------------------------- (a)
log "(a) TZ=America/Los_Angeles, clock at 02:59:50 local"
part a
daemon_spawn a vigil TZ=America/Los_Angeles FAKETIME='@2025-06-10 02:59:50' FAKETIME_DONT_RESET=1 serve
# Before 03:00 nothing has run and the next run is 10:00Z.
assert_eq 1749549600 "$(metric vigil_next_run_timestamp_seconds)" "next run before 03:00 (2025-06-10T10:00:00Z)"
[[ -z $(ls_manifests) ]] || fail "a run happened before 03:00 local"
assert_contains "$DLOG" 'next run at 2025-06-10T03:00:00-07:00'
mf=$(wait_run 25)
started=$(grep -E 'scheduled run started' "$DLOG" | head -n 1)
log "daemon: $started"
[[ $started =~ ^2025-06-10T03:00:0[0-4]-07:00\  ]] ||
	fail "the scheduled run did not start at 03:00 local (within 5 s): '$started'"
[[ $(grep -c 'run started' "$DLOG") == 1 ]] || fail "more than one run started"
expect_names '20250610_0300[0-9]{2}'
assert_eq success "$(manifest_get "$mf" result)" "result of the 03:00 run"
[[ $(manifest_get "$mf" start) =~ ^2025-06-10T10:00:0[0-9]Z$ ]] ||
	fail "manifest start $(manifest_get "$mf" start) is not 10:00Z"
assert_eq 1749636000 "$(metric vigil_next_run_timestamp_seconds)" "next run after the run (2025-06-11T10:00:00Z)"
daemon_stop
expect_log_offset "$LOG_DIR/backup.log" -07:00
expect_log_offset "$DLOG" -07:00
check_i1

# ---------------------------------------------------------------- (b)
log "(b) TZ unset, /etc/localtime -> Asia/Tokyo, clock at 02:59:50Z"
part b
mkdir -p "$T/ovl"
# ns_script SETUP: a bash script that sets /etc/localtime to Tokyo in the
# new mount namespace (overlay over /etc; a plain bind mount where
# /etc/localtime is a regular file), then runs SETUP.
ns_script() {
	cat <<-EOF
		set -e
		mount -t tmpfs -o size=1m tmpfs '$T/ovl'
		mkdir '$T/ovl/u' '$T/ovl/w'
		if [ -L /etc/localtime ] || [ ! -e /etc/localtime ]; then
			mount -t overlay overlay -o 'lowerdir=/etc,upperdir=$T/ovl/u,workdir=$T/ovl/w' /etc
			ln -sfn /usr/share/zoneinfo/Asia/Tokyo /etc/localtime
		else
			mount --bind /usr/share/zoneinfo/Asia/Tokyo /etc/localtime
		fi
		$1
	EOF
}
# The namespace really is on Tokyo time for a process without TZ.
unshare --mount -- bash -c "$(ns_script 'env -u TZ date +%Z')" >"$T/ns-date" 2>&1 ||
	{ show_file "$T/ns-date"; fail "setup: cannot make the mount namespace"; }
assert_eq JST "$(cat "$T/ns-date")" "setup: zone of a TZ-less process in the namespace"
[[ $(env -u TZ date +%Z) != JST ]] || fail "setup: the host itself is on JST"

# check-config there: TZ unset resolves to UTC.
unshare --mount -- bash -c "$(ns_script "exec env -u TZ -u TZDIR '$VIGIL' check-config")" \
	>"$T/b-check.out" 2>&1 || {
	show_file "$T/b-check.out"
	fail "check-config with TZ unset failed"
}
assert_contains "$T/b-check.out" 'TZ=UTC'
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T03:00:00\+00:00 \([0-9-]+T03:00:00Z\)$' "$T/b-check.out" || {
	show_file "$T/b-check.out"
	fail "check-config with TZ unset does not list 03:00 UTC runs"
}

target=$(date -u -d '2025-06-10 02:59:50' +%s)
off=$(printf '%+d' $((target - $(date +%s))))
daemon_spawn b unshare --mount -- bash -c "$(ns_script "exec env -u TZ -u TZDIR \
	LD_PRELOAD='$FAKETIME_LIB' FAKETIME='$off' FAKETIME_DONT_FAKE_MONOTONIC=1 \
	timeout -k 5 120 '$VIGIL' serve")"
assert_eq 1749524400 "$(metric vigil_next_run_timestamp_seconds)" "next run before 03:00Z (2025-06-10T03:00:00Z)"
[[ -z $(ls_manifests) ]] || fail "a run happened before 03:00Z"
mf=$(wait_run 25)
started=$(grep -E 'scheduled run started' "$DLOG" | head -n 1)
log "daemon: $started"
[[ $started =~ ^2025-06-10T03:00:0[0-4]\+00:00\  ]] ||
	fail "the scheduled run did not start at 03:00Z (within 5 s): '$started'"
expect_names '20250610_0300[0-9]{2}'
assert_eq success "$(manifest_get "$mf" result)" "result of the 03:00Z run"
[[ $(manifest_get "$mf" start) =~ ^2025-06-10T03:00:0[0-9]Z$ ]] ||
	fail "manifest start $(manifest_get "$mf" start) is not 03:00Z"
daemon_stop
expect_log_offset "$LOG_DIR/backup.log" +00:00
expect_log_offset "$DLOG" +00:00
check_i1

# ---------------------------------------------------------------- (c)
log "(c) unknown zones"
# refused LABEL TZ [VAR=VAL...]: serve, check-config and backup exit 2
# naming TZ and its value; nothing runs, nothing is written, no listener.
refused() {
	local label=$1 tz=$2 cmd
	shift 2
	part "c-$label"
	for cmd in serve check-config backup; do
		assert_exit 2 vigil TZ="$tz" "$@" BACKUP_ON_START=true "$cmd"
		assert_output_match "TZ=\"?${tz//./\\.}"
	done
	http /healthz
	assert_eq 000 "$HTTP_CODE" "HTTP listener after a refused serve (TZ=$tz)"
	[[ -z $(find "$BACKUP_DIR" -mindepth 1 -print -quit) ]] ||
		fail "TZ=$tz $*: something was written to BACKUP_DIR: $(find "$BACKUP_DIR" -mindepth 1)"
}
refused mars Mars/Olympus
refused typo Europe/Berlinn
refused not-tzif zone.tab
refused directory Europe
refused outside ../../../etc/localtime
[[ -z $(ls "$T"/c-*/backups/runs 2>/dev/null) ]] || fail "a run happened with a refused TZ"

# ---------------------------------------------------------------- (d)
log "(d) TZ=Europe/Berlin with /usr/share/zoneinfo hidden"
part d
assert_exit 0 vigil TZ=Europe/Berlin check-config
hidden() { # hidden CMD: run CMD with zoneinfo hidden, output in $OUT/$ERR
	unshare --mount -- bash -c "mount -t tmpfs -o size=64k tmpfs /usr/share/zoneinfo &&
		[ -z \"\$(ls -A /usr/share/zoneinfo)\" ] && exec $1"
}
assert_exit 0 hidden "env -u TZDIR TZ=UTC timeout 20 '$VIGIL' check-config"
assert_exit 2 hidden "env -u TZDIR TZ=Europe/Berlin timeout 20 '$VIGIL' check-config"
assert_output_match 'TZ="?Europe/Berlin'
assert_exit 2 hidden "env -u TZDIR TZ=Europe/Berlin BACKUP_ON_START=true timeout 20 '$VIGIL' serve"
assert_output_match 'TZ="?Europe/Berlin'
# The message names the file looked for, TZDIR, and the fixes (issue 12).
assert_contains "$ERR" 'TZ="Europe/Berlin": no time zone data in /usr/share/zoneinfo (not even Etc/UTC), so no zone file /usr/share/zoneinfo/Europe/Berlin (TZDIR is unset); hint: install tzdata in the image (apt-get install tzdata), or mount the host'"'"'s /usr/share/zoneinfo read-only, or set TZ=UTC, which needs no zone files'
assert_exit 0 hidden "env -u TZDIR -u TZ timeout 20 '$VIGIL' check-config"
assert_exit 2 hidden "env -u TZDIR TZ=Europe/Berlin timeout 20 '$VIGIL' backup"
assert_output_match 'TZ="?Europe/Berlin'
[[ -z $(find "$BACKUP_DIR" -mindepth 1 -print -quit) ]] ||
	fail "(d): something was written to BACKUP_DIR: $(find "$BACKUP_DIR" -mindepth 1)"

# ---------------------------------------------------------------- (c2)
# Last, so that a failure here does not hide the parts above.
log "(c2) a zone file that exists, starts with the TZif magic, but is cut short"
# (damaged tzdata): glibc silently uses UTC for it, so every command that
# names files or logs times must refuse it, not only serve/check-config.
mkdir -p "$T/zi/Europe"
head -c 60 /usr/share/zoneinfo/Europe/Berlin >"$T/zi/Europe/Berlin"
refused truncated Europe/Berlin TZDIR="$T/zi"
log "B17 ok"
