/* test_dump.c - unit tests for the pure parts of src/pipeline/dump.c: the check of
 * PG_DUMP_EXTRA_OPTS that every command runs before anything else (TRIAL
 * F15: an unbalanced quote passed check-config and then failed every run;
 * F23: --create was refused at dump time with a message that named no
 * option).
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/dump.h"
#include "base/err.h"
#include "unit.h"

/* opts must pass. */
static void ok(const char *opts)
{
	struct err e;

	err_clear(&e);
	if (dump_check_extra_opts(opts, &e) != 0) {
		fprintf(stderr, "  refused [%s]: %s\n", opts ? opts : "(null)", e.msg);
		CHECK(0);
	}
}

/* opts must be refused with ERR_CONFIG and a message holding want. */
static void bad(const char *opts, const char *want)
{
	struct err e;

	err_clear(&e);
	if (dump_check_extra_opts(opts, &e) != -1 || e.code != ERR_CONFIG ||
	    !strstr(e.msg, "PG_DUMP_EXTRA_OPTS") || !strstr(e.msg, want)) {
		fprintf(stderr, "  [%s]: got \"%s\", want a refusal naming \"%s\"\n", opts, e.msg,
			want);
		CHECK(0);
	}
}

static void usual_options_pass(void)
{
	ok(NULL);
	ok("");
	ok("--exclude-table-data=django_session");
	ok("--exclude-table-data django_session --no-owner -x");
	ok("-T 'audit log' -t \"public.items\" -v");
	ok("--clean --if-exists --inserts --rows-per-insert 100");
	ok("-n public -N 'tmp*' --lock-wait-timeout=60s");
	ok("-Tpublic.x -vt items");
	ok("--schema-only");
	ok("--filter filters.txt"); /* a newer pg_dump's option: pg_dump decides */
	ok("--exclude-ext=x");      /* likewise: not pg_dump 15's, passed on */
}

static void unbalanced_quotes_are_refused(void)
{
	bad("'unbalanced", "quote");
	bad("--exclude-table-data=\"x", "quote");
}

static void options_vigil_owns_are_refused(void)
{
	bad("-f out.sql", "-f");
	bad("--file=out.sql", "--file");
	bad("--fil=out.sql", "--fil");   /* getopt_long's abbreviation */
	bad("-Fc", "BACKUP_FORMAT");
	bad("-vFc", "BACKUP_FORMAT");    /* in a group */
	bad("--format=custom", "BACKUP_FORMAT");
	bad("--form c", "BACKUP_FORMAT");
	bad("-j 4", "-j");
	bad("-Z 9", "BACKUP_COMPRESSION");
	bad("--compress=9", "BACKUP_COMPRESSION");
	bad("--create", "--create");
	bad("-C", "-C");
	bad("-d other", "POSTGRES_DB");
	bad("--dbname=other", "POSTGRES_DB");
	bad("-h elsewhere", "POSTGRES_HOST");
	bad("-p 5433", "POSTGRES_PORT");
	bad("-U bob", "POSTGRES_USER");
	bad("-W", "POSTGRES_PASSWORD");
	bad("--version", "--version");
	bad("--binary-upgrade", "pg_upgrade");
}

static void bare_words_are_refused(void)
{
	bad("otherdb", "otherdb");
	bad("--no-owner otherdb", "another database");
	bad("-t items otherdb", "otherdb");
	bad("-t", "needs a value");
	bad("--exclude-table-data", "needs a value");
	/* an option's value that looks like an option is still its value */
	ok("-t -weird-table");
}

UNIT_MAIN(T(usual_options_pass), T(unbalanced_quotes_are_refused),
	  T(options_vigil_owns_are_refused), T(bare_words_are_refused))
