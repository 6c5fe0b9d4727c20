/* verify.c - `vigil verify`: which files, one line per file, the lock
 * table warning and the exit status; the checks are verify.c's. */
#include "cmd/cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/catalog.h"
#include "infra/db.h"
#include "base/log.h"
#include "infra/manifest.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "pipeline/verify.h"

#define VERIFY_LOCKS_ALWAYS_FIT 1024

/* The server's lock settings for verify_main, read once per command. */
struct lock_probe {
	bool tried, ok;
	struct db_lock_cap cap;
};

static void check_locks(const struct config *cfg, struct lock_probe *p, const struct cat_entry *ent,
			uint64_t needed)
{
	char text[600];

	/* Below what any server with the default max_locks_per_transaction
	 * (64) and 16 connections holds, the check costs no connection. */
	if (needed <= VERIFY_LOCKS_ALWAYS_FIT)
		return;
	if (!p->tried) {
		struct db *db = NULL;
		struct err e;
		p->tried = true;
		err_clear(&e);
		if (db_connect(cfg, NULL, &db, &e) == 0 || db_connect(cfg, "template1", &db, &e) == 0)
			p->ok = db_lock_capacity(db, &p->cap, &e) == 0;
		if (!p->ok)
			log_info("verify: cannot read the server's lock settings (%s); the check "
				 "whether a backup fits one transaction is skipped", e.msg);
		db_close(db);
	}
	if (p->ok && verify_lock_shortfall(needed, &p->cap, text, sizeof text)) {
		log_warn("verify %s: %s", ent->name, text);
		printf("warning %-5s %s: %s\n", "db", ent->name, text);
	}
}

static int verify_entry(const struct config *cfg, struct lock_probe *lp, const struct mf_record *recs,
			size_t nrecs, const struct cat_entry *ent)
{
	struct verify_result res;
	struct err e;
	char size[32];
	double t0 = util_mono();
	int rc;

	err_clear(&e);
	rc = verify_path(ent->path, ent->kind, ent->codec, ent->custom, true, &res, &e);
	if (rc == 0)
		rc = verify_against_record(recs, nrecs, ent, res.sha256, &e);
	util_human_bytes(ent->size, size);
	if (rc < 0 && e.code == ERR_INTERRUPTED) {
		/* Not a verdict on the file: say it was not finished; verify_main
		 * ends with the stop's exit status. */
		log_warn("verify of %s not finished: %s", ent->name, e.msg);
		printf("stopped %-5s %s\n", catalog_kind_name(ent->kind), ent->name);
	} else if (rc < 0) {
		log_error("verify failed kind=%s file=%s: %s", catalog_kind_name(ent->kind), ent->name,
			  e.msg);
		printf("FAILED  %-5s %s: %s\n", catalog_kind_name(ent->kind), ent->name, e.msg);
	} else {
		log_info("verify ok kind=%s file=%s bytes=%llu raw_bytes=%llu secs=%.1f",
			 catalog_kind_name(ent->kind), ent->name, (unsigned long long)ent->size,
			 (unsigned long long)res.raw_bytes, util_mono() - t0);
		if (ent->kind == CAT_DB && !ent->custom)
			printf("ok      %-5s %s (%s, %zu tables, %llu rows)\n", "db", ent->name, size,
			       res.scan.n_tables, (unsigned long long)dumpscan_total_rows(&res.scan));
		else if (ent->kind == CAT_MEDIA)
			printf("ok      %-5s %s (%s, %llu files)\n", "media", ent->name, size,
			       (unsigned long long)res.media.files);
		else
			printf("ok      %-5s %s (%s)\n", "db", ent->name, size);
		if (ent->kind == CAT_DB && res.scan.lock_objects)
			check_locks(cfg, lp, ent, res.scan.lock_objects);
	}
	fflush(stdout);
	dumpscan_free(&res.scan);
	return rc;
}

/* The signal of a stop request (SIGINT/SIGTERM), 0 when none. verify has
 * no run deadline, so PID1_DEADLINE cannot come. */
static int stopped(void)
{
	int sig = pid1_stop_requested();

	return sig == PID1_DEADLINE ? 0 : sig;
}

int verify_main(const struct config *cfg, int argc, char **argv)
{
	const char *what = "latest";
	struct cat_entry *v = NULL, one;
	struct mf_record *recs = NULL;
	size_t n = 0, nrecs = 0;
	struct err e;
	struct lock_probe lp = { false, false, { 0, 0, 0 } };
	int failed = 0, checked = 0;
	bool named = false;

	err_clear(&e);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--deep") == 0) {
			fprintf(stderr, "vigil verify: --deep (restore drill) is not implemented in this "
				"version\n");
			return EXIT_REFUSED;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "vigil verify: unknown option %s\n", argv[i]);
			return EXIT_REFUSED;
		}
		if (named) {
			fprintf(stderr, "vigil verify: give one NAME, latest or all (got %s and %s)\n",
				what, argv[i]);
			return EXIT_REFUSED;
		}
		what = argv[i];
		named = true;
	}
	recs = verify_records_load(cfg, &nrecs);
	if (strcmp(what, "all") == 0) {
		if (catalog_scan_recs(cfg, -1, recs, nrecs, &v, &n, &e) < 0) {
			log_error("verify: %s", e.msg);
			free(recs);
			return EXIT_FAILED;
		}
		for (size_t i = 0; i < n && !stopped(); i++, checked++)
			failed += verify_entry(cfg, &lp, recs, nrecs, &v[i]) < 0;
		free(v);
	} else if (strcmp(what, "latest") == 0) {
		for (int k = CAT_DB; k <= CAT_MEDIA && !stopped(); k++) {
			if (catalog_resolve(cfg, (enum cat_kind)k, "latest", &one, &e) == 0) {
				failed += verify_entry(cfg, &lp, recs, nrecs, &one) < 0;
				checked++;
			} else if (e.code != ERR_REFUSED) {
				/* Not "no backup of this kind" but a directory that
				 * cannot be read: a failure, never "no backups found". */
				log_error("verify: %s", e.msg);
				failed++;
				checked++;
			}
		}
	} else {
		struct err e_db;
		if (catalog_resolve(cfg, CAT_DB, what, &one, &e_db) < 0 &&
		    catalog_resolve(cfg, CAT_MEDIA, what, &one, &e) < 0) {
			/* Report the kind the name looks like. */
			log_error("verify: %s", strstr(what, ".tar") ? e.msg : e_db.msg);
			free(recs);
			return EXIT_REFUSED;
		}
		failed += verify_entry(cfg, &lp, recs, nrecs, &one) < 0;
		checked++;
	}
	free(recs);
	if (stopped()) {
		/* SIGINT/SIGTERM: the exit status says so (128+N), as for
		 * every command, not "a file failed". */
		log_error("verify stopped by signal %d after %d checked", stopped(), checked);
		return exit_for_signal(stopped());
	}
	if (checked == 0) {
		log_error("verify: no backups found in %s", cfg->backup_dir);
		return EXIT_FAILED;
	}
	printf("%d checked, %d failed\n", checked, failed);
	return failed ? EXIT_FAILED : EXIT_OK;
}
