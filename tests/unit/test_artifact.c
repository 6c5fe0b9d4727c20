/* test_artifact.c - a backup file from temporary name to final name:
 * artifact_finish's read-back (length and CRC-32 of what was written, while
 * the fsync runs), the commit with its .sha256 checked by the real
 * `sha256sum -c`, and that a failed check leaves nothing behind. */
#include "infra/artifact.h"
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh empty directory under /tmp; dir gets its path. */
static void fresh_dir(char dir[64])
{
	snprintf(dir, 64, "/tmp/vigil-ut-artifact-XXXXXX");
	if (!mkdtemp(dir))
		dir[0] = '\0';
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot remove %s\n", dir);
}

/* n bytes of text-like data (compressible, not constant). */
static unsigned char *text(size_t n)
{
	unsigned char *p = malloc(n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (unsigned char)("abcdefgh 0123\n"[(i * 7 + i / 13) % 14]);
	return p;
}

/* Write 3 MiB through an artifact of codec c and commit it: the final file
 * and its .sha256 exist, `sha256sum -c` accepts them, no temporary is left,
 * and the read-back saw the writer's CRC-32. */
static void commit_codec(enum stream_codec c, const char *suffix)
{
	struct stream_opts o = { c, c == STREAM_ZSTD ? 1 : 5, 2, (size_t)1 << 20, NULL };
	struct artifact a;
	struct err e;
	char dir[64], cmd[256];
	size_t n = (size_t)3 << 20;
	unsigned char *data = text(n);

	fresh_dir(dir);
	REQUIRE(dir[0] && data);
	err_clear(&e);
	REQUIRE(artifact_begin(&a, dir, "app_20261129_030000", suffix, &o, 0600, &e) == 0);
	REQUIRE(stream_write(a.w, data, n, &e) == 0);
	CHECK(artifact_finish(&a, &e) == 0);
	CHECK(e.code == ERR_OK);
	CHECK(a.st.raw_bytes == n);
	CHECK(artifact_commit(&a, &e) == 0);
	snprintf(cmd, sizeof cmd, "cd '%s' && sha256sum --status -c 'app_20261129_030000%s.sha256'",
		 dir, suffix);
	CHECK(system(cmd) == 0);
	CHECK(unit_count_entries(dir) == 2);
	artifact_abort(&a); /* a no-op after commit */
	CHECK(unit_count_entries(dir) == 2);
	remove_dir(dir);
	free(data);
}

static void commit_gzip(void)
{
	commit_codec(STREAM_GZIP, ".sql.gz");
}

static void commit_zstd(void)
{
	commit_codec(STREAM_ZSTD, ".sql.zst");
}

static void commit_none(void)
{
	commit_codec(STREAM_NONE, ".sql");
}

/* Start a gzip artifact holding 3 MiB of text, not finished. */
static int start(struct artifact *a, const char *dir, struct err *e)
{
	struct stream_opts o = { STREAM_GZIP, 5, 2, (size_t)1 << 20, NULL };
	size_t n = (size_t)3 << 20;
	unsigned char *data = text(n);
	int rc;

	err_clear(e);
	if (!data)
		return -1;
	rc = artifact_begin(a, dir, "app_20261129_030000", ".sql.gz", &o, 0600, e);
	if (rc == 0)
		rc = stream_write(a->w, data, n, e);
	free(data);
	return rc;
}

/* The file grown behind the writer's back (another descriptor writes far
 * past anything the writer will write, so the order of the writes does not
 * matter): artifact_finish fails with ERR_CORRUPT naming both lengths, and
 * artifact_abort leaves the directory empty. */
static void finish_catches_a_grown_file(void)
{
	struct artifact a;
	struct err e;
	char dir[64];
	int fd;

	fresh_dir(dir);
	REQUIRE(dir[0]);
	REQUIRE(start(&a, dir, &e) == 0);
	fd = open(a.tmp_path, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "X", 1, (off_t)64 << 20) == 1);
	close(fd);
	CHECK(artifact_finish(&a, &e) < 0);
	CHECK(e.code == ERR_CORRUPT);
	CHECK(strstr(e.msg, "the new file on disk (67108865 bytes") != NULL);
	CHECK(strstr(e.msg, "differs from what was written") != NULL);
	artifact_abort(&a);
	CHECK(unit_count_entries(dir) == 0);
	remove_dir(dir);
}

/* artifact_read_back on a finished file: 0 as written; ERR_CORRUPT after
 * four bytes in the middle are changed, and after the last byte is cut;
 * 0 again once the bytes are put back. */
static void read_back_catches_changed_bytes(void)
{
	struct artifact a;
	struct err e;
	char dir[64];
	unsigned char orig[4], bad[4];
	int fd;

	fresh_dir(dir);
	REQUIRE(dir[0]);
	REQUIRE(start(&a, dir, &e) == 0);
	REQUIRE(artifact_finish(&a, &e) == 0);
	CHECK(artifact_read_back(&a, &e) == 0);
	fd = open(a.tmp_path, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pread(fd, orig, 4, 1000) == 4);
	for (int i = 0; i < 4; i++)
		bad[i] = (unsigned char)~orig[i];
	CHECK(pwrite(fd, bad, 4, 1000) == 4);
	err_clear(&e);
	CHECK(artifact_read_back(&a, &e) < 0);
	CHECK(e.code == ERR_CORRUPT);
	CHECK(pwrite(fd, orig, 4, 1000) == 4);
	err_clear(&e);
	CHECK(artifact_read_back(&a, &e) == 0);
	CHECK(ftruncate(fd, (off_t)a.st.stored_bytes - 1) == 0);
	err_clear(&e);
	CHECK(artifact_read_back(&a, &e) < 0);
	CHECK(e.code == ERR_CORRUPT);
	close(fd);
	artifact_abort(&a);
	CHECK(unit_count_entries(dir) == 0);
	remove_dir(dir);
}

UNIT_MAIN(T(commit_gzip), T(commit_zstd), T(commit_none), T(finish_catches_a_grown_file),
	  T(read_back_catches_changed_bytes))
