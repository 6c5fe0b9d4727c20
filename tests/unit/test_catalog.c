/* test_catalog.c - unit tests for src/pipeline/catalog.c: vigil's own file names
 * (README "Files on disk", FIELD-CASES B11 and B13) and the resolution of what an
 * operator types (README "Commands", FIELD-CASES B06).
 *
 * A BACKUP_DIR is built under a mkdtemp() directory in /tmp; the struct
 * config is filled by hand (backup_dir, prefix). TZ is UTC unless a test
 * says otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/catalog.h"
#include "base/config.h"
#include "base/err.h"
#include "base/util.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static char root[256];      /* the temporary directory */
static char bdir[300];      /* root/backups = BACKUP_DIR */

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void put(const char *rel, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "w");
	if (!f) {
		perror(p);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

static void unlink_rel(const char *rel)
{
	char p[600];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (unlink(p) < 0) {
		perror(p);
		abort();
	}
}

static void mk(const char *rel)
{
	char p[600];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (mkdir(p, 0700) < 0) {
		perror(p);
		abort();
	}
}

static void ln(const char *target, const char *rel)
{
	char p[600];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (symlink(target, p) < 0) {
		perror(p);
		abort();
	}
}

/* The BACKUP_DIR of most tests. */
static void build_tree(void)
{
	char t[600];

	snprintf(root, sizeof root, "/tmp/vigil-test-catalog-XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(bdir, sizeof bdir, "%s/backups", root);
	mk("backups");
	mk("backups/db");
	mk("backups/media");
	mk("backups/runs");
	mk("outside");
	put("outside/canary", "canary\n");
	put("outside/my_app_20200101_030000.sql.gz", "outside\n");

	/* vigil's own db files */
	put("backups/db/my_app_20200101_030000.sql.gz", "seq1");
	put("backups/db/my_app_20200101_030000.sql.gz.sha256", "x  my_app_20200101_030000.sql.gz\n");
	put("backups/db/my_app_20200101_030000-2.sql.gz", "seq2!");
	put("backups/db/my_app_20200101_030000-3.sql.gz", "seq3!!");
	put("backups/db/my_app_20200102_030000.sql.zst", "zst");
	put("backups/db/my_app_20191231_030000.dump", "PGDMP");
	put("backups/db/my_app_20191230_030000.sql", "--\n");
	put("backups/db/pre_restore_20200103_030000.sql.gz", "pre");

	/* not vigil's (B11) */
	put("backups/db/README.txt", "readme\n");
	put("backups/db/my_app_manual.sql.gz", "m");
	put("backups/db/my_app_v2_20200101_030000.sql.gz", "v2");
	put("backups/db/my_app_20200101_030000.sql.gz.bak", "bak");
	put("backups/db/.last-success", "");
	put("backups/db/my_app_2020010_030000.sql.gz", "short");
	put("backups/db/my_app_20200101_030000-1.sql.gz", "-1");
	put("backups/db/my_app_20200101_030000-0.sql.gz", "-0");
	put("backups/db/my_app_20200101_030000-100.sql.gz", "-100");
	put("backups/db/my_app_20200101_030000-02.sql.gz", "-02");
	put("backups/db/other_20200101_030000.sql.gz", "other prefix");
	put("backups/db/media_20200101_030000.tar.gz", "media in db/");
	put("backups/db/pre_restore_20200101_030000.tar.gz", "media ext in db/");
	put("backups/db/.vigil-tmp-my_app_20200104_030000.sql.gz-AbCdEf", "tmp");

	/* vigil-looking names that are not regular files inside db/ */
	snprintf(t, sizeof t, "%s/outside/canary", root);
	ln(t, "backups/db/my_app_20200105_030000.sql.gz");      /* points outside */
	mk("backups/db/my_app_20200106_030000.sql.gz");         /* a directory */
	ln("README.txt", "backups/db/my_app_20200107_030000.sql.gz"); /* to a foreign name */

	/* media */
	put("backups/media/media_20200101_030000.tar.gz", "m1");
	put("backups/media/media_20200101_030000.tar.gz.sha256", "x\n");
	put("backups/media/media_20200102_030000-2.tar.zst", "m2");
	put("backups/media/pre_restore_20200102_030000.tar.gz", "mp");
	put("backups/media/media_old.tar.gz", "old");
	put("backups/media/my_app_20200101_030000.sql.gz", "db in media/");
}

static void rm_tree(void)
{
	struct err e;

	util_rm_rf(root, &e);
	root[0] = '\0';
}

static void cfg_for(struct config *c, const char *dir, const char *prefix)
{
	memset(c, 0, sizeof *c);
	c->backup_dir = (char *)(uintptr_t)dir;
	c->prefix = (char *)(uintptr_t)prefix;
}

static bool match(enum cat_kind k, const char *prefix, const char *name)
{
	struct cat_entry e;

	return catalog_match(k, prefix, name, &e);
}

/* ------------------------------------------------------------------------ */
/* catalog_match                                                            */

static void match_own_db_names(void)
{
	struct cat_entry e;

	set_tz("UTC");
	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000.sql.gz", &e));
	CHECK(e.kind == CAT_DB);
	CHECK_STR(e.name, "my_app_20200101_030000.sql.gz");
	CHECK_STR(e.stamp, "20200101_030000");
	CHECK(e.seq == 1);
	CHECK(e.codec == STREAM_GZIP);
	CHECK(!e.custom);
	CHECK(!e.pre_restore);
	CHECK(e.when == 1577847600); /* 2020-01-01T03:00:00Z */

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000-2.sql.gz", &e));
	CHECK_STR(e.stamp, "20200101_030000");
	CHECK(e.seq == 2);
	CHECK(e.codec == STREAM_GZIP);
	CHECK(e.when == 1577847600);

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000-99.sql.gz", &e));
	CHECK(e.seq == 99);

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20251231_235959.sql.zst", &e));
	CHECK(e.codec == STREAM_ZSTD);
	CHECK(!e.custom);
	CHECK_STR(e.stamp, "20251231_235959");
	CHECK(e.when == 1767225599);

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000.sql", &e));
	CHECK(e.codec == STREAM_NONE);
	CHECK(!e.custom);

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000.dump", &e));
	CHECK(e.custom);
	CHECK(e.codec == STREAM_NONE);

	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000-3.dump", &e));
	CHECK(e.custom);
	CHECK(e.seq == 3);
}

static void match_rejects_foreign_names(void)
{
	static const char *const no[] = {
		"my_app_20200101_030000-1.sql.gz",
		"my_app_20200101_030000-0.sql.gz",
		"my_app_20200101_030000-100.sql.gz",
		"my_app_20200101_030000-02.sql.gz",
		"my_app_20200101_030000-.sql.gz",
		"my_app_20200101_030000-2x.sql.gz",
		"my_app_20200101_030000--2.sql.gz",
		"my_app_20200101_030000-+2.sql.gz",
		"my_app_20200101_030000- 2.sql.gz",
		"README.txt",
		"my_app_manual.sql.gz",
		"my_app_v2_20200101_030000.sql.gz",
		"my_app_20200101_030000.sql.gz.bak",
		"my_app_20200101_030000.sql.gz.sha256",
		".last-success",
		"my_app_2020010_030000.sql.gz",
		"my_app_20200101_03000.sql.gz",
		"my_app_20200101_0300000.sql.gz",
		"my_app_202001010_30000.sql.gz",
		"my_app_20200101-030000.sql.gz",
		"my_app_2020O101_030000.sql.gz",
		"my_app_20200101_030000",
		"my_app_20200101_030000.",
		"my_app_20200101_030000.gz",
		"my_app_20200101_030000.sql.bz2",
		"my_app_20200101_030000.dump.gz",
		"my_app_20200101_030000.SQL.GZ",
		"my_app_20200101_030000.sql.gz ",
		"my_app_20200101_030000.tar.gz",
		"my_app_20200101_030000.tar",
		"My_app_20200101_030000.sql.gz",
		"xmy_app_20200101_030000.sql.gz",
		"my_app__20200101_030000.sql.gz",
		"my_app-20200101_030000.sql.gz",
		"my_app20200101_030000.sql.gz",
		".my_app_20200101_030000.sql.gz",
		".vigil-tmp-my_app_20200101_030000.sql.gz-AbCdEf",
		"my_app_20200101_030000.sql.gz/x",
		"media_20200101_030000.tar.gz",
		"pre_restore_20200101_030000.tar.gz",
		"pre_restore_manual.sql.gz",
		"pre_restore_my_app_20200101_030000.sql.gz",
		"pre_restore20200101_030000.sql.gz",
		"",
		"my_app",
		"my_app_",
	};

	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		if (match(CAT_DB, "my_app", no[i])) {
			fprintf(stderr, "  db matched \"%s\"\n", no[i]);
			CHECK(0);
		}
	}
}

static void match_media_and_pre_restore(void)
{
	struct cat_entry e;
	static const char *const media_no[] = {
		"media_old.tar.gz", "media_20200101_030000.sql.gz", "media_20200101_030000.tar.gz.sha256",
		"media_20200101_030000.tgz", "media_20200101_030000.tar.bz2",
		"my_app_20200101_030000.tar.gz", "my_app_20200101_030000.sql.gz",
		"pre_restore_20200101_030000.sql.gz", "Media_20200101_030000.tar.gz",
		"media_20200101_030000-1.tar.gz", "media-20200101_030000.tar.gz",
	};

	set_tz("UTC");
	REQUIRE(catalog_match(CAT_MEDIA, "my_app", "media_20200101_030000.tar.gz", &e));
	CHECK(e.kind == CAT_MEDIA);
	CHECK_STR(e.stamp, "20200101_030000");
	CHECK(e.seq == 1);
	CHECK(e.codec == STREAM_GZIP);
	CHECK(!e.pre_restore);
	CHECK(!e.custom);
	CHECK(e.when == 1577847600);
	REQUIRE(catalog_match(CAT_MEDIA, "my_app", "media_20200101_030000-2.tar.zst", &e));
	CHECK(e.seq == 2);
	CHECK(e.codec == STREAM_ZSTD);
	REQUIRE(catalog_match(CAT_MEDIA, "my_app", "media_20200101_030000.tar", &e));
	CHECK(e.codec == STREAM_NONE);
	for (size_t i = 0; i < sizeof media_no / sizeof media_no[0]; i++) {
		if (match(CAT_MEDIA, "my_app", media_no[i])) {
			fprintf(stderr, "  media matched \"%s\"\n", media_no[i]);
			CHECK(0);
		}
	}

	/* pre_restore_ copies: the db kind with db extensions ... */
	REQUIRE(catalog_match(CAT_DB, "my_app", "pre_restore_20200101_030000.sql.gz", &e));
	CHECK(e.pre_restore);
	CHECK(e.kind == CAT_DB);
	CHECK(e.seq == 1);
	CHECK(e.codec == STREAM_GZIP);
	CHECK_STR(e.stamp, "20200101_030000");
	REQUIRE(catalog_match(CAT_DB, "my_app", "pre_restore_20200101_030000-2.sql.gz", &e));
	CHECK(e.pre_restore);
	CHECK(e.seq == 2);
	REQUIRE(catalog_match(CAT_DB, "my_app", "pre_restore_20200101_030000.dump", &e));
	CHECK(e.pre_restore);
	CHECK(e.custom);
	/* ... and the media kind with media extensions */
	REQUIRE(catalog_match(CAT_MEDIA, "my_app", "pre_restore_20200101_030000.tar.gz", &e));
	CHECK(e.pre_restore);
	CHECK(e.kind == CAT_MEDIA);
	CHECK(e.codec == STREAM_GZIP);
	CHECK(!match(CAT_MEDIA, "my_app", "pre_restore_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "my_app", "pre_restore_20200101_030000.tar.gz"));
}

static void match_prefix_is_literal(void)
{
	struct cat_entry e;
	char longname[400];

	/* a '.' matches only a dot (B11) */
	CHECK(match(CAT_DB, "shop-prod.v2", "shop-prod.v2_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "shop-prod.v2", "shop-prodXv2_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "shop-prod.v2", "shop-prod.v2X20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "shop-prod.v2", "shop-prod_v2_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "shop-prod.v2", "shop-prod.v_20200101_030000.sql.gz"));
	/* other characters that are special in globs or regular expressions */
	CHECK(match(CAT_DB, "a*b?[c]+", "a*b?[c]+_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "a*b?[c]+", "aXXbZc_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "a*b?[c]+", "abc_20200101_030000.sql.gz"));
	/* a prefix that is a prefix of another one */
	CHECK(!match(CAT_DB, "my", "my_app_20200101_030000.sql.gz"));
	CHECK(match(CAT_DB, "my_app_v2", "my_app_v2_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "my_app", "my_app_v2_20200101_030000.sql.gz"));
	/* UTF-8 and spaces are literal too */
	CHECK(match(CAT_DB, "año db", "año db_20200101_030000.sql.gz"));
	CHECK(!match(CAT_DB, "año db", "ano db_20200101_030000.sql.gz"));
	/* an overlong name is no match and no overflow */
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK(!catalog_match(CAT_DB, "a", longname, &e));
	memcpy(longname + 320, "_20200101_030000.sql.gz", 24);
	CHECK(!catalog_match(CAT_DB, "a", longname, &e));
	CHECK_STR(catalog_kind_name(CAT_DB), "db");
	CHECK_STR(catalog_kind_name(CAT_MEDIA), "media");
}

static void match_when_is_local_time_in_tz(void)
{
	struct cat_entry e;

	set_tz("America/Lima"); /* UTC-5, no DST */
	REQUIRE(catalog_match(CAT_DB, "my_app", "my_app_20200101_030000.sql.gz", &e));
	CHECK(e.when == 1577865600); /* 2020-01-01T08:00:00Z */
	set_tz("Europe/Berlin");    /* summer: UTC+2 */
	REQUIRE(catalog_match(CAT_MEDIA, "x", "media_20200701_030000.tar.gz", &e));
	CHECK(e.when == 1593565200); /* 2020-07-01T01:00:00Z */
	set_tz("UTC");
}

/* ------------------------------------------------------------------------ */
/* catalog_scan                                                             */

static void scan_newest_first(void)
{
	static const char *const want_db[] = {
		"pre_restore_20200103_030000.sql.gz",
		"my_app_20200102_030000.sql.zst",
		"my_app_20200101_030000-3.sql.gz",
		"my_app_20200101_030000-2.sql.gz",
		"my_app_20200101_030000.sql.gz",
		"my_app_20191231_030000.dump",
		"my_app_20191230_030000.sql",
	};
	static const char *const want_media[] = {
		"media_20200102_030000-2.tar.zst",
		"pre_restore_20200102_030000.tar.gz",
		"media_20200101_030000.tar.gz",
	};
	static const char *const want_all[] = {
		"pre_restore_20200103_030000.sql.gz",
		"media_20200102_030000-2.tar.zst",
		"my_app_20200102_030000.sql.zst",
		"pre_restore_20200102_030000.tar.gz",
		"my_app_20200101_030000-3.sql.gz",
		"my_app_20200101_030000-2.sql.gz",
		"my_app_20200101_030000.sql.gz",
		"media_20200101_030000.tar.gz",
		"my_app_20191231_030000.dump",
		"my_app_20191230_030000.sql",
	};
	struct config c;
	struct cat_entry *v = NULL;
	size_t n = 0;
	struct err e;
	char p[700];

	set_tz("UTC");
	build_tree();
	cfg_for(&c, bdir, "my_app");
	err_clear(&e);

	REQUIRE(catalog_scan(&c, CAT_DB, &v, &n, &e) == 0);
	CHECK(n == sizeof want_db / sizeof want_db[0]);
	for (size_t i = 0; i < n && i < sizeof want_db / sizeof want_db[0]; i++) {
		CHECK_STR(v[i].name, want_db[i]);
		CHECK(v[i].kind == CAT_DB);
	}
	if (n == 7) {
		/* fields of one entry */
		struct cat_entry *x = &v[4];
		snprintf(p, sizeof p, "%s/db/my_app_20200101_030000.sql.gz", bdir);
		CHECK_STR(x->path, p);
		CHECK(x->size == 4);
		CHECK(x->has_sha256);
		CHECK(x->seq == 1);
		CHECK(x->codec == STREAM_GZIP);
		CHECK(x->when == 1577847600);
		CHECK(x->mtime > 0);
		CHECK(!v[3].has_sha256);
		CHECK(v[3].seq == 2 && v[3].size == 5);
		CHECK(v[2].seq == 3 && v[2].size == 6);
		CHECK(v[0].pre_restore);
		CHECK(!v[1].pre_restore);
		CHECK(v[5].custom);
		CHECK(v[6].codec == STREAM_NONE && !v[6].custom);
	}
	free(v);
	v = NULL;

	REQUIRE(catalog_scan(&c, CAT_MEDIA, &v, &n, &e) == 0);
	CHECK(n == sizeof want_media / sizeof want_media[0]);
	for (size_t i = 0; i < n && i < sizeof want_media / sizeof want_media[0]; i++) {
		CHECK_STR(v[i].name, want_media[i]);
		CHECK(v[i].kind == CAT_MEDIA);
	}
	if (n == 3) {
		CHECK(v[2].has_sha256);
		CHECK(v[1].pre_restore);
	}
	free(v);
	v = NULL;

	REQUIRE(catalog_scan(&c, -1, &v, &n, &e) == 0);
	CHECK(n == sizeof want_all / sizeof want_all[0]);
	for (size_t i = 0; i < n && i < sizeof want_all / sizeof want_all[0]; i++)
		CHECK_STR(v[i].name, want_all[i]);
	free(v);
	v = NULL;

	/* another prefix sees only its own files */
	cfg_for(&c, bdir, "other");
	REQUIRE(catalog_scan(&c, CAT_DB, &v, &n, &e) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(v[0].name, "pre_restore_20200103_030000.sql.gz");
		CHECK_STR(v[1].name, "other_20200101_030000.sql.gz");
	}
	free(v);
	v = NULL;

	/* a BACKUP_DIR without db/ and media/ is empty, not an error */
	snprintf(p, sizeof p, "%s/runs", bdir);
	cfg_for(&c, p, "my_app");
	n = 99;
	REQUIRE(catalog_scan(&c, -1, &v, &n, &e) == 0);
	CHECK(n == 0);
	free(v);
	rm_tree();
}

/* ------------------------------------------------------------------------ */
/* catalog_resolve                                                          */

static void resolve_ok(const struct config *c, enum cat_kind k, const char *arg,
		       const char *want_name)
{
	struct cat_entry ent;
	struct err e;
	char want_path[PATH_MAX + 400], real_bdir[PATH_MAX];

	err_clear(&e);
	if (catalog_resolve(c, k, arg, &ent, &e) != 0) {
		fprintf(stderr, "  resolve \"%s\" refused: %s\n", arg, e.msg);
		CHECK(0);
		return;
	}
	CHECK_STR(ent.name, want_name);
	CHECK(ent.kind == k);
	/* ent.path names the file itself (canonically, or as scanned through
	 * a symlinked BACKUP_DIR) */
	if (realpath(bdir, real_bdir)) {
		char got[PATH_MAX];
		snprintf(want_path, sizeof want_path, "%s/%s/%s", real_bdir, catalog_kind_name(k),
			 want_name);
		CHECK(realpath(ent.path, got) != NULL);
		CHECK_STR(got, want_path);
		CHECK(strcmp(arg, "latest") == 0 || strcmp(ent.path, want_path) == 0);
	}
}

static void resolve_refused(const struct config *c, enum cat_kind k, const char *arg)
{
	struct cat_entry ent;
	struct err e;
	int rc;

	err_clear(&e);
	rc = catalog_resolve(c, k, arg, &ent, &e);
	if (rc != -1 || e.code != ERR_REFUSED) {
		fprintf(stderr, "  resolve \"%s\": rc=%d code=%d msg=\"%s\" name=\"%s\"\n", arg, rc,
			(int)e.code, e.msg, rc == 0 ? ent.name : "");
		CHECK(rc == -1);
		CHECK(e.code == ERR_REFUSED);
	}
}

static void resolve_names_and_latest(void)
{
	struct config c;
	struct cat_entry ent;
	struct err e;
	char p[700];

	set_tz("UTC");
	build_tree();
	cfg_for(&c, bdir, "my_app");

	resolve_ok(&c, CAT_DB, "my_app_20200101_030000-2.sql.gz", "my_app_20200101_030000-2.sql.gz");
	resolve_ok(&c, CAT_DB, "my_app_20200101_030000.sql.gz", "my_app_20200101_030000.sql.gz");
	resolve_ok(&c, CAT_DB, "db/my_app_20200101_030000.sql.gz", "my_app_20200101_030000.sql.gz");
	snprintf(p, sizeof p, "%s/db/my_app_20191231_030000.dump", bdir);
	resolve_ok(&c, CAT_DB, p, "my_app_20191231_030000.dump");
	resolve_ok(&c, CAT_DB, "pre_restore_20200103_030000.sql.gz",
		   "pre_restore_20200103_030000.sql.gz");
	resolve_ok(&c, CAT_MEDIA, "media_20200101_030000.tar.gz", "media_20200101_030000.tar.gz");
	resolve_ok(&c, CAT_MEDIA, "media/pre_restore_20200102_030000.tar.gz",
		   "pre_restore_20200102_030000.tar.gz");

	/* fields filled by resolve */
	err_clear(&e);
	REQUIRE(catalog_resolve(&c, CAT_DB, "my_app_20200101_030000.sql.gz", &ent, &e) == 0);
	CHECK(ent.has_sha256);
	CHECK(ent.size == 4);
	CHECK(ent.seq == 1);
	CHECK(ent.codec == STREAM_GZIP);
	CHECK(ent.when == 1577847600);
	REQUIRE(catalog_resolve(&c, CAT_DB, "pre_restore_20200103_030000.sql.gz", &ent, &e) == 0);
	CHECK(ent.pre_restore);
	CHECK(!ent.has_sha256);

	/* latest: the newest regular backup, never a pre_restore_ copy */
	resolve_ok(&c, CAT_DB, "latest", "my_app_20200102_030000.sql.zst");
	resolve_ok(&c, CAT_MEDIA, "latest", "media_20200102_030000-2.tar.zst");
	REQUIRE(catalog_resolve(&c, CAT_DB, "latest", &ent, &e) == 0);
	CHECK(ent.codec == STREAM_ZSTD);
	CHECK(ent.size == 3);
	CHECK(!ent.pre_restore);
	rm_tree();
}

static void resolve_latest_with_only_pre_restore(void)
{
	struct config c;

	snprintf(root, sizeof root, "/tmp/vigil-test-catalog-XXXXXX");
	REQUIRE(mkdtemp(root) != NULL);
	snprintf(bdir, sizeof bdir, "%s/backups", root);
	mk("backups");
	mk("backups/db");
	put("backups/db/pre_restore_20200103_030000.sql.gz", "pre");
	put("backups/db/README.txt", "x");
	cfg_for(&c, bdir, "my_app");
	resolve_refused(&c, CAT_DB, "latest");
	resolve_refused(&c, CAT_MEDIA, "latest"); /* no media/ at all */
	/* seq ordering decides "latest" within one second (B13) */
	put("backups/db/my_app_20200103_030000.sql.gz", "1");
	put("backups/db/my_app_20200103_030000-2.sql.gz", "2");
	resolve_ok(&c, CAT_DB, "latest", "my_app_20200103_030000-2.sql.gz");
	put("backups/db/my_app_20200103_030000-10.sql.gz", "10");
	resolve_ok(&c, CAT_DB, "latest", "my_app_20200103_030000-10.sql.gz");
	rm_tree();
}

static void resolve_refuses_outside_and_foreign(void)
{
	struct config c;
	char p[700];

	set_tz("UTC");
	build_tree();
	cfg_for(&c, bdir, "my_app");

	resolve_refused(&c, CAT_DB, "../../etc/hostname");
	resolve_refused(&c, CAT_DB, "/etc/hostname");
	resolve_refused(&c, CAT_DB, "/etc/passwd");
	resolve_refused(&c, CAT_DB, "../outside/canary");                  /* exists */
	resolve_refused(&c, CAT_DB, "../outside/my_app_20200101_030000.sql.gz");
	resolve_refused(&c, CAT_DB, "db/../../outside/my_app_20200101_030000.sql.gz");
	snprintf(p, sizeof p, "%s/outside/my_app_20200101_030000.sql.gz", root);
	resolve_refused(&c, CAT_DB, p);                                     /* absolute, outside */
	resolve_refused(&c, CAT_DB, "my_app_20200105_030000.sql.gz");      /* symlink to outside */
	resolve_refused(&c, CAT_DB, "db/my_app_20200105_030000.sql.gz");
	resolve_refused(&c, CAT_DB, "my_app_20200107_030000.sql.gz");      /* symlink to README */
	resolve_refused(&c, CAT_DB, "my_app_20200106_030000.sql.gz");      /* a directory */
	resolve_refused(&c, CAT_DB, "README.txt");
	resolve_refused(&c, CAT_DB, "my_app_manual.sql.gz");
	resolve_refused(&c, CAT_DB, "my_app_v2_20200101_030000.sql.gz");
	resolve_refused(&c, CAT_DB, "my_app_20200101_030000.sql.gz.sha256");
	resolve_refused(&c, CAT_DB, "my_app_20200101_030000.sql.gz.bak");
	resolve_refused(&c, CAT_DB, "other_20200101_030000.sql.gz");
	resolve_refused(&c, CAT_DB, ".vigil-tmp-my_app_20200104_030000.sql.gz-AbCdEf");
	resolve_refused(&c, CAT_DB, "my_app_20990101_030000.sql.gz");      /* missing */
	resolve_refused(&c, CAT_DB, "db/my_app_20990101_030000.sql.gz");
	resolve_refused(&c, CAT_DB, "my_app_20200101_030000.sql.gz/");
	resolve_refused(&c, CAT_DB, "");
	resolve_refused(&c, CAT_DB, ".");
	resolve_refused(&c, CAT_DB, "..");
	resolve_refused(&c, CAT_DB, "db");
	resolve_refused(&c, CAT_DB, "db/");
	resolve_refused(&c, CAT_DB, "runs");
	/* the other kind's directory */
	resolve_refused(&c, CAT_DB, "media/media_20200101_030000.tar.gz");
	resolve_refused(&c, CAT_DB, "db/../media/media_20200101_030000.tar.gz");
	resolve_refused(&c, CAT_DB, "media_20200101_030000.tar.gz");       /* not in db/ */
	resolve_refused(&c, CAT_MEDIA, "db/my_app_20200101_030000.sql.gz");
	resolve_refused(&c, CAT_MEDIA, "my_app_20200101_030000.sql.gz");   /* in media/, not media's */
	resolve_refused(&c, CAT_MEDIA, "media_old.tar.gz");
	resolve_refused(&c, CAT_MEDIA, "../../etc/hostname");
	resolve_refused(&c, CAT_MEDIA, "/etc/hostname");
	rm_tree();
}

static void resolve_through_symlinked_backup_dir(void)
{
	struct config c;
	char link[700], p[800];

	set_tz("UTC");
	build_tree();
	snprintf(link, sizeof link, "%s/bk-link", root);
	REQUIRE(symlink(bdir, link) == 0);
	cfg_for(&c, link, "my_app");
	resolve_ok(&c, CAT_DB, "my_app_20200101_030000.sql.gz", "my_app_20200101_030000.sql.gz");
	resolve_ok(&c, CAT_DB, "db/my_app_20200101_030000-2.sql.gz",
		   "my_app_20200101_030000-2.sql.gz");
	snprintf(p, sizeof p, "%s/db/my_app_20200101_030000-3.sql.gz", link);
	resolve_ok(&c, CAT_DB, p, "my_app_20200101_030000-3.sql.gz");
	resolve_ok(&c, CAT_DB, "latest", "my_app_20200102_030000.sql.zst");
	resolve_refused(&c, CAT_DB, "my_app_20200105_030000.sql.gz");
	resolve_refused(&c, CAT_DB, "../outside/canary");
	rm_tree();
}

/* ------------------------------------------------------------------------ */
/* catalog_order (F5, F8)                                                   */

static struct mf_record rec(const char *path, int64_t start)
{
	struct mf_record r;

	memset(&r, 0, sizeof r);
	snprintf(r.path, sizeof r.path, "%s", path);
	r.start = start;
	return r;
}

/* DST fall-back in Europe/Madrid: 00:45Z is 02:45 CEST, 01:15Z is 02:15 CET.
 * By name the older one sorts first; by the recorded instants it does not. */
static void order_by_recorded_instant_across_dst(void)
{
	struct cat_entry v[3];
	struct mf_record recs[2];
	const time_t t0045 = 1792889100; /* 2026-10-25T00:45:00Z */
	const time_t t0115 = 1792890900; /* 2026-10-25T01:15:00Z */

	set_tz("Europe/Madrid");
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261025_024500.sql.gz", &v[0]));
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261025_021500.sql.gz", &v[1]));
	/* no manifest records this one: its name's stamp is its time */
	REQUIRE(catalog_match(CAT_DB, "app", "pre_restore_20261025_013000.sql.gz", &v[2]));
	recs[0] = rec("db/app_20261025_024500.sql.gz", t0045);
	recs[1] = rec("db/app_20261025_021500.sql.gz", t0115);
	catalog_order(v, 3, recs, 2, t0115 + 3600);
	CHECK_STR(v[0].name, "app_20261025_021500.sql.gz");
	CHECK(v[0].recorded && v[0].utc == t0115 && !v[0].future);
	CHECK_STR(v[1].name, "app_20261025_024500.sql.gz");
	CHECK(v[1].recorded && v[1].utc == t0045);
	CHECK_STR(v[2].name, "pre_restore_20261025_013000.sql.gz");
	CHECK(!v[2].recorded && v[2].utc == v[2].when);
	set_tz("UTC");
}

/* A file made under a clock 30 days ahead sorts first but is flagged. */
static void order_flags_future(void)
{
	struct cat_entry v[2];
	struct mf_record recs[2];
	const time_t now = 1796500000;

	REQUIRE(catalog_match(CAT_DB, "app", "app_20270105_192937.sql.gz", &v[0]));
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261206_192944.sql.gz", &v[1]));
	recs[0] = rec("db/app_20261206_192944.sql.gz", now - 60);
	recs[1] = rec("db/app_20270105_192937.sql.gz", now + 30 * 86400);
	catalog_order(v, 2, recs, 2, now);
	CHECK_STR(v[0].name, "app_20270105_192937.sql.gz");
	CHECK(v[0].future);
	CHECK(!v[1].future);
	/* within the slack it is not "future" */
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261205_195140.sql.gz", &v[0]));
	recs[0] = rec("db/app_20261205_195140.sql.gz", now + CATALOG_FUTURE_SLACK);
	catalog_order(v, 1, recs, 1, now);
	CHECK(v[0].recorded && !v[0].future);
}

/* A recorded start before 2000, or further from the name's stamp than any
 * two zones' offsets, was damaged or edited (breaker: "1970-01-01T00:00:01Z"
 * made the newer backup sort last): the name's stamp is used. */
static void order_ignores_implausible_recorded_time(void)
{
	struct cat_entry v[2];
	struct mf_record recs[2];
	const time_t now = 1796600000;

	REQUIRE(catalog_match(CAT_DB, "app", "app_20261206_211007.sql.gz", &v[0]));
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261206_211006.sql.gz", &v[1]));
	recs[0] = rec("db/app_20261206_211006.sql.gz", v[1].when);
	recs[1] = rec("db/app_20261206_211007.sql.gz", 1);
	catalog_order(v, 2, recs, 2, now);
	CHECK_STR(v[0].name, "app_20261206_211007.sql.gz");
	CHECK(!v[0].recorded);
	recs[1] = rec("db/app_20261206_211007.sql.gz", v[0].when - 28 * 3600);
	catalog_order(v, 2, recs, 2, now);
	CHECK_STR(v[0].name, "app_20261206_211007.sql.gz");
	CHECK(!v[0].recorded);
	/* 26 h apart (a TZ change from UTC-12 to UTC+14) is still believed */
	recs[1] = rec("db/app_20261206_211007.sql.gz", v[0].when - 26 * 3600);
	catalog_order(v, 2, recs, 2, now);
	CHECK_STR(v[0].name, "app_20261206_211006.sql.gz");
	CHECK(v[1].recorded);
}

/* A manifest whose start is missing or unreadable (0 after parsing) does
 * not date its file 1970: the name's stamp is used, as for an unrecorded
 * file, and the newer file stays first. */
static void order_ignores_unreadable_recorded_time(void)
{
	struct cat_entry v[2];
	struct mf_record recs[2];
	const time_t now = 1796500000;

	REQUIRE(catalog_match(CAT_DB, "app", "app_20261206_211007.sql.gz", &v[0]));
	REQUIRE(catalog_match(CAT_DB, "app", "app_20261206_211006.sql.gz", &v[1]));
	recs[0] = rec("db/app_20261206_211006.sql.gz", v[1].when);
	recs[1] = rec("db/app_20261206_211007.sql.gz", 0);
	catalog_order(v, 2, recs, 2, now);
	CHECK_STR(v[0].name, "app_20261206_211007.sql.gz");
	CHECK(!v[0].recorded && v[0].utc == v[0].when);
	CHECK_STR(v[1].name, "app_20261206_211006.sql.gz");
	CHECK(v[1].recorded);
}

/* `latest` passes over a future-dated file while an older one exists. */
static void fresh_tree(struct config *c)
{
	snprintf(root, sizeof root, "/tmp/vigil-test-catalog-XXXXXX");
	REQUIRE(mkdtemp(root) != NULL);
	snprintf(bdir, sizeof bdir, "%s/backups", root);
	mk("backups");
	mk("backups/db");
	mk("backups/runs");
	cfg_for(c, bdir, "app");
}

static void resolve_latest_skips_future(void)
{
	static const char json[] =
		"{\"run_id\":\"a\",\"command\":\"backup\",\"start\":\"2099-01-01T00:00:00Z\","
		"\"end\":\"2099-01-01T00:00:01Z\",\"result\":\"success\",\"artifacts\":[{\"kind\":"
		"\"db\",\"result\":\"success\",\"path\":\"db/app_20990101_000000.sql.gz\"}]}";
	struct config c;
	struct cat_entry out;
	struct err e;

	fresh_tree(&c);
	put("backups/db/app_20990101_000000.sql.gz", "x");
	put("backups/db/app_20200101_000000.sql.gz", "x");
	put("backups/runs/20990101_000000.json", json);
	REQUIRE(catalog_resolve(&c, CAT_DB, "latest", &out, &e) == 0);
	CHECK_STR(out.name, "app_20200101_000000.sql.gz");
	rm_tree();
	/* with nothing else, the future one is taken (with a WARN) */
	fresh_tree(&c);
	put("backups/db/app_20990101_000000.sql.gz", "x");
	put("backups/runs/20990101_000000.json", json);
	REQUIRE(catalog_resolve(&c, CAT_DB, "latest", &out, &e) == 0);
	CHECK_STR(out.name, "app_20990101_000000.sql.gz");
	CHECK(out.future && out.recorded);
	rm_tree();
}

/* `latest` passes over a suspect media backup (an unmounted volume) while
 * a good one exists; with none, a future-dated good one beats a suspect
 * one; with only suspect ones, the newest is taken. A named one carries
 * its reason. */
static void resolve_latest_skips_suspect(void)
{
	static const char good[] =
		"{\"run_id\":\"g\",\"command\":\"backup\",\"start\":\"2020-01-01T00:00:00Z\","
		"\"result\":\"success\",\"artifacts\":[{\"kind\":\"media\",\"result\":"
		"\"success\",\"path\":\"media/media_20200101_000000.tar.gz\"}]}";
	static const char bad[] =
		"{\"run_id\":\"s\",\"command\":\"backup\",\"start\":\"2020-01-02T00:00:00Z\","
		"\"result\":\"warning\",\"artifacts\":[{\"kind\":\"media\",\"result\":"
		"\"warning\",\"path\":\"media/media_20200102_000000.tar.gz\",\"suspect\":"
		"\"media directory holds no files\"}]}";
	static const char fut[] =
		"{\"run_id\":\"f\",\"command\":\"backup\",\"start\":\"2099-01-01T00:00:00Z\","
		"\"result\":\"success\",\"artifacts\":[{\"kind\":\"media\",\"result\":"
		"\"success\",\"path\":\"media/media_20990101_000000.tar.gz\"}]}";
	struct config c;
	struct cat_entry out;
	struct err e;

	fresh_tree(&c);
	mk("backups/media");
	put("backups/media/media_20200101_000000.tar.gz", "x");
	put("backups/media/media_20200102_000000.tar.gz", "x");
	put("backups/runs/20200101_000000.json", good);
	put("backups/runs/20200102_000000.json", bad);
	REQUIRE(catalog_resolve(&c, CAT_MEDIA, "latest", &out, &e) == 0);
	CHECK_STR(out.name, "media_20200101_000000.tar.gz");
	CHECK_STR(out.suspect, "");
	REQUIRE(catalog_resolve(&c, CAT_MEDIA, "media_20200102_000000.tar.gz", &out, &e) == 0);
	CHECK_STR(out.suspect, "media directory holds no files");
	/* a future-dated good one beats the suspect one */
	unlink_rel("backups/media/media_20200101_000000.tar.gz");
	put("backups/media/media_20990101_000000.tar.gz", "x");
	put("backups/runs/20990101_000000.json", fut);
	REQUIRE(catalog_resolve(&c, CAT_MEDIA, "latest", &out, &e) == 0);
	CHECK_STR(out.name, "media_20990101_000000.tar.gz");
	/* only the suspect one: taken (with a WARN) */
	unlink_rel("backups/media/media_20990101_000000.tar.gz");
	REQUIRE(catalog_resolve(&c, CAT_MEDIA, "latest", &out, &e) == 0);
	CHECK_STR(out.name, "media_20200102_000000.tar.gz");
	CHECK_STR(out.suspect, "media directory holds no files");
	rm_tree();
}

UNIT_MAIN(T(order_by_recorded_instant_across_dst), T(order_flags_future),
	  T(order_ignores_unreadable_recorded_time), T(order_ignores_implausible_recorded_time),
	  T(resolve_latest_skips_future), T(resolve_latest_skips_suspect), T(match_own_db_names), T(match_rejects_foreign_names), T(match_media_and_pre_restore),
	  T(match_prefix_is_literal), T(match_when_is_local_time_in_tz), T(scan_newest_first),
	  T(resolve_names_and_latest), T(resolve_latest_with_only_pre_restore),
	  T(resolve_refuses_outside_and_foreign), T(resolve_through_symlinked_backup_dir))
