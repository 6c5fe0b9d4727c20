/* media_read.c - reading a media archive: the name checks that keep every
 * entry inside MEDIA_DIR, and the loop shared by media_check (read, check,
 * skip the data) and media_restore (read, check, extract: media_extract.c).
 *
 * libarchive (through tar.c) pulls the tar bytes from a stream_reader
 * through a read callback; it only parses tar, the stream decodes. The loop
 * also proves the archive complete: the end-of-archive marker, nothing but
 * zeros after it, and the stream read to its end.
 */
#include "pipeline/media_int.h"
#include "infra/tar.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TAR_BLOCK 512u
#define TAR_EOA   (2u * TAR_BLOCK) /* end-of-archive marker */

/* ---------------------------------------------------------------------- */
/* name safety                                                            */

static int set_has(const struct strset *s, const char *k, size_t n)
{
	size_t i;

	if (!s->n)
		return 0;
	for (i = (size_t)media_str_hash(k, n) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (strncmp(s->slot[i], k, n) == 0 && s->slot[i][n] == '\0')
			return 1;
	return 0;
}

static void set_put(struct strset *s, char *k)
{
	size_t i = (size_t)media_str_hash(k, strlen(k)) & (s->cap - 1);

	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = k;
	s->n++;
}

/* Add a copy of k. Returns 0 or -1 (out of memory). */
static int set_add(struct strset *s, const char *k)
{
	char *dup;

	if (set_has(s, k, strlen(k)))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct strset g = { calloc(s->cap ? s->cap * 2 : 64, sizeof(char *)),
				    s->cap ? s->cap * 2 : 64, 0 };
		if (!g.slot)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				set_put(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	dup = strdup(k);
	if (!dup)
		return -1;
	set_put(s, dup);
	return 0;
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

/* Normalise a member name: drop empty and "." components ("./a//b/" is
 * "a/b", "./" is "" = the root). Returns 0 with *out malloc'ed, 1 with *why
 * set for an unsafe name (absolute, a ".." component, empty), -1 when out of
 * memory. */
static int norm_name(const char *in, char **out, const char **why)
{
	size_t n = strlen(in);
	const char *p = in;
	char *o, *q;

	*out = NULL;
	if (n == 0) {
		*why = "has an empty name";
		return 1;
	}
	if (in[0] == '/') {
		*why = "is an absolute path";
		return 1;
	}
	o = q = malloc(n + 1);
	if (!o)
		return -1;
	while (*p) {
		const char *s = p;
		size_t len;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			free(o);
			*why = "has a \"..\" component";
			return 1;
		}
		if (len && !(len == 1 && s[0] == '.')) {
			if (q != o)
				*q++ = '/';
			memcpy(q, s, len);
			q += len;
		}
		while (*p == '/')
			p++;
	}
	*q = '\0';
	*out = o;
	return 0;
}

/* Length of the leading part of norm that names an earlier symlink entry
 * (so the entry would be written through it), or 0. */
static size_t through_link(const struct strset *links, const char *norm)
{
	if (!links->n)
		return 0;
	for (const char *p = strchr(norm, '/'); p; p = strchr(p + 1, '/'))
		if (set_has(links, norm, (size_t)(p - norm)))
			return (size_t)(p - norm);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* the loop shared by check and restore                                   */

/* Remember where the last non-zero byte of the raw tar data is: the
 * end-of-archive check needs the bytes after the last entry to be zeros. */
static void rd_track(struct rd *c, const unsigned char *p, size_t n)
{
	if (p[n - 1] != 0) {
		c->last_nz = c->total + n;
	} else if (!(p[0] == 0 && memcmp(p, p + 1, n - 1) == 0)) {
		size_t i = n;
		while (i > 0 && p[i - 1] == 0)
			i--;
		c->last_nz = c->total + i;
	}
	c->total += n;
}

/* The tar reader's client callback: decoded bytes from the stream. */
static ssize_t rd_cb(void *cd, const void **out)
{
	struct rd *c = cd;
	ssize_t n;

	*out = c->buf;
	if (c->at_end)
		return 0;
	n = stream_read(c->r, c->buf, IO_BUF, c->e);
	if (n < 0) {
		c->cb_failed = 1;
		return -1;
	}
	if (n == 0) {
		c->at_end = 1;
		return 0;
	}
	rd_track(c, c->buf, (size_t)n);
	if (c->o && c->total - c->last_progress >= PROGRESS_EVERY) {
		c->last_progress = c->total;
		if (media_progress_or_stop(c->o, c->total, c->e) != 0) {
			c->cb_failed = 1;
			return -1;
		}
	}
	return n;
}

/* Context for a failed tar reader call: "<what>[ "<name>"]: <why>", or the
 * stream's error as it is. */
int media_rd_fail(struct rd *c, const char *what, const char *name)
{
	char b[SHOW_MAX + 4];

	if (c->cb_failed)
		return -1;
	if (name)
		err_prefix(c->e, "%s \"%s\"", what, media_show(name, b));
	else
		err_prefix(c->e, "%s", what);
	return -1;
}

/* Check one entry's names (see media_check). On success *norm and
 * *normlink (hard link target, NULL if none) are malloc'ed. Returns 0 or -1
 * with c->e set (ERR_UNSAFE, or ERR_INTERNAL). */
static int rd_check_names(struct rd *c, const struct tar_entry *te, char **norm, char **normlink)
{
	const char *name = te->path;
	const char *hl = te->hardlink;
	const char *why = NULL;
	char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
	size_t k;
	int r;

	*norm = *normlink = NULL;
	if (!name)
		return err_set(c->e, ERR_CORRUPT, "tar entry without a name");
	r = norm_name(name, norm, &why);
	if (r < 0)
		return err_set(c->e, ERR_INTERNAL, "out of memory");
	if (r > 0)
		return err_set(c->e, ERR_UNSAFE, "unsafe entry \"%s\" in archive: it %s",
			       media_show(name, b), why);
	if ((*norm)[0] == '\0' && (te->mode & S_IFMT) != S_IFDIR && !hl)
		return err_set(c->e, ERR_UNSAFE,
			       "unsafe entry \"%s\" in archive: it names the root but is not a directory",
			       media_show(name, b));
	k = through_link(&c->links, *norm);
	if (k)
		return err_set(c->e, ERR_UNSAFE,
			       "unsafe entry \"%s\" in archive: it goes through the symbolic link \"%.*s\"",
			       media_show(name, b), (int)k, *norm);
	if (hl) {
		r = norm_name(hl, normlink, &why);
		if (r < 0)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
		if (r == 0 && (*normlink)[0] == '\0')
			why = "names the root", r = 1;
		if (r == 0 && (through_link(&c->links, *normlink) ||
			       set_has(&c->links, *normlink, strlen(*normlink))))
			why = "is or goes through a symbolic link", r = 1;
		if (r > 0)
			return err_set(c->e, ERR_UNSAFE,
				       "unsafe entry \"%s\" in archive: its hard link target \"%s\" %s",
				       media_show(name, b), media_show(hl, b2), why);
		if ((*norm)[0] == '\0')
			return err_set(c->e, ERR_UNSAFE,
				       "unsafe entry \"%s\" in archive: a hard link in place of the root",
				       media_show(name, b));
	} else if ((te->mode & S_IFMT) == S_IFLNK) {
		if (set_add(&c->links, *norm) != 0)
			return err_set(c->e, ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static void rd_count(struct media_stats *st, const struct tar_entry *te)
{
	if (te->hardlink) {
		st->files++;
		return;
	}
	switch (te->mode & S_IFMT) {
	case S_IFREG:
		st->files++;
		st->bytes += (uint64_t)te->size;
		break;
	case S_IFDIR:
		st->dirs++;
		break;
	case S_IFLNK:
		st->symlinks++;
		break;
	default:
		st->other++;
		break;
	}
}

/* Read the whole archive from c->r: every header, every entry's data, the
 * name checks, then the stream to its end and the end-of-archive marker.
 * With each, entries are handed to it as they come (restore extracts them);
 * without, their data is skipped. c (its r, e, st and, for progress and stop
 * requests, o) is the caller's; free it with media_rd_free. Returns 0 or -1
 * with c->e set. */
int media_rd_run(struct rd *c, media_entry_fn each, void *ctx)
{
	struct tar_entry te;
	char *norm = NULL, *normlink = NULL, *last = NULL;
	int r, ret = -1;

	c->buf = malloc(IO_BUF);
	if (!c->buf) {
		err_set(c->e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (tar_reader_new(&c->tr, c->e) != 0)
		goto out;
	if (tar_reader_open(c->tr, rd_cb, c, c->e) != 0) {
		/* libarchive reads ahead and bids here already. */
		media_rd_fail(c, "not a tar archive", NULL);
		goto out;
	}
	for (;;) {
		r = tar_read_next(c->tr, &te, c->e);
		if (r == 0)
			break;
		if (r < 0) {
			if (!last)
				media_rd_fail(c, "not a tar archive", NULL);
			else
				media_rd_fail(c, "damaged tar archive after entry",
					      last[0] ? last : "./");
			goto out;
		}
		if (rd_check_names(c, &te, &norm, &normlink) != 0)
			goto out;
		rd_count(c->st, &te);
		if (each) {
			if (each(c, ctx, &te, norm, normlink) != 0)
				goto out;
		} else if (tar_read_skip(c->tr, c->e) != 0) {
			media_rd_fail(c, "cannot read from the archive", norm);
			goto out;
		}
		free(last);
		last = norm;
		norm = NULL;
		free(normlink);
		normlink = NULL;
		/* Entries end on a block boundary (padding is consumed
		 * lazily, hence the rounding). */
		c->end_pos = (tar_reader_bytes(c->tr) + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
	/* libarchive stops at the first zero block, and also at a clean end
	 * of data without any marker. Read the stream to its end (this also
	 * proves the compressed stream is complete), then require at least
	 * two zero blocks after the last entry and nothing but zeros after
	 * them (GNU tar pads to 10 KiB records). */
	while (!c->at_end) {
		ssize_t n = stream_read(c->r, c->buf, IO_BUF, c->e);
		if (n < 0)
			goto out;
		if (n == 0)
			c->at_end = 1;
		else
			rd_track(c, c->buf, (size_t)n);
	}
	if (c->total < c->end_pos + TAR_EOA) {
		err_set(c->e, ERR_CORRUPT, "tar end-of-archive marker missing (truncated archive)");
		goto out;
	}
	if (c->last_nz > c->end_pos) {
		err_set(c->e, ERR_CORRUPT,
			"garbage after the last tar entry (damaged or truncated archive)");
		goto out;
	}
	if (c->o && c->o->progress)
		c->o->progress(c->o->ctx, c->total);
	ret = 0;
out:
	free(norm);
	free(normlink);
	free(last);
	return ret;
}

/* Free what media_rd_run allocated in c (not c itself, nor c->r). */
void media_rd_free(struct rd *c)
{
	tar_reader_free(c->tr);
	free(c->buf);
	set_free(&c->links);
}

/* See media.h. Names are checked in archive order: an entry below an
 * earlier symlink entry ("lnk" -> /tmp, then "lnk/x"), absolute names, ".."
 * components, and hard link targets under the same rules (plus: no hard link
 * to a symlink entry) are ERR_UNSAFE (exit 2). Stream errors come back as
 * stream_read set them. r is read to its end; it is not freed. */
int media_check(struct stream_reader *r, struct media_stats *st, struct err *e)
{
	struct media_stats local;
	struct tar_locale lg;
	struct rd c;
	int ret;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	c.r = r;
	c.e = e;
	c.st = st;
	tar_locale_reading(&lg);
	ret = media_rd_run(&c, NULL, NULL);
	media_rd_free(&c);
	tar_locale_leave(&lg);
	return ret;
}
