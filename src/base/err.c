/* err.c - see err.h. */
#include "base/err.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = ERR_OK;
	e->signo = 0;
	e->msg[0] = '\0';
}

static void vset(struct err *e, enum err_code code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int err_errno(struct err *e, enum err_code code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
	if (errnum == ENOSPC || errnum == EDQUOT)
		e->code = ERR_NOSPACE;
	return -1;
}

/* Put the formatted text before (prefix, with ": ") or after e's message,
 * keeping the code; cut at ERR_MSG_MAX. */
static void wrap(struct err *e, bool prefix, const char *fmt, va_list ap)
{
	char add[ERR_MSG_MAX], old[ERR_MSG_MAX];

	vsnprintf(add, sizeof add, fmt, ap);
	memcpy(old, e->msg, sizeof old);
	if (prefix)
		snprintf(e->msg, sizeof e->msg, "%s: %s", add, old);
	else
		snprintf(e->msg, sizeof e->msg, "%s%s", old, add);
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	wrap(e, true, fmt, ap);
	va_end(ap);
}

void err_suffix(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	wrap(e, false, fmt, ap);
	va_end(ap);
}

/* The one table from error code to reason name and exit status. A code
 * missing here is a bug that err_reason() shows as "unknown" and
 * tests/unit/test_util.c (err_table_complete) catches. */
static const struct {
	const char *reason; /* stable: written into run manifests and /metrics */
	int exit_status;
} err_table[ERR_CODE_COUNT] = {
	[ERR_OK] = { "ok", EXIT_OK },
	[ERR_USAGE] = { "usage", EXIT_REFUSED },
	[ERR_CONFIG] = { "config", EXIT_REFUSED },
	[ERR_REFUSED] = { "refused", EXIT_REFUSED },
	[ERR_LOCKED] = { "locked", EXIT_LOCKED },
	[ERR_IO] = { "io", EXIT_FAILED },
	[ERR_NOSPACE] = { "nospace", EXIT_FAILED },
	[ERR_DB_CONNECT] = { "db_connect", EXIT_FAILED },
	[ERR_DB_VERSION] = { "db_version", EXIT_FAILED },
	[ERR_DUMP] = { "dump", EXIT_FAILED },
	[ERR_MEDIA] = { "media", EXIT_FAILED },
	[ERR_CORRUPT] = { "corrupt", EXIT_FAILED },
	[ERR_RESTORE] = { "restore", EXIT_FAILED },
	[ERR_CHILD] = { "child", EXIT_FAILED },
	[ERR_INTERRUPTED] = { "interrupted", EXIT_SIGNAL }, /* + signo, below */
	[ERR_INTERNAL] = { "internal", EXIT_FAILED },
	[ERR_UNSAFE] = { "unsafe", EXIT_REFUSED },
	[ERR_TIMEOUT] = { "timeout", EXIT_FAILED },
	[ERR_DB_QUERY] = { "db_query", EXIT_FAILED },
	[ERR_NOTIFY] = { "notify", EXIT_FAILED },
};

int exit_for_signal(int signo)
{
	return EXIT_SIGNAL + (signo > 0 ? signo : SIGTERM);
}

int exit_is_success(int status)
{
	return status == EXIT_OK || status == EXIT_WARNINGS;
}

int err_exit_code(const struct err *e)
{
	if (e->code == ERR_INTERRUPTED)
		return exit_for_signal(e->signo);
	if ((size_t)e->code < ERR_CODE_COUNT && err_table[e->code].reason)
		return err_table[e->code].exit_status;
	return EXIT_FAILED;
}

const char *err_reason(enum err_code code)
{
	if ((size_t)code < ERR_CODE_COUNT && err_table[code].reason)
		return err_table[code].reason;
	return "unknown";
}

enum err_code err_code_from_reason(const char *name)
{
	for (int c = 0; c < ERR_CODE_COUNT; c++)
		if (err_table[c].reason && strcmp(err_table[c].reason, name) == 0)
			return (enum err_code)c;
	return ERR_CODE_COUNT;
}
