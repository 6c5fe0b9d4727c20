/* manifest.h - run manifests, runs/<YYYYMMDD_HHMMSS>.json (README "Files on disk").
 * cJSON lives only in manifest.c (one home per library, docs/design.md).
 *
 * One manifest per run, success or failure. Times are stored as RFC 3339
 * UTC instants ("start", "end") plus the local stamp the file names use.
 * Secrets never enter a manifest: messages are redacted by the log module's
 * secret list before they are stored.
 */
#ifndef VIGIL_MANIFEST_H
#define VIGIL_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct mf_table {
	char *name;
	uint64_t rows;
};

struct mf_artifact {
	char kind[8];        /* "db" or "media" */
	char result[12];     /* "success", "warning", "failure" */
	char path[512];      /* relative to BACKUP_DIR, "" when none was kept */
	uint64_t bytes;      /* on disk */
	uint64_t raw_bytes;  /* before compression */
	char sha256[65];
	double seconds;
	char format[12];     /* db: "plain"/"custom"; media: "pax" */
	char compression[8]; /* "gzip", "zstd", "none" */
	char server_version[32];
	char pg_dump_version[32];
	struct mf_table *tables;
	size_t n_tables;
	uint64_t files, dirs, symlinks;
	uint64_t skipped;    /* excluded or skipped entries (sockets) */
	char **warnings;     /* "relpath: what"; the first 1000 are kept */
	size_t n_warnings;
	uint64_t warnings_total; /* all of them, also past the first 1000 */
	/* Why this complete file is still no good backup ("media directory
	 * holds no files": a volume that was not mounted), "" when it is one.
	 * Only with result "warning"; it never counts as the last success. */
	char suspect[256];
	char err_code[32];
	char err_msg[ERR_MSG_MAX];
};

/* A backup file deleted by retention during the run (README "Retention"). */
struct mf_pruned {
	char kind[8];        /* "db" or "media" */
	char name[300];      /* file name in BACKUP_DIR/<kind>/ */
	char reason[160];    /* why the planner deleted it, e.g. "older than 7 days" */
	uint64_t bytes;      /* its size on disk when deleted */
};

/* How one alert of the run went (README "Alerts"). */
struct mf_notice {
	char channel[8];     /* "mail", "webhook", "ping" */
	char result[8];      /* "sent" or "failed" */
	char error[640];     /* why it failed (no secret, no URL userinfo; hints too), else "" */
};

#define MF_NOTICES_MAX 4

struct manifest {
	char run_id[48];     /* the manifest's name without .json */
	char command[16];    /* "backup" */
	int64_t start, end;  /* Unix seconds */
	char result[12];
	struct mf_artifact art[2];
	size_t n_art;
	char err_code[32];
	char err_msg[ERR_MSG_MAX];
	struct mf_pruned *pruned; /* malloc'd, n_pruned entries; manifest_free frees */
	size_t n_pruned;
	struct mf_notice notices[MF_NOTICES_MAX];
	size_t n_notices;
};

/* Add a table row count to a (copies name). Returns 0 or -1 (no memory). */
int mf_add_table(struct mf_artifact *a, const char *name, uint64_t rows);

/* Add a warning line (copied; at most 1000 are kept). */
int mf_add_warning(struct mf_artifact *a, const char *text);

/* Record a file deleted by retention (copied). Returns 0 or -1 (no memory). */
int mf_add_pruned(struct manifest *m, const char *kind, const char *name, const char *reason,
		  uint64_t bytes);

/* Record an alert's outcome (channel "mail"/"webhook"/"ping", result
 * "sent"/"failed", error "" or why; the error is redacted when written).
 * At most MF_NOTICES_MAX; more are dropped. */
void mf_add_notice(struct manifest *m, const char *channel, const char *result,
		   const char *error);

/* Serialise m as a JSON text; malloc'd, caller frees. NULL when out of memory. */
char *manifest_to_json(const struct manifest *m);

/* No vigil run predates 2000-01-01T00:00:00Z: a recorded time before this
 * (Unix seconds) is a damaged or hand-edited manifest, or a clock reset to
 * 1970, and is not used to order or judge backups. */
#define MANIFEST_MIN_TIME 946684800

/* Parse JSON text into m (zeroed first). The start and end times must be
 * RFC 3339 UTC instants as vigil writes them ("2026-11-29T08:00:04Z"), a
 * real calendar date and time (no February 31); one that is missing or
 * not such a time parses as 0. Returns 0 or -1 with e set (ERR_CORRUPT).
 * Free with manifest_free. */
int manifest_parse(const char *json, struct manifest *m, struct err *e);

/* Write m to runs_dir/<stamp>.json atomically, never replacing: on a clash
 * <stamp>-2.json etc. m->run_id gets the name used. Returns 0 or -1. */
int manifest_write(const char *runs_dir, const char *stamp, struct manifest *m, mode_t mode,
		   struct err *e);

/* Rewrite runs_dir/<m->run_id>.json (a manifest this process wrote with
 * manifest_write) with m's current content, atomically (temporary file,
 * fsync, rename over, directory fsync): used after a run's prune and
 * alerts add to it. Returns 0 or -1 with e set. */
int manifest_replace(const char *runs_dir, const struct manifest *m, mode_t mode, struct err *e);

/* Read and parse a manifest file. Returns 0 or -1 with e set. */
int manifest_read(const char *path, struct manifest *m, struct err *e);

/* Release what m's artifacts own. */
void manifest_free(struct manifest *m);

/* What a run manifest recorded about one backup file it made. */
struct mf_record {
	char path[512];   /* "db/<name>" or "media/<name>", relative to BACKUP_DIR */
	char sha256[65];
	uint64_t bytes;
	int64_t start;    /* the run's recorded start, Unix seconds (UTC instant) */
	char suspect[256]; /* the artifact's "suspect" reason, "" when it is a good backup */
};

/* Every file recorded by the manifests in runs_dir ("*.json"; unreadable
 * ones are skipped). Returns a malloc'd array the caller frees, *n its
 * length; NULL with *n == 0 when there is none (or no memory). */
struct mf_record *manifest_records(const char *runs_dir, size_t *n);

/* The record of rel in v[0..n), or NULL. */
const struct mf_record *manifest_record_find(const struct mf_record *v, size_t n, const char *rel);


/* One row of `vigil list --json`. */
struct mf_list_row {
	const char *kind, *name, *path, *time_local, *time_utc, *state;
	uint64_t size;
	int pre_restore;
	int recorded; /* the time is a run manifest's recorded start */
	int future;   /* ... and it lies in the future (a wrong clock) */
	const char *suspect; /* the run manifest's "suspect" reason; NULL or "" for none */
};

/* JSON array of rows (malloc'd, caller frees; NULL when out of memory). */
char *manifest_list_json(const struct mf_list_row *rows, size_t n);
/* cJSON's version string. */
const char *manifest_lib_version(void);

#endif
