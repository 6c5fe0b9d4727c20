/* ascii.h - character classes of the ASCII letters and digits, whatever
 * the locale (<ctype.h> follows LC_CTYPE, and vigil sets C.UTF-8).
 *
 * For parsers of fixed syntaxes: cron expressions (cron.c), POSIX TZ
 * strings and zone names (tz.c). Pure, header-only.
 */
#ifndef VIGIL_ASCII_H
#define VIGIL_ASCII_H

#include <stdbool.h>

/* Space, tab, newline, carriage return, vertical tab or form feed: the
 * blanks of the "C" locale's isspace(3). */
static inline bool ascii_is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* '0'..'9'. */
static inline bool ascii_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* 'a'..'z' or 'A'..'Z'. */
static inline bool ascii_is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* ch with 'a'..'z' made upper case; anything else unchanged. */
static inline char ascii_upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

#endif
