// SPDX-License-Identifier: LGPL-2.1-or-later
/* shmpoolctl conf check and conf render: memorypool.ini and its template. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmpoolctl.h"

/* Templates are small text files; this only bounds a mistaken argument. */
#define TEMPLATE_MAX (16u << 20)

struct conf_opts {
	const char *process;
	const char *out;
	const char **vars;
	size_t nr_vars;
	bool check;
};

static int conf_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct conf_opts *o = data;
	const char **v;

	switch (opt) {
	case 'p':
		o->process = arg;
		return 0;
	case 'o':
		o->out = arg;
		return 0;
	case 'c':
		o->check = true;
		return 0;
	case 's':
		if (!strchr(arg, '=') || arg[0] == '=') {
			ctl_usage_err(ctl, "bad --set \"%s\": expected NAME=VALUE", arg);
			return -EINVAL;
		}
		v = realloc(o->vars, (o->nr_vars + 1) * sizeof(*v));
		if (!v) {
			ctl_err(ctl, CTL_EXIT_FAIL, "%s: out of memory", ctl->cmd);
			return -ENOMEM;
		}
		v[o->nr_vars++] = arg;
		o->vars = v;
		return 0;
	}
	return -EINVAL;
}

/* The library's conf messages start with the file name (and line). */
static int conf_fail(struct ctl *ctl, int err, const char *path)
{
	const char *why = shmdev_errmsg(ctl->ctx);

	if (why && *why)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s: %s", ctl->cmd, why);
	return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: %s", ctl->cmd, path, strerror(-err));
}

static const char *backend_word(enum shmdev_backend b)
{
	return ctl_backend_name(b);
}

/* Keys as "0x1001-0x1004,0x2000": consecutive runs collapsed. */
static void print_keys(const uint64_t *k, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && k[j + 1] == k[j] + 1; j++)
			;
		printf("%s0x%" PRIx64, i ? "," : "", k[i]);
		if (j > i)
			printf("-0x%" PRIx64, k[j]);
		i = j + 1;
	}
}

static void print_proc(const struct shmdev_proc_conf *p)
{
	printf("[%s]\n"
	       "  base key:    0x%" PRIx64 "\n"
	       "  block size:  %" PRIu64 " bytes\n"
	       "  blocks:      %zu (",
	       p->name, p->base_key, p->block_size, p->nr_blocks);
	print_keys(p->block_keys, p->nr_blocks);
	printf(")\n"
	       "  block bytes: %" PRIu64 "\n"
	       "  backend:     %s\n"
	       "  huge pages:  %s\n"
	       "  max types:   %" PRIu32 "\n"
	       "  mode:        %04" PRIo32 "\n",
	       (uint64_t)p->nr_blocks * p->block_size, backend_word(p->backend),
	       p->huge_pages ? "yes" : "no", p->max_types, p->mode);
	if (p->fixed_addr)
		printf("  fixed addr:  0x%" PRIx64 "\n", p->fixed_addr);
}

static const char conf_check_usage[] =
	"Usage: shmpoolctl conf check [--process NAME] FILE\n"
	"\n"
	"Load memorypool.ini FILE the way a server does at start-up: read\n"
	"ProcessList, load each listed process's section and check that no key\n"
	"is used by two processes (nor a BaseKey as a block key).  On success,\n"
	"print each process's section; on failure, name the file, line, value\n"
	"and, for a conflict, the key and both processes, and exit 1.\n"
	"\n"
	"  -p, --process NAME   also select NAME's section, as process NAME would\n";

static int conf_check(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "process", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct conf_opts o = { 0 };
	struct shmdev_conf *conf = NULL;
	const char *path;
	size_t n, i;
	int ret;

	ret = ctl_getopt(ctl, argc, argv, "p:", opts, conf_opt, &o, conf_check_usage);
	if (ret < 0)
		return ret == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - ret != 1)
		return ctl_usage_err(ctl, "expected one FILE");
	path = argv[ret];

	ret = shmdev_conf_load(ctl->ctx, path, o.process, &conf);
	if (ret < 0)
		return conf_fail(ctl, ret, path);
	n = shmdev_conf_nr_processes(conf);
	printf("%s: ok, %zu process%s\n", path, n, n == 1 ? "" : "es");
	if (o.process) {
		print_proc(shmdev_conf_self(conf));
	} else {
		for (i = 0; i < n; i++)
			print_proc(shmdev_conf_process_at(conf, i));
	}
	shmdev_conf_free(conf);
	return CTL_EXIT_OK;
}

/* Read a whole (small) file into a NUL-terminated buffer. */
static int read_text(struct ctl *ctl, const char *path, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	FILE *f;
	size_t r;

	if (!buf)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: out of memory", ctl->cmd, path);
	f = fopen(path, "re");
	if (!f) {
		free(buf);
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: %s", ctl->cmd, path, strerror(errno));
	}
	while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (len + 1 < cap)
			continue;
		if (cap >= TEMPLATE_MAX) {
			fclose(f);
			free(buf);
			return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: larger than %u bytes",
				       ctl->cmd, path, TEMPLATE_MAX);
		}
		nb = realloc(buf, cap * 2);
		if (!nb) {
			fclose(f);
			free(buf);
			return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: out of memory", ctl->cmd, path);
		}
		buf = nb;
		cap *= 2;
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s %s: read error", ctl->cmd, path);
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* Write @text to @path through a temporary file and rename: all or nothing. */
static int write_atomic(struct ctl *ctl, const char *path, const char *text)
{
	size_t len = strlen(text), plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd, ret = 0;

	if (!tmp)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s: out of memory", ctl->cmd);
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "%s -o %s: %s", ctl->cmd, path, strerror(errno));
		free(tmp);
		return ret;
	}
	if (fchmod(fd, 0644) || write(fd, text, len) != (ssize_t)len || fsync(fd)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "%s -o %s: %s", ctl->cmd, path, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return ret;
	}
	close(fd);
	if (rename(tmp, path)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "%s -o %s: %s", ctl->cmd, path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ret;
}

static const char conf_render_usage[] =
	"Usage: shmpoolctl conf render [--set NAME=VALUE]... [--check] [-o OUT] TEMPLATE\n"
	"\n"
	"Render memorypool.ini.tmpl: ${NAME} becomes VALUE and $((EXPR)) the\n"
	"value of an integer expression (+ - * / %% and parentheses over numbers\n"
	"and ${NAME}s).  An undefined name or a bad expression is an error that\n"
	"names the template, the line and the text.\n"
	"\n"
	"  -s, --set NAME=VALUE  define a variable (repeatable)\n"
	"  -o, --output OUT      write OUT (atomically) instead of standard output\n"
	"  -c, --check           also load the result as memorypool.ini (conf check)\n";

static int conf_render(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "set", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "check", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct conf_opts o = { 0 };
	struct shmdev_conf *conf;
	char *tmpl = NULL, *out = NULL;
	const char *path;
	int i, ret;

	i = ctl_getopt(ctl, argc, argv, "s:o:c", opts, conf_opt, &o, conf_render_usage);
	if (i < 0) {
		free(o.vars);
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	}
	if (argc - i != 1) {
		free(o.vars);
		return ctl_usage_err(ctl, "expected one TEMPLATE");
	}
	path = argv[i];
	ret = read_text(ctl, path, &tmpl);
	if (ret)
		goto out;
	ret = shmdev_template_render(ctl->ctx, tmpl, path, o.vars, o.nr_vars, &out);
	if (ret < 0) {
		ret = conf_fail(ctl, ret, path);
		goto out;
	}
	if (o.check) {
		ret = shmdev_conf_load_string(ctl->ctx, out, o.out ? o.out : "(rendered)",
					      NULL, &conf);
		if (ret < 0) {
			ret = ctl_fail(ctl, ret, "conf render %s: the result does not load", path);
			goto out;
		}
		shmdev_conf_free(conf);
	}
	if (o.out) {
		ret = write_atomic(ctl, o.out, out);
	} else {
		fputs(out, stdout);
		ret = CTL_EXIT_OK;
	}
out:
	free(out);
	free(tmpl);
	free(o.vars);
	return ret;
}

static const char conf_usage[] =
	"Usage: shmpoolctl conf check [--process NAME] FILE\n"
	"       shmpoolctl conf render [--set NAME=VALUE]... [-o OUT] TEMPLATE\n"
	"\n"
	"Check a memorypool.ini, or render one from its template.\n"
	"Run \"shmpoolctl conf check --help\" or \"conf render --help\" for details.\n";

int cmd_conf(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2) {
		fputs(conf_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(conf_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "check")) {
		ctl->cmd = "conf check";
		return conf_check(ctl, argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "render")) {
		ctl->cmd = "conf render";
		return conf_render(ctl, argc - 1, argv + 1);
	}
	return ctl_usage_err(ctl, "unknown conf command \"%s\": use check or render", argv[1]);
}
