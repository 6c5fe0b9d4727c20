/* dump.c - see dump.h. */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "pid1.h"
#include "util.h"

#define READ_CHUNK (1u << 20)
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
	struct child ver;
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
		pid1_kill(&ver, SIGKILL);
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

/* dbname as a libpq connection string "dbname='...'" (libpq, "Connection
 * Strings": single quotes, with ' and \ escaped by a backslash), so that a
 * name holding '=' or starting with postgres:// is never read as a
 * connection string itself. Malloc'd; NULL when out of memory. */
static char *dbname_conninfo(const char *dbname)
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
	argv[k++] = dbname_conninfo(dbname ? dbname : cfg->pg_db);
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

int dump_run(const struct config *cfg, const char *dbname, int server_major, bool custom,
	     struct stream_writer *w, struct dumpscan *scan, struct err *e)
{
	char **argv = NULL, **envp = NULL, *buf = NULL;
	struct child c = { .pid = -1, .in = -1, .out = -1, .errfd = -1 };
	struct child_tail tail = { .len = 0 };
	uint64_t total = 0;
	int status = 0, rc = -1, stop = 0, pipe_size = 0;
	bool write_failed = false;
	char magic[5];
	size_t magic_len = 0;

	argv = build_argv(cfg, dbname, custom, e);
	envp = db_child_env_watched(cfg, dbname, server_major);
	buf = malloc(READ_CHUNK);
	if (!argv || !envp || !buf) {
		if (argv)
			err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (pid1_spawn(&c, argv, envp, CHILD_STDOUT | CHILD_STDERR, e) < 0)
		goto out;
	/* A 1 MiB pipe (pipe(7), F_SETPIPE_SZ; the default limit for any user)
	 * lets pg_dump run ahead while a block is handed to the compressor,
	 * and turns its many small writes into few large reads. Best effort:
	 * with a smaller pipe, reads are not batched (below). */
	pipe_size = fcntl(c.out, F_SETPIPE_SZ, PIPE_SIZE);
	log_progress_start("dump");
	while (c.out >= 0 || c.errfd >= 0) {
		struct pollfd pf[2];
		int np = 0, r;

		if (c.out >= 0)
			pf[np++] = (struct pollfd){ .fd = c.out, .events = POLLIN };
		if (c.errfd >= 0)
			pf[np++] = (struct pollfd){ .fd = c.errfd, .events = POLLIN };
		r = poll(pf, (nfds_t)np, 250);
		if ((stop = pid1_stop_requested()) != 0) {
			pid1_kill(&c, SIGTERM);
			break;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_errno(e, ERR_INTERNAL, errno, "poll");
			pid1_kill(&c, SIGKILL);
			write_failed = true;
			break;
		}
		for (int i = 0; i < np; i++) {
			ssize_t got;
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(pf[i].fd, buf, READ_CHUNK);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				if (pf[i].fd == c.out) {
					close(c.out);
					c.out = -1;
				} else {
					close(c.errfd);
					c.errfd = -1;
				}
				continue;
			}
			if (pf[i].fd == c.errfd) {
				pid1_tail_add(&tail, buf, (size_t)got);
				continue;
			}
			if (write_failed)
				continue; /* drain so pg_dump is not stuck; we kill it below */
			if (magic_len < 5) {
				size_t k = (size_t)got < 5 - magic_len ? (size_t)got : 5 - magic_len;
				memcpy(magic + magic_len, buf, k);
				magic_len += k;
			}
			total += (uint64_t)got;
			if ((!custom && dumpscan_feed(scan, buf, (size_t)got, e) < 0) ||
			    stream_write(w, buf, (size_t)got, e) < 0) {
				write_failed = true;
				pid1_kill(&c, SIGTERM);
				continue;
			}
			log_progress(total);
			if ((size_t)got < BATCH_MIN && pipe_size >= PIPE_SIZE)
				batch_wait();
		}
	}
	log_progress_end();
	if (pid1_wait(&c, &status, write_failed ? NULL : e) < 0 && !write_failed)
		goto out;
	if (stop) {
		e->code = ERR_INTERRUPTED;
		e->signo = stop;
		snprintf(e->msg, sizeof e->msg, "stopped by signal %d (%s); pg_dump terminated", stop,
			 strsignal(stop));
		goto out;
	}
	if (write_failed)
		goto out;
	if (!pid1_ok(status)) {
		char how[128], text[1500];
		pid1_describe(status, how, sizeof how);
		pid1_tail_text(&tail, text, sizeof text);
		err_set(e, ERR_DUMP, "pg_dump %s%s%s", how, text[0] ? ": " : "", text);
		goto out;
	}
	if (total == 0) {
		err_set(e, ERR_DUMP, "pg_dump exited 0 but wrote nothing; a dump without data is not a backup");
		goto out;
	}
	if (custom) {
		if (magic_len < 5 || memcmp(magic, "PGDMP", 5) != 0) {
			err_set(e, ERR_DUMP, "pg_dump output does not start with the custom-format "
				"signature PGDMP");
			goto out;
		}
	} else {
		if (dumpscan_finish(scan, e) < 0)
			goto out;
		if (!scan->header_ok) {
			err_set(e, ERR_DUMP, "pg_dump output does not start with pg_dump's header");
			goto out;
		}
		if (!scan->complete) {
			err_set(e, ERR_DUMP, "pg_dump output has no completion trailer "
				"(\"-- PostgreSQL database dump complete\"): the dump is cut off");
			goto out;
		}
		if (dumpscan_check_commands(scan, e) < 0) {
			e->code = ERR_DUMP;
			err_prefix(e, "pg_dump output");
			goto out;
		}
	}
	if (tail.len) {
		char text[1500];
		pid1_tail_text(&tail, text, sizeof text);
		log_warn("pg_dump said: %s", text);
	}
	rc = 0;
out:
	if (c.pid > 0) {
		pid1_kill(&c, SIGKILL);
		pid1_wait(&c, &status, NULL);
	}
	util_free_strv(argv);
	util_free_strv(envp);
	free(buf);
	return rc;
}
