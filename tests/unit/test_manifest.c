/* test_manifest.c - unit tests for src/infra/manifest.c (run manifests, README
 * "Files on disk") and the secret redaction they rely on (src/base/log.c, invariant I5 (docs/design.md)).
 *
 * Manifests are written under a mkdtemp() directory in /tmp. TZ is UTC.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "infra/manifest.h"
#include "base/util.h"
#include "unit.h"

#define PW "p@ss:w/rd%20 'q\"$&#\\"
#define SHA_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static char tmpdir[256];

static const char *mktmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-test-manifest-XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	return tmpdir;
}

static void rmtmp(void)
{
	struct err e;

	util_rm_rf(tmpdir, &e);
	tmpdir[0] = '\0';
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	struct err e;

	if (util_read_file(path, 1 << 20, &buf, NULL, &e) < 0)
		return NULL;
	return buf;
}

/* A two-artifact manifest with every field set. */
static void full_manifest(struct manifest *m)
{
	struct mf_artifact *d, *a;

	memset(m, 0, sizeof *m);
	snprintf(m->run_id, sizeof m->run_id, "20250120_030000");
	snprintf(m->command, sizeof m->command, "backup");
	m->start = 1737342000; /* 2025-01-20T03:00:00Z */
	m->end = 1737342065;
	snprintf(m->result, sizeof m->result, "warning");
	m->n_art = 2;

	d = &m->art[0];
	snprintf(d->kind, sizeof d->kind, "db");
	snprintf(d->result, sizeof d->result, "success");
	snprintf(d->path, sizeof d->path, "db/app_20250120_030000.sql.gz");
	d->bytes = 123456789;
	d->raw_bytes = 9876543210ull;
	snprintf(d->sha256, sizeof d->sha256, "%s", SHA_A);
	d->seconds = 12.375;
	snprintf(d->format, sizeof d->format, "plain");
	snprintf(d->compression, sizeof d->compression, "gzip");
	snprintf(d->server_version, sizeof d->server_version, "15.14");
	snprintf(d->pg_dump_version, sizeof d->pg_dump_version, "15.14 (Debian 15.14-1)");
	mf_add_table(d, "public.items", 1000);
	mf_add_table(d, "public.\"Año\"", 0);
	mf_add_table(d, "s.\"we\"\"ird\"", 42);
	mf_add_table(d, "public.\"a\\b c\"", 7);
	mf_add_table(d, "public.big", 999999999999999ull); /* 15 digits: cJSON prints %1.15g */

	a = &m->art[1];
	snprintf(a->kind, sizeof a->kind, "media");
	snprintf(a->result, sizeof a->result, "warning");
	snprintf(a->path, sizeof a->path, "media/media_20250120_030000.tar.gz");
	a->bytes = 9663676416ull;
	a->raw_bytes = 9663686656ull;
	snprintf(a->sha256, sizeof a->sha256, "%s", SHA_B);
	a->seconds = 301.5;
	snprintf(a->format, sizeof a->format, "pax");
	snprintf(a->compression, sizeof a->compression, "zstd");
	a->files = 2000;
	a->dirs = 12;
	a->symlinks = 2;
	mf_add_warning(a, "tmp/x.jpg: vanished while read");
	mf_add_warning(a, "growing.log: changed while read (archived at its header size)");
	mf_add_warning(a, "uploads/\"quoted\" \\ name\n.txt: changed");
	snprintf(a->err_code, sizeof a->err_code, "media");
	snprintf(a->err_msg, sizeof a->err_msg, "3 files changed while read");
}

/* ------------------------------------------------------------------------ */
/* Tests.                                                                   */

static void round_trip_all_fields(void)
{
	struct manifest m, p;
	struct err e;
	char *json;

	full_manifest(&m);
	json = manifest_to_json(&m);
	REQUIRE(json != NULL);
	CHECK(strstr(json, "\"start\":\t\"2025-01-20T03:00:00Z\"") != NULL ||
	      strstr(json, "\"start\": \"2025-01-20T03:00:00Z\"") != NULL ||
	      strstr(json, "\"start\":\"2025-01-20T03:00:00Z\"") != NULL);
	err_clear(&e);
	REQUIRE(manifest_parse(json, &p, &e) == 0);

	CHECK_STR(p.run_id, "20250120_030000");
	CHECK_STR(p.command, "backup");
	CHECK(p.start == 1737342000);
	CHECK(p.end == 1737342065);
	CHECK_STR(p.result, "warning");
	CHECK_STR(p.err_code, "");
	CHECK_STR(p.err_msg, "");
	REQUIRE(p.n_art == 2);

	{
		const struct mf_artifact *d = &p.art[0];
		CHECK_STR(d->kind, "db");
		CHECK_STR(d->result, "success");
		CHECK_STR(d->path, "db/app_20250120_030000.sql.gz");
		CHECK(d->bytes == 123456789);
		CHECK(d->raw_bytes == 9876543210ull);
		CHECK_STR(d->sha256, SHA_A);
		CHECK(d->seconds == 12.375);
		CHECK_STR(d->format, "plain");
		CHECK_STR(d->compression, "gzip");
		CHECK_STR(d->server_version, "15.14");
		CHECK_STR(d->pg_dump_version, "15.14 (Debian 15.14-1)");
		REQUIRE(d->n_tables == 5);
		CHECK_STR(d->tables[0].name, "public.items");
		CHECK(d->tables[0].rows == 1000);
		CHECK_STR(d->tables[1].name, "public.\"Año\"");
		CHECK(d->tables[1].rows == 0);
		CHECK_STR(d->tables[2].name, "s.\"we\"\"ird\"");
		CHECK(d->tables[2].rows == 42);
		CHECK_STR(d->tables[3].name, "public.\"a\\b c\"");
		CHECK(d->tables[3].rows == 7);
		CHECK_STR(d->tables[4].name, "public.big");
		CHECK(d->tables[4].rows == 999999999999999ull);
		CHECK(d->n_warnings == 0);
		CHECK_STR(d->err_code, "");
	}
	{
		const struct mf_artifact *a = &p.art[1];
		CHECK_STR(a->kind, "media");
		CHECK_STR(a->result, "warning");
		CHECK_STR(a->path, "media/media_20250120_030000.tar.gz");
		CHECK(a->bytes == 9663676416ull);
		CHECK(a->raw_bytes == 9663686656ull);
		CHECK_STR(a->sha256, SHA_B);
		CHECK(a->seconds == 301.5);
		CHECK_STR(a->format, "pax");
		CHECK_STR(a->compression, "zstd");
		CHECK(a->files == 2000);
		CHECK(a->dirs == 12);
		CHECK(a->symlinks == 2);
		REQUIRE(a->n_warnings == 3);
		CHECK_STR(a->warnings[0], "tmp/x.jpg: vanished while read");
		CHECK_STR(a->warnings[1], "growing.log: changed while read (archived at its header size)");
		CHECK_STR(a->warnings[2], "uploads/\"quoted\" \\ name\n.txt: changed");
		CHECK(a->n_tables == 0);
		CHECK_STR(a->err_code, "media");
		CHECK_STR(a->err_msg, "3 files changed while read");
	}

	/* serialising the parsed copy gives the same text */
	{
		char *again = manifest_to_json(&p);
		REQUIRE(again != NULL);
		CHECK_STR(again, json);
		free(again);
	}
	free(json);
	manifest_free(&p);
	manifest_free(&m);
	CHECK(m.art[0].tables == NULL && m.art[0].n_tables == 0);
	CHECK(m.art[1].warnings == NULL && m.art[1].n_warnings == 0);
}

static void round_trip_failure(void)
{
	struct manifest m, p;
	struct err e;
	char *json;

	memset(&m, 0, sizeof m);
	snprintf(m.run_id, sizeof m.run_id, "20250121_030000");
	snprintf(m.command, sizeof m.command, "backup");
	m.start = 1737428400;
	m.end = 1737428401;
	snprintf(m.result, sizeof m.result, "failure");
	snprintf(m.err_code, sizeof m.err_code, "dump");
	snprintf(m.err_msg, sizeof m.err_msg, "pg_dump exited 1: pg_dump: error: connection to "
		 "server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed");
	m.n_art = 1;
	snprintf(m.art[0].kind, sizeof m.art[0].kind, "db");
	snprintf(m.art[0].result, sizeof m.art[0].result, "failure");
	m.art[0].seconds = 0.25;
	snprintf(m.art[0].err_code, sizeof m.art[0].err_code, "db_connect");
	snprintf(m.art[0].err_msg, sizeof m.art[0].err_msg, "cannot connect");

	json = manifest_to_json(&m);
	REQUIRE(json != NULL);
	CHECK(strstr(json, "\"path\"") == NULL);   /* no file was kept */
	CHECK(strstr(json, "\"sha256\"") == NULL);
	err_clear(&e);
	REQUIRE(manifest_parse(json, &p, &e) == 0);
	CHECK_STR(p.result, "failure");
	CHECK_STR(p.err_code, "dump");
	CHECK_STR(p.err_msg, m.err_msg);
	CHECK(p.start == 1737428400 && p.end == 1737428401);
	REQUIRE(p.n_art == 1);
	CHECK_STR(p.art[0].path, "");
	CHECK(p.art[0].bytes == 0);
	CHECK(p.art[0].seconds == 0.25);
	CHECK_STR(p.art[0].err_code, "db_connect");
	CHECK_STR(p.art[0].err_msg, "cannot connect");
	CHECK(p.art[0].n_tables == 0);
	free(json);
	manifest_free(&p);
	manifest_free(&m);
}

static void parse_rejects_non_objects(void)
{
	static const char *const bad[] = { "", "not json", "[]", "[1,2]", "null", "42", "\"x\"",
					   "{", "{\"run_id\": }" };
	struct manifest p;
	struct err e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		if (manifest_parse(bad[i], &p, &e) != -1 || e.code != ERR_CORRUPT) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
		manifest_free(&p);
	}
	/* an empty object is a (blank) manifest */
	err_clear(&e);
	CHECK(manifest_parse("{}", &p, &e) == 0);
	CHECK(p.n_art == 0);
	CHECK_STR(p.run_id, "");
	manifest_free(&p);
	/* wrong types are ignored, not trusted */
	CHECK(manifest_parse("{\"run_id\": 5, \"artifacts\": [{\"kind\": \"db\", \"bytes\": \"x\","
			     " \"tables\": {\"t\": \"many\", \"u\": 3}}]}",
			     &p, &e) == 0);
	CHECK_STR(p.run_id, "");
	REQUIRE(p.n_art == 1);
	CHECK(p.art[0].bytes == 0);
	REQUIRE(p.art[0].n_tables == 1);
	CHECK_STR(p.art[0].tables[0].name, "u");
	CHECK(p.art[0].tables[0].rows == 3);
	manifest_free(&p);
}

static void write_never_replaces(void)
{
	const char *d = mktmp();
	struct manifest m, p;
	struct err e;
	char path[600], *first, *second, *again;
	struct stat st;

	full_manifest(&m);
	err_clear(&e);
	REQUIRE(manifest_write(d, "20250505_030000", &m, 0600, &e) == 0);
	CHECK_STR(m.run_id, "20250505_030000");
	snprintf(path, sizeof path, "%s/20250505_030000.json", d);
	first = slurp(path);
	REQUIRE(first != NULL);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);

	/* the same stamp again: a distinct name, the first file untouched */
	snprintf(m.result, sizeof m.result, "success");
	REQUIRE(manifest_write(d, "20250505_030000", &m, 0600, &e) == 0);
	CHECK_STR(m.run_id, "20250505_030000-2");
	again = slurp(path);
	REQUIRE(again != NULL);
	CHECK_STR(again, first);
	free(again);
	snprintf(path, sizeof path, "%s/20250505_030000-2.json", d);
	second = slurp(path);
	REQUIRE(second != NULL);
	err_clear(&e);
	REQUIRE(manifest_read(path, &p, &e) == 0);
	CHECK_STR(p.run_id, "20250505_030000-2"); /* the file says its own name */
	CHECK_STR(p.result, "success");
	manifest_free(&p);
	snprintf(path, sizeof path, "%s/20250505_030000.json", d);
	REQUIRE(manifest_read(path, &p, &e) == 0);
	CHECK_STR(p.run_id, "20250505_030000");
	CHECK_STR(p.result, "warning");
	manifest_free(&p);

	/* a third time, and another mode */
	REQUIRE(manifest_write(d, "20250505_030000", &m, 0640, &e) == 0);
	CHECK_STR(m.run_id, "20250505_030000-3");
	snprintf(path, sizeof path, "%s/20250505_030000-3.json", d);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 07777) == 0640);
	snprintf(path, sizeof path, "%s/20250505_030000-2.json", d);
	again = slurp(path);
	REQUIRE(again != NULL);
	CHECK_STR(again, second);
	free(again);
	CHECK(unit_count_entries(d) == 3); /* no temporary file left */

	/* a missing directory */
	snprintf(path, sizeof path, "%s/nodir", d);
	err_clear(&e);
	CHECK(manifest_write(path, "20250505_030000", &m, 0600, &e) == -1);
	CHECK(e.code != ERR_OK);
	/* reading a missing file names it */
	snprintf(path, sizeof path, "%s/nope.json", d);
	err_clear(&e);
	CHECK(manifest_read(path, &p, &e) == -1);
	CHECK(strstr(e.msg, "nope.json") != NULL);
	free(first);
	free(second);
	manifest_free(&m);
	rmtmp();
}

static void redacts_registered_secrets(void)
{
	struct manifest m, p;
	struct err e;
	char *json;

	log_add_secret("S3cr3t-Pw-42");
	log_add_secret(PW);
	memset(&m, 0, sizeof m);
	snprintf(m.run_id, sizeof m.run_id, "20250122_030000");
	snprintf(m.result, sizeof m.result, "failure");
	snprintf(m.err_code, sizeof m.err_code, "dump");
	snprintf(m.err_msg, sizeof m.err_msg,
		 "pg_dump: error: password S3cr3t-Pw-42 rejected; again S3cr3t-Pw-42; also %s end", PW);
	m.n_art = 2;
	snprintf(m.art[0].kind, sizeof m.art[0].kind, "db");
	snprintf(m.art[0].result, sizeof m.art[0].result, "failure");
	snprintf(m.art[0].err_code, sizeof m.art[0].err_code, "dump");
	snprintf(m.art[0].err_msg, sizeof m.art[0].err_msg, "conninfo password=%s host=db", PW);
	snprintf(m.art[1].kind, sizeof m.art[1].kind, "media");
	snprintf(m.art[1].result, sizeof m.art[1].result, "warning");
	mf_add_warning(&m.art[1], "file S3cr3t-Pw-42.txt: changed while read");

	json = manifest_to_json(&m);
	REQUIRE(json != NULL);
	CHECK(strstr(json, "S3cr3t-Pw-42") == NULL);
	CHECK(strstr(json, "p@ss:w/rd%20") == NULL);
	err_clear(&e);
	REQUIRE(manifest_parse(json, &p, &e) == 0);
	CHECK_STR(p.err_msg, "pg_dump: error: password *** rejected; again ***; also *** end");
	REQUIRE(p.n_art == 2);
	CHECK_STR(p.art[0].err_msg, "conninfo password=*** host=db");
	REQUIRE(p.art[1].n_warnings == 1);
	CHECK_STR(p.art[1].warnings[0], "file ***.txt: changed while read");
	/* the caller's struct is not modified */
	CHECK(strstr(m.err_msg, "S3cr3t-Pw-42") != NULL);
	free(json);
	manifest_free(&p);
	manifest_free(&m);

	/* log_redact itself */
	{
		char buf[128];
		snprintf(buf, sizeof buf, "a S3cr3t-Pw-42 b %s c", PW);
		log_redact(buf, sizeof buf);
		CHECK_STR(buf, "a *** b *** c");
		snprintf(buf, sizeof buf, "ab");
		log_add_secret("ab");  /* too short: ignored */
		log_add_secret(NULL);
		log_redact(buf, sizeof buf);
		CHECK_STR(buf, "ab");
		/* whole words only: "app" inside "swapped" or "apps" stays, or
		 * the masks would garble the line and give the password away by
		 * context (TRIAL F17); a secret with a symbol is no word and is
		 * masked anywhere */
		log_add_secret("app");
		log_add_secret("p@ss");
		snprintf(buf, sizeof buf, "swapped app in; database=app file=app_1.sql apps xp@ssy");
		log_redact(buf, sizeof buf);
		CHECK_STR(buf, "swapped *** in; database=*** file=***_1.sql apps x***y");
	}
}

static void redacting_a_secret_of_stars_terminates(void)
{
	/* A password may be "***" itself; masking it must still end. Run in a
	 * child with an alarm so a hang cannot stall the suite. */
	pid_t pid = fork();
	int status = 0;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		char buf[64];
		struct itimerval it = { { 0, 0 }, { 0, 300000 } }; /* 300 ms */
		setitimer(ITIMER_REAL, &it, NULL);
		log_add_secret("***");
		snprintf(buf, sizeof buf, "password *** rejected");
		log_redact(buf, sizeof buf);
		_exit(strcmp(buf, "password *** rejected") == 0 ? 0 : 3);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "  child %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Error messages quote children's output in any encoding: the manifest
 * stays valid UTF-8 (invalid bytes become '?'), valid multibyte text and
 * control characters (escaped by cJSON) are kept. */
static void error_text_is_made_valid_utf8(void)
{
	struct manifest m, p;
	struct err e;
	char *json;

	memset(&m, 0, sizeof m);
	snprintf(m.run_id, sizeof m.run_id, "20250121_030000");
	snprintf(m.command, sizeof m.command, "backup");
	snprintf(m.result, sizeof m.result, "failure");
	snprintf(m.err_code, sizeof m.err_code, "child");
	/* latin-1 "é", a lone continuation byte, an overlong '/', a cut 3-byte
	 * sequence, a surrogate; then valid "café ñ" and a tab */
	snprintf(m.err_msg, sizeof m.err_msg,
		 "caf\xe9 \x80 \xc0\xaf \xe2\x82 \xed\xa0\x80 | café ñ\tend");
	json = manifest_to_json(&m);
	REQUIRE(json != NULL);
	err_clear(&e);
	REQUIRE(manifest_parse(json, &p, &e) == 0);
	CHECK_STR(p.err_msg, "caf? ? ?? ?? ??? | café ñ\tend");
	CHECK(strstr(json, "\\t") != NULL);
	free(json);
	manifest_free(&p);
}

static void warnings_are_capped(void)
{
	struct mf_artifact a;
	char line[32];

	memset(&a, 0, sizeof a);
	for (int i = 0; i < 1005; i++) {
		snprintf(line, sizeof line, "f%d: vanished", i);
		CHECK(mf_add_warning(&a, line) == 0);
	}
	CHECK(a.n_warnings == 1000);
	CHECK_STR(a.warnings[999], "f999: vanished");
	for (size_t j = 0; j < a.n_warnings; j++)
		free(a.warnings[j]);
	free(a.warnings);
}

/* Times vigil wrote parse; anything else, including dates that do not
 * exist (timegm would turn February 31 into March 3), parses as 0. */
static void times_parse_strictly(void)
{
	static const struct {
		const char *t;
		int ok;
	} cases[] = {
		{ "\"2026-11-29T08:00:04Z\"", 1 },   { "\"2024-02-29T23:59:59Z\"", 1 },
		{ "\"2026-02-31T00:00:00Z\"", 0 },  { "\"2026-13-45T99:99:99Z\"", 0 },
		{ "\"2026-12-06T24:00:00Z\"", 0 },  { "\"2026-12-06T21:10:07Zjunk\"", 0 },
		{ "\"2026-12-06 21:10:07Z\"", 0 },  { "\"garbage\"", 0 },
		{ "null", 0 },                      { "12345", 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char json[256];
		struct manifest m;
		struct err e;

		snprintf(json, sizeof json, "{\"run_id\":\"x\",\"start\":%s,\"end\":%s}", cases[i].t,
			 cases[i].t);
		REQUIRE(manifest_parse(json, &m, &e) == 0);
		if ((m.start != 0) != cases[i].ok || (m.end != 0) != cases[i].ok) {
			fprintf(stderr, "  %s: start %lld\n", cases[i].t, (long long)m.start);
			CHECK(0);
		}
		manifest_free(&m);
	}
}

/* A run's prune and alert outcomes survive manifest_replace and a read
 * back; the replace swaps the whole file (no temporary left), and an
 * alert's error is redacted like every other message. */
static void replace_keeps_pruned_and_notices(void)
{
	const char *d = mktmp();
	struct manifest m, p;
	struct err e;
	char path[600], *text;

	full_manifest(&m);
	err_clear(&e);
	REQUIRE(manifest_write(d, "20250505_030000", &m, 0600, &e) == 0);
	REQUIRE(mf_add_pruned(&m, "db", "app_20250101_030000.sql.gz", "older than 7 days", 1234) == 0);
	REQUIRE(mf_add_pruned(&m, "media", "media_20250101_030000.tar.gz", "older than 7 days", 99) == 0);
	log_add_secret("MailPw!");
	mf_add_notice(&m, "mail", "failed", "AUTH refused (535) for password MailPw!");
	mf_add_notice(&m, "ping", "sent", "");
	for (int i = 0; i < 5; i++)
		mf_add_notice(&m, "webhook", "sent", ""); /* capped at MF_NOTICES_MAX */
	CHECK(m.n_notices == MF_NOTICES_MAX);
	REQUIRE(manifest_replace(d, &m, 0600, &e) == 0);
	snprintf(path, sizeof path, "%s/20250505_030000.json", d);
	text = slurp(path);
	REQUIRE(text != NULL);
	CHECK(strstr(text, "MailPw") == NULL);
	free(text);
	REQUIRE(manifest_read(path, &p, &e) == 0);
	REQUIRE(p.n_pruned == 2);
	CHECK_STR(p.pruned[0].kind, "db");
	CHECK_STR(p.pruned[0].name, "app_20250101_030000.sql.gz");
	CHECK_STR(p.pruned[0].reason, "older than 7 days");
	CHECK(p.pruned[0].bytes == 1234);
	CHECK_STR(p.pruned[1].kind, "media");
	REQUIRE(p.n_notices == MF_NOTICES_MAX);
	CHECK_STR(p.notices[0].channel, "mail");
	CHECK_STR(p.notices[0].result, "failed");
	CHECK(strstr(p.notices[0].error, "535") != NULL);
	CHECK_STR(p.notices[1].channel, "ping");
	CHECK_STR(p.notices[1].error, "");
	CHECK_STR(p.run_id, "20250505_030000");
	manifest_free(&p);
	manifest_free(&m);
	CHECK(m.pruned == NULL && m.n_pruned == 0);
	{
		char cmd[700];
		snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v '^20250505_030000.json$')\"", d);
		CHECK(system(cmd) == 0);
	}
	rmtmp();
}

int main(void)
{
	static const struct unit_test t_[] = {
		T(round_trip_all_fields), T(round_trip_failure), T(parse_rejects_non_objects),
		T(write_never_replaces), T(redacts_registered_secrets),
		T(redacting_a_secret_of_stars_terminates), T(warnings_are_capped), T(error_text_is_made_valid_utf8),
		T(times_parse_strictly), T(replace_keeps_pruned_and_notices),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return unit_main(t_, sizeof t_ / sizeof t_[0]);
}
