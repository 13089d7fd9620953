/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference shmpool depends on, in one place.
 *
 * Supported: Debian's 6.1 (bookworm), 6.12 (bookworm-backports) and 7.x
 * (trixie-backports).  Where a distribution could backport a change, the
 * Kbuild file probes the headers (SHMPOOL_HAVE_*) and the version number is
 * only the fallback.
 */
#ifndef _SHMPOOL_COMPAT_H
#define _SHMPOOL_COMPAT_H

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/ipc_namespace.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <net/net_namespace.h>

/*
 * shmem_file_setup*() accounting flags: unsigned long VM_* bits up to 6.x,
 * vma_flags_t from 7.x.  shmpool never passes VM_NORESERVE (see region.c),
 * so only "no flags" is needed.
 */
#ifdef SHMPOOL_HAVE_SHMEM_VMA_FLAGS
#define SHMPOOL_SHMEM_ACCT_FLAGS	EMPTY_VMA_FLAGS
#else
#define SHMPOOL_SHMEM_ACCT_FLAGS	0UL
#endif

/*
 * Run a file's own mmap on a VMA: call_mmap() up to 6.16, vfs_mmap() from
 * 6.17, which also copes with files (like shmem) that moved to
 * f_op->mmap_prepare.  Never call f_op->mmap directly.
 */
#if defined(SHMPOOL_HAVE_VFS_MMAP) || LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define shmpool_file_mmap(file, vma)	vfs_mmap(file, vma)
#else
#define shmpool_file_mmap(file, vma)	call_mmap(file, vma)
#endif

/* vma->vm_flags became read-only behind vm_flags_*() helpers in 6.3. */
static inline void shmpool_vm_flags_clear(struct vm_area_struct *vma,
					  unsigned long flags)
{
#if defined(SHMPOOL_HAVE_VM_FLAGS_CLEAR) || LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * path_noexec() (fs/exec.c) is not exported: the same test, on the mount
 * flag and the superblock flag it reads on every supported version.
 */
static inline bool shmpool_path_noexec(const struct path *path)
{
	return (path->mnt->mnt_flags & MNT_NOEXEC) ||
	       (path->mnt->mnt_sb->s_iflags & SB_I_NOEXEC);
}

/*
 * vm_operations_struct.get_policy() gained the interleave index argument
 * in 6.7.
 */
#if defined(SHMPOOL_HAVE_GET_POLICY_ILX) || LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define SHMPOOL_GET_POLICY_ILX	1
#endif

/*
 * Private tmpfs mount with huge=within_size (i915 gemfs pattern).  The
 * legacy monolithic option string is parsed in place, so it must be
 * writable.  vfs_kern_mount() is exported on every supported version.
 */
static inline struct vfsmount *shmpool_kern_mount_huge(struct file_system_type *type)
{
	char opts[] = "huge=within_size";

	return vfs_kern_mount(type, SB_KERNMOUNT, type->name, opts);
}

/*
 * The region cache must not be merged with another cache of the same size:
 * only then does kmem_cache_destroy() at unload report leaked regions
 * ("Slab cache still has objects").  SLAB_NO_MERGE exists from 6.5; before
 * that a constructor makes a cache unmergeable.
 */
#ifdef SLAB_NO_MERGE
#define SHMPOOL_SLAB_FLAGS	SLAB_NO_MERGE
#define SHMPOOL_SLAB_NEEDS_CTOR	0
#else
#define SHMPOOL_SLAB_FLAGS	0
#define SHMPOOL_SLAB_NEEDS_CTOR	1
#endif

/*
 * Pinning an IPC namespace: one counted reference on it, taken in the
 * context of a task inside it and dropped from any process context (see
 * "Namespaces" in shmpool.h for why and how it is used).
 *
 * Where put_ipc_ns() is exported (6.12 and later; probed in Kbuild from
 * Module.symvers) that is get_ipc_ns()/put_ipc_ns().  6.1 exports neither
 * put_ipc_ns() nor anything else that drops an IPC namespace reference
 * directly, but an mqueue fs_context takes one counted reference on the
 * caller's IPC namespace (mqueue_init_fs_context()) and put_fs_context()
 * drops it through put_ipc_ns(): both are exported and have done exactly
 * that since fs_context appeared (5.1).  The fs_context also holds the
 * caller's network namespace, which is swapped for init_net so that a pin
 * never keeps a container's network alive, and the caller's credentials
 * (a small object, released with the pin).
 */
#if defined(SHMPOOL_HAVE_PUT_IPC_NS) || !IS_ENABLED(CONFIG_IPC_NS)
#define SHMPOOL_PIN_DIRECT	1
#elif !IS_ENABLED(CONFIG_POSIX_MQUEUE)
#error "shmpool needs put_ipc_ns() exported or CONFIG_POSIX_MQUEUE"
#endif

struct shmpool_ipc_pin {
	struct ipc_namespace *ns;	/* the pinned namespace */
#ifndef SHMPOOL_PIN_DIRECT
	struct fs_context *fc;		/* holds the reference on @ns */
#endif
};

/* The caller's IPC namespace; only current changes its own nsproxy. */
static inline struct ipc_namespace *shmpool_current_ipc_ns(void)
{
	struct nsproxy *nsp = current->nsproxy;

	return nsp ? nsp->ipc_ns : NULL;
}

/*
 * The initial IPC namespace, which never dies.  init_ipc_ns is not
 * exported on 6.1; init_task's nsproxy (init_nsproxy) is, on every version.
 */
static inline struct ipc_namespace *shmpool_initial_ipc_ns(void)
{
	return init_task.nsproxy->ipc_ns;
}

/* Pin shmpool_current_ipc_ns(), which must not be NULL. */
static inline int shmpool_ipc_pin_current(struct shmpool_ipc_pin *pin)
{
#ifdef SHMPOOL_PIN_DIRECT
	pin->ns = get_ipc_ns(shmpool_current_ipc_ns());
	return 0;
#else
	struct file_system_type *type = get_fs_type("mqueue");
	struct fs_context *fc;

	if (!type)
		return -EOPNOTSUPP;
	fc = fs_context_for_mount(type, SB_KERNMOUNT);
	module_put(type->owner);	/* fc holds the type itself */
	if (IS_ERR(fc))
		return PTR_ERR(fc);
	put_net(fc->net_ns);
	fc->net_ns = get_net(&init_net);
	pin->fc = fc;
	pin->ns = shmpool_current_ipc_ns();
	return 0;
#endif
}

static inline void shmpool_ipc_unpin(struct shmpool_ipc_pin *pin)
{
#ifdef SHMPOOL_PIN_DIRECT
	put_ipc_ns(pin->ns);
#else
	put_fs_context(pin->fc);
#endif
}

/*
 * Counted references on @ns: ns.count up to 6.x, __ns_ref (ns_ref_read())
 * from 7.x, where the initial namespaces' count is fixed at 1 and get/put
 * leave it alone.
 */
static inline int shmpool_ipc_ns_refs(struct ipc_namespace *ns)
{
#ifdef SHMPOOL_HAVE_NS_REF_READ
	return ns_ref_read(ns);
#else
	return refcount_read(&ns->ns.count);
#endif
}

/*
 * True once the pin is the only reference left: no task's nsproxy and no
 * nsfs inode (open /proc/PID/ns/ipc, bind mount, setns fd) holds @ns any
 * more, so nothing can ever take a new reference on it again.  The initial
 * namespace never dies (and from 7.x its count does not move at all).
 */
static inline bool shmpool_ipc_pin_orphaned(const struct shmpool_ipc_pin *pin)
{
	if (!IS_ENABLED(CONFIG_IPC_NS))
		return false;
#ifdef SHMPOOL_PIN_DIRECT
	if (pin->ns == &init_ipc_ns)
		return false;
#endif
	return shmpool_ipc_ns_refs(pin->ns) == 1;
}

#endif /* _SHMPOOL_COMPAT_H */
