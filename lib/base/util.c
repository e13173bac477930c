/* util.c - small shared helpers: labels, allocation that aborts when memory
 * runs out, UUIDs */
#include "alertq/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void aq_labels_free(struct aq_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(labels[i].key);
		free(labels[i].value);
	}
	free(labels);
}

int aq_labels_copy(struct aq_label **dst, const struct aq_label *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	struct aq_label *copy = aq_xcalloc(n, sizeof(*copy));
	for (size_t i = 0; i < n; i++) {
		copy[i].key = aq_strdup(src[i].key);
		copy[i].value = aq_strdup(src[i].value);
	}
	*dst = copy;
	return 0;
}

/* The one place a small allocation that failed ends the process. */
static void out_of_memory(void)
{
	static const char msg[] = "alertq: out of memory\n";
	ssize_t unused = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)unused;
	abort();
}

char *aq_strdup(const char *s)
{
	if (!s)
		return NULL;
	char *copy = strdup(s);
	if (!copy)
		out_of_memory();
	return copy;
}

char *aq_strndup(const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *copy = strndup(s, n);
	if (!copy)
		out_of_memory();
	return copy;
}

void *aq_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *aq_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *aq_xrealloc(void *p, size_t size)
{
	void *grown = realloc(p, size ? size : 1);
	if (!grown)
		out_of_memory();
	return grown;
}

void aq_uuid4(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
