// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memorypool.ini: the seed's CMemoryConfMgr::InitByConfig.
 *
 * inih does the INI syntax.  Its handler only collects (section, key, value,
 * line) entries, and the seed's four steps then run over them in order:
 * (1) read ProcessList, (2) load each listed process's section, (3) map every
 * key to its process and refuse a key used twice, (4) keep the caller's own
 * section.  The format is documented in conf/memorypool.ini.
 *
 * Debian's inih does not pass line numbers to the handler, so the text is
 * fed through our own reader, which counts lines.  Files are read whole
 * first, so a syntax error can quote its line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf_loader.h"

static void conf_proc_release(struct conf_proc *p)
{
	free(p->name);
	free(p->keys);
	free(p->key_lines);
}

SHMDEV_EXPORT void shmdev_conf_free(struct shmdev_conf *conf)
{
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->nr_procs; i++)
		conf_proc_release(&conf->procs[i]);
	free(conf->procs);
	free(conf->name);
	free(conf);
}

static void loader_release(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->nr_sects; i++)
		free(l->sects[i].name);
	free(l->sects);
	for (i = 0; i < l->nr_entries; i++) {
		free(l->entries[i].key);
		free(l->entries[i].value);
	}
	free(l->entries);
	shmdev_conf_free(l->conf);
	l->conf = NULL;
}

static void *grow(void *array, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return array;
	while (n < need)
		n *= 2;
	p = reallocarray(array, n, elem);
	if (p)
		*cap = n;
	return p;
}

/*
 * fgets() over the text that counts lines.  A line that does not fit in
 * inih's buffer would be split silently by inih: refuse it instead.
 */
static char *reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	const char *start = l->text + l->pos, *nl;
	size_t n, content, rest = l->len - l->pos;

	if (l->err || rest == 0 || num < 4)
		return NULL;
	nl = memchr(start, '\n', rest);
	n = nl ? (size_t)(nl - start) + 1 : rest;
	content = n;
	if (content && start[content - 1] == '\n')
		content--;
	if (content && start[content - 1] == '\r')
		content--;
	l->lineno++;
	/* inih wants room for '\r', '\n' and the NUL beyond the text. */
	if (content > (size_t)num - 3) {
		char q[SHMDEV_QUOTE_MAX];

		l->err = shmdev_fail(l->ctx, EINVAL,
				     "%s:%d: line longer than %d bytes at %s (split a long list over several lines of the same key)",
				     l->name, l->lineno, num - 3,
				     shmdev_text_quote(q, start, content));
		return NULL;
	}
	memcpy(str, start, n);
	str[n] = '\0';
	l->pos += n;
	/* Only to name a section's line in messages; inih does the parsing. */
	start += strspn(start, " \t");
	if (*start == '[')
		l->header_line = l->lineno;
	return str;
}

static size_t find_sect(struct loader *l, const char *section)
{
	size_t i;

	if (l->last_sect < l->nr_sects &&
	    !strcmp(l->sects[l->last_sect].name, section))
		return l->last_sect;
	for (i = 0; i < l->nr_sects; i++)
		if (!strcmp(l->sects[i].name, section))
			return l->last_sect = i;
	return SIZE_MAX;
}

static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct loader *l = user;
	struct ini_entry *e;
	size_t sect;

	if (l->err)
		return 0;
	if (!*section || !strcasecmp(section, "global")) {
		sect = GLOBAL_SECT;
	} else {
		sect = find_sect(l, section);
		if (sect == SIZE_MAX) {
			struct ini_sect *s;

			if (l->nr_sects >= CONF_MAX_SECTIONS) {
				l->err = shmdev_fail(l->ctx, EINVAL,
						     "%s:%d: more than %d sections",
						     l->name, l->lineno, CONF_MAX_SECTIONS);
				return 0;
			}
			s = grow(l->sects, &l->sects_cap, l->nr_sects + 1, sizeof(*s));
			if (!s)
				goto nomem;
			l->sects = s;
			s += l->nr_sects;
			s->name = strdup(section);
			if (!s->name)
				goto nomem;
			s->line = l->header_line ? l->header_line : l->lineno;
			s->listed = false;
			sect = l->last_sect = l->nr_sects++;
		}
	}
	if (l->nr_entries >= CONF_MAX_ENTRIES) {
		l->err = shmdev_fail(l->ctx, EINVAL, "%s:%d: more than %d settings",
				     l->name, l->lineno, CONF_MAX_ENTRIES);
		return 0;
	}
	e = grow(l->entries, &l->entries_cap, l->nr_entries + 1, sizeof(*e));
	if (!e)
		goto nomem;
	l->entries = e;
	e += l->nr_entries;
	e->sect = sect;
	e->line = l->lineno;
	e->key = strdup(key);
	e->value = strdup(value ? value : "");
	l->nr_entries++;
	if (!e->key || !e->value)
		goto nomem;
	return 1;
nomem:
	l->err = shmdev_fail(l->ctx, ENOMEM, "%s:%d: out of memory", l->name,
			     l->lineno);
	return 0;
}

/* The text of line @lineno, for syntax errors. */
static void line_text(const struct loader *l, int lineno, const char **s,
		      size_t *len)
{
	const char *p = l->text, *end = l->text + l->len, *nl;
	int n = 1;

	while (n < lineno && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			p = end;
			break;
		}
		p = nl + 1;
		n++;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*s = p;
	*len = nl ? (size_t)(nl - p) : (size_t)(end - p);
	shmdev_text_trim(s, len);
}

/* ---- the four steps ---------------------------------------------------- */

static int add_process(struct loader *l, const struct ini_entry *e,
		       const char *s, size_t len)
{
	struct shmdev_conf *conf = l->conf;
	char q[SHMDEV_QUOTE_MAX];
	struct conf_proc *p;
	size_t i;

	if (!shmdev_text_valid_name(s, len))
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList name %s: not a process name (1 to %d of A-Z a-z 0-9 _ - .)",
				   l->name, e->line, shmdev_text_quote(q, s, len),
				   CONF_MAX_NAME);
	if (len == 6 && !strncasecmp(s, "global", 6))
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList name \"%.*s\": reserved for the [global] section",
				   l->name, e->line, (int)len, s);
	for (i = 0; i < conf->nr_procs; i++)
		if (strlen(conf->procs[i].name) == len &&
		    !memcmp(conf->procs[i].name, s, len))
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList names \"%.*s\" twice",
					   l->name, e->line, (int)len, s);
	if (conf->nr_procs >= CONF_MAX_PROCESSES)
		return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList has more than %d processes",
				   l->name, e->line, CONF_MAX_PROCESSES);
	p = reallocarray(conf->procs, conf->nr_procs + 1, sizeof(*p));
	if (!p)
		return shmdev_fail(l->ctx, ENOMEM, "out of memory");
	conf->procs = p;
	p += conf->nr_procs;
	memset(p, 0, sizeof(*p));
	p->name = strndup(s, len);
	if (!p->name)
		return shmdev_fail(l->ctx, ENOMEM, "out of memory");
	p->list_line = e->line;
	p->pub.name = p->name;
	p->pub.backend = SHMDEV_BACKEND_AUTO;
	p->pub.max_types = CONF_DEFAULT_TYPES;
	p->pub.huge_pages = true;	/* issue 12: huge pages unless HugePages = no */
	p->pub.mode = CONF_DEFAULT_MODE;
	p->pub.tx_log_size = CONF_DEFAULT_TXLOG;
	conf->nr_procs++;
	return 0;
}

/* Step 1: ProcessList, from [global] or the lines before any section. */
static int step_process_list(struct loader *l)
{
	char q[SHMDEV_QUOTE_MAX];
	bool seen = false;
	size_t i;
	int r;

	for (i = 0; i < l->nr_entries; i++) {
		const struct ini_entry *e = &l->entries[i];
		const char *s = e->value;

		if (e->sect != GLOBAL_SECT)
			continue;
		if (strcasecmp(e->key, "ProcessList"))
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: unknown key %s in [global] (known: ProcessList)",
					   l->name, e->line, Q(q, e->key));
		/* Repeated lines (or indented continuations) add to the list. */
		seen = true;
		for (;;) {
			const char *comma = strchr(s, ',');
			const char *item = s;
			size_t len = comma ? (size_t)(comma - s) : strlen(s);

			shmdev_text_trim(&item, &len);
			if (len == 0 && !comma && s != e->value)
				break;	/* trailing comma */
			if (len == 0)
				return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList %s: empty item in the list",
						   l->name, e->line, Q(q, e->value));
			r = add_process(l, e, item, len);
			if (r < 0)
				return r;
			if (!comma)
				break;
			s = comma + 1;
		}
	}
	if (!seen)
		return shmdev_fail(l->ctx, EINVAL, "%s: no ProcessList (put it in [global] or before the first section)",
				   l->name);
	return 0;
}

/* Step 2: each listed process's own section. */
static int step_sections(struct loader *l)
{
	struct shmdev_conf *conf = l->conf;
	size_t i, j;
	int r;

	for (i = 0; i < conf->nr_procs; i++) {
		struct conf_proc *p = &conf->procs[i];
		size_t sect = find_sect(l, p->name);

		if (sect == SIZE_MAX)
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: ProcessList names \"%s\" but there is no [%s] section (or it is empty)",
					   l->name, p->list_line, p->name, p->name);
		l->sects[sect].listed = true;
		p->line = l->sects[sect].line;
		for (j = 0; j < l->nr_entries; j++) {
			if (l->entries[j].sect != sect)
				continue;
			r = shmdev_conf_proc_entry(l, p, &l->entries[j]);
			if (r < 0)
				return r;
		}
		if (!p->base_line)
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: [%s] has no BaseKey",
					   l->name, p->line, p->name);
		if (!p->size_line)
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: [%s] has no BlockSize",
					   l->name, p->line, p->name);
		if (!p->pub.nr_blocks)
			return shmdev_fail(l->ctx, EINVAL, "%s:%d: [%s] has no BlockKeys",
					   l->name, p->line, p->name);
		p->pub.block_keys = p->keys;
	}
	/* A section left out of ProcessList is a process switched off. */
	for (i = 0; i < l->nr_sects; i++)
		if (!l->sects[i].listed)
			shmdev_log(l->ctx, LOG_WARNING, __FILE__, __LINE__, __func__,
				   "%s:%d: [%s] is not in ProcessList: ignored",
				   l->name, l->sects[i].line, l->sects[i].name);
	return 0;
}

struct key_use {
	uint64_t key;
	uint32_t proc;
	int line;
	bool base;
};

static int cmp_use(const void *a, const void *b)
{
	const struct key_use *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	/* On one line only a BaseKey and ... nothing else: keep base first. */
	return (int)y->base - (int)x->base;
}

/* Step 3: every key belongs to exactly one process, once. */
static int step_keys(struct loader *l)
{
	struct shmdev_conf *conf = l->conf;
	struct key_use *u;
	size_t n = 0, i, j;
	int r = 0;

	for (i = 0; i < conf->nr_procs; i++)
		n += 1 + conf->procs[i].pub.nr_blocks;
	u = calloc(n, sizeof(*u));
	if (!u)
		return shmdev_fail(l->ctx, ENOMEM, "out of memory");
	n = 0;
	for (i = 0; i < conf->nr_procs; i++) {
		const struct conf_proc *p = &conf->procs[i];

		u[n++] = (struct key_use){ p->pub.base_key, (uint32_t)i,
					   p->base_line, true };
		for (j = 0; j < p->pub.nr_blocks; j++)
			u[n++] = (struct key_use){ p->keys[j], (uint32_t)i,
						   p->key_lines[j], false };
	}
	qsort(u, n, sizeof(*u), cmp_use);
	for (i = 1; i < n; i++) {
		const struct key_use *a = &u[i - 1], *b = &u[i];
		const char *an = conf->procs[a->proc].name;
		const char *bn = conf->procs[b->proc].name;

		if (a->key != b->key)
			continue;
		if (a->proc == b->proc)
			r = shmdev_fail(l->ctx, EINVAL, "%s:%d: key %llu (0x%llx) is used twice by %s (%s, line %d; %s, line %d)",
					l->name, b->line,
					(unsigned long long)a->key,
					(unsigned long long)a->key, an,
					a->base ? "BaseKey" : "block key", a->line,
					b->base ? "BaseKey" : "block key", b->line);
		else
			r = shmdev_fail(l->ctx, EINVAL, "%s:%d: key %llu (0x%llx) is used by both %s (%s, line %d) and %s (%s, line %d)",
					l->name, b->line,
					(unsigned long long)a->key,
					(unsigned long long)a->key,
					an, a->base ? "BaseKey" : "block key", a->line,
					bn, b->base ? "BaseKey" : "block key", b->line);
		break;
	}
	free(u);
	return r;
}

/* SHMDEV_BACKEND in the environment beats every section's Backend. */
static int apply_env(struct loader *l)
{
	const char *env = getenv("SHMDEV_BACKEND");
	enum shmdev_backend b;
	char q[SHMDEV_QUOTE_MAX];
	size_t i;

	if (!env || !*env)
		return 0;
	if (shmdev_conf_parse_backend(env, &b) < 0)
		return shmdev_fail(l->ctx, EINVAL, "SHMDEV_BACKEND %s: not auto, device or posix",
				   Q(q, env));
	for (i = 0; i < l->conf->nr_procs; i++) {
		struct conf_proc *p = &l->conf->procs[i];

		if (p->pub.backend != b)
			shmdev_info(l->ctx, "SHMDEV_BACKEND=%s overrides the Backend of [%s]",
				    env, p->name);
		p->pub.backend = b;
	}
	return 0;
}

/* Step 4: the caller's own section. */
static int step_self(struct loader *l, const char *process)
{
	struct shmdev_conf *conf = l->conf;
	char known[256];
	size_t i, o = 0;

	if (!process)
		return 0;
	for (i = 0; i < conf->nr_procs; i++) {
		if (!strcmp(conf->procs[i].name, process)) {
			conf->self = &conf->procs[i];
			return 0;
		}
	}
	known[0] = '\0';
	for (i = 0; i < conf->nr_procs && o < sizeof(known); i++) {
		int n = snprintf(known + o, sizeof(known) - o, "%s%s",
				 i ? ", " : "", conf->procs[i].name);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o >= sizeof(known))
		memcpy(known + sizeof(known) - 4, "...", 4);
	{
		char q[SHMDEV_QUOTE_MAX];

		return shmdev_fail(l->ctx, ENOENT, "%s: process %s is not in ProcessList (line %d: %s)",
				   l->name, Q(q, process),
				   conf->procs[0].list_line, known);
	}
}

static int load(struct shmdev_ctx *ctx, const char *text, size_t len,
		const char *name, const char *process,
		struct shmdev_conf **out)
{
	struct loader l = {
		.ctx = ctx, .name = name, .text = text, .len = len,
		.last_sect = SIZE_MAX,
	};
	size_t skip;
	int r;

	l.conf = calloc(1, sizeof(*l.conf));
	if (!l.conf)
		return shmdev_fail(ctx, ENOMEM, "out of memory");
	l.conf->name = strdup(name);
	if (!l.conf->name) {
		r = shmdev_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	r = shmdev_conf_prescan(ctx, name, text, len, &skip);
	if (r)
		goto out;
	/* A leading byte order mark is ours to skip, whatever inih's build says. */
	l.text += skip;
	l.len -= skip;
	r = ini_parse_stream(reader, &l, handler, &l);
	if (l.err) {
		r = l.err;
		goto out;
	}
	if (r == -2) {
		r = shmdev_fail(ctx, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if (r != 0) {
		const char *s;
		size_t n;
		char q[SHMDEV_QUOTE_MAX];

		line_text(&l, r, &s, &n);
		r = shmdev_fail(ctx, EINVAL, "%s:%d: syntax error at %s (expected [section], key = value or a comment)",
				name, r, shmdev_text_quote(q, s, n));
		goto out;
	}
	r = step_process_list(&l);
	if (r == 0)
		r = step_sections(&l);
	if (r == 0)
		r = step_keys(&l);
	if (r == 0)
		r = apply_env(&l);
	if (r == 0)
		r = step_self(&l, process);
	if (r == 0) {
		*out = l.conf;
		l.conf = NULL;
	}
out:
	loader_release(&l);
	return r;
}

SHMDEV_EXPORT int shmdev_conf_load_string(struct shmdev_ctx *ctx,
					  const char *text, const char *name,
					  const char *process,
					  struct shmdev_conf **conf)
{
	if (!ctx)
		return -EINVAL;
	shmdev_clear_error(ctx);
	if (!text || !conf)
		return shmdev_fail(ctx, EINVAL, "shmdev_conf_load_string: NULL %s",
				   !text ? "text" : "conf");
	*conf = NULL;
	return load(ctx, text, strlen(text), name ? name : "<string>", process,
		    conf);
}

SHMDEV_EXPORT int shmdev_conf_load(struct shmdev_ctx *ctx, const char *path,
				   const char *process,
				   struct shmdev_conf **conf)
{
	char *buf = NULL;
	size_t len;
	FILE *f;
	int r;

	if (!ctx)
		return -EINVAL;
	shmdev_clear_error(ctx);
	if (!path || !conf)
		return shmdev_fail(ctx, EINVAL, "shmdev_conf_load: NULL %s",
				   !path ? "path" : "conf");
	*conf = NULL;
	f = fopen(path, "re");
	if (!f) {
		r = errno;
		return shmdev_fail(ctx, r, "cannot open %s: %s", path, strerror(r));
	}
	buf = malloc(CONF_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return shmdev_fail(ctx, ENOMEM, "%s: out of memory", path);
	}
	len = fread(buf, 1, CONF_MAX_FILE + 1, f);
	if (ferror(f)) {
		r = shmdev_fail(ctx, EIO, "cannot read %s", path);
		goto out;
	}
	if (len > CONF_MAX_FILE) {
		r = shmdev_fail(ctx, EFBIG, "%s: larger than %u bytes", path,
				CONF_MAX_FILE);
		goto out;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		const char *nul = buf + strlen(buf), *p;
		int line = 1;

		const char *bol = buf;
		char q[SHMDEV_QUOTE_MAX];

		for (p = buf; p < nul; p++)
			if (*p == '\n') {
				line++;
				bol = p + 1;
			}
		r = shmdev_fail(ctx, EINVAL, "%s:%d: contains a NUL byte after %s",
				path, line,
				shmdev_text_quote(q, bol, (size_t)(nul - bol)));
		goto out;
	}
	r = load(ctx, buf, len, path, process, conf);
out:
	free(buf);
	fclose(f);
	return r;
}

/* ---- accessors ----------------------------------------------------------- */

SHMDEV_EXPORT size_t shmdev_conf_nr_processes(const struct shmdev_conf *conf)
{
	return conf ? conf->nr_procs : 0;
}

SHMDEV_EXPORT const struct shmdev_proc_conf *
shmdev_conf_process_at(const struct shmdev_conf *conf, size_t i)
{
	if (!conf || i >= conf->nr_procs)
		return NULL;
	return &conf->procs[i].pub;
}

SHMDEV_EXPORT const struct shmdev_proc_conf *
shmdev_conf_process(const struct shmdev_conf *conf, const char *name)
{
	size_t i;

	if (!conf || !name)
		return NULL;
	for (i = 0; i < conf->nr_procs; i++)
		if (!strcmp(conf->procs[i].name, name))
			return &conf->procs[i].pub;
	return NULL;
}

SHMDEV_EXPORT const struct shmdev_proc_conf *
shmdev_conf_self(const struct shmdev_conf *conf)
{
	return conf && conf->self ? &conf->self->pub : NULL;
}
