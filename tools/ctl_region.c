// SPDX-License-Identifier: LGPL-2.1-or-later
/* shmpoolctl list, stat and rm: regions, as ipcs -m and ipcrm show them. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmpoolctl.h"

struct region_opts {
	bool json;
	bool all;
	bool yes;
};

static int region_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct region_opts *o = data;

	(void)ctl;
	(void)arg;
	switch (opt) {
	case 'j':
		o->json = true;
		return 0;
	case 'a':
		o->all = true;
		return 0;
	case 'y':
		o->yes = true;
		return 0;
	}
	return -EINVAL;
}

static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", res->pw_name);
	else
		snprintf(buf, len, "%" PRIu32, uid);
}

static void group_name(uint32_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[1024];

	if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", res->gr_name);
	else
		snprintf(buf, len, "%" PRIu32, gid);
}

static void print_json(FILE *f, const struct shmdev_region_info *in)
{
	fprintf(f, "{\"key\":%" PRIu64 ",\"key_hex\":\"0x%" PRIx64 "\",\"backend\":\"%s\",\"size\":%" PRIu64
		",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32 ",\"mode\":\"%04" PRIo32 "\""
		",\"nattch\":%" PRIu32 ",\"nmaps\":%" PRIu32 ",\"owner_pid\":%" PRIu32
		",\"generation\":%" PRIu64 ",\"state\":\"%s\",\"huge\":%s"
		",\"ctime_ns\":%" PRIu64 ",\"atime_ns\":%" PRIu64 ",\"dtime_ns\":%" PRIu64 "}",
		in->key, in->key, ctl_backend_name(in->backend), in->size, in->uid, in->gid, in->mode, in->nattch,
		in->nmaps, in->owner_pid, in->generation, ctl_state_name(in),
		in->huge ? "true" : "false",
		in->ctime_ns, in->atime_ns, in->dtime_ns);
}

struct list_state {
	struct region_opts *o;
	size_t n;
};

static int list_one(const struct shmdev_region_info *in, void *data)
{
	struct list_state *ls = data;
	char user[64], group[64], ctime[32], pid[16];

	if (ls->o->json) {
		fputs(ls->n ? ",\n " : " ", stdout);
		print_json(stdout, in);
	} else {
		user_name(in->uid, user, sizeof(user));
		group_name(in->gid, group, sizeof(group));
		ctl_format_time(in->ctime_ns, ctime, sizeof(ctime));
		if (in->owner_pid)
			snprintf(pid, sizeof(pid), "%" PRIu32, in->owner_pid);
		else
			snprintf(pid, sizeof(pid), "-");
		printf("0x%016" PRIx64 " %12" PRIu64 " %-10s %-10s %04" PRIo32
		       " %6" PRIu32 " %5" PRIu32 " %7s %5" PRIu64 " %-7s %s\n",
		       in->key, in->size, user, group, in->mode, in->nattch,
		       in->nmaps, pid, in->generation, ctl_state_name(in), ctime);
	}
	ls->n++;
	return 0;
}

static const char list_usage[] =
	"Usage: shmpoolctl list [--json] [--backend auto|device|posix]\n"
	"\n"
	"List every region of the backend, named on the first line: key, size\n"
	"in bytes, owner, group, permissions, attached files, live mappings,\n"
	"owner pid, generation (owner attaches), state (new, owned, clean,\n"
	"crashed) and creation time.\n"
	"\n"
	"  -j, --json   {\"backend\": ..., \"regions\": [...]} instead of the table\n";

int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct region_opts o = { 0 };
	struct list_state ls = { .o = &o };
	enum shmdev_backend b;
	int i, ret;

	i = ctl_getopt(ctl, argc, argv, "j", opts, region_opt, &o, list_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	ctl->json = o.json;
	ret = ctl_check_backend(ctl);
	if (ret)
		return ret;
	/* Which set of regions this is: auto may have fallen back to POSIX. */
	ret = shmdev_backend_resolve(ctl->ctx, ctl->backend, &b);
	if (ret < 0)
		return ctl_fail(ctl, ret, "list");

	if (o.json)
		printf("{\"backend\":\"%s\",\"regions\":[\n", ctl_backend_name(b));
	else
		printf("backend: %s\n%-18s %12s %-10s %-10s %-4s %6s %5s %7s %5s %-7s %s\n",
		       ctl_backend_desc(b), "key", "bytes", "owner", "group", "perm",
		       "nattch", "maps", "pid", "gen", "state", "created");
	ret = shmdev_region_list(ctl->ctx, b, list_one, &ls);
	if (o.json)
		fputs(ls.n ? "\n]}\n" : "]}\n", stdout);
	if (ret < 0)
		return ctl_fail(ctl, ret, "list");
	return CTL_EXIT_OK;
}

static const char stat_usage[] =
	"Usage: shmpoolctl stat [--json] [--backend auto|device|posix] KEY\n"
	"\n"
	"Show everything known about region KEY (decimal or 0x hex) without\n"
	"attaching to it.\n"
	"\n"
	"  -j, --json   one JSON object\n";

int cmd_stat(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct region_opts o = { 0 };
	struct shmdev_region_info in;
	char user[64], group[64], t[3][32];
	uint64_t key;
	int i, ret;

	i = ctl_getopt(ctl, argc, argv, "j", opts, region_opt, &o, stat_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i != 1)
		return ctl_usage_err(ctl, "expected one KEY");
	if (ctl_parse_key(argv[i], &key))
		return ctl_usage_err(ctl, "bad key \"%s\": expected a non-zero decimal or 0x hex number",
				     argv[i]);
	ctl->json = o.json;
	ret = ctl_check_backend(ctl);
	if (ret)
		return ret;

	ret = shmdev_region_stat(ctl->ctx, ctl->backend, key, &in);
	if (ret < 0)
		return ctl_fail_region(ctl, ret, key);
	if (o.json) {
		print_json(stdout, &in);
		fputc('\n', stdout);
		return CTL_EXIT_OK;
	}
	user_name(in.uid, user, sizeof(user));
	group_name(in.gid, group, sizeof(group));
	ctl_format_time(in.ctime_ns, t[0], sizeof(t[0]));
	ctl_format_time(in.atime_ns, t[1], sizeof(t[1]));
	ctl_format_time(in.dtime_ns, t[2], sizeof(t[2]));
	printf("key:         0x%" PRIx64 " (%" PRIu64 ")\n"
	       "backend:     %s\n"
	       "size:        %" PRIu64 " bytes\n"
	       "owner:       %s (%" PRIu32 ")\n"
	       "group:       %s (%" PRIu32 ")\n"
	       "mode:        %04" PRIo32 "\n"
	       "huge pages:  %s\n"
	       "state:       %s\n"
	       "owner pid:   %" PRIu32 "\n"
	       "generation:  %" PRIu64 "\n"
	       "attached:    %" PRIu32 "\n"
	       "mappings:    %" PRIu32 "\n"
	       "created:     %s\n"
	       "last attach: %s\n"
	       "last detach: %s\n",
	       in.key, in.key, ctl_backend_desc(in.backend), in.size, user, in.uid, group, in.gid, in.mode,
	       in.huge ? "yes" : "no", ctl_state_name(&in), in.owner_pid, in.generation, in.nattch,
	       in.nmaps, t[0], t[1], t[2]);
	return CTL_EXIT_OK;
}

struct key_vec {
	uint64_t *keys;
	size_t n, cap;
};

static int collect_key(const struct shmdev_region_info *in, void *data)
{
	struct key_vec *v = data;

	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		uint64_t *k = realloc(v->keys, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		v->keys = k;
		v->cap = cap;
	}
	v->keys[v->n++] = in->key;
	return 0;
}

static const char rm_usage[] =
	"Usage: shmpoolctl rm [--backend auto|device|posix] KEY...\n"
	"       shmpoolctl rm --all --yes [--backend auto|device|posix]\n"
	"\n"
	"Destroy regions, with IPC_RMID semantics: the key stops resolving at\n"
	"once and the memory is freed when its last user unmaps it.  Needs, as\n"
	"IPC_RMID, the region's owner or creator uid, or CAP_SYS_ADMIN.\n"
	"\n"
	"  -a, --all    every region of the backend (needs --yes)\n"
	"  -y, --yes    confirm --all\n";

int cmd_rm(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "all", no_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	struct region_opts o = { 0 };
	struct key_vec v = { 0 };
	int i, ret, code = CTL_EXIT_OK;
	size_t k, removed = 0;

	i = ctl_getopt(ctl, argc, argv, "ay", opts, region_opt, &o, rm_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (o.all && i < argc)
		return ctl_usage_err(ctl, "--all takes no KEY");
	if (o.all && !o.yes)
		return ctl_usage_err(ctl, "--all destroys every region: confirm with --yes");
	if (!o.all && i == argc)
		return ctl_usage_err(ctl, "expected KEY... or --all --yes");
	/* Check every key before destroying anything. */
	for (; i < argc; i++) {
		uint64_t key;

		if (ctl_parse_key(argv[i], &key)) {
			free(v.keys);
			return ctl_usage_err(ctl, "bad key \"%s\": expected a non-zero decimal or 0x hex number",
					     argv[i]);
		}
		if (collect_key(&(struct shmdev_region_info){ .key = key }, &v)) {
			free(v.keys);
			return ctl_err(ctl, CTL_EXIT_FAIL, "rm: out of memory");
		}
	}
	ret = ctl_check_backend(ctl);
	if (ret) {
		free(v.keys);
		return ret;
	}
	if (o.all) {
		ret = shmdev_region_list(ctl->ctx, ctl->backend, collect_key, &v);
		if (ret < 0) {
			free(v.keys);
			return ctl_fail(ctl, ret, "rm --all: list");
		}
	}
	for (k = 0; k < v.n; k++) {
		ret = shmdev_region_destroy(ctl->ctx, ctl->backend, v.keys[k]);
		if (ret < 0)
			code = ctl_fail_region(ctl, ret, v.keys[k]);
		else
			removed++;
	}
	if (o.all)
		printf("removed %zu region%s\n", removed, removed == 1 ? "" : "s");
	free(v.keys);
	return code;
}
