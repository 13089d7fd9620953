// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness for shmdev_template_render().  Input: optional
 * variables ("NAME=VALUE" lines) up to a NUL byte, then the template; with
 * no NUL the whole input is the template and a fixed set of variables is
 * used.  Besides "no crash, no leak, no UB": a template without '$' renders
 * to itself, and a failure leaves a message and no output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmdev.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_template: broken promise: %s\n", #cond); \
		abort(); \
	} \
} while (0)

#define MAX_VARS 16

static const char *const default_vars[] = {
	"WORLD_ID=1", "ZONE_ID=2", "BIG=9223372036854775807",
	"NEG=-5", "TEXT=a $ b", "HEX=0x7f",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmdev_ctx *ctx = NULL;
	char *buf = malloc(size + 1), *tmpl = buf, *out = NULL;
	const char *vars[MAX_VARS];
	const char *const *v = default_vars;
	size_t nr = sizeof(default_vars) / sizeof(default_vars[0]);
	char *nul;
	int r;

	if (!buf || shmdev_ctx_new(&ctx))
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	shmdev_set_log_priority(ctx, -1);

	nul = memchr(buf, '\0', size);
	if (nul) {
		char *line = buf, *next;

		nr = 0;
		tmpl = nul + 1;
		for (; line < nul && nr < MAX_VARS; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			else
				next = nul;
			vars[nr++] = line;
		}
		v = vars;
	}

	r = shmdev_template_render(ctx, tmpl, "fuzz.tmpl", v, nr, &out);
	if (r == 0) {
		CHECK(out && !*shmdev_errmsg(ctx));
		if (!strchr(tmpl, '$'))
			CHECK(!strcmp(out, tmpl));
		free(out);
	} else {
		CHECK(r < 0 && !out && *shmdev_errmsg(ctx));
	}
	free(buf);
	shmdev_ctx_unref(ctx);
	return 0;
}
