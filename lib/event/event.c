/* event.c - the CheckResult event: single-object encoding, canonical form, fingerprints, resolution */
#include "alertq/event.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_LEN 10
#define MAGIC_0 0xc3
#define MAGIC_1 0x01
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL
#define READER_SCHEMA_FILE "check_result.avsc"
#define READER_NAMESPACE "alertq"
#define READER_NAME "CheckResult"

/* Caps on what a schema may be: its text, its canonical form, its names and
 * its nesting. A schema nested deeper (a recursive one among them) is refused,
 * which bounds every recursion below. */
#define SCHEMA_TEXT_MAX (1024 * 1024)
#define CANONICAL_MAX (1024 * 1024)
#define NAME_LEN_MAX 512
#define SCHEMA_DEPTH_MAX 32

/* Items of zero encoded size (null, an empty record) cost no body bytes, so
 * an array or map of them is bounded by this rather than by the body. */
#define ZERO_SIZE_ITEMS_MAX 4096

enum field {
	F_EVENT_ID,
	F_CHECK,
	F_SOURCE,
	F_OBSERVED_AT,
	F_VALUE,
	F_STATUS,
	F_MESSAGE,
	F_LABELS,
	F_INTERVAL_MS,
	NFIELDS
};

static const char *const field_names[NFIELDS] = {
	"event_id", "check", "source", "observed_at", "value", "status", "message", "labels", "interval_ms",
};

static const char *const status_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

const char *aq_status_name(int status)
{
	if (status < AQ_OK || status > AQ_UNKNOWN)
		return NULL;
	return status_names[status];
}

int aq_status_parse(const char *name)
{
	if (!name)
		return AQ_STATUS_NONE;
	for (int i = AQ_OK; i <= AQ_UNKNOWN; i++) {
		if (strcasecmp(name, status_names[i]) == 0)
			return i;
	}
	return AQ_STATUS_NONE;
}

void aq_result_release(struct aq_result *r)
{
	if (!r)
		return;
	free(r->check);
	free(r->source);
	free(r->message);
	aq_labels_free(r->labels, r->nlabels);
	memset(r, 0, sizeof(*r));
}

/* ---- CRC-64-AVRO ---- */

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_table_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t fp = (uint64_t)i;
		for (int bit = 0; bit < 8; bit++)
			fp = (fp >> 1) ^ (CRC64_EMPTY & (0 - (fp & 1)));
		crc64_table[i] = fp;
	}
}

uint64_t aq_crc64_avro(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t fp = CRC64_EMPTY;

	pthread_once(&crc64_once, crc64_table_init);
	for (size_t i = 0; i < len; i++)
		fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
	return fp;
}

/* ---- a capped string builder ---- */

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	int failed; /* out of memory or over CANONICAL_MAX; the text is then useless */
};

static void sb_add(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->failed)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + n + 1)
			cap *= 2;
		if (cap > CANONICAL_MAX + 1) {
			sb->failed = 1;
			return;
		}
		char *data = realloc(sb->data, cap);
		if (!data) {
			sb->failed = 1;
			return;
		}
		sb->data = data;
		sb->cap = cap;
	}
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

static void sb_puts(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

/* Appends s as a JSON string. Names and symbols are checked before they get
 * here, so escaping matters only for what the checks let through. */
static void sb_quoted(struct strbuf *sb, const char *s)
{
	sb_add(sb, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			sb_add(sb, esc, 2);
		} else if (c < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_add(sb, esc, 6);
		} else {
			sb_add(sb, p, 1);
		}
	}
	sb_add(sb, "\"", 1);
}

/* ---- Parsing Canonical Form ---- */

/* A named type met while walking a schema: its full name and its definition
 * (borrowed from the parsed JSON). */
struct named_type {
	char *fullname;
	json_t *def;
};

struct names {
	struct named_type *v;
	size_t n;
	size_t cap;
};

static void names_release(struct names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i].fullname);
	free(names->v);
	memset(names, 0, sizeof(*names));
}

static json_t *names_find(const struct names *names, const char *fullname)
{
	for (size_t i = 0; i < names->n; i++) {
		if (strcmp(names->v[i].fullname, fullname) == 0)
			return names->v[i].def;
	}
	return NULL;
}

static int names_add(struct names *names, const char *fullname, json_t *def)
{
	if (names->n == names->cap) {
		size_t cap = names->cap ? names->cap * 2 : 8;
		struct named_type *v = realloc(names->v, cap * sizeof(*v));
		if (!v)
			return -1;
		names->v = v;
		names->cap = cap;
	}
	names->v[names->n].fullname = aq_strdup(fullname);
	names->v[names->n].def = def;
	names->n++;
	return 0;
}

struct canon {
	struct strbuf out;
	struct names names;
	char *err;
	size_t errlen;
};

static int is_primitive(const char *name)
{
	static const char *const primitives[] = {
		"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	};
	for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++) {
		if (strcmp(name, primitives[i]) == 0)
			return 1;
	}
	return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* over n bytes of s. */
static int is_simple_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		int digit = c >= '0' && c <= '9';
		if (!letter && !(digit && i > 0))
			return 0;
	}
	return 1;
}

/* Simple names joined by dots. */
static int is_full_name(const char *s)
{
	const char *part = s;
	for (;;) {
		const char *dot = strchr(part, '.');
		size_t n = dot ? (size_t)(dot - part) : strlen(part);
		if (!is_simple_name(part, n))
			return 0;
		if (!dot)
			return 1;
		part = dot + 1;
	}
}

/* Joins a name with the namespace that applies to it into out[NAME_LEN_MAX + 1]:
 * a dotted name is already full; otherwise ns (which may be NULL or empty). */
static int join_name(const char *name, const char *ns, char *out, char *err, size_t errlen)
{
	int n;
	if (strchr(name, '.') || !ns || !*ns)
		n = snprintf(out, NAME_LEN_MAX + 1, "%s", name);
	else
		n = snprintf(out, NAME_LEN_MAX + 1, "%s.%s", ns, name);
	if (n < 0 || n > NAME_LEN_MAX)
		return fail(err, errlen, "name '%.40s...' is longer than %d bytes", name, NAME_LEN_MAX);
	if (!is_full_name(out))
		return fail(err, errlen, "invalid name '%s'", out);
	return 0;
}

static int canon_schema(struct canon *c, json_t *schema, const char *ns, int depth);

static int canon_reference(struct canon *c, const char *name, const char *ns)
{
	char full[NAME_LEN_MAX + 1];
	if (join_name(name, ns, full, c->err, c->errlen) < 0)
		return -1;
	if (names_find(&c->names, full)) {
		sb_quoted(&c->out, full);
		return 0;
	}
	/* a plain name not found in the enclosing namespace may name a type
	 * of the null namespace */
	if (!strchr(name, '.') && names_find(&c->names, name)) {
		sb_quoted(&c->out, name);
		return 0;
	}
	return fail(c->err, c->errlen, "unknown type '%s'", full);
}

static int canon_fields(struct canon *c, json_t *fields, const char *record, const char *ns, int depth)
{
	size_t i;
	json_t *field;

	if (!json_is_array(fields))
		return fail(c->err, c->errlen, "record '%s' has no \"fields\" array", record);
	sb_puts(&c->out, ",\"fields\":[");
	json_array_foreach(fields, i, field)
	{
		const char *name = json_string_value(json_object_get(field, "name"));
		if (!json_is_object(field) || !name)
			return fail(c->err, c->errlen, "record '%s': field %zu has no name", record, i);
		if (!is_simple_name(name, strlen(name)))
			return fail(c->err, c->errlen, "record '%s': invalid field name '%s'", record, name);
		for (size_t j = 0; j < i; j++) {
			const char *other = json_string_value(
				json_object_get(json_array_get(fields, j), "name"));
			if (strcmp(other, name) == 0)
				return fail(c->err, c->errlen, "record '%s': field '%s' appears twice",
					    record, name);
		}
		json_t *type = json_object_get(field, "type");
		if (!type)
			return fail(c->err, c->errlen, "record '%s': field '%s' has no type", record, name);
		sb_puts(&c->out, i ? ",{\"name\":" : "{\"name\":");
		sb_quoted(&c->out, name);
		sb_puts(&c->out, ",\"type\":");
		if (canon_schema(c, type, ns, depth + 1) < 0)
			return -1;
		sb_puts(&c->out, "}");
	}
	sb_puts(&c->out, "]");
	return 0;
}

static int canon_symbols(struct canon *c, json_t *symbols, const char *name)
{
	size_t i;
	json_t *symbol;

	if (!json_is_array(symbols))
		return fail(c->err, c->errlen, "enum '%s' has no \"symbols\" array", name);
	sb_puts(&c->out, ",\"symbols\":[");
	json_array_foreach(symbols, i, symbol)
	{
		const char *text = json_string_value(symbol);
		if (!text || !is_simple_name(text, strlen(text)))
			return fail(c->err, c->errlen, "enum '%s': invalid symbol %zu", name, i);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(json_string_value(json_array_get(symbols, j)), text) == 0)
				return fail(c->err, c->errlen, "enum '%s': symbol '%s' appears twice", name,
					    text);
		}
		if (i)
			sb_puts(&c->out, ",");
		sb_quoted(&c->out, text);
	}
	sb_puts(&c->out, "]");
	return 0;
}

/* record, enum or fixed: defines a name, then writes name, type and the
 * kind's own attribute in the order the canonical form requires. */
static int canon_named(struct canon *c, json_t *schema, const char *kind, const char *ns, int depth)
{
	const char *name = json_string_value(json_object_get(schema, "name"));
	if (!name)
		return fail(c->err, c->errlen, "%s schema has no name", kind);
	json_t *ns_attr = json_object_get(schema, "namespace");
	if (ns_attr && !json_is_string(ns_attr) && !json_is_null(ns_attr))
		return fail(c->err, c->errlen, "%s '%s': namespace is not a string", kind, name);
	if (json_is_string(ns_attr))
		ns = json_string_value(ns_attr);

	char full[NAME_LEN_MAX + 1];
	if (join_name(name, ns, full, c->err, c->errlen) < 0)
		return -1;
	if (is_primitive(full))
		return fail(c->err, c->errlen, "%s '%s' takes the name of a primitive type", kind, full);
	if (names_find(&c->names, full))
		return fail(c->err, c->errlen, "type '%s' is defined twice", full);
	if (names_add(&c->names, full, schema) < 0)
		return fail(c->err, c->errlen, "out of memory");

	char inner_ns[NAME_LEN_MAX + 1];
	const char *dot = strrchr(full, '.');
	size_t ns_len = dot ? (size_t)(dot - full) : 0;
	memcpy(inner_ns, full, ns_len);
	inner_ns[ns_len] = '\0';

	sb_puts(&c->out, "{\"name\":");
	sb_quoted(&c->out, full);
	sb_puts(&c->out, ",\"type\":");
	sb_quoted(&c->out, kind);
	if (strcmp(kind, "record") == 0) {
		if (canon_fields(c, json_object_get(schema, "fields"), full, inner_ns, depth) < 0)
			return -1;
	} else if (strcmp(kind, "enum") == 0) {
		if (canon_symbols(c, json_object_get(schema, "symbols"), full) < 0)
			return -1;
	} else {
		json_t *size = json_object_get(schema, "size");
		if (!json_is_integer(size) || json_integer_value(size) < 0)
			return fail(c->err, c->errlen, "fixed '%s' has no valid \"size\"", full);
		char text[32];
		snprintf(text, sizeof(text), ",\"size\":%" JSON_INTEGER_FORMAT, json_integer_value(size));
		sb_puts(&c->out, text);
	}
	sb_puts(&c->out, "}");
	return 0;
}

/* array or map: {"type":kind,"items"|"values":schema} */
static int canon_container(struct canon *c, json_t *schema, const char *kind, const char *key, const char *ns,
			   int depth)
{
	json_t *child = json_object_get(schema, key);
	if (!child)
		return fail(c->err, c->errlen, "%s schema has no \"%s\"", kind, key);
	sb_puts(&c->out, "{\"type\":");
	sb_quoted(&c->out, kind);
	sb_puts(&c->out, ",\"");
	sb_puts(&c->out, key);
	sb_puts(&c->out, "\":");
	if (canon_schema(c, child, ns, depth + 1) < 0)
		return -1;
	sb_puts(&c->out, "}");
	return 0;
}

static int canon_schema(struct canon *c, json_t *schema, const char *ns, int depth)
{
	if (depth > SCHEMA_DEPTH_MAX)
		return fail(c->err, c->errlen, "schema nests deeper than %d levels", SCHEMA_DEPTH_MAX);
	if (json_is_string(schema)) {
		const char *name = json_string_value(schema);
		if (is_primitive(name)) {
			sb_quoted(&c->out, name);
			return 0;
		}
		return canon_reference(c, name, ns);
	}
	if (json_is_array(schema)) {
		size_t i;
		json_t *branch;
		if (json_array_size(schema) == 0)
			return fail(c->err, c->errlen, "union has no branches");
		sb_puts(&c->out, "[");
		json_array_foreach(schema, i, branch)
		{
			if (i)
				sb_puts(&c->out, ",");
			if (canon_schema(c, branch, ns, depth + 1) < 0)
				return -1;
		}
		sb_puts(&c->out, "]");
		return 0;
	}
	if (!json_is_object(schema))
		return fail(c->err, c->errlen, "schema is neither a name, a union nor an object");

	const char *type = json_string_value(json_object_get(schema, "type"));
	if (!type)
		return fail(c->err, c->errlen, "schema object has no \"type\" name");
	/* a primitive written as an object loses every other attribute,
	 * logicalType among them */
	if (is_primitive(type)) {
		sb_quoted(&c->out, type);
		return 0;
	}
	if (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0)
		return canon_named(c, schema, type, ns, depth);
	if (strcmp(type, "array") == 0)
		return canon_container(c, schema, "array", "items", ns, depth);
	if (strcmp(type, "map") == 0)
		return canon_container(c, schema, "map", "values", ns, depth);
	return canon_reference(c, type, ns);
}

/* Canonical form of a parsed schema into *out; the named types met go to
 * *names when it is given (the caller releases them), else are dropped. */
static int canonical_of(json_t *root, char **out, struct names *names, char *err, size_t errlen)
{
	struct canon c = { .err = err, .errlen = errlen };

	if (canon_schema(&c, root, "", 0) < 0)
		goto err;
	if (c.out.failed || !c.out.data) {
		fail(err, errlen, "canonical form is longer than %d bytes", CANONICAL_MAX);
		goto err;
	}
	*out = c.out.data;
	if (names)
		*names = c.names;
	else
		names_release(&c.names);
	return 0;
err:
	free(c.out.data);
	names_release(&c.names);
	return -1;
}

static json_t *parse_schema_json(const char *json, char *err, size_t errlen)
{
	json_error_t jerr;
	size_t len = json ? strlen(json) : 0;

	if (len == 0) {
		fail(err, errlen, "schema is empty");
		return NULL;
	}
	if (len > SCHEMA_TEXT_MAX) {
		fail(err, errlen, "schema is longer than %d bytes", SCHEMA_TEXT_MAX);
		return NULL;
	}
	json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail(err, errlen, "schema is not valid json: %s (line %d)", jerr.text, jerr.line);
	return root;
}

int aq_schema_canonical(const char *json, char **out, char *err, size_t errlen)
{
	json_t *root = parse_schema_json(json, err, errlen);
	if (!root)
		return -1;
	int rc = canonical_of(root, out, NULL, err, errlen);
	json_decref(root);
	return rc;
}

int aq_schema_fingerprint(const char *json, uint64_t *fp, char *err, size_t errlen)
{
	char *canonical;
	if (aq_schema_canonical(json, &canonical, err, errlen) < 0)
		return -1;
	*fp = aq_crc64_avro(canonical, strlen(canonical));
	free(canonical);
	return 0;
}

/* ---- UTF-8 ---- */

/* Whether n bytes at s are well-formed UTF-8 without NUL bytes (shortest
 * forms only, no surrogates, nothing above U+10FFFF). */
static int is_clean_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* eight ASCII bytes at a time: no high bit, no zero byte */
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!(w & 0x8080808080808080ULL) &&
			    !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
				i += 8;
				continue;
			}
		}
		unsigned char c = s[i];
		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		size_t more;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= more)
			return 0;
		for (size_t k = 1; k <= more; k++) {
			unsigned char cc = s[i + k];
			if ((cc & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

static int is_clean_string(const char *s)
{
	return is_clean_utf8((const unsigned char *)s, strlen(s));
}

/* ---- the body scan: checks a body against a writer schema before avro-c
 * reads it, so that every length and index avro-c meets is in bounds ---- */

struct shape {
	avro_type_t type;
	int64_t n;    /* fixed: size; enum: symbols; union, record: children */
	size_t child; /* array, map: the item's shape; union, record: first index in kids */
};

struct shapes {
	struct shape *v;
	size_t n;
	size_t cap;
	size_t *kids;
	size_t nkids;
	size_t kidcap;
};

static void shapes_release(struct shapes *sh)
{
	free(sh->v);
	free(sh->kids);
	memset(sh, 0, sizeof(*sh));
}

static avro_schema_t schema_deref(avro_schema_t s)
{
	for (int i = 0; s && avro_typeof(s) == AVRO_LINK && i < SCHEMA_DEPTH_MAX; i++)
		s = avro_schema_link_target(s);
	return s;
}

static int shape_compile(struct shapes *sh, avro_schema_t s, int depth, size_t *out)
{
	s = schema_deref(s);
	if (!s || depth > SCHEMA_DEPTH_MAX)
		return -1;
	if (sh->n == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 32;
		struct shape *v = realloc(sh->v, cap * sizeof(*v));
		if (!v)
			return -1;
		sh->v = v;
		sh->cap = cap;
	}
	size_t idx = sh->n++;
	avro_type_t type = avro_typeof(s);
	sh->v[idx] = (struct shape){ .type = type };
	*out = idx;

	size_t item, nkids = 0;
	switch (type) {
	case AVRO_ENUM:
		sh->v[idx].n = avro_schema_enum_number_of_symbols(s);
		return 0;
	case AVRO_FIXED:
		sh->v[idx].n = avro_schema_fixed_size(s);
		return 0;
	case AVRO_ARRAY:
		if (shape_compile(sh, avro_schema_array_items(s), depth + 1, &item) < 0)
			return -1;
		sh->v[idx].child = item;
		return 0;
	case AVRO_MAP:
		if (shape_compile(sh, avro_schema_map_values(s), depth + 1, &item) < 0)
			return -1;
		sh->v[idx].child = item;
		return 0;
	case AVRO_UNION:
		nkids = avro_schema_union_size(s);
		break;
	case AVRO_RECORD:
		nkids = avro_schema_record_size(s);
		break;
	case AVRO_LINK:
		return -1;
	default:
		return 0;
	}

	size_t *kids = calloc(nkids ? nkids : 1, sizeof(*kids));
	if (!kids)
		return -1;
	for (size_t i = 0; i < nkids; i++) {
		avro_schema_t kid = type == AVRO_UNION ? avro_schema_union_branch(s, (int)i)
						       : avro_schema_record_field_get_by_index(s, (int)i);
		if (shape_compile(sh, kid, depth + 1, &kids[i]) < 0) {
			free(kids);
			return -1;
		}
	}
	if (sh->nkids + nkids > sh->kidcap) {
		size_t cap = sh->kidcap ? sh->kidcap : 32;
		while (cap < sh->nkids + nkids)
			cap *= 2;
		size_t *grown = realloc(sh->kids, cap * sizeof(*grown));
		if (!grown) {
			free(kids);
			return -1;
		}
		sh->kids = grown;
		sh->kidcap = cap;
	}
	memcpy(sh->kids + sh->nkids, kids, nkids * sizeof(*kids));
	sh->v[idx].n = (int64_t)nkids;
	sh->v[idx].child = sh->nkids;
	sh->nkids += nkids;
	free(kids);
	return 0;
}

struct scan {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	const struct shapes *sh;
	char *err;
	size_t errlen;
};

static int scan_fail(struct scan *s, const char *what)
{
	return fail(s->err, s->errlen, "truncated or malformed body: %s at byte %zu", what,
		    (size_t)(s->p - s->start));
}

/* Reads a zig-zag varint of at most maxbytes bytes. */
static int scan_varint(struct scan *s, int maxbytes, int64_t *out)
{
	uint64_t v = 0;

	*out = 0;
	for (int i = 0; i < maxbytes; i++) {
		if (s->p >= s->end)
			return scan_fail(s, "number cut short");
		unsigned char b = *s->p++;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
			return 0;
		}
	}
	return scan_fail(s, "number too long");
}

static int scan_int(struct scan *s, int64_t *out)
{
	if (scan_varint(s, 5, out) < 0)
		return -1;
	if (*out < INT32_MIN || *out > INT32_MAX)
		return scan_fail(s, "int out of range");
	return 0;
}

static int scan_bytes(struct scan *s, int is_string)
{
	int64_t len;
	if (scan_varint(s, 10, &len) < 0)
		return -1;
	if (len < 0 || len > s->end - s->p)
		return scan_fail(s, "length past the end");
	if (is_string && !is_clean_utf8(s->p, (size_t)len))
		return scan_fail(s, "string not clean utf-8");
	s->p += len;
	return 0;
}

static int scan_value(struct scan *s, size_t idx, int depth);

static int scan_blocks(struct scan *s, const struct shape *shape, int depth)
{
	int64_t total = 0;
	int64_t limit = (int64_t)(s->end - s->start) + ZERO_SIZE_ITEMS_MAX;
	for (;;) {
		int64_t count;
		if (scan_varint(s, 10, &count) < 0)
			return -1;
		if (count == 0)
			return 0;
		if (count < 0) {
			int64_t size;
			if (count == INT64_MIN)
				return scan_fail(s, "bad block count");
			count = -count;
			if (scan_varint(s, 10, &size) < 0)
				return -1;
			if (size < 0 || size > s->end - s->p)
				return scan_fail(s, "block size past the end");
		}
		if (count > limit - total)
			return scan_fail(s, "too many items");
		total += count;
		for (int64_t i = 0; i < count; i++) {
			if (shape->type == AVRO_MAP && scan_bytes(s, 1) < 0)
				return -1;
			if (scan_value(s, shape->child, depth + 1) < 0)
				return -1;
		}
	}
}

static int scan_value(struct scan *s, size_t idx, int depth)
{
	const struct shape *shape = &s->sh->v[idx];
	int64_t n;

	if (depth > SCHEMA_DEPTH_MAX)
		return scan_fail(s, "nesting too deep");
	switch (shape->type) {
	case AVRO_NULL:
		return 0;
	case AVRO_BOOLEAN:
		if (s->p >= s->end)
			return scan_fail(s, "boolean cut short");
		if (*s->p > 1)
			return scan_fail(s, "bad boolean");
		s->p++;
		return 0;
	case AVRO_INT32:
		return scan_int(s, &n);
	case AVRO_INT64:
		return scan_varint(s, 10, &n);
	case AVRO_FLOAT:
	case AVRO_DOUBLE:
	case AVRO_FIXED:
		n = shape->type == AVRO_FLOAT ? 4 : shape->type == AVRO_DOUBLE ? 8 : shape->n;
		if (s->end - s->p < n)
			return scan_fail(s, "value cut short");
		s->p += n;
		return 0;
	case AVRO_STRING:
	case AVRO_BYTES:
		return scan_bytes(s, shape->type == AVRO_STRING);
	case AVRO_ENUM:
		if (scan_int(s, &n) < 0)
			return -1;
		if (n < 0 || n >= shape->n)
			return scan_fail(s, "enum index out of range");
		return 0;
	case AVRO_UNION:
		if (scan_varint(s, 10, &n) < 0)
			return -1;
		if (n < 0 || n >= shape->n)
			return scan_fail(s, "union branch out of range");
		return scan_value(s, s->sh->kids[shape->child + (size_t)n], depth + 1);
	case AVRO_RECORD:
		for (int64_t i = 0; i < shape->n; i++) {
			if (scan_value(s, s->sh->kids[shape->child + (size_t)i], depth + 1) < 0)
				return -1;
		}
		return 0;
	case AVRO_ARRAY:
	case AVRO_MAP:
		return scan_blocks(s, shape, depth);
	default:
		return scan_fail(s, "unsupported type");
	}
}

/* ---- the codec ---- */

/* Where a reader field's value comes from, for one writer schema. */
struct field_source {
	int index; /* writer field index, or -1 for the reader's default */
	int same;  /* writer and reader agree on the field's schema: copied as is */
};

struct writer_entry {
	uint64_t fp;
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value; /* reused for every body this schema wrote */
	struct shapes shapes;
	size_t root;                  /* the record's shape */
	int identity;                 /* the reader schema itself: no resolution */
	struct field_source *sources; /* one per reader field */
};

struct aq_codec {
	json_t *reader_json;
	struct names reader_names; /* named types of the reader schema, for defaults */
	avro_schema_t reader_schema;
	avro_value_iface_t *reader_iface;
	avro_value_t reader_value; /* built by encode and by resolution */
	uint64_t reader_fp;
	size_t nreader_fields;
	json_t **defaults; /* per reader field, borrowed from reader_json; NULL: none */
	int field_index[NFIELDS];
	int value_double_branch, value_null_branch;
	int status_enum_branch, status_null_branch;
	int symbol_of_status[AQ_UNKNOWN + 1];
	int *status_of_symbol;
	size_t nsymbols;
	struct writer_entry *writers;
	size_t nwriters;
	struct writer_entry *last; /* the writer of the previous message */
	avro_reader_t in;
	avro_writer_t out;
	avro_value_t *decoded; /* the reader's view of the last decoded record */
};

static int record_full_name(avro_schema_t s, char *out, size_t outlen)
{
	const char *ns = avro_schema_namespace(s);
	int n;
	if (ns && *ns)
		n = snprintf(out, outlen, "%s.%s", ns, avro_schema_name(s));
	else
		n = snprintf(out, outlen, "%s", avro_schema_name(s));
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The "default" of field name in a record's JSON definition, or NULL. */
static json_t *json_field_default(json_t *record, const char *name)
{
	size_t i;
	json_t *field;
	json_array_foreach(json_object_get(record, "fields"), i, field)
	{
		if (strcmp(json_string_value(json_object_get(field, "name")), name) == 0)
			return json_object_get(field, "default");
	}
	return NULL;
}

/* The default of a field of a record the reader schema defines, or NULL. */
static json_t *reader_default(const aq_codec_t *codec, avro_schema_t record, const char *field)
{
	char full[NAME_LEN_MAX + 1];
	if (record_full_name(record, full, sizeof(full)) < 0)
		return NULL;
	json_t *def = names_find(&codec->reader_names, full);
	return def ? json_field_default(def, field) : NULL;
}

/* Bytes and fixed defaults are strings of code points U+0000..U+00FF. */
static int json_latin1(json_t *j, unsigned char **out, size_t *len)
{
	const unsigned char *s = (const unsigned char *)json_string_value(j);
	size_t n = json_string_length(j);
	unsigned char *bytes = malloc(n + 1);
	size_t k = 0;
	if (!bytes)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80) {
			bytes[k++] = s[i];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
			bytes[k++] = (unsigned char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
			i++;
		} else {
			free(bytes);
			return -1;
		}
	}
	*out = bytes;
	*len = k;
	return 0;
}

/* Sets dst from a schema default given as JSON. */
static int set_default(const aq_codec_t *codec, avro_value_t *dst, json_t *def, int depth)
{
	avro_schema_t schema = avro_value_get_schema(dst);
	avro_value_t child;
	size_t i;
	json_t *item;
	const char *key;
	unsigned char *bytes;
	size_t len;
	int rc;

	if (depth > SCHEMA_DEPTH_MAX || !def)
		return -1;
	switch (avro_value_get_type(dst)) {
	case AVRO_NULL:
		return json_is_null(def) ? avro_value_set_null(dst) : -1;
	case AVRO_BOOLEAN:
		return json_is_boolean(def) ? avro_value_set_boolean(dst, json_is_true(def)) : -1;
	case AVRO_INT32:
		if (!json_is_integer(def) || json_integer_value(def) < INT32_MIN ||
		    json_integer_value(def) > INT32_MAX)
			return -1;
		return avro_value_set_int(dst, (int32_t)json_integer_value(def));
	case AVRO_INT64:
		return json_is_integer(def) ? avro_value_set_long(dst, json_integer_value(def)) : -1;
	case AVRO_FLOAT:
		return json_is_number(def) ? avro_value_set_float(dst, (float)json_number_value(def)) : -1;
	case AVRO_DOUBLE:
		return json_is_number(def) ? avro_value_set_double(dst, json_number_value(def)) : -1;
	case AVRO_STRING:
		if (!json_is_string(def) || !is_clean_string(json_string_value(def)))
			return -1;
		return avro_value_set_string_len(dst, json_string_value(def), json_string_length(def) + 1);
	case AVRO_BYTES:
	case AVRO_FIXED:
		if (!json_is_string(def) || json_latin1(def, &bytes, &len) < 0)
			return -1;
		if (avro_value_get_type(dst) == AVRO_FIXED && (int64_t)len != avro_schema_fixed_size(schema))
			rc = -1;
		else if (avro_value_get_type(dst) == AVRO_FIXED)
			rc = avro_value_set_fixed(dst, bytes, len);
		else
			rc = avro_value_set_bytes(dst, bytes, len);
		free(bytes);
		return rc;
	case AVRO_ENUM:
		if (!json_is_string(def))
			return -1;
		rc = avro_schema_enum_get_by_name(schema, json_string_value(def));
		return rc < 0 ? -1 : avro_value_set_enum(dst, rc);
	case AVRO_ARRAY:
		if (!json_is_array(def))
			return -1;
		json_array_foreach(def, i, item)
		{
			if (avro_value_append(dst, &child, NULL) ||
			    set_default(codec, &child, item, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_MAP:
		if (!json_is_object(def))
			return -1;
		json_object_foreach(def, key, item)
		{
			if (avro_value_add(dst, key, &child, NULL, NULL) ||
			    set_default(codec, &child, item, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_RECORD:
		if (!json_is_object(def))
			return -1;
		for (i = 0; i < avro_schema_record_size(schema); i++) {
			const char *name = avro_schema_record_field_name(schema, (int)i);
			json_t *value = json_object_get(def, name);
			if (!value)
				value = reader_default(codec, schema, name);
			if (avro_value_get_by_index(dst, i, &child, NULL) ||
			    set_default(codec, &child, value, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_UNION:
		/* the first branch is the one a default is written for; the
		 * others are tried as a kindness to looser writers */
		for (i = 0; i < avro_schema_union_size(schema); i++) {
			if (avro_value_set_branch(dst, (int)i, &child) == 0 &&
			    set_default(codec, &child, def, depth + 1) == 0)
				return 0;
		}
		return -1;
	default:
		return -1;
	}
}

static int same_name(avro_schema_t a, avro_schema_t b)
{
	return strcmp(avro_schema_name(a), avro_schema_name(b)) == 0;
}

static int schema_readable(const aq_codec_t *codec, avro_schema_t w, avro_schema_t r, int depth, char *err,
			   size_t errlen);

/* The branch of reader union r that reads values of writer schema w: the
 * first of the same type (and name), else the first that reads it. */
static int union_branch_for(const aq_codec_t *codec, avro_schema_t r, avro_schema_t w, int depth)
{
	size_t n = avro_schema_union_size(r);
	w = schema_deref(w);
	for (size_t i = 0; i < n; i++) {
		avro_schema_t b = schema_deref(avro_schema_union_branch(r, (int)i));
		if (avro_typeof(b) != avro_typeof(w))
			continue;
		if (is_avro_named_type(b) && !same_name(b, w))
			continue;
		return (int)i;
	}
	for (size_t i = 0; i < n; i++) {
		avro_schema_t b = avro_schema_union_branch(r, (int)i);
		if (schema_readable(codec, w, b, depth + 1, NULL, 0) == 0)
			return (int)i;
	}
	return -1;
}

static int promotes(avro_type_t w, avro_type_t r)
{
	if (w == r)
		return 1;
	switch (r) {
	case AVRO_INT64:
		return w == AVRO_INT32;
	case AVRO_FLOAT:
		return w == AVRO_INT32 || w == AVRO_INT64;
	case AVRO_DOUBLE:
		return w == AVRO_INT32 || w == AVRO_INT64 || w == AVRO_FLOAT;
	case AVRO_STRING:
		return w == AVRO_BYTES;
	case AVRO_BYTES:
		return w == AVRO_STRING;
	default:
		return 0;
	}
}

/* Whether data written with w can be read as r, by the specification's
 * resolution rules; strict where the rules defer to the data: every writer
 * union branch and every writer enum symbol must be readable. */
static int schema_readable(const aq_codec_t *codec, avro_schema_t w, avro_schema_t r, int depth, char *err,
			   size_t errlen)
{
	w = schema_deref(w);
	r = schema_deref(r);
	if (!w || !r || depth > SCHEMA_DEPTH_MAX)
		return fail(err, errlen, "schemas nest deeper than %d levels", SCHEMA_DEPTH_MAX);
	avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);

	if (wt == AVRO_UNION) {
		for (size_t i = 0; i < avro_schema_union_size(w); i++) {
			if (schema_readable(codec, avro_schema_union_branch(w, (int)i), r, depth + 1, err,
					    errlen) < 0)
				return -1;
		}
		return 0;
	}
	if (rt == AVRO_UNION) {
		int branch = union_branch_for(codec, r, w, depth);
		if (branch < 0)
			return fail(err, errlen, "no branch of the reader's union reads a %s",
				    avro_schema_type_name(w));
		return schema_readable(codec, w, avro_schema_union_branch(r, branch), depth + 1, err, errlen);
	}
	if (!promotes(wt, rt))
		return fail(err, errlen, "a %s cannot be read as a %s", avro_schema_type_name(w),
			    avro_schema_type_name(r));
	switch (rt) {
	case AVRO_ENUM:
		if (!same_name(w, r))
			return fail(err, errlen, "enum %s cannot be read as enum %s", avro_schema_name(w),
				    avro_schema_name(r));
		for (int i = 0; i < avro_schema_enum_number_of_symbols(w); i++) {
			const char *symbol = avro_schema_enum_get(w, i);
			if (avro_schema_enum_get_by_name(r, symbol) < 0)
				return fail(err, errlen, "enum %s: the reader lacks symbol %s",
					    avro_schema_name(r), symbol);
		}
		return 0;
	case AVRO_FIXED:
		if (!same_name(w, r) || avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
			return fail(err, errlen, "fixed %s cannot be read as fixed %s", avro_schema_name(w),
				    avro_schema_name(r));
		return 0;
	case AVRO_ARRAY:
		return schema_readable(codec, avro_schema_array_items(w), avro_schema_array_items(r),
				       depth + 1, err, errlen);
	case AVRO_MAP:
		return schema_readable(codec, avro_schema_map_values(w), avro_schema_map_values(r), depth + 1,
				       err, errlen);
	case AVRO_RECORD:
		if (!same_name(w, r))
			return fail(err, errlen, "record %s cannot be read as record %s", avro_schema_name(w),
				    avro_schema_name(r));
		for (size_t i = 0; i < avro_schema_record_size(r); i++) {
			const char *name = avro_schema_record_field_name(r, (int)i);
			avro_schema_t rf = avro_schema_record_field_get_by_index(r, (int)i);
			int wi = avro_schema_record_field_get_index(w, name);
			if (wi < 0) {
				if (!reader_default(codec, r, name))
					return fail(err, errlen,
						    "field %s.%s has no default and the writer lacks it",
						    avro_schema_name(r), name);
				continue;
			}
			if (schema_readable(codec, avro_schema_record_field_get_by_index(w, wi), rf,
					    depth + 1, err, errlen) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static int convert_record(const aq_codec_t *codec, const avro_value_t *src, avro_value_t *dst, int depth);

/* Copies the writer's value src into the reader's value dst by the
 * resolution rules: unions by branch type, enums by symbol, records by
 * field name, numbers promoted. dst is reset or freshly set. */
static int convert(const aq_codec_t *codec, const avro_value_t *src, avro_value_t *dst, int depth)
{
	avro_value_t sub, sub2;
	avro_type_t st = avro_value_get_type(src), dt = avro_value_get_type(dst);
	const char *str, *key;
	const void *buf;
	size_t size, n;
	int32_t i32;
	int64_t i64;
	float f;
	double d;
	int i;

	if (depth > SCHEMA_DEPTH_MAX)
		return -1;
	if (st == AVRO_UNION) {
		if (avro_value_get_current_branch(src, &sub))
			return -1;
		return convert(codec, &sub, dst, depth + 1);
	}
	if (dt == AVRO_UNION) {
		i = union_branch_for(codec, avro_value_get_schema(dst), avro_value_get_schema(src), depth);
		if (i < 0 || avro_value_set_branch(dst, i, &sub))
			return -1;
		return convert(codec, src, &sub, depth + 1);
	}
	if (!promotes(st, dt))
		return -1;
	switch (dt) {
	case AVRO_NULL:
		return avro_value_set_null(dst);
	case AVRO_BOOLEAN:
		return avro_value_get_boolean(src, &i) || avro_value_set_boolean(dst, i);
	case AVRO_INT32:
		return avro_value_get_int(src, &i32) || avro_value_set_int(dst, i32);
	case AVRO_INT64:
	case AVRO_FLOAT:
	case AVRO_DOUBLE:
		if (st == AVRO_INT32) {
			if (avro_value_get_int(src, &i32))
				return -1;
			d = i32;
			i64 = i32;
		} else if (st == AVRO_INT64) {
			if (avro_value_get_long(src, &i64))
				return -1;
			d = (double)i64;
		} else if (st == AVRO_FLOAT) {
			if (avro_value_get_float(src, &f))
				return -1;
			d = f;
			i64 = 0;
		} else {
			if (avro_value_get_double(src, &d))
				return -1;
			i64 = 0;
		}
		if (dt == AVRO_INT64)
			return avro_value_set_long(dst, i64);
		if (dt == AVRO_FLOAT)
			return avro_value_set_float(dst, (float)d);
		return avro_value_set_double(dst, d);
	case AVRO_STRING:
		if (st == AVRO_STRING) {
			if (avro_value_get_string(src, &str, &size))
				return -1;
			return avro_value_set_string_len(dst, str, size);
		} else {
			if (avro_value_get_bytes(src, &buf, &size) || !is_clean_utf8(buf, size))
				return -1;
			char *copy = malloc(size + 1);
			if (!copy)
				return -1;
			memcpy(copy, buf, size);
			copy[size] = '\0';
			i = avro_value_set_string_len(dst, copy, size + 1);
			free(copy);
			return i;
		}
	case AVRO_BYTES:
		if (st == AVRO_STRING) {
			if (avro_value_get_string(src, &str, &size))
				return -1;
			return avro_value_set_bytes(dst, (void *)str, size ? size - 1 : 0);
		}
		if (avro_value_get_bytes(src, &buf, &size))
			return -1;
		return avro_value_set_bytes(dst, (void *)buf, size);
	case AVRO_FIXED:
		if (avro_value_get_fixed(src, &buf, &size))
			return -1;
		return avro_value_set_fixed(dst, (void *)buf, size);
	case AVRO_ENUM:
		if (avro_value_get_enum(src, &i))
			return -1;
		str = avro_schema_enum_get(avro_value_get_schema(src), i);
		i = str ? avro_schema_enum_get_by_name(avro_value_get_schema(dst), str) : -1;
		return i < 0 ? -1 : avro_value_set_enum(dst, i);
	case AVRO_ARRAY:
		if (avro_value_get_size(src, &n))
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (avro_value_get_by_index(src, k, &sub, NULL) ||
			    avro_value_append(dst, &sub2, NULL) || convert(codec, &sub, &sub2, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_MAP:
		if (avro_value_get_size(src, &n))
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (avro_value_get_by_index(src, k, &sub, &key) ||
			    avro_value_add(dst, key, &sub2, NULL, NULL) ||
			    convert(codec, &sub, &sub2, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_RECORD:
		return convert_record(codec, src, dst, depth);
	default:
		return -1;
	}
}

static int convert_record(const aq_codec_t *codec, const avro_value_t *src, avro_value_t *dst, int depth)
{
	avro_schema_t rs = avro_value_get_schema(dst);
	avro_schema_t ws = avro_value_get_schema(src);
	avro_value_t from, to;

	for (size_t i = 0; i < avro_schema_record_size(rs); i++) {
		const char *name = avro_schema_record_field_name(rs, (int)i);
		int wi = avro_schema_record_field_get_index(ws, name);
		if (avro_value_get_by_index(dst, i, &to, NULL))
			return -1;
		if (wi < 0) {
			if (set_default(codec, &to, reader_default(codec, rs, name), depth + 1))
				return -1;
			continue;
		}
		if (avro_value_get_by_index(src, (size_t)wi, &from, NULL) ||
		    convert(codec, &from, &to, depth + 1))
			return -1;
	}
	return 0;
}

/* Finds the reader's own fields and checks that they have the types this
 * build reads them as. */
static int reader_check(aq_codec_t *codec, char *err, size_t errlen)
{
	avro_schema_t rs = codec->reader_schema;
	const char *ns = avro_schema_namespace(rs);

	if (avro_typeof(rs) != AVRO_RECORD || strcmp(avro_schema_name(rs), READER_NAME) != 0 || !ns ||
	    strcmp(ns, READER_NAMESPACE) != 0)
		return fail(err, errlen, "reader schema is not the record %s.%s", READER_NAMESPACE,
			    READER_NAME);
	for (int f = 0; f < NFIELDS; f++) {
		int idx = avro_schema_record_field_get_index(rs, field_names[f]);
		if (idx < 0)
			return fail(err, errlen, "reader schema lacks field '%s'", field_names[f]);
		codec->field_index[f] = idx;
		avro_schema_t s = schema_deref(avro_schema_record_field_get_by_index(rs, idx));
		avro_type_t want;
		switch (f) {
		case F_OBSERVED_AT:
		case F_INTERVAL_MS:
			want = AVRO_INT64;
			break;
		case F_VALUE:
		case F_STATUS:
			want = AVRO_UNION;
			break;
		case F_LABELS:
			want = AVRO_MAP;
			break;
		default:
			want = AVRO_STRING;
		}
		if (avro_typeof(s) != want)
			return fail(err, errlen, "reader schema field '%s' is a %s", field_names[f],
				    avro_schema_type_name(s));
		if (f == F_LABELS && avro_typeof(schema_deref(avro_schema_map_values(s))) != AVRO_STRING)
			return fail(err, errlen, "reader schema field 'labels' is not a map of strings");
		if (want != AVRO_UNION)
			continue;
		int *null_branch = f == F_VALUE ? &codec->value_null_branch : &codec->status_null_branch;
		int *some_branch = f == F_VALUE ? &codec->value_double_branch : &codec->status_enum_branch;
		avro_type_t some = f == F_VALUE ? AVRO_DOUBLE : AVRO_ENUM;
		*null_branch = *some_branch = -1;
		for (size_t b = 0; b < avro_schema_union_size(s); b++) {
			avro_type_t bt = avro_typeof(schema_deref(avro_schema_union_branch(s, (int)b)));
			if (bt == AVRO_NULL)
				*null_branch = (int)b;
			else if (bt == some)
				*some_branch = (int)b;
		}
		if (avro_schema_union_size(s) != 2 || *null_branch < 0 || *some_branch < 0)
			return fail(err, errlen, "reader schema field '%s' is not a union of null and %s",
				    field_names[f], f == F_VALUE ? "double" : "an enum");
	}

	avro_schema_t status = schema_deref(avro_schema_union_branch(
		schema_deref(avro_schema_record_field_get_by_index(rs, codec->field_index[F_STATUS])),
		codec->status_enum_branch));
	int nsymbols = avro_schema_enum_number_of_symbols(status);
	codec->status_of_symbol = calloc(nsymbols > 0 ? (size_t)nsymbols : 1, sizeof(int));
	if (!codec->status_of_symbol)
		return fail(err, errlen, "out of memory");
	codec->nsymbols = (size_t)nsymbols;
	for (int i = 0; i < nsymbols; i++) {
		const char *symbol = avro_schema_enum_get(status, i);
		codec->status_of_symbol[i] = AQ_STATUS_NONE;
		for (int st = AQ_OK; st <= AQ_UNKNOWN; st++) {
			if (strcmp(symbol, status_names[st]) == 0)
				codec->status_of_symbol[i] = st;
		}
	}
	for (int st = AQ_OK; st <= AQ_UNKNOWN; st++) {
		codec->symbol_of_status[st] = avro_schema_enum_get_by_name(status, status_names[st]);
		if (codec->symbol_of_status[st] < 0)
			return fail(err, errlen, "reader schema enum Status lacks %s", status_names[st]);
	}

	codec->nreader_fields = avro_schema_record_size(rs);
	codec->defaults = calloc(codec->nreader_fields, sizeof(*codec->defaults));
	if (!codec->defaults)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		const char *name = avro_schema_record_field_name(rs, (int)i);
		avro_value_t field;
		codec->defaults[i] = json_field_default(codec->reader_json, name);
		if (!codec->defaults[i])
			continue;
		/* a default the reader cannot hold is found now, not on the
		 * first message that needs it */
		if (avro_value_get_by_index(&codec->reader_value, i, &field, NULL) ||
		    set_default(codec, &field, codec->defaults[i], 0))
			return fail(err, errlen, "reader schema field '%s' has an invalid default", name);
	}
	avro_value_reset(&codec->reader_value);
	return 0;
}

static void writer_release(struct writer_entry *w)
{
	if (w->iface) {
		if (w->value.self)
			avro_value_decref(&w->value);
		avro_value_iface_decref(w->iface);
	}
	if (w->schema)
		avro_schema_decref(w->schema);
	shapes_release(&w->shapes);
	free(w->sources);
	memset(w, 0, sizeof(*w));
}

/* Prepares w (schema and fp set) for decoding: value, body shapes and where
 * each reader field comes from. On failure w holds what is to be released. */
static int writer_prepare(aq_codec_t *codec, struct writer_entry *w, char *err, size_t errlen)
{
	avro_schema_t rs = codec->reader_schema;
	char why[256];

	if (avro_typeof(w->schema) != AVRO_RECORD || !same_name(w->schema, rs))
		return fail(err, errlen, "writer schema is not a %s record", READER_NAME);
	w->iface = avro_generic_class_from_schema(w->schema);
	if (!w->iface || avro_generic_value_new(w->iface, &w->value))
		return fail(err, errlen, "cannot make a value for the writer schema: %s", avro_strerror());
	if (shape_compile(&w->shapes, w->schema, 0, &w->root) < 0)
		return fail(err, errlen, "writer schema nests deeper than %d levels", SCHEMA_DEPTH_MAX);
	w->identity = w->fp == codec->reader_fp;
	if (w->identity)
		return 0;
	w->sources = calloc(codec->nreader_fields, sizeof(*w->sources));
	if (!w->sources)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		const char *name = avro_schema_record_field_name(rs, (int)i);
		avro_schema_t rf = avro_schema_record_field_get_by_index(rs, (int)i);
		int wi = avro_schema_record_field_get_index(w->schema, name);
		w->sources[i].index = wi;
		if (wi < 0) {
			if (!codec->defaults[i])
				return fail(err, errlen,
					    "writer schema lacks field '%s', which has no default", name);
			continue;
		}
		avro_schema_t wf = avro_schema_record_field_get_by_index(w->schema, wi);
		if (schema_readable(codec, wf, rf, 1, why, sizeof(why)) < 0)
			return fail(err, errlen, "writer schema field '%s' cannot be read: %s", name, why);
		w->sources[i].same = avro_schema_equal(wf, rf);
	}
	return 0;
}

int aq_codec_add_writer_schema(aq_codec_t *codec, const char *json, char *err, size_t errlen)
{
	struct writer_entry w = { 0 };
	char why[256];

	if (aq_schema_fingerprint(json, &w.fp, why, sizeof(why)) < 0)
		return fail(err, errlen, "cannot read writer schema: %s", why);
	for (size_t i = 0; i < codec->nwriters; i++) {
		if (codec->writers[i].fp == w.fp)
			return 0;
	}
	if (avro_schema_from_json_length(json, strlen(json), &w.schema)) {
		w.schema = NULL;
		return fail(err, errlen, "cannot read writer schema: %s", avro_strerror());
	}
	if (writer_prepare(codec, &w, err, errlen) < 0)
		goto err;
	struct writer_entry *grown = realloc(codec->writers, (codec->nwriters + 1) * sizeof(*grown));
	if (!grown) {
		fail(err, errlen, "out of memory");
		goto err;
	}
	codec->writers = grown;
	codec->writers[codec->nwriters++] = w;
	codec->last = NULL;
	return 0;
err:
	writer_release(&w);
	return -1;
}

void aq_codec_free(aq_codec_t *codec)
{
	if (!codec)
		return;
	for (size_t i = 0; i < codec->nwriters; i++)
		writer_release(&codec->writers[i]);
	free(codec->writers);
	if (codec->reader_iface) {
		if (codec->reader_value.self)
			avro_value_decref(&codec->reader_value);
		avro_value_iface_decref(codec->reader_iface);
	}
	if (codec->reader_schema)
		avro_schema_decref(codec->reader_schema);
	if (codec->in)
		avro_reader_free(codec->in);
	if (codec->out)
		avro_writer_free(codec->out);
	free(codec->defaults);
	free(codec->status_of_symbol);
	names_release(&codec->reader_names);
	json_decref(codec->reader_json);
	free(codec);
}

aq_codec_t *aq_codec_new_for_reader(const char *reader_json, char *err, size_t errlen)
{
	static const char empty[1];
	char why[256];
	char *canonical = NULL;
	aq_codec_t *codec = calloc(1, sizeof(*codec));

	if (!codec) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	codec->reader_json = parse_schema_json(reader_json, why, sizeof(why));
	if (!codec->reader_json ||
	    canonical_of(codec->reader_json, &canonical, &codec->reader_names, why, sizeof(why)) < 0) {
		fail(err, errlen, "cannot read reader schema: %s", why);
		goto err;
	}
	codec->reader_fp = aq_crc64_avro(canonical, strlen(canonical));
	free(canonical);
	if (avro_schema_from_json_length(reader_json, strlen(reader_json), &codec->reader_schema)) {
		codec->reader_schema = NULL;
		fail(err, errlen, "cannot read reader schema: %s", avro_strerror());
		goto err;
	}
	codec->reader_iface = avro_generic_class_from_schema(codec->reader_schema);
	if (!codec->reader_iface || avro_generic_value_new(codec->reader_iface, &codec->reader_value)) {
		fail(err, errlen, "cannot make a value for the reader schema: %s", avro_strerror());
		goto err;
	}
	codec->in = avro_reader_memory(empty, 0);
	codec->out = avro_writer_memory(empty, 0);
	if (!codec->in || !codec->out) {
		fail(err, errlen, "out of memory");
		goto err;
	}
	if (reader_check(codec, err, errlen) < 0)
		goto err;
	if (aq_codec_add_writer_schema(codec, reader_json, err, errlen) < 0)
		goto err;
	for (const struct aq_shipped_schema *s = aq_shipped_schemas; s->name; s++) {
		if (aq_codec_add_writer_schema(codec, s->json, why, sizeof(why)) < 0) {
			fail(err, errlen, "shipped schema %s: %s", s->name, why);
			goto err;
		}
	}
	return codec;
err:
	aq_codec_free(codec);
	return NULL;
}

aq_codec_t *aq_codec_new(char *err, size_t errlen)
{
	for (const struct aq_shipped_schema *s = aq_shipped_schemas; s->name; s++) {
		if (strcmp(s->name, READER_SCHEMA_FILE) == 0)
			return aq_codec_new_for_reader(s->json, err, errlen);
	}
	fail(err, errlen, "schema %s is not compiled in", READER_SCHEMA_FILE);
	return NULL;
}

uint64_t aq_codec_writer_fingerprint(const aq_codec_t *codec)
{
	return codec->reader_fp;
}

/* 8-4-4-4-12 hexadecimal digits. */
static int is_uuid(const char *s, size_t len)
{
	static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	unsigned bad = len != 36;

	for (size_t i = 0; i < 36 && !bad; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned lower = c | 0x20;
		if (pattern[i] == '-')
			bad |= c != '-';
		else
			bad |= !((c >= '0' && c <= '9') || (lower >= 'a' && lower <= 'f'));
	}
	return !bad;
}

static int check_name_sane(const char *check, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return fail(err, errlen, "check name is empty");
	if (len > AQ_CHECK_NAME_MAX)
		return fail(err, errlen, "check name is %zu bytes long, more than %d", len,
			    AQ_CHECK_NAME_MAX);
	return 0;
}

/* What encode refuses to write and decode refuses to hand on. */
static int result_sane(const struct aq_result *r, char *err, size_t errlen)
{
	if (!is_uuid(r->event_id, strnlen(r->event_id, sizeof(r->event_id))))
		return fail(err, errlen, "event_id is not a uuid");
	if (!r->check)
		return fail(err, errlen, "check name is empty");
	if (check_name_sane(r->check, strlen(r->check), err, errlen) < 0)
		return -1;
	if (!is_clean_string(r->check))
		return fail(err, errlen, "check name is not valid utf-8");
	if (r->source && !is_clean_string(r->source))
		return fail(err, errlen, "source is not valid utf-8");
	if (r->message && !is_clean_string(r->message))
		return fail(err, errlen, "message is not valid utf-8");
	if (r->has_value && !isfinite(r->value))
		return fail(err, errlen, "value is not a finite number");
	if (r->status < AQ_STATUS_NONE || r->status > AQ_UNKNOWN)
		return fail(err, errlen, "status %d is not a status", r->status);
	if (r->nlabels > AQ_LABELS_MAX)
		return fail(err, errlen, "too many labels: %zu, at most %d", r->nlabels, AQ_LABELS_MAX);
	for (size_t i = 0; i < r->nlabels; i++) {
		const struct aq_label *l = &r->labels[i];
		if (!l->key || !l->value)
			return fail(err, errlen, "label %zu has no key or no value", i);
		if (!is_clean_string(l->key) || !is_clean_string(l->value))
			return fail(err, errlen, "label '%s' is not valid utf-8", l->key);
	}
	return 0;
}

/* Lends s to the string value v without copying: the value must not be read
 * after s is gone, which encode guarantees by resetting before each use. */
static int lend_string(avro_value_t *v, const char *s)
{
	avro_wrapped_buffer_t buf;
	if (avro_wrapped_buffer_new_string(&buf, s ? s : ""))
		return -1;
	return avro_value_give_string_len(v, &buf);
}

static int fill_record(aq_codec_t *codec, const struct aq_result *r, char *err, size_t errlen)
{
	avro_value_t *rec = &codec->reader_value;
	avro_value_t f, branch, item;
	int is_new;
	int rc = 0;

	avro_value_reset(rec);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_EVENT_ID], &f, NULL) ||
		lend_string(&f, r->event_id);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_CHECK], &f, NULL) ||
		lend_string(&f, r->check);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_SOURCE], &f, NULL) ||
		lend_string(&f, r->source);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_OBSERVED_AT], &f, NULL) ||
		avro_value_set_long(&f, r->observed_at_ms);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_VALUE], &f, NULL);
	if (r->has_value)
		rc |= avro_value_set_branch(&f, codec->value_double_branch, &branch) ||
			avro_value_set_double(&branch, r->value);
	else
		rc |= avro_value_set_branch(&f, codec->value_null_branch, &branch) ||
			avro_value_set_null(&branch);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_STATUS], &f, NULL);
	if (r->status == AQ_STATUS_NONE)
		rc |= avro_value_set_branch(&f, codec->status_null_branch, &branch) ||
			avro_value_set_null(&branch);
	else
		rc |= avro_value_set_branch(&f, codec->status_enum_branch, &branch) ||
			avro_value_set_enum(&branch, codec->symbol_of_status[r->status]);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_MESSAGE], &f, NULL) ||
		lend_string(&f, r->message);
	rc |= avro_value_get_by_index(rec, codec->field_index[F_INTERVAL_MS], &f, NULL) ||
		avro_value_set_long(&f, r->interval_ms);
	if (rc)
		return fail(err, errlen, "cannot build record: %s", avro_strerror());

	if (avro_value_get_by_index(rec, codec->field_index[F_LABELS], &f, NULL))
		return fail(err, errlen, "cannot build record: %s", avro_strerror());
	for (size_t i = 0; i < r->nlabels; i++) {
		if (avro_value_add(&f, r->labels[i].key, &item, NULL, &is_new))
			return fail(err, errlen, "cannot build record: %s", avro_strerror());
		if (!is_new)
			return fail(err, errlen, "label '%s' appears twice", r->labels[i].key);
		if (lend_string(&item, r->labels[i].value))
			return fail(err, errlen, "cannot build record: %s", avro_strerror());
	}

	/* fields of a later reader schema that this struct does not know */
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		int own = 0;
		for (int k = 0; k < NFIELDS; k++)
			own |= codec->field_index[k] == (int)i;
		if (own)
			continue;
		if (avro_value_get_by_index(rec, i, &f, NULL) ||
		    set_default(codec, &f, codec->defaults[i], 0))
			return fail(err, errlen, "field '%s' has no default to encode",
				    avro_schema_record_field_name(codec->reader_schema, (int)i));
	}
	return 0;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int aq_codec_encode(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
		    size_t errlen)
{
	unsigned char *out = buf;
	size_t cap = *len;

	codec->decoded = NULL;
	if (result_sane(r, err, errlen) < 0)
		return -1;
	if (cap < HEADER_LEN)
		return fail(err, errlen, "encode buffer too small (%zu bytes)", cap);
	if (fill_record(codec, r, err, errlen) < 0) {
		avro_value_reset(&codec->reader_value);
		return -1;
	}
	avro_writer_memory_set_dest(codec->out, (const char *)out + HEADER_LEN, (int64_t)(cap - HEADER_LEN));
	int rc = avro_value_write(codec->out, &codec->reader_value);
	if (rc == ENOSPC)
		return fail(err, errlen, "encode buffer too small (%zu bytes)", cap);
	if (rc)
		return fail(err, errlen, "cannot encode record: %s", avro_strerror());
	out[0] = MAGIC_0;
	out[1] = MAGIC_1;
	put_le64(out + 2, codec->reader_fp);
	*len = HEADER_LEN + (size_t)avro_writer_tell(codec->out);
	return 0;
}

static struct writer_entry *find_writer(aq_codec_t *codec, uint64_t fp)
{
	if (codec->last && codec->last->fp == fp)
		return codec->last;
	for (size_t i = 0; i < codec->nwriters; i++) {
		if (codec->writers[i].fp == fp) {
			codec->last = &codec->writers[i];
			return codec->last;
		}
	}
	return NULL;
}

/* Builds the reader's record from w's freshly read value. */
static int resolve(aq_codec_t *codec, struct writer_entry *w)
{
	avro_value_t *rec = &codec->reader_value;
	avro_value_t from, to;

	avro_value_reset(rec);
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		const struct field_source *src = &w->sources[i];
		if (avro_value_get_by_index(rec, i, &to, NULL))
			return -1;
		if (src->index < 0) {
			if (set_default(codec, &to, codec->defaults[i], 0))
				return -1;
			continue;
		}
		if (avro_value_get_by_index(&w->value, (size_t)src->index, &from, NULL))
			return -1;
		if (src->same ? avro_value_copy_fast(&to, &from) : convert(codec, &from, &to, 0))
			return -1;
	}
	return 0;
}

/* Copies the string field f of rec into *out (malloc'd); its length too. */
static int take_string(const aq_codec_t *codec, const avro_value_t *rec, int f, char **out, size_t *len)
{
	avro_value_t v;
	const char *s;
	size_t size;
	if (avro_value_get_by_index(rec, codec->field_index[f], &v, NULL) ||
	    avro_value_get_string(&v, &s, &size))
		return -1;
	*len = size ? size - 1 : 0;
	*out = malloc(*len + 1);
	if (!*out)
		return -1;
	memcpy(*out, s, *len);
	(*out)[*len] = '\0';
	return 0;
}

static int result_from_record(aq_codec_t *codec, const avro_value_t *rec, struct aq_result *out, char *err,
			      size_t errlen)
{
	avro_value_t v, branch, item;
	const char *s, *key;
	size_t size, len, n;
	int disc, symbol;

	if (avro_value_get_by_index(rec, codec->field_index[F_EVENT_ID], &v, NULL) ||
	    avro_value_get_string(&v, &s, &size))
		goto broken;
	if (!is_uuid(s, size ? size - 1 : 0))
		return fail(err, errlen, "event_id is not a uuid");
	memcpy(out->event_id, s, 36);
	out->event_id[36] = '\0';

	if (take_string(codec, rec, F_CHECK, &out->check, &len))
		goto broken;
	if (check_name_sane(out->check, len, err, errlen) < 0)
		return -1;
	if (take_string(codec, rec, F_SOURCE, &out->source, &len) ||
	    take_string(codec, rec, F_MESSAGE, &out->message, &len))
		goto broken;

	if (avro_value_get_by_index(rec, codec->field_index[F_OBSERVED_AT], &v, NULL) ||
	    avro_value_get_long(&v, &out->observed_at_ms))
		goto broken;
	if (avro_value_get_by_index(rec, codec->field_index[F_INTERVAL_MS], &v, NULL) ||
	    avro_value_get_long(&v, &out->interval_ms))
		goto broken;

	if (avro_value_get_by_index(rec, codec->field_index[F_VALUE], &v, NULL) ||
	    avro_value_get_discriminant(&v, &disc))
		goto broken;
	if (disc == codec->value_double_branch) {
		if (avro_value_get_current_branch(&v, &branch) || avro_value_get_double(&branch, &out->value))
			goto broken;
		if (!isfinite(out->value))
			return fail(err, errlen, "value is not a finite number");
		out->has_value = 1;
	}

	out->status = AQ_STATUS_NONE;
	if (avro_value_get_by_index(rec, codec->field_index[F_STATUS], &v, NULL) ||
	    avro_value_get_discriminant(&v, &disc))
		goto broken;
	if (disc == codec->status_enum_branch) {
		if (avro_value_get_current_branch(&v, &branch) || avro_value_get_enum(&branch, &symbol) ||
		    symbol < 0 || (size_t)symbol >= codec->nsymbols)
			goto broken;
		out->status = codec->status_of_symbol[symbol];
		if (out->status == AQ_STATUS_NONE)
			return fail(err, errlen, "status %s is not one this build knows",
				    avro_schema_enum_get(avro_value_get_schema(&branch), symbol));
	}

	if (avro_value_get_by_index(rec, codec->field_index[F_LABELS], &v, NULL) ||
	    avro_value_get_size(&v, &n))
		goto broken;
	if (n > AQ_LABELS_MAX)
		return fail(err, errlen, "too many labels: %zu, at most %d", n, AQ_LABELS_MAX);
	if (n > 0) {
		out->labels = calloc(n, sizeof(*out->labels));
		if (!out->labels)
			return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (avro_value_get_by_index(&v, i, &item, &key) || avro_value_get_string(&item, &s, &size))
			goto broken;
		out->labels[i].key = aq_strdup(key);
		out->labels[i].value = aq_strdup(s);
		out->nlabels++;
	}
	return 0;
broken:
	return fail(err, errlen, "truncated or malformed body: %s", avro_strerror());
}

int aq_codec_decode(aq_codec_t *codec, const void *buf, size_t len, struct aq_result *out, char *err,
		    size_t errlen)
{
	const unsigned char *p = buf;

	memset(out, 0, sizeof(*out));
	codec->decoded = NULL;
	if (!p || len < HEADER_LEN)
		return fail(err, errlen, "message too short (%zu bytes)", p ? len : 0);
	if (p[0] != MAGIC_0 || p[1] != MAGIC_1)
		return fail(err, errlen, "bad magic 0x%02x 0x%02x", p[0], p[1]);
	uint64_t fp = get_le64(p + 2);
	struct writer_entry *w = find_writer(codec, fp);
	if (!w)
		return fail(err, errlen, "unknown schema fingerprint 0x%016llx", (unsigned long long)fp);

	struct scan s = {
		.start = p + HEADER_LEN,
		.p = p + HEADER_LEN,
		.end = p + len,
		.sh = &w->shapes,
		.err = err,
		.errlen = errlen,
	};
	if (scan_value(&s, w->root, 0) < 0)
		return -1;
	if (s.p != s.end)
		return fail(err, errlen, "trailing bytes after body (%zu bytes)", (size_t)(s.end - s.p));

	avro_reader_memory_set_source(codec->in, (const char *)s.start, (int64_t)(len - HEADER_LEN));
	if (avro_value_read(codec->in, &w->value))
		return fail(err, errlen, "truncated or malformed body: %s", avro_strerror());
	avro_value_t *rec = &w->value;
	if (!w->identity) {
		if (resolve(codec, w) < 0)
			return fail(err, errlen, "cannot resolve writer schema 0x%016llx: %s",
				    (unsigned long long)fp, avro_strerror());
		rec = &codec->reader_value;
	}
	if (result_from_record(codec, rec, out, err, errlen) < 0) {
		aq_result_release(out);
		return -1;
	}
	codec->decoded = rec;
	return 0;
}

int aq_codec_decoded_field_json(aq_codec_t *codec, const char *name, char **out, char *err, size_t errlen)
{
	avro_value_t field;
	char *json;

	if (!codec->decoded)
		return fail(err, errlen, "no record decoded");
	if (avro_value_get_by_name(codec->decoded, name, &field, NULL))
		return fail(err, errlen, "no field '%s' in the reader schema", name);
	if (avro_value_to_json(&field, 1, &json))
		return fail(err, errlen, "cannot write field '%s' as json: %s", name, avro_strerror());
	*out = json;
	return 0;
}
