// SPDX-License-Identifier: GPL-2.0
#include "sutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

bool st_tmp_off_shmem(const char *dir)
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

void st_tmp_release(const char *dir)
{
	if (umount(dir))
		fprintf(stderr, "umount %s: %s\n", dir, strerror(errno));
	rmdir(dir);
}
