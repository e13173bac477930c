/* utf8.h - UTF-8: validation, cutting on character boundaries, and the one
 * helper that makes any text safe to store or send (valid, bounded). */
#ifndef ALERTQ_BASE_UTF8_H
#define ALERTQ_BASE_UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 character at p (1 to 4 bytes), or 0 when
 * the bytes at p are not one: a stray continuation byte, an overlong form, a
 * surrogate, a value past U+10FFFF, or a sequence cut short by the end.
 * avail is how many bytes may be read at p. */
size_t aq_utf8_char_len(const unsigned char *p, size_t avail);

/* Whether n bytes at s are well-formed UTF-8 with no NUL byte. */
int aq_utf8_valid(const char *s, size_t n);

/* The largest length <= max at which s (len bytes) can be cut without
 * splitting a character; len when len <= max. A cut inside a malformed
 * sequence falls back to max, so the result is never 0 when max > 0 and
 * len > 0 unless s starts with a character longer than max. */
size_t aq_utf8_cut(const char *s, size_t len, size_t max);

/* How aq_text_clean treats control characters (U+0000-U+001F, U+007F). */
enum aq_text_controls {
	AQ_TEXT_SPACES,   /* every control character, newlines too, becomes a space */
	AQ_TEXT_NEWLINES, /* newlines (LF, CR, CRLF) stay as LF; the others become spaces */
};

/* The one way alertq makes outside text safe to keep or send: returns a new
 * NUL-terminated copy of len bytes at s in which every byte that is not part
 * of a well-formed character is replaced by U+FFFD, control characters are
 * treated as controls says, and which is cut on a character boundary so that
 * it holds at most cap bytes; a cut text ends in "..." (counted in cap).
 * s may be NULL (an empty text). The caller frees the result; NULL only when
 * memory runs out. */
char *aq_text_clean_n(const char *s, size_t len, size_t cap, enum aq_text_controls controls);

/* aq_text_clean_n over a NUL-terminated string. */
char *aq_text_clean(const char *s, size_t cap, enum aq_text_controls controls);

/* aq_text_clean_n into a caller's buffer of outlen bytes (cap = outlen - 1);
 * never fails. Returns out. */
char *aq_text_clean_into(char *out, size_t outlen, const char *s, size_t len, enum aq_text_controls controls);

#endif
