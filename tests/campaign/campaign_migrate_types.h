/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * campaign_migrate's world in its three builds (included by
 * campaign_migrate.c only): the structs, their field descriptions, the
 * converters, the values every object must hold, and a read and a write of
 * a Unit or an Item in any build.
 */
#ifndef CAMPAIGN_MIGRATE_TYPES_H
#define CAMPAIGN_MIGRATE_TYPES_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shmdev.h"

#define T_UNIT		1
#define T_ITEM		2
#define UNIT_MAX	400
#define ITEM_MAX	800

/* ---- the three builds ---------------------------------------------------- */

struct unit1 { uint64_t id; uint32_t hp; float speed; uint64_t target; uint64_t sum; };
struct item1 { uint64_t id; uint16_t kind; char name[12]; uint64_t owner; uint64_t sum; };
struct unit2 { uint64_t sum; uint64_t target; double speed; uint64_t hp; uint64_t id; uint32_t xp; };
struct item2 { uint64_t owner; char name[24]; uint32_t kind; uint64_t id; uint64_t sum; uint64_t extra; };
struct unit3 { uint64_t id; int64_t hp; double speed; uint64_t target; uint64_t sum; uint32_t xp; uint32_t level; };
struct item3 { uint64_t id; uint64_t sum; uint64_t owner; uint32_t kind; float weight; char name[24]; };

static const uint32_t xp_default = 5;
static const uint64_t extra_default = 9;

static const struct shmdev_field fu1[] = {
	SHMDEV_FIELD(struct unit1, id), SHMDEV_FIELD(struct unit1, hp), SHMDEV_FIELD(struct unit1, speed),
	SHMDEV_FIELD_HANDLE_OF(struct unit1, target), SHMDEV_FIELD(struct unit1, sum),
};
static const struct shmdev_field fi1[] = {
	SHMDEV_FIELD(struct item1, id), SHMDEV_FIELD(struct item1, kind), SHMDEV_FIELD(struct item1, name),
	SHMDEV_FIELD_HANDLE_OF(struct item1, owner), SHMDEV_FIELD(struct item1, sum),
};
static const struct shmdev_field fu2[] = {
	SHMDEV_FIELD(struct unit2, sum), SHMDEV_FIELD_HANDLE_OF(struct unit2, target),
	SHMDEV_FIELD(struct unit2, speed), SHMDEV_FIELD(struct unit2, hp), SHMDEV_FIELD(struct unit2, id),
	SHMDEV_FIELD_DEFAULT(struct unit2, xp, &xp_default),
};
static const struct shmdev_field fi2[] = {
	SHMDEV_FIELD_HANDLE_OF(struct item2, owner), SHMDEV_FIELD(struct item2, name),
	SHMDEV_FIELD(struct item2, kind), SHMDEV_FIELD(struct item2, id), SHMDEV_FIELD(struct item2, sum),
	SHMDEV_FIELD_DEFAULT(struct item2, extra, &extra_default),
};
static const struct shmdev_field fu3[] = {
	SHMDEV_FIELD(struct unit3, id), SHMDEV_FIELD(struct unit3, hp), SHMDEV_FIELD(struct unit3, speed),
	SHMDEV_FIELD_HANDLE_OF(struct unit3, target), SHMDEV_FIELD(struct unit3, sum),
	SHMDEV_FIELD(struct unit3, xp), SHMDEV_FIELD(struct unit3, level),
};
static const struct shmdev_field fi3[] = {
	SHMDEV_FIELD(struct item3, id), SHMDEV_FIELD(struct item3, sum),
	SHMDEV_FIELD_HANDLE_OF(struct item3, owner), SHMDEV_FIELD(struct item3, kind),
	SHMDEV_FIELD(struct item3, weight), SHMDEV_FIELD(struct item3, name),
};

static double speed_of(uint64_t id) { return (double)(id % 1000) / 4; }
static uint32_t kind_of(uint64_t id) { return (uint32_t)(id % 7 + 1); }
static uint32_t level_of(uint64_t id) { return (uint32_t)(id % 50 + 1); }
static float weight_of(uint64_t id) { return (float)(id % 100) / 2; }

static uint64_t sum_of(uint64_t id, uint64_t hp)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ hp;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL | 1;
}

/* v2 -> v3: hp u64 -> i64, level computed. */
static int conv_unit3(const void *o, void *n, void *data)
{
	const struct unit2 *u = o;
	struct unit3 *v = n;

	(void)data;
	v->hp = (int64_t)u->hp;
	v->level = level_of(u->id);
	return 0;
}

/* v2 -> v3: weight computed (extra dropped). */
static int conv_item3(const void *o, void *n, void *data)
{
	(void)data;
	((struct item3 *)n)->weight = weight_of(((const struct item2 *)o)->id);
	return 0;
}

/* v3 -> v1: the narrowings. */
static int conv_unit1(const void *o, void *n, void *data)
{
	const struct unit3 *u = o;
	struct unit1 *v = n;

	(void)data;
	if (u->hp < 0 || u->hp > UINT32_MAX)
		return -1;
	v->hp = (uint32_t)u->hp;
	v->speed = (float)u->speed;
	return 0;
}

static int conv_item1(const void *o, void *n, void *data)
{
	const struct item3 *u = o;
	struct item1 *v = n;

	(void)data;
	v->kind = (uint16_t)u->kind;
	memcpy(v->name, u->name, sizeof(v->name) - 1);
	v->name[sizeof(v->name) - 1] = 0;
	return 0;
}

#define TYPE(tid, nm, st, ver, mx, fl, f, cv) \
	{ .id = (tid), .name = (nm), .size = sizeof(st), .version = (ver), .max_count = (mx), \
	  .flags = (fl), .nr_fields = sizeof(f) / sizeof((f)[0]), .fields = (f), .convert = (cv) }

static const struct shmdev_type builds[3][2] = {
	{ TYPE(T_UNIT, "Unit", struct unit1, 1, UNIT_MAX, SHMDEV_TYPE_KEYED, fu1, conv_unit1),
	  TYPE(T_ITEM, "Item", struct item1, 1, ITEM_MAX, 0, fi1, conv_item1) },
	{ TYPE(T_UNIT, "Unit", struct unit2, 2, UNIT_MAX, SHMDEV_TYPE_KEYED, fu2, NULL),
	  TYPE(T_ITEM, "Item", struct item2, 2, ITEM_MAX, 0, fi2, NULL) },
	{ TYPE(T_UNIT, "Unit", struct unit3, 3, UNIT_MAX, SHMDEV_TYPE_KEYED, fu3, conv_unit3),
	  TYPE(T_ITEM, "Item", struct item3, 3, ITEM_MAX, 0, fi3, conv_item3) },
};

/* ---- objects in any build ------------------------------------------------ */

struct uview { uint64_t id, hp, target, sum; double speed; uint32_t xp, level; };
struct iview { uint64_t id, owner, sum, extra; uint32_t kind; float weight; char name[32]; };

static void unit_read(int b, const void *obj, struct uview *v)
{
	memset(v, 0, sizeof(*v));
	if (b == 0) {
		const struct unit1 *u = obj;

		*v = (struct uview){ u->id, u->hp, u->target, u->sum, u->speed, 0, 0 };
	} else if (b == 1) {
		const struct unit2 *u = obj;

		*v = (struct uview){ u->id, u->hp, u->target, u->sum, u->speed, u->xp, 0 };
	} else {
		const struct unit3 *u = obj;

		*v = (struct uview){ u->id, (uint64_t)u->hp, u->target, u->sum, u->speed, u->xp, u->level };
	}
}

static void unit_write(int b, void *obj, uint64_t id, uint64_t hp, shmdev_handle_t target)
{
	if (b == 0)
		*(struct unit1 *)obj = (struct unit1){ id, (uint32_t)hp, (float)speed_of(id), target, sum_of(id, hp) };
	else if (b == 1)
		*(struct unit2 *)obj = (struct unit2){ sum_of(id, hp), target, speed_of(id), hp, id, xp_default };
	else
		*(struct unit3 *)obj = (struct unit3){ id, (int64_t)hp, speed_of(id), target, sum_of(id, hp),
						       xp_default, level_of(id) };
}

static void item_name(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "item-%" PRIu64, id);
}

static void item_read(int b, const void *obj, struct iview *v)
{
	memset(v, 0, sizeof(*v));
	if (b == 0) {
		const struct item1 *it = obj;

		v->id = it->id, v->owner = it->owner, v->sum = it->sum, v->kind = it->kind;
		memcpy(v->name, it->name, sizeof(it->name));
	} else if (b == 1) {
		const struct item2 *it = obj;

		v->id = it->id, v->owner = it->owner, v->sum = it->sum, v->kind = it->kind;
		v->extra = it->extra;
		memcpy(v->name, it->name, sizeof(it->name));
	} else {
		const struct item3 *it = obj;

		v->id = it->id, v->owner = it->owner, v->sum = it->sum, v->kind = it->kind;
		v->weight = it->weight;
		memcpy(v->name, it->name, sizeof(it->name));
	}
}

static void item_write(int b, void *obj, uint64_t id, shmdev_handle_t owner)
{
	char name[32];

	item_name(id, name, sizeof(name));
	if (b == 0) {
		struct item1 *it = obj;

		*it = (struct item1){ .id = id, .kind = (uint16_t)kind_of(id), .owner = owner, .sum = sum_of(id, 0) };
		memcpy(it->name, name, strlen(name));
	} else if (b == 1) {
		struct item2 *it = obj;

		*it = (struct item2){ .owner = owner, .kind = kind_of(id), .id = id, .sum = sum_of(id, 0),
				      .extra = extra_default };
		memcpy(it->name, name, strlen(name));
	} else {
		struct item3 *it = obj;

		*it = (struct item3){ .id = id, .sum = sum_of(id, 0), .owner = owner, .kind = kind_of(id),
				      .weight = weight_of(id) };
		memcpy(it->name, name, strlen(name));
	}
}

#endif
