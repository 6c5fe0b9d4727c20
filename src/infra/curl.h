/* curl.h - outgoing network calls: SMTP mail, HTTP(S) webhooks and pings
 * (libcurl's only home, one home per library, docs/design.md).
 *
 * Every call is bounded: a connect timeout, a deadline for the whole call
 * (all attempts and the waits between them), and a low-speed limit, so a
 * server that never answers or trickles a byte at a time cannot hold a
 * run, the schedule or shutdown. A stop request (pid1_stop_requested:
 * SIGTERM/SIGINT, not the run's own deadline, so that the mail about a run
 * that timed out still goes) aborts a transfer within a second. Attempts are retried (at most
 * CURL_ATTEMPTS, with backoff) only after connect errors, timeouts and
 * transient answers (HTTP 5xx, SMTP 4xx), never after a permanent one
 * (HTTP 4xx, SMTP 5xx such as 535). Nothing here logs a URL, a header or
 * a credential: errors name the URL through curl_url_redact. Knows nothing
 * about runs; pipeline/notify.c decides what to send.
 */
#ifndef VIGIL_CURL_H
#define VIGIL_CURL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define CURL_ATTEMPTS 3
#define CURL_CONNECT_TIMEOUT_S 5 /* HTTP; SMTP connects within 15 s, greeting included */

/* TLS mode of an SMTP server (Django's EMAIL_USE_TLS / EMAIL_USE_SSL). */
enum curl_smtp_tls {
	CURL_SMTP_PLAIN,    /* no TLS at all */
	CURL_SMTP_STARTTLS, /* EMAIL_USE_TLS: STARTTLS required (CURLUSESSL_ALL) */
	CURL_SMTP_IMPLICIT, /* EMAIL_USE_SSL: TLS from the first byte (smtps://) */
};

struct curl_smtp {
	const char *host;
	long port;
	enum curl_smtp_tls tls;
	const char *user;        /* NULL or "": no AUTH */
	const char *password;
	bool allow_plain_auth;   /* send AUTH over a connection without TLS */
	long deadline_s;         /* whole delivery, all attempts (EMAIL_TIMEOUT) */
};

/* Send one message (RFC 5322 text with CRLF line ends, as built by
 * pipeline/mail.c) from `from` to each of rcpts[0..n). Returns 0, or -1
 * with e set (ERR_NOTIFY): the message names the SMTP stage (connect,
 * greeting, STARTTLS, AUTH, MAIL, RCPT, DATA), the server's reply code or
 * the timeout, and a hint where one helps (implicit TLS vs STARTTLS).
 * A password is never sent over a connection without TLS unless
 * allow_plain_auth. */
int curl_smtp_send(const struct curl_smtp *s, const char *from, const char *const *rcpts,
		   size_t n, const char *msg, size_t len, struct err *e);

struct curl_http {
	const char *what;          /* names the call in errors: "webhook", "ping"; NULL = "HTTP call" */
	const char *shown;         /* the URL as errors show it (already redacted: a ping's
				    * masked check with its suffix); NULL: url redacted */
	const char *url;
	const char *content_type;  /* NULL: no body (a GET when body is NULL) */
	const char *body;
	size_t body_len;
	long deadline_s;           /* whole call, all attempts (BACKUP_NOTIFY_TIMEOUT) */
};

/* POST body (or GET when body is NULL) to url; a 2xx answer is success.
 * Redirects are not followed: a 3xx is a failure saying to set the final
 * URL (a redirect could carry the manifest elsewhere, or turn the POST
 * into a GET).
 * Returns 0, or -1 with e set (ERR_NOTIFY) naming the redacted URL and
 * the HTTP status, timeout or connection error. *status gets the last
 * HTTP status (0 when none came). */
int curl_http_send(const struct curl_http *h, long *status, struct err *e);

/* Copy url into out (size n) as scheme://host:port/path with "***" for
 * userinfo, for every query value, for every path segment of 16 or more
 * characters (a UUID, a ping key, a webhook token) and, when mask_last is
 * true, for the last non-empty path segment (a ping URL's check; trailing
 * slashes are ignored and kept). Never fails: a URL libcurl cannot parse
 * becomes "(unparsable URL)". */
void curl_url_redact(const char *url, bool mask_last, char *out, size_t n);

/* Register the secret parts of url with log_add_secret (as written and
 * percent-decoded), so no log line, manifest or mail can carry them: the
 * userinfo's user and password, query values, every path segment of 16
 * or more characters and, with mask_last, the last non-empty path segment
 * when it has 8 or more (a shorter one, "ping", is only masked in the URL
 * as curl_url_redact shows it: a registered secret is masked everywhere). */
void curl_url_secrets(const char *url, bool mask_last);

/* Check that url is an http:// or https:// URL libcurl can parse.
 * Returns 0 or -1 with e set (ERR_CONFIG naming var). */
int curl_url_check(const char *var, const char *url, struct err *e);

/* libcurl's version string and its TLS library ("8.x / OpenSSL 3.x"). */
const char *curl_lib_version(void);

#endif
