// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The public API with NULL pointers (issue 10, item 20): every function
 * shmdev.h declares, with NULL for each pointer it takes (and a real
 * context or pool where the NULL is elsewhere); a list of those calls that
 * must cover every function the header declares.  Runs on the backend
 * SHMDEV_BACKEND selects.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static struct shmdev_ctx *ctx;

static void destroy_pool(void)
{
	tu_zone_destroy(ctx);
}

/* ---- item 20: NULL arguments -------------------------------------------- */

/*
 * One call per public function, with NULL for every pointer it takes (and
 * a valid context or pool where the NULL is elsewhere).  Each runs in a
 * child so that one crash names its function and the others still run.
 */
struct null_call {
	const char *fn;
	int (*call)(void);
};

static struct shmdev_pool *np;		/* NULL, but the compiler does not know */
static struct shmdev_ctx *nctx;
static struct shmdev_region *nreg;
static struct shmdev_conf *nconf;

static int nc_ctx_new(void) { return shmdev_ctx_new(NULL) == -EINVAL ? 0 : 1; }
static int nc_ctx_ref(void) { return shmdev_ctx_ref(nctx) == NULL ? 0 : 1; }
static int nc_ctx_unref(void) { return shmdev_ctx_unref(nctx) == NULL ? 0 : 1; }
static int nc_set_log_fn(void) { shmdev_set_log_fn(nctx, NULL, NULL); return 0; }
static int nc_set_log_priority(void) { shmdev_set_log_priority(nctx, 3); return 0; }
static int nc_get_log_priority(void) { return shmdev_get_log_priority(nctx) < 0 ? 0 : 1; }
static int nc_errmsg(void) { return shmdev_errmsg(nctx) != NULL ? 0 : 1; }

static int nc_conf_load(void)
{
	struct shmdev_conf *c = (void *)1;

	if (shmdev_conf_load(nctx, "x.ini", "zone", &c) != -EINVAL)
		return 1;
	if (shmdev_conf_load(ctx, NULL, "zone", &c) != -EINVAL)
		return 2;
	return shmdev_conf_load(ctx, "x.ini", "zone", NULL) == -EINVAL ? 0 : 3;
}

static int nc_conf_load_string(void)
{
	struct shmdev_conf *c = (void *)1;

	if (shmdev_conf_load_string(nctx, "", NULL, NULL, &c) != -EINVAL)
		return 1;
	if (shmdev_conf_load_string(ctx, NULL, NULL, NULL, &c) != -EINVAL)
		return 2;
	return shmdev_conf_load_string(ctx, "", NULL, NULL, NULL) == -EINVAL ? 0 : 3;
}

static int nc_conf_free(void) { shmdev_conf_free(nconf); return 0; }
static int nc_conf_nr_processes(void) { return shmdev_conf_nr_processes(nconf) == 0 ? 0 : 1; }
static int nc_conf_process_at(void) { return shmdev_conf_process_at(nconf, 0) == NULL ? 0 : 1; }

static int nc_conf_process(void)
{
	struct shmdev_conf *c = tu_zone_conf(ctx);
	int ret = shmdev_conf_process(nconf, "zone") == NULL &&
		  shmdev_conf_process(c, NULL) == NULL ? 0 : 1;

	shmdev_conf_free(c);
	return ret;
}

static int nc_conf_self(void) { return shmdev_conf_self(nconf) == NULL ? 0 : 1; }

static int nc_template_render(void)
{
	char *out = (void *)1;

	if (shmdev_template_render(nctx, "x", NULL, NULL, 0, &out) != -EINVAL)
		return 1;
	if (shmdev_template_render(ctx, NULL, NULL, NULL, 0, &out) != -EINVAL)
		return 2;
	if (shmdev_template_render(ctx, "${A}", NULL, NULL, 1, &out) != -EINVAL)
		return 3;
	return shmdev_template_render(ctx, "x", NULL, NULL, 0, NULL) == -EINVAL ? 0 : 4;
}

static int nc_region_open(void)
{
	struct shmdev_region *r = (void *)1;

	if (shmdev_region_open(nctx, tu_backend(), tu_key(9), 4096, 0, 0, &r) != -EINVAL)
		return 1;
	return shmdev_region_open(ctx, tu_backend(), tu_key(9), 4096, 0, 0, NULL) == -EINVAL ? 0 : 2;
}

static int nc_backend_resolve(void)
{
	enum shmdev_backend b = SHMDEV_BACKEND_AUTO;

	if (shmdev_backend_resolve(nctx, SHMDEV_BACKEND_POSIX, &b) != -EINVAL)
		return 1;
	if (shmdev_backend_resolve(ctx, SHMDEV_BACKEND_POSIX, NULL) != -EINVAL)
		return 2;
	/* Not a pointer, but a value out of the enum: a name, never a crash. */
	return shmdev_backend_resolve(ctx, (enum shmdev_backend)77, &b) == -EINVAL ? 0 : 3;
}

/* No pointer to pass: a value out of the enum must still give a string. */
static int nc_backend_name(void)
{
	const char *n = shmdev_backend_name((enum shmdev_backend)77);

	return n && !strcmp(n, "unknown") ? 0 : 1;
}

static int nc_region_addr(void) { return shmdev_region_addr(nreg) == NULL ? 0 : 1; }
static int nc_region_size(void) { return shmdev_region_size(nreg) == 0 ? 0 : 1; }
static int nc_region_key(void) { return shmdev_region_key(nreg) == 0 ? 0 : 1; }
static int nc_region_start(void) { return (int)shmdev_region_start(nreg) == 0 ? 0 : 1; }
static int nc_region_handed_over(void) { return shmdev_region_handed_over(nreg) ? 1 : 0; }
static int nc_region_backend(void) { (void)shmdev_region_backend(nreg); return 0; }
static int nc_region_generation(void) { return shmdev_region_generation(nreg) == 0 ? 0 : 1; }
static int nc_region_remap(void) { return shmdev_region_remap(nreg, (void *)4096) == -EINVAL ? 0 : 1; }
static int nc_region_detach(void) { return shmdev_region_detach(nreg) == -EINVAL ? 0 : 1; }
static int nc_region_close(void) { shmdev_region_close(nreg); return 0; }

static int nc_region_stat(void)
{
	struct shmdev_region_info info;

	if (shmdev_region_stat(nctx, tu_backend(), tu_key(9), &info) != -EINVAL)
		return 1;
	return shmdev_region_stat(ctx, tu_backend(), tu_key(9), NULL) == -EINVAL ? 0 : 2;
}

static int nc_region_destroy(void)
{
	return shmdev_region_destroy(nctx, tu_backend(), tu_key(9)) == -EINVAL ? 0 : 1;
}

static int nc_list_fn(const struct shmdev_region_info *info, void *data)
{
	(void)info;
	(void)data;
	return 0;
}

static int nc_region_list(void)
{
	if (shmdev_region_list(nctx, tu_backend(), nc_list_fn, NULL) != -EINVAL)
		return 1;
	return shmdev_region_list(ctx, tu_backend(), NULL, NULL) == -EINVAL ? 0 : 2;
}

static int nc_pool_open(void)
{
	struct shmdev_conf *c = tu_zone_conf(ctx);
	struct shmdev_pool *p = (void *)1;
	int ret = 0;

	if (shmdev_pool_open(nctx, c, tu_zone_types, TU_ZONE_NR_TYPES, 0, &p) != -EINVAL)
		ret = 1;
	else if (shmdev_pool_open(ctx, nconf, tu_zone_types, TU_ZONE_NR_TYPES, 0, &p) != -EINVAL)
		ret = 2;
	else if (shmdev_pool_open(ctx, c, tu_zone_types, TU_ZONE_NR_TYPES, 0, NULL) != -EINVAL)
		ret = 3;
	else if (shmdev_pool_open(ctx, c, NULL, TU_ZONE_NR_TYPES, 0, &p) != -EINVAL)
		ret = 4;
	shmdev_conf_free(c);
	return ret;
}

static int nc_pool_close(void) { return shmdev_pool_close(np) == 0 ? 0 : 1; }
static int nc_pool_abandon(void) { shmdev_pool_abandon(np); return 0; }

static int nc_pool_destroy(void)
{
	struct shmdev_conf *c = tu_zone_conf(ctx);
	int ret = shmdev_pool_destroy(nctx, c) == -EINVAL &&
		  shmdev_pool_destroy(ctx, nconf) == -EINVAL ? 0 : 1;

	shmdev_conf_free(c);
	return ret;
}

static int nc_pool_start(void) { return (int)shmdev_pool_start(np) == 0 ? 0 : 1; }
static int nc_pool_handed_over(void) { return shmdev_pool_handed_over(np) ? 1 : 0; }

static int nc_pool_stats(void)
{
	struct shmdev_pool_stats st;

	memset(&st, 0xa5, sizeof(st));
	shmdev_pool_stats(np, &st);
	if (st.start != 0 || st.generation != 0 || st.open_ns != 0)
		return 1;	/* zeroed: no stale numbers from a NULL pool */
	shmdev_pool_stats(np, NULL);
	return 0;
}

static int nc_pool_type_stats(void)
{
	struct shmdev_type_stats st;

	return shmdev_pool_type_stats(np, 0, &st) == -EINVAL ? 0 : 1;
}

static int nc_pool_block_stats(void)
{
	struct shmdev_block_stats st;

	return shmdev_pool_block_stats(np, 0, &st) == -EINVAL ? 0 : 1;
}

static int nc_pool_type_field(void)
{
	struct shmdev_field_info fi;

	return shmdev_pool_type_field(np, 0, 0, &fi) == -EINVAL ? 0 : 1;
}

/* Not a pointer argument: any kind gives a name, never NULL. */
static int nc_field_kind_name(void) { return shmdev_field_kind_name(0xffffffffu) ? 0 : 1; }

static int nc_alloc(void)
{
	void *obj = NULL;
	shmdev_handle_t h = 1;

	return shmdev_alloc(np, 0, &obj, &h) == -EINVAL ? 0 : 1;
}

static int nc_alloc_raw(void)
{
	void *obj = NULL;
	shmdev_handle_t h = 1;

	return shmdev_alloc_raw(np, 0, &obj, &h) == -EINVAL ? 0 : 1;
}

static int nc_get(void) { return shmdev_get(np, 1) == NULL ? 0 : 1; }
static int nc_free(void) { return shmdev_free(np, 1) == -EINVAL ? 0 : 1; }
static int nc_handle_of(void) { return shmdev_handle_of(np, &np) == SHMDEV_HANDLE_NONE ? 0 : 1; }

static int nc_force_get(void)
{
	void *obj = NULL;

	return shmdev_force_get(np, 1, 7, &obj, NULL, NULL) == -EINVAL ? 0 : 1;
}

static int nc_find(void) { return shmdev_find(np, 1, 7, NULL) == NULL ? 0 : 1; }

static int nc_handle_type(void) { return shmdev_handle_type(SHMDEV_HANDLE_NONE) == 0 ? 0 : 1; }
static int nc_handle_slot(void) { return shmdev_handle_slot(SHMDEV_HANDLE_NONE) == 0 ? 0 : 1; }
static int nc_get_typed(void) { return shmdev_get_typed(np, 0, 1) == NULL ? 0 : 1; }
static int nc_fast_init_abi(void)
{
	struct shmdev_fast f = { .abi = 7 };

	return shmdev_fast_init_abi(np, 0, SHMDEV_FAST_ABI, sizeof(f), &f) == -EINVAL && f.abi == 7 ? 0 : 1;
}

/* The macro that passes the header's ABI version. */
static int nc_fast_init(void)
{
	struct shmdev_fast f = { .abi = 7 };

	return shmdev_fast_init(np, 0, &f) == -EINVAL && f.abi == 7 ? 0 : 1;
}

/* A NULL struct, and a zeroed one (what a failed init leaves in a fresh one). */
static int nc_get_fast(void)
{
	struct shmdev_fast zero = { 0 };

	if (shmdev_get_fast(NULL, 1) != NULL)
		return 1;
	return shmdev_get_fast(&zero, 1) == NULL && shmdev_get_fast(&zero, 0) == NULL ? 0 : 2;
}
static int nc_find_fast_init_abi(void)
{
	struct shmdev_find_fast f = { .abi = 7 };

	return shmdev_find_fast_init_abi(np, 1, SHMDEV_FIND_FAST_ABI, sizeof(f), &f) == -EINVAL &&
	       f.abi == 7 ? 0 : 1;
}

static int nc_find_fast_init(void)
{
	struct shmdev_find_fast f = { .abi = 7 };

	return shmdev_find_fast_init(np, 1, &f) == -EINVAL && f.abi == 7 ? 0 : 1;
}

/* A NULL struct, and a zeroed one (no pool: no call either). */
static int nc_find_fast(void)
{
	struct shmdev_find_fast zero = { 0 };
	shmdev_handle_t h = 5;

	if (shmdev_find_fast(NULL, 7, &h) != NULL || h != 5)
		return 1;
	return shmdev_find_fast(&zero, 7, &h) == NULL && h == 5 && shmdev_find_fast(&zero, 0, NULL) == NULL ? 0 : 2;
}
static int nc_free_typed(void) { return shmdev_free_typed(np, 0, 1) == -EINVAL ? 0 : 1; }

static int nc_foreach_fn(void *obj, shmdev_handle_t h, void *data)
{
	(void)obj;
	(void)h;
	(void)data;
	return 0;
}

static int nc_foreach(void) { return shmdev_foreach(np, 0, nc_foreach_fn, NULL) == -EINVAL ? 0 : 1; }
static int nc_pool_check(void) { return shmdev_pool_check(np) == -EINVAL ? 0 : 1; }

/* Transactions (tx.c). */
static int nc_tx_begin(void) { return shmdev_tx_begin(np) == -EINVAL ? 0 : 1; }
static int nc_tx_add(void) { return shmdev_tx_add(np, NULL, 8) == -EINVAL ? 0 : 1; }
static int nc_tx_alloc(void)
{
	shmdev_handle_t h = 1;
	void *obj;

	return shmdev_tx_alloc(np, 0, &obj, &h) == -EINVAL && h == 1 ? 0 : 1;
}
static int nc_tx_free(void) { return shmdev_tx_free(np, 1) == -EINVAL ? 0 : 1; }
static int nc_tx_commit(void) { return shmdev_tx_commit(np) == -EINVAL ? 0 : 1; }
static int nc_tx_abort(void) { return shmdev_tx_abort(np) == -EINVAL ? 0 : 1; }
static int nc_tx_active(void) { return shmdev_tx_active(np) ? 1 : 0; }
static int nc_alloc_publish(void)
{
	return shmdev_alloc_publish(np, 0, NULL, NULL, NULL, NULL, NULL) == -EINVAL ? 0 : 1;
}
static int nc_pool_tx_stats(void) { return shmdev_pool_tx_stats(np, NULL) == -EINVAL ? 0 : 1; }

#define NC(name) { "shmdev_" #name, nc_##name }
static const struct null_call null_calls[] = {
	NC(ctx_new), NC(ctx_ref), NC(ctx_unref), NC(set_log_fn), NC(set_log_priority),
	NC(get_log_priority), NC(errmsg),
	NC(conf_load), NC(conf_load_string), NC(conf_free), NC(conf_nr_processes),
	NC(conf_process_at), NC(conf_process), NC(conf_self), NC(template_render),
	NC(backend_resolve), NC(backend_name), NC(region_open), NC(region_addr), NC(region_size), NC(region_key), NC(region_start), NC(region_handed_over),
	NC(region_backend), NC(region_generation), NC(region_remap), NC(region_detach),
	NC(region_close), NC(region_stat), NC(region_destroy), NC(region_list),
	NC(pool_open), NC(pool_close), NC(pool_abandon), NC(pool_destroy), NC(pool_start), NC(pool_handed_over),
	NC(pool_stats), NC(pool_type_stats), NC(pool_block_stats), NC(pool_type_field), NC(field_kind_name),
	NC(alloc), NC(alloc_raw), NC(get), NC(free), NC(handle_of), NC(force_get), NC(find),
	NC(foreach), NC(pool_check), NC(handle_type), NC(handle_slot), NC(get_typed),
	NC(free_typed), NC(fast_init_abi), NC(fast_init), NC(get_fast),
	NC(find_fast_init_abi), NC(find_fast_init), NC(find_fast),
	NC(tx_begin), NC(tx_add), NC(tx_alloc), NC(tx_free), NC(tx_commit), NC(tx_abort),
	NC(tx_active), NC(alloc_publish), NC(pool_tx_stats),
};
#define NR_NULL_CALLS (sizeof(null_calls) / sizeof(null_calls[0]))

static int run_null_call(void *arg)
{
	return ((const struct null_call *)arg)->call();
}

START_TEST(test_null_args)
{
	char failed[2048] = "";
	size_t i, n = 0;

	for (i = 0; i < NR_NULL_CALLS; i++) {
		int st = tu_run_in_child(run_null_call, (void *)&null_calls[i]);

		if (st == 0)
			continue;
		n += (size_t)snprintf(failed + n, sizeof(failed) - n, " %s(%s %d)",
				      null_calls[i].fn, st >= 1000 ? "signal" : "returned",
				      st >= 1000 ? st - 1000 : st);
		if (n >= sizeof(failed))
			break;
	}
	ck_assert_msg(failed[0] == '\0', "NULL arguments mishandled by:%s", failed);
}
END_TEST

/* A real pool (and context), and NULL for each other pointer. */
START_TEST(test_null_args_with_pool)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	shmdev_handle_t h = 0;
	void *obj = NULL;

	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, NULL, &h), -EINVAL);
	ck_assert_int_eq(shmdev_alloc_raw(pool, TU_ITEM, NULL, &h), -EINVAL);
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 1, NULL, &h, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_foreach(pool, TU_ITEM, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, TU_ITEM, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_pool_block_stats(pool, 0, NULL), -EINVAL);
	shmdev_pool_stats(pool, NULL);
	ck_assert_uint_eq(shmdev_handle_of(pool, NULL), SHMDEV_HANDLE_NONE);
	ck_assert_int_eq(shmdev_fast_init(pool, TU_ITEM, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, NULL), -EINVAL);
	/* The optional outputs may be NULL. */
	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, &obj, NULL), 0);
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 1, &obj, NULL, NULL), 0);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, 1, NULL), obj);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * Every function shmdev.h declares has a NULL call above: a new function
 * without one fails here.
 */
START_TEST(test_null_args_cover_header)
{
	FILE *f;
	char line[512], missing[2048] = "";
	size_t n = 0, found = 0, i;

	/* The VM has the binaries only: the host runs cover the header. */
	if (access(SHMPOOL_SRCDIR "/libshmdev", F_OK) != 0) {
		fprintf(stderr, "libshmdev/shmdev.h: no source tree here: skipped\n");
		return;
	}
	f = fopen(SHMPOOL_SRCDIR "/libshmdev/shmdev.h", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, name[64];

		/* Declarations only: comments name functions too. */
		if (line[0] == ' ' || line[0] == '/' || line[0] == '\t')
			continue;
		while ((p = strstr(p, "shmdev_")) != NULL) {
			size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");

			if (p[len] == '(' && (p == line || p[-1] == ' ' || p[-1] == '*') &&
			    len < sizeof(name)) {
				memcpy(name, p, len);
				name[len] = '\0';
				found++;
				for (i = 0; i < NR_NULL_CALLS; i++)
					if (!strcmp(null_calls[i].fn, name))
						break;
				if (i == NR_NULL_CALLS && n < sizeof(missing))
					n += (size_t)snprintf(missing + n, sizeof(missing) - n, " %s", name);
			}
			p += len;
		}
	}
	fclose(f);
	ck_assert_uint_ge(found, NR_NULL_CALLS);
	ck_assert_msg(missing[0] == '\0', "no NULL test for:%s", missing);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc;

	tc = tcase_create("null");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_null_args_cover_header);
	tcase_add_test(tc, test_null_args_with_pool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("api");
	tu_fixture(&ctx, destroy_pool);
	return tu_run(api_suite());
}
