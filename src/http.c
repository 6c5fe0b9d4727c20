/* http.c - see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util.h"

struct http_server {
	struct MHD_Daemon *mhd;
	http_page_fn fn;
	void *ctx;
};

/* Split "host:port" / "[v6]:port" / ":port" into a sockaddr. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
			struct err *e)
{
	char host[256] = "", port[16] = "";
	const char *colon;
	struct addrinfo hints, *res = NULL;
	int r;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - listen - 1) >= sizeof host)
			goto bad;
		memcpy(host, listen + 1, (size_t)(rb - listen - 1));
		snprintf(port, sizeof port, "%s", rb + 2);
	} else {
		colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof host)
			goto bad;
		memcpy(host, listen, (size_t)(colon - listen));
		snprintf(port, sizeof port, "%s", colon + 1);
	}
	{
		long pv;
		if (util_parse_long(port, 1, 65535, &pv) < 0)
			goto bad;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0 || !res)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	return err_set(e, ERR_CONFIG, "HTTP_LISTEN=\"%s\" is not an address:port like 0.0.0.0:8080 "
		       "or [::1]:8080 (or off)", listen);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct MHD_Response *resp;
	const char *ctype = "text/plain; charset=utf-8";
	char *body = NULL;
	int status;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(url, "/healthz") != 0 && strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		body = strdup("not found: only /healthz and /metrics are served\n");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = strdup("method not allowed: use GET\n");
	} else {
		s->fn(s->ctx, strcmp(url, "/healthz") == 0 ? HTTP_HEALTHZ : HTTP_METRICS, &status,
		      &body, &ctype);
	}
	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	ret = MHD_queue_response(conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int http_check_listen(const char *listen, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return parse_listen(listen, &ss, &len, e);
}

const char *http_lib_version(void)
{
	return MHD_get_version();
}

int http_start(const char *listen, http_page_fn fn, void *ctx, struct http_server **out,
	       struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct http_server *s;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;

	*out = NULL;
	if (parse_listen(listen, &ss, &len, e) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_INTERNAL, "out of memory");
	s->fn = fn;
	s->ctx = ctx;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!s->mhd) {
		int saved = errno;
		free(s);
		return err_errno(e, ERR_IO, saved ? saved : EADDRINUSE, "cannot listen on %s", listen);
	}
	*out = s;
	return 0;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_get_local(const char *listen, const char *path, int timeout_ms, int *status,
		   char *body, size_t n, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char req[512], resp[8192];
	size_t got = 0;
	int fd = -1, rc = -1;
	int64_t deadline = now_ms() + timeout_ms;
	const char *p;

	if (parse_listen(listen, &ss, &len, e) < 0)
		return -1;
	/* A wildcard listener is reached on loopback. */
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_errno(e, ERR_IO, errno, "socket");
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		err_errno(e, ERR_IO, errno, "cannot connect to %s", listen);
		goto out;
	}
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		 path);
	{
		size_t sent = 0, rl = strlen(req);
		while (sent < rl) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int64_t left = deadline - now_ms();
			ssize_t w;
			if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
				err_set(e, ERR_IO, "timed out connecting to %s", listen);
				goto out;
			}
			w = send(fd, req + sent, rl - sent, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				err_errno(e, ERR_IO, errno, "cannot reach %s", listen);
				goto out;
			}
			sent += (size_t)w;
		}
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			err_set(e, ERR_IO, "timed out waiting for %s%s", listen, path);
			goto out;
		}
		r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err_errno(e, ERR_IO, errno, "cannot read from %s", listen);
			goto out;
		}
		if (r == 0 || (got += (size_t)r) == sizeof resp - 1)
			break;
	}
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/%*d.%*d %d", status) != 1) {
		err_set(e, ERR_IO, "not an HTTP answer from %s", listen);
		goto out;
	}
	if (body && n) {
		p = strstr(resp, "\r\n\r\n");
		snprintf(body, n, "%s", p ? p + 4 : "");
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
