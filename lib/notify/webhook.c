/* webhook.c - the webhook channel: a signed JSON (or Slack) POST per notification */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertq/group.h"
#include "notify/channel.h"
#include "notify/format.h"

/* Longest wait a Retry-After header can ask for: a day. */
#define RETRY_AFTER_MAX_S 86400

/* Sets the retry delay from a Retry-After value: delay-seconds, or an
 * HTTP-date (read by curl_getdate). Leaves it alone when it reads as neither. */
static void parse_retry_after(struct aq_transfer *t, const char *value, size_t len)
{
	char text[64];
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	if (len == 0 || len >= sizeof(text))
		return;
	memcpy(text, value, len);
	text[len] = '\0';
	long long seconds = -1;
	if (strspn(text, "0123456789") == len) {
		seconds = len > 6 ? RETRY_AFTER_MAX_S : atoll(text);
	} else {
		time_t when = curl_getdate(text, NULL);
		if (when != (time_t)-1)
			seconds = when > time(NULL) ? (long long)(when - time(NULL)) : 0;
	}
	if (seconds < 0)
		return;
	if (seconds > RETRY_AFTER_MAX_S)
		seconds = RETRY_AFTER_MAX_S;
	t->retry_after_ms = (int64_t)seconds * 1000;
}

/* curl header callback: keeps the reason phrase of the status line and the
 * Retry-After delay. A new status line (after 100 Continue, say) starts over. */
static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	struct aq_transfer *t = userdata;
	size_t len = size * nitems;
	static const char retry_after[] = "retry-after:";
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		t->reply[0] = '\0';
		t->retry_after_ms = 0;
		/* "HTTP/1.1 404 Not Found": the reason follows the second space */
		const char *p = memchr(data, ' ', len);
		if (p)
			p = memchr(p + 1, ' ', len - (size_t)(p + 1 - data));
		if (p)
			aq_copy_printable(t->reply, sizeof(t->reply), p + 1, len - (size_t)(p + 1 - data));
	} else if (len > strlen(retry_after) && strncasecmp(data, retry_after, strlen(retry_after)) == 0) {
		parse_retry_after(t, data + strlen(retry_after), len - strlen(retry_after));
	}
	return len;
}

/* curl write callback: keeps the start of the response body for an error
 * message and drops the rest; stops the transfer once AQ_RESPONSE_READ_MAX
 * bytes came (curl then ends it with CURLE_WRITE_ERROR). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct aq_transfer *t = userdata;
	size_t len = size * nmemb;
	size_t room = sizeof(t->body) - 1 - t->body_len;
	size_t take = len < room ? len : room;
	memcpy(t->body + t->body_len, data, take);
	t->body_len += take;
	t->body[t->body_len] = '\0';
	t->body_read += len;
	if (t->body_read > AQ_RESPONSE_READ_MAX) {
		t->body_cut = 1;
		return 0;
	}
	return len;
}

/* Writes "sha256=<hex HMAC-SHA256 of body keyed with secret>" into out.
 * Returns 0, or -1 when OpenSSL fails. */
static int sign(const char *secret, const char *body, size_t body_len, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, body_len, mac,
		  &mac_len))
		return -1;
	size_t n = (size_t)snprintf(out, outlen, "sha256=");
	for (unsigned int i = 0; i < mac_len && n + 3 <= outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", mac[i]);
	return 0;
}

/* The request body for the channel's format, in a new string; NULL when
 * memory runs out. */
static char *request_body(const struct aq_channel *ch, const struct aq_notification *n)
{
	if (n->group_payload)
		return ch->format == AQ_FORMAT_SLACK ? aq_group_format_slack(ch, n->group_payload)
						     : aq_strdup(n->group_payload);
	return aq_format_webhook(ch, n);
}

/* Appends "name: value" to the request headers of t. Returns 0, or -1 when
 * memory runs out. */
static int add_header(struct aq_transfer *t, const char *name, const char *value)
{
	char line[256];
	/* "Name:" with nothing after it tells curl to leave that header out */
	snprintf(line, sizeof(line), "%s:%s%s", name, value[0] ? " " : "", value);
	struct curl_slist *list = curl_slist_append(t->list, line);
	if (!list)
		return -1;
	t->list = list;
	return 0;
}

/* Writes the request body of t->item and sets the HTTP options on t->easy. */
static int webhook_prepare(const struct aq_channel *ch, struct aq_transfer *t)
{
	struct aq_delivery *d = t->item;
	if (aq_require_setting(d, ch->url, ch->url_env, "url") < 0)
		return -1;
	/* a channel meant to be signed is not sent unsigned */
	if (ch->secret_env && aq_require_setting(d, ch->secret, ch->secret_env, "secret") < 0)
		return -1;
	t->payload = request_body(ch, d->notification);
	if (!t->payload)
		goto oom;
	t->payload_len = strlen(t->payload);
	/* no Expect header: curl would wait for a 100 Continue some servers never send */
	if (add_header(t, "Content-Type", "application/json") < 0 ||
	    add_header(t, "Idempotency-Key", d->notification->notification_id) < 0 ||
	    add_header(t, "User-Agent", "alertq/" ALERTQ_VERSION) < 0 || add_header(t, "Expect", "") < 0)
		goto oom;
	if (ch->secret) {
		char signature[8 + 2 * EVP_MAX_MD_SIZE + 1];
		if (sign(ch->secret, t->payload, t->payload_len, signature, sizeof(signature)) < 0) {
			aq_delivery_set(d, AQ_DELIVERY_RETRY, "cannot compute the HMAC signature");
			return -1;
		}
		if (add_header(t, "X-Alertq-Signature", signature) < 0)
			goto oom;
	}
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, ch->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* a redirect is an answer, not followed: the signed body is for this URL alone */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->payload);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->payload_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->list);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	return 0;
oom:
	aq_delivery_set(d, AQ_DELIVERY_RETRY, "out of memory");
	return -1;
}

/* Reads the answer of the receiver into t->item. */
static void webhook_finish(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc)
{
	struct aq_delivery *d = t->item;
	char origin[256];
	aq_url_origin(ch->url, origin, sizeof(origin));
	/* stopped by on_body: the answer is complete enough */
	if (rc == CURLE_WRITE_ERROR && t->body_cut)
		rc = CURLE_OK;
	if (rc != CURLE_OK) {
		const char *why = aq_transfer_error(t, rc);
		if (ch->secret && strstr(why, ch->secret))
			why = curl_easy_strerror(rc);
		aq_delivery_set(d, aq_curl_error_is_permanent(rc) ? AQ_DELIVERY_PERMANENT : AQ_DELIVERY_RETRY,
				"cannot deliver to %s: %s", origin, why);
		return;
	}
	long status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		d->result = AQ_DELIVERED;
		return;
	}
	char body[AQ_REPLY_MAX];
	aq_copy_printable(body, sizeof(body), t->body, t->body_len);
	/* a redirect, like any other 3xx or 4xx, needs the URL fixed */
	int transient = status >= 500 || status == 408 || status == 429;
	int redirect = status >= 300 && status < 400;
	aq_delivery_set(d, transient ? AQ_DELIVERY_RETRY : AQ_DELIVERY_PERMANENT,
			"HTTP %ld%s%s from %s%s%s%s", status, t->reply[0] ? " " : "", t->reply, origin,
			redirect ? " (redirects are not followed)" : "", body[0] ? ": " : "", body);
	if (transient)
		d->retry_after_ms = t->retry_after_ms;
}

const struct aq_channel_ops aq_webhook_ops = {
	.prepare = webhook_prepare,
	.finish = webhook_finish,
};
