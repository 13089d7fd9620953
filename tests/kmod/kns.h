/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the suites that run code as other users, in other IPC, user
 * and pid namespaces, with fewer capabilities, or that pass files between
 * processes (test_quota.c, test_perm.c, test_owner.c, test_nsproc.c).
 * Header-only: each suite is one binary.  Children report through their
 * exit status and say what failed on stderr (EXPECT).
 */
#ifndef SHMPOOL_KNS_H
#define SHMPOOL_KNS_H

#include "kutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* In the parent: write @map to /proc/@pid/@file (uid_map, gid_map). */
static inline void kns_write_id_map(pid_t pid, const char *file, const char *map)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(write(fd, map, strlen(map)) == (ssize_t)strlen(map), "write %s: %s",
		      path, strerror(errno));
	close(fd);
}

/* In a child: on failure print where and why, and return 1. */
#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		return 1;						\
	}								\
} while (0)

/*
 * Keep only the capabilities in @caps (a -1 terminated list) in the
 * effective, permitted and inheritable sets; the uids stay.  0 or -errno.
 */
static inline int kns_caps_only(const int *caps)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (; *caps >= 0; caps++) {
		d[*caps / 32].effective |= 1U << (*caps % 32);
		d[*caps / 32].permitted |= 1U << (*caps % 32);
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * A new IPC namespace, as an nsfs fd (which keeps it alive); the caller
 * stays in its own.  Needs CAP_SYS_ADMIN.
 */
static inline int kns_ipcns_new(void)
{
	int orig = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC), fd;

	ck_assert_int_ge(orig, 0);
	ck_assert_msg(unshare(CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	fd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(setns(orig, CLONE_NEWIPC) == 0, "setns back: %s", strerror(errno));
	close(orig);
	return fd;
}

/*
 * Run @fn(@arg) in a child, in IPC namespace @nsfd (-1: the caller's), as
 * @uid/@gid with no supplementary group (uid 0: root with every capability).
 * Returns the child's exit status (120: setup failed), 128+signal if killed.
 */
static inline int kns_run_in(int nsfd, uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWIPC)) {
			perror("setns");
			_exit(120);
		}
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
			perror("set*id");
			_exit(120);
		}
		_exit(fn(arg));
	}
	return kt_wait(pid);
}

/* Send @fd over the unix socket @sock (SCM_RIGHTS).  0 or -errno. */
static inline int kns_send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Receive a file from @sock; the new fd, or -errno. */
static inline int kns_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#endif
