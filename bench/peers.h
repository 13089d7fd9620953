/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The peers of bench_tick (bench/README.md): each keeps the same objects of
 * the same types and gives out a 64-bit reference that stays safe when the
 * object is gone (a lookup of a freed object's reference gives NULL).
 *
 *   ShmPeer     shmpool through peer_shmpool.h (handles)
 *   SlabPeer    the floor: the same slab design in private memory (per-type
 *               slot array, LIFO free list, generation-tagged handles, an
 *               open-addressing key index), nothing persistent
 *   MallocPeer  a malloc family (glibc, jemalloc, mimalloc, tcmalloc) plus
 *               an open-addressing id -> object table per type (ids never
 *               reused) and a key -> object table for the KEYED type
 *   BoostPeer   Boost.Interprocess node_allocator (process-shared mutex) or
 *               private_node_allocator (no lock) in a managed_shared_memory
 *               segment, with the same tables, in the segment
 *
 * Every peer offers: alloc(t, zero) -> obj + ref, keyed(t, key) -> obj + ref
 * (find or create, zeroed: force_get), get(t, ref), free(ref), find(t, key).
 * get is typed, as a game server's references are (a Player handle is used
 * as a Player): each peer may use the type it is given, and gives NULL for a
 * reference of another type.
 * A created object is written by the workload, not by the peer.
 */
#ifndef BENCH_PEERS_H
#define BENCH_PEERS_H

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "oatable.h"
#include "peer_shmpool.h"

#define NTYPES_MAX 4

[[noreturn]] void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *bench_map(uint64_t bytes, bool huge);
extern bool bench_thp;

struct TypeSpec {
	uint32_t size;
	bool keyed;
	uint64_t cap;		/* live count + churn headroom */
};

/* ---- shmpool ----------------------------------------------------------- */

struct ShmPeer {
	sp_pool p = {};

	void open(uint64_t key, const TypeSpec *ts, int nt, bool huge)
	{
		sp_type t[NTYPES_MAX];

		for (int i = 0; i < nt; i++)
			t[i] = { ts[i].size, ts[i].cap, ts[i].keyed };
		sp_open(&p, key, t, nt, huge);
	}
	void *alloc(int t, bool zero, uint64_t *ref)
	{
		return zero ? sp_alloc(&p, (uint16_t)(t + 1), ref) : sp_alloc_raw(&p, (uint16_t)(t + 1), ref);
	}
	void *keyed(int t, uint64_t key, uint64_t *ref) { return sp_force_get(&p, (uint16_t)(t + 1), key, ref); }
	void *get(int t, uint64_t ref) const { return sp_get(&p, (uint16_t)(t + 1), ref); }
	void free(int, uint64_t ref) { sp_free(&p, ref); }
	void *find(int t, uint64_t key) const { return sp_find(&p, (uint16_t)(t + 1), key); }
	void destroy() { sp_destroy(&p); }
};

/* ---- the slab floor ---------------------------------------------------- */

struct SlabPeer {
	struct Hdr {			/* libshmdev's slot header (layout.h) */
		uint64_t key;
		uint32_t tag;		/* gen << 8 | state */
		uint32_t next;		/* free list: slot + 1, 0 = end */
	};
	enum { FREE = 0, LIVE = 1, LIVE_KEYED = 2 };
	struct Type {
		unsigned char *map, *mem;
		uint64_t stride, size, cap, wm, bytes;
		uint32_t free_head;
		bool keyed;
		OATable index;
		void *index_mem;
	};
	Type ty[NTYPES_MAX] = {};
	int nt = 0;

	void open(const TypeSpec *ts, int n)
	{
		nt = n;
		for (int i = 0; i < n; i++) {
			Type &t = ty[i];

			t.size = ts[i].size;
			t.stride = (ts[i].size + sizeof(Hdr) + 7) / 8 * 8;
			t.cap = ts[i].cap;
			t.bytes = t.stride * t.cap + 64;
			/* the pages shmpool's regions get: THP with --thp */
			t.map = static_cast<unsigned char *>(bench_map(t.bytes, bench_thp));
			/* slot 0 where libshmdev places it in a line (layout_plan.c) */
			t.mem = t.map + phase(t.stride, t.size);
			t.keyed = ts[i].keyed;
			if (t.keyed) {
				t.index_mem = bench_map(OATable::bytes_for(t.cap), bench_thp);
				t.index.init(t.cap, t.index_mem);
			}
		}
	}
	/* libshmdev's slot_phase() for an 8-aligned type */
	static uint64_t phase(uint64_t stride, uint64_t size)
	{
		uint64_t best = 0, best_cost = UINT64_MAX, body = size < 64 ? size : 64, word = size < 8 ? size : 8;

		for (uint64_t ph = 0; ph < 64; ph += 8) {
			uint64_t cost = 0;

			for (uint64_t n = 0; n < 64; n++) {
				uint64_t s = ph + n * stride;

				cost += ((s + 16 + body - 1) / 64 - (s + 8) / 64) * 64 + (s + 16 + word - 1) / 64 - (s + 8) / 64;
			}
			if (cost < best_cost) {
				best_cost = cost;
				best = ph;
			}
		}
		return best;
	}
	Hdr *hdr(const Type &t, uint64_t slot) const { return reinterpret_cast<Hdr *>(t.mem + slot * t.stride); }
	static uint64_t handle(int t, uint64_t slot, uint32_t gen)
	{
		return (uint64_t)(t + 1) << 52 | slot << 24 | gen;
	}
	void *take(int ti, bool zero, uint32_t state, uint64_t key, uint64_t *ref)
	{
		Type &t = ty[ti];
		uint64_t slot;
		Hdr *h;

		if (t.free_head) {
			slot = t.free_head - 1;
			h = hdr(t, slot);
			t.free_head = h->next;
		} else {
			if (t.wm == t.cap)
				bench_die("slab: type %d full", ti);
			slot = t.wm++;
			h = hdr(t, slot);
			h->tag = 1 << 8;
		}
		h->key = key;
		h->next = 0;
		if (zero)
			memset(h + 1, 0, t.size);
		uint32_t gen = h->tag >> 8;
		h->tag = gen << 8 | state;
		*ref = handle(ti, slot, gen);
		return h + 1;
	}
	void *alloc(int t, bool zero, uint64_t *ref) { return take(t, zero, LIVE, 0, ref); }
	void *keyed(int t, uint64_t key, uint64_t *ref)
	{
		uint64_t h = ty[t].index.get(key);
		void *obj;

		if (h) {
			*ref = h;
			return get(t, h);
		}
		obj = take(t, true, LIVE_KEYED, key, ref);
		ty[t].index.put(key, *ref);
		return obj;
	}
	Hdr *live(uint64_t ref) const
	{
		uint64_t ti = (ref >> 52) - 1, slot = ref >> 24 & 0xfffffff;
		uint32_t gen = ref & 0xffffff;

		if (ti >= (uint64_t)nt || slot >= ty[ti].wm)
			return nullptr;
		Hdr *h = hdr(ty[ti], slot);
		if ((h->tag >> 8) != gen || (h->tag & 0xff) == FREE)
			return nullptr;
		return h;
	}
	/* typed: the slot bound and the type in one compare, as shmdev_get_fast() */
	void *get(int ti, uint64_t ref) const
	{
		const Type &t = ty[ti];
		uint64_t slot = (ref ^ (uint64_t)(ti + 1) << 52) >> 24;
		uint32_t gen = ref & 0xffffff;

		if (slot >= t.wm)
			return nullptr;
		Hdr *h = hdr(t, slot);
		if ((h->tag >> 8) != gen || (h->tag & 0xff) == FREE)
			return nullptr;
		return h + 1;
	}
	void free(int, uint64_t ref)
	{
		Hdr *h = live(ref);

		if (!h)
			bench_die("slab: free of a stale reference %#llx", (unsigned long long)ref);
		Type &t = ty[(ref >> 52) - 1];
		if ((h->tag & 0xff) == LIVE_KEYED)
			t.index.del(h->key);
		h->tag = (((h->tag >> 8) + 1) & 0xffffff) << 8 | FREE;
		h->next = t.free_head;
		t.free_head = (uint32_t)((ref >> 24 & 0xfffffff) + 1);
	}
	void *find(int t, uint64_t key) const
	{
		uint64_t h = ty[t].index.get(key);

		return h ? get(t, h) : nullptr;
	}
	void destroy()
	{
		for (int i = 0; i < nt; i++) {
			munmap(ty[i].map, ty[i].bytes);
			if (ty[i].keyed)
				munmap(ty[i].index_mem, OATable::bytes_for(ty[i].cap));
		}
		nt = 0;
	}
};

/* ---- a malloc family, with an id table --------------------------------- */

struct MallocFns {
	const char *name;
	void *(*malloc)(size_t);
	void (*free)(void *);
};

struct MallocPeer {
	MallocFns m;
	struct Type {
		uint32_t size;
		bool keyed;
		uint64_t next_id;
		OATable ids, keys;
		void *ids_mem, *keys_mem;
		uint64_t cap;
	};
	Type ty[NTYPES_MAX] = {};
	int nt = 0;

	explicit MallocPeer(const MallocFns &fns) : m(fns) {}
	void open(const TypeSpec *ts, int n)
	{
		nt = n;
		for (int i = 0; i < n; i++) {
			Type &t = ty[i];

			t.size = ts[i].size;
			t.keyed = ts[i].keyed;
			t.cap = ts[i].cap;
			/* the tables come from the allocator itself */
			t.ids_mem = m.malloc(OATable::bytes_for(t.cap));
			if (!t.ids_mem)
				bench_die("%s: no memory for the id table", m.name);
			t.ids.init(t.cap, t.ids_mem);
			if (t.keyed) {
				t.keys_mem = m.malloc(OATable::bytes_for(t.cap));
				if (!t.keys_mem)
					bench_die("%s: no memory for the key table", m.name);
				t.keys.init(t.cap, t.keys_mem);
			}
		}
	}
	void *alloc(int ti, bool zero, uint64_t *ref)
	{
		Type &t = ty[ti];
		void *obj = m.malloc(t.size);

		if (!obj)
			bench_die("%s: out of memory", m.name);
		if (zero)
			memset(obj, 0, t.size);
		*ref = (uint64_t)(ti + 1) << 56 | ++t.next_id;
		t.ids.put(*ref, (uint64_t)obj);
		return obj;
	}
	void *keyed(int ti, uint64_t key, uint64_t *ref)
	{
		Type &t = ty[ti];
		uint64_t *obj = reinterpret_cast<uint64_t *>(t.keys.get(key));

		if (obj) {
			*ref = obj[1];	/* the object knows its id */
			return obj;
		}
		obj = static_cast<uint64_t *>(alloc(ti, true, ref));
		obj[0] = key;		/* and its key: free removes it from the index */
		obj[1] = *ref;
		t.keys.put(key, (uint64_t)obj);
		return obj;
	}
	/* typed: the type's id table (an id of another type is not in it) */
	void *get(int ti, uint64_t ref) const { return reinterpret_cast<void *>(ty[ti].ids.get(ref)); }
	void free(int ti, uint64_t ref)
	{
		Type &t = ty[ti];
		uint64_t *obj = reinterpret_cast<uint64_t *>(t.ids.del(ref));

		if (!obj)
			bench_die("%s: free of a stale reference", m.name);
		if (t.keyed)
			t.keys.del(obj[0]);
		m.free(obj);
	}
	void *find(int ti, uint64_t key) const { return reinterpret_cast<void *>(ty[ti].keys.get(key)); }
	void destroy()
	{
		for (int i = 0; i < nt; i++) {
			for (uint64_t j = 0; j <= ty[i].ids.mask; j++)
				if (ty[i].ids.e[j].k)
					m.free(reinterpret_cast<void *>(ty[i].ids.e[j].v));
			m.free(ty[i].ids_mem);
			if (ty[i].keyed)
				m.free(ty[i].keys_mem);
		}
		nt = 0;
	}
};

#endif
