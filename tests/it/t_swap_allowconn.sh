#!/bin/bash
# A database its operator closed (ALLOW_CONNECTIONS false) stays closed
# after a restore through the scratch database, and a failure to close the
# new one is reported, not ignored (issue 10: the ALTER ran after the swap
# with its result unchecked, so the restored database could come back open
# without a word). vigil now closes the scratch database before the swap;
# when the server refuses that, the restore fails with exit 1 while the
# live database is untouched (still closed, old rows) and the scratch
# database is dropped. The refusal is injected with an LD_PRELOAD shim
# around libpq's PQexec that turns vigil's ALTER ... ALLOW_CONNECTIONS
# false into a statement failing as a role lacking ownership would
# (SQLSTATE 42501): no real role can create and rename the scratch
# database yet not alter it.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
assert_exit 0 vigil backup --db-only
sql "DELETE FROM items WHERE id > 10" >/dev/null
sql "ALTER DATABASE app WITH ALLOW_CONNECTIONS false" postgres >/dev/null
at_exit "sql 'ALTER DATABASE app WITH ALLOW_CONNECTIONS true' postgres >/dev/null 2>&1"

cat >"$T/pqexec_shim.c" <<-'C'
	#define _GNU_SOURCE
	#include <dlfcn.h>
	#include <string.h>
	typedef struct pg_conn PGconn;
	typedef struct pg_result PGresult;
	PGresult *PQexec(PGconn *conn, const char *query)
	{
		static PGresult *(*real)(PGconn *, const char *);
		if (!real)
			real = (PGresult * (*)(PGconn *, const char *))dlsym(RTLD_NEXT, "PQexec");
		if (strstr(query, "ALLOW_CONNECTIONS false"))
			query = "DO $$BEGIN RAISE EXCEPTION 'must be owner of database (injected)' "
				"USING ERRCODE = '42501'; END$$";
		return real(conn, query);
	}
C
cc -shared -fPIC -o "$T/pqexec_shim.so" "$T/pqexec_shim.c" -ldl || fail "cannot build the PQexec shim"

allowconn() { sql "SELECT datallowconn FROM pg_database WHERE datname = 'app'" postgres; }
rows() {
	sql "ALTER DATABASE app WITH ALLOW_CONNECTIONS true" postgres >/dev/null
	sql "SELECT count(*) FROM items"
	sql "ALTER DATABASE app WITH ALLOW_CONNECTIONS false" postgres >/dev/null
}

wait_next_second
assert_exit 1 vigil LD_PRELOAD="$T/pqexec_shim.so" restore --db latest --yes --no-safety-backup
assert_output_match "ERROR restore failed: cannot give the new database the live one's settings: .*must be owner of database \(injected\)"
assert_not_contains "$ERR" 'restore done'
assert_eq f "$(allowconn)" "app still closed to connections"
assert_eq 10 "$(rows)" "rows of the untouched live database"
left=$(sql "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE '%\_vigil\_%'" postgres)
[[ -z $left ]] || fail "scratch or old database left: $left"
log "a refused ALLOW_CONNECTIONS fails the restore before the swap"

wait_next_second
assert_exit 0 vigil restore --db latest --yes --no-safety-backup
assert_eq f "$(allowconn)" "the restored app is closed like the one it replaced"
assert_eq 1000 "$(rows)" "rows after the restore"
log "ALLOW_CONNECTIONS false carried over to the restored database"
