/* prune.h - the retention executor (README "Retention"): gathers the backups
 * of a kind (catalog.c) and what the run manifests recorded about them,
 * judges which are good, asks the planner (retention.c) what to keep, and
 * deletes the rest under the run lock, in an order a crash cannot turn into
 * a final name without its checksum: the backup file, then its .sha256,
 * then an fsync of the directory. Orphan .sha256 files of vigil's own names
 * and run manifests that no longer matter (see prune_execute) go too. */
#ifndef VIGIL_PRUNE_H
#define VIGIL_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"
#include "pipeline/retention.h"

/* One line of the plan: a backup file, an orphan checksum or a run manifest. */
struct prune_line {
	char kind[8];       /* "db", "media" or "runs" */
	char rel[340];      /* relative to BACKUP_DIR: "db/<name>", "runs/<id>.json" */
	bool del;           /* planned for deletion */
	bool done;          /* ... and deleted (never in a dry run) */
	bool failed;        /* ... and the deletion failed (error says why) */
	char reason[256];
	uint64_t bytes;
	char error[256];
};

struct prune_report {
	struct prune_line *v;   /* malloc'd; prune_report_free */
	size_t n;
	char (*warn)[480];      /* the planner's warnings, malloc'd */
	size_t n_warn;
	size_t n_deleted, n_failed;
	uint64_t bytes_deleted;
};

struct prune_opts {
	unsigned kinds;            /* bits 1u << CAT_DB, 1u << CAT_MEDIA */
	bool dry_run;              /* plan only: nothing is deleted */
	struct manifest *record;   /* deleted backups are added here (mf_add_pruned); may be NULL */
	/* The run that just made files (its artifacts' sha256 were computed as
	 * they were written and the files read back), so the floor need not
	 * hash them again; NULL for none. */
	const struct manifest *run;
};

/* Plan, and unless o->dry_run delete, under the run lock the caller holds
 * (a dry run needs none). For each kind in o->kinds: its backups and
 * pre_restore_ copies by the rules of retention.h (good: see README
 * "Retention"; the floor's candidates are hashed lazily against their
 * records and .sha256 files), then orphan "<vigil name>.sha256" files whose
 * backup is gone. Then run manifests in runs/ that record no file still on
 * disk, are older than max(BACKUP_RETENTION_DAYS, PRE_RESTORE_RETENTION_DAYS,
 * 30) local days, and do not decide the daemon's state (state.c: for each
 * kind the newest good run, the newest "success", the newest failure and
 * every run after the newest good one are kept; unreadable, implausible and
 * future-dated manifests are never touched). Each deletion is an INFO line;
 * a deletion that fails is a WARN and a failed line in *r, and the rest
 * goes on. *r (caller frees with prune_report_free) gets every line,
 * newest first per kind. Returns 0, or -1 with e set when a backup
 * directory or runs/ cannot be read (ERR_IO; the other kinds are still
 * done and reported). */
int prune_execute(const struct config *cfg, const struct prune_opts *o, struct prune_report *r,
		  struct err *e);

/* Release what r holds. */
void prune_report_free(struct prune_report *r);

/* After a backup run (backup.c:backup_run, lock held, m written to runs/ as
 * m->run_id): prune the kinds whose artifact in m is a success, or a warning
 * that is not suspect (a failed kind prunes nothing, I3), record the
 * deletions in m (mf_add_pruned) and rewrite m's manifest (manifest_replace).
 * A prune problem is logged as a WARN and never changes the run's result. */
void prune_after_run(const struct config *cfg, struct manifest *m);

/* `vigil prune` without --dry-run: take the run lock (ERR_LOCKED when held,
 * nothing done), prune both kinds, and when anything was deleted or failed
 * write a run manifest with "command": "prune", its "pruned" list and result
 * "success" or "failure". With dry_run: no lock, nothing deleted, no
 * manifest. Returns 0 (also when a deletion failed: r->n_failed says so), or
 * -1 with e set (ERR_LOCKED, ERR_IO). */
int prune_command(const struct config *cfg, bool dry_run, struct prune_report *r, struct err *e);

#endif
