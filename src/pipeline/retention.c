/* retention.c - the retention planner; see retention.h and README "Retention". */
#include "pipeline/retention.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/calendar.h"

void retention_policy(const struct config *cfg, struct ret_policy *p)
{
	p->days = cfg->retention_days;
	p->keep_min = cfg->keep_min;
	p->daily = cfg->keep_daily;
	p->weekly = cfg->keep_weekly;
	p->monthly = cfg->keep_monthly;
	p->pre_restore_days = cfg->pre_restore_retention_days;
}

/* Days since 1970-01-01 of t's local calendar date in the process's TZ. */
static int64_t local_day(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return cal_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

long retention_age_days(time_t t, time_t now)
{
	return (long)(local_day(now) - local_day(t));
}

/* "YYYY-MM-DD" of local day `day` (days since 1970-01-01). */
static void day_text(int64_t day, char out[16])
{
	int64_t y;
	int m, d;

	cal_civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04lld-%02d-%02d", (long long)y, m, d);
}

/* ISO 8601 week of local day `day`: its year (the year of that week's
 * Thursday) * 100 + its week number 1-53. */
static int64_t iso_week(int64_t day)
{
	int wd = cal_weekday(day);               /* 0 = Sunday */
	int64_t thursday = day - (wd == 0 ? 6 : wd - 1) + 3, y;
	int m, d;

	cal_civil_from_days(thursday, &y, &m, &d);
	return y * 100 + (thursday - cal_days_from_civil(y, 1, 1)) / 7 + 1;
}

static int64_t month_of(int64_t day)
{
	int64_t y;
	int m, d;

	cal_civil_from_days(day, &y, &m, &d);
	return y * 12 + (m - 1);
}

static void add_warn(struct ret_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_warn(struct ret_plan *plan, const char *fmt, ...)
{
	va_list ap;

	if (plan->n_warn < RET_WARN_MAX) {
		va_start(ap, fmt);
		vsnprintf(plan->warn[plan->n_warn], sizeof plan->warn[0], fmt, ap);
		va_end(ap);
	}
	plan->n_warn++;
}

static const char *plural(long n)
{
	return n == 1 ? "" : "s";
}

/* Age rules and future-dated files: every item's first verdict. */
static void age_rules(const struct ret_item *items, size_t n, const struct ret_policy *p,
		      time_t now, struct ret_plan *plan)
{
	for (size_t i = 0; i < n; i++) {
		const struct cat_entry *e = items[i].e;
		struct ret_decision *d = &plan->d[i];
		long limit = e->pre_restore ? p->pre_restore_days : p->days;
		const char *what = e->pre_restore ? "safety copy " : "";

		d->age_days = retention_age_days(e->utc, now);
		long shown = d->age_days < 0 ? 0 : d->age_days;
		if (e->future) {
			char ts[16];
			day_text(local_day(e->utc), ts);
			snprintf(d->reason, sizeof d->reason, "future-dated: never deleted");
			add_warn(plan, "%s/%s is dated in the future (%s, by %s); it is never deleted "
				 "and does not count as a good backup; hint: check the host's clock",
				 catalog_kind_name(e->kind), e->name, ts,
				 e->recorded ? "its run manifest" : "its name");
		} else if (d->age_days <= limit) {
			snprintf(d->reason, sizeof d->reason, "%swithin %ld day%s (%ld day%s old)",
				 what, limit, plural(limit), shown, plural(shown));
		} else {
			d->del = true;
			snprintf(d->reason, sizeof d->reason, "%solder than %ld day%s (%ld days old)",
				 what, limit, plural(limit), d->age_days);
		}
	}
}

/* One grandfather-father-son rule: the newest good backup of each of the
 * `count` most recent periods (key: local day -> period) that have one. */
static void gfs_rule(const struct ret_item *items, size_t n, long count,
		     int64_t (*key)(int64_t), const char *rule, struct ret_plan *plan)
{
	int64_t last = INT64_MIN;
	long seen = 0;

	if (count <= 0)
		return;
	for (size_t i = 0; i < n && seen <= count; i++) {
		const struct cat_entry *e = items[i].e;
		struct ret_decision *d = &plan->d[i];
		int64_t day, k;

		if (e->pre_restore || e->future || !items[i].good)
			continue;
		day = local_day(e->utc);
		k = key(day);
		if (k == last)
			continue;
		last = k;
		if (++seen > count)
			break;
		if (d->del) {
			char label[16];
			if (key == iso_week)
				snprintf(label, sizeof label, "%04lld-W%02lld", (long long)(k / 100),
					 (long long)(k % 100));
			else if (key == month_of)
				snprintf(label, sizeof label, "%04lld-%02lld", (long long)(k / 12),
					 (long long)(k % 12 + 1));
			else
				day_text(day, label);
			d->del = false;
			snprintf(d->reason, sizeof d->reason, "%s rule: newest of %s", rule, label);
		}
	}
}

static int64_t same_day(int64_t day)
{
	return day;
}

/* The floor: the keep_min newest good regular backups, confirmed by check
 * (lazily, newest first), are kept; a file check says no to is marked
 * check_failed. Returns how many were found. */
static size_t floor_rule(const struct ret_item *items, size_t n, const struct ret_policy *p,
			 ret_check_fn check, void *ctx, struct ret_plan *plan)
{
	size_t found = 0;

	for (size_t i = 0; i < n && (long)found < p->keep_min; i++) {
		const struct cat_entry *e = items[i].e;
		struct ret_decision *d = &plan->d[i];

		if (e->pre_restore || e->future || e->suspect[0] || !items[i].good)
			continue;
		if (check && !check(ctx, i)) {
			d->check_failed = true;
			continue;
		}
		found++;
		d->floor = true;
		if (d->del) {
			d->del = false;
			snprintf(d->reason, sizeof d->reason, "newest %ld good backup%s (BACKUP_KEEP_MIN)",
				 p->keep_min, plural(p->keep_min));
		}
	}
	return found;
}

/* The floor is not met (only plan->n_good_kept < keep_min good backups):
 * no regular backup of the kind is deleted, each line and one WARN say why.
 * pre_restore_ copies keep their own age rule. */
static void floor_not_met(const struct ret_item *items, size_t n, const struct ret_policy *p,
			  struct ret_plan *plan)
{
	size_t held = 0, failed = 0, not_good = 0;
	const char *kind = NULL;

	plan->floor_unmet = true;
	for (size_t i = 0; i < n; i++) {
		const struct cat_entry *e = items[i].e;
		struct ret_decision *d = &plan->d[i];

		if (e->pre_restore || e->future)
			continue;
		kind = catalog_kind_name(e->kind);
		failed += d->check_failed;
		not_good += !items[i].good;
		if (!d->del)
			continue;
		d->del = false;
		held++;
		snprintf(d->reason, sizeof d->reason, "older than %ld day%s, but only %zu of "
			 "BACKUP_KEEP_MIN=%ld backups passed the good-backup check: nothing of this "
			 "kind is deleted", p->days, plural(p->days), plan->n_good_kept, p->keep_min);
	}
	if (held == 0)
		return; /* nothing was held back (a new install with few backups): no alarm */
	add_warn(plan, "%s: only %zu of BACKUP_KEEP_MIN=%ld backups passed the good-backup check "
		 "(%zu failed the checksum check, %zu more are suspect or have no .sha256 or a run "
		 "manifest record that does not match them): nothing of this kind is deleted, %zu "
		 "backup%s older than %ld days %s kept; pruning resumes once %ld good backups exist "
		 "(each successful run adds one); hint: the warnings above say why each file failed",
		 kind ? kind : "?", plan->n_good_kept, p->keep_min, failed, not_good, held,
		 plural((long)held), p->days, held == 1 ? "is" : "are", p->keep_min);
}

/* The clock or the schedule looks wrong: every regular backup but the
 * newest expired at once (2 or more), or the newest good one expired. */
static void clock_warnings(const struct ret_item *items, size_t n, const struct ret_policy *p,
			   time_t now, struct ret_plan *plan)
{
	const struct cat_entry *newest = NULL, *next = NULL, *good = NULL;
	size_t regs = 0, expired = 0;
	char today[16], a[16], b[16], tail[160];

	day_text(local_day(now), today);
	if (plan->floor_unmet)
		snprintf(tail, sizeof tail, "only %zu of BACKUP_KEEP_MIN=%ld backups passed the "
			 "good-backup check, so nothing of this kind is deleted", plan->n_good_kept,
			 p->keep_min);
	else
		snprintf(tail, sizeof tail, "BACKUP_KEEP_MIN=%ld good backups are kept whatever their "
			 "age", p->keep_min);
	for (size_t i = 0; i < n; i++) {
		const struct cat_entry *e = items[i].e;
		if (e->pre_restore || e->future)
			continue;
		if (!newest)
			newest = e;
		else if (!next)
			next = e;
		if (regs++ > 0 && retention_age_days(e->utc, now) > p->days)
			expired++;
		if (!good && items[i].good && !plan->d[i].check_failed)
			good = e;
	}
	/* One warning: an expired newest good backup says more. */
	if (good && retention_age_days(good->utc, now) > p->days) {
		day_text(local_day(good->utc), a);
		add_warn(plan, "%s: the newest good backup (%s, %s) is older than %ld days (today is "
			 "%s): the clock or the schedule looks wrong, or backups have been failing; %s",
			 catalog_kind_name(good->kind), good->name, a, p->days, today, tail);
	} else if (regs >= 2 && expired == regs - 1) {
		day_text(local_day(newest->utc), a);
		day_text(local_day(next->utc), b);
		add_warn(plan, "%s: every backup but the newest (%s, %s) is older than %ld days "
			 "(the next newest is from %s, today is %s): the clock or the schedule looks "
			 "wrong, or backups have been failing; %s",
			 catalog_kind_name(newest->kind), newest->name, a, p->days, b, today, tail);
	}
}

void retention_plan(const struct ret_item *items, size_t n, const struct ret_policy *p,
		    time_t now, ret_check_fn check, void *ctx, struct ret_plan *plan)
{
	bool regular_del = false;

	plan->n_delete = 0;
	plan->n_good_kept = 0;
	plan->n_warn = 0;
	plan->floor_unmet = false;
	memset(plan->d, 0, n * sizeof *plan->d);
	age_rules(items, n, p, now, plan);
	gfs_rule(items, n, p->daily, same_day, "daily", plan);
	gfs_rule(items, n, p->weekly, iso_week, "weekly", plan);
	gfs_rule(items, n, p->monthly, month_of, "monthly", plan);
	for (size_t i = 0; i < n; i++)
		regular_del |= plan->d[i].del && !items[i].e->pre_restore;
	/* Hashing is paid only when the floor can change something. */
	if (regular_del) {
		plan->n_good_kept = floor_rule(items, n, p, check, ctx, plan);
		if ((long)plan->n_good_kept < p->keep_min)
			floor_not_met(items, n, p, plan);
	}
	clock_warnings(items, n, p, now, plan);
	for (size_t i = 0; i < n; i++)
		plan->n_delete += plan->d[i].del;
}
