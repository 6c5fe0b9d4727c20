#!/bin/bash
# Invariant I5: the database password never appears in the argv of any
# process. With a distinctive password for the connecting role:
#  - a sampler (Python, password passed by environment) reads
#    /proc/*/cmdline of every process every 10 ms during `vigil check-config`,
#    `vigil backup` and `vigil restore --db latest --yes`;
#  - pg_dump/psql/pg_restore shims first on PATH save /proc/$$/cmdline and
#    /proc/$PPID/cmdline of every call, then exec the real program.
# Expect: every command exits 0; the password (or a distinctive piece of
# it) is in no sampled or saved cmdline, nor in $LOG_DIR/*, runs/*.json, or
# vigil's stdout/stderr. The sampler must have seen pg_dump and psql at work
# (else the sampling proves nothing).
set -u
. "$(dirname "$0")/lib.sh"
it_setup
# Enough data that pg_dump and psql run for a while (more samples).
sql "INSERT INTO items SELECT g, repeat(md5(g::text), 4) FROM generate_series(1001, 150000) g;" >/dev/null

PW="I5-Zq8xK2-$RANDOM$RANDOM-vigil-secret"
PIECE=${PW:0:12}
# Set it through stdin, never through an argv (psql -c would expose it).
printf "ALTER ROLE postgres PASSWORD '%s';\n" "$PW" | sql - postgres >/dev/null || fail "setup: password"
export POSTGRES_PASSWORD=$PW
PGPASSWORD=$PW "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT_T" -U postgres -d app -XAtqc 'SELECT 1' >/dev/null ||
	fail "setup: cannot log in with the new password"

mkdir -p "$T/argv"
for p in pg_dump psql pg_restore; do
	make_shim "$p" "
n=\$(date +%s%N).\$\$
cp /proc/\$\$/cmdline '$T/argv/$p.self.'\$n
cp /proc/\$PPID/cmdline '$T/argv/$p.parent.'\$n 2>/dev/null
exec \"\$REAL\" \"\$@\""
done

# The sampler: every 10 ms, every /proc/PID/cmdline; a cmdline holding the
# password (or its first 12 characters) goes to hits; the names of
# programs seen are counted in seen. Stops when $T/stop-sampler exists.
cat >"$IT_TMP/sampler.py" <<'EOF'
import os, sys, time
pw = os.environ["I5_PW"].encode()
piece = os.environ["I5_PIECE"].encode()
stop, hits_path, seen_path = sys.argv[1:4]
me = str(os.getpid())
seen, hits, sweeps = {}, [], 0
while not os.path.exists(stop):
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                c = f.read()
        except OSError:
            continue
        if not c:
            continue
        if pw in c or piece in c:
            hits.append("%s: %s" % (pid, c.replace(b"\0", b" ").decode(errors="replace")))
        name = os.path.basename(c.split(b"\0")[0].decode(errors="replace"))
        if name in ("sh", "bash", "dash") and c.count(b"\0") > 1:
            name = os.path.basename(c.split(b"\0")[1].decode(errors="replace"))
        seen.setdefault(name, set()).add(pid)
    sweeps += 1
    time.sleep(0.01)
with open(hits_path, "w") as f:
    f.write("".join(h + "\n" for h in hits))
with open(seen_path, "w") as f:
    f.write("sweeps %d\n" % sweeps)
    for k, v in sorted(seen.items()):
        f.write("%s %d\n" % (k, len(v)))
EOF
I5_PW=$PW I5_PIECE=$PIECE "$PY" "$IT_TMP/sampler.py" "$T/stop-sampler" "$IT_TMP/hits" "$IT_TMP/seen" &
sampler=$!
sleep 0.3

assert_exit 0 vigil check-config
assert_exit 0 vigil PATH="$T/shim:$PATH" backup
wait_next_second
sql "DELETE FROM items WHERE id > 1000" >/dev/null
assert_exit 0 vigil PATH="$T/shim:$PATH" restore --db latest --yes
assert_eq 150000 "$(sql 'SELECT count(*) FROM items')" "rows after the restore"

touch "$T/stop-sampler"
wait "$sampler" || fail "the sampler failed"
sed 's/^/    seen: /' "$IT_TMP/seen" | grep -E '^    seen: (sweeps|pg_dump|psql|pg_restore|vigil) ' || true
grep -qE '^pg_dump [1-9]' "$IT_TMP/seen" || fail "the sampler never saw pg_dump running"
grep -qE '^psql [1-9]' "$IT_TMP/seen" || fail "the sampler never saw psql running"
grep -qE '^vigil [1-9]' "$IT_TMP/seen" || fail "the sampler never saw vigil running"
if [[ -s $IT_TMP/hits ]]; then
	head -n 5 "$IT_TMP/hits" | sed 's/^/    /'
	fail "the password appeared in the argv of a running process"
fi

# Shims: both programs were called and recorded.
compgen -G "$T/argv/pg_dump.self.*" >/dev/null || fail "the pg_dump shim was never called"
compgen -G "$T/argv/psql.self.*" >/dev/null || fail "the psql shim was never called"
compgen -G "$T/argv/pg_dump.parent.*" >/dev/null || fail "no parent cmdline of pg_dump recorded"
# The saved cmdlines really are vigil's children's.
grep -qa "$T/shim/pg_dump" "$T"/argv/pg_dump.self.* || fail "the pg_dump shim recorded nothing useful"
grep -qa vigil "$T"/argv/pg_dump.parent.* || fail "pg_dump's parent is not vigil"

# No password in any saved argv, log, manifest, or output of vigil.
hay=("$T"/argv/* "$LOG_DIR"/* "$BACKUP_DIR"/runs/*.json "$IT_TMP"/cmd.*)
[[ ${#hay[@]} -gt 5 ]] || fail "too few files to search"
for f in "${hay[@]}"; do
	[[ -f $f ]] || continue
	for needle in "$PW" "$PIECE"; do
		if tr '\0' ' ' <"$f" | grep -qF -- "$needle"; then
			fail "the password appears in ${f/#$T/\$T}"
		fi
	done
done
# check-config shows it as ***.
grep -E 'POSTGRES_PASSWORD' "$IT_TMP"/cmd.1.out "$IT_TMP"/cmd.1.err | head -n 2 | sed 's/^/    /'
grep -hE 'POSTGRES_PASSWORD' "$IT_TMP"/cmd.1.out "$IT_TMP"/cmd.1.err | grep -qF '***' ||
	fail "check-config does not show POSTGRES_PASSWORD as ***"
# Nor in the backup files' names.
find "$BACKUP_DIR" "$LOG_DIR" -name "*$PIECE*" | grep -q . && fail "the password in a file name"
log "I5 ok"
