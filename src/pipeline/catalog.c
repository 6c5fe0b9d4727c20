/* catalog.c - see catalog.h. */
#include "pipeline/catalog.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"

static const char *const db_exts[] = { ".sql.gz", ".sql.zst", ".sql", ".dump", NULL };
static const char *const media_exts[] = { ".tar.gz", ".tar.zst", ".tar", NULL };

const char *catalog_kind_name(enum cat_kind kind)
{
	return kind == CAT_DB ? "db" : "media";
}

/* "YYYYMMDD_HHMMSS[-N]" followed exactly by one of exts. */
static bool match_tail(const char *p, const char *const *exts, struct cat_entry *out)
{
	int seq = 1;

	for (int i = 0; i < 15; i++) {
		if (i == 8 ? p[i] != '_' : !isdigit((unsigned char)p[i]))
			return false;
	}
	memcpy(out->stamp, p, 15);
	out->stamp[15] = '\0';
	p += 15;
	if (*p == '-') {
		char *end;
		long v;
		if (!isdigit((unsigned char)p[1]) || p[1] == '0')
			return false;
		v = strtol(p + 1, &end, 10);
		if (v < 2 || v > 99)
			return false;
		seq = (int)v;
		p = end;
	}
	for (int i = 0; exts[i]; i++) {
		if (strcmp(p, exts[i]) == 0) {
			out->seq = seq;
			out->custom = strcmp(exts[i], ".dump") == 0;
			out->codec = stream_codec_for_name(exts[i]);
			out->when = util_stamp_parse(out->stamp);
			return out->when != -1;
		}
	}
	return false;
}

bool catalog_match(enum cat_kind kind, const char *prefix, const char *name,
		   struct cat_entry *out)
{
	const char *const *exts = kind == CAT_DB ? db_exts : media_exts;
	const char *own = kind == CAT_DB ? prefix : "media";
	size_t n;

	memset(out, 0, sizeof *out);
	out->kind = kind;
	if (strlen(name) >= sizeof out->name)
		return false;
	snprintf(out->name, sizeof out->name, "%s", name);
	if (util_starts_with(name, "pre_restore_") && match_tail(name + 12, exts, out)) {
		out->pre_restore = true;
		return true;
	}
	n = strlen(own);
	if (strncmp(name, own, n) == 0 && name[n] == '_' && match_tail(name + n + 1, exts, out))
		return true;
	return false;
}

static int newest_first(const void *a, const void *b)
{
	const struct cat_entry *x = a, *y = b;
	int c;

	if (x->utc != y->utc)
		return x->utc > y->utc ? -1 : 1;
	c = strcmp(y->stamp, x->stamp);
	if (c)
		return c;
	if (x->seq != y->seq)
		return y->seq - x->seq;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return strcmp(x->name, y->name);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct mf_record *)a)->path, ((const struct mf_record *)b)->path);
}

bool catalog_time_plausible(int64_t start, time_t stamp)
{
	return start >= MANIFEST_MIN_TIME &&
	       (stamp == -1 || llabs((long long)(start - (int64_t)stamp)) <= CATALOG_STAMP_SLACK);
}

void catalog_order(struct cat_entry *v, size_t n, struct mf_record *recs, size_t nrecs,
		   time_t now)
{
	if (nrecs > 1)
		qsort(recs, nrecs, sizeof *recs, by_path);
	for (size_t i = 0; i < n; i++) {
		struct mf_record key;
		const struct mf_record *r = NULL;

		v[i].utc = v[i].when;
		v[i].recorded = false;
		v[i].suspect[0] = '\0';
		if (nrecs > 0 &&
		    snprintf(key.path, sizeof key.path, "%s/%s", catalog_kind_name(v[i].kind),
			     v[i].name) < (int)sizeof key.path)
			r = bsearch(&key, recs, nrecs, sizeof *recs, by_path);
		/* The name's stamp is the run's start in the TZ of that run, so
		 * the two differ by a zone's offset at most (26 h from UTC-12 to
		 * UTC+14). A recorded start that is missing, unreadable, before
		 * 2000 or further off than that was damaged or edited: as 1970
		 * it would sort last. */
		if (r && !catalog_time_plausible(r->start, v[i].when)) {
			log_warn("the run manifest that records %s has no readable start time, or one "
				 "that disagrees with the stamp in its name; the name's stamp is used "
				 "instead", v[i].name);
			r = NULL;
		}
		if (r) {
			v[i].utc = (time_t)r->start;
			v[i].recorded = true;
			snprintf(v[i].suspect, sizeof v[i].suspect, "%s", r->suspect);
		}
		v[i].future = v[i].utc > now + CATALOG_FUTURE_SLACK;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, newest_first);
}

static int scan_dir(const struct config *cfg, enum cat_kind kind, struct cat_entry **v,
		    size_t *n, struct err *e)
{
	char dir[UTIL_PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (util_fmt(dir, sizeof dir, e, "%s/%s", cfg->backup_dir, catalog_kind_name(kind)) < 0)
		return -1;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, ERR_IO, errno, "cannot read %s", dir);
	while ((de = readdir(d)) != NULL) {
		struct cat_entry ent;
		struct stat st;
		char sp[UTIL_PATH_MAX + 8];

		if (!catalog_match(kind, cfg->prefix, de->d_name, &ent))
			continue;
		snprintf(ent.path, sizeof ent.path, "%s/%s", dir, de->d_name);
		if (lstat(ent.path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		ent.size = (uint64_t)st.st_size;
		ent.mtime = st.st_mtime;
		snprintf(sp, sizeof sp, "%s.sha256", ent.path);
		ent.has_sha256 = lstat(sp, &st) == 0;
		{
			struct cat_entry *nv = realloc(*v, (*n + 1) * sizeof *nv);
			if (!nv) {
				closedir(d);
				return err_set(e, ERR_INTERNAL, "out of memory");
			}
			*v = nv;
			(*v)[(*n)++] = ent;
		}
	}
	closedir(d);
	return 0;
}

int catalog_scan_recs(const struct config *cfg, int kind, struct mf_record *recs, size_t nrecs,
		      struct cat_entry **out, size_t *n, struct err *e)
{
	struct cat_entry *v = NULL;
	size_t cnt = 0;

	if ((kind < 0 || kind == CAT_DB) && scan_dir(cfg, CAT_DB, &v, &cnt, e) < 0)
		goto fail;
	if ((kind < 0 || kind == CAT_MEDIA) && scan_dir(cfg, CAT_MEDIA, &v, &cnt, e) < 0)
		goto fail;
	if (cnt > 0)
		catalog_order(v, cnt, recs, nrecs, time(NULL));
	*out = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	return -1;
}

int catalog_scan(const struct config *cfg, int kind, struct cat_entry **out, size_t *n,
		 struct err *e)
{
	char runs[UTIL_PATH_MAX];
	struct mf_record *recs;
	size_t nrecs = 0;
	int rc;

	if (util_fmt(runs, sizeof runs, e, "%s/runs", cfg->backup_dir) < 0)
		return -1;
	recs = manifest_records(runs, &nrecs);
	rc = catalog_scan_recs(cfg, kind, recs, nrecs, out, n, e);
	free(recs);
	return rc;
}

int catalog_resolve(const struct config *cfg, enum cat_kind kind, const char *arg,
		    struct cat_entry *out, struct err *e)
{
	char want[UTIL_PATH_MAX], root[PATH_MAX], real[PATH_MAX], cand[UTIL_PATH_MAX * 2];
	const char *kn = catalog_kind_name(kind), *base;
	struct stat st;

	if (strcmp(arg, "latest") == 0) {
		struct cat_entry *v = NULL;
		size_t n = 0;
		/* The first of each: 0 good, 1 future-dated, 2 suspect, 3 both. */
		const struct cat_entry *best[4] = { NULL, NULL, NULL, NULL };
		if (catalog_scan(cfg, (int)kind, &v, &n, e) < 0)
			return -1;
		for (size_t i = 0; i < n && !best[0]; i++) {
			int rank = (v[i].future ? 1 : 0) + (v[i].suspect[0] ? 2 : 0);
			if (v[i].pre_restore)
				continue;
			if (!best[rank])
				best[rank] = &v[i];
		}
		for (size_t i = 0; i < n && best[0] && &v[i] != best[0]; i++) {
			if (v[i].pre_restore)
				continue;
			if (v[i].future) {
				/* A wrong clock must not make a stale file "latest" (F5). */
				char ts[32];
				log_time_utc((int64_t)v[i].utc, ts);
				log_warn("%s is dated in the future (made at %s by its run manifest); "
					 "not taken as latest; hint: check the host's clock", v[i].name,
					 ts);
			} else if (v[i].suspect[0]) {
				/* An unmounted volume backed up as empty must not be
				 * restored over the real files (issue 9). */
				log_warn("%s is suspect (%s, by its run manifest); not taken as latest; "
					 "hint: name it explicitly to restore or verify it anyway",
					 v[i].name, v[i].suspect);
			}
		}
		for (int k = 0; k < 4; k++) {
			if (!best[k])
				continue;
			if (k == 1 || k == 3)
				log_warn("only future-dated %s backups%s: taking %s as latest", kn,
					 k == 3 ? " that are suspect" : "", best[k]->name);
			if (k >= 2)
				log_warn("only suspect %s backups: taking %s as latest (%s); hint: "
					 "check it with vigil verify before restoring it", kn,
					 best[k]->name, best[k]->suspect);
			*out = *best[k];
			free(v);
			return 0;
		}
		free(v);
		return err_set(e, ERR_REFUSED, "no %s backup in %s/%s", kn, cfg->backup_dir, kn);
	}
	if (util_fmt(want, sizeof want, e, "%s/%s", cfg->backup_dir, kn) < 0)
		return -1;
	if (!realpath(want, root))
		return err_errno(e, ERR_REFUSED, errno, "cannot resolve %s", want);
	if (!strchr(arg, '/'))
		snprintf(cand, sizeof cand, "%s/%s", root, arg);
	else if (arg[0] == '/')
		snprintf(cand, sizeof cand, "%s", arg);
	else
		snprintf(cand, sizeof cand, "%s/%s", cfg->backup_dir, arg);
	if (!realpath(cand, real)) {
		if (errno == ENOENT)
			return err_set(e, ERR_REFUSED, "no such %s backup: %s", kn, arg);
		return err_errno(e, ERR_REFUSED, errno, "cannot resolve %s", arg);
	}
	if (!util_starts_with(real, root) || real[strlen(root)] != '/' ||
	    strchr(real + strlen(root) + 1, '/'))
		return err_set(e, ERR_REFUSED, "%s resolves outside %s; only backups in BACKUP_DIR "
			       "can be used", arg, root);
	base = real + strlen(root) + 1;
	if (!catalog_match(kind, cfg->prefix, base, out))
		return err_set(e, ERR_REFUSED, "%s is not a vigil %s backup name", base, kn);
	if (stat(real, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, ERR_REFUSED, "%s is not a regular file", real);
	snprintf(out->path, sizeof out->path, "%s", real);
	out->size = (uint64_t)st.st_size;
	out->mtime = st.st_mtime;
	snprintf(cand, sizeof cand, "%s.sha256", real);
	out->has_sha256 = stat(cand, &st) == 0;
	if (util_fmt(want, sizeof want, e, "%s/runs", cfg->backup_dir) == 0) {
		size_t nrecs = 0;
		struct mf_record *recs = manifest_records(want, &nrecs);
		const struct mf_record *r;
		snprintf(cand, sizeof cand, "%s/%s", kn, out->name);
		r = manifest_record_find(recs, nrecs, cand);
		if (r)
			snprintf(out->suspect, sizeof out->suspect, "%s", r->suspect);
		free(recs);
	}
	return 0;
}
