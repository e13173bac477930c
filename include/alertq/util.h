/* util.h - small shared helpers: labels, strings and UUIDs (lib/base/util.c),
 * durations, clocks and RFC 3339 times (lib/base/time.c), logging
 * (lib/base/log.c), and redaction of secrets (lib/base/redact.c)
 *
 * Out of memory, one policy for the whole library:
 * - a small allocation whose size the program chooses (a string copied from
 *   configuration or a result, a struct, an array of at most AQ_LABELS_MAX
 *   labels) goes through aq_strdup, aq_strndup, aq_xmalloc, aq_xcalloc or
 *   aq_xrealloc, which abort the process: a daemon that cannot get a few
 *   bytes can neither report nor recover sanely, and its supervisor
 *   restarts it. Callers do not check their result.
 * - a buffer whose size comes from input (a line read, a plugin's output,
 *   an encoded message, a reply body) is allocated with plain malloc,
 *   checked where it is made, and its failure fails that one operation
 *   with an error; the daemon goes on. */
#ifndef ALERTQ_UTIL_H
#define ALERTQ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define AQ_MS_PER_SECOND 1000LL

/* A key=value pair; both strings are owned by whatever owns the array. */
struct aq_label {
	char *key;
	char *value;
};

/* Frees every key and value of an array of n labels, then the array. */
void aq_labels_free(struct aq_label *labels, size_t n);

/* Copies n labels into a new array (NULL when n is 0), owned by the caller.
 * Returns 0; out of memory aborts (the int is kept for its callers). */
int aq_labels_copy(struct aq_label **dst, const struct aq_label *src, size_t n);

/* Parses "30s", "15m", "4h", "7d", "250ms" (also "0") into milliseconds.
 * Returns 0, or -1 with a message in err when the text is not a duration. */
int aq_duration_parse(const char *text, int64_t *ms, char *err, size_t errlen);

/* Milliseconds since the epoch, wall clock. */
int64_t aq_now_ms(void);

/* Milliseconds from a monotonic clock, for timeouts. */
int64_t aq_monotonic_ms(void);

/* Writes epoch milliseconds as RFC 3339 UTC ("2026-11-27T17:00:00Z", with
 * ".123" when there are milliseconds) into buf (at least 32 bytes). */
void aq_format_time(int64_t ms, char *buf, size_t buflen);

/* Parses an RFC 3339 time ("2026-11-27T17:00:00Z", "...T17:00:00.5+01:00").
 * Returns 0, or -1 with a message in err. */
int aq_parse_time(const char *text, int64_t *ms, char *err, size_t errlen);

/* Writes a random (version 4) UUID in canonical text form into out[37]. */
void aq_uuid4(char out[37]);

/* Duplicates a string; aborts the process when memory runs out (see the
 * policy above). NULL in, NULL out. The copy is the caller's, for free(). */
char *aq_strdup(const char *s);

/* Duplicates at most n bytes of s and ends the copy with '\0'; aborts when
 * memory runs out. NULL in, NULL out. */
char *aq_strndup(const char *s, size_t n);

/* malloc, calloc and realloc for small allocations: never NULL (a size of 0
 * gives a valid pointer to free), abort when memory runs out. */
void *aq_xmalloc(size_t size);
void *aq_xcalloc(size_t n, size_t size);
void *aq_xrealloc(void *p, size_t size);

/* Logging to stderr: "2026-11-27T17:00:00.123Z alertq-worker: message".
 * aq_log_init names the program once at start. */
enum aq_log_level {
	AQ_LOG_DEBUG,
	AQ_LOG_INFO,
	AQ_LOG_WARN,
	AQ_LOG_ERROR
};
void aq_log_init(const char *program);
void aq_log(enum aq_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies a URL or DSN into out (outlen bytes, cut to fit, always ended)
 * with every password hidden as "***", so that it can be logged or shown:
 * the user:password@ of a URL (which becomes ***@), password=
 * query parameters ("...?sslmode=require&password=***"), and password=
 * values of key=value DSNs, also with white space around '=' and quoted
 * values ("host=db password=*** user=x" for password = 'se cret'). The keys
 * password, passwd and pwd are matched in any case. NULL gives "(none)". */
void aq_redact_url(const char *url, char *out, size_t outlen);

#endif
