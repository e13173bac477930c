/* yaml.c - the node helpers the configuration loader reads alertq.yaml with:
 * typed values, fixed keys, names, and problems reported with their line */
#include "config/yaml_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_PROBLEMS 1000
#define CONFIG_MAX_DEPTH 64

const char *cfg_subj(struct subject *buf, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	if (n <= SUBJECT_MAX_BYTES)
		return s;
	memcpy(buf->text, s, SUBJECT_MAX_BYTES);
	memcpy(buf->text + SUBJECT_MAX_BYTES, "...", 4);
	return buf->text;
}

void *cfg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fputs("alertq: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Records one problem; control characters in it become '?', so that each
 * problem stays one line whatever the input held. */
void cfg_problem(struct loader *ld, int line, const char *fmt, ...)
{
	if (ld->nproblems >= CONFIG_MAX_PROBLEMS) {
		ld->dropped++;
		return;
	}
	if (!ld->problems)
		ld->problems = cfg_xcalloc(CONFIG_MAX_PROBLEMS, sizeof(*ld->problems));
	char text[PROBLEM_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	struct problem *pr = &ld->problems[ld->nproblems];
	pr->line = line;
	pr->seq = ld->nproblems;
	pr->text = aq_strdup(text);
	ld->nproblems++;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the problems, in line order, into err: one "NAME:LINE: text" per
 * line, cut (and always terminated) at errlen. */
void cfg_write_problems(struct loader *ld, char *err, size_t errlen)
{
	if (!err || errlen == 0)
		return;
	err[0] = '\0';
	qsort(ld->problems, ld->nproblems, sizeof(*ld->problems), problem_cmp);
	size_t used = 0;
	for (size_t i = 0; i <= ld->nproblems && used + 1 < errlen; i++) {
		int n;
		const char *sep = used ? "\n" : "";
		if (i < ld->nproblems)
			n = snprintf(err + used, errlen - used, "%s%s:%d: %s", sep, ld->name,
				     ld->problems[i].line, ld->problems[i].text);
		else if (ld->dropped)
			n = snprintf(err + used, errlen - used, "%s%s: %zu more problems not shown", sep,
				     ld->name, ld->dropped);
		else
			break;
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (used >= errlen)
		err[errlen - 1] = '\0';
}

void cfg_free_problems(struct loader *ld)
{
	for (size_t i = 0; i < ld->nproblems; i++)
		free(ld->problems[i].text);
	free(ld->problems);
	ld->problems = NULL;
	ld->nproblems = 0;
}

/* --- nodes --- */

int cfg_node_line(const yaml_node_t *n)
{
	size_t line = n->start_mark.line + 1;
	return line > INT_MAX ? INT_MAX : (int)line;
}

yaml_node_t *cfg_get_node(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

const char *cfg_kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A plain empty scalar, "~" or "null": the key is written without a value. */
int cfg_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
		strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The text of a scalar value, or NULL after a problem when the node is no
 * scalar, has no value, or holds a NUL byte. what names the value in
 * messages ("'topic'", "each command argument"). */
const char *cfg_want_string(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_problem(ld, cfg_node_line(n), "%s must be a string, not %s", what, cfg_kind_name(n));
		return NULL;
	}
	if (cfg_is_null(n)) {
		cfg_problem(ld, cfg_node_line(n), "%s needs a value", what);
		return NULL;
	}
	const char *v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		cfg_problem(ld, cfg_node_line(n), "%s contains a NUL byte", what);
		return NULL;
	}
	return v;
}

/* As want_string, for values that may not be empty either. */
const char *cfg_want_text(struct loader *ld, yaml_node_t *n, const char *what)
{
	const char *v = cfg_want_string(ld, n, what);
	if (v && *v == '\0') {
		cfg_problem(ld, cfg_node_line(n), "%s must not be empty", what);
		return NULL;
	}
	return v;
}

/* Replaces *field with a copy of the node's text; 0, or -1 after a problem. */
int cfg_set_text(struct loader *ld, yaml_node_t *n, const char *what, char **field)
{
	const char *v = cfg_want_text(ld, n, what);
	if (!v)
		return -1;
	free(*field);
	*field = aq_strdup(v);
	return 0;
}

int cfg_set_duration(struct loader *ld, yaml_node_t *n, const char *what, int64_t *ms, int must_be_positive)
{
	const char *v = cfg_want_text(ld, n, what);
	if (!v)
		return -1;
	char err[PROBLEM_MAX_BYTES];
	int64_t value;
	if (aq_duration_parse(v, &value, err, sizeof(err)) != 0) {
		cfg_problem(ld, cfg_node_line(n), "%s: %s", what, err);
		return -1;
	}
	if (must_be_positive && value <= 0) {
		cfg_problem(ld, cfg_node_line(n), "%s must be longer than 0", what);
		return -1;
	}
	if (value > CONFIG_DURATION_MAX_MS) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(n), "%s must be at most %s, not '%s'", what,
			    CONFIG_DURATION_MAX_TEXT, cfg_subj(&s, v));
		return -1;
	}
	*ms = value;
	return 0;
}

int cfg_set_int(struct loader *ld, yaml_node_t *n, const char *what, int low, int high, int *out)
{
	const char *v = cfg_want_text(ld, n, what);
	if (!v)
		return -1;
	struct subject s;
	const char *p = v;
	if (*p == '-')
		p++;
	int digits_only = *p != '\0';
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			digits_only = 0;
	}
	errno = 0;
	long long value = digits_only ? strtoll(v, NULL, 10) : 0;
	if (!digits_only || errno == ERANGE || value < low || value > high) {
		cfg_problem(ld, cfg_node_line(n), "%s must be a whole number from %d to %d, not '%s'", what,
			    low, high, cfg_subj(&s, v));
		return -1;
	}
	*out = (int)value;
	return 0;
}

int cfg_set_bool(struct loader *ld, yaml_node_t *n, const char *what, int *out)
{
	const char *v = cfg_want_text(ld, n, what);
	if (!v)
		return -1;
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0) {
		*out = 1;
		return 0;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0) {
		*out = 0;
		return 0;
	}
	struct subject s;
	cfg_problem(ld, cfg_node_line(n), "%s must be true or false, not '%s'", what, cfg_subj(&s, v));
	return -1;
}

/* Reads an environment variable named by an *_env key: the value when it is
 * set and not empty, NULL otherwise. */
char *cfg_from_env(const char *variable)
{
	const char *v = variable ? getenv(variable) : NULL;
	return v && *v ? aq_strdup(v) : NULL;
}

/* A mapping whose keys are fixed: fills values[i] with the value of keys[i]
 * (NULL when absent) and reports unknown and repeated keys ("unknown key
 * 'x' in WHERE"), adding hint to unknown-key messages when given. A null
 * node counts as an empty mapping. Returns 0, or -1 after a problem when the
 * node is not a mapping (what names it then: "'kafka' must be a mapping"). */
int cfg_take_keys(struct loader *ld, yaml_node_t *map, const char *what, const char *where,
		  const char *const *keys, size_t nkeys, yaml_node_t **values, const char *hint)
{
	for (size_t i = 0; i < nkeys; i++)
		values[i] = NULL;
	if (cfg_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE) {
		cfg_problem(ld, cfg_node_line(map), "%s must be a mapping, not %s", what, cfg_kind_name(map));
		return -1;
	}
	int key_lines[32] = { 0 };
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		struct subject s;
		if (key->type != YAML_SCALAR_NODE) {
			cfg_problem(ld, cfg_node_line(key), "keys in %s must be strings, not %s", where,
				    cfg_kind_name(key));
			continue;
		}
		const char *k = (const char *)key->data.scalar.value;
		size_t i;
		for (i = 0; i < nkeys && i < NELEM(key_lines); i++) {
			if (strcmp(k, keys[i]) == 0 && strlen(k) == key->data.scalar.length)
				break;
		}
		if (i == nkeys || i == NELEM(key_lines)) {
			cfg_problem(ld, cfg_node_line(key), "unknown key '%s' in %s%s", cfg_subj(&s, k),
				    where, hint ? hint : "");
			continue;
		}
		if (values[i]) {
			cfg_problem(ld, cfg_node_line(key), "duplicate key '%s' in %s (first at line %d)",
				    keys[i], where, key_lines[i]);
			continue;
		}
		values[i] = value;
		key_lines[i] = cfg_node_line(key);
	}
	return 0;
}

/* Counts the entries of a mapping or list (0 for a null node). */
size_t cfg_node_count(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

/* A mapping whose keys are names (sources, channels, escalations, labels):
 * 0 when the node is a mapping or null, -1 after a problem otherwise. */
int cfg_want_mapping(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (cfg_is_null(n) || n->type == YAML_MAPPING_NODE)
		return 0;
	cfg_problem(ld, cfg_node_line(n), "%s must be a mapping, not %s", what, cfg_kind_name(n));
	return -1;
}

int cfg_want_list(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (cfg_is_null(n) || n->type == YAML_SEQUENCE_NODE)
		return 0;
	cfg_problem(ld, cfg_node_line(n), "%s must be a list, not %s", what, cfg_kind_name(n));
	return -1;
}

/* The text of a key that names something; NULL after a problem when it is
 * no string, empty, longer than CONFIG_NAME_MAX or holds a NUL byte. */
const char *cfg_want_name(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_problem(ld, cfg_node_line(n), "%s must be a string, not %s", what, cfg_kind_name(n));
		return NULL;
	}
	const char *v = (const char *)n->data.scalar.value;
	if (n->data.scalar.length == 0) {
		cfg_problem(ld, cfg_node_line(n), "%s is empty", what);
		return NULL;
	}
	if (strlen(v) != n->data.scalar.length) {
		cfg_problem(ld, cfg_node_line(n), "%s contains a NUL byte", what);
		return NULL;
	}
	if (n->data.scalar.length > CONFIG_NAME_MAX) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(n), "%s '%s' is longer than %d bytes", what, cfg_subj(&s, v),
			    CONFIG_NAME_MAX);
		return NULL;
	}
	return v;
}

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts the names and reports every repeat ("duplicate WHAT 'x' (first at
 * line N)"); the array then serves as an index for has_name. */
void cfg_load_labels(struct loader *ld, yaml_node_t *n, struct aq_label **out, size_t *nout,
		     int **value_lines)
{
	*out = NULL;
	*nout = 0;
	if (value_lines)
		*value_lines = NULL;
	if (cfg_want_mapping(ld, n, "'labels'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	struct aq_label *labels = cfg_xcalloc(count, sizeof(*labels));
	int *lines = cfg_xcalloc(count, sizeof(*lines));
	struct named *names = cfg_xcalloc(count, sizeof(*names));
	size_t nl = 0;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *k = cfg_want_name(ld, key, "a label name");
		if (!k)
			continue;
		char what[SUBJECT_MAX_BYTES + 32];
		snprintf(what, sizeof(what), "label '%s'", k);
		const char *text = cfg_want_string(ld, value, what);
		if (!text)
			continue;
		labels[nl].key = aq_strdup(k);
		labels[nl].value = aq_strdup(text);
		lines[nl] = cfg_node_line(value);
		names[nl].name = labels[nl].key;
		names[nl].line = cfg_node_line(key);
		nl++;
	}
	cfg_sort_names(ld, names, nl, "label");
	free(names);
	*out = labels;
	*nout = nl;
	if (value_lines)
		*value_lines = lines;
	else
		free(lines);
}

void cfg_sort_names(struct loader *ld, struct named *names, size_t n, const char *what)
{
	qsort(names, n, sizeof(*names), named_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(names[i].name, names[first].name) != 0) {
			first = i;
			continue;
		}
		struct subject s;
		cfg_problem(ld, names[i].line, "duplicate %s '%s' (first at line %d)", what,
			    cfg_subj(&s, names[i].name), names[first].line);
	}
}

int cfg_has_name(const struct named *names, size_t n, const char *name)
{
	size_t low = 0, high = n;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int c = strcmp(name, names[mid].name);
		if (c == 0)
			return 1;
		if (c < 0)
			high = mid;
		else
			low = mid + 1;
	}
	return 0;
}

/* --- sections --- */

static int line_at_offset(const char *text, size_t len, size_t offset)
{
	int line = 1;
	for (size_t i = 0; i < len && i < offset; i++) {
		if (text[i] == '\n' && line < INT_MAX)
			line++;
	}
	return line;
}

void cfg_yaml_problem(struct loader *ld, yaml_parser_t *parser, const char *text, size_t len)
{
	int line;
	if (parser->error == YAML_READER_ERROR)
		line = line_at_offset(text, len, parser->problem_offset);
	else
		line = parser->problem_mark.line + 1 > INT_MAX ? INT_MAX : (int)parser->problem_mark.line + 1;
	const char *what = parser->problem ? parser->problem : "cannot be read";
	if (parser->error == YAML_MEMORY_ERROR)
		what = "out of memory";
	if (parser->context)
		cfg_problem(ld, line, "yaml syntax error: %s (%s at line %zu)", what, parser->context,
			    parser->context_mark.line + 1);
	else
		cfg_problem(ld, line, "yaml syntax error: %s", what);
}

/* A first pass over the events, before the document is built: libyaml's
 * scanner slows down with the square of the nesting depth, and an alias
 * becomes a second reference to its anchored node (which may contain
 * itself), so both are refused here, before they can cost time or make the
 * tree a graph. Returns 0, or -1 after a problem (syntax errors included). */
int cfg_screen_events(struct loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fputs("alertq: out of memory\n", stderr);
		abort();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int depth = 0, rc = 0, done = 0;
	while (!done && rc == 0) {
		yaml_event_t event;
		if (!yaml_parser_parse(&parser, &event)) {
			cfg_yaml_problem(ld, &parser, text, len);
			rc = -1;
			break;
		}
		int line = event.start_mark.line + 1 > INT_MAX ? INT_MAX : (int)event.start_mark.line + 1;
		switch (event.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CONFIG_MAX_DEPTH) {
				cfg_problem(ld, line, "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
				rc = -1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_ALIAS_EVENT: {
			struct subject s;
			cfg_problem(ld, line, "anchors and aliases are not supported (found alias '*%s')",
				    cfg_subj(&s, (const char *)event.data.alias.anchor));
			rc = -1;
			break;
		}
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	return rc;
}

void cfg_load_string_list(struct loader *ld, yaml_node_t *n, const char *what, const char *each, char ***out,
			  size_t *nout)
{
	if (cfg_is_null(n)) {
		cfg_problem(ld, cfg_node_line(n), "%s needs a value", what);
		return;
	}
	if (n->type == YAML_SCALAR_NODE && !cfg_is_null(n)) {
		const char *v = cfg_want_text(ld, n, what);
		if (!v)
			return;
		*out = cfg_xcalloc(2, sizeof(**out));
		(*out)[0] = aq_strdup(v);
		*nout = 1;
		return;
	}
	if (cfg_want_list(ld, n, what) != 0)
		return;
	size_t count = cfg_node_count(n);
	*out = cfg_xcalloc(count + 1, sizeof(**out));
	if (count == 0)
		return;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		const char *v = cfg_want_text(ld, in, each);
		if (v)
			(*out)[(*nout)++] = aq_strdup(v);
	}
}
