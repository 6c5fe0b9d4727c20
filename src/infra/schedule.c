/* schedule.c - next fire times of a cron schedule in a time zone.
 *
 * See schedule.h. Local calendar days first, then the matching hours and
 * minutes of a matching day, each wall time resolved to an instant. The
 * parts below are cron.c (expressions), tz.c (zones) and calendar.c
 * (date arithmetic). Pure: no clock, no I/O but the FILE it prints to.
 */
#include "infra/schedule.h"

#include "base/calendar.h"

/* Search window: 8 years and 2 days, so that "0 0 29 2 *" finds 2104-02-29
 * from 2096-03-01 (2100 is not a leap year). */
#define SEARCH_DAYS (8 * 366 + 2)
/* Inputs outside years 1..9990 are refused (-1): keeps every intermediate
 * far from overflow and struct tm's int year. */
#define T_MIN (-62135596800LL)
#define T_MAX (253118304000LL)
/* Any instant whose local time is >= w lies within this many seconds of w. */
#define OFF_SPAN (TZ_OFF_MAX + 3600)

/* min{ t : local(t) >= lw } where lw is a wall time in local seconds: the
 * instant of lw when it exists (its first occurrence when repeated), the
 * end of the gap when a spring-forward skipped it. Walks the zone's
 * constant-offset segments from a point whose local time is surely < lw. */
static int64_t resolve_wall(const struct sched_zone *z, int64_t lw)
{
	int64_t s = lw - OFF_SPAN;
	int32_t o = (int32_t)sched_utc_offset(z, s);

	for (int i = 0; i < 1000; i++) {
		int64_t e = tz_next_change(z, s);

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
	day = cal_floor_div(lafter, CAL_DAY);
	cal_civil_from_days(day, &y, &m, &d);
	for (int i = 0; i <= SEARCH_DAYS; i++, day++) {
		int64_t base = day * CAL_DAY;

		if (i > 0 && ++d > cal_month_len(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		if (!cron_day_matches(s, m, d, cal_weekday(day)) || base + CAL_DAY <= lafter)
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
		if (t > first + 366 * (int64_t)CAL_DAY)
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
		cal_tm(t, 0, false, "UTC", &ut);
		print_rfc3339(f, &lt, lt.tm_gmtoff, false);
		fputs(" (", f);
		print_rfc3339(f, &ut, 0, true);
		fputs(")\n", f);
	}
}
