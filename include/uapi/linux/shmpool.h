/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmpool: keyed, persistent, shmem-backed memory regions for processes that
 * must restart without losing state.
 *
 * Usage: open("/dev/shmpool", O_RDWR), bind the file to a region with
 * SHMPOOL_IOC_ATTACH, then mmap(MAP_SHARED) it.  A region lives until
 * SHMPOOL_IOC_DESTROY, whatever happens to the processes that use it.
 *
 * Every ioctl takes a struct whose first field, "size", is sizeof() of the
 * struct as the caller knows it.  The kernel reads it like
 * copy_struct_from_user(): a shorter struct than the kernel's is zero-extended,
 * a longer one is accepted only if the bytes the kernel does not know are zero
 * (E2BIG otherwise), and a size below the first published version is EINVAL.
 * Output is written back truncated to the caller's size.
 *
 * Common errors: EFAULT for a bad pointer, EINVAL for unknown flag bits or
 * bad values, E2BIG for a non-zero unknown tail, ENOTTY for an unknown command.
 */
#ifndef _UAPI_LINUX_SHMPOOL_H
#define _UAPI_LINUX_SHMPOOL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMPOOL_DEVICE_NAME	"shmpool"
#define SHMPOOL_DEVICE_PATH	"/dev/shmpool"

/* Bumped only for incompatible changes; new fields grow structs instead. */
#define SHMPOOL_ABI_VERSION	1

/* ATTACH flags (struct shmpool_attach.flags). */
#define SHMPOOL_ATTACH_CREATE	(1U << 0) /* create the region if it is absent */
#define SHMPOOL_ATTACH_EXCL	(1U << 1) /* with CREATE: EEXIST if it exists */
#define SHMPOOL_ATTACH_OWNER	(1U << 2) /* take the exclusive owner lease */
#define SHMPOOL_ATTACH_RDONLY	(1U << 3) /* read-only: no PROT_WRITE mapping */
#define SHMPOOL_ATTACH_HUGE	(1U << 4) /* on creation: back with THP-capable tmpfs */
#define SHMPOOL_ATTACH_ALL	(SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL | \
				 SHMPOOL_ATTACH_OWNER | SHMPOOL_ATTACH_RDONLY | \
				 SHMPOOL_ATTACH_HUGE)

/* struct shmpool_attach.result */
#define SHMPOOL_RESULT_CREATED	1 /* the region did not exist; it is new and zeroed */
#define SHMPOOL_RESULT_RESUMED	2 /* the region existed; its contents are as left */

/*
 * How the owner lease last ended (struct shmpool_region_info.state).
 * ATTACH reports the state as it was before the call, so a new owner learns
 * how its predecessor ended; STAT and LIST report the current state.
 */
#define SHMPOOL_STATE_NEW	0 /* never had an owner */
#define SHMPOOL_STATE_OWNED	1 /* an owner holds the lease now */
#define SHMPOOL_STATE_CLEAN	2 /* the last owner called DETACH */
#define SHMPOOL_STATE_CRASHED	3 /* the last owner's file was released without DETACH */

/* struct shmpool_region_info.flags */
#define SHMPOOL_REGION_HUGE	(1U << 0) /* created with SHMPOOL_ATTACH_HUGE */
#define SHMPOOL_REGION_DESTROYED (1U << 1) /* key no longer resolves; memory lives on while mapped */

/* The facts about one region, as ATTACH, QUERY, STAT and LIST report them. */
struct shmpool_region_info {
	__u64 key;
	__u64 size;		/* bytes, a multiple of the page size */
	__u64 generation;	/* number of OWNER attaches so far */
	__u64 ctime_ns;		/* creation, CLOCK_REALTIME */
	__u64 atime_ns;		/* last OWNER attach, 0 if none */
	__u64 dtime_ns;		/* last owner exit (DETACH or crash), 0 if none */
	__u32 uid;		/* owner, from the creator's euid; in the caller's user ns */
	__u32 gid;
	__u32 mode;		/* permission bits, 0777 at most */
	__u32 state;		/* SHMPOOL_STATE_* */
	__u32 owner_pid;	/* tgid of the lease holder, 0 if none */
	__u32 nattch;		/* open files attached to the region */
	__u32 nmaps;		/* live mappings of the region */
	__u32 flags;		/* SHMPOOL_REGION_* */
};

/*
 * SHMPOOL_IOC_ATTACH: create or open the region named by @key and bind this
 * open file to it.  A file binds to one region once (EALREADY after that).
 *
 * @req_size: on creation the region size (rounded up to pages; 0 is EINVAL);
 *	on open 0 means "any size" and a non-zero value larger than the region
 *	is EINVAL, with the actual size written to @info.size.  Never a resize.
 * @mode: permission bits for a new region (only 0777 bits; others EINVAL).
 *
 * Errors: ENOENT (absent, no CREATE), EEXIST (CREATE|EXCL, present),
 * EBUSY (OWNER while another file holds the lease), EACCES (mode denies the
 * access asked for), ENOSPC (max_regions or max_total_bytes reached),
 * EFBIG (@req_size above max_region_bytes), EINVAL (OWNER with RDONLY,
 * key 0, bad size or mode), EALREADY (file already attached).
 */
struct shmpool_attach {
	__u32 size;		/* in: sizeof(struct shmpool_attach) */
	__u32 flags;		/* in: SHMPOOL_ATTACH_* */
	__u64 key;		/* in: non-zero region key */
	__u64 req_size;		/* in */
	__u32 mode;		/* in */
	__u32 result;		/* out: SHMPOOL_RESULT_* */
	struct shmpool_region_info info; /* out; info.state is the state before */
};

/*
 * SHMPOOL_IOC_DETACH: the owner leaves cleanly; the region's state becomes
 * CLEAN and the lease is free.  EPERM if this file does not hold the lease,
 * ENOTCONN if it is not attached.  The file stays attached (read access).
 */
struct shmpool_detach {
	__u32 size;
	__u32 flags;		/* must be 0 */
};

/*
 * SHMPOOL_IOC_QUERY: on an attached file, report again what ATTACH reported
 * (result, and info with the state seen at attach time), refreshed counters
 * aside.  ENOTCONN if the file is not attached.
 */
struct shmpool_query {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u32 result;		/* out: as ATTACH reported it */
	__u32 attach_flags;	/* out: the flags ATTACH was given */
	struct shmpool_region_info info; /* out */
};

/* SHMPOOL_IOC_STAT: the current facts of region @key without attaching. */
struct shmpool_stat {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 key;		/* in */
	struct shmpool_region_info info; /* out */
};

/*
 * SHMPOOL_IOC_LIST: enumerate regions in key order.  Fills up to @count
 * entries of @entries with regions whose key is >= @cursor, then sets @count
 * to the number filled and @cursor to the key to continue from.  When no
 * region is left after the last one returned, SHMPOOL_LIST_END is set in
 * @flags.  Start with @cursor 0.
 */
#define SHMPOOL_LIST_END	(1U << 0)
struct shmpool_list {
	__u32 size;
	__u32 flags;		/* in: 0; out: SHMPOOL_LIST_* */
	__u64 cursor;		/* in/out */
	__u64 entries;		/* in: user pointer to struct shmpool_region_info[count] */
	__u32 count;		/* in: capacity; out: entries filled */
	__u32 entry_size;	/* in: sizeof(struct shmpool_region_info) as the caller knows it */
};

/*
 * SHMPOOL_IOC_DESTROY: IPC_RMID semantics.  The key stops resolving at once;
 * the memory is freed when the last mapping and attached file go.  Needs the
 * region's owner uid, CAP_IPC_OWNER or CAP_SYS_ADMIN (EPERM otherwise).
 * ENOENT if absent.
 */
struct shmpool_destroy {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 key;
};

/* SHMPOOL_IOC_INFO: module version, limits and totals. */
struct shmpool_info {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u32 abi_version;	/* out: SHMPOOL_ABI_VERSION */
	__u32 nr_regions;	/* out: regions whose key resolves */
	__u32 max_regions;	/* out */
	__u32 huge_supported;	/* out: 1 if SHMPOOL_ATTACH_HUGE can work */
	__u64 max_region_bytes;	/* out */
	__u64 max_total_bytes;	/* out */
	__u64 total_bytes;	/* out: bytes of all regions not yet freed */
	char version[32];	/* out: module version string, NUL-terminated */
};

/*
 * The command numbers carry no size: the size travels in each struct, so a
 * struct can grow without changing its command (as iommufd does).
 */
#define SHMPOOL_IOC_MAGIC	0xB8

#define SHMPOOL_IOC_ATTACH	_IO(SHMPOOL_IOC_MAGIC, 0x00)
#define SHMPOOL_IOC_DETACH	_IO(SHMPOOL_IOC_MAGIC, 0x01)
#define SHMPOOL_IOC_QUERY	_IO(SHMPOOL_IOC_MAGIC, 0x02)
#define SHMPOOL_IOC_STAT	_IO(SHMPOOL_IOC_MAGIC, 0x03)
#define SHMPOOL_IOC_LIST	_IO(SHMPOOL_IOC_MAGIC, 0x04)
#define SHMPOOL_IOC_DESTROY	_IO(SHMPOOL_IOC_MAGIC, 0x05)
#define SHMPOOL_IOC_INFO	_IO(SHMPOOL_IOC_MAGIC, 0x06)

#endif /* _UAPI_LINUX_SHMPOOL_H */
