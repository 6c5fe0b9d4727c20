/* calendar.c - proleptic Gregorian calendar arithmetic on int64 days.
 * See calendar.h.
 */
#include "base/calendar.h"

#include <string.h>

int64_t cal_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

bool cal_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cal_month_len(int64_t y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && cal_is_leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant, "chrono-Compatible Low-Level
 * Date Algorithms", days_from_civil). */
int64_t cal_days_from_civil(int64_t y, int m, int d)
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
void cal_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
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
int cal_weekday(int64_t days)
{
	return (int)(days - cal_floor_div(days + 4, 7) * 7 + 4) % 7;
}

/* Broken-down time of t at a fixed offset. */
void cal_tm(int64_t t, int32_t off, bool isdst, const char *abbr, struct tm *tm)
{
	int64_t lt = t + off, days = cal_floor_div(lt, CAL_DAY), secs = lt - days * CAL_DAY, y;
	int m, d;

	cal_civil_from_days(days, &y, &m, &d);
	memset(tm, 0, sizeof *tm);
	tm->tm_year = (int)(y - 1900);
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = cal_weekday(days);
	tm->tm_yday = (int)(days - cal_days_from_civil(y, 1, 1));
	tm->tm_isdst = isdst;
	tm->tm_gmtoff = off;
	tm->tm_zone = abbr;
}
