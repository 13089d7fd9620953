// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memorypool.ini.tmpl rendering: ${NAME}, $((EXPR)), $$, and every error
 * with its exact message (template name, line and text).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmdev.h"

#define NAME "t.tmpl"

static struct shmdev_ctx *new_ctx(void)
{
	struct shmdev_ctx *ctx = NULL;

	ck_assert_int_eq(shmdev_ctx_new(&ctx), 0);
	shmdev_set_log_priority(ctx, -1);
	return ctx;
}

#define NVARS(a) (sizeof(a) / sizeof((a)[0]))

static void render_ok(const char *tmpl, const char *const *vars, size_t n,
		      const char *want)
{
	struct shmdev_ctx *ctx = new_ctx();
	char *out = NULL;
	int r = shmdev_template_render(ctx, tmpl, NAME, vars, n, &out);

	ck_assert_msg(r == 0, "render of \"%s\" failed (%d): %s", tmpl, r,
		      shmdev_errmsg(ctx));
	ck_assert_str_eq(out, want);
	free(out);
	shmdev_ctx_unref(ctx);
}

static void render_err(const char *tmpl, const char *const *vars, size_t n,
		       int err, const char *msg)
{
	struct shmdev_ctx *ctx = new_ctx();
	char *out = (char *)&out;
	int r = shmdev_template_render(ctx, tmpl, NAME, vars, n, &out);

	ck_assert_msg(r == -err, "render of \"%s\": expected %d, got %d (%s)",
		      tmpl, -err, r, shmdev_errmsg(ctx));
	ck_assert_ptr_null(out);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	shmdev_ctx_unref(ctx);
}

static const char *const vars[] = {
	"WORLD_ID=3", "ZONE_ID=0x10", "NEG= -5 ", "TEXT=a $ b}", "EMPTY=",
	"_x9=7", "BIG=9223372036854775807", "NAN=12abc", "MULTI=a\nb",
};

START_TEST(test_plain)
{
	render_ok("", NULL, 0, "");
	render_ok("no variables here\n[zone]\nBaseKey = 1\n", NULL, 0,
		  "no variables here\n[zone]\nBaseKey = 1\n");
	render_ok("{ } ( ) (( )) 100%", vars, NVARS(vars), "{ } ( ) (( )) 100%");
}
END_TEST

START_TEST(test_variables)
{
	static const char *const later[] = { "A=1", "B=2", "A=3" };

	render_ok("w${WORLD_ID}z${ZONE_ID}.", vars, NVARS(vars), "w3z0x10.");
	render_ok("[${TEXT}][${EMPTY}][${_x9}]", vars, NVARS(vars), "[a $ b}][][7]");
	/* Values are not expanded again. */
	render_ok("${TEXT}${MULTI}", vars, NVARS(vars), "a $ b}a\nb");
	/* The later of two definitions wins, as in an environment. */
	render_ok("${A}${B}", later, NVARS(later), "32");
}
END_TEST

START_TEST(test_dollar)
{
	render_ok("$$", NULL, 0, "$");
	render_ok("$$$$", NULL, 0, "$$");
	render_ok("$${WORLD_ID} $$((1))", vars, NVARS(vars), "${WORLD_ID} $((1))");
	render_ok("cost: $$5", NULL, 0, "cost: $5");
}
END_TEST

START_TEST(test_arithmetic)
{
	render_ok("$((1+2*3))", NULL, 0, "7");
	render_ok("$(( (1 + 2) * 3 ))", NULL, 0, "9");
	render_ok("$((10 - 4 - 3))", NULL, 0, "3");
	render_ok("$((100 / 10 / 5))", NULL, 0, "2");
	render_ok("$((7 / 2)) $((-7 / 2)) $((7 % 3)) $((-7 % 3)) $((7 % -3))",
		  NULL, 0, "3 -3 1 -1 1");
	render_ok("$((-3)) $((--3)) $((+3)) $((-(2+3)))", NULL, 0, "-3 3 3 -5");
	render_ok("$((0x10 + 0XfF))", NULL, 0, "271");
	render_ok("$((\t1\t+\t1\t))", NULL, 0, "2");
	render_ok("$((${WORLD_ID} * 1000000000 + ${ZONE_ID} * 1000000 + 10001))",
		  vars, NVARS(vars), "3016010001");
	render_ok("$((${NEG} * 2))", vars, NVARS(vars), "-10");
	render_ok("a$((1))b$((2))c", NULL, 0, "a1b2c");
	render_ok("$((((((((((1))))))))))", NULL, 0, "1");
}
END_TEST

START_TEST(test_limits)
{
	render_ok("$((9223372036854775807))", NULL, 0, "9223372036854775807");
	render_ok("$((0x7fffffffffffffff))", NULL, 0, "9223372036854775807");
	render_ok("$((-9223372036854775807 - 1))", NULL, 0, "-9223372036854775808");
	render_ok("$((${BIG} * -1 - 1))", vars, NVARS(vars), "-9223372036854775808");
	render_ok("$((-9223372036854775807 - 1 + 0))", NULL, 0, "-9223372036854775808");
	render_err("$((9223372036854775808))", NULL, 0, EINVAL,
		   NAME ":1: \"$((9223372036854775808))\": number larger than 64 bits at \"9223372036854775808))\"");
	render_err("$((${BIG} + 1))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$((${BIG} + 1))\": 9223372036854775807 + 1 overflows 64 bits");
	render_err("$((-${BIG} - 2))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$((-${BIG} - 2))\": -9223372036854775807 - 2 overflows 64 bits");
	render_err("$((${BIG} * 2))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$((${BIG} * 2))\": 9223372036854775807 * 2 overflows 64 bits");
	render_err("$((-(-${BIG} - 1)))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$((-(-${BIG} - 1)))\": 0 - -9223372036854775808 overflows 64 bits");
	render_err("$(((-${BIG} - 1) / -1))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$(((-${BIG} - 1) / -1))\": -9223372036854775808 / -1 overflows 64 bits");
	render_err("$(((-${BIG} - 1) % -1))", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$(((-${BIG} - 1) % -1))\": -9223372036854775808 % -1 overflows 64 bits");
}
END_TEST

START_TEST(test_division_by_zero)
{
	render_err("line 1\nline 2\nKey = $((10 / (3 - 3)))\n", NULL, 0, EINVAL,
		   NAME ":3: \"$((10 / (3 - 3)))\": division by zero at \"))\"");
	render_err("$((1 % 0))", NULL, 0, EINVAL,
		   NAME ":1: \"$((1 % 0))\": division by zero at \"))\"");
}
END_TEST

START_TEST(test_expression_syntax)
{
	render_err("$((1 +))", NULL, 0, EINVAL,
		   NAME ":1: \"$((1 +))\": expected a number, ${NAME} or ( at \"))\"");
	render_err("$((1 2))", NULL, 0, EINVAL,
		   NAME ":1: \"$((1 2))\": expected an operator or )) at \"2))\"");
	render_err("x\n$((", NULL, 0, EINVAL,
		   NAME ":2: \"$((\": expected a number, ${NAME} or ( at \"\"");
	render_err("$((1)", NULL, 0, EINVAL,
		   NAME ":1: \"$((1)\": expected an operator or )) at \")\"");
	render_err("$(( (1 ))", NULL, 0, EINVAL,
		   NAME ":1: \"$(( (1 ))\": expected an operator or )) at \")\"");
	render_err("$(((1 + 2))", NULL, 0, EINVAL,
		   NAME ":1: \"$(((1 + 2))\": expected an operator or )) at \")\"");
	render_err("$((abc))", NULL, 0, EINVAL,
		   NAME ":1: \"$((abc))\": expected a number, ${NAME} or ( at \"abc))\"");
	render_err("$((12abc))", NULL, 0, EINVAL,
		   NAME ":1: \"$((12abc))\": not a number at \"12abc))\"");
	render_err("$((1 ^ 2))", NULL, 0, EINVAL,
		   NAME ":1: \"$((1 ^ 2))\": expected an operator or )) at \"^ 2))\"");
	/* A newline ends an expression. */
	render_err("$((1 +\n2))", NULL, 0, EINVAL,
		   NAME ":1: \"$((1 +\": expected a number, ${NAME} or ( at \"\"");
}
END_TEST

START_TEST(test_depth)
{
	char t[512];
	int i, n = 0;

	/* 64 levels of parentheses are fine, 65 are not. */
	n += sprintf(t + n, "$((");
	for (i = 0; i < 64; i++)
		n += sprintf(t + n, "(");
	n += sprintf(t + n, "1");
	for (i = 0; i < 64; i++)
		n += sprintf(t + n, ")");
	sprintf(t + n, "))");
	render_ok(t, NULL, 0, "1");

	n = sprintf(t, "$((");
	for (i = 0; i < 65; i++)
		n += sprintf(t + n, "-");
	sprintf(t + n, "1))");
	{
		struct shmdev_ctx *ctx = new_ctx();
		char *out = NULL;

		ck_assert_int_eq(shmdev_template_render(ctx, t, NAME, NULL, 0, &out), -EINVAL);
		ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), ": nested too deeply at \"-1))\""));
		shmdev_ctx_unref(ctx);
	}
}
END_TEST

START_TEST(test_variable_errors)
{
	render_err("a\nb ${NOPE} c", vars, NVARS(vars), EINVAL,
		   NAME ":2: ${NOPE}: undefined variable");
	render_err("$((${NOPE} + 1))", vars, NVARS(vars), EINVAL,
		   NAME ":1: ${NOPE}: undefined variable");
	/* A prefix of a defined name is not that name. */
	render_err("${WORLD}", vars, NVARS(vars), EINVAL,
		   NAME ":1: ${WORLD}: undefined variable");
	render_err("$((${TEXT} + 1))", vars, NVARS(vars), EINVAL,
		   NAME ":1: ${TEXT} = \"a $ b}\": not a number for $((...))");
	render_err("$((${NAN}))", vars, NVARS(vars), EINVAL,
		   NAME ":1: ${NAN} = \"12abc\": not a number for $((...))");
	render_err("$((${EMPTY}))", vars, NVARS(vars), EINVAL,
		   NAME ":1: ${EMPTY} = \"\": not a number for $((...))");
	render_err("${1X}", NULL, 0, EINVAL,
		   NAME ":1: \"${1X}\": not a variable name (A-Z a-z 0-9 _, not starting with a digit)");
	render_err("${}", NULL, 0, EINVAL,
		   NAME ":1: \"${}\": not a variable name (A-Z a-z 0-9 _, not starting with a digit)");
	render_err("x ${WORLD_ID\ny", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"${WORLD_ID\": missing } after the name");
	render_err("${A B}", NULL, 0, EINVAL,
		   NAME ":1: \"${A B}\": missing } after the name");
}
END_TEST

START_TEST(test_stray_dollar)
{
	render_err("BaseKey = $WORLD_ID\n", vars, NVARS(vars), EINVAL,
		   NAME ":1: \"$WORLD_ID\": a '$' starts ${NAME}, $((EXPR)) or $$");
	render_err("\n\n$(1)", NULL, 0, EINVAL,
		   NAME ":3: \"$(1)\": a '$' starts ${NAME}, $((EXPR)) or $$");
	render_err("end $", NULL, 0, EINVAL,
		   NAME ":1: \"$\": a '$' starts ${NAME}, $((EXPR)) or $$");
}
END_TEST

START_TEST(test_bad_vars)
{
	static const char *const noeq[] = { "A=1", "NOEQ" };
	static const char *const empty_name[] = { "=1" };
	static const char *const digit[] = { "1A=2" };
	static const char *const space[] = { "A B=2" };
	static const char *const null_entry[] = { "A=1", NULL };

	render_err("x", noeq, 2, EINVAL, NAME ": variable \"NOEQ\": not NAME=VALUE");
	render_err("x", empty_name, 1, EINVAL, NAME ": variable \"=1\": not NAME=VALUE");
	render_err("x", digit, 1, EINVAL, NAME ": variable \"1A=2\": not NAME=VALUE");
	render_err("x", space, 1, EINVAL, NAME ": variable \"A B=2\": not NAME=VALUE");
	render_err("x", null_entry, 2, EINVAL, NAME ": variable 1 is NULL");
	render_err("x", NULL, 3, EINVAL, NAME ": 3 variables but no array");
}
END_TEST

START_TEST(test_output_limit)
{
	size_t vlen = 1U << 20;
	char *big = malloc(vlen + 3);
	const char *v[] = { big };
	char t[17 * 4 + 1] = "";
	int i;

	memcpy(big, "V=", 2);
	memset(big + 2, 'x', vlen);
	big[vlen + 2] = '\0';
	for (i = 0; i < 16; i++)
		strcat(t, "${V}");
	{
		struct shmdev_ctx *ctx = new_ctx();
		char *out = NULL;

		/* 16 MiB exactly is the limit and still fits. */
		ck_assert_int_eq(shmdev_template_render(ctx, t, NAME, v, 1, &out), 0);
		ck_assert_uint_eq(strlen(out), 16 * vlen);
		free(out);
		shmdev_ctx_unref(ctx);
	}
	strcat(t, "${V}");
	render_err(t, v, 1, EFBIG, NAME ":1: output larger than 16777216 bytes");
	free(big);
}
END_TEST

START_TEST(test_misuse)
{
	struct shmdev_ctx *ctx = new_ctx();
	char *out = NULL;

	ck_assert_int_eq(shmdev_template_render(NULL, "x", NAME, NULL, 0, &out), -EINVAL);
	ck_assert_int_eq(shmdev_template_render(ctx, NULL, NAME, NULL, 0, &out), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "shmdev_template_render: NULL template");
	ck_assert_int_eq(shmdev_template_render(ctx, "x", NAME, NULL, 0, NULL), -EINVAL);
	/* A NULL name reads "<template>". */
	ck_assert_int_eq(shmdev_template_render(ctx, "${X}", NULL, NULL, 0, &out), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "<template>:1: ${X}: undefined variable");
	/* Success clears the last message. */
	ck_assert_int_eq(shmdev_template_render(ctx, "x", NULL, NULL, 0, &out), 0);
	ck_assert_str_eq(shmdev_errmsg(ctx), "");
	free(out);
	shmdev_ctx_unref(ctx);
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc;

	tc = tcase_create("render");
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_variables);
	tcase_add_test(tc, test_dollar);
	tcase_add_test(tc, test_arithmetic);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_depth);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_division_by_zero);
	tcase_add_test(tc, test_expression_syntax);
	tcase_add_test(tc, test_variable_errors);
	tcase_add_test(tc, test_stray_dollar);
	tcase_add_test(tc, test_bad_vars);
	tcase_add_test(tc, test_output_limit);
	tcase_add_test(tc, test_misuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(template_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
