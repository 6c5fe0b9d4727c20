/* notify.h - what alerts a run sends, when, and their bookkeeping (README
 * "Alerts"): the healthchecks.io-style ping (<BACKUP_PING_URL>/start when a
 * run begins, the plain URL or <URL>/fail when it ends), the webhook (the
 * run manifest as JSON, POSTed after every run) and the alert mail
 * (pipeline/mail.c, per BACKUP_NOTIFY_ON). The transfers are infra/curl.c's;
 * this module decides what to send and records how each went in the run
 * manifest (mf_add_notice, manifest_replace), which is where /metrics reads
 * vigil_notification_failures_total from (state.c). A run's exit status and
 * files never depend on its alerts: a failed alert is an ERROR line naming
 * the channel, the redacted URL and the cause, and a "failed" notice.
 *
 * The process that ran the job sends (docs/design.md "Where a new module
 * goes"): `vigil backup` through the two hooks below, `vigil notify RUN_ID`
 * for a run the daemon recorded after it died.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <stdbool.h>

#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"
#include "pipeline/backup.h"

/* BACKUP_NOTIFY_TIMEOUT's upper bound (s): a longer one would let a dead
 * endpoint hold the run (and the daemon's next tick) for an hour. */
#define NOTIFY_TIMEOUT_MAX 3600

/* Check the alert settings (the URLs parse as http(s) with curl_url_check,
 * BACKUP_NOTIFY_TIMEOUT <= NOTIFY_TIMEOUT_MAX). Returns 0 or -1 with e set
 * (ERR_CONFIG naming the variable). */
int notify_check_config(const struct config *cfg, struct err *e);

/* Register the secret parts of BACKUP_WEBHOOK_URL (userinfo, query values)
 * and BACKUP_PING_URL (also its last path segment, the check's UUID) with
 * the log module (curl_url_secrets), so that no log line, manifest, mail,
 * webhook body, /metrics, /healthz or check-config output shows them. Call
 * once after config_load, before anything logs a URL. */
void notify_register_secrets(const struct config *cfg);

/* Hook at the start of a backup run, lock held: ping <BACKUP_PING_URL>/start
 * (GET, bounded by BACKUP_NOTIFY_TIMEOUT) when a ping URL is set. A failure
 * is an ERROR line; it is remembered for this process and recorded in the
 * run's "ping" notice by notify_run_end. Never fails the run. */
void notify_run_start(const struct config *cfg);

/* Hook at the end of a backup run (after prune, lock released): r and
 * run_err are what backup_run returns. A busy lock (ERR_LOCKED) sends
 * nothing; a run stopped by SIGTERM/SIGINT sends nothing either (a WARN
 * says so). Otherwise it fills a manifest the run could not finish (a
 * failure before the lock or the manifest: result "failure", the error,
 * start and end) and calls notify_run_alerts. Never changes r or the
 * run's files; the run's deadline (pid1_set_deadline) is cleared first, so
 * a run that timed out still alerts. */
void notify_run_end(const struct config *cfg, struct manifest *m, enum run_result r,
		    const struct err *run_err);

/* Send the alerts of run manifest m by its result (README "Alerts"):
 *  - mail when BACKUP_NOTIFY_EMAIL is set and BACKUP_NOTIFY_ON is "always",
 *    or "failure" and the run is not healthy (a failure, or a warning with
 *    a suspect media backup; a run whose only warnings are changed files
 *    is healthy);
 *  - webhook: manifest_to_json(m) POSTed to BACKUP_WEBHOOK_URL after every
 *    run, Content-Type application/json;
 *  - ping: BACKUP_PING_URL when healthy, else <BACKUP_PING_URL>/fail, POST
 *    with a text/plain summary (at most 100 KB); never both.
 * Each attempted channel adds one notice to m ("sent"/"failed"; the ping's
 * is "failed" when its /start failed too); a failure is an ERROR line.
 * Notices m already holds are dropped first (a re-send replaces them). When
 * m->run_id is set, the manifest is rewritten (manifest_replace in
 * BACKUP_DIR/runs). Returns 0 when every attempted channel succeeded (also
 * when none is configured), -1 with e set (ERR_NOTIFY naming the failed
 * channels) otherwise. */
int notify_run_alerts(const struct config *cfg, struct manifest *m, struct err *e);

/* `vigil notify --test`: a test mail (when BACKUP_NOTIFY_EMAIL is set,
 * whatever BACKUP_NOTIFY_ON says), a test webhook (a manifest with command
 * "test") and a ping to <BACKUP_PING_URL>/log (healthchecks.io's endpoint
 * that logs an event without changing the check's state). The outcomes
 * are put into m (zeroed first; command "test", nothing written to disk)
 * for the caller to print. Returns 0 when every channel succeeded, -1 with
 * e set: ERR_CONFIG when no channel is configured, ERR_NOTIFY naming the
 * failed channels. */
int notify_test(const struct config *cfg, struct manifest *m, struct err *e);

#endif
