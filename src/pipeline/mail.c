/* mail.c - the alert mail of a run (mail.h): its text in English or
 * Spanish (BACKUP_NOTIFY_LANG), its RFC 5322 form, and its delivery through
 * infra/curl.c with Django's EMAIL_* settings (README "Alert mail").
 *
 * The body is first written as text with LF line ends, redacted as a whole
 * by log_redact (every registered secret becomes ***), then emitted with
 * CRLF line ends, any line over BODY_WRAP bytes cut at a UTF-8 character
 * boundary (RFC 5322 2.1.1: no line over 998 bytes; the body is 8bit
 * UTF-8, RFC 6152). Header text that is not ASCII goes into RFC 2047
 * B-encoded words of at most 75 characters, header lines folded to 78
 * where possible.
 */
#include "pipeline/mail.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "infra/curl.h"

#define BODY_WRAP 990      /* bytes of text per body line before CRLF */
#define SUBJECT_ERR_MAX 160 /* bytes of the error quoted in the Subject */

/* --- a growing buffer -------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;
		while (b->len + n + 1 > cap)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		buf_add(b, tmp, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);
		if (!big) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_add(b, big, (size_t)n);
		free(big);
	}
}

/* --- the two languages ------------------------------------------------- */

/* Every sentence of the mail, [0] English, [1] Spanish. */
enum msg_id {
	M_HEAD_FAIL, M_HEAD_WARN, M_HEAD_OK, M_DATABASE,
	M_HOST, M_RUN, M_STARTED, M_ENDED, M_ERROR, M_ARTIFACTS, M_KIND_DB, M_KIND_MEDIA,
	M_R_SUCCESS, M_R_WARNING, M_R_FAILURE, M_FILE, M_SIZE, M_DURATION, M_SUSPECT,
	M_LAST_GOOD, M_NONE, M_NEXT, M_NEXT_NONE, M_TODO, M_TODO_1, M_TODO_2, M_TODO_3,
	M_TODO_OK, M_FUTURE, M_NOW,
	M_DAY, M_DAYS, M_HOUR, M_HOURS, M_MIN, M_MINS, /* each singular, then its plural */
	M_AND,
	M_R_SUCCESS_PL, M_R_WARNING_PL, M_R_FAILURE_PL, M_TODO_1_WARN, M_SUSPECT_HINT,
	M_HEAD_TEST, M_TEST_BODY, M_COUNT
};

static const char *const text[M_COUNT][2] = {
	[M_HEAD_FAIL] = { "Backup FAILED", "Copia de seguridad FALLIDA" },
	[M_HEAD_WARN] = { "Backup completed WITH WARNINGS", "Copia de seguridad terminada CON AVISOS" },
	[M_HEAD_OK] = { "Backup succeeded", "Copia de seguridad correcta" },
	[M_DATABASE] = { "Database", "Base de datos" },
	[M_HOST] = { "Host", "Equipo" },
	[M_RUN] = { "Run", "Ejecución" },
	[M_STARTED] = { "Started", "Inicio" },
	[M_ENDED] = { "Ended", "Fin" },
	[M_ERROR] = { "Error", "Error" },
	[M_ARTIFACTS] = { "What was backed up", "Qué se copió" },
	[M_KIND_DB] = { "database", "base de datos" },
	[M_KIND_MEDIA] = { "media files", "archivos (media)" },
	/* "base de datos" is feminine, "archivos (media)" masculine plural */
	[M_R_SUCCESS] = { "success", "correcta" },
	[M_R_WARNING] = { "warning", "con avisos" },
	[M_R_FAILURE] = { "FAILED", "FALLIDA" },
	[M_R_SUCCESS_PL] = { "success", "correctos" },
	[M_R_WARNING_PL] = { "warning", "con avisos" },
	[M_R_FAILURE_PL] = { "FAILED", "FALLIDOS" },
	[M_FILE] = { "file", "archivo" },
	[M_SIZE] = { "size", "tamaño" },
	[M_DURATION] = { "duration", "duración" },
	[M_SUSPECT] = { "suspect", "sospechoso" },
	[M_LAST_GOOD] = { "Last good backup", "Última copia buena" },
	[M_NONE] = { "none", "ninguna" },
	[M_NEXT] = { "Next scheduled run", "Próxima ejecución programada" },
	[M_NEXT_NONE] = { "not scheduled (no daemon schedule known)",
			  "sin programar (no se conoce el horario del servicio)" },
	[M_TODO] = { "What to do next", "Qué hacer ahora" },
	[M_TODO_1] = { "Read the error above and the log:", "Lea el error de arriba y el registro:" },
	[M_TODO_2] = { "Check the service's state: GET /healthz on HTTP_LISTEN, or "
		       "`docker compose exec backup vigil healthcheck`.",
		       "Compruebe el estado del servicio: GET /healthz en HTTP_LISTEN, o "
		       "`docker compose exec backup vigil healthcheck`." },
	[M_TODO_3] = { "List the backups that exist: `docker compose exec backup vigil list`.",
		       "Vea las copias existentes: `docker compose exec backup vigil list`." },
	[M_TODO_OK] = { "Nothing: this mail only reports a good run (BACKUP_NOTIFY_ON=always).",
			"Nada: este correo solo informa de una ejecución correcta "
			"(BACKUP_NOTIFY_ON=always)." },
	[M_FUTURE] = { "in the future: check the clock", "en el futuro: revise el reloj" },
	[M_NOW] = { "less than a minute", "menos de un minuto" },
	[M_DAY] = { "day", "día" },       [M_DAYS] = { "days", "días" },
	[M_HOUR] = { "hour", "hora" },    [M_HOURS] = { "hours", "horas" },
	[M_MIN] = { "minute", "minuto" }, [M_MINS] = { "minutes", "minutos" },
	[M_AND] = { " ", " y " },
	[M_TODO_1_WARN] = { "Read the warning above and the log:",
			    "Lea el aviso de arriba y el registro:" },
	[M_SUSPECT_HINT] = { "check that the media volume is mounted; if the media directory is "
			     "empty on purpose, set MEDIA_ALLOW_EMPTY=true",
			     "compruebe que el volumen de media está montado; si el directorio "
			     "de media está vacío a propósito, ponga MEDIA_ALLOW_EMPTY=true" },
	[M_HEAD_TEST] = { "TEST alert", "Alerta de PRUEBA" },
	[M_TEST_BODY] = { "This is a test sent by `vigil notify --test` to check the alert "
			  "settings. No backup ran.",
			  "Esto es una prueba enviada con `vigil notify --test` para comprobar "
			  "la configuración de las alertas. No se ha hecho ninguna copia." },
};

static const char *tr(const struct config *cfg, enum msg_id id)
{
	return text[id][cfg->notify_lang == CFG_LANG_ES ? 1 : 0];
}

/* "N unit" for the larger unit, then " M unit" (" y M ...") unless M is 0.
 * one_a and one_b are singulars; their plurals follow them in enum msg_id. */
static void two_units(const struct config *cfg, int64_t a, enum msg_id one_a, int64_t b,
		      enum msg_id one_b, char *out, size_t n)
{
	int w = snprintf(out, n, "%lld %s", (long long)a, tr(cfg, a == 1 ? one_a : one_a + 1));

	if (b > 0 && w > 0 && (size_t)w < n)
		snprintf(out + w, n - (size_t)w, "%s%lld %s", tr(cfg, M_AND), (long long)b,
			 tr(cfg, b == 1 ? one_b : one_b + 1));
}

/* "2 days 3 hours" / "2 días y 3 horas": the two largest units. */
static void age_text(const struct config *cfg, int64_t secs, char *out, size_t n)
{
	int64_t d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60;
	char part[64];

	if (secs < 0) {
		snprintf(out, n, "%s", tr(cfg, M_FUTURE));
		return;
	}
	if (secs < 60)
		snprintf(part, sizeof part, "%s", tr(cfg, M_NOW));
	else if (d > 0)
		two_units(cfg, d, M_DAY, h, M_HOUR, part, sizeof part);
	else if (h > 0)
		two_units(cfg, h, M_HOUR, m, M_MIN, part, sizeof part);
	else
		two_units(cfg, m, M_MIN, 0, M_MIN, part, sizeof part);
	if (cfg->notify_lang == CFG_LANG_ES)
		snprintf(out, n, "hace %s", part);
	else
		snprintf(out, n, "%s ago", part);
}

/* "2026-11-29 03:00:00 +0100 (Europe/Madrid)": local time in TZ. */
static void local_text(const struct config *cfg, time_t t, char *out, size_t n)
{
	struct tm tm;
	char s[64];

	localtime_r(&t, &tm);
	strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S %z", &tm);
	snprintf(out, n, "%s (%s)", s, cfg->tz ? cfg->tz : "UTC");
}

static const char *result_text(const struct config *cfg, const char *kind, const char *r)
{
	bool pl = kind && !strcmp(kind, "media"); /* Spanish agrees with the kind's noun */

	if (!strcmp(r, "success"))
		return tr(cfg, pl ? M_R_SUCCESS_PL : M_R_SUCCESS);
	if (!strcmp(r, "warning"))
		return tr(cfg, pl ? M_R_WARNING_PL : M_R_WARNING);
	return tr(cfg, pl ? M_R_FAILURE_PL : M_R_FAILURE);
}

static const char *kind_text(const struct config *cfg, const char *kind)
{
	return tr(cfg, strcmp(kind, "media") == 0 ? M_KIND_MEDIA : M_KIND_DB);
}

/* --- the body ---------------------------------------------------------- */

static void body_artifact(struct buf *b, const struct config *cfg, const struct mf_artifact *a)
{
	char size[32];

	buf_fmt(b, "- %s: %s\n", kind_text(cfg, a->kind), result_text(cfg, a->kind, a->result));
	if (a->path[0]) {
		util_human_bytes(a->bytes, size);
		buf_fmt(b, "  %s: %s\n  %s: %s (%llu bytes)\n  %s: %.1f s\n", tr(cfg, M_FILE),
			a->path, tr(cfg, M_SIZE), size, (unsigned long long)a->bytes,
			tr(cfg, M_DURATION), a->seconds);
	}
	if (a->suspect[0])
		buf_fmt(b, "  %s: %s\n  (%s)\n", tr(cfg, M_SUSPECT), a->suspect,
			tr(cfg, M_SUSPECT_HINT));
	for (size_t i = 0; i < a->n_warnings && i < 10; i++)
		buf_fmt(b, "  ! %s\n", a->warnings[i]);
	if (a->err_msg[0]) {
		char msg[sizeof a->err_msg];
		/* libpq's messages hold tabs and line breaks: one line here */
		snprintf(msg, sizeof msg, "%s", a->err_msg);
		for (char *p = msg; *p; p++)
			if (*p == '\t' || *p == '\n' || *p == '\r')
				*p = ' ';
		buf_fmt(b, "  %s: %s\n", tr(cfg, M_ERROR), msg);
	}
}

static void body_last_good(struct buf *b, const struct config *cfg, const struct mail_facts *f)
{
	static const char *const kinds[2] = { "db", "media" };

	buf_fmt(b, "\n%s:\n", tr(cfg, M_LAST_GOOD));
	for (int k = 0; k < 2; k++) {
		const struct mail_last_good *g = &f->last_good[k];
		char when[96], age[96];
		if (k == 1 && !f->media_enabled)
			continue;
		if (!g->have) {
			buf_fmt(b, "- %s: %s\n", kind_text(cfg, kinds[k]), tr(cfg, M_NONE));
			continue;
		}
		local_text(cfg, g->when, when, sizeof when);
		age_text(cfg, (int64_t)f->now - (int64_t)g->when, age, sizeof age);
		buf_fmt(b, "- %s: %s, %s, %s\n", kind_text(cfg, kinds[k]), g->name, when, age);
	}
}

/* The whole body as LF text (not yet redacted). */
static void body_text(struct buf *b, const struct config *cfg, const struct manifest *m,
		      const struct mail_facts *f)
{
	bool fail = strcmp(m->result, "success") != 0 && strcmp(m->result, "warning") != 0;
	bool warn = !strcmp(m->result, "warning");
	char t[96];

	if (!strcmp(m->command, "test")) {
		buf_fmt(b, "%s\n\n%s\n\n%s: %s\n%s: %s\n", tr(cfg, M_HEAD_TEST),
			tr(cfg, M_TEST_BODY), tr(cfg, M_DATABASE), cfg->pg_db, tr(cfg, M_HOST),
			f->host);
		buf_fmt(b, "\n-- \nvigil %s\n", VIGIL_VERSION);
		return;
	}
	buf_fmt(b, "%s\n\n", tr(cfg, fail ? M_HEAD_FAIL : warn ? M_HEAD_WARN : M_HEAD_OK));
	buf_fmt(b, "%s: %s\n%s: %s\n%s: %s\n", tr(cfg, M_DATABASE), cfg->pg_db, tr(cfg, M_HOST),
		f->host, tr(cfg, M_RUN), m->run_id[0] ? m->run_id : "-");
	if (m->start > 0) {
		local_text(cfg, (time_t)m->start, t, sizeof t);
		buf_fmt(b, "%s: %s\n", tr(cfg, M_STARTED), t);
	}
	if (m->end > 0) {
		local_text(cfg, (time_t)m->end, t, sizeof t);
		buf_fmt(b, "%s: %s\n", tr(cfg, M_ENDED), t);
	}
	/* the run's error, unless an artifact's line below says it */
	bool art_err = false;
	for (size_t i = 0; i < m->n_art && i < 2; i++)
		art_err |= m->art[i].err_msg[0] != '\0';
	if (m->err_msg[0] && !art_err)
		buf_fmt(b, "\n%s: %s\n", tr(cfg, M_ERROR), m->err_msg);
	if (m->n_art)
		buf_fmt(b, "\n%s:\n", tr(cfg, M_ARTIFACTS));
	for (size_t i = 0; i < m->n_art && i < 2; i++)
		body_artifact(b, cfg, &m->art[i]);
	body_last_good(b, cfg, f);
	if (f->next_run > 0)
		local_text(cfg, f->next_run, t, sizeof t);
	buf_fmt(b, "\n%s: %s\n", tr(cfg, M_NEXT), f->next_run > 0 ? t : tr(cfg, M_NEXT_NONE));
	buf_fmt(b, "\n%s:\n", tr(cfg, M_TODO));
	if (fail || warn)
		buf_fmt(b, "1. %s %s/backup.log\n2. %s\n3. %s\n",
			tr(cfg, fail ? M_TODO_1 : M_TODO_1_WARN), cfg->log_dir, tr(cfg, M_TODO_2),
			tr(cfg, M_TODO_3));
	else
		buf_fmt(b, "%s\n", tr(cfg, M_TODO_OK));
	buf_fmt(b, "\n-- \nvigil %s\n", VIGIL_VERSION);
}

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary (never splits a multi-byte sequence), at least 1 byte. */
static size_t utf8_cut(const char *s, size_t n)
{
	size_t k = n;

	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k ? k : n;
}

/* Append LF text t to out with CRLF line ends, dropping CRs, cutting any
 * line longer than BODY_WRAP bytes at a character boundary. */
static void emit_crlf(struct buf *out, const char *t)
{
	while (*t) {
		size_t n = strcspn(t, "\n");
		const char *end = t + n;
		while (t < end) {
			size_t take = (size_t)(end - t);
			if (take > BODY_WRAP)
				take = utf8_cut(t, BODY_WRAP);
			for (size_t i = 0; i < take; i++)
				if (t[i] != '\r')
					buf_add(out, t + i, 1);
			buf_add(out, "\r\n", 2);
			t += take;
		}
		if (n == 0)
			buf_add(out, "\r\n", 2);
		t = *end ? end + 1 : end;
	}
}

/* --- headers (RFC 5322, RFC 2047) -------------------------------------- */

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* A copy of v with every control character (CR, LF, tab, DEL ...) made a
 * space: a header value can never start a header line of its own,
 * whatever its source (config refuses such bytes too). NULL on OOM. */
static char *header_clean(const char *v)
{
	char *c = strdup(v);

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

/* header() of a value without control characters. */
static void header_raw(struct buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 2;

	buf_fmt(b, "%s: ", name);
	if (!is_ascii(value)) {
		const char *p = value;
		size_t left = strlen(value);
		while (left) {
			/* 12 bytes of =?UTF-8?B?...?=; 4 base64 characters per 3 bytes */
			size_t quads = (78 - col - 12) / 4, room, take;
			if (quads > (75 - 12) / 4)
				quads = (75 - 12) / 4; /* an encoded word is at most 75 characters */
			room = quads * 3;
			take = left < room ? left : room;
			char enc[80];
			if (take < left)
				take = utf8_cut(p, take);
			base64((const unsigned char *)p, take, enc);
			buf_fmt(b, "=?UTF-8?B?%s?=", enc);
			p += take;
			left -= take;
			if (left) {
				buf_str(b, "\r\n ");
				col = 1;
			}
		}
		buf_str(b, "\r\n");
		return;
	}
	while (*value) {
		size_t w = strcspn(value + 1, " ") + 1; /* the next word with its leading space */
		if (col + w > 78 && col > strlen(name) + 2 && *value == ' ') {
			buf_str(b, "\r\n");
			col = 0;
		}
		buf_add(b, value, w);
		col += w;
		value += w;
	}
	buf_str(b, "\r\n");
}

/* "Name: value" with value folded at spaces to 78 columns where possible
 * (RFC 5322 2.2.3); non-ASCII values become B-encoded words of at most 75
 * characters (RFC 2047 2), each on its own line, never splitting a UTF-8
 * character. Control characters in value become spaces. */
static void header(struct buf *b, const char *name, const char *value)
{
	char *clean = header_clean(value);

	if (!clean) {
		b->oom = true;
		return;
	}
	header_raw(b, name, clean);
	free(clean);
}

/* RFC 5322 3.3 date-time in local time: "Sun, 29 Nov 2026 03:00:04 +0100"
 * (English names whatever the locale). */
static void date_header(time_t t, char *out, size_t n)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	char off[8];

	localtime_r(&t, &tm);
	strftime(off, sizeof off, "%z", &tm);
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d %s", days[tm.tm_wday], tm.tm_mday,
		 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, off);
}

/* "<16 hex.unixtime@host>" (RFC 5322 3.6.4); the host keeps only the
 * characters of a domain name. */
static void message_id(const struct mail_facts *f, char *out, size_t n)
{
	unsigned char r[8] = { 0 };
	char host[128];
	size_t h = 0;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t x = (uint64_t)util_mono() ^ (uint64_t)f->now * 2654435761u;
		memcpy(r, &x, sizeof r);
	}
	for (const char *p = f->host ? f->host : ""; *p && h + 1 < sizeof host; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
			host[h++] = *p;
	host[h] = '\0';
	snprintf(out, n, "<%02x%02x%02x%02x%02x%02x%02x%02x.%lld@%s>", r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7], (long long)f->now, h ? host : "localhost");
}

/* "[vigil] FAILED backup of app on host1: why", by result and language. */
static void subject_line(const struct config *cfg, const char *result, const char *host,
			 const char *why, char *out, size_t n)
{
	bool es = cfg->notify_lang == CFG_LANG_ES;
	const char *db = cfg->pg_db;

	if (!strcmp(result, "test")) {
		if (es)
			snprintf(out, n, "[vigil] PRUEBA de alerta de %s en %s", db, host);
		else
			snprintf(out, n, "[vigil] TEST alert from %s on %s", db, host);
	} else if (!strcmp(result, "success")) {
		if (es)
			snprintf(out, n, "[vigil] copia de seguridad de %s en %s correcta", db, host);
		else
			snprintf(out, n, "[vigil] backup of %s on %s succeeded", db, host);
	} else if (!strcmp(result, "warning")) {
		if (es)
			snprintf(out, n, "[vigil] AVISO en la copia de seguridad de %s en %s: %s", db,
				 host, why);
		else
			snprintf(out, n, "[vigil] WARNING in the backup of %s on %s: %s", db, host, why);
	} else if (es) {
		snprintf(out, n, "[vigil] FALLÓ la copia de seguridad de %s en %s: %s", db, host, why);
	} else {
		snprintf(out, n, "[vigil] FAILED backup of %s on %s: %s", db, host, why);
	}
}

/* The Subject text (not yet encoded): the result, the database, the host
 * and, for a failure or warning, the first error (one line, cut). */
static void subject_text(const struct config *cfg, const struct manifest *m,
			 const struct mail_facts *f, char *out, size_t n)
{
	char why[ERR_MSG_MAX + 64] = "";
	size_t len;

	snprintf(why, sizeof why, "%s", m->err_msg);
	for (size_t i = 0; i < m->n_art && i < 2 && !why[0]; i++)
		if (m->art[i].err_msg[0] || m->art[i].suspect[0])
			snprintf(why, sizeof why, "%s: %s", kind_text(cfg, m->art[i].kind),
				 m->art[i].err_msg[0] ? m->art[i].err_msg : m->art[i].suspect);
	log_redact(why, sizeof why); /* before the cut, which could leave half a secret */
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	len = strlen(why);
	if (len > SUBJECT_ERR_MAX) {
		len = utf8_cut(why, SUBJECT_ERR_MAX);
		snprintf(why + len, sizeof why - len, "...");
	}
	subject_line(cfg, !strcmp(m->command, "test") ? "test" : m->result, f->host,
		     why[0] ? why : "-", out, n);
	log_redact(out, n);
}

/* "Name <a@b>" -> encoded display name when it is not ASCII (RFC 2047 5). */
static void from_header(struct buf *b, const char *from)
{
	const char *lt = strchr(from, '<');
	char name[256];
	size_t nl;

	if (is_ascii(from) || !lt) {
		header(b, "From", from);
		return;
	}
	nl = (size_t)(lt - from);
	while (nl > 0 && from[nl - 1] == ' ')
		nl--;
	snprintf(name, sizeof name, "%.*s", (int)nl, from);
	header(b, "From", name); /* encoded words, then the address on the next line */
	if (b->oom)
		return;
	b->len -= 2;             /* take back the CRLF */
	b->p[b->len] = '\0';
	{
		char *addr = header_clean(lt);
		if (!addr) {
			b->oom = true;
			return;
		}
		buf_fmt(b, "\r\n %s\r\n", addr);
		free(addr);
	}
}

int mail_compose(const struct config *cfg, const struct manifest *m, const struct mail_facts *f,
		 char **out, size_t *len, struct err *e)
{
	struct buf h = { 0 }, body = { 0 };
	char subj[512], date[64], mid[200], **rc;
	size_t n = 0;

	*out = NULL;
	*len = 0;
	rc = util_split(cfg->notify_email ? cfg->notify_email : "", ',', &n);
	if (!rc)
		return err_set(e, ERR_INTERNAL, "out of memory");
	from_header(&h, cfg->email_from ? cfg->email_from : "webmaster@localhost");
	{
		struct buf to = { 0 };
		for (size_t i = 0; i < n; i++)
			buf_fmt(&to, "%s%s", i ? ", " : "", rc[i]);
		header(&h, "To", to.p ? to.p : "undisclosed-recipients:;");
		h.oom |= to.oom;
		free(to.p);
	}
	util_free_strv(rc);
	subject_text(cfg, m, f, subj, sizeof subj);
	header(&h, "Subject", subj);
	date_header(f->now, date, sizeof date);
	message_id(f, mid, sizeof mid);
	buf_fmt(&h, "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
		"Auto-Submitted: auto-generated\r\n\r\n", date, mid);
	body_text(&body, cfg, m, f);
	if (body.p)
		log_redact(body.p, body.len + 1);
	emit_crlf(&h, body.p ? body.p : "");
	free(body.p);
	if (h.oom || body.oom) {
		free(h.p);
		return err_set(e, ERR_INTERNAL, "out of memory composing the alert mail");
	}
	*out = h.p;
	*len = h.len;
	return 0;
}

/* The envelope address of DEFAULT_FROM_EMAIL: "Name <a@b>" gives a@b. */
static void envelope_from(const char *from, char *out, size_t n)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt)
		snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, n, "%s", from);
}

int mail_send_run(const struct config *cfg, const struct manifest *m, const struct mail_facts *f,
		  struct err *e)
{
	struct curl_smtp s = {
		.host = cfg->email_host,
		.port = cfg->email_port,
		.tls = cfg->email_use_ssl ? CURL_SMTP_IMPLICIT
		       : cfg->email_use_tls ? CURL_SMTP_STARTTLS : CURL_SMTP_PLAIN,
		.user = cfg->email_user,
		.password = cfg->email_password,
		.allow_plain_auth = cfg->email_allow_plain_auth,
		.deadline_s = cfg->email_timeout,
	};
	char from[256], *msg = NULL, **rc;
	size_t len = 0, n = 0;
	int ret;

	rc = util_split(cfg->notify_email ? cfg->notify_email : "", ',', &n);
	if (!rc)
		return err_set(e, ERR_INTERNAL, "out of memory");
	if (n == 0) {
		util_free_strv(rc);
		return err_set(e, ERR_NOTIFY, "no mail recipient: BACKUP_NOTIFY_EMAIL is empty");
	}
	envelope_from(cfg->email_from ? cfg->email_from : "webmaster@localhost", from, sizeof from);
	ret = mail_compose(cfg, m, f, &msg, &len, e);
	if (ret == 0)
		ret = curl_smtp_send(&s, from, (const char *const *)rc, n, msg, len, e);
	free(msg);
	util_free_strv(rc);
	return ret;
}
