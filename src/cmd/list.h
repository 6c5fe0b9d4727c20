/* list.h - `vigil list [--json]`: backups on disk, newest first. */
#ifndef VIGIL_LIST_H
#define VIGIL_LIST_H

#include <stdbool.h>

#include "base/config.h"

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

#endif
