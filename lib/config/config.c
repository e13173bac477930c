/* config.c - alertq.yaml: read with libyaml, checked whole, every problem reported with its line */
#include "alertq/config.h"
#include "alertq/event.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_NAME_MAX 255
#define CONFIG_MAX_PROBLEMS 1000
#define CONFIG_MAX_DEPTH 64
#define PROBLEM_MAX_BYTES 512
#define SUBJECT_MAX_BYTES 80

#define DEFAULT_BROKERS "127.0.0.1:9092"
#define DEFAULT_TOPIC "alertq.checks"
#define DEFAULT_DLQ_TOPIC "alertq.checks.dlq"
#define DEFAULT_GROUP "alertq-workers"
#define DEFAULT_STATE_DSN "postgresql://alertq@127.0.0.1:5432/alertq"
#define DEFAULT_LOG_DIR "/var/log/alertq"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct problem {
	int line;
	size_t seq; /* keeps problems on one line in the order they were found */
	char *text;
};

/* A name and where it was written, for finding duplicates and references. */
struct named {
	const char *name;
	int line;
};

struct loader {
	const char *name;
	yaml_document_t *doc;
	struct aq_config *cfg;
	struct problem *problems;
	size_t nproblems;
	size_t dropped;
	/* sorted indexes for the references between sections */
	struct named *sources;
	size_t nsources;
	struct named *channels;
	size_t nchannels;
	struct named *escalations;
	size_t nescalations;
};

/* A short, quotable form of s for messages: at most SUBJECT_MAX_BYTES. */
struct subject {
	char text[SUBJECT_MAX_BYTES + 4];
};

static const char *subj(struct subject *buf, const char *s)
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

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fputs("alertq: out of memory\n", stderr);
		abort();
	}
	return p;
}

static void problem(struct loader *ld, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records one problem; control characters in it become '?', so that each
 * problem stays one line whatever the input held. */
static void problem(struct loader *ld, int line, const char *fmt, ...)
{
	if (ld->nproblems >= CONFIG_MAX_PROBLEMS) {
		ld->dropped++;
		return;
	}
	if (!ld->problems)
		ld->problems = xcalloc(CONFIG_MAX_PROBLEMS, sizeof(*ld->problems));
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
static void write_problems(struct loader *ld, char *err, size_t errlen)
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

static void free_problems(struct loader *ld)
{
	for (size_t i = 0; i < ld->nproblems; i++)
		free(ld->problems[i].text);
	free(ld->problems);
	ld->problems = NULL;
	ld->nproblems = 0;
}

/* --- nodes --- */

static int node_line(const yaml_node_t *n)
{
	size_t line = n->start_mark.line + 1;
	return line > INT_MAX ? INT_MAX : (int)line;
}

static yaml_node_t *get_node(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

static const char *kind_name(const yaml_node_t *n)
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
static int is_null(const yaml_node_t *n)
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
static const char *want_string(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		problem(ld, node_line(n), "%s must be a string, not %s", what, kind_name(n));
		return NULL;
	}
	if (is_null(n)) {
		problem(ld, node_line(n), "%s needs a value", what);
		return NULL;
	}
	const char *v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		problem(ld, node_line(n), "%s contains a NUL byte", what);
		return NULL;
	}
	return v;
}

/* As want_string, for values that may not be empty either. */
static const char *want_text(struct loader *ld, yaml_node_t *n, const char *what)
{
	const char *v = want_string(ld, n, what);
	if (v && *v == '\0') {
		problem(ld, node_line(n), "%s must not be empty", what);
		return NULL;
	}
	return v;
}

/* Replaces *field with a copy of the node's text; 0, or -1 after a problem. */
static int set_text(struct loader *ld, yaml_node_t *n, const char *what, char **field)
{
	const char *v = want_text(ld, n, what);
	if (!v)
		return -1;
	free(*field);
	*field = aq_strdup(v);
	return 0;
}

static int set_duration(struct loader *ld, yaml_node_t *n, const char *what, int64_t *ms,
			int must_be_positive)
{
	const char *v = want_text(ld, n, what);
	if (!v)
		return -1;
	char err[PROBLEM_MAX_BYTES];
	int64_t value;
	if (aq_duration_parse(v, &value, err, sizeof(err)) != 0) {
		problem(ld, node_line(n), "%s: %s", what, err);
		return -1;
	}
	if (must_be_positive && value <= 0) {
		problem(ld, node_line(n), "%s must be longer than 0", what);
		return -1;
	}
	*ms = value;
	return 0;
}

static int set_int(struct loader *ld, yaml_node_t *n, const char *what, int low, int high, int *out)
{
	const char *v = want_text(ld, n, what);
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
		problem(ld, node_line(n), "%s must be a whole number from %d to %d, not '%s'", what, low,
			high, subj(&s, v));
		return -1;
	}
	*out = (int)value;
	return 0;
}

static int set_bool(struct loader *ld, yaml_node_t *n, const char *what, int *out)
{
	const char *v = want_text(ld, n, what);
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
	problem(ld, node_line(n), "%s must be true or false, not '%s'", what, subj(&s, v));
	return -1;
}

/* Reads an environment variable named by an *_env key: the value when it is
 * set and not empty, NULL otherwise. */
static char *from_env(const char *variable)
{
	const char *v = variable ? getenv(variable) : NULL;
	return v && *v ? aq_strdup(v) : NULL;
}

/* A mapping whose keys are fixed: fills values[i] with the value of keys[i]
 * (NULL when absent) and reports unknown and repeated keys ("unknown key
 * 'x' in WHERE"), adding hint to unknown-key messages when given. A null
 * node counts as an empty mapping. Returns 0, or -1 after a problem when the
 * node is not a mapping (what names it then: "'kafka' must be a mapping"). */
static int take_keys(struct loader *ld, yaml_node_t *map, const char *what, const char *where,
		     const char *const *keys, size_t nkeys, yaml_node_t **values, const char *hint)
{
	for (size_t i = 0; i < nkeys; i++)
		values[i] = NULL;
	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE) {
		problem(ld, node_line(map), "%s must be a mapping, not %s", what, kind_name(map));
		return -1;
	}
	int key_lines[32] = { 0 };
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		struct subject s;
		if (key->type != YAML_SCALAR_NODE) {
			problem(ld, node_line(key), "keys in %s must be strings, not %s", where,
				kind_name(key));
			continue;
		}
		const char *k = (const char *)key->data.scalar.value;
		size_t i;
		for (i = 0; i < nkeys && i < NELEM(key_lines); i++) {
			if (strcmp(k, keys[i]) == 0 && strlen(k) == key->data.scalar.length)
				break;
		}
		if (i == nkeys || i == NELEM(key_lines)) {
			problem(ld, node_line(key), "unknown key '%s' in %s%s", subj(&s, k), where,
				hint ? hint : "");
			continue;
		}
		if (values[i]) {
			problem(ld, node_line(key), "duplicate key '%s' in %s (first at line %d)", keys[i],
				where, key_lines[i]);
			continue;
		}
		values[i] = value;
		key_lines[i] = node_line(key);
	}
	return 0;
}

/* Counts the entries of a mapping or list (0 for a null node). */
static size_t node_count(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

/* A mapping whose keys are names (sources, channels, escalations, labels):
 * 0 when the node is a mapping or null, -1 after a problem otherwise. */
static int want_mapping(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (is_null(n) || n->type == YAML_MAPPING_NODE)
		return 0;
	problem(ld, node_line(n), "%s must be a mapping, not %s", what, kind_name(n));
	return -1;
}

static int want_list(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (is_null(n) || n->type == YAML_SEQUENCE_NODE)
		return 0;
	problem(ld, node_line(n), "%s must be a list, not %s", what, kind_name(n));
	return -1;
}

/* The text of a key that names something; NULL after a problem when it is
 * no string, empty, longer than CONFIG_NAME_MAX or holds a NUL byte. */
static const char *want_name(struct loader *ld, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		problem(ld, node_line(n), "%s must be a string, not %s", what, kind_name(n));
		return NULL;
	}
	const char *v = (const char *)n->data.scalar.value;
	if (n->data.scalar.length == 0) {
		problem(ld, node_line(n), "%s is empty", what);
		return NULL;
	}
	if (strlen(v) != n->data.scalar.length) {
		problem(ld, node_line(n), "%s contains a NUL byte", what);
		return NULL;
	}
	if (n->data.scalar.length > CONFIG_NAME_MAX) {
		struct subject s;
		problem(ld, node_line(n), "%s '%s' is longer than %d bytes", what, subj(&s, v),
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
static void sort_names(struct loader *ld, struct named *names, size_t n, const char *what)
{
	qsort(names, n, sizeof(*names), named_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(names[i].name, names[first].name) != 0) {
			first = i;
			continue;
		}
		struct subject s;
		problem(ld, names[i].line, "duplicate %s '%s' (first at line %d)", what,
			subj(&s, names[i].name), names[first].line);
	}
}

static int has_name(const struct named *names, size_t n, const char *name)
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

static void load_kafka(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "brokers", "topic", "dead_letter_topic", "group", "properties" };
	yaml_node_t *v[NELEM(keys)];
	struct aq_config *cfg = ld->cfg;
	if (take_keys(ld, n, "'kafka'", "kafka", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (v[0])
		set_text(ld, v[0], "'brokers'", &cfg->brokers);
	if (v[1])
		set_text(ld, v[1], "'topic'", &cfg->topic);
	if (v[2])
		set_text(ld, v[2], "'dead_letter_topic'", &cfg->dead_letter_topic);
	if (v[3])
		set_text(ld, v[3], "'group'", &cfg->group);
	if (!v[4] || want_mapping(ld, v[4], "'properties'") != 0)
		return;
	yaml_node_t *props = v[4];
	size_t count = node_count(props);
	if (count == 0)
		return;
	cfg->properties = xcalloc(count, sizeof(*cfg->properties));
	struct named *names = xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_pair_t *pair = props->data.mapping.pairs.start; pair < props->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *k = want_name(ld, key, "a kafka property name");
		if (!k)
			continue;
		char what[SUBJECT_MAX_BYTES + 32];
		snprintf(what, sizeof(what), "kafka property '%s'", k);
		const char *text = want_string(ld, value, what);
		if (!text)
			continue;
		struct aq_kafka_property *p = &cfg->properties[cfg->nproperties++];
		p->key = aq_strdup(k);
		p->value = aq_strdup(text);
		names[nnames].name = p->key;
		names[nnames].line = node_line(key);
		nnames++;
	}
	sort_names(ld, names, nnames, "kafka property");
	free(names);
}

static void load_state(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "dsn" };
	yaml_node_t *v[NELEM(keys)];
	if (take_keys(ld, n, "'state'", "state", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (v[0])
		set_text(ld, v[0], "'dsn'", &ld->cfg->state_dsn);
}

static void load_sources(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "dsn", "dsn_env" };
	struct aq_config *cfg = ld->cfg;
	if (want_mapping(ld, n, "'sources'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	cfg->sources = xcalloc(count, sizeof(*cfg->sources));
	ld->sources = xcalloc(count, sizeof(*ld->sources));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = want_name(ld, key, "a source name");
		if (!name)
			continue;
		struct aq_source *src = &cfg->sources[cfg->nsources++];
		src->name = aq_strdup(name);
		src->line = node_line(key);
		ld->sources[ld->nsources].name = src->name;
		ld->sources[ld->nsources].line = src->line;
		ld->nsources++;

		char where[SUBJECT_MAX_BYTES + 32];
		struct subject s;
		snprintf(where, sizeof(where), "source '%s'", subj(&s, name));
		yaml_node_t *v[NELEM(keys)];
		if (take_keys(ld, value, where, where, keys, NELEM(keys), v, NULL) != 0)
			continue;
		if (v[0] && v[1]) {
			problem(ld, node_line(value), "both 'dsn' and 'dsn_env' in %s (give one)", where);
			continue;
		}
		if (!v[0] && !v[1]) {
			problem(ld, node_line(value), "missing 'dsn' or 'dsn_env' in %s", where);
			continue;
		}
		if (v[0]) {
			set_text(ld, v[0], "'dsn'", &src->dsn);
		} else {
			/* a variable not set is reported by the check that uses the source */
			if (set_text(ld, v[1], "'dsn_env'", &src->dsn_env) == 0)
				src->dsn = from_env(src->dsn_env);
		}
	}
	sort_names(ld, ld->sources, ld->nsources, "source");
}

/* Reads a list of strings, or a single string, into a new array. */
static void load_string_list(struct loader *ld, yaml_node_t *n, const char *what, const char *each,
			     char ***out, size_t *nout)
{
	if (is_null(n)) {
		problem(ld, node_line(n), "%s needs a value", what);
		return;
	}
	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		const char *v = want_text(ld, n, what);
		if (!v)
			return;
		*out = xcalloc(2, sizeof(**out));
		(*out)[0] = aq_strdup(v);
		*nout = 1;
		return;
	}
	if (want_list(ld, n, what) != 0)
		return;
	size_t count = node_count(n);
	*out = xcalloc(count + 1, sizeof(**out));
	if (count == 0)
		return;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = get_node(ld, *item);
		if (!in)
			continue;
		const char *v = want_text(ld, in, each);
		if (v)
			(*out)[(*nout)++] = aq_strdup(v);
	}
}

static void load_channel(struct loader *ld, struct aq_channel *ch, yaml_node_t *n)
{
	static const char *const keys[] = {
		"type",    "url",         "url_env",       "format",        "secret_env",
		"from",    "to",          "starttls",      "username_env",  "password_env",
		"timeout", "concurrency", "give_up_after", "retry_initial", "retry_max",
	};
	enum {
		TYPE,
		URL,
		URL_ENV,
		FORMAT,
		SECRET_ENV,
		FROM,
		TO,
		STARTTLS,
		USER_ENV,
		PASS_ENV,
		TIMEOUT,
		CONC,
		GIVE_UP,
		RETRY_INITIAL,
		RETRY_MAX
	};
	static const char *const types[] = { "logfile", "syslog", "webhook", "email" };
	static const char *const formats[] = { "json", "slack" };
	static const char *const starttls[] = { "required", "try", "off" };
	char where[SUBJECT_MAX_BYTES + 32];
	struct subject s;
	snprintf(where, sizeof(where), "channel '%s'", subj(&s, ch->name));
	yaml_node_t *v[NELEM(keys)];
	if (take_keys(ld, n, where, where, keys, NELEM(keys), v, NULL) != 0)
		return;

	int type_ok = 0;
	if (!v[TYPE]) {
		problem(ld, node_line(n), "missing 'type' in %s", where);
	} else {
		const char *t = want_text(ld, v[TYPE], "'type'");
		for (size_t i = 0; t && i < NELEM(types); i++) {
			if (strcmp(t, types[i]) == 0) {
				ch->type = (enum aq_channel_type)i;
				type_ok = 1;
			}
		}
		if (t && !type_ok)
			problem(ld, node_line(v[TYPE]),
				"unknown channel type '%s' in %s (use logfile, syslog, webhook or email)",
				subj(&s, t), where);
	}
	if (v[URL] && v[URL_ENV]) {
		problem(ld, node_line(v[URL_ENV]), "both 'url' and 'url_env' in %s (give one)", where);
	} else if (v[URL]) {
		set_text(ld, v[URL], "'url'", &ch->url);
	} else if (v[URL_ENV] && set_text(ld, v[URL_ENV], "'url_env'", &ch->url_env) == 0) {
		ch->url = from_env(ch->url_env);
	}
	if (v[FORMAT]) {
		const char *f = want_text(ld, v[FORMAT], "'format'");
		size_t i;
		for (i = 0; f && i < NELEM(formats); i++) {
			if (strcmp(f, formats[i]) == 0)
				break;
		}
		if (f && i == NELEM(formats))
			problem(ld, node_line(v[FORMAT]), "unknown format '%s' in %s (use json or slack)",
				subj(&s, f), where);
		else if (f)
			ch->format = (enum aq_webhook_format)i;
	}
	if (v[SECRET_ENV] && set_text(ld, v[SECRET_ENV], "'secret_env'", &ch->secret_env) == 0)
		ch->secret = from_env(ch->secret_env);
	if (v[FROM])
		set_text(ld, v[FROM], "'from'", &ch->from);
	if (v[TO])
		load_string_list(ld, v[TO], "'to'", "each address in 'to'", &ch->to, &ch->nto);
	if (v[STARTTLS]) {
		const char *t = want_text(ld, v[STARTTLS], "'starttls'");
		size_t i;
		for (i = 0; t && i < NELEM(starttls); i++) {
			if (strcmp(t, starttls[i]) == 0)
				break;
		}
		if (t && i == NELEM(starttls))
			problem(ld, node_line(v[STARTTLS]),
				"unknown starttls '%s' in %s (use required, try or off)", subj(&s, t), where);
		else if (t)
			ch->starttls = (enum aq_starttls)i;
	}
	if (v[USER_ENV] && set_text(ld, v[USER_ENV], "'username_env'", &ch->username_env) == 0)
		ch->username = from_env(ch->username_env);
	if (v[PASS_ENV] && set_text(ld, v[PASS_ENV], "'password_env'", &ch->password_env) == 0)
		ch->password = from_env(ch->password_env);
	if (v[TIMEOUT])
		set_duration(ld, v[TIMEOUT], "'timeout'", &ch->timeout_ms, 1);
	if (v[CONC])
		set_int(ld, v[CONC], "'concurrency'", 1, 256, &ch->concurrency);
	if (v[GIVE_UP])
		set_duration(ld, v[GIVE_UP], "'give_up_after'", &ch->give_up_after_ms, 1);
	if (v[RETRY_INITIAL])
		set_duration(ld, v[RETRY_INITIAL], "'retry_initial'", &ch->retry_initial_ms, 1);
	if (v[RETRY_MAX])
		set_duration(ld, v[RETRY_MAX], "'retry_max'", &ch->retry_max_ms, 1);
	if (ch->retry_max_ms < ch->retry_initial_ms)
		problem(ld, node_line(v[RETRY_MAX] ? v[RETRY_MAX] : v[RETRY_INITIAL]),
			"'retry_max' in %s is shorter than 'retry_initial'", where);

	if (!type_ok)
		return;
	int wants_url = ch->type == AQ_CHANNEL_WEBHOOK || ch->type == AQ_CHANNEL_EMAIL;
	if (wants_url && !v[URL] && !v[URL_ENV])
		problem(ld, node_line(n), "missing 'url' or 'url_env' in %s", where);
	if (ch->type == AQ_CHANNEL_EMAIL && !v[FROM])
		problem(ld, node_line(n), "missing 'from' in %s", where);
	if (ch->type == AQ_CHANNEL_EMAIL && !v[TO])
		problem(ld, node_line(n), "missing 'to' in %s", where);
	else if (ch->type == AQ_CHANNEL_EMAIL && node_count(v[TO]) == 0 && v[TO]->type != YAML_SCALAR_NODE)
		problem(ld, node_line(v[TO]), "'to' in %s is empty", where);
}

static void load_channels(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (want_mapping(ld, n, "'channels'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	cfg->channels = xcalloc(count, sizeof(*cfg->channels));
	ld->channels = xcalloc(count, sizeof(*ld->channels));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = want_name(ld, key, "a channel name");
		if (!name)
			continue;
		struct aq_channel *ch = &cfg->channels[cfg->nchannels++];
		ch->name = aq_strdup(name);
		ch->line = node_line(key);
		ch->format = AQ_FORMAT_JSON;
		ch->starttls = AQ_STARTTLS_REQUIRED;
		ch->timeout_ms = 10 * AQ_MS_PER_SECOND;
		ch->concurrency = 4;
		ch->give_up_after_ms = 24 * 3600 * AQ_MS_PER_SECOND;
		ch->retry_initial_ms = AQ_MS_PER_SECOND;
		ch->retry_max_ms = 600 * AQ_MS_PER_SECOND;
		ld->channels[ld->nchannels].name = ch->name;
		ld->channels[ld->nchannels].line = ch->line;
		ld->nchannels++;
		load_channel(ld, ch, value);
	}
	sort_names(ld, ld->channels, ld->nchannels, "channel");
}

/* Reports every name in a notify list (or single name) that is no channel. */
static void check_channels(struct loader *ld, yaml_node_t *list, const char *where)
{
	yaml_node_item_t one = 0;
	yaml_node_item_t *start = &one, *top = &one;
	if (list->type == YAML_SEQUENCE_NODE) {
		start = list->data.sequence.items.start;
		top = list->data.sequence.items.top;
	} else if (list->type == YAML_SCALAR_NODE) {
		start = &one;
		top = &one + 1;
		one = (yaml_node_item_t)(list - ld->doc->nodes.start) + 1;
	}
	for (yaml_node_item_t *it = start; it < top; it++) {
		yaml_node_t *c = get_node(ld, *it);
		if (!c || c->type != YAML_SCALAR_NODE || is_null(c) || c->data.scalar.length == 0)
			continue;
		const char *name = (const char *)c->data.scalar.value;
		if (has_name(ld->channels, ld->nchannels, name))
			continue;
		struct subject s;
		problem(ld, node_line(c), "unknown channel '%s' in %s", subj(&s, name), where);
	}
}

static void load_levels(struct loader *ld, struct aq_severity_policy *policy, yaml_node_t *n,
			const char *where)
{
	static const char *const keys[] = { "after", "notify" };
	if (want_list(ld, n, "'levels'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	policy->levels = xcalloc(count, sizeof(*policy->levels));
	const char *previous = NULL;
	int64_t previous_ms = 0;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = get_node(ld, *item);
		if (!in)
			continue;
		char level_where[SUBJECT_MAX_BYTES + 64];
		snprintf(level_where, sizeof(level_where), "a level of %s", where);
		yaml_node_t *v[NELEM(keys)];
		if (is_null(in)) {
			problem(ld, node_line(in), "%s is empty", level_where);
			continue;
		}
		if (take_keys(ld, in, "each level", level_where, keys, NELEM(keys), v, NULL) != 0)
			continue;
		struct aq_level *level = &policy->levels[policy->nlevels++];
		const char *after_text = "0s";
		int after_ok = 1;
		if (v[0]) {
			after_ok = set_duration(ld, v[0], "'after'", &level->after_ms, 0) == 0;
			if (after_ok)
				after_text = (const char *)v[0]->data.scalar.value;
		}
		if (after_ok) {
			struct subject s1, s2;
			if (previous && level->after_ms < previous_ms)
				problem(ld, node_line(v[0] ? v[0] : in),
					"'after' %s comes before the previous level's %s in %s (levels go in "
					"order)",
					subj(&s1, after_text), subj(&s2, previous), where);
			previous = after_text;
			previous_ms = level->after_ms;
		}
		if (!v[1]) {
			problem(ld, node_line(in), "missing 'notify' in %s", level_where);
			continue;
		}
		load_string_list(ld, v[1], "'notify'", "each channel in 'notify'", &level->notify,
				 &level->nnotify);
		if (level->nnotify == 0 && node_count(v[1]) == 0 && v[1]->type != YAML_SCALAR_NODE)
			problem(ld, node_line(v[1]), "'notify' in %s is empty", level_where);
		check_channels(ld, v[1], where);
	}
}

static void load_escalation(struct loader *ld, struct aq_escalation *esc, yaml_node_t *n)
{
	/* index i + 1 is the enum aq_status of keys[i] */
	static const char *const keys[] = { "WARNING", "CRITICAL", "UNKNOWN", "resolved" };
	static const char *const policy_keys[] = { "levels", "repeat" };
	char where[SUBJECT_MAX_BYTES + 32];
	struct subject s;
	snprintf(where, sizeof(where), "escalation '%s'", subj(&s, esc->name));
	yaml_node_t *v[NELEM(keys)];
	if (take_keys(ld, n, where, where, keys, NELEM(keys), v,
		      " (use CRITICAL, WARNING, UNKNOWN or resolved)") != 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (!v[i])
			continue;
		char sev_where[SUBJECT_MAX_BYTES + 64];
		snprintf(sev_where, sizeof(sev_where), "%s of %s", keys[i], where);
		char what[32];
		snprintf(what, sizeof(what), "'%s'", keys[i]);
		yaml_node_t *pv[NELEM(policy_keys)];
		if (take_keys(ld, v[i], what, sev_where, policy_keys, NELEM(policy_keys), pv, NULL) != 0)
			continue;
		struct aq_severity_policy *policy = &esc->severity[i + 1];
		if (pv[0])
			load_levels(ld, policy, pv[0], where);
		if (pv[1])
			set_duration(ld, pv[1], "'repeat'", &policy->repeat_ms, 0);
	}
	if (v[3])
		set_bool(ld, v[3], "'resolved'", &esc->resolved);
}

static void load_escalations(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (want_mapping(ld, n, "'escalations'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	cfg->escalations = xcalloc(count, sizeof(*cfg->escalations));
	ld->escalations = xcalloc(count, sizeof(*ld->escalations));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = want_name(ld, key, "an escalation name");
		if (!name)
			continue;
		struct aq_escalation *esc = &cfg->escalations[cfg->nescalations++];
		esc->name = aq_strdup(name);
		esc->line = node_line(key);
		esc->resolved = 1;
		ld->escalations[ld->nescalations].name = esc->name;
		ld->escalations[ld->nescalations].line = esc->line;
		ld->nescalations++;
		load_escalation(ld, esc, value);
	}
	sort_names(ld, ld->escalations, ld->nescalations, "escalation");
}

/* A check name is a Kafka key and a word on a command line: no spaces, no
 * control characters. */
static const char *want_check_name(struct loader *ld, yaml_node_t *n)
{
	const char *name = want_string(ld, n, "'name'");
	if (!name)
		return NULL;
	struct subject s;
	if (*name == '\0') {
		problem(ld, node_line(n), "check name is empty");
		return NULL;
	}
	if (strlen(name) > CONFIG_NAME_MAX) {
		problem(ld, node_line(n), "check name '%s' is longer than %d bytes", subj(&s, name),
			CONFIG_NAME_MAX);
		return NULL;
	}
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f) {
			problem(ld, node_line(n), "check name '%s' contains whitespace or control characters",
				subj(&s, name));
			return NULL;
		}
	}
	return name;
}

static void load_labels(struct loader *ld, struct aq_check *check, yaml_node_t *n, const char *where)
{
	if (want_mapping(ld, n, "'labels'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	check->labels = xcalloc(count, sizeof(*check->labels));
	struct named *names = xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = get_node(ld, pair->key);
		yaml_node_t *value = get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *k = want_name(ld, key, "a label name");
		if (!k)
			continue;
		char what[SUBJECT_MAX_BYTES + 32];
		snprintf(what, sizeof(what), "label '%s'", k);
		const char *text = want_string(ld, value, what);
		if (!text)
			continue;
		struct aq_label *label = &check->labels[check->nlabels++];
		label->key = aq_strdup(k);
		label->value = aq_strdup(text);
		names[nnames].name = label->key;
		names[nnames].line = node_line(key);
		nnames++;
	}
	sort_names(ld, names, nnames, "label");
	free(names);
}

static void load_check(struct loader *ld, struct aq_check *check, yaml_node_t *n, struct named *names,
		       size_t *nnames)
{
	static const char *const keys[] = { "name", "every", "timeout", "sql", "command", "labels" };
	static const char *const sql_keys[] = { "source", "query" };
	enum {
		NAME,
		EVERY,
		TIMEOUT,
		SQL,
		COMMAND,
		LABELS
	};
	struct subject s;
	char where[SUBJECT_MAX_BYTES + 32] = "check";

	/* the name first, so that every other message can say which check */
	if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
		     pair++) {
			yaml_node_t *key = get_node(ld, pair->key);
			yaml_node_t *value = get_node(ld, pair->value);
			if (key && value && key->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)key->data.scalar.value, "name") == 0 &&
			    value->type == YAML_SCALAR_NODE && value->data.scalar.length > 0 &&
			    !is_null(value)) {
				snprintf(where, sizeof(where), "check '%s'",
					 subj(&s, (const char *)value->data.scalar.value));
				break;
			}
		}
	}
	yaml_node_t *v[NELEM(keys)];
	if (take_keys(ld, n, "each check", where, keys, NELEM(keys), v, NULL) != 0)
		return;
	if (is_null(n)) {
		problem(ld, node_line(n), "a check is empty");
		return;
	}
	if (!v[NAME]) {
		problem(ld, node_line(n), "missing 'name' in check");
	} else {
		const char *name = want_check_name(ld, v[NAME]);
		if (name) {
			check->name = aq_strdup(name);
			names[*nnames].name = check->name;
			names[*nnames].line = node_line(v[NAME]);
			(*nnames)++;
		}
	}
	if (v[EVERY])
		set_duration(ld, v[EVERY], "'every'", &check->every_ms, 1);
	if (v[TIMEOUT])
		set_duration(ld, v[TIMEOUT], "'timeout'", &check->timeout_ms, 1);
	if (v[SQL] && v[COMMAND]) {
		problem(ld, node_line(v[COMMAND]), "both 'sql' and 'command' in %s (give one)", where);
	} else if (!v[SQL] && !v[COMMAND]) {
		problem(ld, node_line(n), "missing 'sql' or 'command' in %s", where);
	} else if (v[SQL]) {
		check->kind = AQ_CHECK_SQL;
		char sql_where[SUBJECT_MAX_BYTES + 48];
		snprintf(sql_where, sizeof(sql_where), "sql of %s", where);
		yaml_node_t *sv[NELEM(sql_keys)];
		if (take_keys(ld, v[SQL], "'sql'", sql_where, sql_keys, NELEM(sql_keys), sv, NULL) == 0) {
			if (!sv[0])
				problem(ld, node_line(v[SQL]), "missing 'source' in %s", sql_where);
			else if (set_text(ld, sv[0], "'source'", &check->source) == 0 &&
				 !has_name(ld->sources, ld->nsources, check->source))
				problem(ld, node_line(sv[0]), "unknown source '%s' in %s",
					subj(&s, check->source), where);
			if (!sv[1])
				problem(ld, node_line(v[SQL]), "missing 'query' in %s", sql_where);
			else
				set_text(ld, sv[1], "'query'", &check->query);
		}
	} else {
		check->kind = AQ_CHECK_COMMAND;
		if (want_list(ld, v[COMMAND], "'command'") == 0) {
			size_t count = node_count(v[COMMAND]);
			if (count == 0) {
				problem(ld, node_line(v[COMMAND]), "'command' in %s is empty", where);
			} else {
				check->argv = xcalloc(count + 1, sizeof(*check->argv));
				yaml_node_t *list = v[COMMAND];
				for (yaml_node_item_t *item = list->data.sequence.items.start;
				     item < list->data.sequence.items.top; item++) {
					yaml_node_t *in = get_node(ld, *item);
					const char *arg = in ? want_string(ld, in, "each command argument")
							     : NULL;
					if (arg)
						check->argv[check->argc++] = aq_strdup(arg);
				}
				if (check->argc > 0 && check->argv[0][0] == '\0')
					problem(ld, node_line(list),
						"'command' in %s starts with an empty program", where);
			}
		}
	}
	if (v[LABELS])
		load_labels(ld, check, v[LABELS], where);
}

static void load_checks(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (want_list(ld, n, "'checks'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	cfg->checks = xcalloc(count, sizeof(*cfg->checks));
	struct named *names = xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = get_node(ld, *item);
		if (!in)
			continue;
		struct aq_check *check = &cfg->checks[cfg->nchecks++];
		check->line = node_line(in);
		check->every_ms = 3600 * AQ_MS_PER_SECOND;
		check->timeout_ms = 30 * AQ_MS_PER_SECOND;
		load_check(ld, check, in, names, &nnames);
	}
	sort_names(ld, names, nnames, "check name");
	free(names);
}

static void set_threshold(struct loader *ld, yaml_node_t *n, const char *what, struct aq_threshold *t)
{
	const char *text = want_string(ld, n, what);
	if (!text)
		return;
	char err[PROBLEM_MAX_BYTES];
	if (aq_threshold_parse(text, t, err, sizeof(err)) != 0)
		problem(ld, node_line(n), "%s", err);
}

static void load_rule(struct loader *ld, struct aq_rule *rule, yaml_node_t *n)
{
	static const char *const keys[] = { "match",      "warning",     "critical",      "for",
					    "escalation", "stale_after", "stale_severity" };
	enum {
		MATCH,
		WARNING,
		CRITICAL,
		FOR,
		ESCALATION,
		STALE_AFTER,
		STALE_SEVERITY
	};
	yaml_node_t *v[NELEM(keys)];
	struct subject s;
	if (is_null(n)) {
		problem(ld, node_line(n), "a rule is empty");
		return;
	}
	if (take_keys(ld, n, "each rule", "rule", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (!v[MATCH])
		problem(ld, node_line(n), "missing 'match' in rule");
	else
		set_text(ld, v[MATCH], "'match'", &rule->match);
	if (v[WARNING])
		set_threshold(ld, v[WARNING], "'warning'", &rule->warning);
	if (v[CRITICAL])
		set_threshold(ld, v[CRITICAL], "'critical'", &rule->critical);
	if (v[FOR])
		set_int(ld, v[FOR], "'for'", 1, 1000, &rule->for_count);
	if (v[ESCALATION] && set_text(ld, v[ESCALATION], "'escalation'", &rule->escalation) == 0 &&
	    !has_name(ld->escalations, ld->nescalations, rule->escalation))
		problem(ld, node_line(v[ESCALATION]), "unknown escalation '%s' in rule",
			subj(&s, rule->escalation));
	if (v[STALE_AFTER])
		set_duration(ld, v[STALE_AFTER], "'stale_after'", &rule->stale_after_ms, 0);
	if (v[STALE_SEVERITY]) {
		const char *t = want_text(ld, v[STALE_SEVERITY], "'stale_severity'");
		if (t && strcmp(t, "WARNING") == 0)
			rule->stale_severity = AQ_WARNING;
		else if (t && strcmp(t, "CRITICAL") == 0)
			rule->stale_severity = AQ_CRITICAL;
		else if (t && strcmp(t, "UNKNOWN") == 0)
			rule->stale_severity = AQ_UNKNOWN;
		else if (t)
			problem(ld, node_line(v[STALE_SEVERITY]),
				"unknown stale_severity '%s' in rule (use WARNING, CRITICAL or UNKNOWN)",
				subj(&s, t));
	}
}

static void load_rules(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (want_list(ld, n, "'rules'") != 0)
		return;
	size_t count = node_count(n);
	if (count == 0)
		return;
	cfg->rules = xcalloc(count, sizeof(*cfg->rules));
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = get_node(ld, *item);
		if (!in)
			continue;
		struct aq_rule *rule = &cfg->rules[cfg->nrules++];
		rule->line = node_line(in);
		rule->for_count = 1;
		rule->stale_severity = AQ_UNKNOWN;
		load_rule(ld, rule, in);
	}
}

static int line_at_offset(const char *text, size_t len, size_t offset)
{
	int line = 1;
	for (size_t i = 0; i < len && i < offset; i++) {
		if (text[i] == '\n' && line < INT_MAX)
			line++;
	}
	return line;
}

static void yaml_problem(struct loader *ld, yaml_parser_t *parser, const char *text, size_t len)
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
		problem(ld, line, "yaml syntax error: %s (%s at line %zu)", what, parser->context,
			parser->context_mark.line + 1);
	else
		problem(ld, line, "yaml syntax error: %s", what);
}

/* A first pass over the events, before the document is built: libyaml's
 * scanner slows down with the square of the nesting depth, and an alias
 * becomes a second reference to its anchored node (which may contain
 * itself), so both are refused here, before they can cost time or make the
 * tree a graph. Returns 0, or -1 after a problem (syntax errors included). */
static int screen_events(struct loader *ld, const char *text, size_t len)
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
			yaml_problem(ld, &parser, text, len);
			rc = -1;
			break;
		}
		int line = event.start_mark.line + 1 > INT_MAX ? INT_MAX : (int)event.start_mark.line + 1;
		switch (event.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CONFIG_MAX_DEPTH) {
				problem(ld, line, "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
				rc = -1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_ALIAS_EVENT: {
			struct subject s;
			problem(ld, line, "anchors and aliases are not supported (found alias '*%s')",
				subj(&s, (const char *)event.data.alias.anchor));
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

static void load_root(struct loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = { "kafka",  "state",       "log_dir",  "sources",
					    "checks", "escalations", "channels", "rules" };
	enum {
		KAFKA,
		STATE,
		LOG_DIR,
		SOURCES,
		CHECKS,
		ESCALATIONS,
		CHANNELS,
		RULES
	};
	if (is_null(root)) {
		problem(ld, node_line(root), "the configuration is empty");
		return;
	}
	yaml_node_t *v[NELEM(keys)];
	if (take_keys(ld, root, "the configuration", "the configuration", keys, NELEM(keys), v, NULL) != 0)
		return;
	/* sections that others refer to come first, whatever the order in the file */
	if (v[KAFKA])
		load_kafka(ld, v[KAFKA]);
	if (v[STATE])
		load_state(ld, v[STATE]);
	if (v[LOG_DIR])
		set_text(ld, v[LOG_DIR], "'log_dir'", &ld->cfg->log_dir);
	if (v[SOURCES])
		load_sources(ld, v[SOURCES]);
	if (v[CHANNELS])
		load_channels(ld, v[CHANNELS]);
	if (v[ESCALATIONS])
		load_escalations(ld, v[ESCALATIONS]);
	if (v[CHECKS])
		load_checks(ld, v[CHECKS]);
	if (v[RULES])
		load_rules(ld, v[RULES]);
}

static void apply_defaults(struct aq_config *cfg)
{
	const char *brokers = getenv("ALERTQ_KAFKA_BROKERS");
	if (brokers && *brokers) {
		free(cfg->brokers);
		cfg->brokers = aq_strdup(brokers);
	}
	const char *dsn = getenv("ALERTQ_STATE_DSN");
	if (dsn && *dsn) {
		free(cfg->state_dsn);
		cfg->state_dsn = aq_strdup(dsn);
	}
	if (!cfg->brokers)
		cfg->brokers = aq_strdup(DEFAULT_BROKERS);
	if (!cfg->topic)
		cfg->topic = aq_strdup(DEFAULT_TOPIC);
	if (!cfg->dead_letter_topic)
		cfg->dead_letter_topic = aq_strdup(DEFAULT_DLQ_TOPIC);
	if (!cfg->group)
		cfg->group = aq_strdup(DEFAULT_GROUP);
	if (!cfg->state_dsn)
		cfg->state_dsn = aq_strdup(DEFAULT_STATE_DSN);
	if (!cfg->log_dir)
		cfg->log_dir = aq_strdup(DEFAULT_LOG_DIR);
}

/* Parses text as a configuration named name. Returns 0 with cfg filled, or
 * -1 with every problem in err and cfg released. */
int aq_config_parse(struct aq_config *cfg, const char *name, const char *text, size_t len, char *err,
		    size_t errlen)
{
	struct loader ld = { 0 };
	ld.name = name ? name : "<config>";
	ld.cfg = cfg;
	if (err && errlen)
		err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = aq_strdup(ld.name);
	if (!text)
		len = 0;

	if (len > CONFIG_MAX_BYTES) {
		problem(&ld, 1, "the file is larger than 1 MiB");
	} else {
		yaml_parser_t parser;
		yaml_document_t doc;
		const char *input = text ? text : "";
		if (!yaml_parser_initialize(&parser)) {
			fputs("alertq: out of memory\n", stderr);
			abort();
		}
		yaml_parser_set_input_string(&parser, (const unsigned char *)input, len);
		if (screen_events(&ld, input, len) != 0) {
			/* reported */
		} else if (!yaml_parser_load(&parser, &doc)) {
			yaml_problem(&ld, &parser, text, len);
		} else {
			ld.doc = &doc;
			yaml_node_t *root = yaml_document_get_root_node(&doc);
			if (!root) {
				problem(&ld, 1, "the configuration is empty");
			} else {
				load_root(&ld, root);
				yaml_document_t next;
				if (!yaml_parser_load(&parser, &next)) {
					yaml_problem(&ld, &parser, text, len);
				} else {
					yaml_node_t *extra = yaml_document_get_root_node(&next);
					if (extra)
						problem(&ld, node_line(extra),
							"a second yaml document (the file holds one)");
					yaml_document_delete(&next);
				}
			}
			yaml_document_delete(&doc);
			ld.doc = NULL;
		}
		yaml_parser_delete(&parser);
	}
	free(ld.sources);
	free(ld.channels);
	free(ld.escalations);

	int rc = 0;
	if (ld.nproblems > 0 || ld.dropped > 0) {
		write_problems(&ld, err, errlen);
		aq_config_release(cfg);
		rc = -1;
	} else {
		apply_defaults(cfg);
	}
	free_problems(&ld);
	return rc;
}

/* Reads the file at path (at most 1 MiB) and parses it. Returns 0, or -1
 * with the problems in err and cfg released. */
int aq_config_load(struct aq_config *cfg, const char *path, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the configuration: %s", path, strerror(errno));
		return -1;
	}
	char *buf = xcalloc(CONFIG_MAX_BYTES + 1, 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read the configuration: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0 || len + (size_t)n > CONFIG_MAX_BYTES) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	int rc = aq_config_parse(cfg, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

static void free_strings(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees everything cfg owns and zeroes it; a zeroed cfg is fine too. */
void aq_config_release(struct aq_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->brokers);
	free(cfg->topic);
	free(cfg->dead_letter_topic);
	free(cfg->group);
	for (size_t i = 0; i < cfg->nproperties; i++) {
		free(cfg->properties[i].key);
		free(cfg->properties[i].value);
	}
	free(cfg->properties);
	free(cfg->state_dsn);
	free(cfg->log_dir);
	for (size_t i = 0; i < cfg->nsources; i++) {
		free(cfg->sources[i].name);
		free(cfg->sources[i].dsn);
		free(cfg->sources[i].dsn_env);
	}
	free(cfg->sources);
	for (size_t i = 0; i < cfg->nchecks; i++) {
		struct aq_check *c = &cfg->checks[i];
		free(c->name);
		free(c->source);
		free(c->query);
		free_strings(c->argv, c->argc);
		aq_labels_free(c->labels, c->nlabels);
	}
	free(cfg->checks);
	for (size_t i = 0; i < cfg->nrules; i++) {
		free(cfg->rules[i].match);
		free(cfg->rules[i].escalation);
	}
	free(cfg->rules);
	for (size_t i = 0; i < cfg->nescalations; i++) {
		struct aq_escalation *e = &cfg->escalations[i];
		free(e->name);
		for (size_t s = 0; s < NELEM(e->severity); s++) {
			for (size_t l = 0; l < e->severity[s].nlevels; l++)
				free_strings(e->severity[s].levels[l].notify,
					     e->severity[s].levels[l].nnotify);
			free(e->severity[s].levels);
		}
	}
	free(cfg->escalations);
	for (size_t i = 0; i < cfg->nchannels; i++) {
		struct aq_channel *c = &cfg->channels[i];
		free(c->name);
		free(c->url);
		free(c->url_env);
		free(c->secret);
		free(c->secret_env);
		free(c->from);
		free_strings(c->to, c->nto);
		free(c->username);
		free(c->username_env);
		free(c->password);
		free(c->password_env);
	}
	free(cfg->channels);
	memset(cfg, 0, sizeof(*cfg));
}

/* The source called name, or NULL; the pointer lives as long as cfg. */
const struct aq_source *aq_config_source(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nsources; i++) {
		if (cfg->sources[i].name && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	}
	return NULL;
}

/* The escalation policy called name, or NULL; the pointer lives as long as cfg. */
const struct aq_escalation *aq_config_escalation(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nescalations; i++) {
		if (cfg->escalations[i].name && strcmp(cfg->escalations[i].name, name) == 0)
			return &cfg->escalations[i];
	}
	return NULL;
}

/* The channel called name, or NULL; the pointer lives as long as cfg. */
const struct aq_channel *aq_config_channel(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nchannels; i++) {
		if (cfg->channels[i].name && strcmp(cfg->channels[i].name, name) == 0)
			return &cfg->channels[i];
	}
	return NULL;
}

/* The first rule, in file order, whose match glob matches check; NULL when
 * none does. The pointer lives as long as cfg. */
const struct aq_rule *aq_config_rule_for(const struct aq_config *cfg, const char *check)
{
	for (size_t i = 0; check && i < cfg->nrules; i++) {
		if (cfg->rules[i].match && fnmatch(cfg->rules[i].match, check, 0) == 0)
			return &cfg->rules[i];
	}
	return NULL;
}
