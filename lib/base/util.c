/* util.c - small shared helpers: labels, allocation that aborts when memory
 * runs out, UUIDs */
#include "alertq/util.h"

#include <errno.h>
#include <pthread.h>
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

/* Random bytes for aq_uuid4, drawn from getrandom() a buffer at a time: one
 * system call per UUID_POOL / 16 ids instead of one per id. Each thread has
 * its own buffer (several threads make ids at once: the worker's batch, the
 * dispatcher, the HTTP intake of `serve`), so no lock is taken. Bytes are
 * wiped as they are used, and a forked child throws away what it inherited,
 * so no two processes and no two ids share bytes. */
#define UUID_POOL 4096

static __thread unsigned char uuid_pool[UUID_POOL];
static __thread size_t uuid_pool_used = UUID_POOL;
static pthread_once_t uuid_fork_once = PTHREAD_ONCE_INIT;

/* In the child, the one thread left is the one that forked. */
static void uuid_pool_drop(void)
{
	uuid_pool_used = UUID_POOL;
}

static void uuid_fork_register(void)
{
	if (pthread_atfork(NULL, NULL, uuid_pool_drop) != 0)
		abort();
}

static void uuid_pool_fill(void)
{
	size_t got = 0;
	while (got < UUID_POOL) {
		ssize_t n = getrandom(uuid_pool + got, UUID_POOL - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort();
	}
	uuid_pool_used = 0;
}

void aq_uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	/* where the dashes fall between the 16 bytes' digits */
	static const unsigned char dash_after[16] = { 0, 0, 0, 1, 0, 1, 0, 1, 0, 1 };
	unsigned char b[16];

	pthread_once(&uuid_fork_once, uuid_fork_register);
	if (uuid_pool_used + sizeof(b) > UUID_POOL)
		uuid_pool_fill();
	memcpy(b, uuid_pool + uuid_pool_used, sizeof(b));
	explicit_bzero(uuid_pool + uuid_pool_used, sizeof(b));
	uuid_pool_used += sizeof(b);

	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char *o = out;
	for (size_t i = 0; i < sizeof(b); i++) {
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0x0f];
		if (dash_after[i])
			*o++ = '-';
	}
	*o = '\0';
}
