/* submit_line.h - the usual shape of a submit line, read without a JSON tree */
#ifndef ALERTQ_PRODUCE_SUBMIT_LINE_H
#define ALERTQ_PRODUCE_SUBMIT_LINE_H

#include <stddef.h>

#include "alertq/event.h"

/* Reads the len bytes at text as a submit line when it has the usual shape:
 * one JSON object of known fields, each once, strings without escapes or
 * control characters, numbers, nulls, and labels as an object of such
 * strings. Fills r (zeroed first) as aq_submit_parse's JSON reading does,
 * before the result is stamped and checked. Returns 1 when it read the
 * line, r then the caller's to release; 0 for anything else -- a line of
 * another shape, or one the JSON reading would refuse -- with r zero, for
 * the caller to read with jansson, which gives the reason. */
int aq_submit_line_quick(const char *text, size_t len, struct aq_result *r);

/* aq_submit_parse's reading of the line with jansson alone: r filled as
 * above, or -1 with the reason in err and r zero. For tests, to hold the two
 * readings to the same results. */
int aq_submit_line_json(const char *text, size_t len, struct aq_result *r, char *err, size_t errlen);

#endif
