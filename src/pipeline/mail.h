/* mail.h - the alert mail of a run: what it says (English or Spanish,
 * BACKUP_NOTIFY_LANG) and its RFC 5322 form, sent through infra/curl.c with
 * Django's EMAIL_* settings (README "Alerts").
 *
 * The message: RFC 5322 headers (From, To, Subject, Date, Message-ID,
 * MIME-Version, Content-Type text/plain; charset=UTF-8), RFC 2047 encoded
 * words for non-ASCII header text, CRLF line ends, no line over 998 bytes.
 * A failure mail says what failed and why (the error with the child's
 * stderr tail, secrets removed by the log module's redaction), the last
 * good backup of each kind with its age, the host and the next scheduled
 * run; a success mail (BACKUP_NOTIFY_ON=always) gives sizes and durations.
 */
#ifndef VIGIL_MAIL_H
#define VIGIL_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/config.h"
#include "base/err.h"
#include "infra/manifest.h"

/* What the mail reports beside the run manifest; pipeline/notify.c gathers it. */
struct mail_facts {
	const char *host;    /* the host name the operator knows (hostname) */
	time_t now;          /* Unix seconds, for ages and the Date header */
	time_t next_run;     /* next scheduled run, 0 when unknown (no daemon schedule) */
	struct mail_last_good {
		bool have;           /* a good backup of this kind exists */
		char name[300];      /* its file name */
		time_t when;         /* when it was made (recorded start), Unix seconds */
	} last_good[2];          /* [0] database, [1] media */
	bool media_enabled;      /* MEDIA_DIR is set */
};

/* Build the whole message (headers and body, CRLF, RFC 5322/2047) for run
 * manifest m. *out is malloc'd (caller frees), *len its length. Returns 0
 * or -1 with e set (ERR_INTERNAL: no memory). Pure apart from reading
 * cfg and random bytes for the Message-ID. */
int mail_compose(const struct config *cfg, const struct manifest *m,
		 const struct mail_facts *f, char **out, size_t *len, struct err *e);

/* Compose and send the run's mail to BACKUP_NOTIFY_EMAIL's recipients
 * through EMAIL_HOST (infra/curl.c: bounded by EMAIL_TIMEOUT, retried on
 * transient errors). Returns 0, or -1 with e set (ERR_NOTIFY) naming the
 * SMTP stage and reply code. Never logs; the caller does. */
int mail_send_run(const struct config *cfg, const struct manifest *m,
		  const struct mail_facts *f, struct err *e);

#endif
