/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The types of test_crashpoints.c's "migration" path (issue 13), included
 * by it after struct obj and t_old: Plain and Keyed described field by
 * field, and the grown version they migrate to.
 */
#ifndef CRASHPOINTS_MIGRATE_H
#define CRASHPOINTS_MIGRATE_H

/*
 * Issue 13: the same types described, and a migration that grows them
 * (stamp, handle and key stay where obj_ok() reads them; pad goes from
 * uint to int, which only the converter may do; extra is new, default 7).
 */
static const struct shmdev_field f_obj[] = {
	SHMDEV_FIELD(struct obj, stamp), SHMDEV_FIELD(struct obj, handle),
	SHMDEV_FIELD(struct obj, key), SHMDEV_FIELD(struct obj, pad),
};

struct obj2 {
	uint64_t stamp, handle, key;
	int64_t pad;
	uint64_t extra, pad2;
};

static const uint64_t extra_default = 7;
static const struct shmdev_field f_obj2[] = {
	SHMDEV_FIELD(struct obj2, stamp), SHMDEV_FIELD(struct obj2, handle),
	SHMDEV_FIELD(struct obj2, key), SHMDEV_FIELD(struct obj2, pad),
	SHMDEV_FIELD_DEFAULT(struct obj2, extra, &extra_default),
};

static int conv_pad(const void *o, void *n, void *data)
{
	(void)data;
	memcpy(&((struct obj2 *)n)->pad, &((const struct obj *)o)->pad, 8);
	return 0;
}

static const struct shmdev_type t_described[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 10,
	  .nr_fields = 4, .fields = f_obj },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 10,
	  .flags = SHMDEV_TYPE_KEYED, .nr_fields = 4, .fields = f_obj },
};

static const struct shmdev_type t_migrate[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj2), .version = 2, .max_count = 10,
	  .nr_fields = 5, .fields = f_obj2, .convert = conv_pad },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj2), .version = 2, .max_count = 12,
	  .flags = SHMDEV_TYPE_KEYED, .nr_fields = 5, .fields = f_obj2, .convert = conv_pad },
};

#endif
