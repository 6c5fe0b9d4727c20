/* archive.c - media directory <-> pax tar stream; see archive.h.
 *
 * Writing walks MEDIA_DIR with openat/fstatat (never following a symlink
 * below the root) and feeds libarchive's pax writer, whose output goes
 * through our own write callback into a stream_writer: libarchive never
 * compresses (stream.c does). Reading pulls the tar bytes from a
 * stream_reader through a read callback; libarchive only parses tar.
 *
 * Format: POSIX.1-2001 pax interchange format (IEEE Std 1003.1-2001,
 * POSIX.1-2008 "pax" utility, extended header records "path", "linkpath",
 * "size", "mtime", "uid", "gid"), written with libarchive's pax writer: a
 * plain ustar header unless a field does not fit (long or non-ASCII names,
 * sizes of 8 GiB and more, sub-second mtimes, large ids).
 * See libarchive-formats(5), tar(5), archive_write(3), archive_read(3),
 * archive_write_disk(3).
 *
 * Character set: names are byte strings, as Linux has them; no entry point
 * depends on the caller's locale. Each switches its own thread's LC_CTYPE
 * with uselocale(3) (thread-local, other threads are not affected) and back:
 * - Writing runs in "C.UTF-8": libarchive converts names from the locale's
 *   charset to the UTF-8 of pax records, which is then an identity copy. A
 *   name that is not valid UTF-8 is still stored byte for byte, with the
 *   pax "hdrcharset=BINARY" record (GNU tar lists it but warns about the
 *   keyword).
 * - Reading runs in "C": converting a pax UTF-8 name to a UTF-8 locale,
 *   libarchive 3.6 also normalises it to NFC (archive_string.c sets
 *   SCONV_NORMALIZATION_C for every conversion from UTF-8), so "An\xcc\x83o"
 *   (NFD) came back as "A\xc3\xb1o" (NFC) and overwrote its NFC twin. In
 *   the C locale libarchive's conversion is "best effort": bytes are copied
 *   unchanged and a non-ASCII name only makes archive_read_next_header
 *   return ARCHIVE_WARN, which the reader accepts. Observed with libarchive
 *   3.6.2 (Debian 12); tests/it/t_i9_media_names.sh guards it, and the
 *   check of the staged tree would catch two names collapsing into one.
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
 * - libarchive's full pax writer, not the "restricted" one: the latter only
 *   keeps sub-second mtimes when some other field already needs an extended
 *   header. As no atime, ctime, xattrs, ACLs or file flags are set on the
 *   entries, the full writer also emits an extended header only when a
 *   field needs it.
 * - FIFOs and device nodes are stored as such; sockets are skipped (they are
 *   recreated by whatever listens on them) and reported through o->warn with
 *   "socket skipped", counted in st->skipped and st->warnings: something in
 *   MEDIA_DIR was not backed up, so the log's warnings=, the manifest's
 *   warning list and the result agree. MEDIA_EXCLUDE silences it.
 * - atime/ctime, xattrs and ACLs are not stored.
 * - Top-level ".vigil-restore-*" and ".vigil-old-*" entries (left-overs of
 *   an interrupted restore) are never archived.
 */
#define VIGIL_WANT_LIBARCHIVE
#include <archive.h> /* libarchive's, see the top of our archive.h */
#include <archive_entry.h>

#include "archive.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define IO_BUF         (1024u * 1024u) /* file reads and stream reads */
#define TAR_BLOCK      512u
#define TAR_EOA        (2u * TAR_BLOCK) /* end-of-archive marker */
#define WRITE_BLOCK    65536            /* libarchive's output block */
#define PROGRESS_EVERY (16ull << 20)
#define REL_MAX        65536u           /* cap on a relative path */
#define LINK_MAX_LEN   65536u           /* cap on a symlink target */
#define SHOW_MAX       200              /* bytes of a name in a message */

static const char STAGE_PREFIX[] = ".vigil-restore-";
static const char OLD_PREFIX[] = ".vigil-old-";

/* ---------------------------------------------------------------------- */
/* small helpers                                                          */

/* Run libarchive with LC_CTYPE name ("C.UTF-8" to write, "C" to read) on
 * this thread (see the top). */
struct loc_guard {
	locale_t loc, old;
};

static void loc_enter(struct loc_guard *g, const char *name)
{
	g->old = (locale_t)0;
	g->loc = newlocale(LC_CTYPE_MASK, name, (locale_t)0);
	if (g->loc)
		g->old = uselocale(g->loc);
}

static void loc_leave(struct loc_guard *g)
{
	if (g->loc) {
		uselocale(g->old);
		freelocale(g->loc);
	}
}

/* malloc'ed a + "/" + b; an empty a or b gives a copy of the other. NULL
 * when out of memory. */
static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	if (lb && !la) {
		memcpy(p, b, lb);
		la = lb;
	} else if (lb) {
		p[la] = '/';
		memcpy(p + la + 1, b, lb);
		la += lb + 1;
	}
	p[la] = '\0';
	return p;
}

/* Copy a name for a message: control bytes become '?', long names are cut. */
static const char *show(const char *in, char out[SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; in[i] && i < SHOW_MAX; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? '?' : in[i];
	if (in[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static int is_vigil_temp(const char *name)
{
	return strncmp(name, STAGE_PREFIX, sizeof STAGE_PREFIX - 1) == 0 ||
	       strncmp(name, OLD_PREFIX, sizeof OLD_PREFIX - 1) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = ns->cap = 0;
}

/* Read every name of directory d except "." and ".." into ns, sorted with
 * strcmp. Returns 0 or -1 with errno set. */
static int names_read(DIR *d, struct names *ns)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? ns->cap * 2 : 64;
			char **v = realloc(ns->v, cap * sizeof *v);
			if (!v)
				return -1;
			ns->v = v;
			ns->cap = cap;
		}
		ns->v[ns->n] = strdup(de->d_name);
		if (!ns->v[ns->n])
			return -1;
		ns->n++;
	}
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof *ns->v, cmp_str);
	return 0;
}

/* Remove name (relative to dfd) and, for a directory, everything below it,
 * without following symlinks. Directories we may not write to are made
 * writable first (unprivileged runs). Returns 0 or -1 with errno set. */
static int rm_tree_at(int dfd, const char *name)
{
	struct stat s;
	struct names ns = { 0 };
	DIR *d = NULL;
	int fd, ret = -1, saved = 0;

	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(s.st_mode))
		return unlinkat(dfd, name, 0) != 0 && errno != ENOENT ? -1 : 0;
	if ((s.st_mode & 0700) != 0700)
		(void)fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (names_read(d, &ns) != 0)
		goto out;
	for (size_t i = 0; i < ns.n; i++)
		if (rm_tree_at(dirfd(d), ns.v[i]) != 0)
			goto out;
	ret = 0;
out:
	saved = errno;
	names_free(&ns);
	closedir(d);
	errno = saved;
	if (ret == 0 && unlinkat(dfd, name, AT_REMOVEDIR) != 0)
		ret = -1;
	return ret;
}

/* ---------------------------------------------------------------------- */
/* writing                                                                */

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
	struct archive *a;
	struct archive_entry *ent;
	char *buf; /* IO_BUF bytes */
	struct excl *ex;
	size_t n_ex;
	struct devino *skip;
	size_t n_skip;
	uint64_t raw, last_progress;
	int cb_failed; /* e holds the stream's error */
	int abandon;   /* failed: swallow what libarchive still writes */
	char *rel;     /* current path relative to root, "" for root */
	size_t rel_len, rel_cap;
};

/* Take a stop request: returns -1 with e set to ERR_INTERRUPTED when asked
 * to stop. progress_or_stop also reports progress (every PROGRESS_EVERY
 * bytes). */
static int stop_now(const struct media_opts *o, struct err *e)
{
	int sig = o->stop ? o->stop(o->ctx) : 0;

	if (!sig)
		return 0;
	e->code = ERR_INTERRUPTED;
	e->signo = sig;
	snprintf(e->msg, sizeof e->msg, "stopped by signal %d", sig);
	return -1;
}

static int progress_or_stop(const struct media_opts *o, uint64_t bytes, struct err *e)
{
	if (o->progress)
		o->progress(o->ctx, bytes);
	return stop_now(o, e);
}

/* libarchive's client writer: tar bytes go to the stream. */
static la_ssize_t wr_cb(struct archive *a, void *cd, const void *buf, size_t n)
{
	struct wr *c = cd;

	(void)a;
	if (c->abandon)
		return (la_ssize_t)n; /* failed run: see archive_media_write */
	if (stream_write(c->w, buf, n, c->e) != 0) {
		c->cb_failed = 1;
		return -1;
	}
	c->raw += n;
	if (c->raw - c->last_progress >= PROGRESS_EVERY) {
		c->last_progress = c->raw;
		if (progress_or_stop(c->o, c->raw, c->e) != 0) {
			c->cb_failed = 1;
			return -1;
		}
	}
	return (la_ssize_t)n;
}

/* A libarchive call failed: keep the stream's error if it was that. */
static int wr_fail(struct wr *c, const char *what)
{
	const char *m = archive_error_string(c->a);
	char b[SHOW_MAX + 4];

	if (c->cb_failed)
		return -1;
	return err_set(c->e, ERR_MEDIA, "%s %s: %s", what, c->rel[0] ? show(c->rel, b) : "./",
		       m ? m : "unknown libarchive error");
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

	return err_errno(c->e, ERR_MEDIA, errnum, "cannot read %s", show(c->rel, b));
}

static int rel_push(struct wr *c, const char *name)
{
	size_t ln = strlen(name), need = c->rel_len + (c->rel_len ? 1 : 0) + ln + 1;
	char b[SHOW_MAX + 4];

	if (need > REL_MAX)
		return err_set(c->e, ERR_MEDIA, "path too long below %s", show(c->rel, b));
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

/* Fill c->ent from s under name (a relative path, or "./" for the root). */
static void wr_entry_from_stat(struct wr *c, const char *name, const struct stat *s)
{
	struct archive_entry *ent = c->ent;

	archive_entry_clear(ent);
	archive_entry_copy_pathname(ent, name);
	archive_entry_set_mode(ent, s->st_mode);
	archive_entry_set_uid(ent, (la_int64_t)s->st_uid);
	archive_entry_set_gid(ent, (la_int64_t)s->st_gid);
	archive_entry_set_mtime(ent, s->st_mtim.tv_sec, s->st_mtim.tv_nsec);
	archive_entry_set_size(ent, S_ISREG(s->st_mode) ? (la_int64_t)s->st_size : 0);
	if (S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode))
		archive_entry_set_rdev(ent, s->st_rdev);
}

static int wr_header(struct wr *c)
{
	int r = archive_write_header(c->a, c->ent);

	/* ARCHIVE_WARN: the header was written, e.g. with hdrcharset=BINARY
	 * for a name that is not valid UTF-8. */
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 0;
	return wr_fail(c, "cannot write tar header for");
}

static int wr_data(struct wr *c, const void *p, size_t n)
{
	la_ssize_t k = archive_write_data(c->a, p, n);

	if (k < 0 || (size_t)k != n)
		return wr_fail(c, "cannot write tar data for");
	return 0;
}

/* Record the data regions of a file with holes (lseek(2) SEEK_DATA /
 * SEEK_HOLE) in c->ent, so the pax writer stores it as a GNU sparse 1.0
 * entry (GNU.sparse.* records, which GNU tar and libarchive read): a 9 GiB
 * file of zeros then costs a read of its holes, not 9 GiB of compression,
 * and extracts sparse again. Files without holes, and file systems that
 * cannot tell, are stored as usual. */
static void wr_sparse_map(struct wr *c, int fd, const struct stat *s)
{
	off_t size = s->st_size, off = 0;
	bool hole = false;
	int regions = 0;

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
		archive_entry_sparse_add_entry(c->ent, d, h - d);
		regions++;
		off = h;
	}
	if (!hole)
		goto plain;
	if (regions == 0) /* all hole: one empty data region at the end */
		archive_entry_sparse_add_entry(c->ent, size, 0);
	lseek(fd, 0, SEEK_SET);
	return;
plain:
	archive_entry_sparse_clear(c->ent);
	lseek(fd, 0, SEEK_SET);
}

static int wr_file(struct wr *c, int dfd, const char *name)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct stat s, s2;
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
	wr_entry_from_stat(c, c->rel, &s);
	wr_sparse_map(c, fd, &s);
	if (wr_header(c) != 0)
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
			err_set(c->e, ERR_MEDIA, "symlink target too long: %s", show(c->rel, b));
			goto out;
		}
		cap *= 2;
	}
	wr_entry_from_stat(c, c->rel, s);
	archive_entry_copy_symlink(c->ent, t);
	if (wr_header(c) != 0)
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
	wr_entry_from_stat(c, c->rel, &s2);
	if (wr_header(c) != 0) {
		close(fd);
		return -1;
	}
	c->st->dirs++;
	return wr_dir(c, fd, 0);
}

/* One directory entry; c->rel is already its relative path. */
static int wr_child(struct wr *c, int dfd, const char *name, int top)
{
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
		wr_entry_from_stat(c, c->rel, &s);
		if (wr_header(c) != 0)
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
	if (names_read(d, &ns) != 0) {
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
	names_free(&ns);
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

/* See archive.h. The archive is deterministic for an unchanged tree: entries
 * come in strcmp order per directory and no header holds the time of the
 * run, pids or names looked up at run time. Nothing of w is closed. */
int archive_media_write(const struct media_opts *o, struct stream_writer *w,
			struct media_stats *st, struct err *e)
{
	struct media_stats local;
	struct loc_guard lg;
	struct wr c;
	struct stat rs;
	int rootfd = -1, ret = -1, closed = 0;
	char b[SHOW_MAX + 4];

	memset(&c, 0, sizeof c);
	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	loc_enter(&lg, "C.UTF-8");
	c.o = o;
	c.w = w;
	c.st = st;
	c.e = e;
	if (!o || !o->root || !w) {
		err_set(e, ERR_INTERNAL, "archive_media_write: bad arguments");
		goto out;
	}
	if (wr_prepare(&c, o) != 0)
		goto out;
	c.rel = calloc(1, 256);
	c.rel_cap = 256;
	c.buf = malloc(IO_BUF);
	c.ent = archive_entry_new();
	c.a = archive_write_new();
	if (!c.rel || !c.buf || !c.ent || !c.a) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* The root is opened following a symlink (MEDIA_DIR may be one). */
	rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_NOCTTY | O_CLOEXEC);
	if (rootfd < 0 || fstat(rootfd, &rs) != 0) {
		err_errno(e, ERR_MEDIA, errno, "cannot open media directory %s", show(o->root, b));
		goto out;
	}
	if (archive_write_set_format_pax(c.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(c.a, WRITE_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(c.a, 1) != ARCHIVE_OK ||
	    archive_write_open(c.a, &c, NULL, wr_cb, NULL) != ARCHIVE_OK) {
		const char *m = archive_error_string(c.a);
		err_set(e, ERR_INTERNAL, "libarchive: %s", m ? m : "cannot set up the tar writer");
		goto out;
	}
	wr_entry_from_stat(&c, "./", &rs);
	if (wr_header(&c) != 0)
		goto out;
	st->dirs++;
	ret = wr_dir(&c, rootfd, 1);
	rootfd = -1;
	if (ret != 0)
		goto out;
	ret = -1;
	/* Close writes the end-of-archive marker (two zero blocks) and the
	 * last partial block, unpadded (bytes_in_last_block 1). */
	closed = 1;
	if (archive_write_close(c.a) != ARCHIVE_OK) {
		wr_fail(&c, "cannot finish the tar archive after");
		goto out;
	}
	if (o->progress)
		o->progress(o->ctx, c.raw);
	ret = 0;
out:
	if (c.a) {
		/* A failed archive must not get an end marker appended, yet
		 * libarchive 3.6 frees its output buffer only in close
		 * (archive_write_fail + free leaks it): close with the write
		 * callback swallowing the bytes. */
		if (!closed) {
			c.abandon = 1;
			(void)archive_write_close(c.a);
		}
		archive_write_free(c.a);
	}
	if (rootfd >= 0)
		close(rootfd);
	if (c.ent)
		archive_entry_free(c.ent);
	for (size_t i = 0; i < c.n_ex; i++)
		free(c.ex[i].pat);
	free(c.ex);
	free(c.skip);
	free(c.buf);
	free(c.rel);
	loc_leave(&lg);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* reading: name safety                                                   */

/* Set of strings (open addressing, FNV-1a): names of symlink entries. */
struct strset {
	char **slot;
	size_t cap, n;
};

static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int set_has(const struct strset *s, const char *k, size_t n)
{
	size_t i;

	if (!s->n)
		return 0;
	for (i = (size_t)str_hash(k, n) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (strncmp(s->slot[i], k, n) == 0 && s->slot[i][n] == '\0')
			return 1;
	return 0;
}

static void set_put(struct strset *s, char *k)
{
	size_t i = (size_t)str_hash(k, strlen(k)) & (s->cap - 1);

	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = k;
	s->n++;
}

/* Add a copy of k. Returns 0 or -1 (out of memory). */
static int set_add(struct strset *s, const char *k)
{
	char *dup;

	if (set_has(s, k, strlen(k)))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct strset g = { calloc(s->cap ? s->cap * 2 : 64, sizeof(char *)),
				    s->cap ? s->cap * 2 : 64, 0 };
		if (!g.slot)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				set_put(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	dup = strdup(k);
	if (!dup)
		return -1;
	set_put(s, dup);
	return 0;
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

/* Normalise a member name: drop empty and "." components ("./a//b/" is
 * "a/b", "./" is "" = the root). Returns 0 with *out malloc'ed, 1 with *why
 * set for an unsafe name (absolute, a ".." component, empty), -1 when out of
 * memory. */
static int norm_name(const char *in, char **out, const char **why)
{
	size_t n = strlen(in);
	const char *p = in;
	char *o, *q;

	*out = NULL;
	if (n == 0) {
		*why = "has an empty name";
		return 1;
	}
	if (in[0] == '/') {
		*why = "is an absolute path";
		return 1;
	}
	o = q = malloc(n + 1);
	if (!o)
		return -1;
	while (*p) {
		const char *s = p;
		size_t len;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			free(o);
			*why = "has a \"..\" component";
			return 1;
		}
		if (len && !(len == 1 && s[0] == '.')) {
			if (q != o)
				*q++ = '/';
			memcpy(q, s, len);
			q += len;
		}
		while (*p == '/')
			p++;
	}
	*q = '\0';
	*out = o;
	return 0;
}

/* Length of the leading part of norm that names an earlier symlink entry
 * (so the entry would be written through it), or 0. */
static size_t through_link(const struct strset *links, const char *norm)
{
	if (!links->n)
		return 0;
	for (const char *p = strchr(norm, '/'); p; p = strchr(p + 1, '/'))
		if (set_has(links, norm, (size_t)(p - norm)))
			return (size_t)(p - norm);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* reading: the loop shared by check and restore                          */

struct rd {
	struct archive *a;
	struct stream_reader *r;
	struct err *e;
	const struct media_opts *o; /* restore only: progress, warn */
	struct media_stats *st;
	unsigned char *buf;         /* IO_BUF bytes */
	uint64_t total;             /* tar bytes read from the stream */
	uint64_t last_nz;           /* offset just past the last non-zero byte */
	uint64_t end_pos;           /* offset just past the last entry */
	uint64_t last_progress;
	int cb_failed;              /* e holds the stream's error */
	int at_end;                 /* stream_read returned 0 */
	struct strset links;        /* normalised names of symlink entries */
};

/* Remember where the last non-zero byte of the raw tar data is: the
 * end-of-archive check needs the bytes after the last entry to be zeros. */
static void rd_track(struct rd *c, const unsigned char *p, size_t n)
{
	if (p[n - 1] != 0) {
		c->last_nz = c->total + n;
	} else if (!(p[0] == 0 && memcmp(p, p + 1, n - 1) == 0)) {
		size_t i = n;
		while (i > 0 && p[i - 1] == 0)
			i--;
		c->last_nz = c->total + i;
	}
	c->total += n;
}

/* libarchive's client reader: decoded bytes from the stream. */
static la_ssize_t rd_cb(struct archive *a, void *cd, const void **out)
{
	struct rd *c = cd;
	ssize_t n;

	(void)a;
	*out = c->buf;
	if (c->at_end)
		return 0;
	n = stream_read(c->r, c->buf, IO_BUF, c->e);
	if (n < 0) {
		c->cb_failed = 1;
		return -1;
	}
	if (n == 0) {
		c->at_end = 1;
		return 0;
	}
	rd_track(c, c->buf, (size_t)n);
	if (c->o && c->total - c->last_progress >= PROGRESS_EVERY) {
		c->last_progress = c->total;
		if (progress_or_stop(c->o, c->total, c->e) != 0) {
			c->cb_failed = 1;
			return -1;
		}
	}
	return (la_ssize_t)n;
}

/* Error for a failed libarchive read call: "<what>[ "<name>"]: <why>". */
static int rd_fail(struct rd *c, const char *what, const char *name)
{
	const char *m = archive_error_string(c->a);
	char b[SHOW_MAX + 4];

	if (c->cb_failed)
		return -1;
	if (!m)
		m = "unknown libarchive error";
	if (name)
		return err_set(c->e, ERR_CORRUPT, "%s \"%s\": %s", what, show(name, b), m);
	return err_set(c->e, ERR_CORRUPT, "%s: %s", what, m);
}

/* Check one entry's names (see archive_media_check). On success *norm and
 * *normlink (hard link target, NULL if none) are malloc'ed. Returns 0 or -1
 * with c->e set (ERR_UNSAFE, or ERR_INTERNAL). */
static int rd_check_names(struct rd *c, struct archive_entry *ent, char **norm, char **normlink)
{
	const char *name = archive_entry_pathname(ent);
	const char *hl = archive_entry_hardlink(ent);
	const char *why = NULL;
	char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
	size_t k;
	int r;

	*norm = *normlink = NULL;
	if (!name)
		return err_set(c->e, ERR_CORRUPT, "tar entry without a name");
	r = norm_name(name, norm, &why);
	if (r < 0)
		return err_set(c->e, ERR_INTERNAL, "out of memory");
	if (r > 0)
		return err_set(c->e, ERR_UNSAFE, "unsafe entry \"%s\" in archive: it %s",
			       show(name, b), why);
	if ((*norm)[0] == '\0' && archive_entry_filetype(ent) != AE_IFDIR && !hl)
		return err_set(c->e, ERR_UNSAFE,
			       "unsafe entry \"%s\" in archive: it names the root but is not a directory",
			       show(name, b));
	k = through_link(&c->links, *norm);
	if (k)
		return err_set(c->e, ERR_UNSAFE,
			       "unsafe entry \"%s\" in archive: it goes through the symbolic link \"%.*s\"",
			       show(name, b), (int)k, *norm);
	if (hl) {
		r = norm_name(hl, normlink, &why);
		if (r < 0)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
		if (r == 0 && (*normlink)[0] == '\0')
			why = "names the root", r = 1;
		if (r == 0 && (through_link(&c->links, *normlink) ||
			       set_has(&c->links, *normlink, strlen(*normlink))))
			why = "is or goes through a symbolic link", r = 1;
		if (r > 0)
			return err_set(c->e, ERR_UNSAFE,
				       "unsafe entry \"%s\" in archive: its hard link target \"%s\" %s",
				       show(name, b), show(hl, b2), why);
		if ((*norm)[0] == '\0')
			return err_set(c->e, ERR_UNSAFE,
				       "unsafe entry \"%s\" in archive: a hard link in place of the root",
				       show(name, b));
	} else if (archive_entry_filetype(ent) == AE_IFLNK) {
		if (set_add(&c->links, *norm) != 0)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static void rd_count(struct media_stats *st, struct archive_entry *ent)
{
	if (archive_entry_hardlink(ent)) {
		st->files++;
		return;
	}
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG:
		st->files++;
		st->bytes += (uint64_t)archive_entry_size(ent);
		break;
	case AE_IFDIR:
		st->dirs++;
		break;
	case AE_IFLNK:
		st->symlinks++;
		break;
	default:
		st->other++;
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* restore: the archive's listing, to check the staged tree against       */

/* One entry as the archive lists it and as it was handed to the disk
 * writer; the staged tree must match it before anything live moves. */
struct want {
	char *name;    /* normalised member name (the key), never "" */
	mode_t type;   /* AE_IFREG, AE_IFDIR, AE_IFLNK, ... */
	uint64_t size; /* regular files: content bytes */
	uint32_t crc;  /* regular files: CRC-32 of the bytes handed to the writer */
	bool crc_ok;   /* crc covers the content (not when a hard link entry
			* wrote data into the file too) */
	bool hard;     /* a hard link entry; link is its normalised target */
	char *link;    /* symlink target or hard link target, else NULL */
	dev_t rdev;    /* devices */
	bool seen;
};

/* The listing: open addressing on the name (str_hash). */
struct wants {
	struct want **slot;
	size_t cap, n;
};

static struct want *wants_find(const struct wants *ws, const char *k)
{
	if (!ws->n)
		return NULL;
	for (size_t i = (size_t)str_hash(k, strlen(k)) & (ws->cap - 1); ws->slot[i];
	     i = (i + 1) & (ws->cap - 1))
		if (strcmp(ws->slot[i]->name, k) == 0)
			return ws->slot[i];
	return NULL;
}

static void wants_put(struct wants *ws, struct want *w)
{
	size_t i = (size_t)str_hash(w->name, strlen(w->name)) & (ws->cap - 1);

	while (ws->slot[i])
		i = (i + 1) & (ws->cap - 1);
	ws->slot[i] = w;
	ws->n++;
}

/* Add w (owned from now on, also on failure). Returns 0 or -1 (no memory). */
static int wants_add(struct wants *ws, struct want *w)
{
	if ((ws->n + 1) * 2 > ws->cap) {
		struct wants g = { calloc(ws->cap ? ws->cap * 2 : 64, sizeof(struct want *)),
				   ws->cap ? ws->cap * 2 : 64, 0 };
		if (!g.slot) {
			free(w->name);
			free(w->link);
			free(w);
			return -1;
		}
		for (size_t i = 0; i < ws->cap; i++)
			if (ws->slot[i])
				wants_put(&g, ws->slot[i]);
		free(ws->slot);
		*ws = g;
	}
	wants_put(ws, w);
	return 0;
}

static void wants_free(struct wants *ws)
{
	for (size_t i = 0; i < ws->cap; i++) {
		if (!ws->slot[i])
			continue;
		free(ws->slot[i]->name);
		free(ws->slot[i]->link);
		free(ws->slot[i]);
	}
	free(ws->slot);
	memset(ws, 0, sizeof *ws);
}

/* Per-entry extraction for restore; NULL for a check. */
struct ext {
	struct archive *disk;
	const char *stage; /* absolute, symlink-free */
	struct wants wants;
	int root_seen;
	mode_t root_perm;
	la_int64_t root_uid, root_gid;
	int root_mtime_set;
	struct timespec root_mtime;
};

/* errno values that mean the data did not reach the disk. libarchive's
 * disk writer reports some of them (a failed write(2) among them) as
 * ARCHIVE_WARN only. */
static bool lost_write(int en)
{
	return en == ENOSPC || en == EDQUOT || en == EIO || en == EROFS || en == EFBIG;
}

/* A disk-writer call failed: "<what> <name>: <libarchive's text>[: errno]". */
static int ext_fail(struct rd *c, struct ext *x, const char *what, const char *norm)
{
	const char *m = archive_error_string(x->disk);
	int en = archive_errno(x->disk);
	char b[SHOW_MAX + 4];

	if (!m)
		m = "unknown libarchive error";
	if (en > 0 && !strstr(m, strerror(en)))
		return err_errno(c->e, ERR_RESTORE, en, "%s %s: %s", what, show(norm, b), m);
	return err_set(c->e, ERR_RESTORE, "%s %s: %s", what, show(norm, b), m);
}

/* Record ent (named norm, hard link target normlink) in the listing. */
static struct want *ext_want(struct rd *c, struct ext *x, struct archive_entry *ent,
			     const char *norm, const char *normlink)
{
	const char *t = archive_entry_symlink(ent);
	struct want *w;
	char b[SHOW_MAX + 4];

	if (wants_find(&x->wants, norm)) {
		/* Never in vigil's own archives; extracted, the second
		 * would silently replace the first. */
		err_set(c->e, ERR_CORRUPT, "entry \"%s\" appears twice in the archive", show(norm, b));
		return NULL;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->name = strdup(norm)))
		goto oom;
	w->type = normlink ? AE_IFREG : archive_entry_filetype(ent);
	if (normlink) {
		struct want *target = wants_find(&x->wants, normlink);
		w->hard = true;
		w->link = strdup(normlink);
		if (!w->link)
			goto oom;
		if (target && archive_entry_size(ent) > 0)
			target->crc_ok = false;
	} else if (w->type == AE_IFLNK) {
		w->link = strdup(t ? t : "");
		if (!w->link)
			goto oom;
	} else if (w->type == AE_IFREG) {
		w->size = (uint64_t)archive_entry_size(ent);
		w->crc_ok = true;
	} else if (w->type == AE_IFCHR || w->type == AE_IFBLK) {
		w->rdev = archive_entry_rdev(ent);
	}
	if (wants_add(&x->wants, w) != 0) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return w;
oom:
	if (w) {
		free(w->name);
		free(w->link);
		free(w);
	}
	err_set(c->e, ERR_INTERNAL, "out of memory");
	return NULL;
}

static int ext_entry(struct rd *c, struct ext *x, struct archive_entry *ent, const char *norm,
		     const char *normlink)
{
	char *full = NULL, *fullhl = NULL;
	char b[SHOW_MAX + 4];
	struct want *w;
	uint64_t pos = 0;
	uint32_t crc = 0;
	int ret = -1, r;

	if (norm[0] == '\0') {
		/* "./": applied to o->root itself after the swap. */
		x->root_seen = 1;
		x->root_perm = archive_entry_perm(ent);
		x->root_uid = archive_entry_uid(ent);
		x->root_gid = archive_entry_gid(ent);
		x->root_mtime_set = archive_entry_mtime_is_set(ent);
		x->root_mtime.tv_sec = archive_entry_mtime(ent);
		x->root_mtime.tv_nsec = archive_entry_mtime_nsec(ent);
		return archive_read_data_skip(c->a) == ARCHIVE_OK ? 0
			: rd_fail(c, "cannot read from the archive", "./");
	}
	w = ext_want(c, x, ent, norm, normlink);
	if (!w)
		return -1;
	full = path_join(x->stage, norm);
	if (normlink)
		fullhl = path_join(x->stage, normlink);
	if (!full || (normlink && !fullhl)) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	archive_entry_copy_pathname(ent, full);
	if (fullhl)
		archive_entry_copy_hardlink(ent, fullhl);
	/* ARCHIVE_WARN from the disk writer is a warning only when it is
	 * about metadata (owner, mode, times); lost data fails the restore. */
	r = archive_write_header(x->disk, ent);
	if (r < ARCHIVE_WARN || (r == ARCHIVE_WARN && lost_write(archive_errno(x->disk)))) {
		ext_fail(c, x, "cannot extract", norm);
		goto out;
	}
	if (r == ARCHIVE_WARN && c->o && c->o->warn) {
		const char *m = archive_error_string(x->disk);
		c->o->warn(c->o->ctx, norm, m ? m : "extraction warning");
		c->st->warnings++;
	}
	for (;;) {
		const void *p;
		size_t n;
		la_int64_t off;
		la_ssize_t k;

		r = archive_read_data_block(c->a, &p, &n, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rd_fail(c, "cannot read from the archive", norm);
			goto out;
		}
		if (off < 0 || (uint64_t)off < pos) {
			err_set(c->e, ERR_CORRUPT, "data of \"%s\" out of order in the archive",
				show(norm, b));
			goto out;
		}
		/* The content as handed to the writer; holes are zeros. */
		crc = stream_crc32(crc, NULL, (uint64_t)off - pos);
		crc = stream_crc32(crc, p, n);
		pos = (uint64_t)off + n;
		/* Any result below ARCHIVE_OK (libarchive 3.6 returns
		 * ARCHIVE_OK, later versions the byte count) is lost data:
		 * a failed write(2) is ARCHIVE_WARN, and finish_entry would
		 * then extend the file with a hole. */
		k = archive_write_data_block(x->disk, p, n, off);
		if (k < 0) {
			ext_fail(c, x, "cannot write", norm);
			goto out;
		}
	}
	if (w->type == AE_IFREG && !w->hard) {
		if (pos < w->size)
			crc = stream_crc32(crc, NULL, w->size - pos);
		w->crc = crc;
	}
	r = archive_write_finish_entry(x->disk);
	if (r < ARCHIVE_WARN || (r == ARCHIVE_WARN && lost_write(archive_errno(x->disk)))) {
		ext_fail(c, x, "cannot extract", norm);
		goto out;
	}
	if (r == ARCHIVE_WARN && c->o && c->o->warn) {
		const char *m = archive_error_string(x->disk);
		c->o->warn(c->o->ctx, norm, m ? m : "extraction warning");
		c->st->warnings++;
	}
	ret = 0;
out:
	free(full);
	free(fullhl);
	return ret;
}

/* The check of the staged tree against the listing (archive_media_restore). */
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
	switch (t & AE_IFMT) {
	case AE_IFREG: return "a regular file";
	case AE_IFDIR: return "a directory";
	case AE_IFLNK: return "a symbolic link";
	case AE_IFIFO: return "a FIFO";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
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
		       show(v->rel, b), m);
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
	struct want *w = wants_find(v->wants, v->rel), implicit = { .type = AE_IFDIR };
	char b[SHOW_MAX + 4];
	struct stat st;
	int fd;

	if (++v->n % 256 == 0 && stop_now(v->o, v->e) != 0)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return err_errno(v->e, ERR_RESTORE, errno, "cannot check the extracted \"%s\"",
				 show(v->rel, b));
	if (!w) {
		/* libarchive makes the missing parent directories of an
		 * entry (archives without directory entries); nothing else
		 * may appear. */
		if (!S_ISDIR(st.st_mode))
			return err_set(v->e, ERR_RESTORE,
				       "\"%s\" was extracted but is not in the archive", show(v->rel, b));
		w = &implicit;
	}
	w->seen = true;
	if ((st.st_mode & S_IFMT) != (w->type & AE_IFMT))
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
			return err_errno(v->e, ERR_RESTORE, errno, "cannot read back the extracted \"%s\"",
					 show(v->rel, b));
		r = crc_file(fd, w->size, v->buf, &crc, &n);
		if (r != 0)
			err_errno(v->e, ERR_RESTORE, errno, "cannot read back the extracted \"%s\"",
				  show(v->rel, b));
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
			return err_errno(v->e, ERR_RESTORE, errno, "cannot check the extracted \"%s\"",
					 show(v->rel, b));
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			err_errno(v->e, ERR_RESTORE, errno, "cannot check the extracted \"%s\"",
				  show(v->rel, b));
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
				 len ? show(v->rel, b) : "./");
	}
	if (names_read(d, &ns) != 0) {
		err_errno(v->e, ERR_RESTORE, errno, "cannot list the extracted \"%s\"",
			  len ? show(v->rel, b) : "./");
		goto out;
	}
	for (size_t i = 0; i < ns.n; i++) {
		size_t ln = strlen(ns.v[i]), at = len ? len + 1 : 0;
		if (at + ln + 1 > REL_MAX) {
			err_set(v->e, ERR_RESTORE, "path too long below \"%s\"", show(v->rel, b));
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
	names_free(&ns);
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
		err_errno(e, ERR_RESTORE, errno, "cannot open %s", show(x->stage, b));
		goto out;
	}
	if (vf_dir(&v, fd, 0) != 0)
		goto out;
	for (size_t i = 0; i < x->wants.cap; i++) {
		const struct want *w = x->wants.slot[i];
		if (w && !w->seen) {
			err_set(e, ERR_RESTORE, "\"%s\" is in the archive but was not extracted",
				show(w->name, b));
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

/* Read the whole archive from c->r: every header, every entry's data, the
 * name checks, then the stream to its end and the end-of-archive marker.
 * With x, entries are extracted as they come. Returns 0 or -1 with c->e. */
static int rd_run(struct rd *c, struct ext *x)
{
	struct archive_entry *ent;
	char *norm = NULL, *normlink = NULL, *last = NULL;
	int r, ret = -1;

	c->buf = malloc(IO_BUF);
	c->a = archive_read_new();
	if (!c->buf || !c->a) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (archive_read_support_format_tar(c->a) != ARCHIVE_OK) {
		err_set(c->e, ERR_INTERNAL, "libarchive: no tar support");
		goto out;
	}
	if (archive_read_open(c->a, c, NULL, rd_cb, NULL) != ARCHIVE_OK) {
		/* libarchive reads ahead and bids here already. */
		rd_fail(c, "not a tar archive", NULL);
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(c->a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			/* (ARCHIVE_WARN: e.g. a name libarchive could not
			 * convert; it is still set byte for byte.) */
			if (!last)
				rd_fail(c, "not a tar archive", NULL);
			else
				rd_fail(c, "damaged tar archive after entry", last[0] ? last : "./");
			goto out;
		}
		if (rd_check_names(c, ent, &norm, &normlink) != 0)
			goto out;
		rd_count(c->st, ent);
		if (x) {
			if (ext_entry(c, x, ent, norm, normlink) != 0)
				goto out;
		} else if (archive_read_data_skip(c->a) != ARCHIVE_OK) {
			/* Without a skip callback libarchive reads (and the
			 * stream decodes) the data it skips. */
			rd_fail(c, "cannot read from the archive", norm);
			goto out;
		}
		free(last);
		last = norm;
		norm = NULL;
		free(normlink);
		normlink = NULL;
		/* Entries end on a block boundary (padding is consumed
		 * lazily, hence the rounding). */
		c->end_pos = ((uint64_t)archive_filter_bytes(c->a, 0) + TAR_BLOCK - 1) / TAR_BLOCK *
			     TAR_BLOCK;
	}
	/* libarchive stops at the first zero block, and also at a clean end
	 * of data without any marker. Read the stream to its end (this also
	 * proves the compressed stream is complete), then require at least
	 * two zero blocks after the last entry and nothing but zeros after
	 * them (GNU tar pads to 10 KiB records). */
	while (!c->at_end) {
		ssize_t n = stream_read(c->r, c->buf, IO_BUF, c->e);
		if (n < 0)
			goto out;
		if (n == 0)
			c->at_end = 1;
		else
			rd_track(c, c->buf, (size_t)n);
	}
	if (c->total < c->end_pos + TAR_EOA) {
		err_set(c->e, ERR_CORRUPT, "tar end-of-archive marker missing (truncated archive)");
		goto out;
	}
	if (c->last_nz > c->end_pos) {
		err_set(c->e, ERR_CORRUPT,
			"garbage after the last tar entry (damaged or truncated archive)");
		goto out;
	}
	if (c->o && c->o->progress)
		c->o->progress(c->o->ctx, c->total);
	ret = 0;
out:
	free(norm);
	free(normlink);
	free(last);
	return ret;
}

static void rd_free(struct rd *c)
{
	if (c->a)
		archive_read_free(c->a);
	free(c->buf);
	set_free(&c->links);
}

/* See archive.h. Names are checked in archive order: an entry below an
 * earlier symlink entry ("lnk" -> /tmp, then "lnk/x"), absolute names, ".."
 * components, and hard link targets under the same rules (plus: no hard link
 * to a symlink entry) are ERR_UNSAFE (exit 2). Stream errors come back as
 * stream_read set them. r is read to its end; it is not freed. */
int archive_media_check(struct stream_reader *r, struct media_stats *st, struct err *e)
{
	struct media_stats local;
	struct loc_guard lg;
	struct rd c;
	int ret;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	c.r = r;
	c.e = e;
	c.st = st;
	loc_enter(&lg, "C");
	ret = rd_run(&c, NULL);
	rd_free(&c);
	loc_leave(&lg);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* restore: swapping the staged tree into place                           */

struct move {
	char *from, *to;
};

struct prot {
	dev_t dev;
	ino_t ino;
	char *rel; /* path relative to root when below it, else NULL */
};

struct dtimes {
	char *path;
	struct timespec ts[2];
};

struct fixmeta {
	char *path;
	struct stat st;
};

struct sw {
	const struct media_opts *o;
	struct media_stats *st;
	struct err *e;
	const char *root;  /* realpath of o->root */
	const char *stage; /* root/.vigil-restore-XXXXXX */
	char *old;         /* root/.vigil-old-XXXXXX, made on first use */
	struct move *mv;
	size_t n_mv, cap_mv;
	struct prot *prot;
	size_t n_prot;
	struct dtimes *dt; /* directories changed in place, for a rollback */
	size_t n_dt, cap_dt;
	struct fixmeta *fx; /* kept directories: metadata from the archive */
	size_t n_fx, cap_fx;
};

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
		return err_errno(s->e, ERR_RESTORE, saved, "cannot move %s to %s", show(from, b1), to);
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
		return err_errno(s->e, ERR_RESTORE, errno, "cannot list %s", show(path, b));
	}
	r = names_read(d, ns);
	if (r != 0)
		err_errno(s->e, ERR_RESTORE, errno, "cannot list %s", show(path, b));
	closedir(d);
	return r;
}

/* The directory old/rel and its parents inside s->old (0700), where the
 * live entries of rel go under their own names: a restore killed in the
 * middle of its swap (SIGKILL, a power cut) leaves a tree that mirrors
 * MEDIA_DIR, from which an operator can move back what is missing. */
static int sw_old_dir(struct sw *s, const char *rel)
{
	char *p = path_join(s->old, rel);
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
static int sw_dir(struct sw *s, const char *rel)
{
	struct names live = { 0 }, staged = { 0 };
	char *lpath = path_join(s->root, rel), *spath = path_join(s->stage, rel);
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
		child = path_join(rel, live.v[i]);
		from = path_join(s->root, child);
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
			char *sp = path_join(s->stage, child);
			struct stat sst;
			int have;
			if (!sp) {
				sw_oom(s);
				goto out;
			}
			/* before the swap inside changes its mtime */
			have = lstat(sp, &sst) == 0 && S_ISDIR(sst.st_mode);
			if (sw_dir(s, child) != 0) {
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
			s->old = path_join(s->root, ".vigil-old-XXXXXX");
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
		to = path_join(s->old, child);
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
		child = path_join(rel, staged.v[i]);
		if (child) {
			from = path_join(s->stage, child);
			to = path_join(s->root, child);
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
	names_free(&live);
	names_free(&staged);
	free(child);
	free(from);
	free(to);
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

static void sw_free(struct sw *s)
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
static void apply_meta(struct sw *s, const char *path, const char *rel, uid_t uid, gid_t gid,
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
static int check_mounts_below(const char *root, const struct media_opts *o, struct err *e)
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
			      show(mp + (rl == 1 ? 1 : rl + 1), b), show(root, b2));
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < n_prot; i++)
		free(prot[i]);
	return ret;
}

/* See archive.h. */
int archive_media_restore_check(const struct media_opts *o, struct err *e)
{
	char *root;
	int ret;

	if (!o || !o->root)
		return err_set(e, ERR_INTERNAL, "archive_media_restore_check: bad arguments");
	root = realpath(o->root, NULL);
	if (!root)
		return 0; /* a missing MEDIA_DIR is created by the restore */
	ret = check_mounts_below(root, o, e);
	free(root);
	return ret;
}

/* See archive.h. Steps: realpath(o->root) (a symlinked root is followed and
 * stays a symlink); mkdtemp root/.vigil-restore-XXXXXX (0700); extract every
 * entry into it with archive_write_disk(3) (no user/group name lookups: ids
 * are numeric, which is right in a container); require the end-of-archive
 * marker and the stream's clean end; archive_write_close applies the
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
int archive_media_restore(const struct media_opts *o, struct stream_reader *r,
			  struct media_stats *st, struct err *e)
{
	struct media_stats local;
	struct loc_guard lg;
	struct rd c;
	struct ext x;
	struct sw s;
	struct stat rst;
	struct timespec root_ts[2];
	char *root = NULL, *stage = NULL;
	char b[SHOW_MAX + 4];
	int ret = -1, staged = 0, keep_old = 0, rc, sig, sfd = -1;
	int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
		    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SPARSE;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	memset(&x, 0, sizeof x);
	memset(&s, 0, sizeof s);
	loc_enter(&lg, "C");
	if (!o || !o->root || !r) {
		err_set(e, ERR_INTERNAL, "archive_media_restore: bad arguments");
		goto out;
	}
	/* Secure-symlink checks walk the whole absolute path, so it must not
	 * go through a symlink itself. */
	root = realpath(o->root, NULL);
	if (!root || stat(root, &rst) != 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot open media directory %s", show(o->root, b));
		goto out;
	}
	if (!S_ISDIR(rst.st_mode)) {
		err_set(e, ERR_RESTORE, "media directory %s is not a directory", show(o->root, b));
		goto out;
	}
	if (check_mounts_below(root, o, e) != 0)
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

	stage = path_join(root, ".vigil-restore-XXXXXX");
	if (!stage) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (!mkdtemp(stage)) {
		err_errno(e, ERR_RESTORE, errno, "cannot create a staging directory in %s",
			  show(root, b));
		goto out;
	}
	staged = 1;
	s.stage = stage;
	/* Opened before anything is written: syncfs(2) on it reports the
	 * write-back errors of the file system since this open (below). */
	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		err_errno(e, ERR_RESTORE, errno, "cannot open %s", show(stage, b));
		goto out;
	}

	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	x.stage = stage;
	x.disk = archive_write_disk_new();
	if (!x.disk || archive_write_disk_set_options(x.disk, flags) != ARCHIVE_OK) {
		err_set(e, ERR_INTERNAL, "libarchive: cannot set up extraction");
		goto out;
	}
	c.r = r;
	c.e = e;
	c.o = o;
	c.st = st;
	if (rd_run(&c, &x) != 0)
		goto out;
	rc = archive_write_close(x.disk);
	if (rc < ARCHIVE_WARN || (rc == ARCHIVE_WARN && lost_write(archive_errno(x.disk)))) {
		ext_fail(&c, &x, "cannot finish extraction in", ".");
		goto out;
	}
	if (rc == ARCHIVE_WARN) {
		const char *m = archive_error_string(x.disk);
		if (o->warn)
			o->warn(o->ctx, "./", m ? m : "extraction warning");
		st->warnings++;
	}
	archive_write_free(x.disk);
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
			  show(root, b));
		goto out;
	}
	/* Prove the result before anything live moves. */
	if (ext_verify(o, &x, st, e) != 0)
		goto out;
	if (stop_now(o, e) != 0)
		goto out;
	if (o->note)
		o->note(o->ctx, "extracted tree checked against the archive");

	/* The swap. */
	if (sw_dir(&s, "") != 0) {
		size_t bad = sw_rollback(&s);
		if (bad) {
			keep_old = 1;
			st->not_moved_back = bad;
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
	if (s.old && rm_tree_at(AT_FDCWD, s.old) != 0) {
		if (o->warn)
			o->warn(o->ctx, s.old + strlen(root) + 1, "cannot remove the old entries");
		st->warnings++;
	}
	if (rm_tree_at(AT_FDCWD, stage) != 0) {
		if (o->warn)
			o->warn(o->ctx, stage + strlen(root) + 1, "cannot remove the staging directory");
		st->warnings++;
	}
	for (size_t i = 0; i < s.n_fx; i++)
		apply_meta(&s, s.fx[i].path, s.fx[i].path + strlen(root) + 1, s.fx[i].st.st_uid,
			   s.fx[i].st.st_gid, s.fx[i].st.st_mode, &s.fx[i].st.st_mtim);
	/* Last: every rename above changed the root's mtime. */
	if (x.root_seen)
		apply_meta(&s, root, "./", (uid_t)x.root_uid, (gid_t)x.root_gid, x.root_perm,
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
	if (x.disk) {
		/* Failed: no deferred fixups into a directory about to go. */
		archive_write_fail(x.disk);
		archive_write_free(x.disk);
	}
	rd_free(&c);
	wants_free(&x.wants);
	if (staged) {
		if (!keep_old) {
			/* Fails on a file system that went read-only after
			 * write-back errors; the next restore removes it. */
			if (rm_tree_at(AT_FDCWD, stage) != 0 && o->warn)
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
	sw_free(&s);
	free(stage);
	free(root);
	loc_leave(&lg);
	return ret;
}

/* See archive.h. */
const char *archive_media_lib_version(void)
{
	return archive_version_details();
}
