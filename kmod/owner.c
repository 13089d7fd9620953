// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds an owner lease.  The lease belongs to an open /dev/shmpool
 * file, which fork() and SCM_RIGHTS share between processes, so the process
 * that took it may exit while the lease lives on in another one.  These
 * helpers tell whether a recorded process still lives, and find a process
 * whose file table holds the lease's file, the way drivers/tty/tty_io.c
 * __do_SAK() finds the holders of a tty: task_lock() and iterate_fd() on
 * each process's files.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "shmpool.h"

/* True while the process @pid (a tgid) has a thread that is not exiting. */
bool shmpool_pid_alive(struct pid *pid)
{
	struct task_struct *p, *t;
	bool alive = false;

	rcu_read_lock();
	p = pid_task(pid, PIDTYPE_TGID);
	if (p) {
		for_each_thread(p, t) {
			if (!(t->flags & PF_EXITING)) {
				alive = true;
				break;
			}
		}
	}
	rcu_read_unlock();
	return alive;
}

static int shmpool_fd_is(const void *sf, struct file *file, unsigned int fd)
{
	return file->private_data == sf && shmpool_is_device_file(file);
}

/* Does a thread of @p have @sf's file in its file table?  Under RCU. */
static bool shmpool_task_holds(struct task_struct *p, const struct shmpool_file *sf)
{
	struct files_struct *seen = NULL;
	struct task_struct *t;
	bool found = false;

	for_each_thread(p, t) {
		task_lock(t);
		/*
		 * An exiting thread is about to drop its table.  Threads
		 * usually share one table: look at each table once.
		 */
		if (!(t->flags & PF_EXITING) && t->files && t->files != seen) {
			seen = t->files;
			found = iterate_fd(t->files, 0, shmpool_fd_is, sf) != 0;
		}
		task_unlock(t);
		if (found)
			break;
	}
	return found;
}

/*
 * The tgid (referenced) of a live process whose file table holds @sf's
 * file, or NULL if none does (the file may be in flight in a socket).
 */
struct pid *shmpool_find_holder(const struct shmpool_file *sf)
{
	struct task_struct *p;
	struct pid *pid = NULL;

	rcu_read_lock();
	for_each_process(p) {
		if (shmpool_task_holds(p, sf)) {
			pid = get_pid(task_tgid(p));
			break;
		}
	}
	rcu_read_unlock();
	return pid;
}
