// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl pool show and pool check: a live pool seen through a read-only
 * attach (no lease, no writes), so that it is safe while its owner runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmpoolctl.h"

struct pool_opts {
	const char *conf;
	const char *process;
	bool json;
};

static int pool_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct pool_opts *o = data;

	(void)ctl;
	switch (opt) {
	case 'c':
		o->conf = arg;
		return 0;
	case 'p':
		o->process = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	}
	return -EINVAL;
}

struct pool_view {
	struct shmdev_conf *conf;
	const struct shmdev_proc_conf *proc;
	struct shmdev_pool *pool;
	struct shmdev_region_info base;	/* the BaseKey region, for the lease state */
};

/* Load the config and attach the pool read-only; an exit code on failure. */
static int pool_attach(struct ctl *ctl, const struct pool_opts *o, struct pool_view *v)
{
	int ret;

	ret = shmdev_conf_load(ctl->ctx, o->conf, o->process, &v->conf);
	if (ret < 0)
		return ctl_fail(ctl, ret, "%s %s", ctl->cmd, o->conf);
	v->proc = shmdev_conf_self(v->conf);
	/* Module missing or a non-member: one line naming why (and the group). */
	if (v->proc->backend != SHMDEV_BACKEND_POSIX) {
		enum shmdev_backend saved = ctl->backend;

		ctl->backend = v->proc->backend;
		ctl->json = o->json;
		ret = ctl_check_backend(ctl);
		ctl->backend = saved;
		if (ret)
			goto fail;
	}
	ret = shmdev_region_stat(ctl->ctx, v->proc->backend, v->proc->base_key, &v->base);
	if (ret == -ENOENT) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL,
			      "%s %s: no pool: base region 0x%" PRIx64 " does not exist",
			      ctl->cmd, o->process, v->proc->base_key);
		goto fail;
	}
	if (ret < 0) {
		ret = ctl_fail(ctl, ret, "%s %s", ctl->cmd, o->process);
		goto fail;
	}
	ret = shmdev_pool_open(ctl->ctx, v->conf, NULL, 0, SHMDEV_POOL_RDONLY, &v->pool);
	if (ret < 0) {
		ret = ctl_fail(ctl, ret, "%s %s", ctl->cmd, o->process);
		goto fail;
	}
	return 0;
fail:
	shmdev_conf_free(v->conf);
	v->conf = NULL;
	return ret;
}

static void pool_detach(struct pool_view *v)
{
	/* A read-only attach holds no lease and marks nothing. */
	if (v->pool)
		shmdev_pool_abandon(v->pool);
	shmdev_conf_free(v->conf);
}

static const char *last_run(const struct shmdev_region_info *base)
{
	switch (base->state) {
	case SHMDEV_STATE_NEW:
		return "never owned";
	case SHMDEV_STATE_OWNED:
		return "running";
	case SHMDEV_STATE_CLEAN:
		return "clean exit";
	case SHMDEV_STATE_CRASHED:
		return "crashed";
	}
	return "unknown";
}

/* True if the command is done (help, usage error) with exit code *code. */
static bool parse_pool_args(struct ctl *ctl, int argc, char **argv, const char *shortopts,
			    const struct option *opts, struct pool_opts *o,
			    const char *usage, int *code)
{
	int i = ctl_getopt(ctl, argc, argv, shortopts, opts, pool_opt, o, usage);

	if (i < 0)
		*code = i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	else if (i < argc)
		*code = ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	else if (!o->conf || !o->process)
		*code = ctl_usage_err(ctl, "needs --conf FILE and --process NAME");
	else
		return false;
	return true;
}

/* The transaction log (libshmdev/tx.c): its size, state and what the opens after crashes did. */
static void show_tx_text(const struct pool_view *v)
{
	struct shmdev_tx_stats tx;

	shmdev_pool_tx_stats(v->pool, &tx);
	if (!tx.log_size) {
		printf("transactions: no log (TxLogSize = 0, or a pool created before transactions)\n");
		return;
	}
	if (tx.active)
		printf("transactions: log %" PRIu64 " bytes, one open (%" PRIu64 " bytes logged)", tx.log_size, tx.log_used);
	else
		printf("transactions: log %" PRIu64 " bytes, none open", tx.log_size);
	printf("; %" PRIu64 " committed, %" PRIu64 " aborted\n"
	       "after crashes: %" PRIu64 " rolled back (%" PRIu64 " bytes restored, %" PRIu64 " allocations freed), %" PRIu64 " commits finished\n",
	       tx.commits, tx.aborts, tx.rolled_back, tx.rolled_back_bytes, tx.rolled_back_allocs, tx.finished);
}

/* The field tables of the described types (issue 13), one block per type. */
static void show_fields_text(const struct pool_view *v)
{
	struct shmdev_field_info fi;
	struct shmdev_type_stats ts;
	uint32_t id, i;

	for (id = 0; id < v->proc->max_types && id <= UINT16_MAX; id++) {
		if (shmdev_pool_type_stats(v->pool, (uint16_t)id, &ts) < 0 ||
		    shmdev_pool_type_field(v->pool, (uint16_t)id, 0, &fi) < 0)
			continue;
		printf("\nfields of type %u \"%s\":\n%8s %8s  %-7s %s\n", (unsigned int)id, ts.name,
		       "offset", "size", "kind", "name");
		for (i = 0; shmdev_pool_type_field(v->pool, (uint16_t)id, i, &fi) == 0; i++)
			printf("%8" PRIu32 " %8" PRIu32 "  %-7s %s\n", fi.offset, fi.size,
			       shmdev_field_kind_name(fi.kind), fi.name);
	}
}

static void show_fields_json(const struct pool_view *v, uint16_t id)
{
	struct shmdev_field_info fi;
	uint32_t i;

	/* Only a described type has the member: the others print as before. */
	if (shmdev_pool_type_field(v->pool, id, 0, &fi) < 0)
		return;
	printf(",\"fields\":[");
	for (i = 0; shmdev_pool_type_field(v->pool, id, i, &fi) == 0; i++) {
		printf("%s{\"name\":\"", i ? "," : "");
		ctl_json_str(stdout, fi.name);
		printf("\",\"kind\":\"%s\",\"offset\":%" PRIu32 ",\"size\":%" PRIu32 "}",
		       shmdev_field_kind_name(fi.kind), fi.offset, fi.size);
	}
	printf("]");
}

static void show_text(const struct pool_view *v, const struct shmdev_pool_stats *ps)
{
	const struct shmdev_proc_conf *p = v->proc;
	struct shmdev_type_stats ts;
	struct shmdev_block_stats bs;
	char t[32];
	uint32_t id, b;

	ctl_format_time(ps->start_time_ns, t, sizeof(t));
	printf("pool:        %s\n"
	       "backend:     %s\n"
	       "base key:    0x%" PRIx64 "\n"
	       "block size:  %" PRIu64 " bytes, %zu blocks\n"
	       "started:     %s (cold start)\n"
	       "generation:  %" PRIu64 "\n",
	       p->name, ctl_backend_desc(v->base.backend), p->base_key, p->block_size, p->nr_blocks, t, ps->generation);
	if (v->base.state == SHMDEV_STATE_OWNED)
		printf("owner:       running, pid %" PRIu32 "\n", v->base.owner_pid);
	else
		printf("last run:    %s\n", last_run(&v->base));
	show_tx_text(v);
	printf("\n%-4s %-31s %8s %6s %8s %12s %12s %6s\n",
	       "type", "name", "size", "align", "version", "used", "max", "used%");
	for (id = 0; id < p->max_types && id <= UINT16_MAX; id++) {
		if (shmdev_pool_type_stats(v->pool, (uint16_t)id, &ts) < 0)
			continue;
		printf("%-4u %-31s %8" PRIu32 " %6" PRIu32 " %8" PRIu32 " %12" PRIu64
		       " %12" PRIu64 " %5.1f%%\n",
		       (unsigned int)ts.id, ts.name, ts.size, ts.align, ts.version,
		       ts.live_count, ts.max_count,
		       ts.max_count ? 100.0 * (double)ts.live_count / (double)ts.max_count : 0.0);
	}
	/* The layout's BlockBase table: what is carved, what is left for new types. */
	printf("\n%-5s %-18s %12s %12s %12s %6s\n", "block", "key", "size", "used", "free", "free%");
	for (b = 0; shmdev_pool_block_stats(v->pool, b, &bs) == 0; b++)
		printf("%-5" PRIu32 " 0x%016" PRIx64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %5.1f%%\n",
		       bs.index, bs.key, bs.size, bs.used_bytes, bs.free_bytes,
		       bs.size ? 100.0 * (double)bs.free_bytes / (double)bs.size : 0.0);
	show_fields_text(v);
}

static const char pool_show_usage[] =
	"Usage: shmpoolctl pool show --conf FILE --process NAME [--json]\n"
	"\n"
	"Attach NAME's pool (from memorypool.ini FILE) read-only and show its\n"
	"TypeInfo table (used and max per type), its BlockBase table (bytes\n"
	"carved and free per block), the cold start time, the generation\n"
	"(owner attaches), how the last run ended, the transaction log (its\n"
	"size, a transaction open now, commits, aborts, and the transactions\n"
	"rolled back or finished by opens after crashes), and the field table\n"
	"(offset, size, kind, name) of each type described by fields.\n"
	"Safe while the owner runs: no lease is taken and nothing is written.\n"
	"\n"
	"  -c, --conf FILE      memorypool.ini\n"
	"  -p, --process NAME   the process (section) whose pool to show\n"
	"  -j, --json           one JSON object\n";

static int pool_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "conf", required_argument, NULL, 'c' },
		{ "process", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct pool_opts o = { 0 };
	struct pool_view v = { 0 };
	struct shmdev_pool_stats ps;
	struct shmdev_type_stats ts;
	struct shmdev_block_stats bs;
	struct shmdev_tx_stats tx;
	uint32_t id, b;
	size_t n = 0;
	int ret;

	if (parse_pool_args(ctl, argc, argv, "c:p:j", opts, &o, pool_show_usage, &ret))
		return ret;
	ret = pool_attach(ctl, &o, &v);
	if (ret)
		return ret;
	shmdev_pool_stats(v.pool, &ps);
	if (!o.json) {
		show_text(&v, &ps);
		pool_detach(&v);
		return CTL_EXIT_OK;
	}
	printf("{\"pool\":\"");
	ctl_json_str(stdout, v.proc->name);
	printf("\",\"backend\":\"%s\",\"base_key\":%" PRIu64 ",\"block_size\":%" PRIu64
	       ",\"start_time_ns\":%" PRIu64 ",\"generation\":%" PRIu64
	       ",\"last_run\":\"%s\",\"owner_pid\":%" PRIu32 ",\"types\":[",
	       ctl_backend_name(v.base.backend), v.proc->base_key,
	       v.proc->block_size, ps.start_time_ns,
	       ps.generation, last_run(&v.base), v.base.owner_pid);
	for (id = 0; id < v.proc->max_types && id <= UINT16_MAX; id++) {
		if (shmdev_pool_type_stats(v.pool, (uint16_t)id, &ts) < 0)
			continue;
		printf("%s{\"id\":%u,\"name\":\"", n++ ? "," : "", (unsigned int)ts.id);
		ctl_json_str(stdout, ts.name);
		printf("\",\"size\":%" PRIu32 ",\"align\":%" PRIu32 ",\"version\":%" PRIu32
		       ",\"used\":%" PRIu64 ",\"max\":%" PRIu64,
		       ts.size, ts.align, ts.version, ts.live_count, ts.max_count);
		show_fields_json(&v, (uint16_t)id);
		printf("}");
	}
	shmdev_pool_tx_stats(v.pool, &tx);
	printf("],\"tx\":{\"log_size\":%" PRIu64 ",\"open\":%s,\"log_used\":%" PRIu64
	       ",\"commits\":%" PRIu64 ",\"aborts\":%" PRIu64 ",\"rolled_back\":%" PRIu64
	       ",\"rolled_back_bytes\":%" PRIu64 ",\"rolled_back_allocs\":%" PRIu64
	       ",\"finished\":%" PRIu64 "}",
	       tx.log_size, tx.active ? "true" : "false", tx.log_used, tx.commits, tx.aborts,
	       tx.rolled_back, tx.rolled_back_bytes, tx.rolled_back_allocs, tx.finished);
	printf(",\"blocks\":[");
	for (b = 0; shmdev_pool_block_stats(v.pool, b, &bs) == 0; b++)
		printf("%s{\"index\":%" PRIu32 ",\"key\":%" PRIu64 ",\"size\":%" PRIu64
		       ",\"used_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64 "}",
		       b ? "," : "", bs.index, bs.key, bs.size, bs.used_bytes, bs.free_bytes);
	printf("]}\n");
	pool_detach(&v);
	return CTL_EXIT_OK;
}

static const char pool_check_usage[] =
	"Usage: shmpoolctl pool check --conf FILE --process NAME\n"
	"\n"
	"Attach NAME's pool read-only and check the layout and every type's\n"
	"slots, free lists and indexes.  Exits 0 if consistent; otherwise says\n"
	"what is wrong and exits 1.  Safe while the owner runs: each type is\n"
	"read between two reads of its change count, and read again while it\n"
	"changes; a problem is reported only from a read nothing changed under.\n"
	"If the owner kept changing a type through every read, says \"pool is\n"
	"live (owner pid N)\", checks nothing more and exits 3.\n"
	"\n"
	"  -c, --conf FILE      memorypool.ini\n"
	"  -p, --process NAME   the process (section) whose pool to check\n";

static int pool_check(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "conf", required_argument, NULL, 'c' },
		{ "process", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct pool_opts o = { 0 };
	struct pool_view v = { 0 };
	int ret;

	if (parse_pool_args(ctl, argc, argv, "c:p:", opts, &o, pool_check_usage, &ret))
		return ret;
	ret = pool_attach(ctl, &o, &v);
	if (ret)
		return ret;
	ret = shmdev_pool_check(v.pool);
	if (ret == -EAGAIN) {
		ctl_fail(ctl, ret, "pool check %s", o.process);
		ret = CTL_EXIT_LIVE;
	} else if (ret < 0) {
		ret = ctl_fail(ctl, ret, "pool check %s", o.process);
	} else if (v.base.state == SHMDEV_STATE_OWNED) {
		printf("pool %s: consistent (owner running, pid %" PRIu32 ")\n", o.process,
		       v.base.owner_pid);
	} else {
		printf("pool %s: consistent\n", o.process);
	}
	pool_detach(&v);
	return ret;
}

static const char pool_usage[] =
	"Usage: shmpoolctl pool show --conf FILE --process NAME [--json]\n"
	"       shmpoolctl pool check --conf FILE --process NAME\n"
	"\n"
	"Inspect or check a live pool through a read-only attach.\n"
	"Run \"shmpoolctl pool show --help\" or \"pool check --help\" for details.\n";

int cmd_pool(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2) {
		fputs(pool_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(pool_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "show")) {
		ctl->cmd = "pool show";
		return pool_show(ctl, argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "check")) {
		ctl->cmd = "pool check";
		return pool_check(ctl, argc - 1, argv + 1);
	}
	return ctl_usage_err(ctl, "unknown pool command \"%s\": use show or check", argv[1]);
}
