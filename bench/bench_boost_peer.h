/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Boost.Interprocess peer of bench_tick (peers.h): node_allocator (its
 * node pool is shared and takes a process-shared mutex per operation) or
 * private_node_allocator (the same node pool, per allocator, no lock), in
 * a managed_shared_memory segment that also holds the id and key tables.
 */
#ifndef BENCH_BOOST_PEER_H
#define BENCH_BOOST_PEER_H

#include <boost/interprocess/allocators/node_allocator.hpp>
#include <boost/interprocess/allocators/private_node_allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>

#include <string>

#include "peers.h"

namespace bip = boost::interprocess;
using SegMgr = bip::managed_shared_memory::segment_manager;

template <size_t N>
struct BObj {
	unsigned char b[N];
};
template <class T>
using NodeLocked = bip::node_allocator<T, SegMgr>;
template <class T>
using NodePrivate = bip::private_node_allocator<T, SegMgr>;

template <template <class> class A>
struct BoostPeer {
	std::string shm;
	bip::managed_shared_memory *seg = nullptr;
	A<BObj<64>> *a64 = nullptr;
	A<BObj<128>> *a128 = nullptr;
	A<BObj<256>> *a256 = nullptr;
	struct Type {
		uint32_t size;
		bool keyed;
		uint64_t next_id;
		OATable ids, keys;
	};
	Type ty[NTYPES_MAX] = {};
	int nt = 0;

	BoostPeer()
	{
		static int seq;

		shm = "shmpool-bench-boost-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
	}
	void *table_mem(uint64_t want)
	{
		void *m = seg->allocate(OATable::bytes_for(want), std::nothrow);

		if (!m)
			bench_die("Boost: no room for a table in the segment");
		return m;
	}
	void open(const TypeSpec *ts, int n)
	{
		uint64_t bytes = 64 << 20;

		for (int i = 0; i < n; i++)
			bytes += ts[i].cap * (ts[i].size + 16) + OATable::bytes_for(ts[i].cap) * (ts[i].keyed ? 2 : 1);
		bip::shared_memory_object::remove(shm.c_str());
		seg = new bip::managed_shared_memory(bip::create_only, shm.c_str(), bytes);
		/* --thp: huge pages where /dev/shm gives them (a huge=advise tmpfs) */
		if (bench_thp)
			madvise(seg->get_address(), seg->get_size(), MADV_HUGEPAGE);
		a64 = new A<BObj<64>>(seg->get_segment_manager());
		a128 = new A<BObj<128>>(seg->get_segment_manager());
		a256 = new A<BObj<256>>(seg->get_segment_manager());
		nt = n;
		for (int i = 0; i < n; i++) {
			Type &t = ty[i];

			if (ts[i].size != 64 && ts[i].size != 128 && ts[i].size != 256)
				bench_die("Boost peer: size %u (64, 128 or 256)", ts[i].size);
			t.size = ts[i].size;
			t.keyed = ts[i].keyed;
			t.ids.init(ts[i].cap, table_mem(ts[i].cap));
			if (t.keyed)
				t.keys.init(ts[i].cap, table_mem(ts[i].cap));
		}
	}
	void *node_alloc(uint32_t size)
	{
		switch (size) {
		case 64:
			return a64->allocate_one().get();
		case 128:
			return a128->allocate_one().get();
		default:
			return a256->allocate_one().get();
		}
	}
	void node_free(uint32_t size, void *obj)
	{
		switch (size) {
		case 64:
			a64->deallocate_one(static_cast<BObj<64> *>(obj));
			break;
		case 128:
			a128->deallocate_one(static_cast<BObj<128> *>(obj));
			break;
		default:
			a256->deallocate_one(static_cast<BObj<256> *>(obj));
		}
	}
	void *alloc(int ti, bool zero, uint64_t *ref)
	{
		Type &t = ty[ti];
		void *obj = node_alloc(t.size);

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
			*ref = obj[1];
			return obj;
		}
		obj = static_cast<uint64_t *>(alloc(ti, true, ref));
		obj[0] = key;
		obj[1] = *ref;
		t.keys.put(key, (uint64_t)obj);
		return obj;
	}
	void *get(int ti, uint64_t ref) const { return reinterpret_cast<void *>(ty[ti].ids.get(ref)); }
	void free(int ti, uint64_t ref)
	{
		Type &t = ty[ti];
		uint64_t *obj = reinterpret_cast<uint64_t *>(t.ids.del(ref));

		if (!obj)
			bench_die("Boost: free of a stale reference");
		if (t.keyed)
			t.keys.del(obj[0]);
		node_free(t.size, obj);
	}
	void *find(int ti, uint64_t key) const { return reinterpret_cast<void *>(ty[ti].keys.get(key)); }
	void destroy()
	{
		/*
		 * The allocators are left undestroyed (a few bytes of heap):
		 * their pools assert that every node came back, and the
		 * segment goes as a whole.
		 */
		delete seg;
		a64 = nullptr;
		a128 = nullptr;
		a256 = nullptr;
		seg = nullptr;
		bip::shared_memory_object::remove(shm.c_str());
		nt = 0;
	}
};

#endif
