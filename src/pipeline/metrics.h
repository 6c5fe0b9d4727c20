/* metrics.h - /metrics and /healthz bodies (README "The daemon"), pure functions
 * of the state, the daemon's facts and the clock.
 *
 * /metrics follows the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats); every name starts
 * with vigil_, counters end in _total, timestamps are *_timestamp_seconds.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/startup.h"
#include "pipeline/state.h"

struct daemon_info {
	int64_t started;              /* daemon start, Unix seconds */
	int64_t next_run;             /* next scheduled run, 0 = none */
	bool running;                 /* a job is running now */
	int db_up;                    /* last reachability probe: 1, 0; -1 not probed */
	int64_t db_checked;           /* when it was probed */
	int64_t offsite_last_success; /* 0 = never / not configured */
	int64_t verify_last_success;  /* 0 = never */
	uint64_t skipped_ticks;       /* scheduled runs skipped: lock held */
	const char *version, *build;
	char preflight_error[512];    /* start-up pre-flight failure, "" = ok */
	bool preflight_connect;       /* ... and it was a failure to connect */
	int64_t run_started;          /* start of the running job (Unix s), 0 = idle */
	int64_t run_timeout;          /* BACKUP_RUN_TIMEOUT (s), 0 = none */
	uint64_t unrecorded_failures; /* failed runs that left no manifest */
	/* The start-up checks (startup.h) at their last try, per check: 0 not
	 * made (does not apply), 1 passed, 2 failed. */
	int startup_state[SC_N];
	char startup_error[720];      /* the first failed check's message, "" = all passed */
	int startup_failed;           /* how many failed */
};

/* True when a run is going and has been for longer than d->run_timeout. */
bool metrics_run_overdue(const struct daemon_info *d, int64_t now);

struct health {
	int status;      /* 200 or 503 */
	char body[1200]; /* small JSON object, secrets already masked */
};

/* /healthz: 503 while a start-up check fails (d->startup_error, "start-up
 * check failed: ..."), whatever the runs say; 503 while a run has been going for longer than
 * BACKUP_RUN_TIMEOUT; else 200 "ok" when every enabled kind's newest run
 * succeeded (or warned) and its last success is younger than max_age
 * seconds; 200 "pending" while a kind has not run yet and the daemon is
 * younger than max_age; otherwise 503 with the reason. A start-up pre-flight
 * failure is the reason while a kind has no run, unless it was a failure to
 * connect and the background probe has since reached the database (the
 * daemon then clears preflight_error). While d->running, every body also
 * has "running":{"since":ISO 8601 UTC,"seconds":N}. */
void metrics_health(const struct state *st, const struct daemon_info *d, int64_t now,
		    int64_t max_age, struct health *h);

/* The /metrics body at now (Unix s); malloc'd, caller frees; NULL when out
 * of memory. */
char *metrics_render(const struct state *st, const struct daemon_info *d, int64_t now);

/* Escape s for a JSON string body into out (size n, NUL-ended, cut if
 * needed; RFC 8259 section 7). */
void metrics_json_escape(const char *s, char *out, size_t n);

#endif
