/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libshmdev: typed object pools in shared memory that survive process
 * restarts and crashes, on /dev/shmpool regions or a POSIX shm fallback.
 *
 * Conventions (libkmod and SQLite are the models):
 *  - every symbol starts with shmdev_ / SHMDEV_; handles are opaque;
 *  - no global state: everything hangs off a struct shmdev_ctx;
 *  - functions that can fail return 0 or a negative errno; the context keeps
 *    a message for the last failure (shmdev_errmsg()) and sends it to the log
 *    callback as well; the hot calls (alloc, alloc_raw, free, get, find and
 *    force_get) leave it as it is when they succeed;
 *  - "the caller owns" means the caller frees it with the named function;
 *    everything else is borrowed and valid as long as its parent object;
 *  - a NULL context, pool, region, conf or output pointer never crashes:
 *    functions that return an int give -EINVAL, lookups give NULL, 0 or
 *    SHMDEV_HANDLE_NONE, stats fill nothing (a NULL pool's are zeros) and
 *    setters and destructors do nothing (tests/lib/test_api.c calls
 *    every function this header declares that way);
 *  - threads: without SHMDEV_POOL_THREADS nothing is locked: a context and
 *    everything made from it is used by one thread at a time.  A pool
 *    opened with SHMDEV_POOL_THREADS may be called by several threads of
 *    the owner at once, as that flag says (the pool calls, and
 *    shmdev_errmsg() per thread).  Other processes may attach read-only to
 *    inspect a live pool.
 */
#ifndef SHMDEV_H
#define SHMDEV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- context --------------------------------------------------------- */

struct shmdev_ctx;

/* Log priorities are syslog's (LOG_ERR = 3 ... LOG_DEBUG = 7). */
typedef void (*shmdev_log_fn)(void *data, int priority, const char *file,
			      int line, const char *fn, const char *format,
			      va_list args);

/*
 * Create a context.  The default log function writes LOG_WARNING and more
 * urgent messages to stderr; the environment variable SHMDEV_LOG (err,
 * warning, info, debug, none) changes the priority.  The caller owns *ctx: shmdev_ctx_unref().
 */
int shmdev_ctx_new(struct shmdev_ctx **ctx);
struct shmdev_ctx *shmdev_ctx_ref(struct shmdev_ctx *ctx);
struct shmdev_ctx *shmdev_ctx_unref(struct shmdev_ctx *ctx); /* returns NULL */
void shmdev_set_log_fn(struct shmdev_ctx *ctx, shmdev_log_fn fn, void *data);
void shmdev_set_log_priority(struct shmdev_ctx *ctx, int priority);
int shmdev_get_log_priority(const struct shmdev_ctx *ctx);

/*
 * The message of the last failure in this context ("" if none).  Borrowed:
 * valid until the next call on the context.
 */
const char *shmdev_errmsg(const struct shmdev_ctx *ctx);

/* ---- configuration: memorypool.ini ----------------------------------- */

struct shmdev_conf;

/*
 * Load memorypool.ini: read ProcessList, load each listed process's section,
 * map every key to its process (a key used by two processes, or a BaseKey
 * equal to any block key, fails naming the key and both processes), and keep
 * @process's own section.  @process may be NULL to load and check only.
 * The format and its limits are documented in conf/memorypool.ini.  Sections
 * that ProcessList does not name are ignored (logged at LOG_WARNING).  The
 * environment variable SHMDEV_BACKEND=auto|device|posix, when set and not
 * empty, overrides the Backend of every section.
 * Errors name the file, the line and the value: -ENOENT (no such file, or
 * @process not in ProcessList), -EFBIG (file over 1 MiB), -EINVAL (anything
 * wrong in the text, or in SHMDEV_BACKEND), -ENOMEM.  On failure *conf is
 * NULL.  The caller owns *conf: shmdev_conf_free().
 */
int shmdev_conf_load(struct shmdev_ctx *ctx, const char *path,
		     const char *process, struct shmdev_conf **conf);
/* The same, from a string; @name stands for the file name in messages. */
int shmdev_conf_load_string(struct shmdev_ctx *ctx, const char *text,
			    const char *name, const char *process,
			    struct shmdev_conf **conf);
void shmdev_conf_free(struct shmdev_conf *conf);

enum shmdev_backend {
	SHMDEV_BACKEND_AUTO = 0,	/* device if /dev/shmpool exists, else POSIX */
	SHMDEV_BACKEND_DEVICE = 1,	/* /dev/shmpool */
	SHMDEV_BACKEND_POSIX = 2,	/* shm_open + flock + clean-exit marker */
};

/* Per-process section of memorypool.ini, as loaded. Borrowed from conf. */
struct shmdev_proc_conf {
	const char *name;		/* section name, e.g. "zone" */
	uint64_t base_key;		/* BaseKey: the base layout region */
	uint64_t block_size;		/* BlockSize, bytes per block region */
	size_t nr_blocks;
	const uint64_t *block_keys;	/* nr_blocks keys, in config order */
	enum shmdev_backend backend;	/* Backend = auto | device | posix */
	bool huge_pages;		/* HugePages (default yes): THP-backed regions */
	uint64_t fixed_addr;		/* FixedAddress: 0, or map the base here */
	uint32_t max_types;		/* MaxTypeInfoNum (default 64) */
	uint32_t mode;			/* Mode: permission bits (default 0600) */
	/*
	 * HugePages written in the section.  Without it huge_pages is true
	 * (the default) and a pool's regions ask for huge pages quietly
	 * (SHMDEV_REGION_HUGE_QUIET): where they cannot be had, LOG_INFO.
	 */
	bool huge_pages_set;
	/*
	 * TxLogSize (default 64K, 0 = no transactions): bytes of the undo log
	 * of shmdev_tx_*(), kept in the base region after the layout.  Fixed
	 * when the base region is created; a changed value takes effect at the
	 * next cold start (a resume logs the difference at LOG_WARNING).
	 */
	uint64_t tx_log_size;
};

size_t shmdev_conf_nr_processes(const struct shmdev_conf *conf);
/* i-th process of ProcessList, or NULL past the end. */
const struct shmdev_proc_conf *shmdev_conf_process_at(const struct shmdev_conf *conf, size_t i);
/* Section of the named process, or NULL. */
const struct shmdev_proc_conf *shmdev_conf_process(const struct shmdev_conf *conf, const char *name);
/* The section selected by shmdev_conf_load(@process), or NULL. */
const struct shmdev_proc_conf *shmdev_conf_self(const struct shmdev_conf *conf);

/*
 * Render memorypool.ini.tmpl: ${NAME} is replaced by the value of NAME from
 * @vars ("NAME=VALUE" strings, @nr_vars of them), and $((EXPR)) by the
 * decimal value of an integer expression over numbers and ${NAME}s with
 * + - * / %, unary minus and parentheses, in signed 64-bit (decimal and 0x
 * numbers).  "$$" stands for a single '$'; any other '$' is an error.  When
 * @vars names a variable twice the later one wins.  An undefined name, a bad
 * expression, an overflow or a division by zero fails with -EINVAL naming
 * the template (@name), the line and the text; an output over 16 MiB fails
 * with -EFBIG.  On failure *out is NULL.  The caller owns *out: free().
 */
int shmdev_template_render(struct shmdev_ctx *ctx, const char *tmpl,
			   const char *name, const char *const *vars,
			   size_t nr_vars, char **out);

/* ---- regions: one keyed shared-memory segment ------------------------ */

/*
 * A region is a keyed, persistent block of shared memory: it outlives the
 * processes that use it until shmdev_region_destroy().  Two backends give
 * the same semantics:
 *
 *  - DEVICE: /dev/shmpool (the shmpool kernel module).  The module keeps the
 *    owner lease and notices a crashed owner when its file is released.
 *  - POSIX: a shm_open() object named "/<prefix>.<key as 16 hex digits>",
 *    prefix "shmpool.<euid>" unless the environment sets
 *    SHMDEV_POSIX_PREFIX (letters, digits, '.', '_', '-'; tests use it to
 *    keep parallel runs apart).  The object's first page is a header kept
 *    from the user (magic, state, generation, times, owner pid); the user
 *    data is the rest, mapped separately, so it starts page-aligned.  The
 *    lease is an open-file-description lock (F_OFD_SETLK) on the object:
 *    the kernel drops it when the holder exits, however it exits.  A new
 *    owner that finds the header still saying "owned" knows its predecessor
 *    crashed.  A new object is built under a temporary name and published
 *    with renameat2(RENAME_NOREPLACE), so no other opener ever sees it
 *    half-made.  nattch and nmaps are not known (reported as 0), and a
 *    crashed owner's dtime is the time the crash was first noticed.
 *
 * Backend choice: SHMDEV_BACKEND_AUTO uses the device if /dev/shmpool opens,
 * else POSIX; a node this process may not open still selects the device
 * (and -EACCES), never a switch to separate POSIX regions.  A fall back to
 * POSIX is logged at LOG_WARNING (shown by default), once per context, with
 * the reason ("/dev/shmpool: No such file or directory (module not
 * loaded?)") and the risk: systemd-logind's RemoveIPC=yes deletes POSIX
 * objects at the user's last logout, and the device's regions are another
 * set, so a host that boots without the module starts cold.  Production
 * configurations name DEVICE; POSIX is a choice, not a fallback.  The
 * environment variable SHMDEV_BACKEND=auto|device|posix, if set, overrides
 * the @backend argument of every region function.
 *
 * Every error message names the key (hex) and the backend.
 */

struct shmdev_region;

enum shmdev_start {
	SHMDEV_START_CREATED = 1,	/* cold start: the region is new */
	SHMDEV_START_RESUMED_CLEAN = 2,	/* hot start after a clean exit (or
					 * a region that never had an owner) */
	SHMDEV_START_RESUMED_CRASH = 3,	/* hot start after a crash */
	SHMDEV_START_RESUMED = 4,	/* opened without the lease: state unknown */
};

/* How the owner lease last ended, as shmdev_region_stat() reports it. */
enum shmdev_region_state {
	SHMDEV_STATE_NEW = 0,		/* never had an owner */
	SHMDEV_STATE_OWNED = 1,		/* an owner holds the lease now */
	SHMDEV_STATE_CLEAN = 2,		/* the last owner detached */
	SHMDEV_STATE_CRASHED = 3,	/* the last owner went without detaching */
};

#define SHMDEV_REGION_CREATE	(1U << 0) /* create if absent (@size bytes) */
#define SHMDEV_REGION_EXCL	(1U << 1) /* with CREATE: -EEXIST if present */
#define SHMDEV_REGION_OWNER	(1U << 2) /* take the exclusive owner lease */
#define SHMDEV_REGION_RDONLY	(1U << 3) /* PROT_READ mapping; not with OWNER */
/*
 * SHMDEV_REGION_HUGE (HugePages = yes): on creation, ask for transparent
 * huge pages.  Device: the module's huge tmpfs (huge=within_size).  POSIX:
 * every mapping of the region gets MADV_HUGEPAGE, which shmem honours when
 * /dev/shm is mounted huge=advise|within_size|always or shmem_enabled is
 * force.  Where the backend cannot give them (module without THP, /dev/shm
 * mounted huge=never, shmem_enabled deny, no THP in the kernel) the region
 * gets small pages and the open logs a LOG_WARNING with the reason, once
 * per context; so does opening, with HUGE, a region created without it.
 * The test hooks SHMDEV_TEST_MOUNTINFO and SHMDEV_TEST_THP_SHMEM name files
 * to read instead of /proc/self/mountinfo and shmem_enabled.
 */
#define SHMDEV_REGION_HUGE	(1U << 4) /* on creation: huge pages if possible */
/*
 * With SHMDEV_REGION_HUGE: the caller did not ask for huge pages, they are
 * its default (a pool whose config has no HugePages line).  Where they cannot
 * be had the reason is logged at LOG_INFO, not LOG_WARNING.
 */
#define SHMDEV_REGION_HUGE_QUIET (1U << 5)

struct shmdev_region_info {
	uint64_t key;
	uint64_t size;			/* user bytes */
	uint64_t generation;		/* OWNER opens so far */
	uint64_t ctime_ns, atime_ns, dtime_ns; /* CLOCK_REALTIME; 0 if never */
	uint32_t uid, gid, mode;
	uint32_t owner_pid;		/* lease holder, 0 if none */
	uint32_t nattch;		/* device only; 0 on POSIX */
	uint32_t nmaps;			/* device only; 0 on POSIX */
	enum shmdev_region_state state;
	bool owned;			/* a lease is held now */
	bool huge;			/* created with SHMDEV_REGION_HUGE, and (POSIX)
					 * /dev/shm gives huge pages now */
	enum shmdev_backend backend;	/* DEVICE or POSIX: where it lives */
};

/*
 * The backend that region calls given @backend use now (never AUTO):
 * SHMDEV_BACKEND from the environment, then @backend, AUTO resolved as
 * above (with its warning).  -EINVAL for a bad value.
 */
int shmdev_backend_resolve(struct shmdev_ctx *ctx, enum shmdev_backend backend,
			   enum shmdev_backend *out);
/* "auto", "device" or "posix" (static storage). */
const char *shmdev_backend_name(enum shmdev_backend backend);

/*
 * Open (and with CREATE, create) region @key (non-zero) of @size bytes and
 * map it shared.  @size is rounded up to pages on creation; on open, 0
 * means "any size", and a size larger than the region is -EINVAL (smaller
 * is fine: the whole region is mapped, see shmdev_region_size()).  @mode is
 * the permission bits of a new region (0 means 0600).  With OWNER the
 * exclusive lease is taken (-EBUSY if held) and shmdev_region_start() tells
 * how the previous owner ended.  The lease lives in an open file (the
 * device fd, or the POSIX lock's), so a child forked by the owner holds it
 * too: it ends, as a crash unless detached, when the last copy closes.
 * Fork only to exec (the fds are O_CLOEXEC) or with that in mind.  The
 * caller owns *region: shmdev_region_close() (crash semantics if OWNER and
 * not detached).
 * Errors: -ENOENT (absent, no CREATE), -EEXIST (CREATE|EXCL and present),
 * -EBUSY, -EACCES, -EINVAL (bad key, size, mode or flags), -ENODEV (device
 * asked for but absent), -ENOSPC/-EFBIG (device limits), -EPROTO (a POSIX
 * object with that name that is not a region).
 */
int shmdev_region_open(struct shmdev_ctx *ctx, enum shmdev_backend backend,
		       uint64_t key, uint64_t size, unsigned int flags,
		       uint32_t mode, struct shmdev_region **region);
void *shmdev_region_addr(const struct shmdev_region *region);
uint64_t shmdev_region_size(const struct shmdev_region *region);
uint64_t shmdev_region_key(const struct shmdev_region *region);
enum shmdev_start shmdev_region_start(const struct shmdev_region *region);
/*
 * True if the region came across a kernel live update (kexec with LUO:
 * shmpoolctl liveupdate restore adopted it, see README "Live update") and
 * this open is among the first ones since: the device reported
 * SHMPOOL_RESULT_HANDED_OVER.  shmdev_region_start() is then what the lease
 * state carried across says (RESUMED_CLEAN or RESUMED_CRASH, or RESUMED
 * without OWNER).  False on the POSIX backend.
 */
bool shmdev_region_handed_over(const struct shmdev_region *region);
enum shmdev_backend shmdev_region_backend(const struct shmdev_region *region);
uint64_t shmdev_region_generation(const struct shmdev_region *region);
/*
 * Move the mapping to exactly @addr (page-aligned) with MAP_FIXED_NOREPLACE,
 * for users who keep raw pointers.  -EEXIST, naming the address, if
 * something is mapped there already; the old mapping is kept on failure.
 */
int shmdev_region_remap(struct shmdev_region *region, void *addr);
/*
 * Leave cleanly: the next owner sees SHMDEV_START_RESUMED_CLEAN.  The lease
 * is released; the mapping stays until shmdev_region_close().  -EPERM if
 * @region does not hold the lease.
 */
int shmdev_region_detach(struct shmdev_region *region);
/* Unmap and close.  Without a prior detach an owner counts as crashed. */
void shmdev_region_close(struct shmdev_region *region);
/* The current facts of region @key without opening it.  -ENOENT if absent. */
int shmdev_region_stat(struct shmdev_ctx *ctx, enum shmdev_backend backend,
		       uint64_t key, struct shmdev_region_info *info);
/*
 * IPC_RMID semantics: the key goes now (new opens get -ENOENT or create a
 * new region), the memory with its last mapping.  -ENOENT if absent.
 */
int shmdev_region_destroy(struct shmdev_ctx *ctx, enum shmdev_backend backend,
			  uint64_t key);
/*
 * Call @fn for every region of the backend in key order; a non-zero return
 * from @fn stops the walk and is returned.  POSIX lists the objects of the
 * current prefix only.
 */
int shmdev_region_list(struct shmdev_ctx *ctx, enum shmdev_backend backend,
		       int (*fn)(const struct shmdev_region_info *info, void *data),
		       void *data);

/* ---- pools: the BaseKey layout and typed objects ---------------------- */

struct shmdev_pool;

/*
 * A handle names one object: type (12 bits), slot (28 bits) and the slot's
 * generation (24 bits); shmdev_handle_type() and shmdev_handle_slot() take
 * it apart.  0 is never a valid handle.  After the object is freed the old
 * handle resolves to NULL, and stays so however often the slot is reused:
 * every free moves the slot to its next generation, and a slot whose
 * generations are used up (16,777,215 uses) is retired, never reused (see
 * shmdev_type_stats.retired_count; libshmdev/layout.h has the figures).
 */
typedef uint64_t shmdev_handle_t;
#define SHMDEV_HANDLE_NONE ((shmdev_handle_t)0)

#define SHMDEV_TYPE_KEYED	(1U << 0) /* objects have a u64 user key: force_get/find */

/*
 * Field descriptions (issue 13; README "Field descriptions and migration").
 * A type may list its fields, each a primitive leaf at its absolute offset
 * in the object (a nested struct is listed leaf by leaf: "pos.x", "pos.y").
 * The layout keeps the list; when a later program registers the type with
 * another size, align, version or list, the open migrates every object
 * instead of refusing: fields matched by name are copied, exact conversions
 * made (a wider int of the same signedness, unsigned to a wider signed,
 * float to double, a longer byte array), new fields zeroed or set to their
 * default, removed ones dropped.  Anything else (truncation, a kind change)
 * needs the type's converter, or the open is refused naming the type, the
 * field and both kinds.  Only described fields are carried: bytes of the
 * object that no field covers come out zero.
 */
enum shmdev_field_kind {
	SHMDEV_FIELD_NONE = 0,	/* not a leaf (the macros' answer for a struct) */
	SHMDEV_FIELD_INT = 1,	/* signed integer, 1, 2, 4 or 8 bytes */
	SHMDEV_FIELD_UINT = 2,	/* unsigned integer, 1, 2, 4 or 8 bytes */
	SHMDEV_FIELD_FLOAT = 3,	/* float, 4 bytes */
	SHMDEV_FIELD_DOUBLE = 4, /* double, 8 bytes */
	SHMDEV_FIELD_BYTES = 5,	/* char/byte array, any size */
	SHMDEV_FIELD_HANDLE = 6, /* shmdev_handle_t, 8 bytes */
};

#define SHMDEV_FIELD_NAME_MAX 48	/* bytes of a field name with its NUL */
#define SHMDEV_FIELDS_MAX 1024		/* fields of one type */

struct shmdev_field {
	const char *name;	/* 1 to 47 bytes, unique in the type */
	uint32_t kind;		/* enum shmdev_field_kind */
	uint32_t offset;	/* offsetof(T, name) */
	uint32_t size;		/* sizeof the member */
	const void *def;	/* NULL, or @size bytes a new field starts with */
};

/*
 * One line per field, from the struct itself, so that the description
 * cannot drift from it: SHMDEV_FIELD(Player, hp), SHMDEV_FIELD(Player,
 * pos.x), SHMDEV_FIELD(Player, name) (a char array: BYTES).  The kind comes
 * from the member's C type; a member that is not a primitive leaf gets
 * SHMDEV_FIELD_NONE, which the open refuses naming it (list its leaves, or
 * say SHMDEV_FIELD_AS(T, m, SHMDEV_FIELD_BYTES)).  Handles are u64 to C:
 * SHMDEV_FIELD_HANDLE_OF(T, m).  SHMDEV_FIELD_DEFAULT(T, m, &value): a new
 * field that starts at *value (sizeof(m) bytes) instead of zero.
 */
#define SHMDEV_FIELD_AS_DEF(T, m, k, d) \
	{ #m, (k), (uint32_t)offsetof(T, m), (uint32_t)sizeof(((T *)0)->m), (d) }
#define SHMDEV_FIELD_AS(T, m, k) SHMDEV_FIELD_AS_DEF(T, m, k, NULL)
#define SHMDEV_FIELD_HANDLE_OF(T, m) SHMDEV_FIELD_AS(T, m, SHMDEV_FIELD_HANDLE)
#ifndef __cplusplus
#define SHMDEV_FIELD_KIND_OF(x) _Generic((x), \
	char: SHMDEV_FIELD_INT, signed char: SHMDEV_FIELD_INT, short: SHMDEV_FIELD_INT, \
	int: SHMDEV_FIELD_INT, long: SHMDEV_FIELD_INT, long long: SHMDEV_FIELD_INT, \
	_Bool: SHMDEV_FIELD_UINT, unsigned char: SHMDEV_FIELD_UINT, \
	unsigned short: SHMDEV_FIELD_UINT, unsigned int: SHMDEV_FIELD_UINT, \
	unsigned long: SHMDEV_FIELD_UINT, unsigned long long: SHMDEV_FIELD_UINT, \
	float: SHMDEV_FIELD_FLOAT, double: SHMDEV_FIELD_DOUBLE, \
	char *: SHMDEV_FIELD_BYTES, signed char *: SHMDEV_FIELD_BYTES, \
	unsigned char *: SHMDEV_FIELD_BYTES, default: SHMDEV_FIELD_NONE)
#define SHMDEV_FIELD(T, m) SHMDEV_FIELD_AS(T, m, SHMDEV_FIELD_KIND_OF(((T *)0)->m))
#define SHMDEV_FIELD_DEFAULT(T, m, d) \
	SHMDEV_FIELD_AS_DEF(T, m, SHMDEV_FIELD_KIND_OF(((T *)0)->m), (d))
#endif

/*
 * A type's converter: called once per live object during a migration, after
 * the exact copies and defaults were made into @new_obj, with the object as
 * it was (@old_obj, read-only, the stored type's layout).  Non-zero stops
 * the migration: the open fails with -EINVAL naming the object, and nothing
 * of the migration is kept (the old layout stays whole).
 */
typedef int (*shmdev_convert_fn)(const void *old_obj, void *new_obj, void *data);

/* One object type, the seed's AddType. */
struct shmdev_type {
	uint16_t id;		/* 0 .. max_types-1, unique */
	const char *name;	/* up to 31 bytes, stored in the layout */
	uint32_t size;		/* object size in bytes */
	uint32_t align;		/* power of two, 0 means 8 */
	uint32_t version;	/* the user's schema version of the object */
	uint64_t max_count;	/* capacity; may be raised on resume */
	uint32_t flags;		/* SHMDEV_TYPE_* */
	/* Optional (issue 13): the type's fields; 0 keeps today's rules. */
	uint32_t nr_fields;
	const struct shmdev_field *fields;
	shmdev_convert_fn convert;	/* NULL, or the migration's converter */
	void *convert_data;		/* its @data */
	/*
	 * Optional: the stored type @convert reads (its @old_obj), by version
	 * and object size; 0 leaves that one unchecked.  A migration from
	 * another stored version or size is refused (-EINVAL naming both)
	 * before anything changes.  shmdev.hpp sets both from the old struct.
	 */
	uint32_t convert_from_version;
	uint32_t convert_from_size;
};

#define SHMDEV_POOL_RDONLY	(1U << 0) /* inspect a live pool: no lease, no writes */
#define SHMDEV_POOL_FIXED_ADDR	(1U << 1) /* map at the address used last time */
#define SHMDEV_POOL_THREADS	(1U << 2) /* several threads of the owner call at once */
/*
 * SHMDEV_POOL_THREADS: several threads of the owning process may call these
 * at once, on this pool: shmdev_alloc, alloc_raw, free, free_typed, get,
 * get_typed, get_fast, fast_init, handle_of, find (and find_fast, which
 * then calls find; find_fast_init), force_get, foreach,
 * pool_check, pool_type_stats, pool_block_stats, pool_stats, pool_start,
 * pool_handed_over, handle_type and handle_slot, and shmdev_errmsg() on the
 * pool's context.  Each thread has a cache of up to 64 free slots per
 * plain (not KEYED) type in the owner's private memory: alloc and free of
 * plain objects use it without a lock, and it takes or returns 32 slots at
 * a time under the type's lock.  Each type has a lock in the owner's
 * private memory (never in shared memory: the lease admits one process):
 * KEYED alloc and free, force_get, find and pool_type_stats take the
 * type's, pool_check every type's; get, get_typed, get_fast, handle_of and
 * foreach take none (they read a slot's tag with one atomic load, which
 * alloc and free write last).  Slots in a thread's cache are CACHED in
 * shared memory: counted with the live objects by the live count that a
 * read-only process's pool_type_stats reports and that pool_check
 * verifies (the owner's pool_type_stats leaves them out: exact while no
 * thread is inside alloc or free); a crash frees them at the next open,
 * and close returns them.  A thread's exit leaves its cache to the next
 * new thread; a type may report full (-ENOSPC) while other threads' caches
 * hold free slots (at most 64 per thread).  Of two threads that free one
 * handle at once, one frees it and the other gets -ESTALE.
 * Rules:
 *  - transactions (shmdev_tx_*, shmdev_alloc_publish) are refused on such
 *    a pool with -EOPNOTSUPP: one undo log per pool, not thread-safe yet;
 *  - everything else (the open and shmdev_pool_close/abandon, the context's
 *    ref/unref and setters, conf and region calls) runs while no other
 *    thread uses the pool or its context (nor exits after using it: an
 *    exit hands its cache on);
 *  - from the open on, every thread has its own message in the context:
 *    shmdev_errmsg() gives the calling thread's last failure (the opening
 *    thread keeps its message), valid until that thread's next call; the
 *    log function may be called by several threads at once (the default,
 *    stderr, may be);
 *  - objects are not locked: threads that use one object at once need
 *    their own synchronisation, and a pointer from get, find, force_get or
 *    foreach is valid until some thread frees the object (as malloc's);
 *    get and find see an object either before a concurrent alloc or free
 *    or after it, never half made;
 *  - foreach holds no lock: @fn may free the object it is given (or others);
 *    objects that other threads allocate or free during the walk may or may
 *    not be visited, and one just allocated may not be initialised yet;
 *  - not with SHMDEV_POOL_RDONLY (-EINVAL).
 * A kill -9 that stops several threads inside the library leaves at most
 * one change per thread half done (several on one type, from the caches);
 * the next open repairs them all (the repair rebuilds every type from its
 * slots, and frees the CACHED ones).  Without the flag nothing is locked,
 * nothing is cached and no call costs an instruction more.
 */

/*
 * Open the pool of the process selected in @conf: attach the BaseKey region
 * and the block regions, then cold-start (initialise the layout and carve
 * the types) or resume (validate the layout against @conf and @types, repair
 * after a crash).  An incompatible layout is refused with a message naming
 * the type, the field, the old and the new value; nothing is changed then.
 * Types in the layout that @types does not name are kept as they are.
 * The caller owns *pool: shmdev_pool_close().
 *
 * Resume rules: new types are appended (carved from free block space); a
 * raised max_count adds capacity in new space, as often as the blocks have
 * room (for a KEYED type whose max_count passes twice its index, a bigger
 * index is rebuilt, one pass over that type, and the old one's space is
 * reused); a lowered max_count, or a changed name, size, align, version or
 * flags, BlockSize, MaxTypeInfoNum, block key, or fewer blocks is refused.
 * A type described by fields (nr_fields) whose stored type is described
 * too is migrated instead when its size, align, version or fields changed
 * (see struct shmdev_field; -EINVAL naming type, field and kinds for a
 * change that needs a converter it lacks, -ENOSPC naming the bytes when the
 * new slots do not fit; nothing is changed then).
 * Blocks appended to BlockKeys are added.  The layout is described byte by
 * byte in libshmdev/layout.h.
 *
 * Blocks: every block region carries its pool's identity (drawn at the cold
 * start) and its index.  An existing pool whose block region is gone, or
 * holds another pool's block, another index's, or one from an earlier cold
 * start of the same keys, is refused with -EUCLEAN naming the block and its
 * key; it is never re-created empty (the region this open had to create is
 * removed again).  A cold start (and a block appended) takes clean blocks:
 * a region that survived from before is destroyed and created again, unless
 * it is a block of another pool that still exists (-EEXIST).
 *
 * A clean resume costs O(1) in the object count (a checksum of the layout
 * tables).  After a crash (the owner went without shmdev_pool_close()) the
 * free lists, counters and key indexes are rebuilt from the slots; see
 * shmdev_pool_stats().
 *
 * SHMDEV_POOL_RDONLY: no lease and no writes, @types may be NULL (the ones
 * given must match; a change is -EROFS); start is SHMDEV_START_RESUMED.
 * SHMDEV_POOL_FIXED_ADDR (or FixedAddress in the config): the base and the
 * blocks are mapped where the layout recorded them (recorded on first use),
 * -EEXIST naming the address if something else is mapped there.
 *
 * Errors: -EINVAL (bad argument or incompatible layout), -EUCLEAN (corrupt
 * layout, a missing or foreign block), -EPROTO (other layout version),
 * -ENOSPC (the blocks cannot hold the types; the message gives the free
 * space before the attempt), -EBUSY (another owner holds the pool), -ENOENT
 * (RDONLY and no pool), -EROFS, -EEXIST, and the region errors.
 *
 * Test hook: the environment variable SHMDEV_TEST_KILL_AT=N makes the owner
 * raise SIGKILL at the Nth crash point, counted from the start of this open
 * (=NAME: at the point called NAME, e.g. "commit:flipped"; =NAME#K: its Kth
 * time).  The points sit between the stores of the open (cold start, type
 * append, max_count raise), the repair after a crash, close, alloc, free,
 * force_get and the transaction calls (tx:*, and the rollback of an open).
 * SHMDEV_TEST_KILL_LOG=FD: the number and name of the point are written to
 * file descriptor FD first.  SHMDEV_TEST_KILL_THREADS=T with =NAME
 * (SHMDEV_POOL_THREADS): T threads stop at NAME and the Tth kills
 * (libshmdev/crash.h).  For crash-injection tests
 * (tests/lib/test_crashpoints.c, tests/lib/test_threads.c); inert when unset.
 */
int shmdev_pool_open(struct shmdev_ctx *ctx, const struct shmdev_conf *conf,
		     const struct shmdev_type *types, size_t nr_types,
		     unsigned int flags, struct shmdev_pool **pool);
/* Clean exit: mark the layout clean, detach the lease, unmap, free. */
int shmdev_pool_close(struct shmdev_pool *pool);
/* Unmap and free without the clean mark (what a crash looks like). */
void shmdev_pool_abandon(struct shmdev_pool *pool);
/* Destroy every region of the pool; the next open is a cold start. */
int shmdev_pool_destroy(struct shmdev_ctx *ctx, const struct shmdev_conf *conf);

enum shmdev_start shmdev_pool_start(const struct shmdev_pool *pool);
/*
 * True if the pool's base region came across a kernel live update (see
 * shmdev_region_handed_over()); the open then was a resume with every
 * check a resume makes (lease state, layout, repair after a crash).
 */
bool shmdev_pool_handed_over(const struct shmdev_pool *pool);

struct shmdev_pool_stats {
	enum shmdev_start start;
	uint64_t start_time_ns;		/* cold start time, kept across resumes */
	uint64_t generation;		/* owner attaches of the base region */
	uint64_t repaired_objects;	/* live objects found by the last repair */
	uint64_t repair_ns;		/* time the last repair took, 0 if none */
	uint64_t open_ns;		/* time shmdev_pool_open took */
	uint64_t migrated_objects;	/* live objects the open migrated (issue 13) */
	uint64_t migrated_bytes;	/* their bytes in the old layout */
	uint64_t migrate_ns;		/* time the copy and conversion took */
};
void shmdev_pool_stats(const struct shmdev_pool *pool, struct shmdev_pool_stats *st);

struct shmdev_type_stats {
	uint16_t id;
	char name[32];
	uint32_t size, align, version;
	uint64_t max_count;
	/*
	 * Read-only attach to a SHMDEV_POOL_THREADS owner: with the free
	 * slots held in its thread caches (at most 64 per thread).
	 */
	uint64_t live_count;
	uint64_t retired_count;		/* slots whose generations are used up */
};
/* -ENOENT if the type is not in the layout. */
int shmdev_pool_type_stats(const struct shmdev_pool *pool, uint16_t type,
			   struct shmdev_type_stats *st);

/* A field of a type's stored table (issue 13), as shmdev_pool_type_field() gives it. */
struct shmdev_field_info {
	char name[SHMDEV_FIELD_NAME_MAX];
	uint32_t kind;			/* enum shmdev_field_kind */
	uint32_t offset, size;
};
/*
 * The @index-th field (by offset) of @type's table in the layout.  Walk
 * from 0 until -ENOENT (past the last field, or a type without fields:
 * a normal end, message but no log line; also a type not in the layout).
 * -EAGAIN if the layout changed since a read-only open.  -EINVAL on NULL.
 */
int shmdev_pool_type_field(const struct shmdev_pool *pool, uint16_t type, uint32_t index,
			   struct shmdev_field_info *fi);
/* "int", "uint", "float", "double", "bytes", "handle", "none" or "unknown". */
const char *shmdev_field_kind_name(uint32_t kind);

/*
 * One entry of the BlockBase table.  A block starts with its 64-byte
 * identity header, then types are carved upwards: used_bytes (the header,
 * slot chunks, key indexes, chunk arrays and the alignment padding between
 * them) and free_bytes, the room left for new types and raised max_counts
 * (at the block's end, and in extents a raise gave back).  used_bytes +
 * free_bytes == size.
 */
struct shmdev_block_stats {
	uint32_t index;			/* position in BlockKeys (config order) */
	uint64_t key;			/* the block's region key */
	uint64_t size;			/* BlockSize: the bytes the layout carves */
	uint64_t used_bytes;		/* carved and in use */
	uint64_t free_bytes;		/* size - used_bytes */
};

/*
 * Fill @st (the caller's memory) for the @index-th block of the layout,
 * counting from 0 in BlockKeys order; blocks appended to BlockKeys are
 * there once an owner has opened the pool with them.  Walk from 0 until
 * -ENOENT: past the last block is a normal end, so it sets
 * shmdev_errmsg() but logs nothing.  -EINVAL if @pool or @st is NULL.
 */
int shmdev_pool_block_stats(const struct shmdev_pool *pool, uint32_t index,
			    struct shmdev_block_stats *st);

/*
 * Allocate a zeroed object (GetFree*). -ENOSPC when the type is full.  On a
 * KEYED type the object has no key and is not in the index.
 */
int shmdev_alloc(struct shmdev_pool *pool, uint16_t type, void **obj,
		 shmdev_handle_t *handle);
/*
 * The same, but the object is NOT zeroed: it holds whatever the slot's
 * previous object left (zeros if the slot was never used), as malloc's
 * memory does.  For callers that initialise every field themselves; it
 * saves the clearing (a memset of the object size per allocation).  Crash
 * consistency is the same as shmdev_alloc's, except that an object whose
 * allocation was interrupted by a crash after its commit holds those old
 * bytes rather than zeros.
 */
int shmdev_alloc_raw(struct shmdev_pool *pool, uint16_t type, void **obj,
		     shmdev_handle_t *handle);
/* The object, or NULL if @handle is stale, freed or malformed (Get*). O(1). */
void *shmdev_get(const struct shmdev_pool *pool, shmdev_handle_t handle);
/* Free* ; -ESTALE if @handle no longer names a live object. */
int shmdev_free(struct shmdev_pool *pool, shmdev_handle_t handle);
/*
 * The type a handle was made for (its id), and its slot.  Pure functions of
 * the handle, no pool needed; SHMDEV_HANDLE_NONE gives 0 and 0.
 */
uint16_t shmdev_handle_type(shmdev_handle_t handle);
uint32_t shmdev_handle_slot(shmdev_handle_t handle);
/*
 * Typed Get* and Free*: as shmdev_get() and shmdev_free(), for a handle that
 * must name an object of @type.  A handle of another type gives NULL, and
 * -EINVAL (naming both types) from shmdev_free_typed(), which frees
 * nothing.  Use these where the type is known: a Player handle stored where
 * an Item is expected is then caught, not resolved.
 */
void *shmdev_get_typed(const struct shmdev_pool *pool, uint16_t type,
		       shmdev_handle_t handle);
int shmdev_free_typed(struct shmdev_pool *pool, uint16_t type,
		      shmdev_handle_t handle);
/*
 * Inline Get*: shmdev_get_fast() resolves a handle of one type in the
 * caller's code, without a call: a bounds check (which also rejects a
 * handle of another type), a load of the slot's tag, a compare with the
 * handle's generation and an add.  It gives exactly what shmdev_get_typed()
 * gives (the same object, or NULL for a stale, freed, retired, forged or
 * other-type handle, SHMDEV_HANDLE_NONE included); a slot it cannot reach
 * inline (past the type's first chunk, after a max_count raise) goes to
 * shmdev_get_typed().
 *
 * struct shmdev_fast is filled by shmdev_fast_init() and read only by
 * shmdev_get_fast(); it is part of the ABI, versioned by SHMDEV_FAST_ABI
 * (the library refuses another version with -EPROTO naming both).  ABI 1:
 *   handle  = type << 52 | slot << 24 | generation   (12, 28, 24 bits)
 *   slot n of the type's first chunk: its object at base + n * stride, for
 *           n < bound (bound < 2^28)
 *   tag     = the u32 at object - tag_back, written last (release) by alloc
 *           and free: state | generation << 8, state 1 (LIVE) or
 *           2 (LIVE_KEYED) for a live object; generation 0 is never live
 * The struct is valid while @pool is open (a zeroed one sends every handle
 * to shmdev_get_typed() on a NULL pool: NULL).  Like shmdev_get() it reads
 * shared memory only, so a read-only pool works the same.
 */
#define SHMDEV_FAST_ABI 1
struct shmdev_fast {
	uint32_t abi;			/* SHMDEV_FAST_ABI of the filler */
	uint16_t type;			/* the type id */
	uint16_t reserved;
	uint64_t hid;			/* type << 52 */
	uintptr_t base;			/* object of slot 0 */
	uint64_t stride;		/* bytes from one slot to the next */
	uint64_t bound;			/* slots [0, bound) are at base + n * stride */
	uint64_t tag_back;		/* the tag is at object - tag_back */
	const struct shmdev_pool *pool;	/* for the slots past bound */
};

/*
 * Fill @fast for @type of @pool.  -EINVAL (NULL argument), -ENOENT (type
 * not in the layout), -EPROTO (@abi is not this library's SHMDEV_FAST_ABI,
 * or @size is not its struct's); on failure @fast is left as it was.  Call
 * it through shmdev_fast_init(), which passes the header's version.
 */
int shmdev_fast_init_abi(const struct shmdev_pool *pool, uint16_t type, uint32_t abi,
			 size_t size, struct shmdev_fast *fast);
#define shmdev_fast_init(pool, type, fast) \
	shmdev_fast_init_abi((pool), (type), SHMDEV_FAST_ABI, sizeof(struct shmdev_fast), (fast))

static inline void *shmdev_get_fast(const struct shmdev_fast *fast, shmdev_handle_t handle)
{
	uint64_t slot;
	/* generation << 8, as the tag holds it: the handle's top bits fall off */
	uint32_t gen8 = (uint32_t)handle << 8, tag;
	char *obj;

	/* Free where @fast is a variable's address: the compiler drops it. */
	if (__builtin_expect(!fast, 0))
		return (void *)0;
	/* The slot if the type matches; 2^28 or more if not. */
	slot = (handle ^ fast->hid) >> 24;
	if (__builtin_expect(slot >= fast->bound, 0))
		return shmdev_get_typed(fast->pool, fast->type, handle);
	obj = (char *)fast->base + slot * fast->stride;
	tag = __atomic_load_n((const uint32_t *)(obj - fast->tag_back), __ATOMIC_ACQUIRE);
	/* Live (state 1 or 2) with this generation, which is never 0. */
	if (__builtin_expect(((tag ^ gen8) - 1 > 1) | !gen8, 0))
		return (void *)0;
	/* Never NULL here: the caller's own NULL test folds away. */
	if (!obj)
		__builtin_unreachable();
	return obj;
}

/*
 * The handle of a live object from its address (the address alloc/get
 * returned, not one inside the object), or SHMDEV_HANDLE_NONE.
 */
shmdev_handle_t shmdev_handle_of(const struct shmdev_pool *pool, const void *obj);

/*
 * ForceGetObj on a KEYED type: the live object whose user key is @key, or a
 * new zeroed one registered under @key.  *created tells which (may be NULL).
 * Any 64-bit key, 0 included.  A new object is entered into the type's key
 * index where the search for @key ended (no second search).
 */
int shmdev_force_get(struct shmdev_pool *pool, uint16_t type, uint64_t key,
		     void **obj, shmdev_handle_t *handle, bool *created);
/* The live object under @key of a KEYED type, or NULL. */
void *shmdev_find(const struct shmdev_pool *pool, uint16_t type, uint64_t key,
		  shmdev_handle_t *handle);

/*
 * Inline find: shmdev_find_fast() looks @key up in a KEYED type's key index
 * in the caller's code, without a call, as shmdev_get_fast() does for
 * handles.  It gives exactly what shmdev_find() gives (the same object and
 * handle, or NULL); what it cannot do inline goes to shmdev_find() itself:
 *  - a pool opened with SHMDEV_POOL_THREADS: shmdev_find() takes the
 *    type's lock there (another thread's free may shift entries under an
 *    unlocked probe), so every find of such a pool is the library call;
 *  - an entry naming a slot past the type's first chunk (after a
 *    max_count raise), or past its capacity (a damaged index);
 *  - an index with no empty entry (damaged).
 * Without SHMDEV_POOL_THREADS no other thread of the process may call the
 * pool at the same time (the library's rule), so no writer of this process
 * runs during the probe; on a SHMDEV_POOL_RDONLY pool the owner (another
 * process) may write meanwhile, with what shmdev_find() gives in that case.
 *
 * struct shmdev_find_fast is filled by shmdev_find_fast_init() and read
 * only by shmdev_find_fast(); it is part of the ABI, versioned by
 * SHMDEV_FIND_FAST_ABI (another version is refused with -EPROTO).  ABI 1
 * (layout version 3, libshmdev/pool_index.h):
 *   h       = key * 0x9e3779b97f4a7c15 (mod 2^64)
 *   index   = mask + 1 (a power of two) u32 entries, 0 empty, else
 *             fingerprint << 28 | (slot + 1); h >> fp_shift (fp_shift =
 *             60 - log2(mask + 1)) = home << 4 | fingerprint; linear
 *             probing from the home, no probe run crosses an empty entry
 *   slot n  = its 16-byte header at slots + n * stride, for n < bound:
 *             u64 key at +0, u32 tag at +8 (state | generation << 8, state
 *             2 = LIVE_KEYED), the object at + obj_offset
 *   handle  = hid | slot << 24 | generation
 * The struct is valid while @pool is open (a zeroed one finds nothing).
 */
#define SHMDEV_FIND_FAST_ABI 1
struct shmdev_find_fast {
	uint32_t abi;			/* SHMDEV_FIND_FAST_ABI of the filler */
	uint16_t type;			/* the type id */
	uint16_t reserved;
	const uint32_t *index;		/* NULL: every find is shmdev_find() */
	uint32_t mask;			/* entries - 1 */
	uint32_t fp_shift;		/* h >> fp_shift = home << 4 | fingerprint */
	uint64_t hid;			/* type << 52 */
	uintptr_t slots;		/* header of slot 0 */
	uint64_t stride;		/* bytes from one slot to the next */
	uint64_t bound;			/* slots [0, bound) are at slots + n * stride */
	uint64_t obj_offset;		/* the object at header + obj_offset */
	const struct shmdev_pool *pool;	/* for what is not done inline */
};

/*
 * Fill @ff for KEYED @type of @pool.  -EINVAL (NULL argument, or a type
 * that is not KEYED), -ENOENT (type not in the layout), -EPROTO (@abi or
 * @size is not this library's); on failure @ff is left as it was.  Call it
 * through shmdev_find_fast_init(), which passes the header's version.
 */
int shmdev_find_fast_init_abi(const struct shmdev_pool *pool, uint16_t type, uint32_t abi,
			      size_t size, struct shmdev_find_fast *ff);
#define shmdev_find_fast_init(pool, type, ff) \
	shmdev_find_fast_init_abi((pool), (type), SHMDEV_FIND_FAST_ABI, \
				  sizeof(struct shmdev_find_fast), (ff))

static inline void *shmdev_find_fast(const struct shmdev_find_fast *ff, uint64_t key,
				     shmdev_handle_t *handle)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL, slot;
	uint32_t mask, i, fp, n, e, tag;
	const uint32_t *ix;
	uintptr_t hdr;

	/* Free where @ff is a variable's address: the compiler drops it. */
	if (__builtin_expect(!ff, 0))
		return (void *)0;
	ix = ff->index;
	if (__builtin_expect(!ix, 0))
		return ff->pool ? shmdev_find(ff->pool, ff->type, key, handle) : (void *)0;
	mask = ff->mask;
	h >>= ff->fp_shift;
	i = (uint32_t)(h >> 4);
	fp = (uint32_t)h << 28;
	/* mask + 1 entries at most: a damaged index (none empty) ends too. */
	for (n = mask;; n--, i = (i + 1) & mask) {
		e = __atomic_load_n(&ix[i], __ATOMIC_RELAXED);
		if (!e)
			return (void *)0;
		if (!((e ^ fp) >> 28)) {
			slot = (uint32_t)((e & 0x0fffffffU) - 1);
			if (__builtin_expect(slot >= ff->bound, 0))
				break;
			hdr = ff->slots + slot * ff->stride;
			tag = __atomic_load_n((const uint32_t *)(hdr + 8), __ATOMIC_ACQUIRE);
			if (__builtin_expect((tag & 0xff) == 2 && *(const uint64_t *)hdr == key, 1)) {
				if (handle)
					*handle = ff->hid | slot << 24 | tag >> 8;
				hdr += ff->obj_offset;
				/* Never NULL here: the caller's own NULL test folds away. */
				if (!hdr)
					__builtin_unreachable();
				return (void *)hdr;
			}
		}
		if (!n)
			break;
	}
	/* A slot past bound, or no empty entry: the library's answer. */
	return shmdev_find(ff->pool, ff->type, key, handle);
}

/*
 * Process*: call @fn for every live object of @type in slot order.  A
 * non-zero return stops the walk and is returned.  @fn may free the object
 * it is given, and nothing else.
 */
int shmdev_foreach(struct shmdev_pool *pool, uint16_t type,
		   int (*fn)(void *obj, shmdev_handle_t handle, void *data),
		   void *data);

/*
 * Full consistency check of the layout, every block's identity and every
 * type's slots and indexes.
 * Returns 0, or -EUCLEAN with the first problem in shmdev_errmsg().
 * On a SHMDEV_POOL_RDONLY pool whose owner runs, each type is checked
 * between two reads of its change count and read again (up to 64 times)
 * while it changes: a problem is reported only from a read that nothing
 * changed under.  An owner that keeps changing it gives -EAGAIN, "pool is
 * live (owner pid N): ... changed during each of 64 reads; consistency not
 * checked", never a false -EUCLEAN; so does a layout that changed since
 * the read-only open ("attach again").
 */
int shmdev_pool_check(struct shmdev_pool *pool);

/* ---- transactions: crash-atomic updates of several objects ------------ */

/*
 * A transaction makes several changes one step: after a crash (the owner
 * killed at any instruction) the next owner open finds either all of them
 * or none.  It is an undo log in the pool's shared memory (TxLogSize in
 * memorypool.ini, default 64K, fixed when the base region is created):
 *
 *   shmdev_tx_begin(pool);
 *   shmdev_tx_add(pool, &a->gold, sizeof(a->gold));   snapshot, then write
 *   shmdev_tx_add(pool, b, sizeof(*b));
 *   a->gold -= 10; b->gold += 10;
 *   shmdev_tx_alloc(pool, ITEM, &obj, &h);             freed if not committed
 *   shmdev_tx_free(pool, old);                         freed at the commit
 *   shmdev_tx_commit(pool);                            or shmdev_tx_abort()
 *
 * - add(ptr, len) copies the range into the log before the caller writes
 *   it; the range must lie inside one live object of the pool (bytes of
 *   its object, not the slot header).  Writes to a range not added are not
 *   undone.  Adding a range twice is allowed (the first copy wins).
 * - tx_alloc: a zeroed object, as shmdev_alloc(); an abort, or a crash
 *   before the commit, frees it.  tx_free: the handle must name a live
 *   object; it is freed only at the commit (until then it resolves as
 *   before), and not at all if the transaction aborts or dies.
 * - commit: one store makes the transaction durable; then the frees are
 *   applied (a crash among them: the next open finishes them).  Its cost
 *   does not depend on the bytes logged (O(1) plus one free per tx_free).
 * - abort: the ranges are copied back (last added first), the allocations
 *   freed.  O(log size).
 * - After a crash the next owner open, before anything else (before the
 *   repair of the derived data, before it returns), rolls back a
 *   transaction that had not committed, or finishes the frees of one that
 *   had; shmdev_pool_tx_stats() says what it did.  An open whose types
 *   would migrate (field descriptions) is refused with -EAGAIN while such
 *   a transaction is still to be rolled back: the snapshots name the
 *   objects' old places; an open with the stored types rolls it back
 *   first.  shmdev_pool_close() aborts an open transaction (logged at
 *   LOG_WARNING).
 *
 * Errors never end the transaction: it stays open and abortable.  begin:
 * -EBUSY if one is open already (no nesting), -ENOSPC if the pool has no
 * log (TxLogSize = 0, or a pool created before transactions), -EROFS.
 * add: -EINVAL naming the address and length (NULL, outside the pool,
 * across objects or into a slot header, or a freed object), -ENOSPC naming
 * the bytes used, needed and TxLogSize when the log is full.  alloc and free
 * as shmdev_alloc()/shmdev_free(), -ENOSPC when the log is full, and
 * -EINVAL for a handle freed twice in one transaction.  Every tx call but
 * begin gives -ENOENT ("no transaction") when none is open.
 * Plain shmdev_alloc()/shmdev_free() inside a transaction are not part of
 * it (not undone); use the tx_ variants.  One transaction per pool at a
 * time, in the thread that uses the pool.
 */
int shmdev_tx_begin(struct shmdev_pool *pool);
int shmdev_tx_add(struct shmdev_pool *pool, const void *ptr, size_t len);
int shmdev_tx_alloc(struct shmdev_pool *pool, uint16_t type, void **obj,
		    shmdev_handle_t *handle);
int shmdev_tx_free(struct shmdev_pool *pool, shmdev_handle_t handle);
int shmdev_tx_commit(struct shmdev_pool *pool);
int shmdev_tx_abort(struct shmdev_pool *pool);
/* Whether a transaction is open on @pool. */
bool shmdev_tx_active(const struct shmdev_pool *pool);

/*
 * Atomic publish (PMDK's allocation into a destination): allocate a zeroed
 * object of @type, let @init fill it (may be NULL; a non-zero return
 * cancels everything and is returned), and store its handle into *@dest,
 * a field inside another live object of the pool, as one step: after a
 * crash either the object exists and *@dest names it, or neither happened
 * (*@dest holds its old value).  Inside an open transaction it joins it
 * (undone with it); otherwise it is a transaction of its own.  @obj and
 * @handle may be NULL.  Errors: those of the tx calls.
 */
int shmdev_alloc_publish(struct shmdev_pool *pool, uint16_t type, shmdev_handle_t *dest,
			 int (*init)(void *obj, shmdev_handle_t handle, void *arg),
			 void *arg, void **obj, shmdev_handle_t *handle);

struct shmdev_tx_stats {
	uint64_t log_size;		/* bytes of the undo log, 0 if none */
	uint64_t log_used;		/* bytes the open transaction logged */
	bool active;			/* a transaction is open (or, read-only:
					 * the owner has one open now) */
	uint64_t commits;		/* since the cold start */
	uint64_t aborts;		/* shmdev_tx_abort() and aborts by close */
	/* Done by owner opens after crashes, since the cold start: */
	uint64_t rolled_back;		/* transactions rolled back */
	uint64_t rolled_back_bytes;	/* bytes of ranges they restored */
	uint64_t rolled_back_allocs;	/* allocations they freed */
	uint64_t finished;		/* committed ones whose frees they applied */
	/* The same, by this pool handle's open only: */
	uint64_t open_rolled_back;
	uint64_t open_rolled_back_bytes;
	uint64_t open_rolled_back_allocs;
	uint64_t open_finished;
};
/* -EINVAL for NULL arguments; a pool without a log fills zeros. */
int shmdev_pool_tx_stats(const struct shmdev_pool *pool, struct shmdev_tx_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SHMDEV_H */
