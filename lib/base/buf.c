/* buf.c - the one growable byte buffer, with a hard cap */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aq_buf_init(struct aq_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void aq_buf_release(struct aq_buf *b)
{
	free(b->data);
	aq_buf_init(b, b->max);
}

void aq_buf_reset(struct aq_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

int aq_buf_reserve(struct aq_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (n > b->max - b->len) {
		b->failed = 1;
		return -1;
	}
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *data = realloc(b->data, cap);
	if (!data) {
		b->failed = 1;
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

void aq_buf_add(struct aq_buf *b, const void *s, size_t n)
{
	if (aq_buf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void aq_buf_puts(struct aq_buf *b, const char *s)
{
	aq_buf_add(b, s, strlen(s));
}

void aq_buf_printf(struct aq_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		aq_buf_add(b, small, (size_t)n);
		return;
	}
	if (aq_buf_reserve(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *aq_buf_take(struct aq_buf *b)
{
	if (b->failed) {
		aq_buf_release(b);
		return NULL;
	}
	char *data = b->data ? b->data : strdup("");
	aq_buf_init(b, b->max);
	return data;
}
