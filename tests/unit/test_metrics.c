/* test_metrics.c - /healthz rules and /metrics rendering (src/pipeline/metrics.c),
 * and folding manifests into state (src/pipeline/state.c). Pure: the clock is a
 * parameter. */
#include "pipeline/metrics.h"
#include "pipeline/state.h"
#include "unit.h"

#include <stdlib.h>

#define H (3600)
#define MAX_AGE (26 * H)

static struct daemon_info info_at(int64_t started)
{
	struct daemon_info d;

	memset(&d, 0, sizeof d);
	d.started = started;
	d.db_up = 1;
	d.version = "0.1.0";
	d.build = "test";
	return d;
}

static struct manifest run(int64_t end, const char *db, const char *media)
{
	struct manifest m;

	memset(&m, 0, sizeof m);
	m.start = end - 60;
	m.end = end;
	snprintf(m.art[0].kind, sizeof m.art[0].kind, "db");
	snprintf(m.art[0].result, sizeof m.art[0].result, "%s", db);
	if (strcmp(db, "failure") == 0)
		snprintf(m.art[0].err_msg, sizeof m.art[0].err_msg, "pg_dump exited 1");
	m.art[0].bytes = 1234;
	m.n_art = 1;
	if (media) {
		snprintf(m.art[1].kind, sizeof m.art[1].kind, "media");
		snprintf(m.art[1].result, sizeof m.art[1].result, "%s", media);
		m.n_art = 2;
	}
	return m;
}

static struct state two_kinds(void)
{
	struct state st;

	memset(&st, 0, sizeof st);
	st.kind[KIND_DB].enabled = true;
	st.kind[KIND_MEDIA].enabled = true;
	return st;
}

static void fresh_start_is_pending_then_failing(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct health h;

	metrics_health(&st, &d, 1000000 + 10, MAX_AGE, &h);
	CHECK(h.status == 200);
	CHECK(strstr(h.body, "\"pending\"") != NULL);
	metrics_health(&st, &d, 1000000 + MAX_AGE + 1, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "no backup has run") != NULL);
}

static void preflight_failure_is_503_before_any_run(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct health h;

	snprintf(d.preflight_error, sizeof d.preflight_error,
		 "pg_dump 14.12 is older than the server (PostgreSQL 15.20)");
	metrics_health(&st, &d, 1000000 + 10, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "pre-flight failed: pg_dump 14.12") != NULL);
}

static void success_failure_recovery_and_stale(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m;
	struct health h;
	int64_t t = 1000000 + H;

	m = run(t, "success", "success");
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, t + 1, MAX_AGE, &h);
	CHECK(h.status == 200);
	CHECK(strstr(h.body, "\"ok\"") != NULL);

	m = run(t + H, "failure", "success");
	state_add_manifest(&st, &m);
	m = run(t + 2 * H, "failure", "success");
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, t + 2 * H + 1, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "db: the last run failed") != NULL);
	CHECK(strstr(h.body, "pg_dump exited 1") != NULL);
	CHECK(st.kind[KIND_DB].consecutive_failures == 2);
	CHECK(st.kind[KIND_DB].last_success == t);
	CHECK(st.kind[KIND_DB].runs[RES_FAILURE] == 2);

	m = run(t + 3 * H, "success", "warning");
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, t + 3 * H + 1, MAX_AGE, &h);
	CHECK(h.status == 200); /* a warning run still made a backup */
	CHECK(st.kind[KIND_DB].consecutive_failures == 0);
	CHECK(st.kind[KIND_MEDIA].runs[RES_WARNING] == 1);

	metrics_health(&st, &d, t + 3 * H + 27 * H, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "older than HEALTHCHECK_MAX_AGE (26h00m)") != NULL);
}

static void reasons_are_json_escaped(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "failure", NULL);
	struct health h;

	snprintf(m.art[0].err_msg, sizeof m.art[0].err_msg, "database \"app\"\ndoes not exist\\");
	st.kind[KIND_MEDIA].enabled = false;
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, 1000200, MAX_AGE, &h);
	CHECK(strstr(h.body, "database \\\"app\\\"\\u000adoes not exist\\\\") != NULL);
}

static void render_has_every_family_once(void)
{
	static const char *const families[] = {
		"vigil_build_info", "vigil_start_timestamp_seconds",
		"vigil_last_success_timestamp_seconds", "vigil_last_failure_timestamp_seconds",
		"vigil_last_duration_seconds", "vigil_last_size_bytes", "vigil_runs_total",
		"vigil_warnings_total", "vigil_consecutive_failures", "vigil_backups_stored",
		"vigil_backups_stored_bytes", "vigil_pruned_total", "vigil_next_run_timestamp_seconds",
		"vigil_running", "vigil_skipped_runs_total", "vigil_database_up",
		"vigil_notification_failures_total", "vigil_offsite_last_success_timestamp_seconds",
		"vigil_verify_last_success_timestamp_seconds", "vigil_run_overdue",
		"vigil_unrecorded_failures_total", "vigil_future_manifests",
		"vigil_last_backup_suspect", "vigil_failures_total", "vigil_notifications_total", NULL
	};
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "success", "success");
	char *out, type[128];

	state_add_manifest(&st, &m);
	d.next_run = 1010800;
	out = metrics_render(&st, &d, 2000000);
	REQUIRE(out != NULL);
	for (int i = 0; families[i]; i++) {
		const char *p;
		snprintf(type, sizeof type, "# TYPE %s ", families[i]);
		p = strstr(out, type);
		CHECK(p != NULL);
		if (p)
			CHECK(strstr(p + 1, type) == NULL);
	}
	CHECK(strstr(out, "vigil_runs_total{kind=\"db\",result=\"success\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_last_success_timestamp_seconds{kind=\"media\"} 1000100\n") != NULL);
	CHECK(strstr(out, "vigil_next_run_timestamp_seconds 1010800\n") != NULL);
	CHECK(strstr(out, "vigil_last_size_bytes{kind=\"db\"} 1234\n") != NULL);
	free(out);
}

static void disabled_media_is_not_rendered(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	char *out;

	st.kind[KIND_MEDIA].enabled = false;
	out = metrics_render(&st, &d, 2000000);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "kind=\"media\"") == NULL);
	CHECK(strstr(out, "kind=\"db\"") != NULL);
	free(out);
}

/* F6: a run still going past BACKUP_RUN_TIMEOUT fails /healthz even when
 * every kind's last run succeeded, and shows in vigil_run_overdue. */
static void overdue_run_is_503(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "success", "success");
	struct health h;
	char *out;

	state_add_manifest(&st, &m);
	d.running = true;
	d.run_started = 1000200;
	d.run_timeout = 3600;
	CHECK(!metrics_run_overdue(&d, 1000200 + 3600));
	metrics_health(&st, &d, 1000200 + 3600, MAX_AGE, &h);
	CHECK(h.status == 200);
	/* C15: every answer during a run says since when and for how long. */
	CHECK(strstr(h.body, ",\"running\":{\"since\":\"1970-01-12T13:50:00Z\",\"seconds\":3600}}") !=
	      NULL);
	CHECK(metrics_run_overdue(&d, 1000200 + 3601));
	metrics_health(&st, &d, 1000200 + 3601, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "a backup run has been going for 1h00m, longer than "
			     "BACKUP_RUN_TIMEOUT (1h00m)") != NULL);
	out = metrics_render(&st, &d, 1000200 + 3601);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "\nvigil_run_overdue 1\n") != NULL);
	free(out);
	CHECK(strstr(h.body, "\"seconds\":3601}}") != NULL);
	d.running = false;
	CHECK(!metrics_run_overdue(&d, 1000200 + 9999));
	metrics_health(&st, &d, 1000200 + 3601, MAX_AGE, &h);
	CHECK(strstr(h.body, "running") == NULL);
}

/* A failure's error code reaches /metrics as the reason label (issue 10:
 * it was dropped on the way into the state); a manifest without a code,
 * or with one this build does not know, counts as "unknown". */
static void failures_by_reason(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m1 = run(1000100, "failure", "success");
	struct manifest m2 = run(1000200, "failure", "failure");
	struct manifest m3 = run(1000300, "failure", NULL);
	struct unrecorded_run u = { .start = 1000400, .end = 1000401, .kinds = 1u << KIND_MEDIA,
				    .code = ERR_TIMEOUT };
	char *out;

	snprintf(m1.art[0].err_code, sizeof m1.art[0].err_code, "dump");
	snprintf(m2.art[0].err_code, sizeof m2.art[0].err_code, "dump");
	snprintf(m2.art[1].err_code, sizeof m2.art[1].err_code, "nospace");
	snprintf(m3.err_code, sizeof m3.err_code, "no_such_code");
	state_add_manifest(&st, &m1);
	state_add_manifest(&st, &m2);
	state_add_manifest(&st, &m3);
	state_add_unrecorded(&st, &u);
	CHECK(st.kind[KIND_DB].failures[ERR_DUMP] == 2);
	CHECK(st.kind[KIND_DB].failures[ERR_CODE_COUNT] == 1);
	out = metrics_render(&st, &d, 1000500);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "# TYPE vigil_failures_total counter\n") != NULL);
	CHECK(strstr(out, "vigil_failures_total{kind=\"db\",reason=\"dump\"} 2\n") != NULL);
	CHECK(strstr(out, "vigil_failures_total{kind=\"db\",reason=\"unknown\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_failures_total{kind=\"media\",reason=\"nospace\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_failures_total{kind=\"media\",reason=\"timeout\"} 1\n") != NULL);
	CHECK(strstr(out, "reason=\"ok\"") == NULL);
	free(out);
}

/* F4: a failure that left no manifest counts, and decides the kind's state
 * only when it is newer than the newest recorded run. */
static void unrecorded_failures_fold_in(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "success", "success");
	struct unrecorded_run u = { .start = 1000200, .end = 1000201,
				    .kinds = (1u << KIND_DB) | (1u << KIND_MEDIA) };
	struct health h;

	snprintf(u.msg, sizeof u.msg, "the run exited 1 and left no run manifest");
	state_add_manifest(&st, &m);
	state_add_unrecorded(&st, &u);
	for (int k = 0; k < KIND_N; k++) {
		CHECK(st.kind[k].runs[RES_FAILURE] == 1);
		CHECK(st.kind[k].runs[RES_SUCCESS] == 1);
		CHECK(st.kind[k].consecutive_failures == 1);
		CHECK(st.kind[k].last_failure == 1000201);
		CHECK(st.kind[k].last_success == 1000100);
		CHECK_STR(st.kind[k].last_result, "failure");
	}
	metrics_health(&st, &d, 1000300, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "left no run manifest") != NULL);
	/* an older unrecorded failure: counted, but the newer success decides */
	st = two_kinds();
	m = run(1000400, "success", "success");
	state_add_manifest(&st, &m);
	u.kinds = 1u << KIND_DB;
	state_add_unrecorded(&st, &u);
	CHECK(st.kind[KIND_DB].runs[RES_FAILURE] == 1);
	CHECK(st.kind[KIND_DB].consecutive_failures == 0);
	CHECK_STR(st.kind[KIND_DB].last_result, "success");
	CHECK(st.kind[KIND_MEDIA].runs[RES_FAILURE] == 0);
	/* a disabled kind is not touched */
	st.kind[KIND_MEDIA].enabled = false;
	u.kinds = 1u << KIND_MEDIA;
	u.end = 1000500;
	state_add_unrecorded(&st, &u);
	CHECK(st.kind[KIND_MEDIA].runs[RES_FAILURE] == 0);
}

/* F5: a manifest is "in the future" only beyond STATE_FUTURE_SLACK. */
static void future_manifests_are_flagged(void)
{
	struct manifest m = run(1000000, "success", NULL);

	CHECK(!state_manifest_future(&m, 1000000));
	CHECK(!state_manifest_future(&m, 1000000 - STATE_FUTURE_SLACK));
	CHECK(state_manifest_future(&m, 1000000 - STATE_FUTURE_SLACK - 1));
	m.start = 1000000 + 30 * 86400; /* a clock 30 days ahead at the start only */
	CHECK(state_manifest_future(&m, 1000000));
}

/* A complete media file that is no good backup (an empty directory: a
 * volume that was not mounted) is neither the last success nor a failure;
 * /healthz says why until a good one follows (issue 9 item 8). */
static void suspect_backup_is_503(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m;
	struct health h;
	int64_t t = 1000000 + H;
	char *out;

	m = run(t, "success", "success");
	state_add_manifest(&st, &m);
	m = run(t + H, "success", "warning");
	snprintf(m.art[1].suspect, sizeof m.art[1].suspect, "media directory holds no files");
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, t + H + 1, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "media: the last backup is not a good one: media directory holds no "
			     "files") != NULL);
	CHECK(st.kind[KIND_MEDIA].last_success == t);
	CHECK(st.kind[KIND_MEDIA].consecutive_failures == 0);
	CHECK(st.kind[KIND_MEDIA].runs[RES_WARNING] == 1);
	out = metrics_render(&st, &d, t + H + 1);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "vigil_last_backup_suspect{kind=\"media\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_last_backup_suspect{kind=\"db\"} 0\n") != NULL);
	free(out);

	m = run(t + 2 * H, "success", "success");
	state_add_manifest(&st, &m);
	metrics_health(&st, &d, t + 2 * H + 1, MAX_AGE, &h);
	CHECK(h.status == 200);
	CHECK(st.kind[KIND_MEDIA].suspect[0] == '\0');
	CHECK(st.kind[KIND_MEDIA].last_success == t + 2 * H);
}

/* Alerts recorded in the manifests ("notifications") are counted by
 * channel and result: vigil_notification_failures_total{channel} and
 * vigil_notifications_total{channel,result}, every channel always shown. */
static void notices_are_counted(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "failure", "success");
	char *out;

	mf_add_notice(&m, "mail", "sent", "");
	mf_add_notice(&m, "webhook", "failed", "HTTP 500");
	mf_add_notice(&m, "ping", "failed", "timed out");
	state_add_manifest(&st, &m);
	m = run(1000200, "success", "success");
	mf_add_notice(&m, "webhook", "failed", "HTTP 404");
	mf_add_notice(&m, "ping", "sent", "");
	mf_add_notice(&m, "fax", "failed", "no such channel");
	state_add_manifest(&st, &m);
	CHECK(st.notices[NOTE_WEBHOOK][NOTE_FAILED] == 2);
	CHECK(st.notices[NOTE_PING][NOTE_FAILED] == 1);
	CHECK(st.notices[NOTE_PING][NOTE_SENT] == 1);
	out = metrics_render(&st, &d, 1000300);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "vigil_notification_failures_total{channel=\"mail\"} 0\n") != NULL);
	CHECK(strstr(out, "vigil_notification_failures_total{channel=\"webhook\"} 2\n") != NULL);
	CHECK(strstr(out, "vigil_notification_failures_total{channel=\"ping\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_notifications_total{channel=\"mail\",result=\"sent\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_notifications_total{channel=\"ping\",result=\"sent\"} 1\n") != NULL);
	CHECK(strstr(out, "fax") == NULL);
	free(out);
}

/* A failed start-up check is the reason even after a good run; only the
 * checks made are rendered, 1 or 0; one that passes again clears it. */
static void startup_check_is_503_until_it_passes(void)
{
	struct state st = two_kinds();
	struct daemon_info d = info_at(1000000);
	struct manifest m = run(1000100, "success", "success");
	struct health h;
	char *out;

	state_add_manifest(&st, &m);
	d.startup_state[SC_BACKUP_DIR] = 2;
	d.startup_state[SC_LOG_DIR] = 1;
	d.startup_state[SC_CA_BUNDLE] = 2;
	d.startup_failed = 2;
	snprintf(d.startup_error, sizeof d.startup_error, "BACKUP_DIR /b is not \"writable\"");
	metrics_health(&st, &d, 1000200, MAX_AGE, &h);
	CHECK(h.status == 503);
	CHECK(strstr(h.body, "\"reason\":\"start-up check failed: BACKUP_DIR /b is not "
			     "\\\"writable\\\" (and more: see the log") != NULL);
	out = metrics_render(&st, &d, 1000200);
	REQUIRE(out != NULL);
	CHECK(strstr(out, "# TYPE vigil_startup_check_ok gauge\n") != NULL);
	CHECK(strstr(out, "vigil_startup_check_ok{check=\"backup_dir\"} 0\n") != NULL);
	CHECK(strstr(out, "vigil_startup_check_ok{check=\"log_dir\"} 1\n") != NULL);
	CHECK(strstr(out, "vigil_startup_check_ok{check=\"ca_bundle\"} 0\n") != NULL);
	CHECK(strstr(out, "check=\"media_dir\"") == NULL);
	free(out);
	d.startup_error[0] = '\0';
	d.startup_failed = 0;
	metrics_health(&st, &d, 1000200, MAX_AGE, &h);
	CHECK(h.status == 200);
}

UNIT_MAIN(T(startup_check_is_503_until_it_passes), T(notices_are_counted), T(suspect_backup_is_503), T(fresh_start_is_pending_then_failing), T(preflight_failure_is_503_before_any_run),
	  T(success_failure_recovery_and_stale), T(reasons_are_json_escaped),
	  T(render_has_every_family_once), T(disabled_media_is_not_rendered),
	  T(overdue_run_is_503), T(unrecorded_failures_fold_in), T(failures_by_reason), T(future_manifests_are_flagged))
