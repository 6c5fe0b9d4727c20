/* prune.c - the retention executor; see prune.h and README "Retention". */
#include "pipeline/prune.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "infra/artifact.h"
#include "infra/lock.h"
#include "infra/pid1.h"
#include "pipeline/catalog.h"
#include "pipeline/state.h"

/* Run manifests are kept at least this many local days (README "Retention"). */
#define PRUNE_RUNS_MIN_DAYS 30

struct run_file {
	char file[256];   /* its name in runs/ */
	struct manifest m;
	bool usable;      /* times the daemon believes (state.c): may be pruned */
	bool keep;        /* decides the daemon's state: never pruned */
};

struct runs {
	struct run_file *v;
	size_t n;
	struct mf_record *recs; /* the files they record, for catalog_order */
	size_t nrecs;
};

static void runs_free(struct runs *r)
{
	for (size_t i = 0; i < r->n; i++)
		manifest_free(&r->v[i].m);
	free(r->v);
	free(r->recs);
	memset(r, 0, sizeof *r);
}

/* The records of m whose paths r->recs does not hold yet (added newest run
 * first, so the newest usable run's record of a path is the one kept). */
static int add_records(struct runs *r, const struct manifest *m)
{
	for (size_t i = 0; i < m->n_art; i++) {
		struct mf_record *nv, *x;
		bool seen = false;

		if (!m->art[i].path[0])
			continue;
		for (size_t j = 0; j < r->nrecs && !seen; j++)
			seen = !strcmp(r->recs[j].path, m->art[i].path);
		if (seen)
			continue;
		nv = realloc(r->recs, (r->nrecs + 1) * sizeof *nv);
		if (!nv)
			return -1;
		r->recs = nv;
		x = &nv[r->nrecs++];
		memset(x, 0, sizeof *x);
		snprintf(x->path, sizeof x->path, "%s", m->art[i].path);
		memcpy(x->sha256, m->art[i].sha256, sizeof x->sha256);
		x->bytes = m->art[i].bytes;
		x->start = m->start;
		snprintf(x->suspect, sizeof x->suspect, "%s", m->art[i].suspect);
	}
	return 0;
}

/* Newest run first (by recorded start, then name), as `vigil prune` lists them. */
static int run_newest_first(const void *a, const void *b)
{
	const struct run_file *x = a, *y = b;

	if (x->m.start != y->m.start)
		return x->m.start < y->m.start ? 1 : -1;
	return strcmp(y->file, x->file);
}

/* Every readable manifest of runs/ (unreadable ones are skipped, and so
 * never deleted), newest first, with the records catalog_order needs: only
 * those of usable manifests (an implausible or future-dated one decides
 * nothing about a file), and for a path several of them record, the newest
 * one's (as runs_find). A missing runs/ is empty. Returns 0 or -1 with e
 * set (ERR_IO, ERR_INTERNAL). */
static int runs_load(const char *dir, time_t now, struct runs *r, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	memset(r, 0, sizeof *r);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, ERR_IO, errno, "cannot read %s", dir);
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX + 300];
		struct run_file *nv, *x;
		struct err me;

		if (de->d_name[0] == '.' || !util_ends_with(de->d_name, ".json") ||
		    strlen(de->d_name) >= sizeof x->file)
			continue;
		nv = realloc(r->v, (r->n + 1) * sizeof *nv);
		if (!nv)
			goto oom;
		r->v = nv;
		x = &nv[r->n];
		memset(x, 0, sizeof *x);
		snprintf(x->file, sizeof x->file, "%s", de->d_name);
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (manifest_read(p, &x->m, &me) < 0)
			continue;
		r->n++;
		x->usable = catalog_time_plausible(x->m.start, util_stamp_parse(x->m.run_id)) &&
			    x->m.end >= x->m.start && !state_manifest_future(&x->m, (int64_t)now);
	}
	closedir(d);
	if (r->n > 1)
		qsort(r->v, r->n, sizeof *r->v, run_newest_first);
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].usable && add_records(r, &r->v[i].m) < 0) {
			runs_free(r);
			return err_set(e, ERR_INTERNAL, "out of memory");
		}
	return 0;
oom:
	closedir(d);
	runs_free(r);
	return err_set(e, ERR_INTERNAL, "out of memory");
}

/* A kind's artifact that state.c counts as a success. */
static bool art_good(const struct mf_artifact *a)
{
	return strcmp(a->result, "success") == 0 ||
	       (strcmp(a->result, "warning") == 0 && !a->suspect[0]);
}

/* Mark the manifests that decide the daemon's state of kind (state.c): the
 * newest good run, the newest "success" (backup.c's media baseline), the
 * newest failure, and every run of the kind after the newest good one (the
 * consecutive failures, the newest result). With no good run, all of them. */
static void runs_mark_state(struct runs *r, const char *kind)
{
	int64_t good = INT64_MIN, success = INT64_MIN, failure = INT64_MIN;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n; i++) {
			struct run_file *x = &r->v[i];
			for (size_t j = 0; x->usable && j < x->m.n_art; j++) {
				const struct mf_artifact *a = &x->m.art[j];
				int64_t s = x->m.start;
				if (strcmp(a->kind, kind) != 0)
					continue;
				if (pass == 0) {
					if (art_good(a) && s > good)
						good = s;
					if (!strcmp(a->result, "success") && s > success)
						success = s;
					if (!strcmp(a->result, "failure") && s > failure)
						failure = s;
				} else if (s >= good || (s == success && !strcmp(a->result, "success")) ||
					   (s == failure && !strcmp(a->result, "failure"))) {
					x->keep = true;
				}
			}
		}
	}
}

/* The artifact that recorded rel ("db/<name>") in the newest usable run
 * manifest that records it, or NULL. Records of manifests that are not
 * usable (implausible times, future-dated) are not believed: with none,
 * the file is judged by its .sha256 alone. */
static const struct mf_artifact *runs_find(const struct runs *r, const char *rel)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; r->v[i].usable && j < r->v[i].m.n_art; j++)
			if (!strcmp(r->v[i].m.art[j].path, rel))
				return &r->v[i].m.art[j];
	return NULL;
}

/* Whether any readable run manifest, usable or not, records rel as no
 * good backup (suspect, or not a success/warning): negative evidence is
 * believed wherever it comes from, so a suspect media archive whose run
 * had implausible times never counts for the floor. */
static bool runs_distrust(const struct runs *r, const char *rel)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < r->v[i].m.n_art; j++)
			if (!strcmp(r->v[i].m.art[j].path, rel) && !art_good(&r->v[i].m.art[j]))
				return true;
	return false;
}

static struct prune_line *add_line(struct prune_report *r, const char *kind, const char *rel)
{
	struct prune_line *nv = realloc(r->v, (r->n + 1) * sizeof *nv), *x;

	if (!nv)
		return NULL;
	r->v = nv;
	x = &nv[r->n++];
	memset(x, 0, sizeof *x);
	snprintf(x->kind, sizeof x->kind, "%s", kind);
	snprintf(x->rel, sizeof x->rel, "%s", rel);
	return x;
}

static void add_warning(struct prune_report *r, const char *text)
{
	char (*nv)[480] = realloc(r->warn, (r->n_warn + 1) * sizeof *nv);

	log_warn("retention: %s", text);
	if (!nv)
		return;
	r->warn = nv;
	snprintf(nv[r->n_warn++], sizeof nv[0], "%s", text);
}

/* Good by metadata (retention.h, struct ret_item). */
static bool meta_good(const struct cat_entry *c, const struct runs *r)
{
	char rel[340];
	const struct mf_artifact *a;

	if (c->pre_restore || c->future || c->suspect[0] || !c->has_sha256)
		return false;
	snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(c->kind), c->name);
	if (runs_distrust(r, rel))
		return false;
	if (!c->recorded)
		return true;
	a = runs_find(r, rel);
	return a && art_good(a) && a->bytes == c->size;
}

struct check_ctx {
	const struct cat_entry *v;
	const struct runs *runs;
	const struct manifest *run;
	bool *bad; /* [i]: the file failed its check (the line says so) */
};

/* The floor's check (ret_check_fn): the file's sha256 equals its .sha256
 * and, when a run manifest records it, that record's. A file this very run
 * wrote and read back is taken as it was recorded. */
static bool check_good(void *ctx, size_t i)
{
	const struct check_ctx *c = ctx;
	const struct cat_entry *ent = &c->v[i];
	const struct mf_artifact *a;
	char rel[340], hex[65];
	struct err e;

	snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(ent->kind), ent->name);
	a = ent->recorded ? runs_find(c->runs, rel) : NULL;
	for (size_t j = 0; a && c->run && j < c->run->n_art; j++)
		if (!strcmp(c->run->art[j].path, rel) && !strcmp(c->run->art[j].sha256, a->sha256))
			return true;
	if (artifact_check_sha256(ent->path, hex, &e) < 0) {
		if (e.code != ERR_INTERRUPTED) {
			log_warn("retention: %s does not count as a good backup for BACKUP_KEEP_MIN: %s",
				 rel, e.msg);
			c->bad[i] = true;
		}
		return false;
	}
	if (a && strcasecmp(hex, a->sha256) != 0) {
		log_warn("retention: %s does not count as a good backup for BACKUP_KEEP_MIN: its "
			 "sha256 is not the one its run manifest recorded", rel);
		c->bad[i] = true;
		return false;
	}
	return true;
}

/* Unlink dir/name for line l: an INFO line and done, or a WARN with the
 * errno text and failed. Returns whether it was deleted. */
static bool unlink_line(struct prune_line *l, const char *dir, const char *name)
{
	char p[UTIL_PATH_MAX + 300];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	if (unlink(p) < 0) {
		l->failed = true;
		snprintf(l->error, sizeof l->error, "%s", strerror(errno));
		log_warn("retention: cannot delete %s: %s; hint: check its permissions and that "
			 "BACKUP_DIR is writable; the next prune tries again", l->rel, l->error);
		return false;
	}
	l->done = true;
	log_info("prune deleted kind=%s file=%s bytes=%llu reason=\"%s\"", l->kind, name,
		 (unsigned long long)l->bytes, l->reason);
	return true;
}

/* Delete one backup file: the file, then its .sha256, then fsync the
 * directory, so a crash leaves at most an orphan .sha256 (removed by the
 * next prune), never a final name without its checksum. */
static void delete_backup(const struct cat_entry *c, struct prune_line *l, const struct prune_opts *o)
{
	char sp[UTIL_PATH_MAX + 8], dir[UTIL_PATH_MAX];
	struct err e;

	snprintf(dir, sizeof dir, "%s", c->path);
	*strrchr(dir, '/') = '\0';
	if (!unlink_line(l, dir, c->name))
		return;
	snprintf(sp, sizeof sp, "%s.sha256", c->path);
	if (unlink(sp) < 0 && errno != ENOENT)
		log_warn("retention: cannot delete %s.sha256: %s; the next prune removes it", l->rel,
			 strerror(errno));
	if (util_fsync_dir(dir, &e) < 0)
		log_warn("retention: %s", e.msg);
	if (o->record && mf_add_pruned(o->record, l->kind, c->name, l->reason, l->bytes) < 0)
		log_warn("retention: out of memory recording %s in the run manifest", l->rel);
}

/* Plan one kind and, unless a dry run, delete what the plan says. */
static int prune_kind(const struct config *cfg, enum cat_kind kind, struct runs *runs,
		      const struct prune_opts *o, struct prune_report *r, struct err *e)
{
	struct cat_entry *v = NULL;
	size_t n = 0;
	struct ret_item *items;
	struct ret_policy p;
	struct ret_plan plan;
	struct check_ctx cc = { 0 };
	int rc = 0;

	if (catalog_scan_recs(cfg, (int)kind, runs->recs, runs->nrecs, &v, &n, e) < 0)
		return -1;
	items = calloc(n ? n : 1, sizeof *items);
	plan.d = calloc(n ? n : 1, sizeof *plan.d);
	cc.bad = calloc(n ? n : 1, sizeof *cc.bad);
	if (!items || !plan.d || !cc.bad) {
		rc = err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = (struct ret_item){ &v[i], meta_good(&v[i], runs) };
	retention_policy(cfg, &p);
	cc.v = v;
	cc.runs = runs;
	cc.run = o->run;
	retention_plan(items, n, &p, time(NULL), check_good, &cc, &plan);
	if (pid1_stop_requested() && !o->dry_run) {
		/* A check cut short by the stop counted its file as no good backup:
		 * such a plan may not be followed (I3). */
		int sig = pid1_stop_requested();
		rc = err_set(e, ERR_INTERRUPTED, "retention of %s stopped by signal %d before deleting "
			     "anything", catalog_kind_name(kind), sig);
		e->signo = sig;
		goto out;
	}
	for (size_t i = 0; i < plan.n_warn && i < RET_WARN_MAX; i++)
		add_warning(r, plan.warn[i]);
	if (plan.n_warn > RET_WARN_MAX)
		add_warning(r, "(more warnings of this kind were left out)");
	for (size_t i = 0; i < n; i++) {
		char rel[340];
		struct prune_line *l;
		snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(kind), v[i].name);
		l = add_line(r, catalog_kind_name(kind), rel);
		if (!l) {
			rc = err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
		l->del = plan.d[i].del;
		l->bytes = v[i].size;
		snprintf(l->reason, sizeof l->reason, "%s%s", plan.d[i].reason,
			 cc.bad[i] ? "; fails its checksum check, not counted for BACKUP_KEEP_MIN" : "");
		if (l->del && !o->dry_run)
			delete_backup(&v[i], l, o);
	}
out:
	free(items);
	free(plan.d);
	free(cc.bad);
	free(v);
	return rc;
}

/* "<vigil name>.sha256" in BACKUP_DIR/<kind> whose backup file is gone: what
 * a crash between the two unlinks of delete_backup (or a commit's, README "A
 * backup run" step 6) leaves. Only names of vigil's own patterns. */
static void prune_orphans(const struct config *cfg, enum cat_kind kind, const struct prune_opts *o,
			  struct prune_report *r)
{
	char dir[UTIL_PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool removed = false;
	struct err e;

	snprintf(dir, sizeof dir, "%s/%s", cfg->backup_dir, catalog_kind_name(kind));
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d)) != NULL) {
		char base[300], p[UTIL_PATH_MAX + 300], rel[340];
		struct cat_entry ce;
		struct prune_line *l;
		struct stat st;
		size_t len = strlen(de->d_name);

		if (len <= 7 || len - 7 >= sizeof base || !util_ends_with(de->d_name, ".sha256"))
			continue;
		snprintf(base, len - 6, "%s", de->d_name);
		snprintf(p, sizeof p, "%s/%s", dir, base);
		if (!catalog_match(kind, cfg->prefix, base, &ce) || lstat(p, &st) == 0 || errno != ENOENT)
			continue;
		snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(kind), de->d_name);
		if (!(l = add_line(r, catalog_kind_name(kind), rel)))
			break;
		l->del = true;
		snprintf(l->reason, sizeof l->reason, "checksum file without its backup file");
		if (o->dry_run)
			continue;
		removed |= unlink_line(l, dir, de->d_name);
	}
	closedir(d);
	if (removed && util_fsync_dir(dir, &e) < 0)
		log_warn("retention: %s", e.msg);
}

/* rel ("db/<name>") is on disk, counting files this plan deletes as gone. */
static bool on_disk(const struct config *cfg, const struct prune_report *r, const char *rel)
{
	char p[UTIL_PATH_MAX + 600];
	struct stat st;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].del && !r->v[i].failed && !strcmp(r->v[i].rel, rel))
			return false;
	snprintf(p, sizeof p, "%s/%s", cfg->backup_dir, rel);
	return lstat(p, &st) == 0 || errno != ENOENT;
}

/* Run manifests that no longer matter: see prune_execute. */
static void prune_runs(const struct config *cfg, struct runs *runs, const struct prune_opts *o,
		       struct prune_report *r)
{
	long limit = PRUNE_RUNS_MIN_DAYS;
	char dir[UTIL_PATH_MAX];
	bool removed = false;
	time_t now = time(NULL);
	struct err e;

	limit = cfg->retention_days > limit ? cfg->retention_days : limit;
	limit = cfg->pre_restore_retention_days > limit ? cfg->pre_restore_retention_days : limit;
	snprintf(dir, sizeof dir, "%s/runs", cfg->backup_dir);
	runs_mark_state(runs, "db");
	runs_mark_state(runs, "media");
	for (size_t i = 0; i < runs->n; i++) {
		struct run_file *x = &runs->v[i];
		char rel[340];
		long age;
		bool held = false;
		struct prune_line *l;

		if (!x->usable || x->keep)
			continue;
		age = retention_age_days((time_t)x->m.start, now);
		for (size_t j = 0; j < x->m.n_art && !held; j++)
			held = x->m.art[j].path[0] && on_disk(cfg, r, x->m.art[j].path);
		if (age <= limit || held)
			continue;
		snprintf(rel, sizeof rel, "runs/%s", x->file);
		if (!(l = add_line(r, "runs", rel)))
			break;
		l->del = true;
		snprintf(l->reason, sizeof l->reason, "run manifest older than %ld days (%ld days old) "
			 "whose files are all gone or deleted now", limit, age);
		if (o->dry_run)
			continue;
		removed |= unlink_line(l, dir, x->file);
	}
	if (removed && util_fsync_dir(dir, &e) < 0)
		log_warn("retention: %s", e.msg);
}

int prune_execute(const struct config *cfg, const struct prune_opts *o, struct prune_report *r,
		  struct err *e)
{
	char dir[UTIL_PATH_MAX];
	struct runs runs;
	struct err ke;
	int rc = 0;

	memset(r, 0, sizeof *r);
	if (util_fmt(dir, sizeof dir, e, "%s/runs", cfg->backup_dir) < 0)
		return -1;
	/* Without the records, a recorded suspect backup would look good. */
	if (runs_load(dir, time(NULL), &runs, e) < 0)
		return -1;
	for (int k = CAT_DB; k <= CAT_MEDIA; k++) {
		if (!(o->kinds & (1u << k)))
			continue;
		err_clear(&ke);
		if (prune_kind(cfg, (enum cat_kind)k, &runs, o, r, &ke) < 0) {
			if (rc == 0)
				*e = ke;
			rc = -1;
			continue;
		}
		prune_orphans(cfg, (enum cat_kind)k, o, r);
	}
	if (rc == 0)
		prune_runs(cfg, &runs, o, r);
	for (size_t i = 0; i < r->n; i++) {
		r->n_failed += r->v[i].failed;
		r->n_deleted += r->v[i].done;
		if (r->v[i].done)
			r->bytes_deleted += r->v[i].bytes;
	}
	runs_free(&runs);
	return rc;
}

void prune_report_free(struct prune_report *r)
{
	free(r->v);
	free(r->warn);
	memset(r, 0, sizeof *r);
}

void prune_after_run(const struct config *cfg, struct manifest *m)
{
	struct prune_opts o = { .record = m, .run = m };
	struct prune_report r;
	char runs[UTIL_PATH_MAX];
	struct err e;

	for (size_t i = 0; i < m->n_art; i++)
		if (art_good(&m->art[i]))
			o.kinds |= 1u << (strcmp(m->art[i].kind, "db") == 0 ? CAT_DB : CAT_MEDIA);
	if (!o.kinds)
		return; /* a failed kind prunes nothing (I3) */
	err_clear(&e);
	if (prune_execute(cfg, &o, &r, &e) < 0)
		log_warn("retention: %s; the run's result stands", e.msg);
	if (r.n_failed)
		log_warn("retention: %zu file(s) could not be deleted; the run's result stands; "
			 "`vigil prune --dry-run` shows the plan", r.n_failed);
	snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
	if (m->n_pruned > 0 && manifest_replace(runs, m, (mode_t)cfg->file_mode, &e) < 0)
		log_warn("retention: cannot record the deleted files in runs/%s.json: %s", m->run_id,
			 e.msg);
	prune_report_free(&r);
}

int prune_command(const struct config *cfg, bool dry_run, struct prune_report *r, struct err *e)
{
	struct prune_opts o = { .kinds = (1u << CAT_DB) | (1u << CAT_MEDIA), .dry_run = dry_run };
	struct manifest m;
	char stamp[16], runs[UTIL_PATH_MAX];
	struct err pe, me;
	int fd, rc;

	if (dry_run)
		return prune_execute(cfg, &o, r, e);
	memset(r, 0, sizeof *r);
	if ((fd = lock_take(cfg->backup_dir, e)) < 0)
		return -1;
	memset(&m, 0, sizeof m);
	snprintf(m.command, sizeof m.command, "prune");
	m.start = (int64_t)time(NULL);
	o.record = &m;
	err_clear(&pe);
	rc = prune_execute(cfg, &o, r, &pe);
	m.end = (int64_t)time(NULL);
	if (m.n_pruned > 0 || r->n_failed > 0 || rc < 0) {
		bool bad = rc < 0 || r->n_failed > 0;
		snprintf(m.result, sizeof m.result, "%s", bad ? "failure" : "success");
		if (bad) {
			snprintf(m.err_code, sizeof m.err_code, "%s", err_reason(rc < 0 ? pe.code : ERR_IO));
			snprintf(m.err_msg, sizeof m.err_msg, "%s", rc < 0 ? pe.msg
				 : "a file could not be deleted (see backup.log)");
		}
		util_stamp_local((time_t)m.start, stamp);
		snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
		if (manifest_write(runs, stamp, &m, (mode_t)cfg->file_mode, &me) < 0) {
			log_error("prune: cannot write its run manifest: %s", me.msg);
			if (rc == 0)
				pe = me;
			rc = -1;
		}
	}
	log_info("prune done run=%s deleted=%zu failed=%zu bytes=%llu", m.run_id[0] ? m.run_id : "-",
		 r->n_deleted, r->n_failed, (unsigned long long)r->bytes_deleted);
	if (rc < 0)
		*e = pe;
	manifest_free(&m);
	lock_release(fd);
	return rc;
}
