/* codec_internal.h - what the codec's parts share: schema names, body shapes,
 * the codec object itself, resolution and the result check */
#ifndef ALERTQ_EVENT_CODEC_INTERNAL_H
#define ALERTQ_EVENT_CODEC_INTERNAL_H

#include <avro.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alertq/event.h"

/* Caps on a schema's names and its nesting. A schema nested deeper (a
 * recursive one among them) is refused, which bounds every recursion. */
#define NAME_LEN_MAX 512
#define SCHEMA_DEPTH_MAX 32

/* Writes printf-style text into err (when there is room) and returns -1. */
static inline int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- schema.c ---- */

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

void aq_names_release(struct names *names);

/* The definition of the named type fullname, or NULL. */
json_t *aq_names_find(const struct names *names, const char *fullname);

/* Canonical form of a parsed schema into *out (freed by the caller); the
 * named types met go to *names when it is given (the caller releases them),
 * else are dropped. Returns 0, or -1 with a message in err. */
int aq_schema_canonical_of(json_t *root, char **out, struct names *names, char *err, size_t errlen);

/* Parses schema text (bounded in length) as JSON; NULL with a message in err. */
json_t *aq_schema_parse_json(const char *json, char *err, size_t errlen);

/* s with links followed (a bounded number of them); NULL past the bound. */
avro_schema_t aq_schema_deref(avro_schema_t s);

/* ---- scan.c ---- */

/* The limits of struct aq_result the scan holds a field's encoded value to,
 * so that nothing over them is ever copied out of the body. */
enum shape_limit {
	LIMIT_NONE,
	LIMIT_EVENT_ID,    /* a string of at most 36 bytes */
	LIMIT_CHECK,       /* AQ_CHECK_NAME_MAX */
	LIMIT_SOURCE,      /* AQ_SOURCE_MAX */
	LIMIT_LABELS,      /* a map: AQ_LABELS_MAX items, keys of AQ_LABEL_KEY_MAX */
	LIMIT_LABEL_KEY,   /* AQ_LABEL_KEY_MAX: the keys of a LIMIT_LABELS map */
	LIMIT_LABEL_VALUE, /* AQ_LABEL_VALUE_MAX */
};

/* A writer schema compiled for the body scan. */
struct shape {
	avro_type_t type;
	int64_t n;    /* fixed: size; enum: symbols; union, record: children */
	size_t child; /* array, map: the item's shape; union, record: first index in kids */
	enum shape_limit limit;
};

struct shapes {
	struct shape *v;
	size_t n;
	size_t cap;
	size_t *kids;
	size_t nkids;
	size_t kidcap;
};

void aq_shapes_release(struct shapes *sh);

/* Compiles schema s into sh; *out is its root shape. Returns 0, or -1 when
 * out of memory or the schema nests deeper than SCHEMA_DEPTH_MAX. */
int aq_shape_compile(struct shapes *sh, avro_schema_t s, int depth, size_t *out);

/* Holds the value of shape idx (through unions; a map's values too) to
 * limit. Shapes of other types are left alone. */
void aq_shape_limit(struct shapes *sh, size_t idx, enum shape_limit limit);

/* Scans one value of shape root from start, reading no further than end.
 * Returns 0 with *stop set after the value, or -1 with the reason in err. */
int aq_scan_body(const struct shapes *sh, size_t root, const unsigned char *start, const unsigned char *end,
		 const unsigned char **stop, char *err, size_t errlen);

/* ---- the codec object (codec.c) ---- */

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
	F_EXPIRES_AT, /* the only one a reader may lack (field_index -1) */
	NFIELDS
};

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
	int direct;                   /* the shipped schema read by itself: direct.c decodes it */
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
	int expires_long_branch, expires_null_branch;
	int symbol_of_status[AQ_UNKNOWN + 1];
	int *status_of_symbol;
	size_t nsymbols;
	struct writer_entry *writers;
	size_t nwriters;
	struct writer_entry *last; /* the writer of the previous message */
	avro_reader_t in;
	avro_writer_t out;
	avro_value_t *decoded; /* the reader's view of the last decoded record */
	/* the last body decoded directly, read into avro-c's value only when
	 * aq_codec_decoded_field_json asks (borrowed from the caller) */
	struct writer_entry *lazy_writer;
	const unsigned char *lazy_body;
	size_t lazy_len;
	/* encode writes bodies with direct_encode.c rather than avro-c, the
	 * fields in this order (the reader's) */
	int encode_direct;
	enum field encode_order[NFIELDS];
};

/* ---- resolve.c ---- */

/* The "default" of field name in a record's JSON definition, or NULL. */
json_t *aq_json_field_default(json_t *record, const char *name);

/* Sets dst from a schema default given as JSON. Returns 0 or -1. */
int aq_set_default(const aq_codec_t *codec, avro_value_t *dst, json_t *def, int depth);

/* Whether named schemas a and b have the same name. */
int aq_schema_same_name(avro_schema_t a, avro_schema_t b);

/* Whether data written with w can be read as r. Returns 0, or -1 with the
 * reason in err (which may be NULL). */
int aq_schema_readable(const aq_codec_t *codec, avro_schema_t w, avro_schema_t r, int depth, char *err,
		       size_t errlen);

/* Builds the reader's record from w's freshly read value. Returns 0 or -1. */
int aq_resolve(aq_codec_t *codec, struct writer_entry *w);

/* ---- validate.c ---- */

/* Whether len bytes at s are 8-4-4-4-12 hexadecimal digits. */
int aq_event_id_valid(const char *s, size_t len);

/* A new copy of the message of len bytes at s (valid UTF-8), cut as
 * aq_result_bound() cuts it when longer than AQ_MESSAGE_MAX; *cut (when not
 * NULL) says whether it was. The caller frees it; NULL when memory runs out. */
char *aq_message_copy(const char *s, size_t len, int *cut);

#endif
