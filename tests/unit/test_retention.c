/* test_retention.c - unit tests for src/pipeline/retention.c, the retention
 * planner (README "Retention"): local calendar days in TZ, DST days, the
 * floor (BACKUP_KEEP_MIN), grandfather-father-son, safety copies,
 * future-dated files, clock warnings; and catalog_match's literal prefixes
 * (FIELD-CASES B11: only vigil's own names are ever pruned).
 *
 * Entries are made the way prune.c makes them: catalog_match on a name,
 * then catalog_order (with run manifest records when a test gives them),
 * which sorts newest first. TZ is set per test.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "pipeline/catalog.h"
#include "pipeline/retention.h"
#include "unit.h"

#define MAXN 400

static struct cat_entry ents[MAXN];
static struct ret_item items[MAXN];
static struct ret_decision dec[MAXN];
static struct ret_plan plan;
static size_t n_ents;
static int checks;            /* calls of fake_check */
static const char *bad_hash;  /* fake_check says no for this name */

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Local time "YYYYMMDD_HHMMSS" in the current TZ as Unix seconds. */
static time_t at(const char *stamp)
{
	return util_stamp_parse(stamp);
}

static const struct ret_policy P_7_3 = { .days = 7, .keep_min = 3, .daily = -1, .weekly = -1,
					 .monthly = -1, .pre_restore_days = 30 };

static void reset(void)
{
	n_ents = 0;
	checks = 0;
	bad_hash = NULL;
}

/* Add a db file of prefix "app" (or a pre_restore_ copy) by name. */
static void add(const char *name)
{
	if (n_ents >= MAXN || !catalog_match(CAT_DB, "app", name, &ents[n_ents])) {
		fprintf(stderr, "  not a vigil name: %s\n", name);
		abort();
	}
	ents[n_ents].has_sha256 = true;
	n_ents++;
}

/* One file a day at hh:mm:ss from day y-m-d for `days` days. */
static void add_daily(int y, int m, int d, int days, const char *hhmmss)
{
	for (int i = 0; i < days; i++) {
		struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + i, .tm_hour = 12,
				 .tm_isdst = -1 };
		char name[64];
		mktime(&tm); /* normalises the day */
		snprintf(name, sizeof name, "app_%04d%02d%02d_%s.sql.gz", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, hhmmss);
		add(name);
	}
}

static bool fake_check(void *ctx, size_t i)
{
	(void)ctx;
	checks++;
	return !bad_hash || strcmp(items[i].e->name, bad_hash) != 0;
}

/* A check that says no to every file (every .sha256 unreadable). */
static bool fail_check(void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return false;
}

/* Order (no manifests unless recs), mark good, plan. */
static void run_recs(const struct ret_policy *p, time_t now, struct mf_record *recs, size_t nrecs)
{
	catalog_order(ents, n_ents, recs, nrecs, now);
	for (size_t i = 0; i < n_ents; i++) {
		items[i].e = &ents[i];
		items[i].good = !ents[i].pre_restore && !ents[i].future && !ents[i].suspect[0] &&
				ents[i].has_sha256;
	}
	plan.d = dec;
	retention_plan(items, n_ents, p, now, fake_check, NULL, &plan);
}

static void run(const struct ret_policy *p, time_t now)
{
	run_recs(p, now, NULL, 0);
}

static const struct ret_decision *of(const char *name)
{
	for (size_t i = 0; i < n_ents; i++)
		if (strcmp(ents[i].name, name) == 0)
			return &dec[i];
	fprintf(stderr, "  no entry %s\n", name);
	abort();
}

static size_t kept(void)
{
	size_t k = 0;

	for (size_t i = 0; i < n_ents; i++)
		k += !dec[i].del;
	return k;
}

static bool warned(const char *text)
{
	for (size_t i = 0; i < plan.n_warn && i < RET_WARN_MAX; i++)
		if (strstr(plan.warn[i], text))
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */

/* 23:59 and 00:01 are different days, whatever the hours between them. */
static void day_boundary_in_tz(void)
{
	set_tz("Europe/Madrid");
	reset();
	add("app_20250112_235900.sql.gz");
	add("app_20250113_000100.sql.gz");
	add_daily(2025, 1, 14, 7, "030000");
	run(&P_7_3, at("20250120_030100"));
	CHECK(of("app_20250112_235900.sql.gz")->del);
	CHECK_STR(of("app_20250112_235900.sql.gz")->reason, "older than 7 days (8 days old)");
	CHECK(!of("app_20250113_000100.sql.gz")->del);
	CHECK_STR(of("app_20250113_000100.sql.gz")->reason, "within 7 days (7 days old)");
	CHECK_STR(of("app_20250120_030000.sql.gz")->reason, "within 7 days (0 days old)");
	CHECK(plan.n_delete == 1);
	/* Two minutes later in UTC terms it is the same local day: same plan. */
	run(&P_7_3, at("20250120_235959"));
	CHECK(plan.n_delete == 1);
	CHECK(retention_age_days(at("20250112_235900"), at("20250113_000100")) == 1);
	CHECK(retention_age_days(at("20250113_000100"), at("20250113_235900")) == 0);
}

/* Daily 03:00 runs, pruned at 03:02 each day across a DST change: always
 * 8 backups (today plus the 7 days before), the oldest deleted. */
static void dst_day_keeps_count(const char *tz, int y, int m, int d)
{
	set_tz(tz);
	for (int day = -3; day <= 3; day++) {
		struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + day,
				 .tm_hour = 3, .tm_min = 2, .tm_isdst = -1 };
		time_t now = mktime(&tm);
		reset();
		add_daily(y, m, d + day - 20, 21, "030000");
		run(&P_7_3, now);
		if (kept() != 8)
			fprintf(stderr, "  %s, day %+d: kept %zu\n", tz, day, kept());
		CHECK(kept() == 8);
		CHECK(plan.n_delete == 13);
		CHECK(dec[7].age_days == 7 && !dec[7].del);
		CHECK(dec[8].age_days == 8 && dec[8].del);
	}
}

static void dst_new_york_spring(void) { dst_day_keeps_count("America/New_York", 2025, 3, 9); }
static void dst_new_york_fall(void) { dst_day_keeps_count("America/New_York", 2025, 11, 2); }
static void dst_madrid_spring(void) { dst_day_keeps_count("Europe/Madrid", 2025, 3, 30); }
static void dst_madrid_fall(void) { dst_day_keeps_count("Europe/Madrid", 2025, 10, 26); }

/* The 25-hour day: 00:01 and 23:59 of 2025-11-02 in New York are one day. */
static void dst_long_day_boundary(void)
{
	set_tz("America/New_York");
	reset();
	add("app_20251101_235900.sql.gz");
	add("app_20251102_000100.sql.gz");
	add("app_20251102_235900.sql.gz");
	add_daily(2025, 11, 3, 7, "030000");
	run(&P_7_3, at("20251109_000100"));
	CHECK(of("app_20251101_235900.sql.gz")->del);
	CHECK(!of("app_20251102_000100.sql.gz")->del);
	CHECK(of("app_20251102_000100.sql.gz")->age_days == 7);
	CHECK(of("app_20251102_235900.sql.gz")->age_days == 7);
}

/* B10's end: three good backups 01-10..12, then a success on 01-28: only
 * 01-10 goes; the floor keeps 01-11 and 01-12, hashing only 3 files. */
static void floor_after_failures(void)
{
	set_tz("UTC");
	reset();
	add("app_20250110_030000.sql.gz");
	add("app_20250111_030000.sql.gz");
	add("app_20250112_030000.sql.gz");
	add("app_20250128_030000.sql.gz");
	run(&P_7_3, at("20250128_030200"));
	CHECK(of("app_20250110_030000.sql.gz")->del);
	CHECK_STR(of("app_20250110_030000.sql.gz")->reason, "older than 7 days (18 days old)");
	CHECK_STR(of("app_20250111_030000.sql.gz")->reason, "newest 3 good backups (BACKUP_KEEP_MIN)");
	CHECK(!of("app_20250112_030000.sql.gz")->del);
	CHECK(of("app_20250112_030000.sql.gz")->floor);
	CHECK_STR(of("app_20250128_030000.sql.gz")->reason, "within 7 days (0 days old)");
	CHECK(plan.n_delete == 1);
	CHECK(checks == 3);
	CHECK(plan.n_good_kept == 3);
	/* Nothing to delete: nothing is hashed. */
	reset();
	add_daily(2025, 1, 20, 8, "030000");
	run(&P_7_3, at("20250127_030200"));
	CHECK(plan.n_delete == 0);
	CHECK(checks == 0);
}

/* A file whose hash does not match is no good, the floor goes on: with 4
 * candidates and 1 bad, the floor is met by the other 3 and the bad one
 * goes by age. */
static void floor_only_good_count(void)
{
	set_tz("UTC");
	reset();
	add_daily(2025, 1, 1, 4, "030000");
	bad_hash = "app_20250103_030000.sql.gz";
	run(&P_7_3, at("20250301_030000"));
	CHECK(of("app_20250103_030000.sql.gz")->del);
	CHECK(of("app_20250103_030000.sql.gz")->check_failed);
	CHECK(!of("app_20250104_030000.sql.gz")->del);
	CHECK(!of("app_20250102_030000.sql.gz")->del);
	CHECK(!of("app_20250101_030000.sql.gz")->del);
	CHECK(plan.n_good_kept == 3);
	CHECK(!plan.floor_unmet);
	CHECK(checks == 4);
	CHECK(warned("the newest good backup (app_20250104_030000.sql.gz, 2025-01-04) is older "
		     "than 7 days"));
	CHECK(warned("BACKUP_KEEP_MIN=3 good backups are kept whatever their age"));
}

/* The floor not met: only 2 good among many bad or suspect ones (damaged
 * .sha256 files, edited records): no regular backup of the kind is deleted,
 * each line and one WARN say why, the clock warning does not claim a floor
 * it cannot keep; pre_restore_ copies still go by their own age. */
static void floor_not_met_deletes_nothing(void)
{
	set_tz("UTC");
	reset();
	add_daily(2025, 1, 1, 12, "030000");
	add("pre_restore_20250115_030000.sql.gz");
	add("pre_restore_20250220_030000.sql.gz");
	run(&P_7_3, at("20250301_030000"));
	/* Make the newest 9 regular ones bad: suspect, no .sha256, not good. */
	for (size_t i = 0, r = 0; i < n_ents; i++) {
		if (ents[i].pre_restore || r++ >= 9)
			continue;
		if (r % 3 == 0)
			snprintf(ents[i].suspect, sizeof ents[i].suspect, "media directory holds no files");
		else
			ents[i].has_sha256 = false;
		items[i].good = false;
	}
	bad_hash = "app_20250103_030000.sql.gz";
	plan.d = dec;
	checks = 0;
	retention_plan(items, n_ents, &P_7_3, at("20250301_030000"), fake_check, NULL, &plan);
	CHECK(plan.floor_unmet);
	CHECK(plan.n_good_kept == 2);
	CHECK(checks == 3);
	CHECK(of("app_20250103_030000.sql.gz")->check_failed);
	for (int d = 1; d <= 12; d++) {
		char name[64];
		snprintf(name, sizeof name, "app_202501%02d_030000.sql.gz", d);
		CHECK(!of(name)->del);
	}
	CHECK_STR(of("app_20250103_030000.sql.gz")->reason, "older than 7 days, but only 2 of "
		  "BACKUP_KEEP_MIN=3 backups passed the good-backup check: nothing of this kind is "
		  "deleted");
	CHECK_STR(of("app_20250112_030000.sql.gz")->reason, "older than 7 days, but only 2 of "
		  "BACKUP_KEEP_MIN=3 backups passed the good-backup check: nothing of this kind is "
		  "deleted");
	CHECK_STR(of("app_20250101_030000.sql.gz")->reason, "newest 3 good backups (BACKUP_KEEP_MIN)");
	/* Safety copies keep their own rule. */
	CHECK(of("pre_restore_20250115_030000.sql.gz")->del);
	CHECK(!of("pre_restore_20250220_030000.sql.gz")->del);
	CHECK(plan.n_delete == 1);
	CHECK(warned("db: only 2 of BACKUP_KEEP_MIN=3 backups passed the good-backup check (1 failed "
		     "the checksum check, 9 more are suspect or have no .sha256"));
	CHECK(warned("nothing of this kind is deleted, 10 backups older than 7 days are kept; "
		     "pruning resumes once 3 good backups exist (each successful run adds one); hint: "
		     "the warnings above say why each file failed"));
	/* The clock warning names a backup that passed its check, and says no
	 * floor of 3 is kept. */
	CHECK(warned("the newest good backup (app_20250102_030000.sql.gz, 2025-01-02) is older "
		     "than 7 days (today is 2025-03-01): the clock or the schedule looks wrong, or "
		     "backups have been failing; only 2 of BACKUP_KEEP_MIN=3 backups passed the "
		     "good-backup check, so nothing of this kind is deleted"));
	CHECK(!warned("kept whatever their age"));
	CHECK(plan.n_warn == 2);
	/* Every check fails (every .sha256 unreadable): nothing deleted either. */
	reset();
	add_daily(2025, 1, 1, 5, "030000");
	run(&P_7_3, at("20250125_030000"));
	CHECK(plan.n_delete == 2);
	for (size_t i = 0; i < n_ents; i++)
		items[i].good = true;
	plan.d = dec;
	retention_plan(items, n_ents, &P_7_3, at("20250125_030000"), fail_check, NULL, &plan);
	CHECK(plan.floor_unmet);
	CHECK(plan.n_good_kept == 0);
	CHECK(plan.n_delete == 0);
	CHECK(kept() == 5);
	CHECK(warned("db: only 0 of BACKUP_KEEP_MIN=3 backups passed the good-backup check (5 failed "
		     "the checksum check, 0 more"));
}

/* The clock jumped a year forward: everything is expired; the floor holds
 * and the warning says the clock or the schedule looks wrong. */
static void clock_jumped_forward(void)
{
	set_tz("UTC");
	reset();
	add_daily(2025, 1, 1, 8, "030000");
	run(&P_7_3, at("20260110_030000"));
	CHECK(kept() == 3);
	CHECK(!of("app_20250108_030000.sql.gz")->del);
	CHECK(!of("app_20250106_030000.sql.gz")->del);
	CHECK(of("app_20250105_030000.sql.gz")->del);
	CHECK(warned("the newest good backup (app_20250108_030000.sql.gz, 2025-01-08) is older "
		     "than 7 days"));
	CHECK(plan.n_warn == 1);
	CHECK(warned("the clock or the schedule looks wrong"));
	CHECK(warned("today is 2026-01-10"));
	/* Two weeks without backups, then one: the others expired at once. */
	reset();
	add_daily(2025, 1, 1, 8, "030000");
	add("app_20250125_030000.sql.gz");
	run(&P_7_3, at("20250125_030200"));
	CHECK(warned("every backup but the newest (app_20250125_030000.sql.gz, 2025-01-25) is "
		     "older than 7 days (the next newest is from 2025-01-08, today is 2025-01-25)"));
	CHECK(kept() == 3);
	/* A normal day warns nothing. */
	reset();
	add_daily(2025, 1, 1, 20, "030000");
	run(&P_7_3, at("20250120_030200"));
	CHECK(plan.n_warn == 0);
}

/* A future-dated file is never deleted, is warned about and does not count
 * for the floor. */
static void future_dated_kept(void)
{
	set_tz("UTC");
	reset();
	add("app_20260101_030000.sql.gz");
	add_daily(2024, 12, 1, 5, "030000");
	run(&P_7_3, at("20250110_030000"));
	CHECK(ents[0].future);
	CHECK(!of("app_20260101_030000.sql.gz")->del);
	CHECK_STR(of("app_20260101_030000.sql.gz")->reason, "future-dated: never deleted");
	CHECK(warned("db/app_20260101_030000.sql.gz is dated in the future (2026-01-01"));
	CHECK(!of("app_20241205_030000.sql.gz")->del);
	CHECK(!of("app_20241203_030000.sql.gz")->del);
	CHECK(of("app_20241202_030000.sql.gz")->del);
	CHECK(kept() == 4);
}

/* pre_restore_ copies: their own limit, no floor. */
static void pre_restore_ages(void)
{
	set_tz("Europe/Madrid");
	reset();
	add("pre_restore_20250101_120000.sql.gz");
	add("pre_restore_20250102_120000.sql.gz");
	run(&P_7_3, at("20250201_030000"));
	CHECK(of("pre_restore_20250101_120000.sql.gz")->del);
	CHECK_STR(of("pre_restore_20250101_120000.sql.gz")->reason,
		  "safety copy older than 30 days (31 days old)");
	CHECK_STR(of("pre_restore_20250102_120000.sql.gz")->reason,
		  "safety copy within 30 days (30 days old)");
	run(&P_7_3, at("20250301_030000"));
	CHECK(plan.n_delete == 2); /* no floor for safety copies */
	CHECK(checks == 0);
}

/* A run manifest's recorded start decides the age, not the name's stamp
 * (and never the mtime). */
static void recorded_time_decides(void)
{
	struct mf_record rec;

	set_tz("UTC");
	reset();
	add("app_20250120_030000.sql.gz");
	add_daily(2025, 1, 21, 3, "030000");
	memset(&rec, 0, sizeof rec);
	snprintf(rec.path, sizeof rec.path, "db/app_20250120_030000.sql.gz");
	rec.start = (int64_t)at("20250119_030000") - 3600; /* within the stamp's slack */
	for (size_t i = 0; i < n_ents; i++)
		ents[i].mtime = at("20250127_030000");
	run_recs(&P_7_3, at("20250127_030000"), &rec, 1);
	CHECK(of("app_20250120_030000.sql.gz")->age_days == 8);
	CHECK(of("app_20250120_030000.sql.gz")->del);
	CHECK(plan.n_delete == 1);
	/* By its name's stamp alone it would be 7 days old: kept. */
	run(&P_7_3, at("20250127_030000"));
	CHECK(of("app_20250120_030000.sql.gz")->age_days == 7);
	CHECK(plan.n_delete == 0);
	{
		struct ret_policy p = P_7_3;
		p.keep_min = 4;
		run_recs(&p, at("20250127_030000"), &rec, 1);
		CHECK_STR(of("app_20250120_030000.sql.gz")->reason,
			  "newest 4 good backups (BACKUP_KEEP_MIN)");
	}
}

/* GFS daily: the newest of each of the N most recent days that have one. */
static void gfs_daily(void)
{
	struct ret_policy p = P_7_3;

	p.keep_min = 1;
	p.daily = 3;
	set_tz("UTC");
	reset();
	add("app_20250110_150000.sql.gz");
	add("app_20250110_030000.sql.gz");
	add("app_20250109_030000.sql.gz");
	add("app_20250107_030000.sql.gz");
	add("app_20250106_030000.sql.gz");
	run(&p, at("20250125_030000"));
	CHECK_STR(of("app_20250110_150000.sql.gz")->reason, "daily rule: newest of 2025-01-10");
	CHECK(of("app_20250110_030000.sql.gz")->del);
	CHECK_STR(of("app_20250109_030000.sql.gz")->reason, "daily rule: newest of 2025-01-09");
	CHECK_STR(of("app_20250107_030000.sql.gz")->reason, "daily rule: newest of 2025-01-07");
	CHECK(of("app_20250106_030000.sql.gz")->del);
}

/* GFS weekly across a year boundary: 2024-12-30 is in 2025-W01. */
static void gfs_weekly_iso(void)
{
	struct ret_policy p = P_7_3;

	p.keep_min = 1;
	p.weekly = 2;
	set_tz("Europe/Madrid");
	reset();
	add("app_20250106_030000.sql.gz");
	add("app_20250105_030000.sql.gz");
	add("app_20241230_030000.sql.gz");
	add("app_20241229_030000.sql.gz");
	run(&p, at("20250201_030000"));
	CHECK_STR(of("app_20250106_030000.sql.gz")->reason, "weekly rule: newest of 2025-W02");
	CHECK_STR(of("app_20250105_030000.sql.gz")->reason, "weekly rule: newest of 2025-W01");
	CHECK(of("app_20241230_030000.sql.gz")->del);
	CHECK(of("app_20241229_030000.sql.gz")->del);
	p.weekly = 3;
	run(&p, at("20250201_030000"));
	CHECK_STR(of("app_20241229_030000.sql.gz")->reason, "weekly rule: newest of 2024-W52");
}

static void gfs_monthly(void)
{
	struct ret_policy p = P_7_3;

	p.keep_min = 1;
	p.monthly = 2;
	set_tz("UTC");
	reset();
	add("app_20250102_030000.sql.gz");
	add("app_20241231_030000.sql.gz");
	add("app_20241201_030000.sql.gz");
	add("app_20241115_030000.sql.gz");
	run(&p, at("20250301_030000"));
	CHECK_STR(of("app_20250102_030000.sql.gz")->reason, "monthly rule: newest of 2025-01");
	CHECK_STR(of("app_20241231_030000.sql.gz")->reason, "monthly rule: newest of 2024-12");
	CHECK(of("app_20241201_030000.sql.gz")->del);
	CHECK(of("app_20241115_030000.sql.gz")->del);
}

/* catalog_match is literal: dots, dashes, regex metacharacters, non-ASCII. */
static void match_literal_prefixes(void)
{
	static const struct {
		const char *prefix, *name;
		bool ok;
	} cases[] = {
		{ "shop-prod.v2", "shop-prod.v2_20200101_030000.sql.gz", true },
		{ "shop-prod.v2", "shop-prodXv2_20200101_030000.sql.gz", false },
		{ "shop-prod.v2", "shop-prod.v2_20200101_030000.sql.gz.bak", false },
		{ "shop-prod.v2", "shop-prod.v2_v2_20200101_030000.sql.gz", false },
		{ "shop-prod.v2", "shop-prod.v2_manual.sql.gz", false },
		{ "shop-prod.v2", "shop-prod.v2_20200101_030000-2.sql.gz", true },
		{ "shop-prod.v2", "shop-prod.v2_20200101_030000-1.sql.gz", false },
		{ "a+b(c)[d]*?", "a+b(c)[d]*?_20200101_030000.dump", true },
		{ "a+b(c)[d]*?", "aab(c)[d]xx_20200101_030000.dump", false },
		{ "a+b(c)[d]*?", "a+b(c)d_20200101_030000.dump", false },
		{ "café_ñ", "café_ñ_20200101_030000.sql.zst", true },
		{ "café_ñ", "cafe_n_20200101_030000.sql.zst", false },
		{ "café_ñ", "café_ñ_20200101_030000.sql.zst.sha256", false },
		{ "my_app", "my_app_20200101_030000.sql.gz", true },
		{ "my_app", "my_app_v2_20200101_030000.sql.gz", false },
		{ "my_app", "my_app_manual.sql.gz", false },
		{ "my_app", "my_app_20200101_030000.sql.gz.bak", false },
		{ "my_app", "my_app_20200101_0300.sql.gz", false },
		{ "my_app", "README.txt", false },
		{ "my_app", ".last-success", false },
		{ "my", "my_app_20200101_030000.sql.gz", false },
	};
	struct cat_entry e;

	set_tz("UTC");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = catalog_match(CAT_DB, cases[i].prefix, cases[i].name, &e);
		if (got != cases[i].ok)
			fprintf(stderr, "  prefix %s name %s: got %d\n", cases[i].prefix, cases[i].name, got);
		CHECK(got == cases[i].ok);
	}
	CHECK(catalog_match(CAT_MEDIA, "x", "media_20200101_030000.tar.gz", &e));
	CHECK(!catalog_match(CAT_MEDIA, "x", "media_old.tar.gz", &e));
	CHECK(!catalog_match(CAT_MEDIA, "x", "media_20200101_030000.sql.gz", &e));
}

UNIT_MAIN(T(day_boundary_in_tz), T(dst_new_york_spring), T(dst_new_york_fall),
	  T(dst_madrid_spring), T(dst_madrid_fall), T(dst_long_day_boundary),
	  T(floor_after_failures), T(floor_only_good_count),
	  T(floor_not_met_deletes_nothing), T(clock_jumped_forward),
	  T(future_dated_kept), T(pre_restore_ages), T(recorded_time_decides), T(gfs_daily),
	  T(gfs_weekly_iso), T(gfs_monthly), T(match_literal_prefixes))
