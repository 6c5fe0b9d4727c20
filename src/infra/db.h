/* db.h - the PostgreSQL seam: libpq lives only in db.c (one home per library, docs/design.md).
 *
 * Connections are made with PQconnectdbParams (keyword/value arrays, so no
 * connection-string quoting of passwords), a connect timeout and
 * application_name "vigil". Child programs (pg_dump, psql, pg_restore) get
 * the connection parameters in their environment (PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE), never on their command line (invariant I5 (docs/design.md)).
 */
#ifndef VIGIL_DB_H
#define VIGIL_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "infra/child.h"
#include "base/config.h"
#include "base/err.h"

struct db;
struct db_rows;

/* Connect to dbname (NULL = cfg->pg_db) with cfg's host, port, user and
 * password; 10 s connect timeout. *out is owned by the caller (db_close).
 * Returns 0 or -1 with e set (ERR_DB_CONNECT, libpq's message, e.g.
 * "password authentication failed for user ..."). */
int db_connect(const struct config *cfg, const char *dbname, struct db **out, struct err *e);

/* Close and free; NULL is ok. */
void db_close(struct db *db);

/* Server version as PQserverVersion gives it (150020 for 15.20). */
int db_server_version_num(struct db *db);

/* Run a statement that returns no rows. Returns 0 or -1 with e set: the
 * server's message, ERR_DB_QUERY when the statement failed on a live
 * connection, ERR_DB_CONNECT when the connection broke. */
int db_exec(struct db *db, const char *sql, struct err *e);

/* Run a query with text parameters ($1..$n). *rows is owned by the caller
 * (db_rows_free). Returns 0 or -1 with e set (as db_exec). */
int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     struct db_rows **rows, struct err *e);

int db_rows_count(const struct db_rows *r);
/* Value of row r, column c; "" for NULL. Owned by rows. */
const char *db_rows_get(const struct db_rows *rows, int r, int c);
bool db_rows_isnull(const struct db_rows *rows, int r, int c);
void db_rows_free(struct db_rows *r);

/* First column of the first row as a malloc'd string (caller frees), or
 * -1 with e set (also when there is no row). */
int db_query_value(struct db *db, const char *sql, int nparams, const char *const *params,
		   char **out, struct err *e);

/* The server's lock table: max_locks_per_transaction, max_connections and
 * max_prepared_transactions as SHOW gives them. The PostgreSQL manual
 * (runtime-config-locks, max_locks_per_transaction) sizes the shared lock
 * table for per_xact * (connections + prepared) objects, which is the most
 * one transaction can count on. Returns 0 or -1 with e set. */
struct db_lock_cap {
	long per_xact, connections, prepared;
};
int db_lock_capacity(struct db *db, struct db_lock_cap *cap, struct err *e);

/* Quote an identifier / a literal for SQL text (PQescapeIdentifier /
 * PQescapeLiteral). Malloc'd, caller frees; NULL when out of memory. */
char *db_quote_ident(struct db *db, const char *s);
char *db_quote_literal(struct db *db, const char *s);

/* Environment for a child program connecting to dbname (NULL means
 * cfg->pg_db): the current environment minus every variable that holds a
 * secret of vigil's (names containing PASSWORD, SECRET or TOKEN,
 * DATABASE_URL, every *_FILE, EMAIL_*, S3_*, AWS_*, BACKUP_WEBHOOK_URL and
 * BACKUP_PING_URL: the alert and offsite settings are no tool's business)
 * or a PG* connection setting, plus PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGCONNECT_TIMEOUT, PGAPPNAME, and LC_MESSAGES=C (an LC_ALL
 * of the operator's becomes the same value for the other categories, so
 * messages are English and data keep their locale). Free with
 * util_free_strv. NULL when out of memory. */
char **db_child_env(const struct config *cfg, const char *dbname);

/* The environment of a PostgreSQL tool that needs no connection
 * (pg_restore --list, --version): vigil's own without secrets (I5), with
 * LC_MESSAGES=C as every child gets it. Malloc'd vector, free with
 * util_free_strv; NULL when out of memory. */
char **db_tool_env(void);

/* db_child_env plus, for servers of major version 14 and later,
 * "-c client_connection_check_interval=1000" added to PGOPTIONS: the
 * child's backend then notices within a second that the child was killed
 * and ends its statement and transaction, instead of running on (a lock
 * wait, an index build) until it next talks to the client. PostgreSQL
 * manual, client_connection_check_interval. server_major 0 = unknown (no
 * option: older servers reject it). NULL when out of memory. */
char **db_child_env_watched(const struct config *cfg, const char *dbname, int server_major);

/* Run `<prog> --version` (prog from PATH, e.g. "pg_dump", "psql"; its
 * environment without secrets) and parse "<prog> (PostgreSQL) 15.20 ...".
 * major and minor get 15 and 20; text (size n) gets "15.20". A child that
 * has not answered within 10 s is killed (ERR_CHILD); a stop request
 * (SIGTERM/SIGINT) kills it too (ERR_INTERRUPTED). Returns 0 or -1 with e
 * set (ERR_CHILD, ERR_INTERRUPTED). */
int db_tool_version(const char *prog, int *major, int *minor, char *text, size_t n,
		    struct err *e);

/* db_tool_version in two halves, so the child runs while the caller does
 * something else (dump_preflight connects meanwhile): _start spawns
 * `<prog> --version` into v (caller-owned; ERR_CHILD when it cannot be
 * started); _finish reads, reaps and parses it as db_tool_version does, and
 * must be called once for every successful _start, also when the caller no
 * longer wants the answer (child_kill(&v->p, SIGKILL) first ends it at
 * once). The child's stderr goes on to vigil's stderr, line by line. */
struct db_version_run {
	struct child_proc p;
	char out[512]; /* the first bytes of its stdout */
	size_t len;
};
int db_tool_version_start(struct db_version_run *v, const char *prog, struct err *e);
int db_tool_version_finish(struct db_version_run *v, const char *prog, int *major, int *minor,
			   char *text, size_t n, struct err *e);

/* libpq's version as PQlibVersion gives it (150020). */
int db_lib_version(void);

/* dbname as a libpq connection string "dbname='...'" (libpq, "Connection
 * Strings": single quotes, with ' and \ escaped by a backslash), for a
 * client's --dbname: a name holding '=' or starting with postgres:// is then
 * never read as a connection string itself. Malloc'd (caller frees); NULL
 * when out of memory. */
char *db_dbname_conninfo(const char *dbname);

#endif
