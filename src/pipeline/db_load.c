/* db_load.c - see db_load.h. Loading a backup into a database: a plain
 * dump through psql, decoded, scanned and fed in one pass, with the SQL
 * text the load adds (the row checks, --in-place's drop of everything); a
 * custom archive through pg_restore. Both children run through the child
 * module (child.h), which drains their stderr while the feeder here writes
 * psql's stdin.
 *
 * About 800 lines, on purpose: the row checks, the feeder and its end
 * marker all work on the one struct feeder and the scan of the dump as it
 * streams by; split, they would need that state exported between files. */
#include "pipeline/db_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "infra/child.h"
#include "base/log.h"
#include "infra/pid1.h"
#include "infra/stream.h"
#include "base/util.h"
#include "pipeline/verify.h"

#define CHUNK (1u << 20)

/* ---- feeding psql's stdin (through the child module) ---- */

#define FEED_BUF (256u << 10)

struct feeder {
	struct child_proc *p; /* psql, started with spec.push */
	char *argv[16];       /* psql's, borrowed by p while it runs */
	bool child_gone; /* stdin closed by the child (it stopped reading) */
	uint64_t fed;
	char *buf;       /* FEED_BUF bytes gathered before a write */
	size_t len;
	const struct dumpscan *scan; /* for copy_hook */
	/* The end marker: after the dump and the row check the feeder sends
	 * SELECT '<marker>'; psql prints it only when it ran everything before
	 * it, so a psql that exits 0 without reading (or running) its whole
	 * input is caught even when the input fitted in the pipe. */
	char marker[40];
	char window[80];  /* the last bytes of psql's stdout, to find it across reads */
	size_t wlen;
	bool marker_seen;
};

/* on_stdout for psql: look for f->marker in what psql prints (query
 * results of the dump's own SELECTs, then the marker's row). */
static int find_marker(void *ctx, const char *buf, size_t n, struct err *e)
{
	struct feeder *f = ctx;
	size_t ml = strlen(f->marker);

	(void)e;
	while (n > 0 && !f->marker_seen) {
		size_t room = sizeof f->window - 1 - f->wlen, take = n < room ? n : room;
		memcpy(f->window + f->wlen, buf, take);
		f->wlen += take;
		f->window[f->wlen] = '\0';
		buf += take;
		n -= take;
		if (memmem(f->window, f->wlen, f->marker, ml))
			f->marker_seen = true;
		else if (f->wlen >= ml) { /* keep the tail that may start a marker */
			memmove(f->window, f->window + f->wlen - (ml - 1), ml - 1);
			f->wlen = ml - 1;
		}
	}
	return 0;
}

/* A stop request (SIGTERM/SIGINT, or the run's deadline: signo
 * PID1_DEADLINE, which restore reports as a timeout) ended the child
 * (ERR_INTERRUPTED from child_write or child_finish; its group got
 * SIGKILL, spec.stop_signal, so a psql that has not committed rolls
 * back): say so in the load's words. Returns -1. */
static int abandoned(struct err *e)
{
	if (e->code == ERR_INTERRUPTED && e->signo == PID1_DEADLINE)
		snprintf(e->msg, sizeof e->msg, "the load was abandoned"); /* the caller says why */
	else if (e->code == ERR_INTERRUPTED)
		snprintf(e->msg, sizeof e->msg, "stopped by signal %d; the load was abandoned",
			 e->signo);
	return -1;
}

/* Write n bytes to the child's stdin while child_write drains its stderr.
 * A child that closed its stdin sets child_gone (the rest is dropped).
 * Returns 0 or -1 with e set (a stop request: ERR_INTERRUPTED; a failed
 * write: ERR_CHILD). */
static int feed_write(struct feeder *f, const void *buf, size_t n, struct err *e)
{
	if (f->child_gone)
		return 0;
	if (child_write(f->p, buf, n, e) < 0)
		return abandoned(e);
	if (f->p->res.stdin_refused)
		f->child_gone = true;
	else
		f->fed += (uint64_t)n;
	log_progress(f->fed);
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

/* Start psql on f->p (child_start, stdin pushed by the feeder, SIGKILL on
 * a stop request) for a load as lo says, with the file ent opened in *fd
 * and *r (the caller closes and frees both, also on failure). Returns 0,
 * or -1 with e set and nothing started. */
static int start_psql(const struct cat_entry *ent, const struct db_load_opts *lo, char **envp,
		      struct feeder *f, int *fd, struct stream_reader **r, struct err *e)
{
	/* VERBOSITY=verbose: psql prints each error's SQLSTATE ("ERROR:  53200:
	 * ..."), which db_load() reads instead of the (translated) text. */
	static char *const base[] = { "psql", "-X", "-q", "--no-password", "-v",
				      "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose" };
	char **argv = f->argv;
	struct child_spec spec = { .argv = argv, .envp = envp, .push = true,
				   .stop_signal = SIGKILL, .on_stdout = find_marker, .ctx = f };
	int k = 8;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->marker, sizeof f->marker, "vigil-load-end-%08x%08x",
		 (unsigned)ts.tv_nsec ^ (unsigned)getpid(), (unsigned)ts.tv_sec);

	memset(f->argv, 0, sizeof f->argv);
	memcpy(argv, base, sizeof base);

	if (lo->in_place) {
		argv[k++] = "--single-transaction";
		argv[k++] = "-c";
		argv[k++] = (char *)drop_all_sql;
	}
	argv[k++] = "-f";
	argv[k++] = "-";
	*fd = open(ent->path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", ent->path);
	if (stream_reader_open(r, *fd, ent->codec, e) < 0)
		return -1;
	return child_start(f->p, &spec, e);
}

/* Feed psql the stream r, decoded and scanned (scan's sink is the feeder),
 * then at its end the end checks and the row check (see db_load); buf has
 * CHUNK bytes. Sets run->fed_ok or run->ours (e set) as struct load_run
 * says. Returns true when the stream was read to its end. */
static bool feed_stream(struct stream_reader *r, struct dumpscan *scan,
			const struct db_load_opts *lo, struct feeder *f, char *buf,
			struct load_run *run, struct err *e)
{
	char *check;

	for (;;) {
		ssize_t n = stream_read(r, buf, CHUNK, e);
		if (n < 0) {
			run->ours = true;
			return false;
		}
		if (n == 0)
			break;
		if (dumpscan_feed(scan, buf, (size_t)n, e) < 0) {
			run->ours = !f->child_gone;
			return false;
		}
		if (f->child_gone)
			return false;
	}
	/* The row-count check goes through stdin after the dump
	 * (as an argument it would hit the kernel's 128 KiB
	 * limit for databases with hundreds of tables). */
	if (dumpscan_finish(scan, e) < 0 || load_end_checks(r, scan, lo->sha, e) < 0 ||
	    (feed_flush(f, e) < 0)) {
		run->ours = !f->child_gone;
		return true;
	}
	/* A scratch load checked each COPY block already. */
	check = lo->in_place ? row_check_sql(scan) : strdup("");
	if (!check) {
		err_set(e, ERR_INTERNAL, "out of memory");
		run->ours = true;
		return true;
	}
	char end[96];
	snprintf(end, sizeof end, "\nSELECT '%s';\n", f->marker);
	run->fed_ok = feed(f, "\n", 1, e) == 0 && feed(f, check, strlen(check), e) == 0 &&
		 feed(f, end, strlen(end), e) == 0 && feed_flush(f, e) == 0 && !f->child_gone;
	run->ours = !run->fed_ok && !f->child_gone;
	free(check);
	return true;
}

/* db_load()'s plain-dump half: start psql on f->p and feed it the decoded,
 * scanned dump, then the row check (see db_load). Returns -1 with e set
 * when it could not start (nothing to reap), else 0 with run set and psql
 * reaped (child_finish) into *res. */
static int feed_plain(const struct cat_entry *ent, const struct db_load_opts *lo, char **envp,
		      struct dumpscan *scan, struct feeder *f, struct load_run *run,
		      struct child_result *res, struct err *e)
{
	char *buf = malloc(CHUNK);
	bool at_end;
	struct stream_reader *r = NULL;
	int fd = -1, rc = -1;

	f->buf = malloc(FEED_BUF);
	if (!buf || !f->buf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto setup_failed;
	}
	if (start_psql(ent, lo, envp, f, &fd, &r, e) < 0)
		goto setup_failed;
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
	at_end = feed_stream(r, scan, lo, f, buf, run, e);
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
		child_kill(f->p, SIGKILL);
	/* Its end of input, then its stderr to the end and its exit; a stop
	 * request meanwhile (a long last statement, an index build) kills it
	 * and is ours. When ours already, e keeps our reason. */
	{
		struct err fe;
		if (child_finish(f->p, res, run->ours ? &fe : e) < 0 && !run->ours) {
			abandoned(e);
			run->ours = true;
		}
	}
	rc = 0;
setup_failed:
	stream_reader_free(r);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* After a failed load in one transaction (--in-place): when the server ran
 * out of its lock table - psql reported SQLSTATE 53200 (out_of_memory,
 * which PostgreSQL raises when the lock table is full), or, for pg_restore
 * that shows no SQLSTATE, the dump's lock estimate exceeds the server's
 * lock table - add to e what to change (verify_lock_shortfall). */
static void lock_hint(const struct db_load_opts *lo, bool sqlstate_53200, struct err *e)
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

/* See db_load.h. Load a backup into dbname. --in-place (lo->in_place): plain dumps
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
 * the dump's full validation (README "A restore" step 2) when the caller only
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
/* db_load()'s custom-archive half: pg_restore into dbname, its stderr
 * drained (child_finish) into *res. Returns -1 with e set when it could
 * not start, else 0 with run set (ours: a stop request ended it, e set). */
static int run_pg_restore(const struct cat_entry *ent, const struct db_load_opts *lo,
			  const char *dbname, char **envp, struct child_proc *p,
			  struct load_run *run, struct child_result *res, struct err *e)
{
	/* A connection string, as for pg_dump: a plain name holding '=' would
	 * be read as one (pg_restore expands --dbname). */
	char *conninfo = db_dbname_conninfo(dbname);
	char *argv[] = { "pg_restore", "--no-password", "--exit-on-error", "--dbname",
			 conninfo, NULL, NULL, NULL, NULL, NULL };
	struct child_spec spec = { .argv = argv, .envp = envp, .stop_signal = SIGKILL };
	int k = 5, rc;

	if (!conninfo)
		return err_set(e, ERR_INTERNAL, "out of memory");

	if (lo->in_place) {
		argv[k++] = "--single-transaction";
		argv[k++] = "--clean";
		argv[k++] = "--if-exists";
	}
	argv[k++] = (char *)ent->path;
	rc = child_start(p, &spec, e);
	free(conninfo); /* child_start has exec'd or failed: argv is no longer needed */
	if (rc < 0)
		return -1;
	run->fed_ok = true;
	if (child_finish(p, res, e) < 0) {
		abandoned(e);
		run->ours = true;
	}
	return 0;
}

/* psql or pg_restore (res) ended unsuccessfully: e gets why, with the
 * end of its stderr. Always returns -1. */
static int load_failed(const struct cat_entry *ent, const struct db_load_opts *lo,
		       const struct child_result *res, struct err *e)
{
	char how[64], text[1500];

	child_describe(res, how, sizeof how);
	child_tail_text(res, text, sizeof text);
	/* A decision made on message text, and a safe one: this
	 * is psql's own message (command.c, "backslash commands are
	 * restricted; only \unrestrict is allowed"), not the server's,
	 * and psql runs with LC_MESSAGES=C (db_child_env, child_env), so
	 * it is never translated (psql 15 ships a Spanish catalog). psql
	 * exits 3 for it as for any failed statement (psql-ref, "Exit
	 * Status"), so the status cannot tell them apart. A dump whose
	 * own SQL raised these words would at worst be refused as
	 * damaged (exit 2) instead of failed (exit 1); either way
	 * nothing live changed. */
	if (lo->restrict_psql && strstr(text, "backslash commands are restricted"))
		return err_set(e, ERR_CORRUPT, "the dump holds a psql meta-command hidden from "
			       "vigil's scan; psql refused it (it runs restricted): %s", text);
	err_set(e, ERR_RESTORE, "%s %s: %s", ent->custom ? "pg_restore" : "psql", how,
		text[0] ? text : "(no message)");
	if (lo->in_place)
		/* An SQLSTATE, not words: VERBOSITY=verbose prints it
		 * after the severity ("ERROR:  53200: ..."), the same
		 * in every lc_messages. */
		lock_hint(lo, !ent->custom && strstr(text, ":  53200: "), e);
	return -1;
}

int db_load(const struct config *cfg, const struct cat_entry *ent, const char *dbname,
	    const struct db_load_opts *lo, struct dumpscan *scan, struct err *e)
{
	char **envp = db_child_env_watched(cfg, dbname, lo->server_major);
	struct child_proc p;
	struct child_result res;
	struct feeder f = { .p = &p };
	struct load_run run = { false, false, false };
	int rc = -1;

	if (!envp)
		return err_set(e, ERR_INTERNAL, "out of memory");
	/* Both halves reap their child before they return 0. */
	if (ent->custom ? run_pg_restore(ent, lo, dbname, envp, &p, &run, &res, e) < 0
			: feed_plain(ent, lo, envp, scan, &f, &run, &res, e) < 0)
		goto out;
	if (run.ours) /* e holds our reason; psql was killed for it */
		goto out;
	if (run.corrupt) { /* the damage, not psql's reaction to it, is the news */
		char text[600];
		child_tail_text(&res, text, sizeof text);
		snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
			 " (psql had stopped on: %s)", text[0] ? text : "no message");
		goto out;
	}
	if (!child_ok(&res)) {
		load_failed(ent, lo, &res, e);
		goto out;
	}
	if (!run.fed_ok) { /* psql stopped reading but exited 0 */
		err_set(e, ERR_RESTORE, "%s stopped reading its input before the end",
			ent->custom ? "pg_restore" : "psql");
		goto out;
	}
	if (!ent->custom && !f.marker_seen) {
		/* It exited 0 but never ran the last statement it was sent:
		 * whatever it did, the load is not known to be complete. */
		err_set(e, ERR_RESTORE, "psql exited 0 but did not run its whole input (the "
			"end marker vigil sends after the dump never came back); hint: is psql "
			"on PATH a working PostgreSQL client?");
		goto out;
	}
	if (res.tail.len) {
		char text[1500];
		child_tail_text(&res, text, sizeof text);
		log_warn("%s said: %s", ent->custom ? "pg_restore" : "psql", text);
	}
	rc = 0;
out:
	util_free_strv(envp);
	free(f.buf);
	return rc;
}
