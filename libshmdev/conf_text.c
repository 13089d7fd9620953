// SPDX-License-Identifier: LGPL-2.1-or-later
/* Text helpers for conf.c and template.c: quoting and number parsing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf_text.h"

char *shmdev_text_quote(char buf[SHMDEV_QUOTE_MAX], const char *s, size_t len)
{
	/* Leave room for an escape (4), "..." (3), the closing quote and NUL. */
	const size_t stop = SHMDEV_QUOTE_MAX - 9;
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o >= stop) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

int shmdev_text_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	int range = 0;
	size_t i = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		int d = digit_value(s[i]);

		if (d >= (int)base)
			return -EINVAL;
		if (__builtin_mul_overflow(v, base, &v) ||
		    __builtin_add_overflow(v, (uint64_t)d, &v))
			range = 1;
	}
	if (range)
		return -ERANGE;
	*out = v;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void shmdev_text_trim(const char **s, size_t *len)
{
	while (*len && is_blank((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}
