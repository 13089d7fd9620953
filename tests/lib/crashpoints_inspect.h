/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read-only and owner checks of tests/lib/test_crashpoints.c (what a
 * layout is as the public API shows it, objects, keys, counts, fresh
 * space, the start kind after a kill), split from it by concern.  Not a
 * header of its own: test_crashpoints.c includes it after its types,
 * models and globals, which it uses.
 */
#ifndef CRASHPOINTS_INSPECT_H
#define CRASHPOINTS_INSPECT_H

static void take_snap(struct shmdev_pool *pool, struct snap *s)
{
	struct shmdev_type_stats ts;
	struct shmdev_block_stats bs;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < MAXID; i++) {
		if (shmdev_pool_type_stats(pool, (uint16_t)i, &ts))
			continue;
		s->present[i] = true;
		s->max_count[i] = ts.max_count;
		s->size[i] = ts.size;
		memcpy(s->name[i], ts.name, sizeof(s->name[i]));
	}
	for (i = 0; i < NBLOCKS; i++)
		s->used[i] = shmdev_pool_block_stats(pool, i, &bs) ? UINT64_MAX : bs.used_bytes;
}

static bool snap_eq(const struct snap *a, const struct snap *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Initialised, no types: nothing carved from the 3 blocks of a cold start but their headers. */
static void snap_zero(struct snap *z)
{
	unsigned int i;

	memset(z, 0, sizeof(*z));
	for (i = 0; i < 3; i++)
		z->used[i] = BLOCK_HDR;
	z->used[3] = UINT64_MAX;
}

static bool snap_empty(const struct snap *s)
{
	struct snap z;

	snap_zero(&z);
	return snap_eq(s, &z);
}

/*
 * Read-only open with P's config, or (P adds a block key, the layout has
 * not taken it yet) with the one before.
 */
static int ro_open(const struct path *p, const struct shmdev_conf *pconf,
		   struct shmdev_pool **pool)
{
	int err = shmdev_pool_open(ctx, pconf, NULL, 0, SHMDEV_POOL_RDONLY, pool);

	if (err && p->more_blocks)
		err = shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, pool);
	return err;
}

static enum seen classify(const struct snap *s, const struct snap *old, bool cold,
			  const struct snap *new)
{
	if (!cold && snap_eq(s, old))
		return S_OLD;
	if (snap_eq(s, new))
		return S_NEW;
	if (cold && snap_empty(s))
		return S_EMPTY;
	return S_ABSENT;	/* neither: the caller fails */
}

static bool obj_ok(struct shmdev_pool *pool, const struct mobj *o)
{
	const struct obj *x = shmdev_get(pool, o->handle);

	return x && x->stamp == (STAMP ^ o->handle) && x->handle == o->handle && x->key == o->key;
}

/* Every key finds its object; false (with @why) if not. */
static bool keys_ok(struct shmdev_pool *pool, const struct model *m, char *why, size_t len)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		shmdev_handle_t h = 0;

		if (m->o[i].type != T_KEYED)
			continue;
		if (!shmdev_find(pool, T_KEYED, m->o[i].key, &h) || h != m->o[i].handle) {
			snprintf(why, len, "key %" PRIu64 " does not find its object", m->o[i].key);
			return false;
		}
	}
	return true;
}

struct walk {
	const struct model *m;
	uint64_t keys[MAX_MODEL];
	size_t n;
	const char *where;
};

static int walk_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	const struct obj *o = obj;
	size_t i;

	for (i = 0; i < w->m->n; i++)
		if (w->m->o[i].handle == h)
			break;
	ck_assert_msg(i < w->m->n, "%s: live object 0x%016" PRIx64 " that nobody made", w->where, h);
	ck_assert_uint_lt(w->n, MAX_MODEL);
	if (shmdev_handle_type(h) == T_KEYED) {
		for (i = 0; i < w->n; i++)
			ck_assert_msg(w->keys[i] != o->key, "%s: key %" PRIu64 " is held twice",
				      w->where, o->key);
		w->keys[w->n] = o->key;
	}
	w->n++;
	return 0;
}

/* The checks of an owner's view (after its repair). */
static void check_owner_view(struct shmdev_pool *pool, const struct model *m, const char *where)
{
	struct shmdev_type_stats ts;
	struct walk w = { .m = m, .where = where };
	char why[160];
	size_t i;

	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s: check: %s", where, shmdev_errmsg(ctx));
	for (i = 0; i < m->n; i++)
		ck_assert_msg(obj_ok(pool, &m->o[i]), "%s: object 0x%016" PRIx64 " is lost or changed",
			      where, m->o[i].handle);
	ck_assert_msg(keys_ok(pool, m, why, sizeof(why)), "%s: %s", where, why);
	for (i = 0; i < m->n; i++) {
		shmdev_handle_t h = 0;
		bool created = true;
		void *obj = NULL;

		if (m->o[i].type != T_KEYED)
			continue;
		ck_assert_int_eq(shmdev_force_get(pool, T_KEYED, m->o[i].key, &obj, &h, &created), 0);
		ck_assert_msg(!created && h == m->o[i].handle, "%s: force_get of key %" PRIu64 " made a new object",
			      where, m->o[i].key);
	}
	for (i = 0; i < MAXID; i++) {
		if (shmdev_pool_type_stats(pool, (uint16_t)i, &ts))
			continue;
		ck_assert_msg(ts.live_count == model_count(m, (uint16_t)i),
			      "%s: type %zu has %" PRIu64 " live objects, %zu were made", where, i,
			      ts.live_count, model_count(m, (uint16_t)i));
		ck_assert_int_eq(shmdev_foreach(pool, (uint16_t)i, walk_fn, &w), 0);
	}
	ck_assert_msg(w.n == m->n, "%s: the walk sees %zu objects, %zu were made", where, w.n, m->n);
	for (i = 0; i < m->nr_stale; i++)
		ck_assert_msg(!shmdev_get(pool, m->stale[i]), "%s: handle 0x%016" PRIx64 " of the pool before the cold start resolves",
			      where, m->stale[i]);
}

/*
 * Space never used by this pool is zero: every Plain slot that was never
 * allocated (generation 1) comes from alloc_raw with zero bytes, be it
 * space a cold start took over, a hole a change re-used or a block's end.
 * Fills the type: the caller closes the pool next.
 */
static void check_fresh(struct shmdev_pool *pool, const char *where)
{
	static const unsigned char zero[sizeof(struct obj)];
	shmdev_handle_t h;
	void *obj;

	while (shmdev_alloc_raw(pool, T_PLAIN, &obj, &h) == 0)
		if ((h & 0xffffff) == 1)
			ck_assert_msg(!memcmp(obj, zero, sizeof(zero)),
				      "%s: Plain slot %" PRIu32 ", never used, does not read as zeroes",
				      where, shmdev_handle_slot(h));
}

struct result {
	unsigned int points;
	unsigned int repair_pending;	/* read-only view needed the repair */
	unsigned int seen[4];		/* points that left each state */
	char names[MAX_POINTS][40];
};

/* The start kind a first owner open may report after a kill at @point. */
static void check_start(const struct path *p, struct shmdev_pool *pool, enum seen ro,
			const char *point, const char *where, const struct model *m,
			bool repair_pending)
{
	struct shmdev_pool_stats st;
	enum shmdev_start want;

	shmdev_pool_stats(pool, &st);
	if (!strcmp(point, "open:start"))
		want = p->cold ? SHMDEV_START_CREATED :
		       p->churn ? SHMDEV_START_RESUMED_CRASH : SHMDEV_START_RESUMED_CLEAN;
	else if (!strcmp(point, "close:base-detached"))
		want = SHMDEV_START_RESUMED_CLEAN;
	else if (ro == S_ABSENT)
		want = SHMDEV_START_CREATED;
	else
		want = SHMDEV_START_RESUMED_CRASH;
	ck_assert_msg(st.start == want, "%s: start %d, expected %d", where, st.start, want);
	if (repair_pending)
		ck_assert_msg(st.start == SHMDEV_START_RESUMED_CRASH,
			      "%s: the read-only view was inconsistent, yet the owner saw no crash", where);
	if (st.start == SHMDEV_START_RESUMED_CRASH)
		ck_assert_msg(st.repaired_objects == m->n, "%s: repair found %" PRIu64 " objects, %zu were made",
			      where, st.repaired_objects, m->n);
}

#endif /* CRASHPOINTS_INSPECT_H */
