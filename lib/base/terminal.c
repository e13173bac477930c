/* terminal.c - outside text made safe to print on an operator's terminal */
#include "base/terminal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"

/* The code point of a well-formed character of k bytes at p. */
static uint32_t code_point(const unsigned char *p, size_t k)
{
	if (k == 1)
		return p[0];
	uint32_t cp = p[0] & (0xff >> (k + 1));
	for (size_t i = 1; i < k; i++)
		cp = (cp << 6) | (p[i] & 0x3f);
	return cp;
}

static int moves_text(uint32_t cp)
{
	return cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069);
}

char *aq_terminal_text(char *out, size_t outlen, const char *s)
{
	if (outlen == 0)
		return out;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), n = 0, i = 0;
	while (i < len) {
		char piece[16];
		size_t piece_len;
		size_t k = aq_utf8_char_len(p + i, len - i);
		uint32_t cp = k ? code_point(p + i, k) : 0;
		if (k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			/* one byte at a time: a C1 control shows as its two bytes */
			piece_len = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
			k = 1;
		} else if (cp == '\\') {
			piece_len = 2;
			memcpy(piece, "\\\\", 2);
		} else if (moves_text(cp)) {
			piece_len = (size_t)snprintf(piece, sizeof(piece), "\\u{%04x}", (unsigned)cp);
		} else {
			piece_len = k;
			memcpy(piece, p + i, k);
		}
		if (n + piece_len > outlen - 1)
			break;
		memcpy(out + n, piece, piece_len);
		n += piece_len;
		i += k;
	}
	out[n] = '\0';
	return out;
}
