/* template.c - the message template language: {{name}} placeholders and
 * {{#name}}...{{/name}} / {{^name}}...{{/name}} sections, parsed into a flat
 * list of nodes once, rendered with each value escaped for its target */
#include "notify/template.h"

#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "base/buf.h"
#include "base/utf8.h"
#include "notify/format.h"

enum field {
	F_CHECK,
	F_SEVERITY,
	F_PREVIOUS_SEVERITY,
	F_STATUS,
	F_VALUE,
	F_MESSAGE,
	F_SINCE,
	F_OBSERVED_AT,
	F_ESCALATION_LEVEL,
	F_LABEL,
	F_ANNOTATION,
};

static const char *const field_names[] = {
	[F_CHECK] = "check",
	[F_SEVERITY] = "severity",
	[F_PREVIOUS_SEVERITY] = "previous_severity",
	[F_STATUS] = "status",
	[F_VALUE] = "value",
	[F_MESSAGE] = "message",
	[F_SINCE] = "since",
	[F_OBSERVED_AT] = "observed_at",
	[F_ESCALATION_LEVEL] = "escalation_level",
};

enum node_kind {
	N_TEXT,     /* the template's own text */
	N_VALUE,    /* {{name}} */
	N_SECTION,  /* {{#name}}: what follows up to its end renders when the value is not empty */
	N_INVERTED, /* {{^name}}: ... when it is empty */
	N_END,      /* {{/name}} */
};

struct node {
	enum node_kind kind;
	enum field field;
	size_t off, len; /* N_TEXT: the text; otherwise the key of a label or annotation */
	size_t end;      /* N_SECTION, N_INVERTED: index of the node that ends it */
	size_t name_off; /* the whole name, for matching a section's end */
	size_t name_len;
	size_t tag_off; /* where its "{{" is, for messages */
};

struct aq_template {
	char *source; /* NUL-terminated copy */
	size_t len;
	struct node *nodes;
	size_t n;
	atomic_int refs;
};

static atomic_ulong failures;

unsigned long aq_template_count_failure(void)
{
	return atomic_fetch_add(&failures, 1) + 1;
}

unsigned long aq_template_failure_count(void)
{
	return atomic_load(&failures);
}

const char *aq_template_source(const struct aq_template *t)
{
	return t->source;
}

struct aq_template *aq_template_ref(struct aq_template *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void aq_template_unref(struct aq_template *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	free(t->source);
	free(t->nodes);
	free(t);
}

/* Line and column (1-based, in bytes) of offset off in text. */
static void position(const char *text, size_t off, int *line, int *column)
{
	*line = 1;
	size_t start = 0;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*column = (int)(off - start) + 1;
}

/* Writes "what at line L, column C" into err, the tag quoted from text
 * (cleaned and cut: it is the user's text). */
static void parse_error(char *err, size_t errlen, const char *text, size_t off, const char *tag,
			size_t tag_len, const char *what)
{
	int line, column;
	position(text, off, &line, &column);
	char quoted[96];
	aq_text_clean_into(quoted, sizeof(quoted), tag, tag_len, AQ_TEXT_SPACES);
	snprintf(err, errlen, "%s '%s' at line %d, column %d of the template", what, quoted, line, column);
}

static int key_is_annotation_name(const char *s, size_t len)
{
	if (len == 0 || len > AQ_ANNOTATION_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* Resolves a placeholder name into node (field, key). Returns 0, or -1 when
 * it names nothing (or an annotation where scope forbids). */
static int resolve(struct node *node, const char *source, size_t off, size_t len,
		   enum aq_template_scope scope, const char **why)
{
	const char *name = source + off;
	*why = "unknown placeholder";
	for (size_t f = 0; f < sizeof(field_names) / sizeof(field_names[0]); f++)
		if (strlen(field_names[f]) == len && memcmp(field_names[f], name, len) == 0) {
			node->field = (enum field)f;
			return 0;
		}
	static const char labels[] = "labels.";
	static const char annotations[] = "annotations.";
	if (len > strlen(labels) && memcmp(name, labels, strlen(labels)) == 0) {
		node->field = F_LABEL;
		node->off = off + strlen(labels);
		node->len = len - strlen(labels);
		return 0;
	}
	if (len > strlen(annotations) && memcmp(name, annotations, strlen(annotations)) == 0 &&
	    key_is_annotation_name(name + strlen(annotations), len - strlen(annotations))) {
		if (scope == AQ_TEMPLATE_ANNOTATION) {
			*why = "an annotation cannot name another:";
			return -1;
		}
		node->field = F_ANNOTATION;
		node->off = off + strlen(annotations);
		node->len = len - strlen(annotations);
		return 0;
	}
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

struct aq_template *aq_template_parse(const char *text, size_t len, enum aq_template_scope scope, char *err,
				      size_t errlen)
{
	if (len > AQ_TEMPLATE_SOURCE_MAX) {
		snprintf(err, errlen, "the template is longer than %d bytes", AQ_TEMPLATE_SOURCE_MAX);
		return NULL;
	}
	if (!aq_utf8_valid(text, len)) {
		snprintf(err, errlen, "the template is not valid UTF-8");
		return NULL;
	}
	struct aq_template *t = calloc(1, sizeof(*t));
	/* each "{{" makes at most two nodes, text before it and itself */
	size_t most = 1;
	for (size_t i = 0; i + 1 < len; i++)
		if (text[i] == '{' && text[i + 1] == '{')
			most += 2;
	if (t) {
		t->source = malloc(len + 1);
		t->nodes = calloc(most, sizeof(*t->nodes));
	}
	if (!t || !t->source || !t->nodes) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(t->source, text, len);
	t->source[len] = '\0';
	t->len = len;
	atomic_init(&t->refs, 1);

	size_t open[AQ_TEMPLATE_DEPTH_MAX];
	size_t depth = 0;
	size_t at = 0;
	const char *s = t->source;
	while (at < len) {
		const char *start = strstr(s + at, "{{");
		size_t tag = start ? (size_t)(start - s) : len;
		if (tag > at) {
			struct node *lit = &t->nodes[t->n++];
			lit->kind = N_TEXT;
			lit->off = at;
			lit->len = tag - at;
		}
		if (!start)
			break;
		const char *close = strstr(s + tag + 2, "}}");
		if (!close) {
			parse_error(err, errlen, s, tag, s + tag, len - tag > 40 ? 40 : len - tag,
				    "unclosed placeholder");
			goto fail;
		}
		size_t tag_end = (size_t)(close - s) + 2;
		size_t name = tag + 2, name_end = (size_t)(close - s);
		while (name < name_end && is_space(s[name]))
			name++;
		while (name_end > name && is_space(s[name_end - 1]))
			name_end--;
		struct node *node = &t->nodes[t->n];
		node->kind = N_VALUE;
		char sigil = name < name_end ? s[name] : '\0';
		if (sigil == '#' || sigil == '^' || sigil == '/') {
			node->kind = sigil == '#' ? N_SECTION : sigil == '^' ? N_INVERTED : N_END;
			name++;
			while (name < name_end && is_space(s[name]))
				name++;
		}
		node->tag_off = tag;
		node->name_off = name;
		node->name_len = name_end - name;
		const char *why;
		if (resolve(node, s, name, name_end - name, scope, &why) != 0) {
			parse_error(err, errlen, s, tag, s + tag, tag_end - tag, why);
			goto fail;
		}
		if (node->kind == N_SECTION || node->kind == N_INVERTED) {
			if (depth == AQ_TEMPLATE_DEPTH_MAX) {
				parse_error(err, errlen, s, tag, s + tag, tag_end - tag,
					    "sections nested too deep at");
				goto fail;
			}
			open[depth++] = t->n;
		} else if (node->kind == N_END) {
			if (depth == 0) {
				parse_error(err, errlen, s, tag, s + tag, tag_end - tag,
					    "end of a section that is not open:");
				goto fail;
			}
			struct node *opener = &t->nodes[open[depth - 1]];
			if (opener->name_len != node->name_len ||
			    memcmp(s + opener->name_off, s + node->name_off, node->name_len) != 0) {
				parse_error(err, errlen, s, tag, s + tag, tag_end - tag,
					    "end of a section that is not the open one:");
				goto fail;
			}
			opener->end = t->n;
			depth--;
		}
		t->n++;
		at = tag_end;
	}
	if (depth > 0) {
		struct node *opener = &t->nodes[open[depth - 1]];
		parse_error(err, errlen, s, opener->tag_off, s + opener->name_off, opener->name_len,
			    "unclosed section");
		goto fail;
	}
	return t;
fail:
	if (t) {
		free(t->source);
		free(t->nodes);
		free(t);
	}
	return NULL;
}

void aq_template_values_sample(struct aq_template_values *v, const struct aq_label *labels, size_t nlabels,
			       const struct aq_label *annotations, size_t nannotations)
{
	memset(v, 0, sizeof(*v));
	v->check = "example.check";
	v->severity = "CRITICAL";
	v->previous_severity = "WARNING";
	v->status = "firing";
	v->message = "example message";
	snprintf(v->value, sizeof(v->value), "120000");
	v->value_is_number = 1;
	snprintf(v->since, sizeof(v->since), "2026-11-27T16:00:00Z");
	snprintf(v->observed_at, sizeof(v->observed_at), "2026-11-27T17:00:00Z");
	snprintf(v->escalation_level, sizeof(v->escalation_level), "0");
	v->labels = labels;
	v->nlabels = nlabels;
	v->annotations = annotations;
	v->nannotations = nannotations;
}

void aq_template_values_for(struct aq_template_values *v, const struct aq_notification *n)
{
	memset(v, 0, sizeof(*v));
	v->check = n->check;
	v->severity = aq_severity_name(n->severity);
	v->previous_severity = aq_severity_name(n->previous_severity);
	v->status = aq_notification_status(n);
	v->message = n->message;
	if (n->has_value) {
		aq_format_value(n->value, v->value, sizeof(v->value));
		v->value_is_number = isfinite(n->value);
	}
	aq_format_time(n->since_ms, v->since, sizeof(v->since));
	aq_format_time(n->observed_at_ms, v->observed_at, sizeof(v->observed_at));
	snprintf(v->escalation_level, sizeof(v->escalation_level), "%d", n->escalation_level);
	v->labels = n->labels;
	v->nlabels = n->nlabels;
	v->annotations = n->annotations;
	v->nannotations = n->nannotations;
}

/* The value of key (klen bytes) among n labels, or NULL. */
static const char *label_value(const struct aq_label *labels, size_t n, const char *key, size_t klen)
{
	for (size_t i = 0; i < n; i++)
		if (labels[i].key && strlen(labels[i].key) == klen && memcmp(labels[i].key, key, klen) == 0)
			return labels[i].value;
	return NULL;
}

/* The raw value a node names ("" when there is none). */
static const char *lookup(const struct aq_template *t, const struct node *node,
			  const struct aq_template_values *v)
{
	const char *s = NULL;
	switch (node->field) {
	case F_CHECK:
		s = v->check;
		break;
	case F_SEVERITY:
		s = v->severity;
		break;
	case F_PREVIOUS_SEVERITY:
		s = v->previous_severity;
		break;
	case F_STATUS:
		s = v->status;
		break;
	case F_VALUE:
		s = v->value;
		break;
	case F_MESSAGE:
		s = v->message;
		break;
	case F_SINCE:
		s = v->since;
		break;
	case F_OBSERVED_AT:
		s = v->observed_at;
		break;
	case F_ESCALATION_LEVEL:
		s = v->escalation_level;
		break;
	case F_LABEL:
		s = label_value(v->labels, v->nlabels, t->source + node->off, node->len);
		break;
	case F_ANNOTATION:
		s = label_value(v->annotations, v->nannotations, t->source + node->off, node->len);
		break;
	}
	return s ? s : "";
}

/* Appends s as the inside of a JSON string. */
static void add_json_escaped(struct aq_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			aq_buf_puts(b, "\\\"");
		else if (c == '\\')
			aq_buf_puts(b, "\\\\");
		else if (c == '\n')
			aq_buf_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			aq_buf_printf(b, "\\u%04x", c);
		else
			aq_buf_add(b, s, 1);
	}
}

/* Appends the value of node, cleaned and escaped for target, to b. */
static void add_value(struct aq_buf *b, const char *raw, const struct node *node,
		      const struct aq_template_values *v, enum aq_template_target target)
{
	if (target == AQ_TEMPLATE_JSON && node->field == F_VALUE) {
		aq_buf_puts(b, v->value_is_number && raw[0] ? raw : "null");
		return;
	}
	enum aq_text_controls controls = target == AQ_TEMPLATE_EMAIL_HEADER ? AQ_TEXT_SPACES
									    : AQ_TEXT_NEWLINES;
	char *clean = aq_text_clean(raw, AQ_TEMPLATE_VALUE_MAX, controls);
	if (!clean) {
		b->failed = 1;
		return;
	}
	if (target == AQ_TEMPLATE_SLACK)
		aq_slack_escape(b, clean);
	else if (target == AQ_TEMPLATE_JSON)
		add_json_escaped(b, clean);
	else
		aq_buf_puts(b, clean);
	free(clean);
}

/* Appends n bytes of s to out unless that passes max: then, with cut, what
 * fits (on a character boundary) and *full is set; without, *full is set
 * and nothing is appended. */
static void add_bounded(struct aq_buf *out, const char *s, size_t n, size_t max, int cut, int *full)
{
	if (out->len + n <= max) {
		aq_buf_add(out, s, n);
		return;
	}
	*full = 1;
	if (cut)
		aq_buf_add(out, s, aq_utf8_cut(s, n, max - out->len));
}

char *aq_template_render(const struct aq_template *t, const struct aq_template_values *v,
			 enum aq_template_target target, size_t max, int cut, char *err, size_t errlen)
{
	struct aq_buf out, piece;
	aq_buf_init(&out, max + 1);
	aq_buf_init(&piece, 4 * AQ_TEMPLATE_VALUE_MAX + 64);
	int full = 0;
	for (size_t i = 0; i < t->n && !full && !out.failed && !piece.failed; i++) {
		const struct node *node = &t->nodes[i];
		switch (node->kind) {
		case N_TEXT:
			if (target == AQ_TEMPLATE_EMAIL_HEADER) {
				char *clean = aq_text_clean_n(t->source + node->off, node->len, node->len,
							      AQ_TEXT_SPACES);
				if (!clean) {
					out.failed = 1;
					break;
				}
				add_bounded(&out, clean, strlen(clean), max, cut, &full);
				free(clean);
			} else {
				add_bounded(&out, t->source + node->off, node->len, max, cut, &full);
			}
			break;
		case N_VALUE:
			aq_buf_reset(&piece);
			add_value(&piece, lookup(t, node, v), node, v, target);
			if (!piece.failed && piece.len > 0)
				add_bounded(&out, piece.data, piece.len, max, cut, &full);
			break;
		case N_SECTION:
			if (lookup(t, node, v)[0] == '\0')
				i = node->end;
			break;
		case N_INVERTED:
			if (lookup(t, node, v)[0] != '\0')
				i = node->end;
			break;
		case N_END:
			break;
		}
	}
	int failed = out.failed || piece.failed;
	aq_buf_release(&piece);
	if (failed) {
		aq_buf_release(&out);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (full && !cut) {
		aq_buf_release(&out);
		snprintf(err, errlen, "the rendered text is longer than %zu bytes", max);
		return NULL;
	}
	char *text = aq_buf_take(&out);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (target == AQ_TEMPLATE_JSON) {
		json_error_t jerr;
		json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);
		if (!doc) {
			char why[160];
			aq_text_clean_into(why, sizeof(why), jerr.text, strlen(jerr.text), AQ_TEXT_SPACES);
			snprintf(err, errlen, "the rendered body is not JSON: %s at line %d, column %d", why,
				 jerr.line, jerr.column);
			free(text);
			return NULL;
		}
		json_decref(doc);
	}
	return text;
}

void aq_annotations_render(const struct aq_rule *rule, const struct aq_template_values *v,
			   struct aq_label **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (!rule || rule->nannotations == 0)
		return;
	struct aq_label *labels = calloc(rule->nannotations, sizeof(*labels));
	if (!labels)
		return;
	size_t n = 0;
	for (size_t i = 0; i < rule->nannotations; i++) {
		char err[256];
		char *text = aq_template_render(rule->annotations[i].tpl, v, AQ_TEMPLATE_TEXT,
						AQ_ANNOTATION_VALUE_MAX, 1, err, sizeof(err));
		char *key = text ? aq_strdup(rule->annotations[i].key) : NULL;
		if (!key) {
			free(text);
			continue;
		}
		labels[n].key = key;
		labels[n].value = text;
		n++;
	}
	*out = labels;
	*nout = n;
	if (n == 0) {
		free(labels);
		*out = NULL;
	}
}
