// SPDX-License-Identifier: GPL-2.0
/*
 * shmpool: keyed, persistent, shmem-backed memory regions behind the misc
 * device /dev/shmpool.  Module setup, limits and the device's file
 * operations.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/slab.h>

#include "compat.h"
#include "shmpool.h"

static unsigned int max_regions = 4096;
module_param(max_regions, uint, 0644);
MODULE_PARM_DESC(max_regions, "Maximum number of regions (ENOSPC beyond)");

static unsigned long long max_region_bytes = 1ULL << 40;
module_param(max_region_bytes, ullong, 0644);
MODULE_PARM_DESC(max_region_bytes, "Maximum bytes per region (EFBIG beyond)");

static unsigned long long max_total_bytes;
module_param(max_total_bytes, ullong, 0644);
MODULE_PARM_DESC(max_total_bytes,
		 "Maximum bytes of all regions (ENOSPC beyond); 0: half of RAM");

/*
 * Per IPC namespace and per user (creator kuid, across all namespaces).
 * 0 means the default: half of the module-wide limit, so that one
 * namespace or one user can never take everything.  CAP_SYS_RESOURCE in
 * the initial user namespace is exempt from these (not from the above).
 */
static unsigned int max_regions_per_ns;
module_param(max_regions_per_ns, uint, 0644);
MODULE_PARM_DESC(max_regions_per_ns,
		 "Maximum regions per IPC namespace (ENOSPC beyond); 0: max_regions / 2");

static unsigned long long max_bytes_per_ns;
module_param(max_bytes_per_ns, ullong, 0644);
MODULE_PARM_DESC(max_bytes_per_ns,
		 "Maximum bytes per IPC namespace (ENOSPC beyond); 0: max_total_bytes / 2");

static unsigned int max_regions_per_user;
module_param(max_regions_per_user, uint, 0644);
MODULE_PARM_DESC(max_regions_per_user,
		 "Maximum regions per creator uid, all namespaces (ENOSPC beyond); 0: max_regions / 2");

static unsigned long long max_bytes_per_user;
module_param(max_bytes_per_user, ullong, 0644);
MODULE_PARM_DESC(max_bytes_per_user,
		 "Maximum bytes per creator uid, all namespaces (ENOSPC beyond); 0: max_total_bytes / 2");

/* How often dead IPC namespaces are looked for, while any other exists. */
static unsigned int reap_interval_ms = 1000;
module_param(reap_interval_ms, uint, 0644);
MODULE_PARM_DESC(reap_interval_ms,
		 "Interval of the check for dead IPC namespaces, ms (10 at least; default 1000)");

/* Half of RAM, computed at load time: the default of max_total_bytes. */
static u64 shmpool_default_total_bytes;

struct vfsmount *shmpool_huge_mnt;
struct kmem_cache *shmpool_region_cache;

u32 shmpool_limit_regions(void)
{
	return READ_ONCE(max_regions);
}

u64 shmpool_limit_region_bytes(void)
{
	return READ_ONCE(max_region_bytes);
}

u64 shmpool_limit_total_bytes(void)
{
	u64 v = READ_ONCE(max_total_bytes);

	return v ? v : shmpool_default_total_bytes;
}

/* A per-namespace or per-user limit: its parameter, or 0 for half of @all. */
static u32 shmpool_share_regions(u32 v, u32 all)
{
	return v ? v : max(all / 2, 1U);
}

static u64 shmpool_share_bytes(u64 v, u64 all)
{
	return v ? v : all / 2;
}

u32 shmpool_limit_regions_per_ns(void)
{
	return shmpool_share_regions(READ_ONCE(max_regions_per_ns), shmpool_limit_regions());
}

u64 shmpool_limit_bytes_per_ns(void)
{
	return shmpool_share_bytes(READ_ONCE(max_bytes_per_ns), shmpool_limit_total_bytes());
}

u32 shmpool_limit_regions_per_user(void)
{
	return shmpool_share_regions(READ_ONCE(max_regions_per_user), shmpool_limit_regions());
}

u64 shmpool_limit_bytes_per_user(void)
{
	return shmpool_share_bytes(READ_ONCE(max_bytes_per_user), shmpool_limit_total_bytes());
}

/* In jiffies. */
unsigned long shmpool_reap_interval(void)
{
	return msecs_to_jiffies(max(READ_ONCE(reap_interval_ms), 10U));
}

static int shmpool_open(struct inode *inode, struct file *file)
{
	struct shmpool_file *sf;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL);
	if (!sf)
		return -ENOMEM;
	mutex_init(&sf->lock);
	spin_lock_init(&sf->map_lock);
	file->private_data = sf;
	shmpool_ns_reap();
	return nonseekable_open(inode, file);
}

static int shmpool_release(struct inode *inode, struct file *file)
{
	struct shmpool_file *sf = file->private_data;

	/* An owner released without DETACH marks its region crashed. */
	shmpool_file_release(sf);
	kfree(sf);
	return 0;
}

static const struct file_operations shmpool_fops = {
	.owner			= THIS_MODULE,
	.open			= shmpool_open,
	.release		= shmpool_release,
	.unlocked_ioctl		= shmpool_ioctl,
	.compat_ioctl		= compat_ptr_ioctl,
	.mmap			= shmpool_mmap,
	.get_unmapped_area	= shmpool_get_unmapped_area,
};

/* For owner.c: is @file an open /dev/shmpool (private_data a shmpool_file)? */
bool shmpool_is_device_file(const struct file *file)
{
	return file->f_op == &shmpool_fops;
}

static struct miscdevice shmpool_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= SHMPOOL_DEVICE_NAME,
	.fops	= &shmpool_fops,
	.mode	= 0660,
};

/*
 * A private tmpfs mount with huge=within_size, so that HUGE regions get
 * transparent huge pages whatever /sys/kernel/mm/transparent_hugepage/
 * shmem_enabled says.  Without it, HUGE creations fail with EOPNOTSUPP.
 */
static void shmpool_huge_init(void)
{
	struct file_system_type *type;
	struct vfsmount *mnt;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		return;
	type = get_fs_type("tmpfs");
	if (!type)
		return;
	mnt = shmpool_kern_mount_huge(type);
	module_put(type->owner);	/* put_filesystem() is not exported */
	if (IS_ERR(mnt)) {
		pr_info("no huge page mount (%ld): HUGE regions unsupported\n",
			PTR_ERR(mnt));
		return;
	}
	shmpool_huge_mnt = mnt;
}

static void shmpool_region_ctor(void *obj)
{
	memset(obj, 0, sizeof(struct shmpool_region));
}

static int __init shmpool_init(void)
{
	int err;

	shmpool_default_total_bytes = ((u64)totalram_pages() << PAGE_SHIFT) / 2;

	shmpool_region_cache =
		kmem_cache_create("shmpool_region", sizeof(struct shmpool_region),
				  __alignof__(struct shmpool_region), SHMPOOL_SLAB_FLAGS,
				  SHMPOOL_SLAB_NEEDS_CTOR ? shmpool_region_ctor : NULL);
	if (!shmpool_region_cache)
		return -ENOMEM;

	shmpool_huge_init();

	err = shmpool_procfs_init();
	if (err)
		goto err_huge;
	err = misc_register(&shmpool_misc);
	if (err)
		goto err_proc;
	pr_info("version %s loaded\n", SHMPOOL_VERSION);
	return 0;

err_proc:
	shmpool_procfs_exit();
err_huge:
	if (shmpool_huge_mnt)
		kern_unmount(shmpool_huge_mnt);
	kmem_cache_destroy(shmpool_region_cache);
	return err;
}

static void __exit shmpool_exit(void)
{
	misc_deregister(&shmpool_misc);
	shmpool_procfs_exit();
	shmpool_ns_exit();
	/* Each region pins the module, and tables live only as long. */
	if (!shmpool_ns_all_gone())
		pr_err("key tables left at exit\n");
	/* Destroyed regions still mapped keep the mount alive by themselves. */
	if (shmpool_huge_mnt)
		kern_unmount(shmpool_huge_mnt);
	kmem_cache_destroy(shmpool_region_cache);
}

module_init(shmpool_init);
module_exit(shmpool_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(SHMPOOL_VERSION);
MODULE_DESCRIPTION("Keyed persistent shared memory regions with crash detection");
MODULE_AUTHOR("shmpool developers");
