/* tz.c - time zones: POSIX TZ strings, TZif files (RFC 8536) and lookups.
 *
 * See tz.h. A TZif reader (RFC 8536 versions 1-4) and a POSIX TZ string
 * evaluator for its footer (POSIX.1-2017 XBD 8.3, RFC 8536 section 3.3).
 * Pure but for sched_zone_load(), which reads one zone file; the only
 * global read is getenv("TZDIR") there.
 */
#include "infra/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ascii.h"
#include "base/calendar.h"

#define DEFAULT_TZDIR "/usr/share/zoneinfo"

#define ABBR_MAX 31
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
		while (ascii_is_alpha(*p) || ascii_is_digit(*p) || *p == '+' || *p == '-') {
			if (n == ABBR_MAX)
				return false;
			out[n++] = *p++;
		}
		if (*p != '>')
			return false;
		p++;
	} else {
		while (ascii_is_alpha(*p)) {
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

	if (!ascii_is_digit(*p))
		return false;
	while (ascii_is_digit(*p)) {
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

/* Local seconds (days since the epoch * CAL_DAY + time) of rule r in year y. */
static int64_t rule_local(const struct rule *r, int64_t y)
{
	int64_t jan1 = cal_days_from_civil(y, 1, 1), day;

	switch (r->kind) {
	case RULE_JULIAN1: /* 1-365, 29 February never counted */
		day = jan1 + r->n - 1 + (cal_is_leap(y) && r->n >= 60);
		break;
	case RULE_ZERO: /* 0-365, 29 February counted */
		day = jan1 + r->n;
		break;
	default: { /* day d of week w of month m; week 5 = the last */
		int64_t first = cal_days_from_civil(y, r->m, 1);
		int dd = (r->d - cal_weekday(first) + 7) % 7 + (r->w - 1) * 7;

		while (dd >= cal_month_len(y, r->m))
			dd -= 7;
		day = first + dd;
		break;
	}
	}
	return day * CAL_DAY + r->time;
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

	cal_civil_from_days(cal_floor_div(t, CAL_DAY), &y, &m, &d);
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

		if (off < -TZ_OFF_MAX || off > TZ_OFF_MAX)
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
		if (!ascii_is_alpha(ch) && !ascii_is_digit(ch) && ch != '.' && ch != '_' && ch != '+' && ch != '-')
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

/* See tz.h. */
int64_t tz_next_change(const struct sched_zone *z, int64_t t)
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

void sched_local(const struct sched_zone *z, int64_t t, struct tm *tm)
{
	struct lt_info li;

	zone_info(z, t, &li);
	cal_tm(t, li.off, li.isdst, li.abbr, tm);
}
