// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl, run as a program: exit codes, messages and output of every
 * subcommand.  The pool cases are in ctltest_pool.c, the shared helpers in
 * ctltest_util.c (ctltest.h).  The tool is the binary named by $SHMPOOLCTL (the host build),
 * or this very binary in multicall mode ("__shmpoolctl ARGS", the VM build,
 * where it is the only file).  Regions are made and checked with libshmdev.
 *
 * On the host (SHMDEV_BACKEND=posix) everything but the module; in the VM
 * (/dev/shmpool present) also load/unload through libkmod with --ko
 * $SHMPOOL_KO, status, permission denied as uid 65534 and "module absent".
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "layout.h"
#include "shmpoolctl.h"
#include "testutil.h"
#include "ctltest.h"


START_TEST(test_help)
{
	static const char *const cmds[][2] = {
		{ "list", NULL }, { "stat", NULL }, { "rm", NULL }, { "load", NULL },
		{ "unload", NULL }, { "status", NULL }, { "dump", NULL }, { "restore", NULL },
		{ "conf", "check" }, { "conf", "render" }, { "pool", "show" }, { "pool", "check" },
	};
	struct run r;
	char want[64];
	size_t i;

	ck_run(&r, 0, "--help");
	ck_contains(r.out, "Usage: shmpoolctl");
	ck_contains(r.out, "Exit status: 0 success, 1 failure,\n2 usage error");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (cmds[i][1]) {
			ck_run(&r, 0, cmds[i][0], cmds[i][1], "--help");
			snprintf(want, sizeof(want), "Usage: shmpoolctl %s %s", cmds[i][0], cmds[i][1]);
		} else {
			ck_run(&r, 0, cmds[i][0], "--help");
			snprintf(want, sizeof(want), "Usage: shmpoolctl %s", cmds[i][0]);
		}
		ck_contains(r.out, want);
		ck_assert_str_eq(r.err, "");
	}
	ck_run(&r, 0, "conf", "--help");
	ck_run(&r, 0, "pool", "-h");
	ck_run(&r, 0, "--version");
	ck_contains(r.out, "shmpoolctl ");
}
END_TEST

START_TEST(test_usage_errors)
{
	struct run r;

	ck_assert_int_eq(ctl_runv(&r, -1, (const char *const[]){ NULL }), 2);
	ck_contains(r.err, "Usage: shmpoolctl");
	ck_run(&r, 2, "frobnicate");
	ck_assert_str_eq(r.err, "shmpoolctl: usage: unknown command \"frobnicate\"\nTry 'shmpoolctl --help'.\n");
	ck_run(&r, 2, "list", "--bogus");
	ck_contains(r.err, "shmpoolctl: list: unknown option --bogus");
	ck_run(&r, 2, "--backend", "nfs", "list");
	ck_contains(r.err, "bad backend \"nfs\"");
	ck_run(&r, 2, "list", "--backend");
	ck_contains(r.err, "option --backend needs a value");
	ck_run(&r, 2, "stat");
	ck_run(&r, 2, "stat", "1", "2");
	ck_run(&r, 2, "conf");
	ck_run(&r, 2, "conf", "lint");
	ck_contains(r.err, "unknown conf command \"lint\"");
	ck_run(&r, 2, "pool", "show", "--conf", "x.ini");
	ck_contains(r.err, "needs --conf FILE and --process NAME");
	ck_run(&r, 2, "load", "max_regions");
	ck_contains(r.err, "bad parameter \"max_regions\": expected NAME=VALUE");
	ck_run(&r, 2, "dump", "1");
	ck_run(&r, 2, "restore");
}
END_TEST

START_TEST(test_bad_keys)
{
	static const char *const bad[] = {
		"abc", "0", "0x", "-1", "+5", "12z", "0x1g", " 7", "99999999999999999999",
		"0x10000000000000000", "",
	};
	char want[128];
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* "--" so that "-1" is a key, not an option. */
		ck_run(&r, 2, "stat", "--", bad[i]);
		snprintf(want, sizeof(want), "shmpoolctl: stat: bad key \"%s\"", bad[i]);
		ck_contains(r.err, want);
		ck_run(&r, 2, "rm", "1", bad[i]);
		ck_run(&r, 2, "dump", bad[i], "f");
	}
	ck_run(&r, 2, "restore", "--key", "zero", "f");
	ck_contains(r.err, "bad key \"zero\"");
}
END_TEST

/* ---- conf check / conf render ------------------------------------------ */

static const char good_ini[] =
	"; two processes\n"
	"ProcessList = zone, scene\n"
	"[zone]\n"
	"BaseKey = 0x1000\n"
	"BlockSize = 1M\n"
	"BlockKeys = 0x1001-0x1004, 0x1010\n"
	"[scene]\n"
	"BaseKey = 4096000\n"
	"BlockSize = 256K\n"
	"BlockKey = 4096001\n"
	"Mode = 0640\n";

START_TEST(test_conf_check)
{
	char p[512], q[512];
	struct run r;

	write_file(path_of("good.ini", p), good_ini);
	ck_run(&r, 0, "conf", "check", p);
	ck_contains(r.out, "good.ini: ok, 2 processes");
	ck_contains(r.out, "[zone]\n  base key:    0x1000\n  block size:  1048576 bytes\n"
		    "  blocks:      5 (0x1001-0x1004,0x1010)");
	ck_contains(r.out, "[scene]");
	ck_contains(r.out, "mode:        0640");
	ck_assert_str_eq(r.err, "");

	ck_run(&r, 0, "conf", "check", "--process", "scene", p);
	ck_contains(r.out, "[scene]");
	ck_assert_ptr_null(strstr(r.out, "[zone]"));
	ck_run(&r, 1, "conf", "check", "-p", "lobby", p);
	ck_contains(r.err, "shmpoolctl: conf check: ");
	ck_contains(r.err, "lobby");

	/* The conflict report: the key and both processes. */
	write_file(path_of("conflict.ini", q),
		   "ProcessList = a, b\n[a]\nBaseKey = 0x100\nBlockSize = 4096\nBlockKeys = 0x101-0x103\n"
		   "[b]\nBaseKey = 0x200\nBlockSize = 4096\nBlockKeys = 0x103\n");
	ck_run(&r, 1, "conf", "check", q);
	ck_contains(r.err, "shmpoolctl: conf check: ");
	ck_contains(r.err, "conflict.ini:9: key 259 (0x103) is used by both a");
	ck_contains(r.err, " and b ");
	ck_assert_str_eq(r.out, "");

	/* A base key that is also a block key. */
	write_file(q, "ProcessList = a, b\n[a]\nBaseKey = 0x100\nBlockSize = 4096\nBlockKeys = 0x101\n"
		   "[b]\nBaseKey = 0x101\nBlockSize = 4096\nBlockKeys = 0x201\n");
	ck_run(&r, 1, "conf", "check", q);
	ck_contains(r.err, "0x101");

	/* Bad values name the line and the value. */
	write_file(q, "ProcessList = a\n[a]\nBaseKey = 0x100\nBlockSize = lots\nBlockKeys = 0x101\n");
	ck_run(&r, 1, "conf", "check", q);
	ck_contains(r.err, ":4:");
	ck_contains(r.err, "lots");

	ck_run(&r, 1, "conf", "check", path_of("missing.ini", q));
	ck_contains(r.err, "missing.ini");
	ck_contains(r.err, "No such file or directory");
}
END_TEST

START_TEST(test_conf_render)
{
	char t[512], o[512], buf[4096];
	struct run r;
	FILE *f;
	size_t n;

	write_file(path_of("pool.tmpl", t),
		   "ProcessList = zone\n[zone]\nBaseKey = $((${WORLD} * 1000 + 1))\n"
		   "BlockSize = 64K\nBlockKeys = $((${WORLD} * 1000 + 2))-$((${WORLD} * 1000 + 5))\n");
	ck_run(&r, 0, "conf", "render", "--set", "WORLD=7", t);
	ck_assert_str_eq(r.out, "ProcessList = zone\n[zone]\nBaseKey = 7001\n"
			 "BlockSize = 64K\nBlockKeys = 7002-7005\n");

	ck_run(&r, 0, "conf", "render", "-s", "WORLD=3", "--check", "-o", path_of("out.ini", o), t);
	ck_assert_str_eq(r.out, "");
	f = fopen(o, "r");
	ck_assert(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_contains(buf, "BaseKey = 3001\n");
	ck_run(&r, 0, "conf", "check", o);

	ck_run(&r, 1, "conf", "render", t);
	ck_contains(r.err, "shmpoolctl: conf render: ");
	ck_contains(r.err, "pool.tmpl:3");
	ck_contains(r.err, "WORLD");
	ck_run(&r, 2, "conf", "render", "--set", "WORLD", t);
	ck_contains(r.err, "bad --set \"WORLD\": expected NAME=VALUE");
	/* --check: a rendered file that does not load fails, nothing written. */
	write_file(t, "ProcessList = a, b\n[a]\nBaseKey = ${K}\nBlockSize = 4K\nBlockKeys = 9\n"
		   "[b]\nBaseKey = ${K}\nBlockSize = 4K\nBlockKeys = 10\n");
	unlink(o);
	ck_run(&r, 1, "conf", "render", "--set", "K=5", "--check", "-o", o, t);
	ck_contains(r.err, "does not load");
	ck_assert_int_ne(access(o, F_OK), 0);
}
END_TEST

/* ---- regions: list / stat / rm ----------------------------------------- */

START_TEST(test_list_stat_rm)
{
	uint64_t k1 = tu_key(1), k2 = tu_key(2);
	char h1[32], h2[32], d1[32], want[256];
	struct run r;

	make_region(k1, 8192, 0640, 1);
	make_region(k2, 4096, 0600, 2);

	ck_run(&r, 0, "list");
	/* The first line names the set of regions listed. */
	snprintf(want, sizeof(want), "backend: %s (%s)\nkey ", backend(),
		 strcmp(backend(), "device") ? "/dev/shm" : "/dev/shmpool");
	ck_starts(r.out, want);
	snprintf(want, sizeof(want), "0x%016" PRIx64 "         8192 ", k1);
	ck_contains(r.out, want);
	ck_contains(r.out, " 0640 ");
	ck_contains(r.out, " new ");

	ck_run(&r, 0, "list", "--json");
	snprintf(want, sizeof(want), "{\"backend\":\"%s\",\"regions\":[\n", backend());
	ck_starts(r.out, want);
	snprintf(want, sizeof(want), "{\"key\":%" PRIu64 ",\"key_hex\":\"0x%" PRIx64 "\",\"backend\":\"%s\",\"size\":8192,",
		 k1, k1, backend());
	ck_contains(r.out, want);
	ck_contains(r.out, "\"mode\":\"0640\"");
	ck_contains(r.out, "\"state\":\"new\"");

	/* Decimal and hex name the same region. */
	ck_run(&r, 0, "stat", hex(k1, h1));
	snprintf(want, sizeof(want), "backend:     %s (", backend());
	ck_contains(r.out, want);
	ck_contains(r.out, "size:        8192 bytes\n");
	ck_contains(r.out, "mode:        0640\n");
	ck_contains(r.out, "huge pages:  no\n");
	ck_contains(r.out, "state:       new\n");
	ck_run(&r, 0, "stat", dec(k1, d1));
	ck_contains(r.out, h1);
	ck_run(&r, 0, "stat", "--json", h1);
	ck_contains(r.out, "\"size\":8192");
	ck_contains(r.out, "\"huge\":false");
	snprintf(want, sizeof(want), "\"backend\":\"%s\"", backend());
	ck_contains(r.out, want);

	ck_run(&r, 0, "rm", h1, hex(k2, h2));
	ck_assert_int_ne(region_stat(k1, &(struct shmdev_region_info){ 0 }), 0);
	ck_run(&r, 1, "stat", h1);
	snprintf(want, sizeof(want), "shmpoolctl: stat %s: no such region\n", h1);
	ck_assert_str_eq(r.err, want);
	ck_run(&r, 1, "rm", h1);
	snprintf(want, sizeof(want), "shmpoolctl: rm %s: no such region\n", h1);
	ck_assert_str_eq(r.err, want);
}
END_TEST

START_TEST(test_rm_all)
{
	struct shmdev_region_info in;
	char h[32], want[128];
	struct run r;

	make_region(tu_key(3), 4096, 0600, 3);
	make_region(tu_key(4), 4096, 0600, 4);
	ck_run(&r, 2, "rm", "--all");
	ck_contains(r.err, "--all destroys every region: confirm with --yes");
	ck_assert_int_eq(region_stat(tu_key(3), &in), 0);
	ck_run(&r, 2, "rm", "--all", "--yes", hex(tu_key(3), h));
	ck_run(&r, 0, "rm", "--all", "--yes");
	ck_contains(r.out, "removed ");
	ck_assert_int_eq(region_stat(tu_key(3), &in), -ENOENT);
	ck_assert_int_eq(region_stat(tu_key(4), &in), -ENOENT);
	ck_run(&r, 0, "list", "--json");
	snprintf(want, sizeof(want), "{\"backend\":\"%s\",\"regions\":[\n]}\n", backend());
	ck_assert_str_eq(r.out, want);
}
END_TEST

/* stat says whether a region is huge-page backed (issue 10, item 17). */
START_TEST(test_stat_huge)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_region *reg;
	char h[32], mi[512], thp[512];
	struct run r;

	/* POSIX: a /dev/shm that gives huge pages (the library's test hook). */
	snprintf(mi, sizeof(mi), "%s/mountinfo", tmpdir);
	write_file(mi, "25 22 0:23 / /dev/shm rw - tmpfs tmpfs rw,huge=advise\n");
	setenv("SHMDEV_TEST_MOUNTINFO", mi, 1);
	snprintf(thp, sizeof(thp), "%s/shmem_enabled", tmpdir);
	write_file(thp, "always within_size advise [never] deny force\n");
	setenv("SHMDEV_TEST_THP_SHMEM", thp, 1);
	ck_assert_msg(shmdev_region_open(ctx, tu_backend(), tu_key(5), 2 << 20,
					 SHMDEV_REGION_CREATE | SHMDEV_REGION_HUGE, 0, &reg) == 0,
		      "%s", shmdev_errmsg(ctx));
	shmdev_region_close(reg);
	shmdev_ctx_unref(ctx);
	ck_run(&r, 0, "stat", hex(tu_key(5), h));
	ck_contains(r.out, "huge pages:  yes\n");
	ck_run(&r, 0, "stat", "--json", h);
	ck_contains(r.out, "\"huge\":true");
	unsetenv("SHMDEV_TEST_MOUNTINFO");
	unsetenv("SHMDEV_TEST_THP_SHMEM");
	ck_run(&r, 0, "rm", h);
}
END_TEST

START_TEST(test_auto_fallback_loud)
{
	if (have_device())
		return;	/* the VM checks it in test_load_unload, module unloaded */
	check_auto_fallback();
}
END_TEST

/* ---- dump / restore ----------------------------------------------------- */

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

/* Whether two dump files carry the same @size data bytes after their headers. */
static bool same_data(const char *a, const char *b, uint64_t size)
{
	char *x = malloc(size), *y = malloc(size);
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	bool same;

	ck_assert(x && y && fa >= 0 && fb >= 0);
	same = pread(fa, x, size, 64) == (ssize_t)size &&
	       pread(fb, y, size, 64) == (ssize_t)size && !memcmp(x, y, size);
	close(fa);
	close(fb);
	free(x);
	free(y);
	return same;
}

static void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	ck_assert(fd >= 0);
	ck_assert(pread(fd, &c, 1, off) == 1);
	c ^= 0x5a;
	ck_assert(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

START_TEST(test_dump_restore)
{
	const uint64_t size = 5 * 4096;
	uint64_t k = tu_key(10), k2 = tu_key(11);
	struct shmdev_region_info in;
	char h[32], h2[32], f[512], bad[512], want[256], cmd[1200];
	struct run r;

	make_region(k, size, 0640, 10);
	ck_run(&r, 0, "dump", hex(k, h), path_of("r.dump", f));
	ck_contains(r.out, "dumped ");
	ck_assert_int_eq(file_size(f), 64 + (long)size);

	/* Refused over an existing region, unless --force. */
	ck_run(&r, 1, "restore", f);
	snprintf(want, sizeof(want), "shmpoolctl: restore %s: the region exists (--force replaces it)\n", h);
	ck_assert_str_eq(r.err, want);

	ck_run(&r, 0, "rm", h);
	ck_run(&r, 0, "restore", f);
	ck_contains(r.out, "restored ");
	ck_assert_msg(region_has(k, size, 10), "restored region differs");
	ck_assert_int_eq(region_stat(k, &in), 0);
	ck_assert_int_eq(in.mode, 0640);
	ck_assert_int_eq(in.size, size);

	/* --force replaces an existing region (with other contents). */
	ck_run(&r, 0, "rm", h);
	make_region(k, 4096, 0600, 99);
	ck_run(&r, 0, "restore", "--force", f);
	ck_assert_msg(region_has(k, size, 10), "forced restore differs");

	/* Under another key, and the round trip again from there. */
	ck_run(&r, 0, "restore", "--key", hex(k2, h2), f);
	ck_assert_msg(region_has(k2, size, 10), "restore --key differs");
	ck_run(&r, 0, "dump", h2, path_of("r2.dump", bad));
	ck_assert_msg(same_data(f, bad, size), "dumps of identical regions differ");
	ck_run(&r, 0, "rm", h2);

	/* A damaged file is refused before anything is created. */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", f, path_of("bad.dump", bad));
	ck_assert(system(cmd) == 0);
	flip_byte(bad, 64 + 3 * 4096 + 17);
	ck_run(&r, 1, "restore", "--key", h2, bad);
	ck_contains(r.err, "data checksum mismatch");
	ck_assert_int_eq(region_stat(k2, &in), -ENOENT);

	ck_assert(system(cmd) == 0);
	flip_byte(bad, 20);
	ck_run(&r, 1, "restore", "--key", h2, bad);
	ck_contains(r.err, "header checksum mismatch");

	ck_assert(system(cmd) == 0);
	ck_assert(truncate(bad, 64 + 4096) == 0);
	ck_run(&r, 1, "restore", "--key", h2, bad);
	ck_contains(r.err, "truncated");

	write_file(bad, "not a dump at all, but long enough to hold a header of sixty-four bytes...\n");
	ck_run(&r, 1, "restore", bad);
	ck_contains(r.err, "bad magic");
	ck_run(&r, 1, "restore", path_of("nonexistent", bad));
	ck_contains(r.err, "No such file or directory");
	ck_assert_int_eq(region_stat(k2, &in), -ENOENT);

	ck_run(&r, 1, "dump", h2, bad);
	snprintf(want, sizeof(want), "shmpoolctl: dump %s: no such region\n", h2);
	ck_assert_str_eq(r.err, want);
}
END_TEST

static int hold_owner(void *arg)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_region *r;

	return shmdev_region_open(ctx, tu_backend(), *(uint64_t *)arg, 0,
				  SHMDEV_REGION_OWNER, 0, &r) ? 1 : 0;
}

START_TEST(test_restore_owned)
{
	uint64_t k = tu_key(12);
	struct tu_child c;
	char h[32], f[512];
	struct run r;

	make_region(k, 4096, 0600, 12);
	ck_run(&r, 0, "dump", hex(k, h), path_of("o.dump", f));
	tu_child_start(&c, hold_owner, &k, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	/* Dumping a live region warns; replacing it is refused. */
	ck_run(&r, 0, "dump", h, f);
	ck_contains(r.err, "warning: dump");
	ck_contains(r.err, "owned by pid");
	ck_run(&r, 1, "restore", "--force", f);
	ck_contains(r.err, "owned by running pid");
	tu_child_kill(&c);
	ck_run(&r, 0, "stat", h);
	ck_contains(r.out, "state:       crashed\n");
	ck_run(&r, 0, "restore", "--force", f);
	ck_assert(region_has(k, 4096, 12));
}
END_TEST

/* ---- pools ---------------------------------------------------------------- */

START_TEST(test_status)
{
	struct run r;

	ck_run(&r, 0, "status");
	ck_contains(r.out, "module:           loaded (live)\n");
	ck_contains(r.out, "abi version:      2\n");
	ck_contains(r.out, "max_regions");
	ck_run(&r, 0, "status", "--json");
	ck_contains(r.out, "{\"loaded\":true,");
	ck_contains(r.out, "\"abi_version\":2,");
}
END_TEST

START_TEST(test_permission_denied)
{
	uint64_t k = tu_key(30);
	char h[32];
	struct run r;

	make_region(k, 4096, 0600, 30);
	hex(k, h);
	/* nobody may not read a 0600 region of root's, nor destroy it. */
	ck_assert_int_eq(CTL_AS(&r, 65534, "dump", h, "/tmp/nobody.dump"), 1);
	ck_assert_msg(strstr(r.err, "ermission denied"), "stderr: %s", r.err);
	ck_assert_int_ne(access("/tmp/nobody.dump", F_OK), 0);
	ck_assert_int_eq(CTL_AS(&r, 65534, "rm", h), 1);
	ck_assert_msg(strstr(r.err, "ermission denied") || strstr(r.err, "not permitted"),
		      "stderr: %s", r.err);
	ck_assert(region_has(k, 4096, 30));
}
END_TEST

/* The region's flags as the device reports them. */
static uint32_t region_flags(uint64_t key)
{
	struct shmpool_stat st = { .size = sizeof(st), .key = key };
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, SHMPOOL_IOC_STAT, &st), 0);
	close(fd);
	return st.info.flags;
}

/*
 * liveupdate on a kernel without LUO (every stock kernel): a clear error
 * naming the missing config, nothing frozen; cancel thaws what a save that
 * died left frozen; usage errors.
 */
START_TEST(test_liveupdate)
{
	uint64_t k = tu_key(31);
	struct shmpool_export e = { .size = sizeof(e), .key = k };
	struct run r;
	int fd;

	make_region(k, 4096, 0600, 31);
	ck_run(&r, 2, "liveupdate");
	ck_run(&r, 2, "liveupdate", "bogus");
	ck_contains(r.err, "save, restore or cancel");
	ck_run(&r, 2, "liveupdate", "save", "--session", "");
	if (access("/dev/liveupdate", F_OK) != 0) {
		ck_run(&r, 1, "liveupdate", "save");
		ck_contains(r.err, "no /dev/liveupdate");
		ck_contains(r.err, "CONFIG_LIVEUPDATE_MEMFD");
		ck_contains(r.err, "Operation not supported");
		ck_assert_uint_eq(region_flags(k) & SHMPOOL_REGION_FROZEN, 0);
		ck_run(&r, 1, "liveupdate", "restore");
		ck_contains(r.err, "CONFIG_KEXEC_HANDOVER");
	}
	/* A save killed with SIGKILL leaves its regions frozen: cancel. */
	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, SHMPOOL_IOC_EXPORT, &e), 0);
	close(e.fd);
	close(fd);
	ck_assert_uint_ne(region_flags(k) & SHMPOOL_REGION_FROZEN, 0);
	ck_run(&r, 0, "liveupdate", "cancel");
	ck_contains(r.out, "1 region(s) thawed");
	ck_assert_uint_eq(region_flags(k) & SHMPOOL_REGION_FROZEN, 0);
	ck_assert(region_has(k, 4096, 31));
}
END_TEST

START_TEST(test_load_unload)
{
	const char *ko = getenv("SHMPOOL_KO");
	char h[32];
	struct run r;

	ck_assert_msg(ko && *ko, "SHMPOOL_KO is not set");
	/* Refused while a region exists, with the count. */
	make_region(tu_key(40), 4096, 0600, 40);
	ck_run(&r, 1, "unload");
	ck_contains(r.err, "shmpoolctl: unload: module shmpool is in use: ");
	ck_contains(r.err, "(shmpoolctl rm --all --yes)");
	ck_run(&r, 0, "rm", hex(tu_key(40), h));

	ck_run(&r, 0, "unload");
	ck_assert_int_ne(access("/sys/module/shmpool", F_OK), 0);
	/* Module absent: every path says so. */
	ck_run(&r, 1, "unload");
	ck_assert_str_eq(r.err, "shmpoolctl: unload: module shmpool is not loaded\n");
	ck_run(&r, 1, "status");
	ck_contains(r.out, "module:           not loaded");
	check_auto_fallback();
	ck_run(&r, 1, "list", "--backend", "device");
	ck_contains(r.err, "/dev/shmpool");
	ck_contains(r.err, "is the shmpool module loaded?");
	ck_run(&r, 1, "stat", "--backend", "device", "0x1");
	ck_contains(r.err, "is the shmpool module loaded?");
	/* No depmod'ed tree in the VM: the lookup fails clearly. */
	ck_run(&r, 1, "load");
	ck_contains(r.err, "module shmpool not found for kernel");
	ck_run(&r, 1, "load", "--ko", "/nonexistent/shmpool.ko");
	ck_contains(r.err, "/nonexistent/shmpool.ko");

	ck_run(&r, 0, "load", "--ko", ko, "max_regions=7", "max_region_bytes=65536");
	ck_run(&r, 0, "status");
	ck_contains(r.out, "regions:          0 of 7\n");
	ck_contains(r.out, "max region bytes: 65536\n");
	ck_run(&r, 1, "load", "--ko", ko);
	ck_contains(r.err, "already loaded");
	ck_run(&r, 0, "unload");
	ck_run(&r, 1, "load", "--ko", ko, "max_regions=many");
	ck_contains(r.err, "invalid argument");
	ck_run(&r, 0, "load", "--ko", ko);
	ck_run(&r, 0, "status");
	ck_contains(r.out, "regions:          0 of 4096\n");
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("shmpoolctl");
	TCase *tc;

	tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_conf_check);
	tcase_add_test(tc, test_conf_render);
	suite_add_tcase(s, tc);

	tc = tcase_create("regions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_list_stat_rm);
	tcase_add_test(tc, test_rm_all);
	tcase_add_test(tc, test_auto_fallback_loud);
	tcase_add_test(tc, test_stat_huge);
	tcase_add_test(tc, test_dump_restore);
	tcase_add_test(tc, test_restore_owned);
	suite_add_tcase(s, tc);

	ctl_add_pool_tcase(s);

	if (have_device()) {
		tc = tcase_create("module");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, test_status);
		tcase_add_test(tc, test_liveupdate);
		if (geteuid() == 0)
			tcase_add_test(tc, test_permission_denied);
		if (getenv("SHMPOOL_KO"))
			tcase_add_test(tc, test_load_unload);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(int argc, char **argv)
{
	/* Multicall: this binary is shmpoolctl too (the VM has no other). */
	if (argc > 1 && !strcmp(argv[1], MULTICALL))
		return shmpoolctl_main(argc - 1, argv + 1);
	tu_init("ctl");
	return tu_run(ctl_suite());
}
