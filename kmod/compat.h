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
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/version.h>

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
 * Open files referencing a struct file.  f_count became the file_ref_t f_ref
 * in 6.13; file_count() hides that on every supported version.
 */
static inline long shmpool_file_refs(struct file *file)
{
	return file_count(file);
}

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

#endif /* _SHMPOOL_COMPAT_H */
