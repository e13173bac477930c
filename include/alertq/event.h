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

/* The name of a severity for people and payloads: aq_status_name, and
 * "UNKNOWN" for anything that is not a status. Never NULL. */
const char *aq_severity_name(int severity);

/* Returns the status for its name (case-insensitive), or AQ_STATUS_NONE. */
int aq_status_parse(const char *name);

/* Limits on a result, the same wherever one enters (the decoder, `submit`,
 * any later ingest); aq_result_validate() holds a result to them. Lengths
 * are in bytes. */
#define AQ_CHECK_NAME_MAX 255       /* 1 to this, no whitespace or control characters */
#define AQ_SOURCE_MAX 255           /* the producer that observed it */
#define AQ_MESSAGE_MAX 4096         /* longer ones are cut, not refused: aq_result_bound() */
#define AQ_MESSAGE_CUT_MARKER "..." /* ends a cut message, counted in AQ_MESSAGE_MAX */
#define AQ_LABELS_MAX 64            /* labels on one result */
#define AQ_LABEL_KEY_MAX 128
#define AQ_LABEL_VALUE_MAX 1024
/* interval_ms from 0 to a leap year, so observed_at + interval never overflows */
#define AQ_INTERVAL_MAX_MS (366LL * 24 * 3600 * 1000)
#define AQ_OBSERVED_AT_MIN_MS 946684800000LL    /* 2000-01-01T00:00:00Z */
#define AQ_OBSERVED_AT_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define AQ_FUTURE_SLACK_MS (24LL * 3600 * 1000) /* how far ahead of now observed_at may be */
/* expires_at from observed_at to this much after it (a leap year) */
#define AQ_EXPIRES_AFTER_MAX_MS (366LL * 24 * 3600 * 1000)
/* now_ms for aq_result_validate() when no clock is to judge observed_at */
#define AQ_NOW_UNKNOWN INT64_MAX

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
	int64_t expires_at_ms; /* when the result stops holding (a check not OK then resolves); 0: never */
};

/* Frees what r owns and zeroes it. */
void aq_result_release(struct aq_result *r);

/* The one check of a result, for every place one enters or is rebuilt
 * (decoder and encoder, `submit`, the worker, replay): a uuid event_id; a
 * check name by the rules the configuration applies; every string valid
 * UTF-8 without NUL bytes and within its limit above (the message too: cut
 * it first with aq_result_bound); a finite value; a known status; at most
 * AQ_LABELS_MAX labels, each with a key and a value, no key twice;
 * observed_at from AQ_OBSERVED_AT_MIN_MS to AQ_OBSERVED_AT_MAX_MS and not
 * more than AQ_FUTURE_SLACK_MS after now_ms (not checked when now_ms is
 * AQ_NOW_UNKNOWN); interval_ms from 0 to AQ_INTERVAL_MAX_MS; expires_at 0
 * (none), or within the bounds of observed_at, not before it and at most
 * AQ_EXPIRES_AFTER_MAX_MS after it.
 * Returns 0, or -1 with the first thing wrong in err: a reason that is
 * itself valid UTF-8 and short, quoting no more of the result than a few
 * cleaned characters of a label key. */
int aq_result_validate(const struct aq_result *r, int64_t now_ms, char *err, size_t errlen);

/* aq_result_validate for a result whose event_id was just made by
 * aq_uuid4(): everything but the id, which is not checked again. */
int aq_result_validate_fresh(const struct aq_result *r, int64_t now_ms, char *err, size_t errlen);

/* The one test of a result read from the checks topic, shared by the worker
 * and replay so that a rebuild never keeps what a worker refused:
 * aq_result_validate at now_ms, and the message's key (keylen bytes, NULL
 * for none) must be the check's name, since results are keyed by check name
 * to keep one check's results in order. Returns 0, or -1 with a short, valid
 * UTF-8 reason in err. */
int aq_result_accept(const struct aq_result *r, const void *key, size_t keylen, int64_t now_ms, char *err,
		     size_t errlen);

/* Cuts a message longer than AQ_MESSAGE_MAX on a character boundary so that
 * it ends in AQ_MESSAGE_CUT_MARKER and is AQ_MESSAGE_MAX bytes at most; in
 * place, never fails. Returns 1 when it cut, else 0. */
int aq_result_bound(struct aq_result *r);

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
 * encoded length on return. A message longer than AQ_MESSAGE_MAX is written
 * cut, as aq_result_bound() cuts it (r is not changed). Returns 0, or -1 with
 * a message in err: r fails aq_result_validate() (with AQ_NOW_UNKNOWN), or
 * the buffer is too small, among the reasons. */
int aq_codec_encode(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
		    size_t errlen);

/* aq_codec_encode for a result that has just passed aq_result_validate()
 * (so its message is within AQ_MESSAGE_MAX), which is not checked again:
 * the same bytes, or -1 with a message in err when the buffer is too small.
 * A result that would fail the check must not be given. */
int aq_codec_encode_valid(aq_codec_t *codec, const struct aq_result *r, void *buf, size_t *len, char *err,
			  size_t errlen);

/* Decodes one single-object message into out (which must be zero or
 * released). Fields the writer schema lacks take the reader schema's
 * defaults; fields the reader lacks are skipped. A string over its limit is
 * refused from its encoded length, before it is copied; a message over
 * AQ_MESSAGE_MAX is cut as aq_result_bound() cuts it. What decode hands on
 * passes aq_result_validate() with AQ_NOW_UNKNOWN; the caller still judges
 * observed_at against its clock. Returns 0, or -1 with the reason in err
 * ("bad magic", "unknown schema fingerprint 0x...", "truncated body", ...;
 * valid UTF-8 and short) and out left zero. */
int aq_codec_decode(aq_codec_t *codec, const void *buf, size_t len, struct aq_result *out, char *err,
		    size_t errlen);

/* Returns a codec like aq_codec_new() whose reader schema is reader_json (a
 * version of the record alertq.CheckResult with at least the fields of struct
 * aq_result, of the same types, expires_at excepted: a reader without it
 * decodes every result with expires_at_ms 0 and refuses to encode one with
 * expires_at_ms set) instead of schemas/check_result.avsc. It
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
