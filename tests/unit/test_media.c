/* test_media.c - unit tests for the media_*.c files (media tree <-> pax tar).
 *
 * Everything happens under a mkdtemp directory in /tmp that is removed at
 * the end. GNU tar (`tar`) is the independent oracle for the archives we
 * write; hand-made ustar archives (written byte by byte below, no
 * libarchive) are the oracle for what we must refuse. gzip is exercised
 * only when stream.c supports it (the STREAM_NONE stub does not).
 */
#include "pipeline/media.h"
#include "base/err.h"
#include "infra/stream.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char TD[128]; /* the scratch directory */

/* ------------------------------------------------------------------ */
/* helpers                                                            */

static void pj(char *out, size_t n, const char *a, const char *b)
{
	snprintf(out, n, "%s/%s", a, b);
}

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int put(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t k;

	if (fd < 0)
		return -1;
	k = n ? write(fd, data, n) : 0;
	close(fd);
	if (k < 0 || (size_t)k != n)
		return -1;
	return chmod(path, mode);
}

static int puts_file(const char *path, const char *s, mode_t mode)
{
	return put(path, s, strlen(s), mode);
}

static void mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
	utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t k;
		if (n + 4096 + 1 > cap) {
			char *p;
			cap = cap ? cap * 2 : 8192;
			p = realloc(b, cap);
			if (!p)
				break;
			b = p;
		}
		k = fread(b + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Snapshot of a tree: one sorted line per entry with name, type+mode,
 * owner, mtime (ns), size and a content hash or link target. */
struct snap {
	char **v;
	size_t n, cap;
};

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static uint64_t fnv_file(const char *path)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char b[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, b, sizeof b)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			h ^= b[i];
			h *= 1099511628211ull;
		}
	close(fd);
	return h;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* skip: relative paths left out of the snapshot (with their subtrees). */
static void snap_walk(struct snap *s, const char *abs, const char *rel, const char *const *skip,
		      int with_link_times)
{
	struct stat st;
	char extra[4200] = "", line[8192];
	DIR *d;
	struct dirent *de;

	for (const char *const *k = skip; k && *k; k++)
		if (strcmp(*k, rel) == 0)
			return;
	if (lstat(abs, &st) != 0)
		return;
	if (S_ISREG(st.st_mode)) {
		snprintf(extra, sizeof extra, "%016llx", (unsigned long long)fnv_file(abs));
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(abs, extra, sizeof extra - 1);
		extra[n > 0 ? n : 0] = '\0';
	}
	snprintf(line, sizeof line, "%s|%o|%u:%u|%lld.%09ld|%lld|%s", rel, (unsigned)st.st_mode,
		 (unsigned)st.st_uid, (unsigned)st.st_gid,
		 S_ISLNK(st.st_mode) && !with_link_times ? 0LL : (long long)st.st_mtim.tv_sec,
		 S_ISLNK(st.st_mode) && !with_link_times ? 0L : st.st_mtim.tv_nsec,
		 S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size, extra);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = strdup(line);
	if (!S_ISDIR(st.st_mode))
		return;
	d = opendir(abs);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char a2[4096], r2[4096];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		pj(a2, sizeof a2, abs, de->d_name);
		if (strcmp(rel, ".") == 0)
			snprintf(r2, sizeof r2, "%s", de->d_name);
		else
			pj(r2, sizeof r2, rel, de->d_name);
		snap_walk(s, a2, r2, skip, with_link_times);
	}
	closedir(d);
}

static void snap_take(struct snap *s, const char *root, const char *const *skip, int link_times)
{
	memset(s, 0, sizeof *s);
	snap_walk(s, root, ".", skip, link_times);
	qsort(s->v, s->n, sizeof *s->v, cmp_line);
}

static int snap_eq(const struct snap *a, const struct snap *b, const char *what)
{
	size_t i = 0, j = 0;
	int same = 1;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
		if (c == 0) {
			i++, j++;
			continue;
		}
		same = 0;
		if (c < 0)
			fprintf(stderr, "  %s: - %s\n", what, a->v[i++]);
		else
			fprintf(stderr, "  %s: + %s\n", what, b->v[j++]);
	}
	return same;
}

/* Warnings collected through media_opts.warn. */
struct tctx {
	int n;
	char w[32][512];
	char root[256];
	uint64_t progress_calls;
};

static void on_warn(void *ctx, const char *rel, const char *what)
{
	struct tctx *t = ctx;
	if (t->n < 32)
		snprintf(t->w[t->n++], sizeof t->w[0], "%s: %s", rel, what);
}

static void on_progress(void *ctx, uint64_t raw)
{
	struct tctx *t = ctx;
	(void)raw;
	t->progress_calls++;
}

static int has_warn(const struct tctx *t, const char *s)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->w[i], s) == 0)
			return 1;
	return 0;
}

static void opts_init(struct media_opts *o, struct tctx *t, const char *root)
{
	memset(o, 0, sizeof *o);
	memset(t, 0, sizeof *t);
	snprintf(t->root, sizeof t->root, "%s", root);
	o->root = root;
	o->warn = on_warn;
	o->progress = on_progress;
	o->ctx = t;
}

static int write_to(const struct media_opts *o, const char *path, enum stream_codec codec,
		    struct media_stats *st, struct err *e)
{
	struct stream_opts so = { codec, -1, 1, 0, NULL };
	struct stream_writer *w = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = -1;

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "open %s", path);
	if (stream_writer_open(&w, fd, &so, e) != 0)
		goto out;
	if (media_write(o, w, st, e) != 0) {
		stream_writer_free(w);
		goto out;
	}
	r = stream_writer_close(w, NULL, e);
out:
	close(fd);
	return r;
}

static int check_file(const char *path, enum stream_codec codec, struct media_stats *st,
		      struct err *e)
{
	struct stream_reader *r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "open %s", path);
	if (stream_reader_open(&r, fd, codec, e) == 0)
		ret = media_check(r, st, e);
	stream_reader_free(r);
	close(fd);
	return ret;
}

static int restore_file(const struct media_opts *o, const char *path, enum stream_codec codec,
			struct media_stats *st, struct err *e)
{
	struct stream_reader *r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;

	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "open %s", path);
	if (stream_reader_open(&r, fd, codec, e) == 0)
		ret = media_restore(o, r, st, e);
	stream_reader_free(r);
	close(fd);
	return ret;
}

/* No ".vigil-*" left over in dir. */
static int no_vigil_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ok = 1;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, ".vigil-", 7) == 0) {
			fprintf(stderr, "  left over: %s/%s\n", dir, de->d_name);
			ok = 0;
		}
	closedir(d);
	return ok;
}

static int is_root(void)
{
	return geteuid() == 0;
}

/* ------------------------------------------------------------------ */
/* the reference tree                                                 */

static const char NONASCII_DIR[] = "A\xc3\xb1o_2024";                      /* Año_2024 */
static const char NONASCII[] = "A\xc3\xb1o_2024/se\xc3\xb1" "al_\xc3\xb1" "and\xc3\xba.jpg"; /* Año_2024/señal_ñandú.jpg */
static const char LONGNAME[] =
	"docs/a_rather_long_file_name_that_does_not_fit_into_the_one_hundred_bytes_of_a_ustar_name_field_0123456789.txt";

/* Build the B20/B23/B24-style tree at root. */
static int build_tree(const char *root, const char *outside_target)
{
	char p[1024], blob[3000];
	int ok = 1;

	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (char)(i * 7 + i / 13);
	ok &= mkdir(root, 0750) == 0;
	ok &= chmod(root, 0750) == 0;
	pj(p, sizeof p, root, NONASCII_DIR);
	ok &= mkdir(p, 0775) == 0;
	ok &= chmod(p, 02775) == 0;
	pj(p, sizeof p, root, NONASCII);
	ok &= puts_file(p, "\xff\xd8\xff jpeg bytes", 0640) == 0;
	pj(p, sizeof p, root, "docs");
	ok &= mkdir(p, 0755) == 0;
	pj(p, sizeof p, root, "docs/empty.txt");
	ok &= put(p, "", 0, 0600) == 0;
	pj(p, sizeof p, root, "docs/nested");
	ok &= mkdir(p, 0700) == 0;
	pj(p, sizeof p, root, "docs/nested/deep");
	ok &= mkdir(p, 0755) == 0;
	pj(p, sizeof p, root, "docs/nested/deep/file.bin");
	ok &= put(p, blob, sizeof blob, 0644) == 0;
	pj(p, sizeof p, root, LONGNAME);
	ok &= puts_file(p, "long name\n", 0644) == 0;
	pj(p, sizeof p, root, "secret.txt");
	ok &= puts_file(p, "secret\n", 0600) == 0;
	pj(p, sizeof p, root, "x.jpg");
	ok &= puts_file(p, "original x\n", 0644) == 0;
	pj(p, sizeof p, root, "link_rel");
	ok &= symlink("docs/empty.txt", p) == 0;
	pj(p, sizeof p, root, "loop");
	ok &= symlink(".", p) == 0;
	pj(p, sizeof p, root, "out");
	ok &= symlink(outside_target, p) == 0;
	pj(p, sizeof p, root, "fifo");
	ok &= mkfifo(p, 0640) == 0;
	ok &= chmod(p, 0640) == 0;
	if (is_root()) {
		pj(p, sizeof p, root, NONASCII_DIR);
		ok &= chown(p, 1000, 33) == 0;
		pj(p, sizeof p, root, NONASCII);
		ok &= chown(p, 33, 33) == 0;
		pj(p, sizeof p, root, "secret.txt");
		ok &= chown(p, 33, 33) == 0;
		pj(p, sizeof p, root, "link_rel");
		ok &= lchown(p, 33, 33) == 0;
	}
	/* mtimes last, deepest first, some with nanoseconds */
	{
		static const char *const files[] = { NULL, "docs/empty.txt", "docs/nested/deep/file.bin",
			LONGNAME, "secret.txt", "x.jpg", "link_rel", "loop", "out", "fifo",
			"docs/nested/deep", "docs/nested", "docs", NULL, NULL };
		long ns = 123456789;
		for (int i = 0; i < 13; i++) {
			pj(p, sizeof p, root, i == 0 ? NONASCII : files[i]);
			mtime(p, 1600000000 + i * 1000, ns);
			ns = ns ? 0 : 987654321;
		}
		pj(p, sizeof p, root, NONASCII_DIR);
		mtime(p, 1500000000, 5);
		mtime(root, 1400000000, 424242);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* tests                                                              */

static void t_roundtrip_and_gnu_tar(void)
{
	char root[256], out[256], canary[256], tar1[256], tar2[256], p[1024], gnu[256];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1, s2;
	struct err e;
	char *list, *errs;

	snprintf(root, sizeof root, "%s/media", TD);
	snprintf(out, sizeof out, "%s/outside", TD);
	snprintf(canary, sizeof canary, "%s/outside/canary", TD);
	snprintf(tar1, sizeof tar1, "%s/rt1.tar", TD);
	snprintf(tar2, sizeof tar2, "%s/rt2.tar", TD);
	snprintf(gnu, sizeof gnu, "%s/gnu", TD);
	REQUIRE(mkdir(out, 0755) == 0);
	REQUIRE(puts_file(canary, "canary\n", 0644) == 0);
	REQUIRE(build_tree(root, canary));
	snap_take(&s0, root, NULL, 1);

	opts_init(&o, &t, root);
	err_clear(&e);
	REQUIRE(write_to(&o, tar1, STREAM_NONE, &st, &e) == 0);
	CHECK(st.files == 6);
	CHECK(st.dirs == 5);
	CHECK(st.symlinks == 3);
	CHECK(st.other == 1);
	CHECK(st.warnings == 0);
	CHECK(t.n == 0);
	CHECK(t.progress_calls >= 1);
	/* deterministic */
	REQUIRE(write_to(&o, tar2, STREAM_NONE, NULL, &e) == 0);
	CHECK(sh("cmp -s '%s' '%s'", tar1, tar2) == 0);

	err_clear(&e);
	CHECK(check_file(tar1, STREAM_NONE, &st, &e) == 0);
	CHECK(e.code == ERR_OK);
	CHECK(st.files == 6 && st.dirs == 5 && st.symlinks == 3 && st.other == 1);

	/* GNU tar: lists the names (in our order), no warnings, same tree */
	CHECK(sh("cd '%s' && LC_ALL=C.UTF-8 tar --quoting-style=literal -tf rt1.tar > list 2> errs", TD) == 0);
	pj(p, sizeof p, TD, "list");
	list = slurp(p, NULL);
	pj(p, sizeof p, TD, "errs");
	errs = slurp(p, NULL);
	REQUIRE(list && errs);
	{
		char want[2048];
		snprintf(want, sizeof want,
			 "./\n%s/\n%s\ndocs/\n%s\ndocs/empty.txt\ndocs/nested/\ndocs/nested/deep/\n"
			 "docs/nested/deep/file.bin\nfifo\nlink_rel\nloop\nout\nsecret.txt\nx.jpg\n",
			 NONASCII_DIR, NONASCII, LONGNAME);
		CHECK_STR(list, want);
	}
	CHECK_STR(errs, "");
	free(list);
	free(errs);
	CHECK(sh("cd '%s' && tar -tvf rt1.tar | grep -q '^lrwxrwxrwx .* loop -> \\.$'", TD) == 0);
	CHECK(sh("cd '%s' && tar -tvf rt1.tar | grep -q '^drwxrwsr-x .*/33 .*/$'", TD) == 0 || !is_root());
	REQUIRE(mkdir(gnu, 0700) == 0);
	CHECK(sh("tar -xpf '%s' -C '%s' 2>/dev/null", tar1, gnu) == 0);
	snap_take(&s2, gnu, NULL, 1);
	CHECK(snap_eq(&s0, &s2, "gnu tar -x"));
	snap_free(&s2);

	/* change the live tree, then restore: back to s0 exactly */
	pj(p, sizeof p, root, "secret.txt");
	CHECK(unlink(p) == 0);
	pj(p, sizeof p, root, "new.jpg");
	CHECK(puts_file(p, "added after the backup\n", 0644) == 0);
	pj(p, sizeof p, root, "x.jpg");
	CHECK(puts_file(p, "edited!\n", 0644) == 0);
	pj(p, sizeof p, root, "docs/nested/deep");
	CHECK(sh("rm -rf '%s'", p) == 0);
	pj(p, sizeof p, root, "newdir");
	CHECK(mkdir(p, 0755) == 0);
	CHECK(chmod(root, 0700) == 0);

	opts_init(&o, &t, root);
	err_clear(&e);
	CHECK(restore_file(&o, tar1, STREAM_NONE, &st, &e) == 0);
	if (e.code != ERR_OK)
		fprintf(stderr, "  restore: %s\n", e.msg);
	CHECK(t.n == 0);
	if (t.n)
		fprintf(stderr, "  warning: %s\n", t.w[0]);
	CHECK(st.files == 6 && st.dirs == 5);
	snap_take(&s1, root, NULL, 1);
	CHECK(snap_eq(&s0, &s1, "restore"));
	CHECK(no_vigil_dirs(root));
	{
		char *c = slurp(canary, NULL);
		CHECK(c && strcmp(c, "canary\n") == 0);
		free(c);
	}
	snap_free(&s0);
	snap_free(&s1);
}

static void t_symlinked_root(void)
{
	char real[256], link[256], tarf[256], p[1024];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct stat lst;
	struct err e;

	snprintf(real, sizeof real, "%s/real", TD);
	snprintf(link, sizeof link, "%s/media_link", TD);
	snprintf(tarf, sizeof tarf, "%s/symroot.tar", TD);
	REQUIRE(mkdir(real, 0755) == 0);
	for (int i = 0; i < 3; i++) {
		char n[32];
		snprintf(n, sizeof n, "f%d.txt", i);
		pj(p, sizeof p, real, n);
		REQUIRE(puts_file(p, n, 0644) == 0);
	}
	pj(p, sizeof p, real, "loop");
	REQUIRE(symlink(".", p) == 0);
	REQUIRE(symlink(real, link) == 0);
	mtime(real, 1500000000, 1);
	snap_take(&s0, real, NULL, 1);

	opts_init(&o, &t, link);
	err_clear(&e);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(st.files == 3 && st.symlinks == 1 && st.dirs == 1);
	CHECK(sh("tar -tf '%s' | grep -q '^f2.txt$'", tarf) == 0);
	for (int i = 0; i < 3; i++) {
		char n[32];
		snprintf(n, sizeof n, "f%d.txt", i);
		pj(p, sizeof p, real, n);
		CHECK(unlink(p) == 0);
	}
	REQUIRE(restore_file(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode));
	snap_take(&s1, real, NULL, 1);
	CHECK(snap_eq(&s0, &s1, "symlinked root"));
	CHECK(no_vigil_dirs(real));
	snap_free(&s0);
	snap_free(&s1);
}

static void t_excludes(void)
{
	char root[256], tarf[256], p[1024], *list;
	static const char *const dirs[] = { "cache", "cache/sub", "d", "private", "keep", NULL };
	static const char *const files[] = { "cache/a", "cache/sub/b", "x.tmp", "d/y.tmp", "d/y.txt",
		"private/s.jpg", "private/t.jpg", "notes", "keep/cache", "logs", NULL };
	static const char *const ex[] = { "*.tmp", "cache", "./private/s.jpg", "notes/", "/logs" };
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct err e;

	snprintf(root, sizeof root, "%s/exmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/ex.tar", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	for (int i = 0; dirs[i]; i++) {
		pj(p, sizeof p, root, dirs[i]);
		REQUIRE(mkdir(p, 0755) == 0);
	}
	for (int i = 0; files[i]; i++) {
		pj(p, sizeof p, root, files[i]);
		REQUIRE(puts_file(p, files[i], 0644) == 0);
	}
	/* excluded and unreadable: never opened, so no error */
	pj(p, sizeof p, root, "private/s.jpg");
	REQUIRE(chmod(p, 0) == 0);
	opts_init(&o, &t, root);
	o.excludes = ex;
	o.n_excludes = sizeof ex / sizeof ex[0];
	err_clear(&e);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(sh("tar -tf '%s' > '%s/ex.list'", tarf, TD) == 0);
	pj(p, sizeof p, TD, "ex.list");
	list = slurp(p, NULL);
	REQUIRE(list);
	/* "cache" and "logs" are anchored at the root; "*.tmp" matches at
	 * any depth; "notes/" only matches directories. */
	CHECK_STR(list, "./\nd/\nd/y.txt\nkeep/\nkeep/cache\nnotes\nprivate/\nprivate/t.jpg\n");
	CHECK(st.skipped == 5);
	free(list);
}

static void t_skip_dirs(void)
{
	char root[256], tarf[256], p[1024], bk[300], logs[300], logs_link[256];
	const char *skip[2];
	static const char *const snap_skip[] = { "backups", "a/b/logs", NULL };
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct stat b0, b1;
	struct err e;

	snprintf(root, sizeof root, "%s/skmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/sk.tar", TD);
	snprintf(bk, sizeof bk, "%s/backups", root);
	snprintf(logs, sizeof logs, "%s/a/b/logs", root);
	snprintf(logs_link, sizeof logs_link, "%s/logs_link", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	REQUIRE(mkdir(bk, 0700) == 0);
	pj(p, sizeof p, bk, "b1");
	REQUIRE(puts_file(p, "backup 1", 0600) == 0);
	pj(p, sizeof p, root, "a");
	REQUIRE(mkdir(p, 0755) == 0);
	pj(p, sizeof p, root, "a/b");
	REQUIRE(mkdir(p, 0755) == 0);
	REQUIRE(mkdir(logs, 0755) == 0);
	pj(p, sizeof p, logs, "l1");
	REQUIRE(puts_file(p, "log 1", 0644) == 0);
	pj(p, sizeof p, root, "a/other.txt");
	REQUIRE(puts_file(p, "other", 0644) == 0);
	pj(p, sizeof p, root, "a/b/keep.txt");
	REQUIRE(puts_file(p, "keep", 0644) == 0);
	REQUIRE(symlink(logs, logs_link) == 0); /* skip dir given through a link */
	pj(p, sizeof p, root, "a/b");
	mtime(p, 1500000000, 7);
	pj(p, sizeof p, root, "a");
	mtime(p, 1500000100, 0);
	mtime(root, 1500000200, 0);
	snap_take(&s0, root, snap_skip, 1);
	REQUIRE(stat(bk, &b0) == 0);

	skip[0] = bk;
	skip[1] = logs_link;
	opts_init(&o, &t, root);
	o.skip_dirs = skip;
	o.n_skip_dirs = 2;
	err_clear(&e);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(st.skipped == 2);
	CHECK(sh("tar -tf '%s' | grep -q -e backups -e logs", tarf) == 1);
	CHECK(sh("tar -tf '%s' | grep -q '^a/b/keep.txt$'", tarf) == 0);

	/* new backups and logs appear, the media tree changes */
	pj(p, sizeof p, bk, "b2");
	CHECK(puts_file(p, "backup 2", 0600) == 0);
	pj(p, sizeof p, logs, "l2");
	CHECK(puts_file(p, "log 2", 0644) == 0);
	pj(p, sizeof p, root, "a/other.txt");
	CHECK(unlink(p) == 0);
	pj(p, sizeof p, root, "a/b/new.txt");
	CHECK(puts_file(p, "new", 0644) == 0);
	err_clear(&e);
	CHECK(restore_file(&o, tarf, STREAM_NONE, &st, &e) == 0);
	if (e.code)
		fprintf(stderr, "  %s\n", e.msg);
	snap_take(&s1, root, snap_skip, 1);
	CHECK(snap_eq(&s0, &s1, "skip dirs"));
	CHECK(stat(bk, &b1) == 0 && b1.st_ino == b0.st_ino);
	pj(p, sizeof p, bk, "b1");
	CHECK(exists(p));
	pj(p, sizeof p, bk, "b2");
	CHECK(exists(p));
	pj(p, sizeof p, logs, "l1");
	CHECK(exists(p));
	pj(p, sizeof p, logs, "l2");
	CHECK(exists(p));
	CHECK(no_vigil_dirs(root));
	snap_free(&s0);
	snap_free(&s1);
}

/* ---- hand-made ustar archives ---- */

struct hent {
	const char *name;
	char type; /* '0' file, '5' dir, '2' symlink, '1' hard link */
	const char *link;
	const char *data;
};

static void oct(char *f, size_t w, unsigned long long v)
{
	char b[32];
	snprintf(b, sizeof b, "%0*llo", (int)(w - 1), v);
	memcpy(f, b, w - 1);
	f[w - 1] = '\0';
}

static int hand_tar(const char *path, const struct hent *ents, size_t n, int marker)
{
	FILE *f = fopen(path, "wb");
	char zero[1024] = { 0 };

	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char h[512];
		size_t len = ents[i].data ? strlen(ents[i].data) : 0;
		unsigned sum = 0;

		memset(h, 0, sizeof h);
		memcpy(h, ents[i].name, strlen(ents[i].name));
		oct(h + 100, 8, ents[i].type == '5' ? 0755 : 0644);
		oct(h + 108, 8, 0);
		oct(h + 116, 8, 0);
		oct(h + 124, 12, len);
		oct(h + 136, 12, 1700000000);
		memset(h + 148, ' ', 8);
		h[156] = ents[i].type;
		if (ents[i].link)
			memcpy(h + 157, ents[i].link, strlen(ents[i].link));
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
		for (size_t k = 0; k < sizeof h; k++)
			sum += (unsigned char)h[k];
		oct(h + 148, 7, sum);
		fwrite(h, 1, sizeof h, f);
		if (len) {
			fwrite(ents[i].data, 1, len, f);
			fwrite(zero, 1, (512 - len % 512) % 512, f);
		}
	}
	if (marker)
		fwrite(zero, 1, sizeof zero, f);
	return fclose(f);
}

static void t_unsafe_archives(void)
{
	char root[256], tarf[256], p[1024], evil2[256], outdir[256], etcish[256];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct err e;

	snprintf(root, sizeof root, "%s/umedia", TD);
	snprintf(tarf, sizeof tarf, "%s/evil.tar", TD);
	snprintf(evil2, sizeof evil2, "%s/evil2", TD);
	snprintf(outdir, sizeof outdir, "%s/uoutside", TD);
	snprintf(etcish, sizeof etcish, "%s/uoutside/passwd", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	REQUIRE(mkdir(outdir, 0755) == 0);
	REQUIRE(puts_file(etcish, "root:x:0:0\n", 0644) == 0);
	pj(p, sizeof p, root, "live.txt");
	REQUIRE(puts_file(p, "live data\n", 0644) == 0);
	mtime(root, 1500000000, 0);
	snap_take(&s0, root, NULL, 1);

	{
		struct hent ok[] = { { "./", '5', NULL, NULL }, { "./a.txt", '0', NULL, "hello" },
				     { "lnk", '2', "/tmp", NULL }, { "h", '1', "a.txt", NULL } };
		REQUIRE(hand_tar(tarf, ok, 4, 1) == 0);
		err_clear(&e);
		CHECK(check_file(tarf, STREAM_NONE, &st, &e) == 0); /* the control */
		CHECK(st.files == 2 && st.symlinks == 1 && st.dirs == 1);
	}
	struct {
		struct hent ents[4];
		size_t n;
		const char *needle;
	} cases[] = {
		{ { { "ok.txt", '0', NULL, "fine" }, { "../evil", '0', NULL, "evil" } }, 2, "\"../evil\"" },
		{ { { "ok.txt", '0', NULL, "fine" }, { evil2, '0', NULL, "evil" } }, 2, "absolute" },
		{ { { "lnk", '2', outdir, NULL }, { "lnk/evil3", '0', NULL, "evil" } }, 2,
		  "symbolic link \"lnk\"" },
		{ { { "ok.txt", '0', NULL, "fine" }, { "../evil", '0', NULL, "evil" },
		    { evil2, '0', NULL, "evil" }, { "x", '0', NULL, "x" } }, 4, ".." },
		{ { { "d/./../../evil", '0', NULL, "evil" } }, 1, ".." },
		{ { { "h", '1', "../uoutside/passwd", NULL } }, 1, "hard link" },
		{ { { "h", '1', etcish, NULL } }, 1, "hard link" },
		{ { { "lnk", '2', outdir, NULL }, { "h", '1', "lnk/passwd", NULL } }, 2, "hard link" },
		{ { { "lnk", '2', etcish, NULL }, { "h", '1', "lnk", NULL } }, 2, "hard link" },
		{ { { "sub/lnk", '2', outdir, NULL }, { "./sub//lnk/./evil3", '0', NULL, "evil" } }, 2,
		  "symbolic link \"sub/lnk\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		REQUIRE(hand_tar(tarf, cases[i].ents, cases[i].n, 1) == 0);
		err_clear(&e);
		CHECK(check_file(tarf, STREAM_NONE, &st, &e) == -1);
		CHECK(e.code == ERR_UNSAFE);
		CHECK(err_exit_code(&e) == 2);
		if (!strstr(e.msg, cases[i].needle))
			fprintf(stderr, "  case %zu: message \"%s\" lacks %s\n", i, e.msg, cases[i].needle),
				unit_failed_checks++;
		opts_init(&o, &t, root);
		err_clear(&e);
		CHECK(restore_file(&o, tarf, STREAM_NONE, &st, &e) == -1);
		CHECK(e.code == ERR_UNSAFE);
		snap_take(&s1, root, NULL, 1);
		if (!snap_eq(&s0, &s1, "unsafe restore")) {
			fprintf(stderr, "  case %zu changed the root\n", i);
			unit_failed_checks++;
		}
		snap_free(&s1);
		CHECK(no_vigil_dirs(root));
		pj(p, sizeof p, TD, "evil");
		CHECK(!exists(p));
		CHECK(!exists(evil2));
		pj(p, sizeof p, outdir, "evil3");
		CHECK(!exists(p));
	}
	{
		char *c = slurp(etcish, NULL);
		CHECK(c && strcmp(c, "root:x:0:0\n") == 0);
		free(c);
	}
	snap_free(&s0);
}

static void t_corrupt_archives(void)
{
	char root[256], tarf[256], cut[256], p[1024];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct stat sb;
	struct err e;
	char zeros[4096] = { 0 };

	snprintf(root, sizeof root, "%s/cmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/c.tar", TD);
	snprintf(cut, sizeof cut, "%s/cut.tar", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	pj(p, sizeof p, root, "a.txt");
	REQUIRE(puts_file(p, "some text that is not zero\n", 0644) == 0);
	/* the last entry's data is all zeros: a cut right after it still
	 * ends in 1024 zero bytes, which must not pass for the marker */
	pj(p, sizeof p, root, "z.bin");
	REQUIRE(put(p, zeros, sizeof zeros, 0644) == 0);
	mtime(root, 1500000000, 0);
	snap_take(&s0, root, NULL, 1);
	opts_init(&o, &t, root);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	REQUIRE(stat(tarf, &sb) == 0);
	CHECK(sb.st_size % 512 == 0);
	CHECK(check_file(tarf, STREAM_NONE, &st, &e) == 0);

	struct {
		long long len; /* < 0: relative to the end */
		const char *needle;
	} cuts[] = {
		{ -1024, "end-of-archive marker missing" },
		{ -512, "end-of-archive marker missing" },
		{ -1536, "" },
		{ 700, "" },
		{ 100, "" },
		{ 0, "" },
	};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		long long len = cuts[i].len < 0 ? sb.st_size + cuts[i].len : cuts[i].len;
		CHECK(sh("head -c %lld '%s' > '%s'", len, tarf, cut) == 0);
		err_clear(&e);
		CHECK(check_file(cut, STREAM_NONE, &st, &e) == -1);
		CHECK(e.code == ERR_CORRUPT);
		if (!strstr(e.msg, cuts[i].needle))
			fprintf(stderr, "  cut %lld: \"%s\" lacks \"%s\"\n", len, e.msg, cuts[i].needle),
				unit_failed_checks++;
		err_clear(&e);
		CHECK(restore_file(&o, cut, STREAM_NONE, &st, &e) == -1);
		CHECK(e.code == ERR_CORRUPT);
		snap_take(&s1, root, NULL, 1);
		CHECK(snap_eq(&s0, &s1, "corrupt restore"));
		snap_free(&s1);
		CHECK(no_vigil_dirs(root));
	}
	/* garbage after the marker */
	CHECK(sh("cp '%s' '%s' && printf 'junk' >> '%s'", tarf, cut, cut) == 0);
	err_clear(&e);
	CHECK(check_file(cut, STREAM_NONE, &st, &e) == -1 && e.code == ERR_CORRUPT);
	/* GNU tar's 10 KiB record padding is fine */
	CHECK(sh("cp '%s' '%s' && head -c 9216 /dev/zero >> '%s'", tarf, cut, cut) == 0);
	err_clear(&e);
	CHECK(check_file(cut, STREAM_NONE, &st, &e) == 0);
	/* not a tar at all */
	pj(p, sizeof p, TD, "notes.txt");
	REQUIRE(puts_file(p, "this is not a tar archive, just some text that goes on for a while\n", 0644) == 0);
	err_clear(&e);
	CHECK(check_file(p, STREAM_NONE, &st, &e) == -1);
	CHECK(e.code == ERR_CORRUPT && strstr(e.msg, "not a tar archive"));
	if (!strstr(e.msg, "not a tar archive"))
		fprintf(stderr, "  not a tar: %s\n", e.msg);
	err_clear(&e);
	CHECK(restore_file(&o, p, STREAM_NONE, &st, &e) == -1 && e.code == ERR_CORRUPT);
	snap_take(&s1, root, NULL, 1);
	CHECK(snap_eq(&s0, &s1, "not-a-tar restore"));
	snap_free(&s1);
	snap_free(&s0);
}

/* test_hook: make files vanish, grow, shrink or change at the worst time */
static void hook(void *ctx, const char *rel, int stage)
{
	struct tctx *t = ctx;
	char p[1024];

	pj(p, sizeof p, t->root, rel);
	if (stage == 0 && strcmp(rel, "vanish.txt") == 0) {
		unlink(p);
	} else if (stage == 1 && strcmp(rel, "grow.log") == 0) {
		int fd = open(p, O_WRONLY | O_APPEND);
		if (fd >= 0) {
			if (write(fd, "bbbbbbbbbb", 10) != 10)
				t->n = 99;
			close(fd);
		}
	} else if (stage == 1 && strcmp(rel, "shrink.txt") == 0) {
		if (truncate(p, 100) != 0)
			t->n = 99;
	} else if (stage == 1 && strcmp(rel, "change.txt") == 0) {
		int fd = open(p, O_WRONLY);
		if (fd >= 0) {
			if (pwrite(fd, "X", 1, 0) != 1)
				t->n = 99;
			close(fd);
		}
		mtime(p, 1234567890, 0);
	}
}

static void t_changing_files(void)
{
	char root[256], tarf[256], p[1024], x[256], *c;
	char a[1000];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct sockaddr_un sa;
	struct err e;
	size_t n;
	int sock;

	snprintf(root, sizeof root, "%s/chmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/ch.tar", TD);
	snprintf(x, sizeof x, "%s/chx", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	memset(a, 'a', sizeof a);
	static const char *const names[] = { "change.txt", "grow.log", "shrink.txt", "stable.txt",
					     "vanish.txt", NULL };
	for (int i = 0; names[i]; i++) {
		pj(p, sizeof p, root, names[i]);
		REQUIRE(put(p, a, sizeof a, 0644) == 0);
		mtime(p, 1600000000, 0);
	}
	/* a socket: skipped with a warning, counted as one (F22: the log's
	 * warnings=, the manifest's list and the result agree) */
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(sock >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	REQUIRE(snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", root) < (int)sizeof sa.sun_path);
	CHECK(bind(sock, (struct sockaddr *)&sa, sizeof sa) == 0);

	opts_init(&o, &t, root);
	o.test_hook = hook;
	err_clear(&e);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	close(sock);
	CHECK(st.warnings == 5);
	CHECK(st.skipped == 1);
	CHECK(st.files == 4);
	CHECK(t.n == 5);
	CHECK(has_warn(&t, "vanish.txt: vanished"));
	CHECK(has_warn(&t, "grow.log: changed while read (grew)"));
	CHECK(has_warn(&t, "shrink.txt: changed while read (shrank)"));
	CHECK(has_warn(&t, "change.txt: changed while read"));
	CHECK(has_warn(&t, "sock: socket skipped"));
	for (int i = 0; i < t.n; i++)
		if (!strstr(t.w[i], ": "))
			fprintf(stderr, "  %s\n", t.w[i]);
	/* still a consistent archive: GNU tar and our check agree */
	err_clear(&e);
	CHECK(check_file(tarf, STREAM_NONE, &st, &e) == 0);
	REQUIRE(mkdir(x, 0755) == 0);
	CHECK(sh("tar -xf '%s' -C '%s'", tarf, x) == 0);
	pj(p, sizeof p, x, "grow.log");
	c = slurp(p, &n);
	CHECK(c && n == 1000 && memcmp(c, a, 1000) == 0); /* its header size */
	free(c);
	pj(p, sizeof p, x, "shrink.txt");
	c = slurp(p, &n);
	CHECK(c && n == 1000 && memcmp(c, a, 100) == 0 && c[100] == 0 && c[999] == 0);
	free(c);
	pj(p, sizeof p, x, "vanish.txt");
	CHECK(!exists(p));
	pj(p, sizeof p, x, "sock");
	CHECK(!exists(p));
}

static void unreadable_run(const char *root, int with_exclude, int *rc, struct err *e)
{
	static const char *const ex[] = { "private/s.jpg" };
	struct media_opts o;
	struct tctx t;

	opts_init(&o, &t, root);
	if (with_exclude) {
		o.excludes = ex;
		o.n_excludes = 1;
	}
	err_clear(e);
	*rc = write_to(&o, "/dev/null", STREAM_NONE, NULL, e);
}

static void t_unreadable_file(void)
{
	char root[256], p[1024];
	struct err e;
	int rc;

	snprintf(root, sizeof root, "%s/unrmedia", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	pj(p, sizeof p, root, "private");
	REQUIRE(mkdir(p, 0755) == 0);
	pj(p, sizeof p, root, "private/s.jpg");
	REQUIRE(puts_file(p, "root only", 0) == 0);
	pj(p, sizeof p, root, "public.jpg");
	REQUIRE(puts_file(p, "for all", 0644) == 0);
	if (!is_root()) {
		unreadable_run(root, 0, &rc, &e);
		CHECK(rc == -1 && e.code == ERR_MEDIA);
		CHECK_STR(e.msg, "cannot read private/s.jpg: Permission denied");
		unreadable_run(root, 1, &rc, &e);
		CHECK(rc == 0);
		return;
	}
	/* as root: run the walker in a child as nobody (uid 65534) */
	CHECK(chmod(TD, 0755) == 0);
	for (int pass = 0; pass < 2; pass++) {
		int pfd[2], status = 0;
		pid_t pid;
		char msg[ERR_MSG_MAX + 8] = "";
		ssize_t k;

		REQUIRE(pipe(pfd) == 0);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			unreadable_run(root, pass, &rc, &e);
			if (write(pfd[1], e.msg, strlen(e.msg)) < 0)
				_exit(4);
			_exit(rc == 0 ? 0 : e.code == ERR_MEDIA ? 1 : 2);
		}
		close(pfd[1]);
		k = read(pfd[0], msg, sizeof msg - 1);
		msg[k > 0 ? k : 0] = '\0';
		close(pfd[0]);
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status));
		if (pass == 0) {
			CHECK(WEXITSTATUS(status) == 1);
			CHECK_STR(msg, "cannot read private/s.jpg: Permission denied");
		} else {
			CHECK(WEXITSTATUS(status) == 0);
			if (WEXITSTATUS(status))
				fprintf(stderr, "  with exclude: %s\n", msg);
		}
	}
	CHECK(chmod(TD, 0700) == 0);
}

/* A stream that cannot be written: the stream's error comes back as is
 * and nothing leaks (valgrind). */
static void t_stream_error(void)
{
	struct stream_opts so = { STREAM_NONE, -1, 1, 0, NULL };
	struct stream_writer *w = NULL;
	struct media_opts o;
	struct tctx t;
	char root[256];
	struct err e;
	int fd, r;

	snprintf(root, sizeof root, "%s/media", TD);
	fd = open("/dev/null", O_RDONLY);
	REQUIRE(fd >= 0);
	err_clear(&e);
	REQUIRE(stream_writer_open(&w, fd, &so, &e) == 0);
	opts_init(&o, &t, root);
	r = media_write(&o, w, NULL, &e);
	if (r == 0) {
		r = stream_writer_close(w, NULL, &e);
	} else {
		stream_writer_free(w);
		CHECK(strstr(e.msg, "tar") == NULL); /* not re-worded by media_write.c */
	}
	CHECK(r == -1);
	CHECK(e.code == ERR_IO);
	close(fd);
	/* a root that is not there */
	snprintf(root, sizeof root, "%s/no-such-media", TD);
	opts_init(&o, &t, root);
	err_clear(&e);
	CHECK(write_to(&o, "/dev/null", STREAM_NONE, NULL, &e) == -1);
	CHECK(e.code == ERR_MEDIA && strstr(e.msg, "No such file or directory"));
}

static void t_sparse_file(void)
{
	char root[256], tarf[256], p[1024], *list;
	const off_t size = 64ll << 20;
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct stat sb;
	struct err e;
	uint64_t h0;
	int fd;

	snprintf(root, sizeof root, "%s/spmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/sp.tar", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	pj(p, sizeof p, root, "big.bin");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "END", 3, size - 3) == 3);
	close(fd);
	h0 = fnv_file(p);
	opts_init(&o, &t, root);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(st.bytes == (uint64_t)size);
	CHECK(sh("tar -tvf '%s' | grep big.bin > '%s/sp.list'", tarf, TD) == 0);
	pj(p, sizeof p, TD, "sp.list");
	list = slurp(p, NULL);
	CHECK(list && strstr(list, " 67108864 "));
	free(list);
	pj(p, sizeof p, root, "big.bin");
	CHECK(unlink(p) == 0);
	err_clear(&e);
	REQUIRE(restore_file(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(stat(p, &sb) == 0 && sb.st_size == size);
	CHECK(fnv_file(p) == h0);
	CHECK((off_t)sb.st_blocks * 512 < size / 4); /* landed sparse */
	CHECK(unlink(tarf) == 0);
}

static void t_binary_name(void)
{
	char root[256], tarf[256], p[1024];
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct err e;

	snprintf(root, sizeof root, "%s/binmedia", TD);
	snprintf(tarf, sizeof tarf, "%s/bin.tar", TD);
	REQUIRE(mkdir(root, 0755) == 0);
	pj(p, sizeof p, root, "lat\xf1n1.txt"); /* Latin-1, not UTF-8 */
	REQUIRE(puts_file(p, "latin", 0644) == 0);
	mtime(root, 1500000000, 0);
	snap_take(&s0, root, NULL, 1);
	opts_init(&o, &t, root);
	REQUIRE(write_to(&o, tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(check_file(tarf, STREAM_NONE, &st, &e) == 0);
	CHECK(sh("LC_ALL=C tar --quoting-style=literal -tf '%s' 2>/dev/null | LC_ALL=C grep -q '^lat.n1.txt$'",
		 tarf) == 0);
	pj(p, sizeof p, root, "lat\xf1n1.txt");
	CHECK(unlink(p) == 0);
	REQUIRE(restore_file(&o, tarf, STREAM_NONE, &st, &e) == 0);
	snap_take(&s1, root, NULL, 1);
	CHECK(snap_eq(&s0, &s1, "binary name"));
	snap_free(&s0);
	snap_free(&s1);
}

static void t_gzip_when_available(void)
{
	char root[256], tarf[256];
	struct stream_opts so = { STREAM_GZIP, -1, 1, 0, NULL };
	struct stream_writer *w = NULL;
	struct media_opts o;
	struct tctx t;
	struct media_stats st;
	struct snap s0, s1;
	struct err e;
	int fd;

	snprintf(root, sizeof root, "%s/media", TD); /* from the round trip */
	snprintf(tarf, sizeof tarf, "%s/gz.tar.gz", TD);
	fd = open("/dev/null", O_WRONLY);
	REQUIRE(fd >= 0);
	err_clear(&e);
	if (stream_writer_open(&w, fd, &so, &e) != 0) {
		close(fd);
		printf("skip gzip: stream.c has no gzip yet (%s)\n", e.msg);
		return;
	}
	stream_writer_free(w);
	close(fd);
	snap_take(&s0, root, NULL, 1);
	opts_init(&o, &t, root);
	REQUIRE(write_to(&o, tarf, STREAM_GZIP, &st, &e) == 0);
	CHECK(sh("gzip -t '%s'", tarf) == 0);
	CHECK(sh("tar -tvzf '%s' > /dev/null", tarf) == 0);
	CHECK(sh("LC_ALL=C.UTF-8 tar --quoting-style=literal -tzf '%s' | grep -q -x '%s'", tarf, NONASCII) ==
	      0);
	err_clear(&e);
	CHECK(check_file(tarf, STREAM_GZIP, &st, &e) == 0);
	CHECK(restore_file(&o, tarf, STREAM_GZIP, &st, &e) == 0);
	snap_take(&s1, root, NULL, 1);
	CHECK(snap_eq(&s0, &s1, "gzip restore"));
	/* a cut .tar.gz is corrupt, whoever notices first */
	CHECK(sh("head -c 300 '%s' > '%s.cut'", tarf, tarf) == 0);
	{
		char cut[300];
		snprintf(cut, sizeof cut, "%s.cut", tarf);
		err_clear(&e);
		CHECK(check_file(cut, STREAM_GZIP, &st, &e) == -1 && e.code == ERR_CORRUPT);
	}
	snap_free(&s0);
	snap_free(&s1);
}

static void setup(void)
{
	snprintf(TD, sizeof TD, "/tmp/vigil-test-archive-XXXXXX");
	if (!mkdtemp(TD)) {
		perror("mkdtemp");
		exit(1);
	}
	umask(022);
}

static void t_cleanup(void)
{
	CHECK(sh("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", TD, TD) == 0);
	CHECK(!exists(TD));
}

static void t_setup(void)
{
	setup();
}

UNIT_MAIN(T(t_setup), T(t_roundtrip_and_gnu_tar), T(t_symlinked_root), T(t_excludes),
	  T(t_skip_dirs), T(t_unsafe_archives), T(t_corrupt_archives), T(t_changing_files),
	  T(t_unreadable_file), T(t_stream_error), T(t_sparse_file), T(t_binary_name), T(t_gzip_when_available),
	  T(t_cleanup))
