/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmpool internals shared by the module's files.
 *
 * Locking: shmpool_tables_lock (ns.c) guards the table of key tables.  One
 * mutex per key table (struct shmpool_ns) guards its rbtree and every
 * region's mutable fields (state, owner, nattch, times, generation).  A
 * file's attachment is set once, under the file's own mutex and its table's
 * lock, and read locklessly after that; its mapping file (map_file) is read
 * and replaced (DETACH) under the file's map_lock spinlock.  A region's
 * mapping objects and nmaps are guarded by its maps_lock spinlock (mmap.c).
 * Order: file lock, tables lock, key table lock; the spinlocks nest inside
 * anything and take nothing.  The mmap and fault paths take no shmpool
 * mutex, so there is no ordering against mmap_lock, and no user memory is
 * touched under a shmpool mutex (ATTACH writes its result through pages
 * pinned before it takes any lock).
 *
 * Lifetime: a region is referenced (kref) by its table entry, by every
 * attached file and by every mapping file (mmap.c), which every VMA of the
 * attach references.  DESTROY removes the table entry; the last reference
 * releases the shmem file and the region's bytes in the totals.  So a
 * destroyed region lives, and counts against max_total_bytes, until its
 * last file is closed and its last mapping unmapped (IPC_RMID semantics).
 *
 * Namespaces: keys are scoped per IPC namespace, as SysV shm is.  Each
 * namespace that has used shmpool has a key table, found by the address of
 * its struct ipc_namespace.  Every ioctl works on the table of the caller's
 * namespace at the time of the call (current->nsproxy->ipc_ns, as shmget()
 * and shmctl() do), not of the opener: an fd passed to another namespace
 * reaches that namespace's keys only.  Once attached, a file stays bound to
 * its region (QUERY, DETACH, mmap), as a shmat() mapping does.
 *
 * - No stale pointer, no reuse: a table pins its namespace with a counted
 *   reference (struct shmpool_ipc_pin, compat.h) for as long as the table
 *   exists, so the namespace cannot be freed and its address cannot be
 *   reused by another namespace while a table is keyed by it.  Tables are
 *   referenced (kref) by their regions and by callers in flight, and freed,
 *   unpinning the namespace, when the last of those goes.  A caller is
 *   always inside a live namespace, so a lookup never meets a dead one.
 *
 * - When a namespace dies: the kernel exports no notifier for that, so the
 *   pin itself is the probe.  Once a namespace has no task and no nsfs
 *   handle (an open /proc/PID/ns/ipc, a bind mount of it), the pin is its
 *   only reference: nothing can ever take a new one (every way in starts
 *   from a task or a handle), so the state is final.  Then, as SysV's
 *   shm_exit_ns() does, its regions are destroyed: the keys stop resolving,
 *   and memory still attached or mapped (by a process that left the
 *   namespace, or an fd passed out of it) lives until the last user goes,
 *   as after DESTROY ("reaping").  Reaping runs from a delayed work every
 *   reap_interval_ms (module parameter) while any table of a namespace
 *   other than the initial one exists (the work is armed only then, and
 *   cancelled at module exit), so a dead namespace's memory and module
 *   reference go within that bound without anybody's action; it also runs
 *   at every open and ioctl of /dev/shmpool.  The check at open and ioctl
 *   is skipped, without a lock, when no table exists or the only one is the
 *   caller's (its namespace is alive): the common case costs two reads, not
 *   a mutex per open and ioctl.  An open /proc/shmpool pins its opener's
 *   namespace (as /proc/sysvipc/shm does), which keeps it alive.
 *
 * - rmmod is refused while any region exists in any namespace: each region
 *   holds a module reference, whatever its namespace.  A mapping pins the
 *   module too (through its mapping file, whose vm_operations are ours).
 *
 * - Capabilities are checked against the user namespace that owns the key
 *   table's IPC namespace, as ipcperms() and ipcctl_obtain_check() do.
 *
 * - Limits (region.c shmpool_create(), user.c): module-wide totals, per key
 *   table (nr_regions, total_bytes: like SysV's per-namespace shm_ctlmni
 *   and shm_ctlall) and per creator kuid (struct shmpool_user, shared by
 *   every user and IPC namespace, like ucounts).  Regions are counted from
 *   creation to DESTROY, bytes until the region is freed, all three counts
 *   updated side by side.  CAP_SYS_RESOURCE in the initial user namespace
 *   exempts from the per-table and per-user limits only.
 */
#ifndef _SHMPOOL_H
#define _SHMPOOL_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/shmpool.h>

#define SHMPOOL_VERSION		"0.1.0"

struct file;
struct ipc_namespace;
struct pid;
struct user_namespace;
struct vfsmount;
struct kmem_cache;

#include "compat.h"

/* The key table of one IPC namespace (see "Namespaces" above). */
struct shmpool_ns {
	struct kref ref;		/* regions, callers in flight */
	struct rb_node node;		/* in the table of tables, by pin.ns */
	struct shmpool_ipc_pin pin;	/* keeps pin.ns, the identity, alive */
	bool reaped;			/* pin.ns died; regions destroyed */
	struct list_head reap_link;	/* on the reaper's list, once */
	struct mutex lock;		/* see "Locking" above */
	struct rb_root regions;		/* by key */
	unsigned int nr_regions;	/* entries in @regions */
	atomic64_t total_bytes;		/* sizes of all regions not yet freed */
	struct user_namespace *user_ns;	/* for capability checks */
};

struct shmpool_file;

/* Per creator kuid counts, across every namespace (user.c). */
struct shmpool_user {
	struct hlist_node node;		/* in the user hash, by uid */
	refcount_t ref;			/* one per region not yet freed */
	kuid_t uid;
	atomic_t nr_regions;		/* regions whose key resolves */
	atomic64_t bytes;		/* sizes of its regions not yet freed */
};

struct shmpool_region {
	struct rb_node node;		/* in ns->regions unless DESTROYED */
	struct kref ref;
	struct shmpool_ns *ns;
	u64 key;
	u64 size;			/* bytes, page aligned */
	struct file *shm_file;
	kuid_t uid;			/* owner */
	kuid_t cuid;			/* creator (no IPC_SET: same as uid) */
	kgid_t gid;
	struct shmpool_user *user;	/* the creator's counts */
	u32 mode;
	u32 state;			/* SHMPOOL_STATE_* */
	u32 flags;			/* SHMPOOL_REGION_* */
	unsigned int nattch;
	u64 generation;
	u64 ctime_ns;
	u64 atime_ns;
	u64 dtime_ns;
	struct shmpool_file *owner;	/* lease holder, or NULL */
	struct pid *owner_pid;		/* a holder's tgid, or NULL; see owner.c */
	spinlock_t maps_lock;		/* guards @maps and @nmaps */
	struct list_head maps;		/* struct shmpool_map (mmap.c) */
	unsigned int nmaps;		/* entries in @maps: live mappings */
};

/* file->private_data of an open /dev/shmpool. */
struct shmpool_file {
	struct mutex lock;		/* serializes ATTACH on this file */
	/* Set once under lock and ns->lock; read with smp_load_acquire(). */
	struct shmpool_region *region;
	u32 attach_flags;
	u32 result;			/* SHMPOOL_RESULT_* */
	u32 state_at_attach;		/* SHMPOOL_STATE_* seen by ATTACH */
	spinlock_t map_lock;		/* guards @map_file */
	/*
	 * What new mappings go through (mmap.c): read-write, or read-only
	 * for a RDONLY attach, an O_RDONLY file and after DETACH.  Set before
	 * @region is published; replaced by a read-only one at DETACH.
	 */
	struct file *map_file;
};

/* main.c */
extern struct vfsmount *shmpool_huge_mnt;
extern struct kmem_cache *shmpool_region_cache;
u32 shmpool_limit_regions(void);
u64 shmpool_limit_region_bytes(void);
u64 shmpool_limit_total_bytes(void);
u32 shmpool_limit_regions_per_ns(void);
u64 shmpool_limit_bytes_per_ns(void);
u32 shmpool_limit_regions_per_user(void);
u64 shmpool_limit_bytes_per_user(void);
unsigned long shmpool_reap_interval(void);
bool shmpool_is_device_file(const struct file *file);

/* ns.c */
struct shmpool_ns *shmpool_ns_current(bool create);
struct shmpool_ns *shmpool_ns_lookup(struct ipc_namespace *ipc_ns);
void shmpool_ns_get(struct shmpool_ns *ns);
void shmpool_ns_put(struct shmpool_ns *ns);
void shmpool_ns_reap(void);
bool shmpool_ns_all_gone(void);
void shmpool_ns_exit(void);

/* user.c */
struct shmpool_user *shmpool_user_get(kuid_t uid);
void shmpool_user_put(struct shmpool_user *u);
void shmpool_user_counts(kuid_t uid, u32 *nr_regions, u64 *bytes);
struct shmpool_user *shmpool_limits_charge(struct shmpool_ns *ns, kuid_t uid,
					   u64 size);
void shmpool_limits_uncharge(struct shmpool_user *u, u64 size);

/* owner.c */
bool shmpool_pid_alive(struct pid *pid);
struct pid *shmpool_find_holder(const struct shmpool_file *sf);

/* region.c */

/*
 * What a new region is made of: a new shmem file (ATTACH with CREATE), or an
 * existing one (@file, ADOPT) whose size is @req_size exactly.
 */
struct shmpool_new {
	u64 key;
	u64 req_size;
	u32 mode;
	u32 state;			/* SHMPOOL_STATE_* to start in */
	u32 flags;			/* SHMPOOL_REGION_* to start with */
	bool huge;
	struct file *file;		/* ADOPT: referenced by the region on success */
	kuid_t uid;
	kgid_t gid;
};

void shmpool_ns_init(struct shmpool_ns *ns);
struct shmpool_region *shmpool_lookup(struct shmpool_ns *ns, u64 key);
struct shmpool_region *shmpool_create(struct shmpool_ns *ns,
				      const struct shmpool_new *n,
				      bool writable, bool noexec,
				      struct file **map);
bool shmpool_may_access(const struct shmpool_region *r, bool write);
bool shmpool_may_destroy(const struct shmpool_region *r);
void shmpool_ns_destroy_all(struct shmpool_ns *ns);
int shmpool_attach(struct shmpool_file *sf, struct shmpool_attach *a,
		   bool writable, bool noexec, bool *copy_out);
void shmpool_region_put(struct shmpool_region *r);
int shmpool_detach(struct shmpool_file *sf);
int shmpool_query(struct shmpool_file *sf, struct shmpool_query *q);
int shmpool_stat(u64 key, struct shmpool_region_info *info);
int shmpool_list(u64 *cursor, struct shmpool_region_info *out,
		 unsigned int max, unsigned int *filled, bool *end);
int shmpool_destroy(u64 key);
void shmpool_ns_counts(u32 *nr_regions, u64 *total_bytes);
void shmpool_file_release(struct shmpool_file *sf);
void shmpool_fill_info(struct shmpool_region *r,
		       struct shmpool_region_info *info);
struct pid *shmpool_owner_pid(struct shmpool_region *r);
unsigned int shmpool_region_nmaps(const struct shmpool_region *r);
const char *shmpool_state_name(u32 state);

/* handover.c */
int shmpool_export(u64 key, u32 flags, struct file **filep,
		   struct shmpool_region_info *info, bool *froze);
int shmpool_adopt(struct shmpool_adopt *a);

/* ioctl.c */
long shmpool_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* mmap.c */
struct file *shmpool_map_file_new(struct shmpool_region *r, bool writable,
				  bool noexec);
struct file *shmpool_map_file_readonly(struct shmpool_file *sf);
int shmpool_mmap(struct file *file, struct vm_area_struct *vma);
unsigned long shmpool_get_unmapped_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags);

/* procfs.c */
int shmpool_procfs_init(void);
void shmpool_procfs_exit(void);

#endif /* _SHMPOOL_H */
