/* redact.c - hiding passwords in URLs and DSNs before they are logged or shown */
#include "alertq/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

/* Appends to a bounded output: what does not fit is dropped, and the
 * output always ends with '\0'. */
struct out {
	char *buf;
	size_t len;
	size_t cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->cap == 0)
		return;
	size_t room = o->cap - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether a key can start at text + i: at the start, after white space
 * (key=value DSNs) or after '?', '&' or ';' (URL query parameters). */
static int key_starts(const char *text, size_t i)
{
	if (i == 0)
		return 1;
	char prev = text[i - 1];
	return is_space(prev) || prev == '?' || prev == '&' || prev == ';';
}

/* When a password parameter starts at s ("password=...", also with white
 * space around '=' as libpq allows), returns where its value starts, else
 * NULL. */
static const char *password_value(const char *s)
{
	static const char *const keys[] = { "sslpassword", "password", "passwd", "pwd", NULL };
	for (int k = 0; keys[k]; k++) {
		size_t n = strlen(keys[k]);
		if (strncasecmp(s, keys[k], n) != 0)
			continue;
		const char *p = s + n;
		while (is_space(*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (is_space(*p))
			p++;
		return p;
	}
	return NULL;
}

/* Returns the end of the value starting at v: past its closing quote when
 * quoted ('...' or "...", a backslash escaping the next character), else at
 * the first white space, '&', ';' or '#'. */
static const char *value_end(const char *v)
{
	if (*v == '\'' || *v == '"') {
		char quote = *v++;
		while (*v && *v != quote) {
			if (*v == '\\' && v[1])
				v++;
			v++;
		}
		return *v ? v + 1 : v;
	}
	while (*v && !is_space(*v) && *v != '&' && *v != ';' && *v != '#')
		v++;
	return v;
}

void aq_redact_url(const char *url, char *out, size_t outlen)
{
	struct out o = { out, 0, outlen };
	if (outlen > 0)
		out[0] = '\0';
	if (!url) {
		put(&o, "(none)", 6);
		return;
	}
	const char *p = url;
	const char *scheme_end = strstr(url, "://");
	if (scheme_end) {
		/* user:password@ in the authority, which ends at the path, query or fragment */
		const char *host_start = scheme_end + 3;
		size_t authority = strcspn(host_start, "/?#");
		const char *at = NULL;
		for (const char *c = host_start; c < host_start + authority; c++)
			if (*c == '@')
				at = c;
		if (at) {
			put(&o, url, (size_t)(host_start - url));
			put(&o, MASK, strlen(MASK));
			p = at;
		}
	}
	while (*p) {
		const char *value = key_starts(url, (size_t)(p - url)) ? password_value(p) : NULL;
		if (!value) {
			put(&o, p, 1);
			p++;
			continue;
		}
		put(&o, p, strcspn(p, "= \t\r\n"));
		put(&o, "=" MASK, strlen("=" MASK));
		p = value_end(value);
	}
}
