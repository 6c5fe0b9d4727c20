/* media_swap.c - swapping the staged tree into place: every rename is
 * journalled so a failure rolls them all back; live entries are set aside
 * in root/.vigil-old-XXXXXX under their own relative paths; directories
 * holding a protected one (BACKUP_DIR, LOG_DIR) stay and are swapped inside.
 * Also the mount points check (a mounted directory cannot be moved aside).
 */
#include "pipeline/media_int.h"
#include "base/util.h"

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

/* s->old, made on first use: root/.vigil-old-XXXXXX (mkdtemp, 0700). */
static int sw_make_old(struct sw *s)
{
	if (s->old)
		return 0;
	s->old = media_path_join(s->root, ".vigil-old-XXXXXX");
	if (!s->old)
		return sw_oom(s);
	if (!mkdtemp(s->old)) {
		err_errno(s->e, ERR_RESTORE, errno, "cannot create a directory in %s", s->root);
		free(s->old);
		s->old = NULL;
		return -1;
	}
	return 0;
}

static int sw_dir(struct sw *s, const char *rel);

/* child (relative to root) is a live directory that holds a protected one
 * deeper down: it stays, and the swap goes on inside it. When the archive
 * has that directory too, its owner, mode and mtime from the stage are
 * applied after the swap (*from, its live path, moves into s->fx). */
static int sw_swap_inside(struct sw *s, const char *child, char **from)
{
	char *sp = media_path_join(s->stage, child);
	struct stat sst;
	int have, ret = -1;

	if (!sp)
		return sw_oom(s);
	/* before the swap inside changes its mtime */
	have = lstat(sp, &sst) == 0 && S_ISDIR(sst.st_mode);
	if (sw_dir(s, child) != 0)
		goto out;
	if (have) {
		if (grow((void **)&s->fx, &s->cap_fx, s->n_fx, sizeof *s->fx) != 0) {
			sw_oom(s);
			goto out;
		}
		s->fx[s->n_fx].path = *from;
		s->fx[s->n_fx++].st = sst;
		*from = NULL;
	}
	ret = 0;
out:
	free(sp);
	return ret;
}

/* Move the live entry child (relative to root, at from) of directory rel
 * out to s->old under the same relative path. */
static int sw_move_out(struct sw *s, const char *rel, const char *child, const char *from)
{
	char *to;
	int ret;

	if (sw_make_old(s) != 0 || (rel[0] && sw_old_dir(s, rel) != 0))
		return -1;
	to = media_path_join(s->old, child);
	if (!to)
		return sw_oom(s);
	ret = sw_move(s, from, to);
	free(to);
	return ret;
}

/* The live entry name of directory rel: moved out to s->old, except vigil's
 * own (top level) and protected ones (left alone) and ancestors of
 * protected ones (swapped inside). */
static int sw_set_aside(struct sw *s, const char *rel, const char *name)
{
	char *child = media_path_join(rel, name), *from = NULL;
	struct stat st;
	int ret;

	if (child)
		from = media_path_join(s->root, child);
	if (!child || !from)
		ret = sw_oom(s);
	else if (!rel[0] && strncmp(name, ".vigil-", 7) == 0)
		ret = 0;
	else if (lstat(from, &st) != 0)
		ret = errno == ENOENT ? 0 : err_errno(s->e, ERR_RESTORE, errno, "cannot stat %s", from);
	else if (sw_protected(s, child, &st))
		ret = 0;
	else if (S_ISDIR(st.st_mode) && sw_pinned(s, child))
		ret = sw_swap_inside(s, child, &from);
	else
		ret = sw_move_out(s, rel, child, from);
	free(child);
	free(from);
	return ret;
}

/* The staged entry name of directory rel: moved into place, unless the
 * live name is still there: vigil's own, protected, or pinned (see
 * sw_set_aside); the first two are a warning. */
static int sw_bring_in(struct sw *s, const char *rel, const char *name)
{
	char *child = media_path_join(rel, name), *from = NULL, *to = NULL;
	struct stat st, sst;
	int ret = 0;

	if (child) {
		from = media_path_join(s->stage, child);
		to = media_path_join(s->root, child);
	}
	if (!child || !from || !to) {
		ret = sw_oom(s);
	} else if (lstat(to, &st) != 0) {
		ret = sw_move(s, from, to);
	} else if (S_ISDIR(st.st_mode) && sw_pinned(s, child) && !sw_protected(s, child, &st) &&
		   lstat(from, &sst) == 0 && S_ISDIR(sst.st_mode)) {
		/* swapped inside by sw_set_aside */
	} else {
		/* Still there: vigil's own, protected, or pinned where the
		 * archive has no directory of that name. */
		if (s->o->warn)
			s->o->warn(s->o->ctx, child,
				   "not restored: the name is a protected directory or reserved by vigil");
		s->st->warnings++;
	}
	free(child);
	free(from);
	free(to);
	return ret;
}

/* Swap the directory rel (relative to root, "" = root): move the live
 * entries out to s->old under the same relative path, except vigil's own
 * (top level), protected ones and ancestors of protected ones (recursed
 * into), then move the staged ones in. */
static int sw_dir(struct sw *s, const char *rel)
{
	struct names live = { 0 }, staged = { 0 };
	char *lpath = media_path_join(s->root, rel), *spath = media_path_join(s->stage, rel);
	int ret = -1;

	if (!lpath || !spath) {
		sw_oom(s);
		goto out;
	}
	if (rel[0] && sw_note_times(s, lpath) != 0)
		goto out;
	if (sw_list(s, lpath, &live, 0) != 0 || sw_list(s, spath, &staged, 1) != 0)
		goto out;
	for (size_t i = 0; i < live.n; i++)
		if (sw_set_aside(s, rel, live.v[i]) != 0)
			goto out;
	for (size_t i = 0; i < staged.n; i++)
		if (sw_bring_in(s, rel, staged.v[i]) != 0)
			goto out;
	ret = 0;
out:
	media_names_free(&live);
	media_names_free(&staged);
	free(lpath);
	free(spath);
	return ret;
}

/* Undo every journalled rename, newest first. Returns the number that
 * failed; those leave their source where it is (never deleted). */
static size_t sw_rollback(struct sw *s)
{
	size_t bad = 0;

	for (size_t i = s->n_mv; i-- > 0;)
		if (rename(s->mv[i].to, s->mv[i].from) != 0)
			bad++;
	for (size_t i = s->n_dt; i-- > 0;)
		(void)utimensat(AT_FDCWD, s->dt[i].path, s->dt[i].ts, AT_SYMLINK_NOFOLLOW);
	return bad;
}

/* Free what s holds (not s itself). */
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

/* Set s up for a swap into root (realpath of o->root; s keeps the pointer,
 * as it does o, st and e). The protected directories are the o->skip_dirs
 * that exist: by device and inode, and by path relative to root when below
 * it. Returns 0 or -1 with e set (ERR_INTERNAL); free s with media_sw_free
 * either way. s->stage is set by the caller once the stage exists. */
int media_sw_init(struct sw *s, const struct media_opts *o, struct media_stats *st,
		  struct err *e, const char *root)
{
	s->o = o;
	s->st = st;
	s->e = e;
	s->root = root;
	if (o->n_skip_dirs) {
		s->prot = calloc(o->n_skip_dirs, sizeof *s->prot);
		if (!s->prot)
			return err_set(e, ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < o->n_skip_dirs; i++) {
		struct stat ps;
		char *rp;
		size_t n = strlen(root);

		if (!o->skip_dirs[i] || stat(o->skip_dirs[i], &ps) != 0 || !S_ISDIR(ps.st_mode))
			continue;
		s->prot[s->n_prot].dev = ps.st_dev;
		s->prot[s->n_prot].ino = ps.st_ino;
		rp = realpath(o->skip_dirs[i], NULL);
		if (rp && n > 1 && strncmp(rp, root, n) == 0 && rp[n] == '/' && rp[n + 1])
			s->prot[s->n_prot].rel = strdup(rp + n + 1);
		else if (rp && n == 1 && rp[1])
			s->prot[s->n_prot].rel = strdup(rp + 1);
		free(rp);
		s->n_prot++;
	}
	return 0;
}

/* Swap the staged tree s->stage into s->root (see sw_dir). On failure every
 * journalled rename is undone; when some could not be, s->stuck is set and
 * the error says where the entries are. Returns 0 or -1 with s->e set
 * (ERR_RESTORE, ERR_INTERNAL). */
int media_sw_run(struct sw *s)
{
	size_t bad;

	if (sw_dir(s, "") == 0)
		return 0;
	bad = sw_rollback(s);
	if (bad) {
		s->stuck = true;
		s->st->not_moved_back = bad;
		err_prefix(s->e, "restore failed and %zu entries could not be moved back: "
			   "MEDIA_DIR lacks them, they are in %s under their paths relative "
			   "to MEDIA_DIR (hint: move them back by hand, then delete that "
			   "directory)", bad, s->old ? s->old : s->stage);
	}
	return -1;
}

/* path (absolute, below s->root) relative to the root, for o->warn. */
static const char *sw_rel(const struct sw *s, const char *path)
{
	size_t n = strlen(s->root);

	return path + (n == 1 ? 1 : n + 1);
}

/* A removal below the root failed with errno en: o->warn gets the entry
 * that could not be removed (bad, malloc'ed, freed here; path when NULL)
 * and "<what>: <strerror(en)><tail>"; counted in st->warnings when count
 * (a committed restore's result carries them). */
static void sw_removal_failed(struct sw *s, const char *path, char *bad, int en,
			      const char *what, const char *tail, bool count)
{
	char m[600];

	snprintf(m, sizeof m, "%s: %s%s", what, strerror(en), tail);
	if (s->o->warn)
		s->o->warn(s->o->ctx, sw_rel(s, bad ? bad : path), m);
	if (count)
		s->st->warnings++;
	free(bad);
}

/* After a committed swap: delete the replaced entries (s->old) and the
 * emptied stage, then give the directories kept in place (swapped inside)
 * the archive's owner, mode and mtime. Failures are warnings (o->warn,
 * st->warnings) naming the entry that could not be removed and why: the
 * restored entries are live by now. */
void media_sw_finish(struct sw *s)
{
	size_t rl = strlen(s->root);
	char *bad;

	if (s->old && media_rm_tree_at(AT_FDCWD, s->old, &bad) != 0) {
		char tail[300];
		int en = errno;
		snprintf(tail, sizeof tail, "; hint: the restore is complete; delete %s by hand",
			 sw_rel(s, s->old));
		sw_removal_failed(s, s->old, bad, en, "cannot remove the old entries", tail, true);
	}
	if (media_rm_tree_at(AT_FDCWD, s->stage, &bad) != 0)
		sw_removal_failed(s, s->stage, bad, errno, "cannot remove the staging directory",
				  " (the next restore removes it)", true);
	for (size_t i = 0; i < s->n_fx; i++)
		media_apply_meta(s, s->fx[i].path, s->fx[i].path + rl + 1, s->fx[i].st.st_uid,
				 s->fx[i].st.st_gid, s->fx[i].st.st_mode, &s->fx[i].st.st_mtim);
}

/* After a failed restore whose stage exists (nothing committed): remove the
 * stage and the directories sw_old_dir made, unless a rollback left live
 * entries in s->old (s->stuck: then both stay for the operator). A removal
 * that fails is a warning naming the entry and why (the restore's error
 * is reported anyway). */
void media_sw_abandon(struct sw *s)
{
	char *bad;

	if (s->stuck)
		return;
	/* Fails on a file system that went read-only after write-back errors;
	 * the next restore removes it. */
	if (media_rm_tree_at(AT_FDCWD, s->stage, &bad) != 0)
		sw_removal_failed(s, s->stage, bad, errno, "cannot remove the staging directory",
				  " (it holds only restored files; the next restore removes it)",
				  false);
	/* After a complete rollback it holds at most the directories
	 * sw_old_dir made; never rm -r'ed here since it held the live
	 * entries. A file left in it keeps it (and the next backup and restore
	 * warn about it). */
	if (s->old && util_rmdir_empty(s->old) != 0)
		sw_removal_failed(s, s->old, NULL, errno,
				  "cannot remove the directory of the rolled-back swap",
				  "; hint: every entry was moved back into MEDIA_DIR; check that it "
				  "holds nothing you need, then delete it", false);
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
