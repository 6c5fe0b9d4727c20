/* test_mail.c - unit tests for src/pipeline/mail.c (the alert mail's form)
 * and the URL helpers of src/infra/curl.c.
 *
 * The message is checked byte by byte (CRLF only, no line over 998 bytes,
 * UTF-8 never cut, headers well formed), and its Subject is decoded back
 * by Python's email package (RFC 2047), /usr/bin/python3 (Debian's), the
 * way a mail reader would. No network.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"
#include "infra/curl.h"
#include "infra/manifest.h"
#include "pipeline/mail.h"
#include "unit.h"

#define SECRET "pw-7Zq!x9"

/* A failed run: the database could not be dumped, with a 5000-byte
 * stderr line holding non-ASCII text and the registered secret. */
static void failed_run(struct manifest *m)
{
	static char big[5200];
	size_t o = 0;

	memset(m, 0, sizeof *m);
	snprintf(m->run_id, sizeof m->run_id, "20261129_030000");
	snprintf(m->result, sizeof m->result, "failure");
	m->start = 1795917600; /* 2026-11-29T02:00:00Z, 03:00 in Madrid */
	m->end = m->start + 12;
	o += (size_t)snprintf(big, sizeof big, "could not connect: contraseña " SECRET " rechazada ");
	while (o < 5000)
		o += (size_t)snprintf(big + o, sizeof big - o, "ñá€x");
	snprintf(m->err_msg, sizeof m->err_msg, "db: %s", big);
	m->n_art = 1;
	snprintf(m->art[0].kind, sizeof m->art[0].kind, "db");
	snprintf(m->art[0].result, sizeof m->art[0].result, "failure");
	snprintf(m->art[0].err_msg, sizeof m->art[0].err_msg, "%s", big);
}

static void facts(struct mail_facts *f)
{
	memset(f, 0, sizeof *f);
	f->host = "host1";
	f->now = 1795917612;
	f->next_run = 1796004000;
	f->last_good[0].have = true;
	snprintf(f->last_good[0].name, sizeof f->last_good[0].name, "app_20261127_030000.sql.gz");
	f->last_good[0].when = f->now - (2 * 86400 + 3 * 3600 + 120);
	f->media_enabled = true;
}

static int load_cfg(struct config *c, const char *lang)
{
	struct err e;

	clearenv();
	setenv("POSTGRES_DB", "app", 1);
	setenv("TZ", "Europe/Madrid", 1);
	setenv("BACKUP_NOTIFY_EMAIL", "a@x, b@y ,,c@z", 1);
	setenv("DEFAULT_FROM_EMAIL", "Copias <backup@example.test>", 1);
	setenv("BACKUP_NOTIFY_LANG", lang, 1);
	if (config_load(c, &e) < 0) {
		fprintf(stderr, "  config_load: %s\n", e.msg);
		return -1;
	}
	tzset();
	return 0;
}

/* True when s[0..n) is valid UTF-8 (no cut sequence). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3
			   : (s[i] & 0xF8) == 0xF0 ? 4 : 0;
		if (k == 0 || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* Every line ends in CRLF, no bare CR or LF, no line over 998 bytes
 * (RFC 5322 2.1.1), every line valid UTF-8. Returns the longest line. */
static size_t check_lines(const char *msg, size_t len)
{
	size_t longest = 0, start = 0;

	CHECK(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r') {
			CHECK(i + 1 < len && msg[i + 1] == '\n');
		} else if (msg[i] == '\n') {
			size_t l;
			CHECK(i > 0 && msg[i - 1] == '\r');
			l = i - 1 - start;
			if (l > longest)
				longest = l;
			CHECK(utf8_ok((const unsigned char *)msg + start, l));
			start = i + 1;
		}
	}
	CHECK(longest <= 998);
	return longest;
}

/* The value of header name (unfolded, raw), or "" ; static storage. */
static const char *header_of(const char *msg, const char *name)
{
	static char out[4096];
	char pfx[64];
	const char *p = msg, *end = strstr(msg, "\r\n\r\n");
	size_t o = 0;

	out[0] = '\0';
	snprintf(pfx, sizeof pfx, "\r\n%s: ", name);
	if (strncmp(msg, pfx + 2, strlen(pfx) - 2) == 0)
		p = msg + strlen(pfx) - 2;
	else if ((p = strstr(msg, pfx)) && p < end)
		p += strlen(pfx);
	else
		return out;
	while (*p && o + 1 < sizeof out) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] != ' ' && p[2] != '\t')
				break;
			p += 2;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

/* The Subject as a mail reader decodes it (Python's email package). */
static bool py_subject(const char *msg, size_t len, char *out, size_t n)
{
	char path[] = "/tmp/vigil-test-mail-XXXXXX", cmd[512];
	int fd = mkstemp(path);
	FILE *p;
	bool ok;

	if (fd < 0 || write(fd, msg, len) != (ssize_t)len)
		return false;
	close(fd);
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c 'import sys, email, email.policy; "
		 "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), "
		 "policy=email.policy.default); sys.stdout.write(str(m[\"subject\"]))' %s", path);
	p = popen(cmd, "r");
	ok = p && fgets(out, (int)n, p) != NULL;
	if (p)
		ok = pclose(p) == 0 && ok;
	unlink(path);
	return ok;
}

static void compose(const char *lang, char **msg, size_t *len, struct config *c)
{
	struct manifest m;
	struct mail_facts f;
	struct err e;

	*msg = NULL;
	failed_run(&m);
	facts(&f);
	if (load_cfg(c, lang) < 0)
		return;
	if (mail_compose(c, &m, &f, msg, len, &e) < 0)
		fprintf(stderr, "  mail_compose: %s\n", e.msg);
}

static void common_checks(const char *msg, size_t len)
{
	char date[128], mid[128], want_mid[64];
	const char *body = strstr(msg, "\r\n\r\n");
	int d, y, hh, mm, ss;
	char wd[4], mon[4], off[6];

	snprintf(date, sizeof date, "%s", header_of(msg, "Date"));
	snprintf(mid, sizeof mid, "%s", header_of(msg, "Message-ID"));
	check_lines(msg, len);
	/* RFC 5322 3.3: "Sun, 29 Nov 2026 03:00:12 +0100" (Europe/Madrid) */
	CHECK(sscanf(date, "%3s, %d %3s %d %d:%d:%d %5s", wd, &d, mon, &y, &hh, &mm, &ss, off) == 8);
	CHECK_STR(date, "Sun, 29 Nov 2026 03:00:12 +0100");
	/* <16 hex.unixtime@host1> */
	snprintf(want_mid, sizeof want_mid, ".%d@host1>", 1795917612);
	CHECK(mid[0] == '<' && strlen(mid) == 1 + 16 + strlen(want_mid));
	for (int i = 1; i <= 16; i++)
		CHECK(isxdigit((unsigned char)mid[i]));
	CHECK(strstr(mid, want_mid) != NULL);
	CHECK_STR(header_of(msg, "To"), "a@x, b@y, c@z");
	CHECK_STR(header_of(msg, "MIME-Version"), "1.0");
	CHECK_STR(header_of(msg, "Content-Type"), "text/plain; charset=UTF-8");
	CHECK_STR(header_of(msg, "Content-Transfer-Encoding"), "8bit");
	CHECK_STR(header_of(msg, "Auto-Submitted"), "auto-generated");
	CHECK(strstr(header_of(msg, "From"), "<backup@example.test>") != NULL);
	REQUIRE(body != NULL);
	CHECK(strstr(msg, SECRET) == NULL);
	CHECK(strstr(body, "***") != NULL);
	/* header lines fold to 78 where the text allows */
	for (const char *p = msg; p < body;) {
		const char *nl = strstr(p, "\r\n");
		CHECK((size_t)(nl - p) <= 78);
		p = nl + 2;
	}
}

static void compose_english(void)
{
	struct config c;
	char *msg, subj[1024];
	size_t len = 0;

	log_add_secret(SECRET);
	compose("en", &msg, &len, &c);
	REQUIRE(msg != NULL);
	common_checks(msg, len);
	CHECK(strstr(msg, "Backup FAILED\r\n") != NULL);
	CHECK(strstr(msg, "Last good backup:\r\n") != NULL);
	CHECK(strstr(msg, "app_20261127_030000.sql.gz, 2026-11-26 23:58:12 +0100 (Europe/Madrid), "
			  "2 days 3 hours ago\r\n") != NULL);
	CHECK(strstr(msg, "- media files: none\r\n") != NULL);
	CHECK(strstr(msg, "Next scheduled run: 2026-11-30 03:00:00 +0100 (Europe/Madrid)") != NULL);
	CHECK(strstr(msg, "docker compose exec backup vigil list") != NULL);
	CHECK(strstr(msg, "Host: host1\r\n") != NULL);
	REQUIRE(py_subject(msg, len, subj, sizeof subj));
	CHECK(strncmp(subj, "[vigil] FAILED backup of app on host1: db: could not connect: "
			    "contraseña *** rechazada ñá€x", 95) == 0);
	CHECK(strstr(subj, SECRET) == NULL);
	CHECK(strlen(subj) < 260 && strstr(subj, "...") != NULL);
	free(msg);
	config_free(&c);
}

static void compose_spanish(void)
{
	struct config c;
	char *msg, subj[1024];
	size_t len = 0;

	log_add_secret(SECRET);
	compose("es", &msg, &len, &c);
	REQUIRE(msg != NULL);
	common_checks(msg, len);
	CHECK(strstr(msg, "Copia de seguridad FALLIDA\r\n") != NULL);
	CHECK(strstr(msg, "Última copia buena:\r\n") != NULL);
	CHECK(strstr(msg, "hace 2 días y 3 horas\r\n") != NULL);
	CHECK(strstr(msg, "- base de datos: FALLIDA\r\n") != NULL);
	CHECK(strstr(msg, "Equipo: host1\r\n") != NULL);
	CHECK(strstr(msg, "Próxima ejecución programada: 2026-11-30 03:00:00 +0100") != NULL);
	/* the non-ASCII Subject is RFC 2047 encoded and decodes back */
	CHECK(strncmp(header_of(msg, "Subject"), "=?UTF-8?B?", 10) == 0);
	REQUIRE(py_subject(msg, len, subj, sizeof subj));
	CHECK(strncmp(subj, "[vigil] FALLÓ la copia de seguridad de app en host1: db: could not "
			    "connect: contraseña *** rechazada", 96) == 0);
	free(msg);
	config_free(&c);
}

/* A success mail (BACKUP_NOTIFY_ON=always) gives the file, size, duration. */
static void compose_success(void)
{
	struct config c;
	struct manifest m;
	struct mail_facts f;
	struct err e;
	char *msg = NULL, subj[512];
	size_t len = 0;

	memset(&m, 0, sizeof m);
	snprintf(m.result, sizeof m.result, "success");
	m.n_art = 1;
	snprintf(m.art[0].kind, sizeof m.art[0].kind, "db");
	snprintf(m.art[0].result, sizeof m.art[0].result, "success");
	snprintf(m.art[0].path, sizeof m.art[0].path, "db/app_20261129_030000.sql.gz");
	m.art[0].bytes = 1536;
	m.art[0].seconds = 2.5;
	facts(&f);
	f.next_run = 0;
	REQUIRE(load_cfg(&c, "en") == 0);
	REQUIRE(mail_compose(&c, &m, &f, &msg, &len, &e) == 0);
	check_lines(msg, len);
	CHECK(strstr(msg, "  file: db/app_20261129_030000.sql.gz\r\n") != NULL);
	CHECK(strstr(msg, "(1536 bytes)\r\n  duration: 2.5 s\r\n") != NULL);
	CHECK(strstr(msg, "Next scheduled run: not scheduled") != NULL);
	REQUIRE(py_subject(msg, len, subj, sizeof subj));
	CHECK_STR(subj, "[vigil] backup of app on host1 succeeded");
	free(msg);
	config_free(&c);

	/* Spanish agrees with each kind's noun; a whole day has no "0 hours" */
	snprintf(m.art[1].kind, sizeof m.art[1].kind, "media");
	snprintf(m.art[1].result, sizeof m.art[1].result, "success");
	m.n_art = 2;
	f.media_enabled = true;
	f.last_good[0].when = f.now - 86400;
	REQUIRE(load_cfg(&c, "es") == 0);
	REQUIRE(mail_compose(&c, &m, &f, &msg, &len, &e) == 0);
	CHECK(strstr(msg, "- base de datos: correcta\r\n") != NULL);
	CHECK(strstr(msg, "- archivos (media): correctos\r\n") != NULL);
	CHECK(strstr(msg, "hace 1 día\r\n") != NULL);
	free(msg);
	config_free(&c);

	/* `vigil notify --test`: says it is a test, reports no run */
	snprintf(m.command, sizeof m.command, "test");
	REQUIRE(load_cfg(&c, "en") == 0);
	REQUIRE(mail_compose(&c, &m, &f, &msg, &len, &e) == 0);
	check_lines(msg, len);
	REQUIRE(py_subject(msg, len, subj, sizeof subj));
	CHECK_STR(subj, "[vigil] TEST alert from app on host1");
	CHECK(strstr(msg, "No backup ran.") != NULL);
	CHECK(strstr(msg, "succeeded") == NULL && strstr(msg, "Last good backup") == NULL);
	free(msg);
	config_free(&c);
}

/* A header value never adds a header line: control characters become
 * spaces in the Subject (cfg->pg_db), To and From, whatever config let
 * through (B-hard 1). */
static void header_injection(void)
{
	struct config c;
	struct manifest m;
	struct mail_facts f;
	struct err e;
	char *msg = NULL, *db, *head, subj[1024];
	size_t len = 0;
	const char *body;

	failed_run(&m);
	facts(&f);
	REQUIRE(load_cfg(&c, "en") == 0);
	db = strdup("app\r\nBcc: victim@evil.example\r\nX-Injected: yes\nX-LF: bare\x7f");
	REQUIRE(db != NULL);
	free(c.pg_db);
	c.pg_db = db;
	free(c.email_from);
	c.email_from = strdup("Ops\r\nX-From: 1 <backup@example.test\nX-Addr: 2>");
	free(c.notify_email);
	c.notify_email = strdup("a@x,b@y\r\nX-To: 3");
	REQUIRE(mail_compose(&c, &m, &f, &msg, &len, &e) == 0);
	body = strstr(msg, "\r\n\r\n");
	REQUIRE(body != NULL);
	check_lines(msg, len);
	for (const char *p = msg; p < body; p++) {
		CHECK(*p != '\n' || p[-1] == '\r');                   /* no bare LF */
		CHECK(*p != '\r' || p[1] == '\n');                    /* no bare CR */
		CHECK(*p != 0x7f);
	}
	head = strndup(msg, (size_t)(body - msg) + 2);
	REQUIRE(head != NULL);
	CHECK(strstr(head, "\nBcc:") == NULL && strstr(head, "\nX-Injected:") == NULL);
	CHECK(strstr(head, "\nX-LF:") == NULL && strstr(head, "\nX-From:") == NULL);
	CHECK(strstr(head, "\nX-Addr:") == NULL && strstr(head, "\nX-To:") == NULL);
	free(head);
	REQUIRE(py_subject(msg, len, subj, sizeof subj));
	CHECK(strncmp(subj, "[vigil] FAILED backup of app  Bcc: victim@evil.example  X-Injected: "
		      "yes X-LF: bare  on host1: db: could not connect", 115) == 0);
	CHECK_STR(header_of(msg, "To"), "a@x, b@y  X-To: 3");
	CHECK_STR(header_of(msg, "From"), "Ops  X-From: 1 <backup@example.test X-Addr: 2>");
	free(msg);
	config_free(&c);
}

static void url_redaction(void)
{
	char out[256];

	curl_url_redact("http://user:pa55word@127.0.0.1:9/hook?token=abc123&x=1#frag", false, out,
			sizeof out);
	CHECK_STR(out, "http://***@127.0.0.1:9/hook?token=***&x=***");
	curl_url_redact("https://hc-ping.com/0f5e2b8a-1111-2222-3333-444455556666", true, out,
			sizeof out);
	CHECK_STR(out, "https://hc-ping.com/***");
	curl_url_redact("https://example.org/a/b", false, out, sizeof out);
	CHECK_STR(out, "https://example.org/a/b");
	curl_url_redact("http://[::1", false, out, sizeof out);
	CHECK_STR(out, "(unparsable URL)");
	/* a trailing slash: the UUID is still the secret, the slash stays */
	curl_url_redact("http://host/0a1b2c3d-4444-5555-6666-777788889999/", true, out,
			sizeof out);
	CHECK_STR(out, "http://host/***/");
	curl_url_redact("https://hc-ping.com/0a1b2c3d-4444-5555-6666-777788889999//", true, out,
			sizeof out);
	CHECK_STR(out, "https://hc-ping.com/***//");
	/* healthchecks.io's ping key + slug: both masked (22 characters; last) */
	curl_url_redact("https://hc-ping.com/fqOOd6-F4MMNuCEnzTU01w/db-backup", true, out,
			sizeof out);
	CHECK_STR(out, "https://hc-ping.com/***/***");
	/* webhook tokens in the path: segments of 16 or more characters */
	curl_url_redact("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
			false, out, sizeof out);
	CHECK_STR(out, "https://hooks.slack.com/services/T0000/B0000/***");
	curl_url_redact("https://discord.com/api/webhooks/123456789012345678/aBcD-eFgH_iJkLmNoPqRsT"
			"uVwXyZ?wait=true", false, out, sizeof out);
	CHECK_STR(out, "https://discord.com/api/webhooks/***/***?wait=***");
	/* 15 characters is a word; short segments of a ping URL other than the last too */
	curl_url_redact("https://example.org/abcdefghijklmno/ping/", true, out, sizeof out);
	CHECK_STR(out, "https://example.org/abcdefghijklmno/***/");
	curl_url_redact("https://example.org/", true, out, sizeof out);
	CHECK_STR(out, "https://example.org/");
}

static void url_secrets_and_check(void)
{
	char line[256];
	struct err e;

	curl_url_secrets("https://bob:hunter2%21@hooks.example/x/s3cr3tpath?key=k3y%20value", true);
	snprintf(line, sizeof line, "hunter2! k3y value k3y%%20value s3cr3tpath keep");
	log_redact(line, sizeof line);
	CHECK_STR(line, "*** *** *** *** keep");
	/* path segments: 16+ characters in both URLs, the ping's last
	 * non-empty one from 8 characters on when it holds a digit; "ping",
	 * "services", a slug such as "postgres" and short ids
	 * stay words (a registered secret is masked in every line) */
	curl_url_secrets("http://host/ping/0a1b2c3d-4444-5555-6666-777788889999/", true);
	curl_url_secrets("https://hc-ping.com/fqOOd6-F4MMNuCEnzTU01w/db", true);
	curl_url_secrets("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
			 false);
	curl_url_secrets("https://example.org/ping", true);
	curl_url_secrets("https://hc-ping.com/fqOOd6-F4MMNuCEnzTU01w/postgres", true);
	curl_url_secrets("https://example.org/a/heartbeat-db%2Fx", true);
	snprintf(line, sizeof line, "postgres ping 0a1b2c3d-4444-5555-6666-777788889999 "
		 "fqOOd6-F4MMNuCEnzTU01w db services T0000 B0000 XXXXXXXXXXXXXXXXXXXXXXXX "
		 "heartbeat-db/x heartbeat-db%%2Fx");
	log_redact(line, sizeof line);
	CHECK_STR(line, "postgres ping *** *** db services T0000 B0000 *** *** ***");
	CHECK(curl_url_check("BACKUP_WEBHOOK_URL", "https://example.org/hook", &e) == 0);
	CHECK(curl_url_check("BACKUP_WEBHOOK_URL", "ftp://example.org/x", &e) == -1 &&
	      e.code == ERR_CONFIG && strstr(e.msg, "BACKUP_WEBHOOK_URL"));
	CHECK(curl_url_check("BACKUP_PING_URL", "not a url", &e) == -1);
}

/* curl_smtp_send never sends a password without TLS unless allowed: it
 * refuses before connecting (port 9, discard, is never contacted). */
static void smtp_refuses_plain_password(void)
{
	struct curl_smtp s = { .host = "127.0.0.1", .port = 9, .tls = CURL_SMTP_PLAIN,
			       .user = "u", .password = "p", .deadline_s = 2 };
	const char *rcpt[] = { "a@x" };
	struct err e;

	err_clear(&e);
	CHECK(curl_smtp_send(&s, "b@y", rcpt, 1, "x\r\n", 3, &e) == -1);
	CHECK(e.code == ERR_NOTIFY && strstr(e.msg, "EMAIL_ALLOW_PLAIN_AUTH") != NULL);
	/* a recipient with CR LF (header or command injection) is refused */
	s.user = NULL;
	rcpt[0] = "a@x\r\nRCPT TO:<evil@y>";
	CHECK(curl_smtp_send(&s, "b@y", rcpt, 1, "x\r\n", 3, &e) == -1 && e.code == ERR_NOTIFY);
}

UNIT_MAIN(T(compose_english), T(compose_spanish), T(compose_success), T(header_injection),
	  T(url_redaction), T(url_secrets_and_check), T(smtp_refuses_plain_password))
