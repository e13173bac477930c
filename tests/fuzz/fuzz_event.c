/* fuzz_event.c - libFuzzer target: aq_codec_decode on arbitrary bytes, and
 * on bodies behind a valid header so that the body decoder is reached; what
 * decodes must be valid, within every limit, and survive a round trip */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "fuzz_common.h"

#define V2_SCHEMA ALERTQ_SOURCE_DIR "/tests/data/check_result_v2.avsc"

static aq_codec_t *v1_reader; /* shipped reader; v2 added as a writer */
static aq_codec_t *v2_reader; /* version 2 as the reader, v1 resolved into it */
static uint64_t fp_v1, fp_v2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	char *v2 = read_text(V2_SCHEMA);
	if (!v2) {
		fprintf(stderr, "fuzz_event: cannot read %s\n", V2_SCHEMA);
		abort();
	}
	v1_reader = aq_codec_new(err, sizeof(err));
	v2_reader = v1_reader ? aq_codec_new_for_reader(v2, err, sizeof(err)) : NULL;
	if (!v2_reader || aq_codec_add_writer_schema(v1_reader, v2, err, sizeof(err)) != 0 ||
	    aq_schema_fingerprint(v2, &fp_v2, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_event: %s\n", err);
		abort();
	}
	fp_v1 = aq_codec_writer_fingerprint(v1_reader);
	free(v2);
	return 0;
}

static int same_string(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* A result decode accepted must encode, and decode back to itself. */
static void check_round_trip(aq_codec_t *codec, const struct aq_result *r)
{
	static unsigned char buf[1 << 20];
	size_t len = sizeof(buf);
	char err[512];
	struct aq_result back = { 0 };

	if (aq_codec_encode(codec, r, buf, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_event: decoded result does not encode: %s\n", err);
		abort();
	}
	if (aq_codec_decode(codec, buf, len, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_event: re-encoded result does not decode: %s\n", err);
		abort();
	}
	int same = strcmp(r->event_id, back.event_id) == 0 && same_string(r->check, back.check) &&
		same_string(r->source, back.source) && same_string(r->message, back.message) &&
		r->observed_at_ms == back.observed_at_ms && r->has_value == back.has_value &&
		(!r->has_value || r->value == back.value) && r->status == back.status &&
		r->interval_ms == back.interval_ms && r->expires_at_ms == back.expires_at_ms &&
		r->nlabels == back.nlabels;
	for (size_t i = 0; same && i < r->nlabels; i++)
		same = same_string(r->labels[i].key, back.labels[i].key) &&
			same_string(r->labels[i].value, back.labels[i].value);
	if (!same) {
		fprintf(stderr, "fuzz_event: round trip changed the result of check '%s'\n", r->check);
		abort();
	}
	aq_result_release(&back);
}

static void fail_if(int bad, const char *what, const char *detail)
{
	if (bad) {
		fprintf(stderr, "fuzz_event: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
		abort();
	}
}

/* A string decode hands on: valid UTF-8 of at most max bytes. */
static void check_text(const char *what, const char *s, size_t max)
{
	fail_if(!s, what, "missing");
	size_t len = strlen(s);
	fail_if(len > max, what, "over its limit");
	fail_if(!utf8_ok(s, len), what, "not valid utf-8");
}

/* Every limit of event.h holds for a decoded result, checked here on its
 * own and not only through aq_result_validate. */
static void check_limits(const struct aq_result *r)
{
	char err[512];

	fail_if(aq_result_validate(r, AQ_NOW_UNKNOWN, err, sizeof(err)) != 0, "decoded result not valid", err);
	check_text("check", r->check, AQ_CHECK_NAME_MAX);
	fail_if(r->check[0] == '\0', "check", "empty");
	for (const char *p = r->check; *p; p++)
		fail_if((unsigned char)*p <= 0x20 || *p == 0x7f, "check", "whitespace or control character");
	check_text("source", r->source, AQ_SOURCE_MAX);
	check_text("message", r->message, AQ_MESSAGE_MAX);
	fail_if(r->nlabels > AQ_LABELS_MAX, "labels", "too many");
	for (size_t i = 0; i < r->nlabels; i++) {
		check_text("label key", r->labels[i].key, AQ_LABEL_KEY_MAX);
		check_text("label value", r->labels[i].value, AQ_LABEL_VALUE_MAX);
	}
	fail_if(r->interval_ms < 0 || r->interval_ms > AQ_INTERVAL_MAX_MS, "interval_ms", "out of bounds");
	fail_if(r->observed_at_ms < AQ_OBSERVED_AT_MIN_MS || r->observed_at_ms > AQ_OBSERVED_AT_MAX_MS,
		"observed_at", "out of bounds");
	/* a bound result is left as it is */
	struct aq_result copy = *r;
	char *message = strdup(r->message);
	copy.message = message;
	fail_if(aq_result_bound(&copy) != 0, "message", "cut again");
	free(copy.message);
}

/* A refusal's reason is short valid UTF-8 without control characters. */
static void check_reason(const char *err)
{
	size_t len = strlen(err);
	fail_if(len == 0, "reason", "empty");
	fail_if(!utf8_ok(err, len), "reason", "not valid utf-8");
	for (size_t i = 0; i < len; i++)
		fail_if((unsigned char)err[i] < 0x20 || err[i] == 0x7f, "reason", "control character");
}

static void decode_one(aq_codec_t *codec, const uint8_t *buf, size_t len)
{
	struct aq_result r = { 0 };
	char err[512];
	char *json = NULL;

	if (aq_codec_decode(codec, buf, len, &r, err, sizeof(err)) != 0) {
		check_reason(err);
		return;
	}
	check_limits(&r);
	if (aq_codec_decoded_field_json(codec, "labels", &json, err, sizeof(err)) == 0)
		free(json);
	check_round_trip(codec, &r);
	aq_result_release(&r);
}

/* The first byte picks the mode: the rest as a whole message, or as a body
 * behind the header of the v1 or v2 schema, read by either reader. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[1 << 16];

	if (size < 1)
		return 0;
	int mode = data[0] & 3;
	data++;
	size--;
	if (mode == 0) {
		decode_one(v1_reader, data, size);
		return 0;
	}
	if (size > sizeof(msg) - 10)
		return 0;
	uint64_t fp = mode == 2 ? fp_v2 : fp_v1;
	msg[0] = 0xC3;
	msg[1] = 0x01;
	for (int i = 0; i < 8; i++)
		msg[2 + i] = (uint8_t)(fp >> (8 * i));
	memcpy(msg + 10, data, size);
	decode_one(mode == 3 ? v2_reader : v1_reader, msg, size + 10);
	return 0;
}
