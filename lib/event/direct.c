/* direct.c - a decoder of the shipped schema's binary body that reads the
 * fields in place, without avro-c's generic values (which copy every string
 * twice). It is used only for bodies written with the shipped schema and
 * read by it; every other writer schema goes through avro-c and the
 * resolver. It gives the same results and the same refusals as that path
 * (tests/unit/test_event.c holds it to that on the fuzz corpus). The body
 * has been scanned (aq_scan_body) before: lengths are within the limits and
 * the body ends where it should; the reads here still check every bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "event/codec_internal.h"
#include "event/direct.h"

/* Branches of the shipped schema's unions. */
#define BRANCH_NULL 0
#define BRANCH_SOME 1

struct cursor {
	const unsigned char *p;
	const unsigned char *end;
};

/* Reads one zig-zag varint long. Returns 0, or -1 past the end or over 10
 * bytes. */
static int read_long(struct cursor *c, int64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (c->p >= c->end)
			return -1;
		unsigned char b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return 0;
		}
	}
	return -1;
}

/* Reads a string: *s points into the body, *len bytes. */
static int read_string(struct cursor *c, const char **s, size_t *len)
{
	int64_t n;
	if (read_long(c, &n) != 0 || n < 0 || n > c->end - c->p)
		return -1;
	*s = (const char *)c->p;
	*len = (size_t)n;
	c->p += n;
	return 0;
}

static int read_double(struct cursor *c, double *out)
{
	uint64_t bits = 0;
	if (c->end - c->p < 8)
		return -1;
	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)c->p[i] << (8 * i);
	memcpy(out, &bits, sizeof(*out));
	c->p += 8;
	return 0;
}

/* A malloc'd copy of len bytes at s, NUL-terminated. */
static char *copy_bytes(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Adds a label as avro-c's map does: keys and values are C strings (cut at
 * a NUL), a key seen before keeps its place and takes the later value.
 * Returns 0, or -1 when out of memory. */
static int put_label(struct aq_result *out, size_t cap, const char *k, size_t klen, const char *v,
		     size_t vlen)
{
	klen = strnlen(k, klen);
	vlen = strnlen(v, vlen);
	char *value = copy_bytes(v, vlen);
	if (!value)
		return -1;
	for (size_t i = 0; i < out->nlabels; i++) {
		if (strlen(out->labels[i].key) == klen && memcmp(out->labels[i].key, k, klen) == 0) {
			free(out->labels[i].value);
			out->labels[i].value = value;
			return 0;
		}
	}
	char *key = copy_bytes(k, klen);
	if (!key || out->nlabels >= cap) {
		free(key);
		free(value);
		return -1;
	}
	out->labels[out->nlabels].key = key;
	out->labels[out->nlabels].value = value;
	out->nlabels++;
	return 0;
}

/* Walks the labels map from c: blocks of items until an empty one; a
 * negative count is followed by the block's size in bytes. Counts the
 * items into *items when not NULL. Returns 0, or -1 when malformed. */
static int walk_labels(struct cursor *c, size_t *items)
{
	for (;;) {
		int64_t n, bytes;
		if (read_long(c, &n) != 0)
			return -1;
		if (n == 0)
			return 0;
		if (n < 0) {
			if (n == INT64_MIN || read_long(c, &bytes) != 0)
				return -1;
			n = -n;
		}
		for (int64_t i = 0; i < n; i++) {
			const char *k, *v;
			size_t klen, vlen;
			if (read_string(c, &k, &klen) != 0 || read_string(c, &v, &vlen) != 0)
				return -1;
			if (items)
				(*items)++;
		}
	}
}

/* Reads the labels map at c (walked before) into out; the scan has held it
 * to AQ_LABELS_MAX items. Returns 0, or -1 with the reason in err. */
static int read_labels(struct cursor *c, struct aq_result *out, char *err, size_t errlen)
{
	struct cursor walk = *c;
	size_t items = 0;
	if (walk_labels(&walk, &items) != 0)
		return fail(err, errlen, "truncated or malformed body");
	if (items > 0) {
		out->labels = calloc(items, sizeof(*out->labels));
		if (!out->labels)
			return fail(err, errlen, "out of memory");
	}
	for (;;) {
		int64_t n, bytes;
		if (read_long(c, &n) != 0)
			return fail(err, errlen, "truncated or malformed body");
		if (n == 0)
			break;
		if (n < 0 && read_long(c, &bytes) != 0)
			return fail(err, errlen, "truncated or malformed body");
		if (n < 0)
			n = -n;
		for (int64_t i = 0; i < n; i++) {
			const char *k, *v;
			size_t klen, vlen;
			if (read_string(c, &k, &klen) != 0 || read_string(c, &v, &vlen) != 0)
				return fail(err, errlen, "truncated or malformed body");
			if (put_label(out, items, k, klen, v, vlen) != 0)
				return fail(err, errlen, "out of memory");
		}
	}
	return 0;
}

int aq_direct_decode(const aq_codec_t *codec, const unsigned char *body, const unsigned char *end,
		     struct aq_result *out, char *err, size_t errlen)
{
	struct cursor c = { body, end };
	const char *event_id, *check, *source, *message;
	size_t event_id_len, check_len, source_len, message_len;
	int64_t observed_at, value_branch, status_branch, symbol = 0, interval, expires_branch;
	int64_t expires_at = 0;
	double value = 0;

	/* the shipped schema's fields in its order; the checks after, in the
	 * order the generic path makes them */
	if (read_string(&c, &event_id, &event_id_len) || read_string(&c, &check, &check_len) ||
	    read_string(&c, &source, &source_len) || read_long(&c, &observed_at) ||
	    read_long(&c, &value_branch) || (value_branch == BRANCH_SOME && read_double(&c, &value)) ||
	    read_long(&c, &status_branch) || (status_branch == BRANCH_SOME && read_long(&c, &symbol)))
		goto broken;
	if ((value_branch != BRANCH_NULL && value_branch != BRANCH_SOME) ||
	    (status_branch != BRANCH_NULL && status_branch != BRANCH_SOME))
		goto broken;
	if (read_string(&c, &message, &message_len))
		goto broken;
	const unsigned char *labels_at = c.p;
	/* the labels are read last, as their refusal comes last */
	if (walk_labels(&c, NULL) != 0)
		goto broken;
	if (read_long(&c, &interval) || read_long(&c, &expires_branch) ||
	    (expires_branch == BRANCH_SOME && read_long(&c, &expires_at)))
		goto broken;
	if (expires_branch != BRANCH_NULL && expires_branch != BRANCH_SOME)
		goto broken;

	if (!aq_event_id_valid(event_id, event_id_len))
		return fail(err, errlen, "event_id is not a uuid");
	memcpy(out->event_id, event_id, 36);
	out->event_id[36] = '\0';
	out->check = copy_bytes(check, check_len);
	out->source = copy_bytes(source, source_len);
	out->message = aq_message_copy(message, message_len, NULL);
	if (!out->check || !out->source || !out->message)
		return fail(err, errlen, "out of memory");
	out->observed_at_ms = observed_at;
	out->interval_ms = interval;
	if (expires_branch == BRANCH_SOME) {
		out->expires_at_ms = expires_at;
		if (expires_at == 0)
			return fail(err, errlen, "expires_at is before the year 2000");
	}
	if (value_branch == BRANCH_SOME) {
		out->value = value;
		if (!isfinite(value))
			return fail(err, errlen, "value is not a finite number");
		out->has_value = 1;
	}
	out->status = AQ_STATUS_NONE;
	if (status_branch == BRANCH_SOME) {
		/* the scan refuses a symbol past the enum's first; kept, as it
		 * indexes an array */
		if (symbol < 0 || (uint64_t)symbol >= codec->nsymbols)
			goto broken;
		out->status = codec->status_of_symbol[symbol];
		if (out->status == AQ_STATUS_NONE)
			return fail(err, errlen, "status %lld is not one this build knows",
				    (long long)symbol);
	}
	c.p = labels_at;
	if (read_labels(&c, out, err, errlen) != 0)
		return -1;
	return aq_result_validate(out, AQ_NOW_UNKNOWN, err, errlen);
broken:
	return fail(err, errlen, "truncated or malformed body");
}
