/* metrics.c - see metrics.h. */
#include "pipeline/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

void metrics_json_escape(const char *s, char *out, size_t n)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 7 < n; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

static void fmt_age(int64_t secs, char *out, size_t n)
{
	if (secs >= 3600)
		snprintf(out, n, "%lldh%02lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
	else if (secs >= 60)
		snprintf(out, n, "%lldm", (long long)(secs / 60));
	else
		snprintf(out, n, "%llds", (long long)secs);
}

bool metrics_run_overdue(const struct daemon_info *d, int64_t now)
{
	return d->running && d->run_started > 0 && d->run_timeout > 0 &&
	       now - d->run_started > d->run_timeout;
}

void metrics_health(const struct state *st, const struct daemon_info *d, int64_t now,
		    int64_t max_age, struct health *h)
{
	char reason[900] = "", esc[1000], ts[32], a1[32], a2[32], run[96] = "";
	bool pending = false;

	if (d->running && d->run_started > 0) {
		/* Said in every answer, so a probe during a long run shows that
		 * the daemon is busy, not stuck (C15). */
		log_time_utc(d->run_started, ts);
		snprintf(run, sizeof run, ",\"running\":{\"since\":\"%s\",\"seconds\":%lld}", ts,
			 (long long)(now > d->run_started ? now - d->run_started : 0));
	}

	if (d->startup_error[0]) {
		/* The next run would fail the same way (or its alerts would):
		 * unhealthy now, not at 03:00. */
		snprintf(reason, sizeof reason, "start-up check failed: %s%s", d->startup_error,
			 d->startup_failed > 1 ? " (and more: see the log and "
						 "vigil_startup_check_ok in /metrics)" : "");
	} else if (metrics_run_overdue(d, now)) {
		/* The run itself stops at its deadline; one that is still here
		 * is stuck, and no kind's older result should hide that (F6). */
		fmt_age(now - d->run_started, a1, sizeof a1);
		fmt_age(d->run_timeout, a2, sizeof a2);
		snprintf(reason, sizeof reason,
			 "a backup run has been going for %s, longer than BACKUP_RUN_TIMEOUT (%s)", a1,
			 a2);
	}

	for (int k = 0; k < KIND_N && !reason[0]; k++) {
		const struct kind_state *ks = &st->kind[k];
		if (!ks->enabled)
			continue;
		if (ks->last_run == 0) {
			if (d->preflight_error[0]) {
				/* No run yet, but we already know it would fail. */
				snprintf(reason, sizeof reason, "pre-flight failed: %s",
					 d->preflight_error);
			} else if (now - d->started < max_age) {
				pending = true;
			} else {
				fmt_age(max_age, a1, sizeof a1);
				snprintf(reason, sizeof reason, "%s: no backup has run within %s of start",
					 state_kind_name(k), a1);
			}
		} else if (strcmp(ks->last_result, "failure") == 0) {
			log_time_utc(ks->last_failure, ts);
			snprintf(reason, sizeof reason, "%s: the last run failed at %s: %s",
				 state_kind_name(k), ts, ks->last_error);
		} else if (ks->suspect[0]) {
			snprintf(reason, sizeof reason,
				 "%s: the last backup is not a good one: %s; hint: check that the "
				 "media volume is mounted, or set MEDIA_ALLOW_EMPTY=true if it is "
				 "empty on purpose", state_kind_name(k), ks->suspect);
		} else if (now - ks->last_success > max_age) {
			fmt_age(now - ks->last_success, a1, sizeof a1);
			fmt_age(max_age, a2, sizeof a2);
			snprintf(reason, sizeof reason,
				 "%s: the last success is %s old, older than HEALTHCHECK_MAX_AGE (%s)",
				 state_kind_name(k), a1, a2);
		}
	}
	if (reason[0]) {
		log_redact(reason, sizeof reason);
		metrics_json_escape(reason, esc, sizeof esc);
		h->status = 503;
		snprintf(h->body, sizeof h->body, "{\"status\":\"failing\",\"reason\":\"%s\"%s}\n", esc,
			 run);
		return;
	}
	h->status = 200;
	if (pending) {
		snprintf(h->body, sizeof h->body,
			 "{\"status\":\"pending\",\"reason\":\"no run yet since start\"%s}\n", run);
		return;
	}
	{
		char db[32] = "", media[32] = "";
		if (st->kind[KIND_DB].enabled)
			log_time_utc(st->kind[KIND_DB].last_success, db);
		if (st->kind[KIND_MEDIA].enabled)
			log_time_utc(st->kind[KIND_MEDIA].last_success, media);
		snprintf(h->body, sizeof h->body,
			 "{\"status\":\"ok\",\"last_success\":{\"db\":\"%s\",\"media\":\"%s\"}%s}\n",
			 db, media, run);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The alert families: every channel, also at 0, so a rate() sees it start. */
static void render_notices(FILE *f, const struct state *st)
{
	family(f, "vigil_notification_failures_total", "counter",
	       "Alerts (mail, webhook, ping) that could not be delivered, by channel, over the run "
	       "manifests on disk.");
	for (int c = 0; c < NOTE_N; c++)
		fprintf(f, "vigil_notification_failures_total{channel=\"%s\"} %llu\n",
			state_channel_name(c), (unsigned long long)st->notices[c][NOTE_FAILED]);
	family(f, "vigil_notifications_total", "counter",
	       "Alerts by channel and result (sent, failed), over the run manifests on disk.");
	for (int c = 0; c < NOTE_N; c++)
		for (int r = NOTE_SENT; r <= NOTE_FAILED; r++)
			fprintf(f, "vigil_notifications_total{channel=\"%s\",result=\"%s\"} %llu\n",
				state_channel_name(c), r == NOTE_SENT ? "sent" : "failed",
				(unsigned long long)st->notices[c][r]);
}

char *metrics_render(const struct state *st, const struct daemon_info *d, int64_t now)
{
	static const char *const results[RES_N] = { "success", "warning", "failure" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	family(f, "vigil_build_info", "gauge", "Build of the running vigil; always 1.");
	fprintf(f, "vigil_build_info{version=\"%s\",build=\"%s\"} 1\n", d->version, d->build);
	family(f, "vigil_start_timestamp_seconds", "gauge", "When the daemon started.");
	fprintf(f, "vigil_start_timestamp_seconds %lld\n", (long long)d->started);

#define PER_KIND(name, type, help, fmt, expr)                                                  \
	do {                                                                                   \
		family(f, name, type, help);                                                   \
		for (int k = 0; k < KIND_N; k++) {                                             \
			const struct kind_state *ks = &st->kind[k];                            \
			if (!ks->enabled)                                                      \
				continue;                                                      \
			fprintf(f, "%s{kind=\"%s\"} " fmt "\n", name, state_kind_name(k), expr); \
		}                                                                              \
	} while (0)

	PER_KIND("vigil_last_success_timestamp_seconds", "gauge",
		 "End of the newest successful run of a kind (0 = never).", "%lld",
		 (long long)ks->last_success);
	PER_KIND("vigil_last_failure_timestamp_seconds", "gauge",
		 "End of the newest failed run of a kind (0 = never).", "%lld",
		 (long long)ks->last_failure);
	PER_KIND("vigil_last_duration_seconds", "gauge", "Duration of the newest run of a kind.",
		 "%.3f", ks->last_duration);
	PER_KIND("vigil_last_size_bytes", "gauge",
		 "Size on disk of the newest successful backup of a kind.", "%llu",
		 (unsigned long long)ks->last_size);
	family(f, "vigil_runs_total", "counter",
	       "Runs by kind and result, over the run manifests on disk.");
	for (int k = 0; k < KIND_N; k++) {
		if (!st->kind[k].enabled)
			continue;
		for (int r = 0; r < RES_N; r++)
			fprintf(f, "vigil_runs_total{kind=\"%s\",result=\"%s\"} %llu\n",
				state_kind_name(k), results[r],
				(unsigned long long)st->kind[k].runs[r]);
	}
	family(f, "vigil_failures_total", "counter",
	       "Failed runs by kind and reason (the error code of the run manifest, as in "
	       "README's error table), over the run manifests on disk.");
	for (int k = 0; k < KIND_N; k++) {
		if (!st->kind[k].enabled)
			continue;
		for (int c = 0; c <= ERR_CODE_COUNT; c++)
			if (st->kind[k].failures[c])
				fprintf(f, "vigil_failures_total{kind=\"%s\",reason=\"%s\"} %llu\n",
					state_kind_name(k), err_reason((enum err_code)c),
					(unsigned long long)st->kind[k].failures[c]);
	}
	PER_KIND("vigil_warnings_total", "counter",
		 "Files that changed or vanished while archived, over the manifests on disk.",
		 "%llu", (unsigned long long)ks->warnings);
	PER_KIND("vigil_last_backup_suspect", "gauge",
		 "1 when the newest backup of a kind is complete but no good backup (an empty or "
		 "collapsed media directory).", "%d", ks->suspect[0] ? 1 : 0);
	PER_KIND("vigil_consecutive_failures", "gauge",
		 "Failed runs of a kind since its last success.", "%llu",
		 (unsigned long long)ks->consecutive_failures);
	PER_KIND("vigil_backups_stored", "gauge", "Regular backups of a kind on disk.", "%llu",
		 (unsigned long long)ks->stored_count);
	PER_KIND("vigil_backups_stored_bytes", "gauge", "Bytes of the regular backups of a kind.",
		 "%llu", (unsigned long long)ks->stored_bytes);
	PER_KIND("vigil_pruned_total", "counter",
		 "Backup files deleted by retention, over the run manifests on disk.", "%llu",
		 (unsigned long long)ks->pruned);
#undef PER_KIND
	family(f, "vigil_next_run_timestamp_seconds", "gauge",
	       "When the next scheduled run starts (0 = none).");
	fprintf(f, "vigil_next_run_timestamp_seconds %lld\n", (long long)d->next_run);
	family(f, "vigil_running", "gauge", "1 while a backup run is in progress.");
	fprintf(f, "vigil_running %d\n", d->running ? 1 : 0);
	family(f, "vigil_run_overdue", "gauge",
	       "1 while a backup run has been going for longer than BACKUP_RUN_TIMEOUT.");
	fprintf(f, "vigil_run_overdue %d\n", metrics_run_overdue(d, now) ? 1 : 0);
	family(f, "vigil_unrecorded_failures_total", "counter",
	       "Failed runs since start that left no run manifest (BACKUP_DIR full or read-only); "
	       "also counted in vigil_runs_total.");
	fprintf(f, "vigil_unrecorded_failures_total %llu\n",
		(unsigned long long)d->unrecorded_failures);
	family(f, "vigil_future_manifests", "gauge",
	       "Run manifests dated in the future (a wrong clock); ignored until their time.");
	fprintf(f, "vigil_future_manifests %llu\n", (unsigned long long)st->future_manifests);
	family(f, "vigil_skipped_runs_total", "counter",
	       "Scheduled runs skipped because another run held the lock.");
	fprintf(f, "vigil_skipped_runs_total %llu\n", (unsigned long long)d->skipped_ticks);
	family(f, "vigil_startup_check_ok", "gauge",
	       "1 when a start-up check (a probe write in BACKUP_DIR and LOG_DIR, MEDIA_DIR readable, "
	       "a CA bundle for TLS alerts) passed at its last try, 0 when it failed; re-checked "
	       "every minute.");
	for (int c = 0; c < SC_N; c++)
		if (d->startup_state[c])
			fprintf(f, "vigil_startup_check_ok{check=\"%s\"} %d\n",
				startup_check_name((enum startup_check)c), d->startup_state[c] == 1);
	family(f, "vigil_database_up", "gauge",
	       "1 when the last connection probe to the database succeeded.");
	fprintf(f, "vigil_database_up %d\n", d->db_up > 0 ? 1 : 0);
	render_notices(f, st);
	family(f, "vigil_offsite_last_success_timestamp_seconds", "gauge",
	       "When the last offsite copy succeeded (0 = never or not configured).");
	fprintf(f, "vigil_offsite_last_success_timestamp_seconds %lld\n",
		(long long)d->offsite_last_success);
	family(f, "vigil_verify_last_success_timestamp_seconds", "gauge",
	       "When the last scheduled verification succeeded (0 = never).");
	fprintf(f, "vigil_verify_last_success_timestamp_seconds %lld\n",
		(long long)d->verify_last_success);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
