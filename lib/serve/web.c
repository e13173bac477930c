/* web.c - the status page over HTTP: the pages and the forms that ack,
 * unack and silence */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/admin.h"
#include "alertq/event.h"
#include "alertq/util.h"
#include "base/utf8.h"
#include "serve/http.h"
#include "serve/page.h"

#define PAGE_REFRESH_S 30
#define FILTER_MAX 256
#define CSRF_FIELD_MAX 128
#define FIELD_MAX 4096
#define COMMENT_MAX 4096
#define DURATION_MAX 64

/* resp answers status with html (owned, taken); a 500 text when html is
 * NULL (memory ran out). Returns 0. */
static int answer_html(struct aq_http_response *resp, int status, char *html)
{
	if (!html)
		return aq_http_text(resp, 500, "out of memory\n");
	free(resp->body);
	resp->status = status;
	resp->body = html;
	resp->content_type = "text/html; charset=utf-8";
	return 0;
}

/* resp answers status with the HTML error page saying message. Returns 0. */
static int error_page(struct aq_http_response *resp, int status, const char *message)
{
	return answer_html(resp, status, aq_page_error(status, message));
}

static int store_failed(struct aq_http_response *resp, const char *err)
{
	char message[600];
	aq_log(AQ_LOG_ERROR, "state database: %s", err);
	snprintf(message, sizeof(message), "state database: %s", err);
	return error_page(resp, 500, message);
}

/* The store for this request, or NULL after an HTML 500 is set. */
static aq_store_t *page_store(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = aq_http_store(req, resp);
	if (!s)
		error_page(resp, 500, "the state database does not answer");
	return s;
}

static void page_ctx(const struct aq_http_request *req, struct aq_page_ctx *ctx)
{
	int forms = req->can_operate && req->csrf && req->csrf[0];
	ctx->csrf = forms ? req->csrf : NULL;
	ctx->can_operate = req->can_operate;
	ctx->who = req->who;
	ctx->refresh_s = PAGE_REFRESH_S;
}

int aq_web_index(struct aq_http_request *req, struct aq_http_response *resp)
{
	char filter_buf[FILTER_MAX];
	int bad = 0;
	const char *filter = aq_http_query(req, "filter", filter_buf, sizeof(filter_buf), &bad);
	if (bad)
		return error_page(resp, 400, "the filter must be at most 255 bytes of UTF-8");
	aq_store_t *s = page_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	json_t *checks = aq_admin_status_json(s, err, sizeof(err));
	if (!checks)
		return store_failed(resp, err);
	json_t *silences = NULL;
	if (aq_store_silences(s, &silences, err, sizeof(err)) != 0) {
		json_decref(checks);
		return store_failed(resp, err);
	}
	struct aq_page_ctx ctx;
	page_ctx(req, &ctx);
	char *html = aq_page_index(checks, silences, filter && *filter ? filter : NULL, &ctx);
	json_decref(checks);
	json_decref(silences);
	return answer_html(resp, 200, html);
}

int aq_web_check(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *s = page_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	int found = 0;
	json_t *history = aq_admin_history_json(s, req->param, &found, err, sizeof(err));
	if (!history && !found && !aq_store_connection_lost(s))
		return error_page(resp, 404, "no such check");
	if (!history)
		return store_failed(resp, err);
	json_t *check;
	if (aq_admin_check_json(s, req->param, &check, err, sizeof(err)) != 0) {
		json_decref(history);
		return store_failed(resp, err);
	}
	if (!check) {
		json_decref(history);
		return error_page(resp, 404, "no such check");
	}
	struct aq_page_ctx ctx;
	page_ctx(req, &ctx);
	char *html = aq_page_check(check, history, &ctx);
	json_decref(check);
	json_decref(history);
	return answer_html(resp, 200, html);
}

/* 1 when the form may act: it carries this caller's token (compared in
 * constant time) and comes from a page of this server; else 0 after a 403
 * page is set. */
static int form_trusted(struct aq_http_request *req, struct aq_http_response *resp)
{
	char buf[CSRF_FIELD_MAX];
	int bad = 0;
	const char *sent = aq_http_form(req, "csrf", buf, sizeof(buf), &bad);
	size_t want = req->csrf ? strlen(req->csrf) : 0;
	int same = !bad && sent && want > 0 && strlen(sent) == want &&
		CRYPTO_memcmp(sent, req->csrf, want) == 0;
	if (!same) {
		error_page(resp, 403, "the form's token is missing or wrong; reload the page and try again");
		return 0;
	}
	if (!aq_http_same_origin(req)) {
		error_page(resp, 403, "the form was sent from another site");
		return 0;
	}
	return 1;
}

/* A form field cleaned to at most cap bytes (a new string), NULL when
 * absent or empty; -1 in *bad when it is not UTF-8 or too long. */
static char *form_text(const struct aq_http_request *req, const char *key, size_t cap, int *bad)
{
	char buf[FIELD_MAX + 1];
	int b = 0;
	const char *v = aq_http_form(req, key, buf, sizeof(buf), &b);
	if (b) {
		*bad = 1;
		return NULL;
	}
	if (!v || !*v)
		return NULL;
	return aq_text_clean_n(v, strlen(v), cap, AQ_TEXT_SPACES);
}

/* resp redirects (303) to /checks/NAME, the name percent-encoded. */
static int redirect_to_check(struct aq_http_response *resp, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(resp->location, sizeof(resp->location), "/checks/");
	for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < sizeof(resp->location);
	     p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			resp->location[n++] = (char)*p;
		} else {
			resp->location[n++] = '%';
			resp->location[n++] = hex[*p >> 4];
			resp->location[n++] = hex[*p & 15];
		}
	}
	resp->location[n] = '\0';
	return answer_html(resp, 303, aq_strdup("<!doctype html><title>done</title><p>done</p>\n"));
}

int aq_web_ack(struct aq_http_request *req, struct aq_http_response *resp)
{
	if (!form_trusted(req, resp))
		return 0;
	int bad = 0;
	char *comment = form_text(req, "comment", COMMENT_MAX, &bad);
	if (bad)
		return error_page(resp, 400, "the comment must be at most 4096 bytes of UTF-8");
	aq_store_t *s = page_store(req, resp);
	char err[512];
	int changed = 0;
	if (s && aq_store_ack(s, req->param, req->who, comment, &changed, err, sizeof(err)) != 0)
		store_failed(resp, err);
	else if (s && !changed)
		error_page(resp, 404, "the check is unknown or not firing");
	else if (s)
		redirect_to_check(resp, req->param);
	free(comment);
	return 0;
}

int aq_web_unack(struct aq_http_request *req, struct aq_http_response *resp)
{
	if (!form_trusted(req, resp))
		return 0;
	aq_store_t *s = page_store(req, resp);
	if (!s)
		return 0;
	char err[512];
	int changed = 0;
	if (aq_store_unack(s, req->param, aq_now_ms(), &changed, err, sizeof(err)) != 0)
		return store_failed(resp, err);
	if (!changed)
		return error_page(resp, 404, "the check is unknown or not acknowledged");
	aq_log(AQ_LOG_INFO, "acknowledgement taken back by %s", req->who);
	return redirect_to_check(resp, req->param);
}

int aq_web_silence(struct aq_http_request *req, struct aq_http_response *resp)
{
	if (!form_trusted(req, resp))
		return 0;
	char match[AQ_CHECK_NAME_MAX + 1], duration[DURATION_MAX];
	int bad_match = 0, bad_duration = 0, bad = 0;
	const char *m = aq_http_form(req, "match", match, sizeof(match), &bad_match);
	const char *d = aq_http_form(req, "for", duration, sizeof(duration), &bad_duration);
	if (bad_match || !m || !*m)
		return error_page(resp, 400, "the match must be a check name or glob of 1 to 255 bytes");
	int64_t ms = 0;
	char err[512] = "";
	if (bad_duration || !d || aq_duration_parse(d, &ms, err, sizeof(err)) != 0 || ms <= 0)
		return error_page(resp, 400, "the duration must be such as 30m, 2h or 1d, longer than 0");
	char *comment = form_text(req, "comment", COMMENT_MAX, &bad);
	if (bad)
		return error_page(resp, 400, "the comment must be at most 4096 bytes of UTF-8");
	aq_store_t *s = page_store(req, resp);
	int64_t id;
	char ends_at[AQ_STORE_TIME_MAX];
	if (s && aq_store_silence_add(s, m, ms, comment, req->who, &id, ends_at, err, sizeof(err)) != 0)
		store_failed(resp, err);
	else if (s) {
		aq_log(AQ_LOG_INFO, "silence %lld on '%s' added by %s", (long long)id, m, req->who);
		snprintf(resp->location, sizeof(resp->location), "/");
		answer_html(resp, 303, aq_strdup("<!doctype html><title>done</title><p>done</p>\n"));
	}
	free(comment);
	return 0;
}
