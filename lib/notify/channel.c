/* channel.c - what every channel type shares: writing a delivery's outcome
 * and the helpers request channels build their error messages with */
#include "notify/channel.h"

#include <stdio.h>
#include <string.h>

void aq_delivery_set(struct aq_delivery *d, enum aq_delivery_result result, const char *fmt, ...)
{
	/* room to spare: a text longer than the error is cut with a marker */
	char raw[2 * sizeof(d->error)];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
	d->result = result;
	aq_text_clean_into(d->error, sizeof(d->error), raw, len, AQ_TEXT_SPACES);
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
	size_t line = 0;
	while (line < len && text[line] != '\r' && text[line] != '\n')
		line++;
	aq_text_clean_into(out, outlen, text, line, AQ_TEXT_SPACES);
}

int aq_curl_error_is_permanent(CURLcode rc)
{
	return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
}
