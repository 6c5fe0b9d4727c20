#!/bin/bash
# TRIAL F14: at the restore confirmation prompt (on a terminal: a pty made
# by python's pty module), ^C ends vigil with exit 130 and SIGTERM with 143,
# within 3 s (^\ SIGQUIT 131 and SIGHUP 129 too: breaker 2), logging "stopped by signal N at the confirmation prompt;
# nothing was changed"; the database is unchanged and no scratch database
# or safety copy exists. Typing the name still proceeds (exit 0), a wrong
# name still gives 2.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup --db-only
sql "DELETE FROM items WHERE id > 10" >/dev/null
pg_dump_norm >"$T/before.sql"

# at_prompt ACTION: run `vigil restore --db latest` on a pty, wait for the
# prompt, then ACTION (ctrl-c | term | type:TEXT); prints the exit code
# (128+N when killed) and the seconds from ACTION to exit; the terminal's
# output goes to $T/pty.out.
at_prompt() {
	"$PY" - "$VIGIL" "$1" "$T/pty.out" <<-'PY'
	import os, pty, sys, time, signal, select
	vigil, action, out = sys.argv[1:4]
	pid, fd = pty.fork()
	if pid == 0:
	    os.execv(vigil, [vigil, "restore", "--db", "latest"])
	buf = b""
	deadline = time.time() + 60
	while b"to continue:" not in buf and time.time() < deadline:
	    r, _, _ = select.select([fd], [], [], 0.5)
	    if r:
	        try:
	            buf += os.read(fd, 4096)
	        except OSError:
	            break
	time.sleep(0.3)
	t0 = time.time()
	if action == "ctrl-c":
	    os.write(fd, b"\x03")
	elif action == "term":
	    os.kill(pid, signal.SIGTERM)
	elif action == "ctrl-backslash":
	    os.write(fd, b"\x1c")
	elif action == "hup":
	    os.kill(pid, signal.SIGHUP)
	else:
	    os.write(fd, action.split(":", 1)[1].encode() + b"\n")
	status = None
	while time.time() < t0 + 60:
	    r, _, _ = select.select([fd], [], [], 0.2)
	    if r:
	        try:
	            buf += os.read(fd, 4096)
	        except OSError:
	            pass
	    p, st = os.waitpid(pid, os.WNOHANG)
	    if p:
	        status = st
	        break
	if status is None:
	    os.kill(pid, signal.SIGKILL)
	    os.waitpid(pid, 0)
	    print("hung", int(time.time() - t0))
	else:
	    code = os.waitstatus_to_exitcode(status)
	    print(code if code >= 0 else 128 - code, "%.1f" % (time.time() - t0))
	open(out, "wb").write(buf)
	PY
}

unchanged() {
	local left
	pg_dump_norm >"$T/after.sql"
	diff -u "$T/before.sql" "$T/after.sql" >/dev/null || fail "$1: database changed"
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "$1: scratch database left: $left"
	assert_no_file "$BACKUP_DIR/db/pre_restore_*"
}

for case in "ctrl-c 130 2" "term 143 15" "ctrl-backslash 131 3" "hup 129 1"; do
	read -r action code sig <<<"$case"
	log "$action at the prompt"
	res=$(at_prompt "$action")
	read -r rc secs <<<"$res"
	assert_eq "$code" "$rc" "$action: exit code (output: $(tr -d '\r' <"$T/pty.out" | tail -n 3))"
	awk -v s="$secs" 'BEGIN { exit !(s < 3) }' || fail "$action: took $secs s"
	assert_contains "$T/pty.out" "stopped by signal $sig at the confirmation prompt; nothing was changed"
	assert_contains "$LOG_DIR/restore.log" "stopped by signal $sig at the confirmation prompt"
	unchanged "$action"
	wait_next_second
done

log "a wrong name"
res=$(at_prompt "type:nope")
assert_eq 2 "${res%% *}" "wrong name: exit code"
assert_contains "$T/pty.out" "not confirmed; nothing was changed"
unchanged "wrong name"

log "the right name"
wait_next_second
res=$(at_prompt "type:app")
assert_eq 0 "${res%% *}" "right name: exit code (output: $(tr -d '\r' <"$T/pty.out" | tail -n 3))"
assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows after the confirmed restore"
log "prompt signals ok"
