/* schedule.c - see schedule.h.
 *
 * Three parts, each pure:
 *   1. the cron parser (crontab(5), Vixie cron);
 *   2. time zones: a TZif reader (RFC 8536) and a POSIX TZ string evaluator
 *      for the footer (POSIX.1-2017 XBD 8.3, RFC 8536 section 3.3);
 *   3. next fire time: local calendar days, then the matching hours and
 *      minutes of a matching day, each wall time resolved to an instant.
 *
 * The only I/O is sched_zone_load() reading one zone file; the only global
 * read is getenv("TZDIR") there.
 */
#include "schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400
#define DEFAULT_TZDIR "/usr/share/zoneinfo"

/* ======================================================================== */
/* Calendar arithmetic (proleptic Gregorian, int64 days since 1970-01-01).  */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int64_t y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant, "chrono-Compatible Low-Level
 * Date Algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil (civil_from_days, same source). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	return (int)(days - floor_div(days + 4, 7) * 7 + 4) % 7;
}

/* ======================================================================== */
/* 1. Cron expressions.                                                     */

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

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen && b[i]; i++)
		if (upper(a[i]) != upper(b[i]))
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
	if (is_digit(p[0])) {
		for (size_t i = 0; i < n; i++) {
			if (!is_digit(p[i]))
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
	if (is_alpha(p[0]) && f->names) {
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
			if (!is_digit(sp[i]))
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
		while (*p && is_blank(*p))
			p++;
		if (!*p)
			break;
		if (nf == 5)
			return perr(c, "too many fields: expected 5 (minute hour day-of-month month "
				    "day-of-week), or a macro such as @daily");
		fp[nf] = p;
		while (*p && !is_blank(*p))
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

	while (*p && is_blank(*p))
		p++;
	if (!*p)
		return perr(&c, "the schedule is empty; expected 5 fields (minute hour day-of-month "
			    "month day-of-week) or a macro such as @daily");
	if (*p == '@') {
		const char *q = p;
		size_t n;

		while (*q && !is_blank(*q))
			q++;
		n = (size_t)(q - p);
		while (*q && is_blank(*q))
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

/* Does local calendar day y-m-d (weekday wd) match? Vixie cron's rule:
 * both day fields restricted -> either may match; else both must. */
static bool day_matches(const struct sched *s, int m, int d, int wd)
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

/* ======================================================================== */
/* 2. Time zones.                                                           */

#define ABBR_MAX 31
/* Offsets we accept: RFC 8536 section 3.2 says utoff SHOULD be in
 * [-89999, 93599]; POSIX TZ offsets reach 24:59:59 (+1 h for DST). */
#define OFF_MAX (26 * 3600)
/* Any instant whose local time is >= w lies within this many seconds of w. */
#define OFF_SPAN (OFF_MAX + 3600)

enum rule_kind { RULE_JULIAN1, RULE_ZERO, RULE_MWD };

/* One end of a POSIX DST rule: "Jn", "n" or "Mm.w.d", and "/time". */
struct rule {
	enum rule_kind kind;
	int n;       /* Jn: 1-365; n: 0-365 */
	int m, w, d; /* Mm.w.d: month 1-12, week 1-5 (5 = last), weekday 0-6 */
	int32_t time; /* seconds after local midnight, -167 h .. 167 h */
};

struct posix_tz {
	bool present; /* a non-empty footer */
	bool has_dst;
	int32_t std_off, dst_off; /* seconds east of UTC */
	struct rule start, end;
	char std_abbr[ABBR_MAX + 1], dst_abbr[ABBR_MAX + 1];
};

struct ttinfo {
	int32_t off;
	bool isdst;
	uint32_t abbr; /* index into abbrs */
};

struct sched_zone {
	char *name;
	size_t ntrans;
	int64_t *trans;  /* ascending */
	uint8_t *tidx;   /* type of the time from trans[i] on */
	size_t ntypes;
	struct ttinfo *types;
	char *abbrs;     /* charcnt bytes plus a NUL we add */
	size_t nabbrs;
	struct posix_tz tz;
};

/* ---- POSIX TZ strings ---------------------------------------------------- */

/* std offset [dst [offset] [,start[/time],end[/time]]] per POSIX XBD 8.3,
 * with RFC 8536 section 3.3.1's hours -167..167 in rule times. */

static bool tz_name(const char **pp, char *out)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '<') {
		p++;
		while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-') {
			if (n == ABBR_MAX)
				return false;
			out[n++] = *p++;
		}
		if (*p != '>')
			return false;
		p++;
	} else {
		while (is_alpha(*p)) {
			if (n == ABBR_MAX)
				return false;
			out[n++] = *p++;
		}
	}
	if (n < 3)
		return false;
	out[n] = '\0';
	*pp = p;
	return true;
}

static bool tz_num(const char **pp, int max, int *out)
{
	const char *p = *pp;
	int v = 0;

	if (!is_digit(*p))
		return false;
	while (is_digit(*p)) {
		v = v * 10 + (*p++ - '0');
		if (v > max)
			return false;
	}
	*out = v;
	*pp = p;
	return true;
}

/* [+-]hh[:mm[:ss]] in seconds, |hh| <= hmax. */
static bool tz_hms(const char **pp, int hmax, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!tz_num(&p, hmax, &h))
		return false;
	if (*p == ':') {
		p++;
		if (!tz_num(&p, 59, &m))
			return false;
		if (*p == ':') {
			p++;
			if (!tz_num(&p, 59, &s))
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return true;
}

static bool tz_rule(const char **pp, struct rule *r)
{
	const char *p = *pp;

	if (*p == 'J') {
		p++;
		r->kind = RULE_JULIAN1;
		if (!tz_num(&p, 365, &r->n) || r->n < 1)
			return false;
	} else if (*p == 'M') {
		p++;
		r->kind = RULE_MWD;
		if (!tz_num(&p, 12, &r->m) || r->m < 1 || *p++ != '.' || !tz_num(&p, 5, &r->w) ||
		    r->w < 1 || *p++ != '.' || !tz_num(&p, 6, &r->d))
			return false;
	} else {
		r->kind = RULE_ZERO;
		if (!tz_num(&p, 365, &r->n))
			return false;
	}
	r->time = 2 * 3600;
	if (*p == '/') {
		p++;
		if (!tz_hms(&p, 167, &r->time))
			return false;
	}
	*pp = p;
	return true;
}

/* Parse s into *tz. Returns false when s is not a valid TZ string. */
static bool tz_parse(const char *s, struct posix_tz *tz)
{
	const char *p = s;
	int32_t off;

	memset(tz, 0, sizeof *tz);
	if (!tz_name(&p, tz->std_abbr) || !tz_hms(&p, 24, &off))
		return false;
	tz->std_off = -off; /* POSIX offsets are west of Greenwich */
	tz->present = true;
	if (!*p)
		return true;
	if (!tz_name(&p, tz->dst_abbr))
		return false;
	tz->has_dst = true;
	tz->dst_off = tz->std_off + 3600;
	if (*p && *p != ',') {
		if (!tz_hms(&p, 24, &off))
			return false;
		tz->dst_off = -off;
	}
	if (!*p) {
		/* No rule: tzcode's and glibc's default, the US rule of 2007. */
		tz->start = (struct rule){ RULE_MWD, 0, 3, 2, 0, 2 * 3600 };
		tz->end = (struct rule){ RULE_MWD, 0, 11, 1, 0, 2 * 3600 };
		return true;
	}
	if (*p++ != ',' || !tz_rule(&p, &tz->start) || *p++ != ',' || !tz_rule(&p, &tz->end))
		return false;
	return *p == '\0';
}

/* Local seconds (days since the epoch * DAY + time) of rule r in year y. */
static int64_t rule_local(const struct rule *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1), day;

	switch (r->kind) {
	case RULE_JULIAN1: /* 1-365, 29 February never counted */
		day = jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
		break;
	case RULE_ZERO: /* 0-365, 29 February counted */
		day = jan1 + r->n;
		break;
	default: { /* day d of week w of month m; week 5 = the last */
		int64_t first = days_from_civil(y, r->m, 1);
		int dd = (r->d - weekday(first) + 7) % 7 + (r->w - 1) * 7;

		while (dd >= month_len(y, r->m))
			dd -= 7;
		day = first + dd;
		break;
	}
	}
	return day * DAY + r->time;
}

/* UTC instants at which DST starts and ends in year y. The start time is
 * given in standard time, the end time in daylight time (POSIX). */
static void rule_year(const struct posix_tz *tz, int64_t y, int64_t *start, int64_t *end)
{
	*start = rule_local(&tz->start, y) - tz->std_off;
	*end = rule_local(&tz->end, y) - tz->dst_off;
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	civil_from_days(floor_div(t, DAY), &y, &m, &d);
	return y;
}

/* DST at instant t? The state set by the latest start/end event at or before
 * t, over the neighbouring years, so rules whose times spill across New
 * Year (RFC 8536 "DST all year": 0/0,J365/25) need no special case. On a tie
 * the later event in (year, end-before-start) order wins. */
static bool tz_isdst(const struct posix_tz *tz, int64_t t)
{
	int64_t y = year_of(t + tz->std_off), best = 0;
	bool found = false, dst = false;

	if (!tz->has_dst)
		return false;
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		int64_t s, e;

		rule_year(tz, yy, &s, &e);
		if (e <= t && (!found || e >= best)) {
			best = e;
			dst = false;
			found = true;
		}
		if (s <= t && (!found || s >= best)) {
			best = s;
			dst = true;
			found = true;
		}
	}
	return dst;
}

/* The first start/end event strictly after t, or INT64_MAX. */
static int64_t tz_next(const struct posix_tz *tz, int64_t t)
{
	int64_t y = year_of(t + tz->std_off), best = INT64_MAX;

	if (!tz->has_dst)
		return INT64_MAX;
	for (int64_t yy = y - 1; yy <= y + 2; yy++) {
		int64_t s, e;

		rule_year(tz, yy, &s, &e);
		if (s > t && s < best)
			best = s;
		if (e > t && e < best)
			best = e;
	}
	return best;
}

/* ---- TZif (RFC 8536) ----------------------------------------------------- */

struct tzif_hdr {
	char version; /* 0, '2', '3', '4' */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

#define TZIF_HDR_LEN 44
/* Caps well above any real zone, so sizes cannot overflow. */
#define TZIF_MAX_TIMES 100000
#define TZIF_MAX_CHARS 65536
#define TZIF_MAX_FILE (4u << 20)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static const char *tzif_header(const unsigned char *p, size_t len, struct tzif_hdr *h)
{
	if (len < TZIF_HDR_LEN || memcmp(p, "TZif", 4) != 0)
		return "no TZif magic";
	h->version = (char)p[4];
	if (h->version != 0 && (h->version < '2' || h->version > '9'))
		return "unknown version";
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->charcnt > TZIF_MAX_CHARS ||
	    h->timecnt > TZIF_MAX_TIMES || h->leapcnt > TZIF_MAX_TIMES)
		return "bad counts";
	if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return "bad counts";
	return NULL;
}

/* Size of the data block after a header, with `tsz`-byte times. */
static size_t tzif_block_len(const struct tzif_hdr *h, size_t tsz)
{
	return (size_t)h->timecnt * tsz + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
	       (size_t)h->leapcnt * (tsz + 4) + h->isstdcnt + h->isutcnt;
}

/* Fill z from the data block at p. Returns NULL or what is wrong. */
static const char *tzif_block(struct sched_zone *z, const struct tzif_hdr *h,
			      const unsigned char *p, size_t tsz)
{
	const unsigned char *tp = p, *ip = tp + (size_t)h->timecnt * tsz,
			    *ttp = ip + h->timecnt, *cp = ttp + (size_t)h->typecnt * 6;

	if (h->leapcnt)
		return "it has leap-second records (a right/ zone); use the zone without right/";
	z->ntrans = h->timecnt;
	z->ntypes = h->typecnt;
	z->nabbrs = h->charcnt;
	z->trans = malloc((z->ntrans ? z->ntrans : 1) * sizeof *z->trans);
	z->tidx = malloc(z->ntrans ? z->ntrans : 1);
	z->types = malloc(z->ntypes * sizeof *z->types);
	z->abbrs = malloc(z->nabbrs + 1);
	if (!z->trans || !z->tidx || !z->types || !z->abbrs)
		return "out of memory";
	for (size_t i = 0; i < z->ntrans; i++) {
		z->trans[i] = tsz == 8 ? be64(tp + i * 8) : (int64_t)(int32_t)be32(tp + i * 4);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			return "transition times are not ascending";
		z->tidx[i] = ip[i];
		if (ip[i] >= z->ntypes)
			return "transition type index out of range";
	}
	for (size_t i = 0; i < z->ntypes; i++) {
		const unsigned char *q = ttp + i * 6;
		int32_t off = (int32_t)be32(q);

		if (off < -OFF_MAX || off > OFF_MAX)
			return "UT offset out of range";
		if (q[4] > 1 || q[5] >= h->charcnt)
			return "bad local time type record";
		z->types[i] = (struct ttinfo){ off, q[4] == 1, q[5] };
	}
	memcpy(z->abbrs, cp, z->nabbrs);
	z->abbrs[z->nabbrs] = '\0';
	return NULL;
}

static const char *tzif_parse(struct sched_zone *z, const unsigned char *buf, size_t len)
{
	struct tzif_hdr h;
	const char *why;
	size_t blen;

	if ((why = tzif_header(buf, len, &h)))
		return why;
	blen = tzif_block_len(&h, 4);
	if (len - TZIF_HDR_LEN < blen)
		return "truncated";
	if (h.version == 0)
		return tzif_block(z, &h, buf + TZIF_HDR_LEN, 4);

	/* Version 2+: skip the v1 block; use the second header, 64-bit data
	 * and the footer (RFC 8536 sections 3.2 and 3.3). */
	buf += TZIF_HDR_LEN + blen;
	len -= TZIF_HDR_LEN + blen;
	if ((why = tzif_header(buf, len, &h)))
		return why;
	blen = tzif_block_len(&h, 8);
	if (len - TZIF_HDR_LEN < blen)
		return "truncated";
	if ((why = tzif_block(z, &h, buf + TZIF_HDR_LEN, 8)))
		return why;
	buf += TZIF_HDR_LEN + blen;
	len -= TZIF_HDR_LEN + blen;
	{
		const unsigned char *nl;
		char tzs[256];
		size_t n;

		if (len < 2 || buf[0] != '\n' || !(nl = memchr(buf + 1, '\n', len - 1)))
			return "missing footer";
		n = (size_t)(nl - buf - 1);
		if (n >= sizeof tzs || memchr(buf + 1, '\0', n))
			return "bad footer";
		memcpy(tzs, buf + 1, n);
		tzs[n] = '\0';
		if (n > 0 && !tz_parse(tzs, &z->tz))
			return "bad POSIX TZ string in footer";
	}
	return NULL;
}

void sched_zone_free(struct sched_zone *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->tidx);
	free(z->types);
	free(z->abbrs);
	free(z);
}

static struct sched_zone *zone_new(const char *name)
{
	struct sched_zone *z = calloc(1, sizeof *z);
	size_t n = strlen(name);

	if (!z)
		return NULL;
	z->name = malloc(n + 1);
	if (!z->name) {
		free(z);
		return NULL;
	}
	memcpy(z->name, name, n + 1);
	return z;
}

/* Parse a TZif image; `where` names its source in messages. */
static int zone_from_buf(const char *name, const char *where, const void *buf, size_t len,
			 struct sched_zone **out, struct err *e)
{
	struct sched_zone *z = zone_new(name);
	const char *why;

	if (!z)
		return err_set(e, ERR_INTERNAL, "out of memory");
	why = tzif_parse(z, buf, len);
	if (why) {
		int oom = strcmp(why, "out of memory") == 0;

		sched_zone_free(z);
		if (oom)
			return err_set(e, ERR_INTERNAL, "out of memory");
		return err_set(e, ERR_CONFIG, "TZ=\"%.100s\": %.300s is not a valid TZif zone file "
			       "(%s); hint: use an IANA name like Europe/Madrid or America/Lima",
			       name, where, why);
	}
	*out = z;
	return 0;
}

int sched_zone_from_tzif(const char *name, const void *buf, size_t len,
			 struct sched_zone **out, struct err *e)
{
	*out = NULL;
	return zone_from_buf(name ? name : "(unnamed)", "the zone data", buf, len, out, e);
}

/* A zone of constant offset 0 named `abbr`, needing no file. */
static int zone_fixed_utc(const char *name, const char *abbr, struct sched_zone **out,
			  struct err *e)
{
	struct sched_zone *z = zone_new(name);
	size_t n = strlen(abbr);

	if (!z)
		return err_set(e, ERR_INTERNAL, "out of memory");
	z->ntypes = 1;
	z->types = calloc(1, sizeof *z->types);
	z->abbrs = malloc(n + 1);
	if (!z->types || !z->abbrs) {
		sched_zone_free(z);
		return err_set(e, ERR_INTERNAL, "out of memory");
	}
	memcpy(z->abbrs, abbr, n + 1);
	z->nabbrs = n;
	*out = z;
	return 0;
}

/* An IANA name: letters, digits, "._+-" and '/' between non-empty
 * components that are not "." or ".."; so it cannot leave TZDIR. */
static bool zone_name_ok(const char *s)
{
	size_t n = strlen(s), comp = 0;

	if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '/' || ch == '\0') {
			if (comp == 0)
				return false;
			if ((comp == 1 && s[i - 1] == '.') ||
			    (comp == 2 && s[i - 1] == '.' && s[i - 2] == '.'))
				return false;
			comp = 0;
			continue;
		}
		if (!is_alpha(ch) && !is_digit(ch) && ch != '.' && ch != '_' && ch != '+' && ch != '-')
			return false;
		comp++;
	}
	return true;
}

int sched_zone_load(const char *tzname, struct sched_zone **out, struct err *e)
{
	static const char hint[] = "hint: use an IANA name like Europe/Madrid or America/Lima";
	const char *dir = getenv("TZDIR");
	char path[4096];
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, rc = -1, n;

	*out = NULL;
	if (!tzname)
		return zone_fixed_utc("UTC", "UTC", out, e);
	if (tzname[0] == ':')
		tzname++;
	if (!strcmp(tzname, "UTC") || !strcmp(tzname, "Etc/UTC"))
		return zone_fixed_utc(tzname, "UTC", out, e);
	if (!strcmp(tzname, "GMT") || !strcmp(tzname, "Etc/GMT"))
		return zone_fixed_utc(tzname, "GMT", out, e);
	if (!*tzname)
		return err_set(e, ERR_CONFIG, "TZ is empty; %s, or UTC", hint);
	if (!zone_name_ok(tzname))
		return err_set(e, ERR_CONFIG, "TZ=\"%.100s\" is not a valid time zone name; %s",
			       tzname, hint);
	if (!dir || !*dir)
		dir = DEFAULT_TZDIR;
	n = snprintf(path, sizeof path, "%s/%s", dir, tzname);
	if (n < 0 || (size_t)n >= sizeof path)
		return err_set(e, ERR_CONFIG, "TZ=\"%.100s\": zone file path too long", tzname);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			err_set(e, ERR_CONFIG, "TZ=\"%.100s\" is not a known time zone (no file %.300s); "
				"%s, and install tzdata in the image", tzname, path, hint);
		else
			err_errno(e, ERR_CONFIG, errno, "TZ=\"%.100s\": cannot open zone file %.300s",
				  tzname, path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		err_errno(e, ERR_CONFIG, errno, "TZ=\"%.100s\": cannot stat %.300s", tzname, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)TZIF_MAX_FILE) {
		err_set(e, ERR_CONFIG, "TZ=\"%.100s\" is not a time zone (%.300s is not a zone file); %s",
			tzname, path, hint);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_errno(e, ERR_CONFIG, errno, "TZ=\"%.100s\": cannot read %.300s", tzname, path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (zone_from_buf(tzname, path, buf, len, out, e) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

const char *sched_zone_name(const struct sched_zone *z)
{
	return z->name;
}

/* ---- Lookups ------------------------------------------------------------- */

struct lt_info {
	int32_t off;
	bool isdst;
	const char *abbr;
};

/* Offset, DST flag and abbreviation at instant t. Before the first
 * transition: type 0. At or after the last: the footer rule if there is
 * one, else the last type (RFC 8536 section 3.2 and 3.3). */
static void zone_info(const struct sched_zone *z, int64_t t, struct lt_info *li)
{
	const struct ttinfo *tt;
	size_t lo, hi;

	if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
		if (z->tz.present) {
			li->isdst = tz_isdst(&z->tz, t);
			li->off = li->isdst ? z->tz.dst_off : z->tz.std_off;
			li->abbr = li->isdst ? z->tz.dst_abbr : z->tz.std_abbr;
			return;
		}
		tt = &z->types[z->ntrans ? z->tidx[z->ntrans - 1] : 0];
	} else if (t < z->trans[0]) {
		tt = &z->types[0];
	} else {
		/* Largest i with trans[i] <= t; trans[0] <= t < trans[n-1]. */
		lo = 0;
		hi = z->ntrans - 1;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (z->trans[mid] <= t)
				lo = mid;
			else
				hi = mid;
		}
		tt = &z->types[z->tidx[lo]];
	}
	li->off = tt->off;
	li->isdst = tt->isdst;
	li->abbr = z->abbrs + tt->abbr;
}

/* The first instant strictly after t at which the offset may change, or
 * INT64_MAX. (Some are no-ops, e.g. an abbreviation change.) */
static int64_t zone_next_change(const struct sched_zone *z, int64_t t)
{
	size_t lo, hi;

	if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1])
		return z->tz.present ? tz_next(&z->tz, t) : INT64_MAX;
	if (t < z->trans[0])
		return z->trans[0];
	/* Smallest i with trans[i] > t; trans[0] <= t < trans[n-1]. */
	lo = 0;
	hi = z->ntrans - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] > t)
			hi = mid;
		else
			lo = mid;
	}
	return z->trans[hi];
}

int sched_utc_offset(const struct sched_zone *z, int64_t t)
{
	struct lt_info li;

	zone_info(z, t, &li);
	return li.off;
}

/* Broken-down time of t at a fixed offset. */
static void tm_from(int64_t t, int32_t off, bool isdst, const char *abbr, struct tm *tm)
{
	int64_t lt = t + off, days = floor_div(lt, DAY), secs = lt - days * DAY, y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	memset(tm, 0, sizeof *tm);
	tm->tm_year = (int)(y - 1900);
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = weekday(days);
	tm->tm_yday = (int)(days - days_from_civil(y, 1, 1));
	tm->tm_isdst = isdst;
	tm->tm_gmtoff = off;
	tm->tm_zone = abbr;
}

void sched_local(const struct sched_zone *z, int64_t t, struct tm *tm)
{
	struct lt_info li;

	zone_info(z, t, &li);
	tm_from(t, li.off, li.isdst, li.abbr, tm);
}

/* ======================================================================== */
/* 3. Next fire time.                                                       */

/* Search window: 8 years and 2 days, so that "0 0 29 2 *" finds 2104-02-29
 * from 2096-03-01 (2100 is not a leap year). */
#define SEARCH_DAYS (8 * 366 + 2)
/* Inputs outside years 1..9990 are refused (-1): keeps every intermediate
 * far from overflow and struct tm's int year. */
#define T_MIN (-62135596800LL)
#define T_MAX (253118304000LL)

/* min{ t : local(t) >= lw } where lw is a wall time in local seconds: the
 * instant of lw when it exists (its first occurrence when repeated), the
 * end of the gap when a spring-forward skipped it. Walks the zone's
 * constant-offset segments from a point whose local time is surely < lw. */
static int64_t resolve_wall(const struct sched_zone *z, int64_t lw)
{
	int64_t s = lw - OFF_SPAN;
	int32_t o = (int32_t)sched_utc_offset(z, s);

	for (int i = 0; i < 1000; i++) {
		int64_t e = zone_next_change(z, s);

		if (s + o >= lw) /* lw fell in a gap before this segment */
			return s;
		if (e == INT64_MAX || e + o > lw) /* lw is in [s+o, e+o) */
			return lw - o;
		s = e;
		o = (int32_t)sched_utc_offset(z, s);
	}
	return lw - o; /* not reached with sane zone data */
}

int64_t sched_next(const struct sched *s, const struct sched_zone *z, int64_t after)
{
	int64_t lafter, day, y = 0;
	int m = 0, d = 0;

	if (after < T_MIN || after > T_MAX)
		return -1;
	/* Any wall time w <= local(after) has an instant <= after reaching it,
	 * so the search starts with the first wall time past local(after). */
	lafter = after + sched_utc_offset(z, after);
	day = floor_div(lafter, DAY);
	civil_from_days(day, &y, &m, &d);
	for (int i = 0; i <= SEARCH_DAYS; i++, day++) {
		int64_t base = day * DAY;

		if (i > 0 && ++d > month_len(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		if (!day_matches(s, m, d, weekday(day)) || base + DAY <= lafter)
			continue;
		for (int h = 0; h < 24; h++) {
			int64_t hb = base + h * 3600;

			if (!((s->hours >> h) & 1u) || hb + 3600 <= lafter)
				continue;
			for (int mi = 0; mi < 60; mi++) {
				int64_t lw = hb + mi * 60, t;

				if (!((s->minutes >> mi) & 1u) || lw <= lafter)
					continue;
				t = resolve_wall(z, lw);
				if (t > after)
					return t;
			}
		}
	}
	return -1;
}

int64_t sched_period(const struct sched *s, const struct sched_zone *z, int64_t now)
{
	int64_t first = sched_next(s, z, now), prev = first, best = -1;

	if (first < 0)
		return -1;
	for (int k = 0; k < 10000; k++) {
		int64_t t = sched_next(s, z, prev);

		if (t < 0)
			break;
		if (t - prev > best)
			best = t - prev;
		if (t > first + 366 * (int64_t)DAY)
			break;
		prev = t;
	}
	return best;
}

/* "2025-06-10T03:00:00" then "Z" or "+hh:mm" (":ss" when needed). */
static void print_rfc3339(FILE *f, const struct tm *tm, long off, bool utc)
{
	long a = off < 0 ? -off : off;

	fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d", tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
		tm->tm_hour, tm->tm_min, tm->tm_sec);
	if (utc)
		fputc('Z', f);
	else if (a % 60)
		fprintf(f, "%c%02ld:%02ld:%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60, a % 60);
	else
		fprintf(f, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

void sched_format_next(const struct sched *s, const struct sched_zone *z, int64_t now, int n,
		       FILE *f)
{
	int64_t t = now;

	for (int i = 0; i < n; i++) {
		struct tm lt, ut;

		t = sched_next(s, z, t);
		if (t < 0) {
			if (i == 0)
				fputs("never (no date matches the schedule)\n", f);
			return;
		}
		sched_local(z, t, &lt);
		tm_from(t, 0, false, "UTC", &ut);
		print_rfc3339(f, &lt, lt.tm_gmtoff, false);
		fputs(" (", f);
		print_rfc3339(f, &ut, 0, true);
		fputs(")\n", f);
	}
}
