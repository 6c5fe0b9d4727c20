/* prune.c - `vigil prune [--dry-run]`: the retention plan, printed, and
 * carried out unless --dry-run (README "Retention", cmd.h). */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "pipeline/prune.h"

/* Print r: one line per file, "ACTION  PATH  REASON" aligned, newest first
 * per kind (prune_execute's order), then the warnings and a summary. */
static void print_report(const struct prune_report *r, bool dry_run)
{
	size_t width = 0, kept = 0, planned = 0;
	uint64_t planned_bytes = 0;
	char size[32];

	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->v[i].rel) > width)
			width = strlen(r->v[i].rel);
	for (size_t i = 0; i < r->n; i++) {
		const struct prune_line *l = &r->v[i];
		const char *what = !l->del ? "KEEP" : l->failed ? "FAILED" : "DELETE";
		printf("%-6s  %-*s  %s%s%s\n", what, (int)width, l->rel, l->reason,
		       l->failed ? ": cannot delete: " : "", l->failed ? l->error : "");
		if (!l->del && strcmp(l->kind, "runs") != 0)
			kept++;
		if (l->del) {
			planned++;
			planned_bytes += l->bytes;
		}
	}
	for (size_t i = 0; i < r->n_warn; i++)
		printf("warning: %s\n", r->warn[i]);
	if (dry_run) {
		util_human_bytes(planned_bytes, size);
		printf("dry run: %zu to delete (%s), %zu backup(s) kept; nothing was deleted\n",
		       planned, size, kept);
	} else {
		util_human_bytes(r->bytes_deleted, size);
		printf("pruned: %zu deleted (%s), %zu backup(s) kept, %zu failed\n", r->n_deleted, size,
		       kept, r->n_failed);
	}
}

int prune_main(const struct config *cfg, int argc, char **argv)
{
	bool dry_run = false;
	struct prune_report r;
	struct err e;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 && !dry_run) {
			dry_run = true;
			continue;
		}
		fprintf(stderr, "vigil prune: unknown or repeated argument %s\n"
			"usage: vigil prune [--dry-run]\n", argv[i]);
		return EXIT_REFUSED;
	}
	err_clear(&e);
	rc = prune_command(cfg, dry_run, &r, &e);
	if (rc < 0 && e.code == ERR_LOCKED) {
		log_warn("prune not started: %s", e.msg);
		prune_report_free(&r);
		return err_exit_code(&e);
	}
	print_report(&r, dry_run);
	if (rc < 0)
		log_error("prune failed: %s", e.msg);
	else if (r.n_failed)
		log_error("prune failed: %zu file(s) could not be deleted", r.n_failed);
	rc = rc < 0 || r.n_failed ? EXIT_FAILED : EXIT_OK;
	prune_report_free(&r);
	return rc;
}
