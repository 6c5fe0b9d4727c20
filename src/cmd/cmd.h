/* cmd.h - the commands, one entry each, called by main.c. A command parses
 * its arguments, runs the pipeline, prints for the operator and returns the
 * process's exit status (err.h: enum exit_status); nothing below the
 * commands prints for the user or picks an exit status, and no command calls
 * another. */
#ifndef VIGIL_CMD_H
#define VIGIL_CMD_H

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

#endif
