/* verify.c - see verify.h. */
#include "pipeline/verify.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "infra/child.h"
#include "infra/db.h"
#include "base/log.h"
#include "infra/manifest.h"
#include "infra/pid1.h"
#include "base/util.h"

#define CHUNK (1u << 20)

/* The first decoded bytes of what should be a plain dump. */
static int check_start(const char *buf, size_t n, struct err *e)
{
	if (n >= 5 && memcmp(buf, "PGDMP", 5) == 0)
		return err_set(e, ERR_CORRUPT, "this is a pg_dump custom-format archive, not a plain "
			       "SQL dump; hint: custom archives are named .dump");
	return 0;
}

int verify_plain_end(const struct dumpscan *scan, uint64_t raw_bytes, struct err *e)
{
	if (raw_bytes == 0)
		return err_set(e, ERR_CORRUPT, "the dump is empty (no SQL at all)");
	if (!scan->header_ok)
		return err_set(e, ERR_CORRUPT, "not a pg_dump plain-format dump (pg_dump's header is "
			       "missing)");
	if (dumpscan_check_commands(scan, e) < 0)
		return -1;
	if (!scan->complete)
		return err_set(e, ERR_CORRUPT, "the dump has no completion trailer (\"-- PostgreSQL "
			       "database dump complete\"): it is cut off or was not written by pg_dump");
	return 0;
}

/* Decode and scan a plain dump; limit > 0 stops after about that many
 * bytes (res->scan then covers only the start, and *whole says whether the
 * end was reached). */
static int check_plain(struct stream_reader *r, uint64_t limit, struct verify_result *res,
		       bool *whole, struct err *e)
{
	char *buf = malloc(CHUNK);
	bool first = true;
	int rc = -1;

	*whole = false;
	if (!buf)
		return err_set(e, ERR_INTERNAL, "out of memory");
	if (!limit)
		log_progress_start("verify");
	for (;;) {
		ssize_t n;
		if (limit && res->raw_bytes >= limit) {
			rc = 0;
			goto out;
		}
		n = stream_read(r, buf, CHUNK, e);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (pid1_stop_requested()) {
			e->code = ERR_INTERRUPTED;
			e->signo = pid1_stop_requested();
			snprintf(e->msg, sizeof e->msg, "stopped by signal %d", e->signo);
			goto out;
		}
		if (first && check_start(buf, (size_t)n, e) < 0)
			goto out;
		first = false;
		res->raw_bytes += (uint64_t)n;
		if (dumpscan_feed(&res->scan, buf, (size_t)n, e) < 0)
			goto out;
		if (!limit)
			log_progress(res->raw_bytes);
	}
	*whole = true;
	if (dumpscan_finish(&res->scan, e) < 0 || verify_plain_end(&res->scan, res->raw_bytes, e) < 0)
		goto out;
	rc = 0;
out:
	if (!limit)
		log_progress_end();
	free(buf);
	return rc;
}

/* What one line of pg_restore --list adds to the lock estimate, counted
 * as dumpscan counts a plain dump (dumpscan.h, lock_objects). A TOC line is
 * "<id>; <tableoid> <oid> <DESC> <schema> <name> <owner>" (pg_restore(1),
 * --list); comment lines start with ";". */
static uint64_t toc_locks(const char *l)
{
	static const struct { const char *desc; unsigned locks; } descs[] = {
		{ "TABLE DATA ", 0 }, { "TABLE ", 3 }, { "FOREIGN TABLE ", 1 },
		{ "INDEX ", 1 }, { "CONSTRAINT ", 1 }, { "SEQUENCE SET ", 0 },
		{ "SEQUENCE OWNED BY ", 0 }, { "SEQUENCE ", 1 },
		{ "MATERIALIZED VIEW DATA ", 0 }, { "MATERIALIZED VIEW ", 1 }, { "VIEW ", 1 },
		{ "BLOB ", 1 }, { "LARGE OBJECT ", 1 },
	};
	const char *p = strchr(l, ';');

	if (!p || p == l)
		return 0;
	p++;
	for (int field = 0; field < 2; field++) {
		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
		if (util_starts_with(p, descs[i].desc))
			return descs[i].locks;
	return 0;
}

/* pg_restore --list reads only the archive's table of contents, at its
 * start: seconds even for a database of a million objects. One that has not
 * finished within this many seconds (a hanging wrapper, a stuck file
 * system) is killed and the file reported as not checked (README, verify). */
#define VERIFY_LIST_LIMIT_S 300

/* pg_restore --list's output, split into lines for toc_locks. */
struct toc_reader {
	struct verify_result *res;
	char line[512];
	size_t ll;
};

static int toc_take(void *ctx, const char *buf, size_t n, struct err *e)
{
	struct toc_reader *t = ctx;

	(void)e;
	for (size_t j = 0; j < n; j++) {
		if (buf[j] == '\n') {
			t->line[t->ll] = '\0';
			t->res->scan.lock_objects += toc_locks(t->line);
			t->ll = 0;
		} else if (t->ll + 1 < sizeof t->line) {
			t->line[t->ll++] = buf[j];
		}
	}
	return 0;
}

/* pg_restore --list on path (child.h: both pipes at once, so a child that
 * fills its stderr first cannot deadlock us; a stop request and
 * VERIFY_LIST_LIMIT_S end it). */
static int list_toc(const char *path, struct verify_result *res, struct err *e)
{
	char *argv[] = { "pg_restore", "--list", (char *)path, NULL };
	char **envp = db_tool_env(); /* no secrets, English messages */
	struct toc_reader t = { .res = res, .ll = 0 };
	struct child_spec spec = {
		.argv = argv, .envp = envp, .on_stdout = toc_take, .ctx = &t,
		.deadline_ns = child_mono_ns() + (uint64_t)VERIFY_LIST_LIMIT_S * CHILD_NS_PER_S,
	};
	struct child_result r;
	int rc;

	if (!envp)
		return err_set(e, ERR_INTERNAL, "out of memory");
	rc = child_run(&spec, &r, e);
	util_free_strv(envp);
	if (rc < 0) {
		if (r.stopped)
			snprintf(e->msg, sizeof e->msg, "stopped by signal %d", e->signo);
		else if (r.timed_out)
			snprintf(e->msg, sizeof e->msg, "pg_restore --list did not finish within %d s "
				 "and was killed", VERIFY_LIST_LIMIT_S);
		return -1;
	}
	if (!child_ok(&r)) {
		char how[64], text[1000];
		child_describe(&r, how, sizeof how);
		child_tail_text(&r, text, sizeof text);
		/* pg_restore that could not run (exec failed: 127, the shells'
		 * convention) or died of a signal says nothing about the file:
		 * ERR_CHILD, never "corrupt", so a restore is not refused for a
		 * good backup. pg_restore rejecting the archive exits 1. */
		if (r.signalled || (r.exited && r.code == EXIT_EXEC_FAILED))
			return err_set(e, ERR_CHILD, "pg_restore --list %s: %s; hint: is the "
				       "PostgreSQL client installed and on PATH? The backup file "
				       "was not judged", how, text);
		return err_set(e, ERR_CORRUPT, "pg_restore --list %s: %s", how, text);
	}
	return 0;
}

/* A custom-format archive: PGDMP signature, and pg_restore must be able to
 * read its table of contents (pg_restore(1) --list). */
static int check_custom(const char *path, struct stream_reader *r, struct verify_result *res,
			struct err *e)
{
	char *buf = malloc(CHUNK);
	int rc = -1;
	bool first = true;

	if (!buf)
		return err_set(e, ERR_INTERNAL, "out of memory");
	for (;;) {
		ssize_t n = stream_read(r, buf, CHUNK, e);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (first && (n < 5 || memcmp(buf, "PGDMP", 5) != 0)) {
			err_set(e, ERR_CORRUPT, "not a pg_dump custom-format archive (no PGDMP signature)");
			goto out;
		}
		first = false;
		res->raw_bytes += (uint64_t)n;
	}
	if (first) {
		err_set(e, ERR_CORRUPT, "the archive is empty");
		goto out;
	}
	rc = list_toc(path, res, e);
out:
	free(buf);
	return rc;
}

int verify_path(const char *path, enum cat_kind kind, enum stream_codec codec, bool custom,
		bool check_sum, struct verify_result *res, struct err *e)
{
	struct stream_reader *r = NULL;
	struct stream_stats st;
	bool whole;
	int fd = -1, rc = -1;

	memset(res, 0, sizeof *res);
	dumpscan_init(&res->scan);
	if (check_sum && artifact_check_sha256(path, res->sha256, e) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (stream_reader_open(&r, fd, codec, e) < 0)
		goto out;
	if (kind == CAT_MEDIA) {
		if (media_check(r, &res->media, e) < 0)
			goto out;
	} else if (custom) {
		if (check_custom(path, r, res, e) < 0)
			goto out;
	} else if (check_plain(r, 0, res, &whole, e) < 0) {
		goto out;
	}
	stream_reader_stats(r, &st);
	if (!res->raw_bytes)
		res->raw_bytes = st.raw_bytes;
	if (!check_sum)
		memcpy(res->sha256, st.sha256, sizeof res->sha256);
	rc = 0;
out:
	stream_reader_free(r);
	close(fd);
	return rc;
}

int verify_plain_head(const char *path, enum stream_codec codec, struct verify_result *res,
		      struct err *e)
{
	struct stream_reader *r = NULL;
	bool whole = false;
	int fd, rc = -1;

	memset(res, 0, sizeof *res);
	dumpscan_init(&res->scan);
	if (artifact_check_sha256(path, res->sha256, e) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", path);
	if (stream_reader_open(&r, fd, codec, e) < 0)
		goto out;
	if (check_plain(r, VERIFY_HEAD_BYTES, res, &whole, e) < 0)
		goto out;
	/* Cut short: the header is known, the rest is checked by the caller. */
	if (!whole && (!res->scan.header_ok || res->scan.bad_meta[0] || res->scan.bad_stmt[0])) {
		verify_plain_end(&res->scan, res->raw_bytes, e);
		goto out;
	}
	rc = 0;
out:
	stream_reader_free(r);
	close(fd);
	return rc;
}

struct mf_record *verify_records_load(const struct config *cfg, size_t *n)
{
	char runs[UTIL_PATH_MAX];

	snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
	return manifest_records(runs, n);
}

int verify_against_record(const struct mf_record *recs, size_t n, const struct cat_entry *ent,
			  const char *sha, struct err *e)
{
	char rel[600];
	const struct mf_record *r;

	snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(ent->kind), ent->name);
	r = manifest_record_find(recs, n, rel);
	if (r && (r->bytes != ent->size || strcasecmp(r->sha256, sha) != 0))
		return err_set(e, ERR_CORRUPT, "%s is not the file its backup run wrote: the run "
			       "manifest records %llu bytes with sha256 %.64s, the file has %llu bytes "
			       "with sha256 %s (replaced or altered afterwards, its .sha256 with it)",
			       ent->name, (unsigned long long)r->bytes, r->sha256,
			       (unsigned long long)ent->size, sha);
	return 0;
}

bool verify_lock_shortfall(uint64_t needed, const struct db_lock_cap *cap, char *out, size_t n)
{
	uint64_t slots = (uint64_t)(cap->connections + cap->prepared), have, want;

	if (slots == 0)
		slots = 1;
	have = (uint64_t)cap->per_xact * slots;
	if (needed <= have)
		return false;
	want = (needed + slots - 1) / slots;
	want = (want + 63) / 64 * 64;
	snprintf(out, n, "a restore in one transaction (--in-place, or by hand with "
		 "--single-transaction) needs about %llu locks, more than the server's lock table "
		 "holds (max_locks_per_transaction %ld x (max_connections %ld + "
		 "max_prepared_transactions %ld) = %llu); hint: set max_locks_per_transaction to "
		 "at least %llu and restart PostgreSQL, or restore without --in-place (the default "
		 "restore through a scratch database does not need one transaction)",
		 (unsigned long long)needed, cap->per_xact, cap->connections, cap->prepared,
		 (unsigned long long)have, (unsigned long long)want);
	return true;
}
