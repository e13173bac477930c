/* fuzz_common.h - what the fuzz targets share: their own UTF-8 check,
 * written apart from the library's so that the library never vouches for
 * itself, and reading a schema file */
#ifndef ALERTQ_FUZZ_COMMON_H
#define ALERTQ_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Whether n bytes at s are UTF-8 by RFC 3629 with no NUL byte: written
 * here apart from the library's, so that one does not vouch for itself. */
static inline int utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		uint32_t c = p[i], min;
		size_t more;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			more = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, min = 0x10000, c &= 0x07;
		} else {
			return 0;
		}
		if (n - i <= more)
			return 0;
		for (size_t k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

/* Reads the whole file at path into a new string; NULL when it cannot. */
static inline char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *text = calloc(1, 1 << 16);
	size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (text)
		text[n] = '\0';
	return text;
}

#endif
