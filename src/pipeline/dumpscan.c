/* dumpscan.c - see dumpscan.h. The lexer follows psql's scanner rules
 * (src/fe_utils/psqlscan.l): a backslash outside quotes and comments starts
 * a meta-command that runs to the end of the line. */
#include "pipeline/dumpscan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

enum { LEX_NORMAL, LEX_SQUOTE, LEX_ESTRING, LEX_DQUOTE, LEX_DOLLAR, LEX_COMMENT };

#define LINE_CAP_MAX (64u * 1024 * 1024) /* longer SQL lines are lexed in pieces */
#define TRAILER "-- PostgreSQL database dump complete"

void dumpscan_init(struct dumpscan *s)
{
	memset(s, 0, sizeof *s);
}

void dumpscan_free(struct dumpscan *s)
{
	for (size_t i = 0; i < s->n_tables; i++)
		free(s->tables[i].name);
	free(s->tables);
	free(s->line);
	s->tables = NULL;
	s->n_tables = 0;
	s->line = NULL;
}

uint64_t dumpscan_total_rows(const struct dumpscan *s)
{
	uint64_t t = 0;

	for (size_t i = 0; i < s->n_tables; i++)
		t += s->tables[i].rows;
	return t;
}

static bool ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool line_is(const char *l, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(l, word, n) == 0;
}

static int add_table(struct dumpscan *s, const char *l, size_t n, struct err *e)
{
	/* "COPY <name> (<cols>) FROM stdin;" or "COPY <name> FROM stdin;" */
	const char *p = l + 5, *end = l + n - strlen(" FROM stdin;");
	const char *q = p;
	struct dumpscan_table *t;
	bool quoted = false;

	while (q < end) {
		if (*q == '"')
			quoted = !quoted;
		else if (!quoted && *q == ' ')
			break;
		q++;
	}
	t = realloc(s->tables, (s->n_tables + 1) * sizeof *t);
	if (!t)
		return err_set(e, ERR_INTERNAL, "out of memory");
	s->tables = t;
	t = &s->tables[s->n_tables];
	t->name = strndup(p, (size_t)(q - p));
	t->rows = 0;
	if (!t->name)
		return err_set(e, ERR_INTERNAL, "out of memory");
	s->n_tables++;
	s->cur_rows = &t->rows;
	return 0;
}

static void flag_stmt(struct dumpscan *s, const char *what)
{
	if (!s->bad_stmt[0]) {
		snprintf(s->bad_stmt, sizeof s->bad_stmt, "%s", what);
		s->bad_stmt_line = s->lines;
	}
}

/* At the start of a statement: is the word at l[i..n) a transaction
 * command (SQL Commands reference, "Transaction control")? */
static void check_txn_word(struct dumpscan *s, const char *l, size_t i, size_t n)
{
	static const char *const words[] = { "BEGIN", "START", "COMMIT", "END", "ROLLBACK",
					      "ABORT", "SAVEPOINT", "RELEASE", "PREPARE", NULL };
	size_t j = i;
	char w[16], what[48];

	while (j < n && j - i < sizeof w - 1 && isalpha((unsigned char)l[j])) {
		w[j - i] = (char)toupper((unsigned char)l[j]);
		j++;
	}
	w[j - i] = '\0';
	if (j < n && ident_char((unsigned char)l[j]))
		return;
	for (int k = 0; words[k]; k++) {
		if (strcmp(w, words[k]) == 0 && !s->txn_line_ok) {
			snprintf(what, sizeof what, "the transaction command %s", w);
			flag_stmt(s, what);
		}
	}
}

/* Run the lexer over one SQL line (without its newline). */
static void lex_line(struct dumpscan *s, const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = l[i];

		switch (s->lex) {
		case LEX_NORMAL:
			if (c == '-' && i + 1 < n && l[i + 1] == '-')
				return; /* comment to end of line */
			if (isspace((unsigned char)c))
				break;
			if (c == ';') {
				s->in_stmt = false;
				break;
			}
			if (!s->in_stmt && c != '\\' && !(c == '/' && i + 1 < n && l[i + 1] == '*')) {
				if (isalpha((unsigned char)c))
					check_txn_word(s, l, i, n);
				s->in_stmt = true;
			}
			if (c == '/' && i + 1 < n && l[i + 1] == '*') {
				s->lex = LEX_COMMENT;
				s->comment_depth = 1;
				i++;
			} else if (c == '\'') {
				bool e = i > 0 && (l[i - 1] == 'E' || l[i - 1] == 'e') &&
					 (i < 2 || !ident_char((unsigned char)l[i - 2]));
				s->lex = e ? LEX_ESTRING : LEX_SQUOTE;
			} else if (c == '"') {
				s->lex = LEX_DQUOTE;
			} else if (c == '$' && (i == 0 || !ident_char((unsigned char)l[i - 1]))) {
				size_t j = i + 1;
				while (j < n && (isalnum((unsigned char)l[j]) || l[j] == '_' ||
						 (unsigned char)l[j] >= 0x80) &&
				       !(j == i + 1 && isdigit((unsigned char)l[j])))
					j++;
				if (j < n && l[j] == '$' && j - i + 1 <= sizeof s->dollar_tag) {
					s->dollar_len = j - i + 1;
					memcpy(s->dollar_tag, l + i, s->dollar_len);
					s->lex = LEX_DOLLAR;
					i = j;
				}
			} else if (c == '\\') {
				size_t j = i + 1, k = 0;
				char name[sizeof s->bad_meta];
				while (j < n && !isspace((unsigned char)l[j]) && k + 1 < sizeof name)
					name[k++] = l[j++];
				name[k] = '\0';
				if ((strcmp(name, "restrict") == 0 || strcmp(name, "unrestrict") == 0) &&
				    (i > 0 || s->in_stmt)) {
					/* pg_dump writes them alone on a line; elsewhere
					 * they are no part of its output */
					if (!s->bad_meta[0]) {
						snprintf(s->bad_meta, sizeof s->bad_meta, "\\%s", name);
						s->bad_meta_line = s->lines;
					}
				} else if (strcmp(name, "restrict") == 0) {
					size_t kl = 0;
					while (j < n && l[j] == ' ')
						j++;
					while (j + kl < n && !isspace((unsigned char)l[j + kl]) &&
					       kl + 1 < sizeof s->restrict_key)
						kl++;
					memcpy(s->restrict_key, l + j, kl);
					s->restrict_key[kl] = '\0';
					s->has_restrict = true;
				} else if (strcmp(name, "unrestrict") == 0) {
					/* fine */
				} else if (!s->bad_meta[0]) {
					s->bad_meta[0] = '\\';
					memcpy(s->bad_meta + 1, name,
					       k + 1 < sizeof s->bad_meta - 1 ? k + 1 : sizeof s->bad_meta - 2);
					s->bad_meta[sizeof s->bad_meta - 1] = '\0';
					s->bad_meta_line = s->lines;
				}
				return; /* a meta-command takes the rest of the line */
			}
			break;
		case LEX_SQUOTE:
		case LEX_ESTRING:
			if (c == '\\' && s->lex == LEX_ESTRING)
				i++;
			else if (c == '\'' && i + 1 < n && l[i + 1] == '\'')
				i++; /* '' is a quote inside the string, in both kinds */
			else if (c == '\'')
				s->lex = LEX_NORMAL;
			break;
		case LEX_DQUOTE:
			if (c == '"')
				s->lex = LEX_NORMAL;
			break;
		case LEX_DOLLAR:
			if (c == '$' && n - i >= s->dollar_len &&
			    memcmp(l + i, s->dollar_tag, s->dollar_len) == 0) {
				s->lex = LEX_NORMAL;
				i += s->dollar_len - 1;
			}
			break;
		case LEX_COMMENT:
			if (c == '*' && i + 1 < n && l[i + 1] == '/') {
				if (--s->comment_depth == 0)
					s->lex = LEX_NORMAL;
				i++;
			} else if (c == '/' && i + 1 < n && l[i + 1] == '*') {
				s->comment_depth++;
				i++;
			}
			break;
		}
	}
}

int dumpscan_check_commands(const struct dumpscan *s, struct err *e)
{
	/* pg_dump writes \connect with --create (-C) only (TRIAL F23): such a
	 * dump would switch to the database by name, not load where vigil
	 * points it. */
	if (s->bad_meta[0] && (strcmp(s->bad_meta, "\\connect") == 0 || strcmp(s->bad_meta, "\\c") == 0))
		return err_set(e, ERR_CORRUPT, "the dump contains the psql meta-command %s at line "
			       "%llu, which pg_dump writes only with --create (-C); vigil does not "
			       "support --create in PG_DUMP_EXTRA_OPTS and refuses to feed it to psql",
			       s->bad_meta, (unsigned long long)s->bad_meta_line);
	if (s->bad_meta[0])
		return err_set(e, ERR_CORRUPT, "the dump contains the psql meta-command %s at line "
			       "%llu, which pg_dump never writes; refusing to feed it to psql",
			       s->bad_meta, (unsigned long long)s->bad_meta_line);
	if (s->bad_stmt[0])
		return err_set(e, ERR_CORRUPT, "the dump contains %s at line %llu, which pg_dump "
			       "never writes there; refusing to feed it to psql", s->bad_stmt,
			       (unsigned long long)s->bad_stmt_line);
	return 0;
}

/* With a sink, a meta-command psql would run never reaches it: the line
 * that holds it is refused before it is copied out. */
static int meta_gate(const struct dumpscan *s, struct err *e)
{
	return s->sink ? dumpscan_check_commands(s, e) : 0;
}

static int emit(struct dumpscan *s, const void *p, size_t n, struct err *e)
{
	if (!s->sink || n == 0)
		return 0;
	return s->sink(s->sink_ctx, p, n, e);
}

static bool odd_quotes(const char *l, size_t n)
{
	size_t q = 0;

	for (size_t i = 0; i < n; i++)
		q += l[i] == '"';
	return q % 2 == 1;
}

static int append_line(struct dumpscan *s, const char *p, size_t n, struct err *e);

/* Add what line l (a whole line at the lexer's normal state) adds to the
 * lock estimate (dumpscan.h, lock_objects). pg_dump starts every statement
 * at the start of a line and writes ADD CONSTRAINT on the line after
 * ALTER TABLE. */
static void count_locks(struct dumpscan *s, const char *l, size_t n)
{
	static const struct { const char *prefix; unsigned locks; } starts[] = {
		{ "CREATE TABLE ", 3 }, { "CREATE UNLOGGED TABLE ", 3 },
		{ "CREATE FOREIGN TABLE ", 1 }, { "CREATE INDEX ", 1 },
		{ "CREATE UNIQUE INDEX ", 1 }, { "CREATE SEQUENCE ", 1 },
		{ "CREATE VIEW ", 1 }, { "CREATE MATERIALIZED VIEW ", 1 },
		{ "SELECT pg_catalog.lo_create(", 1 },
	};

	if (s->in_stmt) {
		if (util_starts_with(l, "    ADD CONSTRAINT ") &&
		    (memmem(l, n, " PRIMARY KEY ", 13) || memmem(l, n, " UNIQUE ", 8)))
			s->lock_objects++;
		return;
	}
	for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
		if (util_starts_with(l, starts[i].prefix)) {
			s->lock_objects += starts[i].locks;
			return;
		}
}

/* A whole SQL line (without newline) in s->line. */
static int sql_line(struct dumpscan *s, bool has_newline, struct err *e)
{
	const char *l = s->line;
	size_t n = s->line_len;
	bool at_normal = s->lex == LEX_NORMAL;
	bool suppress = false;

	/* A COPY header whose quoted table or column name holds a newline
	 * spans physical lines: gather them until the quotes balance. */
	if ((s->copy_pending || (at_normal && !s->line_over && n > 5 && memcmp(l, "COPY ", 5) == 0)) &&
	    has_newline && odd_quotes(l, n)) {
		s->copy_pending = true;
		s->lines++;
		return append_line(s, "\n", 1, e);
	}
	if (s->copy_pending) {
		s->copy_pending = false;
		at_normal = true;
	}
	s->lines++;
	if (s->lines == 1)
		s->header_ok = line_is(l, n, "--");
	else if (s->lines == 2)
		s->header_ok = s->header_ok && line_is(l, n, "-- PostgreSQL database dump");
	if (at_normal && util_starts_with(l, "-- Dumped by pg_dump version ") && n < 200)
		snprintf(s->version_line, sizeof s->version_line, "%.*s", (int)(n - 29), l + 29);
	if (s->after_trailer) {
		/* Only blank lines, comments and the \unrestrict line that matches
		 * the dump's own \restrict key may follow the trailer; a key cut
		 * short or another key means the file was cut or altered. */
		bool unrestrict = n > 12 && memcmp(l, "\\unrestrict ", 12) == 0;
		if (unrestrict && (!s->has_restrict ||
				   strlen(s->restrict_key) != n - 12 ||
				   memcmp(l + 12, s->restrict_key, n - 12) != 0))
			s->after_trailer = false;
		else if (!(n == 0 || (n >= 2 && l[0] == '-' && l[1] == '-') || unrestrict))
			s->after_trailer = false;
	}
	if (at_normal && line_is(l, n, TRAILER))
		s->after_trailer = true;
	if (at_normal)
		count_locks(s, l, n);
	if (at_normal && !s->line_over && n > 5 + 12 && memcmp(l, "COPY ", 5) == 0 &&
	    util_ends_with(l, " FROM stdin;")) {
		if (add_table(s, l, n, e) < 0)
			return -1;
		if (s->sink && s->copy_hook && s->copy_hook(s->sink_ctx, false, s->n_tables - 1, e) < 0)
			return -1;
		s->in_copy = true;
		s->copy_prefix_len = 0;
	} else {
		s->txn_line_ok = at_normal && (line_is(l, n, "BEGIN;") || line_is(l, n, "COMMIT;"));
		if (s->txn_line_ok && s->strip_txn)
			suppress = true;
		/* The dump's own \restrict pair: a restore runs psql under a key
		 * of its own instead (restore.c). */
		if (at_normal && s->strip_restrict &&
		    ((n > 10 && memcmp(l, "\\restrict ", 10) == 0) ||
		     (n > 12 && memcmp(l, "\\unrestrict ", 12) == 0)))
			suppress = true;
		lex_line(s, l, n);
		if (meta_gate(s, e) < 0)
			return -1;
	}
	if (!suppress) {
		if (emit(s, l, n, e) < 0 || (has_newline && emit(s, "\n", 1, e) < 0))
			return -1;
	} else if (has_newline && emit(s, "\n", 1, e) < 0) {
		return -1;
	}
	s->line_len = 0;
	s->line_over = false;
	return 0;
}

static int append_line(struct dumpscan *s, const char *p, size_t n, struct err *e)
{
	if (s->line_len + n + 1 > s->line_cap) {
		size_t cap = s->line_cap ? s->line_cap : 4096;
		char *nl;
		while (cap < s->line_len + n + 1)
			cap *= 2;
		if (cap > LINE_CAP_MAX) {
			/* Lex what we have as a piece; the lexer keeps its state. */
			lex_line(s, s->line, s->line_len);
			if (meta_gate(s, e) < 0 || emit(s, s->line, s->line_len, e) < 0)
				return -1;
			s->line_len = 0;
			s->line_over = true;
			if (n + 1 > s->line_cap) {
				lex_line(s, p, n);
				return meta_gate(s, e) < 0 ? -1 : emit(s, p, n, e);
			}
		} else {
			nl = realloc(s->line, cap);
			if (!nl)
				return err_set(e, ERR_INTERNAL, "out of memory");
			s->line = nl;
			s->line_cap = cap;
		}
	}
	memcpy(s->line + s->line_len, p, n);
	s->line_len += n;
	s->line[s->line_len] = '\0';
	return 0;
}

int dumpscan_feed(struct dumpscan *s, const void *buf, size_t n, struct err *e)
{
	const char *p = buf, *end = p + n;

	if (!s->bad_stmt[0] && memchr(buf, '\0', n)) {
		const char *z = memchr(buf, '\0', n);
		uint64_t line = s->lines + 1;
		for (const char *q = p; q < z; q++)
			line += *q == '\n';
		flag_stmt(s, "a NUL byte");
		s->bad_stmt_line = line;
		if (meta_gate(s, e) < 0)
			return -1;
	}
	s->bytes += n;
	while (p < end) {
		if (s->in_copy) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *stop = nl ? nl : end;
			size_t take = (size_t)(stop - p);

			/* Keep the first bytes of the line to recognise "\." */
			if (s->copy_prefix_len < 3) {
				size_t k = take < 3 - s->copy_prefix_len ? take : 3 - s->copy_prefix_len;
				memcpy(s->copy_prefix + s->copy_prefix_len, p, k);
				s->copy_prefix_len += k;
			}
			if (!nl) {
				if (emit(s, p, take, e) < 0)
					return -1;
				p = end;
				break;
			}
			if (emit(s, p, take + 1, e) < 0)
				return -1;
			s->lines++;
			if (s->copy_prefix_len == 2 && s->copy_prefix[0] == '\\' && s->copy_prefix[1] == '.') {
				s->in_copy = false;
				if (s->sink && s->copy_hook &&
				    s->copy_hook(s->sink_ctx, true, s->n_tables - 1, e) < 0)
					return -1;
			} else if (s->cur_rows)
				(*s->cur_rows)++;
			s->copy_prefix_len = 0;
			p = nl + 1;
			continue;
		}
		{
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);
			if (append_line(s, p, take, e) < 0)
				return -1;
			p += take;
			if (nl) {
				p++;
				if (sql_line(s, true, e) < 0)
					return -1;
			}
		}
	}
	return 0;
}

int dumpscan_finish(struct dumpscan *s, struct err *e)
{
	if (s->in_copy) {
		/* Ended inside a COPY block: certainly no trailer. */
		s->after_trailer = false;
		if (s->copy_prefix_len)
			s->lines++;
	} else if (s->line_len > 0) {
		if (sql_line(s, false, e) < 0)
			return -1;
	}
	s->complete = s->after_trailer && !s->in_copy;
	return 0;
}
