/* notify.c - a run's alerts: what to send, when, and their bookkeeping
 * (see notify.h; README "Alerts"). */
#include "pipeline/notify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "infra/curl.h"
#include "infra/pid1.h"
#include "infra/schedule.h"
#include "pipeline/catalog.h"
#include "pipeline/mail.h"

/* healthchecks.io stores at most 100 KB of a ping's body. */
#define PING_BODY_MAX (100 * 1024)

/* How this process's /start ping went (one run per `vigil backup`). */
static bool start_failed;
static char start_error[200];

int notify_check_config(const struct config *cfg, struct err *e)
{
	if (cfg->webhook_url && *cfg->webhook_url &&
	    curl_url_check("BACKUP_WEBHOOK_URL", cfg->webhook_url, e) < 0)
		return -1;
	if (cfg->ping_url && *cfg->ping_url && curl_url_check("BACKUP_PING_URL", cfg->ping_url, e) < 0)
		return -1;
	if (cfg->notify_timeout > NOTIFY_TIMEOUT_MAX)
		return err_set(e, ERR_CONFIG, "BACKUP_NOTIFY_TIMEOUT=%lds is longer than %ds; hint: "
			       "an alert endpoint that does not answer within seconds is down",
			       cfg->notify_timeout, NOTIFY_TIMEOUT_MAX);
	return 0;
}

void notify_register_secrets(const struct config *cfg)
{
	if (cfg->webhook_url && *cfg->webhook_url)
		curl_url_secrets(cfg->webhook_url, false);
	if (cfg->ping_url && *cfg->ping_url)
		curl_url_secrets(cfg->ping_url, true);
}

/* A stop request by a signal (not the run's deadline), or 0. */
static int stopped(void)
{
	int s = pid1_stop_requested();

	return s == SIGTERM || s == SIGINT ? s : 0;
}

/* url with "/<suffix>" added to its path (before any query), so
 * https://hc-ping.com/UUID becomes https://hc-ping.com/UUID/fail; suffix
 * NULL or "" gives url itself. Returns 0 or -1 (too long). */
static int ping_url(const char *url, const char *suffix, char *out, size_t n)
{
	size_t path_len = strcspn(url, "?#");
	const char *rest = url + path_len;

	if (!suffix || !*suffix)
		return snprintf(out, n, "%s", url) < (int)n ? 0 : -1;
	while (path_len > 0 && url[path_len - 1] == '/')
		path_len--;
	return snprintf(out, n, "%.*s/%s%s", (int)path_len, url, suffix, rest) < (int)n ? 0 : -1;
}

/* One bounded HTTP call of channel (for messages) to url: a GET without
 * body, else a POST of body with ctype. A ping (ping: url is
 * BACKUP_PING_URL + "/" + suffix, or the plain URL when suffix is NULL) is
 * shown with the ping URL's secret last segment masked as three stars and
 * the suffix kept ("https://hc-ping.com/UUID/fail" shows its UUID masked and
 * "/fail"). Returns 0 or -1 with e set (ERR_NOTIFY) and an ERROR line naming
 * the channel, the redacted URL and the cause. */
static int http_call(const struct config *cfg, const char *channel, const char *url, bool ping,
		     const char *suffix, const char *ctype, const char *body, size_t len,
		     struct err *e)
{
	struct curl_http h = { .what = channel, .url = url,
			       .content_type = ctype, .body = body, .body_len = len,
			       .deadline_s = cfg->notify_timeout > 0 ? cfg->notify_timeout : 15 };
	char red[512], shown[600];
	long status = 0;
	int sig = stopped();

	if (ping) {
		curl_url_redact(cfg->ping_url, true, red, sizeof red);
		/* the suffix as the call adds it: after trailing slashes, before a query */
		if (ping_url(red, suffix, shown, sizeof shown) < 0)
			snprintf(shown, sizeof shown, "%s", red);
	} else {
		curl_url_redact(url, false, shown, sizeof shown);
	}
	h.shown = shown;
	if (sig)
		err_set(e, ERR_NOTIFY, "%s %s: not sent: stopped by signal %d", channel, shown, sig);
	else if (curl_http_send(&h, &status, e) == 0)
		return 0;
	e->code = ERR_NOTIFY;
	/* curl's message names the channel, the redacted URL and the cause. */
	log_error("alert not delivered: %s", e->msg);
	return -1;
}

void notify_run_start(const struct config *cfg)
{
	char url[4096];
	struct err e;

	start_failed = false;
	start_error[0] = '\0';
	if (!cfg->ping_url || !*cfg->ping_url)
		return;
	err_clear(&e);
	if (ping_url(cfg->ping_url, "start", url, sizeof url) < 0)
		err_set(&e, ERR_NOTIFY, "BACKUP_PING_URL is too long");
	else if (http_call(cfg, "ping", url, true, "start", NULL, NULL, 0, &e) == 0)
		return;
	start_failed = true;
	snprintf(start_error, sizeof start_error, "%s", e.msg);
}

/* A healthy run: success, or a warning whose files are all good backups
 * (changed files only). A suspect media backup is not healthy, as for
 * /healthz (state.c). */
static bool run_healthy(const struct manifest *m)
{
	if (strcmp(m->result, "success") == 0)
		return true;
	if (strcmp(m->result, "warning") != 0)
		return false;
	for (size_t i = 0; i < m->n_art; i++)
		if (m->art[i].suspect[0] || strcmp(m->art[i].result, "failure") == 0)
			return false;
	return true;
}

static bool wants_mail(const struct config *cfg, const struct manifest *m)
{
	if (!cfg->notify_email || !*cfg->notify_email)
		return false;
	return cfg->notify_on == CFG_NOTIFY_ALWAYS ||
	       (cfg->notify_on == CFG_NOTIFY_FAILURE && !run_healthy(m));
}

/* The newest good backup of each kind (catalog order: not pre_restore_,
 * not suspect, not future-dated, with its .sha256). */
static void last_good(const struct config *cfg, struct mail_facts *f)
{
	struct cat_entry *v = NULL;
	size_t n = 0;
	struct err e;

	if (catalog_scan(cfg, -1, &v, &n, &e) < 0) {
		log_warn("the alert cannot name the last good backups: %s", e.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct mail_last_good *g = &f->last_good[v[i].kind == CAT_DB ? 0 : 1];
		if (g->have || v[i].pre_restore || v[i].suspect[0] || v[i].future || !v[i].has_sha256)
			continue;
		g->have = true;
		snprintf(g->name, sizeof g->name, "%s", v[i].name);
		g->when = v[i].utc;
	}
	free(v);
}

/* What the mail says beside the manifest: host, now, next scheduled run
 * (BACKUP_SCHEDULE in TZ), last good backup of each kind. */
static void gather_facts(const struct config *cfg, struct mail_facts *f, char *host, size_t hn)
{
	struct sched s;
	struct sched_zone *z = NULL;
	struct err e;

	memset(f, 0, sizeof *f);
	if (gethostname(host, hn) < 0 || !host[0])
		snprintf(host, hn, "unknown");
	host[hn - 1] = '\0';
	f->host = host;
	f->now = time(NULL);
	f->media_enabled = cfg->media_dir && cfg->media_dir[0];
	if (sched_zone_load(cfg->tz, &z, &e) == 0) {
		if (sched_parse_var("BACKUP_SCHEDULE", cfg->schedule, &s, &e) == 0) {
			int64_t next = sched_next(&s, z, (int64_t)f->now);
			f->next_run = next > 0 ? (time_t)next : 0;
		}
		sched_zone_free(z);
	}
	last_good(cfg, f);
}

/* The ping's text/plain body: one summary line, the error, a line per
 * kind, then warning lines while they fit; at most PING_BODY_MAX bytes
 * (secrets masked). malloc'd, NULL when out of memory. */
static char *ping_body(const struct manifest *m, const char *host, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	fprintf(f, "vigil %s run %s on %s: %s\n", m->command[0] ? m->command : "backup",
		m->run_id[0] ? m->run_id : "(no run manifest)", host,
		m->result[0] ? m->result : "failure");
	if (m->err_msg[0])
		fprintf(f, "error (%s): %s\n", m->err_code[0] ? m->err_code : "unknown", m->err_msg);
	for (size_t i = 0; i < m->n_art; i++) {
		const struct mf_artifact *a = &m->art[i];
		fprintf(f, "%s: %s %s %llu bytes %.1f s%s%s\n", a->kind, a->result,
			a->path[0] ? a->path : "-", (unsigned long long)a->bytes, a->seconds,
			a->suspect[0] ? " suspect: " : "", a->suspect);
	}
	for (size_t i = 0; i < m->n_art; i++)
		for (size_t w = 0; w < m->art[i].n_warnings && ftell(f) < PING_BODY_MAX - 1024; w++)
			fprintf(f, "warning %s: %s\n", m->art[i].kind, m->art[i].warnings[w]);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (n > PING_BODY_MAX) {
		n = PING_BODY_MAX;
		buf[n] = '\0';
	}
	/* "***" replaces secrets of 3 bytes or more: never longer. */
	log_redact(buf, n + 1);
	*len = strlen(buf);
	return buf;
}

/* Record channel's outcome in m; counts a failure into *failed (a
 * comma-separated list of channels). */
static void record(struct manifest *m, const char *channel, int rc, const struct err *e,
		   char *failed, size_t fn)
{
	mf_add_notice(m, channel, rc == 0 ? "sent" : "failed", rc == 0 ? "" : e->msg);
	if (rc == 0)
		return;
	snprintf(failed + strlen(failed), fn - strlen(failed), "%s%s", failed[0] ? ", " : "", channel);
}

static int send_mail(const struct config *cfg, const struct manifest *m, struct err *e)
{
	struct mail_facts f;
	char host[256];
	int sig = stopped();

	if (sig)
		return err_set(e, ERR_NOTIFY, "not sent: stopped by signal %d", sig);
	gather_facts(cfg, &f, host, sizeof host);
	if (mail_send_run(cfg, m, &f, e) == 0)
		return 0;
	e->code = ERR_NOTIFY;
	log_error("alert not delivered: mail to %s through %s:%ld: %s", cfg->notify_email,
		  cfg->email_host, cfg->email_port, e->msg);
	return -1;
}

static int send_webhook(const struct config *cfg, const struct manifest *m, struct err *e)
{
	char *json = manifest_to_json(m);
	int rc;

	if (!json) {
		err_set(e, ERR_NOTIFY, "no memory for the run manifest's JSON");
		log_error("alert not delivered: webhook: %s", e->msg);
		return -1;
	}
	rc = http_call(cfg, "webhook", cfg->webhook_url, false, NULL, "application/json", json,
		       strlen(json), e);
	free(json);
	return rc;
}

/* The ping to BACKUP_PING_URL + "/<suffix>" (NULL: the plain URL) with
 * m's summary as its body. A failed /start of this process's run makes
 * the ping's outcome a failure too. */
static int send_ping(const struct config *cfg, const struct manifest *m, const char *suffix,
		     struct err *e)
{
	char url[4096], host[256];
	size_t len = 0;
	char *body;
	int rc;

	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	if (ping_url(cfg->ping_url, suffix, url, sizeof url) < 0)
		return err_set(e, ERR_NOTIFY, "BACKUP_PING_URL is too long");
	body = ping_body(m, host, &len);
	rc = http_call(cfg, "ping", url, true, suffix, "text/plain; charset=utf-8", body ? body : "",
		       body ? len : 0, e);
	free(body);
	if (rc == 0 && start_failed) {
		err_set(e, ERR_NOTIFY, "the /start ping failed: %s", start_error);
		rc = -1;
	}
	return rc;
}

/* Mail (when mail), webhook and ping (to ping_suffix, see send_ping) as
 * configured, in that order, each outcome recorded in m; the failed
 * channels are listed in failed. */
static void send_all(const struct config *cfg, struct manifest *m, bool mail,
		     const char *ping_suffix, char *failed, size_t fn)
{
	struct err ce;

	m->n_notices = 0;
	if (mail) {
		err_clear(&ce);
		record(m, "mail", send_mail(cfg, m, &ce), &ce, failed, fn);
	}
	if (cfg->webhook_url && *cfg->webhook_url) {
		err_clear(&ce);
		record(m, "webhook", send_webhook(cfg, m, &ce), &ce, failed, fn);
	}
	if (cfg->ping_url && *cfg->ping_url) {
		err_clear(&ce);
		record(m, "ping", send_ping(cfg, m, ping_suffix, &ce), &ce, failed, fn);
	}
}

int notify_run_alerts(const struct config *cfg, struct manifest *m, struct err *e)
{
	char failed[64] = "", runs[UTIL_PATH_MAX];
	struct err ce;

	send_all(cfg, m, wants_mail(cfg, m), run_healthy(m) ? NULL : "fail", failed, sizeof failed);
	if (m->n_notices > 0)
		log_info("alerts done run=%s channels=%zu failed=%s", m->run_id[0] ? m->run_id : "-",
			 m->n_notices, failed[0] ? failed : "none");
	if (m->run_id[0] && m->n_notices > 0) {
		snprintf(runs, sizeof runs, "%s/runs", cfg->backup_dir);
		err_clear(&ce);
		if (manifest_replace(runs, m, (mode_t)cfg->file_mode, &ce) < 0)
			log_error("cannot record the alerts in runs/%s.json: %s", m->run_id, ce.msg);
	}
	if (failed[0])
		return err_set(e, ERR_NOTIFY, "alerts not delivered: %s", failed);
	return 0;
}

void notify_run_end(const struct config *cfg, struct manifest *m, enum run_result r,
		    const struct err *run_err)
{
	struct err e;

	if (r == RUN_FAILURE && run_err->code == ERR_LOCKED)
		return; /* the other run alerts for itself */
	if (r == RUN_FAILURE && run_err->code == ERR_INTERRUPTED && run_err->signo != PID1_DEADLINE) {
		if (m->n_notices == 0 && ((cfg->ping_url && *cfg->ping_url) ||
					  (cfg->webhook_url && *cfg->webhook_url) || wants_mail(cfg, m)))
			log_warn("alerts not sent: the run was stopped by signal %d", run_err->signo);
		return;
	}
	pid1_set_deadline(0); /* a run that timed out still alerts */
	if (r == RUN_FAILURE && strcmp(m->result, "failure") != 0) {
		/* Failed before or while writing its manifest (BACKUP_DIR
		 * unusable): alert with what is known. */
		snprintf(m->result, sizeof m->result, "failure");
		snprintf(m->err_code, sizeof m->err_code, "%s", err_reason(run_err->code));
		snprintf(m->err_msg, sizeof m->err_msg, "%s", run_err->msg);
		if (!m->start)
			m->start = (int64_t)time(NULL);
		if (!m->end)
			m->end = (int64_t)time(NULL);
	}
	if (!m->command[0])
		snprintf(m->command, sizeof m->command, "backup");
	err_clear(&e);
	notify_run_alerts(cfg, m, &e);
}

int notify_test(const struct config *cfg, struct manifest *m, struct err *e)
{
	char failed[64] = "";

	memset(m, 0, sizeof *m);
	snprintf(m->command, sizeof m->command, "test");
	snprintf(m->run_id, sizeof m->run_id, "test");
	snprintf(m->result, sizeof m->result, "success");
	m->start = m->end = (int64_t)time(NULL);
	send_all(cfg, m, cfg->notify_email && *cfg->notify_email, "log", failed, sizeof failed);
	if (m->n_notices == 0)
		return err_set(e, ERR_CONFIG, "no alert channel is configured (BACKUP_NOTIFY_EMAIL, "
			       "BACKUP_WEBHOOK_URL, BACKUP_PING_URL)");
	if (failed[0])
		return err_set(e, ERR_NOTIFY, "alerts not delivered: %s", failed);
	return 0;
}
