// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * campaign_migrate: kill -9 the owner during migrations on resume, restart
 * it, and check after every kill that nothing was lost (issue 13, item 5).
 *
 *   campaign_migrate [--restarts N] [--cold-every N] [--max-seconds S] [--seed N]
 *                    [--verbose]
 *
 * The world (one pool, process "mig"): KEYED Units (key = the unit's id)
 * and plain Items, both described field by field, in three builds:
 *   v1  Unit {id, u32 hp, float speed, target, sum}            32 bytes
 *       Item {id, u16 kind, char name[12], owner, sum}         40 bytes
 *   v2  every field moved; hp u64, speed double (exact widenings), xp new
 *       (default 5); Item: kind u32, name[24], extra new (default 9)
 *   v3  Unit: hp i64 (the converter: u64 -> i64 is not exact), level new
 *       (the converter computes it); Item: extra dropped, weight new (the
 *       converter computes it), fields moved again
 *   v3 -> v1 back: hp i64 -> u32, speed double -> float, Item kind u32 ->
 *       u16 and name 24 -> 12 bytes are narrowings: the v1 converters; xp,
 *       level and weight dropped
 * Units 1..16 are anchors (never freed); other units target an anchor (a
 * handle, or none), items are owned by one (a handle).  Every object holds
 * a checksum of its id and hp.
 *
 * Each round a "server" child (fork) opens the pool with the next build
 * (v1 -> v2 -> v3 -> v1 ...): the open migrates every object.  It is
 * killed with SIGKILL by the library at a random crash point of the
 * migration (SHMDEV_TEST_KILL_AT=migrate:slot#K, migrate:convert#K,
 * migrate:type#K, plan:fields-written, migrate:done, commit:flipped, ...,
 * or the Nth point of the open), or after a random delay (in the open or
 * after it).  Then this program opens the pool read-only to learn the
 * stored build (both types must be in the same one: the old one, or the
 * new one; the old one whole if the kill came before the commit, the new
 * one if it came after the open), opens it as owner with that build (the
 * repair runs, no migration) and checks against its own record of the
 * world (this program is the only writer, and it is never killed):
 *   - shmdev_pool_check();
 *   - every Unit and Item present exactly once, under the handle it had
 *     when it was made (slots and generations carried over), with every
 *     field as the build it ended in gives it (converted values, defaults,
 *     the converters' computed fields, names), its checksum right;
 *   - every unit found by its key (shmdev_find), every target and owner
 *     handle naming the right anchor;
 *   - the live counts are the record's.
 * After the check it changes the world a little in that build (frees,
 * allocations, hp changes), so that holes, reused slots and new
 * generations migrate too.  One round in 40 starts a new world
 * (--cold-every N; 0: never).
 *
 * A violation is counted (the first few printed) and the world started
 * anew.  Exit status 0 only if there was no violation and every restart
 * ran.  The last line gives the figures and the seed; SHMPOOL_TEST_SEED=N
 * replays the plan.  In the VM (SHMPOOL_VM set, no arguments): 200
 * restarts (SHMPOOL_CAMPAIGN_RESTARTS).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "campaign_common.h"

#define NANCHOR		16
#define NUNITS		150
#define NITEMS		300
#define VM_RESTARTS	200
#define PROG		"campaign_migrate"
#define BLOCK_BYTES	(1U << 20)	/* BlockSize, the one block */
#define SHMDEV_LAYOUT_BLOCK_HDR_BYTES 64	/* the block's header (layout.h) */
#define SERVER_NOSPC	40	/* the server's exit status for -ENOSPC */

/* The three builds: structs, fields, converters, expected values. */
#include "campaign_migrate_types.h"

/* ---- the record of the world (this program's) ----------------------------- */

struct rec {
	uint64_t hp;		/* units */
	uint64_t ref;		/* a unit's target, an item's owner: an anchor id, 0 none */
	shmdev_handle_t h;
	bool live, seen;
};

struct campaign {
	uint64_t restarts, max_seconds, seed, rng, cold_every;
	bool verbose;
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	int build;			/* the stored build, 0..2; -1: no world */
	struct rec *units, *items;	/* by id - 1 */
	uint64_t nr_units, nr_items, cap_units, cap_items, live_units, live_items;
	uint64_t kills, lib_kills, late_kills, timed_kills, in_migration, timed_in_open, kept_old, completed;
	uint64_t cold, ran_out, violations, checks, objects_checked;
	uint64_t free_bytes;		/* the block's, at the last check */
	uint64_t nospc;			/* migrations refused for room */
	uint64_t world_migrations;	/* completed since the world began */
};

static struct rec *rec_new(struct rec **v, uint64_t *nr, uint64_t *cap)
{
	if (*nr == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v) {
			perror("realloc");
			exit(2);
		}
	}
	memset(&(*v)[*nr], 0, sizeof(**v));
	return &(*v)[(*nr)++];
}

/*
 * The most block space build @b's types need beside the old ones (layout.h:
 * slots of a 16-byte header plus the object at 8-byte alignment, a key
 * index of a power of two of 4-byte entries at least twice max_count, a
 * field table of 32 + 64 bytes a field), plus 64 bytes of alignment for
 * each extent.
 */
static uint64_t room_needed(int b)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		const struct shmdev_type *t = &builds[b][i];
		uint64_t idx = 16;

		sum += t->max_count * ((16 + t->size + 7) / 8 * 8) + 32 + 64ULL * t->nr_fields + 3 * 64;
		while (idx < 2 * t->max_count)
			idx <<= 1;
		if (t->flags & SHMDEV_TYPE_KEYED)
			sum += 4 * idx;
	}
	return sum;
}

/* ---- the server (child) ---------------------------------------------------- */

static int server(struct campaign *c, int b, const char *kill_at, int log_fd, int ready_fd)
{
	struct shmdev_pool *pool;
	struct shmdev_ctx *ctx = NULL;
	char fd[16];
	int err;

	if (kill_at) {
		setenv("SHMDEV_TEST_KILL_AT", kill_at, 1);
		snprintf(fd, sizeof(fd), "%d", log_fd);
		setenv("SHMDEV_TEST_KILL_LOG", fd, 1);
	}
	if (shmdev_ctx_new(&ctx))
		return 30;
	/* This program reports what matters (a refusal for room is counted). */
	shmdev_set_log_priority(ctx, 2);
	err = shmdev_pool_open(ctx, c->conf, builds[b], 2, 0, &pool);
	if (err == -ENOSPC)
		return SERVER_NOSPC;	/* refused before anything changed: checked so */
	if (err) {
		fprintf(stderr, "server: open with v%d: %s\n", b + 1, shmdev_errmsg(ctx));
		return 31;
	}
	if (write(ready_fd, "o", 1) != 1)
		return 32;
	for (;;)
		pause();
}

/* ---- the checks (this program, after every kill) --------------------------- */

struct check {
	struct campaign *c;
	struct shmdev_pool *pool;
	int b;
	uint64_t units, items;
	struct campaign_verdict v;
};

#define violation(k, ...) campaign_violation(&(k)->v, __VA_ARGS__)

static shmdev_handle_t anchor(struct campaign *c, uint64_t id)
{
	return id ? c->units[id - 1].h : 0;
}

static int check_unit(void *obj, shmdev_handle_t h, void *data)
{
	struct check *k = data;
	struct campaign *c = k->c;
	struct uview v;
	struct rec *r;
	shmdev_handle_t hk = 0;

	k->units++;
	unit_read(k->b, obj, &v);
	if (!v.id || v.id > c->nr_units || !c->units[v.id - 1].live) {
		violation(k, "v%d: a unit with id %" PRIu64 " (handle 0x%016" PRIx64 ") that the world does not have",
			  k->b + 1, v.id, h);
		return 0;
	}
	r = &c->units[v.id - 1];
	if (r->seen)
		violation(k, "v%d: unit %" PRIu64 " twice", k->b + 1, v.id);
	r->seen = true;
	if (h != r->h)
		violation(k, "v%d: unit %" PRIu64 " under handle 0x%016" PRIx64 ", made as 0x%016" PRIx64,
			  k->b + 1, v.id, h, r->h);
	if (v.hp != r->hp || v.sum != sum_of(v.id, r->hp))
		violation(k, "v%d: unit %" PRIu64 " hp %" PRIu64 " sum 0x%" PRIx64 ", expected hp %" PRIu64,
			  k->b + 1, v.id, v.hp, v.sum, r->hp);
	if (v.speed != speed_of(v.id))
		violation(k, "v%d: unit %" PRIu64 " speed %g, expected %g", k->b + 1, v.id, v.speed, speed_of(v.id));
	if (v.target != anchor(c, r->ref))
		violation(k, "v%d: unit %" PRIu64 " targets 0x%016" PRIx64 ", expected anchor %" PRIu64,
			  k->b + 1, v.id, v.target, r->ref);
	if (k->b >= 1 && v.xp != xp_default)
		violation(k, "v%d: unit %" PRIu64 " xp %u, expected the default %u", k->b + 1, v.id, v.xp, xp_default);
	if (k->b == 2 && v.level != level_of(v.id))
		violation(k, "v3: unit %" PRIu64 " level %u, the converter gives %u", v.id, v.level, level_of(v.id));
	if (shmdev_find(k->pool, T_UNIT, v.id, &hk) != obj || hk != h)
		violation(k, "v%d: unit %" PRIu64 " not found under its key", k->b + 1, v.id);
	return 0;
}

static int check_item(void *obj, shmdev_handle_t h, void *data)
{
	struct check *k = data;
	struct campaign *c = k->c;
	struct iview v;
	struct rec *r;
	char name[32];

	k->items++;
	item_read(k->b, obj, &v);
	if (!v.id || v.id > c->nr_items || !c->items[v.id - 1].live) {
		violation(k, "v%d: an item with id %" PRIu64 " (handle 0x%016" PRIx64 ") that the world does not have",
			  k->b + 1, v.id, h);
		return 0;
	}
	r = &c->items[v.id - 1];
	if (r->seen)
		violation(k, "v%d: item %" PRIu64 " twice", k->b + 1, v.id);
	r->seen = true;
	item_name(v.id, name, sizeof(name));
	if (h != r->h)
		violation(k, "v%d: item %" PRIu64 " under handle 0x%016" PRIx64 ", made as 0x%016" PRIx64,
			  k->b + 1, v.id, h, r->h);
	if (v.sum != sum_of(v.id, 0) || v.kind != kind_of(v.id) || strcmp(v.name, name))
		violation(k, "v%d: item %" PRIu64 " kind %u name \"%.24s\" sum 0x%" PRIx64 ": not as made",
			  k->b + 1, v.id, v.kind, v.name, v.sum);
	if (v.owner != anchor(c, r->ref) || !shmdev_get_typed(k->pool, T_UNIT, v.owner))
		violation(k, "v%d: item %" PRIu64 " owned by 0x%016" PRIx64 ", expected anchor %" PRIu64,
			  k->b + 1, v.id, v.owner, r->ref);
	if (k->b == 1 && v.extra != extra_default)
		violation(k, "v2: item %" PRIu64 " extra %" PRIu64 ", expected the default", v.id, v.extra);
	if (k->b == 2 && v.weight != weight_of(v.id))
		violation(k, "v3: item %" PRIu64 " weight %g, the converter gives %g", v.id, v.weight, weight_of(v.id));
	return 0;
}

/* The build both stored types are in, -1 if none (no pool), -2 if they disagree. */
static int stored_build(struct campaign *c, char *why, size_t len)
{
	struct shmdev_type_stats su, si;
	struct shmdev_pool *ro;
	int err;

	err = shmdev_pool_open(c->ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &ro);
	if (err == -ENOENT)
		return -1;
	if (err) {
		fprintf(stderr, PROG ": read-only open after a kill: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
	err = shmdev_pool_type_stats(ro, T_UNIT, &su) || shmdev_pool_type_stats(ro, T_ITEM, &si);
	shmdev_pool_close(ro);
	if (err)
		return -1;
	if (su.version != si.version || su.version < 1 || su.version > 3 ||
	    su.size != builds[su.version - 1][0].size || si.size != builds[si.version - 1][1].size) {
		snprintf(why, len, "stored Unit v%u (%u bytes), Item v%u (%u bytes): not one build",
			 su.version, su.size, si.version, si.size);
		return -2;
	}
	return (int)su.version - 1;
}

static void open_owner(struct campaign *c, int b, struct shmdev_pool **pool)
{
	if (shmdev_pool_open(c->ctx, c->conf, builds[b], 2, 0, pool)) {
		fprintf(stderr, PROG ": open with v%d: %s\n", b + 1, shmdev_errmsg(c->ctx));
		exit(2);
	}
}

/* Make a unit (anchors have no target) or an item in build @b. */
static bool make_unit(struct campaign *c, struct shmdev_pool *pool, int b)
{
	struct rec *r;
	uint64_t id = c->nr_units + 1;
	bool created;
	void *obj;

	if (c->live_units >= UNIT_MAX)
		return false;
	r = rec_new(&c->units, &c->nr_units, &c->cap_units);
	r->hp = 100 + rnd(&c->rng) % 100000;
	r->ref = id > NANCHOR && rnd(&c->rng) % 4 ? 1 + rnd(&c->rng) % NANCHOR : 0;
	if (shmdev_force_get(pool, T_UNIT, id, &obj, &r->h, &created) || !created) {
		fprintf(stderr, PROG ": force_get unit %" PRIu64 ": %s\n", id, shmdev_errmsg(c->ctx));
		exit(2);
	}
	unit_write(b, obj, id, r->hp, anchor(c, r->ref));
	r->live = true;
	c->live_units++;
	return true;
}

static bool make_item(struct campaign *c, struct shmdev_pool *pool, int b)
{
	struct rec *r;
	void *obj;

	if (c->live_items >= ITEM_MAX)
		return false;
	r = rec_new(&c->items, &c->nr_items, &c->cap_items);
	r->ref = 1 + rnd(&c->rng) % NANCHOR;
	if (shmdev_alloc(pool, T_ITEM, &obj, &r->h)) {
		fprintf(stderr, PROG ": alloc item: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
	item_write(b, obj, c->nr_items, anchor(c, r->ref));
	r->live = true;
	c->live_items++;
	return true;
}

/* A live record at random (not an anchor unit), or NULL. */
static struct rec *pick(struct campaign *c, struct rec *v, uint64_t nr, uint64_t first)
{
	uint64_t i, start;

	if (nr <= first)
		return NULL;
	start = first + rnd(&c->rng) % (nr - first);
	for (i = 0; i < nr - first; i++) {
		struct rec *r = &v[first + (start - first + i) % (nr - first)];

		if (r->live)
			return r;
	}
	return NULL;
}

/* Change the world a little in build @b: frees, new objects, hp. */
static void churn(struct campaign *c, struct shmdev_pool *pool, int b)
{
	unsigned int i, n = 1 + (unsigned int)(rnd(&c->rng) % 6);

	for (i = 0; i < n; i++) {
		struct rec *r = pick(c, c->items, c->nr_items, 0);
		struct rec *u = pick(c, c->units, c->nr_units, NANCHOR);

		if (r && !shmdev_free_typed(pool, T_ITEM, r->h))
			r->live = false, c->live_items--;
		if (u && rnd(&c->rng) % 2 && !shmdev_free_typed(pool, T_UNIT, u->h))
			u->live = false, c->live_units--;
		if (u && u->live) {
			void *obj = shmdev_get_typed(pool, T_UNIT, u->h);

			u->hp = 100 + rnd(&c->rng) % 100000;
			unit_write(b, obj, (uint64_t)(u - c->units) + 1, u->hp, anchor(c, u->ref));
		}
	}
	for (i = 0; i < n; i++) {
		make_item(c, pool, b);
		if (c->live_units < NUNITS + NANCHOR)
			make_unit(c, pool, b);
	}
}

/* A new world in build @b (no kill here: the campaign is about migrations). */
static void populate(struct campaign *c, int b)
{
	struct shmdev_pool *pool;
	unsigned int i;

	campaign_destroy(PROG, c->ctx, c->conf);
	c->nr_units = c->nr_items = c->live_units = c->live_items = 0;
	open_owner(c, b, &pool);
	for (i = 0; i < NANCHOR + NUNITS; i++)
		make_unit(c, pool, b);
	for (i = 0; i < NITEMS; i++)
		make_item(c, pool, b);
	if (shmdev_pool_close(pool)) {
		fprintf(stderr, PROG ": close: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
	c->build = b;
	c->world_migrations = 0;
	c->cold++;
}

/*
 * After a kill of a server that opened with build @target over build
 * c->build: the stored build must be one of them (the old one if
 * @must_old, the new one if @must_new), and the world whole in it.
 */
static bool check_world(struct campaign *c, int target, bool must_old, bool must_new, const char *where)
{
	struct check k = { .c = c };
	struct shmdev_type_stats ts;
	struct shmdev_pool_stats ps;
	int from = c->build;
	uint64_t i;

	c->checks++;
	k.b = stored_build(c, k.v.why, sizeof(k.v.why));
	if (k.b == -2) {
		k.v.bad = true;
	} else if (k.b == -1) {
		violation(&k, "the pool is gone");
	} else if (k.b != c->build && k.b != target) {
		violation(&k, "stored v%d after a migration from v%d to v%d", k.b + 1, c->build + 1, target + 1);
	} else if (must_old && k.b != c->build) {
		violation(&k, "killed at %s, before the commit, but the layout is the new v%d", where, k.b + 1);
	} else if (must_new && k.b != target) {
		violation(&k, "killed after the open returned, but the layout is still v%d", k.b + 1);
	}
	if (k.v.bad)
		goto out;
	if (k.b == c->build)
		c->kept_old++;
	else
		c->completed++, c->world_migrations++;
	c->build = k.b;
	open_owner(c, k.b, &k.pool);
	shmdev_pool_stats(k.pool, &ps);
	if (ps.migrated_objects)
		violation(&k, "the check's open in the stored build v%d migrated %" PRIu64 " objects", k.b + 1,
			  ps.migrated_objects);
	if (shmdev_pool_check(k.pool))
		violation(&k, "pool check: %s", shmdev_errmsg(c->ctx));
	for (i = 0; i < c->nr_units; i++)
		c->units[i].seen = false;
	for (i = 0; i < c->nr_items; i++)
		c->items[i].seen = false;
	shmdev_foreach(k.pool, T_UNIT, check_unit, &k);
	shmdev_foreach(k.pool, T_ITEM, check_item, &k);
	for (i = 0; i < c->nr_units; i++)
		if (c->units[i].live && !c->units[i].seen)
			violation(&k, "v%d: unit %" PRIu64 " is missing (handle 0x%016" PRIx64 " gives %p)", k.b + 1,
				  i + 1, c->units[i].h, shmdev_get_typed(k.pool, T_UNIT, c->units[i].h));
	for (i = 0; i < c->nr_items; i++)
		if (c->items[i].live && !c->items[i].seen)
			violation(&k, "v%d: item %" PRIu64 " is missing", k.b + 1, i + 1);
	shmdev_pool_type_stats(k.pool, T_UNIT, &ts);
	if (ts.live_count != c->live_units || k.units != c->live_units)
		violation(&k, "v%d: %" PRIu64 " units live, %" PRIu64 " walked, the world has %" PRIu64,
			  k.b + 1, ts.live_count, k.units, c->live_units);
	shmdev_pool_type_stats(k.pool, T_ITEM, &ts);
	if (ts.live_count != c->live_items || k.items != c->live_items)
		violation(&k, "v%d: %" PRIu64 " items live, %" PRIu64 " walked, the world has %" PRIu64,
			  k.b + 1, ts.live_count, k.items, c->live_items);
	c->objects_checked += k.units + k.items;
	{
		struct shmdev_block_stats bs;

		if (!shmdev_pool_block_stats(k.pool, 0, &bs))
			c->free_bytes = bs.free_bytes;
		/* The old extents of every migration went back: all but this build's is free. */
		if (c->free_bytes + SHMDEV_LAYOUT_BLOCK_HDR_BYTES + room_needed(k.b) < BLOCK_BYTES)
			violation(&k, "v%d: %" PRIu64 " bytes of the block free after %" PRIu64 " migrations of this world, and this build uses at most %" PRIu64 " of %u: space was not given back",
				  k.b + 1, c->free_bytes, c->world_migrations, room_needed(k.b), BLOCK_BYTES);
	}
	if (!k.v.bad)
		churn(c, k.pool, k.b);
	if (shmdev_pool_close(k.pool)) {
		fprintf(stderr, PROG ": close: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
out:
	if (k.v.bad) {
		c->violations++;
		if (c->violations <= 5 || c->verbose)
			printf(PROG ": violation %" PRIu64 " after restart %" PRIu64 " (v%d -> v%d, killed at %s): %s\n",
			       c->violations, c->kills, from + 1, target + 1, where, k.v.why);
	}
	return !k.v.bad;
}

/* The migration's named points, and how many times a migration reaches each at most. */
static const struct { const char *name; unsigned int most; } points[] = {
	{ "open:changing-set", 1 }, { "plan:fields-written", 2 }, { "migrate:type", 2 },
	{ "migrate:slot", 2 * (NANCHOR + NUNITS + NITEMS) }, { "migrate:convert", 2 * (NANCHOR + NUNITS + NITEMS) },
	{ "migrate:done", 1 }, { "commit:flipped", 1 }, { "open:changing-cleared", 1 },
	{ "index:cleared", 1 }, { "open:done", 1 },
};
#define NR_POINTS (sizeof(points) / sizeof(points[0]))

/* One round: a server opened with the next build, killed, the world checked. */
static void round_once(struct campaign *c, uint64_t *open_us)
{
	uint64_t plan = rnd(&c->rng), t0;
	int target = (c->build + 1) % 3, logp[2], readyp[2];
	bool lib = plan % 4 != 0, opened, before_commit = false, nospc = false;
	char at[64] = "-", logbuf[128] = "";
	const char *where = "a timed kill";
	pid_t pid;
	ssize_t n;

	if (c->build < 0 || (c->cold_every && plan % c->cold_every == 7 % c->cold_every))
		populate(c, (int)((plan >> 8) % 3)), target = (c->build + 1) % 3;
	if (lib) {
		unsigned int p = (unsigned int)((plan >> 16) % (NR_POINTS + 2));

		if (p >= NR_POINTS)	/* the Nth point of the open */
			snprintf(at, sizeof(at), "%" PRIu64, 1 + (plan >> 24) % 60);
		else
			snprintf(at, sizeof(at), "%s#%" PRIu64, points[p].name, 1 + (plan >> 24) % points[p].most);
	}
	if (pipe(logp) || pipe2(readyp, O_NONBLOCK)) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	t0 = mono_us();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(logp[0]);
		close(readyp[0]);
		_exit(server(c, target, lib ? at : NULL, logp[1], readyp[1]));
	}
	close(logp[1]);
	close(readyp[1]);
	if (lib) {
		/* Until it dies at its point or says it opened (a K past the migration's). */
		struct timespec ts = { 0, 200000 };
		struct pollfd pf = { .fd = readyp[0], .events = POLLIN };

		/* The ready pipe's write end closes when the child dies. */
		int st;

		while (poll(&pf, 1, -1) < 0)
			nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		st = campaign_reap(pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == SERVER_NOSPC) {
			nospc = true;
		} else if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			fprintf(stderr, PROG ": the server ended by itself (status 0x%x)\n", st);
			exit(2);
		}
	} else {
		struct timespec ts;
		uint64_t us = (plan >> 8) % (2 * *open_us + 1);
		int st;

		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		st = campaign_reap(pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == SERVER_NOSPC) {
			nospc = true;
		} else if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			fprintf(stderr, PROG ": the server ended by itself (status 0x%x)\n", st);
			exit(2);
		}
	}
	{
		char ch;

		opened = read(readyp[0], &ch, 1) == 1;
	}
	n = read(logp[0], logbuf, sizeof(logbuf) - 1);
	close(logp[0]);
	close(readyp[0]);
	if (n > 0) {
		logbuf[n] = 0;
		logbuf[strcspn(logbuf, "\n")] = 0;
		where = strchr(logbuf, ' ') ? strchr(logbuf, ' ') + 1 : logbuf;
		/* Points of the migration before its commit: the old layout must stay whole. */
		before_commit = !strncmp(where, "migrate:", 8) || !strncmp(where, "plan:", 5) ||
				!strcmp(where, "open:changing-set");
		c->in_migration += before_commit || !strcmp(where, "commit:flipped");
	} else if (lib) {
		where = opened ? "no point (the open returned first)" : "?";
	}
	if (opened && lib) {
		/* Learn how long an open with a migration takes: the timed kills' range. */
		uint64_t us = mono_us() - t0;

		*open_us = (*open_us * 7 + (us < 100000 ? us : 100000)) / 8;
	} else if (!lib && !opened) {
		c->timed_in_open++;
	}
	if (nospc) {
		/*
		 * Refused for room before anything changed, which the check
		 * verifies.  The world's extents always go back to the block
		 * map (layout_plan.c), so a refusal while the block has room
		 * for the target build beside the stored one (always, in this
		 * block) is a violation.
		 */
		int from = (target + 2) % 3;
		uint64_t need = room_needed(target);

		c->nospc++;
		if (check_world(c, target, true, false, "a refusal for room (-ENOSPC)") &&
		    BLOCK_BYTES - SHMDEV_LAYOUT_BLOCK_HDR_BYTES - room_needed(from) >= need) {
			c->violations++;
			printf(PROG ": violation %" PRIu64 ": v%d -> v%d refused for room after %" PRIu64 " migrations of this world with %" PRIu64 " bytes free, where v%d takes at most %" PRIu64 " of the %u bytes and v%d needs at most %" PRIu64 " beside it\n",
			       c->violations, from + 1, target + 1, c->world_migrations, c->free_bytes,
			       from + 1, room_needed(from), BLOCK_BYTES, target + 1, need);
		}
		if (c->verbose)
			printf("round %" PRIu64 ": v%d -> v%d refused for room after %" PRIu64 " migrations of this world (%" PRIu64 " bytes free)\n",
			       c->kills, (target + 2) % 3 + 1, target + 1, c->world_migrations, c->free_bytes);
		c->build = -1;
		return;
	}
	c->kills++;
	if (lib && n > 0)
		c->lib_kills++;
	else if (lib)
		c->late_kills++;
	else
		c->timed_kills++;
	if (!check_world(c, target, before_commit, opened, where))
		c->build = -1;
	if (c->verbose)
		printf("round %" PRIu64 ": v%d -> v%d killed at %s%s -> v%d (%" PRIu64 " bytes free)\n", c->kills,
		       (target + 2) % 3 + 1, target + 1, lib ? at : "(timed)", opened ? " after the open" : "",
		       c->build + 1, c->free_bytes);
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " [--restarts N] [--cold-every N] [--max-seconds S] [--seed N] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct campaign c = { .restarts = 500, .max_seconds = 600, .cold_every = 40, .build = -1 };
	char text[1024], prefix[64];
	uint64_t t0, key, open_us = 2000;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--restarts") && i + 1 < argc)
			c.restarts = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
			c.max_seconds = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			c.seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--cold-every") && i + 1 < argc)
			c.cold_every = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--verbose"))
			c.verbose = true;
		else
			usage();
	}
	campaign_env(argc, &c.seed, &c.restarts, VM_RESTARTS);
	c.rng = c.seed | 1;
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		snprintf(prefix, sizeof(prefix), "shmpool-campaign-mig.%d", (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	/* Keys of their own: 0x4d69 ("Mi") << 32 | pid << 8. */
	key = 0x4d6900000000ULL | (uint64_t)(getpid() & 0xffffff) << 8;
	snprintf(text, sizeof(text), "ProcessList = mig\n[mig]\nBaseKey = 0x%" PRIx64 "\nBlockSize = %u\nBlockKeys = 0x%" PRIx64 "\nHugePages = no\n",
		 key, BLOCK_BYTES, key + 1);
	if (shmdev_ctx_new(&c.ctx) || shmdev_conf_load_string(c.ctx, text, PROG ".ini", "mig", &c.conf)) {
		fprintf(stderr, PROG ": config: %s\n", c.ctx ? shmdev_errmsg(c.ctx) : "no context");
		return 2;
	}
	/* Errors are reported by this program; the destroys of absent pools are expected. */
	shmdev_set_log_priority(c.ctx, 2);
	printf(PROG ": seed=%" PRIu64 " restarts=%" PRIu64 " backend=%s\n", c.seed, c.restarts,
	       getenv("SHMDEV_BACKEND") ? getenv("SHMDEV_BACKEND") : "auto");
	campaign_destroy(PROG, c.ctx, c.conf);
	t0 = mono_ms();
	while (c.kills < c.restarts) {
		if (mono_ms() - t0 > c.max_seconds * 1000) {
			c.ran_out = 1;
			break;
		}
		round_once(&c, &open_us);
		if (c.kills % 100 == 0)
			printf(PROG ": %" PRIu64 " restarts, %" PRIu64 " violations\n", c.kills, c.violations);
	}
	campaign_destroy(PROG, c.ctx, c.conf);
	printf(PROG ": restarts=%" PRIu64 " kills_in_library=%" PRIu64 " killed_after_the_open=%" PRIu64 " timed_kills=%" PRIu64 " (in the open %" PRIu64 ") kills_inside_migrations=%" PRIu64 " old_layout_kept=%" PRIu64 " migrations_completed=%" PRIu64 " cold_starts=%" PRIu64 " refused_for_room=%" PRIu64 " objects_checked=%" PRIu64 " violations=%" PRIu64 " seed=%" PRIu64 " seconds=%.1f\n",
	       c.kills, c.lib_kills, c.late_kills, c.timed_kills, c.timed_in_open, c.in_migration, c.kept_old, c.completed,
	       c.cold, c.nospc, c.objects_checked, c.violations, c.seed, (double)(mono_ms() - t0) / 1000);
	shmdev_conf_free(c.conf);
	shmdev_ctx_unref(c.ctx);
	free(c.units);
	free(c.items);
	if (c.ran_out)
		printf("FAIL: %" PRIu64 " of %" PRIu64 " restarts in %" PRIu64 " s\n", c.kills, c.restarts, c.max_seconds);
	return c.violations || c.ran_out ? 1 : 0;
}
