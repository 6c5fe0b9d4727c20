/* tar.h - libarchive's single home (one home per library, docs/design.md): a thin layer that
 * writes and reads tar archives through callbacks, and extracts the entry
 * being read onto disk. Only tar.c includes <archive.h>/<archive_entry.h>.
 *
 * Everything here speaks in struct tar_entry (plain fields, no libarchive
 * types) and struct err. Compression is never done here: the write callback
 * gets tar bytes, the read callback hands tar bytes in (stream.c codes them).
 *
 * Errors: a failing call returns -1 with e set to libarchive's own text
 * ("unknown libarchive error" when it has none) under the code given at
 * each function; callers add their context with err_prefix(). When the
 * failure came from the caller's own callback returning -1, e is left as
 * that callback left it (the callback owns that error).
 */
#ifndef VIGIL_TAR_H
#define VIGIL_TAR_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* One data region of a file with holes: off and len in bytes. */
struct tar_region {
	int64_t off, len;
};

/* One archive member, as vigil sees it. Strings are NUL-ended byte
 * strings (no charset conversion is asked of them, see tar_locale_*). On
 * reading they belong to the reader and stay valid until the next
 * tar_read_next or tar_disk_header. */
struct tar_entry {
	const char *path;     /* member name, e.g. "A\xc3\xb1o/x.jpg" or "./" */
	const char *symlink;  /* symbolic link target, else NULL */
	const char *hardlink; /* reading: hard link target, else NULL */
	mode_t mode;          /* type (S_IFREG, S_IFDIR, ...; libarchive's AE_IF*
			       * have the same values) | permission bits */
	int64_t uid, gid;     /* numeric owner; names are never stored */
	int64_t size;         /* content bytes of a regular file, else 0 */
	int64_t mtime_sec;    /* modification time, seconds since the epoch */
	long mtime_nsec;      /* and nanoseconds */
	bool mtime_set;       /* reading: the archive has an mtime for it */
	dev_t rdev;           /* character and block devices */
	/* writing: the data regions of a file with holes, NULL/0 for a plain
	 * file (see tar_write_header) */
	const struct tar_region *sparse;
	size_t n_sparse;
};

/* ---- character set --------------------------------------------------- */

/* The calling thread's LC_CTYPE while libarchive runs; see tar.c for why.
 * tar_locale_writing switches it to "C.UTF-8", tar_locale_reading to "C",
 * tar_locale_leave puts back the one before (uselocale(3): thread-local,
 * other threads are not affected). Enter before the first tar_* call of a
 * job and leave after the last one (the writer also wants its walk, with
 * fnmatch(3) of the excludes, in the same locale). When the locale cannot
 * be made, the thread's own stays (never an error). */
struct tar_locale {
	locale_t loc, old;
};
void tar_locale_writing(struct tar_locale *g);
void tar_locale_reading(struct tar_locale *g);
void tar_locale_leave(struct tar_locale *g);

/* ---- writing: POSIX pax -------------------------------------------------- */

/* Client write callback: take all n bytes of buf, return 0, or -1 with the
 * caller's own error recorded (ctx is the caller's). */
typedef int (*tar_write_fn)(void *ctx, const void *buf, size_t n);

struct tar_writer;

/* A pax writer (IEEE Std 1003.1-2001 pax interchange format, libarchive's
 * full pax writer) whose output goes to fn in blocks of up to 64 KiB; the
 * last block is not padded. *out is owned by the caller (tar_writer_free).
 * Returns 0, or -1 with e set (ERR_INTERNAL "libarchive: ..."). */
int tar_writer_open(struct tar_writer **out, tar_write_fn fn, void *ctx, struct err *e);

/* Write one member header: te's path, mode, uid, gid, mtime (seconds and
 * nanoseconds), size (regular files), rdev (devices), symlink target and
 * sparse map (a file with a map is stored as a GNU sparse 1.0 entry).
 * te->hardlink and te->mtime_set are ignored. A header libarchive wrote
 * with a warning (a name that is not valid UTF-8 gets hdrcharset=BINARY)
 * is a success. Returns 0 or -1 with e set (ERR_MEDIA). */
int tar_write_header(struct tar_writer *tw, const struct tar_entry *te, struct err *e);

/* Write n content bytes of the member whose header was written last (in
 * all, exactly the header's size, or the sum of its sparse regions).
 * Returns 0 or -1 with e set (ERR_MEDIA). */
int tar_write_data(struct tar_writer *tw, const void *p, size_t n, struct err *e);

/* End the archive: the end-of-archive marker (two zero blocks) and the last
 * partial block go to fn. Returns 0 or -1 with e set (ERR_MEDIA). */
int tar_writer_finish(struct tar_writer *tw, struct err *e);

/* Free tw (NULL is fine). A writer that was not finished is abandoned: what
 * libarchive still has goes nowhere, so a failed archive gets no end
 * marker. */
void tar_writer_free(struct tar_writer *tw);

/* ---- reading: tar in any of its dialects --------------------------------- */

/* Client read callback: set *buf to the next bytes of the archive and
 * return how many (the buffer stays the caller's and must stay valid until
 * the next call), 0 at the end, or -1 with the caller's own error
 * recorded. */
typedef ssize_t (*tar_read_fn)(void *ctx, const void **buf);

struct tar_reader;

/* A reader for the tar formats (ustar, pax, GNU, v7; no compression
 * filters). *out is owned by the caller (tar_reader_free, also after a
 * failure). Returns 0 or -1 with e set (ERR_INTERNAL). */
int tar_reader_new(struct tar_reader **out, struct err *e);

/* Start reading from fn. libarchive reads ahead here already to recognise
 * the format. Returns 0 or -1 with e set (ERR_CORRUPT). */
int tar_reader_open(struct tar_reader *tr, tar_read_fn fn, void *ctx, struct err *e);

/* The next member's header into *te (its strings belong to tr, see struct
 * tar_entry). A header read with a warning (e.g. a name libarchive could
 * not convert; it is still set byte for byte) is a success. Returns 1 with
 * *te set, 0 at the end of the archive (its first zero block, or a clean end
 * of data), or -1 with e set (ERR_CORRUPT). */
int tar_read_next(struct tar_reader *tr, struct tar_entry *te, struct err *e);

/* The next block of the current member's data: *p, *n bytes at offset *off
 * of the file (offsets jump over holes of sparse entries). Returns 1 with a
 * block, 0 when the member has no more, -1 with e set (ERR_CORRUPT). */
int tar_read_data(struct tar_reader *tr, const void **p, size_t *n, int64_t *off, struct err *e);

/* Skip the rest of the current member's data (it is read through fn, as
 * there is no skip callback). Returns 0 or -1 with e set (ERR_CORRUPT). */
int tar_read_skip(struct tar_reader *tr, struct err *e);

/* Bytes of archive the reader has consumed so far (data padding is
 * consumed lazily, so this may end inside the last member's padding). */
uint64_t tar_reader_bytes(struct tar_reader *tr);

void tar_reader_free(struct tar_reader *tr);

/* ---- extracting: the member being read, onto disk -------------------------- */

struct tar_disk;

/* A disk writer (archive_write_disk(3)) with libarchive's secure-extract
 * flags ARCHIVE_EXTRACT_SECURE_NODOTDOT and _SECURE_SYMLINKS, plus mode,
 * times, xattrs, ACLs and sparse files, and owners (numeric ids, no name
 * lookups) when running as root (geteuid 0). _SECURE_NOABSOLUTEPATHS is not
 * set: the names handed to it are absolute (a staging directory's path plus
 * the member name), so callers refuse absolute member names themselves.
 * *out is owned by the caller (tar_disk_free). Returns 0 or -1 with e set
 * (ERR_INTERNAL). */
int tar_disk_new(struct tar_disk **out, struct err *e);

/* Create tr's current member on disk as path (and, for a hard link entry,
 * linked to hardlink; NULL otherwise), with all the metadata the archive
 * has for it. Returns 0, 1 when created with a warning about metadata
 * (owner, mode, times: *warning is libarchive's text, valid until the next
 * call), or -1 with e set (ERR_RESTORE, or ERR_NOSPACE for ENOSPC/EDQUOT,
 * with strerror appended when libarchive's text lacks it): a warning that
 * means lost data (ENOSPC, EDQUOT, EIO, EROFS, EFBIG) is an error. */
int tar_disk_header(struct tar_disk *d, struct tar_reader *tr, const char *path,
		    const char *hardlink, const char **warning, struct err *e);

/* Write n bytes of the current file at offset off (what tar_read_data
 * gave). Any shortfall is lost data. Returns 0 or -1 with e set as
 * tar_disk_header does. */
int tar_disk_data(struct tar_disk *d, const void *p, size_t n, int64_t off, struct err *e);

/* Finish the current file (its times and mode are set now). Returns as
 * tar_disk_header. */
int tar_disk_finish_entry(struct tar_disk *d, const char **warning, struct err *e);

/* Apply the deferred modes and times of the directories made so far and
 * end extraction. Returns as tar_disk_header. */
int tar_disk_close(struct tar_disk *d, const char **warning, struct err *e);

/* Free d (NULL is fine). When tar_disk_close did not succeed, the deferred
 * directory fix-ups are dropped, not applied (the tree is about to go). */
void tar_disk_free(struct tar_disk *d);

/* libarchive's version line ("libarchive 3.6.2 zlib/1.2.13 ..."). Static. */
const char *tar_lib_version(void);

#endif
