/* test_event.c - the CheckResult codec: fingerprints, canonical form, round trips, errors, evolution */
#include "alertq/event.h"

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "event/direct.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"
#define BUF_MAX (256 * 1024)
#define T_OBSERVED 1795885200000LL /* 2026-11-28T16:20:00Z */

/* The canonical form of schemas/check_result.avsc, written out by hand from
 * the specification's rules. */
static const char shipped_canonical[] =
	"{\"name\":\"alertq.CheckResult\",\"type\":\"record\",\"fields\":["
	"{\"name\":\"event_id\",\"type\":\"string\"},"
	"{\"name\":\"check\",\"type\":\"string\"},"
	"{\"name\":\"source\",\"type\":\"string\"},"
	"{\"name\":\"observed_at\",\"type\":\"long\"},"
	"{\"name\":\"value\",\"type\":[\"null\",\"double\"]},"
	"{\"name\":\"status\",\"type\":[\"null\",{\"name\":\"alertq.Status\",\"type\":\"enum\","
	"\"symbols\":[\"OK\",\"WARNING\",\"CRITICAL\",\"UNKNOWN\"]}]},"
	"{\"name\":\"message\",\"type\":\"string\"},"
	"{\"name\":\"labels\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
	"{\"name\":\"interval_ms\",\"type\":\"long\"},"
	"{\"name\":\"expires_at\",\"type\":[\"null\",\"long\"]}]}";

static const char *shipped_named(const char *name)
{
	for (const struct aq_shipped_schema *s = aq_shipped_schemas; s->name; s++) {
		if (strcmp(s->name, name) == 0)
			return s->json;
	}
	return NULL;
}

static const char *shipped_json(void)
{
	return shipped_named("check_result.avsc");
}

static uint64_t fingerprint_of(const char *json);

/* The fingerprint of version 1 (schemas/check_result_v1.avsc), which the
 * hand-written v1 bodies below go behind. */
static uint64_t v1_fp(void)
{
	const char *json = shipped_named("check_result_v1.avsc");
	ck_assert_ptr_nonnull(json);
	return fingerprint_of(json);
}

/* Reads tests/data/NAME into a new string. */
static char *read_data(const char *name)
{
	const char *dir = getenv("ALERTQ_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/%s", dir ? dir : ".", name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (is ALERTQ_SOURCE_DIR set?)", path);
	char *text = calloc(1, 1 << 20);
	size_t n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static aq_codec_t *new_codec(void)
{
	char err[256] = "";
	aq_codec_t *codec = aq_codec_new(err, sizeof(err));
	ck_assert_msg(codec != NULL, "aq_codec_new: %s", err);
	return codec;
}

static aq_codec_t *new_reader_codec(const char *json)
{
	char err[256] = "";
	aq_codec_t *codec = aq_codec_new_for_reader(json, err, sizeof(err));
	ck_assert_msg(codec != NULL, "aq_codec_new_for_reader: %s", err);
	return codec;
}

/* A filled result the tests start from; labels point at static strings and
 * are not to be released. */
static struct aq_label sample_labels[] = { { "team", "platform" }, { "env", "prod" } };

static struct aq_result sample(void)
{
	struct aq_result r = { 0 };
	memcpy(r.event_id, UUID, 37);
	r.check = "system.session_rows";
	r.source = "db1/alertq-producer";
	r.observed_at_ms = 1795885200123LL;
	r.has_value = 1;
	r.value = 120000.5;
	r.status = AQ_CRITICAL;
	r.message = "120000 sessions";
	r.labels = sample_labels;
	r.nlabels = 2;
	r.interval_ms = 300000;
	return r;
}

static size_t encode_ok(aq_codec_t *codec, const struct aq_result *r, unsigned char *buf)
{
	char err[256] = "";
	size_t len = BUF_MAX;
	int rc = aq_codec_encode(codec, r, buf, &len, err, sizeof(err));
	ck_assert_msg(rc == 0, "encode: %s", err);
	return len;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static void assert_same_result(const struct aq_result *want, const struct aq_result *got)
{
	ck_assert_str_eq(got->event_id, want->event_id);
	ck_assert_str_eq(got->check, want->check);
	ck_assert_str_eq(got->source, str_or_empty(want->source));
	ck_assert_int_eq(got->observed_at_ms, want->observed_at_ms);
	ck_assert_int_eq(got->has_value, want->has_value);
	if (want->has_value)
		ck_assert(got->value == want->value);
	ck_assert_int_eq(got->status, want->status);
	ck_assert_str_eq(got->message, str_or_empty(want->message));
	ck_assert_uint_eq(got->nlabels, want->nlabels);
	for (size_t i = 0; i < want->nlabels; i++) {
		ck_assert_str_eq(got->labels[i].key, want->labels[i].key);
		ck_assert_str_eq(got->labels[i].value, want->labels[i].value);
	}
	ck_assert_int_eq(got->interval_ms, want->interval_ms);
	ck_assert_int_eq(got->expires_at_ms, want->expires_at_ms);
}

/* ---- a hand-written Avro binary writer, independent of the codec ---- */

struct raw {
	unsigned char b[BUF_MAX];
	size_t n;
};

static void put_byte(struct raw *w, unsigned char c)
{
	ck_assert_uint_lt(w->n, sizeof(w->b));
	w->b[w->n++] = c;
}

static void put_long(struct raw *w, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z >= 0x80) {
		put_byte(w, (unsigned char)(z | 0x80));
		z >>= 7;
	}
	put_byte(w, (unsigned char)z);
}

static void put_bytes(struct raw *w, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_byte(w, ((const unsigned char *)p)[i]);
}

static void put_string(struct raw *w, const char *s)
{
	put_long(w, (int64_t)strlen(s));
	put_bytes(w, s, strlen(s));
}

static void put_double(struct raw *w, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, 8);
	for (int i = 0; i < 8; i++)
		put_byte(w, (unsigned char)(bits >> (8 * i)));
}

static void put_header(struct raw *w, uint64_t fp)
{
	put_byte(w, 0xc3);
	put_byte(w, 0x01);
	for (int i = 0; i < 8; i++)
		put_byte(w, (unsigned char)(fp >> (8 * i)));
}

/* The fields of a version 1 body, as bytes go on the wire. */
struct v1 {
	const char *event_id;
	const char *check;
	double value;     /* written when value_branch is 1 */
	int value_branch; /* 0 null, 1 double, else written as is */
	int status_branch;
	int status_symbol;
	int nlabels;
};

static struct v1 v1_default(void)
{
	return (struct v1){
		.event_id = UUID, .check = "c", .value = 1.5, .value_branch = 1, .status_branch = 1
	};
}

static void put_v1_body(struct raw *w, const struct v1 *v)
{
	put_string(w, v->event_id);
	put_string(w, v->check);
	put_string(w, "src");
	put_long(w, T_OBSERVED);
	put_long(w, v->value_branch);
	if (v->value_branch == 1)
		put_double(w, v->value);
	put_long(w, v->status_branch);
	if (v->status_branch == 1)
		put_long(w, v->status_symbol);
	put_string(w, "msg");
	if (v->nlabels) {
		put_long(w, v->nlabels);
		for (int i = 0; i < v->nlabels; i++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", i);
			put_string(w, key);
			put_string(w, "v");
		}
	}
	put_long(w, 0);
	put_long(w, 60000);
}

static uint64_t fingerprint_of(const char *json)
{
	char err[256] = "";
	uint64_t fp = 0;
	ck_assert_msg(aq_schema_fingerprint(json, &fp, err, sizeof(err)) == 0, "fingerprint: %s", err);
	return fp;
}

/* ---- CRC-64-AVRO and the canonical form ---- */

START_TEST(test_crc64)
{
	ck_assert_uint_eq(aq_crc64_avro("\"int\"", 5), 0x7275d51a3f395c8fULL);
	ck_assert_uint_eq(aq_crc64_avro("", 0), 0xc15d213aa4d7a795ULL);
	ck_assert_uint_eq(fingerprint_of("\"int\""), 0x7275d51a3f395c8fULL);
	ck_assert_uint_eq(fingerprint_of("{\"type\": \"int\"}"), 0x7275d51a3f395c8fULL);
}
END_TEST

static const struct {
	const char *schema;
	const char *canonical;
} canonical_cases[] = {
	{ "\"int\"", "\"int\"" },
	{ " \"string\" ", "\"string\"" },
	{ "{\"type\":\"int\"}", "\"int\"" },
	{ "{\"type\": \"null\", \"doc\": \"nothing\"}", "\"null\"" },
	{ "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\"" },
	{ "{ \"logicalType\" : \"uuid\" ,\n\t\"type\" : \"string\" }", "\"string\"" },
	{ "[\"null\", {\"type\": \"double\"}]", "[\"null\",\"double\"]" },
	{ "{\"type\":\"array\",\"items\":{\"type\":\"bytes\"}}", "{\"type\":\"array\",\"items\":\"bytes\"}" },
	{ "{\"values\":\"boolean\",\"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"boolean\"}" },
	{ "{\"type\":\"fixed\",\"size\":16,\"name\":\"md5\",\"namespace\":\"org.x\",\"aliases\":[\"h\"]}",
	  "{\"name\":\"org.x.md5\",\"type\":\"fixed\",\"size\":16}" },
	{ "{\"symbols\":[\"A\",\"B\"],\"doc\":\"d\",\"type\":\"enum\",\"name\":\"E\",\"default\":\"A\"}",
	  "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\",\"B\"]}" },
	/* escapes in names become the characters themselves */
	{ "{\"type\":\"enum\",\"name\":\"\\u0045\",\"symbols\":[\"\\u0041\"]}",
	  "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\"]}" },
	/* field attributes other than name and type go; key order is fixed */
	{ "{\"doc\":\"x\",\"fields\":[{\"type\":\"int\",\"name\":\"a\",\"default\":1,\"doc\":\"d\","
	  "\"order\":\"descending\",\"aliases\":[\"b\"]}],\"type\":\"record\",\"namespace\":\"n.s\","
	  "\"name\":\"R\",\"aliases\":[\"Q\"]}",
	  "{\"name\":\"n.s.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}" },
	/* nested named types take the enclosing namespace, a dotted name
     * ignores it, references become full names */
	{ "{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"a.b\",\"fields\":["
	  "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\"]}},"
	  "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"Hash\",\"namespace\":\"c\",\"size\":4}},"
	  "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"x.Inner\","
	  "\"fields\":[{\"name\":\"c\",\"type\":\"a.b.Color\"},{\"name\":\"self\",\"type\":[\"null\",\"Inner\"]}]}"
	  "}},"
	  "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"Color\"}},"
	  "{\"name\":\"h2\",\"type\":{\"type\":\"c.Hash\"}},"
	  "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}",
	  "{\"name\":\"a.b.Outer\",\"type\":\"record\",\"fields\":["
	  "{\"name\":\"e\",\"type\":{\"name\":\"a.b.Color\",\"type\":\"enum\",\"symbols\":[\"RED\",\"GREEN\"]}},"
	  "{\"name\":\"f\",\"type\":{\"name\":\"c.Hash\",\"type\":\"fixed\",\"size\":4}},"
	  "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":{\"name\":\"x.Inner\",\"type\":\"record\","
	  "\"fields\":[{\"name\":\"c\",\"type\":\"a.b.Color\"},{\"name\":\"self\",\"type\":[\"null\",\"x.Inner\"]}"
	  "]}}},"
	  "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"a.b.Color\"}},"
	  "{\"name\":\"h2\",\"type\":\"c.Hash\"},"
	  "{\"name\":\"t\",\"type\":\"long\"}]}" },
	/* an empty namespace puts a nested type in the null namespace */
	{ "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"q\",\"fields\":[{\"name\":\"a\",\"type\":"
	  "{\"type\":\"enum\",\"name\":\"E\",\"namespace\":\"\",\"symbols\":[\"X\"]}},{\"name\":\"b\",\"type\":"
	  "\"E\"}]}",
	  "{\"name\":\"q.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":{\"name\":\"E\",\"type\":"
	  "\"enum\","
	  "\"symbols\":[\"X\"]}},{\"name\":\"b\",\"type\":\"E\"}]}" },
};

START_TEST(test_canonical_form)
{
	char err[256] = "";
	char *out = NULL;
	int rc = aq_schema_canonical(canonical_cases[_i].schema, &out, err, sizeof(err));
	ck_assert_msg(rc == 0, "case %d: %s", _i, err);
	ck_assert_str_eq(out, canonical_cases[_i].canonical);
	free(out);
}
END_TEST

static const struct {
	const char *schema;
	const char *error;
} bad_schemas[] = {
	{ "", "schema is empty" },
	{ "{\"type\":", "schema is not valid json" },
	{ "\"Nope\"", "unknown type 'Nope'" },
	{ "{}", "schema object has no \"type\" name" },
	{ "42", "schema is neither" },
	{ "[]", "union has no branches" },
	{ "{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "invalid name '1R'" },
	{ "{\"type\":\"record\",\"name\":\"R\"}", "record 'R' has no \"fields\" array" },
	{ "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
	  "{\"name\":\"a\",\"type\":\"int\"}]}",
	  "record 'R': field 'a' appears twice" },
	{ "[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}]",
	  "type 'F' is defined twice" },
	{ "{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "fixed 'F' has no valid \"size\"" },
	{ "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "enum 'E': symbol 'A' appears twice" },
	{ "{\"type\":\"array\"}", "array schema has no \"items\"" },
};

START_TEST(test_canonical_errors)
{
	char err[256] = "";
	char *out = (char *)"untouched";
	int rc = aq_schema_canonical(bad_schemas[_i].schema, &out, err, sizeof(err));
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "untouched");
	ck_assert_msg(strncmp(err, bad_schemas[_i].error, strlen(bad_schemas[_i].error)) == 0,
		      "case %d: got '%s', want '%s'", _i, err, bad_schemas[_i].error);
}
END_TEST

START_TEST(test_nesting_is_capped)
{
	char schema[4096] = "";
	char err[256] = "";
	char *out;
	for (int i = 0; i < 100; i++)
		strcat(schema, "[");
	strcat(schema, "\"int\"");
	for (int i = 0; i < 100; i++)
		strcat(schema, "]");
	ck_assert_int_eq(aq_schema_canonical(schema, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "schema nests deeper than 32 levels");
}
END_TEST

START_TEST(test_shipped_fingerprint)
{
	const char *json = shipped_json();
	char err[256] = "";
	char *canonical;
	unsigned char buf[BUF_MAX];

	ck_assert_ptr_nonnull(json);
	ck_assert_int_eq(aq_schema_canonical(json, &canonical, err, sizeof(err)), 0);
	ck_assert_str_eq(canonical, shipped_canonical);
	free(canonical);

	uint64_t fp = fingerprint_of(json);
	ck_assert_uint_eq(fp, aq_crc64_avro(shipped_canonical, strlen(shipped_canonical)));
	/* a change to this number is a change to the event's schema */
	ck_assert_uint_eq(fp, 0x6ff55b4f5f495e51ULL);

	aq_codec_t *codec = new_codec();
	ck_assert_uint_eq(aq_codec_writer_fingerprint(codec), fp);
	struct aq_result r = sample();
	size_t len = encode_ok(codec, &r, buf);
	ck_assert_uint_gt(len, 10);
	ck_assert_uint_eq(buf[0], 0xc3);
	ck_assert_uint_eq(buf[1], 0x01);
	uint64_t wire = 0;
	for (int i = 9; i >= 2; i--)
		wire = (wire << 8) | buf[i];
	ck_assert_uint_eq(wire, fp);
	aq_codec_free(codec);
}
END_TEST

/* ---- round trips ---- */

static struct aq_label unicode_labels[] = { { "équipe", "plateforme ✓" }, { "键", "值" } };

static struct aq_result round_trip_case(int i)
{
	struct aq_result r = sample();
	switch (i) {
	case 0: /* all fields set */
		break;
	case 1:
		r.has_value = 0;
		r.value = 0;
		break;
	case 2:
		r.status = AQ_STATUS_NONE;
		break;
	case 3:
		r.labels = NULL;
		r.nlabels = 0;
		break;
	case 4:
		r.check = "ディスク.root";
		r.source = "hôte-1";
		r.message = "naïve ✓ 🚨 \"quoted\"\n second line";
		r.labels = unicode_labels;
		r.nlabels = 2;
		break;
	case 5: /* the least a producer may send */
		r.source = NULL;
		r.message = NULL;
		r.has_value = 0;
		r.status = AQ_STATUS_NONE;
		r.labels = NULL;
		r.nlabels = 0;
		r.observed_at_ms = AQ_OBSERVED_AT_MIN_MS;
		r.interval_ms = 0;
		break;
	case 6: /* extremes */
		r.value = -1.7976931348623157e308;
		r.observed_at_ms = AQ_OBSERVED_AT_MAX_MS;
		r.interval_ms = AQ_INTERVAL_MAX_MS;
		r.status = AQ_OK;
		break;
	case 7:
		r.value = -0.0;
		r.status = AQ_UNKNOWN;
		break;
	default:
		r.status = AQ_WARNING;
		r.value = 5e-324;
		break;
	}
	return r;
}

START_TEST(test_round_trip)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result want = round_trip_case(_i);
	struct aq_result got = { 0 };

	size_t len = encode_ok(codec, &want, buf);
	ck_assert_msg(aq_codec_decode(codec, buf, len, &got, err, sizeof(err)) == 0, "decode: %s", err);
	assert_same_result(&want, &got);
	aq_result_release(&got);
	/* the codec reuses its values: a second trip gives the same */
	len = encode_ok(codec, &want, buf);
	ck_assert_int_eq(aq_codec_decode(codec, buf, len, &got, err, sizeof(err)), 0);
	assert_same_result(&want, &got);
	aq_result_release(&got);
	aq_codec_free(codec);
}
END_TEST

START_TEST(test_round_trip_many_labels)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_label labels[AQ_LABELS_MAX];
	char keys[AQ_LABELS_MAX][16], values[AQ_LABELS_MAX][16];
	struct aq_result want = sample();
	struct aq_result got = { 0 };

	for (int i = 0; i < AQ_LABELS_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%02d", i);
		snprintf(values[i], sizeof(values[i]), "value %d", i * 7);
		labels[i].key = keys[i];
		labels[i].value = values[i];
	}
	want.labels = labels;
	want.nlabels = AQ_LABELS_MAX;
	size_t len = encode_ok(codec, &want, buf);
	ck_assert_int_eq(aq_codec_decode(codec, buf, len, &got, err, sizeof(err)), 0);
	assert_same_result(&want, &got);
	aq_result_release(&got);
	ck_assert_ptr_null(got.labels);
	aq_codec_free(codec);
}
END_TEST

START_TEST(test_long_check_name)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	char name[AQ_CHECK_NAME_MAX + 2];
	struct aq_result want = sample();
	struct aq_result got = { 0 };

	memset(name, 'x', sizeof(name));
	name[AQ_CHECK_NAME_MAX] = '\0';
	want.check = name;
	size_t len = encode_ok(codec, &want, buf);
	ck_assert_int_eq(aq_codec_decode(codec, buf, len, &got, err, sizeof(err)), 0);
	ck_assert_str_eq(got.check, name);
	aq_result_release(&got);

	name[AQ_CHECK_NAME_MAX] = 'x';
	name[AQ_CHECK_NAME_MAX + 1] = '\0';
	len = BUF_MAX;
	ck_assert_int_eq(aq_codec_encode(codec, &want, buf, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "check name is 256 bytes long, more than 255");
	aq_codec_free(codec);
}
END_TEST

/* ---- encode errors ---- */

START_TEST(test_encode_buffer_sizes)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result r = sample();
	size_t need = encode_ok(codec, &r, buf);

	for (size_t cap = 0; cap < need; cap++) {
		size_t len = cap;
		ck_assert_int_eq(aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "encode buffer too small", 23) == 0, "cap %zu: %s", cap, err);
		ck_assert_uint_eq(len, cap);
	}
	size_t len = need;
	ck_assert_int_eq(aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, need);
	aq_codec_free(codec);
}
END_TEST

static struct aq_label duplicate_labels[] = { { "a", "1" }, { "a", "2" } };
static struct aq_label null_label[] = { { "a", NULL } };

static const struct {
	int kind;
	const char *error;
} encode_errors[] = {
	{ 0, "check name is empty" },
	{ 1, "check name is empty" },
	{ 2, "value is not a finite number" },
	{ 3, "value is not a finite number" },
	{ 4, "too many labels: 65, at most 64" },
	{ 5, "label 'a' appears twice" },
	{ 6, "event_id is not a uuid" },
	{ 7, "status 9 is not a status" },
	{ 8, "check name is not valid utf-8" },
	{ 9, "label 0 has no key or no value" },
};

START_TEST(test_encode_errors)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_label many[AQ_LABELS_MAX + 1];
	struct aq_result r = sample();

	for (int i = 0; i <= AQ_LABELS_MAX; i++)
		many[i] = (struct aq_label){ "k", "v" };
	switch (encode_errors[_i].kind) {
	case 0:
		r.check = "";
		break;
	case 1:
		r.check = NULL;
		break;
	case 2:
		r.value = NAN;
		break;
	case 3:
		r.value = -INFINITY;
		break;
	case 4:
		r.labels = many;
		r.nlabels = AQ_LABELS_MAX + 1;
		break;
	case 5:
		r.labels = duplicate_labels;
		r.nlabels = 2;
		break;
	case 6:
		strcpy(r.event_id, "not-a-uuid");
		break;
	case 7:
		r.status = 9;
		break;
	case 8:
		r.check = "bad\xff";
		break;
	default:
		r.labels = null_label;
		r.nlabels = 1;
		break;
	}
	size_t len = BUF_MAX;
	ck_assert_int_eq(aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, encode_errors[_i].error);
	/* the codec goes on working */
	r = sample();
	encode_ok(codec, &r, buf);
	aq_codec_free(codec);
}
END_TEST

/* ---- decode errors ---- */

enum mangle {
	EMPTY,
	SHORT,
	HEADER_ONLY,
	BAD_MAGIC,
	BAD_MAGIC_2,
	UNKNOWN_FP,
	CUT_LAST,
	TRAILING,
	HUGE_STRING,
	NEGATIVE_STRING,
	UNION_OUT_OF_RANGE,
	ENUM_OUT_OF_RANGE,
	BAD_UTF8,
	NUL_IN_STRING,
	EMPTY_CHECK,
	LONG_CHECK,
	NAN_VALUE,
	INF_VALUE,
	TOO_MANY_LABELS,
	NOT_UUID,
	HUGE_BLOCK,
	LONG_VARINT,
};

static const struct {
	enum mangle how;
	const char *error; /* the message starts so */
} decode_errors[] = {
	{ EMPTY, "message too short (0 bytes)" },
	{ SHORT, "message too short (9 bytes)" },
	{ HEADER_ONLY, "truncated or malformed body" },
	{ BAD_MAGIC, "bad magic 0x00 0x01" },
	{ BAD_MAGIC_2, "bad magic 0xc3 0x02" },
	{ UNKNOWN_FP, "unknown schema fingerprint 0x0123456789abcdef" },
	{ CUT_LAST, "truncated or malformed body" },
	{ TRAILING, "trailing bytes after body (2 bytes)" },
	{ HUGE_STRING, "truncated or malformed body: length past the end at byte" },
	{ NEGATIVE_STRING, "truncated or malformed body: length past the end" },
	{ UNION_OUT_OF_RANGE, "truncated or malformed body: union branch out of range" },
	{ ENUM_OUT_OF_RANGE, "truncated or malformed body: enum index out of range" },
	{ BAD_UTF8, "truncated or malformed body: string not clean utf-8" },
	{ NUL_IN_STRING, "truncated or malformed body: string not clean utf-8" },
	{ EMPTY_CHECK, "check name is empty" },
	{ LONG_CHECK, "check name is 300 bytes long, more than 255" },
	{ NAN_VALUE, "value is not a finite number" },
	{ INF_VALUE, "value is not a finite number" },
	{ TOO_MANY_LABELS, "too many labels: 65, at most 64" },
	{ NOT_UUID, "event_id is not a uuid" },
	{ HUGE_BLOCK, "truncated or malformed body: too many items" },
	{ LONG_VARINT, "truncated or malformed body: number too long" },
};

START_TEST(test_decode_errors)
{
	aq_codec_t *codec = new_codec();
	uint64_t fp = v1_fp();
	struct raw w = { .n = 0 };
	struct v1 v = v1_default();
	char err[256] = "";
	char long_name[301];
	struct aq_result out;

	memset(long_name, 'n', 300);
	long_name[300] = '\0';
	put_header(&w, fp);
	switch (decode_errors[_i].how) {
	case EMPTY:
		w.n = 0;
		break;
	case SHORT:
		w.n = 9;
		break;
	case HEADER_ONLY:
		break;
	case BAD_MAGIC:
		put_v1_body(&w, &v);
		w.b[0] = 0;
		break;
	case BAD_MAGIC_2:
		put_v1_body(&w, &v);
		w.b[1] = 2;
		break;
	case UNKNOWN_FP:
		w.n = 0;
		put_header(&w, 0x0123456789abcdefULL);
		put_v1_body(&w, &v);
		break;
	case CUT_LAST:
		put_v1_body(&w, &v);
		w.n--;
		break;
	case TRAILING:
		put_v1_body(&w, &v);
		put_byte(&w, 0);
		put_byte(&w, 0);
		break;
	case HUGE_STRING:
		put_long(&w, 1LL << 40);
		put_string(&w, "abc");
		break;
	case NEGATIVE_STRING:
		put_long(&w, -5);
		break;
	case UNION_OUT_OF_RANGE:
		v.value_branch = 2;
		put_v1_body(&w, &v);
		break;
	case ENUM_OUT_OF_RANGE:
		v.status_symbol = 4;
		put_v1_body(&w, &v);
		break;
	case BAD_UTF8:
		v.check = "caf\xc3";
		put_v1_body(&w, &v);
		break;
	case NUL_IN_STRING:
		put_string(&w, UUID);
		put_long(&w, 3);
		put_bytes(&w, "a\0b", 3);
		break;
	case EMPTY_CHECK:
		v.check = "";
		put_v1_body(&w, &v);
		break;
	case LONG_CHECK:
		v.check = long_name;
		put_v1_body(&w, &v);
		break;
	case NAN_VALUE:
		v.value = NAN;
		put_v1_body(&w, &v);
		break;
	case INF_VALUE:
		v.value = INFINITY;
		put_v1_body(&w, &v);
		break;
	case TOO_MANY_LABELS:
		v.nlabels = AQ_LABELS_MAX + 1;
		put_v1_body(&w, &v);
		break;
	case NOT_UUID:
		v.event_id = "0f8fad5b-d9cb-469f-a165-70867728950";
		put_v1_body(&w, &v);
		break;
	case HUGE_BLOCK:
		put_string(&w, UUID);
		put_string(&w, "c");
		put_string(&w, "s");
		put_long(&w, 0);
		put_long(&w, 0);
		put_long(&w, 0);
		put_string(&w, "m");
		put_long(&w, INT64_MAX);
		break;
	case LONG_VARINT:
		put_string(&w, UUID);
		put_string(&w, "c");
		put_string(&w, "s");
		for (int i = 0; i < 11; i++)
			put_byte(&w, 0xff);
		break;
	}
	memset(&out, 0xa5, sizeof(out));
	int rc = aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err));
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strncmp(err, decode_errors[_i].error, strlen(decode_errors[_i].error)) == 0,
		      "case %d: got '%s', want '%s'", _i, err, decode_errors[_i].error);
	struct aq_result zero = { 0 };
	ck_assert_msg(memcmp(&out, &zero, sizeof(out)) == 0, "out is not left zero");
	char *json;
	ck_assert_int_eq(aq_codec_decoded_field_json(codec, "check", &json, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no record decoded");
	aq_codec_free(codec);
}
END_TEST

START_TEST(test_decode_hand_written)
{
	aq_codec_t *codec = new_codec();
	struct raw w = { .n = 0 };
	struct v1 v = v1_default();
	char err[256] = "";
	struct aq_result out;

	v.status_symbol = 2;
	v.nlabels = 3;
	put_header(&w, v1_fp());
	put_v1_body(&w, &v);
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_str_eq(out.event_id, UUID);
	ck_assert_str_eq(out.check, "c");
	ck_assert_str_eq(out.source, "src");
	ck_assert_int_eq(out.observed_at_ms, T_OBSERVED);
	ck_assert_int_eq(out.has_value, 1);
	ck_assert(out.value == 1.5);
	ck_assert_int_eq(out.status, AQ_CRITICAL);
	ck_assert_str_eq(out.message, "msg");
	ck_assert_uint_eq(out.nlabels, 3);
	ck_assert_str_eq(out.labels[2].key, "k2");
	ck_assert_int_eq(out.interval_ms, 60000);
	aq_result_release(&out);

	/* a map written in a block with a byte size, as some writers do */
	w.n = 0;
	put_header(&w, v1_fp());
	put_string(&w, UUID);
	put_string(&w, "c");
	put_string(&w, "s");
	put_long(&w, T_OBSERVED);
	put_long(&w, 0);
	put_long(&w, 0);
	put_string(&w, "m");
	put_long(&w, -1);
	put_long(&w, 4);
	put_string(&w, "k");
	put_string(&w, "v");
	put_long(&w, 0);
	put_long(&w, 0);
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_uint_eq(out.nlabels, 1);
	ck_assert_str_eq(out.labels[0].value, "v");
	aq_result_release(&out);
	aq_codec_free(codec);
}
END_TEST

/* Every cut of a good message and many random damages: an error or a
 * result, never a crash or a leak. */
START_TEST(test_decode_damage)
{
	aq_codec_t *codec = new_codec();
	unsigned char good[BUF_MAX], bad[BUF_MAX];
	char err[256];
	struct aq_result r = round_trip_case(4);
	struct aq_result out;
	size_t len = encode_ok(codec, &r, good);

	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(aq_codec_decode(codec, good, cut, &out, err, sizeof(err)), -1);

	unsigned int seed = 12345;
	int decoded = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(bad, good, len);
		int flips = 1 + (int)(rand_r(&seed) % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = 10 + (size_t)rand_r(&seed) % (len - 10);
			bad[at] = (unsigned char)rand_r(&seed);
		}
		if (aq_codec_decode(codec, bad, len, &out, err, sizeof(err)) == 0) {
			decoded++;
			aq_result_release(&out);
		} else {
			ck_assert_uint_gt(strlen(err), 0);
		}
	}
	ck_assert_int_gt(decoded, 0);
	aq_codec_free(codec);
}
END_TEST

/* ---- schema evolution ---- */

/* A version 2 message written without the codec, severity_hint = hint. */
static void put_v2_message(struct raw *w, uint64_t fp, const char *hint)
{
	struct v1 v = v1_default();
	w->n = 0;
	put_header(w, fp);
	put_v1_body(w, &v);
	put_string(w, hint);
}

START_TEST(test_v1_reader_reads_v2)
{
	char *v2 = read_data("check_result_v2.avsc");
	aq_codec_t *codec = new_codec();
	aq_codec_t *v2codec = new_reader_codec(v2);
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct raw w;
	struct aq_result out;
	uint64_t v2fp = fingerprint_of(v2);

	ck_assert_uint_ne(v2fp, aq_codec_writer_fingerprint(codec));
	ck_assert_uint_eq(v2fp, aq_codec_writer_fingerprint(v2codec));
	put_v2_message(&w, v2fp, "page");

	/* unknown until the codec is told of version 2 */
	ck_assert_int_eq(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)), -1);
	char want[64];
	snprintf(want, sizeof(want), "unknown schema fingerprint 0x%016llx", (unsigned long long)v2fp);
	ck_assert_str_eq(err, want);

	ck_assert_msg(aq_codec_add_writer_schema(codec, v2, err, sizeof(err)) == 0, "add: %s", err);
	ck_assert_int_eq(aq_codec_add_writer_schema(codec, v2, err, sizeof(err)), 0);
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_str_eq(out.check, "c");
	ck_assert(out.value == 1.5);
	ck_assert_int_eq(out.interval_ms, 60000);
	aq_result_release(&out);
	char *json;
	ck_assert_int_eq(aq_codec_decoded_field_json(codec, "severity_hint", &json, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no field 'severity_hint' in the reader schema");

	/* and what the version 2 codec itself writes */
	struct aq_result r = sample();
	size_t len = encode_ok(v2codec, &r, buf);
	/* version 2 of the tests writes "none" (5 bytes) where the shipped one writes a null expires_at (1) */
	ck_assert_uint_eq(len, encode_ok(codec, &r, (unsigned char[BUF_MAX]){ 0 }) + 4);
	ck_assert_int_eq(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)), 0);
	assert_same_result(&r, &out);
	aq_result_release(&out);

	aq_codec_free(codec);
	aq_codec_free(v2codec);
	free(v2);
}
END_TEST

static void assert_field_json(aq_codec_t *codec, const char *field, const char *want)
{
	char err[256] = "";
	char *got = NULL;
	json_error_t jerr;

	ck_assert_msg(aq_codec_decoded_field_json(codec, field, &got, err, sizeof(err)) == 0, "%s: %s", field,
		      err);
	json_t *a = json_loads(got, JSON_DECODE_ANY, &jerr);
	json_t *b = json_loads(want, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(a && b && json_equal(a, b), "field %s: got %s, want %s", field, got, want);
	json_decref(a);
	json_decref(b);
	free(got);
}

START_TEST(test_v2_reader_reads_v1)
{
	char *v2 = read_data("check_result_v2.avsc");
	aq_codec_t *codec = new_codec();
	aq_codec_t *v2codec = new_reader_codec(v2);
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result r = sample();
	struct aq_result out;
	struct raw w;

	size_t len = encode_ok(codec, &r, buf);
	ck_assert_msg(aq_codec_decode(v2codec, buf, len, &out, err, sizeof(err)) == 0, "decode: %s", err);
	assert_same_result(&r, &out);
	aq_result_release(&out);
	assert_field_json(v2codec, "severity_hint", "\"none\"");
	assert_field_json(v2codec, "check", "\"system.session_rows\"");
	assert_field_json(v2codec, "labels", "{\"team\":\"platform\",\"env\":\"prod\"}");

	put_v2_message(&w, aq_codec_writer_fingerprint(v2codec), "page");
	ck_assert_int_eq(aq_codec_decode(v2codec, w.b, w.n, &out, err, sizeof(err)), 0);
	aq_result_release(&out);
	assert_field_json(v2codec, "severity_hint", "\"page\"");

	/* encode forgets what was decoded */
	len = encode_ok(v2codec, &r, buf);
	ck_assert_int_eq(
		aq_codec_decoded_field_json(v2codec, "severity_hint", &(char *){ NULL }, err, sizeof(err)), -1);

	aq_codec_free(codec);
	aq_codec_free(v2codec);
	free(v2);
}
END_TEST

static void put_result_body(struct raw *w, const struct aq_result *r);

/* expires_at across the versions: the shipped writer and reader carry it;
 * a version 1 event reads as none; a reader of before it skips it and will
 * not drop it silently when encoding. */
START_TEST(test_expires_at_versions)
{
	char *v2 = read_data("check_result_v2.avsc");
	aq_codec_t *codec = new_codec();
	aq_codec_t *old = new_reader_codec(v2); /* a reader without expires_at */
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result r = sample();
	struct aq_result out;
	struct raw w = { .n = 0 };

	/* the newest shipped version, written by the codec, reads back */
	r.expires_at_ms = r.observed_at_ms + 180000;
	size_t len = encode_ok(codec, &r, buf);
	ck_assert_msg(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)) == 0, "decode: %s", err);
	assert_same_result(&r, &out);
	aq_result_release(&out);
	assert_field_json(codec, "expires_at", "{\"long\":1795885380123}");

	/* written by hand, too */
	put_header(&w, aq_codec_writer_fingerprint(codec));
	put_result_body(&w, &r);
	ck_assert_uint_eq(w.n, len);
	ck_assert_int_eq(memcmp(w.b, buf, len), 0);

	/* an old reader reads it without the field */
	ck_assert_msg(aq_codec_decode(old, buf, len, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_int_eq(out.expires_at_ms, 0);
	ck_assert_str_eq(out.check, r.check);
	aq_result_release(&out);
	len = BUF_MAX;
	ck_assert_int_eq(aq_codec_encode(old, &r, buf, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the reader schema has no expires_at to write");

	/* a version 1 event reads as "none" */
	struct v1 v = v1_default();
	w.n = 0;
	put_header(&w, v1_fp());
	put_v1_body(&w, &v);
	ck_assert_uint_ne(v1_fp(), aq_codec_writer_fingerprint(codec));
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_int_eq(out.expires_at_ms, 0);
	ck_assert_int_eq(out.interval_ms, 60000);
	aq_result_release(&out);
	assert_field_json(codec, "expires_at", "null");

	/* the long branch holding 0 is not "none" in disguise */
	r.expires_at_ms = 0;
	w.n = 0;
	put_header(&w, aq_codec_writer_fingerprint(codec));
	put_result_body(&w, &r);
	w.b[w.n - 1] = 2; /* the null branch becomes the long branch (zigzag 1) ... */
	put_long(&w, 0);  /* ... holding 0 */
	ck_assert_int_eq(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "expires_at is before the year 2000");

	aq_codec_free(codec);
	aq_codec_free(old);
	free(v2);
}
END_TEST

/* Version 1 plus a field of every kind a default can be given for. */
static const char v3_schema[] =
	"{\"type\":\"record\",\"name\":\"CheckResult\",\"namespace\":\"alertq\",\"fields\":["
	"{\"name\":\"event_id\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}},"
	"{\"name\":\"check\",\"type\":\"string\"},"
	"{\"name\":\"source\",\"type\":\"string\"},"
	"{\"name\":\"observed_at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
	"{\"name\":\"value\",\"type\":[\"null\",\"double\"],\"default\":null},"
	"{\"name\":\"status\",\"type\":[\"null\",{\"type\":\"enum\",\"name\":\"Status\","
	"\"symbols\":[\"OK\",\"WARNING\",\"CRITICAL\",\"UNKNOWN\"]}],\"default\":null},"
	"{\"name\":\"message\",\"type\":\"string\",\"default\":\"\"},"
	"{\"name\":\"labels\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}},"
	"{\"name\":\"interval_ms\",\"type\":\"long\",\"default\":0},"
	"{\"name\":\"flag\",\"type\":\"boolean\",\"default\":true},"
	"{\"name\":\"count\",\"type\":\"int\",\"default\":-7},"
	"{\"name\":\"big\",\"type\":\"long\",\"default\":1099511627776},"
	"{\"name\":\"ratio\",\"type\":\"double\",\"default\":0.25},"
	"{\"name\":\"small\",\"type\":\"float\",\"default\":2},"
	"{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"},\"default\":[\"a\",\"b\"]},"
	"{\"name\":\"extra\",\"type\":{\"type\":\"map\",\"values\":\"long\"},\"default\":{\"k\":1}},"
	"{\"name\":\"level\",\"type\":{\"type\":\"enum\",\"name\":\"Level\",\"symbols\":[\"LOW\",\"HIGH\"]},"
	"\"default\":\"HIGH\"},"
	"{\"name\":\"owner\",\"type\":{\"type\":\"record\",\"name\":\"Owner\",\"fields\":["
	"{\"name\":\"team\",\"type\":\"string\"},{\"name\":\"pager\",\"type\":\"int\",\"default\":3}]},"
	"\"default\":{\"team\":\"ops\"}},"
	"{\"name\":\"runbook\",\"type\":[\"null\",\"string\"],\"default\":null},"
	"{\"name\":\"blob\",\"type\":\"bytes\",\"default\":\"\\u00ffA\"},"
	"{\"name\":\"tag2\",\"type\":{\"type\":\"fixed\",\"name\":\"Two\",\"size\":2},\"default\":\"xy\"}"
	"]}";

START_TEST(test_defaults_of_every_kind)
{
	aq_codec_t *codec = new_codec();
	aq_codec_t *v3codec = new_reader_codec(v3_schema);
	unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result r = sample();
	struct aq_result out;

	size_t len = encode_ok(codec, &r, buf);
	ck_assert_msg(aq_codec_decode(v3codec, buf, len, &out, err, sizeof(err)) == 0, "decode: %s", err);
	assert_same_result(&r, &out);
	aq_result_release(&out);
	assert_field_json(v3codec, "flag", "true");
	assert_field_json(v3codec, "count", "-7");
	assert_field_json(v3codec, "big", "1099511627776");
	assert_field_json(v3codec, "ratio", "0.25");
	assert_field_json(v3codec, "small", "2.0");
	assert_field_json(v3codec, "tags", "[\"a\",\"b\"]");
	assert_field_json(v3codec, "extra", "{\"k\":1}");
	assert_field_json(v3codec, "level", "\"HIGH\"");
	assert_field_json(v3codec, "owner", "{\"team\":\"ops\",\"pager\":3}");
	assert_field_json(v3codec, "runbook", "null");

	/* a version 3 message, with every default written out, reads back
	 * with version 1 */
	len = encode_ok(v3codec, &r, buf);
	ck_assert_msg(aq_codec_add_writer_schema(codec, v3_schema, err, sizeof(err)) == 0, "add: %s", err);
	ck_assert_msg(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)) == 0, "decode: %s", err);
	assert_same_result(&r, &out);
	aq_result_release(&out);
	aq_codec_free(codec);
	aq_codec_free(v3codec);
}
END_TEST

/* A writer that differs in every way resolution allows: fields in another
 * order, an int where the reader has a long, a bare double and a bare enum
 * of another symbol order where the reader has unions, a field the reader
 * lacks, and message and labels left out. */
static const char odd_writer[] =
	"{\"type\":\"record\",\"name\":\"CheckResult\",\"namespace\":\"alertq\",\"fields\":["
	"{\"name\":\"interval_ms\",\"type\":\"int\"},"
	"{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"Status\","
	"\"symbols\":[\"UNKNOWN\",\"CRITICAL\",\"WARNING\",\"OK\"]}},"
	"{\"name\":\"zzz\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
	"{\"name\":\"value\",\"type\":\"double\"},"
	"{\"name\":\"check\",\"type\":\"string\"},"
	"{\"name\":\"event_id\",\"type\":\"string\"},"
	"{\"name\":\"source\",\"type\":\"bytes\"},"
	"{\"name\":\"observed_at\",\"type\":\"long\"}]}";

START_TEST(test_resolution_rules)
{
	aq_codec_t *codec = new_codec();
	char err[256] = "";
	struct aq_result out;
	struct raw w = { .n = 0 };

	ck_assert_msg(aq_codec_add_writer_schema(codec, odd_writer, err, sizeof(err)) == 0, "add: %s", err);
	put_header(&w, fingerprint_of(odd_writer));
	put_long(&w, 42); /* interval_ms */
	put_long(&w, 2);  /* WARNING in the writer's order */
	put_long(&w, 2);  /* zzz: two longs */
	put_long(&w, 7);
	put_long(&w, 8);
	put_long(&w, 0);
	put_double(&w, -3.5);     /* value */
	put_string(&w, "odd");    /* check */
	put_string(&w, UUID);     /* event_id */
	put_string(&w, "bytes");  /* source */
	put_long(&w, T_OBSERVED); /* observed_at */
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_str_eq(out.check, "odd");
	ck_assert_str_eq(out.event_id, UUID);
	ck_assert_str_eq(out.source, "bytes");
	ck_assert_int_eq(out.observed_at_ms, T_OBSERVED);
	ck_assert_int_eq(out.interval_ms, 42);
	ck_assert_int_eq(out.status, AQ_WARNING);
	ck_assert_int_eq(out.has_value, 1);
	ck_assert(out.value == -3.5);
	ck_assert_str_eq(out.message, "");
	ck_assert_uint_eq(out.nlabels, 0);
	aq_result_release(&out);
	aq_codec_free(codec);
}
END_TEST

static const struct {
	const char *writer;
	const char *error;
} unreadable_writers[] = {
	{ "\"int\"", "writer schema is not a CheckResult record" },
	{ "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}", "writer schema is not a CheckResult record" },
	{ "{\"type\":\"record\",\"name\":\"CheckResult\",\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
	  "{\"name\":\"source\",\"type\":\"string\"},{\"name\":\"observed_at\",\"type\":\"long\"}]}",
	  "writer schema lacks field 'check', which has no default" },
	{ "{\"type\":\"record\",\"name\":\"CheckResult\",\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
	  "{\"name\":\"check\",\"type\":\"int\"},{\"name\":\"source\",\"type\":\"string\"},"
	  "{\"name\":\"observed_at\",\"type\":\"long\"}]}",
	  "writer schema field 'check' cannot be read: a int cannot be read as a string" },
	{ "{\"type\":\"record\",\"name\":\"CheckResult\",\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
	  "{\"name\":\"check\",\"type\":\"string\"},{\"name\":\"source\",\"type\":\"string\"},"
	  "{\"name\":\"observed_at\",\"type\":\"long\"},{\"name\":\"status\",\"type\":{\"type\":\"enum\","
	  "\"name\":\"Status\",\"symbols\":[\"OK\",\"MAINTENANCE\"]}}]}",
	  "writer schema field 'status' cannot be read: enum Status: the reader lacks symbol MAINTENANCE" },
	{ "{\"type\":\"record\",\"name\":\"CheckResult\",\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
	  "{\"name\":\"check\",\"type\":[\"null\",\"string\"]},{\"name\":\"source\",\"type\":\"string\"},"
	  "{\"name\":\"observed_at\",\"type\":\"long\"}]}",
	  "writer schema field 'check' cannot be read: a null cannot be read as a string" },
	{ "{\"type\":\"record\",\"name\":\"CheckResult\"", "cannot read writer schema: schema is not valid json" },
};

START_TEST(test_unreadable_writers)
{
	aq_codec_t *codec = new_codec();
	char err[256] = "";
	ck_assert_int_eq(aq_codec_add_writer_schema(codec, unreadable_writers[_i].writer, err, sizeof(err)),
			 -1);
	ck_assert_msg(strncmp(err, unreadable_writers[_i].error, strlen(unreadable_writers[_i].error)) == 0,
		      "case %d: got '%s', want '%s'", _i, err, unreadable_writers[_i].error);
	aq_codec_free(codec);
}
END_TEST

static const struct {
	const char *reader;
	const char *error;
} bad_readers[] = {
	{ "\"int\"", "reader schema is not the record alertq.CheckResult" },
	{ "{\"type\":\"record\",\"name\":\"alertq.CheckResult\",\"fields\":[]}",
	  "reader schema lacks field 'event_id'" },
	{ "{\"type\":\"record\",\"name\":\"alertq.CheckResult\",\"fields\":[{\"name\":\"event_id\",\"type\":"
	  "\"long\"}]}",
	  "reader schema field 'event_id' is a long" },
	{ "nonsense", "cannot read reader schema: schema is not valid json" },
};

START_TEST(test_bad_readers)
{
	char err[256] = "";
	ck_assert_ptr_null(aq_codec_new_for_reader(bad_readers[_i].reader, err, sizeof(err)));
	ck_assert_msg(strncmp(err, bad_readers[_i].error, strlen(bad_readers[_i].error)) == 0,
		      "case %d: got '%s', want '%s'", _i, err, bad_readers[_i].error);
}
END_TEST

START_TEST(test_bad_reader_default)
{
	char *v2 = read_data("check_result_v2.avsc");
	char err[256] = "";
	char *at = strstr(v2, "\"default\": \"none\"");
	ck_assert_ptr_nonnull(at);
	memcpy(at, "\"default\": 12345X", 17);
	at[16] = ' ';
	ck_assert_ptr_null(aq_codec_new_for_reader(v2, err, sizeof(err)));
	ck_assert_str_eq(err, "reader schema field 'severity_hint' has an invalid default");
	free(v2);
}
END_TEST

/* ---- status names ---- */

static const struct {
	const char *text;
	int status;
	const char *name; /* what aq_status_name gives back, or NULL */
} status_cases[] = {
	{ "OK", AQ_OK, "OK" },
	{ "warning", AQ_WARNING, "WARNING" },
	{ "Critical", AQ_CRITICAL, "CRITICAL" },
	{ "UNKNOWN", AQ_UNKNOWN, "UNKNOWN" },
	{ "FATAL", AQ_STATUS_NONE, NULL },
	{ "", AQ_STATUS_NONE, NULL },
};

START_TEST(test_status_names)
{
	ck_assert_int_eq(aq_status_parse(status_cases[_i].text), status_cases[_i].status);
	if (status_cases[_i].name)
		ck_assert_str_eq(aq_status_name(status_cases[_i].status), status_cases[_i].name);
	else
		ck_assert_ptr_null(aq_status_name(status_cases[_i].status));
	ck_assert_ptr_null(aq_status_name(4));
	ck_assert_int_eq(aq_status_parse(NULL), AQ_STATUS_NONE);
}
END_TEST

/* ---- speed: reported, and held to a bound loose enough for valgrind ---- */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

START_TEST(test_speed)
{
	aq_codec_t *codec = new_codec();
	unsigned char buf[BUF_MAX];
	char err[256];
	struct aq_result r = sample();
	struct aq_result out;
	const int rounds = 20000;
	size_t len = 0;

	double t0 = now_ns();
	for (int i = 0; i < rounds; i++) {
		len = BUF_MAX;
		ck_assert_int_eq(aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)), 0);
	}
	double t1 = now_ns();
	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)), 0);
		aq_result_release(&out);
	}
	double t2 = now_ns();
	fprintf(stderr, "event codec: encode %.0f ns, decode %.0f ns per record (%zu bytes)\n",
		(t1 - t0) / rounds, (t2 - t1) / rounds, len);
	ck_assert_double_lt((t2 - t0) / rounds, 2000000.0);
	aq_codec_free(codec);
}
END_TEST

/* ---- hostile results: the one validator, the decoder, the encoder ---- */

#define T_NOW (T_OBSERVED + 60000)
#define YEAR_MS (365LL * 24 * 3600 * 1000)

/* The whole of a result as the shipped schema writes it, without the codec,
 * so that what encode would refuse can still be put before decode. */
static void put_result_body(struct raw *w, const struct aq_result *r)
{
	put_string(w, r->event_id);
	put_string(w, str_or_empty(r->check));
	put_string(w, str_or_empty(r->source));
	put_long(w, r->observed_at_ms);
	put_long(w, r->has_value ? 1 : 0);
	if (r->has_value)
		put_double(w, r->value);
	put_long(w, r->status == AQ_STATUS_NONE ? 0 : 1);
	if (r->status != AQ_STATUS_NONE)
		put_long(w, r->status);
	put_string(w, str_or_empty(r->message));
	if (r->nlabels) {
		put_long(w, (int64_t)r->nlabels);
		for (size_t i = 0; i < r->nlabels; i++) {
			put_string(w, r->labels[i].key);
			put_string(w, r->labels[i].value);
		}
	}
	put_long(w, 0);
	put_long(w, r->interval_ms);
	put_long(w, r->expires_at_ms ? 1 : 0);
	if (r->expires_at_ms)
		put_long(w, r->expires_at_ms);
}

/* n copies of unit, then tail, into out. */
static char *repeat(char *out, const char *unit, size_t n, const char *tail)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcat(out, unit);
	return strcat(out, tail);
}

enum hostile {
	H_SAMPLE,
	H_CHECK_SPACE,
	H_CHECK_TAB,
	H_CHECK_NEWLINE,
	H_CHECK_ESC,
	H_CHECK_DEL,
	H_CHECK_255,
	H_CHECK_256,
	H_CHECK_255_TWO_BYTE,
	H_CHECK_255_CUT_CHAR,
	H_CHECK_300_INVALID,
	H_SOURCE_256,
	H_SOURCE_BAD_UTF8,
	H_LABEL_KEY_128,
	H_LABEL_KEY_129,
	H_LABEL_KEY_129_INVALID,
	H_LABEL_VALUE_1024,
	H_LABEL_VALUE_1025,
	H_LABELS_64,
	H_LABELS_65,
	H_LABEL_KEY_BAD_UTF8,
	H_LABEL_VALUE_BAD_UTF8,
	H_LABEL_VALUE_BAD_LONG_KEY,
	H_LABEL_TWICE,
	H_LABEL_KEY_EMPTY,
	H_INTERVAL_MAX,
	H_INTERVAL_10_YEARS,
	H_INTERVAL_NEGATIVE,
	H_OBSERVED_2100,
	H_OBSERVED_1999,
	H_OBSERVED_YEAR_10000,
	H_OBSERVED_IN_23_HOURS,
	H_MESSAGE_4096,
	H_MESSAGE_4097,
	H_MESSAGE_BAD_UTF8,
	H_EXPIRES_AT_OBSERVED,
	H_EXPIRES_IN_5_MINUTES,
	H_EXPIRES_IN_366_DAYS,
	H_EXPIRES_IN_367_DAYS,
	H_EXPIRES_BEFORE_OBSERVED,
	H_EXPIRES_1999,
	H_EXPIRES_NEGATIVE,
	H_EXPIRES_YEAR_10000,
};

static const struct {
	enum hostile what;
	const char *name;
	const char *reason;        /* aq_result_validate's, at T_NOW; NULL: valid */
	const char *decode_reason; /* aq_codec_decode's; NULL: decoded */
} hostile[] = {
	{ H_SAMPLE, "a good result", NULL, NULL },
	{ H_CHECK_SPACE, "check name with a space", "check name contains whitespace or control characters",
	  "check name contains whitespace" },
	{ H_CHECK_TAB, "check name with a tab", "check name contains whitespace", "check name contains whitespace" },
	{ H_CHECK_NEWLINE, "check name with a newline", "check name contains whitespace",
	  "check name contains whitespace" },
	{ H_CHECK_ESC, "check name with an ESC", "check name contains whitespace or control characters",
	  "check name contains whitespace or control characters" },
	{ H_CHECK_DEL, "check name with a DEL", "control characters", "control characters" },
	{ H_CHECK_255, "check name of 255 bytes", NULL, NULL },
	{ H_CHECK_256, "check name of 256 bytes", "check name is 256 bytes long, more than 255",
	  "check name is 256 bytes long, more than 255" },
	{ H_CHECK_255_TWO_BYTE, "check name of 254 bytes of 2-byte characters and one more", NULL, NULL },
	{ H_CHECK_255_CUT_CHAR, "check name of 255 bytes cut in a 2-byte character", "check name is not valid utf-8",
	  "string not clean utf-8" },
	/* refused from its length in the body, before its bytes are looked at */
	{ H_CHECK_300_INVALID, "check name of 300 invalid bytes", "check name is 300 bytes long, more than 255",
	  "check name is 300 bytes long, more than 255" },
	{ H_SOURCE_256, "source of 256 invalid bytes", "source is 256 bytes long, more than 255",
	  "source is 256 bytes long, more than 255" },
	{ H_SOURCE_BAD_UTF8, "source not utf-8", "source is not valid utf-8", "string not clean utf-8" },
	{ H_LABEL_KEY_128, "label key of 128 bytes", NULL, NULL },
	{ H_LABEL_KEY_129, "label key of 129 bytes", "label 1 key is 129 bytes long, more than 128",
	  "label key is 129 bytes long, more than 128" },
	{ H_LABEL_KEY_129_INVALID, "label key of 129 invalid bytes", "label 1 key is 129 bytes long",
	  "label key is 129 bytes long, more than 128" },
	{ H_LABEL_VALUE_1024, "label value of 1024 bytes", NULL, NULL },
	{ H_LABEL_VALUE_1025, "label value of 1025 invalid bytes", "label 'team' value is 1025 bytes long, more than 1024",
	  "label value is 1025 bytes long, more than 1024" },
	{ H_LABELS_64, "64 labels", NULL, NULL },
	{ H_LABELS_65, "65 labels", "too many labels: 65, at most 64", "too many labels: 65, at most 64" },
	{ H_LABEL_KEY_BAD_UTF8, "label key not utf-8", "label 0 key is not valid utf-8", "string not clean utf-8" },
	{ H_LABEL_VALUE_BAD_UTF8, "label value not utf-8, key with a newline",
	  "label 'new line' value is not valid utf-8", "string not clean utf-8" },
	{ H_LABEL_VALUE_BAD_LONG_KEY, "label value not utf-8, key of 128 bytes",
	  "label '\xc3\xa9\xc3\xa9\xc3\xa9", "string not clean utf-8" },
	{ H_LABEL_TWICE, "a label key twice", "label 'team' appears twice", NULL },
	{ H_LABEL_KEY_EMPTY, "an empty label key", "label 0 key is empty", "label 0 key is empty" },
	{ H_INTERVAL_MAX, "interval of 366 days", NULL, NULL },
	{ H_INTERVAL_10_YEARS, "interval of 10 years", "interval_ms is 315360000000, more than 31622400000",
	  "interval_ms is 315360000000, more than" },
	{ H_INTERVAL_NEGATIVE, "negative interval", "interval_ms is negative", "interval_ms is negative" },
	/* the decoder has no clock: the worker judges the future */
	{ H_OBSERVED_2100, "observed_at in 2100", "observed_at is more than a day in the future", NULL },
	{ H_OBSERVED_1999, "observed_at in 1999", "observed_at is before the year 2000",
	  "observed_at is before the year 2000" },
	{ H_OBSERVED_YEAR_10000, "observed_at in the year 10000", "observed_at is after the year 9999",
	  "observed_at is after the year 9999" },
	{ H_OBSERVED_IN_23_HOURS, "observed_at 23 hours ahead", NULL, NULL },
	{ H_MESSAGE_4096, "message of 4096 bytes", NULL, NULL },
	/* cut by the decoder, refused by validate until aq_result_bound cut it */
	{ H_MESSAGE_4097, "message of 4097 bytes", "message is 4097 bytes long, more than 4096", NULL },
	{ H_MESSAGE_BAD_UTF8, "message not utf-8", "message is not valid utf-8", "string not clean utf-8" },
	{ H_EXPIRES_AT_OBSERVED, "expires_at = observed_at", NULL, NULL },
	{ H_EXPIRES_IN_5_MINUTES, "expires_at 5 minutes after observed_at", NULL, NULL },
	{ H_EXPIRES_IN_366_DAYS, "expires_at 366 days after observed_at", NULL, NULL },
	{ H_EXPIRES_IN_367_DAYS, "expires_at 366 days and 1 ms after observed_at",
	  "expires_at is more than 366 days after observed_at", "expires_at is more than 366 days after observed_at" },
	{ H_EXPIRES_BEFORE_OBSERVED, "expires_at 1 ms before observed_at", "expires_at is before observed_at",
	  "expires_at is before observed_at" },
	{ H_EXPIRES_1999, "expires_at in 1999", "expires_at is before the year 2000",
	  "expires_at is before the year 2000" },
	{ H_EXPIRES_NEGATIVE, "expires_at negative", "expires_at is before the year 2000",
	  "expires_at is before the year 2000" },
	{ H_EXPIRES_YEAR_10000, "expires_at in the year 10000", "expires_at is after the year 9999",
	  "expires_at is after the year 9999" },
};

/* Strings for the hostile results; each test runs in its own process. */
static char text[8192];
static struct aq_label hostile_labels[AQ_LABELS_MAX + 1];
static char label_keys[AQ_LABELS_MAX + 1][16];

static struct aq_result hostile_result(enum hostile what)
{
	struct aq_result r = sample();
	static struct aq_label two[2];

	two[0] = sample_labels[0];
	two[1] = sample_labels[1];
	r.labels = two;
	switch (what) {
	case H_SAMPLE:
		break;
	case H_CHECK_SPACE:
		r.check = "disk root";
		break;
	case H_CHECK_TAB:
		r.check = "disk\troot";
		break;
	case H_CHECK_NEWLINE:
		r.check = "disk\nroot";
		break;
	case H_CHECK_ESC:
		r.check = "disk\x1b[31mroot";
		break;
	case H_CHECK_DEL:
		r.check = "disk\x7froot";
		break;
	case H_CHECK_255:
		r.check = repeat(text, "x", 255, "");
		break;
	case H_CHECK_256:
		r.check = repeat(text, "x", 256, "");
		break;
	case H_CHECK_255_TWO_BYTE:
		r.check = repeat(text, "\xc3\xa9", 127, "x");
		break;
	case H_CHECK_255_CUT_CHAR:
		r.check = repeat(text, "\xc3\xa9", 127, "\xc3");
		break;
	case H_CHECK_300_INVALID:
		r.check = repeat(text, "\xff", 300, "");
		break;
	case H_SOURCE_256:
		r.source = repeat(text, "\xff", 256, "");
		break;
	case H_SOURCE_BAD_UTF8:
		r.source = "host\xed\xa0\x80"; /* a surrogate */
		break;
	case H_LABEL_KEY_128:
		two[1].key = repeat(text, "k", 128, "");
		break;
	case H_LABEL_KEY_129:
		two[1].key = repeat(text, "k", 129, "");
		break;
	case H_LABEL_KEY_129_INVALID:
		two[1].key = repeat(text, "\xff", 129, "");
		break;
	case H_LABEL_VALUE_1024:
		two[0].value = repeat(text, "v", 1024, "");
		break;
	case H_LABEL_VALUE_1025:
		two[0].value = repeat(text, "\xff", 1025, "");
		break;
	case H_LABELS_64:
	case H_LABELS_65:
		for (int i = 0; i <= AQ_LABELS_MAX; i++) {
			snprintf(label_keys[i], sizeof(label_keys[i]), "key%02d", i);
			hostile_labels[i] = (struct aq_label){ label_keys[i], "v" };
		}
		/* the one too many is not text either: the count alone refuses it */
		label_keys[AQ_LABELS_MAX][0] = '\xff';
		r.labels = hostile_labels;
		r.nlabels = what == H_LABELS_64 ? AQ_LABELS_MAX : AQ_LABELS_MAX + 1;
		break;
	case H_LABEL_KEY_BAD_UTF8:
		two[0].key = "k\xff\x1b[2J";
		break;
	case H_LABEL_VALUE_BAD_UTF8:
		two[0].key = "new\nline";
		two[0].value = "v\xc0\xaf"; /* an overlong '/' */
		break;
	case H_LABEL_VALUE_BAD_LONG_KEY:
		two[0].key = repeat(text, "\xc3\xa9", 64, "");
		two[0].value = "\xf8\x88\x80\x80\x80";
		break;
	case H_LABEL_TWICE:
		two[1].key = "team";
		break;
	case H_LABEL_KEY_EMPTY:
		two[0].key = "";
		break;
	case H_INTERVAL_MAX:
		r.interval_ms = AQ_INTERVAL_MAX_MS;
		break;
	case H_INTERVAL_10_YEARS:
		r.interval_ms = 10 * YEAR_MS;
		break;
	case H_INTERVAL_NEGATIVE:
		r.interval_ms = -1;
		break;
	case H_OBSERVED_2100:
		r.observed_at_ms = 4102444800000LL;
		break;
	case H_OBSERVED_1999:
		r.observed_at_ms = AQ_OBSERVED_AT_MIN_MS - 1;
		break;
	case H_OBSERVED_YEAR_10000:
		r.observed_at_ms = AQ_OBSERVED_AT_MAX_MS + 1;
		break;
	case H_OBSERVED_IN_23_HOURS:
		r.observed_at_ms = T_NOW + 23 * 3600 * 1000LL;
		break;
	case H_MESSAGE_4096:
		r.message = repeat(text, "m", AQ_MESSAGE_MAX, "");
		break;
	case H_MESSAGE_4097:
		r.message = repeat(text, "m", AQ_MESSAGE_MAX + 1, "");
		break;
	case H_MESSAGE_BAD_UTF8:
		r.message = "disk \xe2\x82 full";
		break;
	case H_EXPIRES_AT_OBSERVED:
		r.expires_at_ms = r.observed_at_ms;
		break;
	case H_EXPIRES_IN_5_MINUTES:
		r.expires_at_ms = r.observed_at_ms + 300000;
		break;
	case H_EXPIRES_IN_366_DAYS:
		r.expires_at_ms = r.observed_at_ms + AQ_EXPIRES_AFTER_MAX_MS;
		break;
	case H_EXPIRES_IN_367_DAYS:
		r.expires_at_ms = r.observed_at_ms + AQ_EXPIRES_AFTER_MAX_MS + 1;
		break;
	case H_EXPIRES_BEFORE_OBSERVED:
		r.expires_at_ms = r.observed_at_ms - 1;
		break;
	case H_EXPIRES_1999:
		r.expires_at_ms = AQ_OBSERVED_AT_MIN_MS - 1;
		break;
	case H_EXPIRES_NEGATIVE:
		r.expires_at_ms = -5;
		break;
	case H_EXPIRES_YEAR_10000:
		r.expires_at_ms = AQ_OBSERVED_AT_MAX_MS + 1;
		break;
	}
	return r;
}

/* A reason is short, valid UTF-8 and holds no control characters. */
static void assert_clean_reason(const char *err)
{
	size_t len = strlen(err);
	ck_assert_msg(len > 0 && len < 160, "reason of %zu bytes: %s", len, err);
	ck_assert_msg(aq_utf8_valid(err, len), "reason is not valid utf-8");
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)err[i] >= 0x20 && err[i] != 0x7f, "control character in reason");
}

START_TEST(test_validate_hostile)
{
	struct aq_result r = hostile_result(hostile[_i].what);
	char err[256] = "";
	int rc = aq_result_validate(&r, T_NOW, err, sizeof(err));

	if (!hostile[_i].reason) {
		ck_assert_msg(rc == 0, "%s: refused: %s", hostile[_i].name, err);
		return;
	}
	ck_assert_msg(rc == -1, "%s: accepted", hostile[_i].name);
	ck_assert_msg(strstr(err, hostile[_i].reason) != NULL, "%s: reason '%s', want '%s'", hostile[_i].name, err,
		      hostile[_i].reason);
	assert_clean_reason(err);
}
END_TEST

/* The same results through the codec: decode takes them from hand-written
 * bytes; encode refuses exactly what decode refuses. */
START_TEST(test_decode_hostile)
{
	aq_codec_t *codec = new_codec();
	struct aq_result r = hostile_result(hostile[_i].what);
	static struct raw w;
	static unsigned char buf[BUF_MAX];
	char err[256] = "";
	struct aq_result out;

	w.n = 0;
	put_header(&w, aq_codec_writer_fingerprint(codec));
	put_result_body(&w, &r);
	int rc = aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err));
	const char *want = hostile[_i].decode_reason;
	size_t len = BUF_MAX;
	int erc = aq_codec_encode(codec, &r, buf, &len, err + 128, 128);
	if (hostile[_i].what == H_LABEL_TWICE) {
		/* a map cannot hold a key twice: encode refuses, decode keeps one */
		ck_assert_int_eq(erc, -1);
		ck_assert_str_eq(err + 128, "label 'team' appears twice");
		ck_assert_int_eq(rc, 0);
		aq_result_release(&out);
		aq_codec_free(codec);
		return;
	}
	if (want) {
		ck_assert_msg(rc == -1, "%s: decoded", hostile[_i].name);
		ck_assert_msg(strstr(err, want) != NULL, "%s: reason '%s', want '%s'", hostile[_i].name, err, want);
		assert_clean_reason(err);
		ck_assert_msg(erc == -1, "%s: encoded, though decode refuses it", hostile[_i].name);
		assert_clean_reason(err + 128);
	} else {
		ck_assert_msg(rc == 0, "%s: not decoded: %s", hostile[_i].name, err);
		ck_assert_msg(aq_result_validate(&out, AQ_NOW_UNKNOWN, err, sizeof(err)) == 0,
			      "%s: decoded result is not valid: %s", hostile[_i].name, err);
		ck_assert_msg(erc == 0, "%s: not encoded: %s", hostile[_i].name, err + 128);
		aq_result_release(&out);
		ck_assert_int_eq(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)), 0);
		aq_result_release(&out);
	}
	aq_codec_free(codec);
}
END_TEST

static const struct {
	const char *unit; /* repeated to make the message */
	size_t times;
} long_messages[] = {
	{ "a", 100 * 1024 },           /* 100 KiB of ASCII */
	{ "\xf0\x9f\x9a\xa8", 30000 }, /* 4-byte emoji: the cut falls inside one */
	{ "\xc3\xa9", 4000 },          /* 2-byte characters */
	{ "\xe2\x9c\x93", 1366 },      /* 4098 bytes of 3-byte characters */
	{ "m", AQ_MESSAGE_MAX + 1 },
};

static char *long_message(int i)
{
	size_t unit = strlen(long_messages[i].unit);
	char *m = malloc(unit * long_messages[i].times + 1);
	for (size_t k = 0; k < long_messages[i].times; k++)
		memcpy(m + k * unit, long_messages[i].unit, unit);
	m[unit * long_messages[i].times] = '\0';
	return m;
}

/* A cut message: within the cap, valid, ends in the marker, and what stands
 * before the marker is whole characters from the start of the original. */
static void assert_cut(const char *got, const char *original, size_t unit)
{
	size_t len = strlen(got), mark = strlen(AQ_MESSAGE_CUT_MARKER);
	ck_assert_uint_le(len, AQ_MESSAGE_MAX);
	ck_assert_uint_gt(len, AQ_MESSAGE_MAX - mark - 4);
	ck_assert(aq_utf8_valid(got, len));
	ck_assert_str_eq(got + len - mark, AQ_MESSAGE_CUT_MARKER);
	ck_assert_uint_eq((len - mark) % unit, 0);
	ck_assert(memcmp(got, original, len - mark) == 0);
}

START_TEST(test_message_bound)
{
	size_t unit = strlen(long_messages[_i].unit);
	char *original = long_message(_i);
	char err[256] = "";
	struct aq_result r = sample();

	r.message = long_message(_i);
	ck_assert_int_eq(aq_result_validate(&r, T_NOW, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 4096") != NULL, "reason: %s", err);
	ck_assert_int_eq(aq_result_bound(&r), 1);
	assert_cut(r.message, original, unit);
	ck_assert_msg(aq_result_validate(&r, T_NOW, err, sizeof(err)) == 0, "bound result refused: %s", err);
	ck_assert_int_eq(aq_result_bound(&r), 0);
	char *bound = r.message;

	/* the decoder cuts the same way, and so does the encoder */
	aq_codec_t *codec = new_codec();
	static struct raw w;
	static unsigned char buf[BUF_MAX];
	struct aq_result out;
	r.message = original;
	w.n = 0;
	put_header(&w, aq_codec_writer_fingerprint(codec));
	put_result_body(&w, &r);
	ck_assert_msg(aq_codec_decode(codec, w.b, w.n, &out, err, sizeof(err)) == 0, "decode: %s", err);
	ck_assert_str_eq(out.message, bound);
	aq_result_release(&out);
	size_t len = BUF_MAX;
	ck_assert_msg(aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)) == 0, "encode: %s", err);
	ck_assert_str_eq(r.message, original);
	ck_assert_int_eq(aq_codec_decode(codec, buf, len, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.message, bound);
	aq_result_release(&out);
	aq_codec_free(codec);
	free(bound);
	free(original);
}
END_TEST

START_TEST(test_message_bound_short)
{
	struct aq_result r = { 0 };
	ck_assert_int_eq(aq_result_bound(&r), 0);
	r.message = calloc(1, AQ_MESSAGE_MAX + 1);
	memset(r.message, 'm', AQ_MESSAGE_MAX);
	ck_assert_int_eq(aq_result_bound(&r), 0);
	ck_assert_uint_eq(strlen(r.message), AQ_MESSAGE_MAX);
	free(r.message);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the direct decoder of the shipped schema against avro-c's path ---- */

/* Whether a and b are the same result, field by field. */
static void assert_same_decoded(const struct aq_result *a, const struct aq_result *b, const char *what)
{
	ck_assert_msg(strcmp(a->event_id, b->event_id) == 0, "%s: event_id", what);
	ck_assert_msg(strcmp(a->check, b->check) == 0, "%s: check", what);
	ck_assert_msg(strcmp(a->source, b->source) == 0, "%s: source", what);
	ck_assert_msg(strcmp(a->message, b->message) == 0, "%s: message", what);
	ck_assert_msg(a->observed_at_ms == b->observed_at_ms, "%s: observed_at", what);
	ck_assert_msg(a->has_value == b->has_value && memcmp(&a->value, &b->value, sizeof(a->value)) == 0,
		      "%s: value", what);
	ck_assert_msg(a->status == b->status, "%s: status", what);
	ck_assert_msg(a->interval_ms == b->interval_ms, "%s: interval_ms", what);
	ck_assert_msg(a->expires_at_ms == b->expires_at_ms, "%s: expires_at", what);
	ck_assert_msg(a->nlabels == b->nlabels, "%s: %zu labels against %zu", what, a->nlabels, b->nlabels);
	for (size_t i = 0; i < a->nlabels; i++)
		ck_assert_msg(strcmp(a->labels[i].key, b->labels[i].key) == 0 &&
				      strcmp(a->labels[i].value, b->labels[i].value) == 0,
			      "%s: label %zu", what, i);
}

/* Decodes msg with both paths; they must agree on the outcome, the reason
 * and the result. Returns whether it decoded. */
static int decode_both(aq_codec_t *direct, aq_codec_t *generic, const unsigned char *msg, size_t len,
		       const char *what)
{
	struct aq_result a, b;
	char aerr[512] = "", berr[512] = "";
	int arc = aq_codec_decode(direct, msg, len, &a, aerr, sizeof(aerr));
	int brc = aq_codec_decode(generic, msg, len, &b, berr, sizeof(berr));
	ck_assert_msg(arc == brc, "%s: direct %d (%s), avro-c %d (%s)", what, arc, aerr, brc, berr);
	if (arc != 0) {
		/* avro-c adds its own words to a malformed body's reason */
		ck_assert_msg(strncmp(aerr, berr, strlen(aerr)) == 0, "%s: direct '%s', avro-c '%s'", what, aerr,
			      berr);
		return 0;
	}
	assert_same_decoded(&a, &b, what);
	char *ajson = NULL, *bjson = NULL;
	ck_assert_int_eq(aq_codec_decoded_field_json(direct, "labels", &ajson, aerr, sizeof(aerr)), 0);
	ck_assert_int_eq(aq_codec_decoded_field_json(generic, "labels", &bjson, berr, sizeof(berr)), 0);
	ck_assert_str_eq(ajson, bjson);
	free(ajson);
	free(bjson);
	aq_result_release(&a);
	aq_result_release(&b);
	return 1;
}

/* Puts the shipped schema's header before body into msg; returns its length. */
static size_t shipped_message(aq_codec_t *codec, unsigned char *msg, const unsigned char *body, size_t len)
{
	uint64_t fp = aq_codec_writer_fingerprint(codec);
	msg[0] = 0xC3;
	msg[1] = 0x01;
	for (int i = 0; i < 8; i++)
		msg[2 + i] = (unsigned char)(fp >> (8 * i));
	memcpy(msg + 10, body, len);
	return len + 10;
}

static size_t body_long(unsigned char *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;
	while (z >= 0x80) {
		p[n++] = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (unsigned char)z;
	return n;
}

static size_t body_bytes(unsigned char *p, const char *s, size_t len)
{
	size_t n = body_long(p, (int64_t)len);
	memcpy(p + n, s, len);
	return n + len;
}

#define PUT_STR(p, s) body_bytes(p, s, sizeof(s) - 1)

START_TEST(test_direct_decoder_matches_avro_c)
{
	char err[512];
	aq_codec_t *direct = aq_codec_new(err, sizeof(err));
	aq_codec_t *generic = aq_codec_new(err, sizeof(err));
	ck_assert_ptr_nonnull(direct);
	ck_assert_ptr_nonnull(generic);
	aq_codec_set_direct(generic, 0);
	static unsigned char msg[1 << 17];

	/* the fuzz corpus: each file as a whole message and as a body behind
	 * the shipped schema's header, with and without its mode byte */
	const char *dir = getenv("ALERTQ_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/fuzz_event", dir ? dir : ".");
	DIR *d = opendir(path);
	ck_assert_msg(d != NULL, "cannot open %s", path);
	int files = 0, decoded = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char file[8192];
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		FILE *f = fopen(file, "rb");
		ck_assert_ptr_nonnull(f);
		static unsigned char data[1 << 16];
		size_t n = fread(data, 1, sizeof(data), f);
		fclose(f);
		files++;
		for (size_t skip = 0; skip < 2 && skip <= n; skip++) {
			decoded += decode_both(direct, generic, data + skip, n - skip, e->d_name);
			size_t len = shipped_message(direct, msg, data + skip, n - skip);
			decoded += decode_both(direct, generic, msg, len, e->d_name);
		}
	}
	closedir(d);
	ck_assert_int_gt(files, 10);
	ck_assert_int_gt(decoded, 10);

	/* what avro-c's map does with what an encoder of ours never writes: a
	 * block of negative count, a key twice (the scan refuses NULs in
	 * strings, so both paths never see one) */
	unsigned char body[512];
	size_t n = 0;
	n += PUT_STR(body + n, "0b6c2a4e-3f1d-4c5e-9a7b-8d2e1f0a3b4c");
	n += PUT_STR(body + n, "disk.root");
	n += PUT_STR(body + n, "host1");
	n += body_long(body + n, 1790000000000LL);
	n += body_long(body + n, 1); /* value: double */
	double v = 93.5;
	memcpy(body + n, &v, 8);
	n += 8;
	n += body_long(body + n, 1); /* status: enum */
	n += body_long(body + n, 2);
	n += PUT_STR(body + n, "full");
	n += body_long(body + n, -2); /* a block of 2 items, with its size */
	unsigned char items[64];
	size_t m = PUT_STR(items, "a");
	m += PUT_STR(items + m, "1");
	m += PUT_STR(items + m, "a");
	m += PUT_STR(items + m, "2");
	n += body_long(body + n, (int64_t)m);
	memcpy(body + n, items, m);
	n += m;
	n += body_long(body + n, 2);
	n += PUT_STR(body + n, "b");
	n += PUT_STR(body + n, "v");
	n += PUT_STR(body + n, "z");
	n += PUT_STR(body + n, "last");
	n += body_long(body + n, 0); /* end of the map */
	n += body_long(body + n, 60000);
	n += body_long(body + n, 0); /* expires_at: null */
	size_t len = shipped_message(direct, msg, body, n);
	ck_assert_int_eq(decode_both(direct, generic, msg, len, "crafted"), 1);
	struct aq_result r;
	ck_assert_msg(aq_codec_decode(direct, msg, len, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(r.nlabels, 3);
	ck_assert_str_eq(r.labels[0].value, "2");
	ck_assert_str_eq(r.labels[1].key, "b");
	aq_result_release(&r);
	/* a value that is no number, a status symbol past the enum's, more
	 * labels than allowed: both refuse alike */
	for (int variant = 0; variant < 3; variant++) {
		unsigned char odd[1 << 14];
		size_t k = 0;
		k += PUT_STR(odd + k, "0b6c2a4e-3f1d-4c5e-9a7b-8d2e1f0a3b4c");
		/* no name: refused by the last check, after the value's */
		k += variant == 0 ? PUT_STR(odd + k, "") : PUT_STR(odd + k, "disk.root");
		k += PUT_STR(odd + k, "host1");
		k += body_long(odd + k, 1790000000000LL);
		k += body_long(odd + k, 1);
		double nan_or_not = variant == 0 ? NAN : 1.0;
		memcpy(odd + k, &nan_or_not, 8);
		k += 8;
		k += body_long(odd + k, 1);
		k += body_long(odd + k, variant == 1 ? 7 : 0);
		k += PUT_STR(odd + k, "");
		int labels = variant == 2 ? AQ_LABELS_MAX + 1 : 0;
		if (labels > 0)
			k += body_long(odd + k, labels);
		for (int i = 0; i < labels; i++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", i);
			k += body_bytes(odd + k, key, strlen(key));
			k += PUT_STR(odd + k, "v");
		}
		k += body_long(odd + k, 0);
		k += body_long(odd + k, 0);
		k += body_long(odd + k, 0);
		len = shipped_message(direct, msg, odd, k);
		ck_assert_int_eq(decode_both(direct, generic, msg, len, "odd"), 0);
	}
	/* cut anywhere, both refuse alike */
	for (size_t cut = 0; cut < n; cut++) {
		len = shipped_message(direct, msg, body, cut);
		ck_assert_int_eq(decode_both(direct, generic, msg, len, "cut"), 0);
	}
	aq_codec_free(direct);
	aq_codec_free(generic);
}
END_TEST

/* ---- the direct encoder against avro-c's ---- */

/* Encodes r with both codecs (and with aq_codec_encode_valid when r is
 * valid); the bytes and the outcome must be the same, and so must every
 * refusal of a buffer too small. Returns whether it encoded. */
static int encode_both(aq_codec_t *direct, aq_codec_t *generic, const struct aq_result *r, const char *what,
		       int small_buffers)
{
	static unsigned char a[BUF_MAX], b[BUF_MAX];
	char aerr[512] = "", berr[512] = "";
	size_t alen = sizeof(a), blen = sizeof(b);
	int arc = aq_codec_encode(direct, r, a, &alen, aerr, sizeof(aerr));
	int brc = aq_codec_encode(generic, r, b, &blen, berr, sizeof(berr));
	ck_assert_msg(arc == brc, "%s: direct %d (%s), avro-c %d (%s)", what, arc, aerr, brc, berr);
	if (arc != 0) {
		ck_assert_str_eq(aerr, berr);
		return 0;
	}
	ck_assert_msg(alen == blen && memcmp(a, b, alen) == 0, "%s: direct wrote %zu bytes, avro-c %zu, unlike",
		      what, alen, blen);
	if (aq_result_validate(r, AQ_NOW_UNKNOWN, aerr, sizeof(aerr)) == 0) {
		size_t vlen = sizeof(a);
		ck_assert_int_eq(aq_codec_encode_valid(direct, r, a, &vlen, aerr, sizeof(aerr)), 0);
		ck_assert_msg(vlen == blen && memcmp(a, b, vlen) == 0, "%s: encode_valid differs", what);
	}
	/* every buffer too small, refused alike (only the short ones for a
	 * long body, to stay quick) */
	for (size_t cap = 0; small_buffers && cap < blen; cap += cap < 600 ? 1 : 997) {
		size_t al = cap, bl = cap;
		size_t watch = cap + 64 < blen ? cap + 64 : blen;
		memset(a + cap, 0xee, watch - cap);
		ck_assert_int_eq(aq_codec_encode(direct, r, a, &al, aerr, sizeof(aerr)), -1);
		for (size_t i = cap; i < watch; i++)
			ck_assert_msg(a[i] == 0xee, "%s: %zu bytes given, byte %zu written", what, cap, i);
		ck_assert_int_eq(aq_codec_encode(generic, r, b, &bl, berr, sizeof(berr)), -1);
		ck_assert_msg(strcmp(aerr, berr) == 0, "%s, %zu bytes: direct '%s', avro-c '%s'", what, cap, aerr,
			      berr);
	}
	return 1;
}

START_TEST(test_direct_encoder_matches_avro_c)
{
	char err[512];
	aq_codec_t *direct = aq_codec_new(err, sizeof(err));
	aq_codec_t *generic = aq_codec_new(err, sizeof(err));
	ck_assert_ptr_nonnull(direct);
	ck_assert_ptr_nonnull(generic);
	aq_codec_set_direct(generic, 0);

	/* varied results: every status and none, values of every kind, no
	 * labels to the most, long and empty and absent texts, extreme times */
	static const double values[] = { 0.0, -0.0, 93.5, -1e308, 4.9e-324, 1e15 + 0.5 };
	static char big_message[AQ_MESSAGE_MAX + 100];
	memset(big_message, 'm', sizeof(big_message) - 1);
	memcpy(big_message + AQ_MESSAGE_MAX - 3, "\xc3\xa9\xc3\xa9", 4); /* cut inside a character */
	int encoded = 0;
	for (int variant = 0; variant < 64; variant++) {
		struct aq_result r;
		memset(&r, 0, sizeof(r));
		strcpy(r.event_id, UUID);
		r.check = variant % 7 == 0 ? "d\xc3\xa9sk.root" : "disk.root";
		r.source = variant % 5 == 0 ? NULL : "host-1 probe";
		r.observed_at_ms = variant % 3 == 0 ? AQ_OBSERVED_AT_MAX_MS : T_OBSERVED + variant;
		r.has_value = variant % 4 != 3;
		r.value = values[variant % N(values)];
		r.status = variant % 5 - 1; /* AQ_STATUS_NONE, then each status */
		r.message = variant % 6 == 0 ? NULL : variant % 6 == 1 ? ""
			: variant % 6 == 2                             ? big_message
								       : "full";
		r.interval_ms = variant % 8 == 0 ? AQ_INTERVAL_MAX_MS : variant * 1000;
		r.expires_at_ms = variant % 2 ? r.observed_at_ms : 0;
		struct aq_label labels[AQ_LABELS_MAX];
		char keys[AQ_LABELS_MAX][16];
		r.nlabels = variant % 9 == 0 ? AQ_LABELS_MAX : (size_t)(variant % 4);
		for (size_t i = 0; i < r.nlabels; i++) {
			snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
			labels[i].key = keys[i];
			labels[i].value = i % 2 ? "" : "v\xe2\x82\xac";
		}
		r.labels = labels;
		char what[32];
		snprintf(what, sizeof(what), "variant %d", variant);
		encoded += encode_both(direct, generic, &r, what, 1);
	}
	ck_assert_int_eq(encoded, 64);

	/* what the fuzz corpus decodes to, encoded again */
	const char *dir = getenv("ALERTQ_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/fuzz_event", dir ? dir : ".");
	DIR *d = opendir(path);
	ck_assert_msg(d != NULL, "cannot open %s", path);
	int again = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char file[8192];
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		FILE *f = fopen(file, "rb");
		ck_assert_ptr_nonnull(f);
		static unsigned char data[1 << 16], msg[1 << 17];
		size_t n = fread(data, 1, sizeof(data), f);
		fclose(f);
		for (size_t skip = 0; skip < 2 && skip <= n; skip++) {
			struct aq_result r;
			if (aq_codec_decode(generic, data + skip, n - skip, &r, err, sizeof(err)) == 0) {
				again += encode_both(direct, generic, &r, e->d_name, 0);
				aq_result_release(&r);
			}
			size_t len = shipped_message(generic, msg, data + skip, n - skip);
			if (aq_codec_decode(generic, msg, len, &r, err, sizeof(err)) == 0) {
				again += encode_both(direct, generic, &r, e->d_name, 0);
				aq_result_release(&r);
			}
		}
	}
	closedir(d);
	ck_assert_int_gt(again, 10);

	/* refusals: an invalid result is refused alike, before any byte */
	struct aq_result bad;
	memset(&bad, 0, sizeof(bad));
	strcpy(bad.event_id, UUID);
	bad.check = "";
	bad.observed_at_ms = T_OBSERVED;
	ck_assert_int_eq(encode_both(direct, generic, &bad, "no name", 1), 0);
	aq_codec_free(direct);
	aq_codec_free(generic);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("schema");
	tcase_add_test(tc, test_crc64);
	tcase_add_loop_test(tc, test_canonical_form, 0, N(canonical_cases));
	tcase_add_loop_test(tc, test_canonical_errors, 0, N(bad_schemas));
	tcase_add_test(tc, test_nesting_is_capped);
	tcase_add_test(tc, test_shipped_fingerprint);
	tcase_add_loop_test(tc, test_status_names, 0, N(status_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_loop_test(tc, test_round_trip, 0, 9);
	tcase_add_test(tc, test_round_trip_many_labels);
	tcase_add_test(tc, test_long_check_name);
	tcase_add_test(tc, test_encode_buffer_sizes);
	tcase_add_loop_test(tc, test_encode_errors, 0, N(encode_errors));
	tcase_add_loop_test(tc, test_decode_errors, 0, N(decode_errors));
	tcase_add_test(tc, test_decode_hand_written);
	tcase_add_test(tc, test_decode_damage);
	tcase_add_test(tc, test_speed);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_loop_test(tc, test_validate_hostile, 0, N(hostile));
	tcase_add_loop_test(tc, test_decode_hostile, 0, N(hostile));
	tcase_add_loop_test(tc, test_message_bound, 0, N(long_messages));
	tcase_add_test(tc, test_message_bound_short);
	suite_add_tcase(s, tc);

	tc = tcase_create("evolution");
	tcase_add_test(tc, test_v1_reader_reads_v2);
	tcase_add_test(tc, test_v2_reader_reads_v1);
	tcase_add_test(tc, test_expires_at_versions);
	tcase_add_test(tc, test_defaults_of_every_kind);
	tcase_add_test(tc, test_resolution_rules);
	tcase_add_loop_test(tc, test_unreadable_writers, 0, N(unreadable_writers));
	tcase_add_loop_test(tc, test_bad_readers, 0, N(bad_readers));
	tcase_add_test(tc, test_bad_reader_default);
	tcase_add_test(tc, test_direct_decoder_matches_avro_c);
	tcase_add_test(tc, test_direct_encoder_matches_avro_c);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(event_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
