#!/bin/bash
# The restore's loading children (psql fed on stdin for a plain dump,
# pg_restore for a custom archive) face a child that writes 1 MiB to
# stderr before it reads its input, and one that hangs (issue 10, "each
# child-pumping path"). The first must not deadlock (vigil drains stderr
# while it feeds stdin): the restore completes, exit 0. The second must end
# within the restore's deadline, BACKUP_RUN_TIMEOUT (a restore is a run;
# README "A restore"), here 5 s: exit 1 with "the restore was still going
# after BACKUP_RUN_TIMEOUT", the child killed, the scratch database dropped
# and app unchanged. The shims (make_shim) act on the load only: psql
# --version and pg_restore --list (validation) run the real programs.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup --db-only
wait_next_second
assert_exit 0 vigil BACKUP_FORMAT=custom backup --db-only
plain=$(cd "$BACKUP_DIR/db" && ls app_*.sql.gz)
custom=$(cd "$BACKUP_DIR/db" && ls app_*.dump)
sql "DELETE FROM items WHERE id > 10" >/dev/null

loud='head -c 1048576 /dev/zero | tr "\0" x >&2'
make_shim psql "case \" \$* \" in *' --version '*) exec \"\$REAL\" \"\$@\" ;; esac
$loud; exec \"\$REAL\" \"\$@\""
make_shim pg_restore "case \" \$* \" in *' --dbname '*) $loud ;; esac
exec \"\$REAL\" \"\$@\""

for f in "$plain" "$custom"; do
	wait_next_second
	sql "DELETE FROM items WHERE id > 10" >/dev/null
	assert_exit 0 timeout 60 env PATH="$T/shim:$PATH" "$VIGIL" restore --db "$f" --yes \
		--no-safety-backup
	assert_contains "$ERR" 'restore done exit=0'
	assert_eq 1000 "$(sql 'SELECT count(*) FROM items')" "rows restored from $f"
done
log "1 MiB on stderr before the input: no deadlock (psql and pg_restore)"

make_shim psql 'case " $* " in *" --version "*) exec "$REAL" "$@" ;; esac
exec sleep 300'
make_shim pg_restore 'case " $* " in *" --dbname "*) exec sleep 300 ;; esac
exec "$REAL" "$@"'
sql "DELETE FROM items WHERE id > 10" >/dev/null
for f in "$plain" "$custom"; do
	wait_next_second
	t0=$(now_us)
	assert_exit 1 timeout 60 env PATH="$T/shim:$PATH" BACKUP_RUN_TIMEOUT=5 "$VIGIL" restore \
		--db "$f" --yes --no-safety-backup
	ms=$((($(now_us) - t0) / 1000))
	assert_output_match 'ERROR restore failed: the restore was still going after BACKUP_RUN_TIMEOUT \(5s\) and was stopped'
	((ms < 12000)) || fail "the restore of $f took $ms ms to give up (deadline 5 s)"
	pgrep -f 'sleep 300' >/dev/null && fail "the hanging child was left running"
	left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
	[[ -z $left ]] || fail "scratch database left: $left"
	assert_eq 10 "$(sql 'SELECT count(*) FROM items')" "app unchanged after $f"
	log "$f: a hanging loader ends after $ms ms"
done
