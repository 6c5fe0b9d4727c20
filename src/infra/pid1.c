/* pid1.c - see pid1.h. Model: tini (src/tini.c): no signal handlers; signals
 * blocked at start and taken with sigtimedwait; children in their own
 * process groups with the mask restored before exec. */
#include "infra/pid1.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static sigset_t blocked;
static sigset_t saved_mask;
static int stop_signal;
static struct timespec deadline; /* CLOCK_MONOTONIC; 0 = none */

void pid1_set_deadline(long seconds)
{
	if (seconds <= 0) {
		deadline.tv_sec = 0;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
}

static bool deadline_passed(void)
{
	struct timespec now;

	if (deadline.tv_sec == 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

void pid1_block_signals(void)
{
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGQUIT);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGUSR2);
	sigprocmask(SIG_BLOCK, &blocked, &saved_mask);
	signal(SIGPIPE, SIG_IGN);
}

int pid1_stop_requested(void)
{
	sigset_t stop;
	struct timespec zero = { 0, 0 };
	int sig;

	if (stop_signal)
		return stop_signal;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sig = sigtimedwait(&stop, NULL, &zero);
	if (sig > 0)
		stop_signal = sig;
	else if (deadline_passed())
		return PID1_DEADLINE; /* not sticky: a real signal still wins later */
	return stop_signal;
}

int pid1_take_hangup(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sig = sigtimedwait(&set, NULL, &zero);
	return sig > 0 ? sig : 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int pid1_spawn(struct child *c, char *const argv[], char *const envp[], int pipes,
	       struct err *e)
{
	return pid1_spawn_path(c, NULL, argv, envp, pipes, e);
}

int pid1_spawn_path(struct child *c, const char *path, char *const argv[], char *const envp[],
		    int pipes, struct err *e)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	pid_t pid;

	c->pid = -1;
	c->in = c->out = c->errfd = -1;
	snprintf(c->name, sizeof c->name, "%s", argv[0]);
	if (((pipes & CHILD_STDIN) && pipe2(pin, O_CLOEXEC) < 0) ||
	    ((pipes & CHILD_STDOUT) && pipe2(pout, O_CLOEXEC) < 0) ||
	    ((pipes & CHILD_STDERR) && pipe2(perr, O_CLOEXEC) < 0)) {
		err_errno(e, ERR_CHILD, errno, "cannot create a pipe for %s", argv[0]);
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err_errno(e, ERR_CHILD, errno, "cannot start %s", argv[0]);
		goto fail;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		dup2(pin[0] >= 0 ? pin[0] : devnull, 0);
		dup2(pout[1] >= 0 ? pout[1] : devnull, 1);
		if (perr[1] >= 0)
			dup2(perr[1], 2);
		if (path)
			execve(path, argv, envp ? envp : environ);
		else if (envp)
			execvpe(argv[0], argv, envp);
		else
			execvp(argv[0], argv);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(EXIT_EXEC_FAILED);
	}
	/* Also from the parent, so a signal to the group cannot race exec. */
	setpgid(pid, pid);
	c->pid = pid;
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	c->in = pin[1];
	c->out = pout[0];
	c->errfd = perr[0];
	return 0;
fail:
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	return -1;
}

/* The only waitpid() call in vigil (docs/design.md "Children"). */
static pid_t reap(pid_t pid, int *status, int flags)
{
	pid_t r;

	do
		r = waitpid(pid, status, flags);
	while (r < 0 && errno == EINTR);
	return r;
}

pid_t pid1_reap_any(int *status)
{
	pid_t r = reap(-1, status, WNOHANG);

	return r < 0 && errno == ECHILD ? -1 : r < 0 ? -1 : r;
}

int pid1_wait_signal(int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
	int sig = sigtimedwait(&blocked, NULL, &ts);

	if (sig > 0 && (sig == SIGTERM || sig == SIGINT) && !stop_signal)
		stop_signal = sig;
	return sig > 0 ? sig : 0;
}

int pid1_wait(struct child *c, int *status, struct err *e)
{
	close_fd(&c->in);
	close_fd(&c->out);
	close_fd(&c->errfd);
	if (c->pid <= 0)
		return err_set(e, ERR_INTERNAL, "no child to wait for");
	if (reap(c->pid, status, 0) != c->pid)
		return err_errno(e, ERR_CHILD, errno, "cannot wait for %s", c->name);
	c->pid = -1;
	return 0;
}

int pid1_try_wait(struct child *c, int *status, struct err *e)
{
	pid_t r;

	if (c->pid <= 0)
		return err_set(e, ERR_INTERNAL, "no child to wait for");
	r = reap(c->pid, status, WNOHANG);
	if (r == 0)
		return 0;
	if (r != c->pid)
		return err_errno(e, ERR_CHILD, errno, "cannot wait for %s", c->name);
	close_fd(&c->in);
	close_fd(&c->out);
	close_fd(&c->errfd);
	c->pid = -1;
	return 1;
}

bool pid1_exited(const struct child *c)
{
	siginfo_t info;

	if (c->pid <= 0)
		return false;
	memset(&info, 0, sizeof info);
	/* WNOWAIT: look, leave the zombie for pid1_wait / pid1_try_wait. */
	if (waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return info.si_pid == c->pid;
}

void pid1_kill(struct child *c, int sig)
{
	if (c->pid > 0)
		kill(-c->pid, sig);
}

void pid1_describe(int status, char *out, size_t n)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, n, "ended with status 0x%x", (unsigned)status);
}

bool pid1_ok(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void pid1_tail_add(struct child_tail *t, const char *p, size_t n)
{
	if (n >= sizeof t->buf) {
		memcpy(t->buf, p + n - sizeof t->buf, sizeof t->buf);
		t->len = sizeof t->buf;
		return;
	}
	if (t->len + n > sizeof t->buf) {
		size_t drop = t->len + n - sizeof t->buf;
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

void pid1_tail_text(const struct child_tail *t, char *out, size_t n)
{
	char conv[sizeof t->buf * 3 + 1];
	size_t o = 0, start = 0;
	const char *err_line = NULL;

	if (n == 0)
		return;
	/* Prefer the first "error:" / "ERROR:" / "FATAL:" line and what follows. */
	for (size_t i = 0; i < t->len; i++) {
		if ((i == 0 || t->buf[i - 1] == '\n') && t->len - i > 6) {
			const char *l = t->buf + i;
			const char *nl = memchr(l, '\n', t->len - i);
			size_t ll = nl ? (size_t)(nl - l) : t->len - i;
			if (!err_line && (memmem(l, ll, "error", 5) || memmem(l, ll, "ERROR", 5) ||
			    memmem(l, ll, "FATAL", 5)))
				err_line = l;
		}
	}
	if (err_line)
		start = (size_t)(err_line - t->buf);
	for (size_t i = start; i < t->len; i++) {
		char c = t->buf[i];
		if (c == '\n') {
			if (i + 1 < t->len) {
				memcpy(conv + o, " | ", 3);
				o += 3;
			}
		} else if (c != '\r') {
			/* Control bytes (escape sequences, NUL) would reach
			 * terminals and log files as they are, and a NUL would cut
			 * the message: shown as '?'. Other bytes pass. */
			conv[o++] = (unsigned char)c < 0x20 || c == 0x7f ? '?' : c;
		}
	}
	/* Keep the newest bytes when it does not fit. */
	start = o > n - 1 ? o - (n - 1) : 0;
	memcpy(out, conv + start, o - start);
	out[o - start] = '\0';
}
