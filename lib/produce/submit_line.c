/* submit_line.c - a reader of the usual shape of a submit line (a flat JSON
 * object of known fields, plain strings and numbers) that fills the result
 * without building a jansson tree: for `submit --file` that tree (a hash
 * table, a copy of every key and string, their frees) cost more than the
 * rest of the line's work. Anything else, and anything the JSON reading
 * would refuse, is left to that reading (submit.c), so what a line means
 * and every message about a bad one stay as they were; tests/unit/
 * test_submit.c holds the two readings to the same results. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/submit.h"
#include "base/utf8.h"
#include "produce/submit_line.h"

/* The fields of a line, in the order the JSON reading applies them. */
enum line_field {
	LF_CHECK,
	LF_VALUE,
	LF_STATUS,
	LF_MESSAGE,
	LF_LABELS,
	LF_INTERVAL,
	LF_INTERVAL_MS,
	LF_OBSERVED_AT,
	LF_EXPIRES_AT,
	LF_COUNT
};

static const struct {
	const char *name;
	size_t len;
} line_fields[LF_COUNT] = {
	[LF_CHECK] = { "check", 5 },
	[LF_VALUE] = { "value", 5 },
	[LF_STATUS] = { "status", 6 },
	[LF_MESSAGE] = { "message", 7 },
	[LF_LABELS] = { "labels", 6 },
	[LF_INTERVAL] = { "interval", 8 },
	[LF_INTERVAL_MS] = { "interval_ms", 11 },
	[LF_OBSERVED_AT] = { "observed_at", 11 },
	[LF_EXPIRES_AT] = { "expires_at", 10 },
};

enum token {
	T_ABSENT,
	T_NULL,
	T_STRING,
	T_INTEGER, /* a number without fraction or exponent: jansson's integer */
	T_REAL,
	T_LABELS,
};

struct span {
	enum token token;
	const char *s;
	size_t n;
};

/* The labels object's items, at most as many as a line may give. */
struct label_spans {
	struct span key[AQ_LABELS_MAX];
	struct span value[AQ_LABELS_MAX];
	size_t n;
};

struct lexer {
	const char *p;
	const char *end;
};

static void skip_space(struct lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
		lx->p++;
}

/* A string with no escape and no control character, valid UTF-8. */
static int lex_string(struct lexer *lx, struct span *out)
{
	if (lx->p >= lx->end || *lx->p != '"')
		return -1;
	const char *start = ++lx->p;
	while (lx->p < lx->end) {
		unsigned char c = (unsigned char)*lx->p;
		if (c == '"')
			break;
		if (c == '\\' || c < 0x20)
			return -1;
		lx->p++;
	}
	if (lx->p >= lx->end)
		return -1;
	out->token = T_STRING;
	out->s = start;
	out->n = (size_t)(lx->p - start);
	lx->p++;
	return aq_utf8_valid(out->s, out->n) ? 0 : -1;
}

static int is_digit(const struct lexer *lx)
{
	return lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9';
}

/* A number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lex_number(struct lexer *lx, struct span *out)
{
	const char *start = lx->p;
	out->token = T_INTEGER;
	if (lx->p < lx->end && *lx->p == '-')
		lx->p++;
	if (!is_digit(lx))
		return -1;
	if (*lx->p == '0') {
		lx->p++;
	} else {
		while (is_digit(lx))
			lx->p++;
	}
	if (lx->p < lx->end && *lx->p == '.') {
		lx->p++;
		if (!is_digit(lx))
			return -1;
		while (is_digit(lx))
			lx->p++;
		out->token = T_REAL;
	}
	if (lx->p < lx->end && (*lx->p == 'e' || *lx->p == 'E')) {
		lx->p++;
		if (lx->p < lx->end && (*lx->p == '+' || *lx->p == '-'))
			lx->p++;
		if (!is_digit(lx))
			return -1;
		while (is_digit(lx))
			lx->p++;
		out->token = T_REAL;
	}
	out->s = start;
	out->n = (size_t)(lx->p - start);
	return 0;
}

/* The labels object: string keys, each once, string values. */
static int lex_labels(struct lexer *lx, struct label_spans *labels)
{
	labels->n = 0;
	lx->p++; /* '{' */
	skip_space(lx);
	if (lx->p < lx->end && *lx->p == '}') {
		lx->p++;
		return 0;
	}
	for (;;) {
		struct span key, value;
		if (labels->n == AQ_LABELS_MAX)
			return -1;
		skip_space(lx);
		if (lex_string(lx, &key) < 0)
			return -1;
		skip_space(lx);
		if (lx->p >= lx->end || *lx->p != ':')
			return -1;
		lx->p++;
		skip_space(lx);
		if (lex_string(lx, &value) < 0)
			return -1;
		for (size_t i = 0; i < labels->n; i++) {
			if (labels->key[i].n == key.n && memcmp(labels->key[i].s, key.s, key.n) == 0)
				return -1;
		}
		labels->key[labels->n] = key;
		labels->value[labels->n] = value;
		labels->n++;
		skip_space(lx);
		if (lx->p < lx->end && *lx->p == ',') {
			lx->p++;
			continue;
		}
		if (lx->p < lx->end && *lx->p == '}') {
			lx->p++;
			return 0;
		}
		return -1;
	}
}

static int lex_value(struct lexer *lx, struct span *out, struct label_spans *labels, int may_be_labels)
{
	if (lx->p >= lx->end)
		return -1;
	char c = *lx->p;
	if (c == '"')
		return lex_string(lx, out);
	if (c == '-' || (c >= '0' && c <= '9'))
		return lex_number(lx, out);
	if (c == 'n') {
		if (lx->end - lx->p < 4 || memcmp(lx->p, "null", 4) != 0)
			return -1;
		lx->p += 4;
		out->token = T_NULL;
		return 0;
	}
	if (c == '{' && may_be_labels) {
		out->token = T_LABELS;
		return lex_labels(lx, labels);
	}
	return -1;
}

/* Which field a key names, or -1. */
static int field_of(const struct span *key)
{
	for (int f = 0; f < LF_COUNT; f++) {
		if (key->n == line_fields[f].len && memcmp(key->s, line_fields[f].name, key->n) == 0)
			return f;
	}
	return -1;
}

/* The fields of the line's object into spans; -1 for any other shape. */
static int lex_line(const char *text, size_t len, struct span spans[LF_COUNT], struct label_spans *labels)
{
	struct lexer lx = { text, text + len };
	labels->n = 0;
	for (int f = 0; f < LF_COUNT; f++)
		spans[f].token = T_ABSENT;
	skip_space(&lx);
	if (lx.p >= lx.end || *lx.p != '{')
		return -1;
	lx.p++;
	skip_space(&lx);
	if (lx.p < lx.end && *lx.p == '}') {
		lx.p++;
	} else {
		for (;;) {
			struct span key;
			skip_space(&lx);
			if (lex_string(&lx, &key) < 0)
				return -1;
			int f = field_of(&key);
			if (f < 0 || spans[f].token != T_ABSENT)
				return -1;
			skip_space(&lx);
			if (lx.p >= lx.end || *lx.p != ':')
				return -1;
			lx.p++;
			skip_space(&lx);
			if (lex_value(&lx, &spans[f], labels, f == LF_LABELS) < 0)
				return -1;
			skip_space(&lx);
			if (lx.p < lx.end && *lx.p == ',') {
				lx.p++;
				continue;
			}
			if (lx.p < lx.end && *lx.p == '}') {
				lx.p++;
				break;
			}
			return -1;
		}
	}
	skip_space(&lx);
	return lx.p == lx.end ? 0 : -1;
}

/* A NUL-terminated copy of a span in buf (of cap bytes); -1 when longer. */
static int span_text(const struct span *s, char *buf, size_t cap)
{
	if (s->n >= cap)
		return -1;
	memcpy(buf, s->s, s->n);
	buf[s->n] = '\0';
	return 0;
}

/* A number's value as jansson gives it: an integer through long long (out
 * of its range jansson refuses it), a real through strtod (an overflow
 * jansson refuses). */
static int number_value(const struct span *s, double *out, long long *integer)
{
	char buf[64];
	char *end;
	if (span_text(s, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	if (s->token == T_INTEGER) {
		long long v = strtoll(buf, &end, 10);
		if (errno == ERANGE)
			return -1;
		*integer = v;
		*out = (double)v;
		return 0;
	}
	double d = strtod(buf, &end);
	if (!isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* A time or duration field's text, for its parser. */
#define FIELD_TEXT_MAX 128

int aq_submit_line_quick(const char *text, size_t len, struct aq_result *r)
{
	struct span spans[LF_COUNT];
	struct label_spans labels;
	char buf[FIELD_TEXT_MAX];
	char why[256];
	long long integer = 0;

	memset(r, 0, sizeof(*r));
	r->status = AQ_STATUS_NONE;
	if (lex_line(text, len, spans, &labels) < 0)
		goto other;
	const struct span *s = &spans[LF_CHECK];
	if (s->token != T_STRING || s->n == 0 || s->n > AQ_CHECK_NAME_MAX)
		goto other;
	for (int f = LF_VALUE; f < LF_COUNT; f++) {
		s = &spans[f];
		if (s->token == T_ABSENT || s->token == T_NULL)
			continue;
		switch ((enum line_field)f) {
		case LF_VALUE:
			if ((s->token != T_INTEGER && s->token != T_REAL) ||
			    number_value(s, &r->value, &integer) < 0)
				goto other;
			r->has_value = 1;
			break;
		case LF_STATUS:
			if (s->token != T_STRING || span_text(s, buf, sizeof(buf)) < 0)
				goto other;
			r->status = aq_status_parse(buf);
			if (r->status == AQ_STATUS_NONE)
				goto other;
			break;
		case LF_MESSAGE:
			if (s->token != T_STRING)
				goto other;
			break;
		case LF_LABELS:
			if (s->token != T_LABELS)
				goto other;
			break;
		case LF_INTERVAL:
			if (s->token != T_STRING || span_text(s, buf, sizeof(buf)) < 0 ||
			    aq_duration_parse(buf, &r->interval_ms, why, sizeof(why)) != 0)
				goto other;
			break;
		case LF_INTERVAL_MS:
			if (s->token != T_INTEGER || number_value(s, &(double){ 0 }, &integer) < 0 ||
			    integer < 0)
				goto other;
			r->interval_ms = integer;
			break;
		case LF_OBSERVED_AT:
		case LF_EXPIRES_AT:
			if (s->token != T_STRING || span_text(s, buf, sizeof(buf)) < 0 ||
			    aq_parse_time(buf, f == LF_OBSERVED_AT ? &r->observed_at_ms : &r->expires_at_ms,
					  why, sizeof(why)) != 0)
				goto other;
			break;
		default:
			break;
		}
	}
	/* nothing refused: the strings are copied only now */
	r->check = aq_strndup(spans[LF_CHECK].s, spans[LF_CHECK].n);
	if (spans[LF_MESSAGE].token == T_STRING)
		r->message = aq_strndup(spans[LF_MESSAGE].s, spans[LF_MESSAGE].n);
	if (spans[LF_LABELS].token == T_LABELS) {
		r->labels = aq_xcalloc(labels.n + 1, sizeof(*r->labels));
		for (size_t i = 0; i < labels.n; i++) {
			r->labels[i].key = aq_strndup(labels.key[i].s, labels.key[i].n);
			r->labels[i].value = aq_strndup(labels.value[i].s, labels.value[i].n);
		}
		r->nlabels = labels.n;
	}
	return 1;
other:
	aq_result_release(r);
	return 0;
}
