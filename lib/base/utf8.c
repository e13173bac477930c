/* utf8.c - UTF-8: validation, cutting on character boundaries, clean copies */
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd"
#define ELLIPSIS "..."

size_t aq_utf8_char_len(const unsigned char *p, size_t avail)
{
	if (avail == 0)
		return 0;
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : 0xbf;
		if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
		if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

int aq_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		/* eight ASCII bytes at a time: no high bit, no zero byte */
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080ULL) &&
			    !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
				i += 8;
				continue;
			}
		}
		if (p[i] == 0)
			return 0;
		size_t k = aq_utf8_char_len(p + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

size_t aq_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t cut = max;
	/* at most three continuation bytes belong to the character cut into */
	for (int back = 0; back < 3 && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80; back++)
		cut--;
	if (((unsigned char)s[cut] & 0xc0) == 0x80)
		return max;
	return cut;
}

char *aq_text_clean_into(char *out, size_t outlen, const char *s, size_t len, enum aq_text_controls controls)
{
	if (outlen == 0)
		return out;
	size_t cap = outlen - 1;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	if (!s)
		len = 0;
	size_t n = 0, i = 0;
	while (i < len) {
		const char *piece = (const char *)p + i;
		size_t piece_len = aq_utf8_char_len(p + i, len - i);
		size_t advance = piece_len;
		if (piece_len == 0) {
			piece = REPLACEMENT;
			piece_len = 3;
			advance = 1;
		} else if (p[i] == '\r' || p[i] == '\n') {
			piece = controls == AQ_TEXT_NEWLINES ? "\n" : " ";
			piece_len = 1;
			if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
				advance = 2;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			piece = " ";
			piece_len = 1;
		}
		if (n + piece_len > cap) {
			/* back off whole characters until the marker fits */
			size_t mark = sizeof(ELLIPSIS) - 1;
			if (cap < mark) {
				n = aq_utf8_cut(out, n, cap);
				break;
			}
			while (n > cap - mark) {
				n--;
				while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
					n--;
			}
			memcpy(out + n, ELLIPSIS, mark);
			n += mark;
			break;
		}
		memcpy(out + n, piece, piece_len);
		n += piece_len;
		i += advance;
	}
	out[n] = '\0';
	return out;
}

char *aq_text_clean_n(const char *s, size_t len, size_t cap, enum aq_text_controls controls)
{
	if (!s)
		len = 0;
	/* an invalid byte grows to three; nothing is written past cap */
	size_t room = len <= cap / 3 ? len * 3 : cap;
	char *out = malloc(room + 1);
	if (!out)
		return NULL;
	return aq_text_clean_into(out, room + 1, s, len, controls);
}

char *aq_text_clean(const char *s, size_t cap, enum aq_text_controls controls)
{
	return aq_text_clean_n(s, s ? strlen(s) : 0, cap, controls);
}
