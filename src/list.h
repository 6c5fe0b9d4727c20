/* list.h - `vigil list [--json]`: backups on disk, newest first. */
#ifndef VIGIL_LIST_H
#define VIGIL_LIST_H

#include "config.h"

/* Print the table (or JSON) to stdout; returns the exit status.
 * The state column: "ok" when the .sha256 file exists and the run manifest
 * that made the file records the same size and checksum; "no-checksum"
 * when the .sha256 file is missing; "mismatch" when the manifest records
 * another size or checksum; "unrecorded" when no manifest mentions the file
 * (hand-made or pre_restore_ copies). `vigil verify` reads every byte. */
int list_main(const struct config *cfg, int argc, char **argv);

#endif
