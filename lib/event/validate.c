/* validate.c - the one check of a result and its limits, for every place a
 * result enters: the codec, `submit`, the worker, replay */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "event/codec_internal.h"

/* How much of a label key a reason quotes, cleaned. */
#define QUOTE_MAX 40

#define MARKER_LEN (sizeof(AQ_MESSAGE_CUT_MARKER) - 1)

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

/* How many bytes of a message of len bytes at s to keep. */
static size_t message_keep(const char *s, size_t len)
{
	if (len <= AQ_MESSAGE_MAX)
		return len;
	return aq_utf8_cut(s, len, AQ_MESSAGE_MAX - MARKER_LEN);
}

char *aq_message_copy(const char *s, size_t len, int *cut)
{
	size_t keep = message_keep(s, len);
	char *copy = malloc(keep + MARKER_LEN + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, keep);
	copy[keep] = '\0';
	if (cut)
		*cut = keep < len;
	if (keep < len)
		memcpy(copy + keep, AQ_MESSAGE_CUT_MARKER, MARKER_LEN + 1);
	return copy;
}

int aq_result_bound(struct aq_result *r)
{
	if (!r->message)
		return 0;
	size_t len = strlen(r->message);
	size_t keep = message_keep(r->message, len);
	if (keep == len)
		return 0;
	/* keep + marker <= AQ_MESSAGE_MAX < len: it fits where the text was */
	memcpy(r->message + keep, AQ_MESSAGE_CUT_MARKER, MARKER_LEN + 1);
	char *smaller = realloc(r->message, keep + MARKER_LEN + 1);
	if (smaller)
		r->message = smaller;
	return 1;
}

/* The rules the configuration applies to a check's name. */
static int check_name_valid(const char *name, char *err, size_t errlen)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0)
		return fail(err, errlen, "check name is empty");
	if (len > AQ_CHECK_NAME_MAX)
		return fail(err, errlen, "check name is %zu bytes long, more than %d", len,
			    AQ_CHECK_NAME_MAX);
	if (!aq_utf8_valid(name, len))
		return fail(err, errlen, "check name is not valid utf-8");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c == 0x7f)
			return fail(err, errlen, "check name contains whitespace or control characters");
	}
	return 0;
}

/* An optional text (NULL is empty): valid UTF-8 of at most max bytes. */
static int text_valid(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	size_t len = s ? strlen(s) : 0;
	if (len > max)
		return fail(err, errlen, "%s is %zu bytes long, more than %zu", what, len, max);
	if (!aq_utf8_valid(s, len))
		return fail(err, errlen, "%s is not valid utf-8", what);
	return 0;
}

static int labels_valid(const struct aq_label *labels, size_t n, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX + 1];

	if (n > AQ_LABELS_MAX)
		return fail(err, errlen, "too many labels: %zu, at most %d", n, AQ_LABELS_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct aq_label *l = &labels[i];
		if (!l->key || !l->value)
			return fail(err, errlen, "label %zu has no key or no value", i);
		size_t klen = strlen(l->key), vlen = strlen(l->value);
		if (klen == 0)
			return fail(err, errlen, "label %zu key is empty", i);
		if (klen > AQ_LABEL_KEY_MAX)
			return fail(err, errlen, "label %zu key is %zu bytes long, more than %d", i, klen,
				    AQ_LABEL_KEY_MAX);
		/* the key is quoted below only once it is known to be text */
		if (!aq_utf8_valid(l->key, klen))
			return fail(err, errlen, "label %zu key is not valid utf-8", i);
		aq_text_clean_into(quoted, sizeof(quoted), l->key, klen, AQ_TEXT_SPACES);
		if (vlen > AQ_LABEL_VALUE_MAX)
			return fail(err, errlen, "label '%s' value is %zu bytes long, more than %d", quoted,
				    vlen, AQ_LABEL_VALUE_MAX);
		if (!aq_utf8_valid(l->value, vlen))
			return fail(err, errlen, "label '%s' value is not valid utf-8", quoted);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[j].key, l->key) == 0)
				return fail(err, errlen, "label '%s' appears twice", quoted);
		}
	}
	return 0;
}

/* expires_at: 0 (none), or a time of the years observed_at may have, from
 * observed_at to AQ_EXPIRES_AFTER_MAX_MS after it (observed_at is already
 * known to be within its bounds, so the sum cannot overflow). */
static int expires_at_valid(const struct aq_result *r, char *err, size_t errlen)
{
	if (r->expires_at_ms == 0)
		return 0;
	if (r->expires_at_ms < AQ_OBSERVED_AT_MIN_MS)
		return fail(err, errlen, "expires_at is before the year 2000");
	if (r->expires_at_ms > AQ_OBSERVED_AT_MAX_MS)
		return fail(err, errlen, "expires_at is after the year 9999");
	if (r->expires_at_ms < r->observed_at_ms)
		return fail(err, errlen, "expires_at is before observed_at");
	if (r->expires_at_ms - r->observed_at_ms > AQ_EXPIRES_AFTER_MAX_MS)
		return fail(err, errlen, "expires_at is more than 366 days after observed_at");
	return 0;
}

int aq_result_validate(const struct aq_result *r, int64_t now_ms, char *err, size_t errlen)
{
	if (!aq_event_id_valid(r->event_id, strnlen(r->event_id, sizeof(r->event_id))))
		return fail(err, errlen, "event_id is not a uuid");
	return aq_result_validate_fresh(r, now_ms, err, errlen);
}

int aq_result_validate_fresh(const struct aq_result *r, int64_t now_ms, char *err, size_t errlen)
{
	if (check_name_valid(r->check, err, errlen) < 0)
		return -1;
	if (text_valid("source", r->source, AQ_SOURCE_MAX, err, errlen) < 0)
		return -1;
	if (text_valid("message", r->message, AQ_MESSAGE_MAX, err, errlen) < 0)
		return -1;
	if (r->has_value && !isfinite(r->value))
		return fail(err, errlen, "value is not a finite number");
	if (r->status < AQ_STATUS_NONE || r->status > AQ_UNKNOWN)
		return fail(err, errlen, "status %d is not a status", r->status);
	if (r->observed_at_ms < AQ_OBSERVED_AT_MIN_MS)
		return fail(err, errlen, "observed_at is before the year 2000");
	if (r->observed_at_ms > AQ_OBSERVED_AT_MAX_MS)
		return fail(err, errlen, "observed_at is after the year 9999");
	/* now_ms + slack is formed only where it cannot overflow */
	if (now_ms <= INT64_MAX - AQ_FUTURE_SLACK_MS && r->observed_at_ms > now_ms + AQ_FUTURE_SLACK_MS)
		return fail(err, errlen, "observed_at is more than a day in the future");
	if (r->interval_ms < 0)
		return fail(err, errlen, "interval_ms is negative");
	if (r->interval_ms > AQ_INTERVAL_MAX_MS)
		return fail(err, errlen, "interval_ms is %lld, more than %lld (366 days)",
			    (long long)r->interval_ms, (long long)AQ_INTERVAL_MAX_MS);
	if (expires_at_valid(r, err, errlen) < 0)
		return -1;
	return labels_valid(r->labels, r->nlabels, err, errlen);
}

int aq_result_accept(const struct aq_result *r, const void *key, size_t keylen, int64_t now_ms, char *err,
		     size_t errlen)
{
	if (aq_result_validate(r, now_ms, err, errlen) != 0)
		return -1;
	if (!key || keylen != strlen(r->check) || memcmp(key, r->check, keylen) != 0) {
		char quoted[QUOTE_MAX + 1];
		aq_text_clean_into(quoted, sizeof(quoted), r->check, strlen(r->check), AQ_TEXT_SPACES);
		return fail(err, errlen, "message key does not match check '%s'", quoted);
	}
	return 0;
}
