/* config.h - configuration from the environment (README "Configuration").
 *
 * One table row per variable (config.c): name, type, default, bounds, secret
 * flag, help. Loading, `vigil check-config` and the README's table all come
 * from that table. Values are validated at load: a bad value is ERR_CONFIG
 * naming the variable (exit 2).
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/err.h"

enum cfg_format { CFG_FORMAT_PLAIN, CFG_FORMAT_CUSTOM };
enum cfg_compression { CFG_COMP_GZIP, CFG_COMP_ZSTD, CFG_COMP_NONE };
enum cfg_notify_on { CFG_NOTIFY_FAILURE, CFG_NOTIFY_ALWAYS, CFG_NOTIFY_NEVER };
enum cfg_lang { CFG_LANG_EN, CFG_LANG_ES };

struct config {
	/* database (the official postgres image's variable names) */
	char *pg_host;
	long pg_port;
	char *pg_db;
	char *pg_user;
	char *pg_password;   /* secret */
	char *database_url;  /* secret: holds the password */
	/* TLS settings from DATABASE_URL's query (?sslmode=require...), NULL
	 * when absent; libpq's keywords of the same names. Not table rows: the
	 * URL is their only source (the PGSSLMODE... environment also works). */
	char *pg_sslmode;
	char *pg_sslrootcert;
	char *pg_sslcert;
	char *pg_sslkey;
	char *pg_dump_extra_opts;
	char *prefix;        /* BACKUP_PREFIX, default POSTGRES_DB */

	/* files */
	enum cfg_format format;
	enum cfg_compression compression;
	long compression_level; /* -1 = the compressor's vigil default */
	long threads;           /* 0 = online CPUs, resolved at load */
	char *backup_dir;
	char *log_dir;
	char *media_dir;        /* "" = media backups disabled */
	char *media_exclude;
	bool media_allow_empty; /* MEDIA_ALLOW_EMPTY: an empty or collapsed media tree is no warning */
	long file_mode;         /* BACKUP_FILE_MODE, octal */

	/* schedule and retention */
	char *schedule;
	char *tz;
	bool backup_on_start;
	long retention_days;
	long keep_min;
	long keep_daily;   /* -1 = unset */
	long keep_weekly;
	long keep_monthly;
	long pre_restore_retention_days;
	long healthcheck_max_age; /* seconds; -1 = schedule period + 2 h */
	long run_timeout;         /* BACKUP_RUN_TIMEOUT, seconds */
	long lock_wait_timeout;   /* BACKUP_LOCK_WAIT_TIMEOUT, seconds */
	char *http_listen;

	/* alerts (Django's EMAIL_* names) */
	char *email_host;
	long email_port;
	char *email_user;
	char *email_password; /* secret */
	bool email_allow_plain_auth; /* EMAIL_ALLOW_PLAIN_AUTH: AUTH without TLS is allowed */
	bool email_use_tls;
	bool email_use_ssl;
	long email_timeout;   /* seconds */
	char *email_from;
	char *notify_email;
	enum cfg_notify_on notify_on;
	enum cfg_lang notify_lang; /* BACKUP_NOTIFY_LANG: the alert mail's language */
	char *webhook_url;
	char *ping_url;
	long notify_timeout;  /* BACKUP_NOTIFY_TIMEOUT, seconds: one webhook or ping call */

	/* offsite */
	char *s3_endpoint;
	char *s3_bucket;
	char *s3_prefix;
	char *s3_region;
	char *s3_access_key_id;
	char *s3_secret_access_key; /* secret */
	bool s3_force_path_style;
	long s3_retention_days;     /* -1 = unset */

	char *verify_schedule;

	/* read by their users through getenv too (infra/ca.c, infra/tz.c) */
	char *ssl_cert_file;
	char *tzdir;
};

/* Load from the process environment (environ). Every string field is
 * malloc'd and owned by cfg; release with config_free. NAME_FILE variants
 * of secret variables are read here (one trailing newline stripped).
 * Unknown VIGIL_* / BACKUP_* variables are logged as warnings.
 * Returns 0 or -1 with e set (ERR_CONFIG, message naming the variable). */
int config_load(struct config *cfg, struct err *e);

/* The variable vigil reads that the environment variable name[0..len)
 * looks like a slip for (one edit for names under eight characters, two
 * from eight on, adjacent swaps counting one), or one it is a known
 * alias of while that one is unset (TIME_ZONE for TZ); NULL when name is
 * one of vigil's or close to none. The result is a static string. */
const char *config_suggest(const char *name, size_t len);

/* Release every string of cfg. */
void config_free(struct config *cfg);

/* Print the resolved configuration, one "NAME=value" line per variable,
 * secrets as "***", unset values as empty, to f. Every value also goes
 * through log_redact, so the registered secret parts of other values (a
 * webhook URL's token, curl_url_secrets) show as "***" too. */
void config_print(const struct config *cfg, FILE *f);

/* Print the table as Markdown (name | default | meaning) for the docs. */
void config_print_markdown(FILE *f);

/* Print the content of .env.prod.example (`vigil check-config
 * --env-example`): a header comment, then by section one "# help" line and
 * one variable line per table row. The variables the operator must set
 * (POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD: the postgres image reads
 * them too) are active lines with the default or empty; every other one is
 * commented out with its default ("#NAME=value"), so a copy used unchanged
 * gives exactly the defaults. Values are literal for docker compose's
 * env_file (v1's python-dotenv and v2's compose-go read them alike): the
 * table has no default with a quote, '$' or '#'. */
void config_print_env_example(FILE *f);

/* Every secret value cfg holds, for log redaction: calls fn for each
 * non-empty one, except a secret equal to a non-secret value (a password
 * that is the user name), which config_load warns about instead. */
void config_each_secret(const struct config *cfg, void (*fn)(const char *));

/* Parse a Django-style DATABASE_URL
 * (postgres[ql]://user:password@host:port/dbname?params; the schemes
 * dj-database-url maps to PostgreSQL: postgres, postgresql, pgsql, postgis)
 * into cfg's database fields, percent-decoding each part (RFC 3986 section
 * 2.1). Only the parts present override. Of the query, libpq's sslmode,
 * sslrootcert, sslcert and sslkey are kept (cfg->pg_ssl*); any other
 * parameter is ignored with a warning through log_warn, never silently.
 * No other I/O. Returns 0 or -1 with e set (ERR_CONFIG naming DATABASE_URL;
 * the message never holds the URL). */
int config_apply_database_url(struct config *cfg, const char *url, struct err *e);

#endif
