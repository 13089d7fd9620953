/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small text helpers shared by the configuration loader (conf.c) and the
 * template renderer (template.c).  Not installed.
 */
#ifndef SHMDEV_CONF_TEXT_H
#define SHMDEV_CONF_TEXT_H

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

#endif /* SHMDEV_CONF_TEXT_H */
