/* notify.c - `vigil notify RUN_ID` (send the alerts of a recorded run again,
 * or for the first time: the daemon runs it for a run that died without a
 * manifest) and `vigil notify --test` (check the alert settings). What is
 * sent is pipeline/notify.c's; this file parses the arguments, prints one
 * line per channel and picks the exit status (README "Commands"). */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "infra/manifest.h"
#include "pipeline/notify.h"

#define NOTIFY_USAGE "usage: vigil notify RUN_ID | vigil notify --test\n"

/* A run id as manifest_write names them: YYYYMMDD_HHMMSS[-N]. */
static bool run_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n < 15 || n > 18 || util_stamp_parse(id) < 0)
		return false;
	for (size_t i = 15; i < n; i++)
		if (!((i == 15 && id[i] == '-') || (i > 15 && id[i] >= '0' && id[i] <= '9')))
			return false;
	return n != 16;
}

/* One line per channel: "mail sent", "webhook failed: why". */
static void print_notices(const struct manifest *m)
{
	for (size_t i = 0; i < m->n_notices; i++) {
		char line[sizeof m->notices[i].error + 64];
		snprintf(line, sizeof line, "%s %s%s%s", m->notices[i].channel, m->notices[i].result,
			 m->notices[i].error[0] ? ": " : "", m->notices[i].error);
		log_redact(line, sizeof line);
		printf("%s\n", line);
	}
}

int notify_main(const struct config *cfg, int argc, char **argv)
{
	char path[UTIL_PATH_MAX];
	struct manifest m;
	struct err e;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "vigil notify: %s\n" NOTIFY_USAGE,
			argc == 0 ? "a RUN_ID or --test is required" : "one argument only");
		return EXIT_REFUSED;
	}
	err_clear(&e);
	if (strcmp(argv[0], "--test") == 0) {
		rc = notify_test(cfg, &m, &e);
		print_notices(&m);
		manifest_free(&m);
		if (rc < 0)
			log_error("vigil notify --test: %s", e.msg);
		return rc < 0 ? err_exit_code(&e) : EXIT_OK;
	}
	if (!run_id_ok(argv[0])) {
		fprintf(stderr, "vigil notify: \"%s\" is not a run id (YYYYMMDD_HHMMSS[-N], the name "
			"of a run manifest in BACKUP_DIR/runs without .json)\n" NOTIFY_USAGE, argv[0]);
		return EXIT_REFUSED;
	}
	snprintf(path, sizeof path, "%s/runs/%s.json", cfg->backup_dir, argv[0]);
	if (manifest_read(path, &m, &e) < 0) {
		log_error("vigil notify: %s", e.msg);
		return EXIT_FAILED;
	}
	/* The name is the run id, whatever the file says. */
	snprintf(m.run_id, sizeof m.run_id, "%s", argv[0]);
	rc = notify_run_alerts(cfg, &m, &e);
	print_notices(&m);
	if (m.n_notices == 0)
		printf("no alert is due for run %s (result %s) with this configuration\n", m.run_id,
		       m.result);
	manifest_free(&m);
	if (rc < 0) {
		log_error("vigil notify %s: %s", argv[0], e.msg);
		return err_exit_code(&e);
	}
	return EXIT_OK;
}
