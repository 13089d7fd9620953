// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * campaign_tx: kill -9 a trading world at random moments, restart it, and
 * check the world's invariants after every restart (issue 14, item 3).
 *
 *   campaign_tx [--restarts N] [--no-tx] [--expect-violations]
 *               [--max-seconds S] [--seed N] [--verbose]
 *
 * The world (one pool, process "trade"): a Meta object (the root: the
 * player handles and the gold there is in all), 64 players with 1000 gold
 * each and up to 8 item slots, and items (owner handle, slot, serial).  A
 * "server" child (fork) opens the pool, populates it on a cold start (in
 * one transaction) and then runs operations back to back:
 *   trade    gold and an item from one player to another;
 *   move     an item from one slot to another of the same player;
 *   grant    a new item into a player's free slot (shmdev_alloc_publish);
 *   destroy  a player's item is freed and its slot cleared (shmdev_tx_free);
 *   give     gold only.
 * Each is one transaction; with --no-tx the same writes are made without
 * one (plain alloc and free), which is what the transactions prevent.
 *
 * The child is killed with SIGKILL after a random delay, or by the library
 * itself at a random crash point (SHMDEV_TEST_KILL_AT=N: most land inside
 * the transaction, alloc and free paths).  After every kill this program
 * opens the pool as owner (the recovery and the repair run) and checks:
 *   - shmdev_pool_check();
 *   - exactly one Meta (or none: the cold start's populate was rolled back);
 *   - the players' gold adds up to the total (64,000): gold is constant;
 *   - every player slot names a live item (no dangling handle) that names
 *     that player and that slot; every live item is named by exactly one
 *     slot (owned exactly once: no duplicate, no orphan);
 *   - the live counts are the walked counts.
 * A violation is counted (and the first few printed); the pool is then
 * destroyed so that the next round starts clean.  About one round in 12
 * destroys the pool anyway, so that kills land in the populate too.
 *
 * Exit status: with transactions, 0 only if there was no violation and
 * every restart ran; with --expect-violations, 0 only if there was at
 * least one (the campaign can fail: make test runs it that way with
 * --no-tx).  The last line gives the figures and the seed;
 * SHMPOOL_TEST_SEED=N replays the plan.  In the VM (SHMPOOL_VM set, no
 * arguments): 300 restarts with transactions (SHMPOOL_CAMPAIGN_RESTARTS).
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev.h"
#include "campaign_common.h"

#define T_META		0
#define T_PLAYER	1
#define T_ITEM		2
#define NPLAYERS	64
#define NSLOTS		8
#define GOLD		1000
#define META_MAGIC	0x4144415254585431ULL	/* "1TXTRADA" */
#define VM_RESTARTS	300

struct meta {
	uint64_t magic;
	uint64_t total_gold;
	uint64_t serial;
	uint64_t ops;
	shmdev_handle_t players[NPLAYERS];
};

struct player {
	uint64_t id;
	uint64_t gold;
	shmdev_handle_t slot[NSLOTS];
	uint64_t moves;
	uint8_t pad[168];		/* 256 bytes */
};

struct item {
	shmdev_handle_t owner;
	uint64_t slot;
	uint64_t serial;
	uint64_t value;
};

static const struct shmdev_type types[] = {
	{ .id = T_META, .name = "Meta", .size = sizeof(struct meta), .max_count = 4 },
	{ .id = T_PLAYER, .name = "Player", .size = sizeof(struct player), .max_count = NPLAYERS + 8 },
	{ .id = T_ITEM, .name = "Item", .size = sizeof(struct item), .max_count = NPLAYERS * NSLOTS + 16 },
};

struct campaign {
	uint64_t restarts, max_seconds, seed, rng;
	bool tx, expect, verbose;
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	uint64_t kills, lib_kills, timed_kills, ran_out, cold, violations, checks;
	uint64_t rolled_back, finished;
};

/* ---- the server (child) ------------------------------------------------ */

struct server {
	struct shmdev_pool *pool;
	struct meta *m;
	uint64_t rng;
	bool tx;
};

static int begin(struct server *s)
{
	return s->tx ? shmdev_tx_begin(s->pool) : 0;
}

static int add(struct server *s, const void *p, size_t len)
{
	return s->tx ? shmdev_tx_add(s->pool, p, len) : 0;
}

static int commit(struct server *s)
{
	return s->tx ? shmdev_tx_commit(s->pool) : 0;
}

static struct player *player(struct server *s, unsigned int i)
{
	return shmdev_get_typed(s->pool, T_PLAYER, s->m->players[i]);
}

static int free_slot(const struct player *p)
{
	int k;

	for (k = 0; k < NSLOTS; k++)
		if (!p->slot[k])
			return k;
	return -1;
}

static int used_slot(struct server *s, const struct player *p)
{
	int k, start = (int)(rnd(&s->rng) % NSLOTS);

	for (k = 0; k < NSLOTS; k++)
		if (p->slot[(start + k) % NSLOTS])
			return (start + k) % NSLOTS;
	return -1;
}

struct grant {
	struct server *s;
	shmdev_handle_t owner;
	int slot;
};

static int init_item(void *obj, shmdev_handle_t h, void *arg)
{
	struct grant *g = arg;
	struct item *it = obj;

	(void)h;
	it->owner = g->owner;
	it->slot = (uint64_t)g->slot;
	it->serial = ++g->s->m->serial;
	it->value = rnd(&g->s->rng) % 100;
	return 0;
}

/* Populate a cold pool: one transaction, the Meta last. */
static int populate(struct server *s)
{
	struct meta *m;
	shmdev_handle_t hm;
	unsigned int i, k;

	if (begin(s))
		return 1;
	if ((s->tx ? shmdev_tx_alloc(s->pool, T_META, (void **)&m, &hm) :
		     shmdev_alloc(s->pool, T_META, (void **)&m, &hm)))
		return 2;
	s->m = m;
	for (i = 0; i < NPLAYERS; i++) {
		struct player *p;

		if ((s->tx ? shmdev_tx_alloc(s->pool, T_PLAYER, (void **)&p, &m->players[i]) :
			     shmdev_alloc(s->pool, T_PLAYER, (void **)&p, &m->players[i])))
			return 3;
		p->id = i + 1;
		p->gold = GOLD;
		for (k = 0; k < 2; k++) {
			struct grant g = { s, m->players[i], (int)k };
			struct item *it;

			if ((s->tx ? shmdev_tx_alloc(s->pool, T_ITEM, (void **)&it, &p->slot[k]) :
				     shmdev_alloc(s->pool, T_ITEM, (void **)&it, &p->slot[k])))
				return 4;
			init_item(it, p->slot[k], &g);
		}
	}
	m->total_gold = (uint64_t)NPLAYERS * GOLD;
	__atomic_store_n(&m->magic, META_MAGIC, __ATOMIC_RELEASE);
	return commit(s) ? 5 : 0;
}

static int op(struct server *s)
{
	unsigned int ia = (unsigned int)(rnd(&s->rng) % NPLAYERS), ib = (ia + 1 + (unsigned int)(rnd(&s->rng) % (NPLAYERS - 1))) % NPLAYERS;
	struct player *a = player(s, ia), *b = player(s, ib);
	uint64_t what = rnd(&s->rng) % 10, amount;
	struct item *it;
	int k, j;

	if (!a || !b)
		return 10;
	if (begin(s) || add(s, &s->m->ops, 8))
		return 11;
	s->m->ops++;
	if (what < 4) {			/* trade: gold and an item a -> b */
		k = used_slot(s, a);
		j = free_slot(b);
		amount = rnd(&s->rng) % (a->gold + 1);
		if (add(s, a, sizeof(*a)) || add(s, b, sizeof(*b)))
			return 12;
		a->gold -= amount;
		if (k >= 0 && j >= 0) {
			it = shmdev_get_typed(s->pool, T_ITEM, a->slot[k]);
			if (!it || add(s, it, sizeof(*it)))
				return 13;
			b->slot[j] = a->slot[k];
			a->slot[k] = 0;
			it->owner = s->m->players[ib];
			it->slot = (uint64_t)j;
		}
		b->gold += amount;
	} else if (what < 6) {		/* move within a's slots */
		k = used_slot(s, a);
		j = free_slot(a);
		if (k >= 0 && j >= 0) {
			it = shmdev_get_typed(s->pool, T_ITEM, a->slot[k]);
			if (!it || add(s, a->slot, sizeof(a->slot)) || add(s, &it->slot, 8))
				return 14;
			a->slot[j] = a->slot[k];
			a->slot[k] = 0;
			it->slot = (uint64_t)j;
			a->moves++;
		}
	} else if (what < 8) {		/* grant a new item */
		j = free_slot(a);
		if (j >= 0) {
			struct grant g = { s, s->m->players[ia], j };

			if (add(s, &s->m->serial, 8))
				return 15;
			if (s->tx) {
				if (shmdev_alloc_publish(s->pool, T_ITEM, &a->slot[j], init_item, &g,
							 NULL, NULL))
					return 16;
			} else {
				shmdev_handle_t h;

				if (shmdev_alloc(s->pool, T_ITEM, (void **)&it, &h))
					return 16;
				init_item(it, h, &g);
				a->slot[j] = h;
			}
		}
	} else if (what < 9) {		/* destroy one of a's items */
		k = used_slot(s, a);
		if (k >= 0) {
			shmdev_handle_t h = a->slot[k];

			if (add(s, &a->slot[k], 8))
				return 17;
			if (s->tx) {
				if (shmdev_tx_free(s->pool, h))
					return 18;
				a->slot[k] = 0;
			} else {
				if (shmdev_free(s->pool, h))
					return 18;
				a->slot[k] = 0;
			}
		}
	} else {			/* give gold only */
		amount = rnd(&s->rng) % (a->gold / 2 + 1);
		if (add(s, &a->gold, 8) || add(s, &b->gold, 8))
			return 19;
		a->gold -= amount;
		b->gold += amount;
	}
	return commit(s) ? 20 : 0;
}

static int find_meta(void *obj, shmdev_handle_t h, void *data)
{
	(void)h;
	*(struct meta **)data = obj;
	return 0;
}

static int server(struct campaign *c, uint64_t seed, const char *kill_at)
{
	struct server s = { .rng = seed | 1, .tx = c->tx };
	struct shmdev_type_stats ts;
	struct shmdev_ctx *ctx = NULL;
	int err;

	if (kill_at)
		setenv("SHMDEV_TEST_KILL_AT", kill_at, 1);
	if (shmdev_ctx_new(&ctx))
		return 30;
	shmdev_set_log_priority(ctx, 3);
	if (shmdev_pool_open(ctx, c->conf, types, 3, 0, &s.pool)) {
		fprintf(stderr, "server: open: %s\n", shmdev_errmsg(ctx));
		return 31;
	}
	if (shmdev_pool_type_stats(s.pool, T_META, &ts) || ts.live_count > 1)
		return 32;
	if (ts.live_count == 0) {
		err = populate(&s);
		if (err) {
			fprintf(stderr, "server: populate step %d: %s\n", err, shmdev_errmsg(ctx));
			return 33;
		}
	} else {
		shmdev_foreach(s.pool, T_META, find_meta, &s.m);
	}
	if (!s.m || s.m->magic != META_MAGIC)
		return 34;
	for (;;) {
		err = op(&s);
		if (err) {
			fprintf(stderr, "server: op step %d: %s\n", err, shmdev_errmsg(ctx));
			return 35;
		}
	}
}

/* ---- the checks (this program, after every kill) ------------------------ */

struct check {
	struct campaign *c;
	struct shmdev_pool *pool;
	struct meta *m;
	uint64_t metas, items;
	struct campaign_verdict v;
};

#define violation(k, ...) campaign_violation(&(k)->v, __VA_ARGS__)

static int count_meta(void *obj, shmdev_handle_t h, void *data)
{
	struct check *k = data;

	(void)h;
	k->metas++;
	k->m = obj;
	return 0;
}

/* Every live item is named by exactly one slot: the one it names. */
static int check_item(void *obj, shmdev_handle_t h, void *data)
{
	struct check *k = data;
	const struct item *it = obj;
	unsigned int i, s, named = 0;

	k->items++;
	for (i = 0; i < NPLAYERS; i++) {
		const struct player *p = shmdev_get_typed(k->pool, T_PLAYER, k->m->players[i]);

		for (s = 0; p && s < NSLOTS; s++)
			if (p->slot[s] == h) {
				named++;
				if (it->owner != k->m->players[i] || it->slot != s)
					violation(k, "item serial %" PRIu64 " sits in player %u slot %u but names another owner or slot",
						  it->serial, i + 1, s);
			}
	}
	if (named != 1)
		violation(k, "item serial %" PRIu64 " (0x%016" PRIx64 ") is owned %u times", it->serial, h, named);
	return 0;
}

/* Open as owner (recovery, repair), check, close.  false: a violation. */
static bool check_world(struct campaign *c, bool *empty)
{
	struct check k = { .c = c };
	struct shmdev_tx_stats tx;
	struct shmdev_type_stats ts;
	uint64_t gold = 0;
	unsigned int i, s;
	int err;

	*empty = false;
	c->checks++;
	err = shmdev_pool_open(c->ctx, c->conf, types, 3, 0, &k.pool);
	if (err) {
		fprintf(stderr, "campaign_tx: open after a kill: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
	shmdev_pool_tx_stats(k.pool, &tx);
	c->rolled_back += tx.open_rolled_back;
	c->finished += tx.open_finished;
	if (shmdev_pool_check(k.pool))
		violation(&k, "pool check: %s", shmdev_errmsg(c->ctx));
	shmdev_foreach(k.pool, T_META, count_meta, &k);
	if (k.metas == 0) {
		shmdev_pool_type_stats(k.pool, T_PLAYER, &ts);
		if (ts.live_count)
			violation(&k, "no Meta, but %" PRIu64 " players (a populate half done)", ts.live_count);
		*empty = true;
	} else if (k.metas > 1) {
		violation(&k, "%" PRIu64 " Meta objects", k.metas);
	} else if (k.m->magic != META_MAGIC) {
		violation(&k, "the Meta is half made (magic 0x%016" PRIx64 ")", k.m->magic);
	} else {
		for (i = 0; i < NPLAYERS; i++) {
			const struct player *p = shmdev_get_typed(k.pool, T_PLAYER, k.m->players[i]);

			if (!p) {
				violation(&k, "player %u dangles", i + 1);
				continue;
			}
			gold += p->gold;
			for (s = 0; s < NSLOTS; s++)
				if (p->slot[s] && !shmdev_get_typed(k.pool, T_ITEM, p->slot[s]))
					violation(&k, "player %u slot %u dangles (0x%016" PRIx64 ")", i + 1, s, p->slot[s]);
		}
		if (gold != k.m->total_gold)
			violation(&k, "gold is %" PRIu64 ", the world has %" PRIu64, gold, k.m->total_gold);
		shmdev_foreach(k.pool, T_ITEM, check_item, &k);
		shmdev_pool_type_stats(k.pool, T_ITEM, &ts);
		if (ts.live_count != k.items)
			violation(&k, "%" PRIu64 " items walked, %" PRIu64 " live", k.items, ts.live_count);
	}
	if (shmdev_pool_close(k.pool)) {
		fprintf(stderr, "campaign_tx: close: %s\n", shmdev_errmsg(c->ctx));
		exit(2);
	}
	if (k.v.bad) {
		c->violations++;
		if (c->violations <= 5 || c->verbose)
			printf("campaign_tx: violation %" PRIu64 " after restart %" PRIu64 ": %s\n",
			       c->violations, c->kills, k.v.why);
	}
	return !k.v.bad;
}

static void destroy(struct campaign *c)
{
	campaign_destroy("campaign_tx", c->ctx, c->conf);
}

/* One round: a server started, killed, the world checked. */
static void round_once(struct campaign *c)
{
	uint64_t plan = rnd(&c->rng), seed = rnd(&c->rng);
	char at[32];
	bool lib = plan % 2, empty;
	pid_t pid;

	if (plan % 12 == 5) {
		destroy(c);
		c->cold++;
	}
	/* Most crash points of an open lie before 40; ops have 5 to 40 each. */
	snprintf(at, sizeof(at), "%" PRIu64, 1 + (plan >> 8) % 600);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		_exit(server(c, seed, lib ? at : NULL));
	if (!lib) {
		struct timespec ts = { 0, (long)((plan >> 8) % 20000) * 1000 };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	campaign_reap_killed("campaign_tx", pid);
	c->kills++;
	if (lib)
		c->lib_kills++;
	else
		c->timed_kills++;
	if (!check_world(c, &empty))
		destroy(c);
	if (c->verbose)
		printf("round %" PRIu64 ": %s kill (%s)%s\n", c->kills, lib ? "library" : "timed",
		       lib ? at : "-", empty ? ", world empty" : "");
}

static void usage(void)
{
	fprintf(stderr, "usage: campaign_tx [--restarts N] [--no-tx] [--expect-violations] [--max-seconds S] [--seed N] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct campaign c = { .restarts = 1000, .max_seconds = 600, .tx = true };
	char text[1024], prefix[64];
	uint64_t t0, key;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--restarts") && i + 1 < argc)
			c.restarts = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
			c.max_seconds = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			c.seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-tx"))
			c.tx = false;
		else if (!strcmp(argv[i], "--expect-violations"))
			c.expect = true;
		else if (!strcmp(argv[i], "--verbose"))
			c.verbose = true;
		else
			usage();
	}
	campaign_env(argc, &c.seed, &c.restarts, VM_RESTARTS);
	c.rng = c.seed | 1;
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		snprintf(prefix, sizeof(prefix), "shmpool-campaign-tx.%d", (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	/* Keys of their own: 0x7458 ("tX") << 32 | pid << 8. */
	key = 0x745800000000ULL | (uint64_t)(getpid() & 0xffffff) << 8;
	snprintf(text, sizeof(text), "ProcessList = trade\n[trade]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 256K\nBlockKeys = 0x%" PRIx64 "-0x%" PRIx64 "\nHugePages = no\n",
		 key, key + 1, key + 2);
	if (shmdev_ctx_new(&c.ctx) || shmdev_conf_load_string(c.ctx, text, "campaign_tx.ini", "trade", &c.conf)) {
		fprintf(stderr, "campaign_tx: config: %s\n", c.ctx ? shmdev_errmsg(c.ctx) : "no context");
		return 2;
	}
	/* Errors are reported by this program; the destroys of absent pools are expected. */
	shmdev_set_log_priority(c.ctx, 2);
	printf("campaign_tx: seed=%" PRIu64 " restarts=%" PRIu64 " transactions=%s backend=%s\n", c.seed,
	       c.restarts, c.tx ? "on" : "off", getenv("SHMDEV_BACKEND") ? getenv("SHMDEV_BACKEND") : "auto");
	destroy(&c);
	t0 = mono_ms();
	while (c.kills < c.restarts) {
		if (mono_ms() - t0 > c.max_seconds * 1000) {
			c.ran_out = 1;
			break;
		}
		round_once(&c);
		if (c.kills % 100 == 0)
			printf("campaign_tx: %" PRIu64 " restarts, %" PRIu64 " violations\n", c.kills, c.violations);
		if (c.expect && c.violations)
			break;
	}
	destroy(&c);
	printf("campaign_tx: restarts=%" PRIu64 " kills_in_library=%" PRIu64 " timed_kills=%" PRIu64 " cold_starts=%" PRIu64 " checks=%" PRIu64 " rolled_back=%" PRIu64 " finished=%" PRIu64 " violations=%" PRIu64 " transactions=%s seed=%" PRIu64 " seconds=%.1f\n",
	       c.kills, c.lib_kills, c.timed_kills, c.cold, c.checks, c.rolled_back, c.finished,
	       c.violations, c.tx ? "on" : "off", c.seed, (double)(mono_ms() - t0) / 1000);
	shmdev_conf_free(c.conf);
	shmdev_ctx_unref(c.ctx);
	if (c.expect) {
		printf("%s: the campaign %s violations (%s)\n", c.violations ? "PASS" : "FAIL",
		       c.violations ? "shows" : "shows no", c.tx ? "transactions on" : "transactions off");
		return c.violations ? 0 : 1;
	}
	if (c.ran_out)
		printf("FAIL: %" PRIu64 " of %" PRIu64 " restarts in %" PRIu64 " s\n", c.kills, c.restarts, c.max_seconds);
	return c.violations || c.ran_out ? 1 : 0;
}
