/* cmd.h - the commands, one entry each, called by main.c. A command parses
 * its arguments, runs the pipeline, prints for the operator and returns the
 * process's exit status (err.h: enum exit_status); nothing below the
 * commands prints for the user or picks an exit status, and no command calls
 * another. */
#ifndef VIGIL_CMD_H
#define VIGIL_CMD_H

#include <stdbool.h>

#include "pipeline/backup.h"
#include "base/config.h"
#include "base/err.h"

/* `vigil backup [--db-only|--media-only]`: one run now. Exit status
 * EXIT_OK, EXIT_WARNINGS, EXIT_FAILED, EXIT_REFUSED (usage), EXIT_LOCKED or
 * 128+N. */
int backup_main(const struct config *cfg, int argc, char **argv);

/* The exit status of a run that ended with r and, on RUN_FAILURE, e
 * (backup_run): a busy lock and a stop keep their statuses (75, 128+N), any
 * other failure is EXIT_FAILED. */
int backup_exit_status(enum run_result r, const struct err *e);

/* `vigil verify [NAME|latest|all]`: prints one line per file checked and
 * returns the exit status (0 all good, 1 a file failed or a backup
 * directory could not be read, 2 usage, 128+N stopped). A database backup
 * too large to restore in one transaction at the server's lock settings
 * (verify_lock_shortfall; read from the server when it can be reached, else
 * that check is skipped with a note) is a WARN, not a failure: the default
 * restore does not need one transaction. */
int verify_main(const struct config *cfg, int argc, char **argv);

/* `vigil prune [--dry-run]` (prune.c): prints every backup file with KEEP
 * or DELETE and the rule that decided it, newest first per kind, then the
 * warnings and a summary line (README "Retention"). --dry-run takes no lock
 * and deletes nothing; otherwise the run lock is taken and a run manifest
 * with "command": "prune" records what was deleted. Exit status EXIT_OK,
 * EXIT_FAILED (a deletion failed, or BACKUP_DIR could not be read),
 * EXIT_REFUSED (usage) or EXIT_LOCKED. */
int prune_main(const struct config *cfg, int argc, char **argv);

/* ---- `vigil list` (list.c) ---- */

/* Print the table (or JSON) to stdout; returns the exit status.
 * The state column: "ok" when the .sha256 file exists and the run manifest
 * that made the file records the same size and checksum; "no-checksum"
 * when the .sha256 file is missing; "mismatch" when the manifest records
 * another size or checksum; "unrecorded" when no manifest mentions the file
 * (hand-made or pre_restore_ copies). `vigil verify` reads every byte. */
int list_main(const struct config *cfg, int argc, char **argv);

/* What list_main prints, without its argument parsing: the table, or the
 * JSON array with json; `vigil restore --list` prints it too. Returns the
 * exit status: 0, or 1 when BACKUP_DIR cannot be read (logged). */
int list_print(const struct config *cfg, bool json);

/* ---- `vigil restore` (restore.c) ---- */

/* Parse the restore options, validate the named backups before touching
 * anything, confirm, take pre_restore_ safety copies, restore the database
 * (scratch database + rename swap, or --in-place in one transaction) and/or
 * the media directory, log to LOG_DIR/restore.log and print a summary.
 * Returns the exit status: 0, 1 (failed; live data as before), 2 (usage,
 * refused: validation or confirmation), 3 (restored with warnings), 75. */
int restore_main(const struct config *cfg, int argc, char **argv);

/* ---- `vigil notify` (notify.c) ---- */

/* `vigil notify RUN_ID`: send the alerts of the run recorded in
 * BACKUP_DIR/runs/RUN_ID.json by its result (pipeline/notify.c:
 * notify_run_alerts) and record them in that manifest; `vigil notify
 * --test`: a test mail, webhook and ping (notify_test). Prints one line per
 * channel ("webhook sent", "ping failed: why"). Returns EXIT_OK when every
 * configured channel succeeded, EXIT_FAILED (ERR_NOTIFY) when one failed
 * or the manifest cannot be read, EXIT_REFUSED for a bad argument or, with
 * --test, when no channel is configured. */
int notify_main(const struct config *cfg, int argc, char **argv);

/* ---- every command's log (daemon.c, which reopens it) ---- */

/* Send the log to LOG_DIR/name as well as stderr (LOG_DIR made with
 * backup_dir_mode when missing; a new log file gets BACKUP_FILE_MODE).
 * Returns 0, or -1 after a WARN that the log goes to stderr only. */
int cmd_open_log(const struct config *cfg, const char *name);

/* ---- `vigil serve` and `vigil healthcheck` (daemon.c) ---- */

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
 * configuration (README "Configuration"). Returns 0 or -1 with e set (ERR_CONFIG). */
int daemon_check_config(const struct config *cfg, struct err *e);

/* Print the next n fire times for check-config; returns 0 or 2 (bad
 * schedule or zone, message logged). */
int daemon_print_schedule(const struct config *cfg, int n);

/* HEALTHCHECK_MAX_AGE, or the schedule's period + 2 h when unset (s). */
long daemon_max_age(const struct config *cfg, long period);

#endif
