// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The shared hash index of keyed types: force_get (find or create) and find.
 * The chains are derived data: pool_repair_type() rebuilds them from the tags.
 */
#include <errno.h>
#include <inttypes.h>

#include "pool_internal.h"

static struct layout_slot *hash_find(const struct ptype *pt, uint64_t key, uint64_t *slotp)
{
	uint64_t wm = watermark(pt), steps = 0;
	uint32_t i = pt->buckets[bucket_of(pt, key)];

	while (i && steps++ <= wm) {
		uint64_t slot = i - 1;
		struct layout_slot *s = slot < wm ? slot_at(pt, slot) : NULL;

		if (!s)
			return NULL;
		if (layout_tag_state(load_tag(s)) == LAYOUT_SLOT_LIVE_KEYED && s->key == key) {
			*slotp = slot;
			return s;
		}
		i = s->next;
	}
	return NULL;
}

static int keyed_type(const struct shmdev_pool *p, uint16_t type, const char *what,
		      const struct ptype **ptp)
{
	const struct ptype *pt = ptype_get(p, type);

	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "%s: type %u is not in the layout", what, type);
	if (!pt->keyed)
		return shmdev_fail(p->ctx, EINVAL, "%s: type %u \"%s\" is not KEYED", what, type, pt->name);
	*ptp = pt;
	return 0;
}

/* Find @key in a KEYED type, or insert it: the search, then the checked insert. */
static inline __attribute__((always_inline)) int
force_get_pt(struct shmdev_pool *p, const struct ptype *pt, uint64_t key, void **obj,
	     shmdev_handle_t *handle, bool *created)
{
	struct layout_slot *s;
	uint64_t slot;
	int err;

	s = hash_find(pt, key, &slot);
	if (s) {
		*obj = slot_obj(pt, s);
		if (handle)
			*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
		if (created)
			*created = false;
		return 0;
	}
	shmdev_clear_error(p->ctx);
	err = pool_alloc_slot(p, (struct ptype *)pt, LAYOUT_SLOT_LIVE_KEYED, key, true, obj, handle);
	if (!err && created)
		*created = true;
	return err;
}

/* Read-only pool, crash hook armed, a type not KEYED or not in the layout. */
static __attribute__((noinline)) int
force_get_checked_body(struct shmdev_pool *p, uint16_t type, uint64_t key, void **obj,
		       shmdev_handle_t *handle, bool *created)
{
	const struct ptype *pt = NULL;
	int err;

	shmdev_clear_error(p->ctx);
	err = pool_writable(p, "force_get");
	if (err)
		return err;
	err = keyed_type(p, type, "force_get", &pt);
	if (err)
		return err;
	return force_get_pt(p, pt, key, obj, handle, created);
}

/* SHMDEV_POOL_THREADS sets nr_fast to 0: every force_get comes here and locks. */
static __attribute__((noinline)) int
force_get_checked(struct shmdev_pool *p, uint16_t type, uint64_t key, void **obj,
		  shmdev_handle_t *handle, bool *created)
{
	if (unlikely(p->locks != NULL))
		return pool_lock_force_get(p, type, key, obj, handle, created);
	return force_get_checked_body(p, type, key, obj, handle, created);
}

/*
 * A writable pool without the crash hook (nr_fast is 0 otherwise) and a
 * KEYED type (keyed is false for a type not in the layout) skip the
 * checks; a hit stores nothing, not even the context's message.  A miss
 * inserts through the checked pool_alloc_slot() (its crash points),
 * without a second search.  @limit: nr_fast, or under a type's lock
 * nr_unlocked (pool_lock.c), where @locked sends the rest to the body.
 */
static inline __attribute__((always_inline)) int
force_get_impl(struct shmdev_pool *p, uint32_t limit, bool locked, uint16_t type, uint64_t key,
	       void **obj, shmdev_handle_t *handle, bool *created)
{
	if (likely(type < limit) && likely(p->types[type].keyed))
		return force_get_pt(p, &p->types[type], key, obj, handle, created);
	return locked ? force_get_checked_body(p, type, key, obj, handle, created) :
			force_get_checked(p, type, key, obj, handle, created);
}

SHMDEV_EXPORT int shmdev_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
				   void **obj, shmdev_handle_t *handle, bool *created)
{
	if (!p || !obj)
		return -EINVAL;
	return force_get_impl(p, p->nr_fast, false, type, key, obj, handle, created);
}

int pool_force_get_nolock(struct shmdev_pool *p, uint16_t type, uint64_t key,
			  void **obj, shmdev_handle_t *handle, bool *created)
{
	return force_get_impl(p, p->nr_unlocked, true, type, key, obj, handle, created);
}

static inline __attribute__((always_inline)) void *
find_impl(const struct ptype *pt, uint64_t key, shmdev_handle_t *handle)
{
	struct layout_slot *s;
	uint64_t slot;

	s = hash_find(pt, key, &slot);
	if (!s)
		return NULL;
	if (handle)
		*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
	return slot_obj(pt, s);
}

/* A keyed type with SHMDEV_POOL_THREADS (direct is false): lock. */
static __attribute__((noinline)) void *find_locked(const struct shmdev_pool *p, const struct ptype *pt,
						   uint64_t key, shmdev_handle_t *handle)
{
	if (!pt->keyed)
		return NULL;
	return pool_lock_find(p, pt->id, key, handle);
}

SHMDEV_EXPORT void *shmdev_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
				shmdev_handle_t *handle)
{
	const struct ptype *pt = p ? ptype_get(p, type) : NULL;

	if (!pt)
		return NULL;
	if (unlikely(!pt->direct))
		return find_locked(p, pt, key, handle);
	return find_impl(pt, key, handle);
}

/* Under the type's lock (pool_lock.c); @type is a keyed type of the layout. */
void *pool_find_nolock(const struct shmdev_pool *p, uint16_t type, uint64_t key,
		       shmdev_handle_t *handle)
{
	return find_impl(&p->types[type], key, handle);
}
