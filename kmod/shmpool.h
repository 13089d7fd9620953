/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmpool internals shared by the module's files.
 *
 * Locking: one mutex per key table (struct shmpool_ns) guards the rbtree,
 * every region's mutable fields (state, owner, nattch, times, generation)
 * and each open file's attachment.  The mmap path takes no shmpool lock: it
 * reads only what never changes once a file is attached (the region, its
 * size and its shmem file), so there is no ordering against mmap_lock.
 *
 * Lifetime: a region is referenced (kref) by its table entry and by every
 * attached file.  DESTROY removes the table entry; the last reference
 * releases the shmem file.  Mappings reference the shmem file, not the
 * region, so memory lives on until the last munmap (IPC_RMID semantics).
 */
#ifndef _SHMPOOL_H
#define _SHMPOOL_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/shmpool.h>

#define SHMPOOL_VERSION		"0.1.0"

struct file;
struct pid;
struct user_namespace;
struct vfsmount;
struct kmem_cache;

/* A key table.  One global instance for now; issue 7 scopes it per IPC ns. */
struct shmpool_ns {
	struct mutex lock;		/* see "Locking" above */
	struct rb_root regions;		/* by key */
	unsigned int nr_regions;	/* entries in @regions */
	atomic64_t total_bytes;		/* sizes of all regions not yet freed */
	struct user_namespace *user_ns;	/* for capability checks */
};

struct shmpool_file;

struct shmpool_region {
	struct rb_node node;		/* in ns->regions unless DESTROYED */
	struct kref ref;
	struct shmpool_ns *ns;
	u64 key;
	u64 size;			/* bytes, page aligned */
	struct file *shm_file;
	kuid_t uid;
	kgid_t gid;
	u32 mode;
	u32 state;			/* SHMPOOL_STATE_* */
	u32 flags;			/* SHMPOOL_REGION_* */
	unsigned int nattch;
	u64 generation;
	u64 ctime_ns;
	u64 atime_ns;
	u64 dtime_ns;
	struct shmpool_file *owner;	/* lease holder, or NULL */
	struct pid *owner_pid;		/* its tgid, or NULL */
};

/* file->private_data of an open /dev/shmpool. */
struct shmpool_file {
	struct shmpool_ns *ns;
	/* Set once under ns->lock; read locklessly with smp_load_acquire(). */
	struct shmpool_region *region;
	u32 attach_flags;
	u32 result;			/* SHMPOOL_RESULT_* */
	u32 state_at_attach;		/* SHMPOOL_STATE_* seen by ATTACH */
	bool rdonly;			/* new mappings may not write */
};

/* main.c */
extern struct shmpool_ns shmpool_global_ns;
extern struct vfsmount *shmpool_huge_mnt;
extern struct kmem_cache *shmpool_region_cache;
u32 shmpool_limit_regions(void);
u64 shmpool_limit_region_bytes(void);
u64 shmpool_limit_total_bytes(void);

/* region.c */
void shmpool_ns_init(struct shmpool_ns *ns);
int shmpool_attach(struct shmpool_file *sf, struct shmpool_attach *a,
		   bool *copy_out);
int shmpool_detach(struct shmpool_file *sf);
int shmpool_query(struct shmpool_file *sf, struct shmpool_query *q);
int shmpool_stat(struct shmpool_ns *ns, u64 key,
		 struct shmpool_region_info *info);
int shmpool_list(struct shmpool_ns *ns, u64 *cursor,
		 struct shmpool_region_info *out, unsigned int max,
		 unsigned int *filled, bool *end);
int shmpool_destroy(struct shmpool_ns *ns, u64 key);
void shmpool_file_release(struct shmpool_file *sf);
void shmpool_fill_info(const struct shmpool_region *r,
		       struct shmpool_region_info *info);
unsigned int shmpool_region_nmaps(const struct shmpool_region *r);
const char *shmpool_state_name(u32 state);

/* ioctl.c */
long shmpool_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* mmap.c */
int shmpool_mmap(struct file *file, struct vm_area_struct *vma);
unsigned long shmpool_get_unmapped_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags);

/* procfs.c */
int shmpool_procfs_init(void);
void shmpool_procfs_exit(void);

#endif /* _SHMPOOL_H */
