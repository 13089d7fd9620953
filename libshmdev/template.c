// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memorypool.ini.tmpl renderer: ${NAME}, $((EXPR)) and $$.
 *
 * EXPR is signed 64-bit integer arithmetic, evaluated by a small recursive
 * descent parser:
 *
 *	expr    := term (('+' | '-') term)*
 *	term    := unary (('*' | '/' | '%') unary)*
 *	unary   := ('-' | '+') unary | primary
 *	primary := NUMBER | ${NAME} | '(' expr ')'
 *
 * NUMBER is decimal or 0x hexadecimal; a ${NAME} inside an expression must
 * hold such a number (optionally negative).  Overflow, division by zero and
 * anything else unexpected fail, naming the template, the line and the text.
 * A '$' that starts none of the three forms is an error too, so that a typo
 * such as "$ZONE_ID" does not reach the rendered file.  Every failure is
 * -EINVAL, except -EFBIG for an output over 16 MiB and -ENOMEM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_text.h"
#include "internal.h"

#define TMPL_MAX_OUT	(16U << 20)	/* bytes of rendered output */
#define TMPL_MAX_DEPTH	64		/* nested parentheses and unary signs */

struct render {
	struct shmdev_ctx *ctx;
	const char *name;
	const char *const *vars;
	size_t nr_vars;
	const char *p;		/* cursor */
	int line;
	const char *expr;	/* start of the current $((...)) body */
	int depth;
	char *out;
	size_t len, cap;
};

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static int append(struct render *r, const char *s, size_t n)
{
	if (n > TMPL_MAX_OUT - r->len)
		return shmdev_fail(r->ctx, EFBIG, "%s:%d: output larger than %u bytes",
				   r->name, r->line, TMPL_MAX_OUT);
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		char *o;

		while (cap < r->len + n + 1)
			cap *= 2;
		o = realloc(r->out, cap);
		if (!o)
			return shmdev_fail(r->ctx, ENOMEM, "%s: out of memory", r->name);
		r->out = o;
		r->cap = cap;
	}
	memcpy(r->out + r->len, s, n);
	r->len += n;
	r->out[r->len] = '\0';
	return 0;
}

/* The value of variable @s (@len bytes), or NULL.  Later entries win. */
static const char *lookup(const struct render *r, const char *s, size_t len)
{
	size_t i = r->nr_vars;

	while (i-- > 0) {
		const char *v = r->vars[i];

		if (!strncmp(v, s, len) && v[len] == '=')
			return v + len + 1;
	}
	return NULL;
}

/* The rest of the line from @s, for error messages. */
static size_t line_len(const char *s)
{
	return strcspn(s, "\n");
}

/*
 * Parse "${NAME}" at r->p (which points at the '$'), leave r->p after the
 * '}', and return the value through @value.
 */
static int variable(struct render *r, const char **value, const char **vname,
		    size_t *vlen)
{
	const char *start = r->p, *s = r->p + 2;
	char q[SHMDEV_QUOTE_MAX];
	size_t n = 0;

	while (name_char(s[n]))
		n++;
	if (n == 0 || !name_start(s[0]))
		return shmdev_fail(r->ctx, EINVAL, "%s:%d: %s: not a variable name (A-Z a-z 0-9 _, not starting with a digit)",
				   r->name, r->line,
				   shmdev_text_quote(q, start, line_len(start)));
	if (s[n] != '}')
		return shmdev_fail(r->ctx, EINVAL, "%s:%d: %s: missing } after the name",
				   r->name, r->line,
				   shmdev_text_quote(q, start, line_len(start)));
	*value = lookup(r, s, n);
	if (!*value)
		return shmdev_fail(r->ctx, EINVAL, "%s:%d: ${%.*s}: undefined variable",
				   r->name, r->line, (int)n, s);
	*vname = s;
	*vlen = n;
	r->p = s + n + 1;
	return 0;
}

/* ---- $((EXPR)) ----------------------------------------------------------- */

static int expr_fail(struct render *r, int err, const char *why)
{
	char qe[SHMDEV_QUOTE_MAX], qa[SHMDEV_QUOTE_MAX];

	return shmdev_fail(r->ctx, err, "%s:%d: %s: %s at %s", r->name,
			   r->line, shmdev_text_quote(qe, r->expr - 3, line_len(r->expr - 3)),
			   why, shmdev_text_quote(qa, r->p, line_len(r->p)));
}

static int overflow(struct render *r, int64_t a, char op, int64_t b)
{
	char qe[SHMDEV_QUOTE_MAX];

	return shmdev_fail(r->ctx, EINVAL, "%s:%d: %s: %lld %c %lld overflows 64 bits",
			   r->name, r->line,
			   shmdev_text_quote(qe, r->expr - 3, line_len(r->expr - 3)),
			   (long long)a, op, (long long)b);
}

static void blanks(struct render *r)
{
	while (*r->p == ' ' || *r->p == '\t')
		r->p++;
}

/* An integer literal; @neg allows a leading '-' (variable values only). */
static int to_int(const char *s, size_t len, bool neg, int64_t *out)
{
	bool minus = false;
	uint64_t u;
	int e;

	if (neg && len && *s == '-') {
		minus = true;
		s++;
		len--;
	}
	e = shmdev_text_u64(s, len, &u);
	if (e < 0)
		return e;
	if (u > (uint64_t)INT64_MAX + minus)
		return -ERANGE;
	/* -INT64_MIN does not exist: build it without the signed overflow. */
	*out = minus ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int eval_expr(struct render *r, int64_t *v);

static int primary(struct render *r, int64_t *v)
{
	int e;

	blanks(r);
	if (*r->p >= '0' && *r->p <= '9') {
		const char *s = r->p;
		size_t n = 0;

		while (name_char(s[n]))
			n++;
		e = to_int(s, n, false, v);
		if (e == -ERANGE)
			return expr_fail(r, EINVAL, "number larger than 64 bits");
		if (e < 0)
			return expr_fail(r, EINVAL, "not a number");
		r->p += n;
		return 0;
	}
	if (r->p[0] == '$' && r->p[1] == '{') {
		const char *value, *vn;
		char q[SHMDEV_QUOTE_MAX];
		size_t vl, n;

		e = variable(r, &value, &vn, &vl);
		if (e < 0)
			return e;
		n = strlen(value);
		shmdev_text_trim(&value, &n);
		e = to_int(value, n, true, v);
		if (e < 0)
			return shmdev_fail(r->ctx, EINVAL, "%s:%d: ${%.*s} = %s: %s",
					   r->name, r->line, (int)vl, vn,
					   shmdev_text_quote(q, value, n),
					   e == -ERANGE ? "number larger than 64 bits" :
					   "not a number for $((...))");
		return 0;
	}
	if (*r->p == '(') {
		if (++r->depth > TMPL_MAX_DEPTH)
			return expr_fail(r, EINVAL, "nested too deeply");
		r->p++;
		e = eval_expr(r, v);
		if (e < 0)
			return e;
		blanks(r);
		if (*r->p != ')')
			return expr_fail(r, EINVAL, "expected )");
		r->p++;
		r->depth--;
		return 0;
	}
	return expr_fail(r, EINVAL, "expected a number, ${NAME} or (");
}

static int unary(struct render *r, int64_t *v)
{
	int e;

	blanks(r);
	if (*r->p == '-' || *r->p == '+') {
		char op = *r->p;

		if (++r->depth > TMPL_MAX_DEPTH)
			return expr_fail(r, EINVAL, "nested too deeply");
		r->p++;
		e = unary(r, v);
		if (e < 0)
			return e;
		r->depth--;
		if (op == '-') {
			if (*v == INT64_MIN)
				return overflow(r, 0, '-', *v);
			*v = -*v;
		}
		return 0;
	}
	return primary(r, v);
}

static int term(struct render *r, int64_t *v)
{
	int64_t b;
	int e;

	e = unary(r, v);
	while (e == 0) {
		char op;

		blanks(r);
		op = *r->p;
		if (op != '*' && op != '/' && op != '%')
			return 0;
		r->p++;
		e = unary(r, &b);
		if (e < 0)
			return e;
		if (op == '*') {
			int64_t p;

			if (__builtin_mul_overflow(*v, b, &p))
				return overflow(r, *v, op, b);
			*v = p;
			continue;
		}
		if (b == 0)
			return expr_fail(r, EINVAL, "division by zero");
		if (*v == INT64_MIN && b == -1)
			return overflow(r, *v, op, b);
		*v = op == '/' ? *v / b : *v % b;
	}
	return e;
}

static int eval_expr(struct render *r, int64_t *v)
{
	int64_t a, b;
	int e;

	e = term(r, v);
	while (e == 0) {
		char op;

		blanks(r);
		op = *r->p;
		if (op != '+' && op != '-')
			return 0;
		r->p++;
		e = term(r, &b);
		if (e < 0)
			return e;
		a = *v;
		if (op == '+' ? __builtin_add_overflow(a, b, v) :
				__builtin_sub_overflow(a, b, v))
			return overflow(r, a, op, b);
	}
	return e;
}

/* "$((" at r->p (r->expr - 3 in messages): evaluate up to the closing "))" and append the value. */
static int arithmetic(struct render *r)
{
	char buf[24];
	int64_t v;
	int e, n;

	r->p += 3;
	r->expr = r->p;
	r->depth = 0;
	e = eval_expr(r, &v);
	if (e < 0)
		return e;
	blanks(r);
	if (r->p[0] != ')' || r->p[1] != ')')
		return expr_fail(r, EINVAL, "expected an operator or ))");
	r->p += 2;
	n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return append(r, buf, (size_t)n);
}

/* ---- the text ---------------------------------------------------------- */

static int check_vars(struct render *r)
{
	char q[SHMDEV_QUOTE_MAX];
	size_t i, n;

	if (r->nr_vars && !r->vars)
		return shmdev_fail(r->ctx, EINVAL, "%s: %zu variables but no array",
				   r->name, r->nr_vars);
	for (i = 0; i < r->nr_vars; i++) {
		const char *v = r->vars[i];

		if (!v)
			return shmdev_fail(r->ctx, EINVAL, "%s: variable %zu is NULL",
					   r->name, i);
		for (n = 0; name_char(v[n]); n++)
			;
		if (n == 0 || !name_start(v[0]) || v[n] != '=')
			return shmdev_fail(r->ctx, EINVAL, "%s: variable %s: not NAME=VALUE",
					   r->name, shmdev_text_quote(q, v, strlen(v)));
	}
	return 0;
}

static int render(struct render *r)
{
	int e = check_vars(r);

	while (e == 0 && *r->p) {
		const char *s = r->p;

		if (*s != '$') {
			size_t n = strcspn(s, "$\n");

			if (n == 0) {	/* a newline */
				n = 1;
				r->line++;
			}
			e = append(r, s, n);
			r->p += n;
		} else if (s[1] == '$') {
			e = append(r, "$", 1);
			r->p += 2;
		} else if (s[1] == '{') {
			const char *value, *vn;
			size_t vl;

			e = variable(r, &value, &vn, &vl);
			if (e == 0)
				e = append(r, value, strlen(value));
		} else if (s[1] == '(' && s[2] == '(') {
			e = arithmetic(r);
		} else {
			char q[SHMDEV_QUOTE_MAX];

			e = shmdev_fail(r->ctx, EINVAL, "%s:%d: %s: a '$' starts ${NAME}, $((EXPR)) or $$",
					r->name, r->line,
					shmdev_text_quote(q, s, line_len(s)));
		}
	}
	if (e == 0 && !r->out)
		e = append(r, "", 0);
	return e;
}

SHMDEV_EXPORT int shmdev_template_render(struct shmdev_ctx *ctx,
					 const char *tmpl, const char *name,
					 const char *const *vars,
					 size_t nr_vars, char **out)
{
	struct render r = {
		.ctx = ctx, .name = name ? name : "<template>", .vars = vars,
		.nr_vars = nr_vars, .p = tmpl, .line = 1,
	};
	int e;

	if (!ctx)
		return -EINVAL;
	shmdev_clear_error(ctx);
	if (!tmpl || !out)
		return shmdev_fail(ctx, EINVAL, "shmdev_template_render: NULL %s",
				   !tmpl ? "template" : "out");
	*out = NULL;
	e = render(&r);
	if (e < 0) {
		free(r.out);
		return e;
	}
	*out = r.out;
	return 0;
}
