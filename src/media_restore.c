/* media_restore.c - media_restore: the restore of MEDIA_DIR from an
 * archive, step by step (stage, extract, write to disk, prove, swap, clean
 * up), and the check of the staged tree against the archive's listing that
 * comes before anything live moves; media_restore_check, the refusal made
 * before a restore starts.
 */
#include "media_int.h"
#include "tar.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* the check of the staged tree against the listing                       */

/* The check of the staged tree against the listing (media_restore). */
struct vf {
	struct wants *wants;
	const struct media_opts *o; /* stop requests */
	uint64_t n;                 /* entries checked */
	struct err *e;
	struct media_stats cnt; /* what is really there */
	char *rel;              /* REL_MAX bytes: the path below the stage */
	unsigned char *buf;     /* IO_BUF bytes, for crc_file */
};

static const char *type_name(mode_t t)
{
	switch (t & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symbolic link";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	default: return "something else";
	}
}

__attribute__((format(printf, 2, 3)))
static int vf_bad(struct vf *v, const char *fmt, ...)
{
	char b[SHOW_MAX + 4], m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return err_set(v->e, ERR_RESTORE, "the extracted \"%s\" does not match the archive: %s",
		       media_show(v->rel, b), m);
}

/* openat(dfd, name, flags), also for a file or directory this (unprivileged)
 * user owns but may not read: a mode 000 entry is opened through a brief
 * chmod u+r(x) and its mode put back. */
static int vf_open(int dfd, const char *name, int flags, const struct stat *st)
{
	mode_t add = S_ISDIR(st->st_mode) ? 0500 : 0400;
	int fd = openat(dfd, name, flags), saved;

	if (fd >= 0 || errno != EACCES || st->st_uid != geteuid())
		return fd;
	if (fchmodat(dfd, name, (st->st_mode & 07777) | add, 0) != 0) {
		errno = EACCES;
		return -1;
	}
	fd = openat(dfd, name, flags);
	saved = errno;
	(void)fchmodat(dfd, name, st->st_mode & 07777, 0);
	errno = saved;
	return fd;
}

/* CRC-32 (stream_crc32) of the first size bytes of regular file fd, read
 * with pread into buf (IO_BUF bytes). Holes (lseek(2) SEEK_DATA/SEEK_HOLE,
 * as in wr_sparse_map) are hashed as the zeros they read as, without
 * reading them; where the file system cannot tell, everything is read.
 * *got is the number of bytes covered (less than size when the file ended
 * early). Returns 0 or -1 with errno set. */
static int crc_file(int fd, uint64_t size, unsigned char *buf, uint32_t *crc, uint64_t *got)
{
	uint64_t off = 0;
	uint32_t c = 0;

	while (off < size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;
		if (d < 0)
			d = errno == ENXIO ? (off_t)size : (off_t)off;
		if ((uint64_t)d > size)
			d = (off_t)size;
		c = stream_crc32(c, NULL, (uint64_t)d - off);
		off = (uint64_t)d;
		h = off < size ? lseek(fd, d, SEEK_HOLE) : d;
		if (h < 0 || (uint64_t)h > size)
			h = (off_t)size;
		while (off < (uint64_t)h) {
			size_t want = (uint64_t)h - off < IO_BUF ? (size_t)((uint64_t)h - off) : IO_BUF;
			ssize_t n = pread(fd, buf, want, (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (n == 0)
				goto out;
			c = stream_crc32(c, buf, (uint64_t)n);
			off += (uint64_t)n;
		}
	}
out:
	*crc = c;
	*got = off;
	return 0;
}

static int vf_dir(struct vf *v, int fd, size_t len);

/* One staged entry: v->rel is its path, dfd/name where it is. */
static int vf_child(struct vf *v, int dfd, const char *name, size_t len)
{
	struct want *w = media_wants_find(v->wants, v->rel), implicit = { .type = S_IFDIR };
	char b[SHOW_MAX + 4];
	struct stat st;
	int fd;

	if (++v->n % 256 == 0 && media_stop_now(v->o, v->e) != 0)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return err_errno(v->e, ERR_RESTORE, errno, "cannot check the extracted \"%s\"",
				 media_show(v->rel, b));
	if (!w) {
		/* libarchive makes the missing parent directories of an
		 * entry (archives without directory entries); nothing else
		 * may appear. */
		if (!S_ISDIR(st.st_mode))
			return err_set(v->e, ERR_RESTORE, "\"%s\" was extracted but is not in the archive",
				       media_show(v->rel, b));
		w = &implicit;
	}
	w->seen = true;
	if ((st.st_mode & S_IFMT) != (w->type & S_IFMT))
		return vf_bad(v, "it is %s, the archive has %s", type_name(st.st_mode),
			      type_name(w->type));
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: {
		uint32_t crc;
		uint64_t n;
		int r;
		v->cnt.files++;
		if (w->hard)
			return st.st_nlink > 1 ? 0 : vf_bad(v, "not a hard link");
		v->cnt.bytes += (uint64_t)st.st_size;
		if ((uint64_t)st.st_size != w->size)
			return vf_bad(v, "it has %llu bytes, the archive %llu",
				      (unsigned long long)st.st_size, (unsigned long long)w->size);
		if (!w->crc_ok)
			return 0;
		fd = vf_open(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, &st);
		if (fd < 0)
			return err_errno(v->e, ERR_RESTORE, errno,
					 "cannot read back the extracted \"%s\"", media_show(v->rel, b));
		r = crc_file(fd, w->size, v->buf, &crc, &n);
		if (r != 0)
			err_errno(v->e, ERR_RESTORE, errno, "cannot read back the extracted \"%s\"",
				  media_show(v->rel, b));
		close(fd);
		if (r != 0)
			return -1;
		if (n != w->size || crc != w->crc)
			return vf_bad(v, "its content differs (CRC-32 %08x, the archive's %08x)",
				      (unsigned)crc, (unsigned)w->crc);
		return 0;
	}
	case S_IFLNK: {
		size_t cap = strlen(w->link) + 2;
		char *t = malloc(cap);
		ssize_t n;
		int same;
		if (!t)
			return err_set(v->e, ERR_INTERNAL, "out of memory");
		n = readlinkat(dfd, name, t, cap);
		same = n >= 0 && (size_t)n == cap - 2 && memcmp(t, w->link, cap - 2) == 0;
		free(t);
		v->cnt.symlinks++;
		return same ? 0 : vf_bad(v, "its link target differs");
	}
	case S_IFDIR: {
		mode_t keep = st.st_mode & 07777;
		bool as_is = (keep & 0700) == 0700 || geteuid() == 0 || st.st_uid != geteuid();
		int r;
		v->cnt.dirs++;
		/* Lookups below need search permission on the directory for
		 * as long as the walk is in it. */
		if (!as_is && fchmodat(dfd, name, keep | 0700, 0) != 0)
			return err_errno(v->e, ERR_RESTORE, errno,
					 "cannot check the extracted \"%s\"", media_show(v->rel, b));
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			err_errno(v->e, ERR_RESTORE, errno, "cannot check the extracted \"%s\"",
				  media_show(v->rel, b));
			r = -1;
		} else {
			r = vf_dir(v, fd, len);
		}
		if (!as_is)
			(void)fchmodat(dfd, name, keep, 0);
		return r;
	}
	case S_IFCHR:
	case S_IFBLK:
		v->cnt.other++;
		return st.st_rdev == w->rdev ? 0 : vf_bad(v, "its device number differs");
	default:
		v->cnt.other++;
		return 0;
	}
}

/* Check the entries of staged directory fd (owned: closed here), whose path
 * below the stage is v->rel[0..len). */
static int vf_dir(struct vf *v, int fd, size_t len)
{
	struct names ns = { 0 };
	DIR *d = fdopendir(fd);
	char b[SHOW_MAX + 4];
	int ret = -1;

	if (!d) {
		int saved = errno;
		close(fd);
		return err_errno(v->e, ERR_RESTORE, saved, "cannot list the extracted \"%s\"",
				 len ? media_show(v->rel, b) : "./");
	}
	if (media_names_read(d, &ns) != 0) {
		err_errno(v->e, ERR_RESTORE, errno, "cannot list the extracted \"%s\"",
			  len ? media_show(v->rel, b) : "./");
		goto out;
	}
	for (size_t i = 0; i < ns.n; i++) {
		size_t ln = strlen(ns.v[i]), at = len ? len + 1 : 0;
		if (at + ln + 1 > REL_MAX) {
			err_set(v->e, ERR_RESTORE, "path too long below \"%s\"",
				media_show(v->rel, b));
			goto out;
		}
		if (len)
			v->rel[len] = '/';
		memcpy(v->rel + at, ns.v[i], ln + 1);
		if (vf_child(v, dirfd(d), ns.v[i], at + ln) != 0)
			goto out;
		v->rel[len] = '\0';
	}
	ret = 0;
out:
	media_names_free(&ns);
	closedir(d);
	return ret;
}

/* Compare the staged tree (x->stage) with the listing x->wants: every
 * entry there with its type, size, content CRC-32, link target or device
 * number, and nothing else. On success st's counts are set from what was
 * found. A stop request (o->stop, every 256 entries) ends it. Returns 0 or
 * -1 with e set (ERR_RESTORE, ERR_INTERRUPTED). */
static int ext_verify(const struct media_opts *o, struct ext *x, struct media_stats *st,
		      struct err *e)
{
	struct vf v = { .wants = &x->wants, .o = o, .e = e };
	char b[SHOW_MAX + 4];
	int fd, ret = -1;

	v.rel = calloc(1, REL_MAX);
	v.buf = malloc(IO_BUF);
	if (!v.rel || !v.buf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	fd = open(x->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot open %s", media_show(x->stage, b));
		goto out;
	}
	if (vf_dir(&v, fd, 0) != 0)
		goto out;
	for (size_t i = 0; i < x->wants.cap; i++) {
		const struct want *w = x->wants.slot[i];
		if (w && !w->seen) {
			err_set(e, ERR_RESTORE, "\"%s\" is in the archive but was not extracted",
				media_show(w->name, b));
			goto out;
		}
	}
	st->files = v.cnt.files;
	st->dirs = v.cnt.dirs + (x->root_seen ? 1 : 0);
	st->symlinks = v.cnt.symlinks;
	st->other = v.cnt.other;
	st->bytes = v.cnt.bytes;
	ret = 0;
out:
	free(v.rel);
	free(v.buf);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* the restore                                                            */

/* See media.h. */
int media_restore_check(const struct media_opts *o, struct err *e)
{
	char *root;
	int ret;

	if (!o || !o->root)
		return err_set(e, ERR_INTERNAL, "media_restore_check: bad arguments");
	root = realpath(o->root, NULL);
	if (!root)
		return 0; /* a missing MEDIA_DIR is created by the restore */
	ret = media_mounts_below(root, o, e);
	free(root);
	return ret;
}

/* See media.h. Steps: realpath(o->root) (a symlinked root is followed and
 * stays a symlink); mkdtemp root/.vigil-restore-XXXXXX (0700); extract every
 * entry into it with archive_write_disk(3) (tar.c; no user/group name
 * lookups: ids are numeric, which is right in a container); require the
 * end-of-archive marker and the stream's clean end; tar_disk_close applies the
 * deferred directory modes and times; syncfs(2) puts the staged tree on disk
 * and reports write-back errors (Linux 5.8+); the staged tree is read back
 * against the archive. Only then the swap (made durable by a second syncfs
 * before anything is deleted): live top-level
 * entries go to root/.vigil-old-XXXXXX, staged ones come in (all renames in
 * one file system; the root itself is never renamed, so a mount point works).
 * Any failure before that point removes the staging dir and leaves o->root
 * as it was (including its mtime); a failed rename rolls back every rename.
 * Then both hidden dirs are deleted and the "./" entry's owner, mode and
 * mtime applied to the root. skip_dirs (by device and inode, and by path
 * when below root) and top-level ".vigil-*" entries are never moved; a
 * directory holding a skip dir deeper down stays and is swapped inside.
 * Extraction warnings (e.g. a set-gid bit an unprivileged run cannot keep)
 * go to o->warn and st->warnings. Errors: ERR_UNSAFE, ERR_CORRUPT, stream
 * errors as they are, ERR_RESTORE (extraction, renames), ERR_INTERNAL. */
int media_restore(const struct media_opts *o, struct stream_reader *r, struct media_stats *st,
		  struct err *e)
{
	struct media_stats local;
	struct tar_locale lg;
	struct rd c;
	struct ext x;
	struct sw s;
	struct stat rst;
	struct timespec root_ts[2];
	char *root = NULL, *stage = NULL;
	char b[SHOW_MAX + 4];
	const char *warning;
	int ret = -1, staged = 0, keep_old = 0, rc, sig, sfd = -1;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	memset(&x, 0, sizeof x);
	memset(&s, 0, sizeof s);
	tar_locale_reading(&lg);
	if (!o || !o->root || !r) {
		err_set(e, ERR_INTERNAL, "media_restore: bad arguments");
		goto out;
	}
	/* Secure-symlink checks walk the whole absolute path, so it must not
	 * go through a symlink itself. */
	root = realpath(o->root, NULL);
	if (!root || stat(root, &rst) != 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot open media directory %s",
			  media_show(o->root, b));
		goto out;
	}
	if (!S_ISDIR(rst.st_mode)) {
		err_set(e, ERR_RESTORE, "media directory %s is not a directory",
			media_show(o->root, b));
		goto out;
	}
	if (media_mounts_below(root, o, e) != 0)
		goto out;
	root_ts[0] = rst.st_atim;
	root_ts[1] = rst.st_mtim;
	s.o = o;
	s.st = st;
	s.e = e;
	s.root = root;
	if (o->n_skip_dirs) {
		s.prot = calloc(o->n_skip_dirs, sizeof *s.prot);
		if (!s.prot) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < o->n_skip_dirs; i++) {
		struct stat ps;
		char *rp;
		size_t n = strlen(root);

		if (!o->skip_dirs[i] || stat(o->skip_dirs[i], &ps) != 0 || !S_ISDIR(ps.st_mode))
			continue;
		s.prot[s.n_prot].dev = ps.st_dev;
		s.prot[s.n_prot].ino = ps.st_ino;
		rp = realpath(o->skip_dirs[i], NULL);
		if (rp && n > 1 && strncmp(rp, root, n) == 0 && rp[n] == '/' && rp[n + 1])
			s.prot[s.n_prot].rel = strdup(rp + n + 1);
		else if (rp && n == 1 && rp[1])
			s.prot[s.n_prot].rel = strdup(rp + 1);
		free(rp);
		s.n_prot++;
	}

	stage = media_path_join(root, ".vigil-restore-XXXXXX");
	if (!stage) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (!mkdtemp(stage)) {
		err_errno(e, ERR_RESTORE, errno, "cannot create a staging directory in %s",
			  media_show(root, b));
		goto out;
	}
	staged = 1;
	s.stage = stage;
	/* Opened before anything is written: syncfs(2) on it reports the
	 * write-back errors of the file system since this open (below). */
	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot open %s", media_show(stage, b));
		goto out;
	}

	x.stage = stage;
	if (tar_disk_new(&x.disk, e) != 0)
		goto out;
	c.r = r;
	c.e = e;
	c.o = o;
	c.st = st;
	if (media_rd_run(&c, media_ext_entry, &x) != 0)
		goto out;
	rc = tar_disk_close(x.disk, &warning, e);
	if (rc < 0) {
		media_ext_fail(&c, "cannot finish extraction in", ".");
		goto out;
	}
	if (rc > 0) {
		if (o->warn)
			o->warn(o->ctx, "./", warning);
		st->warnings++;
	}
	tar_disk_free(x.disk);
	x.disk = NULL;
	/* Put the staged tree on disk before it is proved and swapped in: the
	 * proof reads the page cache, which still holds data the device
	 * refused at write-back, and the swap deletes the only other copy.
	 * syncfs(2): "Since Linux 5.8, syncfs() will also report an error if
	 * one or more inodes failed to be written back since the last syncfs()
	 * call" - tracked per open file description, so sfd, opened before
	 * extraction, sees every error of the files written since (man 2
	 * syncfs, ERRORS: EIO, ENOSPC, EDQUOT). It also writes out unrelated
	 * dirty data of the same file system; see README "A restore". */
	if (syncfs(sfd) != 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot write the extracted files to disk in %s",
			  media_show(root, b));
		goto out;
	}
	/* Prove the result before anything live moves. */
	if (ext_verify(o, &x, st, e) != 0)
		goto out;
	if (media_stop_now(o, e) != 0)
		goto out;
	if (o->note)
		o->note(o->ctx, "extracted tree checked against the archive");

	/* The swap. */
	if (media_sw_dir(&s, "") != 0) {
		size_t bad = media_sw_rollback(&s);
		if (bad) {
			keep_old = 1;
			err_prefix(e, "restore failed and %zu entries could not be moved back: "
				   "MEDIA_DIR lacks them, they are in %s under their paths relative "
				   "to MEDIA_DIR (hint: move them back by hand, then delete that "
				   "directory)", bad, s.old ? s.old : stage);
		}
		goto out;
	}
	staged = 0;
	/* The renames must reach the disk before the replaced entries are
	 * deleted: a power cut in between could otherwise lose both trees.
	 * The swap is committed, so a failure here is a warning. */
	if (syncfs(sfd) != 0) {
		char m[300];
		snprintf(m, sizeof m, "cannot write the swap to disk (syncfs: %s): the restored "
			 "entries are live but may not survive a crash; hint: check the device and "
			 "run vigil verify, then the restore again", strerror(errno));
		if (o->warn)
			o->warn(o->ctx, "./", m);
		st->warnings++;
	}
	/* Committed: the new entries are live. A stop request from here on
	 * only ends the job after the clean-up (stopping it halfway would
	 * leave a half-deleted .vigil-old-* that a later restore reports as
	 * possibly holding live files). */
	if (o->note)
		o->note(o->ctx, "swap committed: the restored entries are live; removing the "
			"replaced ones");
	if (s.old && media_rm_tree_at(AT_FDCWD, s.old) != 0) {
		if (o->warn)
			o->warn(o->ctx, s.old + strlen(root) + 1, "cannot remove the old entries");
		st->warnings++;
	}
	if (media_rm_tree_at(AT_FDCWD, stage) != 0) {
		if (o->warn)
			o->warn(o->ctx, stage + strlen(root) + 1, "cannot remove the staging directory");
		st->warnings++;
	}
	for (size_t i = 0; i < s.n_fx; i++)
		media_apply_meta(&s, s.fx[i].path, s.fx[i].path + strlen(root) + 1, s.fx[i].st.st_uid,
			   s.fx[i].st.st_gid, s.fx[i].st.st_mode, &s.fx[i].st.st_mtim);
	/* Last: every rename above changed the root's mtime. */
	if (x.root_seen)
		media_apply_meta(&s, root, "./", (uid_t)x.root_uid, (gid_t)x.root_gid, x.root_perm,
			   x.root_mtime_set ? &x.root_mtime : NULL);
	if (o->stop && (sig = o->stop(o->ctx)) != 0) {
		char m[160];
		snprintf(m, sizeof m, "stop requested (signal %d) after the swap was committed: "
			 "the restore is complete and its clean-up was finished", sig);
		if (o->warn)
			o->warn(o->ctx, "./", m);
		st->warnings++;
	}
	ret = 0;
out:
	/* Failed: no deferred fixups into a directory about to go. */
	tar_disk_free(x.disk);
	media_rd_free(&c);
	media_wants_free(&x.wants);
	if (staged) {
		if (!keep_old) {
			/* Fails on a file system that went read-only after
			 * write-back errors; the next restore removes it. */
			if (media_rm_tree_at(AT_FDCWD, stage) != 0 && o->warn)
				o->warn(o->ctx, stage + strlen(root) + 1,
					"cannot remove the staging directory (it holds only restored "
					"files; the next restore removes it)");
			/* After a complete rollback it holds at most the
			 * directories sw_old_dir made; never rm -r'ed here since
			 * it held the live entries. A file left in it keeps it
			 * (and the next backup and restore warn about it). */
			if (s.old)
				(void)util_rmdir_empty(s.old);
		}
		/* mkdtemp and the removal changed the root's times. */
		(void)utimensat(AT_FDCWD, root, root_ts, 0);
	}
	if (sfd >= 0)
		close(sfd);
	media_sw_free(&s);
	free(stage);
	free(root);
	tar_locale_leave(&lg);
	return ret;
}
