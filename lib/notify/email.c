/* email.c - the email channel: one plain-text MIME message per notification over SMTP */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/channels.h"

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

/* curl read callback: hands out the message. */
static size_t on_read(char *buffer, size_t size, size_t nitems, void *userdata)
{
	struct aq_transfer *t = userdata;
	size_t room = size * nitems;
	size_t left = t->payload_len - t->payload_sent;
	size_t take = left < room ? left : room;
	memcpy(buffer, t->payload + t->payload_sent, take);
	t->payload_sent += take;
	return take;
}

/* curl debug callback: keeps the last error reply of the server (4xx or 5xx).
 * Only what the server sent is looked at, never what was sent to it. */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata)
{
	struct aq_transfer *t = userdata;
	if (type == CURLINFO_HEADER_IN && size > 0 && (data[0] == '4' || data[0] == '5'))
		aq_copy_printable(t->reply, sizeof(t->reply), data, size);
	return 0;
}

/* Appends "<address>" to the recipient list of t. Returns 0, or -1 when
 * memory runs out. */
static int add_recipient(struct aq_transfer *t, const char *address)
{
	char line[HEADER_TEXT_MAX];
	snprintf(line, sizeof(line), address[0] == '<' ? "%s" : "<%s>", address);
	struct curl_slist *list = curl_slist_append(t->list, line);
	if (!list)
		return -1;
	t->list = list;
	return 0;
}

int aq_email_prepare(const struct aq_channel *ch, struct aq_transfer *t)
{
	struct aq_delivery *d = t->item;
	if (aq_require_setting(d, ch->url, ch->url_env, "url") < 0 ||
	    aq_require_setting(d, ch->from, NULL, "from address") < 0 ||
	    (ch->username_env && aq_require_setting(d, ch->username, ch->username_env, "username") < 0) ||
	    (ch->password_env && aq_require_setting(d, ch->password, ch->password_env, "password") < 0))
		return -1;
	if (ch->nto == 0) {
		aq_delivery_set(d, AQ_DELIVERY_PERMANENT, "the channel has no recipients");
		return -1;
	}
	struct text msg = { 0 };
	add_headers(&msg, ch, d->notification);
	add_body(&msg, d->notification);
	if (msg.failed) {
		free(msg.buf);
		aq_delivery_set(d, AQ_DELIVERY_RETRY, "cannot write the message: out of memory");
		return -1;
	}
	t->payload = msg.buf;
	t->payload_len = msg.len;
	for (size_t i = 0; i < ch->nto; i++)
		if (add_recipient(t, ch->to[i]) < 0) {
			aq_delivery_set(d, AQ_DELIVERY_RETRY, "out of memory");
			return -1;
		}
	char from[HEADER_TEXT_MAX];
	snprintf(from, sizeof(from), ch->from[0] == '<' ? "%s" : "<%s>", ch->from);

	long use_ssl = CURLUSESSL_ALL;
	if (ch->starttls == AQ_STARTTLS_TRY)
		use_ssl = CURLUSESSL_TRY;
	else if (ch->starttls == AQ_STARTTLS_OFF)
		use_ssl = CURLUSESSL_NONE;
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, ch->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_USE_SSL, use_ssl);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->list);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, t);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->payload_len);
	curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	if (ch->username)
		curl_easy_setopt(e, CURLOPT_USERNAME, ch->username);
	if (ch->password)
		curl_easy_setopt(e, CURLOPT_PASSWORD, ch->password);
	return 0;
}

void aq_email_finish(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc)
{
	struct aq_delivery *d = t->item;
	if (rc == CURLE_OK) {
		d->result = AQ_DELIVERED;
		return;
	}
	char origin[256];
	aq_url_origin(ch->url, origin, sizeof(origin));
	long code = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 400 && code < 600) {
		enum aq_delivery_result result = code >= 500 ? AQ_DELIVERY_PERMANENT : AQ_DELIVERY_RETRY;
		if (t->reply[0])
			aq_delivery_set(d, result, "SMTP %s from %s", t->reply, origin);
		else
			aq_delivery_set(d, result, "SMTP %ld from %s: %s", code, origin,
					aq_transfer_error(t, rc));
		return;
	}
	/* Connection, TLS (a server without STARTTLS when it is required
	 * included) and timeouts: the server may come back or be fixed, and the
	 * notification waits for it until the channel gives up. */
	const char *why = aq_transfer_error(t, rc);
	if (ch->password && strstr(why, ch->password))
		why = curl_easy_strerror(rc);
	aq_delivery_set(d, aq_curl_error_is_permanent(rc) ? AQ_DELIVERY_PERMANENT : AQ_DELIVERY_RETRY,
			"cannot deliver to %s: %s", origin, why);
}
