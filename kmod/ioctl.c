// SPDX-License-Identifier: GPL-2.0
/*
 * shmpool ioctls.  Every argument struct starts with its own size and is
 * read with copy_struct_from_user() semantics (see the UAPI header).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/stddef.h>
#include <linux/user_namespace.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "shmpool.h"

/*
 * A struct larger than this is E2BIG even with a zero tail: it bounds the
 * tail scan, as clone3() does.  A constant, not PAGE_SIZE: the ABI must not
 * depend on the architecture's page size.
 */
#define SHMPOOL_MAX_USIZE	SHMPOOL_MAX_STRUCT_SIZE

/* LIST fills at most this many entries per call; the cursor continues. */
#define SHMPOOL_LIST_BATCH	((unsigned int)SHMPOOL_LIST_MAX)

/*
 * Read the caller's struct into @k (@ksize bytes).  @minsize is the size of
 * the first published version of the struct.
 */
static int shmpool_copy_in(void *k, size_t ksize, size_t minsize,
			   void __user *u, u32 *usize)
{
	u32 sz;
	int err;

	if (get_user(sz, (u32 __user *)u))
		return -EFAULT;
	if (sz < minsize)
		return -EINVAL;
	if (sz > SHMPOOL_MAX_USIZE)
		return -E2BIG;
	err = copy_struct_from_user(k, ksize, u, sz);
	if (err)
		return err;
	*usize = sz;
	return 0;
}

/* Write @k back, truncated to the caller's size. */
static int shmpool_copy_out(void __user *u, const void *k, size_t ksize,
			    u32 usize)
{
	if (copy_to_user(u, k, min_t(size_t, ksize, usize)))
		return -EFAULT;
	return 0;
}

/*
 * The caller's output area of @len bytes at @u (less than a page, so at
 * most two pages), pinned for writing before anything changes: once ATTACH
 * has committed, its result is written through the kernel mapping of these
 * pages and cannot fail, whatever another thread does to the area
 * meanwhile (munmap, mprotect).  So an error return never follows a commit.
 */
struct shmpool_out {
	struct page *pages[2];
	unsigned long addr;
	size_t len;
	int nr;
};

static int shmpool_out_pin(struct shmpool_out *o, void __user *u, size_t len)
{
	unsigned long addr = (unsigned long)u;
	int nr, got;

	BUILD_BUG_ON(sizeof(struct shmpool_attach) > PAGE_SIZE);
	nr = ((addr + len - 1) >> PAGE_SHIFT) - (addr >> PAGE_SHIFT) + 1;
	got = pin_user_pages_fast(addr & PAGE_MASK, nr, FOLL_WRITE, o->pages);
	if (got != nr) {
		if (got > 0)
			unpin_user_pages(o->pages, got);
		return -EFAULT;
	}
	o->addr = addr;
	o->len = len;
	o->nr = nr;
	return 0;
}

/* Write @k (o->len bytes) into the pinned area and release it. */
static void shmpool_out_done(struct shmpool_out *o, const void *k, bool write)
{
	size_t off = offset_in_page(o->addr), done = 0;
	int i;

	for (i = 0; write && done < o->len; i++) {
		size_t n = min_t(size_t, o->len - done, PAGE_SIZE - off);
		void *p = kmap_local_page(o->pages[i]);

		memcpy(p + off, (const u8 *)k + done, n);
		kunmap_local(p);
		flush_dcache_page(o->pages[i]);
		done += n;
		off = 0;
	}
	unpin_user_pages_dirty_lock(o->pages, o->nr, write);
}

static long shmpool_ioc_attach(struct file *file, struct shmpool_file *sf,
			       void __user *u)
{
	struct shmpool_attach a;
	struct shmpool_out out;
	bool copy_out;
	u32 usize;
	int err;

	err = shmpool_copy_in(&a, sizeof(a), sizeof(a), u, &usize);
	if (err)
		return err;
	err = shmpool_out_pin(&out, u, min_t(size_t, sizeof(a), usize));
	if (err)
		return err;
	err = shmpool_attach(sf, &a, file->f_mode & FMODE_WRITE,
			     shmpool_path_noexec(&file->f_path), &copy_out);
	shmpool_out_done(&out, &a, copy_out);
	return err;
}

static long shmpool_ioc_detach(struct shmpool_file *sf, void __user *u)
{
	struct shmpool_detach d;
	u32 usize;
	int err;

	err = shmpool_copy_in(&d, sizeof(d), sizeof(d), u, &usize);
	if (err)
		return err;
	if (d.flags)
		return -EINVAL;
	return shmpool_detach(sf);
}

static long shmpool_ioc_query(struct shmpool_file *sf, void __user *u)
{
	struct shmpool_query q;
	u32 usize;
	int err;

	err = shmpool_copy_in(&q, sizeof(q), sizeof(q), u, &usize);
	if (err)
		return err;
	if (q.flags)
		return -EINVAL;
	err = shmpool_query(sf, &q);
	if (err)
		return err;
	return shmpool_copy_out(u, &q, sizeof(q), usize);
}

static long shmpool_ioc_stat(struct shmpool_file *sf, void __user *u)
{
	struct shmpool_stat s;
	u32 usize;
	int err;

	err = shmpool_copy_in(&s, sizeof(s), sizeof(s), u, &usize);
	if (err)
		return err;
	if (s.flags)
		return -EINVAL;
	err = shmpool_stat(s.key, &s.info);
	if (err)
		return err;
	return shmpool_copy_out(u, &s, sizeof(s), usize);
}

static long shmpool_ioc_list(struct shmpool_file *sf, void __user *u)
{
	const size_t isize = sizeof(struct shmpool_region_info);
	struct shmpool_region_info *buf;
	struct shmpool_list l;
	char __user *dst;
	unsigned int n, filled, i;
	bool end;
	u32 usize;
	int err;

	err = shmpool_copy_in(&l, sizeof(l), sizeof(l), u, &usize);
	if (err)
		return err;
	if (l.flags || l.entry_size < isize || l.entry_size > SHMPOOL_MAX_USIZE)
		return -EINVAL;

	n = min(l.count, SHMPOOL_LIST_BATCH);
	buf = kvmalloc_array(max(n, 1U), isize, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	/* Collect under the table lock, copy out after dropping it. */
	err = shmpool_list(&l.cursor, buf, n, &filled, &end);
	if (err)
		goto out;

	dst = u64_to_user_ptr(l.entries);
	for (i = 0; i < filled; i++, dst += l.entry_size) {
		if (copy_to_user(dst, &buf[i], isize) ||
		    clear_user(dst + isize, l.entry_size - isize)) {
			err = -EFAULT;
			goto out;
		}
	}
	l.count = filled;
	l.flags = end ? SHMPOOL_LIST_END : 0;
	err = shmpool_copy_out(u, &l, sizeof(l), usize);
out:
	kvfree(buf);
	return err;
}

static long shmpool_ioc_destroy(struct shmpool_file *sf, void __user *u)
{
	struct shmpool_destroy d;
	u32 usize;
	int err;

	err = shmpool_copy_in(&d, sizeof(d), sizeof(d), u, &usize);
	if (err)
		return err;
	if (d.flags)
		return -EINVAL;
	return shmpool_destroy(d.key);
}

/*
 * EXPORT: the descriptor is reserved first and installed last, after the
 * result has reached the caller: a failed copy-out leaves no descriptor,
 * and a freeze this call set is undone (handover.c).
 */
static long shmpool_ioc_export(void __user *u)
{
	struct shmpool_export e;
	struct shmpool_region_info info;
	struct file *file, *none;
	bool froze, thawed;
	u32 usize;
	int err, fd = -1;

	err = shmpool_copy_in(&e, sizeof(e), sizeof(e), u, &usize);
	if (err)
		return err;
	if (e.reserved || (e.flags & ~SHMPOOL_EXPORT_THAW))
		return -EINVAL;
	if (!(e.flags & SHMPOOL_EXPORT_THAW)) {
		fd = get_unused_fd_flags(O_CLOEXEC);
		if (fd < 0)
			return fd;
	}
	err = shmpool_export(e.key, e.flags, &file, &e.info, &froze);
	if (err)
		goto err_fd;
	e.fd = fd;
	err = shmpool_copy_out(u, &e, sizeof(e), usize);
	if (err) {
		if (file)
			fput(file);
		/* Undo a freeze this call made, not an earlier one. */
		if (froze)
			shmpool_export(e.key, SHMPOOL_EXPORT_THAW, &none, &info, &thawed);
		goto err_fd;
	}
	if (file)
		fd_install(fd, file);
	return 0;

err_fd:
	if (fd >= 0)
		put_unused_fd(fd);
	return err;
}

static long shmpool_ioc_adopt(void __user *u)
{
	struct shmpool_adopt a;
	u32 usize;
	int err;

	err = shmpool_copy_in(&a, sizeof(a), sizeof(a), u, &usize);
	if (err)
		return err;
	err = shmpool_adopt(&a);
	if (err)
		return err;
	/*
	 * The region exists now; as for DESTROY after ATTACH, a caller that
	 * cannot read the result can STAT it.
	 */
	return shmpool_copy_out(u, &a, sizeof(a), usize);
}

static long shmpool_ioc_info(struct shmpool_file *sf, void __user *u)
{
	struct shmpool_info in;
	u32 usize;
	int err;

	BUILD_BUG_ON(offsetofend(struct shmpool_info, version) != SHMPOOL_INFO_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct shmpool_info) != SHMPOOL_INFO_SIZE_VER1);
	err = shmpool_copy_in(&in, sizeof(in), SHMPOOL_INFO_SIZE_VER0, u, &usize);
	if (err)
		return err;
	if (in.flags)
		return -EINVAL;
	in.abi_version = SHMPOOL_ABI_VERSION;
	shmpool_ns_counts(&in.nr_regions, &in.total_bytes);
	in.max_regions = shmpool_limit_regions();
	in.huge_supported = shmpool_huge_mnt ? 1 : 0;
	in.max_region_bytes = shmpool_limit_region_bytes();
	in.max_total_bytes = shmpool_limit_total_bytes();
	memset(in.version, 0, sizeof(in.version));
	strscpy(in.version, SHMPOOL_VERSION, sizeof(in.version));
	in.max_regions_per_ns = shmpool_limit_regions_per_ns();
	in.max_regions_per_user = shmpool_limit_regions_per_user();
	in.max_bytes_per_ns = shmpool_limit_bytes_per_ns();
	in.max_bytes_per_user = shmpool_limit_bytes_per_user();
	shmpool_user_counts(current_euid(), &in.user_regions, &in.user_bytes);
	/* noaudit: asking is not using the capability. */
	in.limits_exempt = ns_capable_noaudit(&init_user_ns, CAP_SYS_RESOURCE);
	return shmpool_copy_out(u, &in, sizeof(in), usize);
}

long shmpool_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct shmpool_file *sf = file->private_data;
	void __user *u = (void __user *)arg;

	/* Namespaces that died since the last call lose their regions. */
	shmpool_ns_reap();
	switch (cmd) {
	case SHMPOOL_IOC_ATTACH:
		return shmpool_ioc_attach(file, sf, u);
	case SHMPOOL_IOC_DETACH:
		return shmpool_ioc_detach(sf, u);
	case SHMPOOL_IOC_QUERY:
		return shmpool_ioc_query(sf, u);
	case SHMPOOL_IOC_STAT:
		return shmpool_ioc_stat(sf, u);
	case SHMPOOL_IOC_LIST:
		return shmpool_ioc_list(sf, u);
	case SHMPOOL_IOC_DESTROY:
		return shmpool_ioc_destroy(sf, u);
	case SHMPOOL_IOC_INFO:
		return shmpool_ioc_info(sf, u);
	case SHMPOOL_IOC_EXPORT:
		return shmpool_ioc_export(u);
	case SHMPOOL_IOC_ADOPT:
		return shmpool_ioc_adopt(u);
	}
	return -ENOTTY;
}
