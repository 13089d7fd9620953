/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memorypool.ini loader internals shared by conf.c (inih, the four steps)
 * and conf_values.c (one process section's keys and values).  Not installed.
 */
#ifndef SHMDEV_CONF_LOADER_H
#define SHMDEV_CONF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf_text.h"
#include "internal.h"

/* Limits, documented in conf/memorypool.ini. */
#define CONF_MAX_FILE		(1U << 20)	/* bytes of memorypool.ini */
#define CONF_MAX_ENTRIES	65536		/* key = value lines */
#define CONF_MAX_SECTIONS	SHMDEV_CONF_MAX_SECTIONS
#define CONF_MAX_PROCESSES	256
#define CONF_MAX_NAME		SHMDEV_CONF_MAX_NAME
#define CONF_MAX_BLOCKS		4096		/* block keys per process */
#define CONF_PAGE		4096ULL
#define CONF_MAX_BLOCK_SIZE	(64ULL << 30)
#define CONF_MAX_TYPES		4096
#define CONF_DEFAULT_TYPES	64
#define CONF_DEFAULT_MODE	0600
#define CONF_DEFAULT_TXLOG	(64ULL << 10)	/* TxLogSize: the undo log (tx.c) */
#define CONF_MAX_TXLOG		(1ULL << 30)
#define CONF_MAX_FIXED_ADDR	0x7ffffffff000ULL /* x86-64 4-level user space */

/* ---- the loaded configuration ---------------------------------------- */

struct conf_proc {
	struct shmdev_proc_conf pub;
	char *name;
	uint64_t *keys;
	int *key_lines;		/* line of each block key */
	size_t keys_cap;
	int line;		/* line of the section's header */
	int list_line;		/* line of ProcessList that names it */
	int base_line;
	int size_line;
	int backend_line, huge_line, fixed_line, types_line, mode_line;
	int txlog_line;
};

struct shmdev_conf {
	char *name;
	size_t nr_procs;
	struct conf_proc *procs;
	struct conf_proc *self;
};

/* ---- what inih hands us ---------------------------------------------- */

struct ini_sect {
	char *name;
	int line;		/* line of its header */
	bool listed;
};

struct ini_entry {
	size_t sect;		/* index into sects, or SIZE_MAX for [global] */
	char *key;
	char *value;
	int line;
};

struct loader {
	struct shmdev_ctx *ctx;
	const char *name;	/* file name for messages */
	const char *text;
	size_t len;
	size_t pos;		/* reader position in text */
	int lineno;		/* line last read */
	int header_line;	/* line of the last "[section]" read */
	int err;		/* first failure of the reader or handler */

	struct ini_sect *sects;
	size_t nr_sects, sects_cap;
	size_t last_sect;	/* cache: inih repeats one section many times */
	struct ini_entry *entries;
	size_t nr_entries, entries_cap;

	struct shmdev_conf *conf;
};

#define GLOBAL_SECT SIZE_MAX

#define Q(buf, s) shmdev_text_quote(buf, s, strlen(s))

/* One "key = value" of @p's section: parse, check and store it. */
int shmdev_conf_proc_entry(struct loader *l, struct conf_proc *p,
			   const struct ini_entry *e);
/* "auto", "device" or "posix" (any case); -EINVAL otherwise. */
int shmdev_conf_parse_backend(const char *s, enum shmdev_backend *out);

#endif /* SHMDEV_CONF_LOADER_H */
