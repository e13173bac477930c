/* time.c - durations, the wall and monotonic clocks, RFC 3339 times */
#include "alertq/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int aq_duration_parse(const char *text, int64_t *ms, char *err, size_t errlen)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = {
		{ "ms", 1 },      { "s", 1000 },     { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
	};
	const char *p = text;
	if (!text || !*text) {
		snprintf(err, errlen, "empty duration");
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen,
			 "invalid duration '%s': expected a number and a unit (30s, 15m, 4h, 7d)", text);
		return -1;
	}
	errno = 0;
	char *end;
	unsigned long long n = strtoull(p, &end, 10);
	if (errno == ERANGE || n > 1000000000ULL) {
		snprintf(err, errlen, "duration '%s' is too long", text);
		return -1;
	}
	if (*end == '\0') {
		if (n == 0) {
			*ms = 0;
			return 0;
		}
		snprintf(err, errlen, "duration '%s' has no unit (30s, 15m, 4h, 7d)", text);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			*ms = (int64_t)n * units[i].ms;
			return 0;
		}
	}
	snprintf(err, errlen, "invalid duration '%s': unknown unit '%s' (use ms, s, m, h, d, w)", text, end);
	return -1;
}

int64_t aq_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t aq_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void aq_format_time(int64_t ms, char *buf, size_t buflen)
{
	time_t secs = (time_t)(ms / 1000);
	int millis = (int)(ms % 1000);
	if (millis < 0) {
		secs -= 1;
		millis += 1000;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	gmtime_r(&secs, &tm);
	/* four-digit years, as RFC 3339 and aq_parse_time want them: strftime's
	 * %Y writes year 999 as "999" */
	char base[64];
	snprintf(base, sizeof(base), "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (millis)
		snprintf(buf, buflen, "%s.%03dZ", base, millis);
	else
		snprintf(buf, buflen, "%sZ", base);
}

/* Reads exactly n decimal digits at *p into *out and moves *p past them.
 * Returns 0, or -1 when there are fewer than n digits. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* Strict RFC 3339 (section 5.6): every field its exact number of digits and
 * in range, so that what is accepted is what aq_format_time writes back;
 * strptime took "0-1-1T0:0:0" and sscanf an offset of "--2:30". */
int aq_parse_time(const char *text, int64_t *ms, char *err, size_t errlen)
{
	const char *p = text;
	int year, month, day, hour, minute, second;
	if (!text || digits(&p, 4, &year) < 0 || *p++ != '-' || digits(&p, 2, &month) < 0 || *p++ != '-' ||
	    digits(&p, 2, &day) < 0)
		goto bad;
	if (*p != 'T' && *p != 't')
		goto bad;
	p++;
	if (digits(&p, 2, &hour) < 0 || *p++ != ':' || digits(&p, 2, &minute) < 0 || *p++ != ':' ||
	    digits(&p, 2, &second) < 0)
		goto bad;
	/* second 60 is a leap second, counted as the first of the next minute */
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
	    minute > 59 || second > 60)
		goto bad;
	int64_t millis = 0;
	if (*p == '.') {
		int ndigits = 0;
		p++;
		while (isdigit((unsigned char)*p)) {
			if (ndigits < 3) {
				millis = millis * 10 + (*p - '0');
				ndigits++;
			}
			p++;
		}
		if (ndigits == 0)
			goto bad;
		while (ndigits++ < 3)
			millis *= 10;
	}
	int64_t offset_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int hh, mm;
		p++;
		if (digits(&p, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, &mm) < 0 || hh > 23 || mm > 59)
			goto bad;
		offset_s = sign * (hh * 3600 + mm * 60);
	} else {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	time_t secs = timegm(&tm);
	*ms = ((int64_t)secs - offset_s) * 1000 + millis;
	return 0;
bad:
	snprintf(err, errlen, "invalid time '%s': expected RFC 3339 such as 2026-11-27T17:00:00Z",
		 text ? text : "");
	return -1;
}
