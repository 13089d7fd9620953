// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping /dev/shmpool, the way ipc/shm.c maps a SysV segment.
 *
 * Each attach has a "mapping file": a struct file on the region's shmem
 * inode (same pages, so faults just work) whose mode is the attach's:
 * FMODE_READ only for a RDONLY attach, an attach through a /dev/shmpool
 * opened O_RDONLY, and for new mappings after DETACH.  mmap() of
 * /dev/shmpool puts that file in the VMA (vma_set_file()), so every later
 * operation that goes back to vma->vm_file (remap_file_pages(), which
 * calls do_mmap() on it) meets the attach's mode, not the region's
 * read-write shmem file: do_mmap() itself then refuses PROT_WRITE and
 * clears VM_MAYWRITE, as it does for shmat(SHM_RDONLY).  The mapping file's
 * own ->mmap applies the same rules again (read-only, noexec, bounds).
 *
 * Its vm_operations wrap shmem's (as shm_vm_ops does) to count mappings:
 * each mmap() makes one struct shmpool_map, shared by every VMA it is split
 * into or mremap()ed to; a fork's copy is a new mapping of the child.
 *
 * Lifetime: a VMA references its mapping file, the mapping file references
 * the region (kref) and the module, so a region - with its bytes in the
 * totals - lives until its last mapping goes, and rmmod is refused while a
 * mapping exists.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "shmpool.h"

/* file->private_data of a mapping file. */
struct shmpool_mapfile {
	struct shmpool_region *region;	/* referenced */
	/*
	 * Made through a noexec mount (at ATTACH, or seen at a later mmap):
	 * no mapping of this file may ever be executable.
	 */
	bool noexec;
};

/* vma->vm_private_data: one mmap() of a region in one mm. */
struct shmpool_map {
	struct list_head link;		/* in region->maps, under maps_lock */
	struct shmpool_region *region;	/* alive while any of our VMAs is */
	struct mm_struct *mm;		/* compared only, never dereferenced */
	const void *forked_from;	/* the parent's shmpool_map, a tag only */
	unsigned int nr_vmas;		/* under region->maps_lock */
	const struct vm_operations_struct *shmem_ops;
};

static const struct vm_operations_struct shmpool_vm_ops;

static struct shmpool_map *shmpool_map_of(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

/*
 * Called for a VMA copied from one of ours: split, mremap (same mm) or fork
 * (a new mm).  Every VMA of a fork's child copied from one parent mapping
 * joins one new mapping of the child.
 */
static void shmpool_vm_open(struct vm_area_struct *vma)
{
	struct shmpool_map *m = shmpool_map_of(vma), *n, *it;
	struct shmpool_region *r = m->region;

	if (m->shmem_ops->open)
		m->shmem_ops->open(vma);
	if (m->mm == vma->vm_mm) {
		spin_lock(&r->maps_lock);
		m->nr_vmas++;
		spin_unlock(&r->maps_lock);
		return;
	}
	/* fork: open() cannot fail, and this is small (as vm_area_dup()). */
	n = kmalloc(sizeof(*n), GFP_KERNEL | __GFP_NOFAIL);
	n->region = r;
	n->mm = vma->vm_mm;
	n->forked_from = m;
	n->nr_vmas = 1;
	n->shmem_ops = m->shmem_ops;
	spin_lock(&r->maps_lock);
	list_for_each_entry(it, &r->maps, link) {
		/* A live map's mm is alive: equal pointers mean this child. */
		if (it->mm == vma->vm_mm && it->forked_from == m) {
			it->nr_vmas++;
			vma->vm_private_data = it;
			spin_unlock(&r->maps_lock);
			kfree(n);
			return;
		}
	}
	list_add(&n->link, &r->maps);
	r->nmaps++;
	spin_unlock(&r->maps_lock);
	vma->vm_private_data = n;
}

static void shmpool_vm_close(struct vm_area_struct *vma)
{
	struct shmpool_map *m = shmpool_map_of(vma);
	struct shmpool_region *r = m->region;
	bool last;

	if (m->shmem_ops->close)
		m->shmem_ops->close(vma);
	spin_lock(&r->maps_lock);
	last = !--m->nr_vmas;
	if (last) {
		list_del(&m->link);
		r->nmaps--;
	}
	spin_unlock(&r->maps_lock);
	if (last)
		kfree(m);
	/* The VMA's reference on the mapping file keeps @r until now. */
}

static vm_fault_t shmpool_vm_fault(struct vm_fault *vmf)
{
	return shmpool_map_of(vmf->vma)->shmem_ops->fault(vmf);
}

static vm_fault_t shmpool_vm_map_pages(struct vm_fault *vmf, pgoff_t start,
				       pgoff_t end)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vmf->vma)->shmem_ops;

	/* Nothing mapped around: the fault path maps the page itself. */
	return ops->map_pages ? ops->map_pages(vmf, start, end) : 0;
}

static int shmpool_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vma)->shmem_ops;

	return ops->may_split ? ops->may_split(vma, addr) : 0;
}

static unsigned long shmpool_vm_pagesize(struct vm_area_struct *vma)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vma)->shmem_ops;

	return ops->pagesize ? ops->pagesize(vma) : PAGE_SIZE;
}

#ifdef CONFIG_NUMA
/* As shm_set_policy() and shm_get_policy() in ipc/shm.c. */
static int shmpool_vm_set_policy(struct vm_area_struct *vma,
				 struct mempolicy *pol)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vma)->shmem_ops;

	return ops->set_policy ? ops->set_policy(vma, pol) : 0;
}

#ifdef SHMPOOL_GET_POLICY_ILX
static struct mempolicy *shmpool_vm_get_policy(struct vm_area_struct *vma,
					       unsigned long addr, pgoff_t *ilx)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vma)->shmem_ops;

	return ops->get_policy ? ops->get_policy(vma, addr, ilx) : vma->vm_policy;
}
#else
static struct mempolicy *shmpool_vm_get_policy(struct vm_area_struct *vma,
					       unsigned long addr)
{
	const struct vm_operations_struct *ops = shmpool_map_of(vma)->shmem_ops;

	return ops->get_policy ? ops->get_policy(vma, addr) : vma->vm_policy;
}
#endif
#endif

static const struct vm_operations_struct shmpool_vm_ops = {
	.open		= shmpool_vm_open,
	.close		= shmpool_vm_close,
	.fault		= shmpool_vm_fault,
	.map_pages	= shmpool_vm_map_pages,
	.may_split	= shmpool_vm_may_split,
	.pagesize	= shmpool_vm_pagesize,
#ifdef CONFIG_NUMA
	.set_policy	= shmpool_vm_set_policy,
	.get_policy	= shmpool_vm_get_policy,
#endif
};

/* The range of @vma lies within region @r. */
static bool shmpool_in_bounds(const struct shmpool_region *r,
			      struct vm_area_struct *vma)
{
	unsigned long pages = r->size >> PAGE_SHIFT;

	return vma->vm_pgoff < pages && vma_pages(vma) <= pages - vma->vm_pgoff;
}

/*
 * ->mmap of a mapping file: reached from shmpool_mmap() and from do_mmap()
 * on vma->vm_file (remap_file_pages()).  Never changes vm_flags: a flag
 * change here lets some kernels (6.12) merge the new VMA into its
 * neighbour without ->close, which would lose the mapping's count.
 * Errors: EINVAL outside the region or private, EACCES for write access
 * through a read-only file, EPERM for exec access through a noexec one.
 */
static int shmpool_map_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmpool_mapfile *mf = file->private_data;
	struct shmpool_region *r = mf->region;
	struct shmpool_map *m;
	int err;

	if (!(vma->vm_flags & VM_MAYSHARE) || !shmpool_in_bounds(r, vma))
		return -EINVAL;
	if (!(file->f_mode & FMODE_WRITE) &&
	    (vma->vm_flags & (VM_WRITE | VM_MAYWRITE)))
		return -EACCES;
	if (READ_ONCE(mf->noexec) && (vma->vm_flags & (VM_EXEC | VM_MAYEXEC)))
		return -EPERM;

	m = kmalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	err = shmpool_file_mmap(r->shm_file, vma);
	if (err) {
		kfree(m);
		return err;
	}
	m->region = r;
	m->mm = vma->vm_mm;
	m->forked_from = NULL;
	m->nr_vmas = 1;
	m->shmem_ops = vma->vm_ops;
	spin_lock(&r->maps_lock);
	list_add(&m->link, &r->maps);
	r->nmaps++;
	spin_unlock(&r->maps_lock);
	vma->vm_private_data = m;
	vma->vm_ops = &shmpool_vm_ops;
	return 0;
}

static unsigned long shmpool_map_get_unmapped_area(struct file *file,
						   unsigned long addr,
						   unsigned long len,
						   unsigned long pgoff,
						   unsigned long flags)
{
	struct shmpool_mapfile *mf = file->private_data;
	struct file *shm = mf->region->shm_file;

	return shm->f_op->get_unmapped_area(shm, addr, len, pgoff, flags);
}

static int shmpool_map_release(struct inode *inode, struct file *file)
{
	struct shmpool_mapfile *mf = file->private_data;

	/* The file's module reference outlives this call (__fput()). */
	shmpool_region_put(mf->region);
	kfree(mf);
	return 0;
}

static const struct file_operations shmpool_map_fops = {
	.owner			= THIS_MODULE,
	.mmap			= shmpool_map_mmap,
	.get_unmapped_area	= shmpool_map_get_unmapped_area,
	.release		= shmpool_map_release,
	.llseek			= noop_llseek,
};

/*
 * A new mapping file for region @r, read-write or read-only, as
 * alloc_file_clone() makes shm's file in do_shmat() (not exported, so a
 * pseudo dentry on the same inode and mount, as shmem makes its own files).
 * Takes a reference on @r and on the module, dropped at its last fput().
 */
struct file *shmpool_map_file_new(struct shmpool_region *r, bool writable,
				  bool noexec)
{
	struct inode *inode = file_inode(r->shm_file);
	struct shmpool_mapfile *mf;
	struct file *file;
	char name[32];

	if (!r->shm_file->f_op->get_unmapped_area)
		return ERR_PTR(-ENODEV);
	mf = kmalloc(sizeof(*mf), GFP_KERNEL);
	if (!mf)
		return ERR_PTR(-ENOMEM);
	snprintf(name, sizeof(name), "shmpool:%llu", r->key);
	/* alloc_file*() does not take the fops' module reference. */
	__module_get(THIS_MODULE);
	ihold(inode);
	file = alloc_file_pseudo(inode, r->shm_file->f_path.mnt, name,
				 (writable ? O_RDWR : O_RDONLY) | O_LARGEFILE,
				 &shmpool_map_fops);
	if (IS_ERR(file)) {
		iput(inode);
		module_put(THIS_MODULE);
		kfree(mf);
		return file;
	}
	kref_get(&r->ref);
	mf->region = r;
	mf->noexec = noexec;
	file->private_data = mf;
	return file;
}

/* A read-only mapping file like @sf's current one, for DETACH. */
struct file *shmpool_map_file_readonly(struct shmpool_file *sf)
{
	struct shmpool_mapfile *mf;
	struct shmpool_region *r;
	bool noexec;

	spin_lock(&sf->map_lock);
	mf = sf->map_file->private_data;
	r = mf->region;		/* @sf's own, which @sf references */
	noexec = READ_ONCE(mf->noexec);
	spin_unlock(&sf->map_lock);
	return shmpool_map_file_new(r, false, noexec);
}

static struct shmpool_region *shmpool_attached(struct file *file)
{
	struct shmpool_file *sf = file->private_data;

	/* Pairs with smp_store_release() in shmpool_attach(). */
	return smp_load_acquire(&sf->region);
}

/* The attach's current mapping file, referenced. */
static struct file *shmpool_map_file_get(struct shmpool_file *sf)
{
	struct file *file;

	spin_lock(&sf->map_lock);
	file = get_file(sf->map_file);
	spin_unlock(&sf->map_lock);
	return file;
}

/*
 * Errors: ENXIO if the file is not attached, EINVAL for a private mapping
 * or a range outside the region, EACCES for PROT_WRITE through a read-only
 * attach (or after DETACH), EPERM for PROT_EXEC through a noexec mount.
 */
int shmpool_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmpool_file *sf = file->private_data;
	struct shmpool_region *r = shmpool_attached(file);
	struct shmpool_mapfile *mf;
	struct file *map;
	int err;

	if (!r)
		return -ENXIO;
	/*
	 * VM_MAYSHARE, not VM_SHARED: the kernel drops VM_SHARED from a
	 * MAP_SHARED mapping of a file opened read-only.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE) || !shmpool_in_bounds(r, vma))
		return -EINVAL;
	map = shmpool_map_file_get(sf);
	mf = map->private_data;
	/*
	 * do_mmap() checked this file's mode and mount; the mapping file's
	 * rules are the attach's.  A noexec mount seen now also holds for
	 * every later remap of this attach's mappings.
	 */
	if (shmpool_path_noexec(&file->f_path))
		WRITE_ONCE(mf->noexec, true);
	err = -EACCES;
	if (!(map->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			goto out;
		shmpool_vm_flags_clear(vma, VM_MAYWRITE);
	}
	err = -EPERM;
	if (READ_ONCE(mf->noexec)) {
		if (vma->vm_flags & VM_EXEC)
			goto out;
		shmpool_vm_flags_clear(vma, VM_MAYEXEC);
	}
	/* From here on the VMA references the mapping file, not @file. */
	vma_set_file(vma, map);
	err = shmpool_file_mmap(map, vma);
out:
	fput(map);
	return err;
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
