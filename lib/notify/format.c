/* format.c - a notification written for each sink that is not plain JSON:
 * the Slack request body and the email message (headers and body) */
#include "notify/format.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/utf8.h"

/* The summary escaped for Slack: each byte grows to at most five. */
#define SLACK_TEXT_MAX (5 * 4096)
/* Caps on what one message may grow to from its input. */
#define MESSAGE_MAX (64 * 1024)
#define MESSAGE_TEXT_MAX 8192
#define HEADER_TEXT_MAX 512
/* SMTP allows 998 bytes a line; longer lines are broken well before that. */
#define BODY_LINE_MAX 900
/* Bytes of UTF-8 per RFC 2047 encoded word, so each stays within 75 characters. */
#define ENCODED_WORD_BYTES 45

/* A message being written; stops growing at MESSAGE_MAX. */
struct text {
	char *buf;
	size_t len;
	size_t cap;
	int failed; /* out of memory or over MESSAGE_MAX: the message is not sent */
};

/* Appends len bytes of s to t. */
static void text_add(struct text *t, const char *s, size_t len)
{
	if (t->failed)
		return;
	if (t->len + len + 1 > MESSAGE_MAX) {
		t->failed = 1;
		return;
	}
	if (t->len + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + len + 1)
			cap *= 2;
		char *grown = realloc(t->buf, cap);
		if (!grown) {
			t->failed = 1;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, len);
	t->len += len;
	t->buf[t->len] = '\0';
}

/* Appends a NUL-terminated string to t. */
static void text_puts(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Appends formatted text (up to HEADER_TEXT_MAX * 2 bytes) to t. */
static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(struct text *t, const char *fmt, ...)
{
	char buf[HEADER_TEXT_MAX * 2];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = 1;
		return;
	}
	text_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Appends "name: value" lines: each line of value on its own, the ones after
 * the first indented, and long lines broken, so no line passes BODY_LINE_MAX.
 * value is cleaned and capped at MESSAGE_TEXT_MAX first. */
static void add_field(struct text *t, const char *name, const char *value)
{
	char *clean = aq_text_clean(value, MESSAGE_TEXT_MAX, AQ_TEXT_NEWLINES);
	if (!clean) {
		t->failed = 1;
		return;
	}
	text_puts(t, name);
	text_puts(t, ":");
	const char *line = clean;
	int first = 1;
	do {
		size_t len = strcspn(line, "\n");
		do {
			size_t piece = aq_utf8_cut(line, len, BODY_LINE_MAX);
			text_puts(t, first ? " " : "  ");
			text_add(t, line, piece);
			text_puts(t, "\r\n");
			first = 0;
			line += piece;
			len -= piece;
		} while (len > 0);
		if (*line == '\n')
			line++;
	} while (*line);
	free(clean);
}

/* Appends a header value: as is when it is ASCII, otherwise as RFC 2047
 * base64 encoded words on folded lines. */
static void add_header_text(struct text *t, const char *value)
{
	size_t len = strlen(value);
	int ascii = 1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		text_add(t, value, len);
		return;
	}
	while (len > 0) {
		unsigned char encoded[4 * ((ENCODED_WORD_BYTES + 2) / 3) + 1];
		size_t piece = aq_utf8_cut(value, len, ENCODED_WORD_BYTES);
		EVP_EncodeBlock(encoded, (const unsigned char *)value, (int)piece);
		text_printf(t, "=?UTF-8?B?%s?=", (const char *)encoded);
		value += piece;
		len -= piece;
		if (len > 0)
			text_puts(t, "\r\n ");
	}
}

/* Writes the current time as an RFC 5322 date, with English names whatever
 * the locale. */
static void mail_date(char *buf, size_t buflen)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(buf, buflen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Appends the header block of the message for n. */
static void add_headers(struct text *t, const struct aq_channel *ch, const struct aq_notification *n)
{
	char date[64];
	char *from = aq_text_clean(ch->from, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	char *check = aq_text_clean(n->check, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	if (!from || !check) {
		t->failed = 1;
		goto done;
	}
	text_printf(t, "From: %s\r\n", from);
	text_puts(t, "To: ");
	for (size_t i = 0; i < ch->nto; i++) {
		char *to = aq_text_clean(ch->to[i], HEADER_TEXT_MAX, AQ_TEXT_SPACES);
		if (!to) {
			t->failed = 1;
			goto done;
		}
		text_printf(t, "%s%s", i ? ",\r\n " : "", to);
		free(to);
	}
	text_puts(t, "\r\nSubject: ");
	text_printf(t, "[%s] ", n->resolved ? "RESOLVED" : aq_severity_name(n->severity));
	add_header_text(t, check);
	mail_date(date, sizeof(date));
	text_printf(t, "\r\nDate: %s\r\n", date);
	text_printf(t, "Message-ID: <%s@alertq>\r\n", n->notification_id);
	text_puts(t,
		  "MIME-Version: 1.0\r\n"
		  "Content-Type: text/plain; charset=utf-8\r\n"
		  "Content-Transfer-Encoding: 8bit\r\n"
		  "Auto-Submitted: auto-generated\r\n"
		  "\r\n");
done:
	free(from);
	free(check);
}

/* Appends the body: the facts of the notification one per line, then its summary. */
static void add_body(struct text *t, const struct aq_notification *n)
{
	char buf[64];
	add_field(t, "check", n->check);
	add_field(t, "status", n->resolved ? "resolved" : "firing");
	add_field(t, "severity", aq_severity_name(n->severity));
	add_field(t, "previous_severity", aq_severity_name(n->previous_severity));
	if (n->has_value)
		aq_format_value(n->value, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "none");
	add_field(t, "value", buf);
	add_field(t, "message", n->message);
	text_puts(t, "labels:");
	for (size_t i = 0; i < n->nlabels; i++) {
		char *key = aq_text_clean(n->labels[i].key, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
		char *value = aq_text_clean(n->labels[i].value, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
		if (key && value)
			text_printf(t, "%s %s=%s", i ? "," : "", key, value);
		else
			t->failed = 1;
		free(key);
		free(value);
	}
	text_puts(t, "\r\n");
	aq_format_time(n->observed_at_ms, buf, sizeof(buf));
	add_field(t, "observed_at", buf);
	aq_format_time(n->since_ms, buf, sizeof(buf));
	add_field(t, "since", buf);
	snprintf(buf, sizeof(buf), "%d", n->escalation_level);
	add_field(t, "escalation_level", buf);
	add_field(t, "event_id", n->event_id[0] ? n->event_id : "none");
	add_field(t, "notification_id", n->notification_id);
	text_puts(t, "\r\n");
	char *summary = aq_notification_summary(n);
	if (!summary) {
		t->failed = 1;
		return;
	}
	const char *rest = summary;
	size_t len = strlen(rest);
	while (len > 0) {
		size_t piece = aq_utf8_cut(rest, len, BODY_LINE_MAX);
		text_add(t, rest, piece);
		text_puts(t, "\r\n");
		rest += piece;
		len -= piece;
	}
	free(summary);
}

char *aq_format_email(const struct aq_channel *ch, const struct aq_notification *n, size_t *len)
{
	struct text msg = { 0 };
	add_headers(&msg, ch, n);
	add_body(&msg, n);
	if (msg.failed) {
		free(msg.buf);
		return NULL;
	}
	*len = msg.len;
	return msg.buf;
}

/* Slack's text escapes, so event data can never mention @channel or @here
 * (<!channel>) or forge a link (<http://...|text>). */
static void add_slack_escaped(struct aq_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			aq_buf_puts(b, "&amp;");
		else if (*s == '<')
			aq_buf_puts(b, "&lt;");
		else if (*s == '>')
			aq_buf_puts(b, "&gt;");
		else
			aq_buf_add(b, s, 1);
	}
}

char *aq_format_slack(const struct aq_notification *n)
{
	char *summary = aq_notification_summary(n);
	if (!summary)
		return NULL;
	struct aq_buf text;
	aq_buf_init(&text, SLACK_TEXT_MAX);
	add_slack_escaped(&text, summary);
	free(summary);
	char *escaped = aq_buf_take(&text);
	if (!escaped)
		return NULL;
	char *body = NULL;
	json_t *root = json_pack("{s:s}", "text", escaped);
	if (root)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	free(escaped);
	return body;
}
