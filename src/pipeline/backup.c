/* backup.c - see backup.h. */
#include "pipeline/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/media.h"
#include "pipeline/notify.h"
#include "pipeline/dump.h"
#include "pipeline/prune.h"
#include "infra/lock.h"
#include "base/log.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "pipeline/verify.h"

mode_t backup_dir_mode(const struct config *cfg)
{
	mode_t f = (mode_t)cfg->file_mode;

	return 0700 | ((f & 0040) ? 0050 : 0) | ((f & 0004) ? 0005 : 0);
}

void backup_stream_opts(const struct config *cfg, struct stream_opts *o)
{
	memset(o, 0, sizeof *o);
	o->codec = cfg->compression == CFG_COMP_GZIP   ? STREAM_GZIP
		   : cfg->compression == CFG_COMP_ZSTD ? STREAM_ZSTD
						       : STREAM_NONE;
	o->level = (int)cfg->compression_level;
	o->threads = (int)cfg->threads;
	o->stop = pid1_stop_requested;
}

const char *backup_db_suffix(const struct config *cfg)
{
	if (cfg->format == CFG_FORMAT_CUSTOM)
		return ".dump";
	return cfg->compression == CFG_COMP_GZIP ? ".sql.gz"
	       : cfg->compression == CFG_COMP_ZSTD ? ".sql.zst"
						   : ".sql";
}

const char *backup_media_suffix(const struct config *cfg)
{
	return cfg->compression == CFG_COMP_GZIP ? ".tar.gz"
	       : cfg->compression == CFG_COMP_ZSTD ? ".tar.zst"
						   : ".tar";
}

/* Canonical form of a path that may not exist yet: realpath of its longest
 * existing ancestor plus the rest. */
static void canon(const char *path, char *out, size_t n)
{
	char tmp[UTIL_PATH_MAX], *slash;
	char real[PATH_MAX];

	snprintf(tmp, sizeof tmp, "%s", path);
	while (strlen(tmp) > 1 && tmp[strlen(tmp) - 1] == '/')
		tmp[strlen(tmp) - 1] = '\0';
	if (realpath(tmp, real)) {
		snprintf(out, n, "%s", real);
		return;
	}
	slash = strrchr(tmp, '/');
	if (!slash || slash == tmp) {
		snprintf(out, n, "%s", tmp);
		return;
	}
	*slash = '\0';
	canon(tmp, out, n);
	snprintf(out + strlen(out), n - strlen(out), "%s/%s", strcmp(out, "/") ? "" : "",
		 slash + 1);
	if (strncmp(out, "//", 2) == 0)
		memmove(out, out + 1, strlen(out));
}

/* a equals b or lies below it. */
static bool within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(b, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

int backup_check_dirs(const struct config *cfg, struct err *e)
{
	char b[UTIL_PATH_MAX], l[UTIL_PATH_MAX], m[UTIL_PATH_MAX];

	if (!cfg->media_dir[0])
		return 0;
	canon(cfg->backup_dir, b, sizeof b);
	canon(cfg->log_dir, l, sizeof l);
	canon(cfg->media_dir, m, sizeof m);
	if (strcmp(m, "/") == 0)
		return err_set(e, ERR_CONFIG, "MEDIA_DIR=/ would archive the whole system; "
			       "hint: point it at the uploads directory");
	/* BACKUP_DIR or LOG_DIR inside MEDIA_DIR is fine (they are skipped);
	 * MEDIA_DIR equal to or inside them would archive, and on restore
	 * replace, the backups themselves. */
	if (within(m, b))
		return err_set(e, ERR_CONFIG, "MEDIA_DIR (%s) is BACKUP_DIR (%s) or inside it; "
			       "hint: keep uploads and backups apart", m, b);
	if (within(m, l))
		return err_set(e, ERR_CONFIG, "MEDIA_DIR (%s) is LOG_DIR (%s) or inside it", m, l);
	return 0;
}

/* A job stopped by the run's deadline (pid1_stop_requested returned
 * PID1_DEADLINE) failed; it was not interrupted by an operator. */
static void deadline_err(struct err *e, long timeout)
{
	if (e->code != ERR_INTERRUPTED || e->signo != PID1_DEADLINE)
		return;
	e->signo = 0;
	err_set(e, ERR_TIMEOUT, "the run was still going after BACKUP_RUN_TIMEOUT (%lds) and was "
		"stopped; hint: a dump waits on any session holding a lock, an archive on a slow "
		"disk or a very large MEDIA_DIR (or a high compression level); raise "
		"BACKUP_RUN_TIMEOUT if the run needs longer", timeout);
}

/* A stop request (SIGTERM/SIGINT, or the run's deadline) that came while
 * the compressor flushed its last blocks (minutes at zstd's highest levels)
 * is taken before the commit: the file is dropped, never committed as if
 * nothing had been asked. Returns -1 with e set (ERR_INTERRUPTED) then. */
static int stop_before_commit(struct err *e)
{
	int sig = pid1_stop_requested();

	if (!sig)
		return 0;
	err_clear(e);
	e->code = ERR_INTERRUPTED;
	e->signo = sig;
	snprintf(e->msg, sizeof e->msg, "stopped by signal %d", sig);
	return -1;
}

static void fail_artifact(const struct config *cfg, struct mf_artifact *a, struct err *e)
{
	deadline_err(e, cfg->run_timeout);
	snprintf(a->result, sizeof a->result, "failure");
	snprintf(a->err_code, sizeof a->err_code, "%s", err_reason(e->code));
	snprintf(a->err_msg, sizeof a->err_msg, "%s", e->msg);
	a->path[0] = '\0';
}

/* The check of a new file before it gets its final name (I1).
 *
 * A plain dump is not decoded again: its single pass already proved the
 * parts of I1 that concern content (dump_run: pg_dump's header and
 * completion trailer, no meta-command psql would run), the stream writer
 * decoded every gzip member / zstd frame it wrote and compared it with its
 * input (codec_gzip.c and codec_zstd.c, their self-checks), and artifact_finish read the file
 * back and found exactly those bytes. A second decoding read cost a fifth
 * of the backup's wall time (README.md, "Performance").
 *
 * A custom-format archive and a media archive are checked the way
 * `vigil verify` checks them (pg_restore --list; every tar header and the
 * end-of-archive marker), since vigil's single pass did not parse them. */
static int check_before_commit(struct artifact *art, enum cat_kind kind, enum stream_codec codec,
			       bool custom, struct verify_result *res, struct err *e)
{
	if (kind == CAT_DB && !custom)
		return 0;
	if (verify_path(art->tmp_path, kind, codec, custom, false, res, e) < 0) {
		err_prefix(e, "the new file failed its check");
		return -1;
	}
	return 0;
}

/* The end of a backup file's life as a temporary: finish (fsync, read
 * back), honour a stop, check the content (check_before_commit), commit
 * under its final name with its .sha256. Returns 0 or -1 with e set. */
static int finish_and_commit(struct artifact *art, enum cat_kind kind, enum stream_codec codec,
			     bool custom, struct verify_result *res, struct err *e)
{
	if (artifact_finish(art, e) < 0 || stop_before_commit(e) < 0 ||
	    check_before_commit(art, kind, codec, custom, res, e) < 0)
		return -1;
	return artifact_commit(art, e);
}

int backup_db_file(const struct config *cfg, const char *dbname, const char *dir,
		   const char *base, struct mf_artifact *a, struct err *e)
{
	struct artifact art = { .fd = -1 };
	struct dump_info info;
	struct dumpscan scan;
	struct verify_result res;
	struct stream_opts o;
	bool custom = cfg->format == CFG_FORMAT_CUSTOM;
	double t0 = util_mono();
	int rc = -1;

	memset(&res, 0, sizeof res);
	dumpscan_init(&scan);
	dumpscan_init(&res.scan);
	snprintf(a->kind, sizeof a->kind, "db");
	snprintf(a->format, sizeof a->format, "%s", custom ? "custom" : "plain");
	backup_stream_opts(cfg, &o);
	if (custom)
		o.codec = STREAM_NONE; /* pg_dump -Fc compresses itself */
	snprintf(a->compression, sizeof a->compression, "%s",
		 custom ? "pg_dump" : stream_codec_name(o.codec));
	if (dump_preflight(cfg, &info, e) < 0)
		goto out;
	snprintf(a->server_version, sizeof a->server_version, "%s", info.server_version);
	snprintf(a->pg_dump_version, sizeof a->pg_dump_version, "%s", info.pg_dump_version);
	log_info("dump start database=%s server=%s pg_dump=%s", dbname ? dbname : cfg->pg_db,
		 info.server_version, info.pg_dump_version);
	if (artifact_begin(&art, dir, base, backup_db_suffix(cfg), &o, (mode_t)cfg->file_mode, e) < 0)
		goto out;
	if (dump_run(cfg, dbname, info.server_major, custom, art.w, &scan, e) < 0)
		goto out;
	if (finish_and_commit(&art, CAT_DB, o.codec, custom, &res, e) < 0)
		goto out;
	snprintf(a->result, sizeof a->result, "success");
	snprintf(a->path, sizeof a->path, "db/%s", art.final_name);
	a->bytes = art.st.stored_bytes;
	a->raw_bytes = art.st.raw_bytes;
	memcpy(a->sha256, art.st.sha256, sizeof a->sha256);
	for (size_t i = 0; i < scan.n_tables; i++)
		if (mf_add_table(a, scan.tables[i].name, scan.tables[i].rows) < 0) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
	a->seconds = util_mono() - t0;
	log_info("dump done file=%s bytes=%llu raw_bytes=%llu tables=%zu rows=%llu secs=%.1f",
		 art.final_name, (unsigned long long)a->bytes, (unsigned long long)a->raw_bytes,
		 scan.n_tables, (unsigned long long)dumpscan_total_rows(&scan), a->seconds);
	rc = 0;
out:
	if (rc < 0) {
		artifact_abort(&art);
		a->seconds = util_mono() - t0;
		fail_artifact(cfg, a, e);
	}
	dumpscan_free(&scan);
	dumpscan_free(&res.scan);
	return rc;
}

struct media_ctx {
	struct mf_artifact *a;
};

static void media_warn(void *ctx, const char *rel, const char *what)
{
	struct media_ctx *mc = ctx;
	char line[4200];

	snprintf(line, sizeof line, "%s: %s", rel, what);
	log_warn("media file %s: %s", rel, what);
	mf_add_warning(mc->a, line);
}

static int media_stop(void *ctx)
{
	(void)ctx;
	return pid1_stop_requested();
}

static void media_progress(void *ctx, uint64_t raw)
{
	(void)ctx;
	log_progress(raw);
}

static bool media_suspect(const struct config *cfg, struct mf_artifact *a);
static unsigned media_swap_leftovers(const struct config *cfg, struct mf_artifact *a);

int backup_media_file(const struct config *cfg, const char *dir, const char *base,
		      bool no_excludes, struct mf_artifact *a, struct err *e)
{
	struct artifact art = { .fd = -1 };
	struct stream_opts o;
	struct media_opts mo;
	struct media_stats ms;
	struct media_ctx mc = { .a = a };
	struct verify_result res;
	const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
	char **excl = NULL;
	size_t n_excl = 0;
	struct stat st;
	double t0 = util_mono();
	int rc = -1;

	memset(&res, 0, sizeof res);
	memset(&ms, 0, sizeof ms);
	dumpscan_init(&res.scan);
	snprintf(a->kind, sizeof a->kind, "media");
	snprintf(a->format, sizeof a->format, "pax");
	backup_stream_opts(cfg, &o);
	snprintf(a->compression, sizeof a->compression, "%s", stream_codec_name(o.codec));
	if (stat(cfg->media_dir, &st) < 0) {
		err_errno(e, ERR_MEDIA, errno, "MEDIA_DIR %s", cfg->media_dir);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(e, ERR_MEDIA, "MEDIA_DIR %s is not a directory", cfg->media_dir);
		goto out;
	}
	if (!no_excludes && cfg->media_exclude && *cfg->media_exclude) {
		excl = util_split(cfg->media_exclude, ',', &n_excl);
		if (!excl) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
	}
	memset(&mo, 0, sizeof mo);
	mo.root = cfg->media_dir;
	mo.excludes = (const char *const *)excl;
	mo.n_excludes = n_excl;
	mo.skip_dirs = skip;
	mo.n_skip_dirs = 2;
	mo.warn = media_warn;
	mo.progress = media_progress;
	mo.stop = media_stop;
	mo.ctx = &mc;
	log_info("media start dir=%s", cfg->media_dir);
	if (artifact_begin(&art, dir, base, backup_media_suffix(cfg), &o, (mode_t)cfg->file_mode, e) < 0)
		goto out;
	log_progress_start("media");
	rc = media_write(&mo, art.w, &ms, e);
	log_progress_end();
	if (rc < 0)
		goto out;
	rc = -1;
	if (finish_and_commit(&art, CAT_MEDIA, o.codec, false, &res, e) < 0)
		goto out;
	snprintf(a->result, sizeof a->result, "%s", ms.warnings ? "warning" : "success");
	snprintf(a->path, sizeof a->path, "media/%s", art.final_name);
	a->bytes = art.st.stored_bytes;
	a->raw_bytes = art.st.raw_bytes;
	memcpy(a->sha256, art.st.sha256, sizeof a->sha256);
	a->files = ms.files;
	a->dirs = ms.dirs;
	a->symlinks = ms.symlinks;
	a->skipped = ms.skipped;
	a->seconds = util_mono() - t0;
	/* A restore's safety copy is what is there, whatever it holds; a
	 * regular backup of an empty or collapsed tree is suspect (F7). Judged
	 * before the summary line, so its warnings= counts that warning too. */
	unsigned extra = 0;
	if (!no_excludes) {
		extra += media_suspect(cfg, a) ? 1 : 0;
		extra += media_swap_leftovers(cfg, a);
	}
	log_info("media done file=%s bytes=%llu raw_bytes=%llu files=%llu warnings=%llu secs=%.1f",
		 art.final_name, (unsigned long long)a->bytes, (unsigned long long)a->raw_bytes,
		 (unsigned long long)ms.files, (unsigned long long)(ms.warnings + extra), a->seconds);
	rc = 0;
out:
	if (rc < 0) {
		artifact_abort(&art);
		a->seconds = util_mono() - t0;
		fail_artifact(cfg, a, e);
	}
	util_free_strv(excl);
	dumpscan_free(&res.scan);
	return rc;
}

/* The newest media backup a run manifest in runs_dir recorded as "success"
 * (regular media_* files only, not restore safety copies): its file count
 * into *files and its run id into run. false when there is none. */
static bool last_good_media(const char *runs_dir, uint64_t *files, char *run, size_t n)
{
	DIR *d = opendir(runs_dir);
	struct dirent *de;
	int64_t best = INT64_MIN;
	bool found = false;

	if (!d)
		return false;
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX];
		struct manifest m;
		struct err e;
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", runs_dir, de->d_name);
		if (manifest_read(p, &m, &e) < 0)
			continue;
		for (size_t i = 0; i < m.n_art; i++) {
			const struct mf_artifact *a = &m.art[i];
			if (strcmp(a->kind, "media") == 0 && strcmp(a->result, "success") == 0 &&
			    util_starts_with(a->path, "media/media_") && m.start > best) {
				best = m.start;
				*files = a->files;
				snprintf(run, n, "%s", m.run_id);
				found = true;
			}
		}
		manifest_free(&m);
	}
	closedir(d);
	return found;
}

/* F7: a media backup of a volume that was not mounted looks like any other.
 * A media artifact a (just committed) with no regular file, or with fewer
 * than half the files of the last good media backup when that one had
 * MEDIA_COLLAPSE_MIN or more, becomes a warning: the archive is kept (it is
 * a true copy of what is there), the run exits 3 and its manifest says
 * "warning" with the reason in the artifact's warnings and in its
 * "suspect" field, so it never counts as a good backup: not as the
 * daemon's last success (/healthz fails), not as the next run's baseline. MEDIA_ALLOW_EMPTY=true turns the check off. Returns
 * true when a was marked. */
#define MEDIA_COLLAPSE_MIN 10
static bool media_suspect(const struct config *cfg, struct mf_artifact *a)
{
	char runs[UTIL_PATH_MAX], run[48], line[300];
	uint64_t last = 0;

	if (cfg->media_allow_empty)
		return false;
	snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
	if (a->files == 0) {
		log_warn("media directory %s holds no files: the backup is kept but the run is a "
			 "warning; hint: check that the media volume is mounted, or set "
			 "MEDIA_ALLOW_EMPTY=true if it is empty on purpose", cfg->media_dir);
		snprintf(line, sizeof line, "./: media directory holds no files");
	} else if (last_good_media(runs, &last, run, sizeof run) && last >= MEDIA_COLLAPSE_MIN &&
		   a->files * 2 < last) {
		log_warn("media file count collapsed: %llu files, the last good media backup (run %s) "
			 "had %llu: the backup is kept but the run is a warning; hint: check that the "
			 "media volume is mounted and complete; to accept a deliberate deletion, run "
			 "one backup with MEDIA_ALLOW_EMPTY=true",
			 (unsigned long long)a->files, run, (unsigned long long)last);
		snprintf(line, sizeof line, "./: media file count collapsed: %llu files, the last "
			 "good media backup (run %s) had %llu", (unsigned long long)a->files, run,
			 (unsigned long long)last);
	} else {
		return false;
	}
	snprintf(a->result, sizeof a->result, "warning");
	snprintf(a->suspect, sizeof a->suspect, "%s", line + 4); /* without "./: " */
	mf_add_warning(a, line);
	return true;
}

/* A ".vigil-old-*" directory at the top of MEDIA_DIR is what a media restore
 * killed in the middle of its swap leaves: live files set aside under
 * their relative paths, which backups never archive (they are vigil's own
 * names) and so silently leave out every night. Each is a warning of the
 * media artifact a, with a hint, until the operator deals with it. Returns
 * the number found. */
static unsigned media_swap_leftovers(const struct config *cfg, struct mf_artifact *a)
{
	DIR *d = opendir(cfg->media_dir);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char line[400];
		if (!util_starts_with(de->d_name, ".vigil-old-"))
			continue;
		log_warn("media %s/%s was left by an interrupted media restore and may hold live "
			 "files that this backup leaves out; hint: move back what is missing from "
			 "it (paths inside are relative to MEDIA_DIR), then delete it",
			 cfg->media_dir, de->d_name);
		snprintf(line, sizeof line, "%.200s: left by an interrupted media restore; live "
			 "files in it are not in this backup", de->d_name);
		mf_add_warning(a, line);
		snprintf(a->result, sizeof a->result, "warning");
		n++;
	}
	closedir(d);
	return n;
}

/* F18, told at backup time rather than in the middle of a recovery: a
 * mount point below MEDIA_DIR is archived like any directory, but a media
 * restore refuses to replace it (media_restore_check). An INFO line,
 * not a warning: the backup itself is complete. */
static void media_mount_note(const struct config *cfg)
{
	const char *skip[2] = { cfg->backup_dir, cfg->log_dir };
	struct media_opts mo = { .root = cfg->media_dir, .skip_dirs = skip, .n_skip_dirs = 2 };
	struct err e;

	err_clear(&e);
	if (media_restore_check(&mo, &e) < 0 && e.code == ERR_REFUSED)
		log_info("media note: %s", e.msg);
}

static int make_dirs(const struct config *cfg, struct err *e)
{
	static const char *const subs[] = { "db", "media", "runs" };
	mode_t dm = backup_dir_mode(cfg);
	char p[UTIL_PATH_MAX];

	if (util_mkdir_p(cfg->backup_dir, dm, e) < 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (util_fmt(p, sizeof p, e, "%s/%s", cfg->backup_dir, subs[i]) < 0 ||
		    util_mkdir_p(p, dm, e) < 0)
			return -1;
	}
	return 0;
}

/* backup_run without its end alerts. */
static enum run_result run_locked(const struct config *cfg, int kinds, struct manifest *m,
				  struct err *out)
{
	char stamp[16], base[300], dir[UTIL_PATH_MAX], runs[UTIL_PATH_MAX];
	struct err e, me;
	int lockfd = -1, interrupted = 0;
	enum run_result result;
	bool failed = false, warned = false;

	memset(m, 0, sizeof *m);
	err_clear(&e);
	err_clear(out);
	snprintf(m->command, sizeof m->command, "backup");
	if (make_dirs(cfg, &e) < 0) {
		log_error("backup failed: %s", e.msg);
		*out = e;
		return RUN_FAILURE;
	}
	lockfd = lock_take(cfg->backup_dir, &e);
	if (lockfd < 0) {
		/* A busy lock is no failure: the other run is doing the work. */
		if (e.code == ERR_LOCKED)
			log_warn("backup not started: %s", e.msg);
		else
			log_error("backup not started: %s", e.msg);
		*out = e;
		return RUN_FAILURE;
	}
	notify_run_start(cfg);
	for (int k = 0; k < 3; k++) {
		static const char *const subs[] = { "db", "media", "runs" };
		int n;
		snprintf(dir, sizeof dir, "%s/%s", cfg->backup_dir, subs[k]);
		if (artifact_remove_stale(dir, &n, &e) < 0)
			log_warn("cannot remove a stale temporary file of an interrupted run: %s; "
				 "hint: it takes space until removed by hand", e.msg);
		if (n > 0)
			log_info("removed %d stale temporary file(s) in %s", n, dir);
	}
	/* The deadline covers the whole run, scheduled or manual (F6): a dump
	 * that waits on a lock forever must not block every later run. */
	pid1_set_deadline(cfg->run_timeout);
	m->start = (int64_t)time(NULL);
	util_stamp_local((time_t)m->start, stamp);
	log_info("backup start stamp=%s kinds=%s%s", stamp, (kinds & BACKUP_DB) ? "db" : "",
		 (kinds & BACKUP_MEDIA) && cfg->media_dir[0] ? ((kinds & BACKUP_DB) ? ",media" : "media") : "");
	if (kinds & BACKUP_DB) {
		struct mf_artifact *a = &m->art[m->n_art++];
		err_clear(&e);
		snprintf(dir, sizeof dir, "%s/db", cfg->backup_dir);
		snprintf(base, sizeof base, "%s_%s", cfg->prefix, stamp);
		if (backup_db_file(cfg, NULL, dir, base, a, &e) < 0) {
			failed = true;
			if (e.code == ERR_INTERRUPTED)
				interrupted = e.signo;
			log_error("database backup failed: %s", e.msg);
		}
	}
	if (!interrupted && pid1_stop_requested() && pid1_stop_requested() != PID1_DEADLINE)
		interrupted = pid1_stop_requested();
	if ((kinds & BACKUP_MEDIA) && cfg->media_dir[0] && !interrupted) {
		struct mf_artifact *a = &m->art[m->n_art++];
		err_clear(&e);
		snprintf(dir, sizeof dir, "%s/media", cfg->backup_dir);
		snprintf(base, sizeof base, "media_%s", stamp);
		if (pid1_stop_requested() == PID1_DEADLINE) {
			/* The database part used up the run's time. */
			snprintf(a->kind, sizeof a->kind, "media");
			e.code = ERR_INTERRUPTED;
			e.signo = PID1_DEADLINE;
			fail_artifact(cfg, a, &e);
			failed = true;
			log_error("media backup not started: %s", e.msg);
		} else if (backup_media_file(cfg, dir, base, false, a, &e) < 0) {
			failed = true;
			if (e.code == ERR_INTERRUPTED)
				interrupted = e.signo;
			log_error("media backup failed: %s", e.msg);
		} else if (strcmp(a->result, "warning") == 0) {
			warned = true;
		}
		media_mount_note(cfg);
	}
	m->end = (int64_t)time(NULL);
	snprintf(m->result, sizeof m->result, "%s", failed ? "failure" : warned ? "warning" : "success");
	if (failed) {
		for (size_t i = 0; i < m->n_art; i++) {
			if (m->art[i].err_code[0]) {
				snprintf(m->err_code, sizeof m->err_code, "%s", m->art[i].err_code);
				snprintf(m->err_msg, sizeof m->err_msg, "%s: %s", m->art[i].kind,
					 m->art[i].err_msg);
				break;
			}
		}
	}
	snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
	err_clear(&me);
	if (manifest_write(runs, stamp, m, (mode_t)cfg->file_mode, &me) < 0) {
		log_error("cannot write the run manifest: %s", me.msg);
		failed = true;
	} else if (!interrupted) {
		prune_after_run(cfg, m); /* the kinds that succeeded (README "Retention") */
	}
	result = failed || interrupted ? RUN_FAILURE : warned ? RUN_WARNING : RUN_SUCCESS;
	if (interrupted) {
		out->code = ERR_INTERRUPTED;
		out->signo = interrupted;
		snprintf(out->msg, sizeof out->msg, "stopped by signal %d", interrupted);
	} else if (failed) {
		out->code = err_code_from_reason(m->err_code);
		if (out->code == ERR_CODE_COUNT || out->code == ERR_OK)
			out->code = ERR_IO; /* only the run manifest could not be written */
		snprintf(out->msg, sizeof out->msg, "%s", m->err_msg);
	}
	if (!failed) /* a failed run's last line is the command's: it knows the exit status */
		log_info("backup done run=%s result=%s secs=%lld", m->run_id, m->result,
			 (long long)(m->end - m->start));
	lock_release(lockfd);
	return result;
}

enum run_result backup_run(const struct config *cfg, int kinds, struct manifest *m, struct err *out)
{
	enum run_result r = run_locked(cfg, kinds, m, out);

	notify_run_end(cfg, m, r, out); /* lock released, prune done: README "Alerts" */
	return r;
}
