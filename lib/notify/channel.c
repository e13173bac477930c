/* channel.c - what every channel type shares: writing a delivery's outcome
 * and the helpers request channels build their error messages with */
#include "notify/channel.h"

#include <stdio.h>
#include <string.h>

void aq_delivery_set(struct aq_delivery *d, enum aq_delivery_result result, const char *fmt, ...)
{
	d->result = result;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
}

int aq_require_setting(struct aq_delivery *d, const char *value, const char *env, const char *what)
{
	if (value)
		return 0;
	if (env)
		aq_delivery_set(d, AQ_DELIVERY_PERMANENT, "environment variable %s is not set", env);
	else
		aq_delivery_set(d, AQ_DELIVERY_PERMANENT, "the channel has no %s", what);
	return -1;
}

void aq_url_origin(const char *url, char *out, size_t outlen)
{
	char redacted[512];
	aq_redact_url(url, redacted, sizeof(redacted));
	char *host = strstr(redacted, "://");
	host = host ? host + 3 : redacted;
	host[strcspn(host, "/?#")] = '\0';
	snprintf(out, outlen, "%s", redacted);
}

const char *aq_transfer_error(const struct aq_transfer *t, CURLcode rc)
{
	return t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
}

void aq_copy_printable(char *out, size_t outlen, const char *text, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < outlen; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\r' || c == '\n')
			break;
		out[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	if (outlen > 0)
		out[n] = '\0';
}

int aq_curl_error_is_permanent(CURLcode rc)
{
	return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
}
