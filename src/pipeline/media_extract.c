/* media_extract.c - restore's per-entry step: extract each entry the
 * reading loop (media_read.c) hands over into the staging directory with
 * tar.c's secure disk writer, and record it in the archive's listing, which
 * media_restore.c checks the staged tree against before anything live moves.
 */
#include "pipeline/media_int.h"
#include "infra/tar.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------------- */
/* the archive's listing, to check the staged tree against                */

/* The listing's entry named k (normalised), or NULL. */
struct want *media_wants_find(const struct wants *ws, const char *k)
{
	if (!ws->n)
		return NULL;
	for (size_t i = (size_t)media_str_hash(k, strlen(k)) & (ws->cap - 1); ws->slot[i];
	     i = (i + 1) & (ws->cap - 1))
		if (strcmp(ws->slot[i]->name, k) == 0)
			return ws->slot[i];
	return NULL;
}

static void wants_put(struct wants *ws, struct want *w)
{
	size_t i = (size_t)media_str_hash(w->name, strlen(w->name)) & (ws->cap - 1);

	while (ws->slot[i])
		i = (i + 1) & (ws->cap - 1);
	ws->slot[i] = w;
	ws->n++;
}

/* Add w (owned from now on, also on failure). Returns 0 or -1 (no memory). */
static int wants_add(struct wants *ws, struct want *w)
{
	if ((ws->n + 1) * 2 > ws->cap) {
		struct wants g = { calloc(ws->cap ? ws->cap * 2 : 64, sizeof(struct want *)),
				   ws->cap ? ws->cap * 2 : 64, 0 };
		if (!g.slot) {
			free(w->name);
			free(w->link);
			free(w);
			return -1;
		}
		for (size_t i = 0; i < ws->cap; i++)
			if (ws->slot[i])
				wants_put(&g, ws->slot[i]);
		free(ws->slot);
		*ws = g;
	}
	wants_put(ws, w);
	return 0;
}

/* Free every entry of ws and empty it. */
void media_wants_free(struct wants *ws)
{
	for (size_t i = 0; i < ws->cap; i++) {
		if (!ws->slot[i])
			continue;
		free(ws->slot[i]->name);
		free(ws->slot[i]->link);
		free(ws->slot[i]);
	}
	free(ws->slot);
	memset(ws, 0, sizeof *ws);
}

/* ---------------------------------------------------------------------- */
/* extraction into the staging directory                                  */

/* Context for a failed disk-writer call: "<what> <name>: <its error>". */
int media_ext_fail(struct rd *c, const char *what, const char *norm)
{
	char b[SHOW_MAX + 4];

	err_prefix(c->e, "%s %s", what, media_show(norm, b));
	return -1;
}

/* A disk-writer warning (about metadata) for entry norm. */
static void ext_warn(struct rd *c, const char *norm, const char *what)
{
	if (c->o && c->o->warn) {
		c->o->warn(c->o->ctx, norm, what);
		c->st->warnings++;
	}
}

/* Record ent (named norm, hard link target normlink) in the listing. */
static struct want *ext_want(struct rd *c, struct ext *x, const struct tar_entry *te,
			     const char *norm, const char *normlink)
{
	const char *t = te->symlink;
	struct want *w;
	char b[SHOW_MAX + 4];

	if (media_wants_find(&x->wants, norm)) {
		/* Never in vigil's own archives; extracted, the second
		 * would silently replace the first. */
		err_set(c->e, ERR_CORRUPT, "entry \"%s\" appears twice in the archive",
			media_show(norm, b));
		return NULL;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->name = strdup(norm)))
		goto oom;
	w->type = normlink ? S_IFREG : (te->mode & S_IFMT);
	if (normlink) {
		struct want *target = media_wants_find(&x->wants, normlink);
		w->hard = true;
		w->link = strdup(normlink);
		if (!w->link)
			goto oom;
		if (target && te->size > 0)
			target->crc_ok = false;
	} else if (w->type == S_IFLNK) {
		w->link = strdup(t ? t : "");
		if (!w->link)
			goto oom;
	} else if (w->type == S_IFREG) {
		w->size = (uint64_t)te->size;
		w->crc_ok = true;
	} else if (w->type == S_IFCHR || w->type == S_IFBLK) {
		w->rdev = te->rdev;
	}
	if (wants_add(&x->wants, w) != 0) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return w;
oom:
	if (w) {
		free(w->name);
		free(w->link);
		free(w);
	}
	err_set(c->e, ERR_INTERNAL, "out of memory");
	return NULL;
}

/* Extract one entry (te, named norm, hard link target normlink or NULL)
 * into x->stage and record it in x->wants; the "./" entry only records the
 * root's metadata (x->root_*), applied after the swap. A media_entry_fn for
 * media_rd_run, ctx being a struct ext. Returns 0 or -1 with c->e set
 * (ERR_RESTORE, ERR_NOSPACE, ERR_CORRUPT, ERR_INTERNAL). */
int media_ext_entry(struct rd *c, void *ctx, const struct tar_entry *te, const char *norm,
		    const char *normlink)
{
	struct ext *x = ctx;
	char *full = NULL, *fullhl = NULL;
	char b[SHOW_MAX + 4];
	const char *warning;
	struct want *w;
	uint64_t pos = 0;
	uint32_t crc = 0;
	int ret = -1, r;

	if (norm[0] == '\0') {
		/* "./": applied to o->root itself after the swap. */
		x->root_seen = 1;
		x->root_perm = te->mode & ~(mode_t)S_IFMT;
		x->root_uid = te->uid;
		x->root_gid = te->gid;
		x->root_mtime_set = te->mtime_set;
		x->root_mtime.tv_sec = (time_t)te->mtime_sec;
		x->root_mtime.tv_nsec = te->mtime_nsec;
		return tar_read_skip(c->tr, c->e) == 0 ? 0
			: media_rd_fail(c, "cannot read from the archive", "./");
	}
	w = ext_want(c, x, te, norm, normlink);
	if (!w)
		return -1;
	full = media_path_join(x->stage, norm);
	if (normlink)
		fullhl = media_path_join(x->stage, normlink);
	if (!full || (normlink && !fullhl)) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* A warning from the disk writer is about metadata (owner, mode,
	 * times); lost data fails the restore. */
	r = tar_disk_header(x->disk, c->tr, full, fullhl, &warning, c->e);
	if (r < 0) {
		media_ext_fail(c, "cannot extract", norm);
		goto out;
	}
	if (r > 0)
		ext_warn(c, norm, warning);
	for (;;) {
		const void *p;
		size_t n;
		int64_t off;

		r = tar_read_data(c->tr, &p, &n, &off, c->e);
		if (r == 0)
			break;
		if (r < 0) {
			media_rd_fail(c, "cannot read from the archive", norm);
			goto out;
		}
		if (off < 0 || (uint64_t)off < pos) {
			err_set(c->e, ERR_CORRUPT, "data of \"%s\" out of order in the archive",
				media_show(norm, b));
			goto out;
		}
		/* The content as handed to the writer; holes are zeros. */
		crc = stream_crc32(crc, NULL, (uint64_t)off - pos);
		crc = stream_crc32(crc, p, n);
		pos = (uint64_t)off + n;
		if (tar_disk_data(x->disk, p, n, off, c->e) != 0) {
			media_ext_fail(c, "cannot write", norm);
			goto out;
		}
	}
	if (w->type == S_IFREG && !w->hard) {
		if (pos < w->size)
			crc = stream_crc32(crc, NULL, w->size - pos);
		w->crc = crc;
	}
	r = tar_disk_finish_entry(x->disk, &warning, c->e);
	if (r < 0) {
		media_ext_fail(c, "cannot extract", norm);
		goto out;
	}
	if (r > 0)
		ext_warn(c, norm, warning);
	ret = 0;
out:
	free(full);
	free(fullhl);
	return ret;
}
