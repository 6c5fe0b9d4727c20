/* curl.c - libcurl's one home (docs/design.md "Where a new module goes"):
 * SMTP delivery and HTTP(S) calls with bounded time, bounded retries and
 * messages that name the stage and the code, and URL redaction with
 * libcurl's own URL parser (CURLU). See curl.h for the promises.
 *
 * Bounds of one call (curl_smtp_send, curl_http_send): a deadline for the
 * whole call, all attempts and the waits between them (deadline_s,
 * monotonic clock). Each attempt gets CURLOPT_TIMEOUT_MS = what is left,
 * CURLOPT_CONNECTTIMEOUT_MS = min(CURL_CONNECT_TIMEOUT_S, what is left)
 * (SMTP: min(SMTP_LOW_SPEED_S, what is left), since libcurl counts the
 * server's greeting as part of connecting) and a low-speed limit (1 byte/s over LOW_SPEED_S, SMTP_LOW_SPEED_S for
 * SMTP: a trickle or a silent server is cut). A
 * SIGTERM/SIGINT (pid1_stop_requested) aborts a transfer from the progress
 * callback, which libcurl calls at least once a second (CURLOPT_NOSIGNAL:
 * libcurl never touches signals; pid1 owns them). The run's own deadline
 * (PID1_DEADLINE) does not abort a call: the mail about a run that timed
 * out must still go, bounded by its own deadline_s.
 *
 * Retries (at most CURL_ATTEMPTS, waits of 1 s then 2 s, never past the
 * deadline; an attempt starts only with at least 1 s left) follow a
 * connect error, a timeout, a broken connection, an SMTP 4xx reply or an
 * HTTP 5xx; never a TLS or certificate error, an SMTP 5xx (535 AUTH) or
 * an HTTP 4xx (or 3xx: redirects are not followed, see curl_http_send).
 * Decisions are made on CURLcode, CURLINFO_RESPONSE_CODE, CURLINFO_OS_ERRNO
 * and the connect/TLS timings, never on libcurl's message text, which is
 * only quoted.
 *
 * Nothing is ever traced (CURLOPT_VERBOSE stays off: its trace would hold
 * the AUTH exchange). TLS peers are always verified, with the CA bundle
 * vigil chose (ca.h: SSL_CERT_FILE, else the distribution's bundle) passed
 * as CURLOPT_CAINFO on every call: a static libcurl has no CA path of its
 * own. A call that would use TLS fails without a bundle; a plain one
 * (smtp:// without STARTTLS, http://) does not need one.
 *
 * A name that does not resolve is reported with the resolver's own
 * error (getaddrinfo, gai_strerror), asked once more after libcurl's
 * "Could not resolve host", which does not say why.
 */
#include "infra/curl.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "infra/ca.h"
#include "infra/pid1.h"

#define LOW_SPEED_S 5L
/* An SMTP server may hold its greeting back for several seconds on
 * purpose (sendmail's greet_pause, tarpits; RFC 5321 4.5.3.2 lets clients
 * wait 5 minutes): SMTP gets a longer silence than HTTP before a cut. */
#define SMTP_LOW_SPEED_S 15L
#define MIN_ATTEMPT_MS 1000
/* A URL path segment this long is secret (a UUID, a healthchecks.io ping
 * key, a Slack or Discord webhook token); shorter ones are words. */
#define SECRET_SEG_MIN 16
/* A ping URL's last segment is shown as *** whatever its length, and
 * registered as a log secret from this length on when it holds a digit
 * (a UUID; a slug such as "postgres" is a word). */
#define LAST_SEG_REGISTER_MIN 8

/* --- the library, once ------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void init_lib(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init is not thread-safe before libcurl 7.84; pthread_once
 * makes the first caller initialise and the others wait for it.
 * curl_global_cleanup is never called (the process ends instead). */
static int lib_init(struct err *e)
{
	pthread_once(&init_once, init_lib);
	if (init_rc != CURLE_OK)
		return err_set(e, ERR_NOTIFY, "libcurl could not be initialised: %s",
			       curl_easy_strerror(init_rc));
	return 0;
}

const char *curl_lib_version(void)
{
	static char buf[128];
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	snprintf(buf, sizeof buf, "libcurl %s / %s", v->version,
		 v->ssl_version ? v->ssl_version : "no TLS");
	return buf;
}

/* --- one transfer ------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* State of one call, shared by the callbacks of every attempt. */
struct xfer {
	const char *up;      /* bytes to upload (SMTP message), or NULL */
	size_t up_len, up_pos;
	size_t down;         /* response body bytes received (HTTP) */
	int stop_sig;        /* the signal that aborted the transfer, 0 none */
	int codes[64];       /* SMTP: the code of each reply of the attempt, in order */
	size_t n_codes;
	char cainfo[256];    /* the CA bundle passed as CURLOPT_CAINFO, "" = none */
};

/* What one attempt ended with. */
struct outcome {
	CURLcode rc;
	long code;           /* last SMTP reply code / HTTP status, 0 = none */
	long os_errno;       /* errno of the last failed connect, 0 = none */
	bool connected;      /* the TCP connection was made */
	bool tls_done;       /* a TLS handshake completed */
	long waited_s;       /* how long the attempt took, rounded */
	char cainfo[256];    /* the CA bundle used ("" = none known) */
	char msg[CURL_ERROR_SIZE]; /* libcurl's error text, for quoting only */
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *p)
{
	struct xfer *x = p;
	size_t n = size * nitems, left = x->up_len - x->up_pos;

	if (n > left)
		n = left;
	memcpy(buf, x->up + x->up_pos, n);
	x->up_pos += n;
	return n;
}

static size_t write_cb(char *buf, size_t size, size_t nitems, void *p)
{
	struct xfer *x = p;

	(void)buf;
	x->down += size * nitems; /* the answer is not used: a webhook's status says it */
	return size * nitems;
}

/* SMTP: libcurl hands each line of the server's replies to the header
 * callback; the last line of a reply ("250 OK", not "250-SIZE") gives its
 * code, kept in order to tell which RCPT TO was refused. Nothing is logged:
 * these lines include the AUTH exchange. */
static size_t reply_cb(char *buf, size_t size, size_t nitems, void *p)
{
	struct xfer *x = p;
	size_t n = size * nitems;

	if (n >= 4 && buf[0] >= '1' && buf[0] <= '5' && buf[1] >= '0' && buf[1] <= '9' &&
	    buf[2] >= '0' && buf[2] <= '9' && buf[3] != '-' &&
	    x->n_codes < sizeof x->codes / sizeof x->codes[0])
		x->codes[x->n_codes++] = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
	return n;
}

/* Called by libcurl at least once a second, also while it waits for a
 * connection or a reply: a non-zero return aborts the transfer
 * (CURLE_ABORTED_BY_CALLBACK). */
static int progress_cb(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = p;
	int sig = pid1_stop_requested();

	(void)dt, (void)dn, (void)ut, (void)un;
	if (sig > 0 && sig != PID1_DEADLINE) {
		x->stop_sig = sig;
		return 1;
	}
	return 0;
}

/* Options every attempt gets, whatever the protocol. */
static void set_common(CURL *h, struct xfer *x, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (x->cainfo[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, x->cainfo);
}

/* Choose the CA bundle of a call into x->cainfo (ca.h). Without one, a
 * call that uses TLS fails here (-1, ERR_NOTIFY, the reason of
 * ca_bundle_choose after what: "mail to host:25 not sent"); a plain one
 * goes on without. */
static int choose_ca(struct xfer *x, bool tls, const char *what, struct err *e)
{
	if (ca_bundle_choose(x->cainfo, sizeof x->cainfo, e) == 0 || !tls) {
		err_clear(e);
		return 0;
	}
	e->code = ERR_NOTIFY;
	err_prefix(e, "%s", what);
	return -1;
}

/* The resolver's reason why host does not resolve (gai_strerror, or the
 * errno text for EAI_SYSTEM), asked after libcurl's CURLE_COULDNT_RESOLVE_HOST,
 * whose message only names the host. */
static void resolver_text(const char *host, char *out, size_t n)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char h[300];
	size_t len = strlen(host);
	int rc;

	/* an IPv6 literal in brackets, as EMAIL_HOST may hold it */
	if (len > 2 && host[0] == '[' && host[len - 1] == ']')
		snprintf(h, sizeof h, "%.*s", (int)(len - 2), host + 1);
	else
		snprintf(h, sizeof h, "%s", host);
	rc = getaddrinfo(h, NULL, &hints, &res);
	if (rc == 0) {
		freeaddrinfo(res);
		snprintf(out, n, "the name resolves now (a passing DNS failure)");
	} else {
		snprintf(out, n, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	}
}

/* Run one attempt with left_ms of the call's budget, connecting within
 * connect_s (capped by left_ms); fills o. */
static void attempt(CURL *h, struct xfer *x, int64_t left_ms, long connect_s, char *errbuf,
		    struct outcome *o)
{
	long connect_ms = connect_s * 1000L;
	curl_off_t t_conn = 0, t_tls = 0;
	int64_t t0 = mono_ms();

	if (left_ms < connect_ms)
		connect_ms = (long)left_ms;
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)((left_ms + 999) / 1000));
	x->up_pos = 0;
	x->down = 0;
	x->n_codes = 0;
	errbuf[0] = '\0';
	memset(o, 0, sizeof *o);
	o->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &o->code);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &o->os_errno);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t_conn);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &t_tls);
	o->connected = t_conn > 0;
	o->tls_done = t_tls > 0;
	snprintf(o->cainfo, sizeof o->cainfo, "%s", x->cainfo);
	o->waited_s = (long)((mono_ms() - t0 + 500) / 1000);
	snprintf(o->msg, sizeof o->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(o->rc));
	/* libcurl's text ends with a newline at times */
	o->msg[strcspn(o->msg, "\r\n")] = '\0';
}

/* Wait before attempt number `next` (2 or 3): 1 s, then 2 s, in 100 ms
 * steps that watch for a stop request. False when the wait would leave
 * less than MIN_ATTEMPT_MS before the deadline, or a stop came. */
static bool backoff(int next, int64_t deadline, struct xfer *x)
{
	int64_t until = mono_ms() + (next == 2 ? 1000 : 2000);

	if (deadline - until < MIN_ATTEMPT_MS)
		return false;
	while (mono_ms() < until) {
		int sig = pid1_stop_requested();
		struct timespec ts = { 0, 100 * 1000000L };
		if (sig > 0 && sig != PID1_DEADLINE) {
			x->stop_sig = sig;
			return false;
		}
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Is this failure worth another attempt? kind_smtp: SMTP reply codes,
 * else HTTP statuses. */
static bool transient(const struct outcome *o, bool kind_smtp)
{
	switch (o->rc) {
	case CURLE_OK: /* only an HTTP status can make a CURLE_OK fail */
		return !kind_smtp && o->code >= 500 && o->code <= 599;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
		return true;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_LOGIN_DENIED:
		/* no reply code: the connection broke; a 4xx: try later (RFC 5321 4.2.1) */
		if (o->code == 0)
			return o->rc != CURLE_LOGIN_DENIED && o->rc != CURLE_WEIRD_SERVER_REPLY;
		return kind_smtp && o->code >= 400 && o->code <= 499;
	default:
		return false;
	}
}

/* Run up to CURL_ATTEMPTS attempts within deadline_s; *o holds the last
 * outcome, *tries how many ran. Returns true on a CURLE_OK transfer (the
 * caller judges an HTTP status). */
static bool run_attempts(CURL *h, struct xfer *x, long deadline_s, bool kind_smtp,
			 struct outcome *o, int *tries)
{
	char errbuf[CURL_ERROR_SIZE];
	int64_t deadline = mono_ms() + (int64_t)deadline_s * 1000;

	set_common(h, x, errbuf);
	if (kind_smtp)
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, SMTP_LOW_SPEED_S);
	*tries = 0;
	memset(o, 0, sizeof *o);
	o->rc = CURLE_OPERATION_TIMEDOUT;
	for (int i = 1; i <= CURL_ATTEMPTS; i++) {
		if (i > 1 && !backoff(i, deadline, x))
			break;
		if (deadline - mono_ms() < MIN_ATTEMPT_MS && i > 1)
			break;
		/* libcurl counts an SMTP server's greeting as part of connecting:
		 * one held back on purpose (greet_pause) gets the SMTP silence */
		attempt(h, x, deadline - mono_ms() > 0 ? deadline - mono_ms() : 1,
			kind_smtp ? SMTP_LOW_SPEED_S : CURL_CONNECT_TIMEOUT_S, errbuf, o);
		*tries = i;
		if (x->stop_sig || !transient(o, kind_smtp))
			break;
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	return o->rc == CURLE_OK;
}

/* " (after N attempts)" */
static void tries_text(int tries, char *out, size_t n)
{
	snprintf(out, n, "after %d attempt%s", tries, tries == 1 ? "" : "s");
}

/* The connect errno as text ("connection refused"), or libcurl's text. */
static void connect_text(const struct outcome *o, char *out, size_t n)
{
	if (o->os_errno > 0) {
		snprintf(out, n, "%s", strerror((int)o->os_errno));
		if (out[0] >= 'A' && out[0] <= 'Z')
			out[0] = (char)(out[0] - 'A' + 'a');
	} else {
		snprintf(out, n, "%s", o->msg);
	}
}

/* The part of every TLS verification message: which CA file was used and
 * what to do. */
static void cert_error(struct err *e, const char *what, const char *peer, const struct outcome *o,
		       const char *t)
{
	err_set(e, ERR_NOTIFY, "%s %s: TLS certificate not trusted (%s; CA file %s) (%s); hint: set "
		"SSL_CERT_FILE to the CA bundle that signed the server's certificate, or add that "
		"CA to the image's ca-certificates (update-ca-certificates); verification is never "
		"turned off", what, peer, o->msg, o->cainfo[0] ? o->cainfo : "libcurl's default", t);
}

/* --- SMTP -------------------------------------------------------------- */

/* The errors of curl_smtp_send, by stage (curl.h). */
static int smtp_error(const struct curl_smtp *s, const struct outcome *o, int tries,
		      int stop_sig, struct err *e)
{
	char peer[300], t[32], why[256];
	const char *p = s->host;

	snprintf(peer, sizeof peer, "%s%s%s:%ld", strchr(p, ':') ? "[" : "", p,
		 strchr(p, ':') ? "]" : "", s->port);
	tries_text(tries, t, sizeof t);
	if (stop_sig)
		return err_set(e, ERR_NOTIFY, "mail to %s not sent: stopped by signal %d", peer,
			       stop_sig);
	switch (o->rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		resolver_text(s->host, why, sizeof why);
		return err_set(e, ERR_NOTIFY, "cannot resolve the SMTP server's name %s (EMAIL_HOST): "
			       "%s (%s)", s->host, why, t);
	case CURLE_COULDNT_CONNECT:
		connect_text(o, why, sizeof why);
		return err_set(e, ERR_NOTIFY, "cannot connect to the SMTP server %s: %s (%s)", peer,
			       why, t);
	case CURLE_LOGIN_DENIED:
		return err_set(e, ERR_NOTIFY, "SMTP AUTH refused by %s: %ld (%s); hint: check "
			       "EMAIL_HOST_USER and EMAIL_HOST_PASSWORD", peer, o->code, t);
	case CURLE_USE_SSL_FAILED:
		if (o->code == 0 || o->code / 100 == 2)
			return err_set(e, ERR_NOTIFY, "the SMTP server %s offers no STARTTLS; %s "
				       "(EMAIL_USE_TLS=true requires it) (%s)", peer,
				       s->user && *s->user ? "the password was not sent"
							   : "the mail was not sent", t);
		return err_set(e, ERR_NOTIFY, "the SMTP server %s refused STARTTLS: %ld; the "
			       "password was not sent (%s)", peer, o->code, t);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		cert_error(e, "SMTP server", peer, o, t);
		return -1;
	case CURLE_SSL_CONNECT_ERROR:
		err_set(e, ERR_NOTIFY, "TLS handshake failed with %s: %s (%s)", peer, o->msg, t);
		if (s->tls == CURL_SMTP_IMPLICIT)
			err_suffix(e, "; hint: this server may expect STARTTLS (port 587 usually "
				   "does): set EMAIL_USE_TLS=true instead of EMAIL_USE_SSL");
		return -1;
	case CURLE_OPERATION_TIMEDOUT:
		if (!o->connected)
			return err_set(e, ERR_NOTIFY, "cannot connect to the SMTP server %s: no answer "
				       "within %ld s (%s)", peer, o->waited_s, t);
		if (s->tls == CURL_SMTP_IMPLICIT && !o->tls_done)
			return err_set(e, ERR_NOTIFY, "no TLS handshake from %s within %ld s (%s); "
				       "hint: if this server expects STARTTLS, set EMAIL_USE_TLS=true "
				       "instead of EMAIL_USE_SSL", peer, o->waited_s, t);
		if (o->code == 0) {
			err_set(e, ERR_NOTIFY, "no SMTP greeting from %s within %ld s (%s)", peer,
				o->waited_s, t);
			if (s->tls != CURL_SMTP_IMPLICIT)
				err_suffix(e, "; hint: %s: set EMAIL_USE_SSL=true (and "
					   "EMAIL_USE_TLS=false)", s->port == 465
					   ? "port 465 usually speaks implicit TLS"
					   : "the server may speak implicit TLS (as port 465 usually does)");
			return -1;
		}
		return err_set(e, ERR_NOTIFY, "the SMTP server %s stopped answering within %ld s "
			       "(last reply %ld) (%s)", peer, o->waited_s, o->code, t);
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		if (o->code)
			return err_set(e, ERR_NOTIFY, "the SMTP server %s refused the mail: %ld (%s) (%s)",
				       peer, o->code, o->msg, t);
		return err_set(e, ERR_NOTIFY, "the connection to the SMTP server %s broke: %s (%s)",
			       peer, o->msg, t);
	default:
		return err_set(e, ERR_NOTIFY, "mail through %s failed: %s (curl error %d, reply %ld) "
			       "(%s)", peer, o->msg, (int)o->rc, o->code, t);
	}
}

/* After a delivery that succeeded: a WARN naming the recipients the
 * server refused (MAIL_RCPT_ALLLOWFAILS let the others get it). The RCPT
 * replies are the n replies just before DATA's 354 (libcurl sends RCPT TO
 * one at a time, in order); when that cannot be told, nothing is said. */
static void warn_refused(const struct curl_smtp *s, const struct xfer *x,
			 const char *const *rcpts, size_t n)
{
	char list[1024] = "";
	size_t k = x->n_codes, bad = 0, o = 0;

	while (k > 0 && x->codes[k - 1] != 354)
		k--;
	if (k == 0 || k - 1 < n)
		return;
	for (size_t i = 0; i < n; i++) {
		int code = x->codes[k - 1 - n + i];
		if (code / 100 == 2)
			continue;
		bad++;
		if (o < sizeof list) {
			int w = snprintf(list + o, sizeof list - o, "%s%s (%d)", o ? ", " : "",
					 rcpts[i], code);
			o += w > 0 ? (size_t)w : 0;
		}
	}
	if (bad)
		log_warn("mail sent through %s, but %zu of %zu recipients %s refused by the server: "
			 "%s; the others got it", s->host, bad, n, bad == 1 ? "was" : "were", list);
}

/* smtp[s]://host:port/<EHLO name> built with CURLU (an IPv6 literal gets
 * its brackets). Returns a curl_free()d string or NULL. */
static char *smtp_url(const struct curl_smtp *s)
{
	CURLU *u = curl_url();
	char host[300], port[16], ehlo[256] = "localhost", *out = NULL;

	if (!u)
		return NULL;
	snprintf(host, sizeof host, strchr(s->host, ':') && s->host[0] != '[' ? "[%s]" : "%s",
		 s->host);
	snprintf(port, sizeof port, "%ld", s->port);
	if (gethostname(ehlo, sizeof ehlo) < 0 || !ehlo[0])
		snprintf(ehlo, sizeof ehlo, "localhost");
	ehlo[sizeof ehlo - 1] = '\0';
	if (curl_url_set(u, CURLUPART_SCHEME, s->tls == CURL_SMTP_IMPLICIT ? "smtps" : "smtp", 0) ||
	    curl_url_set(u, CURLUPART_HOST, host, 0) || curl_url_set(u, CURLUPART_PORT, port, 0) ||
	    curl_url_set(u, CURLUPART_PATH, ehlo, CURLU_URLENCODE) ||
	    curl_url_get(u, CURLUPART_URL, &out, 0))
		out = NULL;
	curl_url_cleanup(u);
	return out;
}

/* The envelope: MAIL FROM and RCPT TO, each address in <> (RFC 5321
 * 4.1.2); an address with <, >, a control byte or a space is refused. */
static int smtp_envelope(const char *from, const char *const *rcpts, size_t n, char *from_out,
			 size_t from_n, struct curl_slist **list, struct err *e)
{
	*list = NULL;
	for (size_t i = 0; i <= n; i++) {
		const char *a = i == n ? from : rcpts[i];
		char buf[512];
		struct curl_slist *nl;
		for (const char *p = a; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f)
				return err_set(e, ERR_NOTIFY, "mail address \"%.100s\" holds a space, "
					       "a control character or <>; hint: write a plain "
					       "address like ops@example.org", a);
		snprintf(buf, sizeof buf, "<%s>", a);
		if (i == n) {
			snprintf(from_out, from_n, "%s", buf);
			break;
		}
		nl = curl_slist_append(*list, buf);
		if (!nl)
			return err_set(e, ERR_INTERNAL, "out of memory");
		*list = nl;
	}
	return 0;
}

int curl_smtp_send(const struct curl_smtp *s, const char *from, const char *const *rcpts,
		   size_t n, const char *msg, size_t len, struct err *e)
{
	struct xfer x = { .up = msg, .up_len = len };
	struct curl_slist *rl = NULL;
	struct outcome o;
	char mail_from[520], *url = NULL;
	bool auth = s->user && *s->user;
	int tries = 0, rc = -1;
	CURL *h;

	if (n == 0)
		return err_set(e, ERR_NOTIFY, "no mail recipient (BACKUP_NOTIFY_EMAIL)");
	if (auth && s->tls == CURL_SMTP_PLAIN && !s->allow_plain_auth)
		return err_set(e, ERR_NOTIFY, "mail not sent: EMAIL_HOST_USER is set but neither "
			       "EMAIL_USE_TLS nor EMAIL_USE_SSL, and the password would travel in "
			       "clear; set one, or EMAIL_ALLOW_PLAIN_AUTH=true for a relay on a "
			       "trusted network");
	snprintf(mail_from, sizeof mail_from, "mail through %s not sent", s->host);
	if (lib_init(e) < 0 || choose_ca(&x, s->tls != CURL_SMTP_PLAIN, mail_from, e) < 0 ||
	    smtp_envelope(from, rcpts, n, mail_from, sizeof mail_from, &rl, e) < 0)
		return -1;
	h = curl_easy_init();
	url = smtp_url(s);
	if (!h || !url) {
		err_set(e, ERR_INTERNAL, "libcurl: out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* STARTTLS required, never "try": a server that does not offer it gets
	 * no AUTH and no mail (CURLE_USE_SSL_FAILED). */
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 s->tls == CURL_SMTP_PLAIN ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
	if (auth) {
		curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rl);
	/* one refused recipient does not cancel the mail for the others
	 * (libcurl >= 7.69; all refused still fails) */
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, reply_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &x);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	if (run_attempts(h, &x, s->deadline_s, true, &o, &tries) && !x.stop_sig) {
		rc = 0;
		warn_refused(s, &x, rcpts, n);
	} else
		smtp_error(s, &o, tries, x.stop_sig, e);
out:
	curl_free(url);
	curl_slist_free_all(rl);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

/* --- HTTP -------------------------------------------------------------- */

static CURLU *parse_url(const char *url);

/* The resolver's reason (resolver_text) for url's host. */
static void url_resolver_text(const char *url, char *out, size_t n)
{
	CURLU *u = parse_url(url);
	char *host = NULL;

	if (u && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host)
		resolver_text(host, out, n);
	else
		snprintf(out, n, "(no host in the URL)");
	curl_free(host);
	curl_url_cleanup(u);
}

/* The errors of curl_http_send (curl.h); url is only resolved again, never shown. */
static int http_error(const char *what, const char *red, const char *url, const struct outcome *o,
		      int tries, int stop_sig, struct err *e)
{
	char t[32], why[256];

	tries_text(tries, t, sizeof t);
	if (stop_sig)
		return err_set(e, ERR_NOTIFY, "%s %s: not sent: stopped by signal %d", what, red,
			       stop_sig);
	switch (o->rc) {
	case CURLE_OK:
		if (o->code >= 300 && o->code <= 399)
			return err_set(e, ERR_NOTIFY, "%s %s: answered HTTP %ld, a redirect, "
				       "which vigil does not follow (%s); hint: set the final URL",
				       what, red, o->code, t);
		return err_set(e, ERR_NOTIFY, "%s %s: answered HTTP %ld (%s)", what, red, o->code, t);
	case CURLE_COULDNT_CONNECT:
		connect_text(o, why, sizeof why);
		return err_set(e, ERR_NOTIFY, "%s %s: %s (%s)", what, red, why, t);
	case CURLE_COULDNT_RESOLVE_HOST:
		url_resolver_text(url, why, sizeof why);
		return err_set(e, ERR_NOTIFY, "%s %s: cannot resolve its host: %s (%s)", what, red,
			       why, t);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, ERR_NOTIFY, "%s %s: no complete answer within %ld s (%s)",
			       what, red, o->waited_s, t);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		cert_error(e, what, red, o, t);
		return -1;
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(e, ERR_NOTIFY, "%s %s: TLS handshake failed: %s (%s)", what, red,
			       o->msg, t);
	default:
		return err_set(e, ERR_NOTIFY, "%s %s: %s (curl error %d) (%s)", what, red, o->msg,
			       (int)o->rc, t);
	}
}

int curl_http_send(const struct curl_http *hs, long *status, struct err *e)
{
	struct xfer x = { 0 };
	struct curl_slist *hdr = NULL, *nl;
	struct outcome o;
	char red[512], ct[256];
	int tries = 0, rc = -1;
	CURL *h;

	*status = 0;
	if (hs->shown)
		snprintf(red, sizeof red, "%s", hs->shown);
	else
		curl_url_redact(hs->url, false, red, sizeof red);
	if (lib_init(e) < 0)
		return -1;
	if (curl_url_check(hs->what ? hs->what : "HTTP call", hs->url, e) < 0) {
		e->code = ERR_NOTIFY;
		return -1;
	}
	snprintf(ct, sizeof ct, "%s %s: not sent", hs->what ? hs->what : "HTTP call", red);
	if (choose_ca(&x, strncasecmp(hs->url, "https:", 6) == 0, ct, e) < 0)
		return -1;
	h = curl_easy_init();
	if (!h)
		return err_set(e, ERR_INTERNAL, "libcurl: out of memory");
	/* No "Expect: 100-continue" wait; the content type when there is a body. */
	hdr = curl_slist_append(NULL, "Expect:");
	if (hdr && hs->body && hs->content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", hs->content_type);
		nl = curl_slist_append(hdr, ct);
		hdr = nl ? nl : hdr;
	}
	curl_easy_setopt(h, CURLOPT_URL, hs->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if (hs->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, hs->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)hs->body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	run_attempts(h, &x, hs->deadline_s, false, &o, &tries);
	*status = o.code;
	if (!x.stop_sig && o.rc == CURLE_OK && o.code >= 200 && o.code <= 299)
		rc = 0;
	else
		http_error(hs->what ? hs->what : "HTTP call", red, hs->url, &o, tries, x.stop_sig, e);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc;
}

/* --- URLs (CURLU, RFC 3986) -------------------------------------------- */

/* Parse url into a new CURLU, or NULL. */
static CURLU *parse_url(const char *url)
{
	CURLU *u = curl_url();

	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		curl_url_cleanup(u);
		u = NULL;
	}
	return u;
}

/* Append "***" for each value of query q ("a=1&b" -> "a=***&b") to out. */
static void redact_query(const char *q, char *out, size_t n)
{
	size_t o = strlen(out);

	while (*q && o + 1 < n) {
		size_t seg = strcspn(q, "&"), key = strcspn(q, "=&");
		int w = snprintf(out + o, n - o, "%.*s%s", (int)key, q, key < seg ? "=***" : "");
		o += w > 0 ? (size_t)w : 0;
		if (o >= n)
			break;
		q += seg;
		if (*q == '&') {
			q++;
			if (o + 1 < n) {
				out[o++] = '&';
				out[o] = '\0';
			}
		}
	}
	out[n - 1] = '\0';
}

/* Where the secret path segment of [seg, seg+len) is (README "Secrets"):
 * one of SECRET_SEG_MIN or more characters (a UUID, a ping key, a webhook
 * token), or, with mask_last, the last non-empty one (a ping URL's check). */
static bool seg_secret(size_t len, bool last, bool mask_last)
{
	return len >= SECRET_SEG_MIN || (mask_last && last && len > 0);
}

/* Length of path without its trailing slashes: the end of the last
 * non-empty segment. */
static size_t path_trim(const char *path)
{
	size_t n = strlen(path);

	while (n > 0 && path[n - 1] == '/')
		n--;
	return n;
}

/* Append path to out (size n, already holding a string) with each secret
 * segment (seg_secret) written as "***"; slashes are kept as they are. */
static void redact_path(const char *path, bool mask_last, char *out, size_t n)
{
	size_t o = strlen(out), end = path_trim(path);

	for (size_t i = 0; path[i] && o + 1 < n;) {
		size_t len = strcspn(path + i, "/");
		bool secret = seg_secret(len, i + len == end, mask_last);
		int w = snprintf(out + o, n - o, "%.*s%s", secret ? 3 : (int)len,
				 secret ? "***" : path + i, path[i + len] ? "/" : "");
		o += w > 0 ? (size_t)w : 0;
		i += len + (path[i + len] == '/');
	}
	out[n - 1] = '\0';
}

void curl_url_redact(const char *url, bool mask_last, char *out, size_t n)
{
	CURLU *u = parse_url(url);
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
	     *pw = NULL;

	if (!u || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		snprintf(out, n, "(unparsable URL)");
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pw, 0);
	snprintf(out, n, "%s://%s%s%s%s", scheme, user || pw ? "***@" : "", host, port ? ":" : "",
		 port ? port : "");
	if (path)
		redact_path(path, mask_last, out, n);
	if (query) {
		size_t o = strlen(out);
		snprintf(out + o, n - o, "?");
		redact_query(query, out, n);
	}
out:
	curl_free(scheme), curl_free(host), curl_free(port), curl_free(path);
	curl_free(query), curl_free(user), curl_free(pw);
	curl_url_cleanup(u);
}

/* Register a part of u (percent-decoded when decode) as a secret. */
static void add_secret_both(CURLU *u, CURLUPart part, bool decode)
{
	char *v = NULL;

	if (curl_url_get(u, part, &v, decode ? CURLU_URLDECODE : 0) == CURLUE_OK && v && *v)
		log_add_secret(v);
	curl_free(v);
}

/* Register s[0..len) as a secret, as written and percent-decoded. */
static void add_secret_text(const char *s, size_t len)
{
	char *raw = strndup(s, len), *dec = raw ? curl_easy_unescape(NULL, raw, 0, NULL) : NULL;

	if (raw)
		log_add_secret(raw);
	if (dec)
		log_add_secret(dec);
	curl_free(dec);
	free(raw);
}

/* Whether s[0..n) holds a digit. */
static bool has_digit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			return true;
	return false;
}

void curl_url_secrets(const char *url, bool mask_last)
{
	CURLU *u = parse_url(url);
	char *q = NULL, *path = NULL;

	if (!u)
		return;
	for (int d = 0; d < 2; d++) {
		add_secret_both(u, CURLUPART_USER, d);
		add_secret_both(u, CURLUPART_PASSWORD, d);
	}
	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK && q) {
		char *save = NULL;
		for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (eq && eq[1])
				add_secret_text(eq + 1, strlen(eq + 1));
		}
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path) {
		size_t end = path_trim(path);
		for (size_t i = 0; path[i];) {
			size_t len = strcspn(path + i, "/");
			/* the last segment is masked in a shown URL whatever its
			 * length, but registered (masked in every log line) only
			 * when it looks like a key: from SECRET_SEG_MIN characters
			 * on, or from LAST_SEG_REGISTER_MIN with a digit (a UUID);
			 * "ping" or a slug such as "postgres" must stay words */
			bool keylike = len >= SECRET_SEG_MIN ||
				       (len >= LAST_SEG_REGISTER_MIN && has_digit(path + i, len));
			if (seg_secret(len, i + len == end, mask_last) && keylike)
				add_secret_text(path + i, len);
			i += len + (path[i + len] == '/');
		}
	}
	curl_free(q);
	curl_free(path);
	curl_url_cleanup(u);
}

int curl_url_check(const char *var, const char *url, struct err *e)
{
	CURLU *u = parse_url(url);
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	if (!u || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) || !*host ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		rc = err_set(e, ERR_CONFIG, "%s is not an http:// or https:// URL with a host", var);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}
