// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Enumerated crash points of every path that changes the layout.
 *
 * The library names a crash point between each two stores that matter
 * (libshmdev/crash.h: SHMDEV_TEST_KILL_AT=N kills the owner at the Nth
 * point from the start of its open, SHMDEV_TEST_KILL_LOG=FD says which
 * point it was).  For each path P below and for N = 1, 2, ... until a child
 * runs P to its end without reaching point N:
 *
 *  1. build the "before" state from nothing: a pool with objects (plain and
 *     KEYED, contents the parent knows), some of them freed and reused;
 *  2. fork a child that runs P (an owner open with P's types, then a clean
 *     close) and dies at point N;
 *  3. inspect read-only: the layout (types, max_count, sizes, names, bytes
 *     carved from each block) is exactly the old one or exactly the new one
 *     (a cold start may also show "absent" or "initialised, no types"),
 *     every object from before resolves by handle with its contents;
 *     shmdev_pool_check() and the key lookups pass, or the pool is left
 *     for the repair (then the next owner open must report a crash);
 *  4. odd N: open as owner with no types (repair only): the start kind is
 *     the one the point allows (clean before the child took the pool and
 *     after its last detach, crash otherwise), shmdev_pool_check() passes,
 *     the layout is the one step 3 saw, every object is intact, every key
 *     finds its object (find and force_get), no key twice, the live counts
 *     match; close.  Even N skip this step: step 5 repairs and changes the
 *     layout in one open, as a restarted server would;
 *  5. run P again in the parent: it completes, the layout is exactly the
 *     new one, and the checks of step 4 pass again; then every Plain slot
 *     never used (generation 1) reads as zeroes (alloc_raw until full).
 *
 * Paths: cold start (from nothing), type append (a plain and a KEYED type
 * added by a later open), block append (a block key added to the config
 * and a type carved from it: a region created by a resume), max_count
 * raise (a plain and a KEYED type raised across blocks), close (a clean
 * resume and its close), a cold start over surviving blocks (a pool with
 * objects whose base region alone was removed: each block is destroyed,
 * created again and given its header before the magic; its old handles
 * never resolve), a migration (issue 13: both types described, grown from
 * 32 to 48 bytes with a new field, a converter for a uint -> int field,
 * Keyed raised and its index rebuilt: a kill before the table switch,
 * in the converter too, leaves the old layout whole and the next open
 * migrates again), a max_count raise past the 15 chunks of a type entry
 * (14 raises before it leave Plain with 15 chunks and a hole where
 * Keyed's first index was: the raise zeroes the hole, copies the chunks
 * into an array in a block and appends to it under the "changing" flag),
 * and the repair itself: a child killed inside
 * alloc or free leaves the pool dirty (six kinds of damage: a live key
 * missing from the index, a freed slot off the free list, stale free
 * counts, a plain slot popped from its free list and not used, a keyed
 * free killed inside the backward shift of its index entry, a keyed slot
 * popped and not used),
 * then the repairing owner is killed at each point, then a third open
 * must repair fully.  Each path prints one line: its number of points, the
 * steps they are, and that all passed; each must reach the steps listed in
 * its "must" set, so a point that disappears fails the suite.
 *
 * test_changing_flag adds what the enumeration cannot see: after a raise
 * killed once its chunk array is in a block's free space, a different
 * change carving that space must zero it.
 *
 * 440 points in all today (cold start 28, type append 19, block append
 * 21, raise 25, close 13, cold start over surviving blocks 34, raise into
 * a chunk array 23, migration 61, repair 6 x 36).  Runs on the POSIX backend on the host
 * (plain, ASan+UBSan, valgrind) and on the device backend in every VM
 * round; under SHMDEV_TEST_QUICK (valgrind) the repair runs after two
 * kinds of damage only (the first and the last), 296 points.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "testutil.h"

#define MAXID		8
#define NBLOCKS		4	/* 3 before, one more for "block append" */
#define MAX_MODEL	64
#define MAX_POINTS	2000
#define STAMP		0xc4a5b0b0c4a5b0b0ULL
#define BLOCK_HDR	64	/* the identity header at each block's start */

struct obj {
	uint64_t stamp;		/* STAMP ^ handle */
	uint64_t handle;
	uint64_t key;
	uint64_t pad;
};

#define T_PLAIN	1
#define T_KEYED	2

static const struct shmdev_type t_old[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 10 },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 10,
	  .flags = SHMDEV_TYPE_KEYED },
};

static const struct shmdev_type t_append[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 10 },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 10,
	  .flags = SHMDEV_TYPE_KEYED },
	{ .id = 3, .name = "Extra", .size = 24, .max_count = 40 },
	{ .id = 5, .name = "ExtraKeyed", .size = 48, .max_count = 30, .flags = SHMDEV_TYPE_KEYED },
};

/* 4 KiB blocks: the raised types take new chunks, some in other blocks. */
static const struct shmdev_type t_raise[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 100 },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 100,
	  .flags = SHMDEV_TYPE_KEYED },
};

/* After PREP_CHUNKS (Plain 24 in 15 chunks, Keyed 33): one chunk more. */
static const struct shmdev_type t_chunks[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 25 },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 33,
	  .flags = SHMDEV_TYPE_KEYED },
};

/* A block key appended to the config, and a type that needs it. */
static const struct shmdev_type t_blocks[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = 10 },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = 10,
	  .flags = SHMDEV_TYPE_KEYED },
	{ .id = 4, .name = "Far", .size = 200, .max_count = 60 },
};

#include "crashpoints_migrate.h"

/* What the before state has besides objects. */
enum prep {
	PREP_NONE,
	PREP_DROP_BASE,		/* a cold start: only the base region was removed */
	PREP_CHUNKS,		/* 14 raises: Plain has 15 chunks, a hole where Keyed's index was */
	PREP_DESCRIBED,		/* built with t_described: field tables stored */
};

struct path {
	const char *name;
	bool cold;			/* no "before" pool (or no base: PREP_DROP_BASE) */
	bool more_blocks;		/* P's config has one more block key */
	const char *churn;		/* before: a child killed at this point */
	bool churn_freed;		/* ... after its free committed */
	const struct shmdev_type *types;	/* what P opens with */
	size_t nr_types;
	const char *must[12];		/* steps P must reach */
	enum prep prep;
};

static const struct path paths[] = {
	{ "cold start", true, false, NULL, false, t_old, 2,
	  { "open:start", "open:base", "init:zeroed", "open:block", "open:block-hdr",
	    "init:magic", "open:epoch", "commit:flipped", "close:marked-clean" }, PREP_NONE },
	{ "type append", false, false, NULL, false, t_append, 4,
	  { "open:epoch", "open:hot-cleared", "commit:copied", "commit:checksummed",
	    "commit:flipped", "index:cleared", "open:done", "close:base-detached" }, PREP_NONE },
	{ "block append", false, true, NULL, false, t_blocks, 3,
	  { "open:block", "open:block-hdr", "open:epoch", "commit:copied", "commit:checksummed",
	    "commit:flipped", "open:done", "close:block-detached", "close:base-detached" }, PREP_NONE },
	{ "max_count raise", false, false, NULL, false, t_raise, 2,
	  { "commit:seq", "commit:flipped", "index:cleared", "index:slot", "open:done" }, PREP_NONE },
	{ "close", false, false, NULL, false, t_old, 2,
	  { "open:epoch", "open:done", "close:start", "close:marked-clean",
	    "close:block-detached", "close:base-detached" }, PREP_NONE },
	/* The blocks of a pool whose base is gone are taken over clean. */
	{ "cold start over surviving blocks", true, false, NULL, false, t_old, 2,
	  { "open:block", "open:block-destroyed", "open:block-recreated", "open:block-hdr",
	    "init:magic", "commit:flipped", "close:marked-clean" }, PREP_DROP_BASE },
	/* A raise past the 15 chunks of a type entry, its first chunk in a hole. */
	{ "max_count raise (chunk array, hole)", false, false, NULL, false, t_chunks, 2,
	  { "open:changing-set", "plan:zeroed", "plan:xchunk-copied", "plan:xchunk-written",
	    "commit:flipped", "open:changing-cleared", "open:done" }, PREP_CHUNKS },
	/* Issue 13: both types migrated (grown, a converter, Keyed raised, its index rebuilt). */
	{ "migration", false, false, NULL, false, t_migrate, 2,
	  { "open:changing-set", "plan:fields-written", "migrate:type", "migrate:slot",
	    "migrate:convert", "migrate:done", "commit:flipped", "open:changing-cleared",
	    "index:cleared", "open:done" }, PREP_DESCRIBED },
#define REPAIR_MUST { "open:epoch", "rebuild:index-cleared", "rebuild:slot", "rebuild:free-list", \
		      "rebuild:counts", "repair:done", "close:marked-clean" }
	/* The repair of each kind of damage a kill inside alloc or free leaves. */
	{ "repair (index misses a live key)", false, false, "free:unlinked", false, t_old, 2, REPAIR_MUST, PREP_NONE },
	{ "repair (freed slot off the free list)", false, false, "free:committed", true, t_old, 2, REPAIR_MUST, PREP_NONE },
	{ "repair (free counts stale)", false, false, "free:listed", true, t_old, 2, REPAIR_MUST, PREP_NONE },
	{ "repair (plain slot popped, not used)", false, false, "alloc:taken", false, t_old, 2, REPAIR_MUST, PREP_NONE },
	/* The keyed free killed inside the backward shift of its index entry (churn_key). */
	{ "repair (index shift half done)", false, false, "free:index-shifted", false, t_old, 2, REPAIR_MUST, PREP_NONE },
	{ "repair (keyed slot popped, not used)", false, false, "alloc:taken#2", false, t_old, 2, REPAIR_MUST, PREP_NONE },
};
#define NR_PATHS (sizeof(paths) / sizeof(paths[0]))

struct mobj {
	uint16_t type;
	uint64_t handle;
	uint64_t key;
};

struct model {
	size_t n;
	struct mobj o[MAX_MODEL];
	size_t nr_stale;
	uint64_t stale[MAX_MODEL];	/* handles of a pool gone: they never resolve */
};

/* What a layout is, as the public API shows it. */
struct snap {
	bool present[MAXID];
	uint64_t max_count[MAXID];
	uint32_t size[MAXID];
	char name[MAXID][32];
	uint64_t used[NBLOCKS];
};

enum seen { S_ABSENT, S_EMPTY, S_OLD, S_NEW };
static const char *const seen_name[] = { "absent", "initialised, no types", "old", "new" };

static struct shmdev_ctx *ctx;
static struct shmdev_conf *conf;	/* 3 blocks */
/*
 * The key the churn child creates: one whose home in Keyed's index (32
 * entries for max_count 10: libshmdev/pool_index.h) is key 1000's, so that
 * the churn's free of key 1000 shifts it back ("free:index-shifted").
 */
static uint64_t churn_key;
static struct shmdev_conf *conf4;	/* the same and a 4th block key */

/* Shared with the churn child (MAP_SHARED before fork). */
struct churn_page {
	uint64_t plain;
	uint64_t keyed;
};

static struct shmdev_conf *mkconf(unsigned int nr_blocks)
{
	struct shmdev_conf *c = NULL;
	char text[1024], keys[256] = "";
	size_t len = 0;
	unsigned int i;

	for (i = 1; i <= nr_blocks; i++)
		len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s0x%" PRIx64,
					i > 1 ? ", " : "", tu_key(i));
	snprintf(text, sizeof(text), "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 4K\nBlockKeys = %s\n",
		 tu_key(0), keys);
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "crashpoints.ini", "zone", &c) == 0,
		      "%s", shmdev_errmsg(ctx));
	return c;
}

static void stamp(void *obj, shmdev_handle_t h, uint64_t key)
{
	struct obj *o = obj;

	o->stamp = STAMP ^ h;
	o->handle = h;
	o->key = key;
}

static void model_add(struct model *m, uint16_t type, uint64_t handle, uint64_t key)
{
	ck_assert_uint_lt(m->n, MAX_MODEL);
	m->o[m->n++] = (struct mobj){ type, handle, key };
}

static void model_del(struct model *m, size_t i)
{
	m->o[i] = m->o[--m->n];
}

static size_t model_count(const struct model *m, uint16_t type)
{
	size_t i, n = 0;

	for (i = 0; i < m->n; i++)
		n += m->o[i].type == type;
	return n;
}

static struct shmdev_pool *owner_open(const struct shmdev_conf *c,
				      const struct shmdev_type *types, size_t nr)
{
	struct shmdev_pool *pool = NULL;

	ck_assert_msg(shmdev_pool_open(ctx, c, types, nr, 0, &pool) == 0, "owner open: %s",
		      shmdev_errmsg(ctx));
	return pool;
}

/* ---- children ------------------------------------------------------------ */

struct child_arg {
	const struct shmdev_conf *conf;
	const char *kill_at;		/* SHMDEV_TEST_KILL_AT, or NULL */
	int log_fd;
	const struct shmdev_type *types;
	size_t nr_types;
	struct churn_page *churn;	/* the churn child: NULL for P */
	const struct model *m;
};

static void arm(const struct child_arg *a)
{
	char fd[16];

	unsetenv("SHMDEV_TEST_KILL_AT");
	unsetenv("SHMDEV_TEST_KILL_LOG");
	if (!a->kill_at)
		return;
	setenv("SHMDEV_TEST_KILL_AT", a->kill_at, 1);
	snprintf(fd, sizeof(fd), "%d", a->log_fd);
	setenv("SHMDEV_TEST_KILL_LOG", fd, 1);
}

/* P: an owner open with P's types, then a clean close. */
static int child_path(void *varg)
{
	const struct child_arg *a = varg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	int ret = 0;

	arm(a);
	if (shmdev_pool_open(c, a->conf, a->types, a->nr_types, 0, &pool)) {
		fprintf(stderr, "P: open: %s\n", shmdev_errmsg(c));
		ret = 10;
	} else if (shmdev_pool_close(pool)) {
		fprintf(stderr, "P: close: %s\n", shmdev_errmsg(c));
		ret = 11;
	}
	shmdev_ctx_unref(c);
	return ret;
}

/*
 * Before a repair path: a plain alloc (from the free list), a KEYED create
 * (from the free list) and the free of a KEYED object from before, one of
 * them killed at the path's point; the pool is left dirty, its derived
 * data (free lists, counts, hash index) wrong in the way of that point.
 * A handle reaches the shared page only once its object is stamped.
 */
static int child_churn(void *varg)
{
	const struct child_arg *a = varg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t h;
	void *obj;
	bool created;
	size_t i;

	arm(a);
	if (shmdev_pool_open(c, a->conf, a->types, a->nr_types, 0, &pool))
		return 20;
	if (shmdev_alloc(pool, T_PLAIN, &obj, &h))
		return 21;
	stamp(obj, h, 0);
	a->churn->plain = h;
	if (shmdev_force_get(pool, T_KEYED, churn_key, &obj, &h, &created) || !created)
		return 22;
	stamp(obj, h, churn_key);
	a->churn->keyed = h;
	for (i = 0; i < a->m->n; i++)
		if (a->m->o[i].type == T_KEYED)
			break;
	if (i == a->m->n || shmdev_free(pool, a->m->o[i].handle))
		return 23;
	return 24;	/* the hook did not fire */
}

/* Run @fn with the hook at @kill_at; the point it died at goes to @point. */
static int run_child(int (*fn)(void *), struct child_arg *a, const char *kill_at,
		     char *point, size_t len)
{
	int fds[2], status;
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	a->kill_at = kill_at;
	a->log_fd = fds[1];
	status = tu_run_in_child(fn, a);
	close(fds[1]);
	n = read(fds[0], point, len - 1);
	point[n > 0 ? n : 0] = '\0';
	if (n > 0 && point[n - 1] == '\n')
		point[n - 1] = '\0';
	close(fds[0]);
	return status;
}

/* ---- the before state ------------------------------------------------------ */

static void destroy_pool(void)
{
	int err = shmdev_pool_destroy(ctx, conf4);

	ck_assert_msg(err == 0 || err == -ENOENT, "destroy: %s", shmdev_errmsg(ctx));
}

static void build_before(const struct path *p, struct model *m, struct churn_page *cp)
{
	struct shmdev_pool *pool;
	shmdev_handle_t h;
	void *obj;
	bool created;
	size_t i;

	destroy_pool();
	m->n = 0;
	m->nr_stale = 0;
	if (p->cold && p->prep != PREP_DROP_BASE)
		return;
	pool = owner_open(conf, p->prep == PREP_DESCRIBED ? t_described : t_old, 2);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_CREATED);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_PLAIN, &obj, &h), 0);
		stamp(obj, h, 0);
		model_add(m, T_PLAIN, h, 0);
		ck_assert_int_eq(shmdev_force_get(pool, T_KEYED, 1000 + 7 * i, &obj, &h, &created), 0);
		ck_assert(created);
		stamp(obj, h, 1000 + 7 * i);
		model_add(m, T_KEYED, h, 1000 + 7 * i);
	}
	/*
	 * Free lists and reused slots (new generations) in the state too: two
	 * plain and two keyed objects freed, one plain slot used again.
	 */
	for (i = 0; i < 4; i++) {
		static const size_t gone[] = { 2, 4, 7, 9 };	/* P1 P2 K3 K4 */
		size_t k = gone[i];

		ck_assert_uint_eq(m->o[k].type, i < 2 ? T_PLAIN : T_KEYED);
		ck_assert_int_eq(shmdev_free(pool, m->o[k].handle), 0);
		m->o[k].handle = 0;
	}
	for (i = 0; i < m->n;)
		if (m->o[i].handle)
			i++;
		else
			model_del(m, i);
	ck_assert_int_eq(shmdev_alloc(pool, T_PLAIN, &obj, &h), 0);
	stamp(obj, h, 0);
	model_add(m, T_PLAIN, h, 0);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	if (p->prep == PREP_DROP_BASE) {
		/* The base goes, the blocks with their objects stay. */
		ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), tu_key(0)), 0);
		for (i = 0; i < m->n; i++)
			m->stale[m->nr_stale++] = m->o[i].handle;
		m->n = 0;
	}
	for (i = 1; p->prep == PREP_CHUNKS && i <= 14; i++) {
		/*
		 * Each raise carves one Plain and one Keyed chunk after the
		 * other: Plain's chunks never merge.  The last raise passes
		 * twice Keyed's 16 buckets: a new index, the old one a hole.
		 */
		struct shmdev_type t[2] = { t_old[0], t_old[1] };

		t[0].max_count = 10 + i;
		t[1].max_count = i == 14 ? 33 : 10 + i;
		pool = owner_open(conf, t, 2);
		ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}
	if (p->churn) {
		struct child_arg a = { .conf = conf, .types = t_old, .nr_types = 2, .churn = cp, .m = m };
		char point[96], name[64];
		int st;

		memset(cp, 0, sizeof(*cp));
		st = run_child(child_churn, &a, p->churn, point, sizeof(point));
		ck_assert_msg(st == 1000 + SIGKILL, "churn child: status %d", st);
		snprintf(name, sizeof(name), "%s", p->churn);
		name[strcspn(name, "#")] = '\0';
		ck_assert_msg(strchr(point, ' ') && !strcmp(strchr(point, ' ') + 1, name),
			      "churn child died at \"%s\", not at %s", point, p->churn);
		if (p->churn_freed) {
			for (i = 0; i < m->n && m->o[i].type != T_KEYED; i++)
				;
			model_del(m, i);
		}
		if (cp->plain)
			model_add(m, T_PLAIN, cp->plain, 0);
		if (cp->keyed)
			model_add(m, T_KEYED, cp->keyed, churn_key);
	}
}

/* ---- inspection: the checks after each kill --------------------------------- */

#include "crashpoints_inspect.h"

static void run_path(const struct path *p, struct result *r)
{
	struct churn_page *cp;
	struct model *m = calloc(1, sizeof(*m));
	struct snap old, new, s;
	struct shmdev_pool *pool;
	const struct shmdev_conf *pconf = p->more_blocks ? conf4 : conf;
	struct child_arg a = { .conf = pconf, .types = p->types, .nr_types = p->nr_types };
	char point[128], where[256], num[24], why[160];
	unsigned int n, i, j;
	int st;

	ck_assert_ptr_nonnull(m);
	cp = mmap(NULL, sizeof(*cp), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(cp, MAP_FAILED);
	memset(r, 0, sizeof(*r));

	/* Reference: the layout before, and after P runs to its end. */
	build_before(p, m, cp);
	memset(&old, 0, sizeof(old));
	if (!p->cold) {
		ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
		take_snap(pool, &old);
		shmdev_pool_close(pool);
	}
	st = run_child(child_path, &a, NULL, point, sizeof(point));
	ck_assert_msg(st == 0, "%s: P without the hook: status %d", p->name, st);
	pool = owner_open(pconf, p->types, p->nr_types);
	take_snap(pool, &new);
	check_owner_view(pool, m, p->name);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_msg(p->cold || !snap_eq(&old, &new) || p->churn || !strcmp(p->name, "close"),
		      "%s: P does not change the layout", p->name);
	if (p->more_blocks)
		ck_assert_msg(old.used[3] == UINT64_MAX && new.used[3] && new.used[3] != UINT64_MAX,
			      "%s: the new block is not used", p->name);

	for (n = 1; n < MAX_POINTS; n++) {
		enum seen ro;
		bool pending = false;
		const char *name;

		build_before(p, m, cp);
		snprintf(num, sizeof(num), "%u", n);
		st = run_child(child_path, &a, num, point, sizeof(point));
		if (st == 0) {
			/* P ran to its end before point n: the new layout, everything kept. */
			ck_assert_str_eq(point, "");
			pool = owner_open(pconf, p->types, p->nr_types);
			take_snap(pool, &s);
			ck_assert_msg(snap_eq(&s, &new), "%s: P's end is not the reference layout", p->name);
			check_owner_view(pool, m, p->name);
			check_fresh(pool, p->name);
			ck_assert_int_eq(shmdev_pool_close(pool), 0);
			break;
		}
		ck_assert_msg(st == 1000 + SIGKILL, "%s: point %u: child status %d", p->name, n, st);
		ck_assert_msg(strtoul(point, NULL, 10) == n && strchr(point, ' '),
			      "%s: point %u: the hook logged \"%s\"", p->name, n, point);
		name = strchr(point, ' ') + 1;
		snprintf(r->names[n - 1], sizeof(r->names[0]), "%s", name);
		snprintf(where, sizeof(where), "%s: killed at point %u \"%s\"", p->name, n, name);

		/* 3. Read-only inspection. */
		pool = NULL;
		st = ro_open(p, pconf, &pool);
		if (st) {
			struct shmdev_region_info info;

			/*
			 * A cold start that died before its base region (ENOENT)
			 * or before its magic (ENODATA: never initialised):
			 * absent.  The magic is written after the last block's
			 * header, so a sealed layout with a block missing is never
			 * a state a cold start leaves.
			 */
			ck_assert_msg(p->cold && (st == -ENODATA ||
						  (st == -ENOENT && shmdev_region_stat(ctx, tu_backend(), tu_key(0), &info))),
				      "%s: read-only open: %s", where, shmdev_errmsg(ctx));
			ro = S_ABSENT;
			snap_zero(&s);
		} else {
			take_snap(pool, &s);
			ro = classify(&s, &old, p->cold, &new);
			ck_assert_msg(ro != S_ABSENT, "%s: the layout is neither the old nor the new one", where);
			for (i = 0; i < m->n; i++)
				ck_assert_msg(obj_ok(pool, &m->o[i]),
					      "%s: read-only: object 0x%016" PRIx64 " is lost or changed",
					      where, m->o[i].handle);
			if (shmdev_pool_check(pool) || !keys_ok(pool, m, why, sizeof(why)))
				pending = true;
			shmdev_pool_close(pool);
		}
		r->repair_pending += pending;
		r->seen[ro]++;

		/* 4. The repairing owner, changing nothing (odd points). */
		if (n % 2) {
			struct snap after;

			/* With the config of the layout it finds: P's once P committed. */
			pool = owner_open(ro == S_NEW ? pconf : conf, NULL, 0);
			check_start(p, pool, ro, name, where, m, pending);
			take_snap(pool, &after);
			if (ro == S_ABSENT)
				ck_assert_msg(snap_empty(&after), "%s: a cold start from nothing has types", where);
			else
				ck_assert_msg(snap_eq(&after, &s), "%s: the repair changed the layout", where);
			check_owner_view(pool, m, where);
			ck_assert_int_eq(shmdev_pool_close(pool), 0);
		}

		/* 5. P again, to its end: the new layout. */
		pool = owner_open(pconf, p->types, p->nr_types);
		if (n % 2 == 0)
			check_start(p, pool, ro, name, where, m, pending);
		take_snap(pool, &s);
		ck_assert_msg(snap_eq(&s, &new), "%s: P run again does not give the new layout", where);
		check_owner_view(pool, m, where);
		check_fresh(pool, where);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}
	r->points = n - 1;
	ck_assert_msg(n < MAX_POINTS, "%s: more than %u points", p->name, MAX_POINTS);
	for (j = 0; j < sizeof(p->must) / sizeof(p->must[0]) && p->must[j]; j++) {
		for (i = 0; i < r->points; i++)
			if (!strcmp(r->names[i], p->must[j]))
				break;
		ck_assert_msg(i < r->points, "%s: P never reached the point \"%s\"", p->name, p->must[j]);
	}
	destroy_pool();
	munmap(cp, sizeof(*cp));
	free(m);
}

/* "open:start open:base init:... rebuild:slot x9 ...": the steps in order, repeats folded. */
static void print_result(const struct path *p, const struct result *r)
{
	char line[4096];
	size_t len = 0;
	unsigned int i, k;

	line[0] = '\0';
	for (i = 0; i < 4; i++)
		if (r->seen[i])
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %u",
						len ? ", " : " (states left:", seen_name[i], r->seen[i]);
	len += (size_t)snprintf(line + len, sizeof(line) - len, ");");
	for (i = 0; i < r->points; i = k) {
		for (k = i + 1; k < r->points && !strcmp(r->names[k], r->names[i]); k++)
			;
		if (len < sizeof(line) - 64) {
			if (k - i > 1)
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %s x%u", r->names[i], k - i);
			else
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", r->names[i]);
		}
	}
	printf("crashpoints: %s: %u crash points, all passed%s (read-only view left to the repair: %u)\n",
	       p->name, r->points, line, r->repair_pending);
	fflush(stdout);
}

static void test_path(unsigned int i)
{
	struct result *r;

	/* valgrind (SHMDEV_TEST_QUICK): the repair after two kinds of damage, not five. */
	if (tu_quick() && paths[i].churn && i != NR_PATHS - 1 && paths[i - 1].churn) {
		printf("crashpoints: %s: skipped under SHMDEV_TEST_QUICK\n", paths[i].name);
		return;
	}
	r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	conf = mkconf(3);
	conf4 = mkconf(4);
	run_path(&paths[i], r);
	print_result(&paths[i], r);
	shmdev_conf_free(conf);
	shmdev_conf_free(conf4);
	conf = conf4 = NULL;
	free(r);
}

START_TEST(test_path_points)
{
	test_path((unsigned int)_i);
}
END_TEST

/*
 * The hook's own contract: a number or a name (#K: its Kth time) picks the
 * point, the log names it, a value that is neither leaves the hook inert,
 * and a read-only open is never killed.
 */
START_TEST(test_hook_syntax)
{
	static const struct {
		const char *at;
		int status;
		const char *logged;
	} cases[] = {
		{ "1", 1000 + SIGKILL, "1 open:start" },
		{ "open:block#3", 1000 + SIGKILL, "10 open:block" },	/* after 5 init: points (the magic comes after the blocks) */
		{ "open:base", 1000 + SIGKILL, "2 open:base" },
		{ "open:block-hdr#2", 1000 + SIGKILL, "12 open:block-hdr" },	/* each block's header, before the magic */
		{ "init:magic", 1000 + SIGKILL, "14 init:magic" },
		{ "commit:flipped", 1000 + SIGKILL, NULL },	/* cold start: its 20th point */
		{ "12x", 0, "" },
		{ "0", 0, "" },
		{ "no:such-point", 0, "" },
		{ "open:block#0", 0, "" },
	};
	struct child_arg a = { .types = t_old, .nr_types = 2 };
	struct shmdev_pool *pool = NULL;
	char point[128];
	size_t i;
	int st;

	conf = mkconf(3);
	conf4 = mkconf(4);
	a.conf = conf;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		destroy_pool();
		st = run_child(child_path, &a, cases[i].at, point, sizeof(point));
		ck_assert_msg(st == cases[i].status, "SHMDEV_TEST_KILL_AT=%s: status %d", cases[i].at, st);
		if (cases[i].logged)
			ck_assert_str_eq(point, cases[i].logged);
		else
			ck_assert_ptr_nonnull(strstr(point, " commit:flipped"));
	}
	/* Armed in the environment, a read-only open is not an owner: no kill. */
	setenv("SHMDEV_TEST_KILL_AT", "1", 1);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	unsetenv("SHMDEV_TEST_KILL_AT");
	destroy_pool();
	shmdev_conf_free(conf);
	shmdev_conf_free(conf4);
	conf = conf4 = NULL;
}
END_TEST

/*
 * A raise killed after it wrote its chunk array into a block's free space
 * (above the high mark, not committed): the space is not as created any
 * more, and the header's "changing" flag says so.  The next change that
 * carves that space for something else must zero it: a type appended over
 * all the free space reads as zeroes.  (The enumeration above cannot see
 * this: P run again puts the same array at the same place.)
 */
START_TEST(test_changing_flag)
{
	const struct path *p = NULL;
	struct model *m = calloc(1, sizeof(*m));
	struct child_arg a = { .types = t_chunks, .nr_types = 2 };
	struct shmdev_type filler = { .id = 3, .name = "Filler", .size = 8 };
	struct shmdev_block_stats bs;
	struct shmdev_pool *pool = NULL;
	static const unsigned char zero[8];
	uint64_t free_bytes = 0, n = 0;
	shmdev_handle_t h;
	char point[128];
	void *obj;
	uint32_t i;
	int st, err = -ENOSPC;

	ck_assert_ptr_nonnull(m);
	for (i = 0; i < NR_PATHS; i++)
		if (paths[i].prep == PREP_CHUNKS)
			p = &paths[i];
	ck_assert_ptr_nonnull(p);
	conf = mkconf(3);
	conf4 = mkconf(4);
	a.conf = conf;
	build_before(p, m, NULL);
	st = run_child(child_path, &a, "plan:xchunk-written", point, sizeof(point));
	ck_assert_msg(st == 1000 + SIGKILL && strstr(point, " plan:xchunk-written"),
		      "child status %d, point \"%s\"", st, point);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
	for (i = 0; shmdev_pool_block_stats(pool, i, &bs) == 0; i++)
		free_bytes += bs.free_bytes;
	shmdev_pool_close(pool);
	/* As many 24-byte slots as fit (what is lost to alignment: tried down). */
	for (n = free_bytes / 24; n > 0 && err == -ENOSPC; n--) {
		filler.max_count = n;
		err = shmdev_pool_open(ctx, conf, &filler, 1, 0, &pool);
	}
	ck_assert_msg(err == 0 && n + 1 + 8 > free_bytes / 24, "filler: %s (%" PRIu64 " slots)",
		      shmdev_errmsg(ctx), n + 1);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CRASH);
	check_owner_view(pool, m, "after the killed raise");
	for (n = 0; shmdev_alloc_raw(pool, 3, &obj, &h) == 0; n++)
		ck_assert_msg(!memcmp(obj, zero, sizeof(zero)),
			      "Filler slot %" PRIu32 ", carved over the dead raise's chunk array, does not read as zeroes",
			      shmdev_handle_slot(h));
	ck_assert_uint_eq(n, filler.max_count);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	destroy_pool();
	shmdev_conf_free(conf);
	shmdev_conf_free(conf4);
	conf = conf4 = NULL;
	free(m);
}
END_TEST

static void setup(void)
{
	/* Killed by a timeout, the runner takes this test process along. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ctx = tu_ctx();
	for (churn_key = 5000; (churn_key * 0x9e3779b97f4a7c15ULL) >> 59 != (1000 * 0x9e3779b97f4a7c15ULL) >> 59;)
		churn_key++;
	unsetenv("SHMDEV_TEST_KILL_AT");
	unsetenv("SHMDEV_TEST_KILL_LOG");
}

static void teardown(void)
{
	ctx = shmdev_ctx_unref(ctx);
}

static void cleanup_regions(void)
{
	tu_destroy_all();
}

int main(void)
{
	Suite *s = suite_create("crashpoints");
	TCase *tc = tcase_create("enumerated");
	SRunner *sr;
	int failed;

	tu_init("crashpoints");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_regions);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_hook_syntax);
	tcase_add_test(tc, test_changing_flag);
	tcase_add_loop_test(tc, test_path_points, 0, (int)NR_PATHS);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_destroy_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
