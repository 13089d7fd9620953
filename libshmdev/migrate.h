/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration on resume (migrate.c), called by pool_open.c.  Not installed. */
#ifndef SHMDEV_MIGRATE_H
#define SHMDEV_MIGRATE_H

#include "pool_internal.h"

/*
 * After the blocks are open and verified, before anything is written:
 * decide which described types migrate (@migrate, max_types flags), refuse
 * a change without its converter, and plan the change again into @scratch
 * and @changes without writing (its return, as layout_plan()'s; -ENOENT if
 * no type was left to this step, @scratch then as the first plan made it).
 * Sets @lp's migrate and rblocks for the plan that writes.
 */
int pool_migrate_prepare(struct shmdev_pool *p, struct layout_params *lp,
			 const struct shmdev_type *types, size_t nr_types,
			 struct layout_table *scratch, uint8_t *changes, uint8_t *migrate);

/*
 * After layout_plan_at() wrote @scratch's new slots and field tables: copy
 * and convert every migrated type's slots.  Crash points "migrate:type",
 * "migrate:slot", "migrate:convert", "migrate:done".  Before the commit.
 */
int pool_migrate_run(struct shmdev_pool *p, struct layout_table *scratch, const uint8_t *changes,
		     const struct shmdev_type *types, size_t nr_types);

#endif
