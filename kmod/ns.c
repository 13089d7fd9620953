// SPDX-License-Identifier: GPL-2.0
/*
 * shmpool key tables per IPC namespace: finding the caller's, creating it,
 * freeing it, and reaping the regions of namespaces that died, at open and
 * ioctl and from a delayed work (see "Namespaces" in shmpool.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "shmpool.h"

/* The table of key tables, by IPC namespace address. */
static DEFINE_MUTEX(shmpool_tables_lock);
static struct rb_root shmpool_tables = RB_ROOT;

/*
 * What lets shmpool_ns_reap() skip its scan without the lock: the number
 * of tables not reaped yet, and the namespace of the only one when there is
 * exactly one (NULL otherwise).  Written under shmpool_tables_lock, read
 * with READ_ONCE(); only compared, never dereferenced.  Cleared before the
 * table unpins its namespace, so it never names a namespace that could have
 * been freed and its address reused.
 */
static unsigned int shmpool_live_tables;
static struct ipc_namespace *shmpool_sole_table;

/*
 * Tables not reaped yet of namespaces other than the initial one (which
 * never dies): the reaper's work is armed while there is one.  Under
 * shmpool_tables_lock.
 */
static unsigned int shmpool_foreign_tables;

static void shmpool_reap_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(shmpool_reap_work, shmpool_reap_work_fn);

static bool shmpool_ns_initial(const struct shmpool_ns *ns)
{
	return ns->pin.ns == shmpool_initial_ipc_ns();
}

/* Caller holds shmpool_tables_lock. */
static void shmpool_reap_arm(void)
{
	lockdep_assert_held(&shmpool_tables_lock);
	if (shmpool_foreign_tables)
		schedule_delayed_work(&shmpool_reap_work, shmpool_reap_interval());
}

/*
 * @delta: +1 for a new table @ns_changed, -1 for one reaped or freed
 * unreaped.
 */
static void shmpool_live_update(const struct shmpool_ns *ns_changed, int delta)
{
	struct rb_node *n;

	lockdep_assert_held(&shmpool_tables_lock);
	WRITE_ONCE(shmpool_live_tables, shmpool_live_tables + delta);
	if (!shmpool_ns_initial(ns_changed))
		shmpool_foreign_tables += delta;
	WRITE_ONCE(shmpool_sole_table, NULL);
	if (shmpool_live_tables != 1)
		return;
	for (n = rb_first(&shmpool_tables); n; n = rb_next(n)) {
		struct shmpool_ns *ns = rb_entry(n, struct shmpool_ns, node);

		if (!ns->reaped) {
			WRITE_ONCE(shmpool_sole_table, ns->pin.ns);
			return;
		}
	}
}

static struct shmpool_ns *shmpool_tables_find(struct ipc_namespace *ipc_ns,
					      struct rb_node ***linkp,
					      struct rb_node **parentp)
{
	struct rb_node **link = &shmpool_tables.rb_node, *parent = NULL;

	lockdep_assert_held(&shmpool_tables_lock);
	while (*link) {
		struct shmpool_ns *ns = rb_entry(*link, struct shmpool_ns, node);

		parent = *link;
		if (ipc_ns < ns->pin.ns)
			link = &parent->rb_left;
		else if (ipc_ns > ns->pin.ns)
			link = &parent->rb_right;
		else
			return ns;
	}
	*linkp = link;
	*parentp = parent;
	return NULL;
}

/*
 * The key table of the caller's IPC namespace, with a reference the caller
 * drops with shmpool_ns_put(); NULL if it has none and @create is false.
 */
struct shmpool_ns *shmpool_ns_current(bool create)
{
	struct ipc_namespace *ipc_ns = shmpool_current_ipc_ns();
	struct rb_node **link, *parent;
	struct shmpool_ns *ns;
	int err;

	if (!ipc_ns)		/* an exiting task: no namespace any more */
		return create ? ERR_PTR(-ESRCH) : NULL;

	mutex_lock(&shmpool_tables_lock);
	/*
	 * The caller's namespace is alive, so a table keyed by its address is
	 * its own: the table's pin forbids reuse of the address.
	 */
	ns = shmpool_tables_find(ipc_ns, &link, &parent);
	if (ns) {
		kref_get(&ns->ref);
		goto out;
	}
	if (!create)
		goto out;

	ns = kzalloc(sizeof(*ns), GFP_KERNEL);
	if (!ns) {
		ns = ERR_PTR(-ENOMEM);
		goto out;
	}
	err = shmpool_ipc_pin_current(&ns->pin);
	if (err) {
		kfree(ns);
		ns = ERR_PTR(err);
		goto out;
	}
	shmpool_ns_init(ns);
	kref_init(&ns->ref);		/* the caller's */
	ns->user_ns = ns->pin.ns->user_ns;
	rb_link_node(&ns->node, parent, link);
	rb_insert_color(&ns->node, &shmpool_tables);
	shmpool_live_update(ns, 1);
	shmpool_reap_arm();
out:
	mutex_unlock(&shmpool_tables_lock);
	return ns;
}

/*
 * The key table of @ipc_ns, which the caller keeps alive (it is inside it,
 * or pins it), with a reference; NULL if it has none.
 */
struct shmpool_ns *shmpool_ns_lookup(struct ipc_namespace *ipc_ns)
{
	struct rb_node **link, *parent;
	struct shmpool_ns *ns;

	mutex_lock(&shmpool_tables_lock);
	ns = shmpool_tables_find(ipc_ns, &link, &parent);
	if (ns)
		kref_get(&ns->ref);
	mutex_unlock(&shmpool_tables_lock);
	return ns;
}

void shmpool_ns_get(struct shmpool_ns *ns)
{
	kref_get(&ns->ref);
}

/* Called by kref_put_mutex() with shmpool_tables_lock held; drops it. */
static void shmpool_ns_release(struct kref *ref)
{
	struct shmpool_ns *ns = container_of(ref, struct shmpool_ns, ref);

	rb_erase(&ns->node, &shmpool_tables);
	if (!ns->reaped)
		shmpool_live_update(ns, -1);
	mutex_unlock(&shmpool_tables_lock);
	/* Only tables with no region get here: regions hold references. */
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&ns->regions));
	shmpool_ipc_unpin(&ns->pin);
	kfree(ns);
}

/* May sleep: takes shmpool_tables_lock and may drop the namespace pin. */
void shmpool_ns_put(struct shmpool_ns *ns)
{
	kref_put_mutex(&ns->ref, shmpool_ns_release, &shmpool_tables_lock);
}

/*
 * Destroy the regions of every namespace that died (the pin is its last
 * reference).  It runs at every open and ioctl, so the common cases take
 * no lock: no table, or only the caller's own (its namespace is alive, the
 * caller being in it).  Otherwise one atomic read per table.
 */
void shmpool_ns_reap(void)
{
	struct ipc_namespace *own = shmpool_current_ipc_ns();
	struct shmpool_ns *ns, *tmp;
	struct rb_node *n;
	LIST_HEAD(dead);

	if (!READ_ONCE(shmpool_live_tables) || (own && READ_ONCE(shmpool_sole_table) == own))
		return;

	mutex_lock(&shmpool_tables_lock);
	for (n = rb_first(&shmpool_tables); n; n = rb_next(n)) {
		ns = rb_entry(n, struct shmpool_ns, node);
		/* pin.ns is valid here: the table pins it. */
		if (ns->reaped || !shmpool_ipc_pin_orphaned(&ns->pin))
			continue;
		/* Final: nobody can enter the namespace or look the table up. */
		ns->reaped = true;
		kref_get(&ns->ref);
		list_add_tail(&ns->reap_link, &dead);
	}
	list_for_each_entry(ns, &dead, reap_link)
		shmpool_live_update(ns, -1);
	mutex_unlock(&shmpool_tables_lock);

	list_for_each_entry_safe(ns, tmp, &dead, reap_link) {
		list_del(&ns->reap_link);
		shmpool_ns_destroy_all(ns);
		shmpool_ns_put(ns);
	}
}

/*
 * The reaper's work: armed while a table of a namespace other than the
 * initial one exists, so that a namespace that died loses its regions (and
 * the module its references) within reap_interval_ms, whether or not
 * anybody calls into the module.  It runs in a kworker, in the initial
 * namespace, so shmpool_ns_reap() never skips for it unless the initial
 * table is the only one.
 */
static void shmpool_reap_work_fn(struct work_struct *work)
{
	shmpool_ns_reap();
	mutex_lock(&shmpool_tables_lock);
	shmpool_reap_arm();
	mutex_unlock(&shmpool_tables_lock);
}

/* Module exit: no table is left (each region pins the module). */
void shmpool_ns_exit(void)
{
	cancel_delayed_work_sync(&shmpool_reap_work);
}

/* For module exit: true if no table is left. */
bool shmpool_ns_all_gone(void)
{
	bool empty;

	mutex_lock(&shmpool_tables_lock);
	empty = RB_EMPTY_ROOT(&shmpool_tables);
	mutex_unlock(&shmpool_tables_lock);
	return empty;
}
