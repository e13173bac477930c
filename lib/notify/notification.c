/* notification.c - the notification object: its JSON form, read back, and its one-line summary */
#include "alertq/notify.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "base/utf8.h"
#include "notify/format.h"

/* How much of a message the summary carries: syslog and chat lines are short. */
#define SUMMARY_MESSAGE_MAX 1024
#define SUMMARY_LABELS_MAX 512

/* Doubles with no fraction below this magnitude are written as JSON integers. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0

/* Spelled here rather than taken from the event module: these names are part
 * of the notification's own contract. */
/* Returns the severity for its name, or -1. */
static int severity_parse(const char *name)
{
	int severity = aq_status_parse(name);
	return severity == AQ_STATUS_NONE ? -1 : severity;
}

void aq_notification_release(struct aq_notification *n)
{
	if (!n)
		return;
	free(n->check);
	free(n->message);
	aq_labels_free(n->labels, n->nlabels);
	aq_labels_free(n->annotations, n->nannotations);
	memset(n, 0, sizeof(*n));
}

void aq_format_value(double v, char *buf, size_t buflen)
{
	if (!isfinite(v)) {
		snprintf(buf, buflen, "%g", v);
		return;
	}
	if (v == trunc(v) && fabs(v) < EXACT_INTEGER_LIMIT) {
		snprintf(buf, buflen, "%.0f", v);
		return;
	}
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, buflen, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* The fewest significant digits that write v so it reads back unchanged. */
static int shortest_precision(double v)
{
	char buf[40];
	for (int digits = 1; digits < 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			return digits;
	}
	return 17;
}

/* A JSON string for s (NULL as ""), bytes that are not UTF-8 replaced, as
 * jansson takes only valid text. NULL when memory runs out. */
static json_t *json_text(const char *s)
{
	json_t *value = json_string(s ? s : "");
	if (value)
		return value;
	char *clean = aq_text_clean(s, strlen(s) * 3, AQ_TEXT_NEWLINES);
	if (!clean)
		return NULL;
	value = json_string(clean);
	free(clean);
	return value;
}

/* Adds a label to the labels object, cleaning a key that is not UTF-8 (as
 * jansson takes only valid text) and no other: a key with a control
 * character is escaped by JSON, and cleaning it could make it another
 * label's key and lose one of the two. Returns 0, or -1 when memory runs out. */
static int json_add_label(json_t *labels, const struct aq_label *label)
{
	const char *key = label->key ? label->key : "";
	if (aq_utf8_valid(key, strlen(key)))
		return json_object_set_new(labels, key, json_text(label->value));
	char *clean = aq_text_clean(key, strlen(key) * 3, AQ_TEXT_NEWLINES);
	if (!clean)
		return -1;
	int rc = json_object_set_new(labels, clean, json_text(label->value));
	free(clean);
	return rc;
}

/* A JSON object of labels (or annotations); NULL when memory runs out. */
static json_t *json_labels(const struct aq_label *list, size_t n)
{
	json_t *labels = json_object();
	for (size_t i = 0; labels && i < n; i++)
		if (json_add_label(labels, &list[i]) < 0) {
			json_decref(labels);
			return NULL;
		}
	return labels;
}

const char *aq_notification_status(const struct aq_notification *n)
{
	if (n->resolved)
		return "resolved";
	return n->flapping_started ? "flapping" : "firing";
}

char *aq_notification_to_json(const struct aq_notification *n)
{
	char observed[40], since[40];
	int precision = 17;
	char *out = NULL;
	json_t *root = json_object();
	json_t *labels = json_labels(n->labels, n->nlabels);
	if (!root || !labels) {
		json_decref(labels);
		goto done;
	}

	json_t *value;
	if (!n->has_value || !isfinite(n->value)) {
		/* JSON has no NaN or infinity: those read as "no value" */
		value = json_null();
	} else if (n->value == trunc(n->value) && fabs(n->value) < EXACT_INTEGER_LIMIT) {
		value = json_integer((json_int_t)n->value);
	} else {
		value = json_real(n->value);
		precision = shortest_precision(n->value);
	}
	aq_format_time(n->observed_at_ms, observed, sizeof(observed));
	aq_format_time(n->since_ms, since, sizeof(since));

	int failed = 0;
	failed |= json_object_set_new(root, "notification_id", json_text(n->notification_id));
	failed |= json_object_set_new(root, "check", json_text(n->check));
	failed |= json_object_set_new(root, "status", json_string(aq_notification_status(n)));
	failed |= json_object_set_new(root, "severity", json_string(aq_severity_name(n->severity)));
	failed |= json_object_set_new(root, "previous_severity",
				      json_string(aq_severity_name(n->previous_severity)));
	failed |= json_object_set_new(root, "value", value);
	failed |= json_object_set_new(root, "message", json_text(n->message));
	failed |= json_object_set_new(root, "labels", labels);
	failed |= json_object_set_new(root, "observed_at", json_string(observed));
	failed |= json_object_set_new(root, "since", json_string(since));
	failed |= json_object_set_new(root, "escalation_level", json_integer(n->escalation_level));
	failed |= json_object_set_new(root, "event_id",
				      n->event_id[0] ? json_text(n->event_id) : json_null());
	failed |= json_object_set_new(root, "annotations", json_labels(n->annotations, n->nannotations));
	/* only when it flaps: every other notification keeps the contract's exact keys */
	if (n->flapping || n->flapping_started)
		failed |= json_object_set_new(root, "flapping", json_true());
	if (!failed)
		out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(precision));
done:
	json_decref(root);
	return out;
}

/* Reads the string member key of obj into *out (a pointer into obj).
 * Returns 0, or -1 with a message in err when it is missing or no string. */
static int member_string(json_t *obj, const char *key, const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		snprintf(err, errlen, "missing key '%s'", key);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "'%s' must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Copies an identifier member (a UUID, or null when nullable) into out[37].
 * Returns 0, or -1 with a message in err. */
static int member_id(json_t *obj, const char *key, int nullable, char out[37], char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (nullable && v && json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	const char *text;
	if (member_string(obj, key, &text, err, errlen) < 0)
		return -1;
	if (strlen(text) > 36) {
		snprintf(err, errlen, "'%s' is longer than 36 characters", key);
		return -1;
	}
	snprintf(out, 37, "%s", text);
	return 0;
}

/* Reads a severity name member into *out. Returns 0, or -1 with a message. */
static int member_severity(json_t *obj, const char *key, int *out, char *err, size_t errlen)
{
	const char *text;
	if (member_string(obj, key, &text, err, errlen) < 0)
		return -1;
	*out = severity_parse(text);
	if (*out < 0) {
		snprintf(err, errlen, "'%s': unknown severity '%.40s'", key, text);
		return -1;
	}
	return 0;
}

/* Reads an RFC 3339 time member into *ms. Returns 0, or -1 with a message. */
static int member_time(json_t *obj, const char *key, int64_t *ms, char *err, size_t errlen)
{
	const char *text;
	char why[160];
	if (member_string(obj, key, &text, err, errlen) < 0)
		return -1;
	if (aq_parse_time(text, ms, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "'%s': %s", key, why);
		return -1;
	}
	return 0;
}

/* Copies the object member name ("labels", "annotations": each value a
 * string; missing or null is none) into *out. Returns 0, or -1 with a
 * message. */
static int member_labels(json_t *obj, const char *name, struct aq_label **out, size_t *nout, char *err,
			 size_t errlen)
{
	json_t *labels = json_object_get(obj, name);
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels)) {
		snprintf(err, errlen, "'%s' must be an object", name);
		return -1;
	}
	size_t count = json_object_size(labels);
	if (count == 0)
		return 0;
	*out = calloc(count, sizeof(**out));
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const char *key;
	json_t *value;
	json_object_foreach(labels, key, value)
	{
		if (!json_is_string(value)) {
			/* "label 'a' must be a string", "annotation 'a' ..." */
			snprintf(err, errlen, "%.*s '%.60s' must be a string", (int)strlen(name) - 1, name,
				 key);
			return -1;
		}
		(*out)[*nout].key = aq_strdup(key);
		(*out)[*nout].value = aq_strdup(json_string_value(value));
		(*nout)++;
	}
	return 0;
}

/* Makes the message in err clean text: it quotes what it read (cut on a
 * byte count) and jansson's words about the input. */
static void clean_error(char *err, size_t errlen)
{
	char raw[512];
	size_t len = strnlen(err, errlen);
	if (len >= sizeof(raw))
		len = sizeof(raw) - 1;
	memcpy(raw, err, len);
	aq_text_clean_into(err, errlen, raw, len, AQ_TEXT_SPACES);
}

int aq_notification_from_json(struct aq_notification *n, const char *json, char *err, size_t errlen)
{
	struct aq_notification parsed;
	memset(&parsed, 0, sizeof(parsed));
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "not JSON: %s at column %d", jerr.text, jerr.column);
		clean_error(err, errlen);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a notification must be a JSON object");
		goto fail;
	}
	const char *text;
	if (member_id(root, "notification_id", 0, parsed.notification_id, err, errlen) < 0)
		goto fail;
	if (member_string(root, "check", &text, err, errlen) < 0)
		goto fail;
	parsed.check = aq_strdup(text);
	if (member_string(root, "status", &text, err, errlen) < 0)
		goto fail;
	if (strcmp(text, "firing") == 0) {
		parsed.resolved = 0;
	} else if (strcmp(text, "resolved") == 0) {
		parsed.resolved = 1;
	} else if (strcmp(text, "flapping") == 0) {
		parsed.flapping_started = 1;
		parsed.flapping = 1;
	} else {
		snprintf(err, errlen,
			 "'status' must be \"firing\", \"resolved\" or \"flapping\", not '%.40s'", text);
		goto fail;
	}
	if (member_severity(root, "severity", &parsed.severity, err, errlen) < 0 ||
	    member_severity(root, "previous_severity", &parsed.previous_severity, err, errlen) < 0)
		goto fail;

	json_t *value = json_object_get(root, "value");
	if (!value) {
		snprintf(err, errlen, "missing key 'value'");
		goto fail;
	}
	if (json_is_number(value)) {
		parsed.has_value = 1;
		parsed.value = json_number_value(value);
	} else if (!json_is_null(value)) {
		snprintf(err, errlen, "'value' must be a number or null");
		goto fail;
	}
	if (member_string(root, "message", &text, err, errlen) < 0)
		goto fail;
	parsed.message = aq_strdup(text);
	if (member_labels(root, "labels", &parsed.labels, &parsed.nlabels, err, errlen) < 0)
		goto fail;
	if (member_time(root, "observed_at", &parsed.observed_at_ms, err, errlen) < 0 ||
	    member_time(root, "since", &parsed.since_ms, err, errlen) < 0)
		goto fail;
	json_t *level = json_object_get(root, "escalation_level");
	if (!json_is_integer(level)) {
		snprintf(err, errlen, "'escalation_level' must be an integer");
		goto fail;
	}
	parsed.escalation_level = (int)json_integer_value(level);
	if (member_id(root, "event_id", 1, parsed.event_id, err, errlen) < 0)
		goto fail;
	/* notifications queued before annotations existed have none */
	if (member_labels(root, "annotations", &parsed.annotations, &parsed.nannotations, err, errlen) < 0)
		goto fail;
	/* absent from notifications queued before flapping existed */
	json_t *flapping = json_object_get(root, "flapping");
	if (flapping && !json_is_boolean(flapping)) {
		snprintf(err, errlen, "'flapping' must be true or false");
		goto fail;
	}
	if (flapping && json_is_true(flapping))
		parsed.flapping = 1;

	json_decref(root);
	*n = parsed;
	return 0;
fail:
	json_decref(root);
	aq_notification_release(&parsed);
	clean_error(err, errlen);
	return -1;
}

/* Writes the labels as "team=platform, env=prod" into a new string cut at
 * SUMMARY_LABELS_MAX. NULL when memory runs out. */
static char *labels_text(const struct aq_notification *n)
{
	char buf[SUMMARY_LABELS_MAX];
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n->nlabels && len < sizeof(buf) - 1; i++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%s%s=%s", i ? ", " : "",
				 n->labels[i].key ? n->labels[i].key : "",
				 n->labels[i].value ? n->labels[i].value : "");
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return aq_text_clean(buf, sizeof(buf), AQ_TEXT_SPACES);
}

char *aq_notification_summary(const struct aq_notification *n)
{
	char value[40], since[40], level[40] = "";
	char *out = NULL;
	char *check = aq_text_clean(n->check, AQ_CHECK_NAME_MAX, AQ_TEXT_SPACES);
	char *message = aq_text_clean(n->message, SUMMARY_MESSAGE_MAX, AQ_TEXT_SPACES);
	char *labels = labels_text(n);
	if (!check || !message || !labels)
		goto done;
	/* a plugin's trailing newline would leave a gap before the labels */
	size_t message_len = strlen(message);
	while (message_len > 0 && message[message_len - 1] == ' ')
		message[--message_len] = '\0';
	if (n->has_value && isfinite(n->value)) {
		memcpy(value, "value ", 6);
		aq_format_value(n->value, value + 6, sizeof(value) - 6);
	} else {
		snprintf(value, sizeof(value), "no value");
	}
	aq_format_time(n->since_ms, since, sizeof(since));
	if (n->escalation_level > 0)
		snprintf(level, sizeof(level), "escalation level %d", n->escalation_level);
	const char *tag = n->resolved ? "RESOLVED" : aq_severity_name(n->severity);
	if (n->flapping && !n->flapping_started)
		snprintf(level + strlen(level), sizeof(level) - strlen(level), "%sflapping",
			 level[0] ? ", " : "");
	int has_extra = labels[0] || level[0];
	if (asprintf(&out, "[%s] %s %s: %s (was %s since %s): %s%s%s%s%s%s", tag, check,
		     aq_notification_status(n), value, aq_severity_name(n->previous_severity), since, message,
		     has_extra ? " [" : "", labels, labels[0] && level[0] ? "; " : "", level,
		     has_extra ? "]" : "") < 0)
		out = NULL;
done:
	free(check);
	free(message);
	free(labels);
	return out;
}
