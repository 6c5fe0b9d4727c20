/* startup.h - the daemon's start-up checks (README "The daemon"): what
 * must hold for a scheduled run to have a chance, tried for real at start,
 * every STARTUP_RECHECK_S seconds and before each scheduled run, so an
 * unwritable backup volume shows at start and a fix on the host clears it
 * without a restart.
 *
 * A failure never stops the daemon: restores, `vigil list` and the other
 * commands keep working through `docker compose exec`, /healthz answers 503
 * with the reason and /metrics has vigil_startup_check_ok{check} 0.
 */
#ifndef VIGIL_STARTUP_H
#define VIGIL_STARTUP_H

#include <stdbool.h>

#include "base/config.h"

#define STARTUP_RECHECK_S 60

enum startup_check {
	SC_BACKUP_DIR, /* a real file can be created, written, synced and removed */
	SC_LOG_DIR,    /* the same */
	SC_MEDIA_DIR,  /* MEDIA_DIR (when set) can be listed */
	SC_CA_BUNDLE,  /* a CA bundle, when an alert channel uses TLS */
	SC_N
};

struct startup_report {
	bool applies[SC_N]; /* the check was made (MEDIA_DIR set, a TLS channel) */
	bool ok[SC_N];
	char msg[SC_N][700]; /* why not, with a hint; "" when ok */
};

/* Run every check that applies to cfg into r. BACKUP_DIR and LOG_DIR are
 * created when missing (as a run would, with backup_dir_mode), then a
 * hidden probe file ".vigil-probe-<pid>-<n>" is created with O_EXCL,
 * written (one byte), fsynced and removed: a write that really happens,
 * never a guess from modes and uids. MEDIA_DIR is opened and read
 * (opendir, readdir). The CA bundle is ca_bundle_choose's, needed when
 * BACKUP_NOTIFY_EMAIL is set with EMAIL_USE_TLS or EMAIL_USE_SSL, or
 * BACKUP_WEBHOOK_URL or BACKUP_PING_URL is https. A failed check's message
 * names the variable, the path, the effective uid:gid, the directory's
 * owner:group and mode (when it exists) and a fix. No logging. */
void startup_check(const struct config *cfg, struct startup_report *r);

/* The check's name in /metrics and the log ("backup_dir", ...). */
const char *startup_check_name(enum startup_check c);

#endif
