/* direct_encode.c - an encoder of a result's binary body that writes the
 * fields straight into the output, without filling avro-c's generic record
 * first (which resets and rebuilds the record, its map and every string
 * wrapper for each result). It writes the bytes avro-c writes for the same
 * record, field by field in the reader schema's order (tests/unit/
 * test_event.c holds the two to the same bytes); a reader schema with fields
 * struct aq_result does not hold (a later version, with defaults to write)
 * still goes through avro-c. */
#include <string.h>

#include "event/codec_internal.h"
#include "event/direct_encode.h"

struct out {
	unsigned char *p;
	unsigned char *end;
	int full; /* something did not fit */
};

static void put_long(struct out *o, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	if (o->end - o->p < 10) {
		/* near the end: byte by byte, checked */
		do {
			if (o->p >= o->end) {
				o->full = 1;
				return;
			}
			unsigned char b = (unsigned char)(z & 0x7f);
			z >>= 7;
			*o->p++ = (unsigned char)(z ? b | 0x80 : b);
		} while (z);
		return;
	}
	while (z >= 0x80) {
		*o->p++ = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	*o->p++ = (unsigned char)z;
}

static void put_bytes(struct out *o, const char *s, size_t len)
{
	put_long(o, (int64_t)len);
	if (o->full || (size_t)(o->end - o->p) < len) {
		o->full = 1;
		return;
	}
	memcpy(o->p, s, len);
	o->p += len;
}

/* A C string, NULL written as "" as avro-c's encode is given it. */
static void put_string(struct out *o, const char *s)
{
	put_bytes(o, s ? s : "", s ? strlen(s) : 0);
}

static void put_double(struct out *o, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	if (o->end - o->p < 8) {
		o->full = 1;
		return;
	}
	for (int i = 0; i < 8; i++)
		o->p[i] = (unsigned char)(bits >> (8 * i));
	o->p += 8;
}

int aq_direct_encode_prepare(aq_codec_t *codec)
{
	size_t known = 0;
	for (int f = 0; f < NFIELDS; f++)
		known += codec->field_index[f] >= 0;
	/* a reader without expires_at (version 1) refuses a result that has
	 * one, which avro-c's path says */
	if (known != NFIELDS || codec->nreader_fields != NFIELDS)
		return 0;
	for (int f = 0; f < NFIELDS; f++)
		codec->encode_order[codec->field_index[f]] = (enum field)f;
	return 1;
}

/* Writes field f of r. */
static void put_field(struct out *o, const aq_codec_t *codec, const struct aq_result *r, enum field f)
{
	switch (f) {
	case F_EVENT_ID:
		put_bytes(o, r->event_id, strnlen(r->event_id, sizeof(r->event_id)));
		break;
	case F_CHECK:
		put_string(o, r->check);
		break;
	case F_SOURCE:
		put_string(o, r->source);
		break;
	case F_OBSERVED_AT:
		put_long(o, r->observed_at_ms);
		break;
	case F_VALUE:
		if (r->has_value) {
			put_long(o, codec->value_double_branch);
			put_double(o, r->value);
		} else {
			put_long(o, codec->value_null_branch);
		}
		break;
	case F_STATUS:
		if (r->status == AQ_STATUS_NONE) {
			put_long(o, codec->status_null_branch);
		} else {
			put_long(o, codec->status_enum_branch);
			put_long(o, codec->symbol_of_status[r->status]);
		}
		break;
	case F_MESSAGE:
		put_string(o, r->message);
		break;
	case F_LABELS:
		/* one block of every item, then the empty block that ends a map */
		if (r->nlabels > 0) {
			put_long(o, (int64_t)r->nlabels);
			for (size_t i = 0; i < r->nlabels; i++) {
				put_string(o, r->labels[i].key);
				put_string(o, r->labels[i].value);
			}
		}
		put_long(o, 0);
		break;
	case F_INTERVAL_MS:
		put_long(o, r->interval_ms);
		break;
	case F_EXPIRES_AT:
		if (r->expires_at_ms != 0) {
			put_long(o, codec->expires_long_branch);
			put_long(o, r->expires_at_ms);
		} else {
			put_long(o, codec->expires_null_branch);
		}
		break;
	case NFIELDS:
		break;
	}
}

int aq_direct_encode(const aq_codec_t *codec, const struct aq_result *r, unsigned char *out, size_t cap,
		     size_t *len)
{
	struct out o = { out, out + cap, 0 };
	for (size_t i = 0; i < NFIELDS && !o.full; i++)
		put_field(&o, codec, r, codec->encode_order[i]);
	if (o.full)
		return -1;
	*len = (size_t)(o.p - out);
	return 0;
}
