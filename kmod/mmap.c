// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping /dev/shmpool: checks, then hand the VMA to the region's shmem
 * file, as ipc/shm.c and i915's dma-buf mmap do.  Once vma_set_file() has
 * run, the mapping references the shmem file only: no shmpool code or data
 * is involved in faults, fork, munmap or the release of the memory, so
 * mappings may outlive DESTROY and even the module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/mm.h>

#include "compat.h"
#include "shmpool.h"

static struct shmpool_region *shmpool_attached(struct file *file)
{
	struct shmpool_file *sf = file->private_data;

	/* Pairs with smp_store_release() in shmpool_attach(). */
	return smp_load_acquire(&sf->region);
}

/*
 * Errors: ENXIO if the file is not attached, EINVAL for a private mapping
 * or a range outside the region, EACCES for PROT_WRITE through a read-only
 * attach (or after DETACH).
 */
int shmpool_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmpool_file *sf = file->private_data;
	struct shmpool_region *r = shmpool_attached(file);
	unsigned long pages;
	int err;

	if (!r)
		return -ENXIO;
	/*
	 * VM_MAYSHARE, not VM_SHARED: the kernel drops VM_SHARED from a
	 * MAP_SHARED mapping of a file opened read-only.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	pages = r->size >> PAGE_SHIFT;
	if (vma->vm_pgoff >= pages || vma_pages(vma) > pages - vma->vm_pgoff)
		return -EINVAL;
	if (READ_ONCE(sf->rdonly)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		/* A later mprotect(PROT_WRITE) must fail too. */
		shmpool_vm_flags_clear(vma, VM_MAYWRITE);
	}

	err = shmpool_file_mmap(r->shm_file, vma);
	if (err)
		return err;
	vma_set_file(vma, r->shm_file);
	return 0;
}

/* Let shmem pick the address, so big regions can be huge-page aligned. */
unsigned long shmpool_get_unmapped_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags)
{
	struct shmpool_region *r = shmpool_attached(file);
	struct file *shm;

	if (!r)
		return -ENXIO;
	shm = r->shm_file;
	if (!shm->f_op->get_unmapped_area)
		return -ENODEV;
	return shm->f_op->get_unmapped_area(shm, addr, len, pgoff, flags);
}
