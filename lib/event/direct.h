/* direct.h - the direct decoder of the shipped schema's binary body */
#ifndef ALERTQ_EVENT_DIRECT_H
#define ALERTQ_EVENT_DIRECT_H

#include <stddef.h>

#include "alertq/event.h"

/* Decodes the body [body, end) written with the shipped schema, scanned
 * before, into out (zeroed; the caller releases it on failure too): the
 * result avro-c's generic path gives, and its refusals. Returns 0, or -1
 * with the reason in err. */
int aq_direct_decode(const aq_codec_t *codec, const unsigned char *body, const unsigned char *end,
		     struct aq_result *out, char *err, size_t errlen);

/* Turns the direct decoder off (0) or back on (1) for codec's shipped
 * writer, so tests can hold the two paths to the same results. */
void aq_codec_set_direct(aq_codec_t *codec, int on);

#endif
