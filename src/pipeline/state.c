/* state.c - see state.h. */
#include "pipeline/state.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/catalog.h"
#include "base/log.h"
#include "base/util.h"

const char *state_kind_name(int kind)
{
	return kind == KIND_DB ? "db" : "media";
}

const char *state_channel_name(int channel)
{
	return channel == NOTE_MAIL ? "mail" : channel == NOTE_WEBHOOK ? "webhook" : "ping";
}

/* Alerts recorded in m's notices, by channel and outcome. */
static void add_notices(struct state *st, const struct manifest *m)
{
	for (size_t i = 0; i < m->n_notices && i < MF_NOTICES_MAX; i++) {
		const struct mf_notice *n = &m->notices[i];
		for (int c = 0; c < NOTE_N; c++)
			if (strcmp(n->channel, state_channel_name(c)) == 0)
				st->notices[c][strcmp(n->result, "sent") == 0 ? NOTE_SENT
									 : NOTE_FAILED]++;
	}
}

static int kind_index(const char *name)
{
	if (strcmp(name, "db") == 0)
		return KIND_DB;
	if (strcmp(name, "media") == 0)
		return KIND_MEDIA;
	return -1;
}

void state_add_manifest(struct state *st, const struct manifest *m)
{
	for (size_t i = 0; i < m->n_pruned; i++) {
		int k = kind_index(m->pruned[i].kind);
		if (k >= 0)
			st->kind[k].pruned++;
	}
	if (strcmp(m->command, "prune") == 0)
		return; /* `vigil prune` records deletions only, no backup run */
	st->manifests++;
	add_notices(st, m);
	for (size_t i = 0; i < m->n_art; i++) {
		const struct mf_artifact *a = &m->art[i];
		int k = kind_index(a->kind);
		struct kind_state *ks;
		int res;

		if (k < 0)
			continue;
		ks = &st->kind[k];
		res = strcmp(a->result, "success") == 0   ? RES_SUCCESS
		      : strcmp(a->result, "warning") == 0 ? RES_WARNING
							  : RES_FAILURE;
		ks->runs[res]++;
		ks->warnings += a->warnings_total > a->n_warnings ? a->warnings_total : a->n_warnings;
		ks->last_run = m->end;
		ks->last_duration = a->seconds;
		snprintf(ks->last_result, sizeof ks->last_result, "%s",
			 res == RES_SUCCESS ? "success" : res == RES_WARNING ? "warning" : "failure");
		snprintf(ks->suspect, sizeof ks->suspect, "%s", a->suspect);
		if (res == RES_WARNING && a->suspect[0]) {
			/* A complete file that is no good backup (an empty
			 * media directory): neither a success nor a failure. */
			continue;
		} else if (res == RES_FAILURE) {
			ks->failures[err_code_from_reason(a->err_code[0] ? a->err_code
									 : m->err_code)]++;
			ks->last_failure = m->end;
			ks->consecutive_failures++;
			snprintf(ks->last_error, sizeof ks->last_error, "%s", a->err_msg);
		} else {
			ks->last_success = m->end;
			ks->consecutive_failures = 0;
			ks->last_size = a->bytes;
			ks->last_error[0] = '\0';
		}
	}
}

bool state_manifest_future(const struct manifest *m, int64_t now)
{
	return m->start > now + STATE_FUTURE_SLACK || m->end > now + STATE_FUTURE_SLACK;
}

void state_add_unrecorded(struct state *st, const struct unrecorded_run *u)
{
	for (int k = 0; k < KIND_N; k++) {
		struct kind_state *ks = &st->kind[k];

		if (!ks->enabled || !(u->kinds & (1u << k)))
			continue;
		ks->runs[RES_FAILURE]++;
		ks->failures[u->code > ERR_OK && u->code < ERR_CODE_COUNT ? u->code : ERR_CODE_COUNT]++;
		if (u->end > ks->last_failure)
			ks->last_failure = u->end;
		if (u->end < ks->last_run)
			continue; /* a recorded run came later and decides */
		ks->last_run = u->end;
		ks->last_duration = (double)(u->end - u->start);
		ks->consecutive_failures++;
		snprintf(ks->last_result, sizeof ks->last_result, "failure");
		snprintf(ks->last_error, sizeof ks->last_error, "%s", u->msg);
	}
}

struct entry {
	int64_t start;
	size_t idx;
};

static int by_start(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int state_load(const struct config *cfg, int64_t now, struct state *st, struct err *e)
{
	char dir[UTIL_PATH_MAX];
	struct entry *v = NULL;
	struct manifest *ms = NULL;
	size_t n = 0;
	struct cat_entry *cv = NULL;
	size_t cn = 0;
	struct dirent *de;
	DIR *d;

	memset(st, 0, sizeof *st);
	st->kind[KIND_DB].enabled = true;
	st->kind[KIND_MEDIA].enabled = cfg->media_dir && cfg->media_dir[0];
	if (util_fmt(dir, sizeof dir, e, "%s/runs", cfg->backup_dir) < 0)
		return -1;
	d = opendir(dir);
	if (!d && errno != ENOENT)
		return err_errno(e, ERR_IO, errno, "cannot read %s", dir);
	/* Read every manifest, then fold them in order of their start. */
	while (d && (de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX + 300];
		struct manifest m;
		struct err me;
		if (de->d_name[0] == '.' || !util_ends_with(de->d_name, ".json"))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (manifest_read(p, &m, &me) < 0) {
			st->bad_manifests++;
			log_warn("ignoring unreadable manifest %s", me.msg);
			continue;
		}
		if (!catalog_time_plausible(m.start, util_stamp_parse(m.run_id)) || m.end < m.start) {
			/* A hand-edited or damaged manifest: as 1970 it would
			 * count as the oldest run, an end before its start as a
			 * success long ago. Its run id is the start's local stamp,
			 * so the two agree within any zone's offset. */
			st->bad_manifests++;
			log_warn("ignoring run manifest %s: its start or end time is missing, "
				 "unreadable or out of order", de->d_name);
			manifest_free(&m);
			continue;
		}
		if (state_manifest_future(&m, now)) {
			char ts[32];
			st->future_manifests++;
			log_time_utc(m.start, ts);
			log_warn("ignoring run manifest %s: it is dated in the future (start %s); "
				 "hint: the clock was wrong when it was written", de->d_name, ts);
			manifest_free(&m);
			continue;
		}
		if (m.start > st->newest_start && strcmp(m.command, "prune") != 0) {
			st->newest_start = m.start;
			snprintf(st->newest_run, sizeof st->newest_run, "%s", m.run_id);
		}
		{
			struct entry *nv = realloc(v, (n + 1) * sizeof *nv);
			struct manifest *nm = realloc(ms, (n + 1) * sizeof *nm);
			if (nv)
				v = nv;
			if (nm)
				ms = nm;
			if (!nv || !nm) {
				manifest_free(&m);
				break;
			}
		}
		v[n].start = m.start;
		v[n].idx = n;
		ms[n] = m;
		n++;
	}
	if (d)
		closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, by_start);
	for (size_t i = 0; i < n; i++)
		state_add_manifest(st, &ms[v[i].idx]);
	for (size_t i = 0; i < n; i++)
		manifest_free(&ms[i]);
	free(v);
	free(ms);
	if (catalog_scan(cfg, -1, &cv, &cn, e) < 0)
		return -1;
	for (size_t i = 0; i < cn; i++) {
		if (cv[i].pre_restore)
			continue;
		st->kind[cv[i].kind == CAT_DB ? KIND_DB : KIND_MEDIA].stored_count++;
		st->kind[cv[i].kind == CAT_DB ? KIND_DB : KIND_MEDIA].stored_bytes += cv[i].size;
	}
	free(cv);
	return 0;
}
