/* catalog.h - vigil's own file names (SPEC section 3) and the backups on
 * disk. Names are matched exactly: "<PREFIX>_YYYYMMDD_HHMMSS[-N]<ext>",
 * "media_YYYYMMDD_HHMMSS[-N]<ext>" and "pre_restore_YYYYMMDD_HHMMSS[-N]<ext>"
 * with ext one of .sql.gz .sql.zst .sql .dump (db) or .tar.gz .tar.zst .tar
 * (media). "-N" (N >= 2) is the documented name of a second file made in
 * the same second (B13). Nothing else is ever listed, restored or pruned.
 */
#ifndef VIGIL_CATALOG_H
#define VIGIL_CATALOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "stream.h"
#include "util.h"

enum cat_kind { CAT_DB, CAT_MEDIA };

struct cat_entry {
	enum cat_kind kind;
	char name[300];
	char path[UTIL_PATH_MAX];
	char stamp[16];      /* YYYYMMDD_HHMMSS */
	int seq;             /* 1, or N of "-N" */
	time_t when;         /* the stamp read as local time in TZ */
	bool pre_restore;
	bool custom;         /* pg_dump -Fc archive (.dump) */
	enum stream_codec codec;
	uint64_t size;
	time_t mtime;
	bool has_sha256;
};

/* Match a file name against vigil's patterns for kind with db prefix
 * `prefix`. Fills *out (name, stamp, seq, when, pre_restore, custom, codec)
 * and returns true on an exact match. Pure apart from mktime() for `when`. */
bool catalog_match(enum cat_kind kind, const char *prefix, const char *name,
		   struct cat_entry *out);

/* All backups of kind (or both when kind < 0) under cfg->backup_dir, newest
 * first (by stamp, then seq). *out is malloc'd, caller frees. Returns 0 or
 * -1 with e set. */
int catalog_scan(const struct config *cfg, int kind, struct cat_entry **out, size_t *n,
		 struct err *e);

/* Resolve what an operator typed: "latest" (newest regular backup, never a
 * pre_restore_ copy), a name as `vigil list` prints it, or a path inside
 * BACKUP_DIR. Anything resolving outside BACKUP_DIR/<kind dir>, or not
 * matching vigil's names, is refused. Returns 0 or -1 with e set
 * (ERR_REFUSED: outside, no such backup, not a vigil name). */
int catalog_resolve(const struct config *cfg, enum cat_kind kind, const char *arg,
		    struct cat_entry *out, struct err *e);

/* "db" / "media". */
const char *catalog_kind_name(enum cat_kind kind);

#endif
