/* calendar.h - proleptic Gregorian calendar arithmetic on int64 days.
 *
 * Days are counted from 1970-01-01 (day 0), years are astronomical (year 0
 * exists, no year limit but int64's), months 1-12, days of month 1-31,
 * weekdays 0-6 with 0 = Sunday. Pure functions: no clock, no time zone, no
 * leap seconds. The civil <-> days conversions are H. Hinnant's,
 * "chrono-Compatible Low-Level Date Algorithms" (days_from_civil,
 * civil_from_days).
 */
#ifndef VIGIL_CALENDAR_H
#define VIGIL_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Seconds in a day (Unix time has no leap seconds). */
#define CAL_DAY 86400

/* a / b rounded towards minus infinity (b != 0). */
int64_t cal_floor_div(int64_t a, int64_t b);

/* True when y is a leap year (every 4th, but not every 100th, but every
 * 400th). */
bool cal_is_leap(int64_t y);

/* Days in month m (1-12) of year y: 28-31. */
int cal_month_len(int64_t y, int m);

/* Days since 1970-01-01 of y-m-d (negative before it). m 1-12, d 1-31. */
int64_t cal_days_from_civil(int64_t y, int m, int d);

/* Inverse of cal_days_from_civil: the date of day z into *y, *m, *d. */
void cal_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Weekday of day `days`, 0 = Sunday (1970-01-01 was a Thursday). */
int cal_weekday(int64_t days);

/* Broken-down time of Unix instant t (seconds) at a fixed offset `off`
 * (seconds east of UTC), as localtime_r() fills it: every field including
 * tm_wday and tm_yday; tm_isdst, tm_gmtoff and tm_zone are set from isdst,
 * off and abbr (not copied: abbr must outlive tm). t + off's year must fit
 * an int. */
void cal_tm(int64_t t, int32_t off, bool isdst, const char *abbr, struct tm *tm);

#endif
