/* tz.h - IANA time zones without TZ or localtime(): each zone's rules are
 * read from its own TZif data, so two zones can be compared side by side
 * in one process and every branch is unit-testable (docs/design.md).
 *
 * Sources: RFC 8536, "The Time Zone Information Format (TZif)", versions
 * 1-3, and RFC 9636 (version 4, which only changes leap-second rules);
 * POSIX.1-2017 XBD 8.3 (the TZ variable) with the RFC 8536 section 3.3.1
 * extensions (transition hours -167..167, DST all year).
 *
 * Times are Unix seconds (int64_t, UTC, no leap seconds). Offsets are
 * seconds east of UTC. The functions keep the sched_ names their callers
 * know; callers include schedule.h, which includes this file.
 */
#ifndef VIGIL_TZ_H
#define VIGIL_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"

/* Offsets we accept: RFC 8536 section 3.2 says utoff SHOULD be in
 * [-89999, 93599]; POSIX TZ offsets reach 24:59:59 (+1 h for DST). */
#define TZ_OFF_MAX (26 * 3600)

/* Opaque: the rules of one time zone. */
struct sched_zone;

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

/* The first instant strictly after t (Unix seconds) at which z's offset
 * may change, or INT64_MAX when it never does. Some are no-ops (e.g. an
 * abbreviation change). Past the last transition the footer's POSIX rule
 * gives them (RFC 8536 section 3.3). */
int64_t tz_next_change(const struct sched_zone *z, int64_t t);

#endif
