/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small text helpers shared by the configuration loader (conf.c) and the
 * template renderer (template.c).  Not installed.
 */
#ifndef SHMDEV_CONF_TEXT_H
#define SHMDEV_CONF_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a quoted, possibly shortened value in an error message. */
#define SHMDEV_QUOTE_MAX 72

/*
 * Write @s (@len bytes) into @buf as a double-quoted C-style string for an
 * error message: control bytes and quotes escaped, long text cut with "...".
 * Returns @buf.
 */
char *shmdev_text_quote(char buf[SHMDEV_QUOTE_MAX], const char *s, size_t len);

/*
 * Parse an unsigned number: decimal or 0x/0X hexadecimal, nothing else (no
 * sign, no blanks, no octal).  Returns 0, -EINVAL if @s is not a number,
 * -ERANGE if it does not fit in 64 bits.
 */
int shmdev_text_u64(const char *s, size_t len, uint64_t *out);

/* Skip blanks (space, tab, CR, LF) at both ends of [*s, *s + *len). */
void shmdev_text_trim(const char **s, size_t *len);

/* memorypool.ini limits shared by conf.c and the pre-scan. */
#define SHMDEV_CONF_MAX_NAME	 48	/* process (section) name; inih cuts at 49 */
#define SHMDEV_CONF_MAX_SECTIONS 1024

/* A process name: 1 to SHMDEV_CONF_MAX_NAME of A-Z a-z 0-9 _ - . */
bool shmdev_text_valid_name(const char *s, size_t len);

struct shmdev_ctx;

/*
 * Pre-scan of memorypool.ini for what inih accepts without a word (it keeps
 * parsing the rest):
 *  - a CR not followed by LF (old Mac line endings: inih sees one line);
 *  - a byte order mark anywhere but at the start (one there is skipped);
 *  - a section header that is indented (inih makes it a continuation of
 *    the previous value), has no "]", has text after its "]" other than a
 *    comment (inih drops it), an empty name ("[]" would be [global]), a
 *    name that is not a process name or "global" (inih cuts long names),
 *    or that repeats an earlier header (inih merges the two);
 *  - more than SHMDEV_CONF_MAX_SECTIONS headers.
 * Each fails with -EINVAL naming @name:line and the text.  On success
 * *skip is the length of a leading byte order mark (0 or 3).
 */
int shmdev_conf_prescan(struct shmdev_ctx *ctx, const char *name,
			const char *text, size_t len, size_t *skip);

#endif /* SHMDEV_CONF_TEXT_H */
