/* backup.c - `vigil backup`: its arguments and its exit status; the run
 * itself is backup.c:backup_run. */
#include "cmd/cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "pipeline/backup.h"
#include "infra/manifest.h"

int backup_exit_status(enum run_result r, const struct err *e)
{
	switch (r) {
	case RUN_SUCCESS:
		return EXIT_OK;
	case RUN_WARNING:
		return EXIT_WARNINGS;
	case RUN_FAILURE:
	default:
		/* A busy lock and a stop keep their own statuses; any other
		 * failed run is a failure, whatever its first error was. */
		if (e->code == ERR_LOCKED || e->code == ERR_INTERRUPTED)
			return err_exit_code(e);
		return EXIT_FAILED;
	}
}

int backup_main(const struct config *cfg, int argc, char **argv)
{
	struct manifest m;
	struct err e;
	int kinds = BACKUP_DB | BACKUP_MEDIA, status;
	enum run_result r;

	for (int i = 0; i < argc; i++) {
		bool db = strcmp(argv[i], "--db-only") == 0, media = strcmp(argv[i], "--media-only") == 0;
		if ((db || media) && kinds != (BACKUP_DB | BACKUP_MEDIA)) {
			fprintf(stderr, "vigil backup: --db-only and --media-only exclude each other and "
				"are given once\nusage: vigil backup [--db-only|--media-only]\n");
			return EXIT_REFUSED;
		}
		if (db)
			kinds = BACKUP_DB;
		else if (media)
			kinds = BACKUP_MEDIA;
		else {
			fprintf(stderr, "vigil backup: unknown argument %s\nusage: vigil backup "
				"[--db-only|--media-only]\n", argv[i]);
			return EXIT_REFUSED;
		}
	}
	if (kinds == BACKUP_MEDIA && !cfg->media_dir[0]) {
		fprintf(stderr, "vigil backup: --media-only but MEDIA_DIR is empty (media disabled)\n");
		return EXIT_REFUSED;
	}
	r = backup_run(cfg, kinds, &m, &e);
	status = backup_exit_status(r, &e);
	if (strcmp(m.result, "failure") == 0)
		log_error("backup failed run=%s result=%s exit=%d", m.run_id, m.result, status);
	manifest_free(&m);
	return status;
}
