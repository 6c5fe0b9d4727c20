/* http.c - see http.h. */
#include "infra/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/util.h"

/* Limits (F11). libmicrohttpd's inactivity timeout is reset by every byte,
 * so a client that trickles a header line a second held a slot forever, and
 * 32 of them from one address kept /healthz unreachable. Every request now
 * has a total deadline from accept (or from the end of the previous request
 * on a kept-alive connection) to its complete header; a connection past it
 * is shut down. The limits are raised so that a few dozen slow sockets
 * cannot fill them within that deadline. select() bounds fds to 1024. */
#define MAX_CONNECTIONS 256u
#define MAX_PER_IP 128u
#define IDLE_TIMEOUT_S 10u
#define REQUEST_DEADLINE_MS 5000
#define WATCH_EVERY_MS 250

/* One open connection, known from MHD's connection notifications. */
struct conn_slot {
	struct conn_slot *prev, *next;
	int fd;
	int64_t since_ms; /* accept, or end of the previous request */
	bool in_request;  /* its header is complete: being answered */
	bool cut;         /* shut down for passing the deadline */
};

struct http_server {
	struct MHD_Daemon *mhd;
	http_page_fn fn;
	void *ctx;
	pthread_mutex_t mu; /* guards slots, stop */
	pthread_cond_t cv;
	struct conn_slot *slots;
	bool stop;
	pthread_t watch;
	bool watch_started;
};

static int64_t now_ms(void);

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
	{
		/* The header is complete: the deadline no longer applies. */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct conn_slot *slot = ci ? ci->socket_context : NULL;
		if (slot) {
			pthread_mutex_lock(&s->mu);
			slot->in_request = true;
			pthread_mutex_unlock(&s->mu);
		}
	}
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

/* MHD_OPTION_NOTIFY_CONNECTION: keep a slot per open connection. MHD calls
 * CLOSED before it closes the socket, in its one polling thread, so a slot
 * never names a descriptor that was reused. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	struct conn_slot *slot = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		slot = calloc(1, sizeof *slot);
		if (!slot || !ci) {
			free(slot);
			*socket_context = NULL;
			return; /* untracked: only the inactivity timeout applies */
		}
		slot->fd = ci->connect_fd;
		slot->since_ms = now_ms();
		pthread_mutex_lock(&s->mu);
		slot->next = s->slots;
		if (s->slots)
			s->slots->prev = slot;
		s->slots = slot;
		pthread_mutex_unlock(&s->mu);
		*socket_context = slot;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && slot) {
		pthread_mutex_lock(&s->mu);
		if (slot->prev)
			slot->prev->next = slot->next;
		else
			s->slots = slot->next;
		if (slot->next)
			slot->next->prev = slot->prev;
		pthread_mutex_unlock(&s->mu);
		free(slot);
		*socket_context = NULL;
	}
}

/* MHD_OPTION_NOTIFY_COMPLETED: a kept-alive connection starts a new wait
 * for its next request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = ci ? ci->socket_context : NULL;

	(void)con_cls;
	(void)toe;
	if (!slot)
		return;
	pthread_mutex_lock(&s->mu);
	slot->in_request = false;
	slot->since_ms = now_ms();
	pthread_mutex_unlock(&s->mu);
}

/* Shut down (not close: the descriptor stays MHD's) every connection whose
 * request header did not arrive within REQUEST_DEADLINE_MS; MHD then reads
 * end-of-file and closes it. */
static void *watch_main(void *arg)
{
	struct http_server *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec until;
		int64_t now = now_ms();

		for (struct conn_slot *c = s->slots; c; c = c->next) {
			if (!c->in_request && !c->cut && now - c->since_ms > REQUEST_DEADLINE_MS) {
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
			}
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += WATCH_EVERY_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
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
	/* [::] means every address, IPv4 too (IPV6_V6ONLY off): Docker's
	 * networks are IPv4 unless IPv6 is switched on. */
	if (ss.ss_family == AF_INET6)
		flags |= IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)
				 ? MHD_USE_DUAL_STACK
				 : MHD_USE_IPv6;
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_INTERNAL, "out of memory");
	s->fn = fn;
	s->ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, MAX_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	if (!s->mhd) {
		int saved = errno;
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		err_errno(e, ERR_IO, saved ? saved : EADDRINUSE, "cannot listen on %s", listen);
		if ((saved ? saved : EADDRINUSE) == EADDRINUSE)
			err_suffix(e, "; hint: another process (another vigil?) holds that port: stop "
				   "it, or set HTTP_LISTEN to a free address:port");
		return -1;
	}
	/* Without the watcher only the inactivity timeout applies: degraded,
	 * not fatal. */
	s->watch_started = pthread_create(&s->watch, NULL, watch_main, s) == 0;
	*out = s;
	return 0;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->watch_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->watch, NULL);
	}
	/* MHD closes what is left and notifies CLOSED for each: slots go. */
	MHD_stop_daemon(s->mhd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
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
		/* [::] listens dual-stack (http_start), so ask 127.0.0.1: a
		 * container's loopback often has IPv6 switched off. */
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
			struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = in6->sin6_port };
			in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			memset(&ss, 0, sizeof ss);
			memcpy(&ss, &in4, sizeof in4);
			len = sizeof in4;
		}
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
