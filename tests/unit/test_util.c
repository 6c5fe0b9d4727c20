/* test_util.c - unit tests for src/base/util.c, src/base/err.c and the stderr-tail
 * helpers of src/infra/pid1.c (pid1_tail_add / pid1_tail_text).
 *
 * Files go to a mkdtemp() directory under $TMPDIR (default /tmp) that is
 * removed at the end of each test.
 */
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static char tmp_root[UTIL_PATH_MAX];

/* A fresh private directory; returns its path (static storage). */
static const char *mktmp(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmp_root, sizeof tmp_root, "%s/vigil-test-util-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		abort();
	}
	return tmp_root;
}

static void rmtmp(void)
{
	struct err e;

	err_clear(&e);
	if (tmp_root[0] && util_rm_rf(tmp_root, &e) < 0)
		fprintf(stderr, "  cleanup of %s failed: %s\n", tmp_root, e.msg);
	tmp_root[0] = '\0';
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Whole content of a small file, or "" when unreadable (static storage). */
static const char *get_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (!f)
		return "(missing)";
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* ------------------------------------------------------------------------ */
/* util_split_words                                                         */

static void split_words_plain_and_quotes(void)
{
	struct err e;
	char **v;

	err_clear(&e);
	v = util_split_words("  --exclude-table-data=django_session   -v\t--no-owner\n", &e);
	REQUIRE(v != NULL);
	REQUIRE(strv_len(v) == 3);
	CHECK_STR(v[0], "--exclude-table-data=django_session");
	CHECK_STR(v[1], "-v");
	CHECK_STR(v[2], "--no-owner");
	util_free_strv(v);

	/* single quotes: literal, no escapes inside */
	v = util_split_words("--table='my table' 'a\\b' '' x''y", &e);
	REQUIRE(v != NULL);
	REQUIRE(strv_len(v) == 4);
	CHECK_STR(v[0], "--table=my table");
	CHECK_STR(v[1], "a\\b");
	CHECK_STR(v[2], "");
	CHECK_STR(v[3], "xy");
	util_free_strv(v);

	/* double quotes: \" \\ \$ \` are escapes, other backslashes stay */
	v = util_split_words("\"a \\\"b\\\" c\" \"d\\\\e\" \"f\\$g\" \"h\\`i\" \"j\\nk\" \"\"", &e);
	REQUIRE(v != NULL);
	REQUIRE(strv_len(v) == 6);
	CHECK_STR(v[0], "a \"b\" c");
	CHECK_STR(v[1], "d\\e");
	CHECK_STR(v[2], "f$g");
	CHECK_STR(v[3], "h`i");
	CHECK_STR(v[4], "j\\nk");
	CHECK_STR(v[5], "");
	util_free_strv(v);

	/* backslash outside quotes escapes the next character (also a space) */
	v = util_split_words("a\\ b c\\'d \\\"e\\\\", &e);
	REQUIRE(v != NULL);
	REQUIRE(strv_len(v) == 3);
	CHECK_STR(v[0], "a b");
	CHECK_STR(v[1], "c'd");
	CHECK_STR(v[2], "\"e\\");
	util_free_strv(v);

	/* adjacent quoted parts form one word; no expansion of any kind */
	v = util_split_words("--x='a'\"b\"c $HOME `id` *.sql ~", &e);
	REQUIRE(v != NULL);
	REQUIRE(strv_len(v) == 5);
	CHECK_STR(v[0], "--x=abc");
	CHECK_STR(v[1], "$HOME");
	CHECK_STR(v[2], "`id`");
	CHECK_STR(v[3], "*.sql");
	CHECK_STR(v[4], "~");
	util_free_strv(v);
}

static void split_words_empty(void)
{
	struct err e;
	char **v;

	err_clear(&e);
	v = util_split_words("", &e);
	REQUIRE(v != NULL);
	CHECK(v[0] == NULL);
	util_free_strv(v);

	v = util_split_words(" \t \n ", &e);
	REQUIRE(v != NULL);
	CHECK(v[0] == NULL);
	util_free_strv(v);
	CHECK(e.code == ERR_OK);
}

static void split_words_unbalanced(void)
{
	static const char *const bad[] = {
		"'abc", "--a 'b c", "\"abc", "a \"b\\\"", "x'y", "\"it's", "'\"'\"",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err e;
		char **v;

		err_clear(&e);
		v = util_split_words(bad[i], &e);
		CHECK(v == NULL);
		CHECK(e.code == ERR_CONFIG);
		CHECK(strstr(e.msg, "unbalanced") != NULL);
		if (v) {
			fprintf(stderr, "  accepted unbalanced: %s\n", bad[i]);
			util_free_strv(v);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* util_split                                                               */

static void split_trims_and_drops_empty(void)
{
	size_t n = 99;
	char **v = util_split(" *.tmp, cache/* ,,  ,thumbs/**\t,", ',', &n);

	REQUIRE(v != NULL);
	REQUIRE(n == 3);
	CHECK(strv_len(v) == 3);
	CHECK_STR(v[0], "*.tmp");
	CHECK_STR(v[1], "cache/*");
	CHECK_STR(v[2], "thumbs/**");
	util_free_strv(v);

	n = 99;
	v = util_split("", ',', &n);
	REQUIRE(v != NULL);
	CHECK(n == 0);
	CHECK(v[0] == NULL);
	util_free_strv(v);

	n = 99;
	v = util_split(" , ,, ", ',', &n);
	REQUIRE(v != NULL);
	CHECK(n == 0);
	util_free_strv(v);

	n = 99;
	v = util_split(NULL, ',', &n);
	REQUIRE(v != NULL);
	CHECK(n == 0);
	util_free_strv(v);

	n = 99;
	v = util_split("a@x.test;b@y.test", ';', &n);
	REQUIRE(v != NULL);
	REQUIRE(n == 2);
	CHECK_STR(v[0], "a@x.test");
	CHECK_STR(v[1], "b@y.test");
	util_free_strv(v);

	/* growth past the initial capacity */
	n = 0;
	v = util_split("1,2,3,4,5,6,7,8,9,10,11", ',', &n);
	REQUIRE(v != NULL);
	REQUIRE(n == 11);
	CHECK_STR(v[0], "1");
	CHECK_STR(v[10], "11");
	CHECK(v[11] == NULL);
	util_free_strv(v);

	util_free_strv(NULL); /* no-op */
}

/* ------------------------------------------------------------------------ */
/* Number parsing                                                           */

static void parse_long_edges(void)
{
	long v = 12345;

	CHECK(util_parse_long("5432", 1, 65535, &v) == 0 && v == 5432);
	CHECK(util_parse_long("1", 1, 65535, &v) == 0 && v == 1);
	CHECK(util_parse_long("65535", 1, 65535, &v) == 0 && v == 65535);
	CHECK(util_parse_long("-3", -5, 5, &v) == 0 && v == -3);
	CHECK(util_parse_long("+7", 0, 10, &v) == 0 && v == 7);
	CHECK(util_parse_long("007", 0, 10, &v) == 0 && v == 7);
	v = 12345;
	CHECK(util_parse_long("0", 1, 65535, &v) < 0);
	CHECK(util_parse_long("65536", 1, 65535, &v) < 0);
	CHECK(util_parse_long("70000", 1, 65535, &v) < 0);
	CHECK(util_parse_long("abc", 1, 65535, &v) < 0);
	CHECK(util_parse_long("", 0, 10, &v) < 0);
	CHECK(util_parse_long(NULL, 0, 10, &v) < 0);
	CHECK(util_parse_long(" 5", 0, 10, &v) < 0);
	CHECK(util_parse_long("5 ", 0, 10, &v) < 0);
	CHECK(util_parse_long("5x", 0, 10, &v) < 0);
	CHECK(util_parse_long("0x10", 0, 100, &v) < 0);
	CHECK(util_parse_long("1.5", 0, 10, &v) < 0);
	CHECK(util_parse_long("-", 0, 10, &v) < 0);
	CHECK(util_parse_long("99999999999999999999", 0, 10, &v) < 0);
	CHECK(util_parse_long("-99999999999999999999", -10, 10, &v) < 0);
	CHECK(v == 12345); /* untouched on failure */
}

static void parse_bool_edges(void)
{
	static const char *const yes[] = { "1", "true", "TRUE", "True", "yes", "YES", "on", "On" };
	static const char *const no[] = { "0", "false", "FALSE", "no", "No", "off", "OFF" };
	static const char *const bad[] = { "maybe", "", "2", " true", "true ", "y", "n", "t",
					   "enable", "-1", "01" };
	bool b;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		CHECK(util_parse_bool(yes[i], &b) == 0 && b);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		b = true;
		CHECK(util_parse_bool(no[i], &b) == 0 && !b);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = true;
		if (util_parse_bool(bad[i], &b) == 0) {
			fprintf(stderr, "  accepted bool \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
}

static void parse_duration_edges(void)
{
	long s = -7;

	CHECK(util_parse_duration("3600", &s) == 0 && s == 3600);
	CHECK(util_parse_duration("0", &s) == 0 && s == 0);
	CHECK(util_parse_duration("90s", &s) == 0 && s == 90);
	CHECK(util_parse_duration("90m", &s) == 0 && s == 5400);
	CHECK(util_parse_duration("26h", &s) == 0 && s == 93600);
	CHECK(util_parse_duration("2d", &s) == 0 && s == 172800);
	CHECK(util_parse_duration("1h", &s) == 0 && s == 3600);
	s = -7;
	CHECK(util_parse_duration("5x", &s) < 0);
	CHECK(util_parse_duration("", &s) < 0);
	CHECK(util_parse_duration(NULL, &s) < 0);
	CHECK(util_parse_duration("h", &s) < 0);
	CHECK(util_parse_duration("-5", &s) < 0);
	CHECK(util_parse_duration("+5", &s) < 0);
	CHECK(util_parse_duration(" 5", &s) < 0);
	CHECK(util_parse_duration("5 ", &s) < 0);
	CHECK(util_parse_duration("1hh", &s) < 0);
	CHECK(util_parse_duration("1h30m", &s) < 0);
	CHECK(util_parse_duration("1.5h", &s) < 0);
	CHECK(util_parse_duration("1H", &s) < 0);
	CHECK(util_parse_duration("99999999999999999999", &s) < 0);
	CHECK(util_parse_duration("9223372036854775807d", &s) < 0);
	CHECK(util_parse_duration("9223372036854775807h", &s) < 0);
	CHECK(s == -7);
	CHECK(util_parse_duration("9223372036854775807", &s) == 0 && s == 9223372036854775807L);
	CHECK(util_parse_duration("106751991167300d", &s) == 0 && s == 106751991167300L * 86400);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static void rename_noreplace_never_replaces(void)
{
	const char *d = mktmp();
	char a[UTIL_PATH_MAX], b[UTIL_PATH_MAX], c[UTIL_PATH_MAX];
	struct err e;

	snprintf(a, sizeof a, "%s/a", d);
	snprintf(b, sizeof b, "%s/b", d);
	snprintf(c, sizeof c, "%s/c", d);
	put_file(a, "first\n");
	put_file(b, "second\n");
	err_clear(&e);
	CHECK(util_rename_noreplace(a, b, &e) == 1);
	CHECK_STR(get_file(a), "first\n");
	CHECK_STR(get_file(b), "second\n");
	CHECK(e.code == ERR_OK);

	/* a free name: renamed, source gone */
	CHECK(util_rename_noreplace(a, c, &e) == 0);
	CHECK(!exists(a));
	CHECK_STR(get_file(c), "first\n");

	/* a missing source is an error, not "exists" */
	err_clear(&e);
	CHECK(util_rename_noreplace(a, b, &e) == -1);
	CHECK(e.code == ERR_IO);
	CHECK(strstr(e.msg, "No such file or directory") != NULL);
	CHECK_STR(get_file(b), "second\n");

	/* an existing directory or symlink as target is never replaced either */
	{
		char dir[UTIL_PATH_MAX], lnk[UTIL_PATH_MAX];
		snprintf(dir, sizeof dir, "%s/dir", d);
		snprintf(lnk, sizeof lnk, "%s/lnk", d);
		CHECK(mkdir(dir, 0700) == 0);
		CHECK(symlink("/nonexistent/target", lnk) == 0);
		CHECK(util_rename_noreplace(c, lnk, &e) == 1);
		CHECK(util_rename_noreplace(c, dir, &e) == 1);
		CHECK_STR(get_file(c), "first\n");
	}
	rmtmp();
}

static void write_file_atomic_contract(void)
{
	const char *d = mktmp();
	char p[UTIL_PATH_MAX];
	struct stat st;
	struct err e;
	mode_t old = umask(077);

	err_clear(&e);
	CHECK(util_write_file_atomic(d, "x.json", "{\"a\":1}\n", 8, 0640, &e) == 0);
	snprintf(p, sizeof p, "%s/x.json", d);
	CHECK_STR(get_file(p), "{\"a\":1}\n");
	REQUIRE(stat(p, &st) == 0);
	CHECK((st.st_mode & 07777) == 0640); /* exact mode, umask does not apply */
	CHECK(S_ISREG(st.st_mode));
	CHECK(unit_count_entries(d) == 1); /* no temporary file left */

	/* an existing name: 1, untouched, no temporary file left */
	CHECK(util_write_file_atomic(d, "x.json", "other", 5, 0600, &e) == 1);
	CHECK_STR(get_file(p), "{\"a\":1}\n");
	REQUIRE(stat(p, &st) == 0);
	CHECK((st.st_mode & 07777) == 0640);
	CHECK(unit_count_entries(d) == 1);

	/* mode 0600, binary content with NUL bytes, empty file */
	CHECK(util_write_file_atomic(d, "bin", "a\0b\0", 4, 0600, &e) == 0);
	snprintf(p, sizeof p, "%s/bin", d);
	REQUIRE(stat(p, &st) == 0);
	CHECK(st.st_size == 4);
	CHECK((st.st_mode & 07777) == 0600);
	CHECK(util_write_file_atomic(d, "empty", "", 0, 0644, &e) == 0);
	snprintf(p, sizeof p, "%s/empty", d);
	REQUIRE(stat(p, &st) == 0);
	CHECK(st.st_size == 0);
	CHECK((st.st_mode & 07777) == 0644);
	CHECK(unit_count_entries(d) == 3);

	/* a missing directory: -1 with ERR_IO */
	snprintf(p, sizeof p, "%s/nodir", d);
	err_clear(&e);
	CHECK(util_write_file_atomic(p, "x", "x", 1, 0600, &e) == -1);
	CHECK(e.code == ERR_IO);
	umask(old);
	rmtmp();
}

static void read_file_bounds(void)
{
	const char *d = mktmp();
	char p[UTIL_PATH_MAX], *buf = NULL;
	size_t len = 0;
	struct err e;

	snprintf(p, sizeof p, "%s/f", d);
	put_file(p, "0123456789");
	err_clear(&e);
	CHECK(util_read_file(p, 10, &buf, &len, &e) == 0);
	CHECK(len == 10);
	CHECK_STR(buf, "0123456789");
	free(buf);
	buf = NULL;
	CHECK(util_read_file(p, 9, &buf, &len, &e) == -1);
	CHECK(buf == NULL);
	CHECK(e.code == ERR_IO);
	CHECK(strstr(e.msg, "larger than 9 bytes") != NULL);
	snprintf(p, sizeof p, "%s/missing", d);
	CHECK(util_read_file(p, 100, &buf, &len, &e) == -1);
	CHECK(e.code == ERR_IO);
	CHECK(strstr(e.msg, "missing") != NULL);
	rmtmp();
}

static void rm_rf_keeps_symlink_targets(void)
{
	const char *d = mktmp();
	char tree[UTIL_PATH_MAX], out[UTIL_PATH_MAX], p[UTIL_PATH_MAX + 64];
	struct err e;

	snprintf(tree, sizeof tree, "%s/tree", d);
	snprintf(out, sizeof out, "%s/outside", d);
	CHECK(mkdir(tree, 0700) == 0);
	CHECK(mkdir(out, 0700) == 0);
	snprintf(p, sizeof p, "%s/canary", out);
	put_file(p, "canary\n");
	snprintf(p, sizeof p, "%s/sub", out);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof p, "%s/sub/keep", out);
	put_file(p, "keep\n");

	snprintf(p, sizeof p, "%s/a", tree);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof p, "%s/a/b", tree);
	CHECK(mkdir(p, 0500) == 0); /* read-only dir with nothing in it */
	snprintf(p, sizeof p, "%s/a/file", tree);
	put_file(p, "x");
	snprintf(p, sizeof p, "%s/dirlink", tree);
	CHECK(symlink(out, p) == 0);           /* a link to a directory outside */
	snprintf(p, sizeof p, "%s/a/filelink", tree);
	{
		char t[UTIL_PATH_MAX + 16];
		snprintf(t, sizeof t, "%s/canary", out);
		CHECK(symlink(t, p) == 0);     /* a link to a file outside */
	}
	snprintf(p, sizeof p, "%s/a/dangling", tree);
	CHECK(symlink("/nonexistent/x", p) == 0);
	snprintf(p, sizeof p, "%s/loop", tree);
	CHECK(symlink(".", p) == 0);

	err_clear(&e);
	CHECK(util_rm_rf(tree, &e) == 0);
	CHECK(e.code == ERR_OK);
	CHECK(!exists(tree));
	snprintf(p, sizeof p, "%s/canary", out);
	CHECK_STR(get_file(p), "canary\n");
	snprintf(p, sizeof p, "%s/sub/keep", out);
	CHECK_STR(get_file(p), "keep\n");

	/* missing is not an error */
	CHECK(util_rm_rf(tree, &e) == 0);

	/* a symlink given as the path itself: only the link goes */
	snprintf(p, sizeof p, "%s/toplink", d);
	CHECK(symlink(out, p) == 0);
	CHECK(util_rm_rf(p, &e) == 0);
	CHECK(!exists(p));
	snprintf(p, sizeof p, "%s/canary", out);
	CHECK_STR(get_file(p), "canary\n");

	/* a plain file */
	snprintf(p, sizeof p, "%s/canary", out);
	CHECK(util_rm_rf(p, &e) == 0);
	CHECK(!exists(p));
	rmtmp();
}

static void mkdir_p_nested(void)
{
	const char *d = mktmp();
	char p[UTIL_PATH_MAX];
	struct stat st;
	struct err e;
	mode_t old = umask(0);

	snprintf(p, sizeof p, "%s/a/b/c", d);
	err_clear(&e);
	CHECK(util_mkdir_p(p, 0700, &e) == 0);
	REQUIRE(stat(p, &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK((st.st_mode & 0777) == 0700);
	CHECK(util_mkdir_p(p, 0700, &e) == 0); /* existing is fine */
	snprintf(p, sizeof p, "%s/a/b/c/", d);
	CHECK(util_mkdir_p(p, 0700, &e) == 0); /* trailing slash */
	/* a file in the way */
	snprintf(p, sizeof p, "%s/file", d);
	put_file(p, "x");
	snprintf(p, sizeof p, "%s/file/sub", d);
	CHECK(util_mkdir_p(p, 0700, &e) == -1);
	CHECK(e.code == ERR_IO);
	umask(old);
	rmtmp();
}

/* ------------------------------------------------------------------------ */
/* Small string helpers                                                     */

static void small_helpers(void)
{
	char b[32], s[16];
	struct err e;
	char *old_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	CHECK(util_starts_with("my_app_2020", "my_app_"));
	CHECK(util_starts_with("abc", ""));
	CHECK(!util_starts_with("ab", "abc"));
	CHECK(util_ends_with("x.sql.gz", ".sql.gz"));
	CHECK(util_ends_with("x", ""));
	CHECK(!util_ends_with("gz", ".gz"));
	CHECK(!util_ends_with("x.sql.gz.bak", ".sql.gz"));

	util_human_bytes(0, b);
	CHECK_STR(b, "0 B");
	util_human_bytes(1023, b);
	CHECK_STR(b, "1023 B");
	util_human_bytes(1024, b);
	CHECK_STR(b, "1.0 KiB");
	util_human_bytes(1536, b);
	CHECK_STR(b, "1.5 KiB");
	util_human_bytes(9663676416ull, b);
	CHECK_STR(b, "9.0 GiB");
	util_human_bytes(UINT64_MAX, b);
	CHECK_STR(b, "16777216.0 TiB");

	err_clear(&e);
	CHECK(util_fmt(s, sizeof s, &e, "%s", "short") == 0);
	CHECK_STR(s, "short");
	CHECK(util_fmt(s, sizeof s, &e, "%s", "a string that is too long") == -1);
	CHECK(e.code == ERR_INTERNAL);
	CHECK(util_fmt(s, 16, &e, "%s", "exactly15chars!") == 0);
	CHECK(util_fmt(s, 16, &e, "%s", "exactly16chars!!") == -1);

	setenv("TZ", "UTC", 1);
	tzset();
	util_stamp_local(1577847600, s); /* 2020-01-01T03:00:00Z */
	CHECK_STR(s, "20200101_030000");
	setenv("TZ", "America/Lima", 1); /* UTC-5, no DST */
	tzset();
	util_stamp_local(1577847600, s);
	CHECK_STR(s, "20191231_220000");
	if (old_tz)
		setenv("TZ", old_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old_tz);

	{
		double a = util_mono(), c = util_mono();
		CHECK(a > 0 && c >= a);
	}
}

/* ------------------------------------------------------------------------ */
/* err.c                                                                    */

static void err_errno_nospace(void)
{
	struct err e;

	err_clear(&e);
	CHECK(err_errno(&e, ERR_IO, ENOSPC, "cannot write %s", "/backups/db/x") == -1);
	CHECK(e.code == ERR_NOSPACE);
	CHECK_STR(e.msg, "cannot write /backups/db/x: No space left on device");

	CHECK(err_errno(&e, ERR_DUMP, EDQUOT, "cannot write %s", "f") == -1);
	CHECK(e.code == ERR_NOSPACE);
	CHECK_STR(e.msg, "cannot write f: Disk quota exceeded");

	CHECK(err_errno(&e, ERR_IO, EIO, "cannot read %s", "f") == -1);
	CHECK(e.code == ERR_IO);
	CHECK_STR(e.msg, "cannot read f: Input/output error");

	CHECK(err_errno(&e, ERR_MEDIA, EACCES, "cannot open %s", "private/s.jpg") == -1);
	CHECK(e.code == ERR_MEDIA);
	CHECK_STR(e.msg, "cannot open private/s.jpg: Permission denied");

	CHECK(err_errno(NULL, ERR_IO, ENOSPC, "x") == -1); /* NULL is allowed */
}

static void err_set_prefix_clear(void)
{
	struct err e;
	char big[2 * ERR_MSG_MAX];

	err_clear(&e);
	CHECK(e.code == ERR_OK && e.msg[0] == '\0' && e.signo == 0);
	CHECK(err_set(&e, ERR_CORRUPT, "bad %s at %d", "trailer", 7) == -1);
	CHECK(e.code == ERR_CORRUPT);
	CHECK_STR(e.msg, "bad trailer at 7");
	err_prefix(&e, "verify %s", "app_20250120_030000.sql.gz");
	CHECK(e.code == ERR_CORRUPT);
	CHECK_STR(e.msg, "verify app_20250120_030000.sql.gz: bad trailer at 7");
	CHECK(err_set(NULL, ERR_IO, "x") == -1);
	err_prefix(NULL, "x");
	err_clear(NULL);

	/* long messages are cut, never overflow */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	err_set(&e, ERR_IO, "%s", big);
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
	err_prefix(&e, "%s", big);
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
	err_clear(&e);
	CHECK(e.code == ERR_OK && e.msg[0] == '\0');
}

static void err_exit_codes(void)
{
	struct err e;

	err_clear(&e);
	CHECK(err_exit_code(&e) == 0);
	e.code = ERR_USAGE;
	CHECK(err_exit_code(&e) == 2);
	e.code = ERR_CONFIG;
	CHECK(err_exit_code(&e) == 2);
	e.code = ERR_REFUSED;
	CHECK(err_exit_code(&e) == 2);
	e.code = ERR_UNSAFE;
	CHECK(err_exit_code(&e) == 2);
	e.code = ERR_LOCKED;
	CHECK(err_exit_code(&e) == 75);
	e.code = ERR_INTERRUPTED;
	e.signo = SIGTERM;
	CHECK(err_exit_code(&e) == 143);
	e.signo = SIGINT;
	CHECK(err_exit_code(&e) == 130);
	e.signo = SIGKILL;
	CHECK(err_exit_code(&e) == 137);
	e.signo = 0;
	CHECK(err_exit_code(&e) == 143);
	e.signo = 0;
	{
		static const enum err_code ones[] = {
			ERR_IO, ERR_NOSPACE, ERR_DB_CONNECT, ERR_DB_VERSION, ERR_DUMP,
			ERR_MEDIA, ERR_CORRUPT, ERR_RESTORE, ERR_CHILD, ERR_INTERNAL,
		};
		for (size_t i = 0; i < sizeof ones / sizeof ones[0]; i++) {
			e.code = ones[i];
			CHECK(err_exit_code(&e) == 1);
		}
	}
}

/* The table covers every code: a name of its own (distinct, lowercase,
 * usable as a Prometheus label value) and one of the statuses of README "Exit codes". */
static void err_table_complete(void)
{
	struct err e;

	err_clear(&e);
	for (int c = 0; c < ERR_CODE_COUNT; c++) {
		const char *r = err_reason((enum err_code)c);
		CHECK(strcmp(r, "unknown") != 0);
		for (const char *p = r; *p; p++)
			CHECK((*p >= 'a' && *p <= 'z') || *p == '_');
		for (int d = 0; d < c; d++)
			CHECK(strcmp(r, err_reason((enum err_code)d)) != 0);
		e.code = (enum err_code)c;
		e.signo = SIGINT;
		int x = err_exit_code(&e);
		CHECK(x == 0 || x == 1 || x == 2 || x == 75 || x == 130);
	}
	CHECK_STR(err_reason(ERR_DB_QUERY), "db_query");
	CHECK_STR(err_reason(ERR_CODE_COUNT), "unknown");
	CHECK(exit_for_signal(SIGHUP) == 129 && exit_for_signal(0) == 143);
	CHECK(exit_is_success(0) && exit_is_success(3) && !exit_is_success(1) &&
	      !exit_is_success(75));
}

static void err_reason_names(void)
{
	CHECK_STR(err_reason(ERR_OK), "ok");
	CHECK_STR(err_reason(ERR_USAGE), "usage");
	CHECK_STR(err_reason(ERR_CONFIG), "config");
	CHECK_STR(err_reason(ERR_REFUSED), "refused");
	CHECK_STR(err_reason(ERR_LOCKED), "locked");
	CHECK_STR(err_reason(ERR_IO), "io");
	CHECK_STR(err_reason(ERR_NOSPACE), "nospace");
	CHECK_STR(err_reason(ERR_DB_CONNECT), "db_connect");
	CHECK_STR(err_reason(ERR_DB_VERSION), "db_version");
	CHECK_STR(err_reason(ERR_DUMP), "dump");
	CHECK_STR(err_reason(ERR_MEDIA), "media");
	CHECK_STR(err_reason(ERR_CORRUPT), "corrupt");
	CHECK_STR(err_reason(ERR_RESTORE), "restore");
	CHECK_STR(err_reason(ERR_CHILD), "child");
	CHECK_STR(err_reason(ERR_INTERRUPTED), "interrupted");
	CHECK_STR(err_reason(ERR_INTERNAL), "internal");
	CHECK_STR(err_reason(ERR_UNSAFE), "unsafe");
	CHECK_STR(err_reason((enum err_code)999), "unknown");
}

/* ------------------------------------------------------------------------ */
/* pid1 stderr tail                                                         */

static void tail_add_bounded(void)
{
	static struct child_tail t;
	static char big[20000];
	size_t cap = sizeof t.buf;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);

	/* one big write keeps its newest cap bytes */
	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, big, sizeof big);
	CHECK(t.len == cap);
	CHECK(memcmp(t.buf, big + sizeof big - cap, cap) == 0);

	/* exactly cap bytes */
	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, big, cap);
	CHECK(t.len == cap);
	CHECK(memcmp(t.buf, big, cap) == 0);

	/* many small writes: the same newest bytes */
	memset(&t, 0, sizeof t);
	for (size_t off = 0; off < sizeof big; off += 333) {
		size_t n = sizeof big - off < 333 ? sizeof big - off : 333;
		pid1_tail_add(&t, big + off, n);
		CHECK(t.len <= cap);
	}
	CHECK(t.len == cap);
	CHECK(memcmp(t.buf, big + sizeof big - cap, cap) == 0);

	/* below the cap nothing is dropped */
	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, "abc", 3);
	pid1_tail_add(&t, "", 0);
	pid1_tail_add(&t, "def", 3);
	CHECK(t.len == 6);
	CHECK(memcmp(t.buf, "abcdef", 6) == 0);

	/* crossing the cap */
	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, big, 8000);
	pid1_tail_add(&t, big + 8000, 300);
	CHECK(t.len == cap);
	CHECK(memcmp(t.buf, big + 8300 - cap, cap) == 0);
}

static void tail_text_lines(const char *in, size_t n, const char *want)
{
	static struct child_tail t;
	char out[512];

	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, in, strlen(in));
	memset(out, 'Z', sizeof out);
	pid1_tail_text(&t, out, n);
	CHECK(strlen(out) < n);
	CHECK_STR(out, want);
}

static void tail_text_format(void)
{
	tail_text_lines("", 256, "");
	tail_text_lines("one line", 256, "one line");
	tail_text_lines("line1\nline2\n", 256, "line1 | line2");
	tail_text_lines("a\r\nb\r\n", 256, "a | b");
	/* no error line: everything, oldest first */
	tail_text_lines("pg_dump: warning: x\npg_dump: last line\n", 256,
			"pg_dump: warning: x | pg_dump: last line");
	/* control bytes (a terminal escape, a tab, DEL) never reach a log */
	tail_text_lines("\x1b[31mred\x1b[0m\tx\x7f\n", 256, "?[31mred?[0m?x?");
	{
		/* a NUL does not cut the message */
		static struct child_tail t;
		char out[64];
		memset(&t, 0, sizeof t);
		pid1_tail_add(&t, "before\0after", 12);
		pid1_tail_text(&t, out, sizeof out);
		CHECK_STR(out, "before?after");
	}
}

static void tail_text_prefers_first_error_line(void)
{
	tail_text_lines("pg_dump: warning: something harmless\n"
			"pg_dump: error: query failed: ERROR:  permission denied for table items\n"
			"pg_dump: detail: Query was: LOCK TABLE public.items IN ACCESS SHARE MODE\n",
			256,
			"pg_dump: error: query failed: ERROR:  permission denied for table items | "
			"pg_dump: detail: Query was: LOCK TABLE public.items IN ACCESS SHARE MODE");
	/* the first of several, FATAL and ERROR count too */
	tail_text_lines("notice: starting\nFATAL:  password authentication failed\nnoise\n"
			"error: second\n",
			256, "FATAL:  password authentication failed | noise | error: second");
	tail_text_lines("info\npsql:x.sql:12: ERROR:  relation \"x\" does not exist\n", 256,
			"psql:x.sql:12: ERROR:  relation \"x\" does not exist");
}

static void tail_text_bounded_keeps_newest(void)
{
	static struct child_tail t;
	char out[64];
	char in[200];

	/* no error line, longer than out: the newest bytes, ending with the
	 * tail's last bytes */
	memset(in, 'a', 100);
	memcpy(in + 100, "END", 4);
	memset(&t, 0, sizeof t);
	pid1_tail_add(&t, in, strlen(in));
	memset(out, 'Z', sizeof out);
	pid1_tail_text(&t, out, 32);
	CHECK(strlen(out) < 32);
	CHECK(strlen(out) >= 20);
	CHECK(util_ends_with(out, "aaaEND"));

	/* a full 8 KiB tail into a small buffer never overflows */
	{
		static char big[9000];
		memset(big, 'x', sizeof big);
		for (size_t i = 50; i < sizeof big; i += 50)
			big[i] = '\n';
		memset(&t, 0, sizeof t);
		pid1_tail_add(&t, big, sizeof big);
		for (size_t n = 1; n <= sizeof out; n++) {
			memset(out, 'Z', sizeof out);
			pid1_tail_text(&t, out, n);
			CHECK(strlen(out) < n);
		}
	}
}

/* Columns for padding the restore summary (TRIAL F24: names with accents
 * were padded by bytes and the row counts did not line up). */
static void display_width_counts_columns(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	CHECK(util_display_width("") == 0);
	CHECK(util_display_width("public.items") == 12);
	CHECK(util_display_width("\"\xc3\xb1" "and\xc3\xba\".\"T\xc3\xa1" "bla\"") == 15); /* "ñandú"."Tábla" */
	CHECK(util_display_width("An\xcc\x83o") == 3);                 /* combining tilde */
	CHECK(util_display_width("\xe8\xa1\xa8") == 2);                /* a wide CJK char */
	CHECK(util_display_width("a\xff" "b") == 3);                     /* invalid byte */
}

UNIT_MAIN(T(display_width_counts_columns), T(split_words_plain_and_quotes), T(split_words_empty), T(split_words_unbalanced),
	  T(split_trims_and_drops_empty), T(parse_long_edges), T(parse_bool_edges),
	  T(parse_duration_edges), T(rename_noreplace_never_replaces),
	  T(write_file_atomic_contract), T(read_file_bounds), T(rm_rf_keeps_symlink_targets),
	  T(mkdir_p_nested), T(small_helpers), T(err_errno_nospace), T(err_set_prefix_clear),
	  T(err_exit_codes), T(err_table_complete), T(err_reason_names), T(tail_add_bounded), T(tail_text_format),
	  T(tail_text_prefers_first_error_line), T(tail_text_bounded_keeps_newest))
