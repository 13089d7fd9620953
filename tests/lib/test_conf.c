// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memorypool.ini loading: good files, every error path with its exact
 * message (file:line and value), the key conflict check, ranges, sizes,
 * limits, the SHMDEV_BACKEND override, and the shipped sample and template.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shmdev.h"

#ifndef SHMPOOL_SRCDIR
#define SHMPOOL_SRCDIR "."
#endif

#define NAME "memorypool.ini"

static struct shmdev_ctx *new_ctx(void)
{
	struct shmdev_ctx *ctx = NULL;

	ck_assert_int_eq(shmdev_ctx_new(&ctx), 0);
	shmdev_set_log_priority(ctx, -1);
	return ctx;
}

/*
 * The suites run with SHMDEV_BACKEND=posix; tests that look at Backend
 * clear it, and put it back so that CK_FORK=no runs stay correct.
 */
struct env_save {
	char *value;
};

static void env_clear(struct env_save *s)
{
	const char *v = getenv("SHMDEV_BACKEND");

	s->value = v ? strdup(v) : NULL;
	unsetenv("SHMDEV_BACKEND");
}

static void env_restore(struct env_save *s)
{
	if (s->value)
		setenv("SHMDEV_BACKEND", s->value, 1);
	else
		unsetenv("SHMDEV_BACKEND");
	free(s->value);
}

/* Load @text; on success return the conf (caller frees). */
static struct shmdev_conf *load_ok(const char *text, const char *process)
{
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;
	int r = shmdev_conf_load_string(ctx, text, NAME, process, &conf);

	ck_assert_msg(r == 0, "load failed (%d): %s", r, shmdev_errmsg(ctx));
	ck_assert_ptr_nonnull(conf);
	shmdev_ctx_unref(ctx);
	return conf;
}

/* Load @text, expect -@err and exactly @msg. */
static void load_err(const char *text, const char *process, int err,
		     const char *msg)
{
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = (struct shmdev_conf *)&conf;
	int r = shmdev_conf_load_string(ctx, text, NAME, process, &conf);

	ck_assert_msg(r == -err, "expected %d, got %d (%s) for:\n%s", -err, r,
		      shmdev_errmsg(ctx), text);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	shmdev_ctx_unref(ctx);
}

/* A valid two-process file; tests append or replace lines. */
#define GOOD_HEAD \
	"[global]\n"			/* 1 */ \
	"ProcessList = zone, scene\n"	/* 2 */ \
	"[zone]\n"			/* 3 */ \
	"BaseKey = 100\n"		/* 4 */ \
	"BlockSize = 64K\n"		/* 5 */ \
	"BlockKeys = 101-103\n"		/* 6 */ \
	"[scene]\n"			/* 7 */ \
	"BaseKey = 200\n"		/* 8 */ \
	"BlockSize = 4096\n"		/* 9 */

#define GOOD GOOD_HEAD "BlockKeys = 201\n" /* 10 */

/* ---- good files ------------------------------------------------------- */

START_TEST(test_good_full)
{
	struct env_save env;
	struct shmdev_conf *conf;
	const struct shmdev_proc_conf *z, *s;

	env_clear(&env);
	conf = load_ok("; comment\n"
		       "# another comment\n"
		       "[global]\n"
		       "ProcessList = zone , scene\n"
		       "\n"
		       "[zone]\n"
		       "BaseKey = 0x1000\n"
		       "BlockSize = 1M\n"
		       "BlockKeys = 4097-4099, 5000 ; inline comment\n"
		       "BlockKey = 0x2000\n"
		       "Backend = device\n"
		       "HugePages = yes\n"
		       "FixedAddress = 0x7f0000000000\n"
		       "MaxTypeInfoNum = 128\n"
		       "Mode = 0660\n"
		       "[scene]\n"
		       "basekey = 2000\n"
		       "BLOCKSIZE = 8k\n"
		       "blockkeys = 2001\n"
		       "backend = POSIX\n"
		       "hugepages = off\n",
		       "scene");
	ck_assert_uint_eq(shmdev_conf_nr_processes(conf), 2);
	z = shmdev_conf_process_at(conf, 0);
	s = shmdev_conf_process_at(conf, 1);
	ck_assert_ptr_null(shmdev_conf_process_at(conf, 2));
	ck_assert_ptr_eq(shmdev_conf_process(conf, "zone"), z);
	ck_assert_ptr_eq(shmdev_conf_process(conf, "scene"), s);
	ck_assert_ptr_null(shmdev_conf_process(conf, "Zone"));
	ck_assert_ptr_eq(shmdev_conf_self(conf), s);

	ck_assert_str_eq(z->name, "zone");
	ck_assert_uint_eq(z->base_key, 0x1000);
	ck_assert_uint_eq(z->block_size, 1 << 20);
	ck_assert_uint_eq(z->nr_blocks, 5);
	ck_assert_uint_eq(z->block_keys[0], 4097);
	ck_assert_uint_eq(z->block_keys[1], 4098);
	ck_assert_uint_eq(z->block_keys[2], 4099);
	ck_assert_uint_eq(z->block_keys[3], 5000);
	ck_assert_uint_eq(z->block_keys[4], 0x2000);
	ck_assert_int_eq(z->backend, SHMDEV_BACKEND_DEVICE);
	ck_assert(z->huge_pages);
	ck_assert(z->huge_pages_set);
	ck_assert_uint_eq(z->fixed_addr, 0x7f0000000000ULL);
	ck_assert_uint_eq(z->max_types, 128);
	ck_assert_uint_eq(z->mode, 0660);

	ck_assert_str_eq(s->name, "scene");
	ck_assert_uint_eq(s->base_key, 2000);
	ck_assert_uint_eq(s->block_size, 8192);
	ck_assert_uint_eq(s->nr_blocks, 1);
	ck_assert_uint_eq(s->block_keys[0], 2001);
	ck_assert_int_eq(s->backend, SHMDEV_BACKEND_POSIX);
	ck_assert(!s->huge_pages);
	ck_assert(s->huge_pages_set);
	shmdev_conf_free(conf);
	env_restore(&env);
}
END_TEST

START_TEST(test_defaults)
{
	struct env_save env;
	struct shmdev_conf *conf;
	const struct shmdev_proc_conf *p;

	env_clear(&env);
	conf = load_ok(GOOD, NULL);
	ck_assert_ptr_null(shmdev_conf_self(conf));
	p = shmdev_conf_process(conf, "scene");
	ck_assert_int_eq(p->backend, SHMDEV_BACKEND_AUTO);
	/* Huge pages unless HugePages = no (issue 12). */
	ck_assert(p->huge_pages);
	ck_assert(!p->huge_pages_set);
	ck_assert_uint_eq(p->fixed_addr, 0);
	ck_assert_uint_eq(p->max_types, 64);
	ck_assert_uint_eq(p->mode, 0600);
	shmdev_conf_free(conf);
	env_restore(&env);
}
END_TEST

START_TEST(test_top_level_process_list)
{
	struct shmdev_conf *conf;

	/* ProcessList before any section, repeated lines add to the list. */
	conf = load_ok("ProcessList = a\n"
		       "ProcessList = b.2, c_3-x\n"
		       "[a]\nBaseKey=1\nBlockSize=4K\nBlockKey=2\n"
		       "[b.2]\nBaseKey=3\nBlockSize=4K\nBlockKey=4\n"
		       "[c_3-x]\nBaseKey=5\nBlockSize=4K\nBlockKey=6\n",
		       "c_3-x");
	ck_assert_uint_eq(shmdev_conf_nr_processes(conf), 3);
	ck_assert_str_eq(shmdev_conf_process_at(conf, 1)->name, "b.2");
	ck_assert_str_eq(shmdev_conf_self(conf)->name, "c_3-x");
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_lists_and_ranges)
{
	struct shmdev_conf *conf;
	const struct shmdev_proc_conf *p;
	static const uint64_t want[] = { 10, 12, 13, 14, 0x20, 0x21, 30, 31,
					 40, 18446744073709551615ULL };
	size_t i;

	/* Trailing comma plus an indented continuation line; repeats add. */
	conf = load_ok("ProcessList = p,\n"
		       "[p]\n"
		       "BaseKey = 1\n"
		       "BlockSize = 4K\n"
		       "BlockKeys = 10, 12 - 14 ,0x20-0x21,\n"
		       "    30-31\n"
		       "BlockKey = 40\n"
		       "BlockKeys = 18446744073709551615-0xffffffffffffffff\n",
		       "p");
	p = shmdev_conf_self(conf);
	ck_assert_uint_eq(p->nr_blocks, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < p->nr_blocks; i++)
		ck_assert_uint_eq(p->block_keys[i], want[i]);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_block_limit)
{
	struct shmdev_conf *conf;

	conf = load_ok("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\n"
		       "BlockKeys = 1001-5000, 6000-6095\n", "p");
	ck_assert_uint_eq(shmdev_conf_self(conf)->nr_blocks, 4096);
	shmdev_conf_free(conf);
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\n"
		 "BlockKeys = 1001-5000, 6000-6095\nBlockKey = 7000\n", "p",
		 EINVAL, NAME ":6: BlockKey \"7000\": [p] would have more than 4096 block keys");
	/* A huge range fails before anything is expanded. */
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\n"
		 "BlockKeys = 2-18446744073709551615\n", "p",
		 EINVAL, NAME ":5: BlockKeys \"2-18446744073709551615\": [p] would have more than 4096 block keys");
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 },
		{ "4KB", 4096 }, { "4KiB", 4096 }, { "0x1000", 4096 },
		{ "2M", 2 << 20 }, { "1G", 1ULL << 30 }, { "64G", 64ULL << 30 },
		{ "12288", 12288 }, { "0x10K", 16384 },
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct shmdev_conf *conf;

		snprintf(text, sizeof(text),
			 "ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = %s\nBlockKey = 2\n",
			 good[i].text);
		conf = load_ok(text, "p");
		ck_assert_uint_eq(shmdev_conf_self(conf)->block_size, good[i].bytes);
		shmdev_conf_free(conf);
	}
}
END_TEST

static void bad_size(const char *value, const char *why)
{
	char text[256], msg[256];

	snprintf(text, sizeof(text),
		 "ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = %s\nBlockKey = 2\n",
		 value);
	snprintf(msg, sizeof(msg), NAME ":4: BlockSize \"%s\": %s", value, why);
	load_err(text, "p", EINVAL, msg);
}

START_TEST(test_bad_sizes)
{
	const char *nas = "not a size (bytes, or a number with a K, M, G or T suffix)";
	const char *mul = "must be a multiple of 4096 bytes (4K)";

	bad_size("12Q", nas);
	bad_size("K", nas);
	bad_size("-4K", nas);
	bad_size("4 K", nas);
	bad_size("12B", nas);
	bad_size("1.5M", nas);
	bad_size("1000", mul);
	bad_size("0", mul);
	bad_size("6K", mul);
	bad_size("128G", "larger than the 64G limit");
	bad_size("1T", "larger than the 64G limit");
	bad_size("99999999999999999999", "size out of range");
	bad_size("17179869184G", "size out of range");
}
END_TEST

static void bad_key(const char *value, const char *why)
{
	char text[256], msg[256];

	snprintf(text, sizeof(text),
		 "ProcessList = p\n[p]\nBaseKey = %s\nBlockSize = 4K\nBlockKey = 2\n",
		 value);
	snprintf(msg, sizeof(msg), NAME ":3: BaseKey \"%s\": %s", value, why);
	load_err(text, "p", EINVAL, msg);
}

START_TEST(test_bad_keys)
{
	const char *nak = "not a key (a decimal or 0x number)";

	bad_key("0", "key 0 is reserved");
	bad_key("0x0", "key 0 is reserved");
	bad_key("abc", nak);
	bad_key("-1", nak);
	bad_key("+1", nak);
	bad_key("0x", nak);
	bad_key("12 13", nak);
	bad_key("0x1g", nak);
	bad_key("18446744073709551616", "key out of range (at most 64 bits)");
	bad_key("0x10000000000000000", "key out of range (at most 64 bits)");

	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 5, x7\n",
		 "p", EINVAL, NAME ":5: BlockKeys \"x7\": not a key (a decimal or 0x number)");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 5,,6\n",
		 "p", EINVAL, NAME ":5: BlockKeys \"5,,6\": empty item in the list");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = ,5\n",
		 "p", EINVAL, NAME ":5: BlockKeys \",5\": empty item in the list");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 9-7\n",
		 "p", EINVAL, NAME ":5: BlockKeys range \"9-7\": start above end");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 0-7\n",
		 "p", EINVAL, NAME ":5: BlockKeys \"0\": key 0 is reserved");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 3-\n",
		 "p", EINVAL, NAME ":5: BlockKeys range \"3-\": not FIRST-LAST (two keys and one dash)");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 3, 4\n",
		 "p", EINVAL, NAME ":5: BlockKey \"3, 4\": one key per BlockKey line (use BlockKeys for lists)");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 3-4\n",
		 "p", EINVAL, NAME ":5: BlockKey \"3-4\": not a key (a decimal or 0x number)");
}
END_TEST

START_TEST(test_max_key)
{
	struct shmdev_conf *conf;

	conf = load_ok("ProcessList = p\n[p]\nBaseKey = 18446744073709551615\n"
		       "BlockSize = 4K\nBlockKey = 0xfffffffffffffffe\n", "p");
	ck_assert_uint_eq(shmdev_conf_self(conf)->base_key, UINT64_MAX);
	ck_assert_uint_eq(shmdev_conf_self(conf)->block_keys[0], UINT64_MAX - 1);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- the conflict check (step 3) ---------------------------------------- */

START_TEST(test_conflict_block_block)
{
	load_err(GOOD_HEAD "BlockKeys = 201, 102\n", NULL, EINVAL,
		 NAME ":10: key 102 (0x66) is used by both zone (block key, line 6) and scene (block key, line 10)");
}
END_TEST

START_TEST(test_conflict_base_block)
{
	/* scene's block key equals zone's BaseKey. */
	load_err(GOOD_HEAD "BlockKeys = 100\n", NULL, EINVAL,
		 NAME ":10: key 100 (0x64) is used by both zone (BaseKey, line 4) and scene (block key, line 10)");
	/* zone's block key (earlier) equals scene's BaseKey (later). */
	load_err("ProcessList = zone, scene\n"
		 "[zone]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 7-9\n"
		 "[scene]\nBaseKey = 8\nBlockSize = 4K\nBlockKeys = 20\n", NULL,
		 EINVAL, NAME ":7: key 8 (0x8) is used by both zone (block key, line 5) and scene (BaseKey, line 7)");
}
END_TEST

START_TEST(test_conflict_base_base)
{
	load_err("ProcessList = zone, scene\n"
		 "[zone]\nBaseKey = 0x10\nBlockSize = 4K\nBlockKeys = 7-9\n"
		 "[scene]\nBaseKey = 16\nBlockSize = 4K\nBlockKeys = 20\n", NULL,
		 EINVAL, NAME ":7: key 16 (0x10) is used by both zone (BaseKey, line 3) and scene (BaseKey, line 7)");
}
END_TEST

START_TEST(test_conflict_same_process)
{
	load_err("ProcessList = zone\n"
		 "[zone]\nBaseKey = 5\nBlockSize = 4K\nBlockKeys = 1-9\n", NULL,
		 EINVAL, NAME ":5: key 5 (0x5) is used twice by zone (BaseKey, line 3; block key, line 5)");
	load_err("ProcessList = zone\n"
		 "[zone]\nBaseKey = 50\nBlockSize = 4K\nBlockKeys = 1-9\nBlockKey = 3\n",
		 NULL, EINVAL,
		 NAME ":6: key 3 (0x3) is used twice by zone (block key, line 5; block key, line 6)");
	load_err("ProcessList = zone\n"
		 "[zone]\nBaseKey = 50\nBlockSize = 4K\nBlockKeys = 1, 2, 1\n",
		 NULL, EINVAL,
		 NAME ":5: key 1 (0x1) is used twice by zone (block key, line 5; block key, line 5)");
}
END_TEST

START_TEST(test_conflict_unlisted_ignored)
{
	struct shmdev_conf *conf;

	/* [old] reuses zone's keys, but it is switched off. */
	conf = load_ok(GOOD "[old]\nBaseKey = 100\nBlockKeys = 101\nFoo = bar\n", NULL);
	ck_assert_uint_eq(shmdev_conf_nr_processes(conf), 2);
	ck_assert_ptr_null(shmdev_conf_process(conf, "old"));
	shmdev_conf_free(conf);
}
END_TEST

/* ---- structure errors ---------------------------------------------------- */

START_TEST(test_missing_section)
{
	load_err("[global]\nProcessList = zone,\n  scene\n"
		 "[zone]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n", NULL,
		 EINVAL, NAME ":3: ProcessList names \"scene\" but there is no [scene] section (or it is empty)");
	/* Section names are case-sensitive. */
	load_err("ProcessList = zone\n[Zone]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n",
		 NULL, EINVAL,
		 NAME ":1: ProcessList names \"zone\" but there is no [zone] section (or it is empty)");
}
END_TEST

START_TEST(test_process_list_errors)
{
	load_err("[zone]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ": no ProcessList (put it in [global] or before the first section)");
	load_err("", NULL, EINVAL,
		 NAME ": no ProcessList (put it in [global] or before the first section)");
	load_err("ProcessList =\n", NULL, EINVAL,
		 NAME ":1: ProcessList \"\": empty item in the list");
	load_err("ProcessList = a,,b\n", NULL, EINVAL,
		 NAME ":1: ProcessList \"a,,b\": empty item in the list");
	load_err("ProcessList = a, b, a\n", NULL, EINVAL,
		 NAME ":1: ProcessList names \"a\" twice");
	load_err("ProcessList = a b\n", NULL, EINVAL,
		 NAME ":1: ProcessList name \"a b\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	load_err("ProcessList = zone/1\n", NULL, EINVAL,
		 NAME ":1: ProcessList name \"zone/1\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	load_err("ProcessList = a\nProcessList = Global\n", NULL, EINVAL,
		 NAME ":2: ProcessList name \"Global\": reserved for the [global] section");
	load_err("ProcessList = 0123456789012345678901234567890123456789012345678\n",
		 NULL, EINVAL,
		 NAME ":1: ProcessList name \"0123456789012345678901234567890123456789012345678\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	load_err("[global]\nProcessList = a\nProcesList = b\n", NULL, EINVAL,
		 NAME ":3: unknown key \"ProcesList\" in [global] (known: ProcessList)");
}
END_TEST

START_TEST(test_too_many_processes)
{
	size_t size = 300 * 8 + 64, i;
	char *text = malloc(size), *p = text;

	p += sprintf(p, "ProcessList = p0");
	for (i = 1; i < 257; i++)
		p += sprintf(p, ",\n p%zu", i);
	strcpy(p, "\n");
	load_err(text, NULL, EINVAL, NAME ":257: ProcessList has more than 256 processes");
	free(text);
}
END_TEST

START_TEST(test_unknown_key)
{
	load_err(GOOD "BlokSize = 4K\n", NULL, EINVAL,
		 NAME ":11: unknown key \"BlokSize\" in [scene] (known: BaseKey, BlockSize, BlockKeys, BlockKey, Backend, HugePages, FixedAddress, MaxTypeInfoNum, Mode, TxLogSize)");
}
END_TEST

START_TEST(test_given_twice)
{
	load_err(GOOD "BaseKey = 300\n", NULL, EINVAL,
		 NAME ":11: BaseKey given twice in [scene] (first at line 8; an indented line continues the previous value)");
	/* An indented key is inih's continuation of the previous value. */
	load_err(GOOD "Mode = 0600\n  Mode = 0600\n", NULL, EINVAL,
		 NAME ":12: Mode given twice in [scene] (first at line 11; an indented line continues the previous value)");
	/* A section given twice is refused, not merged. */
	load_err(GOOD "[zone]\nBlockSize = 8K\n", NULL, EINVAL,
		 NAME ":11: section [zone] given twice (first at line 3): keep one section per process");
}
END_TEST

START_TEST(test_missing_keys)
{
	load_err("ProcessList = p\n[p]\nBlockSize = 4K\nBlockKey = 2\n", NULL,
		 EINVAL, NAME ":2: [p] has no BaseKey");
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockKey = 2\n", NULL,
		 EINVAL, NAME ":2: [p] has no BlockSize");
	load_err("ProcessList = p\n\n[p]\nBaseKey = 1\nBlockSize = 4K\n", NULL,
		 EINVAL, NAME ":3: [p] has no BlockKeys");
}
END_TEST

START_TEST(test_options_errors)
{
	load_err(GOOD "Backend = shm\n", NULL, EINVAL,
		 NAME ":11: Backend \"shm\": not auto, device or posix");
	load_err(GOOD "HugePages = maybe\n", NULL, EINVAL,
		 NAME ":11: HugePages \"maybe\": not yes or no");
	load_err(GOOD "FixedAddress = 0x7f0000000001\n", NULL, EINVAL,
		 NAME ":11: FixedAddress \"0x7f0000000001\": not a page-aligned user-space address (0x1000 .. 0x7ffffffff000)");
	load_err(GOOD "FixedAddress = 0x800000000000\n", NULL, EINVAL,
		 NAME ":11: FixedAddress \"0x800000000000\": not a page-aligned user-space address (0x1000 .. 0x7ffffffff000)");
	load_err(GOOD "FixedAddress = high\n", NULL, EINVAL,
		 NAME ":11: FixedAddress \"high\": not an address (0, or a 0x number)");
	load_err(GOOD "MaxTypeInfoNum = 0\n", NULL, EINVAL,
		 NAME ":11: MaxTypeInfoNum \"0\": not a number from 1 to 4096");
	load_err(GOOD "MaxTypeInfoNum = 4097\n", NULL, EINVAL,
		 NAME ":11: MaxTypeInfoNum \"4097\": not a number from 1 to 4096");
	load_err(GOOD "MaxTypeInfoNum = many\n", NULL, EINVAL,
		 NAME ":11: MaxTypeInfoNum \"many\": not a number from 1 to 4096");
	load_err(GOOD "Mode = 0800\n", NULL, EINVAL,
		 NAME ":11: Mode \"0800\": not an octal mode such as 0600");
	load_err(GOOD "Mode = rw\n", NULL, EINVAL,
		 NAME ":11: Mode \"rw\": not an octal mode such as 0600");
	load_err(GOOD "Mode = 1777\n", NULL, EINVAL,
		 NAME ":11: Mode \"1777\": only permission bits (0777 at most)");
	load_err(GOOD "Mode = 0400\n", NULL, EINVAL,
		 NAME ":11: Mode \"0400\": the owner needs read and write (0600)");
}
END_TEST

START_TEST(test_options_good)
{
	static const char *const yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	char text[512];
	size_t i;

	for (i = 0; i < 5; i++) {
		struct shmdev_conf *conf;

		snprintf(text, sizeof(text), GOOD "HugePages = %s\nMode = %s\nMaxTypeInfoNum = %s\n",
			 yes[i], i ? "0777" : "600", i ? "4096" : "1");
		conf = load_ok(text, "scene");
		ck_assert(shmdev_conf_self(conf)->huge_pages);
		ck_assert_uint_eq(shmdev_conf_self(conf)->mode, i ? 0777 : 0600);
		ck_assert_uint_eq(shmdev_conf_self(conf)->max_types, i ? 4096 : 1);
		shmdev_conf_free(conf);
		if (i < 4) {
			snprintf(text, sizeof(text), GOOD "HugePages = %s\n", no[i]);
			conf = load_ok(text, "scene");
			ck_assert(!shmdev_conf_self(conf)->huge_pages);
			shmdev_conf_free(conf);
		}
	}
}
END_TEST

START_TEST(test_syntax_errors)
{
	load_err(GOOD "[broken\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":11: section header \"[broken\" has no closing \"]\"");
	load_err("ProcessList = p\njust some words\n", NULL, EINVAL,
		 NAME ":2: syntax error at \"just some words\" (expected [section], key = value or a comment)");
}
END_TEST

START_TEST(test_long_line)
{
	char text[600];

	snprintf(text, sizeof(text), GOOD "; %0300d\n", 0);
	load_err(text, NULL, EINVAL,
		 NAME ":11: line longer than 197 bytes at \"; 000000000000000000000000000000000000000000000000000000000000...\" (split a long list over several lines of the same key)");
	/* Exactly 197 bytes, CRLF included in the file, is fine. */
	snprintf(text, sizeof(text), GOOD ";%0196d\r\n", 0);
	shmdev_conf_free(load_ok(text, NULL));
}
END_TEST

START_TEST(test_crlf)
{
	struct shmdev_conf *conf;

	conf = load_ok("ProcessList = p\r\n[p]\r\nBaseKey = 1\r\nBlockSize = 4K\r\nBlockKey = 2\r\n", "p");
	ck_assert_uint_eq(shmdev_conf_self(conf)->block_keys[0], 2);
	shmdev_conf_free(conf);
	load_err("ProcessList = p\r\n[p]\r\nBaseKey = 1\r\nBlockSize = 4Q\r\nBlockKey = 2\r\n",
		 "p", EINVAL,
		 NAME ":4: BlockSize \"4Q\": not a size (bytes, or a number with a K, M, G or T suffix)");
}
END_TEST

/* ---- what inih alone lets through (issue 10, item 22) -------------------- */

/* Text after "]" was dropped by inih: "[zone] BaseKey = 5" set nothing. */
START_TEST(test_text_after_section)
{
	struct shmdev_conf *conf;

	load_err(GOOD_HEAD "BlockKeys = 201\n[scene] BaseKey = 5\n", NULL, EINVAL,
		 NAME ":11: text after \"]\" in \"[scene] BaseKey = 5\": only a comment (; or #) may follow a section header");
	load_err("ProcessList = p\n[p]x\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n",
		 NULL, EINVAL,
		 NAME ":2: text after \"]\" in \"[p]x\": only a comment (; or #) may follow a section header");
	load_err("ProcessList = p\n[p]]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n",
		 NULL, EINVAL,
		 NAME ":2: text after \"]\" in \"[p]]\": only a comment (; or #) may follow a section header");
	/* A comment, blanks and CRLF may follow. */
	conf = load_ok("ProcessList = p\r\n[p] ; the pool\r\nBaseKey = 1\n"
		       "BlockSize = 4K\nBlockKey = 2\n[global]\t# more\nProcessList = q\n"
		       "[q];x\nBaseKey = 3\nBlockSize = 4K\nBlockKey = 4\n"
		       "[p-2]  \n", NULL);
	ck_assert_uint_eq(shmdev_conf_nr_processes(conf), 2);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_repeated_section)
{
	load_err(GOOD "[zone]\n", NULL, EINVAL,
		 NAME ":11: section [zone] given twice (first at line 3): keep one section per process");
	load_err("[global]\nProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n[GLOBAL]\nProcessList = q\n",
		 NULL, EINVAL,
		 NAME ":7: section [GLOBAL] given twice (first at line 1): keep one section per process");
}
END_TEST

/* Old Mac line endings: the whole file was one comment line, "no ProcessList". */
START_TEST(test_cr_only)
{
	load_err("; pools\rProcessList = p\r[p]\rBaseKey = 1\rBlockSize = 4K\rBlockKey = 2\r",
		 NULL, EINVAL,
		 NAME ":1: carriage return without line feed in \"; pools\\x0dProcessList = p\\x0d[p]\\x0dBaseKey = 1\\x0dBlockSize ...\" (old Mac line endings?): save the file with LF or CRLF line endings");
	load_err(GOOD "Mode = 0600\rMode = 0644\n", NULL, EINVAL,
		 NAME ":11: carriage return without line feed in \"Mode = 0600\\x0dMode = 0644\" (old Mac line endings?): save the file with LF or CRLF line endings");
}
END_TEST

START_TEST(test_bad_ranges)
{
	static const char *const bad[] = { "1002-", "-5-10", "-", "5--6", "1-2-3", " - 7" };
	static const char *const shown[] = { "1002-", "-5-10", "-", "5--6", "1-2-3", "- 7" };
	char text[256], msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 9, %s\n", bad[i]);
		snprintf(msg, sizeof(msg), NAME ":5: BlockKeys range \"%s\": not FIRST-LAST (two keys and one dash)", shown[i]);
		load_err(text, "p", EINVAL, msg);
	}
	/* A bad key inside a well-formed range is named alone. */
	load_err("ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKeys = 1002-x\n",
		 "p", EINVAL, NAME ":5: BlockKeys \"x\": not a key (a decimal or 0x number)");
}
END_TEST

START_TEST(test_section_names)
{
	char text[512];

	load_err("ProcessList = p\n[]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":2: empty section name in \"[]\"");
	load_err("ProcessList = p\n[  ]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":2: empty section name in \"[  ]\"");
	load_err("ProcessList = p\n[ p ]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":2: section name \" p \" in \"[ p ]\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	load_err("ProcessList = p\n[p q]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":2: section name \"p q\" in \"[p q]\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	load_err("ProcessList = p\n[p\n", NULL, EINVAL,
		 NAME ":2: section header \"[p\" has no closing \"]\"");
	load_err("ProcessList = p\n[p ;]\n", NULL, EINVAL,
		 NAME ":2: section name \"p ;\" in \"[p ;]\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	/* inih would cut a long name at 49 bytes: two long names would merge. */
	snprintf(text, sizeof(text), "ProcessList = p\n[%0*d]\n", 49, 0);
	load_err(text, NULL, EINVAL,
		 NAME ":2: section name \"0000000000000000000000000000000000000000000000000\" in \"[0000000000000000000000000000000000000000000000000]\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	/* Indented, a header would continue the previous key's value. */
	load_err("ProcessList = p\n  [p]\nBaseKey = 1\n", NULL, EINVAL,
		 NAME ":2: indented section header \"[p]\": a header starts its line (an indented line continues the previous value)");
}
END_TEST

START_TEST(test_bom)
{
	struct shmdev_conf *conf;

	/* A UTF-8 byte order mark at the very start is skipped. */
	conf = load_ok("\xef\xbb\xbf[global]\nProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\n", "p");
	ck_assert_uint_eq(shmdev_conf_self(conf)->base_key, 1);
	shmdev_conf_free(conf);
	/* Anywhere else it is text that does not belong. */
	load_err("\xef\xbb\xbf\xef\xbb\xbf[global]\nProcessList = p\n", NULL, EINVAL,
		 NAME ":1: byte order mark (U+FEFF) in \"\xef\xbb\xbf[global]\": only the first bytes of the file may hold one");
	load_err(GOOD "\xef\xbb\xbfMode = 0600\n", NULL, EINVAL,
		 NAME ":11: byte order mark (U+FEFF) in \"\xef\xbb\xbfMode = 0600\": only the first bytes of the file may hold one");
}
END_TEST

/* Keys outside a section belong to [global] (documented). */
START_TEST(test_outside_section)
{
	load_err("BaseKey = 1\n" GOOD, NULL, EINVAL,
		 NAME ":1: unknown key \"BaseKey\" in [global] (known: ProcessList)");
}
END_TEST

/* Trailing garbage after values, and duplicate keys. */
START_TEST(test_trailing_garbage)
{
	load_err(GOOD "Mode = 0600 x\n", NULL, EINVAL,
		 NAME ":11: Mode \"0600 x\": not an octal mode such as 0600");
	load_err(GOOD "Backend = posix;\n", NULL, EINVAL,
		 NAME ":11: Backend \"posix;\": not auto, device or posix");
	load_err(GOOD "HugePages = yes # on\n", NULL, EINVAL,
		 NAME ":11: HugePages \"yes # on\": not yes or no");
	load_err(GOOD "MaxTypeInfoNum = 8 8\n", NULL, EINVAL,
		 NAME ":11: MaxTypeInfoNum \"8 8\": not a number from 1 to 4096");
	load_err("ProcessList = p q\n", NULL, EINVAL,
		 NAME ":1: ProcessList name \"p q\": not a process name (1 to 48 of A-Z a-z 0-9 _ - .)");
	/* " ;" starts a comment after a value. */
	shmdev_conf_free(load_ok(GOOD "Mode = 0600 ; rw\n", NULL));
}
END_TEST

START_TEST(test_unknown_process)
{
	load_err(GOOD, "world", ENOENT,
		 NAME ": process \"world\" is not in ProcessList (line 2: zone, scene)");
}
END_TEST

/* ---- warnings through the log callback ------------------------------------ */

struct log_capture {
	char text[1024];
	int priority;
};

static void capture(void *data, int priority, const char *file, int line,
		    const char *fn, const char *format, va_list args)
{
	struct log_capture *c = data;

	(void)file;
	(void)line;
	(void)fn;
	if (priority != LOG_WARNING)
		return;
	c->priority = priority;
	vsnprintf(c->text, sizeof(c->text), format, args);
}

START_TEST(test_unlisted_warns)
{
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;
	struct log_capture cap = { .priority = -1 };

	shmdev_set_log_fn(ctx, capture, &cap);
	shmdev_set_log_priority(ctx, LOG_WARNING);
	ck_assert_int_eq(shmdev_conf_load_string(ctx, GOOD "\n[old]\nBaseKey = 9\n",
						 NAME, NULL, &conf), 0);
	ck_assert_int_eq(cap.priority, LOG_WARNING);
	ck_assert_str_eq(cap.text, NAME ":12: [old] is not in ProcessList: ignored");
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
}
END_TEST

/* ---- SHMDEV_BACKEND ----------------------------------------------------- */

START_TEST(test_env_override)
{
	struct env_save env;
	struct shmdev_conf *conf;

	env_clear(&env);
	setenv("SHMDEV_BACKEND", "posix", 1);
	conf = load_ok(GOOD "Backend = device\n", "scene");
	ck_assert_int_eq(shmdev_conf_self(conf)->backend, SHMDEV_BACKEND_POSIX);
	ck_assert_int_eq(shmdev_conf_process(conf, "zone")->backend, SHMDEV_BACKEND_POSIX);
	shmdev_conf_free(conf);

	setenv("SHMDEV_BACKEND", "Device", 1);
	conf = load_ok(GOOD "Backend = posix\n", "scene");
	ck_assert_int_eq(shmdev_conf_self(conf)->backend, SHMDEV_BACKEND_DEVICE);
	shmdev_conf_free(conf);

	setenv("SHMDEV_BACKEND", "auto", 1);
	conf = load_ok(GOOD "Backend = posix\n", "scene");
	ck_assert_int_eq(shmdev_conf_self(conf)->backend, SHMDEV_BACKEND_AUTO);
	shmdev_conf_free(conf);

	/* Empty means unset. */
	setenv("SHMDEV_BACKEND", "", 1);
	conf = load_ok(GOOD "Backend = posix\n", "scene");
	ck_assert_int_eq(shmdev_conf_self(conf)->backend, SHMDEV_BACKEND_POSIX);
	shmdev_conf_free(conf);

	setenv("SHMDEV_BACKEND", "sysv", 1);
	load_err(GOOD, "scene", EINVAL, "SHMDEV_BACKEND \"sysv\": not auto, device or posix");
	env_restore(&env);
}
END_TEST

/* ---- files -------------------------------------------------------------- */

/* A temporary file with @data; the VM bench may lack /tmp, hence the list. */
static char *temp_file(const void *data, size_t len)
{
	const char *dirs[] = { getenv("TMPDIR"), "/tmp", "/dev/shm", "." };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *path;
		int fd;

		if (!dirs[i] || asprintf(&path, "%s/shmdev-test-conf.XXXXXX", dirs[i]) < 0)
			continue;
		fd = mkstemp(path);
		if (fd < 0) {
			free(path);
			continue;
		}
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
		close(fd);
		return path;
	}
	ck_abort_msg("no directory for a temporary file");
	return NULL;
}

START_TEST(test_file_load)
{
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;
	char *path = temp_file(GOOD, strlen(GOOD));
	char msg[256];

	ck_assert_int_eq(shmdev_conf_load(ctx, path, "zone", &conf), 0);
	ck_assert_str_eq(shmdev_conf_self(conf)->name, "zone");
	shmdev_conf_free(conf);
	unlink(path);
	free(path);

	/* Errors carry the path as given. */
	path = temp_file(GOOD "Mode = 0\n", strlen(GOOD "Mode = 0\n"));
	ck_assert_int_eq(shmdev_conf_load(ctx, path, "zone", &conf), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:11: Mode \"0\": the owner needs read and write (0600)", path);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	unlink(path);
	free(path);

	ck_assert_int_eq(shmdev_conf_load(ctx, "/nonexistent/memorypool.ini", "zone", &conf), -ENOENT);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(shmdev_errmsg(ctx), "cannot open /nonexistent/memorypool.ini: No such file or directory");
	shmdev_ctx_unref(ctx);
}
END_TEST

START_TEST(test_file_nul)
{
	static const char data[] = "ProcessList = p\n[p]\nBase\0Key = 1\n";
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;
	char *path = temp_file(data, sizeof(data) - 1);
	char msg[256];

	ck_assert_int_eq(shmdev_conf_load(ctx, path, NULL, &conf), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:3: contains a NUL byte after \"Base\"", path);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	unlink(path);
	free(path);
	shmdev_ctx_unref(ctx);
}
END_TEST

START_TEST(test_file_too_big)
{
	size_t len = (1U << 20) + 1;
	char *data = malloc(len);
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;
	char *path, msg[256];

	memset(data, '\n', len);
	path = temp_file(data, len);
	ck_assert_int_eq(shmdev_conf_load(ctx, path, NULL, &conf), -EFBIG);
	snprintf(msg, sizeof(msg), "%s: larger than 1048576 bytes", path);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	unlink(path);
	free(path);
	free(data);
	shmdev_ctx_unref(ctx);
}
END_TEST

START_TEST(test_misuse)
{
	struct shmdev_ctx *ctx = new_ctx();
	struct shmdev_conf *conf = NULL;

	ck_assert_int_eq(shmdev_conf_load_string(NULL, GOOD, NAME, NULL, &conf), -EINVAL);
	ck_assert_int_eq(shmdev_conf_load_string(ctx, NULL, NAME, NULL, &conf), -EINVAL);
	ck_assert_int_eq(shmdev_conf_load_string(ctx, GOOD, NAME, NULL, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_conf_load(ctx, NULL, NULL, &conf), -EINVAL);
	ck_assert_int_eq(shmdev_conf_load(NULL, "x", NULL, &conf), -EINVAL);
	/* A NULL name stands as "<string>". */
	ck_assert_int_eq(shmdev_conf_load_string(ctx, "x = 1\n", NULL, NULL, &conf), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "<string>:1: unknown key \"x\" in [global] (known: ProcessList)");
	/* A success clears the last message. */
	ck_assert_int_eq(shmdev_conf_load_string(ctx, GOOD, NAME, NULL, &conf), 0);
	ck_assert_str_eq(shmdev_errmsg(ctx), "");
	shmdev_conf_free(conf);
	shmdev_conf_free(NULL);
	ck_assert_uint_eq(shmdev_conf_nr_processes(NULL), 0);
	ck_assert_ptr_null(shmdev_conf_process_at(NULL, 0));
	ck_assert_ptr_null(shmdev_conf_process(NULL, "zone"));
	ck_assert_ptr_null(shmdev_conf_self(NULL));
	shmdev_ctx_unref(ctx);
}
END_TEST

/* ---- the shipped sample and template ------------------------------------ */

/*
 * conf/ is read from the source tree.  Inside the VM bench the tree is not
 * there: these tests then say so and pass (the host runs them in full).
 */
static char *read_src(const char *rel)
{
	char path[PATH_MAX];
	FILE *f;
	char *buf;
	long n;

	if (access(SHMPOOL_SRCDIR "/conf", F_OK) != 0) {
		fprintf(stderr, "%s: no source tree here: skipped\n", rel);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", SHMPOOL_SRCDIR, rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The values the sample is rendered with (see its header). */
static const char *const sample_vars[] = { "WORLD_ID=1", "ZONE_ID=1" };

START_TEST(test_sample_loads)
{
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf = NULL;
	const struct shmdev_proc_conf *z;

	if (access(SHMPOOL_SRCDIR "/conf", F_OK) != 0)
		return;
	ctx = new_ctx();
	ck_assert_msg(shmdev_conf_load(ctx, SHMPOOL_SRCDIR "/conf/memorypool.ini",
				       "zone", &conf) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_uint_eq(shmdev_conf_nr_processes(conf), 2);
	z = shmdev_conf_self(conf);
	ck_assert_uint_eq(z->base_key, 1001010000ULL);
	ck_assert_uint_eq(z->nr_blocks, 16);
	ck_assert_uint_eq(z->block_keys[15], 1001010016ULL);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
}
END_TEST

START_TEST(test_sample_is_template_render)
{
	char *tmpl = read_src("conf/memorypool.ini.tmpl");
	char *ini = read_src("conf/memorypool.ini");
	struct shmdev_ctx *ctx;
	char *out = NULL;

	if (!tmpl || !ini)
		goto out;
	ctx = new_ctx();
	ck_assert_msg(shmdev_template_render(ctx, tmpl, "memorypool.ini.tmpl", sample_vars,
					     2, &out) == 0, "%s", shmdev_errmsg(ctx));
	/* The shipped sample is exactly the render: regenerate it if this fails. */
	ck_assert_str_eq(out, ini);
	free(out);
	shmdev_ctx_unref(ctx);
out:
	free(tmpl);
	free(ini);
}
END_TEST

static struct shmdev_conf *render_load(struct shmdev_ctx *ctx, const char *tmpl,
				       const char *world, const char *zone)
{
	char w[64], z[64];
	const char *vars[2] = { w, z };
	struct shmdev_conf *conf = NULL;
	char *out = NULL;

	snprintf(w, sizeof(w), "WORLD_ID=%s", world);
	snprintf(z, sizeof(z), "ZONE_ID=%s", zone);
	ck_assert_msg(shmdev_template_render(ctx, tmpl, "memorypool.ini.tmpl", vars, 2, &out) == 0,
		      "%s", shmdev_errmsg(ctx));
	ck_assert_msg(shmdev_conf_load_string(ctx, out, "rendered", "zone", &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	free(out);
	return conf;
}

static void all_keys(const struct shmdev_conf *conf, uint64_t **keys, size_t *n)
{
	size_t i, j;

	for (i = 0; i < shmdev_conf_nr_processes(conf); i++) {
		const struct shmdev_proc_conf *p = shmdev_conf_process_at(conf, i);

		*keys = realloc(*keys, (*n + 1 + p->nr_blocks) * sizeof(**keys));
		(*keys)[(*n)++] = p->base_key;
		for (j = 0; j < p->nr_blocks; j++)
			(*keys)[(*n)++] = p->block_keys[j];
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_template_instances_disjoint)
{
	static const char *const inst[][2] = {
		{ "1", "1" }, { "1", "2" }, { "2", "1" }, { "0", "0" },
		{ "1", "999" }, { "18000000", "999" },
	};
	char *tmpl = read_src("conf/memorypool.ini.tmpl");
	struct shmdev_ctx *ctx;
	uint64_t *keys = NULL;
	size_t n = 0, i, k;

	if (!tmpl)
		return;
	ctx = new_ctx();
	for (k = 0; k < sizeof(inst) / sizeof(inst[0]); k++) {
		struct shmdev_conf *conf = render_load(ctx, tmpl, inst[k][0], inst[k][1]);

		all_keys(conf, &keys, &n);
		shmdev_conf_free(conf);
	}
	qsort(keys, n, sizeof(*keys), cmp_u64);
	ck_assert_uint_gt(n, 6 * 40);
	for (i = 1; i < n; i++)
		ck_assert_msg(keys[i] != keys[i - 1], "two instances share key %llu",
			      (unsigned long long)keys[i]);
	free(keys);
	free(tmpl);
	shmdev_ctx_unref(ctx);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("good");
	tcase_add_test(tc, test_good_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_top_level_process_list);
	tcase_add_test(tc, test_lists_and_ranges);
	tcase_add_test(tc, test_block_limit);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_max_key);
	tcase_add_test(tc, test_options_good);
	tcase_add_test(tc, test_crlf);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_bad_sizes);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_options_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("conflicts");
	tcase_add_test(tc, test_conflict_block_block);
	tcase_add_test(tc, test_conflict_base_block);
	tcase_add_test(tc, test_conflict_base_base);
	tcase_add_test(tc, test_conflict_same_process);
	tcase_add_test(tc, test_conflict_unlisted_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("structure");
	tcase_add_test(tc, test_missing_section);
	tcase_add_test(tc, test_process_list_errors);
	tcase_add_test(tc, test_too_many_processes);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_given_twice);
	tcase_add_test(tc, test_missing_keys);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_unknown_process);
	tcase_add_test(tc, test_unlisted_warns);
	suite_add_tcase(s, tc);

	tc = tcase_create("typos");
	tcase_add_test(tc, test_text_after_section);
	tcase_add_test(tc, test_repeated_section);
	tcase_add_test(tc, test_cr_only);
	tcase_add_test(tc, test_bad_ranges);
	tcase_add_test(tc, test_section_names);
	tcase_add_test(tc, test_bom);
	tcase_add_test(tc, test_outside_section);
	tcase_add_test(tc, test_trailing_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_test(tc, test_env_override);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file_load);
	tcase_add_test(tc, test_file_nul);
	tcase_add_test(tc, test_file_too_big);
	tcase_add_test(tc, test_misuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("shipped");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sample_loads);
	tcase_add_test(tc, test_sample_is_template_render);
	tcase_add_test(tc, test_template_instances_disjoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
