/* direct_encode.h - the direct encoder of a result's binary body */
#ifndef ALERTQ_EVENT_DIRECT_ENCODE_H
#define ALERTQ_EVENT_DIRECT_ENCODE_H

#include <stddef.h>

#include "alertq/event.h"

/* Whether codec's reader schema has exactly the fields struct aq_result
 * holds, every one of them (in any order), so that aq_direct_encode can
 * write its bodies; when it has, notes their order in codec. */
int aq_direct_encode_prepare(aq_codec_t *codec);

/* Writes the binary body of r (which passed aq_result_validate, its message
 * within AQ_MESSAGE_MAX) for codec's reader schema, one that
 * aq_direct_encode_prepare accepted, into out of cap bytes: the bytes avro-c writes for
 * the same record. Returns 0 with *len set, or -1 when cap is too small
 * (nothing else can fail; out is then partly written). */
int aq_direct_encode(const aq_codec_t *codec, const struct aq_result *r, unsigned char *out, size_t cap,
		     size_t *len);

#endif
