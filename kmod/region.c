// SPDX-License-Identifier: GPL-2.0
/*
 * shmpool key table and region lifetime: create, resume, the owner lease,
 * DETACH, DESTROY, and the facts reported about a region.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "shmpool.h"

/*
 * Module-wide totals for the limits, shared by every namespace: regions
 * whose key resolves, and bytes of regions not yet freed.
 */
static atomic_t shmpool_all_regions = ATOMIC_INIT(0);
static atomic64_t shmpool_all_bytes = ATOMIC64_INIT(0);

void shmpool_ns_init(struct shmpool_ns *ns)
{
	mutex_init(&ns->lock);
	ns->regions = RB_ROOT;
	ns->nr_regions = 0;
	atomic64_set(&ns->total_bytes, 0);
}

const char *shmpool_state_name(u32 state)
{
	switch (state) {
	case SHMPOOL_STATE_NEW:
		return "new";
	case SHMPOOL_STATE_OWNED:
		return "owned";
	case SHMPOOL_STATE_CLEAN:
		return "clean";
	case SHMPOOL_STATE_CRASHED:
		return "crashed";
	}
	return "unknown";
}

struct shmpool_region *shmpool_lookup(struct shmpool_ns *ns, u64 key)
{
	struct rb_node *n = ns->regions.rb_node;

	lockdep_assert_held(&ns->lock);
	while (n) {
		struct shmpool_region *r = rb_entry(n, struct shmpool_region, node);

		if (key < r->key)
			n = n->rb_left;
		else if (key > r->key)
			n = n->rb_right;
		else
			return r;
	}
	return NULL;
}

static void shmpool_insert(struct shmpool_ns *ns, struct shmpool_region *new)
{
	struct rb_node **link = &ns->regions.rb_node, *parent = NULL;

	while (*link) {
		struct shmpool_region *r = rb_entry(*link, struct shmpool_region, node);

		parent = *link;
		if (new->key < r->key)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&new->node, parent, link);
	rb_insert_color(&new->node, &ns->regions);
}

/* The first region whose key is >= @key, or NULL. */
static struct shmpool_region *shmpool_lookup_ge(struct shmpool_ns *ns, u64 key)
{
	struct rb_node *n = ns->regions.rb_node;
	struct shmpool_region *best = NULL;

	while (n) {
		struct shmpool_region *r = rb_entry(n, struct shmpool_region, node);

		if (r->key >= key) {
			best = r;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

static void shmpool_region_free(struct kref *ref)
{
	struct shmpool_region *r = container_of(ref, struct shmpool_region, ref);
	struct shmpool_ns *ns = r->ns;

	/* No mapping is left: each one holds a reference (mmap.c). */
	fput(r->shm_file);
	atomic64_sub(r->size, &ns->total_bytes);
	atomic64_sub(r->size, &shmpool_all_bytes);
	atomic64_sub(r->size, &r->user->bytes);
	shmpool_user_put(r->user);	/* the region's */
	kmem_cache_free(shmpool_region_cache, r);
	shmpool_ns_put(ns);		/* the region's */
	/*
	 * Safe: every caller runs in a file operation or ioctl of an open
	 * /dev/shmpool or in the release of a mapping file, whose own module
	 * reference outlives this call, or in the reaper's work, which module
	 * exit cancels (waiting for it).
	 */
	module_put(THIS_MODULE);
}

void shmpool_region_put(struct shmpool_region *r)
{
	kref_put(&r->ref, shmpool_region_free);
}

/* Live mappings: mmap() calls still mapped, a fork's copies counted apart. */
unsigned int shmpool_region_nmaps(const struct shmpool_region *r)
{
	return READ_ONCE(r->nmaps);
}

/*
 * The lease holder's tgid, or NULL (see owner_pid in the UAPI header).  The
 * process that took the lease is reported while it lives; after it exited
 * with the lease alive (fork, SCM_RIGHTS), a process whose file table holds
 * the lease's file is found and recorded in its place.  Caller holds
 * ns->lock, which guards r->owner and r->owner_pid.
 */
struct pid *shmpool_owner_pid(struct shmpool_region *r)
{
	struct pid *holder;

	lockdep_assert_held(&r->ns->lock);
	if (!r->owner || !r->owner_pid)
		return NULL;
	if (shmpool_pid_alive(r->owner_pid))
		return r->owner_pid;
	holder = shmpool_find_holder(r->owner);
	if (!holder)
		return NULL;
	put_pid(r->owner_pid);
	r->owner_pid = holder;
	return holder;
}

void shmpool_fill_info(struct shmpool_region *r,
		       struct shmpool_region_info *info)
{
	struct user_namespace *uns = current_user_ns();

	memset(info, 0, sizeof(*info));
	info->key = r->key;
	info->size = r->size;
	info->generation = r->generation;
	info->ctime_ns = r->ctime_ns;
	info->atime_ns = r->atime_ns;
	info->dtime_ns = r->dtime_ns;
	info->uid = from_kuid_munged(uns, r->uid);
	info->gid = from_kgid_munged(uns, r->gid);
	info->mode = r->mode;
	info->state = r->state;
	info->owner_pid = pid_vnr(shmpool_owner_pid(r));
	info->nattch = r->nattch;
	info->nmaps = shmpool_region_nmaps(r);
	info->flags = r->flags;
}

/*
 * SysV ipcperms(): user bits if the caller's euid owns the region, group bits
 * if its egid or a supplementary group matches, other bits otherwise;
 * CAP_IPC_OWNER overrides.
 */
bool shmpool_may_access(const struct shmpool_region *r, bool write)
{
	u32 requested = write ? 06 : 04;
	u32 granted = r->mode;

	if (uid_eq(current_euid(), r->uid))
		granted >>= 6;
	else if (in_egroup_p(r->gid))
		granted >>= 3;
	if (!(requested & ~granted & 07))
		return true;
	return ns_capable(r->ns->user_ns, CAP_IPC_OWNER);
}

/*
 * IPC_RMID's rule, ipc/util.c ipcctl_obtain_check(): the owner or the
 * creator, or CAP_SYS_ADMIN in the user namespace owning the IPC
 * namespace.  CAP_IPC_OWNER is not enough (it bypasses ipcperms() only).
 */
bool shmpool_may_destroy(const struct shmpool_region *r)
{
	kuid_t euid = current_euid();

	return uid_eq(euid, r->uid) || uid_eq(euid, r->cuid) ||
	       ns_capable(r->ns->user_ns, CAP_SYS_ADMIN);
}


/*
 * A region's size never changes: seal its shmem file against shrinking and
 * growing, as memfd's F_SEAL_SHRINK | F_SEAL_GROW do (shmem_setattr() and
 * shmem_fallocate() refuse), and make its inode immutable, so that no file
 * opened on it by path (/proc/PID/map_files, even by root) can write,
 * truncate or punch it: the memory is reached through mappings only.
 * Nobody else has the file yet, so no lock is needed (memfd_create()).
 */
static void shmpool_seal(struct file *file)
{
	struct inode *inode = file_inode(file);

	SHMEM_I(inode)->seals |= F_SEAL_SHRINK | F_SEAL_GROW;
	SHMEM_I(inode)->fsflags |= FS_IMMUTABLE_FL;
	inode_set_flags(inode, S_IMMUTABLE, S_IMMUTABLE);
}

/*
 * Create region @n->key with its first mapping file (*@map, see mmap.c;
 * none if @map is NULL).  Every limit is checked before anything is
 * allocated, and nothing is left behind on failure.  With @n->file (ADOPT,
 * handover.c) the region takes a reference to that file instead of making
 * one, and @n->req_size is its size, page aligned.
 *
 * Accounting: the shmem file is set up without VM_NORESERVE, so the whole
 * size is charged to the commit limit at creation (as SysV shm does unless
 * SHM_NORESERVE).  A region meant to hold state across restarts should fail
 * at creation with ENOMEM under strict overcommit, not SIGBUS later.  An
 * adopted file keeps the accounting it was made with (a memfd's is
 * VM_NORESERVE, its pages charged as they were allocated).
 */
struct shmpool_region *shmpool_create(struct shmpool_ns *ns,
				      const struct shmpool_new *n,
				      bool writable, bool noexec,
				      struct file **map)
{
	u64 limit = shmpool_limit_region_bytes();
	struct shmpool_region *r;
	struct shmpool_user *user;
	char name[32];
	struct file *file;
	u64 size;
	int err;

	lockdep_assert_held(&ns->lock);
	if (!n->req_size)
		return ERR_PTR(-EINVAL);
	/*
	 * The limits are module-wide: reserve in the shared totals first, so
	 * that creations in other namespaces (other table locks) cannot
	 * overshoot them together.
	 */
	if (atomic_inc_return(&shmpool_all_regions) > shmpool_limit_regions()) {
		err = -ENOSPC;
		goto err_regions;
	}
	if (n->req_size > limit || n->req_size > (u64)(MAX_LFS_FILESIZE - PAGE_SIZE)) {
		err = -EFBIG;
		goto err_regions;
	}
	size = round_up(n->req_size, (u64)PAGE_SIZE);
	if (size > limit) {
		err = -EFBIG;
		goto err_regions;
	}
	if (size > shmpool_limit_total_bytes()) {
		err = -ENOSPC;
		goto err_regions;
	}
	if (atomic64_add_return(size, &shmpool_all_bytes) > shmpool_limit_total_bytes()) {
		err = -ENOSPC;
		goto err_bytes;
	}
	/* Per namespace and per creator uid (user.c), charged to the user. */
	user = shmpool_limits_charge(ns, n->uid, size);
	if (IS_ERR(user)) {
		err = PTR_ERR(user);
		goto err_bytes;
	}
	if (n->huge && !n->file && !shmpool_huge_mnt) {
		err = -EOPNOTSUPP;
		goto err_user;
	}

	/* Not kmem_cache_zalloc(): the cache may have a constructor. */
	r = kmem_cache_alloc(shmpool_region_cache, GFP_KERNEL);
	if (!r) {
		err = -ENOMEM;
		goto err_user;
	}
	memset(r, 0, sizeof(*r));

	if (n->file) {
		file = get_file(n->file);
	} else {
		snprintf(name, sizeof(name), "shmpool:%llu", n->key);
		if (n->huge)
			file = shmem_file_setup_with_mnt(shmpool_huge_mnt, name, size,
							 SHMPOOL_SHMEM_ACCT_FLAGS);
		else
			file = shmem_file_setup(name, size, SHMPOOL_SHMEM_ACCT_FLAGS);
		if (IS_ERR(file)) {
			err = PTR_ERR(file);
			goto err_free;
		}
		shmpool_seal(file);
	}

	kref_init(&r->ref);		/* the table's reference */
	r->ns = ns;
	r->key = n->key;
	r->size = size;
	r->shm_file = file;
	r->uid = n->uid;
	r->cuid = r->uid;
	r->gid = n->gid;
	r->user = user;			/* its reference and counts */
	r->mode = n->mode;
	r->state = n->state;
	r->flags = n->flags | (n->huge ? SHMPOOL_REGION_HUGE : 0);
	r->ctime_ns = ktime_get_real_ns();
	spin_lock_init(&r->maps_lock);
	INIT_LIST_HEAD(&r->maps);
	r->nmaps = 0;

	if (map) {
		*map = shmpool_map_file_new(r, writable, noexec);
		if (IS_ERR(*map)) {
			err = PTR_ERR(*map);
			goto err_file;
		}
	}
	shmpool_ns_get(ns);		/* dropped by shmpool_region_free() */
	__module_get(THIS_MODULE);	/* rmmod is refused while regions exist */
	shmpool_insert(ns, r);
	ns->nr_regions++;
	atomic64_add(size, &ns->total_bytes);
	return r;

err_file:
	fput(file);
err_free:
	kmem_cache_free(shmpool_region_cache, r);
err_user:
	shmpool_limits_uncharge(user, size);
err_bytes:
	atomic64_sub(size, &shmpool_all_bytes);
err_regions:
	atomic_dec(&shmpool_all_regions);
	return ERR_PTR(err);
}

/*
 * ATTACH.  @writable: the open file allows writing (FMODE_WRITE); @noexec:
 * it was opened through a noexec mount.  Everything that can fail is done
 * before the commit (lease, counters, binding), so an error leaves nothing
 * behind; the caller's output area is pinned beforehand (ioctl.c).
 */
int shmpool_attach(struct shmpool_file *sf, struct shmpool_attach *a,
		   bool writable, bool noexec, bool *copy_out)
{
	struct shmpool_ns *ns;
	u32 fl = a->flags;
	struct file *map = NULL;
	struct shmpool_region *r;
	u32 result, prev_state;
	int err = 0;

	*copy_out = false;
	if (fl & ~SHMPOOL_ATTACH_ALL)
		return -EINVAL;
	if ((fl & SHMPOOL_ATTACH_OWNER) && (fl & SHMPOOL_ATTACH_RDONLY))
		return -EINVAL;
	if (!a->key || (a->mode & ~0777U))
		return -EINVAL;

	mutex_lock(&sf->lock);
	if (sf->region) {
		err = -EALREADY;
		goto out_file;
	}
	/* The caller's namespace's table; made on the first CREATE. */
	ns = shmpool_ns_current(fl & SHMPOOL_ATTACH_CREATE);
	if (IS_ERR_OR_NULL(ns)) {
		err = ns ? PTR_ERR(ns) : -ENOENT;
		goto out_file;
	}

	mutex_lock(&ns->lock);
	r = shmpool_lookup(ns, a->key);
	if (r) {
		if ((fl & SHMPOOL_ATTACH_CREATE) && (fl & SHMPOOL_ATTACH_EXCL)) {
			err = -EEXIST;
			goto out;
		}
		if (!shmpool_may_access(r, !(fl & SHMPOOL_ATTACH_RDONLY))) {
			err = -EACCES;
			goto out;
		}
		if (a->req_size > r->size) {
			/* Never a resize: report the actual size. */
			shmpool_fill_info(r, &a->info);
			*copy_out = true;
			err = -EINVAL;
			goto out;
		}
		if ((fl & SHMPOOL_ATTACH_OWNER) &&
		    (r->owner || (r->flags & SHMPOOL_REGION_FROZEN))) {
			err = -EBUSY;
			goto out;
		}
		map = shmpool_map_file_new(r, writable && !(fl & SHMPOOL_ATTACH_RDONLY),
					   noexec);
		if (IS_ERR(map)) {
			err = PTR_ERR(map);
			goto out;
		}
		kref_get(&r->ref);
		result = (r->flags & SHMPOOL_REGION_HANDED_OVER) ?
			 SHMPOOL_RESULT_HANDED_OVER : SHMPOOL_RESULT_RESUMED;
	} else {
		struct shmpool_new n = {
			.key = a->key, .req_size = a->req_size, .mode = a->mode,
			.state = SHMPOOL_STATE_NEW,
			.huge = fl & SHMPOOL_ATTACH_HUGE,
			.uid = current_euid(), .gid = current_egid(),
		};

		if (!(fl & SHMPOOL_ATTACH_CREATE)) {
			err = -ENOENT;
			goto out;
		}
		/* The creator is not checked against the mode it sets. */
		r = shmpool_create(ns, &n, writable && !(fl & SHMPOOL_ATTACH_RDONLY),
				   noexec, &map);
		if (IS_ERR(r)) {
			err = PTR_ERR(r);
			goto out;
		}
		kref_get(&r->ref);
		result = SHMPOOL_RESULT_CREATED;
	}

	prev_state = r->state;
	if (fl & SHMPOOL_ATTACH_OWNER) {
		r->owner = sf;
		r->owner_pid = get_pid(task_tgid(current));
		r->state = SHMPOOL_STATE_OWNED;
		r->generation++;
		r->atime_ns = ktime_get_real_ns();
		/* The hand-over is over once an owner has taken it up. */
		r->flags &= ~SHMPOOL_REGION_HANDED_OVER;
	}
	r->nattch++;

	sf->attach_flags = fl;
	sf->result = result;
	sf->state_at_attach = prev_state;
	sf->map_file = map;
	/* Pairs with smp_load_acquire() in the lockless mmap path. */
	smp_store_release(&sf->region, r);

	a->result = result;
	shmpool_fill_info(r, &a->info);
	a->info.state = prev_state;
	*copy_out = true;
out:
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);		/* the region holds its own */
out_file:
	mutex_unlock(&sf->lock);
	return err;
}

/* Caller holds ns->lock; @r->owner is @sf. */
static void shmpool_lease_end(struct shmpool_region *r, u32 state)
{
	r->owner = NULL;
	put_pid(r->owner_pid);
	r->owner_pid = NULL;
	r->state = state;
	r->dtime_ns = ktime_get_real_ns();
}

/* The region this file is attached to, or NULL. */
static struct shmpool_region *shmpool_file_region(struct shmpool_file *sf)
{
	/* Pairs with smp_store_release() in shmpool_attach(). */
	return smp_load_acquire(&sf->region);
}

int shmpool_detach(struct shmpool_file *sf)
{
	struct shmpool_region *r = shmpool_file_region(sf);
	struct file *ro;
	int err = 0;

	if (!r)
		return -ENOTCONN;
	/* Made first: nothing can fail once the lease has ended. */
	ro = shmpool_map_file_readonly(sf);
	if (IS_ERR(ro))
		return PTR_ERR(ro);
	mutex_lock(&r->ns->lock);
	if (r->owner != sf) {
		err = -EPERM;
	} else {
		shmpool_lease_end(r, SHMPOOL_STATE_CLEAN);
		/*
		 * The file stays attached, for reading only: new mappings go
		 * through a read-only mapping file; those made before keep
		 * theirs (and stay writable).
		 */
		spin_lock(&sf->map_lock);
		swap(sf->map_file, ro);
		spin_unlock(&sf->map_lock);
	}
	mutex_unlock(&r->ns->lock);
	fput(ro);			/* the old one, or the unused new one */
	return err;
}

int shmpool_query(struct shmpool_file *sf, struct shmpool_query *q)
{
	struct shmpool_region *r = shmpool_file_region(sf);

	if (!r)
		return -ENOTCONN;
	mutex_lock(&r->ns->lock);
	q->result = sf->result;
	q->attach_flags = sf->attach_flags;
	shmpool_fill_info(r, &q->info);
	q->info.state = sf->state_at_attach;
	mutex_unlock(&r->ns->lock);
	return 0;
}

int shmpool_stat(u64 key, struct shmpool_region_info *info)
{
	struct shmpool_region *r;
	struct shmpool_ns *ns;
	int err = 0;

	if (!key)
		return -EINVAL;
	ns = shmpool_ns_current(false);
	if (!ns)
		return -ENOENT;
	mutex_lock(&ns->lock);
	r = shmpool_lookup(ns, key);
	if (r)
		shmpool_fill_info(r, info);
	else
		err = -ENOENT;
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);
	return err;
}

int shmpool_list(u64 *cursor, struct shmpool_region_info *out,
		 unsigned int max, unsigned int *filled, bool *end)
{
	struct shmpool_region *r;
	struct shmpool_ns *ns;
	struct rb_node *n;
	unsigned int i = 0;

	ns = shmpool_ns_current(false);
	if (!ns) {
		*filled = 0;
		*end = true;
		return 0;
	}
	mutex_lock(&ns->lock);
	r = shmpool_lookup_ge(ns, *cursor);
	n = r ? &r->node : NULL;
	while (n && i < max) {
		r = rb_entry(n, struct shmpool_region, node);
		shmpool_fill_info(r, &out[i++]);
		/* U64_MAX is the last possible key: nothing can follow it. */
		if (r->key != U64_MAX)
			*cursor = r->key + 1;
		n = rb_next(n);
	}
	*end = !n;
	*filled = i;
	mutex_unlock(&ns->lock);
	shmpool_ns_put(ns);
	return 0;
}

/* The key stops resolving; the caller drops the table's reference. */
static void shmpool_unlink(struct shmpool_ns *ns, struct shmpool_region *r)
{
	lockdep_assert_held(&ns->lock);
	rb_erase(&r->node, &ns->regions);
	RB_CLEAR_NODE(&r->node);
	ns->nr_regions--;
	atomic_dec(&shmpool_all_regions);
	atomic_dec(&r->user->nr_regions);
	r->flags |= SHMPOOL_REGION_DESTROYED;
}

int shmpool_destroy(u64 key)
{
	struct shmpool_region *r;
	struct shmpool_ns *ns;
	int err = 0;

	if (!key)
		return -EINVAL;
	ns = shmpool_ns_current(false);
	if (!ns)
		return -ENOENT;
	mutex_lock(&ns->lock);
	r = shmpool_lookup(ns, key);
	if (!r)
		err = -ENOENT;
	else if (!shmpool_may_destroy(r))
		err = -EPERM;
	else if (r->flags & SHMPOOL_REGION_FROZEN)
		err = -EBUSY;	/* exported for a live update (handover.c) */
	else
		shmpool_unlink(ns, r);
	mutex_unlock(&ns->lock);

	if (!err)
		shmpool_region_put(r);	/* the table's reference */
	shmpool_ns_put(ns);
	return err;
}

/* DESTROY every region of @ns: its IPC namespace died. */
void shmpool_ns_destroy_all(struct shmpool_ns *ns)
{
	struct shmpool_region *r;
	struct rb_node *n;

	for (;;) {
		mutex_lock(&ns->lock);
		n = rb_first(&ns->regions);
		if (!n) {
			mutex_unlock(&ns->lock);
			return;
		}
		r = rb_entry(n, struct shmpool_region, node);
		shmpool_unlink(ns, r);
		mutex_unlock(&ns->lock);
		shmpool_region_put(r);	/* the table's reference */
	}
}

/* Regions and bytes of the caller's namespace, for INFO. */
void shmpool_ns_counts(u32 *nr_regions, u64 *total_bytes)
{
	struct shmpool_ns *ns = shmpool_ns_current(false);

	*nr_regions = 0;
	*total_bytes = 0;
	if (!ns)
		return;
	mutex_lock(&ns->lock);
	*nr_regions = ns->nr_regions;
	mutex_unlock(&ns->lock);
	*total_bytes = atomic64_read(&ns->total_bytes);
	shmpool_ns_put(ns);
}

void shmpool_file_release(struct shmpool_file *sf)
{
	struct shmpool_region *r = sf->region;

	if (!r)
		return;
	mutex_lock(&r->ns->lock);
	if (r->owner == sf)
		shmpool_lease_end(r, SHMPOOL_STATE_CRASHED);
	r->nattch--;
	mutex_unlock(&r->ns->lock);
	/* Mappings made through it hold their own reference. */
	fput(sf->map_file);
	shmpool_region_put(r);
}
