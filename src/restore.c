/* restore.c - see restore.h. The order of steps is the contract of SPEC
 * section 7: nothing live is touched until every named backup passed
 * validation, the operator confirmed, and the safety copies exist; the new
 * database is complete and its row counts checked inside the loading
 * transaction before it is swapped in (I4).
 *
 * A plain dump restored through a scratch database (the default) is read
 * once: its checksum and start are checked before the confirmation, the
 * rest (full decompression, meta-commands, trailer) while it loads into the
 * scratch database, which nothing live depends on; a failure there is a
 * refusal like any other (exit 2, no safety copy, nothing changed). The
 * safety copies follow the load, right before the swap. --in-place and
 * custom-format archives are validated in a pass of their own first. */
#include "restore.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "backup.h"
#include "catalog.h"
#include "db.h"
#include "db_load.h"
#include "db_swap.h"
#include "dumpscan.h"
#include "list.h"
#include "lock.h"
#include "log.h"
#include "pid1.h"
#include "util.h"
#include "verify.h"

struct ropts {
	const char *db, *media, *target;
	bool yes, no_safety, in_place, list;
};

static int restore_stop(void *ctx)
{
	(void)ctx;
	return pid1_stop_requested();
}

static void restore_warn(void *ctx, const char *rel, const char *what)
{
	(void)ctx;
	log_warn("media restore: %s: %s", rel, what);
}

static void restore_note(void *ctx, const char *what)
{
	(void)ctx;
	log_info("restore media %s", what);
}

/* Staging directories of an interrupted media restore hold only new,
 * incomplete data and go; ".vigil-old-*" may hold live files of an
 * interrupted swap, so it is reported, never deleted. */
static void clean_media_leftovers(const char *media_dir)
{
	DIR *d = opendir(media_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", media_dir, de->d_name);
		if (util_starts_with(de->d_name, ".vigil-restore-")) {
			if (util_rm_rf(p, NULL) == 0)
				log_info("removed %s, left by an interrupted media restore", p);
		} else if (util_starts_with(de->d_name, ".vigil-old-")) {
			log_warn("%s was left by an interrupted media restore and may hold files "
				 "that were live then, under their paths relative to MEDIA_DIR; hint: "
				 "inspect it, move back what is missing, then delete it", p);
		}
	}
	closedir(d);
}

/* ---- options, validation, confirmation ---- */

/* Set *slot from an option once: a second --db, --yes... is a usage error
 * rather than a silent "last one wins". */
static bool once(bool *seen, const char *a)
{
	if (*seen) {
		fprintf(stderr, "vigil restore: %s is given twice\n", a);
		return false;
	}
	*seen = true;
	return true;
}

static int parse(int argc, char **argv, struct ropts *o)
{
	bool seen_db = false, seen_media = false, seen_target = false, seen_yes = false,
	     seen_list = false, seen_nosafety = false, seen_inplace = false;

	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **val = NULL;
		bool *seen = NULL;
		if (!strcmp(a, "--yes") || !strcmp(a, "-y"))
			o->yes = true, seen = &seen_yes;
		else if (!strcmp(a, "--list"))
			o->list = true, seen = &seen_list;
		else if (!strcmp(a, "--no-safety-backup"))
			o->no_safety = true, seen = &seen_nosafety;
		else if (!strcmp(a, "--in-place"))
			o->in_place = true, seen = &seen_inplace;
		else if ((!strcmp(a, "--db") || !strcmp(a, "--media") || !strcmp(a, "--target-db")) &&
			 i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			if (!strcmp(a, "--db"))
				val = &o->db, seen = &seen_db;
			else if (!strcmp(a, "--media"))
				val = &o->media, seen = &seen_media;
			else
				val = &o->target, seen = &seen_target;
			*val = argv[++i];
		} else if (util_starts_with(a, "--db="))
			o->db = a + 5, seen = &seen_db;
		else if (util_starts_with(a, "--media="))
			o->media = a + 8, seen = &seen_media;
		else if (util_starts_with(a, "--target-db="))
			o->target = a + 12, seen = &seen_target;
		else {
			fprintf(stderr, "vigil restore: unknown or incomplete argument %s\n", a);
			return -1;
		}
		if (!once(seen, a))
			return -1;
	}
	if (o->list && (o->db || o->media || o->target || o->yes || o->no_safety || o->in_place)) {
		fprintf(stderr, "vigil restore: --list takes no other option (it is vigil list)\n");
		return -1;
	}
	if (!o->db && !o->media && !o->list) {
		fprintf(stderr, "vigil restore: name what to restore: --db NAME|latest and/or "
			"--media NAME|latest\n");
		return -1;
	}
	if (!o->db && (o->in_place || o->target)) {
		fprintf(stderr, "vigil restore: %s applies to a database restore; add --db NAME|latest\n",
			o->in_place ? "--in-place" : "--target-db");
		return -1;
	}
	return 0;
}

/* psql learnt \restrict in 17.6, 16.10, 15.14, 14.19 and 13.22
 * (CVE-2025-8714); older ones fail on such dumps. */
static bool psql_knows_restrict(int major, int minor)
{
	switch (major) {
	case 13: return minor >= 22;
	case 14: return minor >= 19;
	case 15: return minor >= 14;
	case 16: return minor >= 10;
	case 17: return minor >= 6;
	default: return major >= 18;
	}
}

struct safety {
	const struct config *cfg;
	const struct ropts *o;
	const char *target, *stamp;
	struct mf_artifact *db, *media;
};

/* SPEC section 7 step 4: "pre_restore_<stamp>" copies of the database and
 * the media directory being replaced, made and checked like any backup
 * (unless --no-safety-backup). A target database that does not exist needs
 * none. A db_swap_before_fn. */
static int take_safety_copies(void *ctx, struct err *e)
{
	struct safety *sc = ctx;
	const struct config *cfg = sc->cfg;
	char base[64], dir[UTIL_PATH_MAX];

	if (sc->o->no_safety)
		return 0;
	snprintf(base, sizeof base, "pre_restore_%s", sc->stamp);
	if (sc->o->db) {
		struct db *probe = NULL;
		struct err pe;
		if (db_connect(cfg, sc->target, &probe, &pe) == 0) {
			db_close(probe);
			snprintf(dir, sizeof dir, "%s/db", cfg->backup_dir);
			if (backup_db_file(cfg, sc->target, dir, base, sc->db, e) < 0) {
				err_prefix(e, "safety copy of database %s failed; nothing was changed",
					   sc->target);
				return -1;
			}
			log_info("restore safety copy %s", sc->db->path);
		} else {
			/* Whether it exists comes from the catalog, not from the
			 * connection error's text (the server's, maybe translated). */
			struct db *m = NULL;
			struct err me;
			const char *params[1] = { sc->target };
			char *n = NULL;
			bool exists = true;
			if (db_swap_connect_maintenance(cfg, sc->target, &m, &me) == 0 &&
			    db_query_value(m, "SELECT count(*) FROM pg_catalog.pg_database "
					   "WHERE datname = $1", 1, params, &n, &me) == 0)
				exists = strcmp(n, "0") != 0;
			free(n);
			db_close(m);
			if (exists) {
				*e = pe;
				return -1;
			}
			log_info("restore: database %s does not exist; no safety copy needed",
				 sc->target);
		}
	}
	if (sc->o->media) {
		struct stat st;
		if (stat(cfg->media_dir, &st) == 0) {
			snprintf(dir, sizeof dir, "%s/media", cfg->backup_dir);
			if (backup_media_file(cfg, dir, base, true, sc->media, e) < 0) {
				err_prefix(e, "safety copy of %s failed; nothing was changed",
					   cfg->media_dir);
				return -1;
			}
			log_info("restore safety copy %s", sc->media->path);
		}
	}
	return 0;
}

/* Read one line of the operator's answer from stdin (a terminal) into
 * line (n bytes, without its newline; a longer line is cut). SIGINT and
 * SIGTERM are blocked process-wide and taken with sigtimedwait
 * (pid1_stop_requested), so a blocking read would leave ^C pending until
 * Enter (TRIAL F14): stdin is polled 100 ms at a time between checks for a
 * stop request, or a SIGHUP or SIGQUIT (^\\), which end a prompt too. Returns 0, or -1 with e set: ERR_INTERRUPTED (signo set)
 * on a signal, ERR_REFUSED at end of input (^D), ERR_IO. Nothing has been
 * changed at this point, which the messages say. */
static int read_answer(char *line, size_t n, struct err *e)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		int sig = pid1_stop_requested(), r;

		if (!sig)
			sig = pid1_take_hangup();
		char c;
		ssize_t got;

		if (sig) {
			e->code = ERR_INTERRUPTED;
			e->signo = sig;
			snprintf(e->msg, sizeof e->msg, "stopped by signal %d at the confirmation "
				 "prompt; nothing was changed", sig);
			return -1;
		}
		r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			return err_errno(e, ERR_IO, errno, "cannot read the answer");
		if (r <= 0)
			continue;
		got = read(0, &c, 1);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return err_errno(e, ERR_IO, errno, "cannot read the answer");
		if (got == 0)
			return err_set(e, ERR_REFUSED, "not confirmed; nothing was changed");
		if (c == '\n')
			break;
		if (c != '\r' && len + 1 < n)
			line[len++] = c;
	}
	line[len] = '\0';
	return 0;
}

int restore_main(const struct config *cfg, int argc, char **argv)
{
	struct ropts o;
	struct cat_entry dbe, me;
	struct verify_result dres, mres;
	struct mf_artifact safe_db, safe_media;
	struct err e;
	char stamp[16], dir[UTIL_PATH_MAX];
	const char *target;
	int lockfd = -1, status = 1;
	bool warned = false, db_done = false, one_pass, psql_restrict = false;
	struct safety sc;
	struct db_load_opts lo;
	struct mf_record *recs = NULL;
	size_t nrecs = 0;
	double t0 = util_mono();

	memset(&dres, 0, sizeof dres);
	memset(&mres, 0, sizeof mres);
	memset(&safe_db, 0, sizeof safe_db);
	memset(&safe_media, 0, sizeof safe_media);
	dumpscan_init(&dres.scan);
	dumpscan_init(&mres.scan);
	err_clear(&e);
	if (parse(argc, argv, &o) < 0)
		return 2;
	if (o.list) /* `vigil restore --list` = `vigil list` (SPEC section 2) */
		return list_main(cfg, 0, NULL);
	target = o.target ? o.target : cfg->pg_db;
	/* "postgres" is a target only as the database the backups are of
	 * (POSTGRES_DB=postgres); as --target-db for another database's
	 * backup it is far more likely a slip than a wish to replace it. */
	if (o.db && (!*target || strlen(target) > PG_NAME_MAX || !strcmp(target, "template0") ||
		     !strcmp(target, "template1") ||
		     (!strcmp(target, "postgres") && strcmp(cfg->pg_db, "postgres") != 0))) {
		log_error("restore refused: \"%s\" cannot be a restore target (empty, longer than "
			  "63 bytes, a template, or the maintenance database postgres when "
			  "POSTGRES_DB is another database)", target);
		return 2;
	}
	if (o.media && !cfg->media_dir[0]) {
		log_error("restore refused: --media given but MEDIA_DIR is empty (media disabled)");
		return 2;
	}
	for (int k = 0; k < 3; k++) {
		static const char *const subs[] = { "", "/db", "/media" };
		snprintf(dir, sizeof dir, "%s%s", cfg->backup_dir, subs[k]);
		if (util_mkdir_p(dir, backup_dir_mode(cfg), &e) < 0) {
			log_error("restore failed: %s", e.msg);
			return 1;
		}
	}
	lockfd = lock_take(cfg->backup_dir, &e);
	if (lockfd < 0) {
		log_error("restore not started: %s", e.msg);
		return err_exit_code(&e);
	}
	log_info("restore start db=%s media=%s target=%s%s", o.db ? o.db : "-",
		 o.media ? o.media : "-", o.db ? target : "-", o.in_place ? " in-place" : "");

	/* 1-2: resolve and validate everything before touching anything. */
	recs = verify_records_load(cfg, &nrecs);
	if (o.db && catalog_resolve(cfg, CAT_DB, o.db, &dbe, &e) < 0)
		goto refused;
	if (o.media && catalog_resolve(cfg, CAT_MEDIA, o.media, &me, &e) < 0)
		goto refused;
	/* A plain dump restored through a scratch database is validated in
	 * one pass with its load: checksum and the start now, the rest as it
	 * is fed, before the swap and before any safety copy (db_load()). */
	one_pass = o.db && !dbe.custom && !o.in_place;
	if (o.db) {
		log_info("restore validating %s%s", dbe.path, one_pass ? " (checksum and header; "
			 "the rest while loading into a scratch database)" : "");
		if ((one_pass ? verify_plain_head(dbe.path, dbe.codec, &dres, &e)
			      : verify_path(dbe.path, CAT_DB, dbe.codec, dbe.custom, true, &dres, &e)) < 0) {
			err_prefix(&e, "%s failed validation", dbe.name);
			goto refused;
		}
		if (verify_against_record(recs, nrecs, &dbe, dres.sha256, &e) < 0)
			goto refused;
		if (!dbe.custom) {
			int major, minor;
			char v[32];
			if (db_tool_version("psql", &major, &minor, v, sizeof v, &e) < 0)
				goto failed;
			psql_restrict = psql_knows_restrict(major, minor);
			if (!psql_restrict)
				log_warn("psql %s predates \\restrict (13.22, 14.19, 15.14, 16.10, 17.6): "
					 "only vigil's own scan keeps psql meta-commands out of the load", v);
			if (dres.scan.has_restrict && !psql_knows_restrict(major, minor)) {
				err_set(&e, ERR_REFUSED,
					"%s contains \\restrict lines (written by pg_dump 17.6, 16.10, 15.14, "
					"14.19, 13.22 or later) that psql %s does not understand; hint: "
					"restore with a newer psql of the same major version", dbe.name, v);
				goto refused;
			}
		}
	}
	if (o.media) {
		log_info("restore validating %s", me.path);
		if (verify_path(me.path, CAT_MEDIA, me.codec, false, true, &mres, &e) < 0) {
			err_prefix(&e, "%s failed validation", me.name);
			goto refused;
		}
		if (verify_against_record(recs, nrecs, &me, mres.sha256, &e) < 0)
			goto refused;
		/* A restore replaces every entry of MEDIA_DIR: an archive without
		 * a single regular file (a backup of an unmounted volume, a
		 * hand-made end-of-archive marker) would leave it empty, so it is
		 * refused unless emptiness is expected (issue 9). */
		if (mres.media.files == 0) {
			if (!cfg->media_allow_empty) {
				err_set(&e, ERR_REFUSED, "%s: the archive holds no files: restoring it "
					"would empty MEDIA_DIR %s; hint: pick another backup with "
					"vigil list, or set MEDIA_ALLOW_EMPTY=true to restore it anyway",
					me.name, cfg->media_dir);
				goto refused;
			}
			log_warn("%s holds no files: MEDIA_DIR %s will be emptied "
				 "(MEDIA_ALLOW_EMPTY=true)", me.name, cfg->media_dir);
		}
		if (me.suspect[0])
			log_warn("%s is suspect (%s, by its run manifest): restoring it as asked "
				 "(%llu files); hint: vigil list shows the backups before it",
				 me.name, me.suspect, (unsigned long long)mres.media.files);
		{
			const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
			struct media_opts mo = { .root = cfg->media_dir, .skip_dirs = skip,
						 .n_skip_dirs = 2 };
			if (archive_media_restore_check(&mo, &e) < 0)
				goto refused;
		}
	}

	/* 3: confirmation. */
	if (!o.yes) {
		char what[600], line[512];
		if (!isatty(0)) {
			err_set(&e, ERR_REFUSED, "not on a terminal: add --yes to confirm the restore");
			goto refused;
		}
		snprintf(what, sizeof what, "%s%s%s", o.db ? "database " : "", o.db ? target : "",
			 o.media ? (o.db ? " and the media directory" : "the media directory") : "");
		fprintf(stderr, "This replaces %s. Type the database name (%s) to continue: ", what,
			target);
		fflush(stderr);
		if (read_answer(line, sizeof line, &e) < 0) {
			fputc('\n', stderr);
			goto refused;
		}
		if (strcmp(line, target) != 0) {
			err_set(&e, ERR_REFUSED, "not confirmed; nothing was changed");
			goto refused;
		}
	}

	/* 4-5: safety copies and the database. Through a scratch database the
	 * copies are taken after the load, right before the swap: a dump that
	 * fails its checks while loading leaves no copy behind, and the copy
	 * holds the live data as of the swap. */
	util_stamp_local(time(NULL), stamp);
	sc = (struct safety){ cfg, &o, target, stamp, &safe_db, &safe_media };
	if (!(o.db && !o.in_place) && take_safety_copies(&sc, &e) < 0)
		goto failed;
	if (o.db) {
		int r;
		lo = (struct db_load_opts){ .sha = dres.sha256, .in_place = o.in_place,
					 .validated = !one_pass, .restrict_psql = psql_restrict,
					 .locks = dres.scan.lock_objects };
		dumpscan_free(&dres.scan);
		dumpscan_init(&dres.scan);
		if (o.in_place) {
			struct db *probe = NULL;
			struct err pe;
			if (db_connect(cfg, target, &probe, &pe) == 0) {
				lo.server_major = db_server_version_num(probe) / 10000;
				lo.have_cap = db_lock_capacity(probe, &lo.cap, &pe) == 0;
				db_close(probe);
			}
			log_info("restore loading into %s in place (one transaction)", target);
			r = db_load(cfg, &dbe, target, &lo, &dres.scan, &e);
		} else {
			r = db_swap_restore(cfg, &dbe, target, &lo, &dres.scan, stamp,
					    take_safety_copies, &sc, &warned, &e);
		}
		if (r < 0) {
			if (e.code == ERR_CORRUPT) {
				err_prefix(&e, "%s failed validation while loading; %s is unchanged",
					   dbe.name, target);
				goto refused;
			}
			goto failed;
		}
		db_done = true;
		log_info("restore database done target=%s file=%s tables=%zu rows=%llu", target,
			 dbe.name, dres.scan.n_tables,
			 (unsigned long long)dumpscan_total_rows(&dres.scan));
	}

	/* 6: the media directory. */
	if (o.media) {
		struct media_opts mo;
		struct media_stats ms;
		struct stream_reader *r = NULL;
		const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
		int fd, rc;

		if (util_mkdir_p(cfg->media_dir, 0755, &e) < 0)
			goto failed;
		clean_media_leftovers(cfg->media_dir);
		memset(&mo, 0, sizeof mo);
		memset(&ms, 0, sizeof ms);
		mo.root = cfg->media_dir;
		mo.skip_dirs = skip;
		mo.n_skip_dirs = 2;
		mo.stop = restore_stop;
		mo.warn = restore_warn;
		mo.note = restore_note;
		fd = open(me.path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err_errno(&e, ERR_IO, errno, "cannot open %s", me.path);
			goto failed;
		}
		rc = stream_reader_open(&r, fd, me.codec, &e);
		if (rc == 0) {
			log_progress_start("media");
			rc = archive_media_restore(&mo, r, &ms, &e);
			log_progress_end();
		}
		stream_reader_free(r);
		close(fd);
		if (rc < 0) {
			if (db_done)
				err_prefix(&e, "the database WAS restored, but the media restore failed "
					   "and the media directory is unchanged");
			else if (e.code != ERR_INTERRUPTED && !strstr(e.msg, "could not be moved back"))
				err_prefix(&e, "the media directory is unchanged");
			goto failed;
		}
		log_info("restore media done dir=%s file=%s files=%llu warnings=%llu", cfg->media_dir,
			 me.name, (unsigned long long)ms.files, (unsigned long long)ms.warnings);
		if (ms.warnings)
			warned = true;
		mres.media = ms;
	}

	/* 7: summary. */
	printf("restore complete in %.1f s\n", util_mono() - t0);
	if (o.db) {
		printf("  database %s  from %s%s\n", target, dbe.name, o.in_place ? " (in place)" : "");
		for (size_t i = 0; i < dres.scan.n_tables; i++)
		{
			const char *name = dres.scan.tables[i].name;
			size_t w = util_display_width(name);
			printf("    %s%*s %llu rows\n", name, w < 50 ? (int)(50 - w) : 0, "",
			       (unsigned long long)dres.scan.tables[i].rows);
		}
		printf("    %zu tables, %llu rows\n", dres.scan.n_tables,
		       (unsigned long long)dumpscan_total_rows(&dres.scan));
	}
	if (o.media)
		printf("  media    %s  from %s: %llu files, %llu directories, %llu symlinks\n",
		       cfg->media_dir, me.name, (unsigned long long)mres.media.files,
		       (unsigned long long)mres.media.dirs, (unsigned long long)mres.media.symlinks);
	if (safe_db.path[0] || safe_media.path[0])
		printf("  safety copies: %s%s%s\n", safe_db.path,
		       safe_db.path[0] && safe_media.path[0] ? " " : "", safe_media.path);
	status = warned ? 3 : 0;
	log_info("restore done exit=%d secs=%.1f", status, util_mono() - t0);
	goto out;
refused:
	if (e.code == ERR_INTERRUPTED)
		goto failed;
	log_error("restore refused: %s", e.msg);
	status = e.code == ERR_LOCKED ? 75 : 2;
	if (e.code == ERR_IO || e.code == ERR_INTERNAL)
		status = 1;
	goto out;
failed:
	log_error("restore failed: %s", e.msg);
	status = e.code == ERR_INTERRUPTED ? err_exit_code(&e) : 1;
out:
	free(recs);
	dumpscan_free(&dres.scan);
	dumpscan_free(&mres.scan);
	{
		struct manifest tmp = { .n_art = 2 };
		tmp.art[0] = safe_db;
		tmp.art[1] = safe_media;
		manifest_free(&tmp);
	}
	lock_release(lockfd);
	return status;
}