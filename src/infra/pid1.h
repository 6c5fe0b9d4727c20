/* pid1.h - the one owner of child processes (docs/design.md "Children").
 *
 * Children are spawned in their own process group (so a whole pipeline can
 * be stopped at once) with the signal mask and dispositions reset before
 * exec, and with pipes for the stdio streams the caller asks for.
 * pid1_wait() is the only place in vigil that calls waitpid().
 */
#ifndef VIGIL_PID1_H
#define VIGIL_PID1_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

enum {
	CHILD_STDIN = 1,   /* parent writes child's stdin through c->in */
	CHILD_STDOUT = 2,  /* parent reads child's stdout through c->out */
	CHILD_STDERR = 4,  /* parent reads child's stderr through c->errfd */
};

struct child {
	pid_t pid;  /* also the process group id */
	int in;     /* -1 when not piped */
	int out;
	int errfd;
	char name[64]; /* program name for messages */
};

/* Block the asynchronous signals vigil takes synchronously (TERM, INT, HUP,
 * CHLD, QUIT, USR1, USR2) and ignore SIGPIPE. Call first in main, before any
 * library can start a thread, so every thread inherits the mask. */
void pid1_block_signals(void);

/* Spawn argv[0] (searched in PATH) with environment envp (NULL = inherit),
 * in a new process group; streams not piped are /dev/null (stdin, stdout)
 * or inherited (stderr). The child's mask is restored and SIGPIPE reset
 * before exec. Returns 0 with c filled, or -1 with e set (ERR_CHILD). A
 * program that cannot be executed exits 127 in the child with a message on
 * its stderr. */
int pid1_spawn(struct child *c, char *const argv[], char *const envp[], int pipes,
	       struct err *e);

/* As pid1_spawn, but execute the program at path (no PATH search), with
 * argv[0] as its name. */
int pid1_spawn_path(struct child *c, const char *path, char *const argv[], char *const envp[],
		    int pipes, struct err *e);

/* Reap one ended child of any pid without blocking (orphans adopted by PID
 * 1 included). Returns its pid with *status set, 0 when none has ended,
 * -1 when there are no children. */
pid_t pid1_reap_any(int *status);

/* Wait at most timeout_ms for one of the blocked signals; returns its
 * number, or 0 on timeout. SIGTERM/SIGINT also set the stop request. */
int pid1_wait_signal(int timeout_ms);

/* Wait for c to end. *status gets the raw wait
 * status. Closes any pipe still open. Returns 0 or -1 with e set. */
int pid1_wait(struct child *c, int *status, struct err *e);

/* Reap c if it has ended, without blocking (waitpid WNOHANG on its pid):
 * returns 1 with *status set (its pipes closed, c->pid -1), 0 while it
 * still runs, -1 with e set (ERR_CHILD, ERR_INTERNAL). */
int pid1_try_wait(struct child *c, int *status, struct err *e);

/* True when c has ended (exited or killed) but is not reaped yet; the
 * zombie stays for pid1_wait / pid1_try_wait (waitid(2) with WNOWAIT). For
 * a caller that drains the pipes of a child whose descendants may hold
 * them open. */
bool pid1_exited(const struct child *c);

/* Signal c's whole process group. */
void pid1_kill(struct child *c, int sig);

/* Describe a wait status: "exited 1", "killed by signal 9 (Killed)". */
void pid1_describe(int status, char *out, size_t n);

/* True when status is a normal exit with code 0. */
bool pid1_ok(int status);

/* A pending SIGTERM/SIGINT taken synchronously (0 when none), or
 * PID1_DEADLINE once the deadline set by pid1_set_deadline has passed. Jobs
 * poll this between blocks so that a stop request ends them promptly; they
 * report PID1_DEADLINE like a signal (ERR_INTERRUPTED, signo PID1_DEADLINE)
 * and the job's top turns it into ERR_TIMEOUT. */
int pid1_stop_requested(void);

/* For an interactive prompt only: take a pending SIGHUP (the terminal went
 * away) or SIGQUIT (^\), which vigil keeps blocked like every asynchronous
 * signal, and return its number (0 when none is pending). The daemon gives
 * SIGHUP another meaning (reopen the log) and never calls this. */
int pid1_take_hangup(void);

/* The pseudo-signal pid1_stop_requested returns after the deadline. SIGALRM
 * is never blocked or taken by vigil, so it cannot be a real stop request. */
#define PID1_DEADLINE SIGALRM

/* Give this process a deadline `seconds` from now (monotonic clock, so a
 * wall-clock jump does not move it); 0 or less clears it. */
void pid1_set_deadline(long seconds);

/* The last bytes a child wrote to its stderr (bounded), for error messages. */
struct child_tail {
	char buf[8192];
	size_t len;
};

/* Append n bytes, keeping only the newest sizeof buf bytes. */
void pid1_tail_add(struct child_tail *t, const char *p, size_t n);

/* The tail as one line (newlines become " | "), at most n bytes, preferring
 * the first line that carries "error" or "FATAL" and what follows it. */
void pid1_tail_text(const struct child_tail *t, char *out, size_t n);
#endif
