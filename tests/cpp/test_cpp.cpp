// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The C++ layer (libshmdev/shmdev.hpp, issue 15 item 1): every wrapper,
 * its error paths and its ownership rules, on the backend SHMDEV_BACKEND
 * selects (POSIX on the host).
 *
 * Built twice by tests/cpp/build.mk from this one source: test_cpp (with
 * exceptions: value() throws shmdev::error) and test_cpp_noexc
 * (-fno-exceptions: the error-code API only, and value() of a failure
 * aborts).  The promises that must not compile are in compile_fail.cpp.
 */
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "shmdev.hpp"	/* first: check.h defines a macro named fail */
extern "C" {
#include "testutil.h"
}

/* The objects of tu_zone_types, registered from the structs. */
struct Item {
	std::uint64_t stamp;
	std::uint32_t n;
};
SHMDEV_TYPE(Item, TU_ITEM, "Item", 1, shmdev::plain);

struct Player {
	std::uint64_t id;
	std::uint64_t gold;
};
SHMDEV_TYPE(Player, TU_PLAYER, "Player", 1, shmdev::keyed);

/* Never in a layout of this suite. */
struct Ghost {
	std::uint64_t x;
};
SHMDEV_TYPE(Ghost, 7, "Ghost", 1, shmdev::keyed);

/* Item as a later build would change it: another version. */
namespace v2 {
struct Item {
	std::uint64_t stamp;
	std::uint32_t n;
};
} // namespace v2
SHMDEV_TYPE(v2::Item, TU_ITEM, "Item", 2, shmdev::plain);

/* A handle is a shmdev_handle_t: it may live inside shared objects. */
struct Bag {
	shmdev::handle<Item> items[4];
	shmdev::handle<Player> owner;
};
static_assert(sizeof(shmdev::handle<Item>) == sizeof(shmdev_handle_t), "handle size");
static_assert(alignof(shmdev::handle<Item>) == alignof(shmdev_handle_t), "handle align");
static_assert(std::is_trivially_copyable<shmdev::handle<Item>>::value, "handle copy");
static_assert(std::is_standard_layout<shmdev::handle<Item>>::value, "handle layout");
static_assert(std::is_trivially_copyable<Bag>::value && std::is_standard_layout<Bag>::value,
	      "a struct of handles may be a pool type");
/* The type-safety promise, as traits (compile_fail.sh proves the errors). */
static_assert(!std::is_convertible<shmdev::handle<Player>, shmdev::handle<Item>>::value,
	      "a Player handle is not an Item handle");
static_assert(!std::is_constructible<shmdev::handle<Item>, shmdev::handle<Player>>::value,
	      "not even explicitly");
static_assert(!std::is_convertible<shmdev_handle_t, shmdev::handle<Item>>::value,
	      "a raw handle comes in only through from_raw");
static_assert(!std::is_copy_constructible<shmdev::pool>::value &&
	      std::is_nothrow_move_constructible<shmdev::pool>::value, "pool is move-only");
static_assert(!std::is_copy_constructible<shmdev::context>::value &&
	      std::is_nothrow_move_constructible<shmdev::context>::value, "context is move-only");
static_assert(!std::is_copy_constructible<shmdev::config>::value &&
	      std::is_nothrow_move_constructible<shmdev::config>::value, "config is move-only");

/* ---- helpers -------------------------------------------------------------- */

static void silent(void *, int, const char *, int, const char *, const char *, va_list)
{
}

static shmdev::context new_ctx()
{
	auto r = shmdev::context::create();

	ck_assert_msg(r.has_value(), "context: %s", r.message().c_str());
	shmdev::context c = std::move(*r);
	c.set_log_fn(silent, nullptr);
	return c;
}

/* The zone config of tu_zone_conf(), at key index @first. */
static std::string zone_text(unsigned int first)
{
	char text[512];

	std::snprintf(text, sizeof(text),
		      "ProcessList = zone\n[zone]\nBaseKey = 0x%llx\nBlockSize = 1M\n"
		      "BlockKey = 0x%llx\nBlockKey = 0x%llx\n",
		      (unsigned long long)tu_key(first), (unsigned long long)tu_key(first + 1),
		      (unsigned long long)tu_key(first + 2));
	return text;
}

static shmdev::config zone_conf(const shmdev::context &ctx, unsigned int first = 0)
{
	std::string text = zone_text(first);
	auto r = shmdev::config::load_string(ctx, text.c_str(), "test.ini", "zone");

	ck_assert_msg(r.has_value(), "conf: %s", r.message().c_str());
	return std::move(*r);
}

static shmdev::pool zone_open(const shmdev::context &ctx, const shmdev::config &conf,
			      shmdev_start want)
{
	auto r = shmdev::pool::open(ctx, conf, { shmdev::type<Item>(100), shmdev::type<Player>(50) });

	ck_assert_msg(r.has_value(), "open: %d %s", r.error(), r.message().c_str());
	ck_assert_int_eq(r->start(), want);
	return std::move(*r);
}

static bool contains(const std::string &s, const char *what)
{
	return s.find(what) != std::string::npos;
}

/* ---- registration and handles ---------------------------------------------- */

START_TEST(test_type_description)
{
	shmdev_type a = shmdev::type<Item>(100).desc, b = shmdev::type<Player>(50).desc;

	/* Exactly what tests/lib describes by hand for the same structs. */
	ck_assert_uint_eq(a.id, tu_zone_types[TU_ITEM].id);
	ck_assert_str_eq(a.name, tu_zone_types[TU_ITEM].name);
	ck_assert_uint_eq(a.size, tu_zone_types[TU_ITEM].size);
	ck_assert_uint_eq(a.align, alignof(struct tu_item));
	ck_assert_uint_eq(a.version, 1);
	ck_assert_uint_eq(a.max_count, 100);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_eq(b.id, TU_PLAYER);
	ck_assert_str_eq(b.name, "Player");
	ck_assert_uint_eq(b.size, sizeof(struct tu_player));
	ck_assert_uint_eq(b.flags, SHMDEV_TYPE_KEYED);
	ck_assert_uint_eq(b.max_count, 50);
	ck_assert_uint_eq(shmdev::type<v2::Item>(1).desc.version, 2);
}
END_TEST

START_TEST(test_handle_value)
{
	shmdev::handle<Item> none, h = shmdev::handle<Item>::from_raw(0x1234);
	shmdev::handle<Item> c = h;

	ck_assert(!none);
	ck_assert_uint_eq(none.raw(), SHMDEV_HANDLE_NONE);
	ck_assert(h && h.raw() == 0x1234 && c == h && c != none);
	ck_assert_uint_eq(h.type_id(), shmdev_handle_type(0x1234));
	ck_assert_uint_eq(h.slot(), shmdev_handle_slot(0x1234));
	ck_assert_uint_eq(none.type_id(), 0);
	/* type_id() reads the bits inline: the library's answer on every type bit */
	for (std::uint64_t t = 1; t < 4096; t = t * 2 + 1) {
		shmdev_handle_t raw = t << 52 | 0x000ABCDEF1234567ULL;

		ck_assert_uint_eq(shmdev::handle<Item>::from_raw(raw).type_id(), shmdev_handle_type(raw));
	}
}
END_TEST

/* ---- context and config ------------------------------------------------------ */

static int log_calls;

static void counting_log(void *data, int, const char *, int, const char *, const char *, va_list)
{
	(*static_cast<int *>(data))++;
}

START_TEST(test_context)
{
	shmdev::context a = new_ctx(), b;
	shmdev_ctx *raw = a.native();

	ck_assert(a && !b && raw);
	b = std::move(a);			/* move-assign */
	ck_assert(!a && b.native() == raw);
	shmdev::context c(std::move(b));	/* move-construct */
	ck_assert(!b && c.native() == raw);
	c = std::move(c);			/* self-move keeps it */
	ck_assert(c.native() == raw);

	c.set_log_priority(7);
	ck_assert_int_eq(c.log_priority(), 7);
	log_calls = 0;
	c.set_log_fn(counting_log, &log_calls);
	auto r = shmdev::config::load_string(c, "nonsense\n", "bad.ini", "zone");
	ck_assert(!r && r.error() == -EINVAL);
	ck_assert_int_gt(log_calls, 0);
	ck_assert_msg(contains(r.message(), "bad.ini"), "message: %s", r.message().c_str());
	std::string last = c.errmsg();
	ck_assert_str_eq(last.c_str(), r.message().c_str());

	auto s = c.render_template("key=$((${ZONE} * 2))", "t", { "ZONE=7" });
	ck_assert_str_eq(s.value().c_str(), "key=14");
	auto u = c.render_template("key=${NOPE}", "t.tmpl", {});
	ck_assert_int_eq(u.error(), -EINVAL);
	ck_assert_msg(contains(u.message(), "NOPE") && contains(u.message(), "t.tmpl"),
		      "message: %s", u.message().c_str());
}
END_TEST

START_TEST(test_config)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx), other;

	ck_assert(conf && !other);
	ck_assert_str_eq(conf.self()->name, "zone");
	ck_assert_uint_eq(conf.self()->base_key, tu_key(0));
	ck_assert_uint_eq(conf.self()->nr_blocks, 2);
	ck_assert_uint_eq(conf.nr_processes(), 1);
	ck_assert_ptr_eq(conf.process("zone"), conf.self());
	ck_assert_ptr_eq(conf.process_at(0), conf.self());
	ck_assert_ptr_null(conf.process_at(1));
	ck_assert_ptr_null(conf.process("nope"));
	other = std::move(conf);
	ck_assert(!conf && other && other.self());

	auto r = shmdev::config::load(ctx, "/nonexistent/memorypool.ini", "zone");
	ck_assert_int_eq(r.error(), -ENOENT);
	ck_assert_msg(contains(r.message(), "/nonexistent/memorypool.ini"), "%s", r.message().c_str());
	ck_assert(!*r);				/* a failed result holds an empty value */
	auto adopted = shmdev::config(tu_zone_conf(ctx.native()));
	ck_assert_uint_eq(adopted.self()->base_key, tu_key(0));
}
END_TEST

/* ---- pool: objects ------------------------------------------------------------ */

START_TEST(test_alloc_get_free)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);

	auto r = pool.alloc<Item>();
	ck_assert_msg(r.has_value(), "%s", r.message().c_str());
	shmdev::ref<Item> it = *r;
	ck_assert(it && it.handle && !it.created);
	ck_assert_uint_eq(it->stamp, 0);		/* zeroed */
	it->stamp = 42;
	(*it).n = 7;
	ck_assert_ptr_eq(pool.get(it.handle), it.ptr);
	ck_assert_ptr_eq(shmdev_get(pool.native(), it.handle.raw()), it.ptr); /* the same bits */
	ck_assert_uint_eq(it.handle.type_id(), TU_ITEM);
	ck_assert(pool.handle_of(it.ptr) == it.handle);
	shmdev_type_stats st = pool.type_stats<Item>().value();
	ck_assert_uint_eq(st.live_count, 1);
	ck_assert_str_eq(st.name, "Item");

	ck_assert(pool.free(it.handle).has_value());
	ck_assert_ptr_null(pool.get(it.handle));	/* stale: empty */
	ck_assert(!pool.handle_of(it.ptr));
	auto again = pool.free(it.handle);
	ck_assert_int_eq(again.error(), -ESTALE);
	ck_assert_msg(!again.message().empty(), "a stale free has a message");
	ck_assert_ptr_null(pool.get(shmdev::handle<Item>()));

	/* alloc_raw: the slot's old bytes (LIFO gives the same slot back). */
	auto raw = pool.alloc_raw<Item>().value();
	ck_assert_ptr_eq(raw.ptr, it.ptr);
	ck_assert_uint_eq(raw->stamp, 42);
	ck_assert(raw.handle != it.handle);
	ck_assert_ptr_null(pool.get(it.handle));
	ck_assert_ptr_eq(pool.get(raw.handle), raw.ptr);
	ck_assert(pool.check().has_value());
}
END_TEST

/*
 * pool::fast<T>(): the inline get gives what pool::get gives for every
 * handle (live, freed, none, junk, another type's bits), and reaches the
 * slots a max_count raise put past the first chunk; the inline find gives
 * what pool::find gives for present, freed and absent keys.
 */
START_TEST(test_fast_path)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	std::vector<shmdev::handle<Item>> hs;

	{
		shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
		auto f = pool.fast<Item>();
		ck_assert_msg(f.has_value(), "%s", f.message().c_str());
		auto ghost = pool.fast<Ghost>();	/* registered, not in this pool */
		ck_assert_int_eq(ghost.error(), -ENOENT);
		ck_assert_msg(!ghost.message().empty(), "a failed fast<T>() has a message");

		for (int i = 0; i < 100; i++)
			hs.push_back(pool.alloc<Item>().value().handle);
		ck_assert(!pool.alloc<Item>().has_value());	/* full */
		for (std::size_t i = 0; i < hs.size(); i += 2)
			ck_assert(pool.free(hs[i]).has_value());
		for (std::size_t i = 0; i < hs.size(); i++) {
			ck_assert_ptr_eq(f->get(hs[i]), pool.get(hs[i]));
			if (i % 2)
				ck_assert_ptr_nonnull(f->get(hs[i]));
			else
				ck_assert_ptr_null(f->get(hs[i]));
		}
		auto p = pool.force_get<Player>(9).value();
		ck_assert_ptr_null(f->get(shmdev::handle<Item>::from_raw(p.handle.raw())));
		ck_assert_ptr_null(f->get(shmdev::handle<Item>()));
		ck_assert_ptr_null(f->get(shmdev::handle<Item>::from_raw(~0ULL)));
		ck_assert_ptr_null(shmdev::fast_path<Item>().get(hs[1]));
		ck_assert_ptr_eq(pool.fast<Player>().value().get(p.handle), p.ptr);
		/* The inline find gives what pool::find gives, found or not. */
		auto pf = pool.fast<Player>().value();
		for (std::uint64_t k = 1; k <= 30; k++)
			if (k % 3)
				(void)pool.force_get<Player>(k).value();
		ck_assert(pool.free(pool.find<Player>(4).handle).has_value());
		for (std::uint64_t k = 0; k <= 40; k++) {
			auto a = pf.find(k), b = pool.find<Player>(k);

			ck_assert_ptr_eq(a.ptr, b.ptr);
			ck_assert_uint_eq(a.handle.raw(), b.handle.raw());
			ck_assert_msg((a.ptr != nullptr) == (k == 9 || (k && k <= 30 && k % 3 && k != 4)),
				      "key %llu", (unsigned long long)k);
		}
		ck_assert_ptr_null(shmdev::fast_path<Player>().find(9).ptr);
	}
	/* Raised: the new slots live past the first chunk's bound. */
	auto r = shmdev::pool::open(ctx, conf, { shmdev::type<Item>(300), shmdev::type<Player>(50) });
	ck_assert_msg(r.has_value(), "reopen: %s", r.message().c_str());
	auto f = r->fast<Item>().value();
	for (int i = 0; i < 200; i++)
		hs.push_back(r->alloc<Item>().value().handle);
	for (auto h : hs) {
		ck_assert_ptr_eq(f.get(h), r->get(h));
	}
	ck_assert_ptr_nonnull(f.get(hs.back()));
}
END_TEST

/* A handle of another type, smuggled in as raw bits, never resolves. */
/*
 * shmdev::pool_threads: two threads alloc, free and force_get at once; each
 * one's failures carry its own message (copied from its own shmdev_errmsg()).
 */
START_TEST(test_threads)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	auto r = shmdev::pool::open(ctx, conf, { shmdev::type<Item>(100), shmdev::type<Player>(50) },
				    shmdev::pool_threads);
	ck_assert_msg(r.has_value(), "open: %s", r.message().c_str());
	shmdev::pool pool = std::move(*r);
	int bad[2] = { 0, 0 };
	auto work = [&pool, &bad](unsigned int t) {
		for (unsigned int i = 0; i < (tu_quick() ? 200u : 20000u); i++) {
			auto it = pool.alloc<Item>();
			auto pl = pool.force_get<Player>(t * 10 + i % 10);

			if (!it || !pl || it->ptr->stamp != 0)
				bad[t]++;
			else
				it->ptr->stamp = t + 1;
			if (it && (it->ptr->stamp != t + 1 || !pool.free(it->handle).has_value()))
				bad[t]++;
			/* A stale handle of this thread's own slot number. */
			auto stale = pool.free(shmdev::handle<Item>::from_raw(
				(std::uint64_t)TU_ITEM << 52 | (std::uint64_t)(90 + t) << 24 | 5));
			std::string want = "slot " + std::to_string(90 + t) + ",";
			if (stale.error() != -ESTALE || !contains(stale.message(), want.c_str()))
				bad[t]++;
		}
	};
	std::thread a(work, 0u), b(work, 1u);
	a.join();
	b.join();
	ck_assert_int_eq(bad[0] + bad[1], 0);
	ck_assert_uint_eq(pool.type_stats<Item>().value().live_count, 0);
	ck_assert_uint_eq(pool.type_stats<Player>().value().live_count, 20);
	ck_assert(pool.check().has_value());
}
END_TEST

START_TEST(test_wrong_type_at_runtime)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
	auto p = pool.force_get<Player>(5).value();
	auto wrong = shmdev::handle<Item>::from_raw(p.handle.raw());

	ck_assert_ptr_null(pool.get(wrong));
	auto r = pool.free(wrong);
	ck_assert_int_eq(r.error(), -EINVAL);
	ck_assert_msg(contains(r.message(), "Player") && contains(r.message(), "nothing freed"),
		      "message: %s", r.message().c_str());
	ck_assert_ptr_eq(pool.get(p.handle), p.ptr);	/* still alive */
	ck_assert(!pool.handle_of(reinterpret_cast<const Item *>(p.ptr)));
	ck_assert(pool.handle_of(p.ptr) == p.handle);
	/* Junk bits: nothing. */
	ck_assert_ptr_null(pool.get(shmdev::handle<Player>::from_raw(~0ULL)));
	ck_assert_int_eq(pool.free(shmdev::handle<Player>::from_raw(~0ULL)).error(), -EINVAL);
}
END_TEST

START_TEST(test_keyed)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);

	ck_assert(!pool.find<Player>(9));
	auto a = pool.force_get<Player>(9).value();
	ck_assert(a.created && a.ptr && a->id == 0);
	a->id = 9;
	auto b = pool.force_get<Player>(9).value();
	ck_assert(!b.created && b.ptr == a.ptr && b.handle == a.handle);
	auto f = pool.find<Player>(9);
	ck_assert(f && f.ptr == a.ptr && f.handle == a.handle && !f.created);
	ck_assert(pool.free(f.handle).has_value());
	ck_assert(!pool.find<Player>(9));
	ck_assert_ptr_null(pool.get(a.handle));

	/* Full: the 51st player. */
	for (std::uint64_t k = 100; k < 150; k++)
		ck_assert(pool.force_get<Player>(k).has_value());
	auto full = pool.force_get<Player>(150);
	ck_assert_int_eq(full.error(), -ENOSPC);
	ck_assert(!full->ptr);
	/* A type that is not in the layout. */
	ck_assert(!pool.find<Ghost>(1));
	ck_assert(!pool.force_get<Ghost>(1));
}
END_TEST

START_TEST(test_for_each)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
	std::vector<shmdev::handle<Item>> hs;
	std::uint64_t sum = 0;
	int seen = 0;

	for (int i = 1; i <= 10; i++) {
		auto it = pool.alloc<Item>().value();
		it->stamp = (std::uint64_t)i;
		hs.push_back(it.handle);
	}
	/* (T &, handle<T>) returning void: every object, in slot order. */
	auto all = pool.for_each<Item>([&](Item &it, shmdev::handle<Item> h) {
		ck_assert(h == hs[(std::size_t)seen]);
		ck_assert_ptr_eq(pool.get(h), &it);
		sum += it.stamp;
		seen++;
	});
	ck_assert(all.has_value() && all.value());
	ck_assert_int_eq(seen, 10);
	ck_assert_uint_eq(sum, 55);

	/* (T &) returning bool: false stops. */
	seen = 0;
	auto stopped = pool.for_each<Item>([&](Item &) { return ++seen < 3; });
	ck_assert(stopped.has_value() && !stopped.value());
	ck_assert_int_eq(seen, 3);

	/* The function may free the object it is given. */
	auto freed = pool.for_each<Item>([&](Item &it, shmdev::handle<Item> h) {
		if (it.stamp % 2)
			ck_assert(pool.free(h).has_value());
	});
	ck_assert(freed.value());
	ck_assert_uint_eq(pool.type_stats<Item>()->live_count, 5);

	/* A const function object works too. */
	const auto count = [&seen](const Item &) { seen++; };
	seen = 0;
	ck_assert(pool.for_each<Item>(count).value());
	ck_assert_int_eq(seen, 5);

	/* A type not in the layout: the library's error. */
	auto ghost = pool.for_each<Ghost>([](Ghost &) {});
	ck_assert_int_eq(ghost.error(), -ENOENT);
	ck_assert_msg(contains(ghost.message(), "not in the layout"), "%s", ghost.message().c_str());
}
END_TEST

/* ---- pool: errors ----------------------------------------------------------- */

START_TEST(test_error_codes)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);

	for (int i = 0; i < 100; i++)
		ck_assert(pool.alloc<Item>().has_value());
	auto r = pool.alloc<Item>();
	ck_assert(!r.has_value() && !r);
	ck_assert_int_eq(r.error(), -ENOSPC);
	ck_assert(r.error_code() == std::errc::no_space_on_device);
	ck_assert_msg(contains(r.message(), "Item") || contains(r.message(), "type 0"),
		      "message: %s", r.message().c_str());
	ck_assert_ptr_null(r->ptr);
	auto fallback = shmdev::ref<Item>();
	ck_assert_ptr_null(r.value_or(fallback).ptr);
	ck_assert_uint_eq(pool.type_stats<Ghost>().error(), -ENOENT);
	ck_assert_int_eq(pool.block_stats(99).error(), -ENOENT);
	ck_assert(pool.block_stats(0).has_value());
	ck_assert_uint_eq(pool.block_stats(0)->key, tu_key(1));

	/* The const accessors, and the type's stats by its id. */
	const auto st = pool.type_stats(TU_ITEM);
	ck_assert_uint_eq(st.value().live_count, 100);
	ck_assert_uint_eq((*st).max_count, 100);
	ck_assert_uint_eq(st->id, TU_ITEM);
	ck_assert_uint_eq(st.value_or(shmdev_type_stats{}).live_count, 100);
	const auto &cr = r;
	ck_assert(!cr && !cr.has_value() && cr.error() == -ENOSPC && !cr->ptr && !(*cr).ptr);

	/* Success carries no message and no error. */
	auto ok = pool.find<Player>(1);
	ck_assert(!ok);
	shmdev::result<void> fine;
	ck_assert(fine.has_value() && fine.error() == 0 && fine.message().empty());
	ck_assert(!fine.error_code());
}
END_TEST

START_TEST(test_open_errors)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool first = zone_open(ctx, conf, SHMDEV_START_CREATED);

	/* Another owner while the first holds it. */
	auto busy = shmdev::pool::open(ctx, conf, { shmdev::type<Item>(100) });
	ck_assert_int_eq(busy.error(), -EBUSY);
	ck_assert(!busy->native());
	ck_assert(first.close().has_value());
	ck_assert(!first);

	/* A changed type is refused, naming it; nothing changes. */
	auto changed = shmdev::pool::open(ctx, conf, { shmdev::type<v2::Item>(100) });
	ck_assert_int_eq(changed.error(), -EINVAL);
	ck_assert_msg(contains(changed.message(), "Item") && contains(changed.message(), "version"),
		      "message: %s", changed.message().c_str());
	shmdev::pool again = zone_open(ctx, conf, SHMDEV_START_RESUMED_CLEAN);
	ck_assert(again.check().has_value());

	/* Read-only, without types, next to the owner. */
	auto ro = shmdev::pool::open(ctx, conf, std::vector<shmdev::type_spec>(), SHMDEV_POOL_RDONLY);
	ck_assert_msg(ro.has_value(), "%s", ro.message().c_str());
	ck_assert_int_eq(ro->start(), SHMDEV_START_RESUMED);
}
END_TEST

#if SHMDEV_HPP_EXCEPTIONS
START_TEST(test_exceptions)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
	auto h = pool.alloc<Item>().value().handle;
	bool caught = false;

	ck_assert(pool.free(h).has_value());
	try {
		pool.free(h).value();
	} catch (const shmdev::error &e) {
		caught = true;
		ck_assert_int_eq(e.errnum(), -ESTALE);
		ck_assert(e.code() == std::error_code(ESTALE, std::generic_category()));
		ck_assert_msg(contains(e.what(), "0x"), "what: %s", e.what());
	}
	ck_assert(caught);

	caught = false;
	try {
		(void)shmdev::config::load(ctx, "/nonexistent/x.ini", "zone").value();
	} catch (const std::system_error &e) {	/* as the standard type */
		caught = true;
		ck_assert(e.code() == std::errc::no_such_file_or_directory);
		ck_assert_msg(contains(e.what(), "/nonexistent/x.ini"), "what: %s", e.what());
	}
	ck_assert(caught);

	/* An exception from a for_each function crosses no C frame: rethrown. */
	for (int i = 0; i < 4; i++)
		(void)pool.alloc<Item>().value();
	int seen = 0;
	caught = false;
	try {
		(void)pool.for_each<Item>([&](Item &) {
			if (++seen == 2)
				throw std::runtime_error("stop here");
		});
	} catch (const std::runtime_error &e) {
		caught = true;
		ck_assert_str_eq(e.what(), "stop here");
	}
	ck_assert(caught);
	ck_assert_int_eq(seen, 2);
	ck_assert(pool.check().has_value());
}
END_TEST
#else
/* Without exceptions, value() of a failure aborts with the message. */
START_TEST(test_value_aborts)
{
	shmdev::context ctx = new_ctx();

	(void)shmdev::config::load(ctx, "/nonexistent/x.ini", "zone").value();
	ck_abort_msg("value() of a failed result returned");
}
END_TEST

START_TEST(test_void_value_aborts)
{
	shmdev::result<void> r(shmdev::failure, -ESTALE, nullptr);

	r.value();
	ck_abort_msg("value() of a failed result<void> returned");
}
END_TEST
#endif

/* ---- ownership: RAII and moves ------------------------------------------------ */

START_TEST(test_raii_close_resumes_clean)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::handle<Item> h;

	{
		shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
		auto it = pool.alloc<Item>().value();
		it->stamp = 99;
		h = it.handle;
	}	/* closed here, cleanly */
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_ptr_nonnull(pool.get(h));
	ck_assert_uint_eq(pool.get(h)->stamp, 99);
	ck_assert(pool.check().has_value());
}
END_TEST

START_TEST(test_abandon_resumes_crash)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev::handle<Player> h;

	{
		shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
		h = pool.force_get<Player>(3).value().handle;
		pool.abandon();
		ck_assert(!pool);
		pool.abandon();			/* twice: nothing */
		ck_assert(pool.close().has_value());
	}
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_RESUMED_CRASH);
	ck_assert(pool.find<Player>(3).handle == h);
	ck_assert_uint_eq(pool.stats().repaired_objects, 1);
	ck_assert_uint_eq(pool.stats().start, SHMDEV_START_RESUMED_CRASH);
}
END_TEST

START_TEST(test_pool_moves)
{
	shmdev::context ctx = new_ctx();
	shmdev::config c0 = zone_conf(ctx, 0), c1 = zone_conf(ctx, 10);
	shmdev::pool a = zone_open(ctx, c0, SHMDEV_START_CREATED);
	shmdev_pool *raw = a.native();
	auto h = a.alloc<Item>().value().handle;

	shmdev::pool b(std::move(a));		/* move-construct: b owns it */
	ck_assert(!a && !a.native() && b.native() == raw);
	ck_assert_ptr_null(a.get(h));		/* an empty pool resolves nothing */
	ck_assert(a.close().has_value());	/* and closes as a no-op */
	ck_assert_ptr_nonnull(b.get(h));
	b = std::move(b);			/* self-move keeps it */
	ck_assert(b.native() == raw);

	/* Move-assign over an open pool closes that one cleanly first. */
	b = shmdev::pool::open(ctx, c1, { shmdev::type<Item>(100) }).value();
	ck_assert(b.native() != raw);
	shmdev::pool back = zone_open(ctx, c0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_ptr_nonnull(back.get(h));
}
END_TEST

/* The pool holds its own reference: the context object may go first. */
START_TEST(test_pool_outlives_context)
{
	shmdev::pool pool;
	shmdev::handle<Item> h;

	{
		shmdev::context ctx = new_ctx();
		shmdev::config conf = zone_conf(ctx);
		pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
		h = pool.alloc<Item>().value().handle;
	}
	ck_assert(pool.free(h).has_value());
	auto r = pool.free(h);
	ck_assert_int_eq(r.error(), -ESTALE);
	ck_assert(!r.message().empty());
	ck_assert(pool.close().has_value());
}
END_TEST

START_TEST(test_destroy)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);

	{
		shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
		(void)pool.alloc<Item>().value();
	}
	ck_assert(shmdev::pool::destroy(ctx, conf).has_value());
	ck_assert_int_eq(shmdev::pool::destroy(ctx, conf).error(), -ENOENT);
	shmdev::pool pool = zone_open(ctx, conf, SHMDEV_START_CREATED);
	ck_assert_uint_eq(pool.type_stats<Item>()->live_count, 0);
	ck_assert_uint_gt(pool.stats().generation, 0);
}
END_TEST

/* ---- transactions (shmdev::transaction) ------------------------------------ */

struct Holder {
	shmdev::handle<Item> item;
	std::uint64_t n;
};
SHMDEV_TYPE(Holder, 5, "Holder", 1, shmdev::plain);

START_TEST(test_transaction)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	auto op = shmdev::pool::open(ctx, conf, { shmdev::type<Item>(100), shmdev::type<Player>(50),
						  shmdev::type<Holder>(4) });
	ck_assert_msg(op.has_value(), "%s", op.message().c_str());
	shmdev::pool pool = std::move(*op);
	auto a = pool.force_get<Player>(1).value(), b = pool.force_get<Player>(2).value();
	shmdev::handle<Item> made;

	a->gold = b->gold = 100;
	{
		/* Left without commit: the destructor aborts. */
		auto tx = pool.begin().value();
		ck_assert(tx && shmdev_tx_active(pool.native()));
		ck_assert_int_eq(pool.begin().error(), -EBUSY);	/* no nesting, tx still open */
		ck_assert(tx.add(a.ptr).has_value() && tx.add(&b->gold).has_value());
		a->gold -= 30;
		b->gold += 30;
		made = tx.alloc<Item>().value().handle;
		ck_assert_ptr_nonnull(pool.get(made));
		std::uint64_t local = 0;
		auto bad = tx.add(&local);
		ck_assert_int_eq(bad.error(), -EINVAL);
		ck_assert(contains(bad.message(), "not inside one live object"));
	}
	ck_assert(!shmdev_tx_active(pool.native()));
	ck_assert_uint_eq(a->gold, 100);
	ck_assert_uint_eq(b->gold, 100);
	ck_assert_ptr_null(pool.get(made));

	auto tx = pool.begin().value();
	ck_assert(tx.add(&a->gold).has_value() && tx.add(&b->gold).has_value());
	a->gold -= 30;
	b->gold += 30;
	auto it = tx.alloc<Item>().value();
	ck_assert(tx.free(a.handle).has_value());
	ck_assert(tx.commit().has_value());
	ck_assert(!tx);
	ck_assert_int_eq(tx.commit().error(), -ENOENT);
	ck_assert_uint_eq(b->gold, 130);
	ck_assert_ptr_eq(pool.get(it.handle), it.ptr);
	ck_assert(!pool.find<Player>(1));		/* freed at the commit */

	/* Atomic publish into a field of another object. */
	auto h = pool.alloc<Holder>().value();
	auto pub = pool.alloc_publish<Item>(&h->item, [](Item &i) { i.stamp = 9; });
	ck_assert_msg(pub.has_value(), "%s", pub.message().c_str());
	ck_assert(h->item == pub->handle);
	ck_assert_uint_eq(pool.get(h->item)->stamp, 9);
	auto cancelled = pool.alloc_publish<Item>(&h->item, [](Item &) { return -ECANCELED; });
	ck_assert_int_eq(cancelled.error(), -ECANCELED);
	ck_assert(h->item == pub->handle);		/* as it was */
	ck_assert_uint_eq(pool.type_stats<Item>().value().live_count, 2);
	ck_assert(pool.check().has_value());
}
END_TEST

#include "fields_cases.hpp"

static Suite *cpp_suite(void)
{
	Suite *s = suite_create(SHMDEV_HPP_EXCEPTIONS ? "cpp" : "cpp_noexc");
	TCase *tc = tcase_create("core");
	/* valgrind and a loaded 2-core machine: Check's 4 s default is too tight */
	tcase_set_timeout(tc, 120);

	tcase_add_checked_fixture(tc, tu_destroy_all, tu_destroy_all);
	tcase_add_test(tc, test_type_description);
	tcase_add_test(tc, test_handle_value);
	tcase_add_test(tc, test_context);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_alloc_get_free);
	tcase_add_test(tc, test_fast_path);
	tcase_add_test(tc, test_wrong_type_at_runtime);
	tcase_add_test(tc, test_keyed);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_for_each);
	tcase_add_test(tc, test_error_codes);
	tcase_add_test(tc, test_open_errors);
#if SHMDEV_HPP_EXCEPTIONS
	tcase_add_test(tc, test_exceptions);
#else
	tcase_add_test_raise_signal(tc, test_value_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_void_value_aborts, SIGABRT);
#endif
	tcase_add_test(tc, test_raii_close_resumes_clean);
	tcase_add_test(tc, test_abandon_resumes_crash);
	tcase_add_test(tc, test_pool_moves);
	tcase_add_test(tc, test_pool_outlives_context);
	tcase_add_test(tc, test_destroy);
	tcase_add_test(tc, test_transaction);
	tcase_add_test(tc, test_fields_migrate);
	tcase_add_test(tc, test_converter_migrate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init(SHMDEV_HPP_EXCEPTIONS ? "cpp" : "cpp_noexc");
	return tu_run(cpp_suite());
}
