// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Built by tests/install/run.sh against an installed DESTDIR tree with
 * "pkg-config --cflags --libs libshmdev": proves that the installed headers,
 * library and .pc file are enough to write a program.
 */
#include <linux/shmpool.h>
#include <shmdev.h>
#include <stdio.h>
#include <stdlib.h>

static const char ini[] =
	"ProcessList = zone\n"
	"[zone]\n"
	"BaseKey = 0x1000\n"
	"BlockSize = 64K\n"
	"BlockKeys = 0x1001-0x1004\n";

int main(void)
{
	static const char *const vars[] = { "ZONE=7" };
	const struct shmdev_proc_conf *p;
	struct shmdev_conf *conf;
	struct shmdev_ctx *ctx;
	char *out;
	int ret;

	ret = shmdev_ctx_new(&ctx);
	if (ret)
		return 1;
	ret = shmdev_conf_load_string(ctx, ini, "hello.ini", "zone", &conf);
	if (ret) {
		fprintf(stderr, "hello: %s\n", shmdev_errmsg(ctx));
		return 1;
	}
	p = shmdev_conf_self(conf);
	ret = shmdev_template_render(ctx, "key=$((${ZONE} * 2))", "t", vars, 1, &out);
	if (ret) {
		fprintf(stderr, "hello: %s\n", shmdev_errmsg(ctx));
		return 1;
	}
	printf("abi %d, %s: base 0x%llx, %zu blocks, %s\n", SHMPOOL_ABI_VERSION,
	       p->name, (unsigned long long)p->base_key, p->nr_blocks, out);
	free(out);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	return 0;
}
