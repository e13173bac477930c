/* fuzz_template.c - libFuzzer target: the template language, any template
 * rendered with any values for every target; what renders is valid UTF-8
 * within its bound, a header has no line break, and a template shaped as a
 * JSON string always renders to JSON
 *
 * Input: one flags byte, then the template, the message, a label value and
 * an annotation value, separated by 0xff bytes (which UTF-8 never holds). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "notify/template.h"

/* Small bounds, so that the cut and too-long paths run often. */
#define SMALL_MAX 64

/* The next piece of data up to a 0xff byte (or the end), NUL-terminated in
 * a new string: the bytes may hold NULs, as outside text can. */
static char *piece(const uint8_t **data, size_t *size, size_t *len)
{
	const uint8_t *end = memchr(*data, 0xff, *size);
	size_t n = end ? (size_t)(end - *data) : *size;
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, *data, n);
	s[n] = '\0';
	*len = n;
	*data += n;
	*size -= n;
	if (end) {
		(*data)++;
		(*size)--;
	}
	return s;
}

static void check_output(const char *out, enum aq_template_target target, size_t max)
{
	size_t len = strlen(out);
	if (len > max || !utf8_ok(out, len))
		abort();
	if (target == AQ_TEMPLATE_EMAIL_HEADER && strpbrk(out, "\r\n"))
		abort();
	if (target == AQ_TEMPLATE_JSON) {
		json_t *doc = json_loads(out, JSON_DECODE_ANY, NULL);
		if (!doc)
			abort();
		json_decref(doc);
	}
}

/* Renders t for every target, with and without cut, at a small and the
 * usual bound. */
static void render_all(const struct aq_template *t, const struct aq_template_values *v)
{
	static const enum aq_template_target targets[] = { AQ_TEMPLATE_TEXT, AQ_TEMPLATE_SLACK,
							   AQ_TEMPLATE_EMAIL_HEADER, AQ_TEMPLATE_EMAIL_BODY,
							   AQ_TEMPLATE_JSON };
	char err[256];
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		for (int cut = 0; cut < 2; cut++) {
			size_t max = cut ? SMALL_MAX : AQ_TEMPLATE_OUTPUT_MAX;
			char *out = aq_template_render(t, v, targets[i], max, cut, err, sizeof(err));
			if (out)
				check_output(out, targets[i], max);
			else if (!utf8_ok(err, strlen(err)))
				abort();
			free(out);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4 * AQ_TEMPLATE_SOURCE_MAX)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	size_t tlen, mlen, llen, alen;
	char *text = piece(&data, &size, &tlen);
	char *message = piece(&data, &size, &mlen);
	char *label = piece(&data, &size, &llen);
	char *annotation = piece(&data, &size, &alen);

	struct aq_label labels[] = { { "team", label } };
	struct aq_label annotations[] = { { "summary", annotation } };
	struct aq_template_values v;
	aq_template_values_sample(&v, labels, 1, annotations, 1);
	v.message = message;
	if (flags & 1) {
		v.value[0] = '\0';
		v.value_is_number = 0;
	}
	if (flags & 2)
		v.status = "flapping";
	enum aq_template_scope scope = flags & 4 ? AQ_TEMPLATE_ANNOTATION : AQ_TEMPLATE_CHANNEL;

	char err[256];
	struct aq_template *t = aq_template_parse(text, tlen, scope, err, sizeof(err));
	if (t) {
		if (strlen(aq_template_source(t)) != tlen)
			abort();
		render_all(t, &v);
		aq_template_unref(t);
	} else if (!utf8_ok(err, strlen(err))) {
		abort();
	}

	/* the same text inside a JSON string: what parses renders to JSON */
	char *shaped = malloc(tlen + 16);
	if (!shaped)
		abort();
	size_t n = 0;
	memcpy(shaped, "{\"a\": \"", 7);
	n = 7;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
			shaped[n++] = (char)c;
	}
	memcpy(shaped + n, "\"}", 2);
	n += 2;
	t = aq_template_parse(shaped, n, AQ_TEMPLATE_CHANNEL, err, sizeof(err));
	if (t) {
		char *out = aq_template_render(t, &v, AQ_TEMPLATE_JSON, AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
		/* only too long may fail */
		if (!out && !strstr(err, "longer than"))
			abort();
		if (out)
			check_output(out, AQ_TEMPLATE_JSON, AQ_TEMPLATE_OUTPUT_MAX);
		free(out);
		aq_template_unref(t);
	}
	free(shaped);
	free(text);
	free(message);
	free(label);
	free(annotation);
	return 0;
}
