// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl liveupdate save|restore|cancel: carry every region of the
 * caller's IPC namespace across a kexec with the Live Update Orchestrator.
 *
 * save: EXPORT each region (which freezes it: no owner, no DESTROY), hand
 * each file to a LUO session with LIVEUPDATE_SESSION_PRESERVE_FD, and a
 * manifest memfd (key, size, uid, gid, mode, lease state of each region,
 * by token) with it.  A session lives as long as its file descriptor, so
 * save then stays running in the background holding it until the kexec;
 * SIGTERM or SIGINT cancels (the session closes, the regions thaw).
 *
 * restore (in the new kernel): retrieve the session and every file, check
 * the whole manifest first, FINISH the session (LUO drops its references,
 * so each memfd is held by this tool alone, as ADOPT requires), then ADOPT
 * each region.  If any ADOPT fails, the ones adopted in this run are
 * destroyed again: a pool is restored whole or not at all.  No session to
 * retrieve (no save before this boot) restores nothing: a cold start.
 *
 * The LUO UAPI is include/uapi/linux/liveupdate.h of Linux >= 6.19; a copy
 * of the few definitions used is below for older build hosts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "shmpoolctl.h"

#if __has_include(<linux/liveupdate.h>)
#include <linux/liveupdate.h>
#else
#define LIVEUPDATE_IOCTL_TYPE		0xBA
#define LIVEUPDATE_SESSION_NAME_LENGTH	64
struct liveupdate_ioctl_create_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};
#define liveupdate_ioctl_retrieve_session liveupdate_ioctl_create_session
struct liveupdate_session_preserve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};
#define liveupdate_session_retrieve_fd liveupdate_session_preserve_fd
struct liveupdate_session_finish {
	__u32 size;
	__u32 reserved;
};
#define LIVEUPDATE_IOCTL_CREATE_SESSION		_IO(LIVEUPDATE_IOCTL_TYPE, 0x00)
#define LIVEUPDATE_IOCTL_RETRIEVE_SESSION	_IO(LIVEUPDATE_IOCTL_TYPE, 0x01)
#define LIVEUPDATE_SESSION_PRESERVE_FD		_IO(LIVEUPDATE_IOCTL_TYPE, 0x40)
#define LIVEUPDATE_SESSION_RETRIEVE_FD		_IO(LIVEUPDATE_IOCTL_TYPE, 0x41)
#define LIVEUPDATE_SESSION_FINISH		_IO(LIVEUPDATE_IOCTL_TYPE, 0x42)
#endif

#define LU_DEV		"/dev/liveupdate"
#define LU_SESSION	"shmpool"
#define LU_MAGIC	0x31554c504d485353ULL	/* "SSHMPLU1" */
#define LU_TOKEN_MANIFEST 1ULL			/* regions: 2, 3, ... */
#define LU_MAX_REGIONS	65536

/* The manifest, in a memfd preserved with the regions (host byte order). */
struct lu_entry {
	uint64_t key;
	uint64_t size;
	uint64_t token;
	uint32_t uid, gid, mode, state;
};

struct lu_manifest {
	uint64_t magic;
	uint32_t version;	/* 1 */
	uint32_t count;
	uint64_t save_ns;	/* CLOCK_REALTIME of the save */
	struct lu_entry e[];
};

static const char lu_missing[] =
	"this kernel has no " LU_DEV ": live update needs Linux >= 6.19 built with "
	"CONFIG_KEXEC_HANDOVER, CONFIG_LIVEUPDATE and CONFIG_LIVEUPDATE_MEMFD, "
	"booted with kho=on liveupdate=on (if it was, dmesg may say \"KHO: Failed to "
	"reserve scratch area\": boot with a smaller kho_scratch=, e.g. "
	"kho_scratch=256M,64M,256M)";

struct lu_opts {
	const char *session;
	bool foreground;
	const char *pidfile;
};

static int lu_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct lu_opts *o = data;

	switch (opt) {
	case 's':
		if (!*arg || strlen(arg) >= LIVEUPDATE_SESSION_NAME_LENGTH) {
			ctl_usage_err(ctl, "bad session name \"%s\": 1 to %d bytes",
				      arg, LIVEUPDATE_SESSION_NAME_LENGTH - 1);
			return -EINVAL;
		}
		o->session = arg;
		return 0;
	case 'f':
		o->foreground = true;
		return 0;
	case 'p':
		o->pidfile = arg;
		return 0;
	}
	return -EINVAL;
}

static uint64_t lu_now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* /dev/shmpool, read-write: every subcommand exports, adopts or thaws. */
static int lu_open_shmpool(struct ctl *ctl, int *fd)
{
	*fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	return ctl_err(ctl, CTL_EXIT_FAIL, "cannot open " SHMPOOL_DEVICE_PATH ": %s (is the module loaded?)",
		       strerror(errno));
}

static int lu_open_dev(struct ctl *ctl, int *fd)
{
	*fd = open(LU_DEV, O_RDWR | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return ctl_err(ctl, CTL_EXIT_FAIL, "%s (%s)", lu_missing, strerror(EOPNOTSUPP));
	if (errno == EBUSY)
		return ctl_err(ctl, CTL_EXIT_FAIL, LU_DEV " is held by another agent (it admits one opener; systemd's fd store may be using it): %s",
			       strerror(errno));
	return ctl_err(ctl, CTL_EXIT_FAIL, "cannot open " LU_DEV ": %s", strerror(errno));
}

/* Every region of the caller's IPC namespace, via LIST. */
static int lu_list(struct ctl *ctl, int dev, struct shmpool_region_info **out,
		   uint32_t *count)
{
	struct shmpool_region_info *v = NULL, *nv;
	struct shmpool_list l = { .size = sizeof(l), .entry_size = sizeof(*v) };
	uint32_t n = 0;

	for (;;) {
		nv = realloc(v, (n + SHMPOOL_LIST_MAX) * sizeof(*v));
		if (!nv) {
			free(v);
			return ctl_err(ctl, CTL_EXIT_FAIL, "out of memory");
		}
		v = nv;
		l.entries = (uintptr_t)(v + n);
		l.count = SHMPOOL_LIST_MAX;
		l.flags = 0;
		if (ioctl(dev, SHMPOOL_IOC_LIST, &l)) {
			free(v);
			return ctl_err(ctl, CTL_EXIT_FAIL, "cannot list regions: %s", strerror(errno));
		}
		n += l.count;
		if ((l.flags & SHMPOOL_LIST_END) || n >= LU_MAX_REGIONS)
			break;
	}
	*out = v;
	*count = n;
	return 0;
}

static void lu_thaw(int dev, uint64_t key)
{
	struct shmpool_export e = { .size = sizeof(e), .flags = SHMPOOL_EXPORT_THAW, .key = key };

	(void)ioctl(dev, SHMPOOL_IOC_EXPORT, &e);
}

static volatile sig_atomic_t lu_stop;

static void lu_on_signal(int sig)
{
	(void)sig;
	lu_stop = 1;
}

/* Hold @session until a signal; then cancel: close it, thaw the regions. */
static int lu_hold(struct ctl *ctl, int dev, int session,
		   const struct lu_manifest *m)
{
	struct sigaction sa = { .sa_handler = lu_on_signal };
	sigset_t mask, old;
	uint32_t i;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	while (!lu_stop)
		sigsuspend(&old);
	close(session);		/* LUO unpreserves every file */
	for (i = 0; i < m->count; i++)
		lu_thaw(dev, m->e[i].key);
	ctl_warn(ctl, "cancelled: the session is closed and %" PRIu32 " region(s) thawed", m->count);
	return CTL_EXIT_OK;
}

static const char save_usage[] =
	"Usage: shmpoolctl liveupdate save [--session NAME] [--foreground] [--pidfile PATH]\n"
	"\n"
	"Preserve every region of this IPC namespace for the next kernel (kexec with\n"
	"the Live Update Orchestrator).  Each region is frozen (no owner lease, no rm)\n"
	"and its memory, pinned, goes into LUO session NAME (default \"shmpool\"), with\n"
	"a manifest of keys, owners, modes and lease states.  Owners must have left\n"
	"(detached) first.  The session lives while this command runs: it goes to the\n"
	"background once saved (--foreground: stays), holding it until the kexec.\n"
	"SIGTERM cancels (the regions thaw).  Then: kexec -s -l ... && kexec -e.\n";

static int cmd_lu_save(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct lu_opts o = { .session = LU_SESSION };
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct shmpool_region_info *v = NULL;
	struct lu_manifest *m = NULL;
	uint64_t t0 = lu_now(CLOCK_MONOTONIC), bytes = 0;
	int dev = -1, lu = -1, mfd = -1, ret, i;
	uint32_t n = 0, k, exported = 0;
	size_t msize;
	int ready[2] = { -1, -1 };
	pid_t pid;

	i = ctl_getopt(ctl, argc, argv, "s:fp:", opts, lu_opt, &o, save_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	ret = lu_open_shmpool(ctl, &dev);
	if (ret)
		return ret;
	ret = lu_open_dev(ctl, &lu);
	if (ret)
		goto out;
	ret = lu_list(ctl, dev, &v, &n);
	if (ret)
		goto out;
	msize = sizeof(*m) + (size_t)n * sizeof(m->e[0]);
	mfd = memfd_create("shmpool-liveupdate-manifest", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, (off_t)msize)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "manifest memfd: %s", strerror(errno));
		goto out;
	}
	m = mmap(NULL, msize, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED) {
		m = NULL;
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "manifest mmap: %s", strerror(errno));
		goto out;
	}
	snprintf((char *)cs.name, sizeof(cs.name), "%s", o.session);
	if (ioctl(lu, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "cannot create LUO session \"%s\": %s%s", o.session,
			      strerror(errno), errno == EEXIST ? " (a save is already running?)" : "");
		goto out;
	}
	/* One opener at a time: leave the device to others (systemd). */
	close(lu);
	lu = cs.fd;

	m->magic = LU_MAGIC;
	m->version = 1;
	m->save_ns = lu_now(CLOCK_REALTIME);
	for (k = 0; k < n; k++) {
		struct shmpool_export e = { .size = sizeof(e), .key = v[k].key };
		struct liveupdate_session_preserve_fd p = { .size = sizeof(p) };

		if (ioctl(dev, SHMPOOL_IOC_EXPORT, &e)) {
			ret = errno == EBUSY ?
				ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 ": an owner (pid %" PRIu32 ") holds its lease: it must leave (detach) before the save, so that the state carried over is final",
					(uint64_t)v[k].key, v[k].owner_pid) :
				ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 ": cannot export: %s",
					(uint64_t)v[k].key, strerror(errno));
			goto out;
		}
		exported++;
		m->e[k] = (struct lu_entry){
			.key = e.info.key, .size = e.info.size, .token = 2 + k,
			.uid = e.info.uid, .gid = e.info.gid, .mode = e.info.mode,
			.state = e.info.state,
		};
		p.fd = e.fd;
		p.token = 2 + k;
		if (ioctl(lu, LIVEUPDATE_SESSION_PRESERVE_FD, &p)) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 " (%" PRIu64 " bytes): LUO cannot preserve it: %s",
				      (uint64_t)e.info.key, (uint64_t)e.info.size, strerror(errno));
			close(e.fd);
			goto out;
		}
		close(e.fd);	/* the session holds the file */
		bytes += e.info.size;
		if (ctl->verbose)
			fprintf(stderr, "%s: liveupdate save: region 0x%" PRIx64 " (%" PRIu64 " bytes) preserved\n",
				ctl->prog, (uint64_t)e.info.key, (uint64_t)e.info.size);
	}
	m->count = n;
	{
		struct liveupdate_session_preserve_fd p = {
			.size = sizeof(p), .fd = mfd, .token = LU_TOKEN_MANIFEST,
		};

		if (ioctl(lu, LIVEUPDATE_SESSION_PRESERVE_FD, &p)) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "the manifest: LUO cannot preserve it: %s",
				      strerror(errno));
			goto out;
		}
	}
	printf("liveupdate save: %" PRIu32 " region(s), %" PRIu64 " bytes, in LUO session \"%s\" (%.1f ms); held until kexec\n",
	       n, bytes, o.session, (double)(lu_now(CLOCK_MONOTONIC) - t0) / 1e6);
	fflush(stdout);

	if (!o.foreground) {
		if (pipe(ready)) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "pipe: %s", strerror(errno));
			goto out;
		}
		pid = fork();
		if (pid < 0) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "fork: %s", strerror(errno));
			goto out;
		}
		if (pid > 0) {
			char c;

			/* The child holds the session now; ours closes harmlessly. */
			close(ready[1]);
			ret = read(ready[0], &c, 1) == 1 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
			close(ready[0]);
			if (ret)
				ctl_err(ctl, CTL_EXIT_FAIL, "the background holder died");
			/* Not "out": closing is fine, but no thaw. */
			munmap(m, msize);
			free(v);
			_exit(ret);
		}
		close(ready[0]);
		setsid();
	}
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	if (ready[1] >= 0) {
		if (write(ready[1], "1", 1) != 1)
			_exit(CTL_EXIT_FAIL);
		close(ready[1]);
		if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout))
			_exit(CTL_EXIT_FAIL);
	}
	ret = lu_hold(ctl, dev, lu, m);
	lu = -1;
	exported = 0;
	if (o.pidfile)
		unlink(o.pidfile);
out:
	if (lu >= 0)
		close(lu);
	for (k = 0; k < exported; k++)
		lu_thaw(dev, v[k].key);
	if (m)
		munmap(m, msize);
	if (mfd >= 0)
		close(mfd);
	free(v);
	close(dev);
	return ret;
}

/* Check the manifest against the files before anything is adopted. */
static int lu_check(struct ctl *ctl, const struct lu_manifest *m, const int *fds)
{
	uint32_t i;

	for (i = 0; i < m->count; i++) {
		const struct lu_entry *e = &m->e[i];
		struct stat st;

		if (fstat(fds[i], &st))
			return ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 ": %s", e->key, strerror(errno));
		if ((uint64_t)st.st_size != e->size)
			return ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 ": the preserved file has %jd bytes, the manifest says %" PRIu64,
				       e->key, (intmax_t)st.st_size, e->size);
	}
	return 0;
}

static const char restore_usage[] =
	"Usage: shmpoolctl liveupdate restore [--session NAME]\n"
	"\n"
	"After a kexec: retrieve LUO session NAME (default \"shmpool\") that\n"
	"\"liveupdate save\" held, and make each preserved file its region again\n"
	"(same key, owner, group, mode and lease state).  The next owner's attach\n"
	"reports the region as handed over.  Whole or nothing: if one region cannot\n"
	"be adopted, those adopted are destroyed again.  Without a session (no save\n"
	"before this boot) nothing is restored: pools start cold.\n";

static int cmd_lu_restore(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct lu_opts o = { .session = LU_SESSION };
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	uint64_t t0 = lu_now(CLOCK_MONOTONIC), bytes = 0;
	struct lu_manifest *m = NULL;
	int dev = -1, lu = -1, session = -1, ret, i;
	int *fds = NULL;
	uint32_t k, adopted = 0;
	struct stat st;
	size_t mlen = 0;

	i = ctl_getopt(ctl, argc, argv, "s:", opts, lu_opt, &o, restore_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	ret = lu_open_shmpool(ctl, &dev);
	if (ret)
		return ret;
	ret = lu_open_dev(ctl, &lu);
	if (ret)
		goto out;
	snprintf((char *)rs.name, sizeof(rs.name), "%s", o.session);
	if (ioctl(lu, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs)) {
		if (errno == ENOENT) {
			printf("liveupdate restore: no session \"%s\" came over (no save before this kernel started): nothing restored, pools start cold\n",
			       o.session);
			ret = CTL_EXIT_OK;
		} else {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "cannot retrieve LUO session \"%s\": %s",
				      o.session, strerror(errno));
		}
		goto out;
	}
	session = rs.fd;
	close(lu);
	lu = -1;

	rf.token = LU_TOKEN_MANIFEST;
	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) || fstat(rf.fd, &st)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "session \"%s\": no manifest: %s", o.session, strerror(errno));
		goto out;
	}
	mlen = (size_t)st.st_size;
	if (mlen < sizeof(*m) ||
	    (m = mmap(NULL, mlen, PROT_READ, MAP_SHARED, rf.fd, 0)) == MAP_FAILED) {
		m = NULL;
		close(rf.fd);
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "session \"%s\": the manifest (%zu bytes) is unreadable",
			      o.session, mlen);
		goto out;
	}
	close(rf.fd);
	if (m->magic != LU_MAGIC || m->version != 1 || m->count > LU_MAX_REGIONS ||
	    sizeof(*m) + (size_t)m->count * sizeof(m->e[0]) != mlen) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "session \"%s\": the manifest is not shmpool's version 1 (magic %#" PRIx64 ", version %" PRIu32 ", %" PRIu32 " entries in %zu bytes)",
			      o.session, (uint64_t)m->magic, m->version, m->count, mlen);
		goto out;
	}
	fds = malloc((m->count ? m->count : 1) * sizeof(*fds));
	if (!fds) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "out of memory");
		goto out;
	}
	for (k = 0; k < m->count; k++)
		fds[k] = -1;
	for (k = 0; k < m->count; k++) {
		rf.token = m->e[k].token;
		rf.fd = -1;
		if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf)) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 ": LUO cannot retrieve token %" PRIu64 ": %s",
				      m->e[k].key, m->e[k].token, strerror(errno));
			goto out;
		}
		fds[k] = rf.fd;
	}
	ret = lu_check(ctl, m, fds);
	if (ret)
		goto out;
	/* Every key free: a server started before the restore made a cold one. */
	for (k = 0; k < m->count; k++) {
		struct shmpool_stat sst = { .size = sizeof(sst), .key = m->e[k].key };

		if (ioctl(dev, SHMPOOL_IOC_STAT, &sst) == 0) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 " already exists in this kernel (a server started before the restore?): nothing adopted; restore must run before any server starts",
				      m->e[k].key);
			goto out;
		}
	}
	/* LUO lets go of the files: each is then held by us alone. */
	if (ioctl(session, LIVEUPDATE_SESSION_FINISH, &fin)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "session \"%s\": FINISH failed: %s", o.session, strerror(errno));
		goto out;
	}
	close(session);
	session = -1;

	for (k = 0; k < m->count; k++) {
		const struct lu_entry *e = &m->e[k];
		struct shmpool_adopt a = {
			.size = sizeof(a), .key = e->key, .fd = fds[k], .mode = e->mode,
			.uid = e->uid, .gid = e->gid, .state = e->state, .req_size = e->size,
		};

		if (ioctl(dev, SHMPOOL_IOC_ADOPT, &a)) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL, "region 0x%" PRIx64 " (%" PRIu64 " bytes, uid %" PRIu32 "): cannot adopt: %s; the %" PRIu32 " region(s) adopted before are destroyed again",
				      e->key, e->size, e->uid, strerror(errno), adopted);
			for (uint32_t j = 0; j < adopted; j++) {
				struct shmpool_destroy d = { .size = sizeof(d), .key = m->e[j].key };

				(void)ioctl(dev, SHMPOOL_IOC_DESTROY, &d);
			}
			goto out;
		}
		close(fds[k]);
		fds[k] = -1;
		adopted++;
		bytes += e->size;
		if (ctl->verbose)
			fprintf(stderr, "%s: liveupdate restore: region 0x%" PRIx64 " (%" PRIu64 " bytes) adopted\n",
				ctl->prog, e->key, e->size);
	}
	printf("liveupdate restore: %" PRIu32 " region(s), %" PRIu64 " bytes, adopted from session \"%s\" in %.1f ms (saved %.1f s before)\n",
	       adopted, bytes, o.session, (double)(lu_now(CLOCK_MONOTONIC) - t0) / 1e6,
	       (double)(lu_now(CLOCK_REALTIME) - m->save_ns) / 1e9);
	ret = CTL_EXIT_OK;
out:
	if (fds)
		for (k = 0; m && k < m->count; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	free(fds);
	if (m)
		munmap(m, mlen);
	if (session >= 0)
		close(session);
	if (lu >= 0)
		close(lu);
	close(dev);
	return ret;
}

static const char cancel_usage[] =
	"Usage: shmpoolctl liveupdate cancel\n"
	"\n"
	"Thaw every region a save froze (when its holder is gone without a kexec,\n"
	"e.g. killed with SIGKILL; a running holder is stopped with SIGTERM).\n";

static int cmd_lu_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
	struct shmpool_region_info *v = NULL;
	uint32_t n = 0, k, thawed = 0;
	int dev, ret, i;

	i = ctl_getopt(ctl, argc, argv, "", opts, NULL, NULL, cancel_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i < argc)
		return ctl_usage_err(ctl, "unexpected argument \"%s\"", argv[i]);
	ret = lu_open_shmpool(ctl, &dev);
	if (ret)
		return ret;
	ret = lu_list(ctl, dev, &v, &n);
	for (k = 0; !ret && k < n; k++)
		if (v[k].flags & SHMPOOL_REGION_FROZEN) {
			lu_thaw(dev, v[k].key);
			thawed++;
		}
	if (!ret)
		printf("liveupdate cancel: %" PRIu32 " region(s) thawed\n", thawed);
	free(v);
	close(dev);
	return ret;
}

static const char lu_usage[] =
	"Usage: shmpoolctl liveupdate save|restore|cancel [OPTIONS]\n"
	"\n"
	"Carry every region across a kernel live update (kexec with the Live Update\n"
	"Orchestrator; see README \"Live update\").  \"liveupdate CMD --help\" for each.\n";

int cmd_liveupdate(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(lu_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "save")) {
		ctl->cmd = "liveupdate save";
		return cmd_lu_save(ctl, argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "restore")) {
		ctl->cmd = "liveupdate restore";
		return cmd_lu_restore(ctl, argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "cancel")) {
		ctl->cmd = "liveupdate cancel";
		return cmd_lu_cancel(ctl, argc - 1, argv + 1);
	}
	return ctl_usage_err(ctl, "unknown liveupdate command \"%s\": save, restore or cancel", argv[1]);
}
