/* codec.c - the codec object: single-object encoding and decoding of check results */
#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/codec_internal.h"
#include "event/direct.h"
#include "event/direct_encode.h"

#define HEADER_LEN 10
#define MAGIC_0 0xc3
#define MAGIC_1 0x01
#define READER_SCHEMA_FILE "check_result.avsc"
#define READER_NAMESPACE "alertq"
#define READER_NAME "CheckResult"

static const char *const field_names[NFIELDS] = {
	"event_id", "check",   "source", "observed_at", "value",
	"status",   "message", "labels", "interval_ms", "expires_at",
};

/* The fields whose encoded length the body scan holds to a limit, so that
 * decode refuses them before copying anything over it. */
static const struct {
	enum field field;
	enum shape_limit limit;
} field_limits[] = {
	{ F_EVENT_ID, LIMIT_EVENT_ID },
	{ F_CHECK, LIMIT_CHECK },
	{ F_SOURCE, LIMIT_SOURCE },
	{ F_LABELS, LIMIT_LABELS },
};

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
		codec->field_index[f] = idx;
		if (idx < 0 && f == F_EXPIRES_AT)
			continue; /* a reader of before version 2 */
		if (idx < 0)
			return fail(err, errlen, "reader schema lacks field '%s'", field_names[f]);
		avro_schema_t s = aq_schema_deref(avro_schema_record_field_get_by_index(rs, idx));
		avro_type_t want;
		switch (f) {
		case F_OBSERVED_AT:
		case F_INTERVAL_MS:
			want = AVRO_INT64;
			break;
		case F_VALUE:
		case F_STATUS:
		case F_EXPIRES_AT:
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
		if (f == F_LABELS && avro_typeof(aq_schema_deref(avro_schema_map_values(s))) != AVRO_STRING)
			return fail(err, errlen, "reader schema field 'labels' is not a map of strings");
		if (want != AVRO_UNION)
			continue;
		int *null_branch = f == F_VALUE ? &codec->value_null_branch
			: f == F_STATUS         ? &codec->status_null_branch
						: &codec->expires_null_branch;
		int *some_branch = f == F_VALUE ? &codec->value_double_branch
			: f == F_STATUS         ? &codec->status_enum_branch
						: &codec->expires_long_branch;
		avro_type_t some = f == F_VALUE ? AVRO_DOUBLE : f == F_STATUS ? AVRO_ENUM : AVRO_INT64;
		*null_branch = *some_branch = -1;
		for (size_t b = 0; b < avro_schema_union_size(s); b++) {
			avro_type_t bt = avro_typeof(aq_schema_deref(avro_schema_union_branch(s, (int)b)));
			if (bt == AVRO_NULL)
				*null_branch = (int)b;
			else if (bt == some)
				*some_branch = (int)b;
		}
		if (avro_schema_union_size(s) != 2 || *null_branch < 0 || *some_branch < 0)
			return fail(err, errlen, "reader schema field '%s' is not a union of null and %s",
				    field_names[f],
				    f == F_VALUE            ? "double"
					    : f == F_STATUS ? "an enum"
							    : "long");
	}

	avro_schema_t status = aq_schema_deref(avro_schema_union_branch(
		aq_schema_deref(avro_schema_record_field_get_by_index(rs, codec->field_index[F_STATUS])),
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
			if (strcmp(symbol, aq_status_name(st)) == 0)
				codec->status_of_symbol[i] = st;
		}
	}
	for (int st = AQ_OK; st <= AQ_UNKNOWN; st++) {
		codec->symbol_of_status[st] = avro_schema_enum_get_by_name(status, aq_status_name(st));
		if (codec->symbol_of_status[st] < 0)
			return fail(err, errlen, "reader schema enum Status lacks %s", aq_status_name(st));
	}

	codec->nreader_fields = avro_schema_record_size(rs);
	codec->defaults = calloc(codec->nreader_fields, sizeof(*codec->defaults));
	if (!codec->defaults)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < codec->nreader_fields; i++) {
		const char *name = avro_schema_record_field_name(rs, (int)i);
		avro_value_t field;
		codec->defaults[i] = aq_json_field_default(codec->reader_json, name);
		if (!codec->defaults[i])
			continue;
		/* a default the reader cannot hold is found now, not on the
		 * first message that needs it */
		if (avro_value_get_by_index(&codec->reader_value, i, &field, NULL) ||
		    aq_set_default(codec, &field, codec->defaults[i], 0))
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
	aq_shapes_release(&w->shapes);
	free(w->sources);
	memset(w, 0, sizeof(*w));
}

/* Prepares w (schema and fp set) for decoding: value, body shapes and where
 * each reader field comes from. On failure w holds what is to be released. */
static int writer_prepare(aq_codec_t *codec, struct writer_entry *w, char *err, size_t errlen)
{
	avro_schema_t rs = codec->reader_schema;
	char why[256];

	if (avro_typeof(w->schema) != AVRO_RECORD || !aq_schema_same_name(w->schema, rs))
		return fail(err, errlen, "writer schema is not a %s record", READER_NAME);
	w->iface = avro_generic_class_from_schema(w->schema);
	if (!w->iface || avro_generic_value_new(w->iface, &w->value))
		return fail(err, errlen, "cannot make a value for the writer schema: %s", avro_strerror());
	if (aq_shape_compile(&w->shapes, w->schema, 0, &w->root) < 0)
		return fail(err, errlen, "writer schema nests deeper than %d levels", SCHEMA_DEPTH_MAX);
	for (size_t i = 0; i < sizeof(field_limits) / sizeof(field_limits[0]); i++) {
		int wi = avro_schema_record_field_get_index(w->schema, field_names[field_limits[i].field]);
		const struct shape *record = &w->shapes.v[w->root];
		if (wi >= 0 && wi < record->n)
			aq_shape_limit(&w->shapes, w->shapes.kids[record->child + (size_t)wi],
				       field_limits[i].limit);
	}
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
		if (aq_schema_readable(codec, wf, rf, 1, why, sizeof(why)) < 0)
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
	aq_names_release(&codec->reader_names);
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
	codec->reader_json = aq_schema_parse_json(reader_json, why, sizeof(why));
	if (!codec->reader_json ||
	    aq_schema_canonical_of(codec->reader_json, &canonical, &codec->reader_names, why, sizeof(why)) <
		    0) {
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

void aq_codec_set_direct(aq_codec_t *codec, int on)
{
	for (size_t i = 0; i < codec->nwriters; i++)
		codec->writers[i].direct = on && codec->writers[i].identity &&
			codec->writers[i].fp == codec->reader_fp;
	codec->encode_direct = on && aq_direct_encode_prepare(codec);
}

aq_codec_t *aq_codec_new(char *err, size_t errlen)
{
	for (const struct aq_shipped_schema *s = aq_shipped_schemas; s->name; s++) {
		if (strcmp(s->name, READER_SCHEMA_FILE) != 0)
			continue;
		aq_codec_t *codec = aq_codec_new_for_reader(s->json, err, errlen);
		/* the shipped schema read by itself: its bodies are decoded
		 * directly */
		if (codec)
			aq_codec_set_direct(codec, 1);
		return codec;
	}
	fail(err, errlen, "schema %s is not compiled in", READER_SCHEMA_FILE);
	return NULL;
}

uint64_t aq_codec_writer_fingerprint(const aq_codec_t *codec)
{
	return codec->reader_fp;
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
	if (codec->field_index[F_EXPIRES_AT] < 0) {
		if (r->expires_at_ms != 0)
			return fail(err, errlen, "the reader schema has no expires_at to write");
	} else {
		rc |= avro_value_get_by_index(rec, codec->field_index[F_EXPIRES_AT], &f, NULL);
		if (r->expires_at_ms != 0)
			rc |= avro_value_set_branch(&f, codec->expires_long_branch, &branch) ||
				avro_value_set_long(&branch, r->expires_at_ms);
		else
			rc |= avro_value_set_branch(&f, codec->expires_null_branch, &branch) ||
				avro_value_set_null(&branch);
	}
	if (rc)
		return fail(err, errlen, "cannot build record: %s", avro_strerror());

	if (avro_value_get_by_index(rec, codec->field_index[F_LABELS], &f, NULL))
		return fail(err, errlen, "cannot build record: %s", avro_strerror());
	for (size_t i = 0; i < r->nlabels; i++) {
		if (avro_value_add(&f, r->labels[i].key, &item, NULL, &is_new))
			return fail(err, errlen, "cannot build record: %s", avro_strerror());
		if (!is_new)
			return fail(err, errlen, "label %zu appears twice", i);
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
		    aq_set_default(codec, &f, codec->defaults[i], 0))
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

/* Encodes r, its message within AQ_MESSAGE_MAX, as aq_codec_encode() does;
 * checked: r passed aq_result_validate() already. */
static int encode_bounded(aq_codec_t *codec, const struct aq_result *r, int checked, void *buf, size_t *len,
			  char *err, size_t errlen)
{
	unsigned char *out = buf;
	size_t cap = *len;

	if (!checked && aq_result_validate(r, AQ_NOW_UNKNOWN, err, errlen) < 0)
		return -1;
	if (cap < HEADER_LEN)
		return fail(err, errlen, "encode buffer too small (%zu bytes)", cap);
	size_t body_len;
	if (codec->encode_direct) {
		if (aq_direct_encode(codec, r, out + HEADER_LEN, cap - HEADER_LEN, &body_len) < 0)
			return fail(err, errlen, "encode buffer too small (%zu bytes)", cap);
	} else {
		if (fill_record(codec, r, err, errlen) < 0) {
			avro_value_reset(&codec->reader_value);
			return -1;
		}
		avro_writer_memory_set_dest(codec->out, (const char *)out + HEADER_LEN,
					    (int64_t)(cap - HEADER_LEN));
		int rc = avro_value_write(codec->out, &codec->reader_value);
		if (rc == ENOSPC)
			return fail(err, errlen, "encode buffer too small (%zu bytes)", cap);
		if (rc)
			return fail(err, errlen, "cannot encode record: %s", avro_strerror());
		body_len = (size_t)avro_writer_tell(codec->out);
	}
	out[0] = MAGIC_0;
	out[1] = MAGIC_1;
	put_le64(out + 2, codec->reader_fp);
	*len = HEADER_LEN + body_len;
	return 0;
}

int aq_codec_encode(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
		    size_t errlen)
{
	codec->decoded = NULL;
	codec->lazy_writer = NULL;
	if (!r->message || strlen(r->message) <= AQ_MESSAGE_MAX)
		return encode_bounded(codec, r, 0, buf, len, err, errlen);

	/* the cut copy is lent to the record, which encode_bounded is done
	 * reading when it returns */
	struct aq_result bounded = *r;
	bounded.message = aq_message_copy(r->message, strlen(r->message), NULL);
	if (!bounded.message)
		return fail(err, errlen, "out of memory");
	int rc = encode_bounded(codec, &bounded, 0, buf, len, err, errlen);
	free(bounded.message);
	return rc;
}

int aq_codec_encode_valid(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
			  size_t errlen)
{
	codec->decoded = NULL;
	codec->lazy_writer = NULL;
	return encode_bounded(codec, r, 1, buf, len, err, errlen);
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

/* Copies the string field f of rec into *out (malloc'd), a message cut to
 * AQ_MESSAGE_MAX; the length of the field too. */
static int take_string(const aq_codec_t *codec, const avro_value_t *rec, int f, char **out, size_t *len)
{
	avro_value_t v;
	const char *s;
	size_t size;
	if (avro_value_get_by_index(rec, codec->field_index[f], &v, NULL) ||
	    avro_value_get_string(&v, &s, &size))
		return -1;
	*len = size ? size - 1 : 0;
	if (f == F_MESSAGE) {
		*out = aq_message_copy(s, *len, NULL);
		return *out ? 0 : -1;
	}
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
	if (!aq_event_id_valid(s, size ? size - 1 : 0))
		return fail(err, errlen, "event_id is not a uuid");
	memcpy(out->event_id, s, 36);
	out->event_id[36] = '\0';

	if (take_string(codec, rec, F_CHECK, &out->check, &len) ||
	    take_string(codec, rec, F_SOURCE, &out->source, &len) ||
	    take_string(codec, rec, F_MESSAGE, &out->message, &len))
		goto broken;

	if (avro_value_get_by_index(rec, codec->field_index[F_OBSERVED_AT], &v, NULL) ||
	    avro_value_get_long(&v, &out->observed_at_ms))
		goto broken;
	if (avro_value_get_by_index(rec, codec->field_index[F_INTERVAL_MS], &v, NULL) ||
	    avro_value_get_long(&v, &out->interval_ms))
		goto broken;

	if (codec->field_index[F_EXPIRES_AT] >= 0) {
		if (avro_value_get_by_index(rec, codec->field_index[F_EXPIRES_AT], &v, NULL) ||
		    avro_value_get_discriminant(&v, &disc))
			goto broken;
		if (disc == codec->expires_long_branch) {
			if (avro_value_get_current_branch(&v, &branch) ||
			    avro_value_get_long(&branch, &out->expires_at_ms))
				goto broken;
			/* a written 0 would mean "none": it is no time of the years allowed */
			if (out->expires_at_ms == 0)
				return fail(err, errlen, "expires_at is before the year 2000");
		}
	}

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
	/* defaults and promotions had no limits applied by the scan */
	return aq_result_validate(out, AQ_NOW_UNKNOWN, err, errlen);
broken:
	return fail(err, errlen, "truncated or malformed body: %s", avro_strerror());
}

int aq_codec_decode(aq_codec_t *codec, const void *buf, size_t len, struct aq_result *out, char *err,
		    size_t errlen)
{
	const unsigned char *p = buf;

	memset(out, 0, sizeof(*out));
	codec->decoded = NULL;
	codec->lazy_writer = NULL;
	if (!p || len < HEADER_LEN)
		return fail(err, errlen, "message too short (%zu bytes)", p ? len : 0);
	if (p[0] != MAGIC_0 || p[1] != MAGIC_1)
		return fail(err, errlen, "bad magic 0x%02x 0x%02x", p[0], p[1]);
	uint64_t fp = get_le64(p + 2);
	struct writer_entry *w = find_writer(codec, fp);
	if (!w)
		return fail(err, errlen, "unknown schema fingerprint 0x%016llx", (unsigned long long)fp);

	const unsigned char *body = p + HEADER_LEN, *end = p + len, *stop;
	if (aq_scan_body(&w->shapes, w->root, body, end, &stop, err, errlen) < 0)
		return -1;
	if (stop != end)
		return fail(err, errlen, "trailing bytes after body (%zu bytes)", (size_t)(end - stop));
	if (w->direct) {
		if (aq_direct_decode(codec, body, end, out, err, errlen) < 0) {
			aq_result_release(out);
			return -1;
		}
		codec->lazy_writer = w;
		codec->lazy_body = body;
		codec->lazy_len = len - HEADER_LEN;
		return 0;
	}

	avro_reader_memory_set_source(codec->in, (const char *)body, (int64_t)(len - HEADER_LEN));
	if (avro_value_read(codec->in, &w->value))
		return fail(err, errlen, "truncated or malformed body: %s", avro_strerror());
	avro_value_t *rec = &w->value;
	if (!w->identity) {
		if (aq_resolve(codec, w) < 0)
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

	if (!codec->decoded && codec->lazy_writer) {
		struct writer_entry *w = codec->lazy_writer;
		codec->lazy_writer = NULL;
		avro_reader_memory_set_source(codec->in, (const char *)codec->lazy_body,
					      (int64_t)codec->lazy_len);
		if (avro_value_read(codec->in, &w->value))
			return fail(err, errlen, "cannot read the record again: %s", avro_strerror());
		codec->decoded = &w->value;
	}
	if (!codec->decoded)
		return fail(err, errlen, "no record decoded");
	if (avro_value_get_by_name(codec->decoded, name, &field, NULL))
		return fail(err, errlen, "no field '%s' in the reader schema", name);
	if (avro_value_to_json(&field, 1, &json))
		return fail(err, errlen, "cannot write field '%s' as json: %s", name, avro_strerror());
	*out = json;
	return 0;
}
