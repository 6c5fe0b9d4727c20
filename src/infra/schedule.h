/* schedule.h - cron expressions, IANA time zones and next fire times.
 *
 * The header callers include: it brings in cron.h (parsing BACKUP_SCHEDULE:
 * struct sched, sched_parse) and tz.h (zones: sched_zone_load,
 * sched_local, ...) and declares the next-fire-time functions below
 * (schedule.c). calendar.h holds the date arithmetic under all three.
 *
 * A pure core: the clock and the zone are parameters. Nothing here reads the
 * clock, and nothing sets TZ or calls localtime(); zone arithmetic is done
 * from the zone's own TZif data, so two zones can be compared side by side
 * in one process and every branch is unit-testable (docs/design.md).
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

#include "infra/cron.h"
#include "base/err.h"
#include "infra/tz.h"

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
