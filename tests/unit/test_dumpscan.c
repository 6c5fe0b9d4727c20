/* test_dumpscan.c - unit tests for src/pipeline/dumpscan.c, the streaming scanner
 * of pg_dump's plain SQL output (docs/design.md "Invariants" and README "A backup run", FIELD-CASES B04,
 * B06).
 *
 * The fixture is pg_dump 15 text (header with \restrict, SET lines, a
 * dollar-quoted function body, E'' strings, COPY blocks, a large-object
 * section with BEGIN;/COMMIT;, the \unrestrict trailer) plus block comments.
 * It was checked against psql 15: run with ON_ERROR_STOP while \restrict is
 * active (so any meta-command would fail), it loads without an error, so
 * every backslash in it outside COPY data is, for psql, not a meta-command.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/dumpscan.h"
#include "base/err.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* The fixture, in three parts around the large-object BEGIN;/COMMIT;.      */

#define DUMP_A \
	"--\n" \
	"-- PostgreSQL database dump\n" \
	"--\n" \
	"\n" \
	"\\restrict eSCY0khg6NwxfslGZDbvGk3KU3YPkznc6uLmV81iFPAeAV2MAmbV6YgZTHyWath\n" \
	"\n" \
	"-- Dumped from database version 15.14 (Debian 15.14-1.pgdg120+1)\n" \
	"-- Dumped by pg_dump version 15.14 (Debian 15.14-1.pgdg120+1)\n" \
	"\n" \
	"SET statement_timeout = 0;\n" \
	"SET lock_timeout = 0;\n" \
	"SET idle_in_transaction_session_timeout = 0;\n" \
	"SET client_encoding = 'UTF8';\n" \
	"SET standard_conforming_strings = on;\n" \
	"SELECT pg_catalog.set_config('search_path', '', false);\n" \
	"SET check_function_bodies = false;\n" \
	"SET xmloption = content;\n" \
	"SET client_min_messages = warning;\n" \
	"SET row_security = off;\n" \
	"\n" \
	"/* a block comment /* nested \\! not a meta-command */ still \\connect comment */\n" \
	"/* a comment over lines\n" \
	"\\! touch /tmp/pwned-in-comment\n" \
	"/* nested */\n" \
	"\\connect still_comment\n" \
	"BEGIN;\n" \
	"*/\n" \
	"\n" \
	"--\n" \
	"-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"CREATE FUNCTION public.f() RETURNS text\n" \
	"    LANGUAGE plpgsql\n" \
	"    AS $_$\n" \
	"\\this line starts with a backslash\n" \
	"COPY x FROM stdin;\n" \
	"BEGIN;\n" \
	"BEGIN\n" \
	"  RETURN E'it\\'s \\\\! COPY x FROM stdin;' || $1;\n" \
	"END\n" \
	"COMMIT;\n" \
	"$_$;\n" \
	"\n" \
	"\n" \
	"ALTER FUNCTION public.f() OWNER TO postgres;\n" \
	"\n" \
	"--\n" \
	"-- Name: g(); Type: FUNCTION; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"CREATE FUNCTION public.g() RETURNS text\n" \
	"    LANGUAGE sql\n" \
	"    AS $body$SELECT '\\! not meta' || $$ \\gexec $$$body$;\n" \
	"\n" \
	"COMMENT ON FUNCTION public.f() IS E'it\\'s a \\\\connect trap,\n" \
	"\\! still inside the string';\n" \
	"COMMENT ON FUNCTION public.g() IS 'standard \\ backslash \\g';\n" \
	"\n" \
	"SET default_tablespace = '';\n" \
	"\n" \
	"SET default_table_access_method = heap;\n" \
	"\n" \
	"--\n" \
	"-- Name: Año; Type: TABLE; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"CREATE TABLE public.\"Año\" (\n" \
	"    id integer\n" \
	");\n" \
	"\n" \
	"CREATE TABLE public.\"we\\ird\" (\n" \
	"    \"\\!\" integer\n" \
	");\n" \
	"\n" \
	"CREATE TABLE public.items (\n" \
	"    id integer NOT NULL,\n" \
	"    t text\n" \
	");\n" \
	"\n" \
	"CREATE TABLE public.notes (\n" \
	"    body text\n" \
	");\n" \
	"\n" \
	"--\n" \
	"-- Name: 16396; Type: BLOB; Schema: -; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"SELECT pg_catalog.lo_create('16396');\n" \
	"\n" \
	"--\n" \
	"-- Data for Name: items; Type: TABLE DATA; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"COPY public.items (id, t) FROM stdin;\n" \
	"1\tfoo\\nBEGIN;\n" \
	"2\ta\\\\.b\n" \
	"3\t\n" \
	"\\.\n" \
	"\n" \
	"\n" \
	"--\n" \
	"-- Data for Name: notes; Type: TABLE DATA; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"COPY public.notes (body) FROM stdin;\n" \
	"\n" \
	"\\\\.\n" \
	"BEGIN;\n" \
	"COMMIT;\n" \
	"\\.\n" \
	"\n" \
	"\n" \
	"--\n" \
	"-- Data for Name: Año; Type: TABLE DATA; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"COPY public.\"Año\" (id) FROM stdin;\n" \
	"\\.\n" \
	"\n" \
	"\n" \
	"--\n" \
	"-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -\n" \
	"--\n" \
	"\n"

#define DUMP_B \
	"\n" \
	"SELECT pg_catalog.lo_open('16396', 131072);\n" \
	"SELECT pg_catalog.lowrite(0, '\\x68656c6c6f');\n" \
	"SELECT pg_catalog.lo_close(0);\n" \
	"\n"

#define DUMP_C \
	"\n" \
	"--\n" \
	"-- Name: items items_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres\n" \
	"--\n" \
	"\n" \
	"ALTER TABLE ONLY public.items\n" \
	"    ADD CONSTRAINT items_pkey PRIMARY KEY (id);\n" \
	"\n" \
	"\n" \
	"--\n" \
	"-- PostgreSQL database dump complete\n" \
	"--\n" \
	"\n" \
	"\\unrestrict eSCY0khg6NwxfslGZDbvGk3KU3YPkznc6uLmV81iFPAeAV2MAmbV6YgZTHyWath\n" \
	"\n"

#define FIXTURE DUMP_A "BEGIN;\n" DUMP_B "COMMIT;\n" DUMP_C
/* What strip_txn must produce: only the top-level BEGIN;/COMMIT; emptied. */
#define STRIPPED DUMP_A "\n" DUMP_B "\n" DUMP_C

#define FIXTURE_TABLES "public.items:3;public.notes:4;public.\"Año\":0;"
#define FIXTURE_LINES 147
#define FIXTURE_VERSION "15.14 (Debian 15.14-1.pgdg120+1)"

/* A minimal dump around a snippet; the snippet starts on line 12. */
#define HEAD                                                                       \
	"--\n-- PostgreSQL database dump\n--\n\n\\restrict KEY123\n\n"             \
	"-- Dumped from database version 15.14\n-- Dumped by pg_dump version 15.14\n" \
	"\nSET standard_conforming_strings = on;\n\n"
#define TRAILER "\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict KEY123\n\n"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

struct outbuf {
	char *p;
	size_t n, cap;
	int calls;
	int fail_at; /* > 0: the fail_at-th call fails with ERR_NOSPACE */
};

static int sink(void *ctx, const void *buf, size_t n, struct err *e)
{
	struct outbuf *o = ctx;

	if (++o->calls == o->fail_at)
		return err_set(e, ERR_NOSPACE, "cannot write: No space left on device");
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->n + n + 1)
			cap *= 2;
		o->p = realloc(o->p, cap);
		if (!o->p)
			abort();
		o->cap = cap;
	}
	memcpy(o->p + o->n, buf, n);
	o->n += n;
	o->p[o->n] = '\0';
	return 0;
}

/* Scan len bytes of text in chunks of `chunk` bytes (0 = all at once). */
static void scan(struct dumpscan *s, const char *text, size_t len, size_t chunk, bool strip,
		 struct outbuf *out)
{
	struct err e;

	dumpscan_init(s);
	s->strip_txn = strip;
	if (out) {
		s->sink = sink;
		s->sink_ctx = out;
	}
	err_clear(&e);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (dumpscan_feed(s, text + off, n, &e) != 0) {
			fprintf(stderr, "  feed failed: %s\n", e.msg);
			CHECK(0);
			return;
		}
	}
	CHECK(dumpscan_finish(s, &e) == 0);
}

/* Everything the scanner reports, as one comparable line. */
static void summary(const struct dumpscan *s, char *out, size_t n)
{
	int k = snprintf(out, n, "header=%d complete=%d restrict=%d bad=%s@%llu lines=%llu "
			 "bytes=%llu version=%s tables=",
			 s->header_ok, s->complete, s->has_restrict, s->bad_meta,
			 (unsigned long long)s->bad_meta_line, (unsigned long long)s->lines,
			 (unsigned long long)s->bytes, s->version_line);
	for (size_t i = 0; i < s->n_tables && k > 0 && (size_t)k < n; i++)
		k += snprintf(out + k, n - (size_t)k, "%s:%llu;", s->tables[i].name,
			      (unsigned long long)s->tables[i].rows);
}

static void fixture_summary(char *out, size_t n)
{
	snprintf(out, n, "header=1 complete=1 restrict=1 bad=@0 lines=%d bytes=%zu version=%s "
		 "tables=%s", FIXTURE_LINES, sizeof FIXTURE - 1, FIXTURE_VERSION, FIXTURE_TABLES);
}

/* Scan text whole and byte by byte; both must agree. Fills s (whole). */
static void scan_both(struct dumpscan *s, const char *text)
{
	struct dumpscan b;
	char x[2048], y[2048];

	scan(s, text, strlen(text), 0, false, NULL);
	scan(&b, text, strlen(text), 1, false, NULL);
	summary(s, x, sizeof x);
	summary(&b, y, sizeof y);
	CHECK_STR(y, x);
	dumpscan_free(&b);
}

static void expect_bad_meta(const char *text, const char *meta, uint64_t line)
{
	struct dumpscan s;

	scan_both(&s, text);
	if (strcmp(s.bad_meta, meta) != 0 || s.bad_meta_line != line) {
		fprintf(stderr, "  bad_meta=\"%s\"@%llu, want \"%s\"@%llu for:\n%s\n", s.bad_meta,
			(unsigned long long)s.bad_meta_line, meta, (unsigned long long)line, text);
		CHECK(0);
	}
	dumpscan_free(&s);
}

static void expect_clean(const char *text)
{
	struct dumpscan s;

	scan_both(&s, text);
	if (s.bad_meta[0] || !s.complete || !s.header_ok) {
		fprintf(stderr, "  bad_meta=\"%s\"@%llu complete=%d header=%d for:\n%s\n",
			s.bad_meta, (unsigned long long)s.bad_meta_line, s.complete, s.header_ok,
			text);
		CHECK(0);
	}
	dumpscan_free(&s);
}

static void expect_incomplete(const char *text, size_t len)
{
	struct dumpscan s;
	struct dumpscan b;

	scan(&s, text, len, 0, false, NULL);
	scan(&b, text, len, 1, false, NULL);
	if (s.complete || b.complete) {
		fprintf(stderr, "  complete for a %zu-byte text ending \"%.40s\"\n", len,
			len > 40 ? text + len - 40 : text);
		CHECK(0);
	}
	dumpscan_free(&s);
	dumpscan_free(&b);
}

/* ------------------------------------------------------------------------ */
/* The realistic dump                                                       */

static void fixture_whole(void)
{
	struct dumpscan s;
	char got[2048], want[2048];

	scan(&s, FIXTURE, sizeof FIXTURE - 1, 0, false, NULL);
	summary(&s, got, sizeof got);
	fixture_summary(want, sizeof want);
	CHECK_STR(got, want);
	CHECK(dumpscan_total_rows(&s) == 7);
	REQUIRE(s.n_tables == 3);
	CHECK_STR(s.tables[0].name, "public.items");
	CHECK(s.tables[0].rows == 3);
	CHECK_STR(s.tables[1].name, "public.notes");
	CHECK(s.tables[1].rows == 4);
	CHECK_STR(s.tables[2].name, "public.\"Año\"");
	CHECK(s.tables[2].rows == 0);
	CHECK(s.header_ok && s.complete && s.has_restrict);
	CHECK_STR(s.bad_meta, "");
	CHECK(s.bad_meta_line == 0);
	CHECK_STR(s.version_line, FIXTURE_VERSION);
	dumpscan_free(&s);
	CHECK(s.tables == NULL && s.n_tables == 0);
	dumpscan_free(&s); /* twice is harmless */
}

static void fixture_every_chunk_size(void)
{
	char want[2048];

	fixture_summary(want, sizeof want);
	for (size_t chunk = 1; chunk <= 64; chunk++) {
		struct dumpscan s;
		struct outbuf plain = { 0 }, stripped = { 0 };
		char got[2048];

		/* scan only */
		scan(&s, FIXTURE, sizeof FIXTURE - 1, chunk, false, NULL);
		summary(&s, got, sizeof got);
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "  chunk %zu:\n  got  %s\n  want %s\n", chunk, got, want);
			CHECK(0);
		}
		CHECK(dumpscan_total_rows(&s) == 7);
		dumpscan_free(&s);

		/* with a sink: a verbatim copy */
		scan(&s, FIXTURE, sizeof FIXTURE - 1, chunk, false, &plain);
		summary(&s, got, sizeof got);
		CHECK_STR(got, want);
		CHECK(plain.n == sizeof FIXTURE - 1);
		CHECK(plain.p && memcmp(plain.p, FIXTURE, sizeof FIXTURE - 1) == 0);
		dumpscan_free(&s);

		/* strip_txn: only the top-level BEGIN;/COMMIT; lines emptied */
		scan(&s, FIXTURE, sizeof FIXTURE - 1, chunk, true, &stripped);
		summary(&s, got, sizeof got);
		CHECK_STR(got, want);
		if (!stripped.p || stripped.n != sizeof STRIPPED - 1 ||
		    memcmp(stripped.p, STRIPPED, sizeof STRIPPED - 1) != 0) {
			fprintf(stderr, "  chunk %zu: stripped output differs (%zu vs %zu bytes)\n",
				chunk, stripped.n, sizeof STRIPPED - 1);
			CHECK(0);
		}
		dumpscan_free(&s);
		free(plain.p);
		free(stripped.p);
	}
}

static void fixture_random_chunks(void)
{
	static const char text[] = FIXTURE;
	uint64_t x = 0x2545F4914F6CDD1Dull;
	char want[2048];

	fixture_summary(want, sizeof want);
	for (int round = 0; round < 50; round++) {
		struct dumpscan s;
		struct outbuf out = { 0 };
		struct err e;
		char got[2048];
		size_t off = 0;

		dumpscan_init(&s);
		s.strip_txn = true;
		s.sink = sink;
		s.sink_ctx = &out;
		err_clear(&e);
		while (off < sizeof text - 1) {
			size_t n;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			n = (size_t)(x % 300);
			if (n > sizeof text - 1 - off)
				n = sizeof text - 1 - off;
			CHECK(dumpscan_feed(&s, text + off, n, &e) == 0); /* n may be 0 */
			off += n;
		}
		CHECK(dumpscan_finish(&s, &e) == 0);
		summary(&s, got, sizeof got);
		CHECK_STR(got, want);
		CHECK(out.n == sizeof STRIPPED - 1 && memcmp(out.p, STRIPPED, out.n) == 0);
		dumpscan_free(&s);
		free(out.p);
	}
}

static void strip_txn_only_top_level(void)
{
	static const char in[] = HEAD
		"BEGIN;\n"
		"SELECT $$\nBEGIN;\nCOMMIT;\n$$;\n"
		"SELECT $fn$\nBEGIN;\n$fn$;\n"
		"SELECT 'a\nBEGIN;\nCOMMIT;\n';\n"
		"/*\nBEGIN;\n*/\n"
		"COPY public.t (a) FROM stdin;\nBEGIN;\nCOMMIT;\n\\.\n"
		"COMMIT;\n"
		"BEGIN;\n"
		"COMMIT;\n"
		TRAILER;
	static const char want[] = HEAD
		"\n"
		"SELECT $$\nBEGIN;\nCOMMIT;\n$$;\n"
		"SELECT $fn$\nBEGIN;\n$fn$;\n"
		"SELECT 'a\nBEGIN;\nCOMMIT;\n';\n"
		"/*\nBEGIN;\n*/\n"
		"COPY public.t (a) FROM stdin;\nBEGIN;\nCOMMIT;\n\\.\n"
		"\n"
		"\n"
		"\n"
		TRAILER;

	for (size_t chunk = 0; chunk <= 17; chunk++) {
		struct dumpscan s;
		struct outbuf out = { 0 };

		scan(&s, in, sizeof in - 1, chunk, true, &out);
		CHECK(out.p != NULL);
		if (out.p)
			CHECK_STR(out.p, want);
		CHECK(s.complete);
		REQUIRE(s.n_tables == 1);
		CHECK(s.tables[0].rows == 2);
		dumpscan_free(&s);
		free(out.p);
	}
	/* without strip_txn the output is the input */
	{
		struct dumpscan s;
		struct outbuf out = { 0 };
		scan(&s, in, sizeof in - 1, 7, false, &out);
		CHECK(out.p != NULL);
		if (out.p)
			CHECK_STR(out.p, in);
		dumpscan_free(&s);
		free(out.p);
	}
}

/* A transaction command at the start of a statement, other than
 * pg_dump's own "BEGIN;"/"COMMIT;" lines, would end a restore's single
 * transaction: it is flagged (and refused with a sink), in any letter case
 * and spelling; the same words inside statements, strings, dollar quotes,
 * comments and COPY data are not. So is a NUL byte, and a \restrict or
 * \unrestrict that does not start a statement's line. */
static void transaction_commands_are_flagged(void)
{
	static const struct {
		const char *sql, *what;
	} bad[] = {
		{ "commit;\n", "the transaction command COMMIT" },
		{ "END;\n", "the transaction command END" },
		{ "COMMIT ;\n", "the transaction command COMMIT" },
		{ " BEGIN;\n", "the transaction command BEGIN" },
		{ "BEGIN; -- with a comment\n", "the transaction command BEGIN" },
		{ "SELECT 1; rollback;\n", "the transaction command ROLLBACK" },
		{ "SAVEPOINT s;\n", "the transaction command SAVEPOINT" },
		{ "/* x */ Abort;\n", "the transaction command ABORT" },
		{ "start transaction;\n", "the transaction command START" },
		{ "release s;\n", "the transaction command RELEASE" },
		{ "PREPARE TRANSACTION 'x';\n", "the transaction command PREPARE" },
		{ "SELECT 1;\n\tCOMMIT\n;\n", "the transaction command COMMIT" },
		{ "SELECT 'a\0b';\n", "a NUL byte" },
	};
	static const char *const good[] = {
		"CREATE SEQUENCE s\n    START WITH 1\n    INCREMENT BY 1;\n",
		"SELECT CASE WHEN true THEN 1 END;\n",
		"CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND\n$$;\n",
		"DO $$ BEGIN PERFORM 1; END $$;\n",
		"SELECT 'x\nCOMMIT;\n';\n",
		"-- COMMIT;\n/* ROLLBACK; */\n",
		"COPY public.t (a) FROM stdin;\nCOMMIT;\nabort\n\\.\n",
		"BEGIN;\nSELECT 1;\nCOMMIT;\n",
		"SELECT ending, committed, begin_at FROM t;\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512];
		size_t len;
		struct dumpscan s;
		struct outbuf out = { 0 };
		struct err e;
		int rc = 0;

		size_t sqllen = strlen(bad[i].sql);

		if (bad[i].what[0] == 'a') /* the NUL case: strlen stops at it */
			sqllen += 1 + strlen(bad[i].sql + sqllen + 1);
		len = (size_t)snprintf(text, sizeof text, "%s", HEAD);
		memcpy(text + len, bad[i].sql, sqllen);
		len += sqllen;
		len += (size_t)snprintf(text + len, sizeof text - len, "%s", TRAILER);
		dumpscan_init(&s);
		err_clear(&e);
		CHECK(dumpscan_feed(&s, text, len, &e) == 0 && dumpscan_finish(&s, &e) == 0);
		if (strcmp(s.bad_stmt, bad[i].what) != 0) {
			fprintf(stderr, "  bad_stmt=\"%s\", want \"%s\" for %s\n", s.bad_stmt, bad[i].what,
				bad[i].sql);
			CHECK(0);
		}
		dumpscan_free(&s);
		dumpscan_init(&s);
		s.sink = sink;
		s.sink_ctx = &out;
		rc = dumpscan_feed(&s, text, len, &e);
		if (rc == 0)
			rc = dumpscan_finish(&s, &e);
		CHECK(rc == -1 && e.code == ERR_CORRUPT);
		dumpscan_free(&s);
		free(out.p);
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[512];
		struct dumpscan s;
		struct err e;

		snprintf(text, sizeof text, "%s%s%s", HEAD, good[i], TRAILER);
		dumpscan_init(&s);
		err_clear(&e);
		CHECK(dumpscan_feed(&s, text, strlen(text), &e) == 0 && dumpscan_finish(&s, &e) == 0);
		if (s.bad_stmt[0] || s.bad_meta[0]) {
			fprintf(stderr, "  bad_stmt=\"%s\" bad_meta=\"%s\" for %s\n", s.bad_stmt, s.bad_meta,
				good[i]);
			CHECK(0);
		}
		dumpscan_free(&s);
	}
	expect_bad_meta(HEAD "SELECT 1; \\unrestrict KEY123\n" TRAILER, "\\unrestrict", 12);
	expect_bad_meta(HEAD " \\restrict KEY9\n" TRAILER, "\\restrict", 12);
	expect_bad_meta(HEAD "SELECT 1\n\\unrestrict KEY123\n;\n" TRAILER, "\\unrestrict", 13);
}

static void sink_error_stops_the_scan(void)
{
	struct dumpscan s;
	struct outbuf out = { 0 };
	struct err e;

	out.fail_at = 3;
	dumpscan_init(&s);
	s.sink = sink;
	s.sink_ctx = &out;
	err_clear(&e);
	CHECK(dumpscan_feed(&s, FIXTURE, sizeof FIXTURE - 1, &e) == -1);
	CHECK(e.code == ERR_NOSPACE);
	CHECK(strstr(e.msg, "No space left on device") != NULL);
	dumpscan_free(&s);
	free(out.p);
}

/* With a sink (restore's feed to psql), the line holding a meta-command
 * is never passed on, whatever the chunking: everything before it is, the
 * feed fails with ERR_CORRUPT naming it, and nothing after it follows. */
static void sink_never_gets_a_meta_command(void)
{
	static const char text[] = HEAD "CREATE TABLE a (x int);\n"
				   "SELECT 1; \\! touch /tmp/x\n"
				   "CREATE TABLE b (x int);\n" TRAILER;
	size_t len = strlen(text);

	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct dumpscan s;
		struct outbuf out = { 0 };
		struct err e;
		int rc = 0;

		dumpscan_init(&s);
		s.sink = sink;
		s.sink_ctx = &out;
		err_clear(&e);
		for (size_t off = 0; off < len && rc == 0; off += chunk)
			rc = dumpscan_feed(&s, text + off, len - off < chunk ? len - off : chunk, &e);
		if (rc == 0)
			rc = dumpscan_finish(&s, &e);
		CHECK(rc == -1);
		CHECK(e.code == ERR_CORRUPT);
		CHECK(strstr(e.msg, "\\!") != NULL);
		CHECK(out.p != NULL && strstr(out.p, "CREATE TABLE a") != NULL);
		CHECK(out.p == NULL || strstr(out.p, "touch") == NULL);
		CHECK(out.p == NULL || strstr(out.p, "CREATE TABLE b") == NULL);
		dumpscan_free(&s);
		free(out.p);
		if (rc != -1)
			break;
	}
}

/* copy_hook: called before each COPY header reaches the sink and after its
 * "\." line did, with the block's index (rows final at the end), whatever
 * the chunking. */
static int mark_copy(void *ctx, bool end, size_t table, struct err *e)
{
	char m[32];

	snprintf(m, sizeof m, end ? "<end %zu>\n" : "<begin %zu>\n", table);
	return sink(ctx, m, strlen(m), e);
}

static void copy_hook_wraps_each_block(void)
{
	static const char text[] = HEAD "CREATE TABLE a (x int);\n"
				   "COPY public.a (x) FROM stdin;\n1\n2\n\\.\n"
				   "COPY public.a (x) FROM stdin;\n3\n\\.\n" TRAILER;
	static const char want[] = HEAD "CREATE TABLE a (x int);\n"
				   "<begin 0>\nCOPY public.a (x) FROM stdin;\n1\n2\n\\.\n<end 0>\n"
				   "<begin 1>\nCOPY public.a (x) FROM stdin;\n3\n\\.\n<end 1>\n" TRAILER;
	size_t len = strlen(text);

	for (size_t chunk = 1; chunk <= len; chunk += 7) {
		struct dumpscan s;
		struct outbuf out = { 0 };
		struct err e;
		int rc = 0;

		dumpscan_init(&s);
		s.sink = sink;
		s.sink_ctx = &out;
		s.copy_hook = mark_copy;
		err_clear(&e);
		for (size_t off = 0; off < len && rc == 0; off += chunk)
			rc = dumpscan_feed(&s, text + off, len - off < chunk ? len - off : chunk, &e);
		CHECK(rc == 0 && dumpscan_finish(&s, &e) == 0);
		CHECK(out.p != NULL && strcmp(out.p, want) == 0);
		REQUIRE(s.n_tables == 2);
		CHECK(s.tables[0].rows == 2 && s.tables[1].rows == 1);
		dumpscan_free(&s);
		free(out.p);
	}
}

/* strip_restrict drops the dump's own \restrict/\unrestrict lines from the
 * output (a restore runs psql under its own key) but still records the key
 * and still finds the trailer; other lines pass unchanged. */
static void strip_restrict_drops_the_dumps_key_lines(void)
{
	static const char text[] = HEAD "CREATE TABLE a (x int);\n" TRAILER;
	struct dumpscan s;
	struct outbuf out = { 0 };
	struct err e;

	dumpscan_init(&s);
	s.sink = sink;
	s.sink_ctx = &out;
	s.strip_restrict = true;
	err_clear(&e);
	CHECK(dumpscan_feed(&s, text, strlen(text), &e) == 0);
	CHECK(dumpscan_finish(&s, &e) == 0);
	CHECK(s.complete && s.has_restrict);
	CHECK_STR(s.restrict_key, "KEY123");
	REQUIRE(out.p != NULL);
	CHECK(strstr(out.p, "restrict") == NULL);
	CHECK(strstr(out.p, "CREATE TABLE a (x int);\n") != NULL);
	CHECK(strstr(out.p, "-- PostgreSQL database dump complete") != NULL);
	CHECK(out.n == strlen(text) - strlen("\\restrict KEY123") - strlen("\\unrestrict KEY123"));
	dumpscan_free(&s);
	free(out.p);
}

static void total_rows(void)
{
	struct dumpscan s;

	dumpscan_init(&s);
	CHECK(dumpscan_total_rows(&s) == 0);
	dumpscan_free(&s);
	scan(&s, HEAD "COPY public.a (x) FROM stdin;\n1\n2\n\\.\n"
		     "COPY public.b (x) FROM stdin;\n\\.\n"
		     "COPY public.c (x, y) FROM stdin;\n1\t2\n\\N\t\\N\n\t\n\\.\n" TRAILER,
	     strlen(HEAD "COPY public.a (x) FROM stdin;\n1\n2\n\\.\n"
			 "COPY public.b (x) FROM stdin;\n\\.\n"
			 "COPY public.c (x, y) FROM stdin;\n1\t2\n\\N\t\\N\n\t\n\\.\n" TRAILER),
	     3, false, NULL);
	CHECK(dumpscan_total_rows(&s) == 5);
	REQUIRE(s.n_tables == 3);
	CHECK_STR(s.tables[0].name, "public.a");
	CHECK(s.tables[0].rows == 2);
	CHECK(s.tables[1].rows == 0);
	CHECK(s.tables[2].rows == 3);
	CHECK(s.complete);
	dumpscan_free(&s);
}

static void copy_table_names(void)
{
	struct dumpscan s;

	scan_both(&s, HEAD "COPY public.\"my table\" (\"a b\", c) FROM stdin;\n1\t2\n\\.\n"
		       "COPY \"Sch ema\".\"T\"\"q\" (x) FROM stdin;\n1\n\\.\n"
		       "COPY public.nocols  FROM stdin;\n\\.\n" TRAILER);
	REQUIRE(s.n_tables == 3);
	CHECK_STR(s.tables[0].name, "public.\"my table\"");
	CHECK(s.tables[0].rows == 1);
	CHECK_STR(s.tables[1].name, "\"Sch ema\".\"T\"\"q\"");
	CHECK(s.tables[1].rows == 1);
	CHECK_STR(s.tables[2].name, "public.nocols");
	CHECK(s.tables[2].rows == 0);
	CHECK(s.complete);
	dumpscan_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Completeness                                                             */

static void no_trailer_or_more_after_it(void)
{
	static const char no_trailer[] = HEAD "SELECT 1;\n";
	static const char more_sql[] = HEAD "SELECT 1;\n" TRAILER "SELECT 2;\n";
	static const char more_copy[] = HEAD TRAILER "COPY public.t (a) FROM stdin;\n\\.\n";
	static const char only_comments[] = HEAD TRAILER "-- a comment\n\n--\n";
	static const char no_final_newline[] =
		HEAD "\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict KEY123";
	static const char in_dollar[] =
		HEAD "SELECT $$\n--\n-- PostgreSQL database dump complete\n--\n";
	static const char in_comment[] =
		HEAD "/*\n--\n-- PostgreSQL database dump complete\n--\n";
	static const char in_copy[] =
		HEAD "COPY public.t (a) FROM stdin;\n--\n-- PostgreSQL database dump complete\n--\n";
	static const char not_first_col[] = HEAD " -- PostgreSQL database dump complete\n";
	static const char older_pg_dump[] = /* before 15.14: no \restrict */
		"--\n-- PostgreSQL database dump\n--\n\nSELECT 1;\n"
		"\n--\n-- PostgreSQL database dump complete\n--\n\n";
	struct dumpscan s;

	expect_incomplete(no_trailer, sizeof no_trailer - 1);
	expect_incomplete(more_sql, sizeof more_sql - 1);
	expect_incomplete(more_copy, sizeof more_copy - 1);
	expect_incomplete(in_dollar, sizeof in_dollar - 1);
	expect_incomplete(in_comment, sizeof in_comment - 1);
	expect_incomplete(in_copy, sizeof in_copy - 1);
	expect_incomplete(not_first_col, sizeof not_first_col - 1);
	expect_clean(only_comments);
	expect_clean(no_final_newline);
	scan_both(&s, older_pg_dump);
	CHECK(s.header_ok && s.complete && !s.has_restrict && !s.bad_meta[0]);
	dumpscan_free(&s);
}

static void cut_inside_copy(void)
{
	static const char cut1[] = HEAD "COPY public.t (a) FROM stdin;\n1\n2\n";
	static const char cut2[] = HEAD "COPY public.t (a) FROM stdin;\n1\n2";
	static const char cut3[] = HEAD "COPY public.t (a) FROM stdin;\n1\n\\";
	static const char cut4[] = HEAD "COPY public.t (a) FROM stdin;\n";
	static const char cut5[] = HEAD "COPY public.t (a) FROM stdin;";
	struct dumpscan s;

	expect_incomplete(cut1, sizeof cut1 - 1);
	expect_incomplete(cut2, sizeof cut2 - 1);
	expect_incomplete(cut3, sizeof cut3 - 1);
	expect_incomplete(cut4, sizeof cut4 - 1);
	expect_incomplete(cut5, sizeof cut5 - 1);
	scan(&s, cut1, sizeof cut1 - 1, 0, false, NULL);
	CHECK(s.header_ok);
	REQUIRE(s.n_tables == 1);
	CHECK(s.tables[0].rows == 2);
	dumpscan_free(&s);
}

static void every_cut_before_the_trailer_is_incomplete(void)
{
	static const char text[] = FIXTURE;
	const char *t = strstr(text, "-- PostgreSQL database dump complete");
	size_t last;

	REQUIRE(t != NULL);
	/* every prefix that lacks the trailer line's last character */
	last = (size_t)(t - text) + strlen("-- PostgreSQL database dump complete");
	for (size_t len = 0; len < last; len++) {
		struct dumpscan s;
		scan(&s, text, len, 0, false, NULL);
		if (s.complete) {
			fprintf(stderr, "  a cut at %zu of %zu bytes is complete\n", len,
				sizeof text - 1);
			CHECK(0);
			dumpscan_free(&s);
			break;
		}
		dumpscan_free(&s);
	}
}

static void unrestrict_line_must_be_whole(void)
{
	/* pg_dump 15.14+ ends with "\unrestrict <the \restrict key>". A file
	 * cut inside that last line, or naming another key, is not what
	 * pg_dump wrote, and psql fails on it ("\unrestrict: wrong key"). */
	static const char cut_key[] = HEAD "SELECT 1;\n"
		"\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict KEY1";
	static const char other_key[] = HEAD "SELECT 1;\n"
		"\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict OTHER\n\n";
	static const char text[] = FIXTURE;
	const char *u = strstr(text, "\\unrestrict ");

	expect_incomplete(cut_key, sizeof cut_key - 1);
	expect_incomplete(other_key, sizeof other_key - 1);
	REQUIRE(u != NULL);
	for (size_t len = (size_t)(u - text) + strlen("\\unrestrict ") + 1;
	     len < sizeof text - 3; len++) { /* "...KEY" and "...KEY\n" are whole */
		struct dumpscan s;
		scan(&s, text, len, 0, false, NULL);
		if (s.complete) {
			fprintf(stderr, "  cut at %zu (\"...%.12s\") is complete\n", len,
				text + len - 12);
			CHECK(0);
			dumpscan_free(&s);
			break;
		}
		dumpscan_free(&s);
	}
}

/* ------------------------------------------------------------------------ */
/* Meta-commands                                                            */

static void meta_commands_are_flagged(void)
{
	/* right after \restrict: line 6 */
	expect_bad_meta("--\n-- PostgreSQL database dump\n--\n\n\\restrict KEY123\n"
			"\\! touch x\n" "\n" TRAILER, "\\!", 6);
	expect_bad_meta("--\n-- PostgreSQL database dump\n--\n\n\\restrict KEY123\n"
			"\\connect other\n" TRAILER, "\\connect", 6);
	/* the snippet starts on line 12 */
	expect_bad_meta(HEAD "SELECT 1 \\g\n" TRAILER, "\\g", 12);
	expect_bad_meta(HEAD "SELECT 1;\nSELECT 'x'; \\! id\n" TRAILER, "\\!", 13);
	expect_bad_meta(HEAD "SELECT $$x$$ \\gexec\n" TRAILER, "\\gexec", 12);
	expect_bad_meta(HEAD "SELECT \"a\\b\" \\o /tmp/x\n" TRAILER, "\\o", 12);
	expect_bad_meta(HEAD "/* c */ \\i /etc/passwd\n" TRAILER, "\\i", 12);
	expect_bad_meta(HEAD "\\copy t from program 'id'\n" TRAILER, "\\copy", 12);
	expect_bad_meta(HEAD "\\c other\n" TRAILER, "\\c", 12);
	expect_bad_meta(HEAD "\\set ON_ERROR_STOP off\n" TRAILER, "\\set", 12);
	expect_bad_meta(HEAD "SELECT 1 \\\\ SELECT 2;\n" TRAILER, "\\\\", 12);
	expect_bad_meta(HEAD "\\\n" TRAILER, "\\", 12);
	/* after a multi-line string and after a COPY block, counting lines */
	expect_bad_meta(HEAD "SELECT 'a\nb';\nCOPY public.t (a) FROM stdin;\n1\n2\n\\.\n\\! id\n"
			TRAILER, "\\!", 18);
	/* the first one is reported */
	expect_bad_meta(HEAD "\\! first\n\\connect second\n" TRAILER, "\\!", 12);
	/* after the trailer: flagged, and the file is not complete */
	{
		struct dumpscan s;
		scan_both(&s, HEAD "SELECT 1;\n" TRAILER "\\! touch x\n");
		CHECK_STR(s.bad_meta, "\\!");
		CHECK(!s.complete);
		dumpscan_free(&s);
	}
	/* a long command name is cut, never overflows */
	{
		char text[600], name[300];
		struct dumpscan s;
		memset(name, 'x', sizeof name - 1);
		name[sizeof name - 1] = '\0';
		snprintf(text, sizeof text, "%s\\%s arg\n%s", HEAD, name, TRAILER);
		scan_both(&s, text);
		CHECK(s.bad_meta[0] == '\\');
		CHECK(strlen(s.bad_meta) < sizeof s.bad_meta);
		CHECK(s.bad_meta_line == 12);
		dumpscan_free(&s);
	}
}

static void backslashes_that_are_not_meta_commands(void)
{
	expect_clean(HEAD "SELECT 'a\\b \\! c';\n" TRAILER);
	expect_clean(HEAD "SELECT 'it''s \\g';\n" TRAILER);
	expect_clean(HEAD "SELECT E'it\\'s \\\\! x';\n" TRAILER);
	expect_clean(HEAD "SELECT e'\\'\\\\';\n" TRAILER);
	expect_clean(HEAD "SELECT E'\\\\';\n" TRAILER);
	expect_clean(HEAD "SELECT $$ \\! x $$;\n" TRAILER);
	expect_clean(HEAD "SELECT $fn$ \\! x $fn$;\n" TRAILER);
	expect_clean(HEAD "SELECT $a$ $b$ \\g $b$ $a$;\n" TRAILER);
	expect_clean(HEAD "SELECT $_$ it's \\! $_$;\n" TRAILER);
	expect_clean(HEAD "SELECT $é$ \\! $é$;\n" TRAILER);
	expect_clean(HEAD "SELECT 1 AS \"\\!\";\n" TRAILER);
	expect_clean(HEAD "SELECT 1 AS \"a\"\"\\g\";\n" TRAILER);
	expect_clean(HEAD "-- \\! comment\n" TRAILER);
	expect_clean(HEAD "SELECT 1; -- \\! trailing comment\n" TRAILER);
	expect_clean(HEAD "/* \\! */ SELECT 1;\n" TRAILER);
	expect_clean(HEAD "/* a /* b \\! */ c \\g */ SELECT 1;\n" TRAILER);
	expect_clean(HEAD "SELECT 1 /* -- */ ; /* ' */\n" TRAILER);
	expect_clean(HEAD "SELECT '--' AS \"/*\", $$'$$;\n" TRAILER);
	/* over several lines: a line that starts with a backslash */
	expect_clean(HEAD "SELECT 'line1\n\\! line2';\n" TRAILER);
	expect_clean(HEAD "SELECT E'a\\\n\\! b';\n" TRAILER);
	expect_clean(HEAD "SELECT E'a\n\\'\n\\! b';\n" TRAILER);
	expect_clean(HEAD "SELECT $x$\n\\! touch\n$x$;\n" TRAILER);
	expect_clean(HEAD "SELECT \"a\n\\!\";\n" TRAILER);
	expect_clean(HEAD "/*\n\\! touch\n/* nested\n*/\n\\connect x\n*/\n" TRAILER);
	/* positional parameters and identifiers with $ are not dollar quotes */
	expect_clean(HEAD "SELECT $1, a$b, $2 FROM t$x$;\n" TRAILER);
	/* COPY data is data, even when it starts with a backslash */
	expect_clean(HEAD "COPY public.t (a) FROM stdin;\n\\\\! not meta\n\\! still data\n\\.\n"
		     TRAILER);
	/* large objects in standard strings */
	expect_clean(HEAD "SELECT pg_catalog.lowrite(0, '\\x68656c6c6f');\n" TRAILER);
}

static void e_string_with_doubled_quote(void)
{
	/* psql: E'a''b\'c' is one literal (a'b'c), so the next line is a
	 * meta-command that psql runs (checked with psql 15.20). */
	expect_bad_meta(HEAD "SELECT E'a''b\\'c';\n\\! touch pwned\n" TRAILER, "\\!", 13);
	/* and a valid dump with such a literal stays readable after it */
	{
		struct dumpscan s;
		scan_both(&s, HEAD "SELECT E'a''\\'';\nCOPY public.t (a) FROM stdin;\n1\n\\.\n" TRAILER);
		CHECK(s.complete);
		CHECK_STR(s.bad_meta, "");
		CHECK(s.n_tables == 1);
		if (s.n_tables == 1)
			CHECK(s.tables[0].rows == 1);
		dumpscan_free(&s);
	}
}

/* ------------------------------------------------------------------------ */
/* Not a pg_dump header                                                     */

static void header_missing(void)
{
	static const char pgdmp[] = "PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01\x00\x00\x00\x00\x02\x00";
	struct dumpscan s;

	scan(&s, "", 0, 0, false, NULL);
	CHECK(!s.header_ok);
	CHECK(!s.complete);
	CHECK(s.n_tables == 0);
	CHECK(s.lines == 0);
	CHECK(s.bytes == 0);
	dumpscan_free(&s);

	scan(&s, pgdmp, sizeof pgdmp - 1, 0, false, NULL);
	CHECK(!s.header_ok);
	CHECK(!s.complete);
	CHECK(s.bytes == sizeof pgdmp - 1);
	dumpscan_free(&s);

	scan(&s, "hello world\nthis is not a dump\n", 31, 0, false, NULL);
	CHECK(!s.header_ok);
	CHECK(!s.complete);
	dumpscan_free(&s);

	/* the header must be the first two lines */
	scan_both(&s, "\n--\n-- PostgreSQL database dump\n--\n" TRAILER);
	CHECK(!s.header_ok);
	dumpscan_free(&s);
	scan_both(&s, "-- PostgreSQL database dump\n--\n" TRAILER);
	CHECK(!s.header_ok);
	dumpscan_free(&s);
	scan_both(&s, "--\n-- PostgreSQL database dump complete\n--\n\n");
	CHECK(!s.header_ok);
	dumpscan_free(&s);
	scan_both(&s, "--\n-- PostgreSQL database dump\n--\n");
	CHECK(s.header_ok);
	CHECK(!s.complete);
	dumpscan_free(&s);
	/* only the header line, cut */
	scan(&s, "--\n-- PostgreSQL database du", 29, 0, false, NULL);
	CHECK(!s.header_ok);
	dumpscan_free(&s);
}

static size_t put_str(char *dst, const char *src)
{
	size_t n = strlen(src);

	memcpy(dst, src, n);
	return n;
}

static void long_lines(void)
{
	size_t n = 300000;
	char *text = malloc(2 * n + 1024);
	struct dumpscan s;
	size_t k = 0;

	REQUIRE(text != NULL);
	k += put_str(text + k, HEAD "SELECT '");
	memset(text + k, 'x', n);
	k += n;
	k += put_str(text + k, "';\nCOPY public.t (a) FROM stdin;\n");
	memset(text + k, 'y', n);
	k += n;
	k += put_str(text + k, "\n\\.\n" TRAILER);
	scan(&s, text, k, 4093, false, NULL);
	CHECK(s.complete);
	CHECK(!s.bad_meta[0]);
	REQUIRE(s.n_tables == 1);
	CHECK(s.tables[0].rows == 1);
	dumpscan_free(&s);
	free(text);
}

/* The lock estimate (dumpscan.h, lock_objects): statements that start a
 * line at the lexer's normal state count, text inside a string or a
 * comment does not. */
static void lock_estimate(void)
{
	static const char text[] = HEAD
		"CREATE TABLE a (x int);\n"            /* 3 */
		"CREATE UNLOGGED TABLE b (x int);\n"   /* 3 */
		"CREATE INDEX a_x ON a (x);\n"         /* 1 */
		"CREATE UNIQUE INDEX b_x ON b (x);\n"  /* 1 */
		"CREATE SEQUENCE s\n    START WITH 1;\n" /* 1 */
		"CREATE VIEW v AS\n SELECT 1;\n"       /* 1 */
		"CREATE MATERIALIZED VIEW m AS\n SELECT 1\n  WITH NO DATA;\n" /* 1 */
		"ALTER TABLE ONLY a\n    ADD CONSTRAINT a_pk PRIMARY KEY (x);\n" /* 1 */
		"ALTER TABLE ONLY b\n    ADD CONSTRAINT b_u UNIQUE (x);\n"     /* 1 */
		"ALTER TABLE ONLY b\n    ADD CONSTRAINT b_fk FOREIGN KEY (x) REFERENCES a(x);\n"
		"SELECT pg_catalog.lo_create('16396');\n" /* 1 */
		"SELECT pg_catalog.lo_create('16397');\n" /* 1 */
		"SELECT 'x\nCREATE TABLE not_one (x int);\n';\n"
		"/*\nCREATE TABLE nor_this (x int);\n*/\n"
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nCREATE TABLE inside_body (x int);\n$$;\n"
		TRAILER;
	struct dumpscan s;

	scan(&s, text, sizeof text - 1, 0, false, NULL);
	CHECK(s.complete);
	CHECK(s.lock_objects == 15);
	dumpscan_free(&s);
	scan(&s, FIXTURE, sizeof FIXTURE - 1, 0, false, NULL);
	CHECK(s.lock_objects == 4 * 3 + 1 + 1); /* 4 tables, a primary key, a large object */
	dumpscan_free(&s);
}

UNIT_MAIN(T(fixture_whole), T(lock_estimate), T(copy_hook_wraps_each_block), T(fixture_every_chunk_size), T(fixture_random_chunks),
	  T(strip_txn_only_top_level), T(sink_error_stops_the_scan), T(transaction_commands_are_flagged), T(sink_never_gets_a_meta_command), T(strip_restrict_drops_the_dumps_key_lines), T(total_rows),
	  T(copy_table_names), T(no_trailer_or_more_after_it), T(cut_inside_copy),
	  T(every_cut_before_the_trailer_is_incomplete), T(unrestrict_line_must_be_whole),
	  T(meta_commands_are_flagged), T(backslashes_that_are_not_meta_commands),
	  T(e_string_with_doubled_quote), T(header_missing), T(long_lines))
