// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl load, unload and status: the kernel module through libkmod
 * (never by running modprobe) and the INFO ioctl.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "shmpoolctl.h"

#define MODULE_NAME "shmpool"
#define SYSFS_MODULE "/sys/module/" MODULE_NAME

static void kmod_log_quiet(void *data, int priority, const char *file, int line,
			   const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	(void)format;
	(void)args;
}

static int kmod_open(struct ctl *ctl, struct kmod_ctx **out)
{
	struct kmod_ctx *k = kmod_new(NULL, NULL);

	if (!k)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s: cannot create a libkmod context", ctl->cmd);
	/* We report errors ourselves; libkmod's own log only with -v. */
	if (!ctl->verbose)
		kmod_set_log_fn(k, kmod_log_quiet, NULL);
	*out = k;
	return 0;
}

/* Read the INFO ioctl; a negative errno if the device cannot be used. */
static int read_info(struct shmpool_info *info)
{
	int fd, ret = 0;

	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		fd = open(SHMPOOL_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	if (ioctl(fd, SHMPOOL_IOC_INFO, info) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static bool module_loaded(void)
{
	struct stat st;

	return stat(SYSFS_MODULE, &st) == 0;
}

struct load_opts {
	const char *ko;
	bool json;
};

static int load_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct load_opts *o = data;

	(void)ctl;
	switch (opt) {
	case 'k':
		o->ko = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	}
	return -EINVAL;
}

/* "name=value": a parameter name of [A-Za-z0-9_] and any value. */
static bool valid_param(const char *s)
{
	const char *eq = strchr(s, '=');
	const char *p;

	if (!eq || eq == s)
		return false;
	for (p = s; p < eq; p++)
		if (!(*p == '_' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static const char *insert_error(int err)
{
	switch (-err) {
	case EEXIST:
		return "the module is already loaded";
	case EPERM:
		return "operation not permitted (needs root or CAP_SYS_MODULE)";
	case ENOEXEC:
		return "invalid module format (built for another kernel?)";
	case EINVAL:
		return "invalid argument (a bad parameter value? see dmesg)";
	case ENOENT:
		return "unknown parameter or missing symbol (see dmesg)";
	default:
		return strerror(-err);
	}
}

static const char load_usage[] =
	"Usage: shmpoolctl load [--ko PATH] [PARAM=VALUE...]\n"
	"\n"
	"Load the shmpool kernel module through libkmod, with the given module\n"
	"parameters (max_regions, max_region_bytes, max_total_bytes, ...).\n"
	"Without --ko the module is looked up like modprobe does (it must be\n"
	"installed, e.g. with dkms, and depmod'ed) and options from\n"
	"/etc/modprobe.d are applied too.\n"
	"\n"
	"  -k, --ko PATH   insert this module file instead (no lookup)\n";

int cmd_load(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "ko", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct load_opts o = { 0 };
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *k = NULL;
	char *params = NULL;
	size_t len = 1;
	int i, j, ret;

	i = ctl_getopt(ctl, argc, argv, "k:", opts, load_opt, &o, load_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	for (j = i; j < argc; j++) {
		if (!valid_param(argv[j]))
			return ctl_usage_err(ctl, "bad parameter \"%s\": expected NAME=VALUE",
					     argv[j]);
		len += strlen(argv[j]) + 1;
	}
	params = calloc(1, len);
	if (!params)
		return ctl_err(ctl, CTL_EXIT_FAIL, "load: out of memory");
	for (j = i; j < argc; j++) {
		if (j > i)
			strcat(params, " ");
		strcat(params, argv[j]);
	}

	ret = kmod_open(ctl, &k);
	if (ret)
		goto out;
	if (o.ko) {
		ret = kmod_module_new_from_path(k, o.ko, &mod);
		if (ret < 0) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "load: %s: %s", o.ko, strerror(-ret));
			goto out;
		}
		ret = kmod_module_insert_module(mod, 0, params);
		if (ret < 0) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "load %s: %s", o.ko, insert_error(ret));
			goto out;
		}
	} else {
		struct utsname u;

		ret = kmod_module_new_from_lookup(k, MODULE_NAME, &list);
		if (ret < 0 || !list) {
			uname(&u);
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "load: module %s not found for kernel %s (install it with dkms, or use --ko PATH)",
				      MODULE_NAME, u.release);
			goto out;
		}
		mod = kmod_module_get_module(list);
		ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
						      params, NULL, NULL, NULL);
		if (ret == -ENOENT && !kmod_module_get_path(mod)) {
			uname(&u);
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "load: module %s not found for kernel %s (install it with dkms, or use --ko PATH)",
				      MODULE_NAME, u.release);
			goto out;
		}
		if (ret < 0) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "load %s: %s", MODULE_NAME,
				      insert_error(ret));
			goto out;
		}
	}
	ret = CTL_EXIT_OK;
out:
	if (mod)
		kmod_module_unref(mod);
	if (list)
		kmod_module_unref_list(list);
	if (k)
		kmod_unref(k);
	free(params);
	return ret;
}

static const char unload_usage[] =
	"Usage: shmpoolctl unload\n"
	"\n"
	"Unload the shmpool kernel module through libkmod.  The module refuses\n"
	"while any region exists (regions outlive processes): remove them first\n"
	"with \"shmpoolctl rm\".\n";

int cmd_unload(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct kmod_module *mod = NULL;
	struct kmod_ctx *k = NULL;
	struct shmpool_info info;
	int i, ret;

	i = ctl_getopt(ctl, argc, argv, "", opts, NULL, NULL, unload_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	if (!module_loaded())
		return ctl_err(ctl, CTL_EXIT_FAIL, "unload: module %s is not loaded", MODULE_NAME);

	ret = kmod_open(ctl, &k);
	if (ret)
		return ret;
	ret = kmod_module_new_from_name(k, MODULE_NAME, &mod);
	if (ret < 0) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "unload: %s", strerror(-ret));
		goto out;
	}
	ret = kmod_module_remove_module(mod, 0);
	if (ret == -EBUSY || ret == -EAGAIN) {
		if (read_info(&info) == 0 && info.nr_regions)
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "unload: module %s is in use: %" PRIu32 " region%s exist (shmpoolctl rm --all --yes)",
				      MODULE_NAME, info.nr_regions, info.nr_regions == 1 ? "" : "s");
		else
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "unload: module %s is in use (open files or mappings of destroyed regions)",
				      MODULE_NAME);
	} else if (ret == -EPERM) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL,
			      "unload: operation not permitted (needs root or CAP_SYS_MODULE)");
	} else if (ret == -ENOENT) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "unload: module %s is not loaded", MODULE_NAME);
	} else if (ret < 0) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "unload %s: %s", MODULE_NAME, strerror(-ret));
	} else {
		ret = CTL_EXIT_OK;
	}
out:
	if (mod)
		kmod_module_unref(mod);
	kmod_unref(k);
	return ret;
}

/* First line of a small sysfs file, or "" */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print the module parameters from sysfs, sorted. */
static void print_params(bool json)
{
	char *names[64], path[512], val[256];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;

	d = opendir(SYSFS_MODULE "/parameters");
	if (d) {
		while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
			if (de->d_name[0] == '.')
				continue;
			names[n] = strdup(de->d_name);
			if (names[n])
				n++;
		}
		closedir(d);
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), SYSFS_MODULE "/parameters/%s", names[i]);
		read_line(path, val, sizeof(val));
		if (json) {
			fputs(i ? ",\"" : "\"", stdout);
			ctl_json_str(stdout, names[i]);
			fputs("\":\"", stdout);
			ctl_json_str(stdout, val);
			fputc('"', stdout);
		} else {
			printf("  %-17s %s\n", names[i], val);
		}
		free(names[i]);
	}
}

static const char status_usage[] =
	"Usage: shmpoolctl status [--json]\n"
	"\n"
	"Whether the shmpool module is loaded, its version, limits and totals\n"
	"(from the INFO ioctl) and its parameters (/sys/module/shmpool).\n"
	"Exits 1 if the module is not loaded.\n"
	"\n"
	"  -j, --json   one JSON object\n";

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct load_opts o = { 0 };
	struct shmpool_info info;
	char state[64], srcver[64], why[384] = "";
	int i, ret;

	i = ctl_getopt(ctl, argc, argv, "j", opts, load_opt, &o, status_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);

	if (!module_loaded()) {
		if (o.json)
			printf("{\"loaded\":false}\n");
		else
			printf("module:           not loaded\n");
		return CTL_EXIT_FAIL;
	}
	read_line(SYSFS_MODULE "/initstate", state, sizeof(state));
	read_line(SYSFS_MODULE "/version", srcver, sizeof(srcver));
	ret = read_info(&info);
	info.version[sizeof(info.version) - 1] = '\0';
	/* A non-member is told which group to join. */
	if (ret == -EACCES || ret == -EPERM)
		ctl_access_msg(why, sizeof(why));
	else if (ret)
		snprintf(why, sizeof(why), "%s: %s", SHMPOOL_DEVICE_PATH, strerror(-ret));
	if (o.json) {
		printf("{\"loaded\":true,\"initstate\":\"");
		ctl_json_str(stdout, state);
		printf("\"");
		if (!ret) {
			printf(",\"version\":\"");
			ctl_json_str(stdout, info.version);
			printf("\",\"abi_version\":%" PRIu32 ",\"nr_regions\":%" PRIu32
			       ",\"max_regions\":%" PRIu32 ",\"total_bytes\":%" PRIu64
			       ",\"max_total_bytes\":%" PRIu64 ",\"max_region_bytes\":%" PRIu64
			       ",\"huge_supported\":%s",
			       info.abi_version, info.nr_regions, info.max_regions,
			       (uint64_t)info.total_bytes, (uint64_t)info.max_total_bytes,
			       (uint64_t)info.max_region_bytes,
			       info.huge_supported ? "true" : "false");
			printf(",\"max_regions_per_ns\":%" PRIu32 ",\"max_bytes_per_ns\":%" PRIu64
			       ",\"user_regions\":%" PRIu32 ",\"user_bytes\":%" PRIu64
			       ",\"max_regions_per_user\":%" PRIu32 ",\"max_bytes_per_user\":%" PRIu64
			       ",\"limits_exempt\":%s",
			       info.max_regions_per_ns, (uint64_t)info.max_bytes_per_ns,
			       info.user_regions, (uint64_t)info.user_bytes,
			       info.max_regions_per_user, (uint64_t)info.max_bytes_per_user,
			       info.limits_exempt ? "true" : "false");
		}
		if (ret) {
			printf(",\"device_error\":\"");
			ctl_json_str(stdout, why);
			printf("\"");
		}
		printf(",\"parameters\":{");
		print_params(true);
		printf("}}\n");
	} else {
		printf("module:           loaded (%s)\n", state[0] ? state : "unknown");
		if (ret) {
			printf("device:           %s\n", why);
		} else {
			printf("version:          %s\n", info.version[0] ? info.version : srcver);
			printf("abi version:      %" PRIu32 "%s\n", info.abi_version,
			       info.abi_version == SHMPOOL_ABI_VERSION ? "" : " (this tool expects another)");
			printf("regions:          %" PRIu32 " of %" PRIu32 "\n",
			       info.nr_regions, info.max_regions);
			printf("total bytes:      %" PRIu64 " of %" PRIu64 "\n",
			       (uint64_t)info.total_bytes, (uint64_t)info.max_total_bytes);
			printf("max region bytes: %" PRIu64 "\n", (uint64_t)info.max_region_bytes);
			printf("this namespace:   at most %" PRIu32 " regions, %" PRIu64 " bytes\n",
			       info.max_regions_per_ns, (uint64_t)info.max_bytes_per_ns);
			printf("your uid:         %" PRIu32 " regions, %" PRIu64 " bytes, of %" PRIu32
			       " and %" PRIu64 "%s\n", info.user_regions, (uint64_t)info.user_bytes,
			       info.max_regions_per_user, (uint64_t)info.max_bytes_per_user,
			       info.limits_exempt ? " (exempt: CAP_SYS_RESOURCE)" : "");
			printf("huge pages:       %s\n",
			       info.huge_supported ? "supported" : "not supported");
		}
		printf("parameters:\n");
		print_params(false);
	}
	if (ret)
		return ctl_err(ctl, CTL_EXIT_FAIL, "status: %s", why);
	return CTL_EXIT_OK;
}
