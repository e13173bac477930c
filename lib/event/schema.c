/* schema.c - Avro schemas: CRC-64-AVRO, Parsing Canonical Form, fingerprints */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "event/codec_internal.h"

#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

/* Caps on what a schema may be: its text and its canonical form (names and
 * nesting are capped in codec_internal.h). */
#define SCHEMA_TEXT_MAX (1024 * 1024)
#define CANONICAL_MAX (1024 * 1024)

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

/* Appends s as a JSON string. Names and symbols are checked before they get
 * here, so escaping matters only for what the checks let through. */
static void sb_quoted(struct aq_buf *sb, const char *s)
{
	aq_buf_add(sb, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			aq_buf_add(sb, esc, 2);
		} else if (c < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			aq_buf_add(sb, esc, 6);
		} else {
			aq_buf_add(sb, p, 1);
		}
	}
	aq_buf_add(sb, "\"", 1);
}

/* ---- Parsing Canonical Form ---- */

void aq_names_release(struct names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i].fullname);
	free(names->v);
	memset(names, 0, sizeof(*names));
}

json_t *aq_names_find(const struct names *names, const char *fullname)
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
	struct aq_buf out;
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
	if (aq_names_find(&c->names, full)) {
		sb_quoted(&c->out, full);
		return 0;
	}
	/* a plain name not found in the enclosing namespace may name a type
	 * of the null namespace */
	if (!strchr(name, '.') && aq_names_find(&c->names, name)) {
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
	aq_buf_puts(&c->out, ",\"fields\":[");
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
		aq_buf_puts(&c->out, i ? ",{\"name\":" : "{\"name\":");
		sb_quoted(&c->out, name);
		aq_buf_puts(&c->out, ",\"type\":");
		if (canon_schema(c, type, ns, depth + 1) < 0)
			return -1;
		aq_buf_puts(&c->out, "}");
	}
	aq_buf_puts(&c->out, "]");
	return 0;
}

static int canon_symbols(struct canon *c, json_t *symbols, const char *name)
{
	size_t i;
	json_t *symbol;

	if (!json_is_array(symbols))
		return fail(c->err, c->errlen, "enum '%s' has no \"symbols\" array", name);
	aq_buf_puts(&c->out, ",\"symbols\":[");
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
			aq_buf_puts(&c->out, ",");
		sb_quoted(&c->out, text);
	}
	aq_buf_puts(&c->out, "]");
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
	if (aq_names_find(&c->names, full))
		return fail(c->err, c->errlen, "type '%s' is defined twice", full);
	if (names_add(&c->names, full, schema) < 0)
		return fail(c->err, c->errlen, "out of memory");

	char inner_ns[NAME_LEN_MAX + 1];
	const char *dot = strrchr(full, '.');
	size_t ns_len = dot ? (size_t)(dot - full) : 0;
	memcpy(inner_ns, full, ns_len);
	inner_ns[ns_len] = '\0';

	aq_buf_puts(&c->out, "{\"name\":");
	sb_quoted(&c->out, full);
	aq_buf_puts(&c->out, ",\"type\":");
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
		aq_buf_puts(&c->out, text);
	}
	aq_buf_puts(&c->out, "}");
	return 0;
}

/* array or map: {"type":kind,"items"|"values":schema} */
static int canon_container(struct canon *c, json_t *schema, const char *kind, const char *key, const char *ns,
			   int depth)
{
	json_t *child = json_object_get(schema, key);
	if (!child)
		return fail(c->err, c->errlen, "%s schema has no \"%s\"", kind, key);
	aq_buf_puts(&c->out, "{\"type\":");
	sb_quoted(&c->out, kind);
	aq_buf_puts(&c->out, ",\"");
	aq_buf_puts(&c->out, key);
	aq_buf_puts(&c->out, "\":");
	if (canon_schema(c, child, ns, depth + 1) < 0)
		return -1;
	aq_buf_puts(&c->out, "}");
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
		aq_buf_puts(&c->out, "[");
		json_array_foreach(schema, i, branch)
		{
			if (i)
				aq_buf_puts(&c->out, ",");
			if (canon_schema(c, branch, ns, depth + 1) < 0)
				return -1;
		}
		aq_buf_puts(&c->out, "]");
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
int aq_schema_canonical_of(json_t *root, char **out, struct names *names, char *err, size_t errlen)
{
	struct canon c = { .err = err, .errlen = errlen };

	aq_buf_init(&c.out, CANONICAL_MAX);
	if (canon_schema(&c, root, "", 0) < 0)
		goto err;
	char *text = aq_buf_take(&c.out);
	if (!text) {
		fail(err, errlen, "canonical form is longer than %d bytes", CANONICAL_MAX);
		goto err;
	}
	*out = text;
	if (names)
		*names = c.names;
	else
		aq_names_release(&c.names);
	return 0;
err:
	aq_buf_release(&c.out);
	aq_names_release(&c.names);
	return -1;
}

json_t *aq_schema_parse_json(const char *json, char *err, size_t errlen)
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
	json_t *root = aq_schema_parse_json(json, err, errlen);
	if (!root)
		return -1;
	int rc = aq_schema_canonical_of(root, out, NULL, err, errlen);
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

avro_schema_t aq_schema_deref(avro_schema_t s)
{
	for (int i = 0; s && avro_typeof(s) == AVRO_LINK && i < SCHEMA_DEPTH_MAX; i++)
		s = avro_schema_link_target(s);
	return s;
}
