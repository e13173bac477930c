/* page.c - the status page: HTML from the status, history and silences JSON, every data text escaped where it lands.
 * Over 800 lines because the stylesheet (about 100) and the page pieces belong together: split, each would be half a page. */
#include "serve/page.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/utf8.h"

/* How much of each data text a page shows (bytes, before escaping). */
#define NAME_SHOWN_MAX 512
#define SHORT_TEXT_MAX 256 /* a label key, a time, a channel, a who */
#define TEXT_SHOWN_MAX 1024
#define LONG_TEXT_MAX 4096 /* an annotation's description */
#define LABELS_SHOWN 16
#define ANNOTATIONS_SHOWN 8
#define SILENCES_SHOWN 500
#define NOTIFICATIONS_SHOWN 100

/* Byte budgets: a section starts no new row past its budget. One row adds
 * well under 1 MiB even at every text cap above escaped six times over, so
 * the page closes its tags inside AQ_PAGE_MAX_BYTES. */
#define ALERTS_BUDGET (3u * 1024 * 1024)
#define TABLE_BUDGET (6u * 1024 * 1024)
#define LAST_BUDGET (7u * 1024 * 1024)

/* The one script: filters the rows marked data-row by the text box, client
 * side. It holds no data; the page's Content-Security-Policy allows only it
 * (by its hash), so an injected handler could not run even if one slipped. */
static const char FILTER_SCRIPT[] = "(function(){var box=document.getElementById('filter');if(!box)return;"
				    "function apply(){var q=box.value.toLowerCase();"
				    "document.querySelectorAll('[data-row]').forEach(function(r){"
				    "r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)===-1;});}"
				    "box.addEventListener('input',apply);apply();})();";

static const char STYLE[] =
	":root{--crit:#c62828;--warn:#b26a00;--unk:#6a4c93;--ok:#2e7d32;--line:#ddd;--mute:#666}"
	"*{box-sizing:border-box}"
	"body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;"
	"background:#f6f6f6;overflow-wrap:break-word}"
	"header{background:#222;color:#fff;padding:.6em 1em}"
	"header h1{font-size:1.2em;margin:0;display:inline;margin-right:.6em}"
	"header a{color:#fff}"
	"header .who{float:right;color:#ccc}"
	"main{padding:0 1em 2em;max-width:1200px;margin:0 auto}"
	"h2{font-size:1.1em;margin:1.2em 0 .5em}"
	".count{font-weight:600}"
	".alert{background:#fff;border-left:6px solid var(--unk);border-radius:4px;padding:.6em .8em;"
	"margin:.5em 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}"
	".alert h3{margin:0 0 .3em;font-size:1.05em}"
	".alert.sev-critical{border-color:var(--crit)}.alert.sev-warning{border-color:var(--warn)}"
	".alert.sev-unknown{border-color:var(--unk)}.alert.sev-ok{border-color:var(--ok)}"
	".sev{display:inline-block;color:#fff;border-radius:3px;padding:0 .4em;font-size:.8em;"
	"font-weight:700;vertical-align:middle;background:var(--unk);white-space:nowrap}"
	".sev-critical .sev,.sev.sev-critical{background:var(--crit)}"
	".sev-warning .sev,.sev.sev-warning{background:var(--warn)}"
	".sev-unknown .sev,.sev.sev-unknown{background:var(--unk)}"
	".sev-ok .sev,.sev.sev-ok{background:var(--ok)}"
	".msg{margin:.2em 0;white-space:pre-wrap}"
	".facts{display:flex;flex-wrap:wrap;gap:.2em 1.2em;margin:.3em 0;font-size:.9em;color:var(--mute)}"
	".facts span b{color:#222;font-weight:600}"
	".mark,.label{display:inline-block;border-radius:3px;padding:0 .35em;margin:.1em .2em .1em 0;"
	"font-size:.85em}"
	".mark{background:#eee;border:1px solid #ccc}"
	".mark.bad{background:#fdecea;border-color:var(--crit);color:var(--crit)}"
	".label{background:#eef3fb;border:1px solid #cdd9ee;font-family:ui-monospace,monospace}"
	".ann{margin:.3em 0;font-size:.95em}.ann .k{color:var(--mute)}"
	".desc{white-space:pre-wrap}"
	".actions{display:flex;flex-wrap:wrap;gap:.4em;margin-top:.4em;align-items:flex-start}"
	".actions form{display:flex;flex-wrap:wrap;gap:.3em;margin:0}"
	"input,button{font:inherit;padding:.25em .45em;max-width:100%}"
	"button{cursor:pointer}"
	"details summary{cursor:pointer;color:#0645ad}"
	".filter{margin:.4em 0}.filter input{width:100%;max-width:28em}"
	".wrap{overflow-x:auto}"
	"table{border-collapse:collapse;width:100%;background:#fff}"
	"th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid var(--line);vertical-align:top}"
	"th{background:#eee;font-size:.9em;white-space:nowrap}"
	"td.num,td.time,.mark{white-space:nowrap}"
	"td:first-child{overflow-wrap:anywhere;min-width:9em}"
	"tr.sev-critical td:first-child{border-left:4px solid var(--crit)}"
	"tr.sev-warning td:first-child{border-left:4px solid var(--warn)}"
	"tr.sev-unknown td:first-child{border-left:4px solid var(--unk)}"
	"tr.sev-ok td:first-child{border-left:4px solid var(--ok)}"
	".more,.none{color:var(--mute);font-style:italic}"
	"ul.notes{margin:.2em 0;padding-left:1.2em;font-size:.9em}"
	"[hidden]{display:none!important}"
	"@media (max-width:640px){header .who{float:none;display:block}"
	"table.stack,table.stack tbody{display:block}table.stack thead{display:none}"
	"table.stack tr{display:block;border-bottom:1px solid var(--line);padding:.3em 0}"
	"table.stack td{display:block;border:0;padding:.1em .5em}table.stack td:empty{display:none}"
	"table.stack td[data-label]::before{content:attr(data-label) ': "
	"';color:var(--mute);font-size:.85em}}";

/* ---- escaping: the only ways data reaches the page ---- */

/* Element text and quoted attribute values: the cleaned text (valid UTF-8,
 * at most cap bytes) with & < > " ' as entities. */
static void put_text_n(struct aq_buf *b, const char *s, size_t cap, enum aq_text_controls controls)
{
	char *clean = aq_text_clean(s, cap, controls);
	if (!clean) {
		b->failed = 1;
		return;
	}
	const char *run = clean;
	for (const char *p = clean; *p; p++) {
		const char *entity = NULL;
		switch (*p) {
		case '&':
			entity = "&amp;";
			break;
		case '<':
			entity = "&lt;";
			break;
		case '>':
			entity = "&gt;";
			break;
		case '"':
			entity = "&quot;";
			break;
		case '\'':
			entity = "&#39;";
			break;
		default:
			break;
		}
		if (entity) {
			aq_buf_add(b, run, (size_t)(p - run));
			aq_buf_puts(b, entity);
			run = p + 1;
		}
	}
	aq_buf_puts(b, run);
	free(clean);
}

static void put_text(struct aq_buf *b, const char *s, size_t cap)
{
	put_text_n(b, s, cap, AQ_TEXT_SPACES);
}

/* One URL path segment: every byte but the unreserved ones percent-encoded,
 * so the segment is also safe inside a quoted attribute. */
static void put_path_segment(struct aq_buf *b, const char *s)
{
	char *clean = aq_text_clean(s, NAME_SHOWN_MAX, AQ_TEXT_SPACES);
	if (!clean) {
		b->failed = 1;
		return;
	}
	for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~')
			aq_buf_add(b, p, 1);
		else
			aq_buf_printf(b, "%%%02X", *p);
	}
	free(clean);
}

/* Whether s may be a link's target: only http and https (never
 * javascript:, data: or anything a browser would run). */
static int is_web_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* A link to url when it is an http(s) URL, else the text of it. */
static void put_link_or_text(struct aq_buf *b, const char *url)
{
	char *clean = aq_text_clean(url, TEXT_SHOWN_MAX, AQ_TEXT_SPACES);
	if (!clean) {
		b->failed = 1;
		return;
	}
	if (is_web_url(clean)) {
		aq_buf_puts(b, "<a rel=\"noopener noreferrer\" href=\"");
		put_text(b, clean, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "\">");
		put_text(b, clean, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</a>");
	} else {
		put_text(b, clean, TEXT_SHOWN_MAX);
	}
	free(clean);
}

/* ---- reading the JSON ---- */

static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int true_of(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static long long int_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* Any JSON value as text: a string as itself, the rest as compact JSON.
 * The caller frees; NULL when memory ran out. */
static char *text_of_any(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (!v || json_is_null(v))
		return strdup("");
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void put_any(struct aq_buf *b, json_t *v, size_t cap)
{
	char *text = text_of_any(v);
	if (!text) {
		b->failed = 1;
		return;
	}
	put_text(b, text, cap);
	free(text);
}

/* The value of a check or transition: a number, or "-". */
static void put_value(struct aq_buf *b, json_t *v)
{
	if (json_is_number(v))
		aq_buf_printf(b, "%g", json_number_value(v));
	else
		aq_buf_puts(b, "-");
}

/* A string field, or "-" when absent or null. */
static void put_field(struct aq_buf *b, json_t *o, const char *key, size_t cap)
{
	const char *s = str_of(o, key);
	put_text(b, s && *s ? s : "-", cap);
}

enum severity_rank {
	RANK_CRITICAL,
	RANK_UNKNOWN,
	RANK_WARNING,
	RANK_OK
};

/* Severities in the order the page lists them (as `alertq status`); a
 * severity the page does not know counts as UNKNOWN. */
static enum severity_rank rank_of(const char *severity)
{
	if (severity && strcmp(severity, "CRITICAL") == 0)
		return RANK_CRITICAL;
	if (severity && strcmp(severity, "WARNING") == 0)
		return RANK_WARNING;
	if (severity && strcmp(severity, "OK") == 0)
		return RANK_OK;
	return RANK_UNKNOWN;
}

/* The CSS class of a severity: one of four fixed names, never data. */
static const char *severity_class(const char *severity)
{
	static const char *const classes[] = { "sev-critical", "sev-unknown", "sev-warning", "sev-ok" };
	return classes[rank_of(severity)];
}

/* Whether the check holds filter (case-insensitive) in its name, severity,
 * message, labels or summary. An empty or NULL filter matches all. */
static int check_matches(json_t *c, const char *filter)
{
	if (!filter || !*filter)
		return 1;
	const char *fields[] = { str_of(c, "check"), str_of(c, "severity"), str_of(c, "message"),
				 str_of(json_object_get(c, "annotations"), "summary") };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i] && strcasestr(fields[i], filter))
			return 1;
	}
	const char *key;
	json_t *value;
	json_object_foreach(json_object_get(c, "labels"), key, value)
	{
		if (strcasestr(key, filter) ||
		    (json_is_string(value) && strcasestr(json_string_value(value), filter)))
			return 1;
	}
	return 0;
}

/* ---- pieces ---- */

/* The Content-Security-Policy: nothing loaded from anywhere, forms only
 * to this origin, the one script by its hash. */
static void put_csp(struct aq_buf *b)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	aq_buf_puts(b,
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'");
	if (EVP_Digest(FILTER_SCRIPT, strlen(FILTER_SCRIPT), digest, &dlen, EVP_sha256(), NULL) == 1) {
		EVP_EncodeBlock(b64, digest, (int)dlen);
		aq_buf_printf(b, "; script-src 'sha256-%s'", (const char *)b64);
	}
	aq_buf_puts(b, "\">\n");
}

static void page_open(struct aq_buf *b, const char *title, int refresh_s)
{
	aq_buf_puts(b,
		    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	put_csp(b);
	if (refresh_s > 0)
		aq_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s);
	aq_buf_puts(b, "<title>");
	put_text(b, title, NAME_SHOWN_MAX);
	aq_buf_puts(b, "</title>\n<style>");
	aq_buf_puts(b, STYLE);
	aq_buf_puts(b, "</style>\n</head>\n<body>\n");
}

static void page_close(struct aq_buf *b, int with_script)
{
	if (with_script) {
		aq_buf_puts(b, "<script>");
		aq_buf_puts(b, FILTER_SCRIPT);
		aq_buf_puts(b, "</script>\n");
	}
	aq_buf_puts(b, "</body>\n</html>\n");
}

/* The header: the firing counts (when counted) and who is looking. */
static void put_header(struct aq_buf *b, json_t *checks, int counted, const struct aq_page_ctx *ctx)
{
	aq_buf_puts(b, "<header><h1><a href=\"/\">alertq</a></h1>");
	if (counted) {
		size_t counts[RANK_OK + 1] = { 0 };
		size_t i;
		json_t *c;
		json_array_foreach(checks, i, c)
		{
			counts[rank_of(str_of(c, "severity"))]++;
		}
		size_t firing = counts[RANK_CRITICAL] + counts[RANK_WARNING] + counts[RANK_UNKNOWN];
		aq_buf_printf(b,
			      "<span class=\"count\">%zu firing</span> <span>(%zu critical, %zu warning, "
			      "%zu unknown; %zu checks)</span>",
			      firing, counts[RANK_CRITICAL], counts[RANK_WARNING], counts[RANK_UNKNOWN],
			      json_array_size(checks));
	}
	if (ctx && ctx->who) {
		aq_buf_puts(b, "<span class=\"who\">viewing as ");
		put_text(b, ctx->who, SHORT_TEXT_MAX);
		aq_buf_puts(b, "</span>");
	}
	aq_buf_puts(b, "</header>\n");
}

static int forms_allowed(const struct aq_page_ctx *ctx)
{
	return ctx && ctx->can_operate && ctx->csrf;
}

static void put_csrf(struct aq_buf *b, const struct aq_page_ctx *ctx)
{
	aq_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	put_text(b, ctx->csrf, SHORT_TEXT_MAX);
	aq_buf_puts(b, "\">");
}

/* The silence form; match is the value it starts with (may be NULL). */
static void put_silence_form(struct aq_buf *b, const char *match, const struct aq_page_ctx *ctx)
{
	aq_buf_puts(b, "<form method=\"post\" action=\"/silences\">");
	put_csrf(b, ctx);
	aq_buf_puts(
		b,
		"<input name=\"match\" required placeholder=\"check or glob\" aria-label=\"match\" value=\"");
	put_text(b, match ? match : "", NAME_SHOWN_MAX);
	aq_buf_puts(
		b,
		"\"><input name=\"for\" required size=\"5\" value=\"1h\" aria-label=\"duration\" "
		"title=\"duration, e.g. 30m, 2h, 1d\">"
		"<input name=\"comment\" placeholder=\"comment\" aria-label=\"comment\" maxlength=\"1000\">"
		"<button type=\"submit\">silence</button></form>");
}

/* ack (when firing and not acked), unack (when acked) and silence. */
static void put_check_forms(struct aq_buf *b, json_t *c, const struct aq_page_ctx *ctx)
{
	if (!forms_allowed(ctx))
		return;
	const char *name = str_of(c, "check");
	if (!name)
		return;
	aq_buf_puts(b, "<div class=\"actions\">");
	if (true_of(c, "acked")) {
		aq_buf_puts(b, "<form method=\"post\" action=\"/checks/");
		put_path_segment(b, name);
		aq_buf_puts(b, "/unack\">");
		put_csrf(b, ctx);
		aq_buf_puts(b, "<button type=\"submit\">unack</button></form>");
	} else if (rank_of(str_of(c, "severity")) != RANK_OK) {
		aq_buf_puts(b, "<form method=\"post\" action=\"/checks/");
		put_path_segment(b, name);
		aq_buf_puts(b, "/ack\">");
		put_csrf(b, ctx);
		aq_buf_puts(b,
			    "<input name=\"comment\" placeholder=\"comment\" aria-label=\"comment\" "
			    "maxlength=\"1000\"><button type=\"submit\">ack</button></form>");
	}
	aq_buf_puts(b, "<details><summary>silence</summary>");
	put_silence_form(b, name, ctx);
	aq_buf_puts(b, "</details></div>");
}

static void put_check_link(struct aq_buf *b, const char *name)
{
	aq_buf_puts(b, "<a href=\"/checks/");
	put_path_segment(b, name);
	aq_buf_puts(b, "\">");
	put_text(b, name, NAME_SHOWN_MAX);
	aq_buf_puts(b, "</a>");
}

static void put_severity(struct aq_buf *b, const char *severity)
{
	aq_buf_printf(b, "<span class=\"sev %s\">", severity_class(severity));
	put_text(b, severity ? severity : "UNKNOWN", SHORT_TEXT_MAX);
	aq_buf_puts(b, "</span>");
}

/* The marks of a check: acked, silenced, stale, inhibited, flapping,
 * undeliverable and pending notifications. */
static void put_marks(struct aq_buf *b, json_t *c)
{
	if (true_of(c, "acked")) {
		aq_buf_puts(b, "<span class=\"mark\">acked");
		const char *by = str_of(c, "acked_by");
		if (by && *by) {
			aq_buf_puts(b, " by ");
			put_text(b, by, SHORT_TEXT_MAX);
		}
		aq_buf_puts(b, "</span>");
	}
	if (true_of(c, "silenced"))
		aq_buf_puts(b, "<span class=\"mark\">silenced</span>");
	if (true_of(c, "stale"))
		aq_buf_puts(b, "<span class=\"mark bad\">stale</span>");
	json_t *inhibited = json_object_get(c, "inhibited_by");
	if ((json_is_string(inhibited) && *json_string_value(inhibited)) ||
	    (json_is_array(inhibited) && json_array_size(inhibited) > 0)) {
		aq_buf_puts(b, "<span class=\"mark\">inhibited by ");
		if (json_is_array(inhibited)) {
			size_t i;
			json_t *by;
			json_array_foreach(inhibited, i, by)
			{
				if (i == LABELS_SHOWN) {
					aq_buf_printf(b, ", %zu more", json_array_size(inhibited) - i);
					break;
				}
				if (i > 0)
					aq_buf_puts(b, ", ");
				put_any(b, by, NAME_SHOWN_MAX);
			}
		} else {
			put_any(b, inhibited, NAME_SHOWN_MAX);
		}
		aq_buf_puts(b, "</span>");
	}
	if (true_of(c, "flapping"))
		aq_buf_puts(b, "<span class=\"mark\">flapping</span>");
	long long undeliverable = int_of(c, "undeliverable");
	if (undeliverable > 0)
		aq_buf_printf(b, "<span class=\"mark bad\">%lld undeliverable</span>", undeliverable);
	long long pending = int_of(c, "pending_notifications");
	if (pending > 0)
		aq_buf_printf(b, "<span class=\"mark\">%lld pending</span>", pending);
}

static void put_labels(struct aq_buf *b, json_t *labels)
{
	size_t n = 0;
	const char *key;
	json_t *value;
	json_object_foreach(labels, key, value)
	{
		if (n == LABELS_SHOWN) {
			aq_buf_printf(b, "<span class=\"more\">%zu more</span>",
				      json_object_size(labels) - n);
			break;
		}
		aq_buf_puts(b, "<span class=\"label\">");
		put_text(b, key, SHORT_TEXT_MAX);
		aq_buf_puts(b, "=");
		put_any(b, value, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</span>");
		n++;
	}
}

/* summary, description, runbook_url (a link only when http(s)), then any
 * other annotation. */
static void put_annotations(struct aq_buf *b, json_t *annotations)
{
	if (!json_is_object(annotations))
		return;
	const char *summary = str_of(annotations, "summary");
	const char *description = str_of(annotations, "description");
	const char *runbook = str_of(annotations, "runbook_url");
	if (summary && *summary) {
		aq_buf_puts(b, "<p class=\"ann\"><b>");
		put_text(b, summary, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</b></p>");
	}
	if (description && *description) {
		aq_buf_puts(b, "<p class=\"ann desc\">");
		put_text_n(b, description, LONG_TEXT_MAX, AQ_TEXT_NEWLINES);
		aq_buf_puts(b, "</p>");
	}
	if (runbook && *runbook) {
		aq_buf_puts(b, "<p class=\"ann\"><span class=\"k\">runbook:</span> ");
		put_link_or_text(b, runbook);
		aq_buf_puts(b, "</p>");
	}
	size_t n = 0;
	const char *key;
	json_t *value;
	json_object_foreach(annotations, key, value)
	{
		if (strcmp(key, "summary") == 0 || strcmp(key, "description") == 0 ||
		    strcmp(key, "runbook_url") == 0)
			continue;
		if (n == ANNOTATIONS_SHOWN) {
			aq_buf_puts(b, "<p class=\"ann more\">more annotations not shown</p>");
			break;
		}
		aq_buf_puts(b, "<p class=\"ann\"><span class=\"k\">");
		put_text(b, key, SHORT_TEXT_MAX);
		aq_buf_puts(b, ":</span> ");
		put_any(b, value, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</p>");
		n++;
	}
}

/* A check as a card: severity, name (a link when linked), message, facts,
 * marks, labels, annotations and forms. */
static void put_card(struct aq_buf *b, json_t *c, int linked, const struct aq_page_ctx *ctx)
{
	const char *name = str_of(c, "check");
	const char *severity = str_of(c, "severity");
	aq_buf_printf(b, "<div class=\"alert %s\" data-row>\n<h3>", severity_class(severity));
	put_severity(b, severity);
	aq_buf_puts(b, " ");
	if (linked && name)
		put_check_link(b, name);
	else
		put_text(b, name ? name : "?", NAME_SHOWN_MAX);
	aq_buf_puts(b, "</h3>\n");
	const char *message = str_of(c, "message");
	if (message && *message) {
		aq_buf_puts(b, "<p class=\"msg\">");
		put_text_n(b, message, TEXT_SHOWN_MAX, AQ_TEXT_NEWLINES);
		aq_buf_puts(b, "</p>\n");
	}
	aq_buf_puts(b, "<div class=\"facts\"><span>since <b>");
	put_field(b, c, "since", SHORT_TEXT_MAX);
	aq_buf_puts(b, "</b></span><span>value <b>");
	put_value(b, json_object_get(c, "value"));
	aq_buf_puts(b, "</b></span><span>last seen <b>");
	put_field(b, c, "last_seen", SHORT_TEXT_MAX);
	aq_buf_puts(b, "</b></span>");
	json_t *level = json_object_get(c, "escalation_level");
	if (json_is_integer(level))
		aq_buf_printf(b, "<span>escalation level <b>%lld</b></span>",
			      (long long)json_integer_value(level));
	const char *previous = str_of(c, "previous_severity");
	if (previous && *previous) {
		aq_buf_puts(b, "<span>before <b>");
		put_text(b, previous, SHORT_TEXT_MAX);
		aq_buf_puts(b, "</b></span>");
	}
	aq_buf_puts(b, "</div>\n<div>");
	put_marks(b, c);
	aq_buf_puts(b, "</div>\n<div>");
	put_labels(b, json_object_get(c, "labels"));
	aq_buf_puts(b, "</div>\n");
	put_annotations(b, json_object_get(c, "annotations"));
	put_check_forms(b, c, ctx);
	aq_buf_puts(b, "</div>\n");
}

struct ranked {
	json_t *check;
	enum severity_rank rank;
	const char *name;
};

static int by_rank_then_name(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The alerts section: the checks that are not OK, most severe first. */
static void put_alerts(struct aq_buf *b, json_t *checks, const char *filter, const struct aq_page_ctx *ctx)
{
	size_t total = json_array_size(checks);
	struct ranked *alerts = total ? calloc(total, sizeof(*alerts)) : NULL;
	if (total && !alerts) {
		b->failed = 1;
		return;
	}
	size_t n = 0;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		enum severity_rank rank = rank_of(str_of(c, "severity"));
		if (rank == RANK_OK || !check_matches(c, filter))
			continue;
		const char *name = str_of(c, "check");
		alerts[n++] = (struct ranked){ c, rank, name ? name : "" };
	}
	if (n > 1)
		qsort(alerts, n, sizeof(*alerts), by_rank_then_name);
	aq_buf_printf(b, "<section id=\"alerts\">\n<h2>Alerts (%zu)</h2>\n", n);
	if (n == 0)
		aq_buf_puts(b, "<p class=\"none\">nothing is firing</p>\n");
	for (i = 0; i < n; i++) {
		if (i == AQ_PAGE_MAX_ROWS || b->len > ALERTS_BUDGET) {
			aq_buf_printf(b, "<p class=\"more\">%zu more not shown</p>\n", n - i);
			break;
		}
		put_card(b, alerts[i].check, 1, ctx);
	}
	aq_buf_puts(b, "</section>\n");
	free(alerts);
}

/* Every check as a table row; the filter box filters them client side and
 * its GET form (and the filter argument) server side. */
static void put_table(struct aq_buf *b, json_t *checks, const char *filter)
{
	aq_buf_puts(b,
		    "<section id=\"checks\">\n<h2>All checks</h2>\n"
		    "<form class=\"filter\" method=\"get\" action=\"/\">"
		    "<input id=\"filter\" name=\"filter\" type=\"search\" placeholder=\"filter checks\" "
		    "aria-label=\"filter checks\" value=\"");
	put_text(b, filter ? filter : "", SHORT_TEXT_MAX);
	aq_buf_puts(b,
		    "\"></form>\n<div class=\"wrap\"><table class=\"stack\">\n<thead><tr><th>check</th>"
		    "<th>severity</th><th>since</th><th>value</th><th>last seen</th><th>marks</th>"
		    "<th>message</th><th>labels</th></tr></thead>\n<tbody>\n");
	size_t shown = 0, matching = 0;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		if (!check_matches(c, filter))
			continue;
		matching++;
		if (shown == AQ_PAGE_MAX_ROWS || b->len > TABLE_BUDGET)
			continue;
		shown++;
		const char *name = str_of(c, "check");
		const char *severity = str_of(c, "severity");
		aq_buf_printf(b, "<tr class=\"%s\" data-row><td data-label=\"check\">",
			      severity_class(severity));
		if (name)
			put_check_link(b, name);
		aq_buf_puts(b, "</td><td data-label=\"severity\">");
		put_severity(b, severity);
		aq_buf_puts(b, "</td><td class=\"time\" data-label=\"since\">");
		put_field(b, c, "since", SHORT_TEXT_MAX);
		aq_buf_puts(b, "</td><td class=\"num\" data-label=\"value\">");
		put_value(b, json_object_get(c, "value"));
		aq_buf_puts(b, "</td><td class=\"time\" data-label=\"last seen\">");
		put_field(b, c, "last_seen", SHORT_TEXT_MAX);
		aq_buf_puts(b, "</td><td data-label=\"marks\">");
		put_marks(b, c);
		aq_buf_puts(b, "</td><td data-label=\"message\">");
		put_text(b, str_of(c, "message"), TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</td><td data-label=\"labels\">");
		put_labels(b, json_object_get(c, "labels"));
		aq_buf_puts(b, "</td></tr>\n");
	}
	aq_buf_puts(b, "</tbody></table></div>\n");
	if (matching > shown)
		aq_buf_printf(b, "<p class=\"more\">%zu more not shown</p>\n", matching - shown);
	if (filter && *filter)
		aq_buf_printf(b, "<p class=\"more\">%zu of %zu checks match the filter</p>\n", matching,
			      json_array_size(checks));
	if (json_array_size(checks) == 0)
		aq_buf_puts(b, "<p class=\"none\">no checks reported yet</p>\n");
	aq_buf_puts(b, "</section>\n");
}

static void put_silences(struct aq_buf *b, json_t *silences, const struct aq_page_ctx *ctx)
{
	size_t n = json_array_size(silences);
	aq_buf_printf(b, "<section id=\"silences\">\n<h2>Silences (%zu)</h2>\n", n);
	if (n > 0) {
		aq_buf_puts(
			b,
			"<div class=\"wrap\"><table class=\"stack\">\n<thead><tr><th>id</th><th>match</th>"
			"<th>starts</th><th>ends</th><th>comment</th><th>by</th></tr></thead>\n<tbody>\n");
		size_t i;
		json_t *s;
		json_array_foreach(silences, i, s)
		{
			if (i == SILENCES_SHOWN || b->len > LAST_BUDGET)
				break;
			aq_buf_printf(b, "<tr><td data-label=\"id\">%lld</td><td data-label=\"match\">",
				      int_of(s, "id"));
			put_field(b, s, "match", NAME_SHOWN_MAX);
			aq_buf_puts(b, "</td><td data-label=\"starts\">");
			put_field(b, s, "starts_at", SHORT_TEXT_MAX);
			aq_buf_puts(b, "</td><td data-label=\"ends\">");
			put_field(b, s, "ends_at", SHORT_TEXT_MAX);
			aq_buf_puts(b, "</td><td data-label=\"comment\">");
			put_field(b, s, "comment", TEXT_SHOWN_MAX);
			aq_buf_puts(b, "</td><td data-label=\"by\">");
			put_field(b, s, "created_by", SHORT_TEXT_MAX);
			aq_buf_puts(b, "</td></tr>\n");
		}
		aq_buf_puts(b, "</tbody></table></div>\n");
		if (i < n)
			aq_buf_printf(b, "<p class=\"more\">%zu more not shown</p>\n", n - i);
	} else {
		aq_buf_puts(b, "<p class=\"none\">no active silences</p>\n");
	}
	if (forms_allowed(ctx)) {
		aq_buf_puts(b, "<div class=\"actions\">");
		put_silence_form(b, NULL, ctx);
		aq_buf_puts(b, "</div>\n");
	}
	aq_buf_puts(b, "</section>\n");
}

char *aq_page_index(json_t *checks, json_t *silences, const char *filter, const struct aq_page_ctx *ctx)
{
	struct aq_buf b;
	aq_buf_init(&b, AQ_PAGE_MAX_BYTES);
	if (!json_is_array(checks))
		checks = NULL;
	if (!json_is_array(silences))
		silences = NULL;
	size_t firing = 0;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		if (rank_of(str_of(c, "severity")) != RANK_OK)
			firing++;
	}
	char title[64] = "alertq";
	if (firing)
		snprintf(title, sizeof(title), "(%zu) alertq", firing);
	page_open(&b, title, ctx ? ctx->refresh_s : 0);
	put_header(&b, checks, 1, ctx);
	aq_buf_puts(&b, "<main>\n");
	put_alerts(&b, checks, filter, ctx);
	put_table(&b, checks, filter);
	put_silences(&b, silences, ctx);
	aq_buf_puts(&b, "</main>\n");
	page_close(&b, 1);
	return aq_buf_take(&b);
}

/* One notification of a check's history as a list item. */
static void put_notification(struct aq_buf *b, json_t *n, int with_created)
{
	aq_buf_puts(b, "<li>");
	if (with_created) {
		put_field(b, n, "created_at", SHORT_TEXT_MAX);
		aq_buf_puts(b, " ");
	}
	aq_buf_puts(b, "<b>");
	put_field(b, n, "channel", SHORT_TEXT_MAX);
	aq_buf_puts(b, "</b> ");
	put_field(b, n, "status", SHORT_TEXT_MAX);
	json_t *level = json_object_get(n, "escalation_level");
	if (json_is_integer(level))
		aq_buf_printf(b, ", level %lld", (long long)json_integer_value(level));
	const char *delivery = str_of(n, "delivery");
	aq_buf_printf(b, ", <span class=\"%s\">",
		      delivery && strcmp(delivery, "undeliverable") == 0 ? "mark bad" : "");
	put_field(b, n, "delivery", SHORT_TEXT_MAX);
	aq_buf_printf(b, "</span>, %lld attempt(s)", int_of(n, "attempts"));
	const char *sent = str_of(n, "sent_at");
	if (sent && *sent) {
		aq_buf_puts(b, ", sent ");
		put_text(b, sent, SHORT_TEXT_MAX);
	}
	const char *last_error = str_of(n, "last_error");
	if (last_error && *last_error) {
		aq_buf_puts(b, ", last error: <code>");
		put_text(b, last_error, TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</code>");
	}
	aq_buf_puts(b, "</li>\n");
}

static void put_notifications(struct aq_buf *b, json_t *list, int with_created)
{
	size_t n = json_array_size(list);
	if (n == 0)
		return;
	aq_buf_puts(b, "<ul class=\"notes\">\n");
	size_t i;
	json_t *note;
	json_array_foreach(list, i, note)
	{
		if (i == NOTIFICATIONS_SHOWN || b->len > LAST_BUDGET) {
			aq_buf_printf(b, "<li class=\"more\">%zu more not shown</li>\n", n - i);
			break;
		}
		put_notification(b, note, with_created);
	}
	aq_buf_puts(b, "</ul>\n");
}

/* The transitions (newest as the history gives them), each with the
 * notifications it caused, then the escalations and repeats. */
static void put_history(struct aq_buf *b, json_t *history)
{
	json_t *transitions = json_object_get(history, "transitions");
	size_t n = json_array_size(transitions);
	aq_buf_printf(b, "<section id=\"history\">\n<h2>History (%zu transitions)</h2>\n", n);
	if (n == 0)
		aq_buf_puts(b, "<p class=\"none\">no transitions recorded</p>\n");
	else
		aq_buf_puts(b,
			    "<div class=\"wrap\"><table class=\"stack\">\n<thead><tr><th>observed</th>"
			    "<th>change</th><th>value</th><th>cause</th><th>message</th>"
			    "<th>notifications</th></tr></thead>\n<tbody>\n");
	size_t i;
	json_t *t;
	json_array_foreach(transitions, i, t)
	{
		if (i == AQ_PAGE_MAX_ROWS || b->len > TABLE_BUDGET)
			break;
		const char *to = str_of(t, "to");
		aq_buf_printf(b, "<tr class=\"%s\"><td class=\"time\" data-label=\"observed\">",
			      severity_class(to));
		put_field(b, t, "observed_at", SHORT_TEXT_MAX);
		aq_buf_puts(b, "</td><td data-label=\"change\">");
		put_field(b, t, "from", SHORT_TEXT_MAX);
		aq_buf_puts(b, " &rarr; ");
		put_severity(b, to);
		aq_buf_puts(b, "</td><td class=\"num\" data-label=\"value\">");
		put_value(b, json_object_get(t, "value"));
		aq_buf_puts(b, "</td><td data-label=\"cause\">");
		put_field(b, t, "cause", SHORT_TEXT_MAX);
		aq_buf_puts(b, "</td><td data-label=\"message\">");
		put_text(b, str_of(t, "message"), TEXT_SHOWN_MAX);
		aq_buf_puts(b, "</td><td data-label=\"notifications\">");
		put_notifications(b, json_object_get(t, "notifications"), 0);
		aq_buf_puts(b, "</td></tr>\n");
	}
	if (n > 0)
		aq_buf_puts(b, "</tbody></table></div>\n");
	if (i < n)
		aq_buf_printf(b, "<p class=\"more\">%zu more not shown</p>\n", n - i);
	aq_buf_puts(b, "</section>\n");
	json_t *escalations = json_object_get(history, "escalations");
	if (json_array_size(escalations) > 0) {
		aq_buf_printf(b, "<section id=\"escalations\">\n<h2>Escalations and repeats (%zu)</h2>\n",
			      json_array_size(escalations));
		put_notifications(b, escalations, 1);
		aq_buf_puts(b, "</section>\n");
	}
}

char *aq_page_check(json_t *check, json_t *history, const struct aq_page_ctx *ctx)
{
	struct aq_buf b;
	aq_buf_init(&b, AQ_PAGE_MAX_BYTES);
	const char *name = str_of(check, "check");
	if (!name)
		name = str_of(history, "check");
	char *title = NULL;
	if (name && asprintf(&title, "%s - alertq", name) < 0)
		title = NULL;
	page_open(&b, title ? title : "alertq", ctx ? ctx->refresh_s : 0);
	free(title);
	put_header(&b, NULL, 0, ctx);
	aq_buf_puts(&b, "<main>\n<p><a href=\"/\">&larr; all checks</a></p>\n");
	if (json_is_object(check))
		put_card(&b, check, 0, ctx);
	else
		aq_buf_puts(&b, "<p class=\"none\">no state for this check</p>\n");
	put_history(&b, history);
	aq_buf_puts(&b, "</main>\n");
	page_close(&b, 0);
	return aq_buf_take(&b);
}

char *aq_page_error(int status, const char *message)
{
	struct aq_buf b;
	aq_buf_init(&b, AQ_PAGE_MAX_BYTES);
	char title[64];
	snprintf(title, sizeof(title), "%d - alertq", status);
	page_open(&b, title, 0);
	put_header(&b, NULL, 0, NULL);
	aq_buf_printf(&b, "<main>\n<h2>%d</h2>\n<p class=\"msg\">", status);
	put_text_n(&b, message ? message : "", TEXT_SHOWN_MAX, AQ_TEXT_NEWLINES);
	aq_buf_puts(&b, "</p>\n<p><a href=\"/\">back to all checks</a></p>\n</main>\n");
	page_close(&b, 0);
	return aq_buf_take(&b);
}
