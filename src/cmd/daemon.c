/* daemon.c - `vigil serve` and `vigil healthcheck` (cmd.h). The main thread owns signals and children (via
 * pid1.c); libmicrohttpd's thread and the database probe thread only read
 * or write the snapshot under `mu`, never wait on a job. */

#include "cmd/cmd.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infra/artifact.h"
#include "infra/db.h"
#include "pipeline/dump.h"
#include "infra/http.h"
#include "infra/lock.h"
#include "base/log.h"
#include "pipeline/backup.h"
#include "pipeline/metrics.h"
#include "infra/pid1.h"
#include "infra/schedule.h"
#include "pipeline/startup.h"
#include "pipeline/state.h"
#include "base/util.h"

#define STOP_GRACE_MS 4000 /* Docker waits 10 s; we are gone within 5 */
#define PROBE_EVERY 60
#define PROBE_RETRY 5      /* while the database is unreachable */
#define OVERDUE_GRACE 30   /* s past BACKUP_RUN_TIMEOUT before the daemon stops a run */
#define UNREC_MAX 1024     /* unrecorded failures kept in memory (oldest dropped) */
#define NOTIFY_QUEUE 8     /* runs waiting for their `vigil notify` child */

struct daemon {
	const struct config *cfg;
	struct sched sched;
	struct sched_zone *zone;
	int64_t max_age;
	pthread_mutex_t mu; /* guards st and info */
	struct state st;
	struct daemon_info info;
	struct child job;
	bool job_running;
	pthread_t probe;
	bool probe_started;
	pthread_mutex_t quit_mu;
	pthread_cond_t quit_cv;
	bool quit;
	struct timespec runs_mtime; /* of BACKUP_DIR/runs when last read */
	int64_t job_start;          /* wall clock when the job was spawned */
	double job_mono;            /* util_mono() then */
	int job_kill_stage;         /* 0; 1 after SIGTERM, 2 after SIGKILL (deadline) */
	uint64_t job_pre_manifests; /* st.manifests and st.newest_start at spawn: */
	int64_t job_pre_newest;     /* a manifest written by the job changes one */
	bool stopping;
	struct unrecorded_run unrec[UNREC_MAX];
	size_t n_unrec;
	/* `vigil notify RUN_ID` for a run that died without alerting (README
	 * "Alerts"): one child at a time, the others wait in the queue. */
	struct child notifier;
	bool notifier_running;
	double notifier_mono;       /* util_mono() at its spawn */
	int notifier_kill_stage;    /* 0; 1 after SIGTERM, 2 after SIGKILL */
	char notify_queue[NOTIFY_QUEUE][48];
	size_t n_notify_queue;
	/* The start-up checks (startup.h): their last messages, to log a
	 * failure once and its end, and when they are due again. */
	char check_msg[SC_N][700];
	double next_check;          /* util_mono() */
};

long daemon_max_age(const struct config *cfg, long period)
{
	if (cfg->healthcheck_max_age > 0)
		return cfg->healthcheck_max_age;
	return (period > 0 ? period : 86400) + 7200;
}

static void page(void *ctx, enum http_page p, int *http_status, char **body, const char **ctype)
{
	struct daemon *d = ctx;
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&d->mu);
	if (p == HTTP_HEALTHZ) {
		struct health h;
		metrics_health(&d->st, &d->info, now, d->max_age, &h);
		*http_status = h.status;
		*body = strdup(h.body);
		*ctype = "application/json";
	} else {
		*http_status = 200; /* OK (RFC 9110) */
		*body = metrics_render(&d->st, &d->info, now);
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
	}
	pthread_mutex_unlock(&d->mu);
}

/* The directory's mtime changes whenever a manifest is added (by our runs
 * or by `docker exec vigil backup`), so a stat a second keeps the snapshot
 * current without reading every manifest each time. */
static bool runs_changed(struct daemon *d)
{
	char dir[UTIL_PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof dir, "%s/runs", d->cfg->backup_dir);
	if (stat(dir, &st) < 0)
		return false;
	if (st.st_mtim.tv_sec == d->runs_mtime.tv_sec && st.st_mtim.tv_nsec == d->runs_mtime.tv_nsec)
		return false;
	d->runs_mtime = st.st_mtim;
	return true;
}

static void reload_state(struct daemon *d)
{
	struct state st;
	struct err e;

	runs_changed(d);

	if (state_load(d->cfg, (int64_t)time(NULL), &st, &e) < 0) {
		log_warn("cannot read the run manifests: %s", e.msg);
		return;
	}
	/* Failures only this daemon saw come after the manifests (F4). */
	for (size_t i = 0; i < d->n_unrec; i++)
		state_add_unrecorded(&st, &d->unrec[i]);
	pthread_mutex_lock(&d->mu);
	d->st = st;
	pthread_mutex_unlock(&d->mu);
}

/* After a stop or a kill at the deadline: whatever the killed run left under a temporary name goes. */
static void remove_temporaries(const struct config *cfg)
{
	static const char *const subs[] = { "db", "media", "runs" };
	struct err e;
	int fd = lock_take(cfg->backup_dir, &e);

	if (fd < 0)
		return; /* someone else (a manual run) holds it: their files */
	for (size_t i = 0; i < 3; i++) {
		char dir[UTIL_PATH_MAX];
		int n;
		snprintf(dir, sizeof dir, "%s/%s", cfg->backup_dir, subs[i]);
		if (artifact_remove_stale(dir, &n, &e) < 0)
			log_warn("cannot remove a temporary file of the stopped run: %s; hint: it "
				 "takes space until removed by hand", e.msg);
	}
	lock_release(fd);
}

/* The job ended badly and the manifests show no new run since it was
 * spawned (neither more of them nor a later start): it died before it could write one (BACKUP_DIR full or
 * read-only, a crash, a kill at the deadline). Write the failure manifest
 * it could not, so the failure survives a restart; when that fails too,
 * keep it in memory (invariant I2 (docs/design.md): failures are loud). */
static void queue_notify(struct daemon *d, const char *run_id);

static void record_failed_job(struct daemon *d, const char *how, bool crashed, bool signaled)
{
	struct manifest m;
	struct err e;
	char stamp[16], runs[UTIL_PATH_MAX];
	struct unrecorded_run *u;
	/* Stopped at the deadline: timeout. Died of a signal nobody sent
	 * (a crash): child. Exited without a manifest: most likely BACKUP_DIR
	 * could not take one, io. */
	enum err_code code = d->job_kill_stage ? ERR_TIMEOUT : crashed ? ERR_CHILD : ERR_IO;

	memset(&m, 0, sizeof m);
	snprintf(m.command, sizeof m.command, "backup");
	m.start = d->job_start;
	m.end = (int64_t)time(NULL);
	snprintf(m.result, sizeof m.result, "failure");
	snprintf(m.err_code, sizeof m.err_code, "%s", err_reason(code));
	snprintf(m.err_msg, sizeof m.err_msg, "the run %s and left no run manifest%s", how,
		 d->job_kill_stage ? " (it was stopped after BACKUP_RUN_TIMEOUT); hint: see "
				     "backup.log"
		 : crashed ? "; hint: see backup.log; a run that dies of a signal is a bug in "
			     "vigil, please report it with that log"
			   : "; hint: see backup.log, and check that BACKUP_DIR is writable and not "
			     "full");
	for (int k = 0; k < KIND_N; k++) {
		struct mf_artifact *a;
		if (!d->st.kind[k].enabled)
			continue;
		a = &m.art[m.n_art++];
		snprintf(a->kind, sizeof a->kind, "%s", state_kind_name(k));
		snprintf(a->result, sizeof a->result, "failure");
		snprintf(a->err_code, sizeof a->err_code, "%s", m.err_code);
		snprintf(a->err_msg, sizeof a->err_msg, "%s", m.err_msg);
	}
	util_stamp_local((time_t)m.start, stamp);
	snprintf(runs, sizeof runs, "%s/runs", d->cfg->backup_dir);
	if (manifest_write(runs, stamp, &m, (mode_t)d->cfg->file_mode, &e) == 0) {
		log_error("the run %s without a run manifest; the daemon wrote runs/%s.json", how,
			  m.run_id);
		/* A run that exited sent its alerts itself, manifest or not; one
		 * killed by a signal could not. */
		if (signaled)
			queue_notify(d, m.run_id);
		return;
	}
	log_error("the run %s without a run manifest, and the daemon cannot write one either "
		  "(%s); the failure is counted until the daemon restarts", how, e.msg);
	if (d->n_unrec == UNREC_MAX) {
		memmove(&d->unrec[0], &d->unrec[1], (UNREC_MAX - 1) * sizeof d->unrec[0]);
		d->n_unrec--;
	}
	u = &d->unrec[d->n_unrec++];
	u->start = m.start;
	u->end = m.end;
	u->code = code;
	u->kinds = 0;
	for (int k = 0; k < KIND_N; k++)
		if (d->st.kind[k].enabled)
			u->kinds |= 1u << k;
	snprintf(u->msg, sizeof u->msg, "the run %s and left no run manifest", how);
	pthread_mutex_lock(&d->mu);
	d->info.unrecorded_failures++;
	pthread_mutex_unlock(&d->mu);
}

/* Database reachability for /metrics, off the main thread so a dead server
 * (10 s connect timeout) never delays signals or the schedule. */
static void *probe_main(void *arg)
{
	struct daemon *d = arg;

	for (;;) {
		struct db *db = NULL;
		struct err e;
		int up = db_connect(d->cfg, NULL, &db, &e) == 0;
		bool cleared = false;
		struct timespec until;

		db_close(db);
		pthread_mutex_lock(&d->mu);
		d->info.db_up = up;
		d->info.db_checked = (int64_t)time(NULL);
		/* A start-up pre-flight that could not connect is no longer
		 * true once we can (F13); a version mismatch stays. */
		if (up && d->info.preflight_connect) {
			d->info.preflight_connect = false;
			d->info.preflight_error[0] = '\0';
			cleared = true;
		}
		pthread_mutex_unlock(&d->mu);
		if (cleared)
			log_info("the database is reachable now; the start-up pre-flight failure "
				 "no longer applies");
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += up ? PROBE_EVERY : PROBE_RETRY;
		pthread_mutex_lock(&d->quit_mu);
		while (!d->quit &&
		       pthread_cond_timedwait(&d->quit_cv, &d->quit_mu, &until) != ETIMEDOUT)
			;
		if (d->quit) {
			pthread_mutex_unlock(&d->quit_mu);
			return NULL;
		}
		pthread_mutex_unlock(&d->quit_mu);
	}
}

int cmd_open_log(const struct config *cfg, const char *name)
{
	char p[UTIL_PATH_MAX];
	struct err e;

	log_set_file_mode((mode_t)cfg->file_mode);
	if (util_mkdir_p(cfg->log_dir, backup_dir_mode(cfg), &e) < 0 ||
	    util_fmt(p, sizeof p, &e, "%s/%s", cfg->log_dir, name) < 0 || log_open_file(p, &e) < 0) {
		log_warn("logging to stderr only: %s", e.msg);
		return -1;
	}
	return 0;
}

/* Run the start-up checks (startup.h) and publish them for /healthz and
 * /metrics. A failure is logged as one ERROR when it appears or its
 * message changes, its end as INFO; a LOG_DIR that became writable gets
 * backup.log opened again. */
static void run_checks(struct daemon *d)
{
	struct startup_report r;
	int failed = 0, first = -1;

	startup_check(d->cfg, &r);
	for (int c = 0; c < SC_N; c++) {
		if (!r.ok[c] && strcmp(r.msg[c], d->check_msg[c]) != 0)
			log_error("start-up check failed: %s", r.msg[c]);
		if (r.ok[c] && d->check_msg[c][0]) {
			log_info("start-up check %s passes now; its failure no longer applies",
				 startup_check_name((enum startup_check)c));
			if (c == SC_LOG_DIR)
				cmd_open_log(d->cfg, "backup.log");
		}
		snprintf(d->check_msg[c], sizeof d->check_msg[c], "%s", r.ok[c] ? "" : r.msg[c]);
		if (!r.ok[c] && first < 0)
			first = c;
		failed += !r.ok[c];
	}
	pthread_mutex_lock(&d->mu);
	for (int c = 0; c < SC_N; c++)
		d->info.startup_state[c] = !r.applies[c] ? 0 : r.ok[c] ? 1 : 2;
	snprintf(d->info.startup_error, sizeof d->info.startup_error, "%s",
		 first < 0 ? "" : r.msg[first]);
	d->info.startup_failed = failed;
	pthread_mutex_unlock(&d->mu);
	d->next_check = util_mono() + STARTUP_RECHECK_S;
}

static void start_job(struct daemon *d, const char *why)
{
	char *argv[] = { "vigil", "backup", NULL };
	struct err e;

	if (pid1_spawn_path(&d->job, "/proc/self/exe", argv, NULL, 0, &e) < 0) {
		log_error("cannot start the %s run: %s", why, e.msg);
		return;
	}
	d->job_running = true;
	d->job_start = (int64_t)time(NULL);
	d->job_mono = util_mono();
	d->job_kill_stage = 0;
	d->job_pre_manifests = d->st.manifests;
	d->job_pre_newest = d->st.newest_start;
	pthread_mutex_lock(&d->mu);
	d->info.running = true;
	d->info.run_started = d->job_start;
	pthread_mutex_unlock(&d->mu);
	log_info("%s run started pid=%d", why, (int)d->job.pid);
}

/* The run child ended with wait status `status`. The state is reloaded (and
 * a failure without a manifest recorded) before "run finished" is logged,
 * so whoever reads that line and then asks /healthz sees the new state. */
static void job_done(struct daemon *d, int status)
{
	char how[128];
	bool skipped = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_LOCKED;

	d->job_running = false;
	d->job.pid = -1;
	pid1_describe(status, how, sizeof how);
	if (skipped) {
		log_info("scheduled run skipped: another run is in progress");
		pthread_mutex_lock(&d->mu);
		d->info.skipped_ticks++;
		pthread_mutex_unlock(&d->mu);
	}
	if (d->job_kill_stage)
		remove_temporaries(d->cfg);
	reload_state(d);
	/* Success and warnings wrote a manifest; EXIT_LOCKED is a skip.
	 * Anything else (1, a signal) that left no manifest is still a failure
	 * (F4). */
	if (!d->stopping && !skipped && !(WIFEXITED(status) && exit_is_success(WEXITSTATUS(status))) &&
	    d->st.manifests <= d->job_pre_manifests && d->st.newest_start <= d->job_pre_newest) {
		record_failed_job(d, how, WIFSIGNALED(status) && !d->job_kill_stage && !d->stopping,
				  WIFSIGNALED(status));
		reload_state(d);
	} else if (d->job_kill_stage && !d->stopping && d->st.newest_start > d->job_pre_newest &&
		   d->st.newest_run[0]) {
		/* The daemon stopped the run past BACKUP_RUN_TIMEOUT: it wrote its
		 * failure manifest, but a run stopped by a signal sends no alerts
		 * (README "Alerts"); this one must. */
		queue_notify(d, d->st.newest_run);
	}
	pthread_mutex_lock(&d->mu);
	d->info.running = false;
	d->info.run_started = 0;
	pthread_mutex_unlock(&d->mu);
	if (!skipped)
		log_info("run finished: %s", how);
}

/* The longest a `vigil notify` child may take (s): its own bounds (a
 * mail, a webhook and a ping) plus slack; then it is stopped. */
static double notify_limit(const struct config *cfg)
{
	return 2.0 * (double)cfg->notify_timeout + (double)cfg->email_timeout + 10.0;
}

/* Start `vigil notify RUN_ID` for the oldest queued run, when none runs.
 * Alerts go over the network: never from the daemon's own loop. */
static void start_notifier(struct daemon *d)
{
	char id[48];
	char *argv[] = { "vigil", "notify", id, NULL };
	struct err e;

	if (d->notifier_running || d->n_notify_queue == 0 || d->stopping)
		return;
	snprintf(id, sizeof id, "%s", d->notify_queue[0]);
	memmove(&d->notify_queue[0], &d->notify_queue[1],
		(d->n_notify_queue - 1) * sizeof d->notify_queue[0]);
	d->n_notify_queue--;
	if (pid1_spawn_path(&d->notifier, "/proc/self/exe", argv, NULL, 0, &e) < 0) {
		log_error("cannot start the alerts of run %s: %s; hint: send them with `vigil notify "
			  "%s`", id, e.msg, id);
		return;
	}
	d->notifier_running = true;
	d->notifier_mono = util_mono();
	d->notifier_kill_stage = 0;
	log_info("sending the alerts of run %s pid=%d", id, (int)d->notifier.pid);
}

static void queue_notify(struct daemon *d, const char *run_id)
{
	if (d->n_notify_queue == NOTIFY_QUEUE) {
		log_error("the alerts of run %s are not sent: %d runs already wait for theirs; hint: "
			  "send them with `vigil notify %s`", run_id, NOTIFY_QUEUE, run_id);
		return;
	}
	snprintf(d->notify_queue[d->n_notify_queue++], sizeof d->notify_queue[0], "%s", run_id);
	start_notifier(d);
}

/* A notifier past notify_limit gets SIGTERM, 5 s later SIGKILL. */
static void stop_slow_notifier(struct daemon *d)
{
	double age = util_mono() - d->notifier_mono, limit = notify_limit(d->cfg);

	if (!d->notifier_running)
		return;
	if (d->notifier_kill_stage == 0 && age > limit) {
		log_error("the alerts child is still going after %.0fs; stopping it", limit);
		pid1_kill(&d->notifier, SIGTERM);
		d->notifier_kill_stage = 1;
	} else if (d->notifier_kill_stage == 1 && age > limit + 5) {
		pid1_kill(&d->notifier, SIGKILL);
		d->notifier_kill_stage = 2;
	}
}

static int reap_all(struct daemon *d)
{
	int status, job_status = -1;
	pid_t pid;

	while ((pid = pid1_reap_any(&status)) > 0) {
		if (d->job_running && pid == d->job.pid) {
			job_status = status;
			job_done(d, status);
		} else if (d->notifier_running && pid == d->notifier.pid) {
			char how[128];
			pid1_describe(status, how, sizeof how);
			d->notifier_running = false;
			d->notifier.pid = -1;
			/* exit 1: a channel failed; it logged which (backup.log) */
			log_info("alerts child finished: %s", how);
			start_notifier(d);
		}
		/* anything else is an orphan adopted by PID 1: reaped, done */
	}
	return job_status;
}

/* The run enforces BACKUP_RUN_TIMEOUT itself (pid1_set_deadline); a run
 * still here OVERDUE_GRACE seconds later is stuck where it cannot see its
 * deadline. Stop its process group: SIGTERM, then SIGKILL 5 s later. */
static void stop_overdue(struct daemon *d)
{
	double over = util_mono() - d->job_mono - (double)d->cfg->run_timeout;

	if (d->job_kill_stage == 0 && over > OVERDUE_GRACE) {
		log_error("the run is still going %lds after BACKUP_RUN_TIMEOUT (%lds); stopping it",
			  (long)over, d->cfg->run_timeout);
		pid1_kill(&d->job, SIGTERM);
		d->job_kill_stage = 1;
	} else if (d->job_kill_stage == 1 && over > OVERDUE_GRACE + 5) {
		log_error("the run did not stop; killing it");
		pid1_kill(&d->job, SIGKILL);
		d->job_kill_stage = 2;
	}
}

static void set_next(struct daemon *d, int64_t now)
{
	int64_t next = sched_next(&d->sched, d->zone, now);

	pthread_mutex_lock(&d->mu);
	d->info.next_run = next > 0 ? next : 0;
	pthread_mutex_unlock(&d->mu);
	if (next > 0) {
		char loc[32];
		struct tm tm;
		sched_local(d->zone, next, &tm);
		strftime(loc, sizeof loc, "%Y-%m-%dT%H:%M:%S", &tm);
		log_info("next run at %s%c%02ld:%02ld", loc, tm.tm_gmtoff < 0 ? '-' : '+',
			 labs(tm.tm_gmtoff) / 3600, labs(tm.tm_gmtoff) % 3600 / 60);
	}
}

static int load_schedule(const struct config *cfg, struct sched *s, struct sched_zone **z,
			 struct err *e)
{
	if (sched_zone_load(cfg->tz, z, e) < 0)
		return -1;
	if (sched_parse_var("BACKUP_SCHEDULE", cfg->schedule, s, e) < 0 ||
	    (sched_next(s, *z, (int64_t)time(NULL)) < 0 &&
	     err_set(e, ERR_CONFIG, "BACKUP_SCHEDULE=\"%s\" never fires (no date matches it)",
		     cfg->schedule) < 0)) {
		sched_zone_free(*z);
		*z = NULL;
		return -1;
	}
	return 0;
}

int daemon_check_config(const struct config *cfg, struct err *e)
{
	struct sched s;
	struct sched_zone *z = NULL;

	if (load_schedule(cfg, &s, &z, e) < 0)
		return -1;
	sched_zone_free(z);
	if (cfg->verify_schedule && *cfg->verify_schedule &&
	    sched_parse_var("BACKUP_VERIFY_SCHEDULE", cfg->verify_schedule, &s, e) < 0)
		return -1;
	if (strcmp(cfg->http_listen, "off") != 0 && http_check_listen(cfg->http_listen, e) < 0)
		return -1;
	return 0;
}

int daemon_print_schedule(const struct config *cfg, int n)
{
	struct sched s;
	struct sched_zone *z = NULL;
	struct err e;

	if (load_schedule(cfg, &s, &z, &e) < 0) {
		log_error("configuration error: %s", e.msg);
		return EXIT_REFUSED;
	}
	printf("# next %d runs of BACKUP_SCHEDULE=\"%s\" in %s:\n", n, cfg->schedule, cfg->tz);
	sched_format_next(&s, z, (int64_t)time(NULL), n, stdout);
	printf("# /healthz fails when the last success is older than %lds\n",
	       daemon_max_age(cfg, (long)sched_period(&s, z, (int64_t)time(NULL))));
	sched_zone_free(z);
	return EXIT_OK;
}

int daemon_healthcheck(const struct config *cfg)
{
	char body[2048];
	struct err e;
	int status = 0;

	if (strcmp(cfg->http_listen, "off") == 0) {
		fprintf(stderr, "vigil healthcheck: HTTP_LISTEN=off, nothing to ask\n");
		return EXIT_FAILED;
	}
	if (http_get_local(cfg->http_listen, "/healthz", 2000, &status, body, sizeof body, &e) < 0) {
		fprintf(stderr, "vigil healthcheck: %s\n", e.msg);
		return EXIT_FAILED;
	}
	printf("%d %s", status, body);
	return status == 200 ? EXIT_OK : EXIT_FAILED;
}

/* Same pre-flight as a run, so a version mismatch shows at start (B03);
 * a failure is kept for /healthz (metrics_health) until a run or a probe
 * clears it. */
static void preflight(struct daemon *d)
{
	struct dump_info di;
	struct err e;

	if (dump_preflight(d->cfg, &di, &e) < 0) {
		log_error("pre-flight check failed: %s", e.msg);
		snprintf(d->info.preflight_error, sizeof d->info.preflight_error, "%s", e.msg);
		d->info.preflight_connect = e.code == ERR_DB_CONNECT;
	} else {
		log_info("pre-flight ok server=%s pg_dump=%s", di.server_version, di.pg_dump_version);
	}
}

/* One look at the clock (now, Unix seconds; last_now the previous look):
 * a jump (backwards over 60 s, or 5 min past the due run) recomputes the
 * next run without replaying a missed one (README "The daemon"); a due run
 * starts, or is skipped and counted while one is still going. Nothing
 * starts once stopping. Returns the next run time as it was before. */
static int64_t schedule_tick(struct daemon *d, int64_t now, int64_t last_now, bool stopping)
{
	int64_t next;

	pthread_mutex_lock(&d->mu);
	next = d->info.next_run;
	pthread_mutex_unlock(&d->mu);
	if (now < last_now - 60 || (next > 0 && now > next + 300)) {
		log_warn("clock jumped by %llds; recomputing the next run", (long long)(now - last_now));
		set_next(d, now);
	} else if (!stopping && next > 0 && now >= next) {
		if (d->job_running) {
			log_warn("scheduled run skipped: the previous run is still in progress");
			pthread_mutex_lock(&d->mu);
			d->info.skipped_ticks++;
			pthread_mutex_unlock(&d->mu);
		} else {
			/* A run into an unwritable BACKUP_DIR still starts and fails
			 * with its own error and alerts (README "The daemon"); the
			 * check makes /healthz say why first. */
			run_checks(d);
			start_job(d, "scheduled");
		}
		set_next(d, now);
	}
	return next;
}

/* Stop the HTTP listener and the probe thread (waiting at most 1 s for a
 * probe in a 10 s connect), free the zone. */
static void shut_down(struct daemon *d, struct http_server *http)
{
	pthread_mutex_lock(&d->quit_mu);
	d->quit = true;
	pthread_cond_broadcast(&d->quit_cv);
	pthread_mutex_unlock(&d->quit_mu);
	http_stop(http);
	if (d->probe_started) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_timedjoin_np(d->probe, NULL, &until) != 0)
			pthread_detach(d->probe);
	}
	sched_zone_free(d->zone);
}

int daemon_main(const struct config *cfg)
{
	/* Static: the probe thread may outlive this function by a moment (it
	 * can sit in a 10 s connect) and must never see a dead stack frame. */
	static struct daemon d;
	struct http_server *http = NULL;
	struct err e;
	int64_t now, next, last_now, stop_deadline_ms = 0;
	int stop = 0, rc = EXIT_OK, job_stopped_by = 0;

	memset(&d, 0, sizeof d);
	d.cfg = cfg;
	d.job.pid = -1;
	d.notifier.pid = -1;
	pthread_mutex_init(&d.mu, NULL);
	pthread_mutex_init(&d.quit_mu, NULL);
	pthread_cond_init(&d.quit_cv, NULL);
	if (load_schedule(cfg, &d.sched, &d.zone, &e) < 0) {
		log_error("configuration error: %s", e.msg);
		return EXIT_REFUSED;
	}
	now = (int64_t)time(NULL);
	d.max_age = daemon_max_age(cfg, (long)sched_period(&d.sched, d.zone, now));
	d.info.started = now;
	d.info.db_up = -1;
	d.info.run_timeout = cfg->run_timeout > 0 ? cfg->run_timeout : 0;
	d.info.version = VIGIL_VERSION;
	d.info.build = VIGIL_BUILD;
	log_info("vigil %s serving pid=%d schedule=\"%s\" tz=%s max_age=%llds listen=%s", VIGIL_VERSION,
		 (int)getpid(), cfg->schedule, cfg->tz, (long long)d.max_age, cfg->http_listen);
	run_checks(&d);
	preflight(&d);
	reload_state(&d);
	if (strcmp(cfg->http_listen, "off") != 0 && http_start(cfg->http_listen, page, &d, &http, &e) < 0) {
		log_error("%s", e.msg);
		sched_zone_free(d.zone);
		return err_exit_code(&e);
	}
	if (pthread_create(&d.probe, NULL, probe_main, &d) == 0)
		d.probe_started = true;
	if (cfg->backup_on_start && pid1_stop_requested() != SIGTERM && pid1_stop_requested() != SIGINT)
		start_job(&d, "start-up");
	set_next(&d, now);
	last_now = now;
	for (;;) {
		int sig, req, wait_ms = 1000;

		now = (int64_t)time(NULL);
		next = schedule_tick(&d, now, last_now, stop != 0);
		last_now = now;
		if (next > now && (next - now) * 1000 < wait_ms)
			wait_ms = (int)((next - now) * 1000);
		if (stop)
			wait_ms = 100;
		sig = pid1_wait_signal(wait_ms);
		if (sig == SIGHUP)
			log_reopen();
		/* SIGHUP re-runs the start-up checks at once (README "The daemon"). */
		if (!stop && (sig == SIGHUP || util_mono() >= d.next_check))
			run_checks(&d);
		/* A stop a child-running step took in (the pre-flight's
		 * child sees SIGTERM first, and pid1 keeps it) counts too. */
		req = sig == SIGTERM || sig == SIGINT ? sig : stop ? 0 : pid1_stop_requested();
		if (!stop && (req == SIGTERM || req == SIGINT)) {
			stop = req;
			sig = req;
			d.stopping = true;
			log_info("received %s, stopping", strsignal(sig));
			if (d.job_running) {
				job_stopped_by = sig;
				pid1_kill(&d.job, SIGTERM);
			}
			if (d.notifier_running)
				pid1_kill(&d.notifier, SIGTERM);
			stop_deadline_ms = (int64_t)(util_mono() * 1000) + STOP_GRACE_MS;
		}
		if (!stop && d.job_running && cfg->run_timeout > 0)
			stop_overdue(&d);
		if (!stop)
			stop_slow_notifier(&d);
		reap_all(&d);
		if (!stop && runs_changed(&d)) {
			reload_state(&d);
			/* someone wrote a manifest: BACKUP_DIR may be writable again */
			run_checks(&d);
		}
		if (stop) {
			if (!d.job_running && !d.notifier_running)
				break;
			if ((int64_t)(util_mono() * 1000) > stop_deadline_ms) {
				log_warn("the %s did not stop in time; killing it",
					 d.job_running ? "run" : "alerts child");
				if (d.job_running)
					pid1_kill(&d.job, SIGKILL);
				if (d.notifier_running)
					pid1_kill(&d.notifier, SIGKILL);
				stop_deadline_ms = INT64_MAX;
			}
		}
	}
	if (job_stopped_by) {
		remove_temporaries(cfg);
		rc = exit_for_signal(job_stopped_by);
	}
	shut_down(&d, http);
	log_info("stopped exit=%d", rc);
	return rc;
}
