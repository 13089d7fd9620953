/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shmpoolctl internals shared by its source files. */
#ifndef SHMPOOLCTL_H
#define SHMPOOLCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shmdev.h"

/* Exit codes, documented in shmpoolctl(8). */
#define CTL_EXIT_OK	0	/* success */
#define CTL_EXIT_FAIL	1	/* the operation failed (or found a problem) */
#define CTL_EXIT_USAGE	2	/* bad command line */
#define CTL_EXIT_LIVE	3	/* pool check: the owner kept changing the pool */

/* Per-invocation state: passed around, never global. */
struct ctl {
	const char *prog;		/* "shmpoolctl" */
	const char *cmd;		/* subcommand name for messages, "pool show" */
	struct shmdev_ctx *ctx;
	enum shmdev_backend backend;
	int verbose;
	bool json;			/* --json: errors go to stdout as JSON too */
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *summary;
};

/* Messages: "shmpoolctl: <cmd>: <text>" on stderr; they return an exit code. */
int ctl_err(struct ctl *ctl, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * An operation failed with negative errno @err: "shmpoolctl: <what>: <why>",
 * where <why> is the library's message if it has one, else strerror.
 */
int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A region operation on @key failed: "shmpoolctl: <cmd> 0x<key>: <why>". */
int ctl_fail_region(struct ctl *ctl, int err, uint64_t key);
int ctl_usage_err(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctl_warn(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse a region key: decimal or 0x hex, non-zero, no sign, no trailing
 * characters.  Returns 0 or -EINVAL (the caller reports the text).
 */
int ctl_parse_key(const char *s, uint64_t *key);
int ctl_parse_u64(const char *s, uint64_t *v);

/*
 * Parse the options of subcommand @cmd.  Every subcommand accepts -h/--help
 * and --backend.  Returns the index of the first operand, or -1 after
 * --help was printed (exit 0), or -2 on a usage error (already reported).
 */
#define CTL_OPT_BACKEND 0x100
#define CTL_COMMON_OPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "backend", required_argument, NULL, CTL_OPT_BACKEND }
struct option;
int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
	       const struct option *longopts,
	       int (*handle)(struct ctl *ctl, int opt, const char *arg, void *data),
	       void *data, const char *usage);

/* The backend named on the command line, checked (device needs /dev/shmpool). */
/*
 * Before a command touches regions: the module is there and this user may
 * open /dev/shmpool.  A non-member gets one line naming the device's group
 * (and, with ctl->json, {"backend":"device","error":...} on stdout).
 */
int ctl_check_backend(struct ctl *ctl);
/* "/dev/shmpool: permission denied: only members of group "shmpool" ..." */
void ctl_access_msg(char *buf, size_t len);
const char *ctl_backend_name(enum shmdev_backend b);
/* "device (/dev/shmpool)" or "posix (/dev/shm)", for text listings. */
const char *ctl_backend_desc(enum shmdev_backend b);
const char *ctl_state_name(const struct shmdev_region_info *info);
void ctl_format_time(uint64_t ns, char *buf, size_t len);
/* JSON string body (without quotes) with the needed escapes. */
void ctl_json_str(FILE *f, const char *s);

/* Subcommands. */
int cmd_list(struct ctl *ctl, int argc, char **argv);
int cmd_stat(struct ctl *ctl, int argc, char **argv);
int cmd_rm(struct ctl *ctl, int argc, char **argv);
int cmd_load(struct ctl *ctl, int argc, char **argv);
int cmd_unload(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_conf(struct ctl *ctl, int argc, char **argv);
int cmd_pool(struct ctl *ctl, int argc, char **argv);
int cmd_dump(struct ctl *ctl, int argc, char **argv);
int cmd_liveupdate(struct ctl *ctl, int argc, char **argv);
int cmd_restore(struct ctl *ctl, int argc, char **argv);

/* The program's entry point (main.c calls it; tests link it multicall). */
int shmpoolctl_main(int argc, char **argv);

#endif /* SHMPOOLCTL_H */
