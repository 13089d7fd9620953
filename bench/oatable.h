/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An open-addressing u64 -> u64 table (linear probing, Fibonacci hashing,
 * backward-shift deletion: no tombstones), load factor at most 1/2.  Key 0
 * is "empty".  What the malloc-family peers use as their id -> object
 * table (ids are never reused, so a stale id misses: stale-safe references)
 * and key -> object index, and the slab floor's key index.  The memory
 * comes from the caller (private memory, or a Boost segment).
 */
#ifndef BENCH_OATABLE_H
#define BENCH_OATABLE_H

#include <cstdint>
#include <cstring>

struct OATable {
	struct E {
		uint64_t k, v;
	};
	E *e = nullptr;
	uint64_t mask = 0;
	int shift = 64;

	static uint64_t slots_for(uint64_t want)
	{
		uint64_t n = 16;

		while (n < 2 * want)
			n <<= 1;
		return n;
	}
	static uint64_t bytes_for(uint64_t want) { return slots_for(want) * sizeof(E); }

	void init(uint64_t want, void *mem)
	{
		uint64_t n = slots_for(want);

		e = static_cast<E *>(mem);
		mask = n - 1;
		shift = 64 - __builtin_ctzll(n);
		memset(e, 0, n * sizeof(E));
	}
	uint64_t idx(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ULL) >> shift; }

	uint64_t get(uint64_t k) const
	{
		for (uint64_t i = idx(k);; i = (i + 1) & mask) {
			if (e[i].k == k)
				return e[i].v;
			if (!e[i].k)
				return 0;
		}
	}
	/* Insert or replace. */
	void put(uint64_t k, uint64_t v)
	{
		uint64_t i = idx(k);

		for (; e[i].k; i = (i + 1) & mask)
			if (e[i].k == k)
				break;
		e[i].k = k;
		e[i].v = v;
	}
	/* Remove @k; its value, 0 if absent. */
	uint64_t del(uint64_t k)
	{
		uint64_t i = idx(k), j, h, v;

		for (; e[i].k != k; i = (i + 1) & mask)
			if (!e[i].k)
				return 0;
		v = e[i].v;
		for (j = i;;) {
			j = (j + 1) & mask;
			if (!e[j].k)
				break;
			h = idx(e[j].k);
			/* move e[j] back unless its home lies cyclically in (i, j] */
			if (((j - h) & mask) >= ((j - i) & mask)) {
				e[i] = e[j];
				i = j;
			}
		}
		e[i].k = 0;
		return v;
	}
};

#endif
