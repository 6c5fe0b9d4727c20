/* restore.h - `vigil restore` (SPEC section 7). */
#ifndef VIGIL_RESTORE_H
#define VIGIL_RESTORE_H

#include "base/config.h"

/* Parse the restore options, validate the named backups before touching
 * anything, confirm, take pre_restore_ safety copies, restore the database
 * (scratch database + rename swap, or --in-place in one transaction) and/or
 * the media directory, log to LOG_DIR/restore.log and print a summary.
 * Returns the exit status: 0, 1 (failed; live data as before), 2 (usage,
 * refused: validation or confirmation), 3 (restored with warnings), 75. */
int restore_main(const struct config *cfg, int argc, char **argv);

#endif
