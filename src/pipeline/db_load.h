/* db_load.h - loading a database backup into a database: a plain dump fed
 * through psql (decoded, scanned and row-checked in one pass), a custom
 * archive through pg_restore. Used by `vigil restore` for a scratch
 * database and for --in-place. */
#ifndef VIGIL_DB_LOAD_H
#define VIGIL_DB_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/catalog.h"
#include "base/config.h"
#include "infra/db.h"
#include "pipeline/dumpscan.h"
#include "base/err.h"

/* How db_load() runs. */
struct db_load_opts {
	int server_major;   /* 0 = unknown; see db_child_env_watched */
	const char *sha;    /* sha256 the file was checked to have ("" = none) */
	bool in_place;      /* into the live database, in one transaction: drop
			     * everything first */
	uint64_t locks;     /* the dump's lock estimate (dumpscan.h lock_objects) */
	bool have_cap;      /* cap was read from the server */
	struct db_lock_cap cap;
	bool validated;     /* the whole file passed verify_path already */
	bool restrict_psql; /* psql knows \restrict (15.14+): run it restricted */
};

/* Load the backup ent into database dbname as lo says (the full contract
 * is at db_load in db_load.c: one pass, meta-commands, row checks, what
 * is killed when). scan (caller-initialised with dumpscan_init; caller
 * frees) gets the scan of what was fed. Returns 0 or -1 with e set:
 * ERR_CORRUPT when the file failed a check (the caller refuses, exit 2),
 * ERR_RESTORE when psql/pg_restore failed, ERR_INTERRUPTED, ERR_IO,
 * ERR_INTERNAL. */
int db_load(const struct config *cfg, const struct cat_entry *ent, const char *dbname,
	    const struct db_load_opts *lo, struct dumpscan *scan, struct err *e);

#endif
