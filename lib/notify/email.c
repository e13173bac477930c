/* email.c - the email channel: one plain-text MIME message per notification over SMTP */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/group.h"
#include "notify/channel.h"
#include "notify/format.h"

/* Longest envelope address, angle brackets included. */
#define ADDRESS_MAX 512

/* curl read callback: hands out the message. */
static size_t on_read(char *buffer, size_t size, size_t nitems, void *userdata)
{
	struct aq_transfer *t = userdata;
	size_t room = size * nitems;
	size_t left = t->payload_len - t->payload_sent;
	size_t take = left < room ? left : room;
	memcpy(buffer, t->payload + t->payload_sent, take);
	t->payload_sent += take;
	return take;
}

/* curl debug callback: keeps the last error reply of the server (4xx or 5xx).
 * Only what the server sent is looked at, never what was sent to it. */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata)
{
	struct aq_transfer *t = userdata;
	if (type == CURLINFO_HEADER_IN && size > 0 && (data[0] == '4' || data[0] == '5'))
		aq_copy_printable(t->reply, sizeof(t->reply), data, size);
	return 0;
}

/* Appends "<address>" to the recipient list of t. Returns 0, or -1 when
 * memory runs out. */
static int add_recipient(struct aq_transfer *t, const char *address)
{
	char line[ADDRESS_MAX];
	snprintf(line, sizeof(line), address[0] == '<' ? "%s" : "<%s>", address);
	struct curl_slist *list = curl_slist_append(t->list, line);
	if (!list)
		return -1;
	t->list = list;
	return 0;
}

/* Writes the message of t->item and sets the SMTP options on t->easy. */
static int email_prepare(const struct aq_channel *ch, struct aq_transfer *t)
{
	struct aq_delivery *d = t->item;
	if (aq_require_setting(d, ch->url, ch->url_env, "url") < 0 ||
	    aq_require_setting(d, ch->from, NULL, "from address") < 0 ||
	    (ch->username_env && aq_require_setting(d, ch->username, ch->username_env, "username") < 0) ||
	    (ch->password_env && aq_require_setting(d, ch->password, ch->password_env, "password") < 0))
		return -1;
	if (ch->nto == 0) {
		aq_delivery_set(d, AQ_DELIVERY_PERMANENT, "the channel has no recipients");
		return -1;
	}
	t->payload = d->notification->group_payload
		? aq_group_format_email(ch, d->notification->group_payload, &t->payload_len)
		: aq_format_email(ch, d->notification, &t->payload_len);
	if (!t->payload) {
		aq_delivery_set(d, AQ_DELIVERY_RETRY, "cannot write the message: out of memory");
		return -1;
	}
	for (size_t i = 0; i < ch->nto; i++)
		if (add_recipient(t, ch->to[i]) < 0) {
			aq_delivery_set(d, AQ_DELIVERY_RETRY, "out of memory");
			return -1;
		}
	char from[ADDRESS_MAX];
	snprintf(from, sizeof(from), ch->from[0] == '<' ? "%s" : "<%s>", ch->from);

	long use_ssl = CURLUSESSL_ALL;
	if (ch->starttls == AQ_STARTTLS_TRY)
		use_ssl = CURLUSESSL_TRY;
	else if (ch->starttls == AQ_STARTTLS_OFF)
		use_ssl = CURLUSESSL_NONE;
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, ch->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_USE_SSL, use_ssl);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->list);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, t);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->payload_len);
	curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	if (ch->username)
		curl_easy_setopt(e, CURLOPT_USERNAME, ch->username);
	if (ch->password)
		curl_easy_setopt(e, CURLOPT_PASSWORD, ch->password);
	return 0;
}

/* Reads the outcome of the SMTP transaction into t->item. */
static void email_finish(const struct aq_channel *ch, struct aq_transfer *t, CURLcode rc)
{
	struct aq_delivery *d = t->item;
	if (rc == CURLE_OK) {
		d->result = AQ_DELIVERED;
		return;
	}
	char origin[256];
	aq_url_origin(ch->url, origin, sizeof(origin));
	long code = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 400 && code < 600) {
		enum aq_delivery_result result = code >= 500 ? AQ_DELIVERY_PERMANENT : AQ_DELIVERY_RETRY;
		if (t->reply[0])
			aq_delivery_set(d, result, "SMTP %s from %s", t->reply, origin);
		else
			aq_delivery_set(d, result, "SMTP %ld from %s: %s", code, origin,
					aq_transfer_error(t, rc));
		return;
	}
	/* Connection, TLS (a server without STARTTLS when it is required
	 * included) and timeouts: the server may come back or be fixed, and the
	 * notification waits for it until the channel gives up. */
	const char *why = aq_transfer_error(t, rc);
	if (ch->password && strstr(why, ch->password))
		why = curl_easy_strerror(rc);
	aq_delivery_set(d, aq_curl_error_is_permanent(rc) ? AQ_DELIVERY_PERMANENT : AQ_DELIVERY_RETRY,
			"cannot deliver to %s: %s", origin, why);
}

const struct aq_channel_ops aq_email_ops = {
	.prepare = email_prepare,
	.finish = email_finish,
};
