/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the shmpool.ko Check suites.  They run inside the VM as root,
 * with the module loaded (SHMPOOL_KO names the .ko for reloads).
 */
#ifndef SHMPOOL_KUTIL_H
#define SHMPOOL_KUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/shmpool.h>

#define KT_PAGE ((size_t)sysconf(_SC_PAGESIZE))

/* Open /dev/shmpool read-write (fails the test if it cannot). */
int kt_open(void);
int kt_open_flags(int oflags);

/* Each returns 0 or -errno. */
int kt_ioctl(int fd, unsigned long cmd, void *arg);
int kt_attach(int fd, uint64_t key, uint64_t size, uint32_t flags,
	      uint32_t mode, struct shmpool_attach *out);
int kt_detach(int fd);
int kt_query(int fd, struct shmpool_query *out);
int kt_stat(uint64_t key, struct shmpool_region_info *out);
int kt_destroy(uint64_t key);
int kt_info(struct shmpool_info *out);

/* Open, attach; fails the test on error.  Returns the fd. */
int kt_attach_fd(uint64_t key, uint64_t size, uint32_t flags, uint32_t mode,
		 struct shmpool_attach *out);

/* Destroy every region; returns how many there were. */
int kt_destroy_all(void);
/*
 * Checked-fixture setup: make sure the module is loaded and no region is
 * left over from an earlier (failed) test, so every test starts clean.
 */
void kt_clean_setup(void);
/* Number of regions whose key resolves (INFO.nr_regions). */
unsigned int kt_nr_regions(void);

/* Shmem from /proc/meminfo, in kB. */
long kt_meminfo_kb(const char *field);

/* Module control through finit_module/delete_module. */
int kt_module_unload(void);			/* 0 or -errno */
int kt_module_load(const char *params);		/* 0 or -errno */
bool kt_module_loaded(void);
/* Wait (up to 5 s) for /dev/shmpool to appear. */
void kt_wait_dev(void);
/* Read/write /sys/module/shmpool/parameters/NAME (inside tests only). */
unsigned long long kt_param_get(const char *name);
/* The same without Check assertions, for main(): false if unreadable. */
bool kt_param_read(const char *name, unsigned long long *v);
void kt_param_set(const char *name, unsigned long long v);

/*
 * Run @fn in a child with the given credentials (supplementary groups
 * cleared).  Returns the child's exit status (0..255), or 128+signal.
 */
int kt_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);
/* Exit status of child @pid (128+signal if killed). */
int kt_wait(pid_t pid);

/* Parent/child handshakes over a pipe. */
struct kt_sync {
	int p2c[2];
	int c2p[2];
};
void kt_sync_init(struct kt_sync *s);
void kt_sync_child(struct kt_sync *s);		/* call in the child after fork */
void kt_sync_parent(struct kt_sync *s);		/* call in the parent after fork */
void kt_signal(int fd, uint64_t v);
uint64_t kt_await(int fd);

/*
 * Mount a ramfs on @dir and point Check's TEMP there.  /tmp, /dev/shm and
 * TMPDIR are tmpfs in the VM, and tmpfs pages count in Shmem: Check's
 * message files, which grow with every assertion, would move the figure a
 * test compares exactly.  ramfs pages do not count.  Call it from main(),
 * before the suite runs.  False (with a message) if no ramfs.
 */
bool kt_tmp_off_shmem(const char *dir);
/* Undo kt_tmp_off_shmem() at the end of main(). */
void kt_tmp_release(const char *dir);

/* Environment number with default. */
long kt_env_long(const char *name, long def);

/* A key unlikely to collide between suites: suite tag and index. */
#define KT_KEY(tag, i) ((((uint64_t)(tag)) << 32) | (uint64_t)(i))

/*
 * Standard main(): run @s in CK_FORK mode, then make sure no region was
 * left behind (destroying any and failing if there were), and that the
 * module is still loaded.
 */
int kt_main(Suite *s);

#endif
