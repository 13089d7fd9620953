// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Text helpers for conf.c and template.c: quoting, number parsing, and the
 * pre-scan of memorypool.ini for what inih lets through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_text.h"
#include "internal.h"

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

bool shmdev_text_valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SHMDEV_CONF_MAX_NAME)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* ---- pre-scan ------------------------------------------------------------ */

#define BOM "\xef\xbb\xbf"

struct header {
	const char *name;
	size_t len;
	int line;
	bool global;
};

struct prescan {
	struct shmdev_ctx *ctx;
	const char *file;
	struct header *hdrs;
	size_t nr_hdrs;
};

static bool is_global(const char *s, size_t len)
{
	return len == 6 && !strncasecmp(s, "global", 6);
}

/* One "[name]" line (@s, @len bytes, CR and LF removed) at line @line. */
static int scan_header(struct prescan *ps, const char *s, size_t len, int line)
{
	const char *close = memchr(s, ']', len), *rest, *nm;
	char q[SHMDEV_QUOTE_MAX], qn[SHMDEV_QUOTE_MAX];
	size_t rlen, nlen, i;
	struct header *h;

	if (!close)
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: section header %s has no closing \"]\"",
				   ps->file, line, shmdev_text_quote(q, s, len));
	rest = close + 1;
	rlen = len - (size_t)(rest - s);
	while (rlen && (*rest == ' ' || *rest == '\t')) {
		rest++;
		rlen--;
	}
	if (rlen && *rest != ';' && *rest != '#')
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: text after \"]\" in %s: only a comment (; or #) may follow a section header",
				   ps->file, line, shmdev_text_quote(q, s, len));
	nm = s + 1;
	nlen = (size_t)(close - nm);
	for (i = 0; i < nlen && (nm[i] == ' ' || nm[i] == '\t'); i++)
		;
	if (i == nlen)
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: empty section name in %s",
				   ps->file, line,
				   shmdev_text_quote(q, s, (size_t)(close - s) + 1));
	if (!is_global(nm, nlen) && !shmdev_text_valid_name(nm, nlen))
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: section name %s in %s: not a process name (1 to %d of A-Z a-z 0-9 _ - .)",
				   ps->file, line, shmdev_text_quote(qn, nm, nlen),
				   shmdev_text_quote(q, s, (size_t)(close - s) + 1),
				   SHMDEV_CONF_MAX_NAME);
	for (i = 0; i < ps->nr_hdrs; i++) {
		const struct header *o = &ps->hdrs[i];

		if (o->global ? is_global(nm, nlen) :
				(o->len == nlen && !memcmp(o->name, nm, nlen)))
			return shmdev_fail(ps->ctx, EINVAL, "%s:%d: section [%.*s] given twice (first at line %d): keep one section per process",
					   ps->file, line, (int)nlen, nm, o->line);
	}
	if (ps->nr_hdrs >= SHMDEV_CONF_MAX_SECTIONS)
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: more than %d sections",
				   ps->file, line, SHMDEV_CONF_MAX_SECTIONS);
	h = &ps->hdrs[ps->nr_hdrs++];
	h->name = nm;
	h->len = nlen;
	h->line = line;
	h->global = is_global(nm, nlen);
	return 0;
}

static int scan_line(struct prescan *ps, const char *s, size_t len, bool lf,
		     int line)
{
	const char *cr = memchr(s, '\r', len);
	char q[SHMDEV_QUOTE_MAX];
	size_t lead;

	/* CRLF is a line end; a CR anywhere else is not. */
	if (cr && (cr != s + len - 1 || !lf))
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: carriage return without line feed in %s (old Mac line endings?): save the file with LF or CRLF line endings",
				   ps->file, line,
				   shmdev_text_quote(q, s, cr == s + len - 1 ? len - 1 : len));
	if (cr)
		len--;
	if (memmem(s, len, BOM, 3))
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: byte order mark (U+FEFF) in %s: only the first bytes of the file may hold one",
				   ps->file, line, shmdev_text_quote(q, s, len));
	for (lead = 0; lead < len && (s[lead] == ' ' || s[lead] == '\t'); lead++)
		;
	if (lead == len || s[lead] != '[')
		return 0;
	if (lead)
		return shmdev_fail(ps->ctx, EINVAL, "%s:%d: indented section header %s: a header starts its line (an indented line continues the previous value)",
				   ps->file, line,
				   shmdev_text_quote(q, s + lead, len - lead));
	return scan_header(ps, s, len, line);
}

int shmdev_conf_prescan(struct shmdev_ctx *ctx, const char *name,
			const char *text, size_t len, size_t *skip)
{
	struct prescan ps = { .ctx = ctx, .file = name };
	const char *p = text, *end = text + len;
	int line = 1, r = 0;

	*skip = 0;
	if (len >= 3 && !memcmp(text, BOM, 3)) {
		*skip = 3;
		p += 3;
	}
	ps.hdrs = calloc(SHMDEV_CONF_MAX_SECTIONS, sizeof(*ps.hdrs));
	if (!ps.hdrs)
		return shmdev_fail(ctx, ENOMEM, "%s: out of memory", name);
	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		r = scan_line(&ps, p, n, nl != NULL, line++);
		p += n + 1;
	}
	free(ps.hdrs);
	return r;
}
