// SPDX-License-Identifier: LGPL-2.1-or-later
/* The shmpoolctl suite's shared helpers (ctltest.h). */
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

char tmpdir[256];

void slurp(int fd, char *buf, size_t len)
{
	ssize_t n;
	size_t got = 0;

	lseek(fd, 0, SEEK_SET);
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
}

/* Run shmpoolctl with @args (NULL-terminated), as @uid unless it is -1. */
int ctl_runv(struct run *r, long uid, const char *const *args)
{
	const char *bin = getenv("SHMPOOLCTL");
	const char *argv[64];
	int out, err, st, n = 0, i;
	pid_t pid;

	argv[n++] = "shmpoolctl";
	if (!bin || !*bin) {
		bin = "/proc/self/exe";
		argv[n++] = MULTICALL;
	}
	for (i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	out = memfd_create("out", MFD_CLOEXEC);
	err = memfd_create("err", MFD_CLOEXEC);
	ck_assert(out >= 0 && err >= 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(out, 1);
		dup2(err, 2);
		if (uid >= 0 && (setgid((gid_t)uid) || setuid((uid_t)uid)))
			_exit(120);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	return r->status;
}

const char *hex(uint64_t key, char *buf)
{
	sprintf(buf, "0x%" PRIx64, key);
	return buf;
}

const char *dec(uint64_t key, char *buf)
{
	sprintf(buf, "%" PRIu64, key);
	return buf;
}

void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert(fclose(f) == 0);
}

char *path_of(const char *name, char *buf)
{
	snprintf(buf, 512, "%s/%s", tmpdir, name);
	return buf;
}

bool have_device(void)
{
	return access("/dev/shmpool", F_OK) == 0;
}

/* The backend the tool lists: the suite's, AUTO resolved. */
const char *backend(void)
{
	if (tu_backend() == SHMDEV_BACKEND_AUTO)
		return have_device() ? "device" : "posix";
	return tu_backend() == SHMDEV_BACKEND_DEVICE ? "device" : "posix";
}

/*
 * Without the module, auto lists POSIX and says so out loud: the backend
 * line, and a warning naming the reason and the RemoveIPC risk.
 */
void check_auto_fallback(void)
{
	char *saved = getenv("SHMDEV_BACKEND") ? strdup(getenv("SHMDEV_BACKEND")) : NULL;
	struct run r;

	unsetenv("SHMDEV_BACKEND");
	ck_run(&r, 0, "list");
	ck_starts(r.out, "backend: posix (/dev/shm)\nkey ");
	ck_contains(r.err, "shmpoolctl: warning: Backend auto: using the POSIX fallback (/dev/shm)");
	ck_contains(r.err, "/dev/shmpool: No such file or directory (module not loaded?)");
	ck_contains(r.err, "RemoveIPC=yes");
	ck_run(&r, 0, "list", "--json");
	ck_starts(r.out, "{\"backend\":\"posix\",\"regions\":[");
	ck_contains(r.err, "module not loaded?");
	/* Named on purpose: no warning. */
	ck_run(&r, 0, "--backend", "posix", "list");
	ck_assert_str_eq(r.err, "");
	if (saved)
		setenv("SHMDEV_BACKEND", saved, 1);
	free(saved);
}

/* Create region @key of @size bytes filled from @seed; closed again. */
void make_region(uint64_t key, uint64_t size, uint32_t mode, unsigned int seed)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_region *r;
	unsigned char *p;
	uint64_t i;
	int ret;

	ret = shmdev_region_open(ctx, tu_backend(), key, size,
				 SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL, mode, &r);
	ck_assert_msg(ret == 0, "create 0x%" PRIx64 ": %s", key, shmdev_errmsg(ctx));
	p = shmdev_region_addr(r);
	for (i = 0; i < shmdev_region_size(r); i++)
		p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
	shmdev_region_close(r);
	shmdev_ctx_unref(ctx);
}

/* Whether region @key holds the pattern of make_region(@seed). */
bool region_has(uint64_t key, uint64_t size, unsigned int seed)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_region *r;
	const unsigned char *p;
	bool ok;
	uint64_t i;

	ck_assert_msg(shmdev_region_open(ctx, tu_backend(), key, 0, SHMDEV_REGION_RDONLY, 0, &r) == 0,
		      "open 0x%" PRIx64 ": %s", key, shmdev_errmsg(ctx));
	p = shmdev_region_addr(r);
	ok = shmdev_region_size(r) == size;
	for (i = 0; ok && i < size; i++)
		ok = p[i] == (unsigned char)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
	shmdev_region_close(r);
	shmdev_ctx_unref(ctx);
	return ok;
}

int region_stat(uint64_t key, struct shmdev_region_info *in)
{
	struct shmdev_ctx *ctx = tu_ctx();
	int ret = shmdev_region_stat(ctx, tu_backend(), key, in);

	shmdev_ctx_unref(ctx);
	return ret;
}

void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/ctltest.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert(mkdtemp(tmpdir));
}

void teardown(void)
{
	char cmd[600];

	tu_destroy_all();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* ---- command line ------------------------------------------------------ */
