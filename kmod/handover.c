// SPDX-License-Identifier: GPL-2.0
/*
 * shmpool live update: EXPORT hands out a region's backing shmem file for a
 * user-space agent to preserve across kexec with the Live Update
 * Orchestrator (LUO); ADOPT makes such a file a region again in the next
 * kernel.  See the UAPI header for the contract.
 *
 * Nothing here calls LUO: LUO's memfd handler (mm/memfd_luo.c,
 * memfd_luo_can_preserve()) accepts any unlinked shmem file, which a
 * region's backing file is (shmem_file_setup() clears its nlink), and gives
 * back a memfd with the same size, contents and seals after the kexec.  So
 * both ioctls work on every kernel, and only the agent needs /dev/liveupdate.
 *
 * What a preserved region keeps from its old life travels outside the
 * file: key, uid, gid, mode and lease state are recorded by the agent at
 * EXPORT (shmpoolctl keeps them in a manifest memfd it preserves too) and
 * given back to ADOPT.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "shmpool.h"

/*
 * EXPORT: the backing file of region @key, referenced, in *@filep, and the
 * region FROZEN (no new owner lease, no DESTROY) so that the lease state the
 * agent records is the one carried over; *@froze tells whether this call
 * froze it (it was not frozen before).  With SHMPOOL_EXPORT_THAW the
 * freeze ends and no file is returned.  Permission: DESTROY's rule (owner,
 * creator or CAP_SYS_ADMIN over the namespace) and write access by the mode,
 * since the file writes the memory; so the fd gives nothing an owner attach
 * would not.
 */
int shmpool_export(u64 key, u32 flags, struct file **filep,
		   struct shmpool_region_info *info, bool *froze)
{
	struct shmpool_region *r;
	struct shmpool_ns *ns;
	int err = 0;

	*filep = NULL;
	*froze = false;
	if (!key || (flags & ~SHMPOOL_EXPORT_THAW))
		return -EINVAL;
	ns = shmpool_ns_current(false);
	if (!ns)
		return -ENOENT;
	mutex_lock(&ns->lock);
	r = shmpool_lookup(ns, key);
	if (!r) {
		err = -ENOENT;
		goto out;
	}
	if (!shmpool_may_destroy(r)) {
		err = -EPERM;
		goto out;
	}
	if (!shmpool_may_access(r, true)) {
		err = -EACCES;
		goto out;
	}
	if (flags & SHMPOOL_EXPORT_THAW) {
		r->flags &= ~SHMPOOL_REGION_FROZEN;
	} else {
		/* The carried state must be final: the owner leaves first. */
		if (r->owner) {
			err = -EBUSY;
			goto out;
		}
		*froze = !(r->flags & SHMPOOL_REGION_FROZEN);
		r->flags |= SHMPOOL_REGION_FROZEN;
		*filep = get_file(r->shm_file);
	}
	shmpool_fill_info(r, info);
out:
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);
	return err;
}

/*
 * Whether @file may become a region's memory: shmem, unlinked (no path
 * reaches it, as memfd_luo_can_preserve() asks), a non-zero page-aligned
 * size, not sealed against writing, not mapped, and not open anywhere but
 * in the one struct file the caller passed (@file_refs: the references the
 * caller's descriptor and our fget() hold).  A second struct file on the
 * same inode (a reopen through /proc/PID/fd) holds the dentry too, hence
 * the d_count() test.  Caller holds the inode lock.
 */
static int shmpool_adoptable(struct file *file, u64 req_size)
{
	struct inode *inode = file_inode(file);
	u32 seals;

	if (!shmem_file(file) || inode->i_nlink)
		return -EINVAL;
	if (!i_size_read(inode) || !PAGE_ALIGNED(i_size_read(inode)))
		return -EINVAL;
	if (req_size && req_size != (u64)i_size_read(inode))
		return -EINVAL;
	seals = SHMEM_I(inode)->seals;
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		return -EPERM;
	if (mapping_mapped(file->f_mapping) ||
	    file_count(file) > 2 || d_count(file->f_path.dentry) > 1)
		return -EBUSY;
	return 0;
}

/*
 * Seal an adopted file like a created region's (region.c shmpool_seal()),
 * under the inode lock since the file was in user space's hands: no size
 * change, immutable inode (no open for writing by path, no fallocate).
 */
static void shmpool_seal_adopted(struct inode *inode)
{
	lockdep_assert_held(&inode->i_rwsem);
	SHMEM_I(inode)->seals |= F_SEAL_SHRINK | F_SEAL_GROW;
	SHMEM_I(inode)->fsflags |= FS_IMMUTABLE_FL;
	inode_set_flags(inode, S_IMMUTABLE, S_IMMUTABLE);
}

int shmpool_adopt(struct shmpool_adopt *a)
{
	struct user_namespace *uns = current_user_ns();
	struct shmpool_new n = { 0 };
	struct shmpool_region *r;
	struct shmpool_ns *ns;
	struct inode *inode;
	struct file *file;
	int err;

	if (a->flags || a->reserved || !a->key || (a->mode & ~0777U))
		return -EINVAL;
	if (a->state != SHMPOOL_STATE_NEW && a->state != SHMPOOL_STATE_CLEAN &&
	    a->state != SHMPOOL_STATE_CRASHED)
		return -EINVAL;
	n.uid = make_kuid(uns, a->uid);
	n.gid = make_kgid(uns, a->gid);
	if (!uid_valid(n.uid) || !gid_valid(n.gid))
		return -EINVAL;

	file = fget(a->fd);
	if (!file)
		return -EBADF;
	ns = shmpool_ns_current(true);
	if (IS_ERR_OR_NULL(ns)) {
		err = ns ? PTR_ERR(ns) : -ENOMEM;
		goto out_file;
	}
	/*
	 * Another owner than oneself is IPC_SET's privilege (ipc/util.c
	 * ipcctl_obtain_check()), checked over the namespace like DESTROY.
	 */
	if ((!uid_eq(n.uid, current_euid()) || !in_egroup_p(n.gid)) &&
	    !ns_capable(ns->user_ns, CAP_SYS_ADMIN)) {
		err = -EPERM;
		goto out_ns;
	}

	inode = file_inode(file);
	mutex_lock(&ns->lock);
	inode_lock(inode);	/* ns->lock, then the inode: nothing nests the other way */
	err = shmpool_adoptable(file, a->req_size);
	if (err)
		goto out_unlock;
	if (shmpool_lookup(ns, a->key)) {
		err = -EEXIST;
		goto out_unlock;
	}
	n.key = a->key;
	n.req_size = i_size_read(inode);
	n.mode = a->mode;
	n.state = a->state;
	n.flags = SHMPOOL_REGION_HANDED_OVER;
	n.huge = shmpool_huge_mnt &&
		 file->f_path.mnt->mnt_sb == shmpool_huge_mnt->mnt_sb;
	n.file = file;
	r = shmpool_create(ns, &n, false, false, NULL);
	if (IS_ERR(r)) {
		err = PTR_ERR(r);
		goto out_unlock;
	}
	shmpool_seal_adopted(inode);
	shmpool_fill_info(r, &a->info);
out_unlock:
	inode_unlock(inode);
	mutex_unlock(&ns->lock);
out_ns:
	shmpool_ns_put(ns);
out_file:
	fput(file);
	return err;
}
