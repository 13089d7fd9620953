// SPDX-License-Identifier: GPL-2.0
/*
 * trinity against /dev/shmpool (issue 7 §3).  A static Check runner for the
 * VM bench (build/vm/bin/stress_test_trinity); trinity itself is copied into
 * the initramfs through VM_EXTRA_PROGS (tests/stress/build.mk).
 *
 * trinity runs as nobody (it refuses root, and as root its children would
 * unshare their own IPC namespaces), with the device's group for the run
 * so that it can open the node as a member of the udev rule's group would.
 * Its only file is the victim /dev/shmpool (-V; every other fd provider is
 * off); it runs twice, ioctl alone, then the file and mapping syscalls
 * below, each for a bounded number of calls (-N) with a fixed seed (-s),
 * both printed.  Afterwards every
 * region it may have created (an ATTACH with CREATE by chance) is
 * destroyed, and the SysV segments it creates for itself are removed; then
 * rmmod must succeed and Shmem must be back at its baseline, exactly.  A
 * BUG, WARNING or Oops fails the VM round (panic_on_warn, the bench's log
 * check); trinity's own taint detection fails this test.
 *
 * Knobs: SHMPOOL_TRINITY_IOCTLS (calls of the ioctl run, 20; 0 skips it: on
 * the debug kernel each of them cost about 20 s, and none uses shmpool's ioctl numbers),
 * SHMPOOL_TRINITY_CALLS (calls of the other run, 100000), SHMPOOL_TRINITY_SEED
 * (7), SHMPOOL_TRINITY_CHILDREN (2), SHMPOOL_TRINITY_TIMEOUT (seconds per
 * run, 900),
 * SHMPOOL_TRINITY (/usr/bin/trinity).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "kutil.h"

#define TMP_DIR "/run/shmpool-stress-trinity"
#define WORK_DIR TMP_DIR "/work"
#define OUT_FILE WORK_DIR "/trinity.out"
#define NOBODY 65534

/*
 * Two runs.  trinity 2023.01's ioctl argument generator crashes its child
 * (a NULL object list in find_ioctl_group()): mixed in with other syscalls
 * almost no ioctl reaches the device, alone every one does, but each costs
 * a new trinity child (about a second under emulation), hence a separate,
 * smaller count.
 */
static const char *const ioctl_calls[] = { "ioctl", NULL };
/* What a process does with the device's file and its mappings. */
static const char *const file_calls[] = {
	"mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore",
	"close", "dup", "fcntl", "read", "write", "lseek", "newfstat", NULL,
};

/* Every fd provider but the victim files ("pseudo" in trinity's names). */
#define DISABLE_FDS "--disable-fds=sockets,pipes,perf,epoll,eventfd,timerfd,testfile,memfd,drm," \
	"inotify,fanotify,userfaultfd"

static long env_num(const char *name, long def, long min)
{
	long v = kt_env_long(name, def);

	ck_assert_msg(v >= min, "%s=%ld: must be at least %ld", name, v, min);
	return v;
}

static void run_trinity(const char *trinity, const char *const *syscalls, long calls, long seed,
			long children, gid_t gid)
{
	static char calls_s[32], seed_s[32], children_s[32];
	const char *argv[64];
	size_t n = 0, i;
	int fd;

	snprintf(calls_s, sizeof(calls_s), "-N%ld", calls);
	snprintf(seed_s, sizeof(seed_s), "-s%ld", seed);
	snprintf(children_s, sizeof(children_s), "-C%ld", children);
	argv[n++] = trinity;
	argv[n++] = "-V";
	argv[n++] = SHMPOOL_DEVICE_PATH;
	argv[n++] = DISABLE_FDS;
	for (i = 0; syscalls[i]; i++) {
		argv[n++] = "-c";
		argv[n++] = syscalls[i];
	}
	argv[n++] = calls_s;
	argv[n++] = seed_s;
	argv[n++] = children_s;
	argv[n++] = "-l";	/* no per-child log files (fsync per call) */
	argv[n++] = "off";
	argv[n++] = "-q";
	argv[n++] = "--stats";
	argv[n] = NULL;

	/* Its own process group, so that every trinity process can be killed. */
	setpgid(0, 0);
	fd = open(OUT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(120);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || chdir(WORK_DIR))
		_exit(121);
	if (setgroups(1, &gid) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		_exit(122);
	execv(trinity, (char *const *)argv);
	_exit(123);
}

/*
 * Print the parts of trinity's output that matter (seed, totals, the
 * per-syscall errno table of --stats); return the number of calls made.
 */
static long report(bool *tainted)
{
	char line[512];
	long ran = -1;
	bool stats = false;
	FILE *f = fopen(OUT_FILE, "re");

	ck_assert_msg(f != NULL, OUT_FILE ": %s", strerror(errno));
	*tainted = false;
	while (fgets(line, sizeof(line), f)) {
		if ((strstr(line, "tainted") || strstr(line, "tainting")) &&
		    !strstr(line, "on startup")) {
			*tainted = true;
			printf("trinity: %s", line);
		} else if (strstr(line, "random seed") || strstr(line, "syscalls enabled") ||
			   strstr(line, "Added ") || strstr(line, "Couldn't open")) {
			printf("trinity: %s", line);
		} else if (sscanf(line, "[main] Ran %ld syscalls.", &ran) == 1) {
			printf("trinity: %s", line);
			stats = true;
		} else if (stats) {
			printf("trinity: %s", line);
		}
	}
	fclose(f);
	return ran;
}

/* Print the last lines of trinity's output, after a failure. */
static void dump_tail(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "tail -n 40 %s", OUT_FILE);
	fflush(stdout);
	if (system(cmd) != 0)
		printf("trinity: cannot show %s\n", OUT_FILE);
}

/* Remove the SysV segments nobody (trinity) left; they count in Shmem. */
static int remove_nobody_shm(void)
{
	struct shm_info info;
	struct shmid_ds ds;
	int max, i, n = 0;

	max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	for (i = 0; i <= max; i++) {
		int id = shmctl(i, SHM_STAT, &ds);

		if (id >= 0 && ds.shm_perm.uid == NOBODY && shmctl(id, IPC_RMID, NULL) == 0)
			n++;
	}
	return n;
}

struct knobs {
	const char *trinity;
	long seed, children, timeout;
};

/* One trinity run of @calls calls of @syscalls; returns the calls made. */
static long trinity_run(const struct knobs *k, const char *name, const char *const *syscalls,
			long calls)
{
	struct timespec t0, t1;
	int status = 0;
	bool tainted, timed_out = false;
	long ran;
	pid_t pid, w;

	printf("trinity: %s run: seed %ld, %ld calls, %ld children, victim %s\n", name, k->seed,
	       calls, k->children, SHMPOOL_DEVICE_PATH);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		run_trinity(k->trinity, syscalls, calls, k->seed, k->children, NOBODY);
	setpgid(pid, pid);	/* as the child does: no race with kill(-pid) */
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		ck_assert_msg(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (!timed_out && t1.tv_sec - t0.tv_sec > k->timeout) {
			/* A hang guard, not a timing check: trinity must finish. */
			kill(-pid, SIGKILL);
			timed_out = true;
		}
		usleep(100000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Any trinity child still alive goes, and every one is reaped. */
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;

	ran = report(&tainted);
	if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) || ran < calls || tainted)
		dump_tail();
	ck_assert_msg(!timed_out, "trinity did not finish in %ld s (SHMPOOL_TRINITY_TIMEOUT)",
		      k->timeout);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "trinity ended with status 0x%x (120-123: setup before exec failed)", status);
	ck_assert_msg(!tainted, "trinity saw the kernel become tainted");
	ck_assert_msg(ran >= calls, "trinity made %ld calls, %ld asked", ran, calls);
	printf("trinity: %s run: %ld calls in %ld s\n", name, ran, (long)(t1.tv_sec - t0.tv_sec));
	return ran;
}

START_TEST(trinity_on_device)
{
	struct knobs k = {
		.trinity = getenv("SHMPOOL_TRINITY") ? getenv("SHMPOOL_TRINITY") : "/usr/bin/trinity",
		.seed = env_num("SHMPOOL_TRINITY_SEED", 7, 0),
		.children = env_num("SHMPOOL_TRINITY_CHILDREN", 2, 1),
		.timeout = env_num("SHMPOOL_TRINITY_TIMEOUT", 900, 1),
	};
	long ioctls = env_num("SHMPOOL_TRINITY_IOCTLS", 20, 0);
	long calls = env_num("SHMPOOL_TRINITY_CALLS", 100000, 1);
	long base, ran;
	int regions, segs;

	ck_assert_msg(access(k.trinity, X_OK) == 0,
		      "%s: %s (the bench copies it into the VM through VM_EXTRA_PROGS)",
		      k.trinity, strerror(errno));
	ck_assert_int_eq(kt_nr_regions(), 0);
	ck_assert_msg(mkdir(WORK_DIR, 0755) == 0 || errno == EEXIST, WORK_DIR ": %s", strerror(errno));
	ck_assert_int_eq(chown(WORK_DIR, NOBODY, NOBODY), 0);
	/*
	 * Give the node nobody's group for the run, as the udev rule gives it
	 * the shmpool group: trinity opens only files its own uid or gid may
	 * open.  The node is made afresh at the next insmod anyway.
	 */
	ck_assert_int_eq(chown(SHMPOOL_DEVICE_PATH, (uid_t)-1, NOBODY), 0);
	/* Orphaned trinity processes come back to us, to be reaped. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

	base = kt_meminfo_kb("Shmem");
	ran = 0;
	if (ioctls)
		ran = trinity_run(&k, "ioctl", ioctl_calls, ioctls);
	else
		printf("trinity: ioctl run: skipped (SHMPOOL_TRINITY_IOCTLS=0)\n");
	ran += trinity_run(&k, "file and mapping", file_calls, calls);

	regions = kt_destroy_all();
	segs = remove_nobody_shm();
	ck_assert_int_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_msg(kt_meminfo_kb("Shmem") == base, "Shmem %ld kB after rmmod, baseline %ld kB",
		      kt_meminfo_kb("Shmem"), base);
	printf("trinity: %ld calls; %d region(s) it created destroyed, %d SysV segment(s) removed; rmmod ok, Shmem back at %ld kB\n",
	       ran, regions, segs, base);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trinity");
	TCase *tc = tcase_create("trinity");
	bool tmp_ok;
	int rc;

	if (access(SHMPOOL_DEVICE_PATH, R_OK | W_OK)) {
		printf("trinity: skipped: " SHMPOOL_DEVICE_PATH " is not here (this runs in the VM bench)\n");
		return EXIT_SUCCESS;
	}
	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tcase_set_timeout(tc, 2.0 * (double)kt_env_long("SHMPOOL_TRINITY_TIMEOUT", 900) + 120);
	tcase_add_test(tc, trinity_on_device);
	suite_add_tcase(s, tc);
	rc = kt_main(s);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return rc;
}
