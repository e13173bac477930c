/* event.h - the CheckResult event: Avro single-object encoding, schema
 * canonical form and CRC-64-AVRO fingerprints, evolution by field defaults */
#ifndef ALERTQ_EVENT_H
#define ALERTQ_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/util.h"

/* The Avro enum alertq.Status, in schema order. */
enum aq_status {
	AQ_STATUS_NONE = -1, /* the union's null branch */
	AQ_OK = 0,
	AQ_WARNING = 1,
	AQ_CRITICAL = 2,
	AQ_UNKNOWN = 3
};

/* "OK", "WARNING", "CRITICAL", "UNKNOWN" (NULL for anything else). */
const char *aq_status_name(int status);

/* Returns the status for its name (case-insensitive), or AQ_STATUS_NONE. */
int aq_status_parse(const char *name);

#define AQ_CHECK_NAME_MAX 255

/* One check result. Strings and labels are owned by the struct and freed by
 * aq_result_release(); a result that was never filled is all zero. */
struct aq_result {
	char event_id[37];
	char *check;
	char *source;
	int64_t observed_at_ms;
	int has_value;
	double value;
	int status; /* enum aq_status */
	char *message;
	struct aq_label *labels;
	size_t nlabels;
	int64_t interval_ms;
};

/* Frees what r owns and zeroes it. */
void aq_result_release(struct aq_result *r);

/* A schema shipped in schemas/, compiled in; the array ends with {0, 0}. */
struct aq_shipped_schema {
	const char *name; /* file name, e.g. "check_result.avsc" */
	const char *json;
};
extern const struct aq_shipped_schema aq_shipped_schemas[];

/* CRC-64-AVRO (the Rabin fingerprint of the Avro specification) of buf. */
uint64_t aq_crc64_avro(const void *buf, size_t len);

/* Writes the Parsing Canonical Form of the schema given as JSON text into a
 * new string (*out, freed by the caller with free()). Returns 0, or -1 with
 * a message in err and *out untouched. */
int aq_schema_canonical(const char *json, char **out, char *err, size_t errlen);

/* CRC-64-AVRO of the schema's Parsing Canonical Form. Returns 0 or -1. */
int aq_schema_fingerprint(const char *json, uint64_t *fp, char *err, size_t errlen);

/* A codec knows one reader schema (the record alertq.CheckResult as this
 * build defines it: schemas/check_result.avsc) and every writer schema it
 * ships, looked up by fingerprint. Not thread-safe: one per thread. */
typedef struct aq_codec aq_codec_t;

/* Returns a codec with the shipped schemas, or NULL with a message in err. */
aq_codec_t *aq_codec_new(char *err, size_t errlen);
void aq_codec_free(aq_codec_t *codec);

/* Adds a writer schema (JSON text) that decode will accept. Returns 0 or -1. */
int aq_codec_add_writer_schema(aq_codec_t *codec, const char *json, char *err, size_t errlen);

/* Fingerprint of the schema events are written with. */
uint64_t aq_codec_writer_fingerprint(const aq_codec_t *codec);

/* Encodes r as a single-object message (C3 01, 8-byte little-endian
 * fingerprint, binary body) into buf. *len is the buffer size on entry and the
 * encoded length on return. Returns 0, or -1 with a message in err (the buffer
 * too small among the reasons). */
int aq_codec_encode(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
		    size_t errlen);

/* Decodes one single-object message into out (which must be zero or
 * released). Fields the writer schema lacks take the reader schema's
 * defaults; fields the reader lacks are skipped. Returns 0, or -1 with the
 * reason in err ("bad magic", "unknown schema fingerprint 0x...",
 * "truncated body", ...) and out left zero. */
int aq_codec_decode(aq_codec_t *codec, const void *buf, size_t len, struct aq_result *out, char *err,
		    size_t errlen);

/* Most labels one result may carry; encode and decode refuse more. */
#define AQ_LABELS_MAX 64

/* Returns a codec like aq_codec_new() whose reader schema is reader_json (a
 * version of the record alertq.CheckResult with at least the fields of struct
 * aq_result, of the same types) instead of schemas/check_result.avsc. It
 * accepts the reader schema and every shipped schema as writer schemas, and
 * encode writes with the reader schema, giving fields aq_result lacks their
 * defaults. Returns NULL with a message in err. */
aq_codec_t *aq_codec_new_for_reader(const char *reader_json, char *err, size_t errlen);

/* Writes the field name of the record the last successful aq_codec_decode()
 * produced, as the reader schema sees it, in Avro's JSON encoding (a union as
 * {"type": value}) into a new string (*out, freed by the caller with free()).
 * Returns 0, or -1 with a message in err when nothing was decoded since the
 * last encode or failed decode, or the reader schema has no such field. */
int aq_codec_decoded_field_json(aq_codec_t *codec, const char *name, char **out, char *err, size_t errlen);

#endif
