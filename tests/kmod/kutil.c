// SPDX-License-Identifier: GPL-2.0
#include "kutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int kt_open_flags(int oflags)
{
	int fd = open(SHMPOOL_DEVICE_PATH, oflags | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", SHMPOOL_DEVICE_PATH, strerror(errno));
	return fd;
}

int kt_open(void)
{
	return kt_open_flags(O_RDWR);
}

int kt_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int kt_attach(int fd, uint64_t key, uint64_t size, uint32_t flags,
	      uint32_t mode, struct shmpool_attach *out)
{
	struct shmpool_attach a = {
		.size = sizeof(a), .flags = flags, .key = key,
		.req_size = size, .mode = mode,
	};
	int r = kt_ioctl(fd, SHMPOOL_IOC_ATTACH, &a);

	if (out)
		*out = a;
	return r;
}

int kt_detach(int fd)
{
	struct shmpool_detach d = { .size = sizeof(d) };

	return kt_ioctl(fd, SHMPOOL_IOC_DETACH, &d);
}

int kt_query(int fd, struct shmpool_query *out)
{
	struct shmpool_query q = { .size = sizeof(q) };
	int r = kt_ioctl(fd, SHMPOOL_IOC_QUERY, &q);

	if (out)
		*out = q;
	return r;
}

int kt_stat(uint64_t key, struct shmpool_region_info *out)
{
	struct shmpool_stat s = { .size = sizeof(s), .key = key };
	int fd = kt_open();
	int r = kt_ioctl(fd, SHMPOOL_IOC_STAT, &s);

	close(fd);
	if (out)
		*out = s.info;
	return r;
}

int kt_destroy(uint64_t key)
{
	struct shmpool_destroy d = { .size = sizeof(d), .key = key };
	int fd = kt_open();
	int r = kt_ioctl(fd, SHMPOOL_IOC_DESTROY, &d);

	close(fd);
	return r;
}

int kt_info(struct shmpool_info *out)
{
	struct shmpool_info in = { .size = sizeof(in) };
	int fd = kt_open();
	int r = kt_ioctl(fd, SHMPOOL_IOC_INFO, &in);

	close(fd);
	if (out)
		*out = in;
	return r;
}

int kt_attach_fd(uint64_t key, uint64_t size, uint32_t flags, uint32_t mode,
		 struct shmpool_attach *out)
{
	int fd = kt_open();
	int r = kt_attach(fd, key, size, flags, mode, out);

	ck_assert_msg(r == 0, "attach key %#" PRIx64 " flags %#x: %s", key, flags,
		      strerror(-r));
	return fd;
}

/*
 * Destroy every region of the namespace; the number destroyed.  A region
 * frozen by EXPORT (test_handover.c) is thawed first, so a test that left
 * one cannot stall every later setup; a pass that destroys nothing ends.
 */
int kt_destroy_all(void)
{
	struct shmpool_region_info e[16];
	struct shmpool_list l;
	int fd, n = 0, done;

	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	do {
		memset(&l, 0, sizeof(l));
		l.size = sizeof(l);
		l.cursor = 0;
		l.entries = (uintptr_t)e;
		l.count = 16;
		l.entry_size = sizeof(e[0]);
		if (ioctl(fd, SHMPOOL_IOC_LIST, &l) < 0 || l.count == 0)
			break;
		done = 0;
		for (unsigned int i = 0; i < l.count; i++) {
			struct shmpool_destroy d = { .size = sizeof(d), .key = e[i].key };
			struct shmpool_export t = {
				.size = sizeof(t), .flags = SHMPOOL_EXPORT_THAW, .key = e[i].key,
			};

			if (e[i].flags & SHMPOOL_REGION_FROZEN)
				(void)ioctl(fd, SHMPOOL_IOC_EXPORT, &t);
			if (ioctl(fd, SHMPOOL_IOC_DESTROY, &d) == 0)
				done++;
		}
		n += done;
	} while (done);
	close(fd);
	return n;
}

void kt_clean_setup(void)
{
	if (!kt_module_loaded())
		ck_assert_int_eq(kt_module_load(""), 0);
	kt_destroy_all();
}

unsigned int kt_nr_regions(void)
{
	struct shmpool_info in;

	ck_assert_int_eq(kt_info(&in), 0);
	return in.nr_regions;
}

long kt_meminfo_kb(const char *field)
{
	char line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;
	int rfd;

	/*
	 * Fold the per-CPU vmstat deltas first, or the counters in
	 * /proc/meminfo lag by up to a few pages per CPU.
	 */
	rfd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (rfd >= 0) {
		if (write(rfd, "1", 1) < 0)
			perror("stat_refresh");
		close(rfd);
	}
	f = fopen("/proc/meminfo", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	ck_assert_msg(v >= 0, "no %s in /proc/meminfo", field);
	return v;
}

int kt_module_unload(void)
{
	return syscall(SYS_delete_module, "shmpool", O_NONBLOCK) < 0 ? -errno : 0;
}

int kt_module_load(const char *params)
{
	const char *ko = getenv("SHMPOOL_KO");
	int fd, r;

	ck_assert_msg(ko != NULL, "SHMPOOL_KO is not set");
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", ko, strerror(errno));
	r = syscall(SYS_finit_module, fd, params ? params : "", 0) < 0 ? -errno : 0;
	close(fd);
	if (r == 0)
		kt_wait_dev();
	return r;
}

bool kt_module_loaded(void)
{
	return access("/sys/module/shmpool", F_OK) == 0;
}

void kt_wait_dev(void)
{
	for (int i = 0; i < 500; i++) {
		if (access(SHMPOOL_DEVICE_PATH, F_OK) == 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("%s did not appear", SHMPOOL_DEVICE_PATH);
}

bool kt_param_read(const char *name, unsigned long long *v)
{
	char path[128], buf[64];
	bool ok;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/shmpool/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (ok)
		*v = strtoull(buf, NULL, 10);
	return ok;
}

unsigned long long kt_param_get(const char *name)
{
	char path[128], buf[64];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/shmpool/parameters/%s", name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	v = strtoull(buf, NULL, 10);
	return v;
}

void kt_param_set(const char *name, unsigned long long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/shmpool/parameters/%s", name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_gt(fprintf(f, "%llu\n", v), 0);
	ck_assert_int_eq(fclose(f), 0);
}

int kt_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			ck_abort_msg("waitpid: %s", strerror(errno));
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int kt_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			_exit(120);
		_exit(fn(arg));
	}
	return kt_wait(pid);
}

void kt_sync_init(struct kt_sync *s)
{
	ck_assert_int_eq(pipe(s->p2c), 0);
	ck_assert_int_eq(pipe(s->c2p), 0);
}

void kt_sync_child(struct kt_sync *s)
{
	close(s->p2c[1]);
	close(s->c2p[0]);
}

void kt_sync_parent(struct kt_sync *s)
{
	close(s->p2c[0]);
	close(s->c2p[1]);
}

void kt_signal(int fd, uint64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(121);
}

uint64_t kt_await(int fd)
{
	uint64_t v = 0;
	ssize_t n;

	do {
		n = read(fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(v))
		return UINT64_MAX;
	return v;
}

long kt_env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

int kt_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed, left;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	if (!kt_module_loaded()) {
		fprintf(stderr, "FAIL: shmpool is not loaded at exit\n");
		failed++;
	}
	left = kt_destroy_all();
	if (left) {
		fprintf(stderr, "FAIL: %d region(s) left behind\n", left);
		failed++;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

bool kt_tmp_off_shmem(const char *dir)
{
	mkdir("/run", 0755);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
		return false;
	}
	if (mount("ramfs", dir, "ramfs", 0, "mode=0755")) {
		fprintf(stderr, "mount ramfs on %s: %s (Check's files stay on tmpfs)\n",
			dir, strerror(errno));
		return false;
	}
	setenv("TEMP", dir, 1);
	return true;
}

void kt_tmp_release(const char *dir)
{
	if (umount(dir))
		fprintf(stderr, "umount %s: %s\n", dir, strerror(errno));
	rmdir(dir);
}
