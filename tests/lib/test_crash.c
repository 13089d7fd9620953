// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fork-and-kill crash injection.  A child opens the pool and runs random
 * alloc / free / force_get; the library's SHMDEV_TEST_KILL_AT hook makes it
 * raise SIGKILL at the Nth crash point (N random), counted from the start
 * of its open: most land inside those calls, a few in the open and its
 * repair (test_crashpoints enumerates those one by one).  The
 * child logs every operation to a shared page before and after the call.
 * After each kill the parent opens the pool (which repairs it), and checks
 * shmdev_pool_check() and its own model: every object whose creation
 * completed is there with its contents, every completed free is gone, the
 * one interrupted operation either happened or not (a half-made object is
 * zeroed), no key is held twice, live counts match.
 *
 * Every handle a completed free gave up must stay stale for good.  A second
 * campaign starts with every slot near its last generation, so that frees
 * retire slots (layout.h) while the hook kills the child at each step.
 *
 * 1000 rounds (400 for the aged pool) on the host; 300 (150) in each VM
 * round (SHMPOOL_VM: the device backend on every kernel; this suite was a
 * third of a stock round's time); 50 under SHMDEV_TEST_QUICK (valgrind).
 * SHMDEV_TEST_SEED replays a run.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define T_PLAIN		0
#define T_KEYED		1
#define CAP_PLAIN	120
#define CAP_KEYED	100
#define KEY_RANGE	160
#define OPS_PER_CHILD	60
#define MAX_MODEL	(CAP_PLAIN + CAP_KEYED)
#define STAMP		0x5eed5eed00000000ULL

struct obj {
	uint64_t stamp;		/* STAMP ^ handle once the child filled it */
	uint64_t handle;
	uint64_t key;
	uint64_t pad;
};

static const struct shmdev_type types[] = {
	{ .id = T_PLAIN, .name = "Plain", .size = sizeof(struct obj), .max_count = CAP_PLAIN },
	{ .id = T_KEYED, .name = "Keyed", .size = sizeof(struct obj), .max_count = CAP_KEYED,
	  .flags = SHMDEV_TYPE_KEYED },
};

enum op { OP_ALLOC = 1, OP_FREE = 2, OP_FORCE = 3 };
enum { ST_STARTED = 1, ST_DONE = 2 };

struct log_entry {
	uint32_t op;
	uint32_t state;
	int32_t ret;
	uint32_t created;
	uint64_t key;
	uint64_t handle;
};

/* Shared with the child (MAP_SHARED before fork). */
struct shared_log {
	uint32_t n;
	struct log_entry e[OPS_PER_CHILD];
};

struct model_obj {
	uint64_t handle;
	uint64_t key;
	uint16_t type;
};

#define MAX_DEAD	65536

struct model {
	size_t n;
	struct model_obj o[MAX_MODEL];
	size_t ndead;
	uint64_t dead[MAX_DEAD];	/* handles of completed frees */
};

struct child_arg {
	struct shmdev_conf *conf;
	struct shared_log *log;
	uint64_t kill_at;
	unsigned int seed;
	int kill_log;		/* SHMDEV_TEST_KILL_LOG: where the point's name goes */
};

static struct shmdev_ctx *ctx;

static struct shmdev_conf *mkconf(void)
{
	struct shmdev_conf *conf = NULL;
	char text[1024];

	/* Small blocks: the types span several chunks and blocks. */
	snprintf(text, sizeof(text), "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 8K\nBlockKeys = 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 "\n",
		 tu_key(0), tu_key(1), tu_key(2), tu_key(3));
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "crash.ini", "zone", &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	return conf;
}

static int collect(void *obj, shmdev_handle_t h, void *data)
{
	shmdev_handle_t *hs = data;
	size_t i;

	(void)obj;
	for (i = 0; hs[i]; i++)
		;
	hs[i] = h;
	return 0;
}

/* The child: random operations until the hook kills it. */
static int child_run(void *varg)
{
	struct child_arg *a = varg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t live[MAX_MODEL + 2];
	size_t nlive = 0, i;
	unsigned int seed = a->seed;
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, a->kill_at);
	setenv("SHMDEV_TEST_KILL_AT", num, 1);
	snprintf(num, sizeof(num), "%d", a->kill_log);
	setenv("SHMDEV_TEST_KILL_LOG", num, 1);
	if (shmdev_pool_open(c, a->conf, types, 2, 0, &pool)) {
		shmdev_ctx_unref(c);
		return 10;
	}
	memset(live, 0, sizeof(live));
	shmdev_foreach(pool, T_PLAIN, collect, live);
	shmdev_foreach(pool, T_KEYED, collect, live);
	while (live[nlive])
		nlive++;
	for (i = 0; i < OPS_PER_CHILD; i++) {
		struct log_entry *e = &a->log->e[i];
		unsigned int r = (unsigned int)rand_r(&seed) % 100;
		struct obj *o = NULL;
		shmdev_handle_t h = 0;
		bool created = false;

		memset(e, 0, sizeof(*e));
		if (r < 35) {
			e->op = OP_ALLOC;
		} else if (r < 65 && nlive) {
			size_t k = (size_t)rand_r(&seed) % nlive;

			e->op = OP_FREE;
			e->handle = live[k];
			live[k] = live[--nlive];
			live[nlive] = 0;
		} else {
			e->op = OP_FORCE;
			e->key = 1 + (uint64_t)rand_r(&seed) % KEY_RANGE;
		}
		__atomic_store_n(&e->state, ST_STARTED, __ATOMIC_SEQ_CST);
		__atomic_store_n(&a->log->n, (uint32_t)i + 1, __ATOMIC_SEQ_CST);
		switch (e->op) {
		case OP_ALLOC:
			e->ret = shmdev_alloc(pool, T_PLAIN, (void **)&o, &h);
			if (!e->ret) {
				o->handle = h;
				o->stamp = STAMP ^ h;
				live[nlive++] = h;
			}
			break;
		case OP_FREE:
			e->ret = shmdev_free(pool, e->handle);
			break;
		case OP_FORCE:
			e->ret = shmdev_force_get(pool, T_KEYED, e->key, (void **)&o, &h, &created);
			if (!e->ret && created) {
				o->handle = h;
				o->key = e->key;
				o->stamp = STAMP ^ h;
				live[nlive++] = h;
			}
			e->created = created;
			break;
		}
		e->handle = e->op == OP_FREE ? e->handle : h;
		__atomic_store_n(&e->state, ST_DONE, __ATOMIC_SEQ_CST);
	}
	/* Not killed: leave cleanly. */
	i = shmdev_pool_close(pool) ? 11 : 0;
	shmdev_ctx_unref(c);
	return (int)i;
}

static ssize_t model_find(const struct model *m, uint64_t handle)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->o[i].handle == handle)
			return (ssize_t)i;
	return -1;
}

static ssize_t model_find_key(const struct model *m, uint64_t key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->o[i].type == T_KEYED && m->o[i].key == key)
			return (ssize_t)i;
	return -1;
}

static void model_add(struct model *m, uint64_t handle, uint16_t type, uint64_t key)
{
	ck_assert_uint_lt(m->n, MAX_MODEL);
	ck_assert_int_lt(model_find(m, handle), 0);
	m->o[m->n++] = (struct model_obj){ handle, key, type };
}

static void model_del(struct model *m, uint64_t handle)
{
	ssize_t i = model_find(m, handle);

	ck_assert_int_ge(i, 0);
	m->o[i] = m->o[--m->n];
	if (m->ndead < MAX_DEAD)
		m->dead[m->ndead++] = handle;
}

/* Apply the completed operations of the log; return the interrupted one. */
static const struct log_entry *apply_log(struct model *m, const struct shared_log *log)
{
	uint32_t i, n = __atomic_load_n(&log->n, __ATOMIC_SEQ_CST);

	for (i = 0; i < n; i++) {
		const struct log_entry *e = &log->e[i];

		if (e->state != ST_DONE) {
			ck_assert_uint_eq(i, n - 1);
			return e;
		}
		if (e->ret) {
			/* Only a full type may fail. */
			ck_assert_msg(e->ret == -ENOSPC && e->op != OP_FREE,
				      "op %u failed: %d", e->op, e->ret);
			continue;
		}
		if (e->op == OP_ALLOC)
			model_add(m, e->handle, T_PLAIN, 0);
		else if (e->op == OP_FREE)
			model_del(m, e->handle);
		else if (e->created)
			model_add(m, e->handle, T_KEYED, e->key);
		else
			ck_assert_msg(model_find_key(m, e->key) >= 0 &&
				      m->o[model_find_key(m, e->key)].handle == e->handle,
				      "force_get found key %" PRIu64 " at an unknown object", e->key);
	}
	return NULL;
}

struct scan {
	const struct model *m;
	shmdev_handle_t extra[4];
	size_t nextra;
	size_t seen;
};

static int scan_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct scan *s = data;
	struct obj *o = obj;

	if (model_find(s->m, h) >= 0) {
		ck_assert_msg(o->stamp == (STAMP ^ h) && o->handle == h,
			      "object 0x%" PRIx64 " lost its contents", h);
		s->seen++;
	} else {
		ck_assert_uint_lt(s->nextra, 4);
		s->extra[s->nextra++] = h;
	}
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

/* The pool after repair against the model; adopts a half-done creation. */
static void verify(struct shmdev_pool *pool, struct model *m, const struct log_entry *pending,
		   uint64_t round)
{
	struct shmdev_type_stats ts0, ts1;
	struct scan s = { .m = m };
	size_t i;

	ck_assert_msg(shmdev_pool_check(pool) == 0, "round %" PRIu64 ": %s", round, shmdev_errmsg(ctx));
	if (pending && pending->op == OP_FREE && !shmdev_get(pool, pending->handle))
		model_del(m, pending->handle);	/* the free got to its commit point */
	ck_assert_int_eq(shmdev_foreach(pool, T_PLAIN, scan_fn, &s), 0);
	ck_assert_int_eq(shmdev_foreach(pool, T_KEYED, scan_fn, &s), 0);
	ck_assert_msg(s.seen == m->n, "round %" PRIu64 ": %zu of %zu objects found", round, s.seen, m->n);
	/* At most one object nobody finished making: zeroed, from the interrupted op. */
	ck_assert_msg(s.nextra <= 1, "round %" PRIu64 ": %zu unknown objects", round, s.nextra);
	if (s.nextra) {
		uint16_t type = shmdev_handle_type(s.extra[0]);
		struct obj *o = shmdev_get(pool, s.extra[0]);

		ck_assert_ptr_nonnull(pending);
		ck_assert_msg((pending->op == OP_ALLOC && type == T_PLAIN) ||
			      (pending->op == OP_FORCE && type == T_KEYED &&
			       model_find_key(m, pending->key) < 0),
			      "round %" PRIu64 ": unknown object of type %u after op %u", round, type, pending->op);
		ck_assert(all_zero(o, sizeof(*o)));
		if (type == T_KEYED)
			ck_assert_ptr_eq(shmdev_find(pool, T_KEYED, pending->key, NULL), o);
		o->handle = s.extra[0];
		o->key = type == T_KEYED ? pending->key : 0;
		o->stamp = STAMP ^ s.extra[0];
		model_add(m, s.extra[0], type, o->key);
	}
	/* Every key finds its one object; absent keys find nothing. */
	for (i = 0; i < m->n; i++) {
		shmdev_handle_t h = 0;

		if (m->o[i].type != T_KEYED)
			continue;
		ck_assert_ptr_nonnull(shmdev_find(pool, T_KEYED, m->o[i].key, &h));
		ck_assert_uint_eq(h, m->o[i].handle);
	}
	if (pending && pending->op == OP_FORCE && model_find_key(m, pending->key) < 0)
		ck_assert_ptr_null(shmdev_find(pool, T_KEYED, pending->key, NULL));
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_PLAIN, &ts0), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_KEYED, &ts1), 0);
	ck_assert_uint_eq(ts0.live_count + ts1.live_count, m->n);
	/* What was freed stays freed: no handle of it resolves again. */
	for (i = 0; i < m->ndead; i++)
		ck_assert_msg(!shmdev_get(pool, m->dead[i]),
			      "round %" PRIu64 ": freed handle 0x%016" PRIx64 " resolves", round, m->dead[i]);
}

/*
 * Use every slot of both types once, then set each FREE slot's generation
 * to one of the last few: the campaign's frees then retire slots.
 */
static void age_slots(struct shmdev_conf *conf)
{
	static const uint32_t caps[2] = { CAP_PLAIN, CAP_KEYED };
	struct shmdev_pool *pool = NULL;
	uint32_t slot_size, obj_offset, t, i;
	shmdev_handle_t *hs = calloc(CAP_PLAIN + CAP_KEYED, sizeof(*hs));
	void **objs = calloc(CAP_PLAIN + CAP_KEYED, sizeof(*objs));

	ck_assert(hs && objs);
	layout_slot_geom(sizeof(struct obj), 8, &slot_size, &obj_offset);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 2, 0, &pool), 0);
	for (t = 0; t < 2; t++) {
		for (i = 0; i < caps[t]; i++)
			ck_assert_int_eq(t == T_PLAIN ? shmdev_alloc(pool, T_PLAIN, &objs[i], &hs[i]) :
				shmdev_force_get(pool, T_KEYED, 100000 + i, &objs[i], &hs[i], NULL), 0);
		for (i = 0; i < caps[t]; i++) {
			struct layout_slot *s = (struct layout_slot *)((char *)objs[i] - obj_offset);

			ck_assert_int_eq(shmdev_free(pool, hs[i]), 0);
			s->tag = layout_tag(LAYOUT_SLOT_FREE, SHMDEV_LAYOUT_GEN_MAX - i % 24);
		}
	}
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	free(hs);
	free(objs);
}

static unsigned int test_seed(void)
{
	const char *s = getenv("SHMDEV_TEST_SEED");

	if (s && *s)
		return (unsigned int)strtoul(s, NULL, 0);
	return (unsigned int)time(NULL) ^ (unsigned int)getpid();
}

static void campaign(bool aged)
{
	struct shmdev_conf *conf = mkconf();
	struct shared_log *log;
	struct model *m;
	struct shmdev_pool *pool = NULL;
	struct shmdev_type_stats ts[2];
	unsigned int seed = test_seed();
	uint64_t round, rounds, killed = 0, repairs = 0;
	bool dirty = false;	/* the last owner went without closing */

	if (tu_quick())
		rounds = 50;
	else if (getenv("SHMPOOL_VM"))
		rounds = aged ? 150 : 300;
	else
		rounds = aged ? 400 : 1000;
	printf("crash%s: %" PRIu64 " rounds%s, SHMDEV_TEST_SEED=%u\n", aged ? " (aged slots)" : "",
	       rounds, tu_quick() ? " (SHMDEV_TEST_QUICK: valgrind)" :
	       getenv("SHMPOOL_VM") ? " (SHMPOOL_VM)" : "", seed);
	fflush(stdout);
	log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(log, MAP_FAILED);
	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);

	shmdev_pool_destroy(ctx, conf);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 2, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	if (aged)
		age_slots(conf);
	for (round = 0; round < rounds; round++) {
		struct child_arg a = { conf, log, 0, 0, -1 };
		const struct log_entry *pending;
		struct shmdev_pool_stats st;
		char point[96] = "";
		int status, fds[2];
		ssize_t n;

		a.seed = (unsigned int)rand_r(&seed);
		/* 2 to 6 crash points per operation: most rounds die mid-run. */
		a.kill_at = 1 + (uint64_t)rand_r(&seed) % (OPS_PER_CHILD * 3);
		memset(log, 0, sizeof(*log));
		ck_assert_int_eq(pipe(fds), 0);
		a.kill_log = fds[1];
		status = tu_run_in_child(child_run, &a);
		close(fds[1]);
		n = read(fds[0], point, sizeof(point) - 1);
		point[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		ck_assert_msg(status == 0 || status == 1000 + SIGKILL,
			      "round %" PRIu64 ": child status %d", round, status);
		if (status)
			killed++;
		/*
		 * Killed at its first point, the child never took the pool; at
		 * its last, it had closed it.
		 */
		if (status == 0 || strstr(point, " close:base-detached\n"))
			dirty = false;
		else if (!strstr(point, " open:start\n"))
			dirty = true;
		pending = apply_log(m, log);
		ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 2, 0, &pool), 0);
		shmdev_pool_stats(pool, &st);
		ck_assert_msg(st.start == (dirty ? SHMDEV_START_RESUMED_CRASH : SHMDEV_START_RESUMED_CLEAN),
			      "round %" PRIu64 ": start %d after the child's end (%s)", round, st.start,
			      status ? point : "exit 0");
		verify(pool, m, pending, round);
		if (dirty) {
			/* The repair found exactly the objects the model says exist. */
			repairs++;
			ck_assert_uint_eq(st.repaired_objects, m->n);
		}
		/* Sometimes leave it dirty: then the child's open repairs. */
		dirty = rand_r(&seed) % 4 == 0;
		if (dirty)
			shmdev_pool_abandon(pool);
		else
			ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 2, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_PLAIN, &ts[0]), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_KEYED, &ts[1]), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	printf("crash%s: %" PRIu64 " rounds, %" PRIu64 " children killed inside the library, %" PRIu64 " repairs checked, %zu freed handles stale, %" PRIu64 " slots retired\n",
	       aged ? " (aged slots)" : "", rounds, killed, repairs, m->ndead,
	       ts[0].retired_count + ts[1].retired_count);
	/* Aged: a full type fails fast, without crash points. */
	ck_assert_uint_ge(killed, aged ? rounds / 10 : rounds / 3);
	if (aged)
		ck_assert_uint_gt(ts[0].retired_count + ts[1].retired_count, 0);
	free(m);
	munmap(log, sizeof(*log));
	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
}

START_TEST(test_kill_at_crash_points)
{
	campaign(false);
}
END_TEST

/* The same over slots at their last generations: frees retire them. */
START_TEST(test_kill_at_crash_points_aged)
{
	campaign(true);
}
END_TEST

static void setup(void)
{
	ctx = tu_ctx();
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
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("fork-and-kill");
	SRunner *sr;
	int failed;

	tu_init("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_regions);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, test_kill_at_crash_points);
	tcase_add_test(tc, test_kill_at_crash_points_aged);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_destroy_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
