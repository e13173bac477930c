/* ingest.c - the bodies of POST /api/v1/results and POST /api/v2/alerts
 * (Alertmanager) made into results, each checked by the code `submit` uses */
#include "serve/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alertq/submit.h"
#include "alertq/util.h"
#include "base/utf8.h"

/* What one item of a body becomes: 0 with r filled, or -1 with the reason
 * in err and r released. */
typedef int (*item_parser)(json_t *item, int64_t now_ms, struct aq_result *r, char *err, size_t errlen);

/* Records that item index is bad, for the reason err (cleaned and cut). */
static void add_error(json_t *errors, long index, const char *reason)
{
	char clean[AQ_INGEST_REASON_MAX + 1];
	aq_text_clean_into(clean, sizeof(clean), reason, strlen(reason), AQ_TEXT_SPACES);
	json_array_append_new(errors, json_pack("{s:I,s:s}", "index", (json_int_t)index, "error", clean));
}

/* Hands one submit object to the parser `submit --file` uses. */
static int parse_submit_object(json_t *obj, struct aq_result *r, char *err, size_t errlen)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text) {
		memset(r, 0, sizeof(*r));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = aq_submit_parse(text, strlen(text), r, err, errlen);
	free(text);
	return rc;
}

static int parse_result_item(json_t *item, int64_t now_ms, struct aq_result *r, char *err, size_t errlen)
{
	(void)now_ms;
	if (!json_is_object(item)) {
		memset(r, 0, sizeof(*r));
		snprintf(err, errlen, "expected a JSON object");
		return -1;
	}
	return parse_submit_object(item, r, err, errlen);
}

/* Parses every item of body with parse; all or nothing (see ingest.h). */
static int ingest(const char *body, size_t len, int64_t now_ms, item_parser parse, struct aq_result **results,
		  size_t *n, json_t **errors)
{
	json_error_t jerr;
	char reason[512];
	*results = NULL;
	*n = 0;
	*errors = json_array();
	if (!*errors)
		return -1;
	json_t *arr = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				 &jerr);
	if (!arr) {
		snprintf(reason, sizeof(reason), "invalid JSON: %s", jerr.text);
		add_error(*errors, -1, reason);
		return -1;
	}
	if (!json_is_array(arr)) {
		add_error(*errors, -1, "expected a JSON array");
		json_decref(arr);
		return -1;
	}
	size_t count = json_array_size(arr);
	if (count > AQ_INGEST_ITEMS_MAX) {
		snprintf(reason, sizeof(reason), "%zu items, more than %d", count, AQ_INGEST_ITEMS_MAX);
		add_error(*errors, -1, reason);
		json_decref(arr);
		return -1;
	}
	struct aq_result *out = calloc(count ? count : 1, sizeof(*out));
	if (!out) {
		add_error(*errors, -1, "out of memory");
		json_decref(arr);
		return -1;
	}
	size_t good = 0;
	int bad = 0;
	for (size_t i = 0; i < count; i++) {
		struct aq_result r;
		if (parse(json_array_get(arr, i), now_ms, &r, reason, sizeof(reason)) != 0) {
			add_error(*errors, (long)i, reason);
			bad = 1;
			continue;
		}
		if (bad) {
			/* nothing is returned now: keep checking, keep nothing */
			aq_result_release(&r);
			continue;
		}
		out[good++] = r;
	}
	json_decref(arr);
	if (bad) {
		for (size_t i = 0; i < good; i++)
			aq_result_release(&out[i]);
		free(out);
		return -1;
	}
	json_decref(*errors);
	*errors = NULL;
	*results = out;
	*n = good;
	return 0;
}

int aq_ingest_results(const char *body, size_t len, struct aq_result **results, size_t *n, json_t **errors)
{
	return ingest(body, len, 0, parse_result_item, results, n, errors);
}

/* Reads the RFC 3339 time of field key of obj into *ms. Returns 1 when it is
 * set, 0 when absent, null, empty or before 1970 (Go's zero time
 * 0001-01-01T00:00:00Z stands for unset), -1 with err when it is not a
 * time. */
static int alert_time(json_t *obj, const char *key, int64_t *ms, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	char terr[256];
	if (!json_is_string(v) || aq_parse_time(json_string_value(v), ms, terr, sizeof(terr)) != 0) {
		snprintf(err, errlen, "'%s' must be an RFC 3339 time such as 2026-11-27T17:00:00Z", key);
		return -1;
	}
	return *ms > 0 ? 1 : 0;
}

/* Checks that obj's field key, when present, is an object of strings;
 * sets *out to it (NULL when absent). Returns 0 or -1 with err. */
static int string_object(json_t *obj, const char *key, json_t **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "'%s' must be an object of strings", key);
		return -1;
	}
	const char *k;
	json_t *s;
	json_object_foreach(v, k, s)
	{
		if (!json_is_string(s)) {
			snprintf(err, errlen, "'%s' must be an object of strings", key);
			return -1;
		}
	}
	*out = v;
	return 0;
}

static const char *string_at(json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* As the contract says: warning is WARNING; critical, anything else or no
 * severity label is CRITICAL (an alert nobody graded is taken seriously). */
static const char *severity_status(const char *severity)
{
	if (severity && strcasecmp(severity, "warning") == 0)
		return "WARNING";
	return "CRITICAL";
}

/* Adds a label of value cleaned and cut to what a label may hold. */
static int set_cut_label(json_t *labels, const char *key, const char *value)
{
	char *clean = aq_text_clean(value, AQ_LABEL_VALUE_MAX, AQ_TEXT_NEWLINES);
	if (!clean)
		return -1;
	int rc = json_object_set_new(labels, key, json_string(clean));
	free(clean);
	return rc;
}

/* The submit object an Alertmanager alert stands for (see ingest.h), or NULL
 * with err. */
static json_t *alert_submit_object(json_t *alert, int64_t now_ms, char *err, size_t errlen)
{
	json_t *labels, *annotations;
	int64_t starts_ms = 0, ends_ms = 0;
	if (!json_is_object(alert)) {
		snprintf(err, errlen, "expected a JSON object");
		return NULL;
	}
	if (string_object(alert, "labels", &labels, err, errlen) != 0 ||
	    string_object(alert, "annotations", &annotations, err, errlen) != 0)
		return NULL;
	const char *alertname = string_at(labels, "alertname");
	if (!alertname) {
		snprintf(err, errlen, "'labels' must hold a non-empty 'alertname'");
		return NULL;
	}
	int has_starts = alert_time(alert, "startsAt", &starts_ms, err, errlen);
	if (has_starts < 0)
		return NULL;
	int has_ends = alert_time(alert, "endsAt", &ends_ms, err, errlen);
	if (has_ends < 0)
		return NULL;
	json_t *url = json_object_get(alert, "generatorURL");
	if (url && !json_is_null(url) && !json_is_string(url)) {
		snprintf(err, errlen, "'generatorURL' must be a string");
		return NULL;
	}

	const char *instance = string_at(labels, "instance");
	char check[AQ_CHECK_NAME_MAX + 2];
	int clen = instance ? snprintf(check, sizeof(check), "%s/%s", alertname, instance)
			    : snprintf(check, sizeof(check), "%s", alertname);
	if (clen < 0 || (size_t)clen >= sizeof(check)) {
		snprintf(err, errlen, "check name (alertname/instance) is longer than %d bytes",
			 AQ_CHECK_NAME_MAX);
		return NULL;
	}
	int resolved = has_ends && ends_ms <= now_ms;
	int64_t observed_ms = now_ms;
	if (resolved)
		observed_ms = ends_ms;
	else if (has_starts && starts_ms <= now_ms)
		observed_ms = starts_ms;
	int64_t expires_ms = has_ends && ends_ms > now_ms ? ends_ms : now_ms + AQ_INGEST_ALERT_TTL_MS;
	/* an alert firing for longer than an expiry may reach (Prometheus'
	 * always-firing Watchdog) is observed now, not refused; a resolved one
	 * that old needs no expiry */
	if (expires_ms - observed_ms > AQ_EXPIRES_AFTER_MAX_MS) {
		if (resolved)
			expires_ms = 0;
		else
			observed_ms = now_ms;
	}

	const char *message = string_at(annotations, "summary");
	if (!message)
		message = string_at(annotations, "description");
	char observed[64], expires[64];
	aq_format_time(observed_ms, observed, sizeof(observed));
	aq_format_time(expires_ms, expires, sizeof(expires));
	json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:s*,s:{}}", "check", check, "status",
				resolved ? "OK" : severity_status(string_at(labels, "severity")), "message",
				message ? message : "", "observed_at", observed, "expires_at",
				expires_ms ? expires : NULL, "labels");
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_t *result_labels = json_object_get(out, "labels");
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(labels, key, v)
	{
		if (strcmp(key, "alertname") != 0)
			rc |= json_object_set(result_labels, key, v);
	}
	json_object_foreach(annotations, key, v)
	{
		char name[AQ_LABEL_KEY_MAX + 16];
		snprintf(name, sizeof(name), "annotation_%s", key);
		rc |= set_cut_label(result_labels, name, json_string_value(v));
	}
	if (json_is_string(url) && json_string_length(url) > 0)
		rc |= set_cut_label(result_labels, "generator_url", json_string_value(url));
	if (rc != 0) {
		json_decref(out);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return out;
}

static int parse_alert_item(json_t *item, int64_t now_ms, struct aq_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	json_t *obj = alert_submit_object(item, now_ms, err, errlen);
	if (!obj)
		return -1;
	int rc = parse_submit_object(obj, r, err, errlen);
	json_decref(obj);
	return rc;
}

int aq_ingest_alertmanager(const char *body, size_t len, int64_t now_ms, struct aq_result **results,
			   size_t *n, json_t **errors)
{
	return ingest(body, len, now_ms, parse_alert_item, results, n, errors);
}
