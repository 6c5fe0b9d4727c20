/* dumpscan.h - a streaming scanner for pg_dump's plain SQL output.
 *
 * Fed the dump in chunks of any size, it tallies the rows of every COPY
 * block (one row per line until "\." - COPY's text format escapes newlines
 * inside values, see the COPY reference page, "Text Format"), recognises
 * pg_dump's header and its completion trailer, and lexes the SQL between
 * COPY blocks the way psql does (quotes, E'' strings, dollar quotes,
 * comments) to find psql meta-commands. pg_dump writes only \restrict and
 * \unrestrict (CVE-2025-8714 fix, 15.14+); any other meta-command outside a
 * quoted string (\!, \connect, \i ...) marks the file as not a plain pg_dump
 * we will feed to psql.
 *
 * It also flags what would break a restore's single transaction and what
 * pg_dump never writes: a top-level statement starting with a transaction
 * command (BEGIN, START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE,
 * PREPARE) other than pg_dump's own "BEGIN;"/"COMMIT;" lines, a
 * \restrict/\unrestrict anywhere but at the start of a statement's first
 * line, and a NUL byte (psql drops the rest of such a line, so its view and
 * the scanner's would part).
 *
 * Optionally it copies the dump to a sink, dropping the top-level
 * "BEGIN;"/"COMMIT;" lines pg_dump writes around large objects, so a restore
 * can run the whole file in one transaction (psql's --single-transaction has
 * no effect on scripts that contain their own BEGIN/COMMIT).
 *
 * Pure: no I/O besides the sink; unit-tested in tests/unit/test_dumpscan.c.
 */
#ifndef VIGIL_DUMPSCAN_H
#define VIGIL_DUMPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct dumpscan_table {
	char *name;     /* as written after COPY, e.g. public.items or s."Año" */
	uint64_t rows;
};

typedef int (*dumpscan_sink)(void *ctx, const void *buf, size_t n, struct err *e);

/* With a sink: called with the sink's ctx right before a COPY block's
 * header line goes to the sink (end false) and right after its "\." line
 * did (end true); table is the index of the block in tables (rows final at
 * the end). Lets a caller wrap each block in statements of its own.
 * Returns 0, or -1 with e set, which stops the scan like a sink error. */
typedef int (*dumpscan_copy_hook)(void *ctx, bool end, size_t table, struct err *e);

struct dumpscan {
	/* results, valid after dumpscan_finish */
	bool header_ok;        /* starts with pg_dump's "-- PostgreSQL database dump" */
	bool complete;         /* ends with pg_dump's completion trailer */
	bool has_restrict;     /* a \restrict line was seen */
	char restrict_key[128]; /* its key */
	char bad_meta[64];     /* first meta-command other than \restrict/\unrestrict */
	uint64_t bad_meta_line;
	char bad_stmt[64];     /* first "transaction command X" or "NUL byte" (see below) */
	uint64_t bad_stmt_line;
	char version_line[128]; /* "Dumped by pg_dump version ..." value, if seen */
	struct dumpscan_table *tables;
	size_t n_tables;
	uint64_t lock_objects;  /* estimate of the locks one transaction loading
				 * this dump takes (see below) */
	uint64_t lines;
	uint64_t bytes;

	/* options */
	bool strip_txn;        /* drop top-level BEGIN;/COMMIT; lines on output */
	bool strip_restrict;   /* drop lines starting \restrict / \unrestrict on output */
	dumpscan_sink sink;    /* NULL = scan only */
	dumpscan_copy_hook copy_hook; /* NULL = none; only with a sink */
	void *sink_ctx;

	/* private state */
	int lex;
	int comment_depth;
	char dollar_tag[64];
	size_t dollar_len;
	bool in_stmt;        /* inside a statement (false at its start) */
	bool txn_line_ok;    /* the line is pg_dump's own BEGIN; or COMMIT; */
	bool in_copy;
	bool copy_pending;   /* inside a COPY header split by a quoted newline */
	bool after_trailer;
	char copy_prefix[4];
	size_t copy_prefix_len;
	uint64_t *cur_rows;
	char *line;
	size_t line_len, line_cap;
	bool line_over;
};

/* Initialise s (options may be set afterwards, before the first feed). */
void dumpscan_init(struct dumpscan *s);

/* Scan n bytes. Returns 0, or -1 with e set (ERR_INTERNAL out of memory, or
 * whatever the sink reported). With a sink, a line holding a meta-command
 * other than \restrict/\unrestrict is not passed on: ERR_CORRUPT (also
 * from dumpscan_finish). */
int dumpscan_feed(struct dumpscan *s, const void *buf, size_t n, struct err *e);

/* What was flagged so far (bad_meta, then bad_stmt) as an error: 0, or -1
 * with e set (ERR_CORRUPT, the message names it and its line). */
int dumpscan_check_commands(const struct dumpscan *s, struct err *e);

/* Process a last line without a newline. Returns 0 or -1 as feed. */
int dumpscan_finish(struct dumpscan *s, struct err *e);

/* Release tables and buffers. */
void dumpscan_free(struct dumpscan *s);

/* lock_objects is an estimate of how many lock-table entries a restore of
 * the dump in ONE transaction holds at its end (PostgreSQL manual,
 * max_locks_per_transaction: the shared lock table has room for
 * max_locks_per_transaction * (max_connections + max_prepared_transactions)
 * objects). Counted per top-level statement that creates a lockable object:
 * CREATE [UNLOGGED|FOREIGN] TABLE counts 3 (the table, its TOAST table and
 * the TOAST index: an over-estimate for tables without variable-length
 * columns), CREATE [UNIQUE] INDEX, SEQUENCE, VIEW and MATERIALIZED VIEW 1,
 * an ADD CONSTRAINT ... PRIMARY KEY/UNIQUE (its index) 1, and every
 * large object (SELECT pg_catalog.lo_create) 1. Functions, types and other
 * objects take no lock that outlives their statement. */

/* Total rows over all tables. */
uint64_t dumpscan_total_rows(const struct dumpscan *s);

#endif
