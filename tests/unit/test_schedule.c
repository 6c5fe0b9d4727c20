/* test_schedule.c - unit tests for src/infra/schedule.c.
 *
 * Independent judges:
 *   - expected fire instants are literals computed with GNU date (coreutils,
 *     an implementation independent of ours), as noted beside each table;
 *   - glibc's localtime_r() with TZ set (in this test only) cross-checks
 *     every hour of 2025-2027 and 2036-2040 in each test zone, and POSIX TZ
 *     strings in hand-made TZif files;
 *   - a brute-force scan of every minute through glibc's local time is the
 *     oracle for sched_next() in the days around each DST change.
 * Temporary zone directories go under $TMPDIR (default /tmp) and are removed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra/schedule.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static const char *const zones[] = {
	"UTC", "America/Lima", "America/New_York", "Europe/Madrid",
	"Europe/Helsinki", "America/Santiago", "Australia/Lord_Howe",
};
#define NZONES (sizeof zones / sizeof zones[0])

static int parse(const char *expr, struct sched *s)
{
	struct err e;

	err_clear(&e);
	if (sched_parse(expr, s, &e) < 0) {
		fprintf(stderr, "  parse \"%s\": %s\n", expr, e.msg);
		return -1;
	}
	return 0;
}

static struct sched_zone *zone(const char *name)
{
	struct sched_zone *z = NULL;
	struct err e;

	err_clear(&e);
	if (sched_zone_load(name, &z, &e) < 0) {
		fprintf(stderr, "  zone %s: %s\n", name, e.msg);
		return NULL;
	}
	return z;
}

/* UTC instant of a civil date-time, by glibc's timegm. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

/* glibc's view of t in zone tz (setenv TZ + tzset + localtime_r). */
static void glibc_local(const char *tz, int64_t t, struct tm *tm)
{
	static char cur[128];
	time_t tt = (time_t)t;

	if (strcmp(cur, tz) != 0) {
		setenv("TZ", tz, 1);
		tzset();
		snprintf(cur, sizeof cur, "%s", tz);
	}
	localtime_r(&tt, tm);
}

static void glibc_reset(void)
{
	unsetenv("TZ");
	tzset();
}

/* Does the error look like ERR_CONFIG naming `var`, mentioning `what`? */
static int err_names(const struct err *e, const char *var, const char *what)
{
	if (e->code != ERR_CONFIG || !strstr(e->msg, var) || (what && !strstr(e->msg, what))) {
		fprintf(stderr, "  unexpected error (code %d): %s\n", (int)e->code, e->msg);
		return 0;
	}
	return 1;
}

/* A temporary TZDIR: mkdtemp() under $TMPDIR. */
static int make_tmpdir(char *out, size_t n)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, n, "%s/test_schedule.XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(out) ? 0 : -1;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(buf, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* ---- Hand-made TZif files (RFC 8536 section 3) ---------------------------- */

struct tt {
	int32_t off;
	uint8_t isdst, abbr;
};

struct tzb {
	unsigned char b[4096];
	size_t n;
};

static void put8(struct tzb *b, unsigned v)
{
	if (b->n < sizeof b->b)
		b->b[b->n++] = (unsigned char)v;
}

static void put32(struct tzb *b, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		put8(b, (v >> (8 * i)) & 0xff);
}

static void put64(struct tzb *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void put_hdr(struct tzb *b, char version, size_t nt, size_t ntypes, size_t nchars)
{
	memcpy(b->b + b->n, "TZif", 4);
	b->n += 4;
	put8(b, (unsigned char)version);
	for (int i = 0; i < 15; i++)
		put8(b, 0);
	put32(b, 0);                 /* isutcnt */
	put32(b, 0);                 /* isstdcnt */
	put32(b, 0);                 /* leapcnt */
	put32(b, (uint32_t)nt);      /* timecnt */
	put32(b, (uint32_t)ntypes);  /* typecnt */
	put32(b, (uint32_t)nchars);  /* charcnt */
}

static void put_data(struct tzb *b, int wide, const int64_t *times, const uint8_t *idx, size_t nt,
		     const struct tt *types, size_t ntypes, const char *chars, size_t nchars)
{
	for (size_t i = 0; i < nt; i++) {
		if (wide)
			put64(b, (uint64_t)times[i]);
		else
			put32(b, (uint32_t)(int32_t)times[i]);
	}
	for (size_t i = 0; i < nt; i++)
		put8(b, idx[i]);
	for (size_t i = 0; i < ntypes; i++) {
		put32(b, (uint32_t)types[i].off);
		put8(b, types[i].isdst);
		put8(b, types[i].abbr);
	}
	for (size_t i = 0; i < nchars; i++)
		put8(b, (unsigned char)chars[i]);
}

/* version 0 = v1 only (32-bit data, no footer); '2'.. = minimal v1 block,
 * then 64-bit data and the footer. */
static void make_tzif(struct tzb *b, char version, const int64_t *times, const uint8_t *idx,
		      size_t nt, const struct tt *types, size_t ntypes, const char *chars,
		      size_t nchars, const char *footer)
{
	static const struct tt t0 = { 0, 0, 0 };

	b->n = 0;
	if (version == 0) {
		put_hdr(b, 0, nt, ntypes, nchars);
		put_data(b, 0, times, idx, nt, types, ntypes, chars, nchars);
		return;
	}
	put_hdr(b, version, 0, 1, 1);
	put_data(b, 0, NULL, NULL, 0, &t0, 1, "", 1);
	put_hdr(b, version, nt, ntypes, nchars);
	put_data(b, 1, times, idx, nt, types, ntypes, chars, nchars);
	put8(b, '\n');
	for (const char *p = footer; *p; p++)
		put8(b, (unsigned char)*p);
	put8(b, '\n');
}

/* A zone with no transitions whose rules are only the footer string.
 * NULL (with a note on stderr unless `quiet`) when it is refused. */
static struct sched_zone *footer_zone_q(const char *posix, char version, int quiet)
{
	static const struct tt t0 = { 0, 0, 0 };
	struct sched_zone *z = NULL;
	struct tzb b;
	struct err e;

	err_clear(&e);
	make_tzif(&b, version, NULL, NULL, 0, &t0, 1, "XXX", 4, posix);
	if (sched_zone_from_tzif(posix, b.b, b.n, &z, &e) < 0) {
		if (!quiet)
			fprintf(stderr, "  footer zone %s: %s\n", posix, e.msg);
		return NULL;
	}
	return z;
}

static struct sched_zone *footer_zone(const char *posix, char version)
{
	return footer_zone_q(posix, version, 0);
}

/* ------------------------------------------------------------------------ */
/* Parser.                                                                  */

static uint64_t bits(const int *v, int n)
{
	uint64_t b = 0;

	for (int i = 0; i < n; i++)
		b |= (uint64_t)1 << v[i];
	return b;
}

static void test_parse_fields(void)
{
	struct sched s;

	REQUIRE(parse("*/15 * * * *", &s) == 0);
	CHECK(s.minutes == bits((int[]){ 0, 15, 30, 45 }, 4));
	CHECK(s.hours == 0xffffffu);
	CHECK(s.mdays == 0xfffffffeu);
	CHECK(s.months == 0x1ffe);
	CHECK(s.wdays == 0x7f);
	CHECK(s.mday_star && s.wday_star);

	REQUIRE(parse("5,10,50 0-3,22 * * *", &s) == 0);
	CHECK(s.minutes == bits((int[]){ 5, 10, 50 }, 3));
	CHECK(s.hours == bits((int[]){ 0, 1, 2, 3, 22 }, 5));

	REQUIRE(parse("10/20 9-17/4 1-10/3 * *", &s) == 0);
	CHECK(s.minutes == bits((int[]){ 10, 30, 50 }, 3));
	CHECK(s.hours == bits((int[]){ 9, 13, 17 }, 3));
	CHECK(s.mdays == bits((int[]){ 1, 4, 7, 10 }, 4));
	CHECK(!s.mday_star && s.wday_star);

	/* Names, case-insensitive, also in ranges and with steps. */
	REQUIRE(parse("30 4 * jan,Jul,DEC *", &s) == 0);
	CHECK(s.months == bits((int[]){ 1, 7, 12 }, 3));
	REQUIRE(parse("0 9 * * MON-FRI", &s) == 0);
	CHECK(s.wdays == bits((int[]){ 1, 2, 3, 4, 5 }, 5));
	CHECK(s.wday_star == false);
	REQUIRE(parse("0 9 * Feb-Apr/2 sun,Sat", &s) == 0);
	CHECK(s.months == bits((int[]){ 2, 4 }, 2));
	CHECK(s.wdays == bits((int[]){ 0, 6 }, 2));

	/* Weekday 7 is Sunday. */
	REQUIRE(parse("0 0 * * 7", &s) == 0);
	CHECK(s.wdays == 1);
	REQUIRE(parse("0 0 * * 5-7", &s) == 0);
	CHECK(s.wdays == bits((int[]){ 0, 5, 6 }, 3));
	REQUIRE(parse("0 0 * * 0-7", &s) == 0);
	CHECK(s.wdays == 0x7f);
	REQUIRE(parse("0 0 * * */2", &s) == 0);
	CHECK(s.wdays == bits((int[]){ 0, 2, 4, 6 }, 4));
	CHECK(s.wday_star); /* starts with '*': unrestricted for the OR rule */

	/* "a/n" runs to the field's maximum. */
	REQUIRE(parse("0 20/2 * * *", &s) == 0);
	CHECK(s.hours == bits((int[]){ 20, 22 }, 2));

	/* Blanks: tabs, several spaces, leading and trailing, a newline. */
	REQUIRE(parse(" \t0\t 3  *\t*   * \n", &s) == 0);
	CHECK(s.minutes == 1 && s.hours == (1u << 3));
}

static void test_parse_macros(void)
{
	static const char *const pairs[][2] = {
		{ "@hourly", "0 * * * *" },  { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" },  { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" }, { "  @DAILY  ", "0 0 * * *" },
	};

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		struct sched a, b;

		REQUIRE(parse(pairs[i][0], &a) == 0);
		REQUIRE(parse(pairs[i][1], &b) == 0);
		CHECK(a.minutes == b.minutes && a.hours == b.hours && a.mdays == b.mdays &&
		      a.months == b.months && a.wdays == b.wdays && a.mday_star == b.mday_star &&
		      a.wday_star == b.wday_star);
	}
}

static void test_parse_errors(void)
{
	/* expression, a word the message must contain (besides BACKUP_SCHEDULE) */
	static const char *const bad[][2] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "* * * *", "4 fields" },
		{ "* * * * * *", "too many fields" },
		{ "60 * * * *", "minute (field 1): value 60 is out of range 0-59" },
		{ "* 24 * * *", "hour (field 2): value 24 is out of range 0-23" },
		{ "* * 0 * *", "day-of-month (field 3): value 0 is out of range 1-31" },
		{ "* * 32 * *", "day-of-month (field 3): value 32 is out of range 1-31" },
		{ "* * * 13 *", "month (field 4): value 13 is out of range 1-12" },
		{ "* * * 0 *", "month (field 4): value 0 is out of range 1-12" },
		{ "* * * * 8", "day-of-week (field 5): value 8 is out of range 0-7" },
		{ "99999999999999 * * * *", "out of range 0-59" },
		{ "5-2 * * * *", "range 5-2 is backwards" },
		{ "*/0 * * * *", "step 0 is out of range 1-60" },
		{ "*/61 * * * *", "step 61 is out of range 1-60" },
		{ "*/ * * * *", "step is missing" },
		{ "*/x * * * *", "step \"x\" is not a number" },
		{ "a * * * *", "minute (field 1): \"a\" is not a number" },
		{ "JAN * * * *", "minute (field 1): \"JAN\" is not a number" },
		{ "* * * FOO *", "month (field 4): unknown name \"FOO\"" },
		{ "* * * * MONDAY", "unknown name \"MONDAY\"" },
		{ "1,,2 * * * *", "empty element" },
		{ "1, * * * *", "empty element" },
		{ ",1 * * * *", "empty element" },
		{ "1- * * * *", "value is missing" },
		{ "-1 * * * *", "\"-1\" is not a number" },
		{ "1-2-3 * * * *", "\"2-3\" is not a number" },
		{ "*-5 * * * *", "\"*\" is not a number" },
		{ "1.5 * * * *", "\"1.5\" is not a number" },
		{ "@reboot", "BACKUP_ON_START" },
		{ "@fortnightly", "unknown macro" },
		{ "@weekly 0", "takes no fields" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sched s;
		struct err e;

		err_clear(&e);
		CHECK(sched_parse(bad[i][0], &s, &e) == -1);
		if (!err_names(&e, "BACKUP_SCHEDULE", bad[i][1]))
			fprintf(stderr, "  ... for \"%s\" (wanted \"%s\")\n", bad[i][0], bad[i][1]);
		CHECK(e.code == ERR_CONFIG && strstr(e.msg, "BACKUP_SCHEDULE") &&
		      strstr(e.msg, bad[i][1]));
	}
	{
		struct sched s;
		struct err e;

		err_clear(&e);
		CHECK(sched_parse(NULL, &s, &e) == -1 && e.code == ERR_CONFIG);
		err_clear(&e);
		CHECK(sched_parse_var("BACKUP_VERIFY_SCHEDULE", "0 3 * *", &s, &e) == -1);
		CHECK(err_names(&e, "BACKUP_VERIFY_SCHEDULE", "4 fields"));
	}
}

/* ------------------------------------------------------------------------ */
/* Next fire: cron semantics in UTC.                                        */

/* The fires after `from`, compared with `want` (n UTC instants). */
static void check_seq(const char *expr, const char *tz, int64_t from, const int64_t *want, int n)
{
	struct sched s;
	struct sched_zone *z = zone(tz);
	int64_t t = from;

	CHECK(z != NULL);
	if (!z || parse(expr, &s) < 0) {
		CHECK(0);
		sched_zone_free(z);
		return;
	}
	for (int i = 0; i < n; i++) {
		t = sched_next(&s, z, t);
		if (t != want[i]) {
			fprintf(stderr, "  \"%s\" in %s, fire %d: got %lld, want %lld\n", expr, tz, i,
				(long long)t, (long long)want[i]);
			CHECK(t == want[i]);
			break;
		}
	}
	sched_zone_free(z);
}

static void test_next_basics(void)
{
	int64_t t0 = utc(2025, 6, 10, 10, 7); /* a Tuesday */

	check_seq("*/15 * * * *", "UTC", t0,
		  (int64_t[]){ utc(2025, 6, 10, 10, 15), utc(2025, 6, 10, 10, 30),
			       utc(2025, 6, 10, 10, 45), utc(2025, 6, 10, 11, 0) }, 4);
	/* Strictly after: from a fire time itself, the next one. */
	check_seq("*/15 * * * *", "UTC", utc(2025, 6, 10, 10, 15),
		  (int64_t[]){ utc(2025, 6, 10, 10, 30) }, 1);
	check_seq("* * * * *", "UTC", utc(2025, 12, 31, 23, 59),
		  (int64_t[]){ utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 1) }, 2);
	/* Seconds inside a minute: the next whole minute. */
	check_seq("* * * * *", "UTC", utc(2025, 6, 10, 10, 7) + 30,
		  (int64_t[]){ utc(2025, 6, 10, 10, 8) }, 1);
	check_seq("5,50 1,23 * * *", "UTC", t0,
		  (int64_t[]){ utc(2025, 6, 10, 23, 5), utc(2025, 6, 10, 23, 50), utc(2025, 6, 11, 1, 5),
			       utc(2025, 6, 11, 1, 50), utc(2025, 6, 11, 23, 5) }, 5);
	check_seq("0 9-17/4 * * MON-FRI", "UTC", utc(2025, 6, 13, 14, 0), /* Friday */
		  (int64_t[]){ utc(2025, 6, 13, 17, 0), utc(2025, 6, 16, 9, 0), utc(2025, 6, 16, 13, 0) },
		  3);
	check_seq("30 4 1-10/3 jan,JUL *", "UTC", t0,
		  (int64_t[]){ utc(2025, 7, 1, 4, 30), utc(2025, 7, 4, 4, 30), utc(2025, 7, 7, 4, 30),
			       utc(2025, 7, 10, 4, 30), utc(2026, 1, 1, 4, 30) }, 5);
	/* 7 = SUN = 0; 2025-06-15 is a Sunday. */
	check_seq("0 0 * * 7", "UTC", t0, (int64_t[]){ utc(2025, 6, 15, 0, 0), utc(2025, 6, 22, 0, 0) }, 2);
	check_seq("0 0 * * sun", "UTC", t0, (int64_t[]){ utc(2025, 6, 15, 0, 0) }, 1);
	check_seq("@hourly", "UTC", t0, (int64_t[]){ utc(2025, 6, 10, 11, 0), utc(2025, 6, 10, 12, 0) }, 2);
	check_seq("@daily", "UTC", t0, (int64_t[]){ utc(2025, 6, 11, 0, 0), utc(2025, 6, 12, 0, 0) }, 2);
	check_seq("@weekly", "UTC", t0, (int64_t[]){ utc(2025, 6, 15, 0, 0), utc(2025, 6, 22, 0, 0) }, 2);
	check_seq("@monthly", "UTC", t0, (int64_t[]){ utc(2025, 7, 1, 0, 0), utc(2025, 8, 1, 0, 0) }, 2);
	check_seq("@yearly", "UTC", t0, (int64_t[]){ utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0) }, 2);
	/* The default schedule in UTC. */
	check_seq("0 3 * * *", "UTC", utc(2025, 6, 10, 2, 59) + 50,
		  (int64_t[]){ utc(2025, 6, 10, 3, 0), utc(2025, 6, 11, 3, 0) }, 2);
}

static void test_day_or_rule(void)
{
	int64_t t0 = utc(2025, 6, 1, 0, 0); /* Sunday */

	/* Both restricted: every 13th OR every Friday (June 2025: Fridays 6,
	 * 13, 20, 27; July: 4, 11, 13 (a Sunday), 18). */
	check_seq("0 0 13 * FRI", "UTC", t0,
		  (int64_t[]){ utc(2025, 6, 6, 0, 0), utc(2025, 6, 13, 0, 0), utc(2025, 6, 20, 0, 0),
			       utc(2025, 6, 27, 0, 0), utc(2025, 7, 4, 0, 0), utc(2025, 7, 11, 0, 0),
			       utc(2025, 7, 13, 0, 0), utc(2025, 7, 18, 0, 0) }, 8);
	check_seq("0 0 1,15 * MON", "UTC", t0,
		  (int64_t[]){ utc(2025, 6, 2, 0, 0), utc(2025, 6, 9, 0, 0), utc(2025, 6, 15, 0, 0),
			       utc(2025, 6, 16, 0, 0) }, 4);
	/* One field '*': both must match. */
	check_seq("0 0 13 * *", "UTC", t0, (int64_t[]){ utc(2025, 6, 13, 0, 0), utc(2025, 7, 13, 0, 0) }, 2);
	check_seq("0 0 * * FRI", "UTC", t0, (int64_t[]){ utc(2025, 6, 6, 0, 0), utc(2025, 6, 13, 0, 0) }, 2);
	/* Vixie cron: "*\/2" starts with '*', so AND: odd-numbered Fridays
	 * (June 13, June 27; July 11, 25). */
	check_seq("0 0 */2 * FRI", "UTC", t0,
		  (int64_t[]){ utc(2025, 6, 13, 0, 0), utc(2025, 6, 27, 0, 0), utc(2025, 7, 11, 0, 0),
			       utc(2025, 7, 25, 0, 0) }, 4);
	/* Month still restricts under the OR rule: 13th or Friday, February only. */
	check_seq("0 0 13 FEB FRI", "UTC", t0,
		  (int64_t[]){ utc(2026, 2, 6, 0, 0), utc(2026, 2, 13, 0, 0), utc(2026, 2, 20, 0, 0),
			       utc(2026, 2, 27, 0, 0), utc(2027, 2, 5, 0, 0) }, 5);
}

static void test_impossible_dates(void)
{
	struct sched_zone *z = zone("UTC");
	struct sched s;

	REQUIRE(z);
	REQUIRE(parse("0 0 30 2 *", &s) == 0);
	CHECK(sched_next(&s, z, utc(2025, 1, 1, 0, 0)) == -1);
	CHECK(sched_period(&s, z, utc(2025, 1, 1, 0, 0)) == -1);
	REQUIRE(parse("0 0 31 4,6,9,11 *", &s) == 0);
	CHECK(sched_next(&s, z, utc(2025, 1, 1, 0, 0)) == -1);
	sched_zone_free(z);

	/* With a restricted weekday the OR rule makes it possible again. */
	check_seq("0 0 30 2 MON", "UTC", utc(2025, 1, 1, 0, 0),
		  (int64_t[]){ utc(2025, 2, 3, 0, 0), utc(2025, 2, 10, 0, 0) }, 2);
	/* 29 February: next leap year; across 2100 (not a leap year) too. */
	check_seq("0 0 29 2 *", "UTC", utc(2025, 1, 1, 0, 0),
		  (int64_t[]){ utc(2028, 2, 29, 0, 0), utc(2032, 2, 29, 0, 0) }, 2);
	check_seq("0 0 29 2 *", "America/New_York", utc(2096, 3, 1, 0, 0),
		  (int64_t[]){ utc(2104, 2, 29, 5, 0) }, 1);
}

/* ------------------------------------------------------------------------ */
/* Next fire across DST: "0 3 * * *", expected values from GNU date.        */

struct daily_case {
	const char *zone, *change; /* the DST change day (or a reference day) */
	int64_t fire[3];           /* 03:00 local on change-1, change, change+1 */
};

/* Computed with GNU date 9.1 (coreutils, not our code) on Debian 12,
 * tzdata 2025b:  TZ=<zone> date -d '<day> 03:00' +%s  for each day.
 * Exceptions, where 03:00 does not exist once:
 *  - Europe/Helsinki spring-forward days: 03:00 is skipped (03:00 EET ->
 *    04:00 EEST); expected = the first instant after the gap:
 *      TZ=Europe/Helsinki date -d '2025-03-30 04:00' +%s   (and 2026-03-29)
 *  - Europe/Helsinki fall-back days: 03:00 happens twice; expected = the
 *    first occurrence, in EEST:  date -d '2025-10-26 03:00 +0300' +%s
 *    (plain `date -d '2025-10-26 03:00'` picks the second, 1761440400).
 * UTC and America/Lima have no DST: reference days (Madrid's and New York's
 * change days) show nothing moves. Santiago changes at local midnight
 * (Saturday 24:00 -> 23:00 in April, 00:00 -> 01:00 in September); Lord
 * Howe by 30 minutes at 02:00. */
static const struct daily_case daily[] = {
	{ "UTC", "2025-03-30", { 1743217200, 1743303600, 1743390000 } },
	{ "UTC", "2025-10-26", { 1761361200, 1761447600, 1761534000 } },
	{ "UTC", "2026-03-29", { 1774666800, 1774753200, 1774839600 } },
	{ "UTC", "2026-10-25", { 1792810800, 1792897200, 1792983600 } },
	{ "America/Lima", "2025-03-09", { 1741420800, 1741507200, 1741593600 } },
	{ "America/Lima", "2025-11-02", { 1761984000, 1762070400, 1762156800 } },
	{ "America/Lima", "2026-03-08", { 1772870400, 1772956800, 1773043200 } },
	{ "America/Lima", "2026-11-01", { 1793433600, 1793520000, 1793606400 } },
	{ "America/New_York", "2025-03-09", { 1741420800, 1741503600, 1741590000 } },
	{ "America/New_York", "2025-11-02", { 1761980400, 1762070400, 1762156800 } },
	{ "America/New_York", "2026-03-08", { 1772870400, 1772953200, 1773039600 } },
	{ "America/New_York", "2026-11-01", { 1793430000, 1793520000, 1793606400 } },
	{ "Europe/Madrid", "2025-03-30", { 1743213600, 1743296400, 1743382800 } },
	{ "Europe/Madrid", "2025-10-26", { 1761354000, 1761444000, 1761530400 } },
	{ "Europe/Madrid", "2026-03-29", { 1774663200, 1774746000, 1774832400 } },
	{ "Europe/Madrid", "2026-10-25", { 1792803600, 1792893600, 1792980000 } },
	{ "Europe/Helsinki", "2025-03-30", { 1743210000, 1743296400, 1743379200 } },
	{ "Europe/Helsinki", "2025-10-26", { 1761350400, 1761436800, 1761526800 } },
	{ "Europe/Helsinki", "2026-03-29", { 1774659600, 1774746000, 1774828800 } },
	{ "Europe/Helsinki", "2026-10-25", { 1792800000, 1792886400, 1792976400 } },
	{ "America/Santiago", "2025-04-05", { 1743746400, 1743832800, 1743922800 } },
	{ "America/Santiago", "2025-09-07", { 1757142000, 1757224800, 1757311200 } },
	{ "America/Santiago", "2026-04-04", { 1775196000, 1775282400, 1775372400 } },
	{ "America/Santiago", "2026-09-06", { 1788591600, 1788674400, 1788760800 } },
	{ "Australia/Lord_Howe", "2025-04-06", { 1743782400, 1743870600, 1743957000 } },
	{ "Australia/Lord_Howe", "2025-10-05", { 1759509000, 1759593600, 1759680000 } },
	{ "Australia/Lord_Howe", "2026-04-05", { 1775232000, 1775320200, 1775406600 } },
	{ "Australia/Lord_Howe", "2026-10-04", { 1790958600, 1791043200, 1791129600 } },
};

static void test_daily_across_dst(void)
{
	struct sched s;

	REQUIRE(parse("0 3 * * *", &s) == 0);
	for (size_t i = 0; i < sizeof daily / sizeof daily[0]; i++) {
		const struct daily_case *c = &daily[i];
		struct sched_zone *z = zone(c->zone);
		int64_t got[3], t;

		CHECK(z != NULL);
		if (!z)
			continue;
		/* From 20 hours before the first fire: one fire per day. */
		t = c->fire[0] - 20 * 3600;
		for (int k = 0; k < 3; k++)
			t = got[k] = sched_next(&s, z, t);
		for (int k = 0; k < 3; k++) {
			if (got[k] != c->fire[k])
				fprintf(stderr, "  %s %s day %+d: got %lld, want %lld\n", c->zone, c->change,
					k - 1, (long long)got[k], (long long)c->fire[k]);
			CHECK(got[k] == c->fire[k]);
			/* One second before a fire yields that fire. */
			CHECK(sched_next(&s, z, c->fire[k] - 1) == c->fire[k]);
		}
		sched_zone_free(z);
	}
}

/* ------------------------------------------------------------------------ */
/* Skipped and repeated local times.                                        */

static void test_skipped_time(void)
{
	/* TZ=America/New_York date -d '2025-03-08 02:30' +%s = 1741419000;
	 * 2025-03-09 02:30 does not exist (GNU date: "invalid date"); the
	 * first instant after the gap is TZ=America/New_York date -d
	 * '2025-03-09 03:00' +%s = 1741503600 (07:00Z); then '2025-03-10 02:30'
	 * = 1741588200. */
	check_seq("30 2 * * *", "America/New_York", 1741419000 - 3600,
		  (int64_t[]){ 1741419000, 1741503600, 1741588200 }, 3);
	/* Madrid: '2025-03-29 02:30' = 1743211800; 2025-03-30 02:30 skipped,
	 * '2025-03-30 03:00' = 1743296400 (01:00Z); '2025-03-31 02:30' =
	 * 1743381000. */
	check_seq("30 2 * * *", "Europe/Madrid", 1743211800 - 3600,
		  (int64_t[]){ 1743211800, 1743296400, 1743381000 }, 3);
	/* Several skipped wall times fire together, once: 02:00, 02:30 and
	 * 03:00 of 2025-03-09 in New York are all 07:00Z; then 03:30 EDT. */
	check_seq("0,30 2,3 * * *", "America/New_York", utc(2025, 3, 9, 5, 0),
		  (int64_t[]){ 1741503600, 1741503600 + 1800, 1741503600 + 86400 - 3600 }, 3);
	/* Lord Howe skips 02:00-02:29 on 2025-10-05: 02:15 fires at 02:30
	 * +11: TZ=Australia/Lord_Howe date -d '2025-10-05 02:30' +%s =
	 * 1759591800; next day '2025-10-06 02:15' = 1759677300. */
	check_seq("15 2 * * *", "Australia/Lord_Howe", 1759591800 - 86400 + 1800,
		  (int64_t[]){ 1759591800, 1759677300 }, 2);
	/* Santiago skips 00:00-00:59 on 2025-09-07: midnight fires at 01:00
	 * -03: TZ=America/Santiago date -d '2025-09-07 01:00' +%s =
	 * 1757217600; '2025-09-06 00:00' = 1757131200; '2025-09-08 00:00' =
	 * 1757300400. */
	check_seq("0 0 * * *", "America/Santiago", 1757131200 - 60,
		  (int64_t[]){ 1757131200, 1757217600, 1757300400 }, 3);
}

static void test_repeated_time(void)
{
	/* New York 2025-11-02 01:00-01:59 happens twice. First occurrence:
	 * date -d '2025-11-02 01:30 -0400' +%s = 1762061400 (05:30Z); the
	 * second (-0500) is 1762065000 and must not fire. Neighbours:
	 * TZ=America/New_York date -d '2025-11-01 01:30' = 1761975000, and
	 * '2025-11-03 01:30' = 1762151400. */
	check_seq("30 1 * * *", "America/New_York", 1761975000 - 60,
		  (int64_t[]){ 1761975000, 1762061400, 1762151400 }, 3);
	/* From inside the repeated hour, after the first 01:30: no second run. */
	check_seq("30 1 * * *", "America/New_York", 1762061400 + 60, (int64_t[]){ 1762151400 }, 1);
	check_seq("30 1 * * *", "America/New_York", 1762065000 - 60, (int64_t[]){ 1762151400 }, 1);
	/* Madrid 2025-10-26 02:30 twice: date -d '2025-10-26 02:30 +0200'
	 * = 1761438600; then TZ=Europe/Madrid date -d '2025-10-27 02:30' =
	 * 1761528600. */
	check_seq("30 2 * * *", "Europe/Madrid", 1761438600 - 60,
		  (int64_t[]){ 1761438600, 1761528600 }, 2);
	/* Lord Howe 2025-04-06 01:30-01:59 twice: date -d '2025-04-06 01:45
	 * +1100' = 1743864300; TZ=Australia/Lord_Howe date -d '2025-04-07
	 * 01:45' = 1743952500. */
	check_seq("45 1 * * *", "Australia/Lord_Howe", 1743864300 - 60,
		  (int64_t[]){ 1743864300, 1743952500 }, 2);
	/* Santiago 2025-04-05 23:00-23:59 twice: date -d '2025-04-05 23:30
	 * -0300' = 1743906600; TZ=America/Santiago date -d '2025-04-06 23:30'
	 * = 1743996600. Midnight of 04-06 exists once: '2025-04-06 00:00' =
	 * 1743912000. */
	check_seq("30 23 * * *", "America/Santiago", 1743906600 - 60,
		  (int64_t[]){ 1743906600, 1743996600 }, 2);
	check_seq("0 0 * * *", "America/Santiago", 1743906600, (int64_t[]){ 1743912000 }, 1);
}

/* Sub-daily schedules follow the wall clock (schedule.h). */
static void test_subdaily_dst(void)
{
	int64_t spring = 1741503600; /* 2025-03-09 07:00Z = 03:00 EDT */
	int64_t fall = 1762059600;   /* 2025-11-02 05:00Z = 01:00 EDT */

	/* Spring: 01:45 EST, then 03:00 EDT - 15 real minutes. */
	check_seq("*/15 * * * *", "America/New_York", spring - 1800,
		  (int64_t[]){ spring - 900, spring, spring + 900 }, 3);
	check_seq("0 * * * *", "America/New_York", spring - 5400,
		  (int64_t[]){ spring - 3600, spring, spring + 3600 }, 3);
	/* Fall: 01:00, 01:15, 01:30, 01:45 EDT, then nothing in the repeated
	 * hour, then 02:00 EST (07:00Z) - 75 real minutes after 01:45 EDT. */
	check_seq("*/15 * * * *", "America/New_York", fall - 60,
		  (int64_t[]){ fall, fall + 900, fall + 1800, fall + 2700, fall + 7200, fall + 8100 }, 6);
	check_seq("0 * * * *", "America/New_York", fall - 60,
		  (int64_t[]){ fall, fall + 7200, fall + 10800 }, 3);
	/* Lord Howe spring, 30 minutes: 01:45 +1030 (15:15Z), then 02:30 +11
	 * (15:30Z: 02:00 and 02:15 do not exist), then 02:45. */
	check_seq("*/15 * * * *", "Australia/Lord_Howe", 1759591800 - 1200,
		  (int64_t[]){ 1759591800 - 900, 1759591800, 1759591800 + 900 }, 3);
}

/* ------------------------------------------------------------------------ */
/* Brute-force oracle: scan every minute through glibc's local time.        */

/* A matching wall time w is due at the first instant whose local time
 * reaches w. Scanning minutes in order with M = the largest local time seen
 * so far, minute t fires iff some matching wall minute lies in
 * (M, local(t)]. Matching here is written from crontab(5), not shared with
 * the code under test. */
static int wall_matches(const struct sched *s, int64_t w)
{
	time_t tt = (time_t)w;
	struct tm tm;
	int dom, dow;

	gmtime_r(&tt, &tm);
	if (!((s->minutes >> tm.tm_min) & 1) || !((s->hours >> tm.tm_hour) & 1) ||
	    !((s->months >> (tm.tm_mon + 1)) & 1))
		return 0;
	dom = (s->mdays >> tm.tm_mday) & 1;
	dow = (s->wdays >> tm.tm_wday) & 1;
	return (s->mday_star || s->wday_star) ? dom && dow : dom || dow;
}

static void test_oracle_around_changes(void)
{
	static const char *const exprs[] = {
		"0 3 * * *", "30 2 * * *", "30 1 * * *", "*/15 * * * *", "0 * * * *",
		"15 2 * * *", "0 0 * * *", "45 1 * * *", "0,30 2,3 * * *", "30 23 * * *",
		"0 2 * * SUN", "59 1 * * *",
	};
	enum { NE = sizeof exprs / sizeof exprs[0], MAXF = 1024 };
	struct sched s[NE];
	long compared = 0;

	for (int k = 0; k < NE; k++)
		REQUIRE(parse(exprs[k], &s[k]) == 0);
	for (size_t i = 0; i < sizeof daily / sizeof daily[0]; i++) {
		struct sched_zone *z = zone(daily[i].zone);
		int64_t a = daily[i].fire[1] - 3 * 86400, b = daily[i].fire[1] + 3 * 86400;
		int64_t want[NE][MAXF];
		int nw[NE] = { 0 };
		int64_t m;
		struct tm tm;

		CHECK(z != NULL);
		if (!z)
			continue;
		a -= a % 60;
		glibc_local(daily[i].zone, a - 2 * 86400, &tm);
		m = a - 2 * 86400 + tm.tm_gmtoff;
		for (int64_t t = a - 2 * 86400 + 60; t < b; t += 60) {
			int64_t l;

			glibc_local(daily[i].zone, t, &tm);
			l = t + tm.tm_gmtoff;
			for (int k = 0; k < NE; k++) {
				if (t < a || nw[k] >= MAXF)
					continue;
				for (int64_t w = m - (m % 60 + 60) % 60 + 60; w <= l; w += 60)
					if (w > m && wall_matches(&s[k], w)) {
						want[k][nw[k]++] = t;
						break;
					}
			}
			if (l > m)
				m = l;
		}
		for (int k = 0; k < NE; k++) {
			int64_t t = a - 1;

			for (int j = 0; j < nw[k]; j++) {
				t = sched_next(&s[k], z, t);
				compared++;
				if (t != want[k][j]) {
					fprintf(stderr, "  oracle: \"%s\" %s near %s fire %d: got %lld want %lld\n",
						exprs[k], daily[i].zone, daily[i].change, j, (long long)t,
						(long long)want[k][j]);
					CHECK(t == want[k][j]);
					break;
				}
			}
			/* And nothing extra before b. */
			t = sched_next(&s[k], z, t);
			CHECK(t >= b);
		}
		sched_zone_free(z);
	}
	glibc_reset();
	printf("     (oracle: %ld fire times compared)\n", compared);
}

/* ------------------------------------------------------------------------ */
/* Zones.                                                                   */

/* Our offset and broken-down time against glibc's, at t. */
static int same_as_glibc(const char *tz, const struct sched_zone *z, int64_t t)
{
	struct tm g, o;

	glibc_local(tz, t, &g);
	sched_local(z, t, &o);
	if (sched_utc_offset(z, t) != g.tm_gmtoff || o.tm_gmtoff != g.tm_gmtoff ||
	    o.tm_year != g.tm_year || o.tm_mon != g.tm_mon || o.tm_mday != g.tm_mday ||
	    o.tm_hour != g.tm_hour || o.tm_min != g.tm_min || o.tm_sec != g.tm_sec ||
	    o.tm_wday != g.tm_wday || o.tm_yday != g.tm_yday || o.tm_isdst != g.tm_isdst ||
	    strcmp(o.tm_zone, g.tm_zone) != 0) {
		fprintf(stderr, "  %s at %lld: ours %d %04d-%02d-%02d %02d:%02d %s dst=%d, glibc %ld "
			"%04d-%02d-%02d %02d:%02d %s dst=%d\n", tz, (long long)t,
			sched_utc_offset(z, t), o.tm_year + 1900, o.tm_mon + 1, o.tm_mday, o.tm_hour,
			o.tm_min, o.tm_zone, o.tm_isdst, g.tm_gmtoff, g.tm_year + 1900, g.tm_mon + 1,
			g.tm_mday, g.tm_hour, g.tm_min, g.tm_zone, g.tm_isdst);
		return 0;
	}
	return 1;
}

static void test_offsets_vs_glibc(void)
{
	long n = 0;

	for (size_t i = 0; i < NZONES; i++) {
		struct sched_zone *z = zone(zones[i]);
		int bad = 0;

		CHECK(z != NULL);
		if (!z)
			continue;
		/* Every hour of 2025-2027, and the second before each hour. */
		for (int64_t t = utc(2025, 1, 1, 0, 0); t < utc(2028, 1, 1, 0, 0) && bad < 5; t += 3600) {
			bad += !same_as_glibc(zones[i], z, t);
			bad += !same_as_glibc(zones[i], z, t - 1);
			n += 2;
		}
		/* 2036-2040: past the end of the transition table of "fat" zone
		 * files (2037), so the footer's POSIX TZ rule takes over. */
		for (int64_t t = utc(2036, 1, 1, 0, 0); t < utc(2041, 1, 1, 0, 0) && bad < 5; t += 1800) {
			bad += !same_as_glibc(zones[i], z, t);
			n++;
		}
		/* Old history: LMT and wartime offsets, daily at 12:34:56Z. */
		for (int64_t t = utc(1880, 1, 1, 12, 34) + 56; t < utc(1990, 1, 1, 0, 0) && bad < 5;
		     t += 86400) {
			bad += !same_as_glibc(zones[i], z, t);
			n++;
		}
		CHECK(bad == 0);
		sched_zone_free(z);
	}
	glibc_reset();
	printf("     (glibc cross-check: %ld instants)\n", n);
}

static void test_local_fields(void)
{
	struct sched_zone *z = zone("America/New_York");
	struct tm tm;

	REQUIRE(z);
	CHECK_STR(sched_zone_name(z), "America/New_York");
	sched_local(z, utc(2025, 7, 4, 12, 0), &tm); /* a Friday */
	CHECK(tm.tm_year == 125 && tm.tm_mon == 6 && tm.tm_mday == 4 && tm.tm_hour == 8 &&
	      tm.tm_min == 0 && tm.tm_sec == 0 && tm.tm_wday == 5 && tm.tm_yday == 184 &&
	      tm.tm_isdst == 1 && tm.tm_gmtoff == -14400);
	CHECK_STR(tm.tm_zone, "EDT");
	CHECK(sched_utc_offset(z, utc(2025, 1, 15, 0, 0)) == -18000);
	/* Exactly at the spring-forward instant and one second before. */
	CHECK(sched_utc_offset(z, 1741503600) == -14400);
	CHECK(sched_utc_offset(z, 1741503599) == -18000);
	sched_zone_free(z);

	z = zone("Australia/Lord_Howe");
	REQUIRE(z);
	CHECK(sched_utc_offset(z, utc(2025, 7, 1, 0, 0)) == 37800);  /* +10:30 */
	CHECK(sched_utc_offset(z, utc(2025, 12, 1, 0, 0)) == 39600); /* +11 */
	sched_zone_free(z);

	/* Before 1970 and around the year boundary. */
	z = zone("UTC");
	REQUIRE(z);
	sched_local(z, -1, &tm);
	CHECK(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31 && tm.tm_hour == 23 &&
	      tm.tm_min == 59 && tm.tm_sec == 59 && tm.tm_wday == 3 && tm.tm_yday == 364);
	CHECK_STR(tm.tm_zone, "UTC");
	sched_zone_free(z);
}

static void test_zone_errors(void)
{
	struct sched_zone *z = NULL;
	struct err e;
	char dir[512], path[1024], sub[1024];
	struct tzb b;

	/* Unknown: ERR_CONFIG naming TZ, never a silent UTC. */
	err_clear(&e);
	CHECK(sched_zone_load("Mars/Olympus", &z, &e) == -1 && z == NULL);
	CHECK(err_names(&e, "TZ=\"Mars/Olympus\"", "not a known time zone"));
	/* Names that could leave TZDIR, or are not names. */
	static const char *const bad[] = {
		"", "../../etc/passwd", "/etc/localtime", "Europe/../../../etc/passwd", "Europe/",
		"Europe//Madrid", "Europe/Ma drid", "./UTC", ":",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		CHECK(sched_zone_load(bad[i], &z, &e) == -1 && z == NULL);
		CHECK(err_names(&e, "TZ", NULL));
	}
	/* A directory is not a zone. */
	err_clear(&e);
	CHECK(sched_zone_load("America", &z, &e) == -1);
	CHECK(err_names(&e, "TZ=\"America\"", "not a time zone"));

	/* NULL = unset = UTC; a leading ':' is allowed. */
	CHECK(sched_zone_load(NULL, &z, &e) == 0 && z && sched_utc_offset(z, 0) == 0);
	sched_zone_free(z);
	CHECK(sched_zone_load(":Europe/Madrid", &z, &e) == 0 && z &&
	      sched_utc_offset(z, utc(2025, 7, 1, 0, 0)) == 7200);
	sched_zone_free(z);

	/* A TZDIR of our own: a non-TZif file, a truncated one, a v1 file. */
	REQUIRE(make_tmpdir(dir, sizeof dir) == 0);
	snprintf(sub, sizeof sub, "%s/Bad", dir);
	REQUIRE(mkdir(sub, 0700) == 0);
	snprintf(path, sizeof path, "%s/Bad/Text", dir);
	REQUIRE(write_file(path, "this is not a zone file\n", 24) == 0);
	{
		FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
		unsigned char buf[8192];
		size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;

		if (f)
			fclose(f);
		REQUIRE(n > 1000);
		snprintf(path, sizeof path, "%s/Bad/Truncated", dir);
		REQUIRE(write_file(path, buf, 300) == 0);
		snprintf(path, sizeof path, "%s/Bad/NoFooter", dir);
		REQUIRE(write_file(path, buf, n - 10) == 0);
	}
	setenv("TZDIR", dir, 1);
	err_clear(&e);
	CHECK(sched_zone_load("Bad/Text", &z, &e) == -1 && z == NULL);
	CHECK(err_names(&e, "TZ=\"Bad/Text\"", "not a valid TZif zone file (no TZif magic)"));
	err_clear(&e);
	CHECK(sched_zone_load("Bad/Truncated", &z, &e) == -1);
	CHECK(err_names(&e, "TZ=\"Bad/Truncated\"", "truncated"));
	err_clear(&e);
	CHECK(sched_zone_load("Bad/NoFooter", &z, &e) == -1);
	CHECK(err_names(&e, "TZ", "footer"));
	/* Zone files hidden (empty TZDIR, as FIELD-CASES B17 d): an error,
	 * but UTC and Etc/UTC are built in. */
	err_clear(&e);
	CHECK(sched_zone_load("Europe/Berlin", &z, &e) == -1);
	CHECK(err_names(&e, "TZ=\"Europe/Berlin\"", "not a known time zone"));
	static const char *const builtin[] = { "UTC", "Etc/UTC", ":UTC", "GMT", "Etc/GMT" };
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
		err_clear(&e);
		z = NULL;
		CHECK(sched_zone_load(builtin[i], &z, &e) == 0 && z);
		if (z) {
			CHECK(sched_utc_offset(z, utc(2025, 7, 1, 0, 0)) == 0);
			sched_zone_free(z);
		}
	}
	/* Unreadable (only meaningful when not root). */
	if (geteuid() != 0) {
		snprintf(path, sizeof path, "%s/Bad/Secret", dir);
		REQUIRE(write_file(path, "TZif", 4) == 0);
		chmod(path, 0);
		err_clear(&e);
		CHECK(sched_zone_load("Bad/Secret", &z, &e) == -1);
		CHECK(err_names(&e, "TZ=\"Bad/Secret\"", "Permission denied"));
		unlink(path);
	}
	unsetenv("TZDIR");

	/* In-memory images: garbage, a v2 header and nothing else, a leap-
	 * second zone, a bad type index, descending times. */
	{
		static const struct tt t1[] = { { -18000, 0, 0 }, { -14400, 1, 4 } };
		static const int64_t desc[] = { 2000, 1000 };
		static const uint8_t idx[] = { 1, 0 }, bad_idx[] = { 1, 2 };
		unsigned char leap[128];

		err_clear(&e);
		CHECK(sched_zone_from_tzif("Mem/Garbage", "TZif", 4, &z, &e) == -1);
		CHECK(err_names(&e, "TZ=\"Mem/Garbage\"", "TZif"));
		make_tzif(&b, '2', desc, idx, 2, t1, 2, "EST\0EDT", 8, "EST5EDT,M3.2.0,M11.1.0");
		err_clear(&e);
		CHECK(sched_zone_from_tzif("Mem/Desc", b.b, b.n, &z, &e) == -1);
		CHECK(err_names(&e, "TZ", "ascending"));
		make_tzif(&b, '2', (int64_t[]){ 1000, 2000 }, bad_idx, 2, t1, 2, "EST\0EDT", 8, "");
		err_clear(&e);
		CHECK(sched_zone_from_tzif("Mem/Idx", b.b, b.n, &z, &e) == -1);
		CHECK(err_names(&e, "TZ", "index"));
		make_tzif(&b, '2', NULL, NULL, 0, t1, 1, "EST", 4, "EST5EDT,M3.2.0");
		err_clear(&e);
		CHECK(sched_zone_from_tzif("Mem/Footer", b.b, b.n, &z, &e) == -1);
		CHECK(err_names(&e, "TZ", "POSIX TZ string"));
		make_tzif(&b, '2', NULL, NULL, 0, t1, 1, "EST", 4, "EST5");
		CHECK(sched_zone_from_tzif("Mem/HeaderOnly", b.b, 44, &z, &e) == -1);
		/* leapcnt = 1 in a v1 file */
		make_tzif(&b, 0, NULL, NULL, 0, t1, 1, "EST", 4, "");
		memcpy(leap, b.b, b.n);
		leap[31] = 1;
		memset(leap + b.n, 0, 8);
		err_clear(&e);
		CHECK(sched_zone_from_tzif("right/Mem", leap, b.n + 8, &z, &e) == -1);
		CHECK(err_names(&e, "TZ", "leap-second"));
	}
	snprintf(path, sizeof path, "%s/Bad/Text", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/Bad/Truncated", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/Bad/NoFooter", dir);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

/* Version 1 files (32-bit, no footer) and a v3 file whose table ends where
 * the footer takes over. */
static void test_tzif_versions(void)
{
	static const struct tt types[] = { { -17762, 0, 0 }, { -18000, 0, 4 }, { -14400, 1, 8 } };
	static const char chars[] = "LMT\0EST\0EDT";
	/* 1883-11-18 17:00Z LMT->EST; 2025-03-09 07:00Z EST->EDT;
	 * 2025-11-02 06:00Z EDT->EST */
	static const int64_t times[] = { -2717650800LL, 1741503600, 1762063200 };
	static const uint8_t idx[] = { 1, 2, 1 };
	struct sched_zone *z = NULL;
	struct err e;
	struct tzb b;
	struct tm tm;

	/* v1: the 1883 time does not fit 32 bits; drop it. */
	make_tzif(&b, 0, times + 1, idx + 1, 2, types, 3, chars, sizeof chars, "");
	err_clear(&e);
	REQUIRE(sched_zone_from_tzif("v1", b.b, b.n, &z, &e) == 0);
	CHECK(sched_utc_offset(z, 0) == -17762); /* before the first: type 0 */
	CHECK(sched_utc_offset(z, 1741503599) == -17762);
	CHECK(sched_utc_offset(z, 1741503600) == -14400);
	CHECK(sched_utc_offset(z, 1762063200) == -18000);
	CHECK(sched_utc_offset(z, 1900000000) == -18000); /* no footer: last type */
	sched_local(z, 0, &tm);
	CHECK_STR(tm.tm_zone, "LMT");
	CHECK(tm.tm_hour == 19 && tm.tm_min == 3 && tm.tm_sec == 58); /* -4:56:02 */
	sched_zone_free(z);

	/* v3 with a footer: after 2025-11-02 the US rule applies. */
	make_tzif(&b, '3', times, idx, 3, types, 3, chars, sizeof chars, "EST5EDT,M3.2.0,M11.1.0");
	err_clear(&e);
	REQUIRE(sched_zone_from_tzif("v3", b.b, b.n, &z, &e) == 0);
	CHECK(sched_utc_offset(z, -2717650801LL) == -17762);
	CHECK(sched_utc_offset(z, -2717650800LL) == -18000);
	CHECK(sched_utc_offset(z, 1741503600) == -14400);
	/* 2026-03-08 07:00Z and 2026-11-01 06:00Z from the footer rule. */
	CHECK(sched_utc_offset(z, 1772953199) == -18000);
	CHECK(sched_utc_offset(z, 1772953200) == -14400);
	CHECK(sched_utc_offset(z, 1793512799) == -14400);
	CHECK(sched_utc_offset(z, 1793512800) == -18000);
	sched_local(z, 1772953200, &tm);
	CHECK_STR(tm.tm_zone, "EDT");
	/* And sched_next across a footer-ruled change: "30 2" on 2026-03-08
	 * (skipped) fires at 03:00 EDT = 1772953200. */
	{
		struct sched s;

		REQUIRE(parse("30 2 * * *", &s) == 0);
		CHECK(sched_next(&s, z, 1772953200 - 86400 + 3600) == 1772953200);
	}
	sched_zone_free(z);

	/* Version 4 (RFC 9636) reads as version 3. */
	make_tzif(&b, '4', times, idx, 3, types, 3, chars, sizeof chars, "EST5EDT,M3.2.0,M11.1.0");
	err_clear(&e);
	REQUIRE(sched_zone_from_tzif("v4", b.b, b.n, &z, &e) == 0);
	CHECK(sched_utc_offset(z, 1772953200) == -14400);
	sched_zone_free(z);
}

/* POSIX TZ strings (footer only) against glibc, which parses the same
 * string itself when TZ names no file. */
static void test_posix_rules_vs_glibc(void)
{
	static const char *const rules[] = {
		"EST5EDT,M3.2.0,M11.1.0",               /* America/New_York */
		"CET-1CEST,M3.5.0,M10.5.0/3",           /* Europe/Madrid */
		"EET-2EEST,M3.5.0/3,M10.5.0/4",         /* Europe/Helsinki */
		"<-04>4<-03>,M9.1.6/24,M4.1.6/24",      /* America/Santiago: 24:00 */
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* Australia/Lord_Howe */
		"IST-1GMT0,M10.5.0,M3.5.0/1",           /* Europe/Dublin: negative DST */
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",      /* America/Nuuk: v3 negative hour */
		"IST-2IDT,M3.4.4/26,M10.5.0",           /* Asia/Jerusalem: v3 hour 26 */
		"AAA3BBB,J60/2,J300/2",                 /* Jn: 1 March, never 29 Feb */
		"AAA3BBB,59/2,299/2",                   /* n: 29 Feb in leap years */
		"AAA3BBB,M2.5.4/12,M12.5.3/12",         /* week 5 = last */
		"<+0545>-5:45",                         /* fixed, 45 minutes */
		"<-0330>3:30<-0230>,M3.2.0/0:01,M11.1.0/0:01",
	};
	long n = 0;

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		struct sched_zone *z = footer_zone(rules[i], '3');
		int bad = 0;

		CHECK(z != NULL);
		if (!z)
			continue;
		/* 2023-2029 (2024 and 2028 are leap years), every 30 minutes. */
		for (int64_t t = utc(2023, 1, 1, 0, 0); t < utc(2030, 1, 1, 0, 0) && bad < 5; t += 1800) {
			struct tm g;

			glibc_local(rules[i], t, &g);
			if (sched_utc_offset(z, t) != g.tm_gmtoff) {
				fprintf(stderr, "  %s at %lld: ours %d, glibc %ld\n", rules[i], (long long)t,
					sched_utc_offset(z, t), g.tm_gmtoff);
				bad++;
			}
			n++;
		}
		CHECK(bad == 0);
		sched_zone_free(z);
	}
	glibc_reset();
	printf("     (POSIX rule cross-check: %ld instants)\n", n);
}

/* RFC 8536 section 3.3.1 "DST all year": 0/0,J365/25. glibc does not
 * implement it (it reports EST around New Year), so the expected value is
 * by hand: EDT, -4 h, at every instant. */
static void test_posix_all_year_dst(void)
{
	struct sched_zone *z = footer_zone("EST5EDT,0/0,J365/25", '3');
	int bad = 0;

	REQUIRE(z);
	for (int64_t t = utc(2023, 12, 25, 0, 0); t < utc(2029, 1, 10, 0, 0); t += 1800)
		bad += sched_utc_offset(z, t) != -14400;
	CHECK(bad == 0);
	sched_zone_free(z);

	/* DST without a rule: the US rule, as tzcode and glibc default to.
	 * (glibc is no judge here: it derives the rule from its posixrules
	 * file and is an hour off on the November change.) */
	{
		struct sched_zone *a = footer_zone("AAA5BBB", '2');
		struct sched_zone *b = footer_zone("AAA5BBB,M3.2.0,M11.1.0", '2');

		REQUIRE(a && b);
		bad = 0;
		for (int64_t t = utc(2023, 1, 1, 0, 0); t < utc(2030, 1, 1, 0, 0); t += 1800)
			bad += sched_utc_offset(a, t) != sched_utc_offset(b, t);
		CHECK(bad == 0);
		CHECK(sched_utc_offset(a, 1699164000 - 1) == -14400); /* 2023-11-05 06:00Z */
		CHECK(sched_utc_offset(a, 1699164000) == -18000);
		sched_zone_free(a);
		sched_zone_free(b);
	}
	/* A bad footer in v2 is rejected. */
	static const char *const bad_rules[] = {
		"EST5EDT,M13.1.0,M11.1.0", "E5", "EST", "EST25", "EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J100", "EST5EDT,366,100", "EST5EDT,M3.2.0/168,M11.1.0",
		"EST5EDT,M3.2.0,M11.1.0,", "<EST5", "<E>5", "EST5:60",
	};
	for (size_t i = 0; i < sizeof bad_rules / sizeof bad_rules[0]; i++) {
		struct sched_zone *q = footer_zone_q(bad_rules[i], '2', 1);

		if (q)
			fprintf(stderr, "  footer \"%s\" accepted\n", bad_rules[i]);
		CHECK(q == NULL);
		sched_zone_free(q);
	}
}

/* ------------------------------------------------------------------------ */
/* Period and formatting.                                                   */

static void test_period(void)
{
	static const struct {
		const char *expr, *tz;
		int64_t want;
	} cases[] = {
		{ "0 3 * * *", "UTC", 86400 },
		{ "@daily", "America/Lima", 86400 },
		/* A year of daily fires in New York includes the 25-hour day. */
		{ "0 3 * * *", "America/New_York", 90000 },
		{ "0 3 * * *", "Australia/Lord_Howe", 88200 },
		{ "*/15 * * * *", "UTC", 900 },
		{ "@hourly", "UTC", 3600 },
		{ "0 3 * * 1-5", "UTC", 3 * 86400 },  /* Friday -> Monday */
		{ "0 3 * * SUN", "UTC", 7 * 86400 },
		{ "@yearly", "UTC", 365 * 86400 },
		{ "0 0 29 2 *", "UTC", 4 * 365 * 86400 + 86400 },
	};
	int64_t now = utc(2025, 6, 10, 12, 0);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sched_zone *z = zone(cases[i].tz);
		struct sched s;
		int64_t p;

		CHECK(z != NULL);
		if (!z || parse(cases[i].expr, &s) < 0) {
			CHECK(0);
			sched_zone_free(z);
			continue;
		}
		p = sched_period(&s, z, now);
		if (p != cases[i].want)
			fprintf(stderr, "  period \"%s\" %s: got %lld want %lld\n", cases[i].expr,
				cases[i].tz, (long long)p, (long long)cases[i].want);
		CHECK(p == cases[i].want);
		sched_zone_free(z);
	}
}

static void check_format(const char *expr, const char *tz, int64_t now, int n, const char *want)
{
	struct sched_zone *z = zone(tz);
	struct sched s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	CHECK(z != NULL);
	if (!z || parse(expr, &s) < 0) {
		CHECK(0);
		sched_zone_free(z);
		return;
	}
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	if (f) {
		sched_format_next(&s, z, now, n, f);
		fclose(f);
		CHECK_STR(buf, want);
	}
	free(buf);
	sched_zone_free(z);
}

static void test_format_next(void)
{
	/* FIELD-CASES B17 (a): Los Angeles, clock at 2025-06-10 02:59:50 PDT. */
	check_format("0 3 * * *", "America/Los_Angeles", utc(2025, 6, 10, 9, 59) + 50, 2,
		     "2025-06-10T03:00:00-07:00 (2025-06-10T10:00:00Z)\n"
		     "2025-06-11T03:00:00-07:00 (2025-06-11T10:00:00Z)\n");
	check_format("0 3 * * *", "UTC", utc(2025, 6, 10, 2, 59) + 50, 1,
		     "2025-06-10T03:00:00+00:00 (2025-06-10T03:00:00Z)\n");
	check_format("0 3 * * *", "Australia/Lord_Howe", 1743782400 - 60, 2,
		     "2025-04-05T03:00:00+11:00 (2025-04-04T16:00:00Z)\n"
		     "2025-04-06T03:00:00+10:30 (2025-04-05T16:30:00Z)\n");
	/* The skipped 02:30 shows when it really runs. */
	check_format("30 2 * * *", "Europe/Madrid", 1743296400 - 3600, 1,
		     "2025-03-30T03:00:00+02:00 (2025-03-30T01:00:00Z)\n");
	check_format("0 0 30 2 *", "UTC", 0, 3, "never (no date matches the schedule)\n");
	check_format("0 0 * * *", "UTC", 0, 0, "");
}

/* ------------------------------------------------------------------------ */
/* Robustness: random input to both parsers (deterministic xorshift).       */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_parse_random(void)
{
	static const char alpha[] = "0123456789*/-,@ \tJANFEBMONSUNjulfriXxdailyhourly";
	static const char digits[] = "0123456789012345678901234567890123456789*/-, ";
	static const char *const seeds[] = {
		"0 3 * * *", "*/15 9-17 * * MON-FRI", "0 0 13 * FRI", "5,10 1-3/2 1,15 JAN-JUN/2 0-7",
	};
	struct sched_zone *utcz = zone("UTC"), *ny = zone("America/New_York");
	int accepted = 0;

	REQUIRE(utcz && ny);
	for (int i = 0; i < 20000; i++) {
		char buf[40];
		size_t n;
		struct sched s;
		struct err e;

		if (i % 2) {
			n = rnd() % 25;
			for (size_t k = 0; k < n; k++)
				buf[k] = alpha[rnd() % (sizeof alpha - 1)];
		} else {
			const char *sd = seeds[rnd() % 4];

			n = strlen(sd);
			memcpy(buf, sd, n);
			for (int k = 0; k < 1 + (int)(rnd() % 3); k++)
				buf[rnd() % n] = digits[rnd() % (sizeof digits - 1)];
		}
		buf[n] = '\0';
		err_clear(&e);
		if (sched_parse(buf, &s, &e) < 0) {
			if (e.code != ERR_CONFIG || !strstr(e.msg, "BACKUP_SCHEDULE")) {
				fprintf(stderr, "  \"%s\": code %d %s\n", buf, (int)e.code, e.msg);
				CHECK(0);
			}
			continue;
		}
		accepted++;
		{
			int64_t t = utc(2025, 1, 1, 0, 0) + (int64_t)(rnd() % (3u * 365 * 86400));
			int64_t r = sched_next(&s, utcz, t), r2 = sched_next(&s, ny, t);

			/* In UTC every fire is a matching wall time; and no fire
			 * is skipped: from one second earlier, the same one. */
			CHECK(r == -1 || (r > t && r % 60 == 0 && wall_matches(&s, r) &&
					  sched_next(&s, utcz, r - 1) == r));
			CHECK(r2 == -1 || r2 > t);
			CHECK((r == -1) == (r2 == -1));
		}
	}
	printf("     (%d of 20000 random expressions parsed)\n", accepted);
	CHECK(accepted > 1000);
	sched_zone_free(utcz);
	sched_zone_free(ny);
}

static void test_tzif_random(void)
{
	FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
	unsigned char orig[8192], buf[8192];
	size_t n = f ? fread(orig, 1, sizeof orig, f) : 0;
	struct sched s;
	int accepted = 0;

	if (f)
		fclose(f);
	REQUIRE(n > 1000 && n < sizeof orig);
	REQUIRE(parse("*/30 * * * *", &s) == 0);
	/* Every strict prefix is refused. */
	for (size_t len = 0; len < n; len++) {
		struct sched_zone *z = NULL;
		struct err e;

		err_clear(&e);
		if (sched_zone_from_tzif("prefix", orig, len, &z, &e) == 0) {
			fprintf(stderr, "  prefix of %zu bytes accepted\n", len);
			CHECK(0);
			sched_zone_free(z);
		} else {
			CHECK(e.code == ERR_CONFIG);
		}
	}
	/* Random byte changes: refused, or a zone that answers sanely. */
	for (int i = 0; i < 3000; i++) {
		struct sched_zone *z = NULL;
		struct err e;

		memcpy(buf, orig, n);
		for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
			buf[rnd() % n] = (unsigned char)rnd();
		err_clear(&e);
		if (sched_zone_from_tzif("mutant", buf, n, &z, &e) < 0) {
			CHECK(e.code == ERR_CONFIG);
			continue;
		}
		accepted++;
		for (int64_t t = -3000000000LL; t < 4000000000LL; t += 250000000) {
			int off = sched_utc_offset(z, t);
			int64_t r = sched_next(&s, z, t);
			struct tm tm;

			sched_local(z, t, &tm);
			CHECK(off >= -26 * 3600 && off <= 26 * 3600);
			CHECK(r == -1 || r > t);
		}
		sched_zone_free(z);
	}
	printf("     (%d of 3000 mutated zone files were still valid)\n", accepted);
}

/* Out-of-range inputs are refused, not overflowed. */
static void test_limits(void)
{
	struct sched_zone *z = zone("Europe/Madrid");
	struct sched s;

	REQUIRE(z);
	REQUIRE(parse("* * * * *", &s) == 0);
	CHECK(sched_next(&s, z, INT64_MAX) == -1);
	CHECK(sched_next(&s, z, INT64_MIN) == -1);
	CHECK(sched_next(&s, z, 0) == 60);
	CHECK(sched_next(&s, z, -2000000000) == -2000000000 + 20); /* 1906, whole minutes */
	sched_zone_free(z);
}

UNIT_MAIN(T(test_parse_fields), T(test_parse_macros), T(test_parse_errors), T(test_next_basics),
	  T(test_day_or_rule), T(test_impossible_dates), T(test_daily_across_dst),
	  T(test_skipped_time), T(test_repeated_time), T(test_subdaily_dst),
	  T(test_oracle_around_changes), T(test_offsets_vs_glibc), T(test_local_fields),
	  T(test_zone_errors), T(test_tzif_versions), T(test_posix_rules_vs_glibc),
	  T(test_posix_all_year_dst), T(test_period), T(test_format_next), T(test_limits),
	  T(test_parse_random), T(test_tzif_random))
