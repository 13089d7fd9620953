// SPDX-License-Identifier: GPL-2.0
/*
 * owner_pid names the process that really holds the owner lease (issue 10
 * item 6).  The lease belongs to an open file, which fork() and SCM_RIGHTS
 * share: when the process that took it exits while the lease lives on,
 * STAT, LIST, QUERY and /proc/shmpool must name a process holding the
 * file, not the dead one; 0 while no process's file table holds it (in
 * flight in a socket).
 */
#include "kns.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define TAG 0x42

/* owner_pid as STAT reports it (the state too, if @state). */
static uint32_t stat_owner(uint64_t key, uint32_t *state)
{
	struct shmpool_region_info info;

	ck_assert_int_eq(kt_stat(key, &info), 0);
	if (state)
		*state = info.state;
	return info.owner_pid;
}

static uint32_t list_owner(uint64_t key)
{
	struct shmpool_region_info e[16];
	struct shmpool_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .count = 16,
				  .entry_size = sizeof(e[0]) };
	int fd = kt_open();

	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	close(fd);
	for (unsigned int i = 0; i < l.count; i++)
		if (e[i].key == key)
			return e[i].owner_pid;
	ck_abort_msg("LIST does not show %#" PRIx64, key);
	return 0;
}

static int proc_owner(uint64_t key)
{
	char line[512];
	FILE *f = fopen("/proc/shmpool", "r");
	int pid = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long k, size;
		unsigned int mode, uid, gid;
		int p;

		if (sscanf(line, "%llu %llu %o %u %u %d", &k, &size, &mode, &uid, &gid, &p) == 6 &&
		    k == key)
			pid = p;
	}
	fclose(f);
	ck_assert_msg(pid >= 0, "/proc/shmpool does not show %#" PRIx64, key);
	return pid;
}

/* Every interface names @pid. */
static void assert_owner(uint64_t key, pid_t pid, const char *when)
{
	uint32_t state;

	ck_assert_msg(stat_owner(key, &state) == (uint32_t)pid, "%s: STAT owner_pid %u, want %d",
		      when, stat_owner(key, NULL), (int)pid);
	ck_assert_uint_eq(state, SHMPOOL_STATE_OWNED);
	ck_assert_msg(list_owner(key) == (uint32_t)pid, "%s: LIST owner_pid %u, want %d", when,
		      list_owner(key), (int)pid);
	ck_assert_msg(proc_owner(key) == pid, "%s: /proc/shmpool owner_pid %d, want %d", when,
		      proc_owner(key), (int)pid);
}

/* Wait until @pid has exited (a zombie, not reaped). */
static void wait_zombie(pid_t pid)
{
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (;;) {
		FILE *f = fopen(path, "r");

		ck_assert_ptr_nonnull(f);
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		ck_assert_ptr_nonnull(p);
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'Z')
			return;
		usleep(10000);
	}
}

struct chain {
	uint64_t key;
	int to_t[2];		/* children -> test */
	int to_c[2];		/* test -> the forked child */
	int to_r[2];		/* test -> the receiver */
	int s_cr[2];		/* the child sends the lease to the receiver */
	int s_rt[2];		/* the receiver sends it back to the test */
};

/* The child: holds the lease file inherited from its parent. */
static int child_holds(struct chain *c, int fd)
{
	EXPECT(kt_await(c->to_c[0]) == 1, "test went away");
	EXPECT(kns_send_fd(c->s_cr[0], fd) == 0, "send: %s", strerror(errno));
	close(fd);
	return 0;
}

/* The lease taker: attach OWNER, fork the child, report its pid, exit. */
static int taker(struct chain *c)
{
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC), r;
	pid_t pid;

	EXPECT(fd >= 0, "open");
	r = kt_attach(fd, c->key, 4096, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, 0600, NULL);
	EXPECT(r == 0, "ATTACH OWNER: %d", r);
	pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0)
		_exit(child_holds(c, fd));
	kt_signal(c->to_t[1], (uint64_t)pid);
	return 0;		/* exits with the lease file open in the child */
}

/* The receiver: gets the lease file, reports, then passes it on and exits. */
static int receiver(struct chain *c)
{
	int fd = kns_recv_fd(c->s_cr[1]);

	EXPECT(fd >= 0, "recv: %d", fd);
	kt_signal(c->to_t[1], 1);
	EXPECT(kt_await(c->to_r[0]) == 2, "test went away");
	EXPECT(kns_send_fd(c->s_rt[0], fd) == 0, "send: %s", strerror(errno));
	close(fd);
	return 0;
}

START_TEST(owner_pid_follows_the_lease)
{
	struct chain c = { .key = KT_KEY(TAG, 1) };
	struct shmpool_query q;
	pid_t taker_pid, child_pid, recv_pid;
	uint32_t state;
	int fd;

	/* Orphans come to the test, so it can wait for each. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(c.to_t), 0);
	ck_assert_int_eq(pipe(c.to_c), 0);
	ck_assert_int_eq(pipe(c.to_r), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, c.s_cr), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, c.s_rt), 0);

	taker_pid = fork();
	ck_assert_int_ge(taker_pid, 0);
	if (taker_pid == 0)
		_exit(taker(&c));
	child_pid = (pid_t)kt_await(c.to_t[0]);
	ck_assert_int_gt(child_pid, 0);

	/* The taker has exited (a zombie, then reaped): the child is shown. */
	wait_zombie(taker_pid);
	assert_owner(c.key, child_pid, "taker a zombie");
	ck_assert_int_eq(kt_wait(taker_pid), 0);
	assert_owner(c.key, child_pid, "taker reaped");

	/* The child passes the file over SCM_RIGHTS and exits. */
	recv_pid = fork();
	ck_assert_int_ge(recv_pid, 0);
	if (recv_pid == 0)
		_exit(receiver(&c));
	kt_signal(c.to_c[1], 1);
	ck_assert_int_eq(kt_wait(child_pid), 0);
	ck_assert_uint_eq(kt_await(c.to_t[0]), 1);
	assert_owner(c.key, recv_pid, "received over SCM_RIGHTS");

	/* In flight only: no process holds it; the lease lives. */
	kt_signal(c.to_r[1], 2);
	ck_assert_int_eq(kt_wait(recv_pid), 0);
	ck_assert_uint_eq(stat_owner(c.key, &state), 0);
	ck_assert_uint_eq(state, SHMPOOL_STATE_OWNED);
	ck_assert_int_eq(proc_owner(c.key), 0);

	/* Received by the test itself; QUERY on it says so too. */
	fd = kns_recv_fd(c.s_rt[1]);
	ck_assert_int_ge(fd, 0);
	assert_owner(c.key, getpid(), "received by the test");
	ck_assert_int_eq(kt_query(fd, &q), 0);
	ck_assert_uint_eq(q.info.owner_pid, (uint32_t)getpid());
	close(fd);
	ck_assert_uint_eq(stat_owner(c.key, &state), 0);
	ck_assert_uint_eq(state, SHMPOOL_STATE_CRASHED);
	ck_assert_int_eq(kt_destroy(c.key), 0);
}
END_TEST

/* A live taker that forked stays the one reported. */
START_TEST(live_taker_is_reported)
{
	uint64_t key = KT_KEY(TAG, 2);
	int fd = kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, 0600, NULL);
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_owner(key, getpid(), "taker alive, child holds a copy");
	kill(pid, SIGKILL);
	kt_wait(pid);
	assert_owner(key, getpid(), "child gone");
	ck_assert_int_eq(kt_detach(fd), 0);
	ck_assert_uint_eq(stat_owner(key, NULL), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/*
 * From a new pid namespace the holder (outside it) is not visible: 0, as
 * pid_vnr() gives.  /proc/shmpool uses its opener's pid namespace, as
 * /proc/sysvipc/shm does: opened outside, it names the holder; opened
 * inside, 0.
 */
struct pidns_arg {
	uint64_t key;
	int proc_outside;	/* /proc/shmpool opened by the test */
	pid_t holder;
};

static int proc_owner_fd(int fd, uint64_t key)
{
	char buf[4096], *line, *save;
	ssize_t n;
	int pid = -1;

	if (lseek(fd, 0, SEEK_SET) < 0 || (n = read(fd, buf, sizeof(buf) - 1)) < 0)
		return -2;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long k, size;
		unsigned int mode, uid, gid;
		int p;

		if (sscanf(line, "%llu %llu %o %u %u %d", &k, &size, &mode, &uid, &gid, &p) == 6 &&
		    k == key)
			pid = p;
	}
	return pid;
}

static int in_new_pidns(struct pidns_arg *a)
{
	struct shmpool_region_info info;
	int fd, r;

	EXPECT(getpid() == 1, "not pid 1 of a new pid namespace: %d", (int)getpid());
	r = kt_stat(a->key, &info);
	EXPECT(r == 0 && info.owner_pid == 0, "STAT: %d, owner_pid %u (want 0)", r, info.owner_pid);
	fd = open("/proc/shmpool", O_RDONLY | O_CLOEXEC);
	EXPECT(fd >= 0, "open /proc/shmpool");
	r = proc_owner_fd(fd, a->key);
	EXPECT(r == 0, "/proc/shmpool opened here: owner_pid %d (want 0)", r);
	close(fd);
	r = proc_owner_fd(a->proc_outside, a->key);
	EXPECT(r == a->holder, "/proc/shmpool opened outside: owner_pid %d (want %d)", r,
	       (int)a->holder);
	return 0;
}

START_TEST(owner_pid_in_another_pid_namespace)
{
	struct pidns_arg a = { .key = KT_KEY(TAG, 3), .holder = getpid() };
	int fd = kt_attach_fd(a.key, 4096, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, 0600, NULL);
	pid_t pid;

	a.proc_outside = open("/proc/shmpool", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(a.proc_outside, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pid_t in;

		if (unshare(CLONE_NEWPID)) {
			perror("unshare(CLONE_NEWPID)");
			_exit(120);
		}
		in = fork();
		if (in < 0)
			_exit(121);
		if (in == 0)
			_exit(in_new_pidns(&a));
		_exit(kt_wait(in));
	}
	ck_assert_int_eq(kt_wait(pid), 0);
	close(a.proc_outside);
	ck_assert_int_eq(kt_detach(fd), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(a.key), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_owner");
	TCase *tc = tcase_create("owner");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, owner_pid_follows_the_lease);
	tcase_add_test(tc, live_taker_is_reported);
	tcase_add_test(tc, owner_pid_in_another_pid_namespace);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
