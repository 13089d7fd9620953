// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Enumerated crash points of transactions (issue 14, item 3): begin, add,
 * alloc, free, the atomic publish, commit (with and without frees), abort,
 * and the rollback and finish an owner open does after a crash.
 *
 * The world: players A and B (100 gold each, 256-byte objects), item D
 * owned by A.  The script P, run by a child under SHMDEV_TEST_KILL_AT=N
 * (libshmdev/crash.h; points counted from the start of its open):
 *   open;
 *   tx 1: begin; add A.gold, all of B, A's slots; move 30 gold A -> B;
 *         tx_alloc item C for B; publish item E into A's slot 2;
 *         tx_free D (A's slot 0 cleared); commit;
 *   tx 2: begin; add all of A; A.gold = 0; tx_alloc X into A's slot 3;
 *         tx_free C; abort;
 *   close.
 * "old" is the world before tx 1, "new" the world after it.  For every
 * N until P runs to its end:
 *  1. the world is built afresh and P is killed at point N;
 *  2. a read-only open tells whether the log was left open;
 *  3. an owner open (the recovery and the repair) must show exactly "old"
 *     if the kill came before tx 1's commit point (the first
 *     "tx:committed"), exactly "new" otherwise: gold 200 in all, every
 *     item owned by exactly one player slot and naming that player, no
 *     slot naming a dead item, the live counts, shmdev_pool_check(); its
 *     tx stats say one rollback or one finish if the log was open, none
 *     if not;
 *  4. if the log was left open, the recovery is enumerated too: P killed
 *     at N again, then an owner open killed at each point M of its own
 *     until it completes, then a last open must show the same world.
 * Every point P and the recovery must reach is listed in must[]: a point
 * that disappears fails the suite.  Under SHMDEV_TEST_QUICK (valgrind)
 * and in the VM (SHMPOOL_VM, software emulation) the recovery is
 * enumerated for every fourth N only.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "testutil.h"

#define T_PLAYER 0
#define T_ITEM	 1
#define MAX_POINTS 400
#define NSLOT	4

struct player {
	uint64_t gold;
	shmdev_handle_t slot[NSLOT];
	uint8_t pad[216];
};

struct item {
	uint64_t serial;
	shmdev_handle_t owner;
};

static const struct shmdev_type types[] = {
	{ .id = T_PLAYER, .name = "Player", .size = sizeof(struct player), .max_count = 8 },
	{ .id = T_ITEM, .name = "Item", .size = sizeof(struct item), .max_count = 16 },
};

static struct shmdev_ctx *ctx;
static struct shmdev_conf *conf;
static shmdev_handle_t ha, hb, hd;

static const char *const must_p[] = {
	"tx:begin", "tx:begun", "tx:logging", "tx:added", "tx:alloc-logged", "alloc:prepared",
	"tx:allocated", "tx:published", "tx:free-logged", "tx:committing", "tx:committed",
	"free:committed", "tx:commit-freed", "tx:commit-done", "tx:undo-restored",
	"tx:undo-freed", "tx:aborted", NULL,
};
static const char *const must_rollback[] = {
	"tx:undo-restored", "tx:undo-freed", "tx:recovered", "rebuild:slot", "repair:done", NULL,
};
static const char *const must_finish[] = { "tx:finish-freed", "tx:finished", "repair:done", NULL };

static void build_world(void)
{
	struct shmdev_pool *pool;
	struct player *a, *b;
	struct item *d;
	int st;

	st = shmdev_pool_destroy(ctx, conf);
	ck_assert_msg(st == 0 || st == -ENOENT, "destroy: %s", shmdev_errmsg(ctx));
	pool = tu_pool_open(ctx, conf, types, 2, 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_PLAYER, (void **)&a, &ha), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_PLAYER, (void **)&b, &hb), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&d, &hd), 0);
	a->gold = b->gold = 100;
	d->serial = 1;
	d->owner = ha;
	a->slot[0] = hd;
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
}

static int init_e(void *obj, shmdev_handle_t h, void *arg)
{
	struct item *e = obj;

	(void)h;
	(void)arg;
	e->serial = 3;
	e->owner = ha;
	return 0;
}

/* P; returns 0 if it ran to its end, else the step that failed. */
static int script(struct shmdev_ctx *c)
{
	struct shmdev_pool *pool = NULL;
	struct player *a, *b;
	struct item *it;
	shmdev_handle_t h;

	if (shmdev_pool_open(c, conf, types, 2, 0, &pool))
		return 10;
	a = shmdev_get(pool, ha);
	b = shmdev_get(pool, hb);
	if (!a || !b || shmdev_tx_begin(pool) ||
	    shmdev_tx_add(pool, &a->gold, sizeof(a->gold)) || shmdev_tx_add(pool, b, sizeof(*b)) ||
	    shmdev_tx_add(pool, a->slot, sizeof(a->slot)))
		return 11;
	a->gold -= 30;
	b->gold += 30;
	if (shmdev_tx_alloc(pool, T_ITEM, (void **)&it, &h))
		return 12;
	it->serial = 2;
	it->owner = hb;
	b->slot[1] = h;
	if (shmdev_alloc_publish(pool, T_ITEM, &a->slot[2], init_e, NULL, NULL, NULL))
		return 13;
	if (shmdev_tx_free(pool, a->slot[0]))
		return 14;
	a->slot[0] = 0;
	if (shmdev_tx_commit(pool))
		return 15;
	/* tx 2, aborted. */
	if (shmdev_tx_begin(pool) || shmdev_tx_add(pool, a, sizeof(*a)))
		return 16;
	a->gold = 0;
	if (shmdev_tx_alloc(pool, T_ITEM, (void **)&it, &a->slot[3]) ||
	    shmdev_tx_free(pool, b->slot[1]) || shmdev_tx_abort(pool))
		return 17;
	return shmdev_pool_close(pool) ? 18 : 0;
}

static int child_script(void *arg)
{
	struct shmdev_ctx *c = tu_ctx();
	int ret;

	(void)arg;
	ret = script(c);
	if (ret)
		fprintf(stderr, "P: step %d: %s\n", ret, shmdev_errmsg(c));
	shmdev_ctx_unref(c);
	return ret;
}

/* An owner open and close (the recovery), nothing else. */
static int child_open(void *arg)
{
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	int ret = 0;

	(void)arg;
	if (shmdev_pool_open(c, conf, types, 2, 0, &pool)) {
		fprintf(stderr, "recovery: %s\n", shmdev_errmsg(c));
		ret = 20;
	} else if (shmdev_pool_close(pool)) {
		ret = 21;
	}
	shmdev_ctx_unref(c);
	return ret;
}

struct hook {
	int (*fn)(void *);
	char at[16], fd[16];
};

/* In the child: arm the hook (its strings stay reachable there), run. */
static int hooked(void *arg)
{
	struct hook *h = arg;

	if (h->at[0] != '0') {
		setenv("SHMDEV_TEST_KILL_AT", h->at, 1);
		setenv("SHMDEV_TEST_KILL_LOG", h->fd, 1);
	}
	return h->fn(NULL);
}

/* Run @fn killed at the @n-th point (0: not at all); the point's name into @point. */
static int run_at(int (*fn)(void *), unsigned int n, char *point, size_t len)
{
	struct hook h = { .fn = fn };
	int fds[2], status;
	ssize_t r;

	ck_assert_int_eq(pipe(fds), 0);
	snprintf(h.at, sizeof(h.at), "%u", n);
	snprintf(h.fd, sizeof(h.fd), "%d", fds[1]);
	status = tu_run_in_child(hooked, &h);
	close(fds[1]);
	r = read(fds[0], point, len - 1);
	point[r > 0 ? r : 0] = '\0';
	if (r > 0 && point[r - 1] == '\n')
		point[r - 1] = '\0';
	close(fds[0]);
	return status;
}

struct walk {
	struct shmdev_pool *pool;
	const char *where;
	unsigned int items;
};

/* Every live item is named by exactly one player slot, the one of its owner. */
static int item_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	const struct item *it = obj;
	const struct player *pl[2] = { shmdev_get(w->pool, ha), shmdev_get(w->pool, hb) };
	shmdev_handle_t who[2] = { ha, hb };
	unsigned int named = 0, i, k;

	for (i = 0; i < 2; i++)
		for (k = 0; k < NSLOT; k++)
			if (pl[i]->slot[k] == h) {
				named++;
				ck_assert_msg(it->owner == who[i], "%s: item 0x%016" PRIx64 " sits with a player it does not name",
					      w->where, h);
			}
	ck_assert_msg(named == 1, "%s: item 0x%016" PRIx64 " (serial %" PRIu64 ") is owned %u times",
		      w->where, h, it->serial, named);
	w->items++;
	return 0;
}

enum world { W_OLD, W_NEW };

/* The world as an owner sees it: exactly @want, and consistent. */
static void check_world(struct shmdev_pool *pool, enum world want, const char *where)
{
	const struct player *a = shmdev_get(pool, ha), *b = shmdev_get(pool, hb);
	struct walk w = { .pool = pool, .where = where };
	struct shmdev_type_stats ts;
	unsigned int i, k;

	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s: check: %s", where, shmdev_errmsg(ctx));
	ck_assert_msg(a && b, "%s: a player is gone", where);
	ck_assert_msg(a->gold + b->gold == 200, "%s: gold %" PRIu64 " + %" PRIu64 " is not 200",
		      where, a->gold, b->gold);
	for (i = 0; i < 2; i++)
		for (k = 0; k < NSLOT; k++) {
			shmdev_handle_t h = (i ? b : a)->slot[k];

			ck_assert_msg(!h || shmdev_get_typed(pool, T_ITEM, h), "%s: player %u slot %u dangles (0x%016" PRIx64 ")",
				      where, i, k, h);
		}
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, item_fn, &w), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_ITEM, &ts), 0);
	ck_assert_uint_eq(ts.live_count, w.items);
	if (want == W_OLD) {
		ck_assert_msg(a->gold == 100 && a->slot[0] == hd && !a->slot[2] && !b->slot[1] &&
			      w.items == 1, "%s: not the world before tx 1 (gold %" PRIu64 ", %u items)",
			      where, a->gold, w.items);
	} else {
		const struct item *e = shmdev_get(pool, a->slot[2]);

		ck_assert_msg(a->gold == 70 && !a->slot[0] && !a->slot[3] && b->slot[1] && e &&
			      e->serial == 3 && !shmdev_get(pool, hd) && w.items == 2,
			      "%s: not the world after tx 1 (gold %" PRIu64 ", %u items)", where, a->gold, w.items);
	}
}

/* A read-only look: is the log open? */
static bool log_open(void)
{
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY);
	struct shmdev_tx_stats st;

	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	return st.active;
}

/* Owner open: the recovery's stats, the world, close. */
static void owner_check(enum world want, bool open_log, const char *where)
{
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, 2, 0);
	struct shmdev_tx_stats st;

	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	if (open_log)
		ck_assert_msg(st.open_rolled_back + st.open_finished == 1,
			      "%s: the log was open, the open rolled back %" PRIu64 " and finished %" PRIu64,
			      where, st.open_rolled_back, st.open_finished);
	ck_assert_msg(!st.active, "%s: the log is still open after the owner open", where);
	check_world(pool, want, where);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
}

static bool in_list(const char *const *list, char names[][48], unsigned int n, const char **miss)
{
	unsigned int i;

	for (; *list; list++) {
		for (i = 0; i < n; i++)
			if (!strcmp(names[i], *list))
				break;
		if (i == n) {
			*miss = *list;
			return false;
		}
	}
	return true;
}

START_TEST(test_tx_points)
{
	static char names[MAX_POINTS][48], rnames[MAX_POINTS][48];
	unsigned int n, m, k, ndistinct = 0, commit_at = 0, nrec = 0, enumerated = 0, open_logs = 0;
	char point[128], where[256];
	const char *miss = NULL;
	bool rolled = false, finished = false;
	int st;

	for (n = 1; n < MAX_POINTS; n++) {
		enum world want;
		bool open_log;

		build_world();
		st = run_at(child_script, n, point, sizeof(point));
		if (st == 0)
			break;
		ck_assert_msg(st == 1000 + SIGKILL, "P killed at %u: status %d", n, st);
		ck_assert_msg(strchr(point, ' '), "P killed at %u: no point logged", n);
		snprintf(names[n - 1], sizeof(names[0]), "%s", strchr(point, ' ') + 1);
		if (!commit_at && !strcmp(names[n - 1], "tx:committed"))
			commit_at = n;
		want = commit_at ? W_NEW : W_OLD;
		open_log = log_open();
		open_logs += open_log;
		snprintf(where, sizeof(where), "P killed at %u (%.47s)", n, names[n - 1]);
		owner_check(want, open_log, where);
		if (!open_log || ((tu_quick() || getenv("SHMPOOL_VM")) && n % 4))
			continue;
		/* The recovery, killed at each of its points. */
		enumerated++;
		for (m = 1; m < MAX_POINTS; m++) {
			build_world();
			ck_assert_int_eq(run_at(child_script, n, point, sizeof(point)), 1000 + SIGKILL);
			st = run_at(child_open, m, point, sizeof(point));
			if (st == 0)
				break;
			ck_assert_msg(st == 1000 + SIGKILL, "recovery after %u, killed at %u: status %d", n, m, st);
			for (k = 0; k < ndistinct && strcmp(rnames[k], strchr(point, ' ') + 1); k++)
				;
			if (k == ndistinct && k < MAX_POINTS)
				snprintf(rnames[ndistinct++], sizeof(rnames[0]), "%s", strchr(point, ' ') + 1);
			nrec++;
			snprintf(where, sizeof(where), "P killed at %u (%.47s), its recovery at %u (%.47s)",
				 n, names[n - 1], m, strchr(point, ' ') + 1);
			owner_check(want, false, where);
			if (!strcmp(strchr(point, ' ') + 1, "tx:recovered"))
				rolled = true;
			if (!strcmp(strchr(point, ' ') + 1, "tx:finished"))
				finished = true;
		}
		ck_assert_msg(m < MAX_POINTS, "recovery after %u: more than %u points", n, MAX_POINTS);
	}
	ck_assert_msg(n < MAX_POINTS, "P: more than %u points", MAX_POINTS);
	ck_assert_msg(commit_at, "P never reached tx:committed");
	ck_assert_msg(in_list(must_p, names, n - 1, &miss), "P never reached the point \"%s\"", miss);
	if (!tu_quick() && !getenv("SHMPOOL_VM")) {
		ck_assert_msg(rolled && in_list(must_rollback, rnames, ndistinct, &miss),
			      "the recovery never reached \"%s\"", rolled ? miss : "tx:recovered");
		ck_assert_msg(finished && in_list(must_finish, rnames, ndistinct, &miss),
			      "the recovery never reached \"%s\"", finished ? miss : "tx:finished");
	}
	printf("tx crashpoints: P has %u points (tx 1 commits at %u), %u left the log open; their recovery enumerated after %u of them: %u points; all passed\n",
	       n - 1, commit_at, open_logs, enumerated, nrec);
	fflush(stdout);
}
END_TEST

static void setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ctx = tu_ctx();
	conf = tu_conf(ctx, "txc", 60, "64K", 2, NULL);
	unsetenv("SHMDEV_TEST_KILL_AT");
	unsetenv("SHMDEV_TEST_KILL_LOG");
}

static void teardown(void)
{
	tu_pool_destroy(ctx, conf);
	conf = NULL;
	ctx = shmdev_ctx_unref(ctx);
}

int main(void)
{
	Suite *s = suite_create("tx_crash");
	TCase *tc = tcase_create("enumerated");

	tu_init("tx_crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_tx_points);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
