/* format.c - a notification written for each sink that is not plain JSON:
 * the Slack request body and the email message (headers and body), built
 * in or from the channel's templates */
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
#include "notify/template.h"

/* The Slack text escaped: each byte grows to at most five, and the
 * annotations add at most 32 values of ANNOTATION_TEXT_MAX. */
#define SLACK_TEXT_MAX (5 * 64 * 1024)
/* Most of an annotation's value the built-in Slack text shows. */
#define ANNOTATION_TEXT_MAX 1024
/* The line that says a template failed. */
#define TEMPLATE_NOTE_MAX 512
/* The whole mail message, headers included, is never longer than this;
 * the largest event alertq accepts (a 255-byte check name, a 4 KiB message,
 * 64 labels of 128-byte keys and 1 KiB values) fits with room to spare. */
#define MESSAGE_MAX (128 * 1024)
/* Room kept at the end of MESSAGE_MAX for the line saying the body was cut. */
#define CUT_MARKER_ROOM 256
/* Most of a notification's message the body shows (old data may hold more). */
#define MESSAGE_TEXT_MAX 8192
/* Most of a label key or value the body shows. */
#define LABEL_TEXT_MAX 2048
/* Most of an address or the check name a header shows. */
#define HEADER_TEXT_MAX 512
/* SMTP allows 998 bytes a line with its CRLF; a body line holds at most
 * this much text after its indent, well within that. */
#define BODY_LINE_MAX 900
/* A header line should stay within 78 characters: a subject that would not
 * is written as folded encoded words. */
#define HEADER_LINE_SOFT 78
/* Bytes of UTF-8 per RFC 2047 encoded word, so each stays within 75 characters. */
#define ENCODED_WORD_BYTES 45

/* A message being written. Body lines that would take it past MESSAGE_MAX
 * are left out, and one line at the end says so. */
struct message {
	struct aq_buf buf; /* failed: out of memory, the message is not sent */
	int cut;           /* a body line did not fit; nothing more is added */
};

/* Appends a body line: indent, len bytes of s (at most BODY_LINE_MAX, no
 * line breaks) and CRLF, unless it would leave no room for the cut marker. */
static void add_line(struct message *m, const char *indent, const char *s, size_t len)
{
	size_t need = strlen(indent) + len + 2;
	if (!m->cut && m->buf.len + need + CUT_MARKER_ROOM > MESSAGE_MAX)
		m->cut = 1;
	if (m->cut)
		return;
	aq_buf_puts(&m->buf, indent);
	aq_buf_add(&m->buf, s, len);
	aq_buf_puts(&m->buf, "\r\n");
}

/* Appends text (clean, may hold LF) as body lines: each of its lines on its
 * own, long ones broken on a character boundary. The first line starts with
 * first (e.g. "name: "), the others with rest. */
static void add_lines_indented(struct message *m, const char *first, const char *rest, const char *text)
{
	const char *indent = first;
	do {
		size_t len = strcspn(text, "\n");
		do {
			size_t piece = aq_utf8_cut(text, len, BODY_LINE_MAX);
			add_line(m, indent, text, piece);
			indent = rest;
			text += piece;
			len -= piece;
		} while (len > 0);
		if (*text == '\n')
			text++;
	} while (*text);
}

/* add_lines_indented with the lines after the first indented by two spaces. */
static void add_lines(struct message *m, const char *first, const char *text)
{
	add_lines_indented(m, first, "  ", text);
}

/* Appends "name: value" lines, value cleaned and shown up to cap bytes; a
 * longer value is followed by a line saying how much was left out. */
static void add_field(struct message *m, const char *name, const char *value, size_t cap)
{
	char first[64];
	snprintf(first, sizeof(first), "%s: ", name);
	char *clean = aq_text_clean(value, cap, AQ_TEXT_NEWLINES);
	if (!clean) {
		m->buf.failed = 1;
		return;
	}
	add_lines(m, first, clean);
	free(clean);
	size_t len = value ? strlen(value) : 0;
	if (len > cap) {
		char note[128];
		snprintf(note, sizeof(note), "[%s cut: %zu bytes, the first %zu shown]", name, len,
			 (size_t)cap);
		add_line(m, "  ", note, strlen(note));
	}
}

/* Appends "labels: k=v, k=v" lines: labels share a line while they fit,
 * a long one has lines of its own. */
static void add_labels(struct message *m, const struct aq_notification *n)
{
	struct aq_buf line;
	aq_buf_init(&line, BODY_LINE_MAX + 2 * LABEL_TEXT_MAX + 8);
	const char *indent = "labels: ";
	for (size_t i = 0; i < n->nlabels; i++) {
		char *key = aq_text_clean(n->labels[i].key, LABEL_TEXT_MAX, AQ_TEXT_SPACES);
		char *value = aq_text_clean(n->labels[i].value, LABEL_TEXT_MAX, AQ_TEXT_SPACES);
		if (!key || !value) {
			free(key);
			free(value);
			m->buf.failed = 1;
			break;
		}
		size_t len = strlen(key) + 1 + strlen(value);
		if (line.len > 0 && line.len + 2 + len > BODY_LINE_MAX) {
			aq_buf_puts(&line, ",");
			add_line(m, indent, line.data, line.len);
			indent = "  ";
			aq_buf_reset(&line);
		} else if (line.len > 0) {
			aq_buf_puts(&line, ", ");
		}
		aq_buf_printf(&line, "%s=%s", key, value);
		free(key);
		free(value);
		/* a label longer than a line is broken; its last piece may be joined */
		while (!line.failed && line.len > BODY_LINE_MAX) {
			size_t piece = aq_utf8_cut(line.data, line.len, BODY_LINE_MAX);
			add_line(m, indent, line.data, piece);
			indent = "  ";
			memmove(line.data, line.data + piece, line.len - piece + 1);
			line.len -= piece;
		}
	}
	if (line.failed)
		m->buf.failed = 1;
	else if (line.len == 0)
		add_line(m, "labels:", "", 0);
	else
		add_line(m, indent, line.data, line.len);
	aq_buf_release(&line);
}

/* Appends a header value that follows prefix_len characters on its line: as
 * is when it is ASCII and the line stays within HEADER_LINE_SOFT, otherwise
 * as RFC 2047 base64 encoded words on folded lines. A value holding "=?" is
 * encoded too: written as is, a mail reader would decode what looks like an
 * encoded word in it and show another text than the check's name. */
static void add_header_text(struct message *m, size_t prefix_len, const char *value)
{
	size_t len = strlen(value);
	int plain = prefix_len + len <= HEADER_LINE_SOFT && !strstr(value, "=?");
	for (size_t i = 0; i < len && plain; i++)
		if ((unsigned char)value[i] >= 0x80)
			plain = 0;
	if (plain) {
		aq_buf_add(&m->buf, value, len);
		return;
	}
	size_t column = prefix_len;
	while (len > 0) {
		unsigned char encoded[4 * ((ENCODED_WORD_BYTES + 2) / 3) + 1];
		/* as many bytes as fit the rest of the line, "=?UTF-8?B?" and "?=" around them */
		size_t room = column + 12 < HEADER_LINE_SOFT ? (HEADER_LINE_SOFT - column - 12) / 4 * 3 : 0;
		size_t bytes = room < ENCODED_WORD_BYTES ? room : ENCODED_WORD_BYTES;
		size_t piece = bytes >= 4 ? aq_utf8_cut(value, len, bytes) : 0;
		if (piece == 0 && column > 1) {
			aq_buf_puts(&m->buf, "\r\n ");
			column = 1;
			continue;
		}
		if (piece == 0)
			piece = aq_utf8_cut(value, len, ENCODED_WORD_BYTES);
		EVP_EncodeBlock(encoded, (const unsigned char *)value, (int)piece);
		aq_buf_printf(&m->buf, "=?UTF-8?B?%s?=", (const char *)encoded);
		value += piece;
		len -= piece;
		if (len > 0) {
			aq_buf_puts(&m->buf, "\r\n ");
			column = 1;
		}
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

/* Appends the header block of the message for n; subject: the rendered
 * template's (clean, one line), or NULL for the built-in one. */
static void add_headers(struct message *m, const struct aq_channel *ch, const struct aq_notification *n,
			const char *subject)
{
	char date[64], tag[32];
	char *from = aq_text_clean(ch->from, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	char *check = aq_text_clean(n->check, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	if (!from || !check) {
		m->buf.failed = 1;
		goto done;
	}
	aq_buf_printf(&m->buf, "From: %s\r\n", from);
	aq_buf_puts(&m->buf, "To: ");
	for (size_t i = 0; i < ch->nto; i++) {
		char *to = aq_text_clean(ch->to[i], HEADER_TEXT_MAX, AQ_TEXT_SPACES);
		if (!to) {
			m->buf.failed = 1;
			goto done;
		}
		aq_buf_printf(&m->buf, "%s%s", i ? ",\r\n " : "", to);
		free(to);
	}
	if (subject) {
		aq_buf_puts(&m->buf, "\r\nSubject: ");
		add_header_text(m, strlen("Subject: "), subject);
	} else {
		snprintf(tag, sizeof(tag), "[%s] ",
			 n->resolved                   ? "RESOLVED"
				 : n->flapping_started ? "FLAPPING"
						       : aq_severity_name(n->severity));
		aq_buf_printf(&m->buf, "\r\nSubject: %s", tag);
		add_header_text(m, strlen("Subject: ") + strlen(tag), check);
	}
	mail_date(date, sizeof(date));
	aq_buf_printf(&m->buf, "\r\nDate: %s\r\n", date);
	aq_buf_printf(&m->buf, "Message-ID: <%s@alertq>\r\n", n->notification_id);
	aq_buf_puts(&m->buf,
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "Auto-Submitted: auto-generated\r\n"
		    "\r\n");
done:
	free(from);
	free(check);
}

/* The value of annotation key of n, or NULL. */
static const char *annotation(const struct aq_notification *n, const char *key)
{
	for (size_t i = 0; i < n->nannotations; i++)
		if (n->annotations[i].key && strcmp(n->annotations[i].key, key) == 0)
			return n->annotations[i].value;
	return NULL;
}

/* Whether key is an annotation with a place of its own (first or last). */
static int annotation_placed(const char *key)
{
	return strcmp(key, "summary") == 0 || strcmp(key, "runbook_url") == 0;
}

/* Appends the body: the annotation summary, the facts of the notification
 * one per line, the other annotations, its one-line summary, the runbook. */
static void add_body(struct message *m, const struct aq_notification *n)
{
	char buf[64];
	const char *summary_note = annotation(n, "summary");
	if (summary_note)
		add_field(m, "summary", summary_note, AQ_ANNOTATION_VALUE_MAX);
	add_field(m, "check", n->check, HEADER_TEXT_MAX);
	add_field(m, "status", aq_notification_status(n), HEADER_TEXT_MAX);
	add_field(m, "severity", aq_severity_name(n->severity), HEADER_TEXT_MAX);
	add_field(m, "previous_severity", aq_severity_name(n->previous_severity), HEADER_TEXT_MAX);
	if (n->has_value)
		aq_format_value(n->value, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "none");
	add_field(m, "value", buf, HEADER_TEXT_MAX);
	add_field(m, "message", n->message, MESSAGE_TEXT_MAX);
	add_labels(m, n);
	aq_format_time(n->observed_at_ms, buf, sizeof(buf));
	add_field(m, "observed_at", buf, HEADER_TEXT_MAX);
	aq_format_time(n->since_ms, buf, sizeof(buf));
	add_field(m, "since", buf, HEADER_TEXT_MAX);
	snprintf(buf, sizeof(buf), "%d", n->escalation_level);
	add_field(m, "escalation_level", buf, HEADER_TEXT_MAX);
	add_field(m, "event_id", n->event_id[0] ? n->event_id : "none", HEADER_TEXT_MAX);
	add_field(m, "notification_id", n->notification_id, HEADER_TEXT_MAX);
	for (size_t i = 0; i < n->nannotations; i++)
		if (n->annotations[i].key && !annotation_placed(n->annotations[i].key))
			add_field(m, n->annotations[i].key, n->annotations[i].value, AQ_ANNOTATION_VALUE_MAX);
	add_line(m, "", "", 0);
	char *summary = aq_notification_summary(n);
	if (!summary) {
		m->buf.failed = 1;
		return;
	}
	add_lines(m, "", summary);
	free(summary);
	const char *runbook = annotation(n, "runbook_url");
	if (runbook) {
		add_line(m, "", "", 0);
		add_field(m, "runbook_url", runbook, AQ_ANNOTATION_VALUE_MAX);
	}
}

/* Counts and logs a template of ch that failed, and writes the line that
 * says so into note. */
static void template_failed(const struct aq_channel *ch, const char *part, const char *why, char *note,
			    size_t notelen)
{
	unsigned long total = aq_template_count_failure();
	char clean[TEMPLATE_NOTE_MAX / 2];
	aq_text_clean_into(clean, sizeof(clean), why, strlen(why), AQ_TEXT_SPACES);
	aq_log(AQ_LOG_WARN,
	       "channel '%s': template.%s failed (%lu template failures in this process): %s; the built-in "
	       "format was sent",
	       ch->name, part, total, clean);
	snprintf(note, notelen, "(template failed: %s; built-in format follows)", clean);
}

/* The subject and body of ch's templates for n (each NULL when ch has no
 * such template); on a failure, both NULL and the note in note. */
static void render_email(const struct aq_channel *ch, const struct aq_notification *n, char **subject,
			 char **body, char *note, size_t notelen)
{
	struct aq_template_values v;
	char err[256];
	*subject = NULL;
	*body = NULL;
	note[0] = '\0';
	aq_template_values_for(&v, n);
	if (ch->template_subject) {
		/* rendered long, cut short: a long subject ends in "..." */
		char *raw = aq_template_render(ch->template_subject, &v, AQ_TEMPLATE_EMAIL_HEADER,
					       AQ_TEMPLATE_OUTPUT_MAX, 1, err, sizeof(err));
		if (raw) {
			*subject = aq_text_clean(raw, AQ_TEMPLATE_SUBJECT_MAX, AQ_TEXT_SPACES);
			snprintf(err, sizeof(err), "out of memory");
		}
		free(raw);
		if (!*subject) {
			template_failed(ch, "subject", err, note, notelen);
			return;
		}
	}
	if (ch->template_body) {
		*body = aq_template_render(ch->template_body, &v, AQ_TEMPLATE_EMAIL_BODY,
					   AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
		if (!*body) {
			free(*subject);
			*subject = NULL;
			template_failed(ch, "body", err, note, notelen);
		}
	}
}

char *aq_format_email(const struct aq_channel *ch, const struct aq_notification *n, size_t *len)
{
	struct message m = { .cut = 0 };
	char *subject, *body;
	char note[TEMPLATE_NOTE_MAX];
	render_email(ch, n, &subject, &body, note, sizeof(note));
	/* the marker has room of its own past the lines */
	aq_buf_init(&m.buf, MESSAGE_MAX);
	add_headers(&m, ch, n, subject);
	if (note[0])
		add_lines(&m, "", note);
	if (body)
		add_lines_indented(&m, "", "", body);
	else
		add_body(&m, n);
	free(subject);
	free(body);
	if (m.cut)
		aq_buf_printf(&m.buf,
			      "\r\n[cut: this notification is longer than the %d KiB an email carries]\r\n",
			      MESSAGE_MAX / 1024);
	*len = m.buf.len;
	return aq_buf_take(&m.buf);
}

void aq_slack_escape(struct aq_buf *b, const char *s)
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

/* Appends prefix (template text, not escaped) and value cleaned, cut at
 * ANNOTATION_TEXT_MAX and escaped, as one more line of a Slack text. */
static void add_slack_line(struct aq_buf *text, const char *prefix, const char *value)
{
	char *clean = aq_text_clean(value, ANNOTATION_TEXT_MAX, AQ_TEXT_NEWLINES);
	if (!clean) {
		text->failed = 1;
		return;
	}
	if (text->len > 0)
		aq_buf_puts(text, "\n");
	aq_buf_puts(text, prefix);
	aq_slack_escape(text, clean);
	free(clean);
}

/* Appends the built-in Slack text of n (escaped) to text. */
static void add_slack_text(struct aq_buf *text, const struct aq_notification *n)
{
	const char *summary_note = annotation(n, "summary");
	if (summary_note)
		add_slack_line(text, "", summary_note);
	char *summary = aq_notification_summary(n);
	if (!summary) {
		text->failed = 1;
		return;
	}
	if (text->len > 0)
		aq_buf_puts(text, "\n");
	aq_slack_escape(text, summary);
	free(summary);
	for (size_t i = 0; i < n->nannotations; i++) {
		const struct aq_label *a = &n->annotations[i];
		if (!a->key || annotation_placed(a->key))
			continue;
		char prefix[AQ_ANNOTATION_KEY_MAX + 8];
		snprintf(prefix, sizeof(prefix), "%s: ", a->key);
		add_slack_line(text, prefix, a->value);
	}
	const char *runbook = annotation(n, "runbook_url");
	if (runbook)
		add_slack_line(text, "runbook: ", runbook);
}

/* {"text": text} in a new string; NULL when memory runs out. */
static char *slack_body(const char *text)
{
	char *body = NULL;
	json_t *root = json_pack("{s:s}", "text", text);
	if (root)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return body;
}

/* The built-in Slack body, after note as its first line when not NULL. */
static char *slack_builtin(const struct aq_notification *n, const char *note)
{
	struct aq_buf text;
	aq_buf_init(&text, SLACK_TEXT_MAX);
	if (note)
		aq_buf_puts(&text, note);
	add_slack_text(&text, n);
	char *escaped = aq_buf_take(&text);
	if (!escaped)
		return NULL;
	char *body = slack_body(escaped);
	free(escaped);
	return body;
}

char *aq_format_slack(const struct aq_notification *n)
{
	return slack_builtin(n, NULL);
}

/* The built-in JSON object with a "template_failed" member holding note. */
static char *json_builtin(const struct aq_notification *n, const char *note)
{
	char *plain = aq_notification_to_json(n);
	if (!plain || !note)
		return plain;
	json_t *root = json_loads(plain, 0, NULL);
	char *body = NULL;
	if (root && json_object_set_new(root, "template_failed", json_string(note)) == 0)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!body)
		return plain;
	free(plain);
	return body;
}

char *aq_format_webhook(const struct aq_channel *ch, const struct aq_notification *n)
{
	int slack = ch->format == AQ_FORMAT_SLACK;
	const struct aq_template *t = slack ? ch->template_text : ch->template_body;
	if (!t)
		return slack ? aq_format_slack(n) : aq_notification_to_json(n);
	struct aq_template_values v;
	char err[256], note[TEMPLATE_NOTE_MAX];
	aq_template_values_for(&v, n);
	char *text = aq_template_render(t, &v, slack ? AQ_TEMPLATE_SLACK : AQ_TEMPLATE_JSON,
					AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
	if (text && !slack)
		return text;
	int rendered = text != NULL;
	char *body = rendered ? slack_body(text) : NULL;
	free(text);
	if (body)
		return body;
	if (rendered)
		snprintf(err, sizeof(err), "out of memory");
	template_failed(ch, slack ? "text" : "body", err, note, sizeof(note));
	return slack ? slack_builtin(n, note) : json_builtin(n, note);
}

char *aq_format_slack_line(const struct aq_channel *ch, const struct aq_notification *n)
{
	struct aq_buf text;
	aq_buf_init(&text, SLACK_TEXT_MAX);
	if (ch && ch->template_text) {
		struct aq_template_values v;
		char err[256], note[TEMPLATE_NOTE_MAX];
		aq_template_values_for(&v, n);
		char *line = aq_template_render(ch->template_text, &v, AQ_TEMPLATE_SLACK,
						AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
		if (line)
			return line;
		template_failed(ch, "text", err, note, sizeof(note));
		aq_buf_puts(&text, note);
		aq_buf_puts(&text, " ");
	}
	char *summary = aq_notification_summary(n);
	if (!summary) {
		aq_buf_release(&text);
		return NULL;
	}
	aq_slack_escape(&text, summary);
	free(summary);
	return aq_buf_take(&text);
}

/* --- grouped messages (their text is written in group_format.c) --- */

char *aq_format_email_text(const struct aq_channel *ch, const char *message_id, const char *tag,
			   const char *title, const char *body, size_t *len)
{
	struct message m = { .cut = 0 };
	char date[64];
	aq_buf_init(&m.buf, MESSAGE_MAX);
	char *from = aq_text_clean(ch->from, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	char *subject = aq_text_clean(title, HEADER_TEXT_MAX, AQ_TEXT_SPACES);
	char *text = aq_text_clean(body, MESSAGE_MAX, AQ_TEXT_NEWLINES);
	if (!from || !subject || !text) {
		m.buf.failed = 1;
		goto done;
	}
	aq_buf_printf(&m.buf, "From: %s\r\nTo: ", from);
	for (size_t i = 0; i < ch->nto; i++) {
		char *to = aq_text_clean(ch->to[i], HEADER_TEXT_MAX, AQ_TEXT_SPACES);
		if (!to) {
			m.buf.failed = 1;
			goto done;
		}
		aq_buf_printf(&m.buf, "%s%s", i ? ",\r\n " : "", to);
		free(to);
	}
	aq_buf_printf(&m.buf, "\r\nSubject: %s ", tag);
	add_header_text(&m, strlen("Subject: ") + strlen(tag) + 1, subject);
	mail_date(date, sizeof(date));
	aq_buf_printf(&m.buf, "\r\nDate: %s\r\n", date);
	aq_buf_printf(&m.buf, "Message-ID: <%s@alertq>\r\n", message_id);
	aq_buf_puts(&m.buf,
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "Auto-Submitted: auto-generated\r\n"
		    "\r\n");
	/* each line of body on its own: add_lines indents what follows a first line */
	for (char *line = text, *next; *line; line = next) {
		next = line + strcspn(line, "\n");
		int last = *next == '\0';
		*next = '\0';
		if (*line)
			add_lines(&m, "", line);
		else
			add_line(&m, "", "", 0);
		if (!last)
			next++;
	}
	if (m.cut)
		aq_buf_printf(&m.buf,
			      "\r\n[cut: this notification is longer than the %d KiB an email carries]\r\n",
			      MESSAGE_MAX / 1024);
done:
	free(from);
	free(subject);
	free(text);
	*len = m.buf.len;
	return aq_buf_take(&m.buf);
}
