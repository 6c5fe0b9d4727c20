/* schedule.h - cron expressions, IANA time zones and next fire times.
 *
 * A pure core: the clock and the zone are parameters. Nothing here reads the
 * clock, and nothing sets TZ or calls localtime(); zone arithmetic is done
 * from the zone's own TZif data, so two zones can be compared side by side
 * in one process and every branch is unit-testable (STYLE.md habit 8).
 *
 * Sources:
 *   - crontab(5) of Vixie cron 4.1 (fields, names, steps, the day-of-month /
 *     day-of-week OR rule and its "field starts with *" test);
 *   - RFC 8536, "The Time Zone Information Format (TZif)", versions 1-3, and
 *     RFC 9636 (version 4, which only changes leap-second rules);
 *   - POSIX.1-2017 XBD 8.3 (the TZ variable) with the RFC 8536 section 3.3.1
 *     extensions (transition hours -167..167, DST all year).
 *
 * Times are Unix seconds (int64_t, UTC, no leap seconds). Offsets are seconds
 * east of UTC.
 */
#ifndef VIGIL_SCHEDULE_H
#define VIGIL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "err.h"

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

/* Opaque: the rules of one time zone. */
struct sched_zone;

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

/* Load the IANA zone `tzname` (e.g. "Europe/Madrid") from the TZif file
 * $TZDIR/<tzname>, or /usr/share/zoneinfo/<tzname> when TZDIR is unset or
 * empty. One leading ':' is ignored (POSIX ":name" form). NULL means unset
 * and gives UTC; "" is an error (ERR_CONFIG). "UTC", "Etc/UTC", "GMT" and
 * "Etc/GMT" are built in and need no zone files, so they work in an image
 * without tzdata. Names must look like IANA names (letters, digits, "._+-",
 * '/' between components, no "." or ".." component), so TZ cannot point
 * outside the zone directory.
 *
 * The v2+ 64-bit data is used when present (RFC 8536 section 3.2), else the
 * v1 32-bit data; instants at or after the last transition follow the
 * footer's POSIX TZ string (section 3.3). Zones with leap-second records
 * ("right/...") are refused: vigil counts Unix time.
 *
 * Unlike glibc, an unknown, unreadable or malformed zone never falls back
 * to UTC: returns -1 with e set to ERR_CONFIG naming TZ (and the errno text
 * where a system call failed). On success *out is a new zone owned by the
 * caller, released with sched_zone_free(). */
int sched_zone_load(const char *tzname, struct sched_zone **out, struct err *e);

/* Build a zone from an in-memory TZif image (buf, len bytes), e.g. zone
 * data compiled into the binary or a test's hand-made file. `name` is used
 * in messages and by sched_zone_name(). Returns 0 and a caller-owned *out,
 * or -1 with ERR_CONFIG naming TZ. buf is only read. */
int sched_zone_from_tzif(const char *name, const void *buf, size_t len,
			 struct sched_zone **out, struct err *e);

/* Release a zone from sched_zone_load() or sched_zone_from_tzif(). NULL is
 * allowed. */
void sched_zone_free(struct sched_zone *z);

/* The name the zone was loaded under ("UTC" for NULL). Owned by z. */
const char *sched_zone_name(const struct sched_zone *z);

/* Seconds east of UTC in effect at instant t (Unix seconds), e.g. -14400
 * for America/New_York in July. Instants before the first transition use
 * time type 0 (RFC 8536 section 3.2). */
int sched_utc_offset(const struct sched_zone *z, int64_t t);

/* Broken-down local time of instant t in zone z, as localtime_r() would
 * give with TZ set to the zone: every field including tm_wday, tm_yday,
 * tm_isdst and tm_gmtoff. tm_zone points to the abbreviation ("CEST"),
 * owned by z and valid until sched_zone_free(). t's year must fit an int. */
void sched_local(const struct sched_zone *z, int64_t t, struct tm *tm);

/* The first instant strictly after `after` (Unix seconds) whose local wall
 * time in z matches s, or -1 if nothing matches within the search window
 * (8 years and a day: long enough for a 29 February across 2100).
 *
 * Semantics: a wall time w fires at min{ t : local(t) >= w }. So
 *  - a wall time that exists once fires then;
 *  - a wall time skipped by a spring-forward gap fires at the first instant
 *    after the gap (Europe/Madrid 2025-03-30 02:30 fires at 03:00 CEST =
 *    01:00Z); several skipped wall times fire together, once;
 *  - a wall time repeated by a fall-back fires once, at its first
 *    occurrence (America/New_York 2025-11-02 01:30 fires at 01:30 EDT).
 * Every calendar day with a matching wall time gets exactly one run of a
 * daily schedule. For sub-daily schedules this means wall-clock semantics:
 * "*\/15 * * * *" fires every 15 real minutes across a spring-forward, and
 * over a fall-back it does not fire again during the repeated hour (01:45
 * EDT is followed by 02:00 EST, 75 real minutes later); "0 * * * *" fires
 * at 01:00 EST then 03:00 EDT in spring (one real hour) and at 01:00 EDT
 * then 02:00 EST in autumn (two real hours).
 *
 * s and z must not be NULL; `after` outside years 1-9990 gives -1. Cost:
 * one pass over local calendar days, and within a matching day only the
 * matching hours and minutes: well under a microsecond for a daily
 * schedule, about 8 us for one that never fires. */
int64_t sched_next(const struct sched *s, const struct sched_zone *z, int64_t after);

/* Longest interval in seconds between consecutive fires, looking at the
 * fires after `now` for the next year (at most 10000 of them), or -1 when
 * the schedule fires fewer than twice. For evenly spaced schedules this is
 * next2 - next1; unlike that difference it also covers the weekend gap of a
 * weekday schedule (3 days) and the 25-hour day of a fall-back, which is
 * what HEALTHCHECK_MAX_AGE's default (period + 2 h) needs. */
int64_t sched_period(const struct sched *s, const struct sched_zone *z, int64_t now);

/* Print the next n fire times after `now` to f, one a line, as
 * "2025-06-10T03:00:00-07:00 (2025-06-10T10:00:00Z)" (RFC 3339 local time
 * with offset, then UTC), for `vigil check-config`. A schedule that never
 * fires prints one line "never (no date matches the schedule)". Offsets
 * with seconds (pre-1900 local mean time) print as -04:56:02. */
void sched_format_next(const struct sched *s, const struct sched_zone *z, int64_t now, int n,
		       FILE *f);

#endif
