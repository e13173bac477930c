/* buf.h - the one growable byte buffer: every one has a hard cap */
#ifndef ALERTQ_BASE_BUF_H
#define ALERTQ_BASE_BUF_H

#include <stddef.h>

/* A NUL-terminated text that grows up to max bytes (the NUL not counted).
 * Appending past max or running out of memory marks it failed: later
 * appends do nothing and the caller checks failed once, at the end. The
 * data belongs to the buffer until aq_buf_take or aq_buf_release. */
struct aq_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;
	int failed;
};

/* Starts an empty buffer that may hold up to max bytes. */
void aq_buf_init(struct aq_buf *b, size_t max);

/* Frees the data and leaves the buffer empty (max kept, failed cleared). */
void aq_buf_release(struct aq_buf *b);

/* Empties the buffer, keeping its memory. */
void aq_buf_reset(struct aq_buf *b);

/* Makes room for n more bytes. Returns 0, or -1 with the buffer failed. */
int aq_buf_reserve(struct aq_buf *b, size_t n);

/* Appends n bytes (which may hold NULs). */
void aq_buf_add(struct aq_buf *b, const void *s, size_t n);

/* Appends a NUL-terminated string. */
void aq_buf_puts(struct aq_buf *b, const char *s);

/* Appends printf-style text. */
void aq_buf_printf(struct aq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the text to the caller (who frees it) and leaves the buffer empty;
 * NULL when the buffer failed, and then the data is freed. An empty buffer
 * gives "" (allocated). */
char *aq_buf_take(struct aq_buf *b);

#endif
