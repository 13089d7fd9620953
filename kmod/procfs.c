// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/shmpool: one header line, then one line per region of the opener's
 * IPC namespace (regions of other namespaces never show) in key order,
 * as /proc/sysvipc/shm does (ipc/util.c sysvipc_proc_open() takes the
 * opener's IPC and pid namespaces at open): a file opened in one namespace
 * and read from another (passed over a socket, or read after setns())
 * lists the opener's.  Times are seconds since the epoch, 0 for never;
 * uid and gid are in the opener's user namespace, the owner pid in its pid
 * namespace (0 if not visible there).  An open /proc/shmpool keeps its
 * opener's IPC namespace alive, as /proc/sysvipc/shm does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/math64.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/time64.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "shmpool.h"

#define SHMPOOL_PROC_NAME	"shmpool"

/* m->private: what the opener's open pinned, and the table being read. */
struct shmpool_proc_iter {
	struct shmpool_ipc_pin ipc;	/* the opener's IPC namespace */
	struct pid_namespace *pid_ns;	/* the opener's pid namespace */
	struct shmpool_ns *ns;		/* from start() to stop() */
};

/*
 * The opener's IPC namespace's table: looked up again at every start()
 * (it may have been made or freed since), kept with a reference and its
 * lock held until stop().
 */
static void *shmpool_seq_start(struct seq_file *m, loff_t *pos)
{
	struct shmpool_proc_iter *it = m->private;
	struct shmpool_ns *ns = shmpool_ns_lookup(it->ipc.ns);
	struct rb_node *n;
	loff_t i;

	it->ns = ns;
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
	struct shmpool_ns *ns = ((struct shmpool_proc_iter *)m->private)->ns;

	++*pos;
	if (v == SEQ_START_TOKEN)
		return ns ? rb_first(&ns->regions) : NULL;
	return rb_next(v);
}

static void shmpool_seq_stop(struct seq_file *m, void *v)
{
	struct shmpool_proc_iter *it = m->private;
	struct shmpool_ns *ns = it->ns;

	if (!ns)
		return;
	it->ns = NULL;
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);
}

static int shmpool_seq_show(struct seq_file *m, void *v)
{
	struct shmpool_proc_iter *it = m->private;
	struct user_namespace *uns = seq_user_ns(m);
	struct shmpool_region *r;

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
		   pid_nr_ns(shmpool_owner_pid(r), it->pid_ns),
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

static int shmpool_proc_open(struct inode *inode, struct file *file)
{
	struct shmpool_proc_iter *it;
	int err;

	if (!shmpool_current_ipc_ns())
		return -ESRCH;
	it = __seq_open_private(file, &shmpool_seq_ops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	err = shmpool_ipc_pin_current(&it->ipc);
	if (err) {
		seq_release_private(inode, file);
		return err;
	}
	it->pid_ns = get_pid_ns(task_active_pid_ns(current));
	return 0;
}

static int shmpool_proc_release(struct inode *inode, struct file *file)
{
	struct shmpool_proc_iter *it = ((struct seq_file *)file->private_data)->private;

	put_pid_ns(it->pid_ns);
	shmpool_ipc_unpin(&it->ipc);
	return seq_release_private(inode, file);
}

static const struct proc_ops shmpool_proc_ops = {
	.proc_open	= shmpool_proc_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= shmpool_proc_release,
};

int shmpool_procfs_init(void)
{
	if (!proc_create(SHMPOOL_PROC_NAME, 0444, NULL, &shmpool_proc_ops))
		return -ENOMEM;
	return 0;
}

void shmpool_procfs_exit(void)
{
	remove_proc_entry(SHMPOOL_PROC_NAME, NULL);
}
