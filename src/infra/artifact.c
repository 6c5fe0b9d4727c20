/* artifact.c - see artifact.h. */
#include "infra/artifact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int artifact_begin(struct artifact *a, const char *dir, const char *base, const char *suffix,
		   const struct stream_opts *o, mode_t mode, struct err *e)
{
	memset(a, 0, sizeof *a);
	a->fd = -1;
	a->mode = mode;
	if (util_fmt(a->dir, sizeof a->dir, e, "%s", dir) < 0 ||
	    util_fmt(a->base, sizeof a->base, e, "%s", base) < 0 ||
	    util_fmt(a->suffix, sizeof a->suffix, e, "%s", suffix) < 0 ||
	    util_fmt(a->tmp_path, sizeof a->tmp_path, e, "%s/" ARTIFACT_TMP_PREFIX "%s%s-XXXXXX", dir,
		     base, suffix) < 0)
		return -1;
	a->fd = mkostemp(a->tmp_path, O_CLOEXEC);
	if (a->fd < 0) {
		a->tmp_path[0] = '\0';
		return err_errno(e, ERR_IO, errno, "cannot create a temporary file in %s", dir);
	}
	if (fchmod(a->fd, mode) < 0) {
		err_errno(e, ERR_IO, errno, "cannot chmod %s", a->tmp_path);
		artifact_abort(a);
		return -1;
	}
	if (stream_writer_open(&a->w, a->fd, o, e) < 0) {
		artifact_abort(a);
		return -1;
	}
	return 0;
}

/* fsync(2) of the temporary file on its own thread (artifact_finish). */
struct fsync_job {
	int fd;
	int err; /* errno of a failed fsync, else 0 */
};

static void *fsync_main(void *arg)
{
	struct fsync_job *j = arg;

	j->err = fsync(j->fd) < 0 ? errno : 0;
	return NULL;
}

int artifact_read_back(const struct artifact *a, struct err *e)
{
	uint32_t crc = 0;
	uint64_t bytes = 0;
	int fd = open(a->tmp_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot reopen %s", a->tmp_path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (stream_crc32_fd(fd, &crc, &bytes, e) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (bytes != a->st.stored_bytes || crc != a->st.stored_crc32)
		return err_set(e, ERR_CORRUPT, "the new file on disk (%llu bytes, crc32 %08x) differs "
			       "from what was written (%llu bytes, crc32 %08x)",
			       (unsigned long long)bytes, (unsigned)crc,
			       (unsigned long long)a->st.stored_bytes, (unsigned)a->st.stored_crc32);
	return 0;
}

int artifact_finish(struct artifact *a, struct err *e)
{
	struct stream_writer *w = a->w;
	struct fsync_job job = { .fd = a->fd, .err = 0 };
	pthread_t t;
	bool threaded;
	int rc;

	a->w = NULL;
	if (stream_writer_close(w, &a->st, e) < 0)
		return -1;
	/* The fsync mostly waits for the journal commit and the device flush;
	 * the read-back is CPU and page cache. Both are in the serial tail of
	 * every backup, so they overlap (README.md, "Performance"). */
	threaded = pthread_create(&t, NULL, fsync_main, &job) == 0;
	if (!threaded)
		fsync_main(&job);
	rc = artifact_read_back(a, e);
	if (threaded)
		pthread_join(t, NULL);
	if (job.err != 0) /* the fsync's failure is the cause to report */
		return err_errno(e, ERR_IO, job.err, "cannot fsync %s", a->tmp_path);
	if (rc < 0)
		return -1;
	if (close(a->fd) < 0) {
		a->fd = -1;
		return err_errno(e, ERR_IO, errno, "cannot close %s", a->tmp_path);
	}
	a->fd = -1;
	return 0;
}

static bool name_taken(const char *dir, const char *name)
{
	char p[UTIL_PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s.sha256", dir, name);
	return lstat(p, &st) == 0;
}

int artifact_commit(struct artifact *a, struct err *e)
{
	char sum[512], sname[340], spath[UTIL_PATH_MAX];
	struct stat st;
	int r = 1;

	/* The checksum file gets its final name first and the data file last:
	 * whatever a crash interrupts, a final-named data file always has its
	 * .sha256 (I1); an orphan .sha256 is harmless. */
	for (int i = 1; i <= 99 && r == 1; i++) {
		if (i == 1)
			snprintf(a->final_name, sizeof a->final_name, "%s%s", a->base, a->suffix);
		else
			snprintf(a->final_name, sizeof a->final_name, "%s-%d%s", a->base, i, a->suffix);
		if (util_fmt(a->final_path, sizeof a->final_path, e, "%s/%s", a->dir, a->final_name) < 0)
			goto fail;
		snprintf(sname, sizeof sname, "%s.sha256", a->final_name);
		snprintf(spath, sizeof spath, "%s/%s", a->dir, sname);
		if (lstat(a->final_path, &st) == 0 || name_taken(a->dir, a->final_name))
			continue;
		snprintf(sum, sizeof sum, "%s  %s\n", a->st.sha256, a->final_name);
		r = util_write_file_atomic(a->dir, sname, sum, strlen(sum), a->mode, e);
		if (r < 0)
			goto fail;
		if (r == 1)
			continue;
		r = util_rename_noreplace(a->tmp_path, a->final_path, e);
		if (r != 0)
			unlink(spath);
		if (r < 0)
			goto fail;
	}
	if (r != 0) {
		err_set(e, ERR_IO, "no free name for %s%s in %s", a->base, a->suffix, a->dir);
		goto fail;
	}
	a->tmp_path[0] = '\0';
	if (util_fsync_dir(a->dir, e) < 0) {
		/* Renamed but not durable: take both names back (I1). */
		unlink(a->final_path);
		unlink(spath);
		a->final_name[0] = '\0';
		return -1;
	}
	return 0;
fail:
	artifact_abort(a);
	a->final_name[0] = '\0';
	return -1;
}

void artifact_abort(struct artifact *a)
{
	if (a->w) {
		stream_writer_free(a->w);
		a->w = NULL;
	}
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	if (a->tmp_path[0]) {
		unlink(a->tmp_path);
		a->tmp_path[0] = '\0';
	}
}

int artifact_remove_stale(const char *dir, int *removed, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int failed = 0;
	struct err first;

	*removed = 0;
	err_clear(&first);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, ERR_IO, errno, "cannot read %s", dir);
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX];
		struct err one;
		if (!util_starts_with(de->d_name, ARTIFACT_TMP_PREFIX))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (util_rm_rf(p, &one) == 0) {
			(*removed)++;
		} else if (failed++ == 0) {
			first = one;
			err_prefix(&first, "%s", p);
		}
	}
	closedir(d);
	if (failed) {
		*e = first;
		if (failed > 1)
			err_suffix(e, " (and %d more)", failed - 1);
		return -1;
	}
	return 0;
}

/* Whether buf[0..len) is exactly text, then an optional "\r", an optional
 * "\n", and nothing more. */
static bool line_is(const char *buf, size_t len, const char *text)
{
	size_t n = strlen(text);

	if (len < n || memcmp(buf, text, n) != 0)
		return false;
	if (n < len && buf[n] == '\r')
		n++;
	if (n < len && buf[n] == '\n')
		n++;
	return n == len;
}

/* The hash of a one-file checksum line for name as `sha256sum -c` accepts
 * it: "<64 hex>  <name>" (text mode), "<64 hex> *<name>" (binary mode) or
 * "SHA256 (<name>) = <64 hex>" (--tag), ending in "\n", "\r\n" or
 * nothing. *hash points into buf. Returns 0, or -1 for anything else (a
 * bare hash without a name too). */
static int sha256_line(const char *buf, size_t len, const char *name, const char **hash)
{
	char tag[320];
	size_t n;

	if (len >= 66 && buf[64] == ' ' && (buf[65] == ' ' || buf[65] == '*') &&
	    strspn(buf, "0123456789abcdefABCDEF") >= 64 && line_is(buf + 66, len - 66, name)) {
		*hash = buf;
		return 0;
	}
	if (snprintf(tag, sizeof tag, "SHA256 (%s) = ", name) >= (int)sizeof tag)
		return -1;
	n = strlen(tag);
	if (len >= n + 64 && memcmp(buf, tag, n) == 0 &&
	    strspn(buf + n, "0123456789abcdefABCDEF") == 64 && line_is(buf + n + 64, len - n - 64, "")) {
		*hash = buf + n;
		return 0;
	}
	return -1;
}

int artifact_check_sha256(const char *path, char hex[65], struct err *e)
{
	char sp[UTIL_PATH_MAX], actual[65], *buf = NULL;
	const char *base = strrchr(path, '/'), *want;
	size_t len;
	int fd, rc = -1;

	base = base ? base + 1 : path;
	if (util_fmt(sp, sizeof sp, e, "%s.sha256", path) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "cannot open %s", path);
	if (stream_sha256_fd(fd, actual, NULL, e) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (hex)
		memcpy(hex, actual, 65);
	if (util_read_file(sp, 4096, &buf, &len, e) < 0) {
		e->code = ERR_CORRUPT;
		err_prefix(e, "checksum file missing");
		return -1;
	}
	if (sha256_line(buf, len, base, &want) < 0) {
		err_set(e, ERR_CORRUPT, "%s is not a sha256sum line for %s", sp, base);
		goto out;
	}
	if (strncasecmp(want, actual, 64) != 0) {
		err_set(e, ERR_CORRUPT, "checksum mismatch: %s has sha256 %s, %s says %.64s", base,
			actual, sp, want);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
