/* fuzz_submit.c - libFuzzer target: aq_submit_parse on the JSON lines that
 * `alertq submit --file` reads, and the encoding of what it accepts */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alertq/event.h"
#include "alertq/submit.h"

static aq_codec_t *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	setenv("ALERTQ_SOURCE", "fuzz", 1);
	codec = aq_codec_new(err, sizeof(err));
	if (!codec) {
		fprintf(stderr, "fuzz_submit: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[1 << 20];
	struct aq_result r;
	char err[512];

	if (aq_submit_parse((const char *)data, size, &r, err, sizeof(err)) != 0)
		return 0;
	/* a submit that parses is published: it must encode and decode back */
	size_t len = sizeof(buf);
	if (aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_submit: accepted submit does not encode: %s\n", err);
		abort();
	}
	struct aq_result back;
	if (aq_codec_decode(codec, buf, len, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_submit: encoded submit does not decode: %s\n", err);
		abort();
	}
	aq_result_release(&back);
	aq_result_release(&r);
	return 0;
}
