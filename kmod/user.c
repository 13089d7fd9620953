// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user counts for the per-user limits: one struct shmpool_user per
 * creator kuid that has regions, in every user and IPC namespace at once,
 * as kernel/ucount.c counts per kuid (a user cannot escape its limits by
 * making namespaces).  Each region not yet freed holds a reference; the
 * counts themselves are updated by region.c next to the module-wide ones.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/hash.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "shmpool.h"

#define SHMPOOL_USER_HASH_BITS	6

/*
 * A spinlock, not a mutex: the last reference may go wherever a region is
 * freed.
 */
static DEFINE_SPINLOCK(shmpool_users_lock);
static struct hlist_head shmpool_users[1 << SHMPOOL_USER_HASH_BITS];

static struct hlist_head *shmpool_user_bucket(kuid_t uid)
{
	return &shmpool_users[hash_32(__kuid_val(uid), SHMPOOL_USER_HASH_BITS)];
}

static struct shmpool_user *shmpool_user_find(kuid_t uid)
{
	struct shmpool_user *u;

	lockdep_assert_held(&shmpool_users_lock);
	hlist_for_each_entry(u, shmpool_user_bucket(uid), node)
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* The counts of @uid, with a reference (made if absent); NULL: no memory. */
struct shmpool_user *shmpool_user_get(kuid_t uid)
{
	struct shmpool_user *u, *new;

	spin_lock(&shmpool_users_lock);
	u = shmpool_user_find(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&shmpool_users_lock);
	if (u)
		return u;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return NULL;
	new->uid = uid;
	refcount_set(&new->ref, 1);
	atomic_set(&new->nr_regions, 0);
	atomic64_set(&new->bytes, 0);

	spin_lock(&shmpool_users_lock);
	u = shmpool_user_find(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hlist_add_head(&new->node, shmpool_user_bucket(uid));
		u = new;
		new = NULL;
	}
	spin_unlock(&shmpool_users_lock);
	kfree(new);
	return u;
}

void shmpool_user_put(struct shmpool_user *u)
{
	/*
	 * Not refcount_dec_and_lock(): sparse cannot follow its conditional
	 * lock.  Every get and the last put run under the lock, and a put
	 * per region freed is cheap enough.
	 */
	spin_lock(&shmpool_users_lock);
	if (!refcount_dec_and_test(&u->ref)) {
		spin_unlock(&shmpool_users_lock);
		return;
	}
	hlist_del(&u->node);
	spin_unlock(&shmpool_users_lock);
	/* Every region released its share before its reference. */
	WARN_ON_ONCE(atomic_read(&u->nr_regions) || atomic64_read(&u->bytes));
	kfree(u);
}

/* The counts of @uid (0 if it has no region), for INFO. */
void shmpool_user_counts(kuid_t uid, u32 *nr_regions, u64 *bytes)
{
	struct shmpool_user *u;

	*nr_regions = 0;
	*bytes = 0;
	spin_lock(&shmpool_users_lock);
	u = shmpool_user_find(uid);
	if (u) {
		*nr_regions = atomic_read(&u->nr_regions);
		*bytes = atomic64_read(&u->bytes);
	}
	spin_unlock(&shmpool_users_lock);
}

/*
 * The per-namespace and per-user limits of a creation of @size bytes in
 * @ns, whose lock the caller holds (ns->nr_regions and additions to
 * ns->total_bytes change only under it, so they need no reservation).  The
 * user's counts are reserved first, like the module-wide totals: one user
 * creates in many namespaces at once.  Returns the creator's counts, with
 * a reference and the region charged (shmpool_limits_uncharge() undoes
 * it), or ERR_PTR(-ENOSPC) / ERR_PTR(-ENOMEM) with nothing charged.
 *
 * CAP_SYS_RESOURCE in the initial user namespace is exempt, as for the
 * rlimits; asked only when a limit is in the way, so that the capability
 * is not marked used otherwise.
 */
struct shmpool_user *shmpool_limits_charge(struct shmpool_ns *ns, kuid_t uid,
					   u64 size)
{
	struct shmpool_user *u;

	lockdep_assert_held(&ns->lock);
	u = shmpool_user_get(uid);
	if (!u)
		return ERR_PTR(-ENOMEM);
	atomic_inc(&u->nr_regions);
	atomic64_add(size, &u->bytes);
	if ((ns->nr_regions >= shmpool_limit_regions_per_ns() ||
	     atomic64_read(&ns->total_bytes) + size > shmpool_limit_bytes_per_ns() ||
	     atomic_read(&u->nr_regions) > shmpool_limit_regions_per_user() ||
	     atomic64_read(&u->bytes) > shmpool_limit_bytes_per_user()) &&
	    !capable(CAP_SYS_RESOURCE)) {
		shmpool_limits_uncharge(u, size);
		return ERR_PTR(-ENOSPC);
	}
	return u;
}

/* Undo shmpool_limits_charge() for a creation that failed later. */
void shmpool_limits_uncharge(struct shmpool_user *u, u64 size)
{
	atomic_dec(&u->nr_regions);
	atomic64_sub(size, &u->bytes);
	shmpool_user_put(u);
}
