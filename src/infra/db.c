/* db.c - see db.h. */
#include "infra/db.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "infra/child.h"
#include "base/log.h"
#include "base/util.h"

extern char **environ;

struct db {
	PGconn *conn;
};

struct db_rows {
	PGresult *res;
};

/* libpq messages end with a newline and may span lines, the next one
 * indented with a tab ("...refused\n\tIs the server running..."); keep
 * them on one line with single spaces. */
static void clean_message(const char *msg, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = msg; *p && o + 1 < n; p++) {
		char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
		if (c == ' ' && o > 0 && out[o - 1] == ' ')
			continue;
		out[o++] = c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Server notices ("database ... does not exist, skipping") go to the debug
 * log instead of libpq's default, stderr. */
static void on_notice(void *arg, const char *message)
{
	char msg[ERR_MSG_MAX];

	(void)arg;
	clean_message(message, msg, sizeof msg);
	log_debug("server notice: %s", msg);
}

int db_connect(const struct config *cfg, const char *dbname, struct db **out, struct err *e)
{
	char port[16], msg[ERR_MSG_MAX];
	const char *keys[12], *vals[12];
	int k = 0;
	struct db *db;

	*out = NULL;
	snprintf(port, sizeof port, "%ld", cfg->pg_port);
	keys[k] = "host", vals[k++] = cfg->pg_host;
	keys[k] = "port", vals[k++] = port;
	keys[k] = "user", vals[k++] = cfg->pg_user;
	keys[k] = "dbname", vals[k++] = dbname ? dbname : cfg->pg_db;
	keys[k] = "connect_timeout", vals[k++] = "10";
	keys[k] = "application_name", vals[k++] = "vigil";
	if (cfg->pg_password && *cfg->pg_password)
		keys[k] = "password", vals[k++] = cfg->pg_password;
	if (cfg->pg_sslmode)
		keys[k] = "sslmode", vals[k++] = cfg->pg_sslmode;
	if (cfg->pg_sslrootcert)
		keys[k] = "sslrootcert", vals[k++] = cfg->pg_sslrootcert;
	if (cfg->pg_sslcert)
		keys[k] = "sslcert", vals[k++] = cfg->pg_sslcert;
	if (cfg->pg_sslkey)
		keys[k] = "sslkey", vals[k++] = cfg->pg_sslkey;
	keys[k] = NULL, vals[k] = NULL;
	db = calloc(1, sizeof *db);
	if (!db)
		return err_set(e, ERR_INTERNAL, "out of memory");
	/* expand_dbname = 0: a database name is never parsed as a conninfo. */
	db->conn = PQconnectdbParams(keys, vals, 0);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		clean_message(db->conn ? PQerrorMessage(db->conn) : "out of memory", msg, sizeof msg);
		err_set(e, ERR_DB_CONNECT, "cannot connect to database \"%s\" at %s:%s as %s: %s",
			dbname ? dbname : cfg->pg_db, cfg->pg_host, port, cfg->pg_user, msg);
		db_close(db);
		return -1;
	}
	PQsetNoticeProcessor(db->conn, on_notice, NULL);
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db);
}

int db_server_version_num(struct db *db)
{
	return PQserverVersion(db->conn);
}

static int result_error(struct db *db, PGresult *res, struct err *e)
{
	char msg[ERR_MSG_MAX];
	const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);

	clean_message(m && *m ? m : PQerrorMessage(db->conn), msg, sizeof msg);
	PQclear(res);
	/* A statement that failed on a live connection is a query error; a
	 * connection that broke underneath it is a connection error. */
	return err_set(e, PQstatus(db->conn) == CONNECTION_OK ? ERR_DB_QUERY : ERR_DB_CONNECT,
		       "%s", msg);
}

int db_exec(struct db *db, const char *sql, struct err *e)
{
	PGresult *res = PQexec(db->conn, sql);

	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK &&
		     PQresultStatus(res) != PGRES_TUPLES_OK))
		return result_error(db, res, e);
	PQclear(res);
	return 0;
}

int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     struct db_rows **rows, struct err *e)
{
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);

	*rows = NULL;
	if (!res || (PQresultStatus(res) != PGRES_TUPLES_OK &&
		     PQresultStatus(res) != PGRES_COMMAND_OK))
		return result_error(db, res, e);
	*rows = malloc(sizeof **rows);
	if (!*rows) {
		PQclear(res);
		return err_set(e, ERR_INTERNAL, "out of memory");
	}
	(*rows)->res = res;
	return 0;
}

int db_rows_count(const struct db_rows *r)
{
	return PQntuples(r->res);
}

const char *db_rows_get(const struct db_rows *rows, int r, int c)
{
	return PQgetvalue(rows->res, r, c);
}

bool db_rows_isnull(const struct db_rows *rows, int r, int c)
{
	return PQgetisnull(rows->res, r, c) != 0;
}

void db_rows_free(struct db_rows *r)
{
	if (!r)
		return;
	PQclear(r->res);
	free(r);
}

int db_query_value(struct db *db, const char *sql, int nparams, const char *const *params,
		   char **out, struct err *e)
{
	struct db_rows *r;

	*out = NULL;
	if (db_query(db, sql, nparams, params, &r, e) < 0)
		return -1;
	if (db_rows_count(r) < 1) {
		db_rows_free(r);
		return err_set(e, ERR_DB_QUERY, "query returned no row");
	}
	*out = strdup(db_rows_get(r, 0, 0));
	db_rows_free(r);
	if (!*out)
		return err_set(e, ERR_INTERNAL, "out of memory");
	return 0;
}

int db_lock_capacity(struct db *db, struct db_lock_cap *cap, struct err *e)
{
	struct db_rows *r = NULL;
	int rc = -1;

	if (db_query(db, "SELECT pg_catalog.current_setting('max_locks_per_transaction'), "
		     "pg_catalog.current_setting('max_connections'), "
		     "pg_catalog.current_setting('max_prepared_transactions')", 0, NULL, &r, e) < 0)
		return -1;
	if (db_rows_count(r) != 1 ||
	    util_parse_long(db_rows_get(r, 0, 0), 0, 1L << 30, &cap->per_xact) < 0 ||
	    util_parse_long(db_rows_get(r, 0, 1), 0, 1L << 30, &cap->connections) < 0 ||
	    util_parse_long(db_rows_get(r, 0, 2), 0, 1L << 30, &cap->prepared) < 0) {
		err_set(e, ERR_DB_QUERY, "unexpected lock settings from the server");
		goto out;
	}
	rc = 0;
out:
	db_rows_free(r);
	return rc;
}

static char *own_copy(char *pq)
{
	char *s = pq ? strdup(pq) : NULL;

	PQfreemem(pq);
	return s;
}

char *db_quote_ident(struct db *db, const char *s)
{
	return own_copy(PQescapeIdentifier(db->conn, s, strlen(s)));
}

char *db_quote_literal(struct db *db, const char *s)
{
	return own_copy(PQescapeLiteral(db->conn, s, strlen(s)));
}

/* `<prog> --version` prints one line and exits: a child that has not
 * finished within this many seconds (a hanging wrapper script) is killed. */
#define TOOL_VERSION_LIMIT_S 10

static bool drop_from_child(const char *var)
{
	const char *eq = strchr(var, '=');
	size_t len = eq ? (size_t)(eq - var) : strlen(var);
	char name[256];

	if (len >= sizeof name)
		return false;
	memcpy(name, var, len);
	name[len] = '\0';
	if (strstr(name, "PASSWORD") || strstr(name, "SECRET") || strstr(name, "TOKEN") ||
	    strcmp(name, "DATABASE_URL") == 0)
		return true;
	/* Alerts and the offsite copy are none of a PostgreSQL tool's
	 * business (I5): URLs with tokens, S3 keys, mail settings, and any
	 * NAME_FILE (it names where a secret is kept). */
	if (util_starts_with(name, "EMAIL_") || util_starts_with(name, "S3_") ||
	    util_starts_with(name, "AWS_") || strcmp(name, "BACKUP_WEBHOOK_URL") == 0 ||
	    strcmp(name, "BACKUP_PING_URL") == 0 || util_ends_with(name, "_FILE"))
		return true;
	/* Connection settings we set ourselves; other PG* (PGSSLMODE...) pass. */
	static const char *const ours[] = { "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER",
					     "PGPASSWORD", "PGPASSFILE", "PGDATABASE",
					     "PGSERVICE", "PGCONNECT_TIMEOUT", "PGAPPNAME" };
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
		if (strcmp(name, ours[i]) == 0)
			return true;
	return false;
}

/* vigil's environment without secrets and without the connection
 * settings db_child_env sets itself, with English messages
 * (child_env_locale; child_start applies it again to whatever it runs,
 * which changes nothing: the rule is idempotent); *n
 * gets the count. NULL when out of memory. */
static char **env_without_secrets(size_t *n)
{
	char **v = calloc(1, sizeof *v);

	*n = 0;
	if (!v)
		return NULL;
	for (char **ep = environ; ep && *ep; ep++) {
		if (drop_from_child(*ep))
			continue;
		char **nv = realloc(v, (*n + 2) * sizeof *v);
		if (!nv)
			goto fail;
		v = nv;
		v[*n] = strdup(*ep);
		if (!v[*n])
			goto fail;
		v[++*n] = NULL;
	}
	if (child_env_locale(&v, n) < 0)
		goto fail;
	return v;
fail:
	util_free_strv(v);
	return NULL;
}

char **db_tool_env(void)
{
	size_t n;

	return env_without_secrets(&n);
}

char **db_child_env(const struct config *cfg, const char *dbname)
{
	char port[16];
	size_t n;
	char **v = env_without_secrets(&n);

	if (!v)
		return NULL;
	snprintf(port, sizeof port, "%ld", cfg->pg_port);
	if (child_env_set(&v, &n, "PGHOST", cfg->pg_host) < 0 ||
	    child_env_set(&v, &n, "PGPORT", port) < 0 ||
	    child_env_set(&v, &n, "PGUSER", cfg->pg_user) < 0 ||
	    child_env_set(&v, &n, "PGDATABASE", dbname ? dbname : cfg->pg_db) < 0 ||
	    child_env_set(&v, &n, "PGCONNECT_TIMEOUT", "10") < 0 ||
	    child_env_set(&v, &n, "PGAPPNAME", "vigil") < 0)
		goto fail;
	if (cfg->pg_password && *cfg->pg_password &&
	    child_env_set(&v, &n, "PGPASSWORD", cfg->pg_password) < 0)
		goto fail;
	/* DATABASE_URL's TLS settings, under libpq's environment names. */
	if ((cfg->pg_sslmode && child_env_set(&v, &n, "PGSSLMODE", cfg->pg_sslmode) < 0) ||
	    (cfg->pg_sslrootcert && child_env_set(&v, &n, "PGSSLROOTCERT", cfg->pg_sslrootcert) < 0) ||
	    (cfg->pg_sslcert && child_env_set(&v, &n, "PGSSLCERT", cfg->pg_sslcert) < 0) ||
	    (cfg->pg_sslkey && child_env_set(&v, &n, "PGSSLKEY", cfg->pg_sslkey) < 0))
		goto fail;
	return v;
fail:
	util_free_strv(v);
	return NULL;
}

/* Keep the first bytes of `--version`'s output (the rest is read and
 * dropped). */
static int version_out(void *ctx, const char *buf, size_t n, struct err *e)
{
	struct db_version_run *v = ctx;
	size_t k = sizeof v->out - 1 - v->len;

	(void)e;
	if (n < k)
		k = n;
	memcpy(v->out + v->len, buf, k);
	v->len += k;
	return 0;
}

/* The child's stderr goes on to vigil's own, as when it was inherited. */
static void version_err_line(void *ctx, const char *line, size_t n)
{
	(void)ctx;
	fprintf(stderr, "%.*s\n", (int)n, line);
}

int db_tool_version_start(struct db_version_run *v, const char *prog, struct err *e)
{
	char *argv[] = { (char *)prog, "--version", NULL };
	char **envp = db_tool_env(); /* it needs no password (I5) */
	struct child_spec spec = {
		.argv = argv, .envp = envp, .on_stdout = version_out,
		.on_stderr_line = version_err_line, .ctx = v, .stop_signal = SIGKILL,
		/* no deadline yet: db_tool_version_finish sets it */
	};
	int rc;

	v->len = 0;
	v->out[0] = '\0';
	if (!envp)
		return err_set(e, ERR_INTERNAL, "out of memory");
	rc = child_start(&v->p, &spec, e);
	util_free_strv(envp);
	return rc;
}

int db_tool_version_finish(struct db_version_run *v, const char *prog, int *major, int *minor,
			   char *text, size_t n, struct err *e)
{
	struct child_result r;
	const char *p;

	/* The limit counts from now, not from the start: the connection
	 * attempt between start and finish may take its own 10 s per address
	 * (connect_timeout), and a version that came long ago is no hang. */
	child_set_deadline(&v->p, child_mono_ns() + (uint64_t)TOOL_VERSION_LIMIT_S * CHILD_NS_PER_S);
	if (child_finish(&v->p, &r, e) < 0) {
		if (r.stopped) {
			snprintf(e->msg, sizeof e->msg, "stopped by signal %d (%s) during `%s --version`",
				 e->signo, strsignal(e->signo), prog);
			return -1;
		}
		if (r.timed_out)
			return err_set(e, ERR_CHILD, "`%s --version` did not finish within %d s and was "
				       "killed; hint: is %s on PATH a working PostgreSQL client?",
				       prog, TOOL_VERSION_LIMIT_S, prog);
		return -1;
	}
	v->out[v->len] = '\0';
	if (!child_ok(&r)) {
		char how[128];
		child_describe(&r, how, sizeof how);
		return err_set(e, ERR_CHILD, "`%s --version` %s; hint: is the PostgreSQL client installed and on PATH?",
			       prog, how);
	}
	p = strstr(v->out, "(PostgreSQL) ");
	if (!p)
		return err_set(e, ERR_CHILD, "cannot parse `%s --version` output \"%.80s\"", prog,
			       v->out);
	p += 13;
	*major = 0;
	*minor = 0;
	if (sscanf(p, "%d.%d", major, minor) < 1)
		return err_set(e, ERR_CHILD, "cannot parse `%s --version` output \"%.80s\"", prog,
			       v->out);
	snprintf(text, n, "%d.%d", *major, *minor);
	return 0;
}

int db_tool_version(const char *prog, int *major, int *minor, char *text, size_t n,
		    struct err *e)
{
	struct db_version_run v;

	if (db_tool_version_start(&v, prog, e) < 0)
		return -1;
	return db_tool_version_finish(&v, prog, major, minor, text, n, e);
}

int db_lib_version(void)
{
	return PQlibVersion();
}

char **db_child_env_watched(const struct config *cfg, const char *dbname, int server_major)
{
	char **envp = db_child_env(cfg, dbname);
	const char *old = getenv("PGOPTIONS");
	char *opt, **nv;
	size_t n = 0;

	if (!envp || server_major < 14)
		return envp;
	while (envp[n])
		n++;
	if (asprintf(&opt, "PGOPTIONS=%s%s-c client_connection_check_interval=1000", old ? old : "",
		     old && *old ? " " : "") < 0)
		return envp;
	for (size_t i = 0; i < n; i++) {
		if (util_starts_with(envp[i], "PGOPTIONS=")) {
			free(envp[i]);
			envp[i] = opt;
			return envp;
		}
	}
	nv = realloc(envp, (n + 2) * sizeof *nv);
	if (!nv) {
		free(opt);
		return envp;
	}
	nv[n] = opt;
	nv[n + 1] = NULL;
	return nv;
}

/* dbname as a libpq connection string "dbname='...'" (libpq, "Connection
 * Strings": single quotes, with ' and \ escaped by a backslash), so that a
 * name holding '=' or starting with postgres:// is never read as a
 * connection string itself. Malloc'd; NULL when out of memory. */
char *db_dbname_conninfo(const char *dbname)
{
	size_t n = strlen(dbname), o = 0;
	char *s = malloc(2 * n + 12);

	if (!s)
		return NULL;
	memcpy(s, "dbname='", 8);
	o = 8;
	for (const char *p = dbname; *p; p++) {
		if (*p == '\'' || *p == '\\')
			s[o++] = '\\';
		s[o++] = *p;
	}
	s[o++] = '\'';
	s[o] = '\0';
	return s;
}
