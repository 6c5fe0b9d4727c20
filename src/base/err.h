/* err.h - one error type for the whole program.
 *
 * Fallible functions return 0 on success and -1 on failure, and fill a
 * caller-owned struct err with a code and a message. The message is written
 * once at the failure site (errno text included there); callers may prefix
 * context with err_prefix(). Only the top of a job logs it.
 *
 * The enum is only ever appended to: codes are stable, map to exit codes
 * (README "Exit codes") and to the `reason` label in metrics.
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
	ERR_DB_CONNECT,  /* libpq could not connect, or lost it    -> exit 1 */
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
	ERR_DB_QUERY,    /* a statement failed on a live connection -> exit 1 */
	ERR_NOTIFY,      /* a mail, webhook or ping was not delivered -> exit 1
			  * (only for `vigil notify`; a run's status never depends on it) */
	ERR_CODE_COUNT   /* not a code: the number of codes (moves when one is appended) */
};

/* The exit statuses of every vigil command (README "Exit codes"; README "Exit
 * statuses"). These names, err_exit_code() and exit_for_signal() are the only
 * place a number becomes an exit status; `make lint` rejects a literal one
 * anywhere else. */
enum exit_status {
	EXIT_OK = 0,        /* success */
	EXIT_FAILED = 1,    /* a failure */
	EXIT_REFUSED = 2,   /* usage or configuration error, or a refused restore */
	EXIT_WARNINGS = 3,  /* completed, with warnings */
	EXIT_LOCKED = 75,   /* another run holds the lock (EX_TEMPFAIL, sysexits.h) */
	EXIT_SIGNAL = 128,  /* + N: stopped by signal N (the shells' convention) */
	EXIT_EXEC_FAILED = 127, /* a child whose exec failed (the shells' convention) */
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

/* Exit status for e's code, from the one table in err.c (README "Exit codes"):
 * ERR_OK 0; usage, configuration, refused and unsafe 2; locked 75;
 * ERR_INTERRUPTED 128 + e->signo (SIGTERM's when unset); every other code 1. */
int err_exit_code(const struct err *e);

/* Exit status of a command stopped by signal signo: 128 + signo (SIGTERM's
 * when signo <= 0). */
int exit_for_signal(int signo);

/* True for the statuses that mean "the run finished": EXIT_OK and
 * EXIT_WARNINGS. */
int exit_is_success(int status);

/* Short stable name of a code ("nospace", "dump", ...), for metrics labels
 * and manifests. Never NULL. */
const char *err_reason(enum err_code code);

/* The code whose err_reason() is name (as read back from a run manifest),
 * or ERR_CODE_COUNT when no code has that name (an older or damaged
 * manifest): callers count that as "unknown". */
enum err_code err_code_from_reason(const char *name);

#endif
