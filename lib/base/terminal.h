/* terminal.h - outside text made safe to print on an operator's terminal */
#ifndef ALERTQ_BASE_TERMINAL_H
#define ALERTQ_BASE_TERMINAL_H

#include <stddef.h>

/* Copies s into out (outlen bytes, always NUL-terminated) so that printing
 * it can never move the cursor, change colours, set a window title or
 * reorder what follows: control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 are written as \xNN, a backslash as \\, and the Unicode
 * characters that change the direction or the lines of text (U+200E,
 * U+200F, U+2028 to U+202E, U+2066 to U+2069) as \u{NNNN}. Cut on a
 * character boundary when out is too small. NULL s prints as "". Returns
 * out. */
char *aq_terminal_text(char *out, size_t outlen, const char *s);

#endif
