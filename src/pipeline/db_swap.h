/* db_swap.h - restoring a database through a scratch database and a
 * rename swap (README "A restore" step 5): the scratch database made like the
 * live one, loaded (db_load), given the live one's settings, then renamed
 * into place in one transaction. */
#ifndef VIGIL_DB_SWAP_H
#define VIGIL_DB_SWAP_H

#include <stdbool.h>

#include "pipeline/catalog.h"
#include "base/config.h"
#include "infra/db.h"
#include "pipeline/db_load.h"
#include "pipeline/dumpscan.h"
#include "base/err.h"

/* The longest database name PostgreSQL keeps, in bytes (NAMEDATALEN - 1). */
#define PG_NAME_MAX 63

/* Connect to the database vigil works from while target is replaced:
 * "postgres", else "template1"; for target "postgres" itself only
 * "template1". *db is the caller's (db_close). Returns 0 or -1 with e set
 * (ERR_DB_CONNECT, the first connection's error). */
int db_swap_connect_maintenance(const struct config *cfg, const char *target, struct db **db,
				struct err *e);

/* Called between the load into the scratch database and the swap; returns
 * 0 to go on, or -1 with e set to abandon the restore (nothing live was
 * changed yet). */
typedef int (*db_swap_before_fn)(void *ctx, struct err *e);

/* Restore ent into database target through a scratch database
 * "<target>_vigil_new_<stamp>" (stamp: YYYYMMDD_HHMMSS) made with the live
 * one's owner, encoding, locale and tablespace: load it (db_load with lo;
 * lo->server_major is set here), give it the live one's settings, call
 * before_swap(ctx), then end the target's sessions and rename both in one
 * transaction; the old one is dropped afterwards (when that fails it is
 * kept, logged, and *warned set). A target that does not exist is simply
 * created by the rename. scan as for db_load. Returns 0 or -1 with e set as
 * db_load, or ERR_DB_CONNECT / ERR_RESTORE / ERR_INTERNAL; the scratch
 * database is dropped on failure and the live database is then unchanged. */
int db_swap_restore(const struct config *cfg, const struct cat_entry *ent, const char *target,
		    struct db_load_opts *lo, struct dumpscan *scan, const char *stamp,
		    db_swap_before_fn before_swap, void *ctx, bool *warned, struct err *e);

#endif
