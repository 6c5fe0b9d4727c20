/* err.h - one error type for the whole program.
 *
 * Fallible functions return 0 on success and -1 on failure, and fill a
 * caller-owned struct err with a code and a message. The message is written
 * once at the failure site (errno text included there); callers may prefix
 * context with err_prefix(). Only the top of a job logs it.
 *
 * The enum is only ever appended to: codes are stable, map to exit codes
 * (SPEC section 9) and to the `reason` label in metrics.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

#include <stddef.h>

enum err_code {
	ERR_OK = 0,
	ERR_USAGE,       /* bad command line                       -> exit 2 */
	ERR_CONFIG,      /* bad environment variable               -> exit 2 */
	ERR_REFUSED,     /* restore refused: validation, no --yes  -> exit 2 */
	ERR_LOCKED,      /* another run holds .vigil.lock          -> exit 75 */
	ERR_IO,          /* file system error                      -> exit 1 */
	ERR_NOSPACE,     /* ENOSPC / EDQUOT while writing          -> exit 1 */
	ERR_DB_CONNECT,  /* libpq could not connect or query       -> exit 1 */
	ERR_DB_VERSION,  /* pg_dump/psql older than the server     -> exit 1 */
	ERR_DUMP,        /* pg_dump failed (exit, signal, no data) -> exit 1 */
	ERR_MEDIA,       /* media archive could not be made        -> exit 1 */
	ERR_CORRUPT,     /* a backup file failed a check           -> exit 1 */
	ERR_RESTORE,     /* psql / pg_restore / extraction failed  -> exit 1 */
	ERR_CHILD,       /* a child process could not be run       -> exit 1 */
	ERR_INTERRUPTED, /* stopped by SIGTERM/SIGINT              -> 128+N */
	ERR_INTERNAL,    /* a bug or an out-of-memory              -> exit 1 */
	ERR_UNSAFE,      /* archive entry would escape MEDIA_DIR   -> exit 2 */
	ERR_TIMEOUT,     /* the run passed BACKUP_RUN_TIMEOUT      -> exit 1 */
};

#define ERR_MSG_MAX 1024

struct err {
	enum err_code code;
	int signo; /* for ERR_INTERRUPTED: the signal number */
	char msg[ERR_MSG_MAX];
};

/* Reset e to ERR_OK with an empty message. */
void err_clear(struct err *e);

/* Set code and a printf-style message. Returns -1 so callers can write
 * `return err_set(e, ERR_IO, "...")`. e may be NULL. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As err_set, appending ": <strerror(errnum)>". ENOSPC and EDQUOT turn
 * code into ERR_NOSPACE whatever code was passed. Returns -1. */
int err_errno(struct err *e, enum err_code code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepend "<context>: " to the message, keeping the code. */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append text (a "; hint: ..." the caller knows) to the message, keeping
 * the code; cut at ERR_MSG_MAX like every message. */
void err_suffix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit status for a code (SPEC section 9); ERR_INTERRUPTED gives 128+signo. */
int err_exit_code(const struct err *e);

/* Short stable name of a code ("nospace", "dump", ...), for metrics labels
 * and manifests. Never NULL. */
const char *err_reason(enum err_code code);

#endif
