/* verify.h - checks of a backup file (README "Commands" `verify`, section 7
 * step 2): checksum against <file>.sha256, full decompression, and the
 * format's own end marker: pg_dump's completion trailer for a plain dump,
 * the PGDMP signature and a readable table of contents (pg_restore --list)
 * for a custom-format archive, every tar header plus the end-of-archive
 * marker for media. */
#ifndef VIGIL_VERIFY_H
#define VIGIL_VERIFY_H

#include <stdbool.h>

#include "pipeline/media.h"
#include "infra/artifact.h"
#include "pipeline/catalog.h"
#include "base/config.h"
#include "infra/db.h"
#include "pipeline/dumpscan.h"
#include "infra/manifest.h"
#include "base/err.h"

struct verify_result {
	char sha256[65];
	uint64_t raw_bytes;
	struct dumpscan scan;     /* plain dumps: tables, restrict, trailer */
	struct media_stats media; /* media archives */
};

/* Check the file at path, of kind with the given codec/custom flag.
 * With check_sum the file must match its .sha256. res (caller-owned; free
 * its scan with dumpscan_free) gets what was learnt. Returns 0 or -1 with e
 * set: ERR_CORRUPT (damaged, truncated, wrong format: the message says
 * which), ERR_UNSAFE (archive entry escaping MEDIA_DIR), ERR_IO. */
int verify_path(const char *path, enum cat_kind kind, enum stream_codec codec, bool custom,
		bool check_sum, struct verify_result *res, struct err *e);

/* How much of a plain dump verify_plain_head decodes: pg_dump's header,
 * its \restrict line and the first statements. */
#define VERIFY_HEAD_BYTES (1u << 20)

/* The part of the check that a single pass over a plain dump can only make
 * at its end (restore's load, README "A restore"): checksum against
 * <path>.sha256 (res->sha256 gets the file's), then the first
 * VERIFY_HEAD_BYTES decoded: not a custom archive, pg_dump's header, no
 * meta-command so far, \restrict (res->scan.has_restrict). A file shorter
 * than that is checked whole. The caller must still check the end with
 * verify_plain_end on its own scan of the whole stream. Returns 0 or -1 with
 * e set as verify_path. */
int verify_plain_head(const char *path, enum stream_codec codec, struct verify_result *res,
		      struct err *e);

/* The end-of-stream checks of a plain dump, given the scan of all of it
 * (after dumpscan_finish) and its decoded length: not empty, pg_dump's
 * header, no meta-command psql would run, no transaction command or NUL
 * byte (dumpscan.h), pg_dump's completion trailer.
 * Returns 0 or -1 with e set (ERR_CORRUPT, the message says which). */
int verify_plain_end(const struct dumpscan *scan, uint64_t raw_bytes, struct err *e);

/* The records of every run manifest in BACKUP_DIR/runs (manifest_records):
 * read once per command, caller frees; NULL with *n == 0 when none. */
struct mf_record *verify_records_load(const struct config *cfg, size_t *n);

/* When one of recs[0..n) records ent (README "A backup run" step 5), the file
 * must still have the recorded size and sha256 (sha: the file's actual
 * one). A file replaced afterwards together with its .sha256 fails here.
 * Files no manifest recorded (pre_restore_* copies, hand-made files) pass.
 * Returns 0 or -1 with e set (ERR_CORRUPT). */
int verify_against_record(const struct mf_record *recs, size_t n, const struct cat_entry *ent,
			  const char *sha, struct err *e);

/* Whether a dump that needs about `needed` lock-table entries in one
 * transaction (scan.lock_objects, dumpscan.h) fits what the server's lock
 * table guarantees (cap, db_lock_capacity). When it does not, writes into
 * out (n bytes) the shortfall and the way out: the max_locks_per_transaction
 * value that fits (needed / (max_connections + max_prepared_transactions),
 * rounded up to a multiple of 64), and returns true. Pure. */
bool verify_lock_shortfall(uint64_t needed, const struct db_lock_cap *cap, char *out, size_t n);


#endif
