/* media_write.c - backup side of media.h: walk MEDIA_DIR and write it as a
 * pax archive into a stream_writer (media_write).
 *
 * The walk uses openat/fstatat (never following a symlink below the root)
 * and feeds the pax writer of tar.c (libarchive's home, which also documents
 * the format and the character set handling), whose output goes through our
 * own write callback into a stream_writer: libarchive never compresses
 * (stream.c does).
 *
 * The walk is ours rather than archive_read_disk(3)'s: it gives the strcmp
 * entry order (deterministic archives), the skip_dirs/excludes pruning, the
 * exact "vanished"/"changed while read" semantics and numeric-only owners.
 *
 * Decisions:
 * - Ownership is stored as numbers only (no user/group names: name lookups
 *   mean NSS in a static binary, and restore ignores names anyway).
 * - Hard links are stored as separate regular files: restore gives each
 *   name its own copy of the content.
 * - FIFOs and device nodes are stored as such; sockets are skipped (they are
 *   recreated by whatever listens on them) and reported through o->warn with
 *   "socket skipped", counted in st->skipped and st->warnings: something in
 *   MEDIA_DIR was not backed up, so the log's warnings=, the manifest's
 *   warning list and the result agree. MEDIA_EXCLUDE silences it.
 * - atime/ctime, xattrs and ACLs are not stored.
 * - Top-level ".vigil-restore-*" and ".vigil-old-*" entries (left-overs of
 *   an interrupted restore) are never archived.
 */
#include "pipeline/media_int.h"
#include "infra/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LINK_MAX_LEN 65536u /* cap on a symlink target */

static const char STAGE_PREFIX[] = ".vigil-restore-";
static const char OLD_PREFIX[] = ".vigil-old-";

static int is_vigil_temp(const char *name)
{
	return strncmp(name, STAGE_PREFIX, sizeof STAGE_PREFIX - 1) == 0 ||
	       strncmp(name, OLD_PREFIX, sizeof OLD_PREFIX - 1) == 0;
}

struct excl {
	char *pat;
	int dir_only;
};

struct devino {
	dev_t dev;
	ino_t ino;
};

struct wr {
	const struct media_opts *o;
	struct stream_writer *w;
	struct media_stats *st;
	struct err *e;
	struct tar_writer *tw;
	char *buf; /* IO_BUF bytes */
	struct excl *ex;
	size_t n_ex;
	struct devino *skip;
	size_t n_skip;
	uint64_t raw, last_progress;
	int cb_failed; /* e holds the stream's error */
	char *rel;     /* current path relative to root, "" for root */
	size_t rel_len, rel_cap;
	struct tar_region *sp; /* the sparse map of the current file */
	size_t n_sp, cap_sp;
};

/* The tar writer's client callback: tar bytes go to the stream. */
static int wr_cb(void *cd, const void *buf, size_t n)
{
	struct wr *c = cd;

	if (stream_write(c->w, buf, n, c->e) != 0) {
		c->cb_failed = 1;
		return -1;
	}
	c->raw += n;
	if (c->raw - c->last_progress >= PROGRESS_EVERY) {
		c->last_progress = c->raw;
		if (media_progress_or_stop(c->o, c->raw, c->e) != 0) {
			c->cb_failed = 1;
			return -1;
		}
	}
	return 0;
}

/* A tar writer call failed: add which entry, or keep the stream's error if
 * it was that. */
static int wr_fail(struct wr *c, const char *what)
{
	char b[SHOW_MAX + 4];

	if (c->cb_failed)
		return -1;
	err_prefix(c->e, "%s %s", what, c->rel[0] ? media_show(c->rel, b) : "./");
	return -1;
}

static void wr_warn(struct wr *c, const char *what)
{
	if (c->o->warn)
		c->o->warn(c->o->ctx, c->rel, what);
	c->st->warnings++;
}

static int wr_errno(struct wr *c, int errnum)
{
	char b[SHOW_MAX + 4];

	return err_errno(c->e, ERR_MEDIA, errnum, "cannot read %s", media_show(c->rel, b));
}

static int rel_push(struct wr *c, const char *name)
{
	size_t ln = strlen(name), need = c->rel_len + (c->rel_len ? 1 : 0) + ln + 1;
	char b[SHOW_MAX + 4];

	if (need > REL_MAX)
		return err_set(c->e, ERR_MEDIA, "path too long below %s", media_show(c->rel, b));
	if (need > c->rel_cap) {
		size_t cap = c->rel_cap ? c->rel_cap : 256;
		char *p;
		while (cap < need)
			cap *= 2;
		p = realloc(c->rel, cap);
		if (!p)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
		c->rel = p;
		c->rel_cap = cap;
	}
	if (c->rel_len)
		c->rel[c->rel_len++] = '/';
	memcpy(c->rel + c->rel_len, name, ln + 1);
	c->rel_len += ln;
	return 0;
}

static void rel_pop(struct wr *c, size_t len)
{
	c->rel_len = len;
	c->rel[len] = '\0';
}

static int excluded(const struct wr *c, int is_dir)
{
	for (size_t i = 0; i < c->n_ex; i++) {
		if (c->ex[i].dir_only && !is_dir)
			continue;
		if (fnmatch(c->ex[i].pat, c->rel, 0) == 0)
			return 1;
	}
	return 0;
}

static int is_skip_dir(const struct wr *c, const struct stat *s)
{
	for (size_t i = 0; i < c->n_skip; i++)
		if (c->skip[i].dev == s->st_dev && c->skip[i].ino == s->st_ino)
			return 1;
	return 0;
}

/* Fill te from s under name (a relative path, or "./" for the root). */
static void wr_entry_from_stat(struct tar_entry *te, const char *name, const struct stat *s)
{
	memset(te, 0, sizeof *te);
	te->path = name;
	te->mode = s->st_mode;
	te->uid = (int64_t)s->st_uid;
	te->gid = (int64_t)s->st_gid;
	te->mtime_sec = (int64_t)s->st_mtim.tv_sec;
	te->mtime_nsec = s->st_mtim.tv_nsec;
	te->size = S_ISREG(s->st_mode) ? (int64_t)s->st_size : 0;
	if (S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode))
		te->rdev = s->st_rdev;
}

static int wr_header(struct wr *c, const struct tar_entry *te)
{
	if (tar_write_header(c->tw, te, c->e) == 0)
		return 0;
	return wr_fail(c, "cannot write tar header for");
}

static int wr_data(struct wr *c, const void *p, size_t n)
{
	if (tar_write_data(c->tw, p, n, c->e) != 0)
		return wr_fail(c, "cannot write tar data for");
	return 0;
}

/* Append a data region to c->sp. Returns 0 or -1 (out of memory). */
static int wr_region(struct wr *c, off_t off, off_t len)
{
	if (c->n_sp == c->cap_sp) {
		size_t cap = c->cap_sp ? c->cap_sp * 2 : 16;
		struct tar_region *p = realloc(c->sp, cap * sizeof *p);
		if (!p)
			return -1;
		c->sp = p;
		c->cap_sp = cap;
	}
	c->sp[c->n_sp].off = (int64_t)off;
	c->sp[c->n_sp++].len = (int64_t)len;
	return 0;
}

/* Record the data regions of a file with holes (lseek(2) SEEK_DATA /
 * SEEK_HOLE) in te (in c->sp), so the pax writer stores it as a GNU sparse
 * 1.0 entry (GNU.sparse.* records, which GNU tar and libarchive read): a
 * 9 GiB file of zeros then costs a read of its holes, not 9 GiB of
 * compression, and extracts sparse again. Files without holes, and file
 * systems that cannot tell, are stored as usual (so is a file whose map
 * finds no memory). */
static void wr_sparse_map(struct wr *c, int fd, const struct stat *s, struct tar_entry *te)
{
	off_t size = s->st_size, off = 0;
	bool hole = false;
	int regions = 0;

	c->n_sp = 0;
	if (size <= 0 || (off_t)s->st_blocks * 512 >= size)
		return;
	while (off < size) {
		off_t d = lseek(fd, off, SEEK_DATA), h;
		if (d < 0 && errno != ENXIO)
			goto plain;
		if (d < 0 || d >= size) {
			hole = true;
			break;
		}
		if (d > off)
			hole = true;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			goto plain;
		if (h > size)
			h = size;
		if (wr_region(c, d, h - d) != 0)
			goto plain;
		regions++;
		off = h;
	}
	if (!hole)
		goto plain;
	/* all hole: one empty data region at the end */
	if (regions == 0 && wr_region(c, size, 0) != 0)
		goto plain;
	te->sparse = c->sp;
	te->n_sparse = c->n_sp;
	lseek(fd, 0, SEEK_SET);
	return;
plain:
	c->n_sp = 0;
	lseek(fd, 0, SEEK_SET);
}

static int wr_file(struct wr *c, int dfd, const char *name)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct stat s, s2;
	struct tar_entry te;
	const char *what = NULL;
	uint64_t size, done = 0;
	int fd, ret = -1;

	if (c->o->test_hook)
		c->o->test_hook(c->o->ctx, c->rel, 0);
	/* O_NOATIME keeps backups from touching atimes; only the owner or
	 * root may use it. O_NONBLOCK: if a FIFO took the file's place since
	 * fstatat, open must not hang. */
	fd = openat(dfd, name, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, flags);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
			wr_warn(c, "vanished");
			return 0;
		}
		return wr_errno(c, errno);
	}
	if (fstat(fd, &s) != 0) {
		wr_errno(c, errno);
		goto out;
	}
	if (!S_ISREG(s.st_mode)) { /* replaced by something else */
		wr_warn(c, "vanished");
		ret = 0;
		goto out;
	}
	/* The header is made from the open file, so a file replaced by
	 * rename(2) since the listing is archived consistently. */
	wr_entry_from_stat(&te, c->rel, &s);
	wr_sparse_map(c, fd, &s, &te);
	if (wr_header(c, &te) != 0)
		goto out;
	c->st->files++;
	if (c->o->test_hook)
		c->o->test_hook(c->o->ctx, c->rel, 1);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size = (uint64_t)s.st_size;
	while (done < size) {
		size_t want = size - done < IO_BUF ? (size_t)(size - done) : IO_BUF;
		ssize_t n = read(fd, c->buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			wr_errno(c, errno);
			goto out;
		}
		if (n == 0) {
			/* Shrank: the header promised size bytes; zeros keep
			 * the archive consistent. */
			what = "changed while read (shrank)";
			memset(c->buf, 0, IO_BUF);
			while (done < size) {
				want = size - done < IO_BUF ? (size_t)(size - done) : IO_BUF;
				if (wr_data(c, c->buf, want) != 0)
					goto out;
				done += want;
			}
			break;
		}
		if (wr_data(c, c->buf, (size_t)n) != 0)
			goto out;
		done += (uint64_t)n;
	}
	c->st->bytes += size;
	if (!what && fstat(fd, &s2) == 0) {
		if (s2.st_size > s.st_size)
			what = "changed while read (grew)"; /* archived up to size */
		else if (s2.st_size < s.st_size)
			what = "changed while read (shrank)";
		else if (s2.st_mtim.tv_sec != s.st_mtim.tv_sec ||
			 s2.st_mtim.tv_nsec != s.st_mtim.tv_nsec)
			what = "changed while read";
	}
	if (what)
		wr_warn(c, what);
	/* The backup should not push the application's files out of the
	 * page cache. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	ret = 0;
out:
	close(fd);
	return ret;
}

static int wr_symlink(struct wr *c, int dfd, const char *name, const struct stat *s)
{
	size_t cap = s->st_size > 0 && (uint64_t)s->st_size < LINK_MAX_LEN ? (size_t)s->st_size + 1 : 256;
	struct tar_entry te;
	char *t = NULL;
	int ret = -1;

	for (;;) {
		ssize_t n;
		char *p = realloc(t, cap);
		if (!p) {
			err_set(c->e, ERR_INTERNAL, "out of memory");
			goto out;
		}
		t = p;
		n = readlinkat(dfd, name, t, cap);
		if (n < 0) {
			if (errno == ENOENT || errno == EINVAL) {
				wr_warn(c, "vanished");
				ret = 0;
			} else {
				wr_errno(c, errno);
			}
			goto out;
		}
		if ((size_t)n < cap) {
			t[n] = '\0';
			break;
		}
		if (cap >= LINK_MAX_LEN) {
			char b[SHOW_MAX + 4];
			err_set(c->e, ERR_MEDIA, "symlink target too long: %s",
				media_show(c->rel, b));
			goto out;
		}
		cap *= 2;
	}
	wr_entry_from_stat(&te, c->rel, s);
	te.symlink = t;
	if (wr_header(c, &te) != 0)
		goto out;
	c->st->symlinks++;
	ret = 0;
out:
	free(t);
	return ret;
}

static int wr_dir(struct wr *c, int fd, int top);

static int wr_subdir(struct wr *c, int dfd, const char *name, const struct stat *s)
{
	struct stat s2;
	struct tar_entry te;
	int fd;

	if (is_skip_dir(c, s)) {
		c->st->skipped++;
		return 0;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
			wr_warn(c, "vanished");
			return 0;
		}
		return wr_errno(c, errno);
	}
	if (fstat(fd, &s2) != 0) {
		int saved = errno;
		close(fd);
		return wr_errno(c, saved);
	}
	if (is_skip_dir(c, &s2)) {
		close(fd);
		c->st->skipped++;
		return 0;
	}
	wr_entry_from_stat(&te, c->rel, &s2);
	if (wr_header(c, &te) != 0) {
		close(fd);
		return -1;
	}
	c->st->dirs++;
	return wr_dir(c, fd, 0);
}

/* One directory entry; c->rel is already its relative path. */
static int wr_child(struct wr *c, int dfd, const char *name, int top)
{
	struct tar_entry te;
	struct stat s;

	if (top && is_vigil_temp(name)) {
		c->st->skipped++;
		return 0;
	}
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) {
			wr_warn(c, "vanished");
			return 0;
		}
		return wr_errno(c, errno);
	}
	if (excluded(c, S_ISDIR(s.st_mode))) {
		c->st->skipped++;
		return 0;
	}
	switch (s.st_mode & S_IFMT) {
	case S_IFREG:
		return wr_file(c, dfd, name);
	case S_IFDIR:
		return wr_subdir(c, dfd, name, &s);
	case S_IFLNK:
		return wr_symlink(c, dfd, name, &s);
	case S_IFSOCK:
		wr_warn(c, "socket skipped");
		c->st->skipped++;
		return 0;
	default: /* FIFO, character or block device: a header only */
		wr_entry_from_stat(&te, c->rel, &s);
		if (wr_header(c, &te) != 0)
			return -1;
		c->st->other++;
		return 0;
	}
}

/* Archive the contents of directory fd (owned: closed here) in strcmp
 * order. The directory's own header is already written. */
static int wr_dir(struct wr *c, int fd, int top)
{
	struct names ns = { 0 };
	DIR *d;
	int ret = -1;

	d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		return wr_errno(c, saved);
	}
	if (media_names_read(d, &ns) != 0) {
		wr_errno(c, errno);
		goto out;
	}
	for (size_t i = 0; i < ns.n; i++) {
		size_t save = c->rel_len;
		int r;
		if (rel_push(c, ns.v[i]) != 0)
			goto out;
		r = wr_child(c, dirfd(d), ns.v[i], top);
		rel_pop(c, save);
		if (r != 0)
			goto out;
	}
	ret = 0;
out:
	media_names_free(&ns);
	closedir(d);
	return ret;
}

static int wr_prepare(struct wr *c, const struct media_opts *o)
{
	if (o->n_excludes) {
		c->ex = calloc(o->n_excludes, sizeof *c->ex);
		if (!c->ex)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < o->n_excludes; i++) {
		const char *p = o->excludes[i];
		size_t n;
		int dir_only = 0;

		if (!p)
			continue;
		for (;;) {
			if (p[0] == '.' && p[1] == '/')
				p += 2;
			else if (p[0] == '/')
				p++;
			else
				break;
		}
		n = strlen(p);
		while (n > 0 && p[n - 1] == '/') {
			dir_only = 1;
			n--;
		}
		if (n == 0)
			continue;
		c->ex[c->n_ex].pat = strndup(p, n);
		if (!c->ex[c->n_ex].pat)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
		c->ex[c->n_ex++].dir_only = dir_only;
	}
	if (o->n_skip_dirs) {
		c->skip = calloc(o->n_skip_dirs, sizeof *c->skip);
		if (!c->skip)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < o->n_skip_dirs; i++) {
		struct stat s;
		/* stat follows symlinks: BACKUP_DIR may be one. A skip dir
		 * that does not exist cannot be met in the walk. */
		if (o->skip_dirs[i] && stat(o->skip_dirs[i], &s) == 0 && S_ISDIR(s.st_mode)) {
			c->skip[c->n_skip].dev = s.st_dev;
			c->skip[c->n_skip++].ino = s.st_ino;
		}
	}
	return 0;
}

/* See media.h. The archive is deterministic for an unchanged tree: entries
 * come in strcmp order per directory and no header holds the time of the
 * run, pids or names looked up at run time. Nothing of w is closed. */
int media_write(const struct media_opts *o, struct stream_writer *w,
			struct media_stats *st, struct err *e)
{
	struct media_stats local;
	struct tar_locale lg;
	struct tar_entry te;
	struct wr c;
	struct stat rs;
	int rootfd = -1, ret = -1;
	char b[SHOW_MAX + 4];

	memset(&c, 0, sizeof c);
	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	tar_locale_writing(&lg);
	c.o = o;
	c.w = w;
	c.st = st;
	c.e = e;
	if (!o || !o->root || !w) {
		err_set(e, ERR_INTERNAL, "media_write: bad arguments");
		goto out;
	}
	if (wr_prepare(&c, o) != 0)
		goto out;
	c.rel = calloc(1, 256);
	c.rel_cap = 256;
	c.buf = malloc(IO_BUF);
	if (!c.rel || !c.buf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* The root is opened following a symlink (MEDIA_DIR may be one). */
	rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_NOCTTY | O_CLOEXEC);
	if (rootfd < 0 || fstat(rootfd, &rs) != 0) {
		err_errno(e, ERR_MEDIA, errno, "cannot open media directory %s",
			  media_show(o->root, b));
		goto out;
	}
	if (tar_writer_open(&c.tw, wr_cb, &c, e) != 0)
		goto out;
	wr_entry_from_stat(&te, "./", &rs);
	if (wr_header(&c, &te) != 0)
		goto out;
	st->dirs++;
	ret = wr_dir(&c, rootfd, 1);
	rootfd = -1;
	if (ret != 0)
		goto out;
	ret = -1;
	if (tar_writer_finish(c.tw, e) != 0) {
		wr_fail(&c, "cannot finish the tar archive after");
		goto out;
	}
	if (o->progress)
		o->progress(o->ctx, c.raw);
	ret = 0;
out:
	/* An unfinished archive is abandoned without an end marker. */
	tar_writer_free(c.tw);
	if (rootfd >= 0)
		close(rootfd);
	for (size_t i = 0; i < c.n_ex; i++)
		free(c.ex[i].pat);
	free(c.ex);
	free(c.skip);
	free(c.buf);
	free(c.rel);
	free(c.sp);
	tar_locale_leave(&lg);
	return ret;
}
