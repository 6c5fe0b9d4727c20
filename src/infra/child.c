/* child.c - see child.h: one child program run through pid1, its pipes
 * pumped with poll(2), its environment given the locale rule. */
#include "infra/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

extern char **environ;

/* One read takes at most this much (pg_dump's 1 MiB pipe in one go). */
#define CHILD_READ_CHUNK (1u << 20)
/* What produce is asked for at a time. */
#define CHILD_FEED_CHUNK (256u << 10)
/* The longest poll: a stop request (a blocked signal, which does not
 * interrupt poll) is seen within this time. */
#define CHILD_POLL_MS 100
/* Between looks at a child whose pipes are all closed but which has not
 * been reaped yet. */
#define CHILD_REAP_NAP_NS 5000000L

uint64_t child_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CHILD_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- environment ---- */

int child_env_set(char ***v, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2, nl = strlen(name);
	char *s = malloc(len), **nv;

	if (!s)
		return -1;
	snprintf(s, len, "%s=%s", name, value);
	for (size_t i = 0; i < *n; i++) {
		if (strncmp((*v)[i], name, nl) == 0 && (*v)[i][nl] == '=') {
			free((*v)[i]);
			(*v)[i] = s;
			return 0;
		}
	}
	nv = realloc(*v, (*n + 2) * sizeof **v);
	if (!nv) {
		free(s);
		return -1;
	}
	*v = nv;
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

/* Messages in English for every PostgreSQL tool vigil runs, whatever
 * locale the operator set (setlocale(3), locale(7)): vigil quotes them in
 * logs that its tests and hints read, and never has to understand a
 * translation. LC_ALL would override LC_MESSAGES, so an LC_ALL of the
 * operator's is turned into the same value for every other category it
 * covers (data keep its collation, character type and formats). -1 when
 * out of memory. */
int child_env_locale(char ***v, size_t *n)
{
	static const char *const cats[] = { "LC_CTYPE", "LC_COLLATE", "LC_NUMERIC", "LC_TIME",
					     "LC_MONETARY" };
	const char *all = getenv("LC_ALL");

	if (all && *all) {
		for (size_t i = 0; i < *n; i++) {
			if (strncmp((*v)[i], "LC_ALL=", 7) == 0) {
				free((*v)[i]);
				memmove(&(*v)[i], &(*v)[i + 1], (*n - i) * sizeof **v);
				(*n)--;
				break;
			}
		}
		for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++)
			if (child_env_set(v, n, cats[i], all) < 0)
				return -1;
	}
	return child_env_set(v, n, "LC_MESSAGES", "C");
}

char **child_env(char *const *base)
{
	char *const *src = base ? base : environ;
	size_t n = 0, k = 0;
	char **v;

	while (src && src[n])
		n++;
	v = calloc(n + 1, sizeof *v);
	if (!v)
		return NULL;
	for (; k < n; k++) {
		v[k] = strdup(src[k]);
		if (!v[k])
			goto fail;
	}
	if (child_env_locale(&v, &k) < 0)
		goto fail;
	return v;
fail:
	util_free_strv(v);
	return NULL;
}

/* ---- the pump ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int stop_sig(const struct child_proc *p)
{
	return p->spec.stop_signal ? p->spec.stop_signal : SIGTERM;
}

/* Send the stop signal once; the grace period runs from here. */
static void kill_once(struct child_proc *p)
{
	if (p->killed)
		return;
	p->killed = true;
	p->kill_ns = child_mono_ns();
	pid1_kill(&p->c, stop_sig(p));
}

/* The end of the child's input: nothing more is written. */
static void close_stdin(struct child_proc *p)
{
	close_fd(&p->c.in);
	p->in_left = 0;
	p->in_eof = true;
}

/* Record the run's first failure (e) and stop the child. Returns -1. */
static int fail(struct child_proc *p, const struct err *e)
{
	if (p->failed.code == ERR_OK)
		p->failed = *e;
	close_stdin(p);
	kill_once(p);
	return -1;
}

/* A stop request or the deadline: fail the run. Returns -1 when one came
 * (or an earlier failure stands), else 0. */
static int check_stop(struct child_proc *p)
{
	struct err e;
	int sig;

	if (p->failed.code != ERR_OK)
		return -1;
	err_clear(&e);
	if ((sig = pid1_stop_requested()) != 0) {
		p->res.stopped = true;
		p->res.stop_signo = sig;
		e.code = ERR_INTERRUPTED;
		e.signo = sig;
		if (sig == PID1_DEADLINE) /* pid1's stand-in, not a signal anyone sent */
			snprintf(e.msg, sizeof e.msg, "stopped at the run's deadline "
				 "(BACKUP_RUN_TIMEOUT); %s terminated", p->c.name);
		else
			snprintf(e.msg, sizeof e.msg, "stopped by signal %d (%s); %s terminated", sig,
				 strsignal(sig), p->c.name);
		return fail(p, &e);
	}
	if (p->spec.deadline_ns && child_mono_ns() >= p->spec.deadline_ns) {
		p->res.timed_out = true;
		err_set(&e, ERR_TIMEOUT, "%s did not finish within its time limit and was killed",
			p->c.name);
		return fail(p, &e);
	}
	return 0;
}

/* After the stop signal: SIGKILL once the grace period is over. Returns
 * true once SIGKILL was sent. */
static bool check_grace(struct child_proc *p)
{
	if (p->killed && !p->sigkilled && p->c.pid > 0 &&
	    child_mono_ns() - p->kill_ns >= (uint64_t)CHILD_KILL_GRACE_S * CHILD_NS_PER_S) {
		pid1_kill(&p->c, SIGKILL);
		p->sigkilled = true;
	}
	return p->sigkilled;
}

/* How long the next poll may wait (ms): CHILD_POLL_MS, or less before the
 * deadline. */
static int poll_ms(const struct child_proc *p)
{
	uint64_t now, left;

	if (!p->spec.deadline_ns || p->killed)
		return CHILD_POLL_MS;
	now = child_mono_ns();
	if (now >= p->spec.deadline_ns)
		return 0;
	left = (p->spec.deadline_ns - now + 999999) / 1000000;
	return left < CHILD_POLL_MS ? (int)left : CHILD_POLL_MS;
}

/* Queue the next stdin bytes from produce when none are pending. Returns
 * 0 or -1 (the run failed). */
static int refill_stdin(struct child_proc *p)
{
	struct err e;
	ssize_t got;

	if (p->c.in < 0 || p->in_left || p->in_eof || !p->spec.produce)
		return 0;
	err_clear(&e);
	got = p->spec.produce(p->spec.ctx, p->inbuf, CHILD_FEED_CHUNK, &e);
	if (got < 0)
		return fail(p, &e);
	if (got == 0) {
		close_stdin(p);
		return 0;
	}
	p->in_p = p->inbuf;
	p->in_left = (size_t)got;
	return 0;
}

/* The child closed its stdin: what was not written is dropped. */
static void stdin_refused(struct child_proc *p)
{
	if (p->in_left || !p->in_eof)
		p->res.stdin_refused = true;
	close_stdin(p);
}

static int write_stdin(struct child_proc *p)
{
	ssize_t w = write(p->c.in, p->in_p, p->in_left);
	struct err e;

	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == EPIPE) {
			stdin_refused(p);
			return 0;
		}
		err_errno(&e, ERR_CHILD, errno, "cannot write to %s", p->c.name);
		return fail(p, &e);
	}
	p->in_p += w;
	p->in_left -= (size_t)w;
	if (!p->in_left && p->in_eof && !p->spec.push)
		close_stdin(p); /* the buffer (or produce's last bytes) is all written */
	return 0;
}

/* Pass complete stderr lines of buf[0..n) to on_stderr_line. */
static void stderr_lines(struct child_proc *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			p->spec.on_stderr_line(p->spec.ctx, p->line, p->line_len);
			p->line_len = 0;
			continue;
		}
		if (p->line_len == sizeof p->line) {
			p->spec.on_stderr_line(p->spec.ctx, p->line, p->line_len);
			p->line_len = 0;
		}
		p->line[p->line_len++] = buf[i];
	}
}

/* One read from *fd (stdout or stderr), handed on. At the end of the
 * stream (or a read error) the pipe is closed. */
static void read_pipe(struct child_proc *p, int *fd)
{
	ssize_t got = read(*fd, p->buf, CHILD_READ_CHUNK);
	struct err e;

	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got > 0)
		p->n_reads++;
	if (got <= 0) {
		if (fd == &p->c.errfd && p->line_len && p->spec.on_stderr_line) {
			p->spec.on_stderr_line(p->spec.ctx, p->line, p->line_len);
			p->line_len = 0;
		}
		close_fd(fd);
		return;
	}
	if (fd == &p->c.errfd) {
		pid1_tail_add(&p->res.tail, p->buf, (size_t)got);
		if (p->spec.on_stderr_line)
			stderr_lines(p, p->buf, (size_t)got);
		return;
	}
	if (p->failed.code != ERR_OK)
		return; /* drained so the child is not stuck; it is being stopped */
	p->res.out_bytes += (uint64_t)got;
	err_clear(&e);
	if (p->spec.on_stdout(p->spec.ctx, p->buf, (size_t)got, &e) < 0)
		fail(p, &e);
}

/* One round: wait (poll) for any of the child's pipes, then serve each
 * ready one once. After a failure the pipes are still drained (stdout's
 * bytes dropped), so that the stopped child can end. Returns 0, or -1 when
 * the run failed (now or before). */
static int pump(struct child_proc *p)
{
	struct pollfd pf[3];
	int *fds[3];
	int np = 0, ready;
	struct err e;

	(void)check_stop(p);
	(void)refill_stdin(p);
	if (p->c.in >= 0 && p->in_left) {
		fds[np] = &p->c.in;
		pf[np++] = (struct pollfd){ .fd = p->c.in, .events = POLLOUT };
	}
	if (p->c.out >= 0) {
		fds[np] = &p->c.out;
		pf[np++] = (struct pollfd){ .fd = p->c.out, .events = POLLIN };
	}
	if (p->c.errfd >= 0) {
		fds[np] = &p->c.errfd;
		pf[np++] = (struct pollfd){ .fd = p->c.errfd, .events = POLLIN };
	}
	if (np == 0)
		return p->failed.code != ERR_OK ? -1 : 0;
	ready = poll(pf, (nfds_t)np, poll_ms(p));
	if (ready < 0 && errno != EINTR) {
		err_errno(&e, ERR_INTERNAL, errno, "poll");
		return fail(p, &e);
	}
	for (int i = 0; ready > 0 && i < np; i++) {
		if (*fds[i] < 0 || !pf[i].revents)
			continue;
		if (fds[i] == &p->c.in) {
			if (pf[i].revents & (POLLERR | POLLHUP))
				stdin_refused(p);
			else
				(void)write_stdin(p);
		} else if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			read_pipe(p, fds[i]);
		}
	}
	return p->failed.code != ERR_OK ? -1 : 0;
}

int child_start(struct child_proc *p, const struct child_spec *spec, struct err *e)
{
	int pipes = CHILD_STDERR;
	char **envp;

	memset(p, 0, sizeof *p);
	p->c = (struct child){ .pid = -1, .in = -1, .out = -1, .errfd = -1 };
	p->spec = *spec;
	if (spec->produce || spec->in || spec->push)
		pipes |= CHILD_STDIN;
	if (spec->on_stdout)
		pipes |= CHILD_STDOUT;
	p->in_p = spec->in;
	p->in_left = spec->in ? spec->in_len : 0;
	p->in_eof = !spec->produce && !spec->push;
	envp = child_env(spec->envp);
	p->buf = malloc(CHILD_READ_CHUNK);
	p->inbuf = spec->produce ? malloc(CHILD_FEED_CHUNK) : NULL;
	if (!envp || !p->buf || (spec->produce && !p->inbuf)) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto fail;
	}
	if (pid1_spawn(&p->c, spec->argv, envp, pipes, e) < 0)
		goto fail;
	util_free_strv(envp);
	if (p->c.in >= 0)
		fcntl(p->c.in, F_SETFL, fcntl(p->c.in, F_GETFL) | O_NONBLOCK);
	if (p->c.out >= 0 && spec->stdout_pipe_size > 0)
		p->out_pipe_size = fcntl(p->c.out, F_SETPIPE_SZ, spec->stdout_pipe_size);
	if (p->c.out >= 0 && p->out_pipe_size <= 0)
		p->out_pipe_size = fcntl(p->c.out, F_GETPIPE_SZ);
	if (p->c.in >= 0 && spec->in && !p->in_left)
		close_stdin(p); /* an empty buffer: at once the end of input */
	return 0;
fail:
	util_free_strv(envp);
	free(p->buf);
	free(p->inbuf);
	p->buf = p->inbuf = NULL;
	return -1;
}

int child_write(struct child_proc *p, const void *buf, size_t n, struct err *e)
{
	if (p->failed.code == ERR_OK && p->c.in >= 0) {
		p->in_p = buf;
		p->in_left = n;
		while (p->in_left && p->c.in >= 0)
			if (pump(p) < 0)
				break;
		p->in_left = 0;
	}
	if (p->failed.code != ERR_OK) {
		if (e)
			*e = p->failed;
		return -1;
	}
	return 0;
}

int child_stdout_pipe_size(const struct child_proc *p)
{
	return p->out_pipe_size > 0 ? p->out_pipe_size : 0;
}

void child_close_stdin(struct child_proc *p)
{
	close_stdin(p);
}

void child_kill(struct child_proc *p, int sig)
{
	if (!p->killed) {
		p->killed = true;
		p->kill_ns = child_mono_ns();
	}
	if (sig == SIGKILL)
		p->sigkilled = true;
	pid1_kill(&p->c, sig);
}

/* Reap the child once its pipes are closed, still honouring the stop
 * request, the deadline and the grace period. Returns 0 or -1 (a wait
 * error, recorded as the run's failure). */
static int reap(struct child_proc *p)
{
	struct timespec nap = { 0, CHILD_REAP_NAP_NS };
	struct err e;
	int r;

	err_clear(&e);
	while ((r = pid1_try_wait(&p->c, &p->res.status, &e)) == 0) {
		(void)check_stop(p);
		(void)check_grace(p);
		nanosleep(&nap, NULL);
	}
	if (r < 0) {
		if (p->failed.code == ERR_OK)
			p->failed = e;
		return -1;
	}
	if (WIFEXITED(p->res.status)) {
		p->res.exited = true;
		p->res.code = WEXITSTATUS(p->res.status);
	} else if (WIFSIGNALED(p->res.status)) {
		p->res.signalled = true;
		p->res.signo = WTERMSIG(p->res.status);
	}
	return 0;
}

int child_finish(struct child_proc *p, struct child_result *r, struct err *e)
{
	if (p->spec.push)
		close_stdin(p);
	bool ended = false;
	uint64_t quiet_since = 0;

	/* Once SIGKILLed, the pipes are not read to their end: one held open
	 * elsewhere must not hold us. Likewise once the child itself has
	 * ended: its pipes are read as long as bytes come; when a whole
	 * CHILD_DRAIN_S passed without one (counted after the consumers
	 * returned), the pipes a descendant it left behind (`sleep 600 &`)
	 * still holds open are closed, instead of waiting for that descendant
	 * until the deadline. Nothing the child wrote is lost: a pipe that
	 * still holds bytes is readable at once, and each read restarts the
	 * wait. */
	while ((p->c.in >= 0 || p->c.out >= 0 || p->c.errfd >= 0) && !check_grace(p)) {
		uint64_t before = p->n_reads, now;
		(void)pump(p);
		now = child_mono_ns();
		if (p->n_reads != before)
			quiet_since = now;
		if (!ended && pid1_exited(&p->c)) {
			ended = true;
			quiet_since = now;
		}
		if (ended && now - quiet_since >= (uint64_t)CHILD_DRAIN_S * CHILD_NS_PER_S) {
			close_stdin(p);
			close_fd(&p->c.out);
			close_fd(&p->c.errfd);
		}
	}
	(void)reap(p);
	free(p->buf);
	free(p->inbuf);
	p->buf = p->inbuf = NULL;
	if (r)
		*r = p->res;
	if (p->failed.code != ERR_OK) {
		if (e)
			*e = p->failed;
		return -1;
	}
	return 0;
}

void child_set_deadline(struct child_proc *p, uint64_t deadline_ns)
{
	p->spec.deadline_ns = deadline_ns;
}

int child_run(const struct child_spec *spec, struct child_result *r, struct err *e)
{
	struct child_proc p;

	memset(r, 0, sizeof *r); /* a child that never started: nothing to report */
	if (child_start(&p, spec, e) < 0)
		return -1;
	return child_finish(&p, r, e);
}

bool child_ok(const struct child_result *r)
{
	return r->exited && r->code == 0;
}

void child_describe(const struct child_result *r, char *out, size_t n)
{
	pid1_describe(r->status, out, n);
}

void child_tail_text(const struct child_result *r, char *out, size_t n)
{
	pid1_tail_text(&r->tail, out, n);
}
