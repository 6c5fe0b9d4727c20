/* log.h - one line per event, to stderr and to a size-capped log file.
 *
 * Format (docs/design.md):
 *   2026-11-29T03:00:04-05:00 INFO dump done file=app_20261129_030000.sql.gz bytes=123
 * Timestamps are local time in TZ with the UTC offset. Every registered secret
 * is replaced by "***" before a line is written anywhere (invariant I5 (docs/design.md)).
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Append to path from now on, besides stderr. The file is rotated to
 * path.1 .. path.3 when it passes 10 MiB. Returns 0 or -1 with e set; on
 * failure logging goes on to stderr only. */
int log_open_file(const char *path, struct err *e);

/* The mode a log file gets when this process creates it (BACKUP_FILE_MODE;
 * default 0600), whatever the umask; an existing file keeps its mode. */
void log_set_file_mode(mode_t mode);

/* Close the log file (stderr logging goes on). */
void log_close_file(void);

/* Reopen the log file by name (after SIGHUP / external rotation). */
void log_reopen(void);

/* Register a secret to be masked in every later line. The string is copied;
 * strings shorter than 3 bytes are ignored (they would mask everything).
 * A secret of letters and digits only is masked as a whole word (see
 * log_redact). */
void log_add_secret(const char *secret);

/* Mask registered secrets in buf (in place, NUL-terminated, size n) with
 * "***": every occurrence of a secret that holds a character other than a
 * letter or digit, and of the others each occurrence not inside a longer
 * run of letters and digits ("app" in "swapped" stays). */
void log_redact(char *buf, size_t n);

/* Write one line at level. Newlines inside the message are replaced by
 * " | " so a line stays a line. Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Progress display (README "Commands"): when stderr is a terminal, show one
 * self-overwriting line "label  12.3 MiB  45.6 MiB/s  0:12"; at most five
 * updates a second. Without a terminal these do nothing. */
void log_progress_start(const char *label);
void log_progress(uint64_t bytes);
void log_progress_end(void);

/* Stamp log lines in UTC (true) or in local time (false, the default).
 * main stamps in UTC until TZ has been checked, so an invalid TZ never
 * stamps the line that reports it in a zone glibc made up. */
void log_stamp_utc(bool utc);

/* Local time with offset, "2026-11-29T03:00:04-05:00" (RFC 3339). */
void log_time_local(int64_t t, char out[32]);

/* UTC time, "2026-11-29T08:00:04Z" (RFC 3339). */
void log_time_utc(int64_t t, char out[32]);

#endif
