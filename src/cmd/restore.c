/* restore.c - `vigil restore` (cmd.h). The order of steps is the contract of README
 * "A restore": nothing live is touched until every named backup passed
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

#include "cmd/cmd.h"

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

#include "pipeline/media.h"
#include "pipeline/backup.h"
#include "pipeline/catalog.h"
#include "infra/db.h"
#include "pipeline/db_load.h"
#include "pipeline/db_swap.h"
#include "pipeline/dumpscan.h"
#include "infra/lock.h"
#include "base/log.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "pipeline/verify.h"

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
			struct err e;
			if (util_rm_rf(p, &e) == 0)
				log_info("removed %s, left by an interrupted media restore", p);
			else
				log_warn("cannot remove %s, left by an interrupted media restore: %s; "
					 "hint: it holds no live file, delete it by hand", p, e.msg);
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

/* README "A restore" step 4: "pre_restore_<stamp>" copies of the database and
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

/* One restore: what was asked, what was resolved and validated, and what
 * has been done so far. */
struct restore {
	const struct config *cfg;
	struct ropts o;
	const char *target;
	struct cat_entry dbe, me;
	struct verify_result dres, mres;
	struct mf_artifact safe_db, safe_media;
	struct mf_record *recs;
	size_t nrecs;
	char stamp[16];
	bool one_pass;      /* a plain dump validated while it loads */
	bool psql_restrict; /* the load runs psql restricted */
	bool warned;        /* exit 3 */
	bool db_done;       /* the database was restored */
	struct safety sc;
	double t_deadline;  /* util_mono() when BACKUP_RUN_TIMEOUT began to count */
};

/* How a step of the restore ended: go on, refused (exit 2 as a rule;
 * nothing was changed) or failed (exit 1 or 128+N). e holds why. */
enum step { STEP_ON = 0, STEP_REFUSED, STEP_FAILED };

/* A target that cannot be one, or --media without a media directory:
 * logged, and true (exit 2). */
static bool refuse_request(const struct config *cfg, const struct ropts *o, const char *target)
{
	/* "postgres" is a target only as the database the backups are of
	 * (POSTGRES_DB=postgres); as --target-db for another database's
	 * backup it is far more likely a slip than a wish to replace it. */
	if (o->db && (!*target || strlen(target) > PG_NAME_MAX || !strcmp(target, "template0") ||
		      !strcmp(target, "template1") ||
		      (!strcmp(target, "postgres") && strcmp(cfg->pg_db, "postgres") != 0))) {
		log_error("restore refused: \"%s\" cannot be a restore target (empty, longer than "
			  "63 bytes, a template, or the maintenance database postgres when "
			  "POSTGRES_DB is another database)", target);
		return true;
	}
	if (o->media && !cfg->media_dir[0]) {
		log_error("restore refused: --media given but MEDIA_DIR is empty (media disabled)");
		return true;
	}
	return false;
}

/* 1-2 for the database: validate the resolved dump (in one pass with the
 * load, see the top of this file, or in a pass of its own) and the psql
 * that will load it. */
static enum step validate_db(struct restore *rs, struct err *e)
{
	/* A plain dump restored through a scratch database is validated in
	 * one pass with its load: checksum and the start now, the rest as it
	 * is fed, before the swap and before any safety copy (db_load()). */
	rs->one_pass = !rs->dbe.custom && !rs->o.in_place;
	log_info("restore validating %s%s", rs->dbe.path, rs->one_pass ? " (checksum and header; "
		 "the rest while loading into a scratch database)" : "");
	if ((rs->one_pass ? verify_plain_head(rs->dbe.path, rs->dbe.codec, &rs->dres, e)
			  : verify_path(rs->dbe.path, CAT_DB, rs->dbe.codec, rs->dbe.custom, true,
					&rs->dres, e)) < 0) {
		err_prefix(e, "%s failed validation", rs->dbe.name);
		return STEP_REFUSED;
	}
	if (verify_against_record(rs->recs, rs->nrecs, &rs->dbe, rs->dres.sha256, e) < 0)
		return STEP_REFUSED;
	if (!rs->dbe.custom) {
		int major, minor;
		char v[32];
		if (db_tool_version("psql", &major, &minor, v, sizeof v, e) < 0)
			return STEP_FAILED;
		rs->psql_restrict = psql_knows_restrict(major, minor);
		if (!rs->psql_restrict)
			log_warn("psql %s predates \\restrict (13.22, 14.19, 15.14, 16.10, 17.6): "
				 "only vigil's own scan keeps psql meta-commands out of the load", v);
		if (rs->dres.scan.has_restrict && !psql_knows_restrict(major, minor)) {
			err_set(e, ERR_REFUSED,
				"%s contains \\restrict lines (written by pg_dump 17.6, 16.10, 15.14, "
				"14.19, 13.22 or later) that psql %s does not understand; hint: "
				"restore with a newer psql of the same major version", rs->dbe.name, v);
			return STEP_REFUSED;
		}
	}
	return STEP_ON;
}

/* 1-2 for the media directory: validate the resolved archive; refuse an
 * empty one unless MEDIA_ALLOW_EMPTY, and a MEDIA_DIR with mount points
 * below it. */
static enum step validate_media(struct restore *rs, struct err *e)
{
	const struct config *cfg = rs->cfg;

	log_info("restore validating %s", rs->me.path);
	if (verify_path(rs->me.path, CAT_MEDIA, rs->me.codec, false, true, &rs->mres, e) < 0) {
		err_prefix(e, "%s failed validation", rs->me.name);
		return STEP_REFUSED;
	}
	if (verify_against_record(rs->recs, rs->nrecs, &rs->me, rs->mres.sha256, e) < 0)
		return STEP_REFUSED;
	/* A restore replaces every entry of MEDIA_DIR: an archive without
	 * a single regular file (a backup of an unmounted volume, a
	 * hand-made end-of-archive marker) would leave it empty, so it is
	 * refused unless emptiness is expected (issue 9). */
	if (rs->mres.media.files == 0) {
		if (!cfg->media_allow_empty) {
			err_set(e, ERR_REFUSED, "%s: the archive holds no files: restoring it "
				"would empty MEDIA_DIR %s; hint: pick another backup with "
				"vigil list, or set MEDIA_ALLOW_EMPTY=true to restore it anyway",
				rs->me.name, cfg->media_dir);
			return STEP_REFUSED;
		}
		log_warn("%s holds no files: MEDIA_DIR %s will be emptied "
			 "(MEDIA_ALLOW_EMPTY=true)", rs->me.name, cfg->media_dir);
	}
	if (rs->me.suspect[0])
		log_warn("%s is suspect (%s, by its run manifest): restoring it as asked "
			 "(%llu files); hint: vigil list shows the backups before it",
			 rs->me.name, rs->me.suspect, (unsigned long long)rs->mres.media.files);
	{
		const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
		struct media_opts mo = { .root = cfg->media_dir, .skip_dirs = skip,
					 .n_skip_dirs = 2 };
		if (media_restore_check(&mo, e) < 0)
			return STEP_REFUSED;
	}
	return STEP_ON;
}

/* 3: the operator types the target's name (without --yes). */
static enum step confirm(const struct restore *rs, struct err *e)
{
	char what[600], line[512];
	double asked = util_mono();
	int r;

	if (!isatty(0)) {
		err_set(e, ERR_REFUSED, "not on a terminal: add --yes to confirm the restore");
		return STEP_REFUSED;
	}
	snprintf(what, sizeof what, "%s%s%s", rs->o.db ? "database " : "",
		 rs->o.db ? rs->target : "",
		 rs->o.media ? (rs->o.db ? " and the media directory" : "the media directory") : "");
	fprintf(stderr, "This replaces %s. Type the database name (%s) to continue: ", what,
		rs->target);
	fflush(stderr);
	/* The operator's time at the prompt does not count against
	 * BACKUP_RUN_TIMEOUT: the deadline is off while vigil waits for the
	 * answer and resumes with what was left of it. */
	pid1_set_deadline(0);
	r = read_answer(line, sizeof line, e);
	if (rs->cfg->run_timeout > 0) {
		long left = rs->cfg->run_timeout - (long)(asked - rs->t_deadline);
		pid1_set_deadline(left > 0 ? left : 1);
	}
	if (r < 0) {
		fputc('\n', stderr);
		return STEP_REFUSED;
	}
	if (strcmp(line, rs->target) != 0) {
		err_set(e, ERR_REFUSED, "not confirmed; nothing was changed");
		return STEP_REFUSED;
	}
	return STEP_ON;
}

/* 5: the database, in place or through a scratch database (whose swap
 * takes the safety copies, step 4, right before it). */
static enum step restore_database(struct restore *rs, struct err *e)
{
	const struct config *cfg = rs->cfg;
	struct db_load_opts lo;
	int r;

	lo = (struct db_load_opts){ .sha = rs->dres.sha256, .in_place = rs->o.in_place,
				    .validated = !rs->one_pass, .restrict_psql = rs->psql_restrict,
				    .locks = rs->dres.scan.lock_objects };
	dumpscan_free(&rs->dres.scan);
	dumpscan_init(&rs->dres.scan);
	if (rs->o.in_place) {
		struct db *probe = NULL;
		struct err pe;
		if (db_connect(cfg, rs->target, &probe, &pe) == 0) {
			lo.server_major = db_server_version_num(probe) / 10000;
			lo.have_cap = db_lock_capacity(probe, &lo.cap, &pe) == 0;
			db_close(probe);
		}
		log_info("restore loading into %s in place (one transaction)", rs->target);
		r = db_load(cfg, &rs->dbe, rs->target, &lo, &rs->dres.scan, e);
	} else {
		r = db_swap_restore(cfg, &rs->dbe, rs->target, &lo, &rs->dres.scan, rs->stamp,
				    take_safety_copies, &rs->sc, &rs->warned, e);
	}
	if (r < 0) {
		if (e->code == ERR_CORRUPT) {
			err_prefix(e, "%s failed validation while loading; %s is unchanged",
				   rs->dbe.name, rs->target);
			return STEP_REFUSED;
		}
		return STEP_FAILED;
	}
	rs->db_done = true;
	log_info("restore database done target=%s file=%s tables=%zu rows=%llu", rs->target,
		 rs->dbe.name, rs->dres.scan.n_tables,
		 (unsigned long long)dumpscan_total_rows(&rs->dres.scan));
	return STEP_ON;
}

/* 6: the media directory. */
static enum step restore_media(struct restore *rs, struct err *e)
{
	const struct config *cfg = rs->cfg;
	struct media_opts mo;
	struct media_stats ms;
	struct stream_reader *r = NULL;
	const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
	int fd, rc;

	if (util_mkdir_p(cfg->media_dir, 0755, e) < 0)
		return STEP_FAILED;
	clean_media_leftovers(cfg->media_dir);
	memset(&mo, 0, sizeof mo);
	memset(&ms, 0, sizeof ms);
	mo.root = cfg->media_dir;
	mo.skip_dirs = skip;
	mo.n_skip_dirs = 2;
	mo.stop = restore_stop;
	mo.warn = restore_warn;
	mo.note = restore_note;
	fd = open(rs->me.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_errno(e, ERR_IO, errno, "cannot open %s", rs->me.path);
		return STEP_FAILED;
	}
	rc = stream_reader_open(&r, fd, rs->me.codec, e);
	if (rc == 0) {
		log_progress_start("media");
		rc = media_restore(&mo, r, &ms, e);
		log_progress_end();
	}
	stream_reader_free(r);
	close(fd);
	if (rc < 0) {
		/* Whether MEDIA_DIR is as it was comes from the extractor's
		 * count of entries its rollback could not move back, not from
		 * the wording of its message. */
		if (rs->db_done)
			err_prefix(e, "the database WAS restored, but the media restore failed%s",
				   ms.not_moved_back ? "" : " and the media directory is unchanged");
		else if (e->code != ERR_INTERRUPTED && !ms.not_moved_back)
			err_prefix(e, "the media directory is unchanged");
		return STEP_FAILED;
	}
	log_info("restore media done dir=%s file=%s files=%llu warnings=%llu", cfg->media_dir,
		 rs->me.name, (unsigned long long)ms.files, (unsigned long long)ms.warnings);
	if (ms.warnings)
		rs->warned = true;
	rs->mres.media = ms;
	return STEP_ON;
}

/* 7: what was restored, on stdout. */
static void print_summary(const struct restore *rs, double t0)
{
	const struct config *cfg = rs->cfg;

	printf("restore complete in %.1f s\n", util_mono() - t0);
	if (rs->o.db) {
		printf("  database %s  from %s%s\n", rs->target, rs->dbe.name,
		       rs->o.in_place ? " (in place)" : "");
		for (size_t i = 0; i < rs->dres.scan.n_tables; i++)
		{
			const char *name = rs->dres.scan.tables[i].name;
			size_t w = util_display_width(name);
			printf("    %s%*s %llu rows\n", name, w < 50 ? (int)(50 - w) : 0, "",
			       (unsigned long long)rs->dres.scan.tables[i].rows);
		}
		printf("    %zu tables, %llu rows\n", rs->dres.scan.n_tables,
		       (unsigned long long)dumpscan_total_rows(&rs->dres.scan));
	}
	if (rs->o.media)
		printf("  media    %s  from %s: %llu files, %llu directories, %llu symlinks\n",
		       cfg->media_dir, rs->me.name, (unsigned long long)rs->mres.media.files,
		       (unsigned long long)rs->mres.media.dirs,
		       (unsigned long long)rs->mres.media.symlinks);
	if (rs->safe_db.path[0] || rs->safe_media.path[0])
		printf("  safety copies: %s%s%s\n", rs->safe_db.path,
		       rs->safe_db.path[0] && rs->safe_media.path[0] ? " " : "", rs->safe_media.path);
}

/* A backup file (and its .sha256, when there is one) must open for
 * reading as this process before anything else happens: an old backup
 * left by a run as root with mode 0600 is refused here with its errno
 * (EACCES), naming the file, not found halfway through (field case C13
 * (e)). Returns 0 or -1 with e set (ERR_IO: exit 1, nothing changed). */
static int check_readable(const char *path, struct err *e)
{
	char sum[UTIL_PATH_MAX + 8];
	const char *p[2] = { path, sum };
	char owner[96], me[48];

	snprintf(sum, sizeof sum, "%s.sha256", path);
	for (int i = 0; i < 2; i++) {
		int fd = open(p[i], O_RDONLY | O_CLOEXEC), err = errno;
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (i == 1 && err == ENOENT)
			break; /* no checksum file: verify says what that means */
		util_path_facts(p[i], owner, sizeof owner, me, sizeof me);
		err_errno(e, ERR_IO, err, "cannot read %s%s as %s", p[i], owner, me);
		if (err == EACCES || err == EPERM)
			err_suffix(e, "; nothing was changed; hint: run the restore as root (docker "
				   "compose exec -u 0 backup vigil restore ...), or give the file to "
				   "this user or group on the host (chown, chmod g+r)");
		return -1;
	}
	return 0;
}

/* Steps 1-7 of README "A restore", under the run lock. */
static enum step restore_steps(struct restore *rs, double t0, struct err *e)
{
	const struct config *cfg = rs->cfg;
	enum step st;

	/* 1-2: resolve and validate everything before touching anything. */
	rs->recs = verify_records_load(cfg, &rs->nrecs);
	if (rs->o.db && catalog_resolve(cfg, CAT_DB, rs->o.db, &rs->dbe, e) < 0)
		return STEP_REFUSED;
	if (rs->o.media && catalog_resolve(cfg, CAT_MEDIA, rs->o.media, &rs->me, e) < 0)
		return STEP_REFUSED;
	if ((rs->o.db && check_readable(rs->dbe.path, e) < 0) ||
	    (rs->o.media && check_readable(rs->me.path, e) < 0))
		return STEP_FAILED;
	if (rs->o.db && (st = validate_db(rs, e)) != STEP_ON)
		return st;
	if (rs->o.media && (st = validate_media(rs, e)) != STEP_ON)
		return st;
	/* 3: confirmation. */
	if (!rs->o.yes && (st = confirm(rs, e)) != STEP_ON)
		return st;
	/* 4-5: safety copies and the database. Through a scratch database the
	 * copies are taken after the load, right before the swap: a dump that
	 * fails its checks while loading leaves no copy behind, and the copy
	 * holds the live data as of the swap. */
	util_stamp_local(time(NULL), rs->stamp);
	rs->sc = (struct safety){ cfg, &rs->o, rs->target, rs->stamp, &rs->safe_db,
				  &rs->safe_media };
	if (!(rs->o.db && !rs->o.in_place) && take_safety_copies(&rs->sc, e) < 0)
		return STEP_FAILED;
	if (rs->o.db && (st = restore_database(rs, e)) != STEP_ON)
		return st;
	/* 6: the media directory. */
	if (rs->o.media && (st = restore_media(rs, e)) != STEP_ON)
		return st;
	/* 7: summary. */
	print_summary(rs, t0);
	return STEP_ON;
}

/* The exit status for how the steps ended, logging a refusal or failure.
 * A step ended by the deadline (pid1_stop_requested gave PID1_DEADLINE)
 * failed with ERR_TIMEOUT (exit 1): no operator stopped it. */
static int restore_status(const struct restore *rs, enum step st, struct err *e, double t0)
{
	int status;

	if (st == STEP_ON) {
		status = rs->warned ? EXIT_WARNINGS : EXIT_OK;
		log_info("restore done exit=%d secs=%.1f", status, util_mono() - t0);
		return status;
	}
	if (e->code == ERR_INTERRUPTED && e->signo == PID1_DEADLINE) {
		char was[ERR_MSG_MAX];
		snprintf(was, sizeof was, "%s", e->msg);
		e->signo = 0;
		err_set(e, ERR_TIMEOUT, "the restore was still going after BACKUP_RUN_TIMEOUT (%lds) "
			"and was stopped (%s); hint: raise BACKUP_RUN_TIMEOUT for a restore that "
			"needs longer", rs->cfg->run_timeout, was);
		st = STEP_FAILED;
	}
	if (st == STEP_REFUSED && e->code != ERR_INTERRUPTED && e->code != ERR_IO &&
	    e->code != ERR_INTERNAL && e->code != ERR_CHILD) {
		/* Whatever made the request or its backups fail validation (a
		 * corrupt or unsafe file, no such backup) refuses the restore,
		 * exit 2 (README "Exit codes"), whatever code the check gave.
		 * Failures on vigil's own side before anything changed (I/O, a
		 * client that cannot run, internal) are failures, exit 1, below.
		 * (The lock is taken before the steps: no ERR_LOCKED here.) */
		log_error("restore refused: %s", e->msg);
		e->code = ERR_REFUSED;
		return err_exit_code(e);
	}
	log_error("restore failed: %s", e->msg);
	/* Once something was changed, every failure is a failure (1), a stop
	 * keeps its 128+N. */
	return e->code == ERR_INTERRUPTED ? err_exit_code(e) : EXIT_FAILED;
}

int restore_main(const struct config *cfg, int argc, char **argv)
{
	struct restore rs;
	struct err e;
	char dir[UTIL_PATH_MAX];
	int lockfd = -1, status;
	double t0 = util_mono();

	memset(&rs, 0, sizeof rs);
	rs.cfg = cfg;
	dumpscan_init(&rs.dres.scan);
	dumpscan_init(&rs.mres.scan);
	err_clear(&e);
	if (parse(argc, argv, &rs.o) < 0)
		return EXIT_REFUSED;
	if (rs.o.list) /* `vigil restore --list` = `vigil list` (README "Commands") */
		return list_print(cfg, false);
	rs.target = rs.o.target ? rs.o.target : cfg->pg_db;
	if (refuse_request(cfg, &rs.o, rs.target))
		return EXIT_REFUSED;
	for (int k = 0; k < 3; k++) {
		static const char *const subs[] = { "", "/db", "/media" };
		snprintf(dir, sizeof dir, "%s%s", cfg->backup_dir, subs[k]);
		if (util_mkdir_p(dir, backup_dir_mode(cfg), &e) < 0) {
			log_error("restore failed: %s", e.msg);
			return EXIT_FAILED;
		}
	}
	lockfd = lock_take(cfg->backup_dir, &e);
	if (lockfd < 0) {
		log_error("restore not started: %s", e.msg);
		return err_exit_code(&e);
	}
	log_info("restore start db=%s media=%s target=%s%s", rs.o.db ? rs.o.db : "-",
		 rs.o.media ? rs.o.media : "-", rs.o.db ? rs.target : "-",
		 rs.o.in_place ? " in-place" : "");
	/* A restore is a run too: BACKUP_RUN_TIMEOUT bounds it (the prompt
	 * excepted, see confirm), so a psql or pg_restore that hangs cannot
	 * hold the lock forever. */
	rs.t_deadline = util_mono();
	pid1_set_deadline(cfg->run_timeout);
	status = restore_status(&rs, restore_steps(&rs, t0, &e), &e, t0);
	free(rs.recs);
	dumpscan_free(&rs.dres.scan);
	dumpscan_free(&rs.mres.scan);
	{
		struct manifest tmp = { .n_art = 2 };
		tmp.art[0] = rs.safe_db;
		tmp.art[1] = rs.safe_media;
		manifest_free(&tmp);
	}
	lock_release(lockfd);
	return status;
}
