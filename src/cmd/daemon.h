/* daemon.h - `vigil serve`, the PID 1 daemon (SPEC section 8). */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include "base/config.h"
#include "base/err.h"

/* Run until SIGTERM/SIGINT: the schedule (TZ's rules), the HTTP listener,
 * signal handling and reaping. Each run is a child `vigil backup` in its own
 * process group, so it shares the lock and the code path with manual runs.
 * Returns the exit status: 0 after a stop while idle, 128+N when a stop
 * interrupted a run, 2 for configuration errors (schedule, TZ, HTTP_LISTEN),
 * 1 when the listener cannot start. */
int daemon_main(const struct config *cfg);

/* `vigil healthcheck`: GET /healthz on HTTP_LISTEN; 0 when 200, else 1. */
int daemon_healthcheck(const struct config *cfg);

/* Validate what only the daemon uses (BACKUP_SCHEDULE, TZ's zone data,
 * BACKUP_VERIFY_SCHEDULE, HTTP_LISTEN) so that every command refuses a bad
 * configuration (SPEC section 4). Returns 0 or -1 with e set (ERR_CONFIG). */
int daemon_check_config(const struct config *cfg, struct err *e);

/* Print the next n fire times for check-config; returns 0 or 2 (bad
 * schedule or zone, message logged). */
int daemon_print_schedule(const struct config *cfg, int n);

/* HEALTHCHECK_MAX_AGE, or the schedule's period + 2 h when unset (s). */
long daemon_max_age(const struct config *cfg, long period);

#endif
