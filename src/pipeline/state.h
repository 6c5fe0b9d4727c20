/* state.h - what the daemon reports, rebuilt from disk (README "The daemon":
 * "State survives restarts and includes manual runs: it is read from
 * runs/<stamp>.json"). state_add_manifest is pure; state_load reads the files. */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"

enum { KIND_DB = 0, KIND_MEDIA = 1, KIND_N = 2 };
enum { RES_SUCCESS = 0, RES_WARNING = 1, RES_FAILURE = 2, RES_N = 3 };
/* Alert channels (mf_notice.channel) and outcomes, for /metrics. */
enum { NOTE_MAIL = 0, NOTE_WEBHOOK = 1, NOTE_PING = 2, NOTE_N = 3 };
enum { NOTE_SENT = 0, NOTE_FAILED = 1 };

struct kind_state {
	bool enabled;
	int64_t last_run;       /* end of the newest run of this kind, 0 = none */
	int64_t last_success;   /* end of the newest success or warning run (not a suspect one) */
	int64_t last_failure;
	char last_result[12];   /* "success", "warning", "failure", "" */
	char last_error[512];   /* of the newest failure, secrets already masked */
	/* Failed runs by error code (err.h), over the manifests on disk and the
	 * unrecorded failures; [ERR_CODE_COUNT] counts codes this build does not
	 * know ("unknown"). /metrics shows them as vigil_failures_total{reason}. */
	uint64_t failures[ERR_CODE_COUNT + 1];
	double last_duration;   /* seconds, newest run */
	uint64_t last_size;     /* bytes on disk of the newest kept file */
	uint64_t runs[RES_N];   /* runs by result, over the manifests on disk */
	uint64_t warnings;      /* warning lines (changed/vanished files) */
	uint64_t consecutive_failures;
	uint64_t stored_count;  /* regular backups on disk (not pre_restore_) */
	uint64_t stored_bytes;
	uint64_t pruned;        /* files retention deleted, over the manifests on disk */
	char suspect[256];      /* the newest run's file is no good backup: why ("" = it is) */
};

struct state {
	struct kind_state kind[KIND_N];
	uint64_t manifests;       /* backup run manifests read (not `vigil prune`'s) */
	uint64_t bad_manifests;   /* unreadable ones (logged) */
	uint64_t future_manifests; /* dated after now + STATE_FUTURE_SLACK: not folded */
	int64_t newest_start;     /* latest start among the folded manifests, 0 = none */
	char newest_run[48];      /* run id of that manifest, "" = none */
	/* Alerts by channel (NOTE_*) and outcome (NOTE_SENT, NOTE_FAILED), from
	 * the manifests' "notifications" (README "Alerts"), so they survive
	 * restarts like every other counter. */
	uint64_t notices[NOTE_N][2];
};

/* A manifest whose start or end lies more than this many seconds after
 * "now" was written under a wrong clock (F5). It is counted and logged but
 * not folded in, so it can neither pin /healthz green nor hide a later
 * failure; once real time has caught up with it, it counts like any other. */
#define STATE_FUTURE_SLACK 300

/* True when m is dated in the future relative to now (Unix seconds). */
bool state_manifest_future(const struct manifest *m, int64_t now);

/* Fold one run manifest into st. Call in chronological order (by start).
 * Its "pruned" list counts in kind[].pruned and its alerts' outcomes in
 * notices; a `vigil prune` manifest ("command": "prune") counts only
 * there, never as a run. */
void state_add_manifest(struct state *st, const struct manifest *m);

/* A run the daemon saw fail (exit status not 0, 3 or 75) that left no run
 * manifest, e.g. because BACKUP_DIR is full or read-only (F4). Only the
 * daemon that saw it knows it: it is lost when the daemon restarts. */
struct unrecorded_run {
	int64_t start, end; /* Unix seconds, as the daemon saw the child */
	unsigned kinds;     /* bit (1u << KIND_DB), (1u << KIND_MEDIA) */
	char msg[256];      /* why, for /healthz */
	enum err_code code; /* the failure's code, for vigil_failures_total */
};

/* Fold an unrecorded failure into st (after the manifests): it counts in
 * runs[RES_FAILURE] and last_failure of each enabled kind in u->kinds, and
 * becomes the kind's newest result when it ended at or after the newest
 * recorded run of that kind. Pure. */
void state_add_unrecorded(struct state *st, const struct unrecorded_run *u);

/* Build st from BACKUP_DIR/runs/<stamp>.json and the backups on disk; kinds
 * enabled per cfg (media when MEDIA_DIR is set). Manifests dated in the
 * future relative to now (Unix seconds) are skipped with a WARN and counted
 * in future_manifests. Returns 0, or -1 with e set when BACKUP_DIR cannot be
 * read (a missing runs/ is an empty state). */
int state_load(const struct config *cfg, int64_t now, struct state *st, struct err *e);

/* "db" / "media". */
const char *state_kind_name(int kind);

/* "mail" / "webhook" / "ping" (NOTE_*). */
const char *state_channel_name(int channel);

#endif
