/* cron.h - cron expressions for BACKUP_SCHEDULE and BACKUP_VERIFY_SCHEDULE.
 *
 * Source: crontab(5) of Vixie cron 4.1 (fields, names, steps, the
 * day-of-month / day-of-week OR rule and its "field starts with *" test).
 * Pure: no clock, no I/O. The next fire time of a parsed expression is
 * schedule.h's sched_next(); callers include schedule.h, which includes
 * this file.
 */
#ifndef VIGIL_CRON_H
#define VIGIL_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* A parsed 5-field cron expression: one bit per allowed value. Plain data,
 * no ownership; copy it freely. */
struct sched {
	uint64_t minutes; /* bit m: minute m, 0-59 */
	uint32_t hours;   /* bit h: hour h, 0-23 */
	uint32_t mdays;   /* bit d: day of month d, 1-31 */
	uint16_t months;  /* bit m: month m, 1-12 */
	uint8_t wdays;    /* bit d: weekday d, 0-6, 0 = Sunday (7 folds to 0) */
	/* The field began with '*' (as "*" or "*\/n"). As in Vixie cron, a
	 * field so written is "unrestricted" for the OR rule below. */
	bool mday_star;
	bool wday_star;
};

/* Parse a cron expression for BACKUP_SCHEDULE (crontab(5), Vixie cron).
 *
 *   minute hour day-of-month month day-of-week
 *   0-59   0-23 1-31         1-12  0-7 (0 and 7 = Sunday)
 *
 * Each field is a comma-separated list of `*`, `n`, `a-b`, `*\/s`, `a-b/s`
 * or `a/s` (a to the field's maximum in steps of s). Months may be named
 * JAN-DEC and weekdays SUN-SAT, case-insensitive, also inside ranges. Fields
 * are separated by blanks; leading and trailing blanks are ignored. Macros:
 * @hourly = "0 * * * *", @daily and @midnight = "0 0 * * *", @weekly =
 * "0 0 * * 0", @monthly = "0 0 1 * *", @yearly and @annually = "0 0 1 1 *".
 *
 * Day rule (Vixie cron): when both day-of-month and day-of-week are
 * restricted - neither field starts with '*' - a day matches if EITHER
 * matches ("0 0 13 * FRI" = every 13th and every Friday); otherwise both
 * must. Like Vixie cron, "*\/2" counts as unrestricted for this rule.
 *
 * An expression that parses but matches no real date ("0 0 30 2 *") is
 * accepted, as cron accepts it; sched_next() returns -1 for it and callers
 * that load configuration should reject that.
 *
 * Returns 0 and fills *out, or -1 with e set to ERR_CONFIG and a message
 * naming BACKUP_SCHEDULE, the field, the offending value and the allowed
 * range. Ownership: expr is only read; *out is plain data. */
int sched_parse(const char *expr, struct sched *out, struct err *e);

/* As sched_parse(), with `var` (e.g. "BACKUP_VERIFY_SCHEDULE") naming the
 * variable in error messages instead of BACKUP_SCHEDULE. */
int sched_parse_var(const char *var, const char *expr, struct sched *out, struct err *e);

/* Does local calendar day m-d (month 1-12, day 1-31), a weekday wd (0-6,
 * 0 = Sunday), match s's month, day-of-month and day-of-week fields? When
 * both day fields are restricted (neither starts with '*') either may
 * match, else both must (the day rule above). Pure. */
bool cron_day_matches(const struct sched *s, int m, int d, int wd);

#endif
