/* fuzz_threshold.c - libFuzzer target: the small text parsers of rules and
 * submits (thresholds, durations, RFC 3339 times) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512];
	char err[256];
	char again[64];

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct aq_threshold t = { 0 };
	if (aq_threshold_parse(text, &t, err, sizeof(err)) == 0) {
		if (!t.set || !isfinite(t.value))
			abort();
		(void)aq_threshold_met(&t, t.value);
		(void)aq_threshold_met(&t, NAN);
	}

	int64_t ms = -1;
	if (aq_duration_parse(text, &ms, err, sizeof(err)) == 0 && ms < 0)
		abort();

	/* a time that parses formats back to one that parses to the same instant */
	if (aq_parse_time(text, &ms, err, sizeof(err)) == 0) {
		int64_t back = 0;
		aq_format_time(ms, again, sizeof(again));
		if (aq_parse_time(again, &back, err, sizeof(err)) != 0 || back != ms)
			abort();
	}
	return 0;
}
