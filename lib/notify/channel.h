/* channel.h - what every channel type shares: the table of operations the
 * sender drives a channel through, the transfer slot of a web or mail
 * request, and the helpers that write a delivery's outcome */
#ifndef ALERTQ_NOTIFY_CHANNEL_H
#define ALERTQ_NOTIFY_CHANNEL_H

#include <curl/curl.h>
#include <stdarg.h>

#include "alertq/notify.h"
#include "base/utf8.h"

/* Longest server reply or response start kept for an error message. */
#define AQ_REPLY_MAX 160
/* Most of a response body read: past it the transfer is cut short (the
 * status is known by then), so a receiver that never stops sending cannot
 * hold a slot until the timeout. */
#define AQ_RESPONSE_READ_MAX (64 * 1024)

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
	char body[AQ_REPLY_MAX];  /* webhook: start of the response body, as sent */
	size_t body_len;
	size_t body_read; /* webhook: bytes of the body read so far */
	int body_cut;     /* webhook: the transfer was stopped at AQ_RESPONSE_READ_MAX */
	int64_t retry_after_ms;
	char errbuf[CURL_ERROR_SIZE];
};

/* The operations of one channel type. A local channel (logfile, syslog) has
 * deliver; a request channel (webhook, email) has prepare and finish, and the
 * sender runs its requests on one curl multi handle.
 *
 * open makes the channel's own state for ch (log_dir is where a logfile
 * writes) and returns 0 with *state set (NULL when it needs none), or -1 with
 * a message in err. close frees that state (NULL allowed). Both may be NULL.
 *
 * deliver fills the result of each of n items (they start out DELIVERED).
 *
 * prepare sets the channel's options on t->easy for t->item (the common ones
 * -- timeout, no signals, error buffer -- are already set) and returns 0 to
 * run it, or -1 when t->item already has its result (a missing variable, no
 * memory). finish reads the outcome of a completed transfer into t->item. */
struct aq_channel_ops {
	int (*open)(const struct aq_channel *ch, const char *log_dir, void **state, char *err, size_t errlen);
	void (*close)(void *state);
	void (*deliver)(void *state, const struct aq_channel *ch, struct aq_delivery *items, size_t n);
	int (*prepare)(const struct aq_channel *ch, struct aq_transfer *t);
	void (*finish)(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc);
};

/* One table per channel type, each in its own file. */
extern const struct aq_channel_ops aq_logfile_ops; /* logfile.c */
extern const struct aq_channel_ops aq_syslog_ops;  /* syslog.c */
extern const struct aq_channel_ops aq_webhook_ops; /* webhook.c */
extern const struct aq_channel_ops aq_email_ops;   /* email.c */

/* Fills the result and the error text of d (printf-style). The text is made
 * clean (aq_text_clean: valid UTF-8, control characters as spaces) and cut
 * to fit, so the arguments may carry whatever a receiver sent. */
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

/* Copies the first line of text (at most len bytes, not NUL-terminated, any
 * bytes at all) into out as clean text: valid UTF-8, control characters as
 * spaces, cut to fit with "...". */
void aq_copy_printable(char *out, size_t outlen, const char *text, size_t len);

/* 1 when retrying rc can never help (malformed URL, unsupported scheme). */
int aq_curl_error_is_permanent(CURLcode rc);

#endif
