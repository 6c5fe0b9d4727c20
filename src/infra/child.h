/* child.h - running one child program and pumping its pipes: the one place
 * that does it (issue 10). pid1 spawns and reaps (it stays the only caller
 * of waitpid); this module feeds the child's stdin, reads its stdout and
 * stderr with one poll(2) on all of them at once (so a child that fills
 * one pipe while vigil waits on another cannot deadlock), keeps a bounded
 * tail of its stderr, honours the stop request (SIGTERM/SIGINT, and the
 * run's deadline, through pid1_stop_requested) and a deadline of its own,
 * and returns a typed result.
 *
 * Every child gets LC_MESSAGES=C (child_env): vigil quotes its messages
 * and must never have to understand a translation; an LC_ALL of the
 * operator's keeps applying to the data categories.
 *
 * Two ways to use it:
 *   child_run(&spec, &res, &e)            start, pump, reap in one call;
 *   child_start / child_write... / child_finish
 *                                          when the caller has something to
 *                                          do while the child runs (connect
 *                                          to the server) or pushes stdin
 *                                          from its own loop (restore).
 *
 * Example:
 *	char *argv[] = { "pg_restore", "--list", path, NULL };
 *	struct child_spec s = { .argv = argv, .envp = envp, .on_stdout = toc_take,
 *				.ctx = res, .deadline_ns = child_mono_ns() + 300 * CHILD_NS_PER_S };
 *	struct child_result r;
 *	if (child_run(&s, &r, e) < 0)   // stopped, timed out, or could not run
 *		return -1;
 *	if (!child_ok(&r)) ...          // r.status, r.tail say how it ended
 */
#ifndef VIGIL_CHILD_H
#define VIGIL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "infra/pid1.h"

#define CHILD_NS_PER_S 1000000000ull

/* Longest stderr line passed to on_stderr_line in one piece; a longer one
 * comes in pieces of this size. */
#define CHILD_LINE_MAX 4096

/* What to run and how to talk to it. Zero-initialise, then set what is
 * needed; every pointer is borrowed for the child's lifetime. */
struct child_spec {
	char *const *argv;  /* argv[0] is searched in PATH and names the child */
	char *const *envp;  /* NULL = vigil's own environment; a copy gets
			     * child_env's locale rule either way. Secrets are the
			     * caller's business (db_tool_env, db_child_env). */

	/* stdin: at most one of produce, in/in_len and push; none = /dev/null.
	 * produce fills buf (cap bytes) and returns the count, 0 at the end
	 * (stdin is then closed), -1 with e set to give up. push: the caller
	 * writes with child_write and ends with child_close_stdin. */
	ssize_t (*produce)(void *ctx, char *buf, size_t cap, struct err *e);
	const void *in;
	size_t in_len;
	bool push;

	/* stdout: each chunk read (n > 0) goes to on_stdout, which returns 0
	 * or -1 with e set to give up; NULL = /dev/null. */
	int (*on_stdout)(void *ctx, const char *buf, size_t n, struct err *e);
	/* stderr is always read into the result's tail; on_stderr_line, when
	 * set, also gets each line without its newline (see CHILD_LINE_MAX). */
	void (*on_stderr_line)(void *ctx, const char *line, size_t n);
	void *ctx;          /* passed to the callbacks */

	uint64_t deadline_ns; /* CLOCK_MONOTONIC instant (child_mono_ns); 0 = none */
	int stop_signal;    /* sent to the group on a stop request, the deadline or
			     * a callback's failure; 0 = SIGTERM. A child still
			     * running CHILD_KILL_GRACE_S later gets SIGKILL. */
	int stdout_pipe_size; /* F_SETPIPE_SZ for stdout (pipe(7)); 0 = default */
};

/* After the child itself has ended, its pipes are read until they stay
 * empty this long (s); then whatever a descendant still holds open is
 * closed (child_finish). */
#define CHILD_DRAIN_S 2

/* A child still running this long after stop_signal is killed (SIGKILL). */
#define CHILD_KILL_GRACE_S 5

/* How a child ended. */
struct child_result {
	bool exited;        /* it called exit: code holds the status */
	bool signalled;     /* a signal ended it: signo holds it */
	int code;           /* exit status (0-255) when exited */
	int signo;          /* terminating signal when signalled */
	int status;         /* raw wait status, for pid1_describe / pid1_ok */
	bool stopped;       /* a stop request ended it (ERR_INTERRUPTED) */
	bool timed_out;     /* deadline_ns ended it (ERR_TIMEOUT) */
	int stop_signo;     /* with stopped: pid1_stop_requested's value
			     * (SIGTERM, SIGINT or PID1_DEADLINE) */
	bool stdin_refused; /* it closed its stdin before taking all input */
	uint64_t out_bytes; /* bytes read from its stdout */
	struct child_tail tail; /* the last bytes of its stderr (pid1_tail_text) */
};

/* A running child; caller-owned (usually on the stack). Its fields are
 * child.c's, except res, which the caller may read while the child runs
 * (res.stdin_refused after child_write, res.tail). Between a successful
 * child_start and child_finish it holds the child: child_finish must be
 * called exactly once. */
struct child_proc {
	struct child c;
	struct child_spec spec;
	struct child_result res;
	struct err failed;       /* the first failure (code ERR_OK: none) */
	bool killed;             /* stop_signal sent */
	bool sigkilled;          /* and SIGKILL after the grace period */
	uint64_t kill_ns;        /* when stop_signal was sent */
	const char *in_p;        /* unwritten stdin bytes */
	size_t in_left;
	bool in_eof;             /* produce said end (or a buffer is all queued) */
	int out_pipe_size;       /* stdout's pipe size (fcntl), <= 0 unknown */
	char *buf;               /* read buffer (CHILD_READ_CHUNK bytes) */
	char *inbuf;             /* produce's buffer */
	char line[CHILD_LINE_MAX];
	size_t line_len;
	uint64_t n_reads;        /* reads that got bytes, for child_finish's drain */
};

/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds, for deadline_ns. */
uint64_t child_mono_ns(void);

/* Start spec's child (pid1_spawn: own process group, pipes for the streams
 * spec uses). p is filled; spec is copied (its pointees stay borrowed).
 * Returns 0, or -1 with e set (ERR_CHILD: cannot fork or pipe; a program
 * that cannot be executed exits 127 with the reason on its stderr;
 * ERR_INTERNAL: out of memory) and nothing to finish. */
int child_start(struct child_proc *p, const struct child_spec *spec, struct err *e);

/* For spec.push: write n bytes to the child's stdin, pumping its stdout
 * and stderr meanwhile. Returns 0 when all were written or when the child
 * closed its stdin (then p->res.stdin_refused is true and the rest is
 * dropped), -1 with e set when a stop request, the deadline, a callback or
 * a system call ended the run: the child's group was signalled, and
 * child_finish still reaps it (and returns the same error). */
int child_write(struct child_proc *p, const void *buf, size_t n, struct err *e);

/* The size of the child's stdout pipe in bytes (after spec.stdout_pipe_size,
 * which the kernel may refuse: pipe(7), F_SETPIPE_SZ), 0 when unknown or
 * not piped. */
int child_stdout_pipe_size(const struct child_proc *p);

/* For spec.push: the end of the child's input (closes its stdin). */
void child_close_stdin(struct child_proc *p);

/* Signal the child's whole process group (pid1_kill); child_finish then
 * reaps it as usual (SIGKILL: without reading its pipes to their end; any
 * other signal starts the CHILD_KILL_GRACE_S grace period). For a caller
 * that no longer wants the child; not a failure of the run. */
void child_kill(struct child_proc *p, int sig);

/* Feed the rest of stdin (produce, buffer), read stdout and stderr to
 * their end, reap the child and fill *r (may be NULL; p->res holds it
 * too). Returns 0 when the child ran to its own end, whatever its status
 * (child_ok tells), or -1 with e set:
 *   ERR_INTERRUPTED, e->signo = the stop signal (r->stopped): a stop
 *     request; message "stopped by signal N (Name); <prog> terminated";
 *   ERR_TIMEOUT (r->timed_out): deadline_ns passed; message "<prog> did
 *     not finish within its time limit and was killed";
 *   a callback's own error, ERR_CHILD / ERR_INTERNAL (poll, wait).
 * In each case the group was signalled (stop_signal, SIGKILL after
 * CHILD_KILL_GRACE_S) and reaped; r says how it ended. */
int child_finish(struct child_proc *p, struct child_result *r, struct err *e);

/* Move p's deadline (CLOCK_MONOTONIC ns, child_mono_ns; 0 = none) before
 * child_finish: for a child started early whose answer is only awaited
 * later (the --version check runs while vigil connects to the server, and
 * its limit counts from when vigil waits for it). */
void child_set_deadline(struct child_proc *p, uint64_t deadline_ns);

/* child_start then child_finish. r is zeroed first, so it is all false and
 * 0 when the child could not be started (-1, e set by child_start). */
int child_run(const struct child_spec *spec, struct child_result *r, struct err *e);

/* True when r is a normal exit with status 0. */
bool child_ok(const struct child_result *r);

/* "exited 1", "killed by signal 9 (Killed)" (pid1_describe). */
void child_describe(const struct child_result *r, char *out, size_t n);

/* The stderr tail as one line (pid1_tail_text). */
void child_tail_text(const struct child_result *r, char *out, size_t n);

/* A malloc'd copy of base (NULL = vigil's environment) with the locale
 * rule applied (child_env_locale). Free with util_free_strv; NULL when out
 * of memory. */
char **child_env(char *const *base);

/* The locale rule of every child, on the environment vector *v (count *n,
 * NULL-ended, malloc'd strings): LC_MESSAGES=C, and an LC_ALL of vigil's
 * (getenv) turned into the same value for LC_CTYPE, LC_COLLATE,
 * LC_NUMERIC, LC_TIME and LC_MONETARY (LC_ALL itself dropped, as it would
 * override LC_MESSAGES). setlocale(3), locale(7). Applying it twice gives
 * the same vector. Returns 0 or -1 when out of memory. */
int child_env_locale(char ***v, size_t *n);

/* Set name=value in the environment vector *v (count *n): an existing
 * entry of that name is replaced. Returns 0 or -1 when out of memory. */
int child_env_set(char ***v, size_t *n, const char *name, const char *value);

#endif
