/* cron.c - cron expressions (crontab(5), Vixie cron 4.1): the parser and
 * the day rule. See cron.h. Pure: no clock, no I/O.
 */
#include "infra/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/ascii.h"

struct field_def {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] has value i + name_base */
	int nnames, name_base;
	const char *name_hint;
};

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
static const char *const wday_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

static const struct field_def fields[5] = {
	{ "minute", 0, 59, NULL, 0, 0, NULL },
	{ "hour", 0, 23, NULL, 0, 0, NULL },
	{ "day-of-month", 1, 31, NULL, 0, 0, NULL },
	{ "month", 1, 12, month_names, 12, 1, "JAN-DEC" },
	{ "day-of-week", 0, 7, wday_names, 7, 0, "SUN-SAT" },
};

struct pctx {
	const char *var;  /* BACKUP_SCHEDULE */
	const char *expr; /* whole expression, for messages */
	const struct field_def *f;
	struct err *e;
};

/* ERR_CONFIG: `VAR="expr": <field> (field <n>): <what>`. Returns -1. */
__attribute__((format(printf, 2, 3)))
static int perr(const struct pctx *c, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (c->f)
		return err_set(c->e, ERR_CONFIG, "%s=\"%.200s\": %s (field %d): %s", c->var, c->expr,
			       c->f->name, (int)(c->f - fields) + 1, what);
	return err_set(c->e, ERR_CONFIG, "%s=\"%.200s\": %s", c->var, c->expr, what);
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen && b[i]; i++)
		if (ascii_upper(a[i]) != ascii_upper(b[i]))
			return false;
	return i == alen && b[i] == '\0';
}

/* A value of the current field: digits, or a name where the field has
 * names. Range-checked against the field's bounds. */
static int parse_value(const struct pctx *c, const char *p, size_t n, int *out)
{
	const struct field_def *f = c->f;
	long v = 0;

	if (n == 0)
		return perr(c, "a value is missing (allowed %d-%d%s%s)", f->lo, f->hi,
			    f->name_hint ? " or " : "", f->name_hint ? f->name_hint : "");
	if (ascii_is_digit(p[0])) {
		for (size_t i = 0; i < n; i++) {
			if (!ascii_is_digit(p[i]))
				return perr(c, "\"%.*s\" is not a number", (int)(n > 20 ? 20 : n), p);
			if (v < 100000)
				v = v * 10 + (p[i] - '0');
		}
		if (v < f->lo || v > f->hi)
			return perr(c, "value %.*s is out of range %d-%d", (int)(n > 12 ? 12 : n), p,
				    f->lo, f->hi);
		*out = (int)v;
		return 0;
	}
	if (ascii_is_alpha(p[0]) && f->names) {
		for (int i = 0; i < f->nnames; i++)
			if (eq_nocase(p, n, f->names[i])) {
				*out = i + f->name_base;
				return 0;
			}
		return perr(c, "unknown name \"%.*s\" (allowed %d-%d or %s)", (int)(n > 20 ? 20 : n), p,
			    f->lo, f->hi, f->name_hint);
	}
	return perr(c, "\"%.*s\" is not a number (allowed %d-%d%s%s)", (int)(n > 20 ? 20 : n), p,
		    f->lo, f->hi, f->name_hint ? " or " : "", f->name_hint ? f->name_hint : "");
}

/* One list element: "*", "n", "a-b", each optionally "/step". */
static int parse_element(const struct pctx *c, const char *p, size_t n, uint64_t *bits)
{
	const struct field_def *f = c->f;
	const char *slash = memchr(p, '/', n);
	size_t rn = slash ? (size_t)(slash - p) : n;
	int a, b, step = 1;

	if (rn == 1 && p[0] == '*') {
		a = f->lo;
		b = f->hi;
	} else {
		const char *dash = memchr(p, '-', rn);
		size_t an = dash ? (size_t)(dash - p) : rn;

		if (dash == p)
			return perr(c, "\"%.*s\" is not a number or range (allowed %d-%d)",
				    (int)(rn > 20 ? 20 : rn), p, f->lo, f->hi);
		if (parse_value(c, p, an, &a) < 0)
			return -1;
		if (dash) {
			if (parse_value(c, dash + 1, rn - an - 1, &b) < 0)
				return -1;
			if (b < a)
				return perr(c, "range %.*s is backwards (write the smaller value first)",
					    (int)(rn > 20 ? 20 : rn), p);
		} else {
			/* "a/s" runs from a to the field's maximum, as in cronie and
			 * most crons since Vixie; a lone "a" is just a. */
			b = slash ? f->hi : a;
		}
	}
	if (slash) {
		const char *sp = slash + 1;
		size_t sn = n - rn - 1;
		int span = f->hi - f->lo + 1;
		long v = 0;

		if (sn == 0)
			return perr(c, "step is missing after '/' in \"%.*s\"", (int)(n > 20 ? 20 : n), p);
		for (size_t i = 0; i < sn; i++) {
			if (!ascii_is_digit(sp[i]))
				return perr(c, "step \"%.*s\" is not a number", (int)(sn > 20 ? 20 : sn), sp);
			if (v < 100000)
				v = v * 10 + (sp[i] - '0');
		}
		if (v < 1 || v > span)
			return perr(c, "step %.*s is out of range 1-%d", (int)(sn > 12 ? 12 : sn), sp, span);
		step = (int)v;
	}
	for (int v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

/* A comma-separated list. */
static int parse_field(const struct pctx *c, const char *p, size_t n, uint64_t *bits, bool *star)
{
	size_t i = 0;

	*bits = 0;
	*star = n > 0 && p[0] == '*';
	for (;;) {
		size_t j = i;

		while (j < n && p[j] != ',')
			j++;
		if (j == i)
			return perr(c, "empty element in list \"%.*s\"", (int)(n > 40 ? 40 : n), p);
		if (parse_element(c, p + i, j - i, bits) < 0)
			return -1;
		if (j == n)
			break;
		i = j + 1;
		if (i == n)
			return perr(c, "empty element in list \"%.*s\"", (int)(n > 40 ? 40 : n), p);
	}
	return 0;
}

struct macro {
	const char *name;
	const char *expr;
};

static const struct macro macros[] = {
	{ "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static int parse_fields(struct pctx *c, const char *p, struct sched *out)
{
	const char *fp[5];
	size_t fn[5];
	int nf = 0;
	uint64_t bits[5];
	bool star[5];

	for (;;) {
		while (*p && ascii_is_blank(*p))
			p++;
		if (!*p)
			break;
		if (nf == 5)
			return perr(c, "too many fields: expected 5 (minute hour day-of-month month "
				    "day-of-week), or a macro such as @daily");
		fp[nf] = p;
		while (*p && !ascii_is_blank(*p))
			p++;
		fn[nf] = (size_t)(p - fp[nf]);
		nf++;
	}
	if (nf != 5)
		return perr(c, "%d field%s: expected 5 (minute hour day-of-month month day-of-week), "
			    "or a macro such as @daily", nf, nf == 1 ? "" : "s");
	for (int i = 0; i < 5; i++) {
		c->f = &fields[i];
		if (parse_field(c, fp[i], fn[i], &bits[i], &star[i]) < 0)
			return -1;
	}
	c->f = NULL;
	/* Weekday 7 is Sunday, as 0 (crontab(5)). */
	if (bits[4] & (1u << 7))
		bits[4] = (bits[4] | 1u) & 0x7f;
	out->minutes = bits[0];
	out->hours = (uint32_t)bits[1];
	out->mdays = (uint32_t)bits[2];
	out->months = (uint16_t)bits[3];
	out->wdays = (uint8_t)bits[4];
	out->mday_star = star[2];
	out->wday_star = star[4];
	return 0;
}

int sched_parse_var(const char *var, const char *expr, struct sched *out, struct err *e)
{
	struct pctx c = { var ? var : "BACKUP_SCHEDULE", expr ? expr : "", NULL, e };
	const char *p = c.expr;
	struct sched s;

	while (*p && ascii_is_blank(*p))
		p++;
	if (!*p)
		return perr(&c, "the schedule is empty; expected 5 fields (minute hour day-of-month "
			    "month day-of-week) or a macro such as @daily");
	if (*p == '@') {
		const char *q = p;
		size_t n;

		while (*q && !ascii_is_blank(*q))
			q++;
		n = (size_t)(q - p);
		while (*q && ascii_is_blank(*q))
			q++;
		if (eq_nocase(p, n, "@reboot"))
			return perr(&c, "@reboot is not supported; set BACKUP_ON_START=true to run "
				    "when the daemon starts");
		for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
			if (!eq_nocase(p, n, macros[i].name))
				continue;
			if (*q)
				return perr(&c, "%s takes no fields", macros[i].name);
			if (parse_fields(&c, macros[i].expr, &s) < 0)
				return err_set(e, ERR_INTERNAL, "bad built-in macro %s", macros[i].name);
			*out = s;
			return 0;
		}
		return perr(&c, "unknown macro \"%.*s\" (use @hourly, @daily, @midnight, @weekly, "
			    "@monthly, @yearly or @annually)", (int)(n > 20 ? 20 : n), p);
	}
	if (parse_fields(&c, p, &s) < 0)
		return -1;
	*out = s;
	return 0;
}

int sched_parse(const char *expr, struct sched *out, struct err *e)
{
	return sched_parse_var("BACKUP_SCHEDULE", expr, out, e);
}

/* See cron.h. Vixie cron's rule: both day fields restricted -> either may
 * match; else both must. */
bool cron_day_matches(const struct sched *s, int m, int d, int wd)
{
	bool dom, dow;

	if (!(s->months & (1u << m)))
		return false;
	dom = (s->mdays >> d) & 1u;
	dow = (s->wdays >> wd) & 1u;
	if (s->mday_star || s->wday_star)
		return dom && dow;
	return dom || dow;
}
