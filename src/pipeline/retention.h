/* retention.h - the retention planner (README "Retention"): which backups of
 * one kind to keep, which to delete, and why. Pure: no I/O, no clock of its
 * own (now is given; TZ is the process's, as set from the configuration),
 * so every rule is unit-testable. prune.c gathers the input and deletes.
 *
 * The rules, in the order a reason is chosen for a file that several keep:
 *   - a future-dated backup (catalog's `future`) is never deleted (WARN);
 *   - age = today's local calendar date in TZ minus the local date of the
 *     backup's instant (cat_entry.utc: the run manifest's recorded start, the
 *     name's stamp when no manifest records it), in whole days; a regular
 *     backup is expired when age > BACKUP_RETENTION_DAYS;
 *   - the floor: the BACKUP_KEEP_MIN newest good backups are kept; when fewer
 *     than BACKUP_KEEP_MIN pass the good-backup check, no regular backup of
 *     the kind is deleted at all (damaged checksums or records must not make
 *     retention delete everything; pruning resumes once enough good
 *     backups exist) and one WARN says so;
 *   - grandfather-father-son (each optional): the newest good backup of each
 *     of the N most recent local days / ISO 8601 weeks / months that have one;
 *   - pre_restore_ safety copies: deleted when age > PRE_RESTORE_RETENTION_DAYS,
 *     no floor, no GFS.
 */
#ifndef VIGIL_RETENTION_H
#define VIGIL_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/config.h"
#include "pipeline/catalog.h"

struct ret_policy {
	long days;             /* BACKUP_RETENTION_DAYS (>= 0) */
	long keep_min;         /* BACKUP_KEEP_MIN (>= 1) */
	long daily, weekly, monthly; /* BACKUP_KEEP_DAILY/WEEKLY/MONTHLY; <= 0 = off */
	long pre_restore_days; /* PRE_RESTORE_RETENTION_DAYS */
};

/* The policy of cfg (unset GFS variables are -1: off). */
void retention_policy(const struct config *cfg, struct ret_policy *p);

/* One backup file as the planner sees it. */
struct ret_item {
	const struct cat_entry *e; /* borrowed; all items of one kind, newest first */
	/* Good by its metadata alone: a regular backup, not future-dated, not
	 * suspect, with its .sha256, and either recorded by a run manifest whose
	 * artifact result is success or warning (not suspect) with the file's
	 * size, or recorded by none. The floor confirms it with `check`. */
	bool good;
};

/* The full check of item i for the floor (hashing the file against its
 * record and .sha256): true when it is a good backup. Called lazily, newest
 * first, only for items whose `good` is true and only when the plan would
 * delete a regular backup; never twice for one item. */
typedef bool (*ret_check_fn)(void *ctx, size_t i);

struct ret_decision {
	bool del;           /* delete it */
	bool floor;         /* kept (also) because the floor needed it */
	bool check_failed;  /* the floor's check said it is no good backup */
	long age_days;      /* local calendar days between its date and today */
	char reason[160];   /* short English phrase, e.g. "older than 7 days (18 days old)" */
};

#define RET_WARN_MAX 8

struct ret_plan {
	struct ret_decision *d; /* caller's array, one per item */
	size_t n_delete;        /* items with del */
	size_t n_good_kept;     /* good backups the floor counted (after checks) */
	bool floor_unmet;       /* fewer than keep_min: no regular backup is deleted */
	char warn[RET_WARN_MAX][480]; /* WARN lines, the first RET_WARN_MAX */
	size_t n_warn;          /* all of them (may exceed RET_WARN_MAX) */
};

/* Plan items[0..n) (one kind, newest first as catalog_order sorts them) under
 * policy p at instant now (Unix seconds), local dates in the process's TZ.
 * check may be NULL: then `good` is taken as the full verdict. Fills
 * plan->d[0..n) (caller-allocated) and the rest of plan. Never deletes a
 * future-dated file; never leaves fewer than p->keep_min good regular
 * backups (of those checked good) when there were that many, and when there
 * were fewer deletes no regular backup at all (floor_unmet, one WARN; the
 * pre_restore_ copies still follow their own age rule). Pure. */
void retention_plan(const struct ret_item *items, size_t n, const struct ret_policy *p,
		    time_t now, ret_check_fn check, void *ctx, struct ret_plan *plan);

/* Local calendar days from the date of instant t to the date of now, in the
 * process's TZ (negative when t's date is after now's). Pure but for TZ. */
long retention_age_days(time_t t, time_t now);

#endif
