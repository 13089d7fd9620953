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

SHMDEV_EXPORT int shmdev_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
				   void **obj, shmdev_handle_t *handle, bool *created)
{
	const struct ptype *pt = NULL;
	struct layout_slot *s;
	uint64_t slot;
	int err;

	if (!p || !obj)
		return -EINVAL;
	/*
	 * A writable pool without the crash hook (nr_fast is 0 otherwise) and
	 * a KEYED type (keyed is false for a type not in the layout) skip the
	 * checks; a hit stores nothing, not even the context's message.  A
	 * miss inserts through the checked pool_alloc_slot() (its crash
	 * points), without a second search.
	 */
	if (likely(type < p->nr_fast) && likely(p->types[type].keyed)) {
		pt = &p->types[type];
	} else {
		shmdev_clear_error(p->ctx);
		err = pool_writable(p, "force_get");
		if (err)
			return err;
		err = keyed_type(p, type, "force_get", &pt);
		if (err)
			return err;
	}
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

SHMDEV_EXPORT void *shmdev_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
				shmdev_handle_t *handle)
{
	const struct ptype *pt = p ? ptype_get(p, type) : NULL;
	struct layout_slot *s;
	uint64_t slot;

	if (!pt || !pt->keyed)
		return NULL;
	s = hash_find(pt, key, &slot);
	if (!s)
		return NULL;
	if (handle)
		*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
	return slot_obj(pt, s);
}
