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
 * A size above SHMPOOL_MAX_STRUCT_SIZE is E2BIG even with a zero tail.
 * Output is written back truncated to the caller's size.
 *
 * Common errors: EFAULT for a bad pointer, EINVAL for unknown flag bits or
 * bad values, E2BIG for a non-zero unknown tail, ENOTTY for an unknown command.
 *
 * Permissions: opening the device is governed by its file mode (udev).
 * After that, STAT, LIST and INFO need no further permission (like
 * /proc/sysvipc/shm, any user of the device may see every region of its
 * namespace); ATTACH checks the region's mode, DESTROY its owner (exactly
 * as SysV IPC_RMID, see SHMPOOL_IOC_DESTROY).
 *
 * Namespaces: keys are scoped to the caller's IPC namespace, as SysV shm
 * keys are.  Every ioctl acts in the IPC namespace of the calling task at
 * the time of the call, not of the task that opened the file, so a file
 * passed to another namespace reaches only that namespace's keys.  From
 * another namespace a region cannot be seen (STAT, LIST, /proc/shmpool),
 * attached or destroyed: it is ENOENT there, and the same key can name an
 * unrelated region in each namespace.  Once attached, a file stays bound to
 * its region (QUERY, DETACH, mmap) whatever namespace it moves to, as a
 * shmat() mapping does.  When an IPC namespace dies (no task, no
 * /proc/PID/ns/ipc handle or bind mount, no open /proc/shmpool left), its
 * regions are destroyed, as SysV segments are, with DESTROY semantics
 * (memory still mapped or attached lives until its last user goes).  The
 * module notices within reap_interval_ms (module parameter, default 1000)
 * without anybody's action, or at the next open or ioctl of /dev/shmpool,
 * whichever comes first.
 *
 * Limits (module parameters, see SHMPOOL_IOC_INFO): module-wide ceilings
 * (max_regions, max_total_bytes), and below them per IPC namespace
 * (max_regions_per_ns, max_bytes_per_ns) and per user (max_regions_per_user,
 * max_bytes_per_user; the user is the creator's euid as a kernel uid, so it
 * counts across every user and IPC namespace, as ucounts do).  A caller
 * with CAP_SYS_RESOURCE in the initial user namespace is exempt from the
 * per-namespace and per-user limits, never from the module-wide ones.
 * Regions count until DESTROY; bytes until the region's memory is released.
 *
 * mmap: MAP_SHARED only, within the region, on an attached file.  Errors:
 * ENXIO if the file is not attached, EINVAL for MAP_PRIVATE or a range
 * (offset + length) outside the region, EACCES for PROT_WRITE through a
 * read-only attach (RDONLY, an attach through a file opened O_RDONLY, and
 * every mapping made after DETACH), EPERM for PROT_EXEC through a file
 * opened on a noexec mount.  As for shmat(SHM_RDONLY), the mapping goes
 * through a file of the attach's own mode, so no later operation can add
 * what was refused: mprotect()/pkey_mprotect() (EACCES), remap_file_pages()
 * and mremap() (the result is as read-only), madvise(MADV_REMOVE), writes
 * through /proc/PID/mem or process_vm_writev(), userfaultfd registration,
 * and a fork's copy.  The same holds for PROT_EXEC once an attach has been
 * mapped through a noexec mount: remap_file_pages() of its mappings is then
 * refused (EPERM).  The region's memory has no other way in: its inode is
 * immutable and sealed against size changes, so opening it through
 * /proc/PID/map_files for writing fails (EPERM) even for root, and no
 * truncate or fallocate can change its size or punch it (MADV_REMOVE is
 * EPERM even on a writable mapping).  Mappings survive close(),
 * DETACH and DESTROY; each one keeps its region (and its bytes in the
 * totals) and the module (rmmod is refused) until it is unmapped.
 */
#ifndef _UAPI_LINUX_SHMPOOL_H
#define _UAPI_LINUX_SHMPOOL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMPOOL_DEVICE_NAME	"shmpool"
#define SHMPOOL_DEVICE_PATH	"/dev/shmpool"

/*
 * Bumped only for incompatible changes; new fields grow structs instead.
 * 2: the ioctl magic moved from 0xB8 (mainline's MSHV) to 0xE7, so ABI 1
 * callers get ENOTTY from this module and ABI 2 callers from the old one.
 */
#define SHMPOOL_ABI_VERSION	2

/* The largest "size" an ioctl struct (and LIST's entry_size) may have. */
#define SHMPOOL_MAX_STRUCT_SIZE	4096

/* ATTACH flags (struct shmpool_attach.flags). */
#define SHMPOOL_ATTACH_CREATE	(1U << 0) /* create the region if it is absent */
#define SHMPOOL_ATTACH_EXCL	(1U << 1) /* with CREATE: EEXIST if it exists; ignored without CREATE (as SysV) */
#define SHMPOOL_ATTACH_OWNER	(1U << 2) /* take the exclusive owner lease */
#define SHMPOOL_ATTACH_RDONLY	(1U << 3) /* read-only: no PROT_WRITE mapping */
#define SHMPOOL_ATTACH_HUGE	(1U << 4) /* on creation: back with THP-capable tmpfs (EOPNOTSUPP without THP); ignored when the region exists */
#define SHMPOOL_ATTACH_ALL	(SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL | \
				 SHMPOOL_ATTACH_OWNER | SHMPOOL_ATTACH_RDONLY | \
				 SHMPOOL_ATTACH_HUGE)

/* struct shmpool_attach.result */
#define SHMPOOL_RESULT_CREATED	1 /* the region did not exist; it is new and zeroed */
#define SHMPOOL_RESULT_RESUMED	2 /* the region existed; its contents are as left */
/*
 * The region came through SHMPOOL_IOC_ADOPT (a live update: its memory was
 * carried across kexec) and no owner has attached since: contents are as
 * left in the previous kernel, info.state is how the lease had ended there.
 * Reported by every ATTACH until an OWNER attach has taken the lease (that
 * one included); RESUMED after that.  A caller that predates it meets it only
 * on a host that adopts regions, and should treat it as RESUMED.
 */
#define SHMPOOL_RESULT_HANDED_OVER 3

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
#define SHMPOOL_REGION_FROZEN	(1U << 2) /* exported for a live update (EXPORT): no owner, no DESTROY until thawed */
#define SHMPOOL_REGION_HANDED_OVER (1U << 3) /* adopted (ADOPT); no OWNER attach yet */

/*
 * The facts about one region, as ATTACH, QUERY, STAT and LIST report them.
 *
 * owner_pid: the lease is held by an open file, which fork() and SCM_RIGHTS
 * share.  While the process that took the lease (its tgid) has a thread not
 * exiting, that process is reported.  Once it has exited and the lease lives
 * on, a process whose file table holds the lease's file is reported (and
 * remembered, so it is reported while it lives); 0 if no process holds it
 * in its file table (e.g. the file is only in flight in a socket).  0 also
 * when there is no lease, or the holder is not visible in the caller's pid
 * namespace.  /proc/shmpool reports the same in its opener's pid namespace.
 */
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
	__u32 owner_pid;	/* lease holder's tgid in the caller's pid ns; see below */
	__u32 nattch;		/* open files attached to the region (any namespace) */
	/*
	 * Live mappings of the region (any process, any namespace): each
	 * mmap() still partly mapped counts once, however split by mprotect(),
	 * munmap() or mremap(); a fork's copy of one counts once more, in the
	 * child.  remap_file_pages() rebuilds a range as a new mapping, or
	 * as part of a neighbouring one if the kernel merges them.
	 */
	__u32 nmaps;
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
 * Errors: ENOENT (absent in the caller's IPC namespace, no CREATE),
 * EEXIST (CREATE|EXCL, present), EBUSY (OWNER while another file holds the
 * lease, or while the region is frozen by EXPORT), EACCES (mode denies the access asked for), ENOSPC (a region or
 * byte limit reached: module-wide, the caller's IPC namespace's, or the
 * caller's euid's; see "Limits" above), EFBIG (@req_size
 * above max_region_bytes), EINVAL (OWNER with RDONLY, key 0, bad size or
 * mode), EALREADY (file already attached), EOPNOTSUPP (HUGE creation on a
 * kernel without transparent huge pages, see shmpool_info.huge_supported),
 * ENOMEM, EFAULT (the struct cannot be read or written: checked before
 * anything changes).  Any error leaves nothing behind: no region, lease,
 * generation, counter or binding changes.
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
 * ENOTCONN if it is not attached, ENOMEM (nothing changed).  The file stays
 * attached, read-only: new mappings are read-only by every path (see mmap
 * above), but mappings made before DETACH stay writable until unmapped.
 * DETACH after DESTROY still ends the lease.
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

/*
 * SHMPOOL_IOC_STAT: the current facts of region @key, in the caller's IPC
 * namespace, without attaching.  ENOENT if absent, EINVAL for key 0.
 */
struct shmpool_stat {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 key;		/* in */
	struct shmpool_region_info info; /* out */
};

/*
 * SHMPOOL_IOC_LIST: enumerate the regions of the caller's IPC namespace in
 * key order.  Fills up to @count entries of @entries (at most
 * SHMPOOL_LIST_MAX per call, whatever @count says) with regions whose key
 * is >= @cursor, then sets @count to the number filled and @cursor to the
 * key to continue from.  When no region is left after the last one
 * returned, SHMPOOL_LIST_END is set in @flags.  Start with @cursor 0.  Each
 * entry takes @entry_size bytes (sizeof(struct shmpool_region_info) up to
 * SHMPOOL_MAX_STRUCT_SIZE, else EINVAL); bytes past the kernel's struct are
 * zeroed.  Regions created or destroyed between calls may or may not show.
 */
#define SHMPOOL_LIST_END	(1U << 0)
#define SHMPOOL_LIST_MAX	256
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
 * the memory is freed when the last mapping and attached file go.  The
 * permission rule is IPC_RMID's (ipc/util.c ipcctl_obtain_check()): the
 * caller's euid is the region's owner uid or its creator's uid, or the
 * caller has CAP_SYS_ADMIN in the user namespace that owns the caller's IPC
 * namespace; EPERM otherwise.  CAP_IPC_OWNER is not enough (it bypasses the
 * mode for ATTACH only).  ENOENT if absent in the caller's IPC namespace,
 * EBUSY while the region is frozen for a live update (SHMPOOL_IOC_EXPORT).
 */
struct shmpool_destroy {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 key;
};

/*
 * SHMPOOL_IOC_INFO: module version, limits (the values in force, defaults
 * resolved) and the totals of the caller's IPC namespace and euid.
 * The fields after @version came with ABI 2; a caller that passes
 * SHMPOOL_INFO_SIZE_VER0 gets the first ones only.
 */
struct shmpool_info {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u32 abi_version;	/* out: SHMPOOL_ABI_VERSION */
	__u32 nr_regions;	/* out: regions whose key resolves, this namespace */
	__u32 max_regions;	/* out */
	__u32 huge_supported;	/* out: 1 if SHMPOOL_ATTACH_HUGE can work */
	__u64 max_region_bytes;	/* out */
	__u64 max_total_bytes;	/* out */
	/*
	 * out: bytes of this namespace's regions not yet freed: a region's
	 * bytes count from its creation until it is destroyed and its last
	 * attached file and last mapping are gone.  The same count, over all
	 * namespaces, is what max_total_bytes bounds.
	 */
	__u64 total_bytes;
	char version[32];	/* out: module version string, NUL-terminated */
	__u32 max_regions_per_ns;	/* out */
	__u32 max_regions_per_user;	/* out */
	__u64 max_bytes_per_ns;		/* out */
	__u64 max_bytes_per_user;	/* out */
	__u32 user_regions;	/* out: regions created by the caller's euid, all namespaces */
	__u32 limits_exempt;	/* out: 1 if the caller is exempt from per-ns/per-user limits */
	__u64 user_bytes;	/* out: bytes of those regions not yet released */
};
#define SHMPOOL_INFO_SIZE_VER0	80	/* up to @version */
#define SHMPOOL_INFO_SIZE_VER1	120	/* up to @user_bytes */

/*
 * Live update (kexec with the Live Update Orchestrator, Linux >= 6.19 built
 * with CONFIG_KEXEC_HANDOVER, CONFIG_LIVEUPDATE and CONFIG_LIVEUPDATE_MEMFD,
 * booted with kho=on liveupdate=on).  A region's memory is an unlinked shmem
 * file, which LUO's memfd handler preserves: EXPORT hands that file out so a
 * user-space agent (shmpoolctl liveupdate save, or systemd's fd store) can
 * pass it to LIVEUPDATE_SESSION_PRESERVE_FD; after the kexec the agent
 * retrieves it (a memfd with the same size, contents and seals) and ADOPT
 * makes it a region again under its key, uid, gid and mode.  Neither ioctl
 * needs LUO: EXPORT and ADOPT work on any kernel, with any memfd.
 *
 * SHMPOOL_IOC_EXPORT: an O_RDWR | O_CLOEXEC file descriptor (@fd) of the
 * backing shmem file of region @key, and the region's facts in @info.  The
 * region is FROZEN from then on (SHMPOOL_REGION_FROZEN): an OWNER attach and
 * DESTROY are EBUSY, so the state the agent records (info.state) stays the
 * state carried across the kexec; read-only and non-owner attaches still
 * work.  Its size was always sealed; LUO itself also pins every page of the
 * file (allocating any not yet touched) and refuses fallocate() on it until
 * the session is closed or finished.  SHMPOOL_EXPORT_THAW (no fd, @fd is
 * left -1) ends the freeze, e.g. when the agent gives up without a kexec.
 * Permission: DESTROY's rule and write access by the mode (the fd writes the
 * memory).  Errors: ENOENT, EINVAL (key 0, unknown flags), EPERM/EACCES,
 * EBUSY (an owner holds the lease: it must DETACH first, so that the carried
 * state is final), EMFILE/ENFILE.
 */
#define SHMPOOL_EXPORT_THAW	(1U << 0)
struct shmpool_export {
	__u32 size;
	__u32 flags;		/* in: 0 or SHMPOOL_EXPORT_THAW */
	__u64 key;		/* in */
	__s32 fd;		/* out: the shmem file, or -1 with THAW */
	__u32 reserved;		/* must be 0 */
	struct shmpool_region_info info; /* out: the facts once frozen (or thawed) */
};

/*
 * SHMPOOL_IOC_ADOPT: make the shmem file @fd (a memfd, or one LUO retrieved)
 * region @key of the caller's IPC namespace, owned by @uid/@gid (in the
 * caller's user namespace) with permission bits @mode, its lease state
 * @state (NEW, CLEAN or CRASHED: how the lease had ended before).  The
 * region takes its own reference to the file; the caller should close its
 * fd.  ATTACH then reports SHMPOOL_RESULT_HANDED_OVER (see there).  The file
 * is sealed against size changes and made immutable like a created region's.
 *
 * The file must be shmem (tmpfs, memfd) and unlinked (no name reaches it),
 * its size a non-zero multiple of the page size within max_region_bytes
 * (EFBIG otherwise), equal to @req_size if that is non-zero; it must not be
 * mapped, nor open in more than the one file the caller passed (EBUSY: the
 * memory would have writers outside the region's rules), nor sealed against
 * writing (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE: EPERM).  The region counts
 * against the limits like a created one, charged to @uid.
 *
 * Permission: a caller may adopt as its own euid and one of its groups;
 * another @uid or @gid needs CAP_SYS_ADMIN in the user namespace owning the
 * caller's IPC namespace (EPERM).  Errors: EBADF (@fd not open), EINVAL (not
 * shmem, linked, key 0, bad mode, state, size or flags), EEXIST (@key
 * exists), ENOSPC, EFBIG, EBUSY, EPERM, ENOMEM.  Nothing changes on error.
 */
struct shmpool_adopt {
	__u32 size;
	__u32 flags;		/* in: must be 0 */
	__u64 key;		/* in: non-zero */
	__s32 fd;		/* in */
	__u32 mode;		/* in: 0777 bits at most */
	__u32 uid;		/* in */
	__u32 gid;		/* in */
	__u32 state;		/* in: SHMPOOL_STATE_NEW, _CLEAN or _CRASHED */
	__u32 reserved;		/* must be 0 */
	__u64 req_size;		/* in: 0, or the size the file must have */
	struct shmpool_region_info info; /* out */
};

/*
 * The command numbers carry no size: the size travels in each struct, so a
 * struct can grow without changing its command (as iommufd does).
 */
/*
 * 0xE7: free in Documentation/userspace-api/ioctl/ioctl-number.rst and in
 * every include/uapi header of Linux 7.3 (tests/kmod/ioctl_magic.sh checks
 * the cached 7.x headers).  ABI 1 used 0xB8, which is mainline's MSHV.
 */
#define SHMPOOL_IOC_MAGIC	0xE7

#define SHMPOOL_IOC_ATTACH	_IO(SHMPOOL_IOC_MAGIC, 0x00)
#define SHMPOOL_IOC_DETACH	_IO(SHMPOOL_IOC_MAGIC, 0x01)
#define SHMPOOL_IOC_QUERY	_IO(SHMPOOL_IOC_MAGIC, 0x02)
#define SHMPOOL_IOC_STAT	_IO(SHMPOOL_IOC_MAGIC, 0x03)
#define SHMPOOL_IOC_LIST	_IO(SHMPOOL_IOC_MAGIC, 0x04)
#define SHMPOOL_IOC_DESTROY	_IO(SHMPOOL_IOC_MAGIC, 0x05)
#define SHMPOOL_IOC_INFO	_IO(SHMPOOL_IOC_MAGIC, 0x06)
#define SHMPOOL_IOC_EXPORT	_IO(SHMPOOL_IOC_MAGIC, 0x07)
#define SHMPOOL_IOC_ADOPT	_IO(SHMPOOL_IOC_MAGIC, 0x08)

#endif /* _UAPI_LINUX_SHMPOOL_H */
