/* redact.c - hiding passwords in URLs and DSNs before they are logged or shown */
#include "alertq/util.h"

#include <stdio.h>
#include <string.h>

void aq_redact_url(const char *url, char *out, size_t outlen)
{
	if (!url) {
		snprintf(out, outlen, "(none)");
		return;
	}
	const char *scheme_end = strstr(url, "://");
	const char *at = NULL;
	if (scheme_end) {
		const char *host_start = scheme_end + 3;
		const char *slash = strchr(host_start, '/');
		for (const char *c = host_start; *c && (!slash || c < slash); c++)
			if (*c == '@')
				at = c;
		if (at) {
			snprintf(out, outlen, "%.*s***%s", (int)(host_start - url), url, at);
			return;
		}
	}
	/* key=value DSNs: hide password=... */
	const char *pw = strstr(url, "password=");
	if (pw) {
		const char *end = pw + strlen("password=");
		while (*end && *end != ' ' && *end != '&')
			end++;
		snprintf(out, outlen, "%.*spassword=***%s", (int)(pw - url), url, end);
		return;
	}
	snprintf(out, outlen, "%s", url);
}
