// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Transactions (shmdev.h, "transactions"): an undo log in the base region,
 * rolled back by the next owner open after a crash; and the atomic publish
 * built on it.
 *
 * Where: the base region is created with TxLogSize more bytes after the
 * layout, at tx_offset = base_size rounded up to a page; the header's hot
 * area records tx_offset and tx_size (layout.h).  A pool created without a
 * log (TxLogSize = 0, or before transactions) has 0 there: begin gives
 * -ENOSPC.
 *
 * The log (all little-endian, offsets and handles only):
 *   0   u64 magic        "SHMPTXL1"
 *   8   u32 state        IDLE 0, ACTIVE 1, COMMITTING 2
 *   12  u32 reserved
 *   16  u64 used         bytes of entries that count (release store)
 *   24  u64 size         bytes for entries (tx_size - 128)
 *   32  u64 seq          transactions begun
 *   40  u64 commits, 48 u64 aborts
 *   56  u64 rolled_back, 64 u64 rolled_back_bytes,
 *   72  u64 rolled_back_allocs, 80 u64 finished   (by opens after crashes)
 *   88  u64 reserved[5]
 *   128 entries: struct tx_entry (24 bytes), then len bytes of data padded
 *       to 8:  kind (SNAP: an object's bytes [off, off + len) before the
 *       write; ALLOC: an object the transaction allocated; FREE: an object
 *       it frees at the commit) and the object's handle (type, slot and
 *       generation: no addresses, the blocks may map elsewhere next time).
 *
 * Crash model (pool_hot.c, alloc_fast()): a process killed at any
 * instruction, every store it retired kept.  What matters is the order of
 * the stores, which release stores fix; no cache flush.
 *   begin     used = 0, then state = ACTIVE (release).
 *   add       the entry and its data are written past used, then used is
 *             moved over them (release): a kill before leaves no entry, a
 *             kill after has the snapshot in the log before the caller's
 *             first write (which follows the call).
 *   alloc     the entry names the slot alloc will take (the free list's
 *             head or the watermark; its generation) and is published
 *             before the slot's tag commits it live: an object committed is
 *             always in the log.  A failed alloc takes the entry back.
 *   free      the entry is published; the object stays live.
 *   commit    state = IDLE (release) is the commit point when nothing is
 *             to be freed: one store, whatever the log holds.  With frees:
 *             state = COMMITTING (the commit point), the frees, IDLE.
 *   abort     entries undone last first (ranges copied back if the object
 *             is still live with the same generation, allocations freed),
 *             then IDLE.  Undoing is idempotent, so a kill inside an abort
 *             leaves an ACTIVE log that the next open undoes again.
 *   recovery  (owner open, after the layout and the view, before the
 *             repair): ACTIVE is undone as abort does, but an allocation
 *             is freed by its tag alone (FREE, next generation, or RETIRED
 *             at the last one) and the repair that follows rebuilds the
 *             free lists and indexes; COMMITTING has its FREE entries
 *             applied the same way.  Then IDLE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "region.h"

#define TX_MAGIC	0x314c5854504d4853ULL	/* "SHMPTXL1" */
#define TX_HDR		128U
#define TX_PAGE		4096ULL

enum { TX_IDLE = 0, TX_ACTIVE = 1, TX_COMMITTING = 2 };
enum { TX_SNAP = 1, TX_ALLOC = 2, TX_FREE = 3 };

struct tx_hdr {
	uint64_t magic;
	uint32_t state;
	uint32_t reserved;
	uint64_t used;
	uint64_t size;
	uint64_t seq;
	uint64_t commits;
	uint64_t aborts;
	uint64_t rolled_back;
	uint64_t rolled_back_bytes;
	uint64_t rolled_back_allocs;
	uint64_t finished;
	uint64_t reserved2[5];
};

struct tx_entry {
	uint16_t kind;
	uint16_t reserved;
	uint32_t len;
	uint32_t off;		/* SNAP: offset in the object */
	uint32_t reserved2;
	uint64_t handle;
};

_Static_assert(sizeof(struct tx_hdr) == TX_HDR, "tx log header");
_Static_assert(sizeof(struct tx_entry) == 24, "tx entry");

struct pool_tx {
	struct tx_hdr *hdr;		/* NULL: the pool has no log */
	char *ent;			/* the entries */
	uint64_t size;			/* = hdr->size */
	bool active;
	uint64_t used;			/* = hdr->used while active */
	shmdev_handle_t *frees;		/* tx_free()s, applied at the commit */
	size_t nr_frees, cap_frees;
	uint64_t open_rb, open_rb_bytes, open_rb_allocs, open_fin;
};

static uint64_t round8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

uint64_t pool_tx_base_bytes(const struct layout_geom *g, const struct shmdev_proc_conf *pc)
{
	uint64_t off = (g->base_size + TX_PAGE - 1) & ~(TX_PAGE - 1);

	return pc->tx_log_size ? off + pc->tx_log_size : g->base_size;
}

/* Cold start, before the seal: record and initialise the log. */
void pool_tx_init_cold(struct shmdev_pool *p, const struct shmdev_proc_conf *pc)
{
	uint64_t off = (p->geom.base_size + TX_PAGE - 1) & ~(TX_PAGE - 1);
	uint64_t rsize = shmdev_region_size(p->base_region), size = pc->tx_log_size;
	struct tx_hdr *h;

	if (size && off + size > rsize)
		size = rsize > off ? (rsize - off) & ~(TX_PAGE - 1) : 0;
	if (size < TX_PAGE)
		size = 0;
	p->hdr->tx_offset = size ? off : 0;
	p->hdr->tx_size = size;
	if (!size)
		return;
	h = (struct tx_hdr *)(p->base + off);
	memset(h, 0, sizeof(*h));
	h->size = size - TX_HDR;
	h->magic = TX_MAGIC;
}

int pool_tx_attach(struct shmdev_pool *p, const struct shmdev_proc_conf *pc)
{
	uint64_t off = p->hdr->tx_offset, size = p->hdr->tx_size;
	uint64_t rsize = shmdev_region_size(p->base_region);
	struct pool_tx *tx = calloc(1, sizeof(*tx));
	struct tx_hdr *h;

	if (!tx)
		return shmdev_fail(p->ctx, ENOMEM, "pool open: out of memory");
	p->tx = tx;
	if (!off && !size) {
		if (pc->tx_log_size && !p->rdonly)
			shmdev_warn(p->ctx, "pool \"%s\" has no transaction log (created without one): TxLogSize = %" PRIu64 " takes effect at its next cold start; transactions fail with ENOSPC until then",
				    pc->name, pc->tx_log_size);
		return 0;
	}
	/* Place first (no sum may wrap), then the header there. */
	if (off < p->geom.base_size || off % TX_PAGE || size < TX_PAGE || size > rsize ||
	    off > rsize - size)
		return shmdev_fail(p->ctx, EUCLEAN, "pool \"%s\": the transaction log is corrupt: offset %" PRIu64 " and %" PRIu64 " bytes do not fit the base region (%" PRIu64 " bytes, layout %" PRIu64 ")",
				   pc->name, off, size, rsize, p->geom.base_size);
	h = (struct tx_hdr *)(p->base + off);
	if (h->magic != TX_MAGIC || h->size != size - TX_HDR)
		return shmdev_fail(p->ctx, EUCLEAN, "pool \"%s\": the transaction log is corrupt (offset %" PRIu64 ", %" PRIu64 " bytes: magic 0x%016" PRIx64 ", entry bytes %" PRIu64 ")",
				   pc->name, off, size, h->magic, h->size);
	if (size != pc->tx_log_size && !p->rdonly)
		shmdev_warn(p->ctx, "pool \"%s\": the transaction log has %" PRIu64 " bytes, TxLogSize says %" PRIu64 ": a new size takes effect at the next cold start",
			    pc->name, size, pc->tx_log_size);
	tx->hdr = h;
	tx->ent = (char *)h + TX_HDR;
	tx->size = h->size;
	return 0;
}

/* A transaction a crash left open: its rollback is still to come. */
bool pool_tx_open_after_crash(const struct shmdev_pool *p)
{
	return p->tx && p->tx->hdr &&
	       __atomic_load_n(&p->tx->hdr->state, __ATOMIC_ACQUIRE) == TX_ACTIVE;
}

void pool_tx_free(struct shmdev_pool *p)
{
	if (p->tx)
		free(p->tx->frees);
	free(p->tx);
	p->tx = NULL;
}

/* The object of a handle if it is live with that generation, else NULL. */
static char *live_obj(struct shmdev_pool *p, uint64_t h, const struct ptype **ptp,
		      struct layout_slot **sp)
{
	const struct ptype *pt = ptype_get(p, (uint16_t)layout_handle_type(h));
	struct layout_slot *s;
	uint32_t tag;

	if (!pt || !layout_handle_gen(h))
		return NULL;
	s = slot_at(pt, layout_handle_slot(h));
	if (!s)
		return NULL;
	tag = load_tag(s);
	if (!state_live(layout_tag_state(tag)) || layout_tag_gen(tag) != layout_handle_gen(h))
		return NULL;
	*ptp = pt;
	*sp = s;
	return slot_obj(pt, s);
}

/*
 * Free an object by its tag alone (recovery): FREE at the next generation,
 * or RETIRED at the last; the repair that follows rebuilds the lists.
 */
static void tag_free(const struct ptype *pt, struct layout_slot *s)
{
	uint32_t gen = layout_tag_gen(load_tag(s));
	uint64_t seq = change_begin(pt->hot);

	if (gen >= SHMDEV_LAYOUT_GEN_MAX)
		store_tag(s, layout_tag(LAYOUT_SLOT_RETIRED, gen));
	else
		store_tag(s, layout_tag(LAYOUT_SLOT_FREE, gen + 1));
	change_end(pt->hot, seq);
}

/* Offsets of the published entries, checked; -EUCLEAN naming the bad one. */
static int walk_entries(struct shmdev_pool *p, uint64_t used, uint64_t **offs, size_t *nr)
{
	struct pool_tx *tx = p->tx;
	uint64_t o = 0, *v = NULL;
	size_t n = 0, cap = 0;

	*offs = NULL;
	*nr = 0;
	if (used > tx->size)
		return shmdev_fail(p->ctx, EUCLEAN, "transaction log: %" PRIu64 " bytes used of %" PRIu64 " (corrupt)",
				   used, tx->size);
	while (o < used) {
		const struct tx_entry *e = (const struct tx_entry *)(tx->ent + o);
		uint64_t esize;

		if (o + sizeof(*e) > used || e->kind < TX_SNAP || e->kind > TX_FREE ||
		    (esize = sizeof(*e) + round8(e->len)) > used - o) {
			free(v);
			return shmdev_fail(p->ctx, EUCLEAN, "transaction log: entry at byte %" PRIu64 " of %" PRIu64 " is corrupt (kind %u, %" PRIu32 " bytes)",
					   o, used, o + sizeof(*e) <= used ? e->kind : 0,
					   o + sizeof(*e) <= used ? e->len : 0);
		}
		if (n == cap) {
			uint64_t *nv = reallocarray(v, cap = cap ? 2 * cap : 64, sizeof(*v));

			if (!nv) {
				free(v);
				return shmdev_fail(p->ctx, ENOMEM, "transaction log: out of memory for %zu entries", n);
			}
			v = nv;
		}
		v[n++] = o;
		o += esize;
	}
	*offs = v;
	*nr = n;
	return 0;
}

/*
 * Undo the entries, last first.  @recovery: allocations are freed by their
 * tag (the repair follows), else by shmdev_free().  Adds to the counts.
 */
static int undo(struct shmdev_pool *p, uint64_t *bytes, uint64_t *allocs, bool recovery)
{
	struct pool_tx *tx = p->tx;
	uint64_t *offs;
	size_t n;
	int err = walk_entries(p, __atomic_load_n(&tx->hdr->used, __ATOMIC_ACQUIRE), &offs, &n);

	if (err)
		return err;
	while (n--) {
		const struct tx_entry *e = (const struct tx_entry *)(tx->ent + offs[n]);
		const struct ptype *pt;
		struct layout_slot *s;
		char *obj = live_obj(p, e->handle, &pt, &s);

		if (!obj)
			continue;	/* freed already, or never made live */
		if (e->kind == TX_SNAP) {
			if ((uint64_t)e->off + e->len > pt->size) {
				uint64_t at = offs[n];

				free(offs);
				return shmdev_fail(p->ctx, EUCLEAN, "transaction log: entry at byte %" PRIu64 " restores bytes %" PRIu32 "..%" PRIu64 " of a %" PRIu32 "-byte object of type %u (corrupt)",
						   at, e->off, (uint64_t)e->off + e->len, pt->size, pt->id);
			}
			memcpy(obj + e->off, e + 1, e->len);
			*bytes += e->len;
			CRASH_POINT(p, "tx:undo-restored");
		} else if (e->kind == TX_ALLOC) {
			if (recovery)
				tag_free(pt, s);
			else
				shmdev_free(p, e->handle);
			++*allocs;
			CRASH_POINT(p, "tx:undo-freed");
		}
	}
	free(offs);
	return 0;
}

int pool_tx_recover(struct shmdev_pool *p, bool *changed)
{
	struct pool_tx *tx = p->tx;
	struct tx_hdr *h = tx ? tx->hdr : NULL;
	uint64_t bytes = 0, allocs = 0, *offs;
	uint32_t state;
	size_t i, n;
	int err;

	*changed = false;
	if (!h)
		return 0;
	state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	if (state == TX_IDLE)
		return 0;
	*changed = true;
	if (state == TX_ACTIVE) {
		err = undo(p, &bytes, &allocs, true);
		if (err)
			return err;
		__atomic_store_n(&h->state, TX_IDLE, __ATOMIC_RELEASE);
		CRASH_POINT(p, "tx:recovered");
		h->rolled_back++;
		h->rolled_back_bytes += bytes;
		h->rolled_back_allocs += allocs;
		tx->open_rb = 1;
		tx->open_rb_bytes = bytes;
		tx->open_rb_allocs = allocs;
		shmdev_info(p->ctx, "pool: rolled back a transaction a crash interrupted: %" PRIu64 " bytes restored, %" PRIu64 " allocations freed",
			    bytes, allocs);
		return 0;
	}
	if (state != TX_COMMITTING)
		return shmdev_fail(p->ctx, EUCLEAN, "transaction log: state %" PRIu32 " (corrupt)", state);
	/* Committed: finish its frees. */
	err = walk_entries(p, __atomic_load_n(&h->used, __ATOMIC_ACQUIRE), &offs, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		const struct tx_entry *e = (const struct tx_entry *)(tx->ent + offs[i]);
		const struct ptype *pt;
		struct layout_slot *s;

		if (e->kind == TX_FREE && live_obj(p, e->handle, &pt, &s)) {
			tag_free(pt, s);
			CRASH_POINT(p, "tx:finish-freed");
		}
	}
	free(offs);
	__atomic_store_n(&h->state, TX_IDLE, __ATOMIC_RELEASE);
	CRASH_POINT(p, "tx:finished");
	h->finished++;
	h->commits++;
	tx->open_fin = 1;
	shmdev_info(p->ctx, "pool: finished the frees of a transaction committed before a crash");
	return 0;
}

static void tx_end(struct pool_tx *tx)
{
	tx->active = false;
	tx->nr_frees = 0;
}

static int tx_check(struct shmdev_pool *p, const char *what)
{
	if (!p->tx || !p->tx->active)
		return shmdev_fail(p->ctx, ENOENT, "%s: no transaction is open (shmdev_tx_begin first)", what);
	return 0;
}

SHMDEV_EXPORT int shmdev_tx_begin(struct shmdev_pool *p)
{
	struct pool_tx *tx;
	int err;

	if (!p)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	err = pool_writable(p, "tx_begin");
	if (err)
		return err;
	/*
	 * One log per pool, and tx_alloc takes slots without the type locks:
	 * transactions are for pools of one thread until they learn both.
	 */
	if (p->locks)
		return shmdev_fail(p->ctx, EOPNOTSUPP, "tx_begin: the pool was opened with SHMDEV_POOL_THREADS, and transactions (and shmdev_alloc_publish) are not thread-safe yet: open it without the flag to use them");
	tx = p->tx;
	if (tx->active)
		return shmdev_fail(p->ctx, EBUSY, "tx_begin: a transaction is open already (%" PRIu64 " bytes logged): transactions do not nest; commit or abort it first",
				   tx->used);
	if (!tx->hdr)
		return shmdev_fail(p->ctx, ENOSPC, "tx_begin: the pool has no transaction log (TxLogSize was 0, or the pool predates transactions, when its base region was created)");
	__atomic_store_n(&tx->hdr->used, 0, __ATOMIC_RELAXED);
	tx->hdr->seq++;
	CRASH_POINT(p, "tx:begin");
	__atomic_store_n(&tx->hdr->state, TX_ACTIVE, __ATOMIC_RELEASE);
	CRASH_POINT(p, "tx:begun");
	tx->used = 0;
	tx->nr_frees = 0;
	tx->active = true;
	return 0;
}

/* Write an entry past used and publish it: its offset, or -ENOSPC. */
static int64_t append(struct shmdev_pool *p, uint16_t kind, uint64_t handle, uint32_t off,
		      const void *data, uint32_t len, const char *what)
{
	struct pool_tx *tx = p->tx;
	uint64_t esize = sizeof(struct tx_entry) + round8(len), at = tx->used;
	struct tx_entry *e;

	if (esize > tx->size - at)
		return shmdev_fail(p->ctx, ENOSPC, "%s: the transaction log is full: %" PRIu64 " bytes used of %" PRIu64 ", this entry needs %" PRIu64 " (raise TxLogSize; the transaction is still open: abort it)",
				   what, at, tx->size, esize);
	e = (struct tx_entry *)(tx->ent + at);
	e->kind = kind;
	e->reserved = 0;
	e->len = len;
	e->off = off;
	e->reserved2 = 0;
	e->handle = handle;
	if (len)
		memcpy(e + 1, data, len);
	CRASH_POINT(p, "tx:logging");
	tx->used = at + esize;
	__atomic_store_n(&tx->hdr->used, tx->used, __ATOMIC_RELEASE);
	return (int64_t)at;
}

/* The live object holding [a, a + len): its type, slot and offset; or NULL. */
static const struct ptype *find_obj(struct shmdev_pool *p, uintptr_t a, size_t len,
				    uint64_t *handle, uint32_t *off)
{
	const struct prange *r = pool_range_of(p, a);
	const struct ptype *pt;
	struct layout_slot *s;
	uint64_t o, slot, in;
	uint32_t tag;

	if (!r)
		return NULL;
	pt = &p->types[r->type];
	o = a - r->start;
	in = o % pt->slot_size;
	if (in < pt->obj_offset || in - pt->obj_offset + len > pt->size)
		return NULL;
	slot = pt->chunks[r->chunk].first + o / pt->slot_size;
	if (slot >= watermark(pt))
		return NULL;
	s = (struct layout_slot *)(a - in);
	tag = load_tag(s);
	if (!state_live(layout_tag_state(tag)))
		return NULL;
	*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(tag));
	*off = (uint32_t)(in - pt->obj_offset);
	return pt;
}

SHMDEV_EXPORT int shmdev_tx_add(struct shmdev_pool *p, const void *ptr, size_t len)
{
	uint64_t handle;
	uint32_t off;
	int64_t r;
	int err;

	if (!p)
		return -EINVAL;
	err = tx_check(p, "tx_add");
	if (err)
		return err;
	if (!ptr || !len || len > UINT32_MAX ||
	    !find_obj(p, (uintptr_t)ptr, len, &handle, &off))
		return shmdev_fail(p->ctx, EINVAL, "tx_add: range %p + %zu bytes is not inside one live object of the pool (nothing logged; the transaction is still open)",
				   ptr, len);
	r = append(p, TX_SNAP, handle, off, ptr, (uint32_t)len, "tx_add");
	if (r < 0)
		return (int)r;
	CRASH_POINT(p, "tx:added");
	return 0;
}

SHMDEV_EXPORT int shmdev_tx_alloc(struct shmdev_pool *p, uint16_t type, void **obj,
				  shmdev_handle_t *handle)
{
	struct pool_tx *tx;
	struct ptype *pt;
	struct layout_hot *hot;
	uint64_t slot, wm, want, before;
	uint32_t gen = 1;
	shmdev_handle_t h = 0;
	int64_t at;
	int err;

	if (!p || !obj)
		return -EINVAL;
	err = tx_check(p, "tx_alloc");
	if (err)
		return err;
	tx = p->tx;
	pt = (struct ptype *)ptype_get(p, type);
	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "tx_alloc: type %u is not in the layout", type);
	/* The slot pool_alloc_slot() takes: the free list's head, or the watermark. */
	hot = pt->hot;
	wm = watermark(pt);
	if (hot->free_head) {
		struct layout_slot *s;

		slot = hot->free_head - 1;
		s = slot < wm ? slot_at(pt, slot) : NULL;
		if (s && layout_tag_gen(load_tag(s)))
			gen = layout_tag_gen(load_tag(s));
	} else {
		slot = wm;
	}
	want = layout_handle(pt->id, (uint32_t)slot, gen);
	before = tx->used;
	at = append(p, TX_ALLOC, want, 0, NULL, 0, "tx_alloc");
	if (at < 0)
		return (int)at;
	CRASH_POINT(p, "tx:alloc-logged");
	err = pool_alloc_slot(p, pt, LAYOUT_SLOT_LIVE, 0, INDEX_NONE, true, obj, &h);
	if (err) {
		/* Nothing was allocated: take the entry back. */
		tx->used = before;
		__atomic_store_n(&tx->hdr->used, before, __ATOMIC_RELEASE);
		return err;
	}
	if (h != want)
		return shmdev_fail(p->ctx, EUCLEAN, "tx_alloc: type %u \"%s\": alloc took handle 0x%016" PRIx64 ", the log named 0x%016" PRIx64 " (the pool is corrupt)",
				   pt->id, pt->name, h, want);
	CRASH_POINT(p, "tx:allocated");
	if (handle)
		*handle = h;
	return 0;
}

SHMDEV_EXPORT int shmdev_tx_free(struct shmdev_pool *p, shmdev_handle_t h)
{
	struct pool_tx *tx;
	int64_t at;
	size_t i;
	int err;

	if (!p)
		return -EINVAL;
	err = tx_check(p, "tx_free");
	if (err)
		return err;
	tx = p->tx;
	if (!shmdev_get(p, h))
		return shmdev_fail(p->ctx, ESTALE, "tx_free: handle 0x%016" PRIx64 " (type %u, slot %" PRIu32 ", generation %u) does not name a live object (the transaction is still open)",
				   h, layout_handle_type(h), layout_handle_slot(h), layout_handle_gen(h));
	for (i = 0; i < tx->nr_frees; i++)
		if (tx->frees[i] == h)
			return shmdev_fail(p->ctx, EINVAL, "tx_free: handle 0x%016" PRIx64 " is freed twice in this transaction (the transaction is still open)",
					   h);
	if (tx->nr_frees == tx->cap_frees) {
		size_t cap = tx->cap_frees ? 2 * tx->cap_frees : 16;
		shmdev_handle_t *v = reallocarray(tx->frees, cap, sizeof(*v));

		if (!v)
			return shmdev_fail(p->ctx, ENOMEM, "tx_free: out of memory for %zu frees", cap);
		tx->frees = v;
		tx->cap_frees = cap;
	}
	at = append(p, TX_FREE, h, 0, NULL, 0, "tx_free");
	if (at < 0)
		return (int)at;
	CRASH_POINT(p, "tx:free-logged");
	tx->frees[tx->nr_frees++] = h;
	return 0;
}

SHMDEV_EXPORT int shmdev_tx_commit(struct shmdev_pool *p)
{
	struct pool_tx *tx;
	size_t i;
	int err;

	if (!p)
		return -EINVAL;
	err = tx_check(p, "tx_commit");
	if (err)
		return err;
	tx = p->tx;
	CRASH_POINT(p, "tx:committing");
	if (!tx->nr_frees) {
		__atomic_store_n(&tx->hdr->state, TX_IDLE, __ATOMIC_RELEASE);	/* commit */
		CRASH_POINT(p, "tx:committed");
	} else {
		__atomic_store_n(&tx->hdr->state, TX_COMMITTING, __ATOMIC_RELEASE);	/* commit */
		CRASH_POINT(p, "tx:committed");
		for (i = 0; i < tx->nr_frees; i++) {
			/* Freed outside the transaction meanwhile: nothing to do. */
			if (shmdev_get(p, tx->frees[i]))
				shmdev_free(p, tx->frees[i]);
			CRASH_POINT(p, "tx:commit-freed");
		}
		__atomic_store_n(&tx->hdr->state, TX_IDLE, __ATOMIC_RELEASE);
		CRASH_POINT(p, "tx:commit-done");
	}
	tx->hdr->commits++;
	tx_end(tx);
	return 0;
}

SHMDEV_EXPORT int shmdev_tx_abort(struct shmdev_pool *p)
{
	struct pool_tx *tx;
	uint64_t bytes = 0, allocs = 0;
	int err;

	if (!p)
		return -EINVAL;
	err = tx_check(p, "tx_abort");
	if (err)
		return err;
	tx = p->tx;
	err = undo(p, &bytes, &allocs, false);
	if (err)
		return err;
	__atomic_store_n(&tx->hdr->state, TX_IDLE, __ATOMIC_RELEASE);
	CRASH_POINT(p, "tx:aborted");
	tx->hdr->aborts++;
	tx_end(tx);
	return 0;
}

SHMDEV_EXPORT bool shmdev_tx_active(const struct shmdev_pool *p)
{
	return p && p->tx && p->tx->active;
}

void pool_tx_close(struct shmdev_pool *p)
{
	if (!p->tx || !p->tx->active)
		return;
	shmdev_warn(p->ctx, "pool close: a transaction was still open (%" PRIu64 " bytes logged): aborted",
		    p->tx->used);
	shmdev_tx_abort(p);
}

SHMDEV_EXPORT int shmdev_alloc_publish(struct shmdev_pool *p, uint16_t type, shmdev_handle_t *dest,
				       int (*init)(void *obj, shmdev_handle_t handle, void *arg),
				       void *arg, void **obj, shmdev_handle_t *handle)
{
	bool own;
	shmdev_handle_t h = 0;
	void *o = NULL;
	int err;

	if (!p)
		return -EINVAL;
	own = !shmdev_tx_active(p);
	if (own) {
		err = shmdev_tx_begin(p);
		if (err)
			return err;
	}
	err = shmdev_tx_add(p, dest, sizeof(*dest));
	if (!err)
		err = shmdev_tx_alloc(p, type, &o, &h);
	if (!err && init)
		err = init(o, h, arg);
	if (err) {
		if (own) {
			char msg[SHMDEV_ERRMSG_MAX];

			memcpy(msg, p->ctx->errmsg, sizeof(msg));
			shmdev_tx_abort(p);
			memcpy(p->ctx->errmsg, msg, sizeof(msg));
		}
		return err;
	}
	*dest = h;
	CRASH_POINT(p, "tx:published");
	if (own) {
		err = shmdev_tx_commit(p);
		if (err)
			return err;
	}
	if (obj)
		*obj = o;
	if (handle)
		*handle = h;
	return 0;
}

SHMDEV_EXPORT int shmdev_pool_tx_stats(const struct shmdev_pool *p, struct shmdev_tx_stats *st)
{
	const struct tx_hdr *h;

	if (!p || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	if (!p->tx || !p->tx->hdr)
		return 0;
	h = p->tx->hdr;
	st->log_size = p->hdr->tx_size;
	st->active = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != TX_IDLE;
	st->log_used = st->active ? __atomic_load_n(&h->used, __ATOMIC_ACQUIRE) : 0;
	st->commits = h->commits;
	st->aborts = h->aborts;
	st->rolled_back = h->rolled_back;
	st->rolled_back_bytes = h->rolled_back_bytes;
	st->rolled_back_allocs = h->rolled_back_allocs;
	st->finished = h->finished;
	st->open_rolled_back = p->tx->open_rb;
	st->open_rolled_back_bytes = p->tx->open_rb_bytes;
	st->open_rolled_back_allocs = p->tx->open_rb_allocs;
	st->open_finished = p->tx->open_fin;
	return 0;
}
