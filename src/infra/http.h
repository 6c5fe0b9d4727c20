/* http.h - the daemon's HTTP listener (libmicrohttpd's only home, one home per library,
 * docs/design.md) and the tiny client `vigil healthcheck` uses.
 *
 * Only GET and HEAD of /healthz and /metrics are served; other paths are
 * 404, other methods 405. Connections are bounded (256, 128 per client
 * address); a request whose header is not complete 5 s after the
 * connection opened (or after its previous request ended) is cut, and an
 * idle connection is closed after 10 s, so slow clients cannot hold the
 * slots (F11). Answers come from a snapshot the daemon keeps, so a running
 * backup never delays them.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>

#include "base/err.h"

enum http_page { HTTP_HEALTHZ, HTTP_METRICS };

/* Fill *status, *body (malloc'd; the server frees it) and *ctype for a page.
 * Called on the server's thread: must only read a snapshot under a short
 * lock, never wait on a job. */
typedef void (*http_page_fn)(void *ctx, enum http_page page, int *status, char **body,
			     const char **ctype);

struct http_server;

/* Parse HTTP_LISTEN ("0.0.0.0:8080", "127.0.0.1:9000", "[::1]:8080",
 * ":8080") and start listening; the server runs on its own thread.
 * Returns 0 or -1 with e set (ERR_CONFIG for a bad address naming
 * HTTP_LISTEN, ERR_IO when the port cannot be bound). */
int http_start(const char *listen, http_page_fn fn, void *ctx, struct http_server **out,
	       struct err *e);

/* Check an HTTP_LISTEN value without binding. Returns 0 or -1 (ERR_CONFIG). */
int http_check_listen(const char *listen, struct err *e);

/* libmicrohttpd's version string. */
const char *http_lib_version(void);

/* Stop the server and free it; NULL is ok. */
void http_stop(struct http_server *s);

/* GET path from the listener at `listen` (a wildcard address is reached
 * on loopback), waiting at most timeout_ms in all. *status gets the HTTP
 * status; body (size n, may be NULL) the start of the body. Returns 0 or -1
 * with e set (connection refused, timeout, bad answer). */
int http_get_local(const char *listen, const char *path, int timeout_ms, int *status,
		   char *body, size_t n, struct err *e);

#endif
