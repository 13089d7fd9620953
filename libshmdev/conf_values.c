// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memorypool.ini: the keys of one process section (BaseKey, BlockSize,
 * BlockKeys, Backend, HugePages, FixedAddress, MaxTypeInfoNum, Mode), each
 * parsed strictly; an error names the file, the line, the key and the value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_loader.h"

/* ---- values ------------------------------------------------------------ */

static int fail_at(struct loader *l, int line, const char *key,
		   const char *value, const char *why)
{
	char q[SHMDEV_QUOTE_MAX];

	return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: %s", l->name, line,
			   key, Q(q, value), why);
}

static int parse_key(struct loader *l, const struct ini_entry *e,
		     const char *s, size_t len, uint64_t *out)
{
	char q[SHMDEV_QUOTE_MAX];
	int r = shmdev_text_u64(s, len, out);

	if (r == -ERANGE)
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: key out of range (at most 64 bits)",
				   l->name, e->line, e->key,
				   shmdev_text_quote(q, s, len));
	if (r < 0)
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: not a key (a decimal or 0x number)",
				   l->name, e->line, e->key,
				   shmdev_text_quote(q, s, len));
	if (*out == 0)
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: key 0 is reserved",
				   l->name, e->line, e->key,
				   shmdev_text_quote(q, s, len));
	return 0;
}

/* A byte count: a number with an optional K, M, G or T suffix (x1024). */
static int parse_size(struct loader *l, const struct ini_entry *e,
		      uint64_t *out)
{
	const char *s = e->value;
	size_t len = strlen(s), n = len;
	unsigned int shift = 0;
	uint64_t v;
	int r;

	/* Accept 4K, 4KB, 4KiB, 4k. */
	if (n >= 2 && (s[n - 1] == 'B' || s[n - 1] == 'b')) {
		n--;
		if (n >= 2 && s[n - 1] == 'i')
			n--;
	}
	if (n >= 2) {
		switch (s[n - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: break;
		}
		if (shift)
			n--;
	}
	if (!shift && n != len)
		n = len;	/* "12B" alone: not a size */
	r = shmdev_text_u64(s, n, &v);
	if (r == -ERANGE || (r == 0 && shift && v > (UINT64_MAX >> shift)))
		return fail_at(l, e->line, e->key, s, "size out of range");
	if (r < 0)
		return fail_at(l, e->line, e->key, s,
			       "not a size (bytes, or a number with a K, M, G or T suffix)");
	*out = v << shift;
	return 0;
}

static int parse_bool(struct loader *l, const struct ini_entry *e, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(e->value, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(e->value, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail_at(l, e->line, e->key, e->value, "not yes or no");
}

int shmdev_conf_parse_backend(const char *s, enum shmdev_backend *out)
{
	if (!strcasecmp(s, "auto"))
		*out = SHMDEV_BACKEND_AUTO;
	else if (!strcasecmp(s, "device"))
		*out = SHMDEV_BACKEND_DEVICE;
	else if (!strcasecmp(s, "posix"))
		*out = SHMDEV_BACKEND_POSIX;
	else
		return -EINVAL;
	return 0;
}

static int add_block_key(struct loader *l, struct conf_proc *p,
			 const struct ini_entry *e, uint64_t key)
{
	if (p->pub.nr_blocks == p->keys_cap) {
		size_t n = p->keys_cap ? 2 * p->keys_cap : 16;
		uint64_t *k;
		int *ln;

		/* Both arrays grow to n; keys_cap moves only when both did. */
		k = reallocarray(p->keys, n, sizeof(*k));
		if (!k)
			return shmdev_fail(l->ctx, ENOMEM, "out of memory");
		p->keys = k;
		ln = reallocarray(p->key_lines, n, sizeof(*ln));
		if (!ln)
			return shmdev_fail(l->ctx, ENOMEM, "out of memory");
		p->key_lines = ln;
		p->keys_cap = n;
	}
	p->keys[p->pub.nr_blocks] = key;
	p->key_lines[p->pub.nr_blocks] = e->line;
	p->pub.nr_blocks++;
	return 0;
}

/*
 * BlockKeys = 1001, 1002, 1010-1019: keys and inclusive ranges, separated by
 * commas; a trailing comma is allowed so that a list can go on, indented, on
 * the next line.
 */
static int parse_block_keys(struct loader *l, struct conf_proc *p,
			    const struct ini_entry *e, bool single)
{
	const char *s = e->value;
	char q[SHMDEV_QUOTE_MAX];
	int r;

	for (;;) {
		const char *comma = strchr(s, ',');
		const char *item = s, *dash;
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		uint64_t lo, hi, k;

		shmdev_text_trim(&item, &len);
		if (len == 0) {
			if (!comma && s != e->value)
				return 0;	/* trailing comma */
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: empty item in the list",
					   l->name, e->line, e->key, Q(q, e->value));
		}
		if (single && comma)
			return fail_at(l, e->line, e->key, e->value,
				       "one key per BlockKey line (use BlockKeys for lists)");
		dash = memchr(item, '-', len);
		if (dash && !single) {
			const char *a = item, *b = dash + 1;
			size_t alen = (size_t)(dash - item);
			size_t blen = len - alen - 1;

			shmdev_text_trim(&a, &alen);
			shmdev_text_trim(&b, &blen);
			/* "1002-", "-5-10": name the item, not an empty half. */
			if (!alen || !blen || memchr(b, '-', blen))
				return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s range %s: not FIRST-LAST (two keys and one dash)",
						   l->name, e->line, e->key,
						   shmdev_text_quote(q, item, len));
			r = parse_key(l, e, a, alen, &lo);
			if (r < 0)
				return r;
			r = parse_key(l, e, b, blen, &hi);
			if (r < 0)
				return r;
			if (lo > hi)
				return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s range %s: start above end",
						   l->name, e->line, e->key,
						   shmdev_text_quote(q, item, len));
		} else {
			r = parse_key(l, e, item, len, &lo);
			if (r < 0)
				return r;
			hi = lo;
		}
		/* Check the count before expanding: a range may be huge. */
		if (hi - lo >= CONF_MAX_BLOCKS - p->pub.nr_blocks)
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: %s %s: [%s] would have more than %d block keys",
					   l->name, e->line, e->key,
					   shmdev_text_quote(q, item, len),
					   p->name, CONF_MAX_BLOCKS);
		for (k = lo;; k++) {
			r = add_block_key(l, p, e, k);
			if (r < 0)
				return r;
			if (k == hi)
				break;
		}
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

static int once(struct loader *l, const struct conf_proc *p,
		const struct ini_entry *e, int *line)
{
	if (*line)
		return shmdev_fail(l->ctx, EINVAL,
				   "%s:%d: %s given twice in [%s] (first at line %d; an indented line continues the previous value)",
				   l->name, e->line, e->key, p->name, *line);
	*line = e->line;
	return 0;
}

static const char known_keys[] =
	"BaseKey, BlockSize, BlockKeys, BlockKey, Backend, HugePages, FixedAddress, MaxTypeInfoNum, Mode, TxLogSize";

int shmdev_conf_proc_entry(struct loader *l, struct conf_proc *p,
			   const struct ini_entry *e)
{
	struct shmdev_proc_conf *c = &p->pub;
	const char *k = e->key;
	uint64_t v;
	int r;

	if (!strcasecmp(k, "BlockKeys"))
		return parse_block_keys(l, p, e, false);
	if (!strcasecmp(k, "BlockKey"))
		return parse_block_keys(l, p, e, true);

	if (!strcasecmp(k, "BaseKey")) {
		r = once(l, p, e, &p->base_line);
		if (r == 0)
			r = parse_key(l, e, e->value, strlen(e->value), &c->base_key);
		return r;
	}
	if (!strcasecmp(k, "BlockSize")) {
		r = once(l, p, e, &p->size_line);
		if (r == 0)
			r = parse_size(l, e, &c->block_size);
		if (r < 0)
			return r;
		if (c->block_size < CONF_PAGE || c->block_size % CONF_PAGE)
			return fail_at(l, e->line, k, e->value,
				       "must be a multiple of 4096 bytes (4K)");
		if (c->block_size > CONF_MAX_BLOCK_SIZE)
			return fail_at(l, e->line, k, e->value,
				       "larger than the 64G limit");
		return 0;
	}
	if (!strcasecmp(k, "Backend")) {
		r = once(l, p, e, &p->backend_line);
		if (r == 0 && shmdev_conf_parse_backend(e->value, &c->backend) < 0)
			r = fail_at(l, e->line, k, e->value,
				    "not auto, device or posix");
		return r;
	}
	if (!strcasecmp(k, "HugePages")) {
		r = once(l, p, e, &p->huge_line);
		if (r == 0)
			r = parse_bool(l, e, &c->huge_pages);
		if (r == 0)
			c->huge_pages_set = true;
		return r;
	}
	if (!strcasecmp(k, "FixedAddress")) {
		r = once(l, p, e, &p->fixed_line);
		if (r < 0)
			return r;
		r = shmdev_text_u64(e->value, strlen(e->value), &v);
		if (r < 0)
			return fail_at(l, e->line, k, e->value,
				       "not an address (0, or a 0x number)");
		if (v % CONF_PAGE || v > CONF_MAX_FIXED_ADDR)
			return fail_at(l, e->line, k, e->value,
				       "not a page-aligned user-space address (0x1000 .. 0x7ffffffff000)");
		c->fixed_addr = v;
		return 0;
	}
	if (!strcasecmp(k, "MaxTypeInfoNum")) {
		r = once(l, p, e, &p->types_line);
		if (r < 0)
			return r;
		r = shmdev_text_u64(e->value, strlen(e->value), &v);
		if (r < 0 || v < 1 || v > CONF_MAX_TYPES)
			return fail_at(l, e->line, k, e->value,
				       "not a number from 1 to 4096");
		c->max_types = (uint32_t)v;
		return 0;
	}
	if (!strcasecmp(k, "TxLogSize")) {
		r = once(l, p, e, &p->txlog_line);
		if (r == 0)
			r = parse_size(l, e, &c->tx_log_size);
		if (r < 0)
			return r;
		if (c->tx_log_size && (c->tx_log_size < CONF_PAGE || c->tx_log_size % CONF_PAGE))
			return fail_at(l, e->line, k, e->value,
				       "must be 0 (no transactions) or a multiple of 4096 bytes (4K)");
		if (c->tx_log_size > CONF_MAX_TXLOG)
			return fail_at(l, e->line, k, e->value, "larger than the 1G limit");
		return 0;
	}
	if (!strcasecmp(k, "Mode")) {
		const char *s = e->value;

		r = once(l, p, e, &p->mode_line);
		if (r < 0)
			return r;
		if (!*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 4)
			return fail_at(l, e->line, k, e->value,
				       "not an octal mode such as 0600");
		v = strtoul(s, NULL, 8);
		if (v > 0777)
			return fail_at(l, e->line, k, e->value,
				       "only permission bits (0777 at most)");
		if ((v & 0600) != 0600)
			return fail_at(l, e->line, k, e->value,
				       "the owner needs read and write (0600)");
		c->mode = (uint32_t)v;
		return 0;
	}
	{
		char q[SHMDEV_QUOTE_MAX];

		return shmdev_fail(l->ctx, EINVAL, "%s:%d: unknown key %s in [%s] (known: %s)",
				   l->name, e->line, Q(q, k), p->name, known_keys);
	}
}
