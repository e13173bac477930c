/* api.c - the JSON API of alertq serve: alerts, checks, acknowledgements,
 * silences, health and readiness */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/admin.h"
#include "alertq/event.h"
#include "alertq/util.h"
#include "alertq/version.h"
#include "base/utf8.h"
#include "serve/http.h"

#define ALERTS_LIMIT_DEFAULT 500
#define ALERTS_LIMIT_MAX 5000
#define QUERY_MAX 1024
#define BY_MAX 255
#define COMMENT_MAX 4096
#define READY_KAFKA_TIMEOUT_MS 2000

static int store_failed(struct aq_http_response *resp, const char *err)
{
	aq_log(AQ_LOG_ERROR, "state database: %s", err);
	return aq_http_error(resp, 500, "state database: %s", err);
}

/* A non-negative integer query argument, def when absent; -1 when bad. */
static long long query_count(struct aq_http_request *req, const char *key, long long def, long long max)
{
	char buf[32];
	int bad;
	const char *v = aq_http_query(req, key, buf, sizeof(buf), &bad);
	if (bad)
		return -1;
	if (!v)
		return def;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < 0 || n > max)
		return -1;
	return n;
}

int aq_api_alerts(struct aq_http_request *req, struct aq_http_response *resp)
{
	char severity_buf[32], match_buf[QUERY_MAX];
	int bad_severity, bad_match;
	const char *severity = aq_http_query(req, "severity", severity_buf, sizeof(severity_buf),
					     &bad_severity);
	const char *match = aq_http_query(req, "match", match_buf, sizeof(match_buf), &bad_match);
	if (bad_severity || (severity && aq_status_parse(severity) == AQ_STATUS_NONE))
		return aq_http_error(resp, 400, "severity must be OK, WARNING, CRITICAL or UNKNOWN");
	if (severity)
		severity = aq_severity_name(aq_status_parse(severity));
	if (bad_match)
		return aq_http_error(resp, 400, "match must be a glob of at most %d bytes of UTF-8",
				     QUERY_MAX - 1);
	long long limit = query_count(req, "limit", ALERTS_LIMIT_DEFAULT, ALERTS_LIMIT_MAX);
	if (limit < 0)
		return aq_http_error(resp, 400, "limit must be a number from 0 to %d", ALERTS_LIMIT_MAX);
	long long offset = query_count(req, "offset", 0, (long long)1 << 40);
	if (offset < 0)
		return aq_http_error(resp, 400, "offset must be a number from 0");
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	/* only the firing rows are read, unless OK ones are asked for */
	enum aq_status_scope scope = severity && strcmp(severity, "OK") == 0 ? AQ_STATUS_ALL
									     : AQ_STATUS_NOT_OK;
	json_t *checks = aq_admin_status_json_of(s, scope, NULL, err, sizeof(err));
	if (!checks)
		return store_failed(resp, err);
	json_t *out = json_array();
	long long seen = 0;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		const char *sev = json_string_value(json_object_get(c, "severity"));
		const char *name = json_string_value(json_object_get(c, "check"));
		if (!sev || !name)
			continue;
		if (severity ? strcmp(sev, severity) != 0 : strcmp(sev, "OK") == 0)
			continue;
		if (match && fnmatch(match, name, 0) != 0)
			continue;
		if (seen++ < offset)
			continue;
		if ((long long)json_array_size(out) >= limit)
			break;
		json_array_append(out, c);
	}
	json_decref(checks);
	return aq_http_json(resp, 200, out);
}

int aq_api_check(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	int found;
	json_t *history = aq_admin_history_json(s, req->param, &found, err, sizeof(err));
	if (!history && !found && !aq_store_connection_lost(s))
		return aq_http_error(resp, 404, "%s", err);
	if (!history)
		return store_failed(resp, err);
	json_t *object;
	if (aq_admin_check_json(s, req->param, &object, err, sizeof(err)) != 0) {
		json_decref(history);
		return store_failed(resp, err);
	}
	if (!object)
		object = json_pack("{s:s}", "check", req->param);
	json_object_set_new(object, "history", history);
	return aq_http_json(resp, 200, object);
}

/* The JSON object of the body, or an empty one when there is no body; NULL
 * after a 400 is set. */
static json_t *body_object(struct aq_http_request *req, struct aq_http_response *resp, int required)
{
	if (req->body_len == 0 && !required)
		return json_object();
	json_error_t jerr;
	json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		aq_http_error(resp, 400, "the body is not JSON: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		aq_http_error(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* The string at key of o, cleaned to at most cap bytes (a new string), or
 * NULL when absent; -1 in *bad when it is there but not a string. */
static char *text_field(json_t *o, const char *key, size_t cap, int *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return aq_text_clean_n(json_string_value(v), json_string_length(v), cap, AQ_TEXT_SPACES);
}

int aq_api_ack(struct aq_http_request *req, struct aq_http_response *resp)
{
	json_t *body = body_object(req, resp, 0);
	if (!body)
		return 0;
	int bad = 0;
	char *by = text_field(body, "by", BY_MAX, &bad);
	char *comment = text_field(body, "comment", COMMENT_MAX, &bad);
	json_decref(body);
	if (bad) {
		free(by);
		free(comment);
		return aq_http_error(resp, 400, "'by' and 'comment' must be strings");
	}
	aq_store_t *s = aq_http_store(req, resp);
	char err[512];
	int changed = 0;
	if (s &&
	    aq_store_ack(s, req->param, by && *by ? by : req->who, comment, &changed, err, sizeof(err)) != 0)
		store_failed(resp, err);
	else if (s && !changed)
		aq_http_error(resp, 404, "check '%s' is unknown or not firing", req->param);
	else if (s)
		aq_http_json(resp, 200,
			     json_pack("{s:s,s:b,s:s}", "check", req->param, "acked", 1, "by",
				       by && *by ? by : req->who));
	free(by);
	free(comment);
	return 0;
}

int aq_api_unack(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	int changed = 0;
	if (aq_store_unack(s, req->param, aq_now_ms(), &changed, err, sizeof(err)) != 0)
		return store_failed(resp, err);
	if (!changed)
		return aq_http_error(resp, 404, "check '%s' is unknown or not acknowledged", req->param);
	aq_log(AQ_LOG_INFO, "acknowledgement taken back by %s", req->who);
	return aq_http_json(resp, 200, json_pack("{s:s,s:b}", "check", req->param, "acked", 0));
}

int aq_api_silences(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	json_t *list;
	if (aq_store_silences(s, &list, err, sizeof(err)) != 0)
		return store_failed(resp, err);
	return aq_http_json(resp, 200, list);
}

int aq_api_silence_add(struct aq_http_request *req, struct aq_http_response *resp)
{
	json_t *body = body_object(req, resp, 1);
	if (!body)
		return 0;
	int bad = 0;
	const char *match = json_string_value(json_object_get(body, "match"));
	const char *duration = json_string_value(json_object_get(body, "for"));
	char *by = text_field(body, "by", BY_MAX, &bad);
	char *comment = text_field(body, "comment", COMMENT_MAX, &bad);
	int64_t ms = 0;
	char err[512] = "";
	if (bad)
		aq_http_error(resp, 400, "'by' and 'comment' must be strings");
	else if (!match || !*match || strlen(match) > AQ_CHECK_NAME_MAX ||
		 !aq_utf8_valid(match, strlen(match)))
		aq_http_error(resp, 400, "'match' must be a glob of 1 to %d bytes", AQ_CHECK_NAME_MAX);
	else if (!duration)
		aq_http_error(resp, 400, "'for' must be a duration such as \"2h\"");
	else if (aq_duration_parse(duration, &ms, err, sizeof(err)) != 0 || ms <= 0)
		aq_http_error(resp, 400, "'for': %s", ms <= 0 && !err[0] ? "must be longer than 0" : err);
	else {
		aq_store_t *s = aq_http_store(req, resp);
		int64_t id;
		char ends_at[AQ_STORE_TIME_MAX];
		if (s &&
		    aq_store_silence_add(s, match, ms, comment, by && *by ? by : req->who, &id, ends_at, err,
					 sizeof(err)) != 0)
			store_failed(resp, err);
		else if (s)
			aq_http_json(resp, 200,
				     json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "match", match,
					       "ends_at", ends_at));
	}
	free(by);
	free(comment);
	json_decref(body);
	return 0;
}

int aq_api_unsilence(struct aq_http_request *req, struct aq_http_response *resp)
{
	char *end;
	errno = 0;
	long long id = strtoll(req->param, &end, 10);
	if (!*req->param || *end || errno || id <= 0)
		return aq_http_error(resp, 400, "silence id '%s' is not a number", req->param);
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	int changed;
	if (aq_store_unsilence(s, (int64_t)id, &changed, err, sizeof(err)) != 0)
		return store_failed(resp, err);
	if (!changed)
		return aq_http_error(resp, 404, "no active silence %lld", id);
	aq_log(AQ_LOG_INFO, "silence %lld ended by %s", id, req->who);
	return aq_http_json(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "ended", 1));
}

int aq_api_healthy(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_http_text(resp, 200, "ok\n");
}

int aq_api_ready(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		return aq_http_error(resp, 503, "%s", "PostgreSQL does not answer");
	char err[512];
	int64_t count;
	if (aq_store_count_checks(s, &count, err, sizeof(err)) != 0)
		return aq_http_error(resp, 503, "PostgreSQL: %s", err);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t kerr = rd_kafka_metadata(req->rk, 0, NULL, &md, READY_KAFKA_TIMEOUT_MS);
	if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
		return aq_http_error(resp, 503, "Kafka: %s", rd_kafka_err2str(kerr));
	rd_kafka_metadata_destroy(md);
	return aq_http_text(resp, 200, "ready\n");
}

int aq_api_am_status(struct aq_http_request *req, struct aq_http_response *resp)
{
	char uptime[40];
	aq_format_time(req->started_ms, uptime, sizeof(uptime));
	return aq_http_json(resp, 200,
			    json_pack("{s:{s:s,s:[]},s:{s:s},s:{s:s},s:s}", "cluster", "status", "ready",
				      "peers", "versionInfo", "version", ALERTQ_VERSION, "config", "original",
				      "", "uptime", uptime));
}

int aq_api_not_yet(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_http_error(resp, 501, "not implemented in this build yet");
}
