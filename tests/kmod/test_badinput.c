// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input for every ioctl: short, long (zero and non-zero tail), huge and
 * garbage structs, unknown flags, NULL, unmapped and read-only pointers,
 * unknown commands; then a seeded random sequence of ioctl/mmap/munmap/
 * close calls checked against a model of what the module must do.
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define TAG 0x60
#define PG 4096UL

struct cmd_desc {
	const char *name;
	unsigned long cmd;
	size_t size;		/* sizeof() of the struct */
	bool writes_back;	/* the kernel writes output into the struct */
	size_t minsize;		/* first published size, if the struct grew (else 0) */
};

static const struct cmd_desc cmds[] = {
	{ "ATTACH", SHMPOOL_IOC_ATTACH, sizeof(struct shmpool_attach), true, 0 },
	{ "DETACH", SHMPOOL_IOC_DETACH, sizeof(struct shmpool_detach), false, 0 },
	{ "QUERY", SHMPOOL_IOC_QUERY, sizeof(struct shmpool_query), true, 0 },
	{ "STAT", SHMPOOL_IOC_STAT, sizeof(struct shmpool_stat), true, 0 },
	{ "LIST", SHMPOOL_IOC_LIST, sizeof(struct shmpool_list), true, 0 },
	{ "DESTROY", SHMPOOL_IOC_DESTROY, sizeof(struct shmpool_destroy), false, 0 },
	{ "INFO", SHMPOOL_IOC_INFO, sizeof(struct shmpool_info), true, SHMPOOL_INFO_SIZE_VER0 },
	{ "EXPORT", SHMPOOL_IOC_EXPORT, sizeof(struct shmpool_export), true, 0 },
	{ "ADOPT", SHMPOOL_IOC_ADOPT, sizeof(struct shmpool_adopt), false, 0 },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Below this size the kernel says EINVAL. */
static size_t min_size(const struct cmd_desc *c)
{
	return c->minsize ? c->minsize : c->size;
}

static uint8_t buf[2 * 8192] __attribute__((aligned(8)));
static struct shmpool_region_info list_entries[4];

/*
 * A valid-looking struct for @c: existing key, attached file, flags 0.
 * Each call below works on a fresh file attached to key K (except ATTACH,
 * which gets an unattached one).
 */
#define K KT_KEY(TAG, 1)

static void fill_valid(const struct cmd_desc *c, void *p)
{
	memset(p, 0, c->size);
	*(uint32_t *)p = c->size;
	switch (c->cmd) {
	case SHMPOOL_IOC_ATTACH:
		((struct shmpool_attach *)p)->key = K;
		break;
	case SHMPOOL_IOC_STAT:
		((struct shmpool_stat *)p)->key = K;
		break;
	case SHMPOOL_IOC_DESTROY:
		((struct shmpool_destroy *)p)->key = KT_KEY(TAG, 999);	/* absent */
		break;
	case SHMPOOL_IOC_EXPORT:
		/* THAW: valid, and neither a descriptor nor a freeze. */
		((struct shmpool_export *)p)->key = K;
		((struct shmpool_export *)p)->flags = SHMPOOL_EXPORT_THAW;
		break;
	case SHMPOOL_IOC_ADOPT:
		((struct shmpool_adopt *)p)->key = KT_KEY(TAG, 998);
		((struct shmpool_adopt *)p)->fd = -1;	/* EBADF */
		break;
	case SHMPOOL_IOC_LIST: {
		struct shmpool_list *l = p;

		l->entries = (uintptr_t)list_entries;
		l->count = 4;
		l->entry_size = sizeof(list_entries[0]);
		break;
	}
	}
}

static int fresh_fd(const struct cmd_desc *c)
{
	if (c->cmd == SHMPOOL_IOC_ATTACH)
		return kt_open();
	/* DETACH needs the lease to succeed. */
	return kt_attach_fd(K, 0, c->cmd == SHMPOOL_IOC_DETACH ? SHMPOOL_ATTACH_OWNER : 0,
			    0, NULL);
}

static int call(const struct cmd_desc *c, void *arg)
{
	int fd = fresh_fd(c);
	int r = kt_ioctl(fd, c->cmd, arg);

	close(fd);
	return r;
}

/* What a valid call returns: the reference for long-with-zero-tail. */
static int valid_result(const struct cmd_desc *c)
{
	if (c->cmd == SHMPOOL_IOC_DESTROY)
		return -ENOENT;
	if (c->cmd == SHMPOOL_IOC_ADOPT)
		return -EBADF;
	return 0;
}

static void setup(void)
{
	kt_destroy_all();
	close(kt_attach_fd(K, 2 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
}

static void teardown(void)
{
	kt_destroy_all();
}

START_TEST(valid_calls_work)
{
	const struct cmd_desc *c = &cmds[_i];

	fill_valid(c, buf);
	ck_assert_msg(call(c, buf) == valid_result(c), "%s", c->name);
}
END_TEST

START_TEST(short_structs)
{
	const struct cmd_desc *c = &cmds[_i];
	const uint32_t sizes[] = { 0, 1, 4, 8, (uint32_t)min_size(c) - 1 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] >= min_size(c))
			continue;
		fill_valid(c, buf);
		*(uint32_t *)buf = sizes[i];
		ck_assert_msg(call(c, buf) == -EINVAL, "%s size %u", c->name, sizes[i]);
	}
}
END_TEST

START_TEST(long_structs)
{
	const struct cmd_desc *c = &cmds[_i];
	const uint32_t extra[] = { 1, 8, 64, PG - c->size };

	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint32_t size = c->size + extra[i];

		/* Zero tail: accepted as the known struct. */
		memset(buf, 0, sizeof(buf));
		fill_valid(c, buf);
		*(uint32_t *)buf = size;
		ck_assert_msg(call(c, buf) == valid_result(c), "%s +%u zero tail",
			      c->name, extra[i]);
		if (c->writes_back && valid_result(c) == 0)
			ck_assert_msg(*(uint32_t *)buf == size, "%s size field changed", c->name);
		/* Output never goes past the kernel's struct. */
		for (uint32_t j = c->size; j < size; j++)
			ck_assert_msg(buf[j] == 0, "%s wrote tail byte %u", c->name, j);

		/* Non-zero tail byte anywhere: E2BIG. */
		fill_valid(c, buf);
		*(uint32_t *)buf = size;
		buf[size - 1] = 0x5a;
		ck_assert_msg(call(c, buf) == -E2BIG, "%s +%u garbage tail", c->name, extra[i]);
		buf[size - 1] = 0;
		buf[c->size] = 1;
		ck_assert_msg(call(c, buf) == -E2BIG, "%s +%u garbage tail", c->name, extra[i]);
		buf[c->size] = 0;
	}
	/* Beyond a page, even with a zero tail, and absurd sizes. */
	memset(buf, 0, sizeof(buf));
	fill_valid(c, buf);
	*(uint32_t *)buf = PG + 1;
	ck_assert_msg(call(c, buf) == -E2BIG, "%s > page", c->name);
	*(uint32_t *)buf = UINT32_MAX;
	ck_assert_msg(call(c, buf) == -E2BIG, "%s UINT32_MAX", c->name);
}
END_TEST

START_TEST(unknown_flags)
{
	const struct cmd_desc *c = &cmds[_i];

	for (int bit = 0; bit < 32; bit++) {
		uint32_t f = 1U << bit;

		if (c->cmd == SHMPOOL_IOC_ATTACH && (f & SHMPOOL_ATTACH_ALL))
			continue;
		if (c->cmd == SHMPOOL_IOC_EXPORT && (f & SHMPOOL_EXPORT_THAW))
			continue;
		fill_valid(c, buf);
		((uint32_t *)buf)[1] = f;
		ck_assert_msg(call(c, buf) == -EINVAL, "%s flag bit %d", c->name, bit);
	}
}
END_TEST

START_TEST(bad_pointers)
{
	const struct cmd_desc *c = &cmds[_i];
	uint8_t *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *edge;

	ck_assert_ptr_ne(two, MAP_FAILED);
	ck_assert_msg(call(c, NULL) == -EFAULT, "%s NULL", c->name);
	ck_assert_msg(call(c, (void *)1) == -EFAULT, "%s 1", c->name);
	ck_assert_msg(call(c, (void *)-4096L) == -EFAULT, "%s kernel address", c->name);
	/* The struct straddles into an unmapped page: size readable, rest not. */
	munmap(two + PG, PG);
	edge = two + PG - 4;
	fill_valid(c, buf);
	memcpy(edge, buf, 4);
	ck_assert_msg(call(c, edge) == -EFAULT, "%s straddling", c->name);
	/* Wholly unmapped. */
	ck_assert_msg(call(c, two + PG) == -EFAULT, "%s unmapped", c->name);
	/* Read-only memory: fine for input, EFAULT where the kernel writes. */
	fill_valid(c, two);
	ck_assert_int_eq(mprotect(two, PG, PROT_READ), 0);
	ck_assert_msg(call(c, two) == (c->writes_back ? -EFAULT : valid_result(c)),
		      "%s read-only", c->name);
	munmap(two, PG);
	/* A failed ATTACH (output not writable) leaves nothing behind. */
	ck_assert_int_eq(kt_nr_regions(), 1);
}
END_TEST

START_TEST(attach_to_readonly_memory_creates_nothing)
{
	struct shmpool_attach *a = mmap(NULL, PG, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = kt_open();

	ck_assert_ptr_ne(a, MAP_FAILED);
	a->size = sizeof(*a);
	a->key = KT_KEY(TAG, 2);
	a->req_size = PG;
	a->flags = SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER;
	a->mode = 0600;
	ck_assert_int_eq(mprotect(a, PG, PROT_READ), 0);
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_ATTACH, a), -EFAULT);
	ck_assert_int_eq(kt_stat(KT_KEY(TAG, 2), NULL), -ENOENT);
	ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
	close(fd);
	munmap(a, PG);
}
END_TEST

/*
 * The struct's head is writable, its tail read-only (it straddles two
 * pages): the kernel must find out before it attaches, not while it
 * writes the result back.
 */
START_TEST(attach_straddling_readonly_page_creates_nothing)
{
	uint8_t *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct shmpool_attach a = {
		.size = sizeof(a), .key = KT_KEY(TAG, 3), .req_size = PG,
		.flags = SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, .mode = 0600,
	};
	uint8_t *at;
	int fd = kt_open();

	ck_assert_ptr_ne(two, MAP_FAILED);
	at = two + PG - sizeof(a) / 2;
	memcpy(at, &a, sizeof(a));
	ck_assert_int_eq(mprotect(two + PG, PG, PROT_READ), 0);
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_ATTACH, at), -EFAULT);
	ck_assert_int_eq(kt_stat(KT_KEY(TAG, 3), NULL), -ENOENT);
	ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
	/* Both pages writable: the same bytes attach. */
	ck_assert_int_eq(mprotect(two + PG, PG, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_ATTACH, at), 0);
	ck_assert_uint_eq(((struct shmpool_attach *)at)->result, SHMPOOL_RESULT_CREATED);
	close(fd);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 3)), 0);
	munmap(two, 2 * PG);
}
END_TEST

START_TEST(list_bad_entries)
{
	struct shmpool_list l;
	uint8_t *ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = kt_open();

	ck_assert_ptr_ne(ro, MAP_FAILED);
	fill_valid(&cmds[4], &l);
	l.entries = 0;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EFAULT);
	fill_valid(&cmds[4], &l);
	l.entries = (uintptr_t)ro;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EFAULT);
	fill_valid(&cmds[4], &l);
	l.entries = UINT64_MAX - 8;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EFAULT);
	/* NULL is fine while nothing needs writing. */
	fill_valid(&cmds[4], &l);
	l.entries = 0;
	l.count = 0;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	fill_valid(&cmds[4], &l);
	l.entry_size = sizeof(struct shmpool_region_info) - 1;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EINVAL);
	l.entry_size = 0;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EINVAL);
	l.entry_size = PG + 1;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), -EINVAL);
	/* A huge count is capped per call, not an error. */
	fill_valid(&cmds[4], &l);
	l.count = UINT32_MAX;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	ck_assert_uint_eq(l.count, 1);
	ck_assert(l.flags & SHMPOOL_LIST_END);
	close(fd);
	munmap(ro, PG);
}
END_TEST

START_TEST(unknown_commands)
{
	const unsigned long bad[] = {
		_IO(SHMPOOL_IOC_MAGIC, 0x09), _IO(SHMPOOL_IOC_MAGIC, 0xff),
		_IOWR(SHMPOOL_IOC_MAGIC, 0x00, struct shmpool_attach),
		_IOR(SHMPOOL_IOC_MAGIC, 0x06, struct shmpool_info),
		_IO(SHMPOOL_IOC_MAGIC + 1, 0x00), _IO('T', 0x99), 0, 0xffffffffUL,
	};
	int fd = kt_attach_fd(K, 0, 0, 0, NULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fill_valid(&cmds[0], buf);
		ck_assert_msg(kt_ioctl(fd, bad[i], buf) == -ENOTTY, "cmd %#lx", bad[i]);
	}
	close(fd);
}
END_TEST

START_TEST(garbage_structs)
{
	uint64_t seed = 12345;

	for (int n = 0; n < 2000; n++) {
		const struct cmd_desc *c = &cmds[n % NCMDS];
		int fd = kt_open();
		int r;

		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = seed >> 56;
		}
		r = kt_ioctl(fd, c->cmd, buf);
		/* Random sizes: almost always EINVAL or E2BIG; never a crash. */
		ck_assert_msg(r == -EINVAL || r == -E2BIG || r == -EFAULT || r == -ENOTCONN ||
			      r == -ENOENT || r == -EBADF || r == 0, "%s: %d", c->name, r);
		close(fd);
	}
	kt_destroy_all();
}
END_TEST

/* ---- seeded random sequence against a model ---- */

#define NSLOT 8
#define NKEY 6
#define NMAP 24
#define MAXP 20

struct mregion {
	uint64_t key;
	size_t pages;
	bool in_table;
	int refs;			/* slots and maps using it */
	uint8_t first[MAXP];		/* first byte of each page */
};

struct mslot {
	int fd;				/* -1: closed */
	struct mregion *r;		/* attached region */
	bool owner;
	bool rdonly;
};

struct mmap_rec {
	uint8_t *p;
	size_t pages;
	size_t off;			/* in pages */
	int prot;
	bool maywrite;
	struct mregion *r;
};

static struct mregion *table[NKEY];
static struct mslot slots[NSLOT];
static struct mmap_rec maps[NMAP];
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint64_t fuzz_key(int i)
{
	return KT_KEY(TAG, 100 + i);
}

static void mr_put(struct mregion *r)
{
	if (r && --r->refs == 0 && !r->in_table)
		free(r);
}

static bool lease_held(struct mregion *r)
{
	for (int s = 0; s < NSLOT; s++)
		if (slots[s].fd >= 0 && slots[s].r == r && slots[s].owner)
			return true;
	return false;
}

static const uint64_t req_sizes[] = { 0, 1, PG, 3 * PG, 16 * PG, 16 * PG + 1, 17 * PG };

static void op_attach(int s, uint64_t op)
{
	struct mslot *sl = &slots[s];
	int ki = rn(NKEY);
	uint64_t key = rn(50) ? fuzz_key(ki) : 0;
	uint64_t req = req_sizes[rn(sizeof(req_sizes) / sizeof(req_sizes[0]))];
	uint32_t flags = rn(32);
	uint32_t mode = rn(20) ? 0600 : 01600;
	struct mregion *r = table[ki];
	struct shmpool_attach a;
	int want, got;

	if (!rn(40))
		flags |= 1U << (5 + rn(27));
	if (sl->fd < 0)
		return;
	if ((flags & ~SHMPOOL_ATTACH_ALL) ||
	    ((flags & SHMPOOL_ATTACH_OWNER) && (flags & SHMPOOL_ATTACH_RDONLY)) ||
	    !key || (mode & ~0777))
		want = -EINVAL;
	else if (sl->r)
		want = -EALREADY;
	else if (r) {
		if ((flags & SHMPOOL_ATTACH_CREATE) && (flags & SHMPOOL_ATTACH_EXCL))
			want = -EEXIST;
		else if (req > r->pages * PG)
			want = -EINVAL;
		else if ((flags & SHMPOOL_ATTACH_OWNER) && lease_held(r))
			want = -EBUSY;
		else
			want = 0;
	} else if (!(flags & SHMPOOL_ATTACH_CREATE))
		want = -ENOENT;
	else if (!req)
		want = -EINVAL;
	else
		want = 0;

	got = kt_attach(sl->fd, key, req, flags, mode, &a);
	if (got == -EOPNOTSUPP && want == 0 && !r && (flags & SHMPOOL_ATTACH_HUGE))
		return;		/* no huge mount on this kernel */
	ck_assert_msg(got == want, "op %" PRIu64 ": attach slot %d key %d req %" PRIu64
		      " flags %#x: got %d want %d", op, s, ki, req, flags, got, want);
	if (got)
		return;
	if (!r) {
		r = calloc(1, sizeof(*r));
		ck_assert_ptr_nonnull(r);
		r->key = key;
		r->pages = (req + PG - 1) / PG;
		r->in_table = true;
		table[ki] = r;
		ck_assert_uint_eq(a.result, SHMPOOL_RESULT_CREATED);
	} else {
		ck_assert_uint_eq(a.result, SHMPOOL_RESULT_RESUMED);
	}
	ck_assert_uint_eq(a.info.size, r->pages * PG);
	r->refs++;
	sl->r = r;
	sl->owner = flags & SHMPOOL_ATTACH_OWNER;
	sl->rdonly = flags & SHMPOOL_ATTACH_RDONLY;
}

static void op_close(int s)
{
	if (slots[s].fd < 0)
		return;
	close(slots[s].fd);
	mr_put(slots[s].r);
	memset(&slots[s], 0, sizeof(slots[s]));
	slots[s].fd = -1;
}

static void op_detach(int s, uint64_t op)
{
	struct mslot *sl = &slots[s];
	int want = !sl->r ? -ENOTCONN : !sl->owner ? -EPERM : 0;
	int got;

	if (sl->fd < 0)
		return;
	got = kt_detach(sl->fd);
	ck_assert_msg(got == want, "op %" PRIu64 ": detach: got %d want %d", op, got, want);
	if (!got) {
		sl->owner = false;
		sl->rdonly = true;
	}
}

static void op_query(int s, uint64_t op)
{
	struct mslot *sl = &slots[s];
	struct shmpool_query q;
	int got;

	if (sl->fd < 0)
		return;
	got = kt_query(sl->fd, &q);
	ck_assert_msg(got == (sl->r ? 0 : -ENOTCONN), "op %" PRIu64 ": query %d", op, got);
	if (!got) {
		ck_assert_uint_eq(q.info.key, sl->r->key);
		ck_assert_uint_eq(q.info.size, sl->r->pages * PG);
		ck_assert_uint_eq(!!(q.info.flags & SHMPOOL_REGION_DESTROYED), !sl->r->in_table);
	}
}

static void op_stat_all(uint64_t op)
{
	for (int k = 0; k < NKEY; k++) {
		struct shmpool_region_info in;
		int got = kt_stat(fuzz_key(k), &in);

		ck_assert_msg(got == (table[k] ? 0 : -ENOENT), "op %" PRIu64 ": stat %d", op, got);
		if (!got)
			ck_assert_uint_eq(in.size, table[k]->pages * PG);
	}
}

static void op_destroy(uint64_t op)
{
	int ki = rn(NKEY);
	int got = kt_destroy(fuzz_key(ki));

	ck_assert_msg(got == (table[ki] ? 0 : -ENOENT), "op %" PRIu64 ": destroy %d", op, got);
	if (table[ki]) {
		table[ki]->in_table = false;
		if (table[ki]->refs == 0)
			free(table[ki]);
		table[ki] = NULL;
	}
}

static void op_mmap(int s, uint64_t op)
{
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE };
	struct mslot *sl = &slots[s];
	size_t pages = 1 + rn(18), off = rn(19);
	int prot = prots[rn(3)];
	int flags = rn(8) ? MAP_SHARED : MAP_PRIVATE;
	int m, want;
	void *p;

	if (sl->fd < 0)
		return;
	for (m = 0; m < NMAP && maps[m].p; m++)
		;
	if (m == NMAP)
		return;
	if (!sl->r)
		want = -ENXIO;
	else if (flags != MAP_SHARED)
		want = -EINVAL;
	else if (off + pages > sl->r->pages)
		want = -EINVAL;
	else if (sl->rdonly && (prot & PROT_WRITE))
		want = -EACCES;
	else
		want = 0;
	p = mmap(NULL, pages * PG, prot, flags, sl->fd, off * PG);
	ck_assert_msg((p == MAP_FAILED ? -errno : 0) == want,
		      "op %" PRIu64 ": mmap slot %d %zu@%zu prot %d flags %d: got %d want %d",
		      op, s, pages, off, prot, flags, p == MAP_FAILED ? -errno : 0, want);
	if (p == MAP_FAILED)
		return;
	maps[m] = (struct mmap_rec){ .p = p, .pages = pages, .off = off, .prot = prot,
				     .maywrite = !sl->rdonly, .r = sl->r };
	sl->r->refs++;
}

static void op_munmap(uint64_t op)
{
	int m = rn(NMAP);

	(void)op;
	if (!maps[m].p)
		return;
	ck_assert_int_eq(munmap(maps[m].p, maps[m].pages * PG), 0);
	mr_put(maps[m].r);
	memset(&maps[m], 0, sizeof(maps[m]));
}

static void op_touch(uint64_t op)
{
	struct mmap_rec *mp = &maps[rn(NMAP)];
	size_t i;

	if (!mp->p || !(mp->prot & PROT_READ))
		return;
	i = rn(mp->pages);
	ck_assert_msg(mp->p[i * PG] == mp->r->first[mp->off + i],
		      "op %" PRIu64 ": page %zu holds %u, model %u", op, mp->off + i,
		      mp->p[i * PG], mp->r->first[mp->off + i]);
	if (mp->prot & PROT_WRITE) {
		uint8_t v = rn(256);

		mp->p[i * PG] = v;
		mp->r->first[mp->off + i] = v;
	}
}

static void op_mprotect(uint64_t op)
{
	struct mmap_rec *mp = &maps[rn(NMAP)];
	int prot = rn(2) ? PROT_READ | PROT_WRITE : PROT_READ;
	int got, want;

	if (!mp->p)
		return;
	want = (prot & PROT_WRITE) && !mp->maywrite ? -EACCES : 0;
	got = mprotect(mp->p, mp->pages * PG, prot) ? -errno : 0;
	ck_assert_msg(got == want, "op %" PRIu64 ": mprotect got %d want %d", op, got, want);
	if (!got)
		mp->prot = prot;
}

/* Calls that must fail without changing anything. */
static void op_garbage(int s, uint64_t op)
{
	const struct cmd_desc *c = &cmds[rn(NCMDS)];
	int fd = slots[s].fd, got, want;

	if (fd < 0)
		return;
	for (size_t i = 0; i < 256; i++)
		buf[i] = rnd();
	switch (rn(4)) {
	case 0:
		*(uint32_t *)buf = rn(min_size(c));
		want = -EINVAL;
		break;
	case 1:
		*(uint32_t *)buf = c->size + 1 + rn(100);
		buf[c->size] |= 1;
		want = -E2BIG;
		break;
	case 2:
		got = kt_ioctl(fd, c->cmd, (void *)(uintptr_t)(rn(2) ? 0 : -PG));
		ck_assert_msg(got == -EFAULT, "op %" PRIu64 ": bad pointer %d", op, got);
		return;
	default:
		got = kt_ioctl(fd, _IO(SHMPOOL_IOC_MAGIC, 9 + rn(200)), buf);
		ck_assert_msg(got == -ENOTTY, "op %" PRIu64 ": unknown cmd %d", op, got);
		return;
	}
	got = kt_ioctl(fd, c->cmd, buf);
	ck_assert_msg(got == want, "op %" PRIu64 ": garbage %s got %d want %d", op, c->name,
		      got, want);
}

START_TEST(random_sequence)
{
	long nops = kt_env_long("SHMPOOL_FUZZ_OPS", 100000);
	const char *env = getenv("SHMPOOL_TEST_SEED");
	uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);

	if (!seed)
		seed = 1;
	fprintf(stderr, "random_sequence: seed %" PRIu64 " (SHMPOOL_TEST_SEED), %ld ops\n",
		seed, nops);
	rng = seed;
	kt_destroy_all();
	for (int s = 0; s < NSLOT; s++)
		slots[s].fd = -1;

	for (long op = 0; op < nops; op++) {
		int s = rn(NSLOT);

		switch (rn(16)) {
		case 0:
			if (slots[s].fd < 0)
				slots[s].fd = kt_open();
			break;
		case 1:
			op_close(s);
			break;
		case 2: case 3:
			op_attach(s, op);
			break;
		case 4:
			op_detach(s, op);
			break;
		case 5:
			op_query(s, op);
			break;
		case 6:
			if (!rn(8))
				op_stat_all(op);
			break;
		case 7:
			if (!rn(3))
				op_destroy(op);
			break;
		case 8: case 9:
			op_mmap(s, op);
			break;
		case 10:
			op_munmap(op);
			break;
		case 11: case 12:
			op_touch(op);
			break;
		case 13:
			op_mprotect(op);
			break;
		default:
			op_garbage(s, op);
			break;
		}
	}
	op_stat_all(nops);
	for (int m = 0; m < NMAP; m++)
		if (maps[m].p)
			munmap(maps[m].p, maps[m].pages * PG);
	for (int s = 0; s < NSLOT; s++)
		if (slots[s].fd >= 0)
			close(slots[s].fd);
	for (int k = 0; k < NKEY; k++)
		if (table[k])
			ck_assert_int_eq(kt_destroy(fuzz_key(k)), 0);
	ck_assert_uint_eq(kt_nr_regions(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_badinput");
	TCase *tc = tcase_create("badinput");
	TCase *tf = tcase_create("random");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, valid_calls_work, 0, NCMDS);
	tcase_add_loop_test(tc, short_structs, 0, NCMDS);
	tcase_add_loop_test(tc, long_structs, 0, NCMDS);
	tcase_add_loop_test(tc, unknown_flags, 0, NCMDS);
	tcase_add_loop_test(tc, bad_pointers, 0, NCMDS);
	tcase_add_test(tc, attach_to_readonly_memory_creates_nothing);
	tcase_add_test(tc, attach_straddling_readonly_page_creates_nothing);
	tcase_add_test(tc, list_bad_entries);
	tcase_add_test(tc, unknown_commands);
	tcase_add_test(tc, garbage_structs);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tf, 600);
	tcase_add_test(tf, random_sequence);
	suite_add_tcase(s, tf);
	return kt_main(s);
}
