/* db_swap.c - see db_swap.h. The scratch database and the swap: a
 * database restore that is not --in-place loads into a new database made
 * like the live one and renames it into place, so the live database is
 * either the old one or the complete new one. */
#include "pipeline/db_swap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "infra/pid1.h"
#include "base/util.h"

/* See db_swap.h. The database vigil works from while target is replaced:
 * "postgres", else "template1"; for target "postgres" itself (POSTGRES_DB=postgres,
 * the official image's default: TRIAL F10) only "template1". While vigil
 * is connected to template1, a CREATE DATABASE by someone else that copies
 * template1 (the default) fails with "being accessed by other users". */
int db_swap_connect_maintenance(const struct config *cfg, const char *target, struct db **db,
				struct err *e)
{
	struct err e2;

	if (strcmp(target, "postgres") == 0)
		return db_connect(cfg, "template1", db, e);
	if (db_connect(cfg, "postgres", db, e) == 0)
		return 0;
	if (db_connect(cfg, "template1", db, &e2) == 0)
		return 0;
	return -1;
}

static int exec_fmt(struct db *db, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int exec_fmt(struct db *db, struct err *e, const char *fmt, ...)
{
	char *sql = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&sql, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return err_set(e, ERR_INTERNAL, "out of memory");
	rc = db_exec(db, sql, e);
	free(sql);
	return rc;
}

/* Names of settings whose value is a list (GUC_LIST_INPUT): written back
 * unquoted, as their stored form is already SQL syntax. */
static bool list_guc(const char *name)
{
	static const char *const names[] = { "search_path", "temp_tablespaces",
					      "session_preload_libraries",
					      "local_preload_libraries", NULL };
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Give scratch the live database's privileges, per-database settings,
 * comment, connection limit and, when the live one is closed to
 * connections (allowconn false), that too. */
static int copy_db_props(struct db *db, const char *live, const char *qscratch, long connlimit,
			 bool allowconn, bool acl_null, const char *comment, struct err *e)
{
	const char *params[1] = { live };
	struct db_rows *rows = NULL;
	int rc = -1;

	if (!acl_null) {
		if (exec_fmt(db, e, "REVOKE ALL ON DATABASE %s FROM PUBLIC", qscratch) < 0)
			goto out;
		if (db_query(db,
			     "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE "
			     "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
			     "a.privilege_type, a.is_grantable, "
			     "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.datdba)) "
			     "FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a "
			     "WHERE d.datname = $1",
			     1, params, &rows, e) < 0)
			goto out;
		if (db_rows_count(rows) > 0 &&
		    exec_fmt(db, e, "REVOKE ALL ON DATABASE %s FROM %s", qscratch,
			     db_rows_get(rows, 0, 3)) < 0)
			goto out;
		for (int i = 0; i < db_rows_count(rows); i++) {
			if (exec_fmt(db, e, "GRANT %s ON DATABASE %s TO %s%s", db_rows_get(rows, i, 1),
				     qscratch, db_rows_get(rows, i, 0),
				     strcmp(db_rows_get(rows, i, 2), "t") == 0 ? " WITH GRANT OPTION" : "") < 0)
				goto out;
		}
		db_rows_free(rows);
		rows = NULL;
	}
	if (db_query(db,
		     "SELECT coalesce(pg_catalog.quote_ident(pg_catalog.pg_get_userbyid("
		     "NULLIF(s.setrole, 0))), ''), c.cfg "
		     "FROM pg_catalog.pg_db_role_setting s "
		     "JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, "
		     "LATERAL unnest(s.setconfig) AS c(cfg) WHERE d.datname = $1",
		     1, params, &rows, e) < 0)
		goto out;
	for (int i = 0; i < db_rows_count(rows); i++) {
		const char *role = db_rows_get(rows, i, 0), *kv = db_rows_get(rows, i, 1);
		const char *eq = strchr(kv, '=');
		char name[128], *val;
		size_t nl;
		int r;

		if (!eq || (nl = (size_t)(eq - kv)) == 0 || nl >= sizeof name)
			continue;
		memcpy(name, kv, nl);
		name[nl] = '\0';
		if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != nl)
			continue;
		val = list_guc(name) ? strdup(eq + 1) : db_quote_literal(db, eq + 1);
		if (!val) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
		if (role[0])
			r = exec_fmt(db, e, "ALTER ROLE %s IN DATABASE %s SET %s TO %s", role, qscratch,
				     name, val);
		else
			r = exec_fmt(db, e, "ALTER DATABASE %s SET %s TO %s", qscratch, name, val);
		free(val);
		if (r < 0)
			goto out;
	}
	if (comment[0]) {
		char *lit = db_quote_literal(db, comment);
		int r = lit ? exec_fmt(db, e, "COMMENT ON DATABASE %s IS %s", qscratch, lit) : -1;
		free(lit);
		if (r < 0)
			goto out;
	}
	if (connlimit != -1 &&
	    exec_fmt(db, e, "ALTER DATABASE %s WITH CONNECTION LIMIT %ld", qscratch, connlimit) < 0)
		goto out;
	/* A database its operator closed (datallowconn false) must not come
	 * back open. The scratch one is closed here, before the swap, so the
	 * renamed database is never open for a moment and a refusal fails
	 * the restore while the live database is still untouched. This ran
	 * after the swap with its result ignored, so a failure left the
	 * database open to the application without a word (issue 10). A
	 * WARN after the swap would report it too late: an operator who
	 * closed the database would rather keep the old one than have the
	 * restore open it. */
	if (!allowconn &&
	    exec_fmt(db, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", qscratch) < 0)
		goto out;
	rc = 0;
out:
	db_rows_free(rows);
	if (rc < 0)
		err_prefix(e, "cannot give the new database the live one's settings");
	return rc;
}

/* A restore that was killed leaves its scratch database behind; we hold
 * the run lock, so any "<target>_vigil_new_YYYYMMDD_HHMMSS" is such a
 * leftover and goes now. */
static void db_name_with(char *out, size_t n, const char *base, const char *tag);

static void drop_leftover_scratch(struct db *db, const char *target)
{
	struct db_rows *rows = NULL;
	char prefix[128];
	struct err e;

	/* Exactly what db_name_with(target, "_vigil_new_<stamp>") makes. */
	db_name_with(prefix, sizeof prefix, target, "_vigil_new_YYYYMMDD_HHMMSS");
	prefix[strlen(prefix) - 15] = '\0';
	if (db_query(db, "SELECT datname FROM pg_catalog.pg_database", 0, NULL, &rows, &e) < 0) {
		log_warn("cannot look for scratch databases left by an interrupted restore: %s",
			 e.msg);
		return;
	}
	for (int i = 0; i < db_rows_count(rows); i++) {
		const char *name = db_rows_get(rows, i, 0), *st;
		char *q;
		bool stamp = true;
		if (strncmp(name, prefix, strlen(prefix)) != 0 || strlen(name) != strlen(prefix) + 15)
			continue;
		st = name + strlen(prefix);
		for (int k = 0; k < 15; k++)
			if (k == 8 ? st[k] != '_' : (st[k] < '0' || st[k] > '9'))
				stamp = false;
		if (!stamp)
			continue;
		q = db_quote_ident(db, name);
		if (q && exec_fmt(db, &e, "DROP DATABASE IF EXISTS %s WITH (FORCE)", q) == 0)
			log_info("dropped %s, left by an interrupted restore", name);
		else /* it only takes space, but it was silent (issue 10) */
			log_warn("cannot drop %s, left by an interrupted restore: %s; hint: drop it "
				 "by hand as its owner or a superuser", name,
				 q ? e.msg : "out of memory");
		free(q);
	}
	db_rows_free(rows);
}

static void db_name_with(char *out, size_t n, const char *base, const char *tag)
{
	size_t tl = strlen(tag), bl = strlen(base);

	if (bl + tl > PG_NAME_MAX)
		bl = PG_NAME_MAX - tl;
	/* do not cut a UTF-8 sequence */
	while (bl > 0 && ((unsigned char)base[bl] & 0xC0) == 0x80)
		bl--;
	snprintf(out, n, "%.*s%s", (int)bl, base, tag);
}

/* One swap's state: the names (scratch, old) and their quoted forms, the
 * maintenance connection, and the live database's properties the scratch
 * one receives (exists false: there is no live database yet). */
struct swap {
	struct db *db;
	const char *target;
	char scratch[128], old[128];
	char *qt, *qs, *qo;
	bool exists;
	bool created;   /* the scratch database exists and is ours to drop */
	bool allowconn; /* the live one's datallowconn */
	bool acl_null;  /* the live one has the default privileges */
	long connlimit;
	char comment[1024];
};

/* The live database's properties: owner, encoding, collate, ctype,
 * connection limit, allowconn, locale provider, ICU locale, tablespace,
 * comment, datacl IS NULL (columns 0-10; no row when it does not exist).
 * PostgreSQL 14 and older have no locale provider (libc only). */
static int live_props(struct swap *sw, struct db_rows **props, struct err *e)
{
	const char *params[1] = { sw->target };

	return db_query(sw->db,
			db_server_version_num(sw->db) >= 150000
				? "SELECT pg_catalog.pg_get_userbyid(d.datdba), "
				  "pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
				  "d.datconnlimit, d.datallowconn, d.datlocprovider, "
				  "coalesce(d.daticulocale, ''), t.spcname, "
				  "coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), ''), "
				  "d.datacl IS NULL "
				  "FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t "
				  "ON t.oid = d.dattablespace WHERE d.datname = $1"
				: "SELECT pg_catalog.pg_get_userbyid(d.datdba), "
				  "pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
				  "d.datconnlimit, d.datallowconn, 'c', '', t.spcname, "
				  "coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), ''), "
				  "d.datacl IS NULL "
				  "FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t "
				  "ON t.oid = d.dattablespace WHERE d.datname = $1",
			1, params, props, e);
}

/* CREATE the scratch database like the live one (props, one row) from
 * template0, and note the properties copy_db_props gives it later. Returns
 * 0 or -1 with e set. */
static int create_like_live(struct swap *sw, const struct db_rows *props, struct err *e)
{
	struct db *db = sw->db;
	char *qowner = NULL, *qts = NULL, *lcoll = NULL, *lctype = NULL, *licu = NULL, *lenc = NULL;
	const char *ts_clause;
	int rc = -1;

	qowner = db_quote_ident(db, db_rows_get(props, 0, 0));
	lenc = db_quote_literal(db, db_rows_get(props, 0, 1));
	lcoll = db_quote_literal(db, db_rows_get(props, 0, 2));
	lctype = db_quote_literal(db, db_rows_get(props, 0, 3));
	licu = db_quote_literal(db, db_rows_get(props, 0, 7));
	qts = db_quote_ident(db, db_rows_get(props, 0, 8));
	if (!qowner || !lenc || !lcoll || !lctype || !licu || !qts) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	util_parse_long(db_rows_get(props, 0, 4), -1, 1000000000, &sw->connlimit);
	sw->allowconn = strcmp(db_rows_get(props, 0, 5), "t") == 0;
	sw->acl_null = strcmp(db_rows_get(props, 0, 10), "t") == 0;
	snprintf(sw->comment, sizeof sw->comment, "%s", db_rows_get(props, 0, 9));
	/* Naming pg_default explicitly needs CREATE on it, which an
	 * ordinary CREATEDB role lacks; the default is the same place. */
	ts_clause = strcmp(db_rows_get(props, 0, 8), "pg_default") == 0 ? "" : " TABLESPACE ";
	if (strcmp(db_rows_get(props, 0, 6), "i") == 0)
		rc = exec_fmt(db, e, "CREATE DATABASE %s WITH TEMPLATE template0 OWNER %s "
			      "ENCODING %s LC_COLLATE %s LC_CTYPE %s LOCALE_PROVIDER icu "
			      "ICU_LOCALE %s%s%s", sw->qs, qowner, lenc, lcoll, lctype,
			      licu, ts_clause, ts_clause[0] ? qts : "");
	else
		rc = exec_fmt(db, e, "CREATE DATABASE %s WITH TEMPLATE template0 OWNER %s "
			      "ENCODING %s LC_COLLATE %s LC_CTYPE %s%s%s", sw->qs, qowner,
			      lenc, lcoll, lctype, ts_clause, ts_clause[0] ? qts : "");
out:
	free(qowner), free(qts);
	free(lcoll), free(lctype), free(licu), free(lenc);
	return rc;
}

/* Connect, read the live database, drop leftovers of killed restores and
 * create the scratch database (sw->created). Returns 0 or -1 with e set. */
static int make_scratch(const struct config *cfg, struct swap *sw, struct err *e)
{
	struct db_rows *props = NULL;
	int rc = -1;

	if (db_swap_connect_maintenance(cfg, sw->target, &sw->db, e) < 0)
		goto out;
	if (live_props(sw, &props, e) < 0)
		goto out;
	sw->exists = db_rows_count(props) > 0;
	sw->qt = db_quote_ident(sw->db, sw->target);
	sw->qs = db_quote_ident(sw->db, sw->scratch);
	sw->qo = db_quote_ident(sw->db, sw->old);
	if (!sw->qt || !sw->qs || !sw->qo) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	drop_leftover_scratch(sw->db, sw->target);
	if (sw->exists ? create_like_live(sw, props, e) < 0
		       : exec_fmt(sw->db, e, "CREATE DATABASE %s WITH TEMPLATE template0", sw->qs) < 0) {
		err_prefix(e, "cannot create the scratch database %s; hint: the role needs CREATEDB "
			   "and membership in the owner role, or use --in-place", sw->scratch);
		goto out;
	}
	sw->created = true;
	rc = 0;
out:
	db_rows_free(props);
	return rc;
}

/* The swap: keep new sessions out, end the application's sessions (it
 * reconnects), rename both in one transaction. Returns 0 or -1 with e set
 * (nothing renamed then). */
static int rename_swap(struct swap *sw, struct err *e)
{
	const char *params[1] = { sw->target };
	bool warned_end = false;

	/* No ALLOW_CONNECTIONS false here: if vigil were killed in this loop
	 * the live database would stay closed to the application. Ending the
	 * sessions right before the renames leaves a window of milliseconds;
	 * a reconnect in it makes the transaction fail and we retry.
	 * ALTER DATABASE RENAME waits up to 5 s for other sessions to leave
	 * (CountOtherDBBackends), so each attempt is bounded by a statement
	 * timeout of 500 ms: 40 attempts take about 25 s at most (TRIAL F12). */
	if (exec_fmt(sw->db, e, "SET statement_timeout = 500") < 0)
		return -1;
	for (int attempt = 0; attempt < 40; attempt++) {
		struct err e2;
		char *ended = NULL;
		if (db_query_value(sw->db,
				   "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM "
				   "pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> "
				   "pg_catalog.pg_backend_pid()",
				   1, params, &ended, &e2) == 0 && strcmp(ended, "0") != 0)
			log_info("restore ended %s session(s) on %s", ended, sw->target);
		else if (ended == NULL && !warned_end) {
			/* Once: the same refusal repeats on every attempt. */
			log_warn("cannot end sessions on %s: %s; hint: a role that is not superuser "
				 "can only end sessions of roles it is a member of: grant it "
				 "pg_signal_backend, or stop the application for the restore",
				 sw->target, e2.msg);
			warned_end = true;
		}
		free(ended);
		if (exec_fmt(sw->db, e, "BEGIN; ALTER DATABASE %s RENAME TO %s; ALTER DATABASE %s "
			     "RENAME TO %s; COMMIT", sw->qt, sw->qo, sw->qs, sw->qt) == 0)
			return 0;
		db_exec(sw->db, "ROLLBACK", NULL);
		if (attempt == 39 || pid1_stop_requested()) {
			err_prefix(e, "cannot swap the restored database in (sessions keep "
				   "reconnecting or cannot be ended)");
			return -1;
		}
		usleep(100 * 1000);
	}
	return -1; /* not reached: attempt 39 returns */
}

/* See db_swap.h. Restore into a scratch database "<target>_vigil_new_<stamp>"
 * made with the live one's owner, encoding, locale and tablespace, load it
 * (see db_load()), give it the live one's settings, call before_swap, then end
 * the target's sessions and rename both in one transaction; the old one is
 * dropped afterwards. A target that does not exist is simply created by
 * the rename. Returns 0 or -1 with e set as db_load() or ERR_RESTORE; the
 * scratch database is dropped on failure. */
int db_swap_restore(const struct config *cfg, const struct cat_entry *ent, const char *target,
		    struct db_load_opts *lo, struct dumpscan *scan, const char *stamp,
		    db_swap_before_fn before_swap, void *ctx, bool *warned, struct err *e)
{
	struct swap sw = { .target = target, .allowconn = true, .acl_null = true, .connlimit = -1 };
	char tag[64];
	int rc = -1;

	snprintf(tag, sizeof tag, "_vigil_new_%s", stamp);
	db_name_with(sw.scratch, sizeof sw.scratch, target, tag);
	snprintf(tag, sizeof tag, "_vigil_old_%s", stamp);
	db_name_with(sw.old, sizeof sw.old, target, tag);
	if (make_scratch(cfg, &sw, e) < 0)
		goto out;
	log_info("restore loading into scratch database %s", sw.scratch);
	lo->server_major = db_server_version_num(sw.db) / 10000;
	if (db_load(cfg, ent, sw.scratch, lo, scan, e) < 0)
		goto out;
	if (sw.exists && copy_db_props(sw.db, target, sw.qs, sw.connlimit, sw.allowconn,
				       sw.acl_null, sw.comment, e) < 0)
		goto out;
	if (before_swap(ctx, e) < 0)
		goto out;
	if (!sw.exists) {
		if (exec_fmt(sw.db, e, "ALTER DATABASE %s RENAME TO %s", sw.qs, sw.qt) < 0)
			goto out;
		sw.created = false;
		rc = 0;
		goto out;
	}
	if (rename_swap(&sw, e) < 0)
		goto out;
	sw.created = false;
	exec_fmt(sw.db, NULL, "RESET statement_timeout");
	log_info("restore swapped database %s in; dropping the old one (%s)", target, sw.old);
	{
		struct err e3;
		err_clear(&e3);
		if (exec_fmt(sw.db, &e3, "DROP DATABASE %s WITH (FORCE)", sw.qo) < 0) {
			log_warn("the previous database is kept as %s: %s; hint: drop it by hand when "
				 "it is no longer needed", sw.old, e3.msg);
			*warned = true;
		}
	}
	rc = 0;
out:
	if (sw.created && sw.db) {
		struct err e4;
		exec_fmt(sw.db, NULL, "RESET statement_timeout"); /* set for the swap */
		if (exec_fmt(sw.db, &e4, "DROP DATABASE IF EXISTS %s WITH (FORCE)", sw.qs) < 0)
			log_warn("cannot drop the scratch database %s: %s", sw.scratch, e4.msg);
	}
	db_close(sw.db);
	free(sw.qt), free(sw.qs), free(sw.qo);
	return rc;
}
