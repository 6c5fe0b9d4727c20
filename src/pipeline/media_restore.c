/* media_restore.c - media_restore: the restore of MEDIA_DIR from an
 * archive, step by step (stage, extract, write to disk, prove, swap, clean
 * up), and the check of the staged tree against the archive's listing that
 * comes before anything live moves; media_restore_check, the refusal made
 * before a restore starts.
 */
#include "pipeline/media_int.h"
#include "infra/tar.h"

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
 * as in media_write.c's wr_sparse_map) are hashed as the zeros they read
 * as, without reading them; where the file system cannot tell, everything
 * is read.
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

/* One restore's state, shared by its steps (media_restore). */
struct rs {
	const struct media_opts *o;
	struct media_stats *st;
	struct err *e;
	char *root;                 /* realpath of o->root */
	char *stage;                /* root/.vigil-restore-XXXXXX */
	struct timespec root_ts[2]; /* the root's times before, put back on failure */
	int sfd;                    /* the stage, open for syncfs(2); -1 */
	bool staged;                /* the stage exists and was not swapped in */
	struct rd c;
	struct ext x;
	struct sw s;
};

/* Step 1: the root, resolved, checked for mount points below it, its times
 * kept; the swap set up with its protected directories. */
static int rs_open_root(struct rs *t)
{
	const struct media_opts *o = t->o;
	struct stat rst;
	char b[SHOW_MAX + 4];

	/* Secure-symlink checks walk the whole absolute path, so it must not
	 * go through a symlink itself. */
	t->root = realpath(o->root, NULL);
	if (!t->root || stat(t->root, &rst) != 0)
		return err_errno(t->e, ERR_RESTORE, errno, "cannot open media directory %s",
				 media_show(o->root, b));
	if (!S_ISDIR(rst.st_mode))
		return err_set(t->e, ERR_RESTORE, "media directory %s is not a directory",
			       media_show(o->root, b));
	if (media_mounts_below(t->root, o, t->e) != 0)
		return -1;
	t->root_ts[0] = rst.st_atim;
	t->root_ts[1] = rst.st_mtim;
	return media_sw_init(&t->s, o, t->st, t->e, t->root);
}

/* Step 2: the staging directory, and a descriptor on it for syncfs. */
static int rs_make_stage(struct rs *t)
{
	char b[SHOW_MAX + 4];

	t->stage = media_path_join(t->root, ".vigil-restore-XXXXXX");
	if (!t->stage)
		return err_set(t->e, ERR_INTERNAL, "out of memory");
	if (!mkdtemp(t->stage))
		return err_errno(t->e, ERR_RESTORE, errno, "cannot create a staging directory in %s",
				 media_show(t->root, b));
	t->staged = true;
	t->s.stage = t->stage;
	/* Opened before anything is written: syncfs(2) on it reports the
	 * write-back errors of the file system since this open (below). */
	t->sfd = open(t->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t->sfd < 0)
		return err_errno(t->e, ERR_RESTORE, errno, "cannot open %s", media_show(t->stage, b));
	return 0;
}

/* Step 3: read the whole archive from r, extracting every entry into the
 * stage; then the directories' deferred modes and times. */
static int rs_extract(struct rs *t, struct stream_reader *r)
{
	const char *warning;
	int rc;

	t->x.stage = t->stage;
	if (tar_disk_new(&t->x.disk, t->e) != 0)
		return -1;
	t->c.r = r;
	t->c.e = t->e;
	t->c.o = t->o;
	t->c.st = t->st;
	if (media_rd_run(&t->c, media_ext_entry, &t->x) != 0)
		return -1;
	rc = tar_disk_close(t->x.disk, &warning, t->e);
	if (rc < 0)
		return media_ext_fail(&t->c, "cannot finish extraction in", ".");
	if (rc > 0) {
		if (t->o->warn)
			t->o->warn(t->o->ctx, "./", warning);
		t->st->warnings++;
	}
	tar_disk_free(t->x.disk);
	t->x.disk = NULL;
	return 0;
}

/* Step 4: the staged tree on disk and proved against the archive. */
static int rs_prove(struct rs *t)
{
	char b[SHOW_MAX + 4];

	/* Put the staged tree on disk before it is proved and swapped in: the
	 * proof reads the page cache, which still holds data the device
	 * refused at write-back, and the swap deletes the only other copy.
	 * syncfs(2): "Since Linux 5.8, syncfs() will also report an error if
	 * one or more inodes failed to be written back since the last syncfs()
	 * call" - tracked per open file description, so sfd, opened before
	 * extraction, sees every error of the files written since (man 2
	 * syncfs, ERRORS: EIO, ENOSPC, EDQUOT). It also writes out unrelated
	 * dirty data of the same file system; see README "A restore". */
	if (syncfs(t->sfd) != 0)
		return err_errno(t->e, ERR_RESTORE, errno,
				 "cannot write the extracted files to disk in %s",
				 media_show(t->root, b));
	/* Prove the result before anything live moves. */
	if (ext_verify(t->o, &t->x, t->st, t->e) != 0)
		return -1;
	if (media_stop_now(t->o, t->e) != 0)
		return -1;
	if (t->o->note)
		t->o->note(t->o->ctx, "extracted tree checked against the archive");
	return 0;
}

/* Step 6, after the swap (step 5) committed: make it durable, delete what
 * it replaced, apply the archive's metadata to the directories kept in
 * place and to the root. Everything here is a warning at worst. */
static void rs_committed(struct rs *t)
{
	const struct media_opts *o = t->o;
	int sig;

	/* The renames must reach the disk before the replaced entries are
	 * deleted: a power cut in between could otherwise lose both trees.
	 * The swap is committed, so a failure here is a warning. */
	if (syncfs(t->sfd) != 0) {
		char m[300];
		snprintf(m, sizeof m, "cannot write the swap to disk (syncfs: %s): the restored "
			 "entries are live but may not survive a crash; hint: check the device and "
			 "run vigil verify, then the restore again", strerror(errno));
		if (o->warn)
			o->warn(o->ctx, "./", m);
		t->st->warnings++;
	}
	/* Committed: the new entries are live. A stop request from here on
	 * only ends the job after the clean-up (stopping it halfway would
	 * leave a half-deleted .vigil-old-* that a later restore reports as
	 * possibly holding live files). */
	if (o->note)
		o->note(o->ctx, "swap committed: the restored entries are live; removing the "
			"replaced ones");
	media_sw_finish(&t->s);
	/* Last: every rename above changed the root's mtime. */
	if (t->x.root_seen)
		media_apply_meta(&t->s, t->root, "./", (uid_t)t->x.root_uid, (gid_t)t->x.root_gid,
				 t->x.root_perm, t->x.root_mtime_set ? &t->x.root_mtime : NULL);
	if (o->stop && (sig = o->stop(o->ctx)) != 0) {
		char m[160];
		snprintf(m, sizeof m, "stop requested (signal %d) after the swap was committed: "
			 "the restore is complete and its clean-up was finished", sig);
		if (o->warn)
			o->warn(o->ctx, "./", m);
		t->st->warnings++;
	}
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
	struct rs t;
	int ret = -1;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	memset(&t, 0, sizeof t);
	t.o = o;
	t.st = st;
	t.e = e;
	t.sfd = -1;
	tar_locale_reading(&lg);
	if (!o || !o->root || !r) {
		err_set(e, ERR_INTERNAL, "media_restore: bad arguments");
		goto out;
	}
	if (rs_open_root(&t) != 0 || rs_make_stage(&t) != 0 || rs_extract(&t, r) != 0 ||
	    rs_prove(&t) != 0)
		goto out;
	/* Step 5: the swap. */
	if (media_sw_run(&t.s) != 0)
		goto out;
	t.staged = false;
	rs_committed(&t);
	ret = 0;
out:
	/* Failed: no deferred fixups into a directory about to go. */
	tar_disk_free(t.x.disk);
	media_rd_free(&t.c);
	media_wants_free(&t.x.wants);
	if (t.staged) {
		media_sw_abandon(&t.s);
		/* mkdtemp and the removal changed the root's times. */
		(void)utimensat(AT_FDCWD, t.root, t.root_ts, 0);
	}
	if (t.sfd >= 0)
		close(t.sfd);
	media_sw_free(&t.s);
	free(t.stage);
	free(t.root);
	tar_locale_leave(&lg);
	return ret;
}
