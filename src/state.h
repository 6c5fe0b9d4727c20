/* state.h - what the daemon reports, rebuilt from disk (SPEC section 8:
 * "State survives restarts and includes manual runs: it is read from
 * runs/<stamp>.json"). state_add_manifest is pure; state_load reads the files. */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "manifest.h"

enum { KIND_DB = 0, KIND_MEDIA = 1, KIND_N = 2 };
enum { RES_SUCCESS = 0, RES_WARNING = 1, RES_FAILURE = 2, RES_N = 3 };

struct kind_state {
	bool enabled;
	int64_t last_run;       /* end of the newest run of this kind, 0 = none */
	int64_t last_success;   /* end of the newest success or warning run */
	int64_t last_failure;
	char last_result[12];   /* "success", "warning", "failure", "" */
	char last_error[512];   /* of the newest failure, secrets already masked */
	double last_duration;   /* seconds, newest run */
	uint64_t last_size;     /* bytes on disk of the newest kept file */
	uint64_t runs[RES_N];   /* runs by result, over the manifests on disk */
	uint64_t warnings;      /* warning lines (changed/vanished files) */
	uint64_t consecutive_failures;
	uint64_t stored_count;  /* regular backups on disk (not pre_restore_) */
	uint64_t stored_bytes;
};

struct state {
	struct kind_state kind[KIND_N];
	uint64_t manifests;     /* manifests read */
	uint64_t bad_manifests; /* unreadable ones (logged) */
};

/* Fold one run manifest into st. Call in chronological order (by start). */
void state_add_manifest(struct state *st, const struct manifest *m);

/* Build st from BACKUP_DIR/runs/<stamp>.json and the backups on disk; kinds
 * enabled per cfg (media when MEDIA_DIR is set). Returns 0, or -1 with e set
 * when BACKUP_DIR cannot be read (a missing runs/ is an empty state). */
int state_load(const struct config *cfg, struct state *st, struct err *e);

/* "db" / "media". */
const char *state_kind_name(int kind);

#endif
