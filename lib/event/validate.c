/* validate.c - the one check of a result: what encode refuses to write and
 * decode refuses to hand on */
#include <math.h>
#include <string.h>

#include "base/utf8.h"
#include "event/codec_internal.h"

/* 8-4-4-4-12 hexadecimal digits. */
int aq_event_id_valid(const char *s, size_t len)
{
	static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	unsigned bad = len != 36;

	for (size_t i = 0; i < 36 && !bad; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned lower = c | 0x20;
		if (pattern[i] == '-')
			bad |= c != '-';
		else
			bad |= !((c >= '0' && c <= '9') || (lower >= 'a' && lower <= 'f'));
	}
	return !bad;
}

int aq_check_name_sane(const char *check, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return fail(err, errlen, "check name is empty");
	if (len > AQ_CHECK_NAME_MAX)
		return fail(err, errlen, "check name is %zu bytes long, more than %d", len,
			    AQ_CHECK_NAME_MAX);
	return 0;
}

/* What encode refuses to write and decode refuses to hand on. */
int aq_result_sane(const struct aq_result *r, char *err, size_t errlen)
{
	if (!aq_event_id_valid(r->event_id, strnlen(r->event_id, sizeof(r->event_id))))
		return fail(err, errlen, "event_id is not a uuid");
	if (!r->check)
		return fail(err, errlen, "check name is empty");
	if (aq_check_name_sane(r->check, strlen(r->check), err, errlen) < 0)
		return -1;
	if (!aq_utf8_valid(r->check, strlen(r->check)))
		return fail(err, errlen, "check name is not valid utf-8");
	if (r->source && !aq_utf8_valid(r->source, strlen(r->source)))
		return fail(err, errlen, "source is not valid utf-8");
	if (r->message && !aq_utf8_valid(r->message, strlen(r->message)))
		return fail(err, errlen, "message is not valid utf-8");
	if (r->has_value && !isfinite(r->value))
		return fail(err, errlen, "value is not a finite number");
	if (r->status < AQ_STATUS_NONE || r->status > AQ_UNKNOWN)
		return fail(err, errlen, "status %d is not a status", r->status);
	if (r->nlabels > AQ_LABELS_MAX)
		return fail(err, errlen, "too many labels: %zu, at most %d", r->nlabels, AQ_LABELS_MAX);
	for (size_t i = 0; i < r->nlabels; i++) {
		const struct aq_label *l = &r->labels[i];
		if (!l->key || !l->value)
			return fail(err, errlen, "label %zu has no key or no value", i);
		if (!aq_utf8_valid(l->key, strlen(l->key)) || !aq_utf8_valid(l->value, strlen(l->value)))
			return fail(err, errlen, "label '%s' is not valid utf-8", l->key);
	}
	return 0;
}
