/* config.c - the configuration table and its loader (docs/design.md). */
#include "base/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

extern char **environ;

enum cfg_type { T_STR, T_LONG, T_BOOL, T_ENUM, T_OCTAL, T_DURATION, T_LEVEL, T_TZ };

struct cfg_row {
	const char *name;
	enum cfg_type type;
	size_t off;
	const char *def;       /* NULL = unset */
	long min, max;         /* T_LONG bounds */
	const char *const *choices; /* T_ENUM, index = value */
	bool secret;           /* (S): NAME_FILE accepted, shown as *** */
	const char *help;
};

static const char *const formats[] = { "plain", "custom", NULL };
static const char *const comps[] = { "gzip", "zstd", "none", NULL };
static const char *const notify[] = { "failure", "always", "never", NULL };
static const char *const langs[] = { "en", "es", NULL };

#define F(field) offsetof(struct config, field)

static const struct cfg_row rows[] = {
	{ "POSTGRES_HOST", T_STR, F(pg_host), "db", 0, 0, NULL, false, "database server host" },
	{ "POSTGRES_PORT", T_LONG, F(pg_port), "5432", 1, 65535, NULL, false, "database server port" },
	{ "POSTGRES_DB", T_STR, F(pg_db), NULL, 0, 0, NULL, false, "database to back up (required unless DATABASE_URL names it)" },
	{ "POSTGRES_USER", T_STR, F(pg_user), "postgres", 0, 0, NULL, false, "database role" },
	{ "POSTGRES_PASSWORD", T_STR, F(pg_password), NULL, 0, 0, NULL, true, "role password; given to children in their environment, never in argv" },
	{ "DATABASE_URL", T_STR, F(database_url), NULL, 0, 0, NULL, true, "postgres://user:password@host:port/db; its parts override the POSTGRES_* values; percent-decoded" },
	{ "PG_DUMP_EXTRA_OPTS", T_STR, F(pg_dump_extra_opts), NULL, 0, 0, NULL, false, "extra pg_dump options, shell-style quoting, e.g. --exclude-table-data=django_session" },
	{ "BACKUP_PREFIX", T_STR, F(prefix), NULL, 0, 0, NULL, false, "file name prefix of database backups (default POSTGRES_DB)" },
	{ "BACKUP_FORMAT", T_ENUM, F(format), "plain", 0, 0, formats, false, "plain (SQL + compression) or custom (pg_dump -Fc)" },
	{ "BACKUP_COMPRESSION", T_ENUM, F(compression), "gzip", 0, 0, comps, false, "gzip, zstd or none" },
	{ "BACKUP_COMPRESSION_LEVEL", T_LEVEL, F(compression_level), NULL, 0, 22, NULL, false, "on the compressor's own scale (gzip 0-12 as libdeflate counts, zstd 1-22); default per compressor" },
	{ "BACKUP_THREADS", T_LONG, F(threads), NULL, 1, 256, NULL, false, "compression threads (default: online CPUs)" },
	{ "BACKUP_DIR", T_STR, F(backup_dir), "/backups", 0, 0, NULL, false, "where backups, checksums and run manifests go" },
	{ "LOG_DIR", T_STR, F(log_dir), "/logs", 0, 0, NULL, false, "backup.log and restore.log" },
	{ "MEDIA_DIR", T_STR, F(media_dir), "/media", 0, 0, NULL, false, "uploaded files; empty disables media backups; a symlink here is followed" },
	{ "MEDIA_EXCLUDE", T_STR, F(media_exclude), NULL, 0, 0, NULL, false, "comma-separated glob patterns relative to MEDIA_DIR" },
	{ "MEDIA_ALLOW_EMPTY", T_BOOL, F(media_allow_empty), "false", 0, 0, NULL, false, "true: a media backup without any regular file, or with fewer than half the files of the last good one (when that had 10 or more), is a success, and a media restore of an archive without any regular file empties MEDIA_DIR (with a WARN); false: such a backup is kept but the run is a warning (exit 3), and such a restore is refused (exit 2)" },
	{ "BACKUP_FILE_MODE", T_OCTAL, F(file_mode), "0600", 0, 0777, NULL, false, "mode of every file vigil writes in BACKUP_DIR and LOG_DIR (backups, .sha256, run manifests, pre_restore_ copies, logs); directories it creates get 0700 plus r-x for the group and for others when this mode lets them read (0640: 0750), and keep a setgid bit they inherit; the hidden .vigil.lock stays 0600" },
	{ "BACKUP_SCHEDULE", T_STR, F(schedule), "0 3 * * *", 0, 0, NULL, false, "5-field cron expression, or @daily, @hourly, @weekly" },
	{ "TZ", T_TZ, F(tz), "UTC", 0, 0, NULL, false, "IANA time zone of the schedule and of file names; unknown is an error" },
	{ "BACKUP_ON_START", T_BOOL, F(backup_on_start), "false", 0, 0, NULL, false, "run once when the daemon starts" },
	{ "BACKUP_RETENTION_DAYS", T_LONG, F(retention_days), "7", 0, 36500, NULL, false, "regular backups older than this are pruned..." },
	{ "BACKUP_KEEP_MIN", T_LONG, F(keep_min), "3", 1, 100000, NULL, false, "...but never below this many good backups of a kind" },
	{ "BACKUP_KEEP_DAILY", T_LONG, F(keep_daily), NULL, 0, 100000, NULL, false, "grandfather-father-son: newest backup of each of the last N days" },
	{ "BACKUP_KEEP_WEEKLY", T_LONG, F(keep_weekly), NULL, 0, 100000, NULL, false, "... of each of the last N ISO weeks" },
	{ "BACKUP_KEEP_MONTHLY", T_LONG, F(keep_monthly), NULL, 0, 100000, NULL, false, "... of each of the last N months" },
	{ "PRE_RESTORE_RETENTION_DAYS", T_LONG, F(pre_restore_retention_days), "30", 0, 36500, NULL, false, "age limit of pre_restore_* safety copies" },
	{ "HEALTHCHECK_MAX_AGE", T_DURATION, F(healthcheck_max_age), NULL, 0, 0, NULL, false, "/healthz fails when the last success is older (default schedule period + 2h); seconds or 26h, 90m" },
	{ "BACKUP_RUN_TIMEOUT", T_DURATION, F(run_timeout), "6h", 0, 0, NULL, false, "a run still going after this is stopped and recorded as a failure; /healthz fails while a run is older; seconds or 6h, 90m" },
	{ "BACKUP_LOCK_WAIT_TIMEOUT", T_DURATION, F(lock_wait_timeout), "5m", 0, 0, NULL, false, "pg_dump --lock-wait-timeout: how long the dump waits for a table lock before it fails (a --lock-wait-timeout in PG_DUMP_EXTRA_OPTS wins)" },
	{ "HTTP_LISTEN", T_STR, F(http_listen), "0.0.0.0:8080", 0, 0, NULL, false, "address:port of /healthz and /metrics ([::] is IPv4 and IPv6), or off (then the image's health check fails: set healthcheck: disable: true in compose)" },
	{ "EMAIL_HOST", T_STR, F(email_host), "localhost", 0, 0, NULL, false, "SMTP server (Django's name)" },
	{ "EMAIL_PORT", T_LONG, F(email_port), "25", 1, 65535, NULL, false, "SMTP port" },
	{ "EMAIL_HOST_USER", T_STR, F(email_user), NULL, 0, 0, NULL, false, "SMTP user" },
	{ "EMAIL_HOST_PASSWORD", T_STR, F(email_password), NULL, 0, 0, NULL, true, "SMTP password" },
	{ "EMAIL_USE_TLS", T_BOOL, F(email_use_tls), "false", 0, 0, NULL, false, "STARTTLS, required: a server that does not offer it gets no password and no mail (usually port 587)" },
	{ "EMAIL_USE_SSL", T_BOOL, F(email_use_ssl), "false", 0, 0, NULL, false, "implicit TLS from the first byte (usually port 465); not together with EMAIL_USE_TLS" },
	{ "EMAIL_ALLOW_PLAIN_AUTH", T_BOOL, F(email_allow_plain_auth), "false", 0, 0, NULL, false, "true: EMAIL_HOST_USER may log in without TLS (a relay on a trusted network); false: with BACKUP_NOTIFY_EMAIL set, a user without EMAIL_USE_TLS or EMAIL_USE_SSL is exit 2 at start" },
	{ "EMAIL_TIMEOUT", T_LONG, F(email_timeout), "30", 1, 3600, NULL, false, "seconds for one alert mail, all attempts included" },
	{ "DEFAULT_FROM_EMAIL", T_STR, F(email_from), "webmaster@localhost", 0, 0, NULL, false, "sender address" },
	{ "BACKUP_NOTIFY_EMAIL", T_STR, F(notify_email), NULL, 0, 0, NULL, false, "comma-separated recipients" },
	{ "BACKUP_NOTIFY_ON", T_ENUM, F(notify_on), "failure", 0, 0, notify, false, "failure (a failed run, or a suspect media backup: the runs /healthz calls unhealthy), always or never; see README \"Alerts\"" },
	{ "BACKUP_NOTIFY_LANG", T_ENUM, F(notify_lang), "en", 0, 0, langs, false, "language of the alert mail: en (English) or es (Spanish)" },
	{ "BACKUP_WEBHOOK_URL", T_STR, F(webhook_url), NULL, 0, 0, NULL, false, "POST of the run manifest after every run" },
	{ "BACKUP_PING_URL", T_STR, F(ping_url), NULL, 0, 0, NULL, false, "healthchecks.io style ping URL" },
	{ "BACKUP_NOTIFY_TIMEOUT", T_DURATION, F(notify_timeout), "15s", 0, 0, NULL, false, "bound of one webhook or ping call, retries included (connect at most 5 s of it); mail uses EMAIL_TIMEOUT; seconds or 15s, 1m" },
	{ "S3_ENDPOINT", T_STR, F(s3_endpoint), NULL, 0, 0, NULL, false, "S3-compatible endpoint; unset = no offsite copy" },
	{ "S3_BUCKET", T_STR, F(s3_bucket), NULL, 0, 0, NULL, false, "bucket" },
	{ "S3_PREFIX", T_STR, F(s3_prefix), NULL, 0, 0, NULL, false, "key prefix" },
	{ "S3_REGION", T_STR, F(s3_region), "us-east-1", 0, 0, NULL, false, "SigV4 region" },
	{ "S3_ACCESS_KEY_ID", T_STR, F(s3_access_key_id), NULL, 0, 0, NULL, false, "access key" },
	{ "S3_SECRET_ACCESS_KEY", T_STR, F(s3_secret_access_key), NULL, 0, 0, NULL, true, "secret key" },
	{ "S3_FORCE_PATH_STYLE", T_BOOL, F(s3_force_path_style), "false", 0, 0, NULL, false, "path-style bucket addressing" },
	{ "S3_RETENTION_DAYS", T_LONG, F(s3_retention_days), NULL, 0, 36500, NULL, false, "offsite age limit" },
	{ "BACKUP_VERIFY_SCHEDULE", T_STR, F(verify_schedule), NULL, 0, 0, NULL, false, "cron expression for restore drills (verify --deep latest)" },
	/* Read where they are used (infra/ca.c, infra/tz.c, and by the C
	 * library); rows here so they are documented and listed like the rest. */
	{ "SSL_CERT_FILE", T_STR, F(ssl_cert_file), NULL, 0, 0, NULL, false, "PEM CA bundle that verifies TLS alerts (mail with EMAIL_USE_TLS or EMAIL_USE_SSL, https webhook and ping); unset: the first of /etc/ssl/certs/ca-certificates.crt and the other distributions' bundles; unreadable is a start-up check failure" },
	{ "TZDIR", T_STR, F(tzdir), NULL, 0, 0, NULL, false, "directory of the zone files TZ names (unset: /usr/share/zoneinfo); UTC needs none" },
};

#define N_ROWS (sizeof rows / sizeof rows[0])

static char **str_field(struct config *c, const struct cfg_row *r)
{
	return (char **)(void *)((char *)c + r->off);
}

/* True for the rows whose field is a char * (str_field may be used). */
static bool is_str_row(const struct cfg_row *r)
{
	return r->type == T_STR || r->type == T_TZ;
}

static long *long_field(struct config *c, const struct cfg_row *r)
{
	return (long *)(void *)((char *)c + r->off);
}

static bool *bool_field(struct config *c, const struct cfg_row *r)
{
	return (bool *)(void *)((char *)c + r->off);
}

static int *enum_field(struct config *c, const struct cfg_row *r)
{
	return (int *)(void *)((char *)c + r->off);
}

/* A zone is known when its TZif file exists under TZDIR or
 * /usr/share/zoneinfo; glibc would silently use UTC otherwise (B17).
 * Returns 0, or -1 with e set (ERR_CONFIG): the file looked for, TZDIR,
 * and the fix (tzdata, the host's zoneinfo, or TZ=UTC, built in). */
static int tz_check(const char *tz, struct err *e)
{
	const char *env = getenv("TZDIR"), *dir = env && *env ? env : "/usr/share/zoneinfo";
	char path[UTIL_PATH_MAX], magic[4], where[UTIL_PATH_MAX + 64];
	FILE *f;
	bool ok = false, no_data;

	if (tz[0] == ':')
		tz++;
	if (!*tz || strstr(tz, "..") || tz[0] == '/')
		return err_set(e, ERR_CONFIG, "TZ=\"%s\" is not an IANA time zone name; hint: use "
			       "a name like Europe/Madrid or America/Lima, or UTC", tz);
	snprintf(path, sizeof path, "%s/%s", dir, tz);
	f = fopen(path, "rb");
	if (f) {
		ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
		fclose(f);
	}
	if (ok)
		return 0;
	/* tzdata installs Etc/UTC: without it, the data is missing, not the zone */
	snprintf(where, sizeof where, "%s/Etc/UTC", dir);
	no_data = access(where, F_OK) != 0;
	snprintf(where, sizeof where, "%s (%s)", path,
		 env && *env ? "from TZDIR" : "TZDIR is unset");
	if (no_data)
		return err_set(e, ERR_CONFIG, "TZ=\"%s\": no time zone data in %s (not even "
			       "Etc/UTC), so no zone file %s; hint: install tzdata in the image "
			       "(apt-get install tzdata), or mount the host's /usr/share/zoneinfo "
			       "read-only, or set TZ=UTC, which needs no zone files", tz, dir, where);
	return err_set(e, ERR_CONFIG, "TZ=\"%s\" is not a known IANA time zone: %s %s; hint: use "
		       "a name like Europe/Madrid or America/Lima (the names are the files under %s), "
		       "or TZ=UTC", tz, f ? "not a zone file:" : "no zone file", where, dir);
}

/* Raw value of a variable: NAME, or for secrets NAME_FILE's content with one
 * trailing newline removed. *out is malloc'd or NULL when unset. */
static int raw_value(const struct cfg_row *r, char **out, struct err *e)
{
	char fname[128], *buf = NULL;
	const char *v = getenv(r->name), *fv = NULL;
	size_t len;

	*out = NULL;
	if (r->secret) {
		snprintf(fname, sizeof fname, "%s_FILE", r->name);
		fv = getenv(fname);
		if (fv && *fv && v && *v)
			return err_set(e, ERR_CONFIG, "%s and %s are both set; use one", r->name, fname);
		if (fv && *fv) {
			if (util_read_file(fv, 65536, &buf, &len, e) < 0) {
				err_prefix(e, "%s", fname);
				e->code = ERR_CONFIG;
				return -1;
			}
			if (len > 0 && buf[len - 1] == '\n')
				buf[--len] = '\0';
			if (len > 0 && buf[len - 1] == '\r')
				buf[--len] = '\0';
			if (strlen(buf) != len) {
				free(buf);
				return err_set(e, ERR_CONFIG, "%s: file holds a NUL byte", fname);
			}
			*out = buf;
			return 0;
		}
	}
	if (v) {
		*out = strdup(v);
		if (!*out)
			return err_set(e, ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static int set_row(struct config *c, const struct cfg_row *r, const char *v, bool from_default,
		   struct err *e)
{
	long l;
	bool b;

	switch (r->type) {
	case T_STR:
	case T_TZ:
		if (r->type == T_TZ && v && strcmp(v, "UTC") != 0 && strcmp(v, "Etc/UTC") != 0 &&
		    strcmp(v, "GMT") != 0 && strcmp(v, "Etc/GMT") != 0 && tz_check(v, e) < 0)
			return -1;
		free(*str_field(c, r));
		*str_field(c, r) = v ? strdup(v) : NULL;
		if (v && !*str_field(c, r))
			return err_set(e, ERR_INTERNAL, "out of memory");
		return 0;
	case T_LONG:
	case T_LEVEL:
		if (!v) {
			*long_field(c, r) = -1;
			return 0;
		}
		if (util_parse_long(v, r->min, r->max, &l) < 0 && util_starts_with(v, "tcp://"))
			/* Kubernetes (and legacy Docker links) put SERVICE_PORT=
			 * tcp://ip:port into every container for a service or
			 * link named SERVICE: "postgres" gives POSTGRES_PORT. */
			return err_set(e, ERR_CONFIG, "%s=\"%s\" is not a port number; it looks like "
				       "the variable Kubernetes or a Docker link sets for a service named "
				       "after its prefix; hint: set %s=5432 (or the real port) explicitly "
				       "in the container's environment", r->name, v, r->name);
		if (util_parse_long(v, r->min, r->max, &l) < 0)
			return err_set(e, ERR_CONFIG, "%s=\"%s\" is not an integer in %ld..%ld", r->name,
				       v, r->min, r->max);
		*long_field(c, r) = l;
		return 0;
	case T_OCTAL: {
		char *end;
		errno = 0;
		l = strtol(v, &end, 8);
		if (!*v || *end || errno || l < r->min || l > r->max)
			return err_set(e, ERR_CONFIG, "%s=\"%s\" is not an octal file mode like 0600",
				       r->name, v);
		*long_field(c, r) = l;
		return 0;
	}
	case T_DURATION:
		if (!v) {
			*long_field(c, r) = -1;
			return 0;
		}
		if (util_parse_duration(v, &l) < 0 || l <= 0)
			return err_set(e, ERR_CONFIG,
				       "%s=\"%s\" is not a duration (seconds, or a number with s, m, h or d)",
				       r->name, v);
		*long_field(c, r) = l;
		return 0;
	case T_BOOL:
		if (util_parse_bool(v, &b) < 0)
			return err_set(e, ERR_CONFIG, "%s=\"%s\" is not a boolean (true or false; "
				       "also 1/0, yes/no, on/off, in any case)",
				       r->name, v);
		*bool_field(c, r) = b;
		return 0;
	case T_ENUM:
		for (int i = 0; r->choices[i]; i++) {
			if (strcmp(r->choices[i], v) == 0) {
				*enum_field(c, r) = i;
				return 0;
			}
		}
		{
			char list[256] = "";
			for (int i = 0; r->choices[i]; i++) {
				if (i)
					strncat(list, ", ", sizeof list - strlen(list) - 1);
				strncat(list, r->choices[i], sizeof list - strlen(list) - 1);
			}
			return err_set(e, ERR_CONFIG, "%s=\"%s\" is not one of: %s", r->name, v, list);
		}
	}
	(void)from_default;
	return 0;
}

static bool known_name(const char *name, size_t len)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		size_t n = strlen(rows[i].name);
		if (n == len && memcmp(rows[i].name, name, len) == 0)
			return true;
		if (rows[i].secret && len == n + 5 && memcmp(rows[i].name, name, n) == 0 &&
		    memcmp(name + n, "_FILE", 5) == 0)
			return true;
	}
	/* Variables of vigil's own that are not configuration. */
	return (len == 11 && memcmp(name, "VIGIL_DEBUG", 11) == 0);
}

/* Optimal string alignment distance of a and b (Levenshtein plus adjacent
 * transpositions), or max + 1 once it is sure to exceed max. */
static size_t name_distance(const char *a, size_t al, const char *b, size_t bl, size_t max)
{
	size_t d[3][64], *prev2 = d[0], *prev = d[1], *cur = d[2];

	if (al >= 64 || bl >= 64 || (al > bl ? al - bl : bl - al) > max)
		return max + 1;
	for (size_t j = 0; j <= bl; j++)
		prev[j] = j;
	for (size_t i = 1; i <= al; i++) {
		size_t row_min;
		cur[0] = row_min = i;
		for (size_t j = 1; j <= bl; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (row_min > max)
			return max + 1;
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[bl];
}

/* Names people set for a setting vigil reads under another name (Django's
 * TIME_ZONE, the old habit TIMEZONE...): warned about only while the right
 * name is unset, so a shared .env.prod that has both stays quiet. */
static const struct {
	const char *wrong, *right;
} aliases[] = {
	{ "TIMEZONE", "TZ" },          { "TIME_ZONE", "TZ" },
	{ "POSTGRES_DATABASE", "POSTGRES_DB" }, { "POSTGRES_NAME", "POSTGRES_DB" },
	{ "POSTGRES_PASS", "POSTGRES_PASSWORD" }, { "POSTGRES_PORT_NUMBER", "POSTGRES_PORT" },
	{ "MEDIA_ROOT", "MEDIA_DIR" },  { "BACKUP_RETENTION", "BACKUP_RETENTION_DAYS" },
};

const char *config_suggest(const char *name, size_t len)
{
	const char *best = NULL;
	size_t best_d = 3;

	if (known_name(name, len))
		return NULL;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strlen(aliases[i].wrong) == len && memcmp(aliases[i].wrong, name, len) == 0)
		{
			const char *set = getenv(aliases[i].right);
			return set && *set ? NULL : aliases[i].right;
		}
	/* One edit for short names, two from eight characters on: close enough
	 * to be a slip of the keyboard, far enough apart that the other
	 * services' variables (PGDATA, EMAIL_BACKEND, MEDIA_URL) stay quiet. */
	for (size_t i = 0; i < N_ROWS; i++) {
		size_t rl = strlen(rows[i].name), max = rl >= 8 ? 2 : 1, d;
		if (rl < 4)
			continue;
		d = name_distance(name, len, rows[i].name, rl, max);
		if (d <= max && d < best_d) {
			best_d = d;
			best = rows[i].name;
		}
	}
	return best;
}

static void warn_unknown(void)
{
	for (char **ep = environ; ep && *ep; ep++) {
		const char *eq = strchr(*ep, '=');
		size_t len = eq ? (size_t)(eq - *ep) : strlen(*ep);
		const char *near = config_suggest(*ep, len);
		if (near)
			log_warn("variable %.*s is not one of vigil's and is ignored; hint: did you "
				 "mean %s?", (int)len, *ep, near);
		else if ((util_starts_with(*ep, "VIGIL_") || util_starts_with(*ep, "BACKUP_")) &&
			 !known_name(*ep, len))
			log_warn("unknown variable %.*s ignored; hint: check its spelling", (int)len, *ep);
	}
}

static void warn_public_secrets(struct config *c);

/* A mail address (RFC 5321 4.5.3.1.3: a path of at most 256 bytes with
 * its angle brackets) and DEFAULT_FROM_EMAIL as a whole. */
#define MAIL_ADDR_MAX 254
#define MAIL_FROM_MAX 512
/* BACKUP_PREFIX: prefix + "_YYYYMMDD_HHMMSS-NN.sql.gz.sha256" inside
 * ".vigil-tmp-...-XXXXXX" stays well below NAME_MAX (255). */
#define PREFIX_MAX 150

/* True when s holds a control character (below 0x20, or DEL): such a byte
 * in a value that reaches a mail header could add header lines. */
static bool has_control(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* BACKUP_PREFIX, or POSTGRES_DB when it is unset (then copied into
 * c->prefix): a file name part without '/' or control characters. The
 * value is never echoed when it holds a control character (the message
 * goes to logs and mails). */
static int check_prefix(struct config *c, struct err *e)
{
	const char *var = c->prefix && *c->prefix ? "BACKUP_PREFIX" : "POSTGRES_DB";

	if (!c->prefix || !*c->prefix) {
		free(c->prefix);
		c->prefix = strdup(c->pg_db);
		if (!c->prefix)
			return err_set(e, ERR_INTERNAL, "out of memory");
	}
	if (has_control(c->prefix))
		return err_set(e, ERR_CONFIG, "%s holds a control character (a line break, a tab "
			       "...) and cannot be used in a file name; hint: %s", var,
			       strcmp(var, "BACKUP_PREFIX") == 0 ? "remove it" : "set BACKUP_PREFIX");
	if (strlen(c->prefix) > PREFIX_MAX)
		return err_set(e, ERR_CONFIG, "%s is %zu bytes long, more than %d: vigil's file names "
			       "(prefix, time stamp, .sql.gz.sha256, and a temporary name around "
			       "them) must fit the 255 bytes of a file name; hint: %s", var,
			       strlen(c->prefix), PREFIX_MAX,
			       strcmp(var, "BACKUP_PREFIX") == 0 ? "a shorter one" : "set BACKUP_PREFIX");
	if (strchr(c->prefix, '/'))
		return err_set(e, ERR_CONFIG, "%s \"%s\" cannot be used in a file name (it holds a "
			       "'/'); hint: set BACKUP_PREFIX%s", var, c->prefix,
			       strcmp(var, "BACKUP_PREFIX") == 0 ? " to a name without '/'" : "");
	return 0;
}

/* Each address of BACKUP_NOTIFY_EMAIL (comma-separated, spaces and empty
 * items ignored): no space, control byte or angle bracket, an @, at most
 * MAIL_ADDR_MAX bytes (RFC 5321 4.5.3.1.3); at least one address. */
static int check_recipients(const char *list, struct err *e)
{
	size_t count = 0;

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ","), at = 0;
		const char *a = p, *b = p + n;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		for (const char *q = a; q < b; q++) {
			if ((unsigned char)*q <= ' ' || *q == '<' || *q == '>' || *q == 0x7f)
				return err_set(e, ERR_CONFIG, "BACKUP_NOTIFY_EMAIL: \"%.*s\" is not a "
					       "mail address (space, control character or <>); hint: "
					       "a comma-separated list like ops@example.org, "
					       "it@example.org", (int)(b - a), a);
			at += *q == '@';
		}
		if (b > a && at == 0)
			return err_set(e, ERR_CONFIG, "BACKUP_NOTIFY_EMAIL: \"%.*s\" is not a mail "
				       "address (no @)", (int)(b - a), a);
		if ((size_t)(b - a) > MAIL_ADDR_MAX)
			return err_set(e, ERR_CONFIG, "BACKUP_NOTIFY_EMAIL: the address \"%.40s...\" "
				       "is %zu bytes long, more than the %d of a mail address "
				       "(RFC 5321)", a, (size_t)(b - a), MAIL_ADDR_MAX);
		count += b > a;
		p += n + (p[n] == ',');
	}
	if (count == 0)
		return err_set(e, ERR_CONFIG, "BACKUP_NOTIFY_EMAIL holds no address (only commas "
			       "or spaces); hint: a comma-separated list like ops@example.org, or "
			       "leave it unset for no mail");
	return 0;
}

/* DEFAULT_FROM_EMAIL: no control byte; "Name <addr>" or addr, the address
 * at most MAIL_ADDR_MAX bytes and the whole at most MAIL_FROM_MAX (one
 * header line stays far below 998 bytes). */
static int check_from(const char *from, struct err *e)
{
	const char *lt = from ? strrchr(from, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
	size_t addr = lt && gt ? (size_t)(gt - lt - 1) : from ? strlen(from) : 0;

	if (!from)
		return 0;
	if (has_control(from))
		return err_set(e, ERR_CONFIG, "DEFAULT_FROM_EMAIL holds a control character");
	if (strlen(from) > MAIL_FROM_MAX)
		return err_set(e, ERR_CONFIG, "DEFAULT_FROM_EMAIL is %zu bytes long, more than %d; "
			       "hint: a shorter display name", strlen(from), MAIL_FROM_MAX);
	if (addr > MAIL_ADDR_MAX)
		return err_set(e, ERR_CONFIG, "DEFAULT_FROM_EMAIL: the address is %zu bytes long, "
			       "more than the %d of a mail address (RFC 5321)", addr, MAIL_ADDR_MAX);
	{
		const char *a = lt && gt ? lt + 1 : from, *at = memchr(a, '@', addr);
		bool odd = (lt && !gt) || (!lt && strpbrk(from, " <>"));
		for (size_t i = 0; i < addr && !odd; i++)
			odd = a[i] == ' ' || a[i] == '<' || a[i] == '>';
		if (odd || !at || at == a || at == a + addr - 1)
			return err_set(e, ERR_CONFIG, "DEFAULT_FROM_EMAIL is not a mail address; "
				       "hint: webmaster@example.org, or Backups <backups@example.org>");
	}
	return 0;
}

/* EMAIL_HOST, while a mail would be sent: a host name or an IP address
 * (an IPv6 one with or without its brackets), never empty, without
 * spaces, control characters, '@' or '/' (libcurl would fail at run time
 * with "out of memory" or reach another host). */
static int check_email_host(const char *h, struct err *e)
{
	size_t n = h ? strlen(h) : 0;
	bool bracket = n > 0 && h[0] == '[';

	if (n == 0)
		return err_set(e, ERR_CONFIG, "EMAIL_HOST is empty while BACKUP_NOTIFY_EMAIL is set; "
			       "hint: the SMTP server's name, e.g. smtp.example.org");
	for (size_t i = 0; i < n; i++) {
		bool edge = bracket && (i == 0 || i == n - 1);
		if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f || h[i] == '@' || h[i] == '/' ||
		    ((h[i] == '[' || h[i] == ']') && !edge) || (bracket && i == n - 1 && h[i] != ']'))
			return err_set(e, ERR_CONFIG, "EMAIL_HOST is not a host name or address (a "
				       "space, a control character, '@', '/' or unbalanced "
				       "brackets); hint: only the server's name, e.g. "
				       "smtp.example.org, with its port in EMAIL_PORT");
	}
	if (bracket && n < 3)
		return err_set(e, ERR_CONFIG, "EMAIL_HOST is not a host name or address (empty "
			       "brackets)");
	if (bracket || strchr(h, ':')) {
		/* A colon only belongs to an IPv6 address ("::1", "[::1]"), never
		 * "host:port" (Django keeps the port in EMAIL_PORT). */
		char v6[64];
		struct in6_addr a;
		size_t k = bracket ? n - 2 : n;
		if (k >= sizeof v6 || (memcpy(v6, h + bracket, k), v6[k] = '\0',
					inet_pton(AF_INET6, v6, &a) != 1))
			return err_set(e, ERR_CONFIG, "EMAIL_HOST is neither a host name nor an "
				       "IPv6 address (a ':' or brackets); hint: put the port in "
				       "EMAIL_PORT, e.g. EMAIL_HOST=smtp.example.org and "
				       "EMAIL_PORT=587");
	}
	return 0;
}

/* The alert mail's settings that contradict each other (README "Alert
 * mail"). Django's EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive (Django
 * refuses the pair too). A password without either would travel in clear:
 * refused unless EMAIL_ALLOW_PLAIN_AUTH, and only while a mail would be
 * sent (BACKUP_NOTIFY_EMAIL), so a shared .env.prod of a Django app that
 * sends through a local relay does not stop the backups. Each address of
 * BACKUP_NOTIFY_EMAIL (comma-separated) and DEFAULT_FROM_EMAIL must look
 * like one: an @, no space, control byte or angle bracket (the envelope,
 * RFC 5321 4.1.2; a display name "Name <a@b>" is allowed in the sender),
 * within the length limits, and EMAIL_HOST must be a host (see the
 * helpers above). */
static int check_email(const struct config *c, struct err *e)
{
	if (c->email_use_tls && c->email_use_ssl)
		return err_set(e, ERR_CONFIG, "EMAIL_USE_TLS and EMAIL_USE_SSL are both true; they "
			       "are exclusive (Django refuses the pair too); hint: EMAIL_USE_SSL=true "
			       "for implicit TLS (port 465) or EMAIL_USE_TLS=true for STARTTLS (port "
			       "587), and the other false");
	if (!c->notify_email || !*c->notify_email)
		return 0;
	if (c->email_user && *c->email_user && !c->email_use_tls && !c->email_use_ssl &&
	    !c->email_allow_plain_auth)
		return err_set(e, ERR_CONFIG, "EMAIL_HOST_USER is set but neither EMAIL_USE_TLS nor "
			       "EMAIL_USE_SSL: the password would travel in clear; set one, or "
			       "EMAIL_ALLOW_PLAIN_AUTH=true for a relay on a trusted network");
	if (check_recipients(c->notify_email, e) < 0 || check_from(c->email_from, e) < 0)
		return -1;
	return check_email_host(c->email_host, e);
}

int config_load(struct config *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct cfg_row *r = &rows[i];
		char *v = NULL;
		int rc;

		if (raw_value(r, &v, e) < 0)
			return -1;
		/* An empty value means the default for non-strings, and "unset"
		 * for the optional strings; MEDIA_DIR="" disables media. */
		if (v && !*v && (r->type != T_STR || r->def == NULL)) {
			free(v);
			v = NULL;
		}
		rc = set_row(c, r, v ? v : r->def, v == NULL, e);
		free(v);
		if (rc < 0)
			return -1;
	}
	if (has_control(c->pg_db))
		return err_set(e, ERR_CONFIG, "POSTGRES_DB holds a control character (a line break, "
			       "a tab ...); it goes into the alert mail's Subject and into file "
			       "names; hint: remove it");
	if (c->database_url && *c->database_url &&
	    config_apply_database_url(c, c->database_url, e) < 0)
		return -1;
	if (!c->pg_db || !*c->pg_db)
		return err_set(e, ERR_CONFIG, "POSTGRES_DB is required (or DATABASE_URL with a database name)");
	if (has_control(c->pg_db))
		return err_set(e, ERR_CONFIG, "the database name of DATABASE_URL holds a control "
			       "character (%%0D, %%0A ...); it goes into the alert mail's Subject and "
			       "into file names; hint: remove it");
	if (check_prefix(c, e) < 0)
		return -1;
	/* vigil's temporary and working names are hidden (".vigil-tmp-*",
	 * ".vigil-old-*", ".vigil.lock"): a backup under a hidden name would
	 * be invisible to ls and could be taken for a stale temporary file
	 * and deleted by the next run. */
	if (util_starts_with(c->prefix, "pre_restore") || strcmp(c->prefix, "media") == 0 ||
	    c->prefix[0] == '.')
		return err_set(e, ERR_CONFIG, "BACKUP_PREFIX \"%s\" clashes with vigil's own names "
			       "(pre_restore*, media, or a hidden name starting with a dot); "
			       "hint: set BACKUP_PREFIX to a name that is none of these, e.g. the "
			       "database name without its leading dot", c->prefix);
	if (c->threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = n > 0 ? n : 1;
	}
	if (c->compression == CFG_COMP_GZIP && c->compression_level > 12)
		return err_set(e, ERR_CONFIG, "BACKUP_COMPRESSION_LEVEL=%ld is out of gzip's range 0..12",
			       c->compression_level);
	if (c->compression == CFG_COMP_ZSTD && c->compression_level == 0)
		return err_set(e, ERR_CONFIG, "BACKUP_COMPRESSION_LEVEL=0 is out of zstd's range 1..22");
	if (!c->backup_dir || c->backup_dir[0] != '/')
		return err_set(e, ERR_CONFIG, "BACKUP_DIR must be an absolute path");
	if (!c->log_dir || c->log_dir[0] != '/')
		return err_set(e, ERR_CONFIG, "LOG_DIR must be an absolute path");
	if (c->media_dir && *c->media_dir && c->media_dir[0] != '/')
		return err_set(e, ERR_CONFIG, "MEDIA_DIR must be an absolute path or empty");
	if (check_email(c, e) < 0)
		return -1;
	warn_unknown();
	warn_public_secrets(c);
	return 0;
}

void config_free(struct config *c)
{
	free(c->pg_sslmode);
	free(c->pg_sslrootcert);
	free(c->pg_sslcert);
	free(c->pg_sslkey);
	c->pg_sslmode = c->pg_sslrootcert = c->pg_sslcert = c->pg_sslkey = NULL;
	for (size_t i = 0; i < N_ROWS; i++) {
		if (is_str_row(&rows[i])) {
			free(*str_field(c, &rows[i]));
			*str_field(c, &rows[i]) = NULL;
		}
	}
}

static void value_text(const struct config *cc, const struct cfg_row *r, char *out, size_t n)
{
	struct config *c = (struct config *)(uintptr_t)cc;

	switch (r->type) {
	case T_STR:
	case T_TZ: {
		const char *s = *str_field(c, r);
		snprintf(out, n, "%s", s ? (r->secret && *s ? "***" : s) : "");
		break;
	}
	case T_LONG:
	case T_LEVEL:
	case T_DURATION:
		if (*long_field(c, r) < 0)
			snprintf(out, n, "%s", r->type == T_LEVEL ? "default" : "");
		else
			snprintf(out, n, "%ld", *long_field(c, r));
		break;
	case T_OCTAL:
		snprintf(out, n, "%04lo", (unsigned long)*long_field(c, r));
		break;
	case T_BOOL:
		snprintf(out, n, "%s", *bool_field(c, r) ? "true" : "false");
		break;
	case T_ENUM:
		snprintf(out, n, "%s", r->choices[*enum_field(c, r)]);
		break;
	}
}

void config_print(const struct config *c, FILE *f)
{
	char v[4096];

	for (size_t i = 0; i < N_ROWS; i++) {
		value_text(c, &rows[i], v, sizeof v);
		/* Values that hold secrets in part (a webhook URL's token, a
		 * ping URL's UUID) are masked like log lines: the caller has
		 * registered those parts (log_add_secret). */
		log_redact(v, sizeof v);
		fprintf(f, "%s=%s\n", rows[i].name, v);
	}
	/* What DATABASE_URL's query set, which its *** above hides. */
	if (c->pg_sslmode)
		fprintf(f, "# from DATABASE_URL: sslmode=%s\n", c->pg_sslmode);
	if (c->pg_sslrootcert)
		fprintf(f, "# from DATABASE_URL: sslrootcert=%s\n", c->pg_sslrootcert);
	if (c->pg_sslcert)
		fprintf(f, "# from DATABASE_URL: sslcert=%s\n", c->pg_sslcert);
	if (c->pg_sslkey)
		fprintf(f, "# from DATABASE_URL: sslkey=%s\n", c->pg_sslkey);
}

void config_print_markdown(FILE *f)
{
	fprintf(f, "| variable | default | meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < N_ROWS; i++)
		fprintf(f, "| `%s`%s | %s | %s |\n", rows[i].name, rows[i].secret ? " (S)" : "",
			rows[i].def ? rows[i].def : "", rows[i].help);
}

/* The section of .env.prod.example that starts at a row, by its name. */
static const char *section_at(const char *name)
{
	static const struct {
		const char *first, *title;
	} sections[] = {
		{ "POSTGRES_HOST", "Database (POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB are "
				   "the names the postgres image reads too)" },
		{ "BACKUP_PREFIX", "Backup files" },
		{ "BACKUP_DIR", "Directories (the image's volumes)" },
		{ "BACKUP_SCHEDULE", "Schedule, retention and health" },
		{ "EMAIL_HOST", "Alerts: mail (Django's EMAIL_* names), webhook and ping" },
		{ "S3_ENDPOINT", "Offsite copies (S3; not implemented yet)" },
		{ "BACKUP_VERIFY_SCHEDULE", "Restore drills" },
		{ "SSL_CERT_FILE", "System" },
	};

	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (strcmp(sections[i].first, name) == 0)
			return sections[i].title;
	return NULL;
}

/* True for the variables that are active lines of .env.prod.example:
 * the operator sets them (and the postgres image reads them too). */
static bool must_set(const char *name)
{
	return !strcmp(name, "POSTGRES_DB") || !strcmp(name, "POSTGRES_USER") ||
	       !strcmp(name, "POSTGRES_PASSWORD");
}

void config_print_env_example(FILE *f)
{
	fprintf(f,
		"# .env.prod.example - the settings of vigil, the backup service.\n"
		"# Generated by `vigil check-config --env-example` from vigil's configuration\n"
		"# table (`make env-example`); README.md \"Configuration\" says more.\n"
		"#\n"
		"# Copy it to .env.prod (env_file of the db and backup services) and set the\n"
		"# active lines. Every other line is commented out and shows the default:\n"
		"# remove the '#' to change one. A copy used unchanged gives the defaults and\n"
		"# fails only for POSTGRES_DB (vigil) and POSTGRES_PASSWORD (the db service).\n"
		"#\n"
		"# Values are literal, as docker compose reads an env_file: no quotes, no\n"
		"# ${...}, no ' #' after a value, no spaces around '='. An empty value is the\n"
		"# default for numbers, booleans and choices and \"unset\" for the settings\n"
		"# without a default, but the empty string for the others (POSTGRES_HOST=).\n"
		"# Settings marked (S) also take NAME_FILE=path, a file holding the value.\n"
		"#\n"
		"# Not listed: VIGIL_DEBUG (debug lines, for developers), the locale (LANG,\n"
		"# LC_ALL: the environment's; children get LC_MESSAGES=C), and libpq's own PG*\n"
		"# variables (PGOPTIONS, PGSSLMODE, ...), which work as libpq documents them.\n");
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct cfg_row *r = &rows[i];
		const char *title = section_at(r->name);
		if (title)
			fprintf(f, "\n# ---- %s\n", title);
		fprintf(f, "\n# %s%s\n%s%s=%s\n", r->secret ? "(S) " : "", r->help,
			must_set(r->name) ? "" : "#", r->name, r->def ? r->def : "");
	}
}

/* The name of a non-secret variable whose value is v, or NULL. */
static const char *public_twin(struct config *c, const char *v)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		const char *o;
		if (rows[i].secret || !is_str_row(&rows[i]))
			continue;
		o = *str_field(c, &rows[i]);
		if (o && strcmp(o, v) == 0)
			return rows[i].name;
	}
	return NULL;
}

void config_each_secret(const struct config *cc, void (*fn)(const char *))
{
	struct config *c = (struct config *)(uintptr_t)cc;

	for (size_t i = 0; i < N_ROWS; i++) {
		const char *v;
		if (!rows[i].secret || !is_str_row(&rows[i]))
			continue; /* only a string row's field is a char * */
		v = *str_field(c, &rows[i]);
		if (v && *v && !public_twin(c, v))
			fn(v);
	}
}

/* A secret that equals a value vigil prints anyway (POSTGRES_PASSWORD=
 * postgres with POSTGRES_USER=postgres) cannot be kept out of the logs:
 * masking every "postgres" would garble each line and show by context what
 * was masked. Such a secret is not masked (config_each_secret) and is
 * named here instead. */
static void warn_public_secrets(struct config *c)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		const char *v, *twin;
		if (!rows[i].secret || !is_str_row(&rows[i]))
			continue; /* only a string row's field is a char * */
		v = *str_field(c, &rows[i]);
		if (!v || !*v || !(twin = public_twin(c, v)))
			continue;
		log_warn("%s is the same as %s, which vigil prints in logs and file names, so it "
			 "cannot be kept secret; hint: give it a value of its own", rows[i].name, twin);
	}
}

/* --- DATABASE_URL (RFC 3986 generic syntax, as libpq's URI form) --- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode [p, p+n) into a new string; NULL on a bad escape. */
static char *pct_decode(const char *p, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%') {
			int h, l;
			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			h = hexval((unsigned char)p[i + 1]);
			l = hexval((unsigned char)p[i + 2]);
			if (h < 0 || l < 0) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	if (strlen(out) != o) { /* %00 */
		free(out);
		return NULL;
	}
	return out;
}

static int replace(char **field, const char *p, size_t n, const char *what, struct err *e)
{
	char *v = pct_decode(p, n);

	if (!v)
		return err_set(e, ERR_CONFIG, "DATABASE_URL: bad percent-encoding in the %s", what);
	free(*field);
	*field = v;
	return 0;
}

/* The query of DATABASE_URL (from '?' to '#' or the end): key=value pairs
 * separated by '&', percent-decoded. libpq's TLS keywords are kept; any
 * other key is ignored with a warning, never silently (a dropped
 * sslmode=require would send the password over plain TCP). Values are
 * never echoed: sslkey paths are harmless, but a mangled URL may put a
 * password there. */
static int apply_url_query(struct config *c, const char *q, struct err *e)
{
	static const struct {
		const char *key;
		size_t off;
	} kept[] = {
		{ "sslmode", offsetof(struct config, pg_sslmode) },
		{ "sslrootcert", offsetof(struct config, pg_sslrootcert) },
		{ "sslcert", offsetof(struct config, pg_sslcert) },
		{ "sslkey", offsetof(struct config, pg_sslkey) },
	};
	static const char *const modes[] = { "disable", "allow", "prefer", "require",
					     "verify-ca", "verify-full" };

	if (*q != '?')
		return 0;
	q++;
	while (*q && *q != '#') {
		size_t n = strcspn(q, "&#"), kl = strcspn(q, "=&#");
		bool known = false;

		for (size_t i = 0; i < sizeof kept / sizeof kept[0] && kl < n; i++) {
			char **field = (char **)(void *)((char *)c + kept[i].off);
			if (strlen(kept[i].key) != kl || memcmp(q, kept[i].key, kl) != 0)
				continue;
			known = true;
			if (replace(field, q + kl + 1, n - kl - 1, kept[i].key, e) < 0)
				return -1;
		}
		if (!known && n > 0)
			log_warn("DATABASE_URL: query parameter \"%.*s\" ignored; vigil uses only "
				 "sslmode, sslrootcert, sslcert and sslkey from the URL",
				 (int)(kl > 64 ? 64 : kl), q);
		q += n;
		if (*q == '&')
			q++;
	}
	if (c->pg_sslmode) {
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
			if (strcmp(c->pg_sslmode, modes[i]) == 0)
				return 0;
		return err_set(e, ERR_CONFIG, "DATABASE_URL: sslmode must be one of disable, allow, "
			       "prefer, require, verify-ca, verify-full");
	}
	return 0;
}

int config_apply_database_url(struct config *c, const char *url, struct err *e)
{
	const char *p, *auth_end, *host_end, *at, *colon;

	/* The schemes dj-database-url maps to PostgreSQL (postgis:// is
	 * GeoDjango's; the database is the same to pg_dump). */
	static const char *const schemes[] = { "postgresql://", "postgres://", "pgsql://",
					       "postgis://" };
	p = NULL;
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !p; i++)
		if (util_starts_with(url, schemes[i]))
			p = url + strlen(schemes[i]);
	if (!p)
		return err_set(e, ERR_CONFIG, "DATABASE_URL must start with postgres://, "
			       "postgresql://, pgsql:// or postgis://");
	/* userinfo ends at the last '@' (a password written unencoded by hand
	 * may hold '@', '/', '?' or '#'); the authority ends after it. */
	at = strrchr(p, '@');
	if (at) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon) {
			/* Empty parts keep their defaults, as libpq does. */
			if ((colon > p && replace(&c->pg_user, p, (size_t)(colon - p), "user name", e) < 0) ||
			    (at > colon + 1 &&
			     replace(&c->pg_password, colon + 1, (size_t)(at - colon - 1), "password", e) < 0))
				return -1;
		} else if (at > p && replace(&c->pg_user, p, (size_t)(at - p), "user name", e) < 0) {
			return -1;
		}
		p = at + 1;
	}
	auth_end = p + strcspn(p, "/?#");
	/* host[:port], host may be an IPv6 literal in brackets */
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(auth_end - p));
		if (!rb)
			return err_set(e, ERR_CONFIG, "DATABASE_URL: unclosed [ in the host");
		if (replace(&c->pg_host, p + 1, (size_t)(rb - p - 1), "host", e) < 0)
			return -1;
		host_end = rb + 1;
	} else {
		host_end = memchr(p, ':', (size_t)(auth_end - p));
		if (!host_end)
			host_end = auth_end;
		if (host_end > p && replace(&c->pg_host, p, (size_t)(host_end - p), "host", e) < 0)
			return -1;
	}
	if (host_end < auth_end && *host_end == ':') {
		char port[16];
		size_t n = (size_t)(auth_end - host_end - 1);
		long l;
		/* The port text is never echoed: with a malformed URL it could be
		 * part of the password. */
		if (n == 0 || n >= sizeof port)
			return err_set(e, ERR_CONFIG, "DATABASE_URL: bad port (1-65535)");
		memcpy(port, host_end + 1, n);
		port[n] = '\0';
		if (util_parse_long(port, 1, 65535, &l) < 0)
			return err_set(e, ERR_CONFIG, "DATABASE_URL: bad port (1-65535)");
		c->pg_port = l;
	}
	if (*auth_end == '/') {
		const char *db = auth_end + 1;
		size_t n = strcspn(db, "?#");
		if (n > 0 && replace(&c->pg_db, db, n, "database name", e) < 0)
			return -1;
	}
	return apply_url_query(c, auth_end + strcspn(auth_end, "?#"), e);
}
