/* backup.h - one backup run (README "A backup run", steps 1-5): lock, pre-flight,
 * logical dump, media archive, commit, run manifest. The same code path
 * serves `vigil backup` and the daemon's scheduled runs. */
#ifndef VIGIL_BACKUP_H
#define VIGIL_BACKUP_H

#include <stdbool.h>

#include "infra/artifact.h"
#include "pipeline/catalog.h"
#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"

enum { BACKUP_DB = 1, BACKUP_MEDIA = 2 };

/* Directory and file modes from cfg (BACKUP_FILE_MODE; directories 0700
 * plus the x bits matching the file mode's r bits). */
mode_t backup_dir_mode(const struct config *cfg);

/* Refuse directory layouts that would archive or overwrite the backups:
 * MEDIA_DIR equal to or inside BACKUP_DIR or LOG_DIR, or MEDIA_DIR=/.
 * Paths are compared after resolving symlinks of their existing parts.
 * Returns 0 or -1 with e set (ERR_CONFIG). */
int backup_check_dirs(const struct config *cfg, struct err *e);

/* Stream options for cfg's compression settings; a stop request
 * (pid1_stop_requested) abandons a long final flush. */
void backup_stream_opts(const struct config *cfg, struct stream_opts *o);

/* File suffix of database backups for cfg (".sql.gz", ".sql.zst", ".sql",
 * ".dump") and of media archives (".tar.gz", ...). */
const char *backup_db_suffix(const struct config *cfg);
const char *backup_media_suffix(const struct config *cfg);

/* Dump database dbname into dir as <base><suffix>, verified before it gets
 * its final name; fills a (kind "db"). Used for backups and for
 * pre_restore_ safety copies. Returns 0 or -1 with e set. */
int backup_db_file(const struct config *cfg, const char *dbname, const char *dir,
		   const char *base, struct mf_artifact *a, struct err *e);

/* Archive MEDIA_DIR into dir as <base><suffix>, likewise; excludes apply
 * unless no_excludes (a restore's safety copy: the whole tree, never judged an
 * empty or collapsed backup). Warnings (changed/vanished files) are logged and put
 * in a. Returns 0 or -1 with e set. */
int backup_media_file(const struct config *cfg, const char *dir, const char *base,
		      bool no_excludes, struct mf_artifact *a, struct err *e);

/* How a run ended, as its run manifest's "result" says. */
enum run_result {
	RUN_SUCCESS = 0,
	RUN_WARNING, /* complete, with warnings (changed files, a suspect media tree) */
	RUN_FAILURE, /* a kind failed, the lock was busy, or the run was stopped */
};

/* One run of the kinds in `kinds` (BACKUP_DB | BACKUP_MEDIA). Takes the run
 * lock, writes the run manifest into m (caller frees with manifest_free;
 * written to disk too, except when the lock was busy or BACKUP_DIR could
 * not be prepared), then, still under the lock, prunes the kinds that
 * succeeded (prune.h: prune_after_run, which adds m's "pruned" list and
 * rewrites its manifest; never for a stopped run). Logs each step. On RUN_FAILURE, e says why: ERR_LOCKED
 * (another run holds the lock, nothing done), ERR_INTERRUPTED with e->signo
 * (stopped by that signal, or PID1_DEADLINE), or the code and message of the
 * first failed kind (ERR_IO when only the manifest could not be written).
 * The command turns that into an exit status (cmd.h: backup_exit_status).
 * Alerts (README "Alerts"): the /start ping once the lock is taken
 * (notify_run_start), the end alerts after the lock is released
 * (notify_run_end, which rewrites the manifest with their outcomes); they
 * never change the result. */
enum run_result backup_run(const struct config *cfg, int kinds, struct manifest *m,
			   struct err *e);

#endif
