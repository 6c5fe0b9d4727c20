/* util.c - see util.h. */
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int util_fmt(char *out, size_t n, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n)
		return err_set(e, ERR_INTERNAL, "path or string too long: %.80s...", out);
	return 0;
}

int util_mkdir_p(const char *path, mode_t mode, struct err *e)
{
	char buf[UTIL_PATH_MAX];
	size_t len;

	if (util_fmt(buf, sizeof buf, e, "%s", path) < 0)
		return -1;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) == 0) {
			/* exactly mode: the umask must not take the group's bits;
			 * a setgid bit inherited from the parent stays, so files
			 * below keep the parent's group (chmod 2775 on the host) */
			struct stat st;
			mode_t keep = stat(buf, &st) == 0 ? (st.st_mode & S_ISGID) : 0;
			if (chmod(buf, mode | keep) < 0)
				return err_errno(e, ERR_IO, errno, "cannot chmod directory %s", buf);
		} else if (errno != EEXIST) {
			return err_errno(e, ERR_IO, errno, "cannot create directory %s", buf);
		}
		buf[i] = c;
	}
	return 0;
}

int util_fsync_dir(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open directory %s", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		int saved = errno;
		close(fd);
		return err_errno(e, ERR_IO, saved, "cannot fsync directory %s", dir);
	}
	close(fd);
	return 0;
}

int util_rename_noreplace(const char *from, const char *to, struct err *e)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return err_errno(e, ERR_IO, errno, "cannot rename %s to %s", from, to);
	/* No RENAME_NOREPLACE on this file system: link() never replaces. */
	if (link(from, to) < 0) {
		if (errno == EEXIST)
			return 1;
		return err_errno(e, ERR_IO, errno, "cannot link %s to %s", from, to);
	}
	if (unlink(from) < 0)
		return err_errno(e, ERR_IO, errno, "cannot remove %s", from);
	return 0;
}

static int write_all_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The shared body of util_write_file_atomic and util_replace_file_atomic:
 * temporary file, fsync, rename (no-replace unless replace), directory fsync. */
static int write_atomic(const char *dir, const char *name, const void *data, size_t len,
			mode_t mode, bool replace, struct err *e)
{
	char tmp[UTIL_PATH_MAX], dst[UTIL_PATH_MAX];
	int fd = -1, rc = -1, r;

	if (util_fmt(tmp, sizeof tmp, e, "%s/.vigil-tmp-%s-XXXXXX", dir, name) < 0 ||
	    util_fmt(dst, sizeof dst, e, "%s/%s", dir, name) < 0)
		return -1;
	fd = mkstemp(tmp);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot create a temporary file in %s", dir);
	if (fchmod(fd, mode) < 0 || write_all_fd(fd, data, len) < 0 || fsync(fd) < 0) {
		err_errno(e, ERR_IO, errno, "cannot write %s", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_errno(e, ERR_IO, errno, "cannot write %s", tmp);
		goto out;
	}
	fd = -1;
	if (replace) {
		r = rename(tmp, dst) < 0 ? err_errno(e, ERR_IO, errno, "cannot rename %s to %s", tmp, dst) : 0;
	} else {
		r = util_rename_noreplace(tmp, dst, e);
	}
	if (r != 0) {
		rc = r;
		goto out;
	}
	tmp[0] = '\0';
	if (util_fsync_dir(dir, e) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

int util_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
			   mode_t mode, struct err *e)
{
	return write_atomic(dir, name, data, len, mode, false, e);
}

int util_replace_file_atomic(const char *dir, const char *name, const void *data, size_t len,
			     mode_t mode, struct err *e)
{
	return write_atomic(dir, name, data, len, mode, true, e);
}

int util_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", path);
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return err_set(e, ERR_INTERNAL, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_errno(e, ERR_IO, errno, "cannot read %s", path);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			err_set(e, ERR_IO, "%s is larger than %zu bytes", path, max);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

void util_stamp_local(time_t t, char out[16])
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d_%H%M%S", &tm);
}

int util_rmdir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t n;
		char *sub;
		struct stat st;
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		n = strlen(path) + strlen(de->d_name) + 2;
		sub = malloc(n);
		if (!sub)
			continue;
		snprintf(sub, n, "%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR || (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)))
			(void)util_rmdir_empty(sub);
		free(sub);
	}
	closedir(d);
	return rmdir(path);
}

time_t util_stamp_parse(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	for (int i = 0; i < 15; i++)
		if (i == 8 ? s[i] != '_' : (s[i] < '0' || s[i] > '9'))
			return -1;
	if (sscanf(s, "%4d%2d%2d_%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int util_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int util_parse_duration(const char *s, long *secs)
{
	char *end;
	long v, mul = 1;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
	}
	if (v > LONG_MAX / mul)
		return -1;
	*secs = v * mul;
	return 0;
}

double util_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_rf_at(int parent, const char *name, struct err *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_errno(e, ERR_IO, errno, "cannot stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return err_errno(e, ERR_IO, errno, "cannot remove %s", name);
		return 0;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, ERR_IO, errno, "cannot read %s", name);
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rm_rf_at(dirfd(d), de->d_name, e) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_errno(e, ERR_IO, errno, "cannot remove %s", name);
	return rc;
}

int util_rm_rf(const char *path, struct err *e)
{
	return rm_rf_at(AT_FDCWD, path, e);
}

void util_human_bytes(uint64_t n, char out[32])
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%llu B", (unsigned long long)n);
	else
		snprintf(out, 32, "%.1f %s", v, units[u]);
}

bool util_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool util_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char **util_split(const char *s, char sep, size_t *n)
{
	size_t cap = 4, cnt = 0;
	char **v = calloc(cap + 1, sizeof *v);
	const char *p = s;

	if (!v)
		return NULL;
	while (p && *p) {
		const char *q = strchr(p, sep);
		size_t len = q ? (size_t)(q - p) : strlen(p);
		const char *a = p, *b = p + len;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a) {
			if (cnt == cap) {
				char **nv = realloc(v, (cap * 2 + 1) * sizeof *v);
				if (!nv)
					goto fail;
				v = nv;
				cap *= 2;
			}
			v[cnt] = strndup(a, (size_t)(b - a));
			if (!v[cnt])
				goto fail;
			v[++cnt] = NULL;
		}
		p = q ? q + 1 : NULL;
	}
	if (n)
		*n = cnt;
	return v;
fail:
	util_free_strv(v);
	return NULL;
}

void util_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

char **util_split_words(const char *s, struct err *e)
{
	size_t cap = 8, cnt = 0, len = strlen(s);
	char **v = calloc(cap + 1, sizeof *v);
	char *word = malloc(len + 1);
	const char *p = s;

	if (!v || !word)
		goto oom;
	while (*p) {
		size_t w = 0;
		bool have = false;

		while (*p && isspace((unsigned char)*p))
			p++;
		while (*p && !isspace((unsigned char)*p)) {
			have = true;
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');
				if (!q)
					goto unbalanced;
				memcpy(word + w, p + 1, (size_t)(q - p - 1));
				w += (size_t)(q - p - 1);
				p = q + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
						p++;
					word[w++] = *p++;
				}
				if (*p != '"')
					goto unbalanced;
				p++;
			} else if (*p == '\\' && p[1]) {
				word[w++] = p[1];
				p += 2;
			} else {
				word[w++] = *p++;
			}
		}
		if (!have)
			break;
		if (cnt == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof *v);
			if (!nv)
				goto oom;
			v = nv;
			cap *= 2;
		}
		v[cnt] = strndup(word, w);
		if (!v[cnt])
			goto oom;
		v[++cnt] = NULL;
	}
	free(word);
	return v;
unbalanced:
	err_set(e, ERR_CONFIG, "unbalanced quote in \"%s\"", s);
	free(word);
	util_free_strv(v);
	return NULL;
oom:
	err_set(e, ERR_INTERNAL, "out of memory");
	free(word);
	util_free_strv(v);
	return NULL;
}

size_t util_display_width(const char *s)
{
	mbstate_t st;
	size_t cols = 0, len = strlen(s);

	memset(&st, 0, sizeof st);
	while (len > 0) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, len, &st);
		int w;
		if (n == (size_t)-1 || n == (size_t)-2) {
			/* an invalid byte shows as one replacement column */
			memset(&st, 0, sizeof st);
			n = 1;
			w = 1;
		} else {
			if (n == 0)
				break;
			w = wcwidth(wc);
			if (w < 0)
				w = 1;
		}
		cols += (size_t)w;
		s += n;
		len -= n;
	}
	return cols;
}

void util_path_facts(const char *path, char *owner, size_t on, char *me, size_t mn)
{
	struct stat st;

	if (stat(path, &st) == 0)
		snprintf(owner, on, " (owner:group %u:%u, mode %04o)", (unsigned)st.st_uid,
			 (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777));
	else
		owner[0] = '\0';
	snprintf(me, mn, "uid:gid %u:%u", (unsigned)geteuid(), (unsigned)getegid());
}
