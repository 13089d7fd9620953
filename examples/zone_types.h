// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_types.h: the demo zone server's object types, their layout in the
 * pool and their checksums.  Shared by zone_server.c, its C++ version
 * zone_server.cpp (so this header is C11 and C++17 alike), and by the
 * programs that check a zone pool from outside (tests/campaign/), so all
 * read the same bytes the same way.
 *
 * -DDEMO_PLAYER_GROWN grows struct player (zone_server.c's migrating build);
 * -DDEMO_PLAYER_KIND makes its hp a float (the build whose resume is refused).
 */
#ifndef ZONE_TYPES_H
#define ZONE_TYPES_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shmdev.h"

/* ---- the game's types -------------------------------------------------- */

enum {
	T_ZONE = 0,	/* the zone's state and undo journal, one object, key 1 */
	T_PLAYER = 1,	/* keyed by player id */
	T_ITEM = 2,	/* owned by a player, found through its handle */
	T_SCENE = 3,	/* keyed by scene id */
	T_GUILD = 4,	/* keyed by guild id; v2 only */
	T_COUNT = 5,
};

#define ZONE_KEY		1
#define ZONE_MAGIC		0x454e4f5a4f4d4544ULL /* "DEMOZONE" */
#define PLAYER_ID_BASE		((uint64_t)10000000)
#define ITEMS_PER_PLAYER	8
#define IMAGE_MAX		1024

struct player {
	uint64_t id;
	uint64_t scene;			/* scene id */
	uint64_t gold, exp;
	uint64_t actions;		/* changes so far */
	uint64_t login_tick;
#ifdef DEMO_PLAYER_KIND
	uint32_t level;
	float hp;			/* a kind change without a converter */
	uint32_t mp, flags;
#else
	uint32_t level, hp, mp, flags;
#endif
	int32_t x, y;
	shmdev_handle_t items[ITEMS_PER_PLAYER];
	char name[24];
#ifdef DEMO_PLAYER_GROWN
	uint64_t achievements[8];	/* the change the resume migrates */
#endif
	uint8_t reserved[88];
	uint64_t sum;			/* checksum of the bytes before it */
};

struct item {
	uint64_t owner;			/* player id */
	uint32_t kind, slot;		/* slot: index in the owner's items[] */
	uint32_t count, durability;
	uint64_t created_tick;
	uint64_t serial;
	uint8_t reserved[16];
	uint64_t sum;
};

struct scene {
	uint64_t id;
	uint64_t updates;
	uint32_t weather, wave;
	uint32_t monsters[240];
	uint8_t reserved[32];
	uint64_t sum;
};

struct guild {
	uint64_t id;
	uint64_t members;
	uint64_t fund;
	uint64_t updates;
	char name[32];
	uint8_t reserved[56];
	uint64_t sum;
};

enum journal_kind {
	J_UPDATE = 1,	/* image holds the object before the change: undo */
	J_ACCESS = 2,	/* force_get of op_key: a half-made new object is freed */
	J_LOGOUT = 3,	/* player op_key leaves: finish it */
};

struct zone_state {
	uint64_t magic;
	uint64_t cold_time_ns;		/* CLOCK_REALTIME of the cold start */
	uint64_t ticks;			/* ticks completed since the cold start */
	uint64_t tick_active;		/* the tick in progress, 0 between ticks */
	uint64_t op_index;		/* the op in progress within it */
	uint64_t ops_per_tick;
	uint64_t item_serial;
	uint64_t crashes, clean_starts;
	/* the journal: valid while op_state is 1 */
	uint32_t op_state;
	uint32_t op_kind;
	uint32_t op_type;
	uint32_t image_size;
	uint64_t op_key;
	shmdev_handle_t op_target;
	uint8_t image[IMAGE_MAX];
};

#ifdef DEMO_PLAYER_GROWN
static_assert(sizeof(struct player) == 320, "player v-grown");
#else
static_assert(sizeof(struct player) == 256, "player");
#endif
static_assert(sizeof(struct item) == 64, "item");
static_assert(sizeof(struct scene) == 1024, "scene");
static_assert(sizeof(struct guild) == 128, "guild");
static_assert(sizeof(struct scene) <= IMAGE_MAX, "journal image");

/* ---- checksums --------------------------------------------------------- */

/* A word-wise FNV-style mix of the @size - 8 bytes before the sum field. */
static inline uint64_t obj_sum(const void *obj, size_t size)
{
	const unsigned char *p = (const unsigned char *)obj;
	uint64_t h = 0xcbf29ce484222325ULL ^ size, w;
	size_t i;

	for (i = 0; i + 8 <= size - 8; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;	/* a zeroed object never matches */
}

static inline size_t type_size(unsigned int type)
{
	switch (type) {
	case T_PLAYER: return sizeof(struct player);
	case T_ITEM: return sizeof(struct item);
	case T_SCENE: return sizeof(struct scene);
	case T_GUILD: return sizeof(struct guild);
	default: return 0;
	}
}

static inline void seal(void *obj, unsigned int type)
{
	size_t size = type_size(type);
	uint64_t sum = obj_sum(obj, size);

	memcpy((char *)obj + size - 8, &sum, 8);
}

static inline bool sealed(const void *obj, unsigned int type)
{
	size_t size = type_size(type);
	uint64_t sum;

	memcpy(&sum, (const char *)obj + size - 8, 8);
	return sum == obj_sum(obj, size);
}

#endif /* ZONE_TYPES_H */
