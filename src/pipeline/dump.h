/* dump.h - the logical dump: pg_dump as a child, its stdout streamed
 * through a stream_writer (README "A backup run", steps 2-3). */
#ifndef VIGIL_DUMP_H
#define VIGIL_DUMP_H

#include <stdbool.h>

#include "base/config.h"
#include "pipeline/dumpscan.h"
#include "base/err.h"
#include "infra/stream.h"

struct dump_info {
	char server_version[32];  /* "15.20" */
	char pg_dump_version[32]; /* "15.20" */
	int server_major;
};

/* Pre-flight: connect over libpq (10 s timeout), read the server version,
 * run `pg_dump --version`, and refuse when pg_dump's major version is older
 * than the server's (ERR_DB_VERSION, naming both). Returns 0 or -1 with e
 * set (ERR_DB_CONNECT with libpq's reason, ERR_CHILD, ERR_DB_VERSION). */
int dump_preflight(const struct config *cfg, struct dump_info *info, struct err *e);

/* Check PG_DUMP_EXTRA_OPTS (opts, may be NULL) before anything runs:
 * its shell-style quoting must be balanced, and it may not hold an option
 * that vigil sets itself or that breaks the dump's pipeline (-f, -F, -j,
 * -Z, -C, the connection options, -W, -V, -?, --binary-upgrade; long names
 * and their getopt abbreviations alike, in short-option groups too) nor a
 * bare word that is no option's value. Options pg_dump 15 does not know
 * pass (a newer pg_dump decides). Pure. Returns 0 or -1 with e set
 * (ERR_CONFIG naming PG_DUMP_EXTRA_OPTS and the option, with a hint). */
int dump_check_extra_opts(const char *opts, struct err *e);

/* Run pg_dump on dbname (NULL = cfg->pg_db) with cfg's options
 * (--format=custom when custom, PG_DUMP_EXTRA_OPTS) and stream its stdout
 * into w. server_major (from dump_preflight) decides whether pg_dump's
 * session gets client_connection_check_interval (PostgreSQL 14+). For a plain dump, scan (initialised by the caller, owned by the
 * caller) tallies COPY rows and must find pg_dump's completion trailer.
 * pg_dump's stderr is kept as a bounded tail for the error message.
 * Returns 0 or -1 with e set: ERR_DUMP ("pg_dump exited 1: <stderr>",
 * "pg_dump killed by signal 9", "pg_dump wrote nothing", "no completion
 * trailer"), ERR_NOSPACE / ERR_IO from the writer, ERR_INTERRUPTED when a
 * stop was requested (pg_dump's process group is terminated first). */
int dump_run(const struct config *cfg, const char *dbname, int server_major, bool custom,
	     struct stream_writer *w, struct dumpscan *scan, struct err *e);

#endif
