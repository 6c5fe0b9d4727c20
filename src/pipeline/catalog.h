/* catalog.h - vigil's own file names (README "Files on disk") and the backups on
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

#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"
#include "infra/stream.h"
#include "base/util.h"

enum cat_kind { CAT_DB, CAT_MEDIA };

struct cat_entry {
	enum cat_kind kind;
	char name[300];
	char path[UTIL_PATH_MAX];
	char stamp[16];      /* YYYYMMDD_HHMMSS */
	int seq;             /* 1, or N of "-N" */
	time_t when;         /* the stamp read as local time in TZ */
	time_t utc;          /* the run manifest's recorded start; `when` if unrecorded */
	bool recorded;       /* utc comes from a run manifest */
	bool future;         /* utc lies more than CATALOG_FUTURE_SLACK s after now */
	bool pre_restore;
	/* The run manifest records this file as no good backup (an empty or
	 * collapsed media directory, manifest field "suspect"): why, else "". */
	char suspect[256];
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

/* Seconds after "now" beyond which a recorded time is "in the future". */
#define CATALOG_FUTURE_SLACK 300

/* Seconds a recorded start may differ from the stamp in the file's name,
 * read in the current TZ: the widest gap between two zones' offsets
 * (UTC-12 to UTC+14) plus an hour. Further apart, the record is not used. */
#define CATALOG_STAMP_SLACK (27 * 3600)

/* Whether a run's recorded start (Unix seconds) can be believed next to
 * the stamp its name carries (stamp: that start in local time as
 * util_stamp_parse reads it, or -1 when there is none): not before
 * MANIFEST_MIN_TIME, and within CATALOG_STAMP_SLACK of the stamp. The one
 * rule for list/latest (catalog_order) and the daemon (state_load). Pure. */
bool catalog_time_plausible(int64_t start, time_t stamp);

/* Order v[0..n) newest first by the time each backup was made (F8): the
 * start recorded by the run manifest that made it (recs[0..nrecs), matched
 * by "<kind>/<name>"), or, for a file no manifest records (a pre_restore_
 * copy, a file whose manifest is gone), its name's stamp read in TZ. Ties
 * go by seq ("-N"), kind and name. A record whose start is before
 * MANIFEST_MIN_TIME or more than CATALOG_STAMP_SLACK from the name's stamp
 * is not used (a WARN names the file). Sets utc, recorded and future (utc more
 * than CATALOG_FUTURE_SLACK s after now, Unix seconds) and suspect (the
 * record's reason, "" when none); future and suspect entries keep their
 * place in the order, callers decide what to do with them. recs is sorted
 * in place. Pure. */
void catalog_order(struct cat_entry *v, size_t n, struct mf_record *recs, size_t nrecs,
		   time_t now);

/* All backups of kind (or both when kind < 0) under cfg->backup_dir,
 * ordered by catalog_order with the manifests in runs/ and the clock. *out
 * is malloc'd, caller frees. Returns 0 or -1 with e set. */
int catalog_scan(const struct config *cfg, int kind, struct cat_entry **out, size_t *n,
		 struct err *e);

/* catalog_scan with the run manifests' records already read (recs[0..nrecs),
 * e.g. by verify_records_load; not freed, sorted in place), for commands
 * that need the records themselves too and so read runs/ once. */
int catalog_scan_recs(const struct config *cfg, int kind, struct mf_record *recs, size_t nrecs,
		      struct cat_entry **out, size_t *n, struct err *e);

/* Resolve what an operator typed: "latest" (the newest regular backup in
 * catalog_scan's order that is neither future-dated nor suspect, never a
 * pre_restore_ copy; a future-dated or suspect one is passed over with a
 * WARN naming it, and taken, with a WARN, only when there is nothing else:
 * then the newest one that is not suspect, else the newest suspect one,
 * because a wrong clock loses no data while a suspect backup may hold
 * none), a name as `vigil list` prints it, or a path inside BACKUP_DIR
 * (out->suspect is filled from the run manifests for these too). Anything resolving outside BACKUP_DIR/<kind dir>,
 * or not matching vigil's names, is refused. Returns 0 or -1 with e set
 * (ERR_REFUSED: outside, no such backup, not a vigil name). */
int catalog_resolve(const struct config *cfg, enum cat_kind kind, const char *arg,
		    struct cat_entry *out, struct err *e);

/* "db" / "media". */
const char *catalog_kind_name(enum cat_kind kind);

#endif
