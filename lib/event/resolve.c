/* resolve.c - writer -> reader schema resolution: readability, conversion of
 * values, and the reader's field defaults */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "event/codec_internal.h"

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
json_t *aq_json_field_default(json_t *record, const char *name)
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
	json_t *def = aq_names_find(&codec->reader_names, full);
	return def ? aq_json_field_default(def, field) : NULL;
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
int aq_set_default(const aq_codec_t *codec, avro_value_t *dst, json_t *def, int depth)
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
		if (!json_is_string(def) ||
		    !aq_utf8_valid(json_string_value(def), strlen(json_string_value(def))))
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
			    aq_set_default(codec, &child, item, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_MAP:
		if (!json_is_object(def))
			return -1;
		json_object_foreach(def, key, item)
		{
			if (avro_value_add(dst, key, &child, NULL, NULL) ||
			    aq_set_default(codec, &child, item, depth + 1))
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
			    aq_set_default(codec, &child, value, depth + 1))
				return -1;
		}
		return 0;
	case AVRO_UNION:
		/* the first branch is the one a default is written for; the
		 * others are tried as a kindness to looser writers */
		for (i = 0; i < avro_schema_union_size(schema); i++) {
			if (avro_value_set_branch(dst, (int)i, &child) == 0 &&
			    aq_set_default(codec, &child, def, depth + 1) == 0)
				return 0;
		}
		return -1;
	default:
		return -1;
	}
}

int aq_schema_same_name(avro_schema_t a, avro_schema_t b)
{
	return strcmp(avro_schema_name(a), avro_schema_name(b)) == 0;
}

/* The branch of reader union r that reads values of writer schema w: the
 * first of the same type (and name), else the first that reads it. */
static int union_branch_for(const aq_codec_t *codec, avro_schema_t r, avro_schema_t w, int depth)
{
	size_t n = avro_schema_union_size(r);
	w = aq_schema_deref(w);
	for (size_t i = 0; i < n; i++) {
		avro_schema_t b = aq_schema_deref(avro_schema_union_branch(r, (int)i));
		if (avro_typeof(b) != avro_typeof(w))
			continue;
		if (is_avro_named_type(b) && !aq_schema_same_name(b, w))
			continue;
		return (int)i;
	}
	for (size_t i = 0; i < n; i++) {
		avro_schema_t b = avro_schema_union_branch(r, (int)i);
		if (aq_schema_readable(codec, w, b, depth + 1, NULL, 0) == 0)
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
int aq_schema_readable(const aq_codec_t *codec, avro_schema_t w, avro_schema_t r, int depth, char *err,
		       size_t errlen)
{
	w = aq_schema_deref(w);
	r = aq_schema_deref(r);
	if (!w || !r || depth > SCHEMA_DEPTH_MAX)
		return fail(err, errlen, "schemas nest deeper than %d levels", SCHEMA_DEPTH_MAX);
	avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);

	if (wt == AVRO_UNION) {
		for (size_t i = 0; i < avro_schema_union_size(w); i++) {
			if (aq_schema_readable(codec, avro_schema_union_branch(w, (int)i), r, depth + 1, err,
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
		return aq_schema_readable(codec, w, avro_schema_union_branch(r, branch), depth + 1, err,
					  errlen);
	}
	if (!promotes(wt, rt))
		return fail(err, errlen, "a %s cannot be read as a %s", avro_schema_type_name(w),
			    avro_schema_type_name(r));
	switch (rt) {
	case AVRO_ENUM:
		if (!aq_schema_same_name(w, r))
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
		if (!aq_schema_same_name(w, r) || avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
			return fail(err, errlen, "fixed %s cannot be read as fixed %s", avro_schema_name(w),
				    avro_schema_name(r));
		return 0;
	case AVRO_ARRAY:
		return aq_schema_readable(codec, avro_schema_array_items(w), avro_schema_array_items(r),
					  depth + 1, err, errlen);
	case AVRO_MAP:
		return aq_schema_readable(codec, avro_schema_map_values(w), avro_schema_map_values(r),
					  depth + 1, err, errlen);
	case AVRO_RECORD:
		if (!aq_schema_same_name(w, r))
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
			if (aq_schema_readable(codec, avro_schema_record_field_get_by_index(w, wi), rf,
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
			if (avro_value_get_bytes(src, &buf, &size) || !aq_utf8_valid((const char *)buf, size))
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
			if (aq_set_default(codec, &to, reader_default(codec, rs, name), depth + 1))
				return -1;
			continue;
		}
		if (avro_value_get_by_index(src, (size_t)wi, &from, NULL) ||
		    convert(codec, &from, &to, depth + 1))
			return -1;
	}
	return 0;
}

/* Builds the reader's record from w's freshly read value. */
int aq_resolve(aq_codec_t *codec, struct writer_entry *w)
{
	avro_value_t *rec = &codec->reader_value;
	avro_value_t from, to;

	avro_value_reset(rec);
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		const struct field_source *src = &w->sources[i];
		if (avro_value_get_by_index(rec, i, &to, NULL))
			return -1;
		if (src->index < 0) {
			if (aq_set_default(codec, &to, codec->defaults[i], 0))
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
