/* threshold.c - rule thresholds such as "> 50000": parsing and comparing */
#include "alertq/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *text;
	enum aq_op op;
} operators[] = {
	/* two-character operators first, so ">=" is not read as ">" */
	{ ">=", AQ_OP_GE }, { "<=", AQ_OP_LE }, { "==", AQ_OP_EQ },
	{ "!=", AQ_OP_NE }, { ">", AQ_OP_GT },  { "<", AQ_OP_LT },
};

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses a threshold: optional spaces, an operator, optional spaces, then a
 * finite number that strtod reads completely (trailing spaces allowed).
 * Returns 0 with *t filled and t->set = 1, or -1 with a message in err and
 * *t left as it was. */
int aq_threshold_parse(const char *text, struct aq_threshold *t, char *err, size_t errlen)
{
	if (!text) {
		snprintf(err, errlen, "invalid threshold: none given");
		return -1;
	}
	const char *p = skip_spaces(text);
	if (*p == '\0') {
		snprintf(err, errlen, "invalid threshold '%s': empty (write for example '> 50000')", text);
		return -1;
	}
	size_t which = sizeof(operators) / sizeof(operators[0]);
	for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
		size_t n = strlen(operators[i].text);
		if (strncmp(p, operators[i].text, n) == 0) {
			which = i;
			p += n;
			break;
		}
	}
	if (which == sizeof(operators) / sizeof(operators[0])) {
		snprintf(err, errlen,
			 "invalid threshold '%s': expected an operator (>, >=, <, <=, ==, !=) before '%s'",
			 text, p);
		return -1;
	}
	const char *op_text = operators[which].text;
	p = skip_spaces(p);
	if (*p == '\0') {
		snprintf(err, errlen, "invalid threshold '%s': expected a number after '%s'", text, op_text);
		return -1;
	}
	errno = 0;
	char *end = NULL;
	double value = strtod(p, &end);
	const char *rest = end ? skip_spaces(end) : p;
	if (end == p || *rest != '\0') {
		snprintf(err, errlen, "invalid threshold '%s': expected a number after '%s', found '%s'",
			 text, op_text, p);
		return -1;
	}
	if (!isfinite(value)) {
		snprintf(err, errlen, "invalid threshold '%s': '%.*s' is not a finite number", text,
			 (int)(end - p), p);
		return -1;
	}
	t->set = 1;
	t->op = operators[which].op;
	t->value = value;
	return 0;
}

/* Returns 1 when value meets the threshold, 0 when it does not, when the
 * threshold is not set, and when value is not a number (NaN meets nothing). */
int aq_threshold_met(const struct aq_threshold *t, double value)
{
	if (!t || !t->set || isnan(value))
		return 0;
	switch (t->op) {
	case AQ_OP_GT:
		return value > t->value;
	case AQ_OP_GE:
		return value >= t->value;
	case AQ_OP_LT:
		return value < t->value;
	case AQ_OP_LE:
		return value <= t->value;
	case AQ_OP_EQ:
		return value == t->value;
	case AQ_OP_NE:
		return value != t->value;
	}
	return 0;
}
