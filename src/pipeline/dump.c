/* dump.c - see dump.h. */
#include "pipeline/dump.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infra/child.h"
#include "infra/db.h"
#include "base/log.h"
#include "base/util.h"

#define PIPE_SIZE (1 << 20)

/* Read batching. pg_dump writes its output in stdio's 4 KiB pieces; a
 * reader that wakes for each of them spends its time in poll/read and in
 * wake-ups rather than in compression, on the same cores. After a read
 * below BATCH_MIN the loop sleeps BATCH_WAIT so the next read finds a few
 * hundred KiB: at pg_dump's rate (100-200 MB/s on the bench machine) that
 * is far from filling the 1 MiB pipe, so pg_dump never waits for us. About
 * 1.5 % of a gzip backup's wall time (README.md, "Performance"). */
#define BATCH_MIN ((size_t)256 << 10)
#define BATCH_WAIT_NS 2000000L

static void batch_wait(void)
{
	struct timespec ts = { 0, BATCH_WAIT_NS };

	nanosleep(&ts, NULL);
}

int dump_preflight(const struct config *cfg, struct dump_info *info, struct err *e)
{
	struct db *db = NULL;
	struct db_version_run ver;
	struct err ignored;
	int num, major, minor;

	memset(info, 0, sizeof *info);
	/* `pg_dump --version` runs while we connect: both are start-up
	 * latency of every backup. A connection failure is the error reported;
	 * the child is reaped either way. */
	if (db_tool_version_start(&ver, "pg_dump", e) < 0)
		return -1;
	if (db_connect(cfg, NULL, &db, e) < 0) {
		/* its answer is not needed: do not wait for a slow one */
		child_kill(&ver.p, SIGKILL);
		err_clear(&ignored);
		(void)db_tool_version_finish(&ver, "pg_dump", &major, &minor, info->pg_dump_version,
					     sizeof info->pg_dump_version, &ignored);
		info->pg_dump_version[0] = '\0';
		return -1;
	}
	num = db_server_version_num(db);
	db_close(db);
	info->server_major = num / 10000;
	snprintf(info->server_version, sizeof info->server_version, "%d.%d", num / 10000, num % 10000);
	if (db_tool_version_finish(&ver, "pg_dump", &major, &minor, info->pg_dump_version,
				   sizeof info->pg_dump_version, e) < 0)
		return -1;
	if (major < info->server_major)
		return err_set(e, ERR_DB_VERSION,
			       "pg_dump %s is older than the server (PostgreSQL %s) and cannot dump it; "
			       "hint: use the PostgreSQL %d client (image build argument PG_MAJOR=%d)",
			       info->pg_dump_version, info->server_version, info->server_major,
			       info->server_major);
	return 0;
}

/* True when words (NULL-ended, may be NULL) has opt as "opt", "opt=..." . */
static bool has_opt(char **words, const char *opt)
{
	size_t n = strlen(opt);

	for (size_t i = 0; words && words[i]; i++)
		if (strncmp(words[i], opt, n) == 0 && (words[i][n] == '\0' || words[i][n] == '='))
			return true;
	return false;
}

/* pg_dump's argv: its options, PG_DUMP_EXTRA_OPTS, and the database as the
 * last, positional argument. pg_dump takes a second positional argument as
 * an error ("too many command-line arguments"), so a word in
 * PG_DUMP_EXTRA_OPTS that pg_dump does not take as an option's value (after
 * an option vigil does not know) fails the dump loudly instead of quietly
 * naming another database, as PGDATABASE alone allowed. */
static char **build_argv(const struct config *cfg, const char *dbname, bool custom,
			 struct err *e)
{
	char **extra = NULL, **argv;
	size_t n_extra = 0, k = 0;

	if (cfg->pg_dump_extra_opts && *cfg->pg_dump_extra_opts) {
		extra = util_split_words(cfg->pg_dump_extra_opts, e);
		if (!extra) {
			err_prefix(e, "PG_DUMP_EXTRA_OPTS");
			return NULL;
		}
		while (extra[n_extra])
			n_extra++;
	}
	argv = calloc(n_extra + 6, sizeof *argv);
	if (!argv) {
		util_free_strv(extra);
		err_set(e, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	argv[k++] = strdup("pg_dump");
	argv[k++] = strdup("--no-password");
	/* A session holding an ACCESS EXCLUSIVE lock would make pg_dump wait
	 * forever (F6). The operator's own --lock-wait-timeout in
	 * PG_DUMP_EXTRA_OPTS wins: it comes later, and is then not added. */
	if (!has_opt(extra, "--lock-wait-timeout")) {
		char opt[64];
		snprintf(opt, sizeof opt, "--lock-wait-timeout=%lds", cfg->lock_wait_timeout);
		argv[k++] = strdup(opt);
	}
	if (custom)
		argv[k++] = strdup("--format=custom");
	for (size_t i = 0; i < n_extra; i++)
		argv[k++] = extra[i];
	free(extra);
	argv[k++] = db_dbname_conninfo(dbname ? dbname : cfg->pg_db);
	argv[k] = NULL;
	for (size_t i = 0; i < k; i++) {
		if (!argv[i]) {
			util_free_strv(argv);
			err_set(e, ERR_INTERNAL, "out of memory");
			return NULL;
		}
	}
	return argv;
}

/* pg_dump options that vigil sets itself or that break the pipeline, with
 * the way forward (pg_dump(1), PostgreSQL 15). */
static const struct {
	char short_name;
	const char *long_name;
	const char *why;
} refused_opts[] = {
	{ 'f', "file", "vigil reads the dump from pg_dump's standard output" },
	{ 'F', "format", "the format is BACKUP_FORMAT's" },
	{ 'j', "jobs", "parallel jobs need the directory format, which vigil does not stream" },
	{ 'Z', "compress", "vigil compresses; set BACKUP_COMPRESSION and BACKUP_COMPRESSION_LEVEL" },
	{ 'C', "create", "vigil's restore creates the database itself and refuses the \\connect "
			 "this option writes" },
	{ 'd', "dbname", "set POSTGRES_DB (or DATABASE_URL)" },
	{ 'h', "host", "set POSTGRES_HOST (or DATABASE_URL)" },
	{ 'p', "port", "set POSTGRES_PORT (or DATABASE_URL)" },
	{ 'U', "username", "set POSTGRES_USER (or DATABASE_URL)" },
	{ 'W', "password", "pg_dump would prompt; set POSTGRES_PASSWORD" },
	{ 'V', "version", "pg_dump would print its version and dump nothing" },
	{ '?', "help", "pg_dump would print its help and dump nothing" },
	{ 0, "binary-upgrade", "it is for pg_upgrade only" },
};

/* Short options of pg_dump 15 that take an argument (pg_dump.c's getopt
 * string), and the long ones. */
static const char short_with_arg[] = "dEefFhjNnpSTtUZ";
static const char *const long_with_arg[] = {
	"compress", "dbname", "encoding", "exclude-schema", "exclude-table",
	"exclude-table-data", "extension", "extra-float-digits", "file", "format", "host",
	"include-foreign-data", "jobs", "lock-wait-timeout", "port", "restrict-key", "role",
	"rows-per-insert", "schema", "section", "snapshot", "superuser", "table", "username",
};
static const char *const long_without_arg[] = {
	"attribute-inserts", "no-acl", "no-reconnect", "no-synchronized-snapshots", /* hidden */
	"binary-upgrade", "blobs", "clean", "column-inserts", "create", "data-only",
	"disable-dollar-quoting", "disable-triggers", "enable-row-security", "help", "if-exists",
	"inserts", "load-via-partition-root", "no-blobs", "no-comments", "no-owner", "no-password",
	"no-privileges", "no-publications", "no-security-labels", "no-subscriptions", "no-sync",
	"no-table-access-method", "no-tablespaces", "no-toast-compression",
	"no-unlogged-table-data", "on-conflict-do-nothing", "password", "quote-all-identifiers",
	"schema-only", "serializable-deferrable", "strict-names",
	"use-set-session-authorization", "verbose", "version",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int refuse_opt(const char *word, size_t i, struct err *e)
{
	return err_set(e, ERR_CONFIG, "PG_DUMP_EXTRA_OPTS: %s is not allowed: %s; hint: remove it",
		       word, refused_opts[i].why);
}

/* The long option that "--" + name[0..n) stands for, as getopt_long
 * resolves it (an exact name, or the only one it abbreviates); NULL when
 * it names none of pg_dump 15's (a newer pg_dump's option: pg_dump
 * decides) or several. *with_arg tells whether it takes an argument. */
static const char *long_opt(const char *name, size_t n, bool *with_arg)
{
	const char *hit = NULL;
	int hits = 0;

	for (int pass = 0; pass < 2; pass++) {
		const char *const *v = pass ? long_without_arg : long_with_arg;
		size_t nv = pass ? N_OF(long_without_arg) : N_OF(long_with_arg);
		for (size_t i = 0; i < nv; i++) {
			if (strncmp(v[i], name, n) != 0)
				continue;
			if (strlen(v[i]) == n) {
				*with_arg = !pass;
				return v[i];
			}
			hit = v[i];
			*with_arg = !pass;
			hits++;
		}
	}
	return hits == 1 ? hit : NULL;
}

int dump_check_extra_opts(const char *opts, struct err *e)
{
	char **w;
	int rc = -1;
	bool arg_next = false, maybe_arg_next = false;

	if (!opts || !*opts)
		return 0;
	w = util_split_words(opts, e);
	if (!w) {
		err_prefix(e, "PG_DUMP_EXTRA_OPTS");
		if (e->code == ERR_CONFIG)
			err_suffix(e, "; hint: close the quote, or escape a literal quote with a "
				   "backslash (the value is split as a shell would, without expansion)");
		e->code = ERR_CONFIG;
		return -1;
	}
	for (size_t k = 0; w[k]; k++) {
		const char *a = w[k];
		if (arg_next || (maybe_arg_next && a[0] != '-')) {
			arg_next = maybe_arg_next = false;
			continue;
		}
		arg_next = maybe_arg_next = false;
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			size_t n = strcspn(a + 2, "=");
			bool with_arg = false;
			const char *name = long_opt(a + 2, n, &with_arg);
			if (!name) {
				maybe_arg_next = a[2 + n] != '=';
				continue;
			}
			for (size_t i = 0; i < N_OF(refused_opts); i++)
				if (strcmp(refused_opts[i].long_name, name) == 0) {
					refuse_opt(a, i, e);
					goto out;
				}
			arg_next = with_arg && a[2 + n] != '=';
		} else if (a[0] == '-' && a[1]) {
			for (const char *c = a + 1; *c; c++) {
				for (size_t i = 0; i < N_OF(refused_opts); i++)
					if (refused_opts[i].short_name == *c) {
						refuse_opt(a, i, e);
						goto out;
					}
				if (strchr(short_with_arg, *c)) {
					arg_next = c[1] == '\0';
					break;
				}
			}
		} else {
			err_set(e, ERR_CONFIG, "PG_DUMP_EXTRA_OPTS: \"%s\" is not an option; a database "
				"name there would make pg_dump dump another database than POSTGRES_DB; "
				"hint: remove it", a);
			goto out;
		}
	}
	if (arg_next) {
		err_set(e, ERR_CONFIG, "PG_DUMP_EXTRA_OPTS: the last option needs a value");
		goto out;
	}
	rc = 0;
out:
	util_free_strv(w);
	return rc;
}

/* What dump_take needs while pg_dump's stdout streams in. */
struct dump_sink {
	struct stream_writer *w;
	struct dumpscan *scan; /* plain dumps only */
	bool custom;
	bool batch;            /* the pipe is PIPE_SIZE: batch the reads */
	uint64_t total;
	char magic[5];
	size_t magic_len;
};

/* pg_dump's stdout, a chunk at a time (child_spec.on_stdout): keep its
 * first bytes for the signature, scan a plain dump, write it into the
 * stream. A failure of the writer (ENOSPC) or the scan stops pg_dump. */
static int dump_take(void *ctx, const char *buf, size_t n, struct err *e)
{
	struct dump_sink *d = ctx;

	if (d->magic_len < 5) {
		size_t k = n < 5 - d->magic_len ? n : 5 - d->magic_len;
		memcpy(d->magic + d->magic_len, buf, k);
		d->magic_len += k;
	}
	d->total += (uint64_t)n;
	if ((!d->custom && dumpscan_feed(d->scan, buf, n, e) < 0) ||
	    stream_write(d->w, buf, n, e) < 0)
		return -1;
	log_progress(d->total);
	if (n < BATCH_MIN && d->batch)
		batch_wait();
	return 0;
}

/* pg_dump ended by itself: it must have exited 0. */
static int dump_check_exit(const struct child_result *r, struct err *e)
{
	char how[128], text[1500];

	if (child_ok(r))
		return 0;
	child_describe(r, how, sizeof how);
	child_tail_text(r, text, sizeof text);
	return err_set(e, ERR_DUMP, "pg_dump %s%s%s", how, text[0] ? ": " : "", text);
}

/* pg_dump exited 0: what it wrote must be a whole dump (invariant I1 (docs/design.md)): not
 * empty; a custom archive starts with PGDMP; a plain dump has pg_dump's
 * header, its completion trailer and no command psql would run. */
static int dump_check_output(struct dump_sink *d, struct err *e)
{
	if (d->total == 0)
		return err_set(e, ERR_DUMP, "pg_dump exited 0 but wrote nothing; a dump without data "
			       "is not a backup");
	if (d->custom) {
		if (d->magic_len < 5 || memcmp(d->magic, "PGDMP", 5) != 0)
			return err_set(e, ERR_DUMP, "pg_dump output does not start with the "
				       "custom-format signature PGDMP");
		return 0;
	}
	if (dumpscan_finish(d->scan, e) < 0)
		return -1;
	if (!d->scan->header_ok)
		return err_set(e, ERR_DUMP, "pg_dump output does not start with pg_dump's header");
	if (!d->scan->complete)
		return err_set(e, ERR_DUMP, "pg_dump output has no completion trailer "
			       "(\"-- PostgreSQL database dump complete\"): the dump is cut off");
	if (dumpscan_check_commands(d->scan, e) < 0) {
		e->code = ERR_DUMP;
		err_prefix(e, "pg_dump output");
		return -1;
	}
	return 0;
}

int dump_run(const struct config *cfg, const char *dbname, int server_major, bool custom,
	     struct stream_writer *w, struct dumpscan *scan, struct err *e)
{
	char **argv = build_argv(cfg, dbname, custom, e);
	char **envp = db_child_env_watched(cfg, dbname, server_major);
	struct dump_sink d = { .w = w, .scan = scan, .custom = custom };
	/* A 1 MiB pipe (pipe(7), F_SETPIPE_SZ; the default limit for any user)
	 * lets pg_dump run ahead while a block is handed to the compressor,
	 * and turns its many small writes into few large reads. Best effort:
	 * with a smaller pipe, reads are not batched (dump_take). On a stop
	 * request (or the run's deadline, PID1_DEADLINE) pg_dump gets SIGTERM:
	 * "stopped by signal N (...); pg_dump terminated" (child_finish). */
	struct child_spec spec = { .argv = argv, .envp = envp, .on_stdout = dump_take, .ctx = &d,
				   .stdout_pipe_size = PIPE_SIZE };
	struct child_proc p;
	struct child_result r;
	int rc = -1;

	if (!argv || !envp) {
		if (argv)
			err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (child_start(&p, &spec, e) < 0)
		goto out;
	d.batch = child_stdout_pipe_size(&p) >= PIPE_SIZE;
	log_progress_start("dump");
	rc = child_finish(&p, &r, e);
	log_progress_end();
	if (rc < 0 || (rc = dump_check_exit(&r, e)) < 0 || (rc = dump_check_output(&d, e)) < 0)
		goto out;
	if (r.tail.len) {
		char text[1500];
		child_tail_text(&r, text, sizeof text);
		log_warn("pg_dump said: %s", text);
	}
out:
	util_free_strv(argv);
	util_free_strv(envp);
	return rc;
}
