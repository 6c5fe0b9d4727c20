/* media_util.c - small helpers the media_*.c files share: paths, names of
 * a directory in strcmp order, names fit for a message, removing a tree,
 * stop requests and progress. See media_int.h.
 */
#include "pipeline/media_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* malloc'ed a + "/" + b; an empty a or b gives a copy of the other. NULL
 * when out of memory. */
char *media_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	if (lb && !la) {
		memcpy(p, b, lb);
		la = lb;
	} else if (lb) {
		p[la] = '/';
		memcpy(p + la + 1, b, lb);
		la += lb + 1;
	}
	p[la] = '\0';
	return p;
}

/* Copy a name for a message: control bytes become '?', long names are cut. */
const char *media_show(const char *in, char out[SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; in[i] && i < SHOW_MAX; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? '?' : in[i];
	if (in[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Free what media_names_read put into ns and empty it. */
void media_names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = ns->cap = 0;
}

/* Read every name of directory d except "." and ".." into ns, sorted with
 * strcmp. Returns 0 or -1 with errno set. */
int media_names_read(DIR *d, struct names *ns)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? ns->cap * 2 : 64;
			char **v = realloc(ns->v, cap * sizeof *v);
			if (!v)
				return -1;
			ns->v = v;
			ns->cap = cap;
		}
		ns->v[ns->n] = strdup(de->d_name);
		if (!ns->v[ns->n])
			return -1;
		ns->n++;
	}
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof *ns->v, cmp_str);
	return 0;
}

/* A removal failed at dir/sub (sub malloc'ed or NULL: dir itself): set
 * *bad to that path when bad is not NULL (NULL when out of memory), free
 * sub. Keeps errno; returns -1. */
static int rm_failed(char **bad, const char *dir, char *sub)
{
	int saved = errno;

	if (bad)
		*bad = sub ? media_path_join(dir, sub) : strdup(dir);
	free(sub);
	errno = saved;
	return -1;
}

/* Remove name (relative to dfd) and, for a directory, everything below it,
 * without following symlinks. Directories we may not write to are made
 * writable first (unprivileged runs). Returns 0, or -1 with errno set for
 * the first entry that could not be removed (the walk stops there) and,
 * when bad is not NULL, *bad set to its malloc'ed path: name, or name/...
 * below it (NULL when out of memory); the caller frees it. */
int media_rm_tree_at(int dfd, const char *name, char **bad)
{
	struct stat s;
	struct names ns = { 0 };
	char *sub = NULL;
	DIR *d = NULL;
	int fd, ret = -1, saved = 0;

	if (bad)
		*bad = NULL;
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : rm_failed(bad, name, NULL);
	if (!S_ISDIR(s.st_mode))
		return unlinkat(dfd, name, 0) != 0 && errno != ENOENT ? rm_failed(bad, name, NULL)
								      : 0;
	if ((s.st_mode & 0700) != 0700)
		(void)fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rm_failed(bad, name, NULL);
	d = fdopendir(fd);
	if (!d) {
		saved = errno;
		close(fd);
		errno = saved;
		return rm_failed(bad, name, NULL);
	}
	if (media_names_read(d, &ns) != 0)
		goto out;
	for (size_t i = 0; i < ns.n; i++)
		if (media_rm_tree_at(dirfd(d), ns.v[i], bad ? &sub : NULL) != 0)
			goto out;
	ret = 0;
out:
	saved = errno;
	media_names_free(&ns);
	closedir(d);
	errno = saved;
	if (ret == 0 && unlinkat(dfd, name, AT_REMOVEDIR) != 0)
		ret = -1;
	return ret == 0 ? 0 : rm_failed(bad, name, sub);
}

/* Take a stop request: returns -1 with e set to ERR_INTERRUPTED when asked
 * to stop. media_progress_or_stop also reports progress (every
 * PROGRESS_EVERY bytes). */
int media_stop_now(const struct media_opts *o, struct err *e)
{
	int sig = o->stop ? o->stop(o->ctx) : 0;

	if (!sig)
		return 0;
	e->code = ERR_INTERRUPTED;
	e->signo = sig;
	snprintf(e->msg, sizeof e->msg, "stopped by signal %d", sig);
	return -1;
}

int media_progress_or_stop(const struct media_opts *o, uint64_t bytes, struct err *e)
{
	if (o->progress)
		o->progress(o->ctx, bytes);
	return media_stop_now(o, e);
}

/* FNV-1a (64 bit) of the n bytes at s, for the hash sets of names. */
uint64_t media_str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}
