/* scan.c - the bounds pre-scan: checks a body against a writer schema before
 * avro-c reads it, so that every length and index avro-c meets is in bounds */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "event/codec_internal.h"

/* Items of zero encoded size (null, an empty record) cost no body bytes, so
 * an array or map of them is bounded by this rather than by the body. */
#define ZERO_SIZE_ITEMS_MAX 4096

void aq_shapes_release(struct shapes *sh)
{
	free(sh->v);
	free(sh->kids);
	memset(sh, 0, sizeof(*sh));
}

int aq_shape_compile(struct shapes *sh, avro_schema_t s, int depth, size_t *out)
{
	s = aq_schema_deref(s);
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
		if (aq_shape_compile(sh, avro_schema_array_items(s), depth + 1, &item) < 0)
			return -1;
		sh->v[idx].child = item;
		return 0;
	case AVRO_MAP:
		if (aq_shape_compile(sh, avro_schema_map_values(s), depth + 1, &item) < 0)
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
		if (aq_shape_compile(sh, kid, depth + 1, &kids[i]) < 0) {
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

/* What each limit on a string is called in a reason, and its bound. */
static const struct {
	const char *what;
	int64_t max;
} string_limits[] = {
	[LIMIT_EVENT_ID] = { "event_id", 36 },
	[LIMIT_CHECK] = { "check name", AQ_CHECK_NAME_MAX },
	[LIMIT_SOURCE] = { "source", AQ_SOURCE_MAX },
	[LIMIT_LABEL_KEY] = { "label key", AQ_LABEL_KEY_MAX },
	[LIMIT_LABEL_VALUE] = { "label value", AQ_LABEL_VALUE_MAX },
};

static int scan_bytes(struct scan *s, int is_string, enum shape_limit limit)
{
	int64_t len;
	if (scan_varint(s, 10, &len) < 0)
		return -1;
	if (len < 0 || len > s->end - s->p)
		return scan_fail(s, "length past the end");
	if (limit != LIMIT_NONE && limit != LIMIT_LABELS && len > string_limits[limit].max)
		return fail(s->err, s->errlen, "%s is %lld bytes long, more than %lld",
			    string_limits[limit].what, (long long)len, (long long)string_limits[limit].max);
	if (is_string && !aq_utf8_valid((const char *)s->p, (size_t)len))
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
		if (shape->limit == LIMIT_LABELS && total > AQ_LABELS_MAX)
			return fail(s->err, s->errlen, "too many labels: %lld, at most %d", (long long)total,
				    AQ_LABELS_MAX);
		for (int64_t i = 0; i < count; i++) {
			if (shape->type == AVRO_MAP &&
			    scan_bytes(s, 1, shape->limit == LIMIT_LABELS ? LIMIT_LABEL_KEY : LIMIT_NONE) < 0)
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
		return scan_bytes(s, shape->type == AVRO_STRING, shape->limit);
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

void aq_shape_limit(struct shapes *sh, size_t idx, enum shape_limit limit)
{
	struct shape *shape = &sh->v[idx];
	switch (shape->type) {
	case AVRO_UNION:
		for (int64_t i = 0; i < shape->n; i++)
			aq_shape_limit(sh, sh->kids[shape->child + (size_t)i], limit);
		return;
	case AVRO_MAP:
		if (limit == LIMIT_LABELS) {
			shape->limit = limit;
			aq_shape_limit(sh, shape->child, LIMIT_LABEL_VALUE);
		}
		return;
	case AVRO_STRING:
	case AVRO_BYTES:
		if (limit != LIMIT_LABELS)
			shape->limit = limit;
		return;
	default:
		return;
	}
}

int aq_scan_body(const struct shapes *sh, size_t root, const unsigned char *start, const unsigned char *end,
		 const unsigned char **stop, char *err, size_t errlen)
{
	struct scan s = {
		.start = start,
		.p = start,
		.end = end,
		.sh = sh,
		.err = err,
		.errlen = errlen,
	};
	if (scan_value(&s, root, 0) < 0)
		return -1;
	*stop = s.p;
	return 0;
}
