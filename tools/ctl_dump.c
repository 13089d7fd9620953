// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl dump and restore: a region to a file and back, byte for byte,
 * so that state can cross a reboot or move to another host.
 *
 * Dump file: a 64-byte little-endian header, then the region's bytes.
 *   0  char magic[8]      "SHMPDUMP"
 *   8  u32 version        1
 *   12 u32 header_size    64
 *   16 u64 key
 *   24 u64 size           bytes of data after the header
 *   32 u32 mode           permission bits of the region
 *   36 u32 flags          bit 0: the region was huge-page backed
 *   40 u64 ctime_ns       region creation time (CLOCK_REALTIME)
 *   48 u64 dump_time_ns
 *   56 u32 data_crc       CRC32C of the data
 *   60 u32 header_crc     CRC32C of bytes 0..59
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "shmpoolctl.h"

#define DUMP_MAGIC	"SHMPDUMP"
#define DUMP_VERSION	1u
#define DUMP_HDR_SIZE	64u
#define DUMP_FLAG_HUGE	(1u << 0)
#define DUMP_CHUNK	(1u << 20)

struct dump_hdr {
	uint64_t key, size, ctime_ns, dump_time_ns;
	uint32_t version, header_size, mode, flags, data_crc, header_crc;
};

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void hdr_encode(const struct crc32c *c, struct dump_hdr *h,
		       unsigned char b[DUMP_HDR_SIZE])
{
	memset(b, 0, DUMP_HDR_SIZE);
	memcpy(b, DUMP_MAGIC, 8);
	put32(b + 8, DUMP_VERSION);
	put32(b + 12, DUMP_HDR_SIZE);
	put64(b + 16, h->key);
	put64(b + 24, h->size);
	put32(b + 32, h->mode);
	put32(b + 36, h->flags);
	put64(b + 40, h->ctime_ns);
	put64(b + 48, h->dump_time_ns);
	put32(b + 56, h->data_crc);
	h->header_crc = crc32c_update(c, 0, b, 60);
	put32(b + 60, h->header_crc);
}

/* Decode and validate; a message for the caller in @why on failure. */
static int hdr_decode(const struct crc32c *c, const unsigned char b[DUMP_HDR_SIZE],
		      struct dump_hdr *h, const char **why)
{
	if (memcmp(b, DUMP_MAGIC, 8)) {
		*why = "not a shmpoolctl dump (bad magic)";
		return -EINVAL;
	}
	h->version = get32(b + 8);
	h->header_size = get32(b + 12);
	if (h->version != DUMP_VERSION || h->header_size != DUMP_HDR_SIZE) {
		*why = "unsupported dump format version";
		return -EINVAL;
	}
	h->header_crc = get32(b + 60);
	if (crc32c_update(c, 0, b, 60) != h->header_crc) {
		*why = "header checksum mismatch (the file is damaged)";
		return -EINVAL;
	}
	h->key = get64(b + 16);
	h->size = get64(b + 24);
	h->mode = get32(b + 32);
	h->flags = get32(b + 36);
	h->ctime_ns = get64(b + 40);
	h->dump_time_ns = get64(b + 48);
	h->data_crc = get32(b + 56);
	if (!h->key || !h->size || (h->mode & ~0777u)) {
		*why = "bad key, size or mode in the header";
		return -EINVAL;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly @len bytes; -EIO at a premature end of file. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct dump_opts {
	bool force;
	bool have_key;
	uint64_t key;
};

static int dump_opt(struct ctl *ctl, int opt, const char *arg, void *data)
{
	struct dump_opts *o = data;

	switch (opt) {
	case 'f':
		o->force = true;
		return 0;
	case 'k':
		if (ctl_parse_key(arg, &o->key)) {
			ctl_usage_err(ctl, "bad key \"%s\": expected a non-zero decimal or 0x hex number",
				      arg);
			return -EINVAL;
		}
		o->have_key = true;
		return 0;
	}
	return -EINVAL;
}

static const char dump_usage[] =
	"Usage: shmpoolctl dump [--backend auto|device|posix] KEY FILE\n"
	"\n"
	"Write region KEY to FILE: a header (magic, format version, key, size,\n"
	"mode, creation and dump times, CRC32C checksums) and the region's bytes.\n"
	"FILE is replaced atomically.  The region is attached read-only; a\n"
	"region whose owner is running may change while it is copied (a warning\n"
	"says so): stop the owner first for a consistent image.\n";

int cmd_dump(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct shmdev_region *r = NULL;
	struct shmdev_region_info info;
	unsigned char hb[DUMP_HDR_SIZE];
	struct dump_hdr h = { 0 };
	struct crc32c *c = NULL;
	char *tmp = NULL, *buf = NULL;
	const char *path;
	const unsigned char *src;
	uint64_t key, off;
	int i, fd = -1, ret, err;

	i = ctl_getopt(ctl, argc, argv, "", opts, NULL, NULL, dump_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i != 2)
		return ctl_usage_err(ctl, "expected KEY FILE");
	if (ctl_parse_key(argv[i], &key))
		return ctl_usage_err(ctl, "bad key \"%s\": expected a non-zero decimal or 0x hex number",
				     argv[i]);
	path = argv[i + 1];
	ret = ctl_check_backend(ctl);
	if (ret)
		return ret;

	ret = shmdev_region_stat(ctl->ctx, ctl->backend, key, &info);
	if (ret < 0)
		return ctl_fail_region(ctl, ret, key);
	ret = shmdev_region_open(ctl->ctx, ctl->backend, key, 0, SHMDEV_REGION_RDONLY, 0, &r);
	if (ret < 0)
		return ctl_fail_region(ctl, ret, key);
	if (info.owned)
		ctl_warn(ctl, "dump 0x%" PRIx64 ": the region is owned by pid %" PRIu32
			 " and may change while it is copied", key, info.owner_pid);

	c = malloc(sizeof(*c));
	buf = malloc(DUMP_CHUNK);
	tmp = malloc(strlen(path) + 16);
	if (!c || !buf || !tmp) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "dump: out of memory");
		goto out;
	}
	crc32c_init(c);
	sprintf(tmp, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "dump 0x%" PRIx64 ": %s: %s", key, path,
			      strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	h.key = key;
	h.size = shmdev_region_size(r);
	h.mode = info.mode & 0777;
	h.flags = info.huge ? DUMP_FLAG_HUGE : 0;
	h.ctime_ns = info.ctime_ns;
	h.dump_time_ns = now_ns();
	/* Placeholder header; the real one (with the data CRC) goes last. */
	memset(hb, 0, sizeof(hb));
	err = write_all(fd, hb, sizeof(hb));
	/*
	 * Copy through a buffer so that the checksum covers exactly the bytes
	 * written, even if a live owner changes the region meanwhile.
	 */
	src = shmdev_region_addr(r);
	for (off = 0; !err && off < h.size; off += DUMP_CHUNK) {
		size_t n = h.size - off < DUMP_CHUNK ? (size_t)(h.size - off) : DUMP_CHUNK;

		memcpy(buf, src + off, n);
		h.data_crc = crc32c_update(c, h.data_crc, buf, n);
		err = write_all(fd, buf, n);
	}
	if (!err) {
		hdr_encode(c, &h, hb);
		if (pwrite(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb))
			err = errno ? -errno : -EIO;
	}
	if (!err && (fchmod(fd, 0600) || fsync(fd)))
		err = -errno;
	if (!err && close(fd))
		err = -errno;
	fd = -1;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "dump 0x%" PRIx64 ": %s: %s", key, path,
			      strerror(-err));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	printf("dumped 0x%" PRIx64 " (%" PRIu64 " bytes, crc32c %08" PRIx32 ") to %s\n",
	       key, h.size, h.data_crc, path);
	ret = CTL_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(buf);
	free(c);
	shmdev_region_close(r);
	return ret;
}

/* Check the data checksum of an open dump positioned after its header. */
static int verify_data(int fd, const struct crc32c *c, const struct dump_hdr *h,
		       char *buf)
{
	uint32_t crc = 0;
	uint64_t off;
	int err;

	for (off = 0; off < h->size; off += DUMP_CHUNK) {
		size_t n = h->size - off < DUMP_CHUNK ? (size_t)(h->size - off) : DUMP_CHUNK;

		err = read_all(fd, buf, n);
		if (err)
			return err;
		crc = crc32c_update(c, crc, buf, n);
	}
	return crc == h->data_crc ? 0 : -EBADMSG;
}

static const char restore_usage[] =
	"Usage: shmpoolctl restore [--force] [--key KEY] [--backend auto|device|posix] FILE\n"
	"\n"
	"Recreate the region saved in FILE by \"shmpoolctl dump\": same key (or\n"
	"KEY), size, mode and bytes.  The whole file is verified (header and\n"
	"data checksums) before anything is created.  The new region belongs to\n"
	"the caller and starts as \"new\" (never owned).\n"
	"\n"
	"  -f, --force    replace a region that exists with that key (it is\n"
	"                 destroyed first; refused while an owner holds it)\n"
	"  -k, --key KEY  restore under another key\n";

int cmd_restore(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTS,
		{ "force", no_argument, NULL, 'f' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts o = { 0 };
	struct shmdev_region *r = NULL;
	struct shmdev_region_info info;
	unsigned char hb[DUMP_HDR_SIZE];
	struct dump_hdr h;
	struct crc32c *c = NULL;
	char *buf = NULL;
	const char *path, *why = NULL;
	unsigned int flags;
	struct stat st;
	uint64_t key = 0;
	int i, fd = -1, ret, err;
	bool created = false;

	i = ctl_getopt(ctl, argc, argv, "fk:", opts, dump_opt, &o, restore_usage);
	if (i < 0)
		return i == -1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i != 1)
		return ctl_usage_err(ctl, "expected one FILE");
	path = argv[i];
	ret = ctl_check_backend(ctl);
	if (ret)
		return ret;

	c = malloc(sizeof(*c));
	buf = malloc(DUMP_CHUNK);
	if (!c || !buf) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore: out of memory");
		goto out;
	}
	crc32c_init(c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path, strerror(errno));
		goto out;
	}
	err = read_all(fd, hb, sizeof(hb));
	if (err) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path,
			      err == -EIO ? "too short for a dump header" : strerror(-err));
		goto out;
	}
	if (hdr_decode(c, hb, &h, &why)) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path, why);
		goto out;
	}
	if ((uint64_t)st.st_size != DUMP_HDR_SIZE + h.size) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL,
			      "restore %s: file is %jd bytes, the header says %" PRIu64 " (truncated or padded)",
			      path, (intmax_t)st.st_size, DUMP_HDR_SIZE + h.size);
		goto out;
	}
	err = verify_data(fd, c, &h, buf);
	if (err) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path,
			      err == -EBADMSG ? "data checksum mismatch (the file is damaged)" :
			      strerror(-err));
		goto out;
	}
	key = o.have_key ? o.key : h.key;

	ret = shmdev_region_stat(ctl->ctx, ctl->backend, key, &info);
	if (ret == 0) {
		if (!o.force) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "restore 0x%" PRIx64 ": the region exists (--force replaces it)", key);
			goto out;
		}
		if (info.owned) {
			ret = ctl_err(ctl, CTL_EXIT_FAIL,
				      "restore 0x%" PRIx64 ": the region is owned by running pid %" PRIu32
				      "; stop it first", key, info.owner_pid);
			goto out;
		}
		ret = shmdev_region_destroy(ctl->ctx, ctl->backend, key);
		if (ret < 0 && ret != -ENOENT) {
			ret = ctl_fail_region(ctl, ret, key);
			goto out;
		}
	} else if (ret != -ENOENT) {
		ret = ctl_fail_region(ctl, ret, key);
		goto out;
	}

	flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL;
	if (h.flags & DUMP_FLAG_HUGE)
		flags |= SHMDEV_REGION_HUGE;
	ret = shmdev_region_open(ctl->ctx, ctl->backend, key, h.size, flags,
				 h.mode ? h.mode : 0600, &r);
	if (ret < 0) {
		ret = ctl_fail_region(ctl, ret, key);
		goto out;
	}
	created = true;
	if (shmdev_region_size(r) != h.size) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL,
			      "restore 0x%" PRIx64 ": the new region has %" PRIu64 " bytes, the dump %" PRIu64
			      " (another page size?)", key, shmdev_region_size(r), h.size);
		goto out;
	}
	/* Straight from the file into the mapping, then check what landed. */
	if (lseek(fd, DUMP_HDR_SIZE, SEEK_SET) != (off_t)DUMP_HDR_SIZE) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path, strerror(errno));
		goto out;
	}
	err = read_all(fd, shmdev_region_addr(r), h.size);
	if (!err && crc32c_update(c, 0, shmdev_region_addr(r), h.size) != h.data_crc)
		err = -EBADMSG;
	if (err) {
		ret = ctl_err(ctl, CTL_EXIT_FAIL, "restore %s: %s", path,
			      err == -EBADMSG ? "the file changed while it was restored" :
			      strerror(-err));
		goto out;
	}
	printf("restored 0x%" PRIx64 " (%" PRIu64 " bytes, mode %04" PRIo32 ") from %s\n",
	       key, h.size, h.mode, path);
	created = false;
	ret = CTL_EXIT_OK;
out:
	shmdev_region_close(r);
	/* Nothing half-made: a region we created and could not fill goes. */
	if (created)
		shmdev_region_destroy(ctl->ctx, ctl->backend, key);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(c);
	return ret;
}
