// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_server: a demo game "zone" server on libshmdev that survives kill -9.
 *
 * It keeps players (found by player id with shmdev_force_get), their items
 * and the zone's scenes as typed objects in a shmpool, and changes a
 * fraction of them every tick.  Every object ends with a checksum of its
 * contents.  The process keeps nothing it cannot rebuild: on restart it
 * takes the pool back, and after a crash it repairs what the crash cut in
 * half (see recover()).
 *
 * Crash consistency of the game data is the server's job, as in any real
 * server; libshmdev makes the allocator itself crash-safe.  The server keeps
 * a one-entry undo journal in the pool (the ZoneState object): before it
 * changes an object it copies the object there and marks the journal
 * active; when the change is complete it marks it idle.  After a crash the
 * active entry is undone (or, for a logout, finished), then one pass frees
 * items that no player owns and checks every checksum.
 *
 * Output: one machine-readable line per phase on stdout,
 *     ZONE phase=NAME key=value ...
 * with a free-text "error=" last where there is one.  See examples/README.md.
 *
 * Build variants, from this one source (examples/build.mk):
 *   zone_server          the types ZoneState, Player, Item, Scene;
 *   -DDEMO_V2            adds the type Guild (a compatible upgrade);
 *   -DDEMO_PLAYER_GROWN  Player grows from 256 to 320 bytes (a field
 *                        added: libshmdev migrates every player on resume);
 *   -DDEMO_PLAYER_KIND   Player's hp becomes a float (a kind change with no
 *                        converter: libshmdev refuses to resume).
 * Player is described field by field (zone_fields.h, issue 13).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmdev.h"
#include "zone_tmpl.h"	/* zone_tmpl[]: examples/zone.ini.tmpl, built in */
#include "zone_types.h"	/* the objects and their checksums */
#include "zone_fields.h"	/* Player's field description and converter */

/* zone_demo links the three builds into one binary: each its own main. */
#ifndef ZONE_MAIN
#define ZONE_MAIN main
#endif

#ifdef DEMO_V2
#define BUILD_NAME "v2"
#elif defined(DEMO_PLAYER_GROWN)
#define BUILD_NAME "player-grown"
#elif defined(DEMO_PLAYER_KIND)
#define BUILD_NAME "player-kind"
#else
#define BUILD_NAME "v1"
#endif

/* ---- options and server state ---------------------------------------- */

struct options {
	const char *tmpl;		/* pool config template; NULL: built in */
	const char *conf;		/* or a rendered memorypool.ini */
	unsigned long world, zone;
	uint64_t players, items, item_cap, scenes, guilds;
	unsigned int change_permille;	/* objects changed per tick */
	long long ticks;		/* ticks to run; -1: until SIGTERM */
	unsigned int tick_ms;		/* 0: as fast as possible (full load) */
	unsigned int report_ms;
	uint64_t seed;
	bool verify, destroy;
};

struct counts {
	uint64_t objects, bad_sums, dangling, orphans, halfmade;
};

struct server {
	struct options opt;
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	struct zone_state *zs;
	uint64_t rng;
	uint64_t t0;			/* CLOCK_MONOTONIC at main() */
	struct counts c;		/* of the last verify pass */
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

static uint64_t rnd(struct server *s)
{
	/* xorshift64*: fast and good enough to pick objects */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(struct server *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static void status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void status(const char *fmt, ...)
{
	va_list ap;

	fputs("ZONE ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- the journal --------------------------------------------------------
 * Stores to the pool are visible to the next process however this one
 * dies; only the compiler's order matters, so release stores order the
 * journal against the change it guards.
 */
static void journal_begin(struct zone_state *zs, enum journal_kind kind,
			  unsigned int type, uint64_t key, shmdev_handle_t target,
			  const void *obj)
{
	zs->op_kind = kind;
	zs->op_type = type;
	zs->op_key = key;
	zs->op_target = target;
	zs->image_size = obj ? (uint32_t)type_size(type) : 0;
	if (obj)
		memcpy(zs->image, obj, zs->image_size);
	__atomic_store_n(&zs->op_state, 1, __ATOMIC_RELEASE);
}

static void journal_end(struct zone_state *zs)
{
	__atomic_store_n(&zs->op_state, 0, __ATOMIC_RELEASE);
}

/* ---- objects ------------------------------------------------------------ */

static void player_init(struct server *s, struct player *p, uint64_t id)
{
	p->id = id;
	p->scene = 1 + rnd_below(s, s->opt.scenes);
	p->level = 1 + (uint32_t)rnd_below(s, 60);
	p->hp = p->mp = 100 * p->level;
	p->gold = rnd_below(s, 10000);
	p->login_tick = s->zs->ticks;
	p->x = (int32_t)rnd_below(s, 4096);
	p->y = (int32_t)rnd_below(s, 4096);
	snprintf(p->name, sizeof(p->name), "hero%" PRIu64, id - PLAYER_ID_BASE);
	seal(p, T_PLAYER);
}

/* Log in (or look up) player @id: ForceGetObj. */
static int player_access(struct server *s, uint64_t id, struct player **out,
			 shmdev_handle_t *h, bool *created)
{
	struct player *p;
	int err;

	journal_begin(s->zs, J_ACCESS, T_PLAYER, id, SHMDEV_HANDLE_NONE, NULL);
	err = shmdev_force_get(s->pool, T_PLAYER, id, (void **)&p, h, created);
	if (err) {
		journal_end(s->zs);
		return err;
	}
	if (*created)
		player_init(s, p, id);
	journal_end(s->zs);
	*out = p;
	return 0;
}

static int free_slot(const struct player *p)
{
	int i;

	for (i = 0; i < ITEMS_PER_PLAYER; i++)
		if (!p->items[i])
			return i;
	return -1;
}

/* Give player @p (handle @ph) a new item.  -ENOSPC if it or the pool is full. */
static int item_pickup(struct server *s, struct player *p, shmdev_handle_t ph)
{
	int slot = free_slot(p), err;
	shmdev_handle_t ih;
	struct item *it;

	if (slot < 0)
		return -ENOSPC;
	journal_begin(s->zs, J_UPDATE, T_PLAYER, p->id, ph, p);
	err = shmdev_alloc(s->pool, T_ITEM, (void **)&it, &ih);
	if (err) {
		journal_end(s->zs);
		return err;
	}
	it->owner = p->id;
	it->slot = (uint32_t)slot;
	it->kind = 1 + (uint32_t)rnd_below(s, 500);
	it->count = 1 + (uint32_t)rnd_below(s, 20);
	it->durability = 100;
	it->created_tick = s->zs->ticks;
	it->serial = ++s->zs->item_serial;
	seal(it, T_ITEM);
	p->items[slot] = ih;
	p->actions++;
	seal(p, T_PLAYER);
	journal_end(s->zs);
	return 0;
}

/* Player @p drops its item in @slot: the player changes, then the item goes. */
static int item_drop(struct server *s, struct player *p, shmdev_handle_t ph, int slot)
{
	shmdev_handle_t ih = p->items[slot];

	journal_begin(s->zs, J_UPDATE, T_PLAYER, p->id, ph, p);
	p->items[slot] = SHMDEV_HANDLE_NONE;
	p->actions++;
	seal(p, T_PLAYER);
	journal_end(s->zs);
	/* A crash here leaves an item nobody owns: recover() frees it. */
	return shmdev_free_typed(s->pool, T_ITEM, ih);
}

static int player_logout(struct server *s, struct player *p, shmdev_handle_t ph)
{
	int i, err;

	journal_begin(s->zs, J_LOGOUT, T_PLAYER, p->id, ph, NULL);
	for (i = 0; i < ITEMS_PER_PLAYER; i++)
		if (p->items[i]) {
			err = shmdev_free_typed(s->pool, T_ITEM, p->items[i]);
			if (err)
				return err;
			p->items[i] = SHMDEV_HANDLE_NONE;
		}
	err = shmdev_free_typed(s->pool, T_PLAYER, ph);
	journal_end(s->zs);
	return err;
}

/* ---- the tick ------------------------------------------------------------ */

static uint64_t random_player_id(struct server *s)
{
	return PLAYER_ID_BASE + 1 + rnd_below(s, s->opt.players);
}

static int op_player_action(struct server *s)
{
	shmdev_handle_t h;
	struct player *p;
	bool created;
	int err;

	err = player_access(s, random_player_id(s), &p, &h, &created);
	if (err || created)
		return err;
	journal_begin(s->zs, J_UPDATE, T_PLAYER, p->id, h, p);
	p->x += (int32_t)rnd_below(s, 9) - 4;
	p->y += (int32_t)rnd_below(s, 9) - 4;
	p->exp += rnd_below(s, 100);
	p->gold += rnd_below(s, 10);
	p->hp = p->hp > 5 ? p->hp - (uint32_t)rnd_below(s, 5) : 100 * p->level;
	if (rnd_below(s, 50) == 0)
		p->scene = 1 + rnd_below(s, s->opt.scenes);
	p->actions++;
	seal(p, T_PLAYER);
	journal_end(s->zs);
	return 0;
}

static int op_item(struct server *s, unsigned int what)
{
	uint64_t id = random_player_id(s);
	shmdev_handle_t ph;
	struct player *p = shmdev_find(s->pool, T_PLAYER, id, &ph);
	struct item *it;
	int slot, i;

	if (!p)
		return 0;
	if (what == 0) {	/* pick up */
		int err = item_pickup(s, p, ph);

		return err == -ENOSPC ? 0 : err;
	}
	slot = -1;
	for (i = 0; i < ITEMS_PER_PLAYER; i++)
		if (p->items[(i + (int)id) % ITEMS_PER_PLAYER]) {
			slot = (i + (int)id) % ITEMS_PER_PLAYER;
			break;
		}
	if (slot < 0)
		return 0;
	if (what == 1)
		return item_drop(s, p, ph, slot);
	it = shmdev_get_typed(s->pool, T_ITEM, p->items[slot]);
	if (!it)
		return -ESTALE;
	journal_begin(s->zs, J_UPDATE, T_ITEM, id, p->items[slot], it);
	it->durability = it->durability ? it->durability - 1 : 100;
	it->count += 1;
	seal(it, T_ITEM);
	journal_end(s->zs);
	return 0;
}

static int op_scene(struct server *s)
{
	uint64_t id = 1 + rnd_below(s, s->opt.scenes);
	shmdev_handle_t h;
	struct scene *sc = shmdev_find(s->pool, T_SCENE, id, &h);
	unsigned int i;

	if (!sc)
		return 0;
	journal_begin(s->zs, J_UPDATE, T_SCENE, id, h, sc);
	sc->updates++;
	sc->wave++;
	sc->weather = (uint32_t)rnd_below(s, 8);
	for (i = 0; i < 240; i++)
		sc->monsters[i] = sc->monsters[i] * 3 + 1 + (uint32_t)rnd_below(s, 3);
	seal(sc, T_SCENE);
	journal_end(s->zs);
	return 0;
}

static int op_logout(struct server *s)
{
	shmdev_handle_t h;
	struct player *p = shmdev_find(s->pool, T_PLAYER, random_player_id(s), &h);

	return p ? player_logout(s, p, h) : 0;
}

#ifdef DEMO_V2
static int guild_access(struct server *s, uint64_t id, struct guild **out,
			shmdev_handle_t *h)
{
	struct guild *g;
	bool created;
	int err;

	journal_begin(s->zs, J_ACCESS, T_GUILD, id, SHMDEV_HANDLE_NONE, NULL);
	err = shmdev_force_get(s->pool, T_GUILD, id, (void **)&g, h, &created);
	if (err) {
		journal_end(s->zs);
		return err;
	}
	if (created) {
		g->id = id;
		snprintf(g->name, sizeof(g->name), "guild%" PRIu64, id);
		seal(g, T_GUILD);
	}
	journal_end(s->zs);
	*out = g;
	return 0;
}

static int op_guild(struct server *s)
{
	shmdev_handle_t h;
	struct guild *g;
	int err = guild_access(s, 1 + rnd_below(s, s->opt.guilds), &g, &h);

	if (err)
		return err;
	journal_begin(s->zs, J_UPDATE, T_GUILD, g->id, h, g);
	g->members = (g->members + 1) % 100;
	g->fund += rnd_below(s, 1000);
	g->updates++;
	seal(g, T_GUILD);
	journal_end(s->zs);
	return 0;
}
#endif

static int do_op(struct server *s)
{
	uint64_t r = rnd_below(s, 1000);

	if (r < 700)
		return op_player_action(s);
	if (r < 740)
		return op_item(s, 0);
	if (r < 780)
		return op_item(s, 1);
	if (r < 960)
		return op_item(s, 2);
	if (r < 970)
		return op_scene(s);
	if (r < 980)
		return op_logout(s);
#ifdef DEMO_V2
	return op_guild(s);
#else
	return op_player_action(s);
#endif
}

static int run_tick(struct server *s)
{
	struct zone_state *zs = s->zs;
	uint64_t i;
	int err;

	__atomic_store_n(&zs->tick_active, zs->ticks + 1, __ATOMIC_RELEASE);
	for (i = 0; i < zs->ops_per_tick; i++) {
		zs->op_index = i;
		err = do_op(s);
		if (err) {
			status("phase=error tick=%" PRIu64 " op=%" PRIu64 " errno=%d error=%s%s%s",
			       zs->ticks + 1, i, -err, strerror(-err),
			       *shmdev_errmsg(s->ctx) ? ": " : "", shmdev_errmsg(s->ctx));
			return err;
		}
	}
	zs->ticks++;
	__atomic_store_n(&zs->tick_active, 0, __ATOMIC_RELEASE);
	return 0;
}

/* ---- population, counting, verification ---------------------------------- */

static uint64_t live(struct server *s, unsigned int type)
{
	struct shmdev_type_stats st;

	return shmdev_pool_type_stats(s->pool, (uint16_t)type, &st) ? 0 : st.live_count;
}

static uint64_t live_objects(struct server *s)
{
	return live(s, T_PLAYER) + live(s, T_ITEM) + live(s, T_SCENE) + live(s, T_GUILD);
}

static int populate_scenes(struct server *s)
{
	shmdev_handle_t h;
	struct scene *sc;
	uint64_t id;
	bool created;
	int err;

	for (id = 1; id <= s->opt.scenes; id++) {
		journal_begin(s->zs, J_ACCESS, T_SCENE, id, SHMDEV_HANDLE_NONE, NULL);
		err = shmdev_force_get(s->pool, T_SCENE, id, (void **)&sc, &h, &created);
		if (err)
			return err;
		if (created) {
			sc->id = id;
			sc->weather = (uint32_t)rnd_below(s, 8);
			seal(sc, T_SCENE);
		}
		journal_end(s->zs);
	}
	return 0;
}

static int populate_players(struct server *s)
{
	uint64_t k, per, extra;
	shmdev_handle_t h;
	struct player *p;
	bool created;
	int err;

	per = s->opt.items / s->opt.players;
	extra = s->opt.items % s->opt.players;
	for (k = 1; k <= s->opt.players; k++) {
		uint64_t n = per + (k <= extra);

		err = player_access(s, PLAYER_ID_BASE + k, &p, &h, &created);
		if (err)
			return err;
		while (n-- > 0) {
			err = item_pickup(s, p, h);
			if (err == -ENOSPC)
				break;
			if (err)
				return err;
		}
	}
	return 0;
}

struct walk {
	struct server *s;
	unsigned int type;
	struct counts *c;
	bool fix;		/* free orphans and half-made objects */
	int err;
};

static int check_player(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	struct player *p = obj;
	int i;

	(void)h;
	w->c->objects++;
	if (!sealed(p, T_PLAYER)) {
		w->c->bad_sums++;
		return 0;
	}
	for (i = 0; i < ITEMS_PER_PLAYER; i++) {
		struct item *it;

		if (!p->items[i])
			continue;
		/* Typed: a handle of another type in items[] is dangling too. */
		it = shmdev_get_typed(w->s->pool, T_ITEM, p->items[i]);
		if (!it || it->owner != p->id || it->slot != (uint32_t)i)
			w->c->dangling++;
	}
	return 0;
}

static int check_item(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	struct item *it = obj;
	struct player *p = shmdev_find(w->s->pool, T_PLAYER, it->owner, NULL);
	bool owned = p && it->slot < ITEMS_PER_PLAYER && p->items[it->slot] == h;

	if (!owned) {
		/* Picked up or dropped when the crash came: nobody has it. */
		w->c->orphans++;
		if (w->fix) {
			w->err = shmdev_free(w->s->pool, h);
			return w->err;
		}
		return 0;
	}
	w->c->objects++;
	if (!sealed(it, T_ITEM))
		w->c->bad_sums++;
	return 0;
}

static int check_plain(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;

	(void)h;
	w->c->objects++;
	if (!sealed(obj, w->type))
		w->c->bad_sums++;
	return 0;
}

/* Check every object; with @fix, free the items nobody owns. */
static int verify(struct server *s, bool fix, struct counts *c)
{
	static const unsigned int plain[] = { T_SCENE, T_GUILD };
	struct walk w = { .s = s, .c = c, .fix = fix };
	unsigned int i;
	int err;

	memset(c, 0, sizeof(*c));
	/* Items first: a freed orphan must not count as a player's dangling ref. */
	w.type = T_ITEM;
	err = shmdev_foreach(s->pool, T_ITEM, check_item, &w);
	if (err)
		return w.err ? w.err : err;
	w.type = T_PLAYER;
	err = shmdev_foreach(s->pool, T_PLAYER, check_player, &w);
	if (err)
		return err;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct shmdev_type_stats st;

		if (shmdev_pool_type_stats(s->pool, (uint16_t)plain[i], &st))
			continue;	/* not in this layout (a v1 pool) */
		w.type = plain[i];
		err = shmdev_foreach(s->pool, (uint16_t)plain[i], check_plain, &w);
		if (err)
			return err;
	}
	return 0;
}

static const char *kind_name(uint32_t state, uint32_t kind)
{
	if (!state)
		return "none";
	switch (kind) {
	case J_UPDATE: return "update";
	case J_ACCESS: return "access";
	case J_LOGOUT: return "logout";
	default: return "unknown";
	}
}

/*
 * After a crash: undo (or finish) the journaled change, then one pass over
 * everything frees the items nobody owns and checks every checksum.
 */
static int recover(struct server *s, struct counts *c, uint64_t *undone)
{
	struct zone_state *zs = s->zs;
	shmdev_handle_t h;
	void *obj;
	int err, i;

	*undone = 0;
	if (zs->op_state) {
		switch (zs->op_kind) {
		case J_UPDATE:
			obj = shmdev_get_typed(s->pool, (uint16_t)zs->op_type, zs->op_target);
			if (obj && zs->image_size == type_size(zs->op_type)) {
				memcpy(obj, zs->image, zs->image_size);
				(*undone)++;
			}
			break;
		case J_ACCESS:
			/* A new object that its creator did not finish goes. */
			obj = shmdev_find(s->pool, (uint16_t)zs->op_type, zs->op_key, &h);
			if (obj && !sealed(obj, zs->op_type)) {
				err = shmdev_free(s->pool, h);
				if (err)
					return err;
				c->halfmade++;
				(*undone)++;
			}
			break;
		case J_LOGOUT: {
			struct player *p = shmdev_find(s->pool, T_PLAYER, zs->op_key, &h);

			if (p) {
				/* Its items go by the orphan pass. */
				for (i = 0; i < ITEMS_PER_PLAYER; i++)
					p->items[i] = SHMDEV_HANDLE_NONE;
				err = shmdev_free(s->pool, h);
				if (err)
					return err;
				(*undone)++;
			}
			break;
		}
		}
		journal_end(zs);
	}
	zs->tick_active = 0;
	{
		uint64_t halfmade = c->halfmade;

		err = verify(s, true, c);
		c->halfmade = halfmade;
	}
	return err;
}

/* ---- start-up ---------------------------------------------------------- */

static int load_conf(struct server *s)
{
	const struct options *o = &s->opt;
	char world[48], zone[48], *text = NULL, *rendered = NULL;
	const char *vars[2] = { world, zone };
	FILE *f;
	long len;
	int err;

	if (o->conf)
		return shmdev_conf_load(s->ctx, o->conf, "zone", &s->conf);
	if (!o->tmpl) {
		text = strdup(zone_tmpl);
		if (!text)
			return -ENOMEM;
		goto render;
	}
	f = fopen(o->tmpl, "r");
	if (!f) {
		err = -errno;
		fprintf(stderr, "zone_server: cannot open template %s: %s\n", o->tmpl, strerror(errno));
		return err;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(text = calloc(1, (size_t)len + 1)) || fread(text, 1, (size_t)len, f) != (size_t)len) {
		err = errno ? -errno : -EIO;
		fprintf(stderr, "zone_server: cannot read template %s\n", o->tmpl);
		fclose(f);
		free(text);
		return err;
	}
	fclose(f);
render:
	snprintf(world, sizeof(world), "WORLD_ID=%lu", o->world);
	snprintf(zone, sizeof(zone), "ZONE_ID=%lu", o->zone);
	err = shmdev_template_render(s->ctx, text, o->tmpl ? o->tmpl : "zone.ini.tmpl (built in)",
				     vars, 2, &rendered);
	free(text);
	if (err)
		return err;
	err = shmdev_conf_load_string(s->ctx, rendered, o->tmpl ? o->tmpl : "zone.ini (built in)",
				      "zone", &s->conf);
	free(rendered);
	return err;
}

static void build_types(const struct options *o, struct shmdev_type *t, size_t *n)
{
	size_t i = 0;

	t[i++] = (struct shmdev_type){ .id = T_ZONE, .name = "ZoneState",
		.size = sizeof(struct zone_state), .version = 1, .max_count = 1,
		.flags = SHMDEV_TYPE_KEYED };
	t[i++] = (struct shmdev_type){ .id = T_PLAYER, .name = "Player",
		.size = sizeof(struct player), .version = 1,
		.max_count = o->players, .flags = SHMDEV_TYPE_KEYED,
		.nr_fields = PLAYER_NR_FIELDS, .fields = player_fields, .convert = PLAYER_CONVERT };
	t[i++] = (struct shmdev_type){ .id = T_ITEM, .name = "Item",
		.size = sizeof(struct item), .version = 1, .max_count = o->item_cap };
	t[i++] = (struct shmdev_type){ .id = T_SCENE, .name = "Scene",
		.size = sizeof(struct scene), .version = 1,
		.max_count = o->scenes, .flags = SHMDEV_TYPE_KEYED };
#ifdef DEMO_V2
	t[i++] = (struct shmdev_type){ .id = T_GUILD, .name = "Guild",
		.size = sizeof(struct guild), .version = 1,
		.max_count = o->guilds, .flags = SHMDEV_TYPE_KEYED };
#endif
	*n = i;
}

static const char *start_name(enum shmdev_start st)
{
	switch (st) {
	case SHMDEV_START_CREATED: return "cold";
	case SHMDEV_START_RESUMED_CLEAN: return "clean";
	case SHMDEV_START_RESUMED_CRASH: return "crash";
	case SHMDEV_START_RESUMED: return "resumed";
	}
	return "unknown";
}

static const char *backend_name(const struct shmdev_conf *conf)
{
	const struct shmdev_proc_conf *pc = shmdev_conf_self(conf);
	const char *env = getenv("SHMDEV_BACKEND");

	if (env && *env)
		return env;
	switch (pc ? pc->backend : SHMDEV_BACKEND_AUTO) {
	case SHMDEV_BACKEND_DEVICE: return "device";
	case SHMDEV_BACKEND_POSIX: return "posix";
	default: return "auto";
	}
}

static double us_since(uint64_t t)
{
	return (double)(mono_ns() - t) / 1e3;
}

static void fail_status(struct server *s, const char *phase, int err)
{
	status("phase=%s errno=%d build=%s error=%s", phase, -err, BUILD_NAME,
	       *shmdev_errmsg(s->ctx) ? shmdev_errmsg(s->ctx) : strerror(-err));
}

static int open_pool(struct server *s)
{
	struct shmdev_type types[T_COUNT];
	struct shmdev_pool_stats ps;
	struct counts c = { 0 };
	uint64_t undone = 0, crashed_tick = 0, crashed_op = 0, t_app;
	const char *inflight = "none";
	enum shmdev_start start;
	struct zone_state *zs;
	shmdev_handle_t zh;
	bool created;
	size_t n;
	int err;

	build_types(&s->opt, types, &n);
	err = shmdev_pool_open(s->ctx, s->conf, types, n, 0, &s->pool);
	if (err) {
		/* -EINVAL: the layout is not ours (a type changed); nothing was touched. */
		fail_status(s, err == -EINVAL ? "refused" : "error", err);
		return err;
	}
	start = shmdev_pool_start(s->pool);
	shmdev_pool_stats(s->pool, &ps);

	t_app = mono_ns();
	err = shmdev_force_get(s->pool, T_ZONE, ZONE_KEY, (void **)&zs, &zh, &created);
	if (err) {
		fail_status(s, "error", err);
		return err;
	}
	s->zs = zs;
	if (zs->magic != ZONE_MAGIC) {
		/* New, or its cold start was cut short before it was initialised. */
		memset(zs, 0, sizeof(*zs));
		zs->cold_time_ns = now_ns(CLOCK_REALTIME);
		__atomic_store_n(&zs->magic, ZONE_MAGIC, __ATOMIC_RELEASE);
	}
	if (start == SHMDEV_START_RESUMED_CRASH) {
		crashed_tick = zs->tick_active;
		crashed_op = zs->op_index;
		inflight = kind_name(zs->op_state, zs->op_kind);
		err = recover(s, &c, &undone);
		if (err) {
			fail_status(s, "error", err);
			return err;
		}
		zs->crashes++;
		status("phase=repair objects=%" PRIu64 " repair_ms=%.3f lib_repair_ms=%.3f lib_objects=%" PRIu64
		       " app_ms=%.3f crashed_tick=%" PRIu64 " crashed_op=%" PRIu64 " ops_per_tick=%" PRIu64
		       " inflight=%s undone=%" PRIu64 " halfmade=%" PRIu64 " orphans=%" PRIu64
		       " dangling=%" PRIu64 " bad_checksums=%" PRIu64,
		       c.objects, ((double)ps.repair_ns + (double)(mono_ns() - t_app)) / 1e6,
		       (double)ps.repair_ns / 1e6, ps.repaired_objects, (double)(mono_ns() - t_app) / 1e6,
		       crashed_tick, crashed_op, zs->ops_per_tick, inflight, undone, c.halfmade,
		       c.orphans, c.dangling, c.bad_sums);
		s->c = c;
	} else if (start == SHMDEV_START_RESUMED_CLEAN) {
		zs->clean_starts++;
	}
	status("phase=open start=%s handed_over=%d build=%s backend=%s open_us=%.1f ready_us=%.1f generation=%" PRIu64
	       " objects=%" PRIu64 " players=%" PRIu64 " items=%" PRIu64 " scenes=%" PRIu64
	       " guilds=%" PRIu64 " ticks=%" PRIu64 " migrated=%" PRIu64 " migrate_ms=%.1f",
	       start_name(start), shmdev_pool_handed_over(s->pool) ? 1 : 0, BUILD_NAME, backend_name(s->conf), (double)ps.open_ns / 1e3,
	       us_since(s->t0), ps.generation, live_objects(s), live(s, T_PLAYER),
	       live(s, T_ITEM), live(s, T_SCENE), live(s, T_GUILD), zs->ticks,
	       ps.migrated_objects, (double)ps.migrate_ns / 1e6);
	if (start == SHMDEV_START_RESUMED_CRASH && (c.bad_sums || c.dangling)) {
		status("phase=corrupt bad_checksums=%" PRIu64 " dangling=%" PRIu64, c.bad_sums, c.dangling);
		return -EUCLEAN;
	}
	return 0;
}

static int populate(struct server *s)
{
	uint64_t t = mono_ns(), scenes = live(s, T_SCENE), players = live(s, T_PLAYER);
	uint64_t guilds = live(s, T_GUILD);
	int err = 0;

	if (!scenes)
		err = populate_scenes(s);
	if (!err && !players)
		err = populate_players(s);
#ifdef DEMO_V2
	if (!err && !guilds) {
		shmdev_handle_t h;
		struct guild *g;
		uint64_t id;

		for (id = 1; id <= s->opt.guilds && !err; id++)
			err = guild_access(s, id, &g, &h);
	}
#endif
	if (err) {
		fail_status(s, "error", err);
		return err;
	}
	if (!scenes || !players || (live(s, T_GUILD) && !guilds))
		status("phase=populate objects=%" PRIu64 " players=%" PRIu64 " items=%" PRIu64
		       " scenes=%" PRIu64 " guilds=%" PRIu64 " ms=%.3f",
		       live_objects(s), live(s, T_PLAYER), live(s, T_ITEM), live(s, T_SCENE),
		       live(s, T_GUILD), (double)(mono_ns() - t) / 1e6);
	return 0;
}

static int run(struct server *s)
{
	struct zone_state *zs = s->zs;
	uint64_t t_report = mono_ns(), t_ticks = t_report, ticks0 = zs->ticks;
	uint64_t next = t_report;
	long long n = 0;
	int err;

	zs->ops_per_tick = live_objects(s) * s->opt.change_permille / 1000;
	if (!zs->ops_per_tick)
		zs->ops_per_tick = 1;
	status("phase=ticking ops_per_tick=%" PRIu64 " objects=%" PRIu64 " tick_ms=%u",
	       zs->ops_per_tick, live_objects(s), s->opt.tick_ms);
	while (!stop_requested && (s->opt.ticks < 0 || n < s->opt.ticks)) {
		err = run_tick(s);
		if (err)
			return err;
		n++;
		if (mono_ns() - t_report >= (uint64_t)s->opt.report_ms * 1000000ULL) {
			t_report = mono_ns();
			status("phase=running ticks=%" PRIu64 " tick_us=%.1f objects=%" PRIu64,
			       zs->ticks, (double)(t_report - t_ticks) / 1e3 / (double)(zs->ticks - ticks0),
			       live_objects(s));
		}
		if (s->opt.tick_ms) {
			struct timespec ts;

			next += (uint64_t)s->opt.tick_ms * 1000000ULL;
			if (next > mono_ns()) {
				ts.tv_sec = (time_t)(next / 1000000000ULL);
				ts.tv_nsec = (long)(next % 1000000000ULL);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
	}
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zone_server [OPTION]...\n"
		"A demo zone server whose players, items and scenes live in a shmpool.\n\n"
		"  --template PATH   pool config template (default: a built-in copy of\n"
		"                    examples/zone.ini.tmpl)\n"
		"  --conf PATH       a rendered memorypool.ini instead (process \"zone\")\n"
		"  --world N         WORLD_ID for the template (default 1)\n"
		"  --zone N          ZONE_ID for the template (default 900)\n"
		"  --players N       player ids, and Player capacity (default 100000)\n"
		"  --items N         items handed out on a cold start (default 250000)\n"
		"  --item-cap N      Item capacity (default 300000)\n"
		"  --scenes N        scenes (default 1000)\n"
		"  --guilds N        guilds, v2 build (default 2000)\n"
		"  --change N        objects changed per tick, per mille (default 10)\n"
		"  --ticks N         run N ticks then exit cleanly (default: until SIGTERM)\n"
		"  --tick-ms N       tick period; 0 = back to back, full load (default 0)\n"
		"  --report-ms N     a phase=running line every N ms (default 500)\n"
		"  --seed N          random seed (default: the time)\n"
		"  --verify          after a start, check every object and reference\n"
		"  --destroy         destroy the pool (the next start is cold) and exit\n"
		"Build: %s.  Exit status: 0 ok, 1 error, 3 layout refused, 4 corrupt.\n",
		BUILD_NAME);
}

static int parse_u64(const char *name, const char *arg, uint64_t min, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v < min) {
		fprintf(stderr, "zone_server: --%s: '%s' is not a number >= %" PRIu64 "\n", name, arg, min);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "template", required_argument, NULL, 'T' },
		{ "conf", required_argument, NULL, 'c' },
		{ "world", required_argument, NULL, 'w' },
		{ "zone", required_argument, NULL, 'z' },
		{ "players", required_argument, NULL, 'p' },
		{ "items", required_argument, NULL, 'i' },
		{ "item-cap", required_argument, NULL, 'I' },
		{ "scenes", required_argument, NULL, 's' },
		{ "guilds", required_argument, NULL, 'g' },
		{ "change", required_argument, NULL, 'C' },
		{ "ticks", required_argument, NULL, 't' },
		{ "tick-ms", required_argument, NULL, 'm' },
		{ "report-ms", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' },
		{ "verify", no_argument, NULL, 'v' },
		{ "destroy", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int c;

	*o = (struct options){ .world = 1, .zone = 900,
		.players = 100000, .items = 250000, .item_cap = 300000, .scenes = 1000,
		.guilds = 2000, .change_permille = 10, .ticks = -1, .report_ms = 500,
		.seed = now_ns(CLOCK_REALTIME) };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *name = c == 'h' || c == '?' ? "" : longopts[0].name;
		size_t k;

		for (k = 0; longopts[k].name; k++)
			if (longopts[k].val == c)
				name = longopts[k].name;
		switch (c) {
		case 'T': o->tmpl = optarg; continue;
		case 'c': o->conf = optarg; continue;
		case 'v': o->verify = true; continue;
		case 'D': o->destroy = true; continue;
		case 'h': usage(stdout); exit(0);
		case '?': usage(stderr); return -EINVAL;
		}
		if (parse_u64(name, optarg, c == 't' || c == 'm' || c == 'C' || c == 'S' ? 0 : 1, &v))
			return -EINVAL;
		switch (c) {
		case 'w': o->world = (unsigned long)v; break;
		case 'z': o->zone = (unsigned long)v; break;
		case 'p': o->players = v; break;
		case 'i': o->items = v; break;
		case 'I': o->item_cap = v; break;
		case 's': o->scenes = v; break;
		case 'g': o->guilds = v; break;
		case 'C': o->change_permille = v > 1000 ? 1000 : (unsigned int)v; break;
		case 't': o->ticks = v > LLONG_MAX ? LLONG_MAX : (long long)v; break;
		case 'm': o->tick_ms = v > 60000 ? 60000 : (unsigned int)v; break;
		case 'r': o->report_ms = v > 3600000 ? 3600000 : (unsigned int)v; break;
		case 'S': o->seed = v; break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zone_server: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int ZONE_MAIN(int argc, char **argv);

int ZONE_MAIN(int argc, char **argv)
{
	struct server s = { .t0 = mono_ns() };
	struct sigaction sa = { .sa_handler = on_stop };
	int err, rc = 1;

	if (parse_args(argc, argv, &s.opt))
		return 1;
	s.rng = s.opt.seed | 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	err = shmdev_ctx_new(&s.ctx);
	if (err) {
		fprintf(stderr, "zone_server: shmdev_ctx_new: %s\n", strerror(-err));
		return 1;
	}
	err = load_conf(&s);
	if (err) {
		fail_status(&s, "error", err);
		goto out;
	}
	if (s.opt.destroy) {
		err = shmdev_pool_destroy(s.ctx, s.conf);
		if (err && err != -ENOENT) {
			fail_status(&s, "error", err);
			goto out;
		}
		status("phase=destroyed existed=%s", err ? "no" : "yes");
		rc = 0;
		goto out;
	}
	err = open_pool(&s);
	if (err) {
		rc = err == -EINVAL ? 3 : err == -EUCLEAN ? 4 : 1;
		goto out;
	}
	err = populate(&s);
	if (err)
		goto out;
	if (s.opt.verify) {
		uint64_t t = mono_ns();
		struct counts c;

		err = verify(&s, false, &c);
		if (err) {
			fail_status(&s, "error", err);
			goto out;
		}
		status("phase=verify objects=%" PRIu64 " bad_checksums=%" PRIu64 " dangling=%" PRIu64
		       " orphans=%" PRIu64 " ms=%.3f", c.objects, c.bad_sums, c.dangling,
		       c.orphans, (double)(mono_ns() - t) / 1e6);
		if (c.bad_sums || c.dangling || c.orphans) {
			rc = 4;
			goto out;
		}
	}
	err = run(&s);
	if (err)
		goto out;
	{
		uint64_t t = mono_ns(), ticks = s.zs->ticks, objects = live_objects(&s);

		err = shmdev_pool_close(s.pool);
		s.pool = NULL;
		if (err) {
			fail_status(&s, "error", err);
			goto out;
		}
		status("phase=stop reason=%s ticks=%" PRIu64 " objects=%" PRIu64 " close_us=%.1f",
		       stop_requested ? "signal" : "ticks", ticks, objects, us_since(t));
	}
	rc = 0;
out:
	if (s.pool)
		shmdev_pool_abandon(s.pool);
	shmdev_conf_free(s.conf);
	shmdev_ctx_unref(s.ctx);
	return rc;
}
