// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_fields.h: the field description of the demo's Player (issue 13),
 * one line per field from struct player itself, and the converter of the
 * grown build.  C only (the SHMDEV_FIELD macros use _Generic); included by
 * zone_server.c.
 *
 * The builds differ in struct player (zone_types.h):
 *   v1, v2                 256 bytes
 *   -DDEMO_PLAYER_GROWN    320 bytes: the field "achievements" (64 bytes)
 *                          added before "reserved" and "sum", which move:
 *                          libshmdev migrates every player on resume, and
 *                          the converter seals each one again (its sum
 *                          covers the new bytes: a computed value)
 *   -DDEMO_PLAYER_KIND     256 bytes, hp a float: a kind change with no
 *                          converter, which the resume refuses
 */
#ifndef ZONE_FIELDS_H
#define ZONE_FIELDS_H

#include "shmdev.h"
#include "zone_types.h"

#define ZPF(m) SHMDEV_FIELD(struct player, m)
#define ZPH(i) SHMDEV_FIELD_HANDLE_OF(struct player, items[i])

static const struct shmdev_field player_fields[] = {
	ZPF(id), ZPF(scene), ZPF(gold), ZPF(exp), ZPF(actions), ZPF(login_tick),
	ZPF(level), ZPF(hp), ZPF(mp), ZPF(flags), ZPF(x), ZPF(y),
	ZPH(0), ZPH(1), ZPH(2), ZPH(3), ZPH(4), ZPH(5), ZPH(6), ZPH(7),
	ZPF(name),
#ifdef DEMO_PLAYER_GROWN
	SHMDEV_FIELD_AS(struct player, achievements, SHMDEV_FIELD_BYTES),
#endif
	ZPF(reserved), ZPF(sum),
};

#define PLAYER_NR_FIELDS ((uint32_t)(sizeof(player_fields) / sizeof(player_fields[0])))

#ifdef DEMO_PLAYER_GROWN
/* The migration copied every field; the checksum is over the new bytes. */
static int player_convert(const void *old_obj, void *new_obj, void *data)
{
	(void)old_obj;
	(void)data;
	seal(new_obj, T_PLAYER);
	return 0;
}
#define PLAYER_CONVERT player_convert
#else
#define PLAYER_CONVERT NULL
#endif

#endif /* ZONE_FIELDS_H */
