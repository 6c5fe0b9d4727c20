/* media.h - media directory <-> pax tar stream: backup, check and restore
 * of MEDIA_DIR (the media_*.c files; libarchive itself is behind tar.h).
 *
 * Backup walks MEDIA_DIR and writes a POSIX pax archive (IEEE Std 1003.1-2001
 * "pax" interchange format, libarchive's pax writer; an entry gets an extended
 * header only when a ustar field cannot hold it: long or non-ASCII names,
 * sizes of 8 GiB and more, sub-second mtimes, large ids. libarchive's
 * "restricted" variant would drop sub-second mtimes) into a stream_writer.
 * Restore reads one through a stream_reader. Ownership is stored as numbers.
 *
 * Entry names are relative to MEDIA_DIR ("Año_2024/x.jpg"); the root itself
 * is stored first as "./" so its mode, owner and mtime come back.
 */
#ifndef VIGIL_MEDIA_H
#define VIGIL_MEDIA_H

#include <stdint.h>

#include "base/err.h"
#include "infra/stream.h"

struct media_opts {
	const char *root;               /* MEDIA_DIR; a symlink here is followed */
	/* Glob patterns (fnmatch(3), no flags) matched against each entry's
	 * path relative to root, e.g. "private/s.jpg": '*' and '?' also match
	 * '/', so "*.tmp" excludes such files at any depth while "cache" is
	 * only the top-level entry. A pattern that matches a directory
	 * excludes its whole subtree; a trailing '/' ("cache/") matches
	 * directories only; a leading "./" or "/" is ignored. Excluded entries
	 * are never opened, so an unreadable excluded file is no error. */
	const char *const *excludes;
	size_t n_excludes;
	const char *const *skip_dirs;   /* absolute paths never archived nor touched
					 * on restore: BACKUP_DIR, LOG_DIR */
	size_t n_skip_dirs;
	/* progress: called now and then with raw bytes so far; may be NULL */
	void (*progress)(void *ctx, uint64_t raw_bytes);
	/* a file changed or vanished while read: one call per file; may be NULL */
	void (*warn)(void *ctx, const char *relpath, const char *what);
	/* stop request: returns a signal number to abandon the job with
	 * ERR_INTERRUPTED (checked with progress); may be NULL */
	int (*stop)(void *ctx);
	/* restore only: a step reached ("swap committed: ..."); may be NULL */
	void (*note)(void *ctx, const char *what);
	void *ctx;
	/* Test seam, NULL in production: called for each regular file with
	 * stage 0 after it was listed and before it is opened, and stage 1
	 * after its header (size) was written and before its data is read, so
	 * unit tests can make files vanish, grow or shrink deterministically. */
	void (*test_hook)(void *ctx, const char *relpath, int stage);
};

struct media_stats {
	uint64_t files;    /* regular files */
	uint64_t dirs;
	uint64_t symlinks;
	uint64_t other;    /* fifos, devices */
	uint64_t bytes;    /* file content bytes */
	uint64_t warnings; /* changed/vanished files, skipped sockets */
	uint64_t skipped;  /* excluded entries, skipped sockets */
	uint64_t not_moved_back; /* media_restore failed in its swap and
				  * these entries could not be moved back: they
				  * wait in MEDIA_DIR/.vigil-old-* (0 otherwise) */
};

/* Archive o->root into w. Symlinks inside are stored as links, never
 * followed; files over 8 GiB use pax size records. A file that changes or
 * vanishes while read is a warning (its entry stays consistent with its
 * header); an unreadable file is an error naming its relative path
 * (ERR_MEDIA). Returns 0 (check st->warnings) or -1 with e set. */
int media_write(const struct media_opts *o, struct stream_writer *w, struct media_stats *st,
		struct err *e);

/* Read a whole archive from r and check it without writing anything: every
 * header parses, every entry name is safe (no absolute path, no "..", no
 * entry below a symlink entry), the archive has its end-of-archive marker and
 * the stream decodes to its end. Returns 0, or -1 with e set: ERR_CORRUPT
 * (damaged/truncated/not a tar), ERR_UNSAFE (unsafe name, message names it). */
int media_check(struct stream_reader *r, struct media_stats *st, struct err *e);

/* Replace the contents of o->root with the archive read from r.
 * Extracts into a hidden staging directory inside o->root with libarchive's
 * secure-extract flags (ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS)
 * plus owner (as root), mode, times, xattrs and sparse files; every name is
 * first checked as media_check does (so absolute names are refused
 * before libarchive sees them: _SECURE_NOABSOLUTEPATHS itself cannot be used
 * because the names handed to libarchive are the staging dir's absolute path
 * plus the member name);
 * only when extraction fully succeeded, the staged tree was written to disk
 * (syncfs(2): a write-back error is ERR_RESTORE) and read back against the
 * archive, are the old entries moved aside and the new ones renamed into place
 * (same file system, so it works when root is a mount point), the renames
 * made durable (syncfs again; a failure is a warning: st->warnings, o->warn),
 * then the old ones deleted (an entry that cannot be deleted is a warning
 * naming it and why; the rest of its directory stays). Paths in o->skip_dirs
 * are left alone. On failure o->root is as it was, and a failed removal of
 * the staging directory is an o->warn call too. Returns 0 or -1 with e set. */
int media_restore(const struct media_opts *o, struct stream_reader *r, struct media_stats *st,
		  struct err *e);

/* Before anything is changed: refuse a restore into o->root when a mount
 * point lies below it (rename(2) cannot move a mounted directory aside, so
 * the swap would fail with EBUSY); mount points that are o->skip_dirs or
 * inside one are fine (never moved), and so is o->root being one itself.
 * Reads /proc/self/mountinfo (proc(5)). media_restore checks this
 * again itself. Returns 0, or -1 with e set (ERR_REFUSED, naming the mount
 * point and a hint). */
int media_restore_check(const struct media_opts *o, struct err *e);

#endif
