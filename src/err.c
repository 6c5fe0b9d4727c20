/* err.c - see err.h. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
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

void err_prefix(struct err *e, const char *fmt, ...)
{
	char ctx[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", ctx, old);
}

void err_suffix(struct err *e, const char *fmt, ...)
{
	char tail[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof tail, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s%s", old, tail);
}

int err_exit_code(const struct err *e)
{
	switch (e->code) {
	case ERR_OK:
		return 0;
	case ERR_USAGE:
	case ERR_CONFIG:
	case ERR_REFUSED:
	case ERR_UNSAFE:
		return 2;
	case ERR_LOCKED:
		return 75;
	case ERR_INTERRUPTED:
		return 128 + (e->signo > 0 ? e->signo : 15);
	default:
		return 1;
	}
}

const char *err_reason(enum err_code code)
{
	static const char *const names[] = {
		[ERR_OK] = "ok",
		[ERR_USAGE] = "usage",
		[ERR_CONFIG] = "config",
		[ERR_REFUSED] = "refused",
		[ERR_LOCKED] = "locked",
		[ERR_IO] = "io",
		[ERR_NOSPACE] = "nospace",
		[ERR_DB_CONNECT] = "db_connect",
		[ERR_DB_VERSION] = "db_version",
		[ERR_DUMP] = "dump",
		[ERR_MEDIA] = "media",
		[ERR_CORRUPT] = "corrupt",
		[ERR_RESTORE] = "restore",
		[ERR_CHILD] = "child",
		[ERR_INTERRUPTED] = "interrupted",
		[ERR_INTERNAL] = "internal",
		[ERR_UNSAFE] = "unsafe",
		[ERR_TIMEOUT] = "timeout",
	};

	if ((size_t)code < sizeof names / sizeof names[0] && names[code])
		return names[code];
	return "unknown";
}
