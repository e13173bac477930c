/* channels.h - private seams between the sender and the channel modules
 * (notification text, logfile, webhook and email requests) */
#ifndef ALERTQ_CHANNELS_H
#define ALERTQ_CHANNELS_H

#include <curl/curl.h>
#include <stdarg.h>

#include "alertq/notify.h"
#include "base/utf8.h"

/* Longest server reply or response start kept for an error message. */
#define AQ_REPLY_MAX 160

/* One request slot of a sender. Its easy handle lives as long as the sender,
 * so the connection it used stays in the multi handle's cache for the next
 * notification. Everything else is per request and cleared between them. */
struct aq_transfer {
	CURL *easy;
	struct aq_delivery *item;
	char *payload; /* request body or mail message, owned */
	size_t payload_len;
	size_t payload_sent;
	struct curl_slist *list;  /* webhook: request headers; email: recipients */
	char reply[AQ_REPLY_MAX]; /* webhook: status line reason; email: last 4xx/5xx reply */
	char body[AQ_REPLY_MAX];  /* webhook: start of the response body */
	size_t body_len;
	int64_t retry_after_ms;
	char errbuf[CURL_ERROR_SIZE];
};

/* Fills the result and the error text of d (printf-style, cut to fit). */
void aq_delivery_set(struct aq_delivery *d, enum aq_delivery_result result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* When value is NULL, marks d PERMANENT naming the environment variable env
 * that should have supplied it (or saying the channel has no `what` at all)
 * and returns -1; returns 0 when value is set. */
int aq_require_setting(struct aq_delivery *d, const char *value, const char *env, const char *what);

/* Writes url reduced to scheme://host[:port], credentials hidden, into out:
 * the path of a webhook URL can itself be a secret. */
void aq_url_origin(const char *url, char *out, size_t outlen);

/* The reason a transfer failed below the protocol (connection, TLS, timeout),
 * taken from its error buffer or curl's text for rc. */
const char *aq_transfer_error(const struct aq_transfer *t, CURLcode rc);

/* Copies the first line of text (at most len bytes, not NUL-terminated) into
 * out, control characters as spaces, cut to fit. */
void aq_copy_printable(char *out, size_t outlen, const char *text, size_t len);

/* 1 when retrying rc can never help (malformed URL, unsupported scheme). */
int aq_curl_error_is_permanent(CURLcode rc);

/* aq_text_clean (base/utf8.h) makes every outside text valid and bounded. */

/* Writes a value with the fewest significant digits that read back as the
 * same double ("120000", "0.1"). */
void aq_format_value(double v, char *buf, size_t buflen);

/* Name of a severity as the contract spells it ("CRITICAL"). */
const char *aq_severity_name(int severity);

/* Webhook and email requests, run by the sender's multi handle. prepare sets
 * the channel's options on t->easy for t->item (the common ones -- timeout,
 * no signals, error buffer -- are already set) and returns 0 to run it, or -1
 * when t->item already has its result (a missing variable, no memory).
 * finish reads the outcome of a completed transfer into t->item. */
int aq_webhook_prepare(const struct aq_channel *ch, struct aq_transfer *t);
void aq_webhook_finish(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc);
int aq_email_prepare(const struct aq_channel *ch, struct aq_transfer *t);
void aq_email_finish(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc);

/* The log file channel. aq_logfile_new returns a writer for
 * log_dir/alerts.log (opened at its first write), or NULL with a message in
 * err. aq_logfile_deliver appends one JSON line per item and flushes them to
 * disk before marking them delivered. */
struct aq_logfile;
struct aq_logfile *aq_logfile_new(const char *log_dir, char *err, size_t errlen);
void aq_logfile_free(struct aq_logfile *lf);
void aq_logfile_deliver(struct aq_logfile *lf, struct aq_delivery *items, size_t n);

#endif
