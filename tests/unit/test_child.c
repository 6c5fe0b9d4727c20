/* test_child.c - unit tests for src/infra/child.c with real children (/bin/sh):
 * a child that fills its stderr pipe before writing stdout does not
 * deadlock, a hanging child ends at its deadline, a stop request ends a
 * child, stdin is fed while the child writes a lot to stderr, and exit
 * statuses and signals are reported (issue 10, "Done when").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra/child.h"
#include "base/err.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "unit.h"

#define MIB (1u << 20)

/* What a child wrote to stdout, collected. */
struct sink {
	char *buf;
	size_t len, cap;
	int fail_after; /* > 0: fail on that call */
	int calls;
};

static int collect(void *ctx, const char *buf, size_t n, struct err *e)
{
	struct sink *s = ctx;

	if (s->fail_after && ++s->calls >= s->fail_after)
		return err_set(e, ERR_NOSPACE, "the sink is full");
	if (s->len + n + 1 > s->cap) {
		size_t cap = (s->len + n + 1) * 2;
		char *nb = realloc(s->buf, cap);
		if (!nb)
			return err_set(e, ERR_INTERNAL, "out of memory");
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, buf, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return 0;
}

static uint64_t ms_since(uint64_t t0)
{
	return (child_mono_ns() - t0) / 1000000u;
}

static uint64_t after_ms(uint64_t ms)
{
	return child_mono_ns() + ms * 1000000u;
}

/* Run `sh -c script`, collecting stdout into s. */
static int sh(const char *script, struct child_spec *spec, struct sink *s, struct child_result *r,
	      struct err *e)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };

	spec->argv = argv;
	if (s) {
		spec->on_stdout = collect;
		spec->ctx = s;
	}
	err_clear(e);
	return child_run(spec, r, e);
}

static void stderr_first_no_deadlock(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(30000) };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	REQUIRE(sh("head -c 1048576 /dev/zero | tr '\\0' x >&2; head -c 3000000 /dev/zero | tr '\\0' o",
		   &spec, &s, &r, &e) == 0);
	CHECK(child_ok(&r));
	CHECK(r.exited && r.code == 0 && !r.timed_out && !r.stopped);
	CHECK(s.len == 3000000);
	CHECK(r.out_bytes == 3000000);
	CHECK(s.buf && s.buf[0] == 'o' && s.buf[s.len - 1] == 'o');
	/* the tail is bounded and holds the newest bytes */
	CHECK(r.tail.len == sizeof r.tail.buf);
	CHECK(r.tail.buf[0] == 'x' && r.tail.buf[r.tail.len - 1] == 'x');
	CHECK(ms_since(t0) < 10000);
	free(s.buf);
}

static void hang_ends_at_deadline(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(300) };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	CHECK(sh("echo started; exec sleep 30", &spec, &s, &r, &e) == -1);
	CHECK(e.code == ERR_TIMEOUT);
	CHECK(strstr(e.msg, "did not finish within its time limit") != NULL);
	CHECK(r.timed_out && !r.stopped);
	CHECK(r.signalled && r.signo == SIGTERM);
	CHECK(s.buf && strcmp(s.buf, "started\n") == 0);
	CHECK(ms_since(t0) >= 250 && ms_since(t0) < 2000);
	free(s.buf);
}

/* A child that ignores the stop signal gets SIGKILL after the grace. */
static void hang_ignoring_term_is_killed(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(100) };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	CHECK(sh("trap '' TERM; sleep 30; sleep 30", &spec, NULL, &r, &e) == -1);
	CHECK(e.code == ERR_TIMEOUT);
	CHECK(r.signalled && r.signo == SIGKILL);
	CHECK(ms_since(t0) >= CHILD_KILL_GRACE_S * 1000u && ms_since(t0) < CHILD_KILL_GRACE_S * 1000u + 3000);
}

/* A hanging child whose stdout and stderr are closed still ends at the
 * deadline (it is reaped, not read). */
static void hang_without_pipes_ends_at_deadline(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(300), .stop_signal = SIGKILL };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	CHECK(sh("exec >&- 2>&-; exec sleep 30", &spec, &s, &r, &e) == -1);
	CHECK(e.code == ERR_TIMEOUT);
	CHECK(r.signalled && r.signo == SIGKILL);
	CHECK(ms_since(t0) < 2000);
	free(s.buf);
}

/* The child exits but leaves a descendant holding its pipes (`sleep &`):
 * what the child wrote arrives whole, and child_finish returns about
 * CHILD_DRAIN_S after the last byte, not at the deadline. The same with
 * output that keeps arriving from the descendant for a while. */
static void descendant_holding_pipes(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(30000) };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	CHECK(sh("sleep 8 & head -c 300000 /dev/zero | tr '\\0' x; echo; echo done", &spec, &s, &r, &e) == 0);
	CHECK(r.exited && r.code == 0);
	CHECK(s.len == 300000 + 6 && s.buf && strcmp(s.buf + 300001, "done\n") == 0);
	CHECK(ms_since(t0) < (CHILD_DRAIN_S + 2) * 1000);
	free(s.buf);

	memset(&s, 0, sizeof s);
	t0 = child_mono_ns();
	/* the descendant writes for 1.5 s after the child ended: all kept */
	CHECK(sh("(for i in 1 2 3; do sleep 0.5; echo late$i; done; sleep 8) & echo early", &spec, &s,
		 &r, &e) == 0);
	CHECK(s.buf && strcmp(s.buf, "early\nlate1\nlate2\nlate3\n") == 0);
	CHECK(ms_since(t0) >= 1400 && ms_since(t0) < (CHILD_DRAIN_S + 4) * 1000);
	free(s.buf);
}

/* produce: fs->left bytes of 'p' in total. */
struct feed_sink {
	struct sink s; /* first: collect() takes the context as a sink */
	size_t left;
};

static ssize_t produce_p(void *ctx, char *buf, size_t cap, struct err *e)
{
	struct feed_sink *fs = ctx;
	size_t n = fs->left < cap ? fs->left : cap;

	(void)e;
	memset(buf, 'p', n);
	fs->left -= n;
	return (ssize_t)n;
}

static void stdin_fed_while_stderr_floods(void)
{
	struct child_spec spec = { .produce = produce_p, .deadline_ns = after_ms(30000) };
	struct feed_sink fs = { .left = 4 * MIB };
	char *argv[] = { "/bin/sh", "-c",
			 "head -c 2097152 /dev/zero | tr '\\0' e >&2 & wc -c; wait", NULL };
	struct child_result r;
	struct err e;

	spec.argv = argv;
	spec.on_stdout = collect;
	spec.ctx = &fs;
	err_clear(&e);
	REQUIRE(child_run(&spec, &r, &e) == 0);
	CHECK(child_ok(&r));
	CHECK(!r.stdin_refused);
	CHECK(fs.left == 0);
	CHECK(fs.s.buf && atol(fs.s.buf) == 4 * MIB);
	CHECK(r.tail.len == sizeof r.tail.buf && r.tail.buf[0] == 'e');
	free(fs.s.buf);
}

static void stdin_from_buffer(void)
{
	static const char text[] = "one\ntwo\n";
	struct child_spec spec = { .in = text, .in_len = 8 };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;

	REQUIRE(sh("cat; echo end", &spec, &s, &r, &e) == 0);
	CHECK(child_ok(&r));
	CHECK_STR(s.buf, "one\ntwo\nend\n");
	free(s.buf);
}

/* push: the caller's own loop writes; the child floods stderr first. */
static void stdin_pushed(void)
{
	char *argv[] = { "/bin/sh", "-c", "head -c 1048576 /dev/zero >&2; wc -c", NULL };
	struct child_spec spec = { .argv = argv, .push = true, .on_stdout = collect };
	struct sink s = { 0 };
	struct child_proc p;
	struct child_result r;
	struct err e;
	char *block = malloc(MIB);

	REQUIRE(block);
	memset(block, 'q', MIB);
	spec.ctx = &s;
	err_clear(&e);
	REQUIRE(child_start(&p, &spec, &e) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(child_write(&p, block, MIB, &e) == 0);
	child_close_stdin(&p);
	CHECK(child_finish(&p, &r, &e) == 0);
	CHECK(child_ok(&r) && !r.stdin_refused);
	CHECK(s.buf && atol(s.buf) == 3 * MIB);
	free(s.buf);
	free(block);
}

/* The child stops reading: the rest is dropped, and the result says so. */
static void stdin_refused(void)
{
	char *argv[] = { "/bin/sh", "-c", "head -c 10 >/dev/null; exit 4", NULL };
	struct child_spec spec = { .argv = argv, .push = true };
	struct child_proc p;
	struct child_result r;
	struct err e;
	char *block = calloc(1, 4 * MIB);

	REQUIRE(block);
	signal(SIGPIPE, SIG_IGN); /* as vigil does (pid1_block_signals) */
	err_clear(&e);
	REQUIRE(child_start(&p, &spec, &e) == 0);
	CHECK(child_write(&p, block, 4 * MIB, &e) == 0);
	CHECK(child_finish(&p, &r, &e) == 0);
	CHECK(r.stdin_refused);
	CHECK(r.exited && r.code == 4);
	free(block);
}

static void exit_status_and_signal(void)
{
	struct child_spec spec = { 0 };
	struct child_result r;
	struct err e;
	char how[128], text[256];
	char *argv[] = { "no-such-program-vigil-test", NULL };

	REQUIRE(sh("echo bad thing happened >&2; exit 3", &spec, NULL, &r, &e) == 0);
	CHECK(r.exited && r.code == 3 && !r.signalled && !child_ok(&r));
	child_describe(&r, how, sizeof how);
	CHECK_STR(how, "exited 3");
	child_tail_text(&r, text, sizeof text);
	CHECK_STR(text, "bad thing happened");

	REQUIRE(sh("kill -KILL $$", &spec, NULL, &r, &e) == 0);
	CHECK(r.signalled && r.signo == SIGKILL && !r.exited && !child_ok(&r));
	child_describe(&r, how, sizeof how);
	CHECK(strstr(how, "killed by signal 9") != NULL);

	REQUIRE(sh("true", &spec, NULL, &r, &e) == 0);
	CHECK(child_ok(&r) && r.tail.len == 0);

	spec.argv = argv;
	REQUIRE(child_run(&spec, &r, &e) == 0);
	CHECK(r.exited && r.code == 127);
	child_tail_text(&r, text, sizeof text);
	CHECK(strstr(text, "cannot execute no-such-program-vigil-test") != NULL);
}

/* The consumer gives up: the child is stopped, its error comes back. */
static void consumer_failure_stops_child(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(30000) };
	struct sink s = { .fail_after = 2 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	CHECK(sh("exec yes", &spec, &s, &r, &e) == -1);
	CHECK(e.code == ERR_NOSPACE);
	CHECK_STR(e.msg, "the sink is full");
	CHECK(r.signalled && !r.timed_out && !r.stopped);
	CHECK(ms_since(t0) < 5000);
	free(s.buf);
}

struct lines {
	char got[8][32];
	int n;
};

static void on_line(void *ctx, const char *line, size_t n)
{
	struct lines *l = ctx;

	if (l->n < 8)
		snprintf(l->got[l->n++], sizeof l->got[0], "%.*s", (int)n, line);
}

static void stderr_line_callback(void)
{
	char *argv[] = { "/bin/sh", "-c", "printf 'a\\nbb\\n\\nccc' >&2", NULL };
	struct lines l = { .n = 0 };
	struct child_spec spec = { .argv = argv, .on_stderr_line = on_line, .ctx = &l };
	struct child_result r;
	struct err e;

	err_clear(&e);
	REQUIRE(child_run(&spec, &r, &e) == 0);
	REQUIRE(l.n == 4);
	CHECK_STR(l.got[0], "a");
	CHECK_STR(l.got[1], "bb");
	CHECK_STR(l.got[2], "");
	CHECK_STR(l.got[3], "ccc");
}

static bool has(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool has_name(char **v, const char *prefix)
{
	for (size_t i = 0; v && v[i]; i++)
		if (util_starts_with(v[i], prefix))
			return true;
	return false;
}

static void environment_locale_rule(void)
{
	char *base[] = { "PATH=/bin", "LC_ALL=es_ES.UTF-8", "LC_MESSAGES=es_ES.UTF-8", NULL };
	char **v, **w;
	size_t n = 0;
	struct child_spec spec = { 0 };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;

	setenv("LC_ALL", "es_ES.UTF-8", 1);
	v = child_env(base);
	REQUIRE(v);
	CHECK(has(v, "PATH=/bin"));
	CHECK(has(v, "LC_MESSAGES=C"));
	CHECK(!has(v, "LC_MESSAGES=es_ES.UTF-8"));
	CHECK(has(v, "LC_CTYPE=es_ES.UTF-8"));
	CHECK(has(v, "LC_COLLATE=es_ES.UTF-8"));
	CHECK(has(v, "LC_TIME=es_ES.UTF-8"));
	CHECK(!has_name(v, "LC_ALL="));
	/* applied twice: the same vector */
	w = child_env(v);
	REQUIRE(w);
	while (v[n])
		n++;
	for (size_t i = 0; i <= n; i++)
		CHECK((v[i] == NULL) == (w[i] == NULL) && (!v[i] || strcmp(v[i], w[i]) == 0));
	util_free_strv(v);
	util_free_strv(w);

	/* every child gets it, also with vigil's own environment */
	REQUIRE(sh("env", &spec, &s, &r, &e) == 0);
	CHECK(s.buf && strstr(s.buf, "\nLC_MESSAGES=C\n"));
	CHECK(s.buf && strstr(s.buf, "\nLC_NUMERIC=es_ES.UTF-8\n"));
	CHECK(s.buf && !strstr(s.buf, "LC_ALL="));
	unsetenv("LC_ALL");
	free(s.buf);
}

/* Last: pid1's stop request is sticky for the process. The child itself
 * sends SIGTERM to the test (blocked, as in vigil) mid-run. */
static void stop_request_mid_run(void)
{
	struct child_spec spec = { .deadline_ns = after_ms(30000) };
	struct sink s = { 0 };
	struct child_result r;
	struct err e;
	uint64_t t0 = child_mono_ns();

	pid1_block_signals();
	CHECK(sh("echo before; kill -TERM $PPID; exec sleep 30", &spec, &s, &r, &e) == -1);
	CHECK(e.code == ERR_INTERRUPTED && e.signo == SIGTERM);
	CHECK(strstr(e.msg, "stopped by signal 15 (Terminated); /bin/sh terminated") != NULL);
	CHECK(r.stopped && r.stop_signo == SIGTERM && !r.timed_out);
	CHECK(r.signalled && r.signo == SIGTERM);
	/* "before" may or may not have been read when the stop was seen: both
	 * are ready in the same poll, and after a stop stdout no longer matters. */
	CHECK(!s.buf || strcmp(s.buf, "before\n") == 0);
	CHECK(ms_since(t0) < 2000);
	free(s.buf);
}

UNIT_MAIN(T(stderr_first_no_deadlock), T(hang_ends_at_deadline), T(hang_ignoring_term_is_killed),
	  T(hang_without_pipes_ends_at_deadline), T(descendant_holding_pipes), T(stdin_fed_while_stderr_floods),
	  T(stdin_from_buffer), T(stdin_pushed), T(stdin_refused), T(exit_status_and_signal),
	  T(consumer_failure_stops_child), T(stderr_line_callback), T(environment_locale_rule),
	  T(stop_request_mid_run))
