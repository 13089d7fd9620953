// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl: inspect and manage shmpool regions, pools and the module,
 * the way ipcs/ipcrm do for SysV shared memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "shmpoolctl.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const struct ctl_cmd commands[] = {
	{ "list", cmd_list, "list regions (like ipcs -m)" },
	{ "stat", cmd_stat, "show one region" },
	{ "rm", cmd_rm, "destroy regions (like ipcrm)" },
	{ "load", cmd_load, "load the kernel module (libkmod)" },
	{ "unload", cmd_unload, "unload the kernel module" },
	{ "status", cmd_status, "module version, limits and totals" },
	{ "conf", cmd_conf, "check or render memorypool.ini" },
	{ "pool", cmd_pool, "show or check a live pool (read-only)" },
	{ "dump", cmd_dump, "write a region to a file" },
	{ "restore", cmd_restore, "recreate a region from a dump file" },
	{ "liveupdate", cmd_liveupdate, "carry regions across a kexec (LUO)" },
};

static void print_main_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: shmpoolctl [--backend auto|device|posix] [-v] COMMAND [ARGS]\n"
		"       shmpoolctl COMMAND --help\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"Options:\n"
		"  --backend B   auto (default: /dev/shmpool if present, else POSIX shm),\n"
		"                device or posix\n"
		"  -v, --verbose show the library's log (repeat for debug)\n"
		"  -h, --help    this help\n"
		"  --version     print the version\n"
		"\n"
		"Keys are decimal or 0x hex.  Exit status: 0 success, 1 failure,\n"
		"2 usage error.  See shmpoolctl(8).\n");
}

static void vmsg(struct ctl *ctl, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", ctl->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_err(struct ctl *ctl, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(ctl, fmt, ap);
	va_end(ap);
	return code;
}

void ctl_warn(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: warning: ", ctl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
{
	const char *why = ctl->ctx ? shmdev_errmsg(ctl->ctx) : "";
	va_list ap;

	if (err < 0)
		err = -err;
	if (!why || !*why)
		why = strerror(err);
	fprintf(stderr, "%s: ", ctl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", why);
	return CTL_EXIT_FAIL;
}

int ctl_fail_region(struct ctl *ctl, int err, uint64_t key)
{
	const char *why = shmdev_errmsg(ctl->ctx);

	/* The words operators know from ipcs/ipcrm for the common case. */
	if (err == -ENOENT)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s 0x%" PRIx64 ": no such region",
			       ctl->cmd, key);
	/* The library's messages name the key and the backend already. */
	if (why && *why)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s: %s", ctl->cmd, why);
	return ctl_err(ctl, CTL_EXIT_FAIL, "%s 0x%" PRIx64 ": %s", ctl->cmd, key,
		       strerror(-err));
}

int ctl_usage_err(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", ctl->prog, ctl->cmd ? ctl->cmd : "usage");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ctl->cmd)
		fprintf(stderr, "\nTry '%s %s --help'.\n", ctl->prog, ctl->cmd);
	else
		fprintf(stderr, "\nTry '%s --help'.\n", ctl->prog);
	return CTL_EXIT_USAGE;
}

int ctl_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;
	int base = 10;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (!s[2])
			return -EINVAL;
	}
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

int ctl_parse_key(const char *s, uint64_t *key)
{
	uint64_t k;

	if (ctl_parse_u64(s, &k) || k == 0)
		return -EINVAL;
	*key = k;
	return 0;
}

static int parse_backend(const char *s, enum shmdev_backend *b)
{
	if (!strcmp(s, "auto"))
		*b = SHMDEV_BACKEND_AUTO;
	else if (!strcmp(s, "device"))
		*b = SHMDEV_BACKEND_DEVICE;
	else if (!strcmp(s, "posix"))
		*b = SHMDEV_BACKEND_POSIX;
	else
		return -EINVAL;
	return 0;
}

const char *ctl_backend_name(enum shmdev_backend b)
{
	switch (b) {
	case SHMDEV_BACKEND_DEVICE:
		return "device";
	case SHMDEV_BACKEND_POSIX:
		return "posix";
	default:
		return "auto";
	}
}

const char *ctl_backend_desc(enum shmdev_backend b)
{
	switch (b) {
	case SHMDEV_BACKEND_DEVICE:
		return "device (" SHMPOOL_DEVICE_PATH ")";
	case SHMDEV_BACKEND_POSIX:
		return "posix (/dev/shm)";
	default:
		return "auto";
	}
}

/* The message, on stderr; with --json also as a JSON object on stdout. */
static int ctl_device_err(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int ctl_device_err(struct ctl *ctl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl->json) {
		fputs("{\"backend\":\"device\",\"error\":\"", stdout);
		ctl_json_str(stdout, msg);
		fputs("\"}\n", stdout);
	}
	return ctl_err(ctl, CTL_EXIT_FAIL, "%s: %s", ctl->cmd, msg);
}

/*
 * Why a user may not open /dev/shmpool, naming the group to join: the group
 * the device has (the udev rule's "shmpool", or root if the rule did not
 * apply, which needs another fix).
 */
void ctl_access_msg(char *buf, size_t len)
{
	char gname[64];
	struct group *gr;
	struct stat st;

	if (stat(SHMPOOL_DEVICE_PATH, &st) != 0) {
		snprintf(buf, len, "%s: %s", SHMPOOL_DEVICE_PATH, strerror(errno));
		return;
	}
	gr = getgrgid(st.st_gid);
	if (gr)
		snprintf(gname, sizeof(gname), "%s", gr->gr_name);
	else
		snprintf(gname, sizeof(gname), "%u", (unsigned int)st.st_gid);
	if (st.st_gid == 0)
		snprintf(buf, len, "%s: permission denied: the device is group \"%s\" (mode %03o): "
			 "the udev rule did not apply; create the group shmpool, then "
			 "\"sudo udevadm trigger -s misc\" (README, Installation)",
			 SHMPOOL_DEVICE_PATH, gname, (unsigned int)(st.st_mode & 0777));
	else
		snprintf(buf, len, "%s: permission denied: only members of group \"%s\" may use it "
			 "(sudo usermod -aG %s USER, then log in again)",
			 SHMPOOL_DEVICE_PATH, gname, gname);
}

/* A user outside the device's group: one line, before anything is printed. */
static int ctl_check_access(struct ctl *ctl)
{
	char msg[384];
	int fd;

	fd = open(SHMPOOL_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EACCES && errno != EPERM)
		return 0;	/* the library reports the rest in its own words */
	ctl_access_msg(msg, sizeof(msg));
	return ctl_device_err(ctl, "%s", msg);
}

int ctl_check_backend(struct ctl *ctl)
{
	struct stat st;

	/* Say "module not loaded" rather than "no such region". */
	if (ctl->backend == SHMDEV_BACKEND_DEVICE &&
	    stat(SHMPOOL_DEVICE_PATH, &st) != 0)
		return ctl_device_err(ctl, "%s: %s (is the shmpool module loaded? try: shmpoolctl load)",
				      SHMPOOL_DEVICE_PATH, strerror(errno));
	/* auto takes the device whenever it exists, readable or not. */
	if (ctl->backend != SHMDEV_BACKEND_POSIX)
		return ctl_check_access(ctl);
	return 0;
}

const char *ctl_state_name(const struct shmdev_region_info *info)
{
	switch (info->state) {
	case SHMDEV_STATE_NEW:
		return "new";
	case SHMDEV_STATE_OWNED:
		return "owned";
	case SHMDEV_STATE_CLEAN:
		return "clean";
	case SHMDEV_STATE_CRASHED:
		return "crashed";
	}
	return "unknown";
}

void ctl_format_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	struct tm tm;

	if (!ns) {
		snprintf(buf, len, "-");
		return;
	}
	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%" PRIu64, ns);
}

void ctl_json_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
	       const struct option *longopts,
	       int (*handle)(struct ctl *ctl, int opt, const char *arg, void *data),
	       void *data, const char *usage)
{
	char opts[64];
	int c, ret;

	/* ':' first: report a missing argument ourselves; "h" always. */
	snprintf(opts, sizeof(opts), ":h%s", shortopts ? shortopts : "");
	optind = 0;	/* glibc: full re-initialisation for each subcommand */
	opterr = 0;
	while ((c = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return -1;
		case CTL_OPT_BACKEND:
			if (parse_backend(optarg, &ctl->backend)) {
				ctl_usage_err(ctl, "bad backend \"%s\": use auto, device or posix",
					      optarg);
				return -2;
			}
			break;
		case ':':
			ctl_usage_err(ctl, "option %s needs a value", argv[optind - 1]);
			return -2;
		case '?':
			if (optopt)
				ctl_usage_err(ctl, "unknown option -%c", optopt);
			else
				ctl_usage_err(ctl, "unknown option %s", argv[optind - 1]);
			return -2;
		default:
			ret = handle ? handle(ctl, c, optarg, data) : -EINVAL;
			if (ret)
				return -2;
		}
	}
	return optind;
}

/*
 * Errors come back to us and are printed as ours; warnings (an auto
 * backend that fell back to POSIX, a HugePages that cannot be had) are
 * shown as they come.
 */
static void warnings_only(void *data, int priority, const char *file, int line,
			  const char *fn, const char *format, va_list args)
{
	struct ctl *ctl = data;

	(void)file;
	(void)line;
	(void)fn;
	if (priority <= LOG_ERR || priority > LOG_WARNING)
		return;
	fprintf(stderr, "%s: warning: ", ctl->prog);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

static const struct ctl_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int shmpoolctl_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .prog = "shmpoolctl", .backend = SHMDEV_BACKEND_AUTO };
	const struct ctl_cmd *cmd;
	const char *env;
	int c, ret;

	optind = 0;
	opterr = 0;
	/* '+': stop at the subcommand; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_main_usage(stdout);
			return CTL_EXIT_OK;
		case 'v':
			ctl.verbose++;
			break;
		case 'V':
			printf("shmpoolctl %s (ABI %d)\n", PACKAGE_VERSION, SHMPOOL_ABI_VERSION);
			return CTL_EXIT_OK;
		case CTL_OPT_BACKEND:
			if (parse_backend(optarg, &ctl.backend))
				return ctl_usage_err(&ctl, "bad backend \"%s\": use auto, device or posix",
						     optarg);
			break;
		case ':':
			return ctl_usage_err(&ctl, "option %s needs a value", argv[optind - 1]);
		default:
			return ctl_usage_err(&ctl, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		print_main_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = find_cmd(argv[optind]);
	if (!cmd)
		return ctl_usage_err(&ctl, "unknown command \"%s\"", argv[optind]);
	ctl.cmd = cmd->name;

	ret = shmdev_ctx_new(&ctl.ctx);
	if (ret)
		return ctl_err(&ctl, CTL_EXIT_FAIL, "cannot create a library context: %s",
			       strerror(-ret));
	/*
	 * Errors come back as messages we print ourselves; the library's
	 * warnings are shown, the rest of its log only on request (-v, or
	 * SHMDEV_LOG).
	 */
	env = getenv("SHMDEV_LOG");
	if (ctl.verbose)
		shmdev_set_log_priority(ctl.ctx, ctl.verbose > 1 ? LOG_DEBUG : LOG_INFO);
	else if (!env || !*env)
		shmdev_set_log_fn(ctl.ctx, warnings_only, &ctl);

	ret = cmd->run(&ctl, argc - optind, argv + optind);
	shmdev_ctx_unref(ctl.ctx);
	fflush(stdout);
	if (ferror(stdout) && ret == CTL_EXIT_OK)
		ret = ctl_err(&ctl, CTL_EXIT_FAIL, "write error on standard output");
	return ret;
}
