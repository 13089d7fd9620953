// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/shmpool: one header line, then one line per region of the reader's
 * IPC namespace (regions of other namespaces never show) in key order,
 * in the spirit of /proc/sysvipc/shm.  Times are seconds since the epoch,
 * 0 for never; uid, gid and owner pid are in the reader's namespaces.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/math64.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/time64.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "shmpool.h"

#define SHMPOOL_PROC_NAME	"shmpool"

/*
 * The reader's IPC namespace's table, as /proc/sysvipc/shm follows the
 * reader's: looked up again at every start(), kept with a reference and
 * its lock held until stop().  m->private holds it in between.
 */
static void *shmpool_seq_start(struct seq_file *m, loff_t *pos)
{
	struct shmpool_ns **nsp = m->private;
	struct shmpool_ns *ns = shmpool_ns_current(false);
	struct rb_node *n;
	loff_t i;

	*nsp = ns;
	if (ns)
		mutex_lock(&ns->lock);
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (!ns)
		return NULL;
	for (n = rb_first(&ns->regions), i = 1; n && i < *pos; i++)
		n = rb_next(n);
	return n;
}

static void *shmpool_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct shmpool_ns *ns = *(struct shmpool_ns **)m->private;

	++*pos;
	if (v == SEQ_START_TOKEN)
		return ns ? rb_first(&ns->regions) : NULL;
	return rb_next(v);
}

static void shmpool_seq_stop(struct seq_file *m, void *v)
{
	struct shmpool_ns **nsp = m->private;
	struct shmpool_ns *ns = *nsp;

	if (!ns)
		return;
	*nsp = NULL;
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);
}

static int shmpool_seq_show(struct seq_file *m, void *v)
{
	struct user_namespace *uns = seq_user_ns(m);
	const struct shmpool_region *r;

	if (v == SEQ_START_TOKEN) {
		seq_printf(m, "%20s %14s %5s %10s %10s %9s %6s %5s %10s %7s %5s %10s %10s %10s\n",
			   "key", "size", "perms", "uid", "gid", "owner_pid",
			   "nattch", "nmaps", "generation", "state", "flags",
			   "ctime", "atime", "dtime");
		return 0;
	}
	r = rb_entry(v, struct shmpool_region, node);
	seq_printf(m, "%20llu %14llu %5o %10u %10u %9d %6u %5u %10llu %7s %5s %10llu %10llu %10llu\n",
		   r->key, r->size, r->mode,
		   from_kuid_munged(uns, r->uid), from_kgid_munged(uns, r->gid),
		   r->owner_pid ? pid_vnr(r->owner_pid) : 0,
		   r->nattch, shmpool_region_nmaps(r), r->generation,
		   shmpool_state_name(r->state),
		   (r->flags & SHMPOOL_REGION_HUGE) ? "huge" : "-",
		   div_u64(r->ctime_ns, NSEC_PER_SEC),
		   div_u64(r->atime_ns, NSEC_PER_SEC),
		   div_u64(r->dtime_ns, NSEC_PER_SEC));
	return 0;
}

static const struct seq_operations shmpool_seq_ops = {
	.start	= shmpool_seq_start,
	.next	= shmpool_seq_next,
	.stop	= shmpool_seq_stop,
	.show	= shmpool_seq_show,
};

int shmpool_procfs_init(void)
{
	if (!proc_create_seq_private(SHMPOOL_PROC_NAME, 0444, NULL, &shmpool_seq_ops,
				     sizeof(struct shmpool_ns *), NULL))
		return -ENOMEM;
	return 0;
}

void shmpool_procfs_exit(void)
{
	remove_proc_entry(SHMPOOL_PROC_NAME, NULL);
}
