// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * POSIX backend: whether this host gives huge pages to shm objects in
 * /dev/shm.  mm/shmem.c (shmem_is_huge() in 6.1, shmem_allowable_huge_orders()
 * later) decides per superblock: the tmpfs mount's huge= option, overridden
 * by /sys/kernel/mm/transparent_hugepage/shmem_enabled deny or force.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"

#define SHM_DIR "/dev/shm"
#define THP_SHMEM "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* The word in brackets of a sysfs choice ("always [never] deny"), or "". */
static void sysfs_choice(const char *text, char *out, size_t len)
{
	const char *open = strchr(text, '['), *close = open ? strchr(open, ']') : NULL;

	if (!close || (size_t)(close - open - 1) >= len) {
		*out = '\0';
		return;
	}
	memcpy(out, open + 1, (size_t)(close - open - 1));
	out[close - open - 1] = '\0';
}

/*
 * The fstype and huge= option of the mount on SHM_DIR, from mountinfo
 * ("... mountpoint ... - fstype source superopts"); the last mount wins.
 * Returns false if SHM_DIR is not a mount point.
 */
static bool shm_mount(char *fstype, size_t flen, char *huge, size_t hlen)
{
	const char *path = getenv("SHMDEV_TEST_MOUNTINFO");
	char line[1024];
	bool found = false;
	FILE *f;

	f = fopen(path && *path ? path : "/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char mnt[256], fs[64], opts[512];
		const char *sep = strstr(line, " - "), *h;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    strcmp(mnt, SHM_DIR) ||
		    sscanf(sep + 3, "%63s %*s %511s", fs, opts) != 2)
			continue;
		found = true;
		snprintf(fstype, flen, "%s", fs);
		snprintf(huge, hlen, "never");
		h = strstr(opts, "huge=");
		if (h && (h == opts || h[-1] == ','))
			snprintf(huge, hlen, "%.*s", (int)strcspn(h + 5, ","), h + 5);
	}
	fclose(f);
	return found;
}

/*
 * Whether shmem gives huge pages to a MADV_HUGEPAGE mapping of a file in
 * SHM_DIR now; if not, @why says what stands in the way.  The test hooks
 * SHMDEV_TEST_MOUNTINFO and SHMDEV_TEST_THP_SHMEM name other files to read.
 */
bool shmdev_posix_huge_possible(char *why, size_t len)
{
	const char *thp = getenv("SHMDEV_TEST_THP_SHMEM");
	char text[256] = "", cur[32], fstype[64], huge[32];
	FILE *f;

	if (!thp || !*thp)
		thp = THP_SHMEM;
	f = fopen(thp, "re");
	if (!f || !fgets(text, sizeof(text), f)) {
		if (f)
			fclose(f);
		snprintf(why, len, "%s cannot be read (a kernel without transparent huge pages)",
			 thp);
		return false;
	}
	fclose(f);
	sysfs_choice(text, cur, sizeof(cur));
	if (!strcmp(cur, "deny")) {
		snprintf(why, len, "%s is [deny]", thp);
		return false;
	}
	if (!strcmp(cur, "force"))
		return true;
	if (!shm_mount(fstype, sizeof(fstype), huge, sizeof(huge))) {
		snprintf(why, len, SHM_DIR " is not a mount point of its own");
		return false;
	}
	if (strcmp(fstype, "tmpfs")) {
		snprintf(why, len, SHM_DIR " is %s, not tmpfs", fstype);
		return false;
	}
	if (!strcmp(huge, "always") || !strcmp(huge, "within_size") ||
	    !strcmp(huge, "advise"))
		return true;
	snprintf(why, len, SHM_DIR " is mounted huge=%s (%s; %s is [%s], which does not rule it): remount it with huge=advise or huge=within_size, or use Backend = device",
		 huge, strcmp(huge, "never") ? "not a huge page mode" : "the default",
		 thp, cur);
	return false;
}
