/* media_swap.c - swapping the staged tree into place: every rename is
 * journalled so a failure rolls them all back; live entries are set aside
 * in root/.vigil-old-XXXXXX under their own relative paths; directories
 * holding a protected one (BACKUP_DIR, LOG_DIR) stay and are swapped inside.
 * Also the mount points check (a mounted directory cannot be moved aside).
 */
#include "media_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*v, c * size);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

static int sw_oom(struct sw *s)
{
	return err_set(s->e, ERR_INTERNAL, "out of memory");
}

/* A directory whose entries we change but which stays: remember its times
 * so a rollback can put them back. */
static int sw_note_times(struct sw *s, const char *path)
{
	struct stat st;
	struct dtimes *d;

	if (lstat(path, &st) != 0)
		return 0;
	if (grow((void **)&s->dt, &s->cap_dt, s->n_dt, sizeof *s->dt) != 0)
		return sw_oom(s);
	d = &s->dt[s->n_dt];
	d->path = strdup(path);
	if (!d->path)
		return sw_oom(s);
	d->ts[0] = st.st_atim;
	d->ts[1] = st.st_mtim;
	s->n_dt++;
	return 0;
}

/* rename(2) with a journal entry for the rollback. A directory keeps its
 * mtime (file systems may touch it when its ".." changes). */
static int sw_move(struct sw *s, const char *from, const char *to)
{
	struct stat a, b;
	int isdir = lstat(from, &a) == 0 && S_ISDIR(a.st_mode);
	char b1[SHOW_MAX + 4];

	if (grow((void **)&s->mv, &s->cap_mv, s->n_mv, sizeof *s->mv) != 0)
		return sw_oom(s);
	s->mv[s->n_mv].from = strdup(from);
	s->mv[s->n_mv].to = strdup(to);
	if (!s->mv[s->n_mv].from || !s->mv[s->n_mv].to) {
		free(s->mv[s->n_mv].from);
		free(s->mv[s->n_mv].to);
		return sw_oom(s);
	}
	if (rename(from, to) != 0) {
		int saved = errno;
		free(s->mv[s->n_mv].from);
		free(s->mv[s->n_mv].to);
		return err_errno(s->e, ERR_RESTORE, saved, "cannot move %s to %s",
				 media_show(from, b1), to);
	}
	s->n_mv++;
	if (isdir && lstat(to, &b) == 0 &&
	    (b.st_mtim.tv_sec != a.st_mtim.tv_sec || b.st_mtim.tv_nsec != a.st_mtim.tv_nsec)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, a.st_mtim };
		(void)utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
	}
	return 0;
}

static const struct prot *sw_protected(const struct sw *s, const char *rel, const struct stat *st)
{
	for (size_t i = 0; i < s->n_prot; i++) {
		if (S_ISDIR(st->st_mode) && s->prot[i].dev == st->st_dev && s->prot[i].ino == st->st_ino)
			return &s->prot[i];
		if (s->prot[i].rel && strcmp(s->prot[i].rel, rel) == 0)
			return &s->prot[i];
	}
	return NULL;
}

/* rel is an ancestor of a protected directory: it has to stay, and the swap
 * goes on inside it. */
static int sw_pinned(const struct sw *s, const char *rel)
{
	size_t n = strlen(rel);

	for (size_t i = 0; i < s->n_prot; i++)
		if (s->prot[i].rel && strncmp(s->prot[i].rel, rel, n) == 0 && s->prot[i].rel[n] == '/')
			return 1;
	return 0;
}

static int sw_list(struct sw *s, const char *path, struct names *ns, int missing_ok)
{
	DIR *d = opendir(path);
	char b[SHOW_MAX + 4];
	int r;

	if (!d) {
		if (missing_ok && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		return err_errno(s->e, ERR_RESTORE, errno, "cannot list %s", media_show(path, b));
	}
	r = media_names_read(d, ns);
	if (r != 0)
		err_errno(s->e, ERR_RESTORE, errno, "cannot list %s", media_show(path, b));
	closedir(d);
	return r;
}

/* The directory old/rel and its parents inside s->old (0700), where the
 * live entries of rel go under their own names: a restore killed in the
 * middle of its swap (SIGKILL, a power cut) leaves a tree that mirrors
 * MEDIA_DIR, from which an operator can move back what is missing. */
static int sw_old_dir(struct sw *s, const char *rel)
{
	char *p = media_path_join(s->old, rel);
	int rc = 0;

	if (!p)
		return sw_oom(s);
	for (char *q = p + strlen(s->old) + 1; rc == 0; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = err_errno(s->e, ERR_RESTORE, errno, "cannot create a directory in %s",
				       s->old);
		*q = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* Swap the directory rel (relative to root, "" = root): move the live
 * entries out to s->old under the same relative path, except vigil's own
 * (top level), protected ones and ancestors of protected ones (recursed
 * into), then move the staged ones in. */
int media_sw_dir(struct sw *s, const char *rel)
{
	struct names live = { 0 }, staged = { 0 };
	char *lpath = media_path_join(s->root, rel), *spath = media_path_join(s->stage, rel);
	char *child = NULL, *from = NULL, *to = NULL;
	int ret = -1;

	if (!lpath || !spath) {
		sw_oom(s);
		goto out;
	}
	if (rel[0] && sw_note_times(s, lpath) != 0)
		goto out;
	if (sw_list(s, lpath, &live, 0) != 0 || sw_list(s, spath, &staged, 1) != 0)
		goto out;
	for (size_t i = 0; i < live.n; i++) {
		struct stat st;

		free(child);
		free(from);
		free(to);
		to = NULL;
		child = media_path_join(rel, live.v[i]);
		from = media_path_join(s->root, child);
		if (!child || !from) {
			sw_oom(s);
			goto out;
		}
		if (!rel[0] && strncmp(live.v[i], ".vigil-", 7) == 0)
			continue;
		if (lstat(from, &st) != 0) {
			if (errno == ENOENT)
				continue;
			err_errno(s->e, ERR_RESTORE, errno, "cannot stat %s", from);
			goto out;
		}
		if (sw_protected(s, child, &st))
			continue;
		if (S_ISDIR(st.st_mode) && sw_pinned(s, child)) {
			char *sp = media_path_join(s->stage, child);
			struct stat sst;
			int have;
			if (!sp) {
				sw_oom(s);
				goto out;
			}
			/* before the swap inside changes its mtime */
			have = lstat(sp, &sst) == 0 && S_ISDIR(sst.st_mode);
			if (media_sw_dir(s, child) != 0) {
				free(sp);
				goto out;
			}
			if (have) {
				if (grow((void **)&s->fx, &s->cap_fx, s->n_fx, sizeof *s->fx) != 0) {
					free(sp);
					sw_oom(s);
					goto out;
				}
				s->fx[s->n_fx].path = from;
				s->fx[s->n_fx++].st = sst;
				from = NULL;
			}
			free(sp);
			continue;
		}
		if (!s->old) {
			s->old = media_path_join(s->root, ".vigil-old-XXXXXX");
			if (!s->old) {
				sw_oom(s);
				goto out;
			}
			if (!mkdtemp(s->old)) {
				err_errno(s->e, ERR_RESTORE, errno, "cannot create a directory in %s",
					  s->root);
				free(s->old);
				s->old = NULL;
				goto out;
			}
		}
		if (rel[0] && sw_old_dir(s, rel) != 0)
			goto out;
		to = media_path_join(s->old, child);
		if (!to) {
			sw_oom(s);
			goto out;
		}
		if (sw_move(s, from, to) != 0)
			goto out;
	}
	for (size_t i = 0; i < staged.n; i++) {
		struct stat st;

		free(child);
		free(from);
		free(to);
		from = to = NULL;
		child = media_path_join(rel, staged.v[i]);
		if (child) {
			from = media_path_join(s->stage, child);
			to = media_path_join(s->root, child);
		}
		if (!child || !from || !to) {
			sw_oom(s);
			goto out;
		}
		if (lstat(to, &st) == 0) {
			/* Still there: vigil's own, protected, or pinned. */
			struct stat sst;
			if (S_ISDIR(st.st_mode) && sw_pinned(s, child) && !sw_protected(s, child, &st) &&
			    lstat(from, &sst) == 0 && S_ISDIR(sst.st_mode))
				continue; /* swapped inside by the first loop */
			if (s->o->warn)
				s->o->warn(s->o->ctx, child,
					   "not restored: the name is a protected directory or reserved by vigil");
			s->st->warnings++;
			continue;
		}
		if (sw_move(s, from, to) != 0)
			goto out;
	}
	ret = 0;
out:
	media_names_free(&live);
	media_names_free(&staged);
	free(child);
	free(from);
	free(to);
	free(lpath);
	free(spath);
	return ret;
}

/* Undo every journalled rename, newest first. Returns the number that
 * failed; those leave their source where it is (never deleted). */
size_t media_sw_rollback(struct sw *s)
{
	size_t bad = 0;

	for (size_t i = s->n_mv; i-- > 0;)
		if (rename(s->mv[i].to, s->mv[i].from) != 0)
			bad++;
	for (size_t i = s->n_dt; i-- > 0;)
		(void)utimensat(AT_FDCWD, s->dt[i].path, s->dt[i].ts, AT_SYMLINK_NOFOLLOW);
	return bad;
}

void media_sw_free(struct sw *s)
{
	for (size_t i = 0; i < s->n_mv; i++) {
		free(s->mv[i].from);
		free(s->mv[i].to);
	}
	free(s->mv);
	for (size_t i = 0; i < s->n_prot; i++)
		free(s->prot[i].rel);
	free(s->prot);
	for (size_t i = 0; i < s->n_dt; i++)
		free(s->dt[i].path);
	free(s->dt);
	for (size_t i = 0; i < s->n_fx; i++)
		free(s->fx[i].path);
	free(s->fx);
	free(s->old);
}

/* Owner (only as root, like ARCHIVE_EXTRACT_OWNER), mode and mtime of a
 * directory; chown first, as it may clear set-id bits. Failures are
 * warnings: the data is in place by now. */
void media_apply_meta(struct sw *s, const char *path, const char *rel, uid_t uid, gid_t gid,
		       mode_t perm, const struct timespec *mtime)
{
	int bad = 0;

	if (geteuid() == 0 && chown(path, uid, gid) != 0)
		bad = 1;
	if (chmod(path, perm & 07777) != 0)
		bad = 1;
	if (mtime) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, *mtime };
		if (utimensat(AT_FDCWD, path, ts, 0) != 0)
			bad = 1;
	}
	if (bad) {
		if (s->o->warn)
			s->o->warn(s->o->ctx, rel, "cannot restore owner, mode or mtime");
		s->st->warnings++;
	}
}

/* Decode a mountinfo path field in place: the kernel writes space, tab,
 * newline and backslash as \040, \011, \012, \134 (proc(5)). */
static void mi_unescape(char *f)
{
	char *o = f;

	for (; *f; f++) {
		if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] >= '0' && f[2] <= '7' &&
		    f[3] >= '0' && f[3] <= '7') {
			*o++ = (char)((f[1] - '0') * 64 + (f[2] - '0') * 8 + (f[3] - '0'));
			f += 3;
		} else {
			*o++ = *f;
		}
	}
	*o = '\0';
}

/* path equals dir or lies below it (both absolute, symlink-free). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* F18: rename(2) cannot move a mount point (EBUSY), so a restore that would
 * move one aside fails halfway through its swap (and is rolled back). Find
 * mount points strictly below root (from /proc/self/mountinfo, field 5)
 * that are not a skip dir or inside one (those are never moved). root and
 * the skip dirs are realpath'ed. Returns 0 when there is none, or -1 with
 * e set (ERR_REFUSED naming the first one, relative to root). */
int media_mounts_below(const char *root, const struct media_opts *o, struct err *e)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *prot[8] = { 0 };
	size_t cap = 0, n_prot = 0, rl = strlen(root);
	char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
	int ret = 0;

	if (!f)
		return 0; /* no /proc: the swap reports EBUSY itself */
	for (size_t i = 0; i < o->n_skip_dirs && n_prot < 8; i++)
		if (o->skip_dirs[i] && (prot[n_prot] = realpath(o->skip_dirs[i], NULL)) != NULL)
			n_prot++;
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		char *fld = line, *mp = NULL;
		bool kept = false;

		for (int k = 0; k < 5 && fld; k++) {
			char *sp = strchr(fld, ' ');
			if (k == 4) {
				if (sp)
					*sp = '\0';
				mp = fld;
			}
			fld = sp ? sp + 1 : NULL;
		}
		if (!mp)
			continue;
		mi_unescape(mp);
		if (strcmp(mp, root) == 0 || !path_within(mp, root))
			continue;
		for (size_t i = 0; i < n_prot; i++)
			kept = kept || path_within(mp, prot[i]);
		if (kept)
			continue;
		ret = err_set(e, ERR_REFUSED,
			      "%s is a mount point below MEDIA_DIR (%s): a restore cannot move a mounted "
			      "directory aside; hint: unmount it for the "
			      "restore and copy its part of the restored tree back into the volume "
			      "afterwards, or restore it by hand (see the restore runbook)",
			      media_show(mp + (rl == 1 ? 1 : rl + 1), b), media_show(root, b2));
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < n_prot; i++)
		free(prot[i]);
	return ret;
}
