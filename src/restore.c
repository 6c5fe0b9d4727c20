/* restore.c - see restore.h. The order of steps is the contract of SPEC
 * section 7: nothing live is touched until every named backup passed
 * validation, the operator confirmed, and the safety copies exist; the new
 * database is complete and its row counts checked inside the loading
 * transaction before it is swapped in (I4).
 *
 * A plain dump restored through a scratch database (the default) is read
 * once: its checksum and start are checked before the confirmation, the
 * rest (full decompression, meta-commands, trailer) while it loads into the
 * scratch database, which nothing live depends on; a failure there is a
 * refusal like any other (exit 2, no safety copy, nothing changed). The
 * safety copies follow the load, right before the swap. --in-place and
 * custom-format archives are validated in a pass of their own first. */
#include "restore.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "media.h"
#include "backup.h"
#include "catalog.h"
#include "db.h"
#include "dumpscan.h"
#include "list.h"
#include "lock.h"
#include "log.h"
#include "pid1.h"
#include "util.h"
#include "verify.h"

#define CHUNK (1u << 20)
#define PG_NAME_MAX 63

struct ropts {
	const char *db, *media, *target;
	bool yes, no_safety, in_place, list;
};

/* ---- feeding a child's stdin while draining its stderr ---- */

#define FEED_BUF (256u << 10)

struct feeder {
	struct child *c;
	struct child_tail tail;
	bool child_gone; /* stdin closed by the child (it stopped reading) */
	uint64_t fed;
	char *buf;       /* FEED_BUF bytes gathered before a write */
	size_t len;
	const struct dumpscan *scan; /* for copy_hook */
};

static void drain_stderr(struct feeder *f, bool block)
{
	char buf[4096];

	while (f->c->errfd >= 0) {
		struct pollfd pf = { .fd = f->c->errfd, .events = POLLIN };
		ssize_t n;
		if (poll(&pf, 1, block ? 250 : 0) <= 0)
			return;
		n = read(f->c->errfd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(f->c->errfd);
			f->c->errfd = -1;
			return;
		}
		pid1_tail_add(&f->tail, buf, (size_t)n);
	}
}

static int feed_write(struct feeder *f, const void *buf, size_t n, struct err *e);

/* On SIGTERM/SIGINT: kill the child's group before it can commit and
 * return -1 with e set (ERR_INTERRUPTED); else 0. */
static int abandon_on_stop(struct feeder *f, struct err *e)
{
	int sig = pid1_stop_requested();

	if (!sig)
		return 0;
	pid1_kill(f->c, SIGKILL);
	e->code = ERR_INTERRUPTED;
	e->signo = sig;
	snprintf(e->msg, sizeof e->msg, "stopped by signal %d; the load was abandoned", sig);
	return -1;
}

/* Drain the child's stderr until it closes (the child exits), but give up
 * on SIGTERM/SIGINT: the child's group is killed (a psql that has not
 * committed rolls back) and -1 returned with e set (ERR_INTERRUPTED). A
 * long statement at the end of a dump (an index build) would otherwise
 * hold the stop until it finished. */
static int drain_until_exit(struct feeder *f, struct err *e)
{
	while (f->c->errfd >= 0) {
		if (abandon_on_stop(f, e) < 0)
			return -1;
		drain_stderr(f, true);
	}
	return 0;
}

/* The dump scanner hands over a line at a time; gather them so psql gets
 * large writes (one poll and one write per FEED_BUF, not per COPY row). */
static int feed(void *ctx, const void *buf, size_t n, struct err *e)
{
	struct feeder *f = ctx;

	if (f->len + n > FEED_BUF) {
		if (feed_write(f, f->buf, f->len, e) < 0)
			return -1;
		f->len = 0;
		if (n > FEED_BUF)
			return feed_write(f, buf, n, e);
	}
	memcpy(f->buf + f->len, buf, n);
	f->len += n;
	return 0;
}

static int feed_flush(struct feeder *f, struct err *e)
{
	int rc = f->len ? feed_write(f, f->buf, f->len, e) : 0;

	f->len = 0;
	return rc;
}

static int feed_write(struct feeder *f, const void *buf, size_t n, struct err *e)
{
	const char *p = buf;

	while (n > 0 && !f->child_gone) {
		struct pollfd pf[2];
		int np = 1;

		pf[0] = (struct pollfd){ .fd = f->c->in, .events = POLLOUT };
		if (f->c->errfd >= 0)
			pf[np++] = (struct pollfd){ .fd = f->c->errfd, .events = POLLIN };
		if (poll(pf, (nfds_t)np, 250) < 0 && errno != EINTR)
			return err_errno(e, ERR_INTERNAL, errno, "poll");
		if (abandon_on_stop(f, e) < 0)
			return -1;
		if (np > 1 && (pf[1].revents & (POLLIN | POLLHUP)))
			drain_stderr(f, false);
		if (pf[0].revents & (POLLERR | POLLHUP)) {
			f->child_gone = true;
			break;
		}
		if (pf[0].revents & POLLOUT) {
			ssize_t w = write(f->c->in, p, n);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				if (errno == EPIPE) {
					f->child_gone = true;
					break;
				}
				return err_errno(e, ERR_RESTORE, errno, "cannot write to %s", f->c->name);
			}
			p += w;
			n -= (size_t)w;
			f->fed += (uint64_t)w;
		}
	}
	log_progress(f->fed);
	return 0;
}

static void random_key(char out[33]);

/* ---- SQL text helpers ---- */

/* Append printf output to a growable string. Returns 0 or -1 (no memory). */
static int sb_add(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sb_add(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *ns;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	ns = realloc(*s, *len + (size_t)n + 1);
	if (!ns)
		return -1;
	*s = ns;
	va_start(ap, fmt);
	vsnprintf(*s + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
	return 0;
}

/* The row check: DO blocks that fail the load when the rows a table got
 * differ from what the dump's COPY blocks for it held.
 *
 * The count is the transaction's own insert counter for the table minus
 * its delete counter (pg_stat_get_xact_tuples_inserted/_deleted, the
 * functions behind pg_stat_xact_user_tables.n_tup_ins/n_tup_del;
 * PostgreSQL manual, "The Cumulative Statistics System"): COPY counts every
 * row it stores, a row a trigger dropped is not counted and one deleted
 * later in the transaction is subtracted. Reading it costs nothing, where
 * count(*) scanned every table again (about 7 % of a restore's time on the
 * bench's 390 MB table). With track_counts off the counters stay 0, so the
 * check falls back to count(*).
 *
 * Two shapes. --in-place loads in one transaction, and row_check_sql checks
 * every table at its end, the rows of several blocks naming the same table
 * added up. A scratch database is loaded statement by statement, so each
 * COPY block runs in a transaction of its own (BEGIN before its header,
 * block_check_sql and COMMIT after its "\."; see copy_hook) and is checked
 * there against its own rows. In the count(*) fallback the scratch
 * database's table holds what all blocks so far put there, so the block's
 * expected rows are then all rows so far (sofar).
 *
 * A partitioned table is counted over its whole tree (pg_partition_tree):
 * with pg_dump --load-via-partition-root every partition's rows arrive in
 * a COPY block naming the root.
 *
 * An extension's configuration table (pg_extension.extconfig, e.g.
 * PostGIS's spatial_ref_sys) is filled by CREATE EXTENSION as well, and
 * pg_dump dumps only the rows the user added (PostgreSQL manual, "Extension
 * Configuration Tables"): it must hold at least the dump's rows. */
static int check_open(char **s, size_t *len, char tag[48])
{
	char key[33];

	/* A dollar-quote tag no table name can hold (a name holding a fixed
	 * tag would have had to be skipped). */
	random_key(key);
	snprintf(tag, 48, "$vigil_%.16s$", key);
	return sb_add(s, len, "DO %s DECLARE n bigint; part boolean; xcfg boolean; tc boolean := "
		      "pg_catalog.current_setting('track_counts')::boolean; BEGIN\n", tag);
}

/* t (a table name as written after COPY) as the body of an SQL literal. */
static void table_lit(const char *t, char lit[1200])
{
	size_t o = 0;

	for (const char *p = t; *p && o + 3 < 1200; p++) {
		if (*p == '\'')
			lit[o++] = '\'';
		lit[o++] = *p;
	}
	lit[o] = '\0';
}

/* The counters of a table are kept per backend until it reports them (when
 * idle outside a transaction, at most once a second), so a block's own
 * transaction sees the rows of earlier blocks for the same table (several
 * with --load-via-partition-root) too, or not, depending on that report.
 * A block's check therefore subtracts the value the counters had at its
 * BEGIN (copy_hook stores it in the transaction-local setting
 * vigil.rows_before); within a transaction block nothing is reported. */
#define ROWS_BEFORE "pg_catalog.current_setting('vigil.rows_before')::bigint"

/* The statements checking table t (as written after COPY) for rows
 * (counters, minus ROWS_BEFORE with delta) or all_rows (count(*)). */
static int check_table(char **s, size_t *len, const char *t, uint64_t rows, uint64_t all_rows,
		       bool delta)
{
	char lit[1200];
	const char *minus = delta ? " - " ROWS_BEFORE : "";

	table_lit(t, lit);
	return sb_add(s, len,
		      "SELECT c.relkind = 'p', EXISTS (SELECT 1 FROM pg_catalog.pg_extension x "
		      "WHERE c.oid = ANY (x.extconfig)) INTO part, xcfg FROM pg_catalog.pg_class c "
		      "WHERE c.oid = '%s'::pg_catalog.regclass;\n"
		      "IF part AND tc THEN SELECT coalesce(sum("
		      "pg_catalog.pg_stat_get_xact_tuples_inserted(relid) - "
		      "pg_catalog.pg_stat_get_xact_tuples_deleted(relid)), 0)%s INTO n "
		      "FROM pg_catalog.pg_partition_tree('%s'::pg_catalog.regclass);\n"
		      "ELSIF part THEN SELECT count(*) - %llu INTO n FROM %s;\n"
		      "ELSIF tc THEN n := pg_catalog.pg_stat_get_xact_tuples_inserted("
		      "'%s'::pg_catalog.regclass) - pg_catalog.pg_stat_get_xact_tuples_deleted("
		      "'%s'::pg_catalog.regclass)%s;\n"
		      "ELSE SELECT count(*) - %llu INTO n FROM ONLY %s; END IF;\n"
		      "IF (xcfg AND n < %llu) OR (NOT xcfg AND n <> %llu) THEN RAISE EXCEPTION "
		      "'vigil: table %% has %% rows after loading, the dump holds %%', '%s', n, %llu; "
		      "END IF;\n",
		      lit, minus, lit, (unsigned long long)(all_rows - rows), t, lit, lit, minus,
		      (unsigned long long)(all_rows - rows), t, (unsigned long long)rows,
		      (unsigned long long)rows, lit, (unsigned long long)rows);
}

/* --in-place: one DO block checking every table at the end of the load.
 * Malloc'd (caller frees); NULL when out of memory. */
static char *row_check_sql(const struct dumpscan *scan)
{
	char *s = NULL, tag[48];
	size_t len = 0;

	if (check_open(&s, &len, tag) < 0)
		goto oom;
	for (size_t i = 0; i < scan->n_tables; i++) {
		const char *t = scan->tables[i].name;
		uint64_t rows = 0;
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(scan->tables[k].name, t) == 0;
		if (seen)
			continue;
		for (size_t k = i; k < scan->n_tables; k++)
			if (strcmp(scan->tables[k].name, t) == 0)
				rows += scan->tables[k].rows;
		if (check_table(&s, &len, t, rows, rows, false) < 0)
			goto oom;
	}
	if (sb_add(&s, &len, "END %s;", tag) < 0)
		goto oom;
	return s;
oom:
	free(s);
	return NULL;
}

/* A scratch load: the check of the COPY block scan->tables[i] (the last
 * one so far), to run in that block's own transaction. Malloc'd (caller
 * frees); NULL when out of memory. */
static char *block_check_sql(const struct dumpscan *scan, size_t i)
{
	const char *t = scan->tables[i].name;
	char *s = NULL, tag[48];
	size_t len = 0;
	uint64_t sofar = 0;

	for (size_t k = 0; k <= i; k++)
		if (strcmp(scan->tables[k].name, t) == 0)
			sofar += scan->tables[k].rows;
	if (check_open(&s, &len, tag) < 0 || check_table(&s, &len, t, scan->tables[i].rows, sofar, true) < 0 ||
	    sb_add(&s, &len, "END %s;\n", tag) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* For --in-place: remove every object of the database, then recreate the
 * standard public schema as initdb makes it in PostgreSQL 15. Runs in the
 * loading transaction, so a failed load rolls it back too.
 *
 * What pg_dump writes that lives outside any schema is found in the
 * catalogs (TRIAL F9): event triggers (first, so none fires on the drops),
 * publications, foreign servers (CASCADE takes their user mappings and
 * foreign tables), foreign-data wrappers; those that belong to an extension
 * (pg_depend deptype 'e', e.g. postgres_fdw's wrapper) are the extension's
 * and pg_dump does not write them either. Then all non-system schemas with
 * what they hold (extensions installed in them go with them) and the large
 * objects. Subscriptions are left alone: dropping one in a transaction
 * block is refused while it has a replication slot, and pg_dump writes
 * them only for a superuser. */
#define NOT_EXT_MEMBER(cat, alias) \
	"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '" cat \
	"'::pg_catalog.regclass AND d.objid = " alias ".oid AND d.deptype = 'e')"
static const char drop_all_sql[] =
	"SET client_min_messages = warning;\n"
	"DO $vigil_drop$ DECLARE r record; BEGIN\n"
	"  FOR r IN SELECT evtname FROM pg_catalog.pg_event_trigger x\n"
	"    WHERE " NOT_EXT_MEMBER("pg_catalog.pg_event_trigger", "x") "\n"
	"  LOOP EXECUTE format('DROP EVENT TRIGGER %I', r.evtname); END LOOP;\n"
	"  FOR r IN SELECT pubname FROM pg_catalog.pg_publication x\n"
	"    WHERE " NOT_EXT_MEMBER("pg_catalog.pg_publication", "x") "\n"
	"  LOOP EXECUTE format('DROP PUBLICATION %I', r.pubname); END LOOP;\n"
	"  FOR r IN SELECT srvname FROM pg_catalog.pg_foreign_server x\n"
	"    WHERE " NOT_EXT_MEMBER("pg_catalog.pg_foreign_server", "x") "\n"
	"  LOOP EXECUTE format('DROP SERVER %I CASCADE', r.srvname); END LOOP;\n"
	"  FOR r IN SELECT fdwname FROM pg_catalog.pg_foreign_data_wrapper x\n"
	"    WHERE " NOT_EXT_MEMBER("pg_catalog.pg_foreign_data_wrapper", "x") "\n"
	"  LOOP EXECUTE format('DROP FOREIGN DATA WRAPPER %I CASCADE', r.fdwname); END LOOP;\n"
	"  FOR r IN SELECT nspname FROM pg_catalog.pg_namespace\n"
	"    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')\n"
	"      AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'\n"
	"  LOOP EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname); END LOOP;\n"
	"  PERFORM pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;\n"
	"END $vigil_drop$;\n"
	"CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n"
	"GRANT USAGE ON SCHEMA public TO PUBLIC;\n"
	"COMMENT ON SCHEMA public IS 'standard public schema';\n"
	"RESET client_min_messages;\n";

/* ---- loading ---- */

/* A scratch load's dumpscan copy_hook: every COPY block runs in its own
 * transaction, checked before its COMMIT (see the row check above). */
static int copy_hook(void *ctx, bool end, size_t table, struct err *e)
{
	struct feeder *f = ctx;
	char *check;
	int rc;

	if (!end) {
		char lit[1200], *sql = NULL;
		size_t len = 0;
		table_lit(f->scan->tables[table].name, lit);
		if (sb_add(&sql, &len, "BEGIN;\nSELECT pg_catalog.set_config('vigil.rows_before', "
			   "(SELECT coalesce(sum(pg_catalog.pg_stat_get_xact_tuples_inserted(relid) - "
			   "pg_catalog.pg_stat_get_xact_tuples_deleted(relid)), 0) FROM "
			   "pg_catalog.pg_partition_tree('%s'::pg_catalog.regclass))::text, true);\n",
			   lit) < 0)
			return err_set(e, ERR_INTERNAL, "out of memory");
		rc = feed(f, sql, len, e);
		free(sql);
		return rc;
	}
	check = block_check_sql(f->scan, table);
	if (!check)
		return err_set(e, ERR_INTERNAL, "out of memory");
	rc = feed(f, check, strlen(check), e) == 0 && feed(f, "COMMIT;\n", 8, e) == 0 ? 0 : -1;
	free(check);
	return rc;
}

/* How load() runs. */
struct load_opts {
	int server_major;   /* 0 = unknown; see db_child_env_watched */
	const char *sha;    /* sha256 the file was checked to have ("" = none) */
	bool in_place;      /* into the live database, in one transaction: drop
			     * everything first */
	uint64_t locks;     /* the dump's lock estimate (dumpscan.h lock_objects) */
	bool have_cap;      /* cap was read from the server */
	struct db_lock_cap cap;
	bool validated;     /* the whole file passed verify_path already */
	bool restrict_psql; /* psql knows \restrict (15.14+): run it restricted */
};

/* An alphanumeric key for psql's \restrict (psql-ref: "\restrict
 * restrict_key", alphanumeric only), from getrandom(2). */
static void random_key(char out[33])
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char raw[32];

	/* getrandom(2) never returns fewer than 256 bytes once the pool is
	 * initialised. Should it fail, the key is weaker but still unknown to
	 * the dump, and a dump cannot use it anyway: dumpscan drops or refuses
	 * every \unrestrict line it could carry. */
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		for (size_t i = 0; i < sizeof raw; i++)
			raw[i] = (unsigned char)(rand() ^ (int)(util_mono() * 1e6));
	for (size_t i = 0; i < 32; i++)
		out[i] = abc[raw[i] % 62];
	out[32] = '\0';
}

/* Read the rest of a stream psql stopped reading, scanning it without a
 * sink, and run load_end_checks: a damaged or cut file is then reported as
 * such, not as the SQL error its damage caused. Returns 0 when the file is
 * sound, else -1 with e set. */
static int check_rest(struct stream_reader *r, struct dumpscan *scan, char *buf, const char *sha,
		      struct err *e);

/* The checks a plain dump's load makes once the stream ended and before
 * psql gets its end of input (and with it the COMMIT): verify_plain_end on
 * what was fed, and the file's sha256 still the one checked before. */
static int load_end_checks(const struct stream_reader *r, const struct dumpscan *scan,
			   const char *sha, struct err *e)
{
	struct stream_stats st;

	stream_reader_stats(r, &st);
	if (verify_plain_end(scan, st.raw_bytes, e) < 0)
		return -1;
	if (sha[0] && strcmp(st.sha256, sha) != 0)
		return err_set(e, ERR_CORRUPT, "the file changed while it was loaded (sha256 %s, "
			       "checked as %s)", st.sha256, sha);
	return 0;
}

static int check_rest(struct stream_reader *r, struct dumpscan *scan, char *buf, const char *sha,
		      struct err *e)
{
	scan->sink = NULL;
	for (;;) {
		ssize_t n = stream_read(r, buf, CHUNK, e);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (pid1_stop_requested())
			return 0; /* psql's error stands */
		if (dumpscan_feed(scan, buf, (size_t)n, e) < 0)
			return -1;
	}
	if (dumpscan_finish(scan, e) < 0)
		return -1;
	return load_end_checks(r, scan, sha, e);
}

/* What feed_plain saw: fed_ok, the whole input (dump and row check)
 * reached psql; ours, vigil stopped the load (e holds why; psql was killed
 * before its end of input); corrupt, psql stopped first but the file is
 * damaged (e holds the damage). */
struct load_run {
	bool fed_ok;
	bool ours;
	bool corrupt;
};

/* load()'s plain-dump half: start psql on f->c and feed it the decoded,
 * scanned dump, then the row check (see load). Returns -1 with e set when
 * it could not start (nothing to wait for), else 0 with run set and psql's
 * stdin closed; the caller reaps psql. */
static int feed_plain(const struct cat_entry *ent, const struct load_opts *lo, char **envp,
		      struct dumpscan *scan, struct feeder *f, struct load_run *run, struct err *e)
{
	/* VERBOSITY=verbose: psql prints each error's SQLSTATE ("ERROR:  53200:
	 * ..."), which load() reads instead of the (translated) text. */
	char *argv[] = { "psql", "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-v",
			 "VERBOSITY=verbose", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	char *check = NULL, *buf = malloc(CHUNK);
	bool at_end = false;
	struct stream_reader *r = NULL;
	int fd = -1, rc = -1, k = 8;


	f->buf = malloc(FEED_BUF);
	if (!buf || !f->buf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto setup_failed;
	}
	if (lo->in_place) {
		argv[k++] = "--single-transaction";
		argv[k++] = "-c";
		argv[k++] = (char *)drop_all_sql;
	}
	argv[k++] = "-f";
	argv[k++] = "-";
	fd = open(ent->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_errno(e, ERR_IO, errno, "cannot open %s", ent->path);
		goto setup_failed;
	}
	if (stream_reader_open(&r, fd, ent->codec, e) < 0)
		goto setup_failed;
	if (pid1_spawn(f->c, argv, envp, CHILD_STDIN | CHILD_STDERR, e) < 0)
		goto setup_failed;
	fcntl(f->c->in, F_SETFL, fcntl(f->c->in, F_GETFL) | O_NONBLOCK);
	/* In one transaction pg_dump's own BEGIN;/COMMIT; (around large
	 * objects) would end it early; statement by statement they are needed
	 * (lo_open's descriptor lives until the end of its transaction). */
	scan->strip_txn = lo->in_place;
	scan->sink = feed;
	if (!lo->in_place) {
		scan->copy_hook = copy_hook;
		f->scan = scan;
	}
	scan->sink_ctx = f;
	if (lo->restrict_psql) {
		char key[33], line[64];
		random_key(key);
		snprintf(line, sizeof line, "\\restrict %s\n", key);
		scan->strip_restrict = true;
		if (feed(f, line, strlen(line), e) < 0) {
			run->ours = true;
			goto fed;
		}
	}
	log_progress_start("restore");
	for (;;) {
		ssize_t n = stream_read(r, buf, CHUNK, e);
		if (n < 0) {
			run->ours = true;
			break;
		}
		if (n == 0) {
			at_end = true;
			/* The row-count check goes through stdin after the dump
			 * (as an argument it would hit the kernel's 128 KiB
			 * limit for databases with hundreds of tables). */
			if (dumpscan_finish(scan, e) < 0 || load_end_checks(r, scan, lo->sha, e) < 0 ||
			    (feed_flush(f, e) < 0)) {
				run->ours = !f->child_gone;
				break;
			}
			/* A scratch load checked each COPY block already. */
			check = lo->in_place ? row_check_sql(scan) : strdup("");
			if (!check) {
				err_set(e, ERR_INTERNAL, "out of memory");
				run->ours = true;
				break;
			}
			run->fed_ok = feed(f, "\n", 1, e) == 0 && feed(f, check, strlen(check), e) == 0 &&
				 feed(f, "\n", 1, e) == 0 && feed_flush(f, e) == 0 && !f->child_gone;
			run->ours = !run->fed_ok && !f->child_gone;
			break;
		}
		if (dumpscan_feed(scan, buf, (size_t)n, e) < 0) {
			run->ours = !f->child_gone;
			break;
		}
		if (f->child_gone)
			break;
	}
	log_progress_end();
	if (f->child_gone && !run->ours && !at_end && !lo->validated) {
		struct err ce;
		err_clear(&ce);
		if (check_rest(r, scan, buf, lo->sha, &ce) < 0 && ce.code == ERR_CORRUPT) {
			*e = ce;
			run->corrupt = true;
		}
	}
fed:
	/* Killed before its stdin closes: psql never reads the end of its
	 * input, so in place --single-transaction never sends COMMIT; in a
	 * scratch database what was committed goes with the database. */
	if (!run->fed_ok && !f->child_gone)
		pid1_kill(f->c, SIGKILL);
	close(f->c->in);
	f->c->in = -1;
	if (!run->ours && drain_until_exit(f, e) < 0)
		run->ours = true;
	rc = 0;
setup_failed:
	stream_reader_free(r);
	if (fd >= 0)
		close(fd);
	free(check);
	free(buf);
	return rc;
}

/* After a failed load in one transaction (--in-place): when the server ran
 * out of its lock table - psql reported SQLSTATE 53200 (out_of_memory,
 * which PostgreSQL raises when the lock table is full), or, for pg_restore
 * that shows no SQLSTATE, the dump's lock estimate exceeds the server's
 * lock table - add to e what to change (verify_lock_shortfall). */
static void lock_hint(const struct load_opts *lo, bool sqlstate_53200, struct err *e)
{
	char text[700];
	size_t l = strlen(e->msg);

	if (!lo->have_cap || !verify_lock_shortfall(lo->locks, &lo->cap, text, sizeof text)) {
		if (!sqlstate_53200)
			return;
		snprintf(text, sizeof text, "the server's lock table is full (SQLSTATE 53200); hint: "
			 "raise max_locks_per_transaction (now %ld) and restart PostgreSQL, or "
			 "restore without --in-place (the default restore through a scratch "
			 "database does not need one transaction)", lo->have_cap ? lo->cap.per_xact : 0L);
	}
	/* The hint matters more than the end of psql's message. */
	if (l + strlen(text) + 3 >= sizeof e->msg)
		l = sizeof e->msg > strlen(text) + 3 ? sizeof e->msg - strlen(text) - 3 : 0;
	snprintf(e->msg + l, sizeof e->msg - l, "; %s", text);
}

/* Load a backup into dbname. --in-place (lo->in_place): plain dumps
 * through psql --single-transaction, custom archives through pg_restore
 * --single-transaction. Into a scratch database: statement by statement
 * (no --single-transaction), as one transaction needs a lock-table entry
 * for every table, index and large object and runs out at default server
 * settings for a few thousand tables (TRIAL F3); the scratch database is
 * all-or-nothing by itself (dropped on any failure), ON_ERROR_STOP /
 * --exit-on-error still stop at the first error, and each COPY block runs
 * and is row-checked in a transaction of its own (copy_hook).
 *
 * A plain dump is decoded, scanned and fed in one pass; this pass is also
 * the dump's full validation (SPEC section 7 step 2) when the caller only
 * ran verify_plain_head (lo->validated false). Should psql stop on an
 * error first, the rest of the file is still read and checked, so that a
 * damaged file is refused as damaged (ERR_CORRUPT).
 *
 * Meta-commands: with lo->restrict_psql, psql's input starts with
 * "\restrict <random key>" and the dump's own \restrict/\unrestrict lines
 * are dropped, so psql itself refuses every meta-command for the rest of
 * the input (psql-ref, \restrict; CVE-2025-8714) - whatever the dump does
 * to hide one from a scanner. dumpscan's sink also refuses the lines it
 * recognises, for a clear message. At the end of the stream, pg_dump's trailer
 * and the file's sha256 (must equal sha, the value checked before) are
 * checked, then the row-count check (scan's COPY tallies) is fed as the
 * transaction's last statement. Any failure of ours kills psql before it
 * reads its end of input, so the transaction never commits.
 *
 * server_major (0 = unknown) lets the loading session end itself within a
 * second when psql is killed (db_child_env_watched), so a stopped restore
 * leaves no statement running - in place, one holding the live database's
 * locks.
 *
 * scan (caller-initialised; caller frees) gets the scan of what was fed.
 * Returns 0 or -1 with e set: ERR_CORRUPT when the file failed a check (the
 * caller refuses, exit 2), ERR_RESTORE when psql/pg_restore failed,
 * ERR_INTERRUPTED, ERR_IO, ERR_INTERNAL. */
static int load(const struct config *cfg, const struct cat_entry *ent, const char *dbname,
		const struct load_opts *lo, struct dumpscan *scan, struct err *e)
{
	char **envp = db_child_env_watched(cfg, dbname, lo->server_major);
	struct child c = { .pid = -1, .in = -1, .out = -1, .errfd = -1 };
	struct feeder f = { .c = &c };
	struct load_run run = { false, false, false };
	int status = 0, rc = -1;

	if (!envp)
		return err_set(e, ERR_INTERNAL, "out of memory");
	if (ent->custom) {
		char *argv[] = { "pg_restore", "--no-password", "--exit-on-error", "--dbname",
				 (char *)dbname, NULL, NULL, NULL, NULL, NULL };
		int k = 5;
		if (lo->in_place) {
			argv[k++] = "--single-transaction";
			argv[k++] = "--clean";
			argv[k++] = "--if-exists";
		}
		argv[k++] = (char *)ent->path;
		if (pid1_spawn(&c, argv, envp, CHILD_STDERR, e) < 0)
			goto out;
		run.fed_ok = true;
		run.ours = drain_until_exit(&f, e) < 0;
	} else if (feed_plain(ent, lo, envp, scan, &f, &run, e) < 0) {
		goto out;
	}
	if (run.ours) { /* e holds our reason; psql was killed for it */
		pid1_wait(&c, &status, NULL);
		goto out;
	}
	if (run.corrupt) { /* the damage, not psql's reaction to it, is the news */
		char text[600];
		pid1_wait(&c, &status, NULL);
		pid1_tail_text(&f.tail, text, sizeof text);
		snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
			 " (psql had stopped on: %s)", text[0] ? text : "no message");
		goto out;
	}
	if (pid1_wait(&c, &status, e) < 0)
		goto out;
	if (!pid1_ok(status)) {
		char how[64], text[1500];
		if (e->code == ERR_INTERRUPTED)
			goto out;
		pid1_describe(status, how, sizeof how);
		pid1_tail_text(&f.tail, text, sizeof text);
		if (lo->restrict_psql && strstr(text, "backslash commands are restricted")) {
			err_set(e, ERR_CORRUPT, "the dump holds a psql meta-command hidden from vigil's "
				"scan; psql refused it (it runs restricted): %s", text);
			goto out;
		}
		err_set(e, ERR_RESTORE, "%s %s: %s", ent->custom ? "pg_restore" : "psql", how,
			text[0] ? text : "(no message)");
		if (lo->in_place)
			lock_hint(lo, !ent->custom && strstr(text, ":  53200: "), e);
		goto out;
	}
	if (!run.fed_ok) { /* psql stopped reading but exited 0 */
		err_set(e, ERR_RESTORE, "%s stopped reading its input before the end",
			ent->custom ? "pg_restore" : "psql");
		goto out;
	}
	if (f.tail.len) {
		char text[1500];
		pid1_tail_text(&f.tail, text, sizeof text);
		log_warn("%s said: %s", ent->custom ? "pg_restore" : "psql", text);
	}
	rc = 0;
out:
	if (c.pid > 0) {
		pid1_kill(&c, SIGKILL);
		pid1_wait(&c, &status, NULL);
	}
	util_free_strv(envp);
	free(f.buf);
	return rc;
}

/* ---- the scratch database and the swap ---- */

/* The database vigil works from while target is replaced: "postgres",
 * else "template1"; for target "postgres" itself (POSTGRES_DB=postgres,
 * the official image's default: TRIAL F10) only "template1". While vigil
 * is connected to template1, a CREATE DATABASE by someone else that copies
 * template1 (the default) fails with "being accessed by other users". */
static int connect_maintenance(const struct config *cfg, const char *target, struct db **db,
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
 * comment and connection limit. */
static int copy_db_props(struct db *db, const char *live, const char *qscratch, long connlimit,
			 bool acl_null, const char *comment, struct err *e)
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
	if (db_query(db, "SELECT datname FROM pg_catalog.pg_database", 0, NULL, &rows, &e) < 0)
		return;
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

/* Called between the load into the scratch database and the swap; returns
 * 0 to go on, or -1 with e set to abandon the restore (nothing live was
 * changed yet). */
typedef int (*before_swap_fn)(void *ctx, struct err *e);

/* Restore into a scratch database "<target>_vigil_new_<stamp>" made with
 * the live one's owner, encoding, locale and tablespace, load it (see
 * load()), give it the live one's settings, call before_swap, then end
 * the target's sessions and rename both in one transaction; the old one is
 * dropped afterwards. A target that does not exist is simply created by
 * the rename. Returns 0 or -1 with e set as load() or ERR_RESTORE; the
 * scratch database is dropped on failure. */
static int restore_db_swap(const struct config *cfg, const struct cat_entry *ent,
			   const char *target, struct load_opts *lo, struct dumpscan *scan,
			   const char *stamp, before_swap_fn before_swap, void *ctx, bool *warned,
			   struct err *e)
{
	struct db *db = NULL;
	struct db_rows *props = NULL;
	char scratch[128], old[128], tag[64];
	char *qt = NULL, *qs = NULL, *qo = NULL, *qowner = NULL, *qts = NULL, *lcoll = NULL,
	     *lctype = NULL, *licu = NULL, *lenc = NULL;
	const char *params[1] = { target };
	bool exists, created = false, allowconn = true, acl_null = true, warned_end = false;
	long connlimit = -1;
	const char *ts_clause = "";
	char comment[1024] = "";
	int rc = -1, ver;

	snprintf(tag, sizeof tag, "_vigil_new_%s", stamp);
	db_name_with(scratch, sizeof scratch, target, tag);
	snprintf(tag, sizeof tag, "_vigil_old_%s", stamp);
	db_name_with(old, sizeof old, target, tag);
	if (connect_maintenance(cfg, target, &db, e) < 0)
		goto out;
	ver = db_server_version_num(db);
	if (db_query(db,
		     ver >= 150000
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
		     1, params, &props, e) < 0)
		goto out;
	exists = db_rows_count(props) > 0;
	qt = db_quote_ident(db, target);
	qs = db_quote_ident(db, scratch);
	qo = db_quote_ident(db, old);
	if (!qt || !qs || !qo) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	drop_leftover_scratch(db, target);
	if (exists) {
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
		util_parse_long(db_rows_get(props, 0, 4), -1, 1000000000, &connlimit);
		allowconn = strcmp(db_rows_get(props, 0, 5), "t") == 0;
		acl_null = strcmp(db_rows_get(props, 0, 10), "t") == 0;
		snprintf(comment, sizeof comment, "%s", db_rows_get(props, 0, 9));
		/* Naming pg_default explicitly needs CREATE on it, which an
		 * ordinary CREATEDB role lacks; the default is the same place. */
		ts_clause = strcmp(db_rows_get(props, 0, 8), "pg_default") == 0 ? "" : " TABLESPACE ";
		if (strcmp(db_rows_get(props, 0, 6), "i") == 0) {
			if (exec_fmt(db, e, "CREATE DATABASE %s WITH TEMPLATE template0 OWNER %s "
				     "ENCODING %s LC_COLLATE %s LC_CTYPE %s LOCALE_PROVIDER icu "
				     "ICU_LOCALE %s%s%s", qs, qowner, lenc, lcoll, lctype,
				     licu, ts_clause, ts_clause[0] ? qts : "") < 0)
				goto create_failed;
		} else if (exec_fmt(db, e, "CREATE DATABASE %s WITH TEMPLATE template0 OWNER %s "
				    "ENCODING %s LC_COLLATE %s LC_CTYPE %s%s%s", qs, qowner,
				    lenc, lcoll, lctype, ts_clause, ts_clause[0] ? qts : "") < 0) {
			goto create_failed;
		}
	} else if (exec_fmt(db, e, "CREATE DATABASE %s WITH TEMPLATE template0", qs) < 0) {
		goto create_failed;
	}
	created = true;
	log_info("restore loading into scratch database %s", scratch);
	lo->server_major = ver / 10000;
	if (load(cfg, ent, scratch, lo, scan, e) < 0)
		goto out;
	if (exists && copy_db_props(db, target, qs, connlimit, acl_null, comment, e) < 0)
		goto out;
	if (before_swap(ctx, e) < 0)
		goto out;
	if (!exists) {
		if (exec_fmt(db, e, "ALTER DATABASE %s RENAME TO %s", qs, qt) < 0)
			goto out;
		created = false;
		rc = 0;
		goto out;
	}
	/* The swap: keep new sessions out, end the application's sessions (it
	 * reconnects), rename both in one transaction. */
	/* No ALLOW_CONNECTIONS false here: if vigil were killed in this loop
	 * the live database would stay closed to the application. Ending the
	 * sessions right before the renames leaves a window of milliseconds;
	 * a reconnect in it makes the transaction fail and we retry.
	 * ALTER DATABASE RENAME waits up to 5 s for other sessions to leave
	 * (CountOtherDBBackends), so each attempt is bounded by a statement
	 * timeout of 500 ms: 40 attempts take about 25 s at most (TRIAL F12). */
	if (exec_fmt(db, e, "SET statement_timeout = 500") < 0)
		goto out;
	for (int attempt = 0; attempt < 40; attempt++) {
		struct err e2;
		char *ended = NULL;
		if (db_query_value(db,
				   "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM "
				   "pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> "
				   "pg_catalog.pg_backend_pid()",
				   1, params, &ended, &e2) == 0 && strcmp(ended, "0") != 0)
			log_info("restore ended %s session(s) on %s", ended, target);
		else if (ended == NULL && !warned_end) {
			/* Once: the same refusal repeats on every attempt. */
			log_warn("cannot end sessions on %s: %s; hint: a role that is not superuser "
				 "can only end sessions of roles it is a member of: grant it "
				 "pg_signal_backend, or stop the application for the restore",
				 target, e2.msg);
			warned_end = true;
		}
		free(ended);
		if (exec_fmt(db, e, "BEGIN; ALTER DATABASE %s RENAME TO %s; ALTER DATABASE %s RENAME TO %s; "
			     "COMMIT", qt, qo, qs, qt) == 0)
			break;
		db_exec(db, "ROLLBACK", NULL);
		if (attempt == 39 || pid1_stop_requested()) {
			err_prefix(e, "cannot swap the restored database in (sessions keep "
				   "reconnecting or cannot be ended)");
			goto out;
		}
		usleep(100 * 1000);
	}
	created = false;
	exec_fmt(db, NULL, "RESET statement_timeout");
	if (!allowconn)
		exec_fmt(db, NULL, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", qt);
	log_info("restore swapped database %s in; dropping the old one (%s)", target, old);
	{
		struct err e3;
		err_clear(&e3);
		if (exec_fmt(db, &e3, "DROP DATABASE %s WITH (FORCE)", qo) < 0) {
			log_warn("the previous database is kept as %s: %s; hint: drop it by hand when "
				 "it is no longer needed", old, e3.msg);
			*warned = true;
		}
	}
	rc = 0;
	goto out;
create_failed:
	err_prefix(e, "cannot create the scratch database %s; hint: the role needs CREATEDB and "
		   "membership in the owner role, or use --in-place", scratch);
out:
	if (created && db) {
		struct err e4;
		exec_fmt(db, NULL, "RESET statement_timeout"); /* set for the swap */
		if (exec_fmt(db, &e4, "DROP DATABASE IF EXISTS %s WITH (FORCE)", qs) < 0)
			log_warn("cannot drop the scratch database %s: %s", scratch, e4.msg);
	}
	db_rows_free(props);
	db_close(db);
	free(qt), free(qs), free(qo), free(qowner), free(qts);
	free(lcoll), free(lctype), free(licu), free(lenc);
	return rc;
}

static int restore_stop(void *ctx)
{
	(void)ctx;
	return pid1_stop_requested();
}

static void restore_warn(void *ctx, const char *rel, const char *what)
{
	(void)ctx;
	log_warn("media restore: %s: %s", rel, what);
}

static void restore_note(void *ctx, const char *what)
{
	(void)ctx;
	log_info("restore media %s", what);
}

/* Staging directories of an interrupted media restore hold only new,
 * incomplete data and go; ".vigil-old-*" may hold live files of an
 * interrupted swap, so it is reported, never deleted. */
static void clean_media_leftovers(const char *media_dir)
{
	DIR *d = opendir(media_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", media_dir, de->d_name);
		if (util_starts_with(de->d_name, ".vigil-restore-")) {
			if (util_rm_rf(p, NULL) == 0)
				log_info("removed %s, left by an interrupted media restore", p);
		} else if (util_starts_with(de->d_name, ".vigil-old-")) {
			log_warn("%s was left by an interrupted media restore and may hold files "
				 "that were live then, under their paths relative to MEDIA_DIR; hint: "
				 "inspect it, move back what is missing, then delete it", p);
		}
	}
	closedir(d);
}

/* ---- options, validation, confirmation ---- */

/* Set *slot from an option once: a second --db, --yes... is a usage error
 * rather than a silent "last one wins". */
static bool once(bool *seen, const char *a)
{
	if (*seen) {
		fprintf(stderr, "vigil restore: %s is given twice\n", a);
		return false;
	}
	*seen = true;
	return true;
}

static int parse(int argc, char **argv, struct ropts *o)
{
	bool seen_db = false, seen_media = false, seen_target = false, seen_yes = false,
	     seen_list = false, seen_nosafety = false, seen_inplace = false;

	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **val = NULL;
		bool *seen = NULL;
		if (!strcmp(a, "--yes") || !strcmp(a, "-y"))
			o->yes = true, seen = &seen_yes;
		else if (!strcmp(a, "--list"))
			o->list = true, seen = &seen_list;
		else if (!strcmp(a, "--no-safety-backup"))
			o->no_safety = true, seen = &seen_nosafety;
		else if (!strcmp(a, "--in-place"))
			o->in_place = true, seen = &seen_inplace;
		else if ((!strcmp(a, "--db") || !strcmp(a, "--media") || !strcmp(a, "--target-db")) &&
			 i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			if (!strcmp(a, "--db"))
				val = &o->db, seen = &seen_db;
			else if (!strcmp(a, "--media"))
				val = &o->media, seen = &seen_media;
			else
				val = &o->target, seen = &seen_target;
			*val = argv[++i];
		} else if (util_starts_with(a, "--db="))
			o->db = a + 5, seen = &seen_db;
		else if (util_starts_with(a, "--media="))
			o->media = a + 8, seen = &seen_media;
		else if (util_starts_with(a, "--target-db="))
			o->target = a + 12, seen = &seen_target;
		else {
			fprintf(stderr, "vigil restore: unknown or incomplete argument %s\n", a);
			return -1;
		}
		if (!once(seen, a))
			return -1;
	}
	if (o->list && (o->db || o->media || o->target || o->yes || o->no_safety || o->in_place)) {
		fprintf(stderr, "vigil restore: --list takes no other option (it is vigil list)\n");
		return -1;
	}
	if (!o->db && !o->media && !o->list) {
		fprintf(stderr, "vigil restore: name what to restore: --db NAME|latest and/or "
			"--media NAME|latest\n");
		return -1;
	}
	if (!o->db && (o->in_place || o->target)) {
		fprintf(stderr, "vigil restore: %s applies to a database restore; add --db NAME|latest\n",
			o->in_place ? "--in-place" : "--target-db");
		return -1;
	}
	return 0;
}

/* psql learnt \restrict in 17.6, 16.10, 15.14, 14.19 and 13.22
 * (CVE-2025-8714); older ones fail on such dumps. */
static bool psql_knows_restrict(int major, int minor)
{
	switch (major) {
	case 13: return minor >= 22;
	case 14: return minor >= 19;
	case 15: return minor >= 14;
	case 16: return minor >= 10;
	case 17: return minor >= 6;
	default: return major >= 18;
	}
}

struct safety {
	const struct config *cfg;
	const struct ropts *o;
	const char *target, *stamp;
	struct mf_artifact *db, *media;
};

/* SPEC section 7 step 4: "pre_restore_<stamp>" copies of the database and
 * the media directory being replaced, made and checked like any backup
 * (unless --no-safety-backup). A target database that does not exist needs
 * none. A before_swap_fn. */
static int take_safety_copies(void *ctx, struct err *e)
{
	struct safety *sc = ctx;
	const struct config *cfg = sc->cfg;
	char base[64], dir[UTIL_PATH_MAX];

	if (sc->o->no_safety)
		return 0;
	snprintf(base, sizeof base, "pre_restore_%s", sc->stamp);
	if (sc->o->db) {
		struct db *probe = NULL;
		struct err pe;
		if (db_connect(cfg, sc->target, &probe, &pe) == 0) {
			db_close(probe);
			snprintf(dir, sizeof dir, "%s/db", cfg->backup_dir);
			if (backup_db_file(cfg, sc->target, dir, base, sc->db, e) < 0) {
				err_prefix(e, "safety copy of database %s failed; nothing was changed",
					   sc->target);
				return -1;
			}
			log_info("restore safety copy %s", sc->db->path);
		} else {
			/* Whether it exists comes from the catalog, not from the
			 * connection error's text (the server's, maybe translated). */
			struct db *m = NULL;
			struct err me;
			const char *params[1] = { sc->target };
			char *n = NULL;
			bool exists = true;
			if (connect_maintenance(cfg, sc->target, &m, &me) == 0 &&
			    db_query_value(m, "SELECT count(*) FROM pg_catalog.pg_database "
					   "WHERE datname = $1", 1, params, &n, &me) == 0)
				exists = strcmp(n, "0") != 0;
			free(n);
			db_close(m);
			if (exists) {
				*e = pe;
				return -1;
			}
			log_info("restore: database %s does not exist; no safety copy needed",
				 sc->target);
		}
	}
	if (sc->o->media) {
		struct stat st;
		if (stat(cfg->media_dir, &st) == 0) {
			snprintf(dir, sizeof dir, "%s/media", cfg->backup_dir);
			if (backup_media_file(cfg, dir, base, true, sc->media, e) < 0) {
				err_prefix(e, "safety copy of %s failed; nothing was changed",
					   cfg->media_dir);
				return -1;
			}
			log_info("restore safety copy %s", sc->media->path);
		}
	}
	return 0;
}

/* Read one line of the operator's answer from stdin (a terminal) into
 * line (n bytes, without its newline; a longer line is cut). SIGINT and
 * SIGTERM are blocked process-wide and taken with sigtimedwait
 * (pid1_stop_requested), so a blocking read would leave ^C pending until
 * Enter (TRIAL F14): stdin is polled 100 ms at a time between checks for a
 * stop request, or a SIGHUP or SIGQUIT (^\\), which end a prompt too. Returns 0, or -1 with e set: ERR_INTERRUPTED (signo set)
 * on a signal, ERR_REFUSED at end of input (^D), ERR_IO. Nothing has been
 * changed at this point, which the messages say. */
static int read_answer(char *line, size_t n, struct err *e)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		int sig = pid1_stop_requested(), r;

		if (!sig)
			sig = pid1_take_hangup();
		char c;
		ssize_t got;

		if (sig) {
			e->code = ERR_INTERRUPTED;
			e->signo = sig;
			snprintf(e->msg, sizeof e->msg, "stopped by signal %d at the confirmation "
				 "prompt; nothing was changed", sig);
			return -1;
		}
		r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			return err_errno(e, ERR_IO, errno, "cannot read the answer");
		if (r <= 0)
			continue;
		got = read(0, &c, 1);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return err_errno(e, ERR_IO, errno, "cannot read the answer");
		if (got == 0)
			return err_set(e, ERR_REFUSED, "not confirmed; nothing was changed");
		if (c == '\n')
			break;
		if (c != '\r' && len + 1 < n)
			line[len++] = c;
	}
	line[len] = '\0';
	return 0;
}

int restore_main(const struct config *cfg, int argc, char **argv)
{
	struct ropts o;
	struct cat_entry dbe, me;
	struct verify_result dres, mres;
	struct mf_artifact safe_db, safe_media;
	struct err e;
	char stamp[16], dir[UTIL_PATH_MAX];
	const char *target;
	int lockfd = -1, status = 1;
	bool warned = false, db_done = false, one_pass, psql_restrict = false;
	struct safety sc;
	struct load_opts lo;
	struct mf_record *recs = NULL;
	size_t nrecs = 0;
	double t0 = util_mono();

	memset(&dres, 0, sizeof dres);
	memset(&mres, 0, sizeof mres);
	memset(&safe_db, 0, sizeof safe_db);
	memset(&safe_media, 0, sizeof safe_media);
	dumpscan_init(&dres.scan);
	dumpscan_init(&mres.scan);
	err_clear(&e);
	if (parse(argc, argv, &o) < 0)
		return 2;
	if (o.list) /* `vigil restore --list` = `vigil list` (SPEC section 2) */
		return list_main(cfg, 0, NULL);
	target = o.target ? o.target : cfg->pg_db;
	/* "postgres" is a target only as the database the backups are of
	 * (POSTGRES_DB=postgres); as --target-db for another database's
	 * backup it is far more likely a slip than a wish to replace it. */
	if (o.db && (!*target || strlen(target) > PG_NAME_MAX || !strcmp(target, "template0") ||
		     !strcmp(target, "template1") ||
		     (!strcmp(target, "postgres") && strcmp(cfg->pg_db, "postgres") != 0))) {
		log_error("restore refused: \"%s\" cannot be a restore target (empty, longer than "
			  "63 bytes, a template, or the maintenance database postgres when "
			  "POSTGRES_DB is another database)", target);
		return 2;
	}
	if (o.media && !cfg->media_dir[0]) {
		log_error("restore refused: --media given but MEDIA_DIR is empty (media disabled)");
		return 2;
	}
	for (int k = 0; k < 3; k++) {
		static const char *const subs[] = { "", "/db", "/media" };
		snprintf(dir, sizeof dir, "%s%s", cfg->backup_dir, subs[k]);
		if (util_mkdir_p(dir, backup_dir_mode(cfg), &e) < 0) {
			log_error("restore failed: %s", e.msg);
			return 1;
		}
	}
	lockfd = lock_take(cfg->backup_dir, &e);
	if (lockfd < 0) {
		log_error("restore not started: %s", e.msg);
		return err_exit_code(&e);
	}
	log_info("restore start db=%s media=%s target=%s%s", o.db ? o.db : "-",
		 o.media ? o.media : "-", o.db ? target : "-", o.in_place ? " in-place" : "");

	/* 1-2: resolve and validate everything before touching anything. */
	recs = verify_records_load(cfg, &nrecs);
	if (o.db && catalog_resolve(cfg, CAT_DB, o.db, &dbe, &e) < 0)
		goto refused;
	if (o.media && catalog_resolve(cfg, CAT_MEDIA, o.media, &me, &e) < 0)
		goto refused;
	/* A plain dump restored through a scratch database is validated in
	 * one pass with its load: checksum and the start now, the rest as it
	 * is fed, before the swap and before any safety copy (load()). */
	one_pass = o.db && !dbe.custom && !o.in_place;
	if (o.db) {
		log_info("restore validating %s%s", dbe.path, one_pass ? " (checksum and header; "
			 "the rest while loading into a scratch database)" : "");
		if ((one_pass ? verify_plain_head(dbe.path, dbe.codec, &dres, &e)
			      : verify_path(dbe.path, CAT_DB, dbe.codec, dbe.custom, true, &dres, &e)) < 0) {
			err_prefix(&e, "%s failed validation", dbe.name);
			goto refused;
		}
		if (verify_against_record(recs, nrecs, &dbe, dres.sha256, &e) < 0)
			goto refused;
		if (!dbe.custom) {
			int major, minor;
			char v[32];
			if (db_tool_version("psql", &major, &minor, v, sizeof v, &e) < 0)
				goto failed;
			psql_restrict = psql_knows_restrict(major, minor);
			if (!psql_restrict)
				log_warn("psql %s predates \\restrict (13.22, 14.19, 15.14, 16.10, 17.6): "
					 "only vigil's own scan keeps psql meta-commands out of the load", v);
			if (dres.scan.has_restrict && !psql_knows_restrict(major, minor)) {
				err_set(&e, ERR_REFUSED,
					"%s contains \\restrict lines (written by pg_dump 17.6, 16.10, 15.14, "
					"14.19, 13.22 or later) that psql %s does not understand; hint: "
					"restore with a newer psql of the same major version", dbe.name, v);
				goto refused;
			}
		}
	}
	if (o.media) {
		log_info("restore validating %s", me.path);
		if (verify_path(me.path, CAT_MEDIA, me.codec, false, true, &mres, &e) < 0) {
			err_prefix(&e, "%s failed validation", me.name);
			goto refused;
		}
		if (verify_against_record(recs, nrecs, &me, mres.sha256, &e) < 0)
			goto refused;
		/* A restore replaces every entry of MEDIA_DIR: an archive without
		 * a single regular file (a backup of an unmounted volume, a
		 * hand-made end-of-archive marker) would leave it empty, so it is
		 * refused unless emptiness is expected (issue 9). */
		if (mres.media.files == 0) {
			if (!cfg->media_allow_empty) {
				err_set(&e, ERR_REFUSED, "%s: the archive holds no files: restoring it "
					"would empty MEDIA_DIR %s; hint: pick another backup with "
					"vigil list, or set MEDIA_ALLOW_EMPTY=true to restore it anyway",
					me.name, cfg->media_dir);
				goto refused;
			}
			log_warn("%s holds no files: MEDIA_DIR %s will be emptied "
				 "(MEDIA_ALLOW_EMPTY=true)", me.name, cfg->media_dir);
		}
		if (me.suspect[0])
			log_warn("%s is suspect (%s, by its run manifest): restoring it as asked "
				 "(%llu files); hint: vigil list shows the backups before it",
				 me.name, me.suspect, (unsigned long long)mres.media.files);
		{
			const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
			struct media_opts mo = { .root = cfg->media_dir, .skip_dirs = skip,
						 .n_skip_dirs = 2 };
			if (media_restore_check(&mo, &e) < 0)
				goto refused;
		}
	}

	/* 3: confirmation. */
	if (!o.yes) {
		char what[600], line[512];
		if (!isatty(0)) {
			err_set(&e, ERR_REFUSED, "not on a terminal: add --yes to confirm the restore");
			goto refused;
		}
		snprintf(what, sizeof what, "%s%s%s", o.db ? "database " : "", o.db ? target : "",
			 o.media ? (o.db ? " and the media directory" : "the media directory") : "");
		fprintf(stderr, "This replaces %s. Type the database name (%s) to continue: ", what,
			target);
		fflush(stderr);
		if (read_answer(line, sizeof line, &e) < 0) {
			fputc('\n', stderr);
			goto refused;
		}
		if (strcmp(line, target) != 0) {
			err_set(&e, ERR_REFUSED, "not confirmed; nothing was changed");
			goto refused;
		}
	}

	/* 4-5: safety copies and the database. Through a scratch database the
	 * copies are taken after the load, right before the swap: a dump that
	 * fails its checks while loading leaves no copy behind, and the copy
	 * holds the live data as of the swap. */
	util_stamp_local(time(NULL), stamp);
	sc = (struct safety){ cfg, &o, target, stamp, &safe_db, &safe_media };
	if (!(o.db && !o.in_place) && take_safety_copies(&sc, &e) < 0)
		goto failed;
	if (o.db) {
		int r;
		lo = (struct load_opts){ .sha = dres.sha256, .in_place = o.in_place,
					 .validated = !one_pass, .restrict_psql = psql_restrict,
					 .locks = dres.scan.lock_objects };
		dumpscan_free(&dres.scan);
		dumpscan_init(&dres.scan);
		if (o.in_place) {
			struct db *probe = NULL;
			struct err pe;
			if (db_connect(cfg, target, &probe, &pe) == 0) {
				lo.server_major = db_server_version_num(probe) / 10000;
				lo.have_cap = db_lock_capacity(probe, &lo.cap, &pe) == 0;
				db_close(probe);
			}
			log_info("restore loading into %s in place (one transaction)", target);
			r = load(cfg, &dbe, target, &lo, &dres.scan, &e);
		} else {
			r = restore_db_swap(cfg, &dbe, target, &lo, &dres.scan, stamp,
					    take_safety_copies, &sc, &warned, &e);
		}
		if (r < 0) {
			if (e.code == ERR_CORRUPT) {
				err_prefix(&e, "%s failed validation while loading; %s is unchanged",
					   dbe.name, target);
				goto refused;
			}
			goto failed;
		}
		db_done = true;
		log_info("restore database done target=%s file=%s tables=%zu rows=%llu", target,
			 dbe.name, dres.scan.n_tables,
			 (unsigned long long)dumpscan_total_rows(&dres.scan));
	}

	/* 6: the media directory. */
	if (o.media) {
		struct media_opts mo;
		struct media_stats ms;
		struct stream_reader *r = NULL;
		const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
		int fd, rc;

		if (util_mkdir_p(cfg->media_dir, 0755, &e) < 0)
			goto failed;
		clean_media_leftovers(cfg->media_dir);
		memset(&mo, 0, sizeof mo);
		memset(&ms, 0, sizeof ms);
		mo.root = cfg->media_dir;
		mo.skip_dirs = skip;
		mo.n_skip_dirs = 2;
		mo.stop = restore_stop;
		mo.warn = restore_warn;
		mo.note = restore_note;
		fd = open(me.path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err_errno(&e, ERR_IO, errno, "cannot open %s", me.path);
			goto failed;
		}
		rc = stream_reader_open(&r, fd, me.codec, &e);
		if (rc == 0) {
			log_progress_start("media");
			rc = media_restore(&mo, r, &ms, &e);
			log_progress_end();
		}
		stream_reader_free(r);
		close(fd);
		if (rc < 0) {
			if (db_done)
				err_prefix(&e, "the database WAS restored, but the media restore failed "
					   "and the media directory is unchanged");
			else if (e.code != ERR_INTERRUPTED && !strstr(e.msg, "could not be moved back"))
				err_prefix(&e, "the media directory is unchanged");
			goto failed;
		}
		log_info("restore media done dir=%s file=%s files=%llu warnings=%llu", cfg->media_dir,
			 me.name, (unsigned long long)ms.files, (unsigned long long)ms.warnings);
		if (ms.warnings)
			warned = true;
		mres.media = ms;
	}

	/* 7: summary. */
	printf("restore complete in %.1f s\n", util_mono() - t0);
	if (o.db) {
		printf("  database %s  from %s%s\n", target, dbe.name, o.in_place ? " (in place)" : "");
		for (size_t i = 0; i < dres.scan.n_tables; i++)
		{
			const char *name = dres.scan.tables[i].name;
			size_t w = util_display_width(name);
			printf("    %s%*s %llu rows\n", name, w < 50 ? (int)(50 - w) : 0, "",
			       (unsigned long long)dres.scan.tables[i].rows);
		}
		printf("    %zu tables, %llu rows\n", dres.scan.n_tables,
		       (unsigned long long)dumpscan_total_rows(&dres.scan));
	}
	if (o.media)
		printf("  media    %s  from %s: %llu files, %llu directories, %llu symlinks\n",
		       cfg->media_dir, me.name, (unsigned long long)mres.media.files,
		       (unsigned long long)mres.media.dirs, (unsigned long long)mres.media.symlinks);
	if (safe_db.path[0] || safe_media.path[0])
		printf("  safety copies: %s%s%s\n", safe_db.path,
		       safe_db.path[0] && safe_media.path[0] ? " " : "", safe_media.path);
	status = warned ? 3 : 0;
	log_info("restore done exit=%d secs=%.1f", status, util_mono() - t0);
	goto out;
refused:
	if (e.code == ERR_INTERRUPTED)
		goto failed;
	log_error("restore refused: %s", e.msg);
	status = e.code == ERR_LOCKED ? 75 : 2;
	if (e.code == ERR_IO || e.code == ERR_INTERNAL)
		status = 1;
	goto out;
failed:
	log_error("restore failed: %s", e.msg);
	status = e.code == ERR_INTERRUPTED ? err_exit_code(&e) : 1;
out:
	free(recs);
	dumpscan_free(&dres.scan);
	dumpscan_free(&mres.scan);
	{
		struct manifest tmp = { .n_art = 2 };
		tmp.art[0] = safe_db;
		tmp.art[1] = safe_media;
		manifest_free(&tmp);
	}
	lock_release(lockfd);
	return status;
}
