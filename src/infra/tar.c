/* tar.c - libarchive's single home: a pax writer and a tar reader on
 * callbacks, and extraction of the member being read; see tar.h.
 *
 * Format: POSIX.1-2001 pax interchange format (IEEE Std 1003.1-2001,
 * POSIX.1-2008 "pax" utility, extended header records "path", "linkpath",
 * "size", "mtime", "uid", "gid"), written with libarchive's pax writer: a
 * plain ustar header unless a field does not fit (long or non-ASCII names,
 * sizes of 8 GiB and more, sub-second mtimes, large ids).
 * See libarchive-formats(5), tar(5), archive_write(3), archive_read(3),
 * archive_write_disk(3).
 *
 * Decisions:
 * - libarchive's full pax writer, not the "restricted" one: the latter only
 *   keeps sub-second mtimes when some other field already needs an extended
 *   header. As no atime, ctime, xattrs, ACLs or file flags are set on the
 *   entries, the full writer also emits an extended header only when a
 *   field needs it.
 * - libarchive never compresses nor decompresses here (stream.c does): the
 *   writer has no filter, the reader only the tar formats.
 *
 * Character set: names are byte strings, as Linux has them; no entry point
 * depends on the caller's locale. Each job switches its own thread's
 * LC_CTYPE with uselocale(3) (thread-local, other threads are not affected)
 * and back, through tar_locale_writing/_reading/_leave:
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
 */
#include <archive.h>
#include <archive_entry.h>

#include "infra/tar.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITE_BLOCK 65536 /* libarchive's output block */

/* struct tar_entry carries S_IF* types; libarchive's are the same numbers. */
_Static_assert(AE_IFMT == S_IFMT && AE_IFREG == S_IFREG && AE_IFDIR == S_IFDIR &&
		       AE_IFLNK == S_IFLNK && AE_IFIFO == S_IFIFO && AE_IFCHR == S_IFCHR &&
		       AE_IFBLK == S_IFBLK && AE_IFSOCK == S_IFSOCK,
	       "libarchive's file types are not the POSIX ones");

static const char NO_TEXT[] = "unknown libarchive error";

/* ---------------------------------------------------------------------- */
/* character set                                                          */

static void loc_enter(struct tar_locale *g, const char *name)
{
	g->old = (locale_t)0;
	g->loc = newlocale(LC_CTYPE_MASK, name, (locale_t)0);
	if (g->loc)
		g->old = uselocale(g->loc);
}

/* See tar.h and the top of this file. */
void tar_locale_writing(struct tar_locale *g)
{
	loc_enter(g, "C.UTF-8");
}

/* See tar.h and the top of this file. */
void tar_locale_reading(struct tar_locale *g)
{
	loc_enter(g, "C");
}

/* See tar.h. */
void tar_locale_leave(struct tar_locale *g)
{
	if (g->loc) {
		uselocale(g->old);
		freelocale(g->loc);
	}
}

/* ---------------------------------------------------------------------- */
/* writing                                                                */

struct tar_writer {
	struct archive *a;
	struct archive_entry *ent;
	tar_write_fn fn;
	void *ctx;
	int cb_failed; /* fn failed: the error is the caller's */
	int abandon;   /* freed unfinished: swallow what libarchive still writes */
	int finished;
};

/* libarchive's client writer: tar bytes go to the caller. */
static la_ssize_t tw_cb(struct archive *a, void *cd, const void *buf, size_t n)
{
	struct tar_writer *tw = cd;

	(void)a;
	if (tw->abandon)
		return (la_ssize_t)n; /* failed run: see tar_writer_free */
	if (tw->fn(tw->ctx, buf, n) != 0) {
		tw->cb_failed = 1;
		return -1;
	}
	return (la_ssize_t)n;
}

/* A libarchive write call failed: libarchive's text, unless the callback
 * failed (then e is the callback's). */
static int tw_fail(struct tar_writer *tw, struct err *e)
{
	const char *m = archive_error_string(tw->a);

	if (tw->cb_failed)
		return -1;
	return err_set(e, ERR_MEDIA, "%s", m ? m : NO_TEXT);
}

/* See tar.h. */
int tar_writer_open(struct tar_writer **out, tar_write_fn fn, void *ctx, struct err *e)
{
	struct tar_writer *tw = calloc(1, sizeof *tw);

	*out = tw;
	if (tw) {
		tw->fn = fn;
		tw->ctx = ctx;
		tw->ent = archive_entry_new();
		tw->a = archive_write_new();
	}
	if (!tw || !tw->ent || !tw->a)
		return err_set(e, ERR_INTERNAL, "out of memory");
	if (archive_write_set_format_pax(tw->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(tw->a, WRITE_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(tw->a, 1) != ARCHIVE_OK ||
	    archive_write_open(tw->a, tw, NULL, tw_cb, NULL) != ARCHIVE_OK) {
		const char *m = archive_error_string(tw->a);
		return err_set(e, ERR_INTERNAL, "libarchive: %s",
			       m ? m : "cannot set up the tar writer");
	}
	return 0;
}

/* See tar.h. */
int tar_write_header(struct tar_writer *tw, const struct tar_entry *te, struct err *e)
{
	struct archive_entry *ent = tw->ent;
	int r;

	archive_entry_clear(ent);
	archive_entry_copy_pathname(ent, te->path);
	archive_entry_set_mode(ent, te->mode);
	archive_entry_set_uid(ent, (la_int64_t)te->uid);
	archive_entry_set_gid(ent, (la_int64_t)te->gid);
	archive_entry_set_mtime(ent, (time_t)te->mtime_sec, te->mtime_nsec);
	archive_entry_set_size(ent, (la_int64_t)te->size);
	if (S_ISCHR(te->mode) || S_ISBLK(te->mode))
		archive_entry_set_rdev(ent, te->rdev);
	if (te->symlink)
		archive_entry_copy_symlink(ent, te->symlink);
	for (size_t i = 0; i < te->n_sparse; i++)
		archive_entry_sparse_add_entry(ent, (la_int64_t)te->sparse[i].off,
					       (la_int64_t)te->sparse[i].len);
	r = archive_write_header(tw->a, ent);
	/* ARCHIVE_WARN: the header was written, e.g. with hdrcharset=BINARY
	 * for a name that is not valid UTF-8. */
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 0;
	return tw_fail(tw, e);
}

/* See tar.h. */
int tar_write_data(struct tar_writer *tw, const void *p, size_t n, struct err *e)
{
	la_ssize_t k = archive_write_data(tw->a, p, n);

	if (k < 0 || (size_t)k != n)
		return tw_fail(tw, e);
	return 0;
}

/* See tar.h. */
int tar_writer_finish(struct tar_writer *tw, struct err *e)
{
	/* Close writes the end-of-archive marker (two zero blocks) and the
	 * last partial block, unpadded (bytes_in_last_block 1). */
	tw->finished = 1;
	if (archive_write_close(tw->a) != ARCHIVE_OK)
		return tw_fail(tw, e);
	return 0;
}

/* See tar.h. */
void tar_writer_free(struct tar_writer *tw)
{
	if (!tw)
		return;
	if (tw->a) {
		/* A failed archive must not get an end marker appended, yet
		 * libarchive 3.6 frees its output buffer only in close
		 * (archive_write_fail + free leaks it): close with the write
		 * callback swallowing the bytes. */
		if (!tw->finished) {
			tw->abandon = 1;
			(void)archive_write_close(tw->a);
		}
		archive_write_free(tw->a);
	}
	if (tw->ent)
		archive_entry_free(tw->ent);
	free(tw);
}

/* ---------------------------------------------------------------------- */
/* reading                                                                */

struct tar_reader {
	struct archive *a;
	struct archive_entry *ent; /* the current member, libarchive's */
	tar_read_fn fn;
	void *ctx;
	int cb_failed; /* fn failed: the error is the caller's */
};

/* libarchive's client reader: tar bytes from the caller. */
static la_ssize_t tr_cb(struct archive *a, void *cd, const void **out)
{
	struct tar_reader *tr = cd;
	ssize_t n;

	(void)a;
	n = tr->fn(tr->ctx, out);
	if (n < 0) {
		tr->cb_failed = 1;
		return -1;
	}
	return (la_ssize_t)n;
}

/* A libarchive read call failed: libarchive's text, unless the callback
 * failed (then e is the callback's). */
static int tr_fail(struct tar_reader *tr, struct err *e)
{
	const char *m = archive_error_string(tr->a);

	if (tr->cb_failed)
		return -1;
	return err_set(e, ERR_CORRUPT, "%s", m ? m : NO_TEXT);
}

/* See tar.h. */
int tar_reader_new(struct tar_reader **out, struct err *e)
{
	struct tar_reader *tr = calloc(1, sizeof *tr);

	*out = tr;
	if (tr)
		tr->a = archive_read_new();
	if (!tr || !tr->a)
		return err_set(e, ERR_INTERNAL, "out of memory");
	if (archive_read_support_format_tar(tr->a) != ARCHIVE_OK)
		return err_set(e, ERR_INTERNAL, "libarchive: no tar support");
	return 0;
}

/* See tar.h. */
int tar_reader_open(struct tar_reader *tr, tar_read_fn fn, void *ctx, struct err *e)
{
	tr->fn = fn;
	tr->ctx = ctx;
	if (archive_read_open(tr->a, tr, NULL, tr_cb, NULL) != ARCHIVE_OK)
		return tr_fail(tr, e);
	return 0;
}

/* See tar.h. */
int tar_read_next(struct tar_reader *tr, struct tar_entry *te, struct err *e)
{
	struct archive_entry *ent;
	int r = archive_read_next_header(tr->a, &ent);

	if (r == ARCHIVE_EOF)
		return 0;
	/* (ARCHIVE_WARN: e.g. a name libarchive could not convert; it is
	 * still set byte for byte.) */
	if (r < ARCHIVE_WARN)
		return tr_fail(tr, e);
	tr->ent = ent;
	memset(te, 0, sizeof *te);
	te->path = archive_entry_pathname(ent);
	te->symlink = archive_entry_symlink(ent);
	te->hardlink = archive_entry_hardlink(ent);
	te->mode = archive_entry_mode(ent);
	te->uid = archive_entry_uid(ent);
	te->gid = archive_entry_gid(ent);
	te->size = archive_entry_size(ent);
	te->mtime_set = archive_entry_mtime_is_set(ent) != 0;
	te->mtime_sec = archive_entry_mtime(ent);
	te->mtime_nsec = archive_entry_mtime_nsec(ent);
	te->rdev = archive_entry_rdev(ent);
	return 1;
}

/* See tar.h. */
int tar_read_data(struct tar_reader *tr, const void **p, size_t *n, int64_t *off, struct err *e)
{
	la_int64_t o;
	int r = archive_read_data_block(tr->a, p, n, &o);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN)
		return tr_fail(tr, e);
	*off = o;
	return 1;
}

/* See tar.h. */
int tar_read_skip(struct tar_reader *tr, struct err *e)
{
	/* Without a skip callback libarchive reads (and the stream decodes)
	 * the data it skips. */
	if (archive_read_data_skip(tr->a) != ARCHIVE_OK)
		return tr_fail(tr, e);
	return 0;
}

/* See tar.h. */
uint64_t tar_reader_bytes(struct tar_reader *tr)
{
	return (uint64_t)archive_filter_bytes(tr->a, 0);
}

/* See tar.h. */
void tar_reader_free(struct tar_reader *tr)
{
	if (!tr)
		return;
	if (tr->a)
		archive_read_free(tr->a);
	free(tr);
}

/* ---------------------------------------------------------------------- */
/* extracting                                                             */

struct tar_disk {
	struct archive *disk;
	int closed;
};

/* errno values that mean the data did not reach the disk. libarchive's
 * disk writer reports some of them (a failed write(2) among them) as
 * ARCHIVE_WARN only. */
static bool lost_write(int en)
{
	return en == ENOSPC || en == EDQUOT || en == EIO || en == EROFS || en == EFBIG;
}

/* A disk-writer call failed: "<libarchive's text>[: errno]". */
static int td_fail(struct tar_disk *d, struct err *e)
{
	const char *m = archive_error_string(d->disk);
	int en = archive_errno(d->disk);

	if (!m)
		m = NO_TEXT;
	if (en > 0 && !strstr(m, strerror(en)))
		return err_errno(e, ERR_RESTORE, en, "%s", m);
	return err_set(e, ERR_RESTORE, "%s", m);
}

/* The result r of a disk-writer call: ARCHIVE_WARN is a warning only when
 * it is about metadata (owner, mode, times); lost data is an error. */
static int td_result(struct tar_disk *d, int r, const char **warning, struct err *e)
{
	if (r < ARCHIVE_WARN || (r == ARCHIVE_WARN && lost_write(archive_errno(d->disk))))
		return td_fail(d, e);
	if (r == ARCHIVE_WARN) {
		const char *m = archive_error_string(d->disk);
		*warning = m ? m : "extraction warning";
		return 1;
	}
	return 0;
}

/* See tar.h. */
int tar_disk_new(struct tar_disk **out, struct err *e)
{
	struct tar_disk *d = calloc(1, sizeof *d);
	int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
		    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SPARSE;

	*out = d;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	if (d)
		d->disk = archive_write_disk_new();
	if (!d || !d->disk || archive_write_disk_set_options(d->disk, flags) != ARCHIVE_OK)
		return err_set(e, ERR_INTERNAL, "libarchive: cannot set up extraction");
	return 0;
}

/* See tar.h. */
int tar_disk_header(struct tar_disk *d, struct tar_reader *tr, const char *path,
		    const char *hardlink, const char **warning, struct err *e)
{
	archive_entry_copy_pathname(tr->ent, path);
	if (hardlink)
		archive_entry_copy_hardlink(tr->ent, hardlink);
	return td_result(d, archive_write_header(d->disk, tr->ent), warning, e);
}

/* See tar.h. */
int tar_disk_data(struct tar_disk *d, const void *p, size_t n, int64_t off, struct err *e)
{
	/* Any result below ARCHIVE_OK (libarchive 3.6 returns ARCHIVE_OK,
	 * later versions the byte count) is lost data: a failed write(2) is
	 * ARCHIVE_WARN, and finish_entry would then extend the file with a
	 * hole. */
	if (archive_write_data_block(d->disk, p, n, (la_int64_t)off) < 0)
		return td_fail(d, e);
	return 0;
}

/* See tar.h. */
int tar_disk_finish_entry(struct tar_disk *d, const char **warning, struct err *e)
{
	return td_result(d, archive_write_finish_entry(d->disk), warning, e);
}

/* See tar.h. */
int tar_disk_close(struct tar_disk *d, const char **warning, struct err *e)
{
	int r = td_result(d, archive_write_close(d->disk), warning, e);

	if (r >= 0)
		d->closed = 1;
	return r;
}

/* See tar.h. */
void tar_disk_free(struct tar_disk *d)
{
	if (!d)
		return;
	if (d->disk) {
		/* Failed: no deferred fixups into a directory about to go. */
		if (!d->closed)
			archive_write_fail(d->disk);
		archive_write_free(d->disk);
	}
	free(d);
}

/* See tar.h. */
const char *tar_lib_version(void)
{
	return archive_version_details();
}
