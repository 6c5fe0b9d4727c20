/* util.h - small helpers shared by every layer: paths, atomic files, time
 * stamps, number parsing. No third-party library here. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/err.h"

#define UTIL_PATH_MAX 4096

/* snprintf into out (size n) and fail with ERR_INTERNAL if truncated. */
int util_fmt(char *out, size_t n, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* mkdir -p; each directory it creates gets exactly mode (chmod after
 * mkdir, so the umask does not narrow it) plus the setgid bit it inherits
 * from its parent; existing ones are left as they are. Returns 0 or -1
 * (ERR_IO). */
int util_mkdir_p(const char *path, mode_t mode, struct err *e);

/* fsync a directory by path. Returns 0 or -1 (ERR_IO). */
int util_fsync_dir(const char *dir, struct err *e);

/* Rename from -> to without ever replacing an existing `to`
 * (renameat2(RENAME_NOREPLACE), falling back to link()+unlink() where the
 * file system lacks it). Returns 0, 1 if `to` exists (nothing changed), or
 * -1 with e set. */
int util_rename_noreplace(const char *from, const char *to, struct err *e);

/* Write data to dir/name atomically: hidden temporary name in dir, fsync,
 * rename without replacing, fsync dir. Returns 0, 1 if the name exists
 * (nothing written), -1 with e set. */
int util_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
			   mode_t mode, struct err *e);

/* The same, but an existing dir/name is replaced in one rename(2): readers
 * see the old or the new content, never a mix. For files one process owns
 * and updates (a run's own manifest). Returns 0 or -1 with e set. */
int util_replace_file_atomic(const char *dir, const char *name, const void *data, size_t len,
			     mode_t mode, struct err *e);

/* Read a whole small file (at most max bytes) into a malloc'd NUL-ended
 * buffer owned by the caller. Returns 0 or -1 with e set. */
int util_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e);

/* Remove the directory path and every directory below it that is empty or
 * becomes empty, deepest first; anything else (a file, a symlink, a
 * directory that still holds one) stays where it is. Never follows a
 * symlink. Returns 0 when path itself is gone, -1 otherwise (errno). */
int util_rmdir_empty(const char *path);

/* "YYYYMMDD_HHMMSS" of t in local time (TZ), as the seed's scripts named
 * backups. */
void util_stamp_local(time_t t, char out[16]);

/* The instant a stamp "YYYYMMDD_HHMMSS" (the first 15 characters of s)
 * names in local time (TZ; mktime(3) picks the offset in an ambiguous
 * hour), or -1 when s does not start with one. */
time_t util_stamp_parse(const char *s);

/* Parse a decimal integer in [min, max]. Returns 0 or -1. */
int util_parse_long(const char *s, long min, long max, long *out);

/* Parse "true/false/1/0/yes/no/on/off" (case-insensitive). Returns 0 or -1. */
int util_parse_bool(const char *s, bool *out);

/* Parse a duration: plain seconds or a number with s/m/h/d (e.g. "26h").
 * Returns 0 or -1. */
int util_parse_duration(const char *s, long *secs);

/* Monotonic clock in seconds (for durations). */
double util_mono(void);

/* Remove path recursively without following symlinks (rm -rf). Missing is
 * not an error. Returns 0 or -1 with e set. */
int util_rm_rf(const char *path, struct err *e);

/* Human-readable size "12.3 MiB" into out. */
void util_human_bytes(uint64_t n, char out[32]);

/* True when name starts with prefix. */
bool util_starts_with(const char *s, const char *prefix);

/* True when s ends with suffix. */
bool util_ends_with(const char *s, const char *suffix);

/* Split s on sep into a malloc'd NULL-terminated array of trimmed, non-empty
 * malloc'd strings; *n gets the count. Free with util_free_strv. */
char **util_split(const char *s, char sep, size_t *n);
void util_free_strv(char **v);

/* Split a command-line-like option string into words, honouring single
 * and double quotes and backslash escapes as a POSIX shell would (no
 * expansion of any kind). Returns a NULL-terminated malloc'd vector or NULL
 * with e set (ERR_CONFIG on unbalanced quotes). */
char **util_split_words(const char *s, struct err *e);

/* Terminal columns that s takes in the current LC_CTYPE (main sets
 * C.UTF-8): wide characters count 2, combining marks 0, an invalid or
 * unprintable byte 1 (wcwidth(3)). For padding text that may hold names
 * in any script; printf's %-Ns pads by bytes. */
size_t util_display_width(const char *s);

/* For permission messages: owner gets " (owner:group 0:0, mode 0755)" of
 * path (stat(2); "" when it cannot be stat'ed), me "uid:gid 999:999" of
 * this process (effective ids). Both NUL-ended, cut to on / mn bytes. */
void util_path_facts(const char *path, char *owner, size_t on, char *me, size_t mn);

#endif
