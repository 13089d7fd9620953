// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_server.cpp: the demo zone server (zone_server.c) written in C++ on
 * libshmdev/shmdev.hpp.
 *
 * The same world: the same objects (zone_types.h), type ids, names,
 * versions and capacities, the same memorypool.ini template, the same
 * checksums, the same one-entry undo journal and the same "ZONE phase=..."
 * status lines.  So the C and the C++ server can take over each other's
 * pool, after a clean stop or a kill -9 (tests/cpp/test_zone_cpp.cpp proves
 * both ways).  What C++ changes:
 *  - handles are typed (shmdev::handle<player>, handle<item>): an item
 *    handle cannot be passed where a player is expected; a raw handle read
 *    from the C struct comes in through handle<T>::from_raw() and every
 *    lookup checks its type;
 *  - the types register from the structs (SHMDEV_TYPE, sizeof/alignof);
 *  - the context, config and pool close themselves; errors travel as
 *    shmdev::result with the library's message.  It is written without
 *    exceptions and built with -fno-exceptions (examples/build.mk), as
 *    many game servers are.
 *
 * It is the v1 build only (ZoneState, Player, Item, Scene); a Guild type
 * that a v2 C server added is kept and checked, as the C v1 server does.
 */
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <getopt.h>
#include <sstream>
#include <string>
#include <vector>

#include "shmdev.hpp"
#include "zone_tmpl.h"	/* zone_tmpl[]: examples/zone.ini.tmpl, built in */
#include "zone_types.h"	/* the objects and their checksums */
#include "zone_options.hpp"	/* struct options, usage(), parse_args() */

#ifndef ZONE_MAIN
#define ZONE_MAIN main
#endif
#define BUILD_NAME "cpp"

/* The objects, registered from the structs: as zone_server.c describes them. */
SHMDEV_TYPE(zone_state, T_ZONE, "ZoneState", 1, shmdev::keyed);
SHMDEV_TYPE(player, T_PLAYER, "Player", 1, shmdev::keyed);
SHMDEV_TYPE(item, T_ITEM, "Item", 1, shmdev::plain);
SHMDEV_TYPE(scene, T_SCENE, "Scene", 1, shmdev::keyed);
SHMDEV_TYPE(guild, T_GUILD, "Guild", 1, shmdev::keyed);

namespace {

using status_t = shmdev::result<void>;

status_t failed(int err)
{
	return status_t(shmdev::failure, err, nullptr);
}

/* ---- options and server state ------------------------------------------ */

struct counts {
	std::uint64_t objects = 0, bad_sums = 0, dangling = 0, orphans = 0, halfmade = 0;
};

volatile std::sig_atomic_t stop_requested;

void on_stop(int)
{
	stop_requested = 1;
}

std::uint64_t now_ns(clockid_t clk)
{
	timespec ts;

	clock_gettime(clk, &ts);
	return (std::uint64_t)ts.tv_sec * 1000000000ULL + (std::uint64_t)ts.tv_nsec;
}

std::uint64_t mono_ns()
{
	return now_ns(CLOCK_MONOTONIC);
}

__attribute__((format(printf, 1, 2))) void status(const char *fmt, ...)
{
	va_list ap;

	std::fputs("ZONE ", stdout);
	va_start(ap, fmt);
	std::vprintf(fmt, ap);
	va_end(ap);
	std::fputc('\n', stdout);
	std::fflush(stdout);
}

const char *start_name(shmdev_start st)
{
	switch (st) {
	case SHMDEV_START_CREATED: return "cold";
	case SHMDEV_START_RESUMED_CLEAN: return "clean";
	case SHMDEV_START_RESUMED_CRASH: return "crash";
	case SHMDEV_START_RESUMED: return "resumed";
	}
	return "unknown";
}

const char *kind_name(std::uint32_t state, std::uint32_t kind)
{
	if (!state)
		return "none";
	switch (kind) {
	case J_UPDATE: return "update";
	case J_ACCESS: return "access";
	case J_LOGOUT: return "logout";
	default: return "unknown";
	}
}

/* The item handle in a player's slot: raw bits of the C struct, typed here. */
shmdev::handle<item> item_at(const player &p, int slot)
{
	return shmdev::handle<item>::from_raw(p.items[slot]);
}

class server {
public:
	explicit server(const options &o) : opt_(o), rng_(o.seed | 1) {}

	int main();
	/* Leave the pool as a crash does (see ZONE_MAIN). */
	void abandon() { pool_.abandon(); }

private:
	/* ---- helpers ---- */
	std::uint64_t rnd()
	{
		/* xorshift64*, as zone_server.c */
		rng_ ^= rng_ >> 12;
		rng_ ^= rng_ << 25;
		rng_ ^= rng_ >> 27;
		return rng_ * 0x2545f4914f6cdd1dULL;
	}
	std::uint64_t rnd_below(std::uint64_t n) { return n ? rnd() % n : 0; }

	template <class T>
	std::uint64_t live() const
	{
		auto st = pool_.type_stats<T>();
		return st ? st->live_count : 0;
	}
	std::uint64_t live_objects() const
	{
		return live<player>() + live<item>() + live<scene>() + live<guild>();
	}

	void fail_status(const char *phase, const status_t &r) const
	{
		status("phase=%s errno=%d build=%s error=%s", phase, -r.error(), BUILD_NAME,
		       r.message().c_str());
	}

	/* ---- the journal: see zone_server.c ---- */
	template <class T>
	void journal_begin(journal_kind kind, std::uint64_t key, shmdev::handle<T> target,
			   const T *obj)
	{
		zs_->op_kind = kind;
		zs_->op_type = shmdev::type_traits<T>::id;
		zs_->op_key = key;
		zs_->op_target = target.raw();
		zs_->image_size = obj ? (std::uint32_t)sizeof(T) : 0;
		if (obj)
			std::memcpy(zs_->image, obj, sizeof(T));
		__atomic_store_n(&zs_->op_state, 1, __ATOMIC_RELEASE);
	}
	void journal_end() { __atomic_store_n(&zs_->op_state, 0, __ATOMIC_RELEASE); }

	/* ---- objects ---- */
	void player_init(player &p, std::uint64_t id);
	shmdev::result<shmdev::ref<player>> player_access(std::uint64_t id);
	status_t item_pickup(shmdev::ref<player> p);
	status_t item_drop(shmdev::ref<player> p, int slot);
	status_t player_logout(shmdev::ref<player> p);

	/* ---- the tick ---- */
	std::uint64_t random_player_id() { return PLAYER_ID_BASE + 1 + rnd_below(opt_.players); }
	status_t op_player_action();
	status_t op_item(unsigned int what);
	status_t op_scene();
	status_t op_logout();
	status_t do_op();
	status_t run_tick();

	/* ---- start-up, verification, repair ---- */
	status_t load_conf();
	std::vector<shmdev::type_spec> types() const;
	status_t open_pool();
	status_t populate();
	status_t verify(bool fix, counts &c);
	status_t recover(counts &c, std::uint64_t &undone);
	status_t run();

	options opt_;
	std::uint64_t rng_;
	std::uint64_t t0_ = mono_ns();
	shmdev::context ctx_;
	shmdev::config conf_;
	shmdev::pool pool_;
	zone_state *zs_ = nullptr;
};

void server::player_init(player &p, std::uint64_t id)
{
	p.id = id;
	p.scene = 1 + rnd_below(opt_.scenes);
	p.level = 1 + (std::uint32_t)rnd_below(60);
	p.hp = p.mp = 100 * p.level;
	p.gold = rnd_below(10000);
	p.login_tick = zs_->ticks;
	p.x = (std::int32_t)rnd_below(4096);
	p.y = (std::int32_t)rnd_below(4096);
	std::snprintf(p.name, sizeof(p.name), "hero%" PRIu64, id - PLAYER_ID_BASE);
	seal(&p, T_PLAYER);
}

/* Log in (or look up) player @id: ForceGetObj. */
shmdev::result<shmdev::ref<player>> server::player_access(std::uint64_t id)
{
	journal_begin<player>(J_ACCESS, id, {}, nullptr);
	auto r = pool_.force_get<player>(id);
	if (r && r->created)
		player_init(**r, id);
	journal_end();
	return r;
}

/* Give player @p a new item.  -ENOSPC if it or the pool is full. */
status_t server::item_pickup(shmdev::ref<player> p)
{
	int slot = -1;

	for (int i = 0; i < ITEMS_PER_PLAYER && slot < 0; i++)
		if (!p->items[i])
			slot = i;
	if (slot < 0)
		return failed(-ENOSPC);
	journal_begin(J_UPDATE, p->id, p.handle, p.ptr);
	auto r = pool_.alloc<item>();
	if (!r) {
		journal_end();
		return status_t(shmdev::failure, r.error(), std::make_unique<std::string>(r.message()));
	}
	item &it = **r;
	it.owner = p->id;
	it.slot = (std::uint32_t)slot;
	it.kind = 1 + (std::uint32_t)rnd_below(500);
	it.count = 1 + (std::uint32_t)rnd_below(20);
	it.durability = 100;
	it.created_tick = zs_->ticks;
	it.serial = ++zs_->item_serial;
	seal(&it, T_ITEM);
	p->items[slot] = r->handle.raw();
	p->actions++;
	seal(p.ptr, T_PLAYER);
	journal_end();
	return {};
}

/* Player @p drops its item in @slot: the player changes, then the item goes. */
status_t server::item_drop(shmdev::ref<player> p, int slot)
{
	shmdev::handle<item> ih = item_at(*p, slot);

	journal_begin(J_UPDATE, p->id, p.handle, p.ptr);
	p->items[slot] = SHMDEV_HANDLE_NONE;
	p->actions++;
	seal(p.ptr, T_PLAYER);
	journal_end();
	/* A crash here leaves an item nobody owns: recover() frees it. */
	return pool_.free(ih);
}

status_t server::player_logout(shmdev::ref<player> p)
{
	journal_begin<player>(J_LOGOUT, p->id, p.handle, nullptr);
	for (int i = 0; i < ITEMS_PER_PLAYER; i++)
		if (p->items[i]) {
			if (auto r = pool_.free(item_at(*p, i)); !r)
				return r;
			p->items[i] = SHMDEV_HANDLE_NONE;
		}
	auto r = pool_.free(p.handle);
	journal_end();
	return r;
}

status_t server::op_player_action()
{
	auto r = player_access(random_player_id());

	if (!r)
		return status_t(shmdev::failure, r.error(), std::make_unique<std::string>(r.message()));
	if (r->created)
		return {};
	player &p = **r;
	journal_begin(J_UPDATE, p.id, r->handle, &p);
	p.x += (std::int32_t)rnd_below(9) - 4;
	p.y += (std::int32_t)rnd_below(9) - 4;
	p.exp += rnd_below(100);
	p.gold += rnd_below(10);
	p.hp = p.hp > 5 ? p.hp - (std::uint32_t)rnd_below(5) : 100 * p.level;
	if (rnd_below(50) == 0)
		p.scene = 1 + rnd_below(opt_.scenes);
	p.actions++;
	seal(&p, T_PLAYER);
	journal_end();
	return {};
}

status_t server::op_item(unsigned int what)
{
	std::uint64_t id = random_player_id();
	auto p = pool_.find<player>(id);
	int slot = -1;

	if (!p)
		return {};
	if (what == 0) {	/* pick up */
		auto r = item_pickup(p);
		return r.error() == -ENOSPC ? status_t() : std::move(r);
	}
	for (int i = 0; i < ITEMS_PER_PLAYER; i++)
		if (p->items[(i + (int)id) % ITEMS_PER_PLAYER]) {
			slot = (i + (int)id) % ITEMS_PER_PLAYER;
			break;
		}
	if (slot < 0)
		return {};
	if (what == 1)
		return item_drop(p, slot);
	shmdev::handle<item> ih = item_at(*p, slot);
	item *it = pool_.get(ih);
	if (!it)
		return failed(-ESTALE);
	journal_begin(J_UPDATE, id, ih, it);
	it->durability = it->durability ? it->durability - 1 : 100;
	it->count += 1;
	seal(it, T_ITEM);
	journal_end();
	return {};
}

status_t server::op_scene()
{
	std::uint64_t id = 1 + rnd_below(opt_.scenes);
	auto sc = pool_.find<scene>(id);

	if (!sc)
		return {};
	journal_begin(J_UPDATE, id, sc.handle, sc.ptr);
	sc->updates++;
	sc->wave++;
	sc->weather = (std::uint32_t)rnd_below(8);
	for (auto &m : sc->monsters)
		m = m * 3 + 1 + (std::uint32_t)rnd_below(3);
	seal(sc.ptr, T_SCENE);
	journal_end();
	return {};
}

status_t server::op_logout()
{
	auto p = pool_.find<player>(random_player_id());

	return p ? player_logout(p) : status_t();
}

status_t server::do_op()
{
	std::uint64_t r = rnd_below(1000);

	if (r < 700)
		return op_player_action();
	if (r < 740)
		return op_item(0);
	if (r < 780)
		return op_item(1);
	if (r < 960)
		return op_item(2);
	if (r < 970)
		return op_scene();
	if (r < 980)
		return op_logout();
	return op_player_action();	/* the v2 build's guild op */
}

status_t server::run_tick()
{
	__atomic_store_n(&zs_->tick_active, zs_->ticks + 1, __ATOMIC_RELEASE);
	for (std::uint64_t i = 0; i < zs_->ops_per_tick; i++) {
		zs_->op_index = i;
		if (auto r = do_op(); !r) {
			status("phase=error tick=%" PRIu64 " op=%" PRIu64 " errno=%d error=%s: %s",
			       zs_->ticks + 1, i, -r.error(), std::strerror(-r.error()),
			       r.message().c_str());
			return r;
		}
	}
	zs_->ticks++;
	__atomic_store_n(&zs_->tick_active, 0, __ATOMIC_RELEASE);
	return {};
}

/* ---- verification and repair ------------------------------------------------ */

/* Check every object; with @fix, free the items nobody owns. */
status_t server::verify(bool fix, counts &c)
{
	status_t err;

	c = counts();
	/* Items first: a freed orphan must not count as a player's dangling ref. */
	auto items = pool_.for_each<item>([&](item &it, shmdev::handle<item> h) {
		auto p = pool_.find<player>(it.owner);
		if (!(p && it.slot < ITEMS_PER_PLAYER && item_at(*p, (int)it.slot) == h)) {
			/* Picked up or dropped when the crash came: nobody has it. */
			c.orphans++;
			if (fix && !(err = pool_.free(h)))
				return false;
			return true;
		}
		c.objects++;
		if (!sealed(&it, T_ITEM))
			c.bad_sums++;
		return true;
	});
	if (!err)
		return err;
	if (!items)
		return status_t(shmdev::failure, items.error(), std::make_unique<std::string>(items.message()));
	auto players = pool_.for_each<player>([&](player &p) {
		c.objects++;
		if (!sealed(&p, T_PLAYER)) {
			c.bad_sums++;
			return;
		}
		for (int i = 0; i < ITEMS_PER_PLAYER; i++) {
			if (!p.items[i])
				continue;
			/* Typed: a handle of another type in items[] is dangling too. */
			item *it = pool_.get(item_at(p, i));
			if (!it || it->owner != p.id || it->slot != (std::uint32_t)i)
				c.dangling++;
		}
	});
	if (!players)
		return status_t(shmdev::failure, players.error(), std::make_unique<std::string>(players.message()));
	auto plain = [&](auto &obj, unsigned int type) {
		c.objects++;
		if (!sealed(&obj, type))
			c.bad_sums++;
	};
	if (pool_.type_stats<scene>())
		(void)pool_.for_each<scene>([&](scene &o) { plain(o, T_SCENE); });
	if (pool_.type_stats<guild>())	/* a v2 pool's */
		(void)pool_.for_each<guild>([&](guild &o) { plain(o, T_GUILD); });
	return {};
}

/*
 * After a crash: undo (or finish) the journaled change, then one pass over
 * everything frees the items nobody owns and checks every checksum.
 */
status_t server::recover(counts &c, std::uint64_t &undone)
{
	zone_state *zs = zs_;

	undone = 0;
	if (zs->op_state) {
		switch (zs->op_kind) {
		case J_UPDATE: {
			/* The raw target of the journal, typed by the journal's type. */
			void *obj = shmdev_get_typed(pool_.native(), (std::uint16_t)zs->op_type,
						     zs->op_target);
			if (obj && zs->image_size == type_size(zs->op_type)) {
				std::memcpy(obj, zs->image, zs->image_size);
				undone++;
			}
			break;
		}
		case J_ACCESS: {
			/* A new object that its creator did not finish goes. */
			shmdev_handle_t h = SHMDEV_HANDLE_NONE;
			void *obj = shmdev_find(pool_.native(), (std::uint16_t)zs->op_type,
						zs->op_key, &h);
			if (obj && !sealed(obj, zs->op_type)) {
				if (int e = shmdev_free(pool_.native(), h))
					return status_t(shmdev::failure, e, ctx_.native());
				c.halfmade++;
				undone++;
			}
			break;
		}
		case J_LOGOUT: {
			auto p = pool_.find<player>(zs->op_key);
			if (p) {
				/* Its items go by the orphan pass. */
				for (auto &ih : p->items)
					ih = SHMDEV_HANDLE_NONE;
				if (auto r = pool_.free(p.handle); !r)
					return r;
				undone++;
			}
			break;
		}
		}
		journal_end();
	}
	zs->tick_active = 0;
	std::uint64_t halfmade = c.halfmade;
	status_t r = verify(true, c);
	c.halfmade = halfmade;
	return r;
}

/* ---- start-up ------------------------------------------------------------ */

status_t server::load_conf()
{
	if (opt_.conf) {
		auto r = shmdev::config::load(ctx_, opt_.conf, "zone");
		if (!r)
			return status_t(shmdev::failure, r.error(), std::make_unique<std::string>(r.message()));
		conf_ = std::move(*r);
		return {};
	}
	std::string text = zone_tmpl;
	if (opt_.tmpl) {
		std::ifstream f(opt_.tmpl);
		std::stringstream ss;

		if (!f) {
			int e = errno ? errno : EIO;
			std::fprintf(stderr, "zone_server: cannot open template %s: %s\n", opt_.tmpl,
				     std::strerror(e));
			return failed(-e);
		}
		ss << f.rdbuf();
		text = ss.str();
	}
	std::string world = "WORLD_ID=" + std::to_string(opt_.world);
	std::string zone = "ZONE_ID=" + std::to_string(opt_.zone);
	auto rendered = ctx_.render_template(text.c_str(),
					     opt_.tmpl ? opt_.tmpl : "zone.ini.tmpl (built in)",
					     { world.c_str(), zone.c_str() });
	if (!rendered)
		return status_t(shmdev::failure, rendered.error(),
				std::make_unique<std::string>(rendered.message()));
	auto r = shmdev::config::load_string(ctx_, rendered->c_str(),
					     opt_.tmpl ? opt_.tmpl : "zone.ini (built in)", "zone");
	if (!r)
		return status_t(shmdev::failure, r.error(), std::make_unique<std::string>(r.message()));
	conf_ = std::move(*r);
	return {};
}

std::vector<shmdev::type_spec> server::types() const
{
	return { shmdev::type<zone_state>(1), shmdev::type<player>(opt_.players),
		 shmdev::type<item>(opt_.item_cap), shmdev::type<scene>(opt_.scenes) };
}

const char *backend_name(const shmdev::config &conf)
{
	const shmdev_proc_conf *pc = conf.self();
	const char *env = std::getenv("SHMDEV_BACKEND");

	if (env && *env)
		return env;
	switch (pc ? pc->backend : SHMDEV_BACKEND_AUTO) {
	case SHMDEV_BACKEND_DEVICE: return "device";
	case SHMDEV_BACKEND_POSIX: return "posix";
	default: return "auto";
	}
}

double us_since(std::uint64_t t)
{
	return (double)(mono_ns() - t) / 1e3;
}

status_t server::open_pool()
{
	auto opened = shmdev::pool::open(ctx_, conf_, types());
	if (!opened) {
		status_t r(shmdev::failure, opened.error(), std::make_unique<std::string>(opened.message()));
		/* -EINVAL: the layout is not ours (a type changed); nothing was touched. */
		fail_status(r.error() == -EINVAL ? "refused" : "error", r);
		return r;
	}
	pool_ = std::move(*opened);
	shmdev_start start = pool_.start();
	auto ps = pool_.stats();
	std::uint64_t t_app = mono_ns();

	auto z = pool_.force_get<zone_state>(ZONE_KEY);
	if (!z) {
		status_t r(shmdev::failure, z.error(), std::make_unique<std::string>(z.message()));
		fail_status("error", r);
		return r;
	}
	zs_ = z->ptr;
	if (zs_->magic != ZONE_MAGIC) {
		/* New, or its cold start was cut short before it was initialised. */
		std::memset(zs_, 0, sizeof(*zs_));
		zs_->cold_time_ns = now_ns(CLOCK_REALTIME);
		__atomic_store_n(&zs_->magic, ZONE_MAGIC, __ATOMIC_RELEASE);
	}
	counts c;
	if (start == SHMDEV_START_RESUMED_CRASH) {
		std::uint64_t crashed_tick = zs_->tick_active, crashed_op = zs_->op_index, undone = 0;
		const char *inflight = kind_name(zs_->op_state, zs_->op_kind);

		if (auto r = recover(c, undone); !r) {
			fail_status("error", r);
			return r;
		}
		zs_->crashes++;
		status("phase=repair objects=%" PRIu64 " repair_ms=%.3f lib_repair_ms=%.3f lib_objects=%" PRIu64
		       " app_ms=%.3f crashed_tick=%" PRIu64 " crashed_op=%" PRIu64 " ops_per_tick=%" PRIu64
		       " inflight=%s undone=%" PRIu64 " halfmade=%" PRIu64 " orphans=%" PRIu64
		       " dangling=%" PRIu64 " bad_checksums=%" PRIu64,
		       c.objects, ((double)ps.repair_ns + (double)(mono_ns() - t_app)) / 1e6,
		       (double)ps.repair_ns / 1e6, ps.repaired_objects, (double)(mono_ns() - t_app) / 1e6,
		       crashed_tick, crashed_op, zs_->ops_per_tick, inflight, undone, c.halfmade,
		       c.orphans, c.dangling, c.bad_sums);
	} else if (start == SHMDEV_START_RESUMED_CLEAN) {
		zs_->clean_starts++;
	}
	status("phase=open start=%s build=%s backend=%s open_us=%.1f ready_us=%.1f generation=%" PRIu64
	       " objects=%" PRIu64 " players=%" PRIu64 " items=%" PRIu64 " scenes=%" PRIu64
	       " guilds=%" PRIu64 " ticks=%" PRIu64,
	       start_name(start), BUILD_NAME, backend_name(conf_), (double)ps.open_ns / 1e3,
	       us_since(t0_), ps.generation, live_objects(), live<player>(), live<item>(),
	       live<scene>(), live<guild>(), zs_->ticks);
	if (start == SHMDEV_START_RESUMED_CRASH && (c.bad_sums || c.dangling)) {
		status("phase=corrupt bad_checksums=%" PRIu64 " dangling=%" PRIu64, c.bad_sums, c.dangling);
		return failed(-EUCLEAN);
	}
	return {};
}

status_t server::populate()
{
	std::uint64_t t = mono_ns(), scenes = live<scene>(), players = live<player>();

	if (!scenes) {
		for (std::uint64_t id = 1; id <= opt_.scenes; id++) {
			journal_begin<scene>(J_ACCESS, id, {}, nullptr);
			auto r = pool_.force_get<scene>(id);
			if (!r) {
				status_t e(shmdev::failure, r.error(), std::make_unique<std::string>(r.message()));
				fail_status("error", e);
				return e;
			}
			if (r->created) {
				r->ptr->id = id;
				r->ptr->weather = (std::uint32_t)rnd_below(8);
				seal(r->ptr, T_SCENE);
			}
			journal_end();
		}
	}
	if (!players) {
		std::uint64_t per = opt_.items / opt_.players, extra = opt_.items % opt_.players;

		for (std::uint64_t k = 1; k <= opt_.players; k++) {
			std::uint64_t n = per + (k <= extra);
			auto p = player_access(PLAYER_ID_BASE + k);
			status_t err;

			if (!p)
				err = status_t(shmdev::failure, p.error(), std::make_unique<std::string>(p.message()));
			while (err && n-- > 0) {
				err = item_pickup(*p);
				if (err.error() == -ENOSPC) {
					err = status_t();
					break;
				}
			}
			if (!err) {
				fail_status("error", err);
				return err;
			}
		}
	}
	if (!scenes || !players)
		status("phase=populate objects=%" PRIu64 " players=%" PRIu64 " items=%" PRIu64
		       " scenes=%" PRIu64 " guilds=%" PRIu64 " ms=%.3f",
		       live_objects(), live<player>(), live<item>(), live<scene>(), live<guild>(),
		       (double)(mono_ns() - t) / 1e6);
	return {};
}

status_t server::run()
{
	std::uint64_t t_report = mono_ns(), t_ticks = t_report, ticks0 = zs_->ticks, next = t_report;
	long long n = 0;

	zs_->ops_per_tick = live_objects() * opt_.change_permille / 1000;
	if (!zs_->ops_per_tick)
		zs_->ops_per_tick = 1;
	status("phase=ticking ops_per_tick=%" PRIu64 " objects=%" PRIu64 " tick_ms=%u",
	       zs_->ops_per_tick, live_objects(), opt_.tick_ms);
	while (!stop_requested && (opt_.ticks < 0 || n < opt_.ticks)) {
		if (auto r = run_tick(); !r)
			return r;
		n++;
		if (mono_ns() - t_report >= (std::uint64_t)opt_.report_ms * 1000000ULL) {
			t_report = mono_ns();
			status("phase=running ticks=%" PRIu64 " tick_us=%.1f objects=%" PRIu64,
			       zs_->ticks, (double)(t_report - t_ticks) / 1e3 / (double)(zs_->ticks - ticks0),
			       live_objects());
		}
		if (opt_.tick_ms) {
			next += (std::uint64_t)opt_.tick_ms * 1000000ULL;
			if (next > mono_ns()) {
				timespec ts;
				ts.tv_sec = (time_t)(next / 1000000000ULL);
				ts.tv_nsec = (long)(next % 1000000000ULL);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
			}
		}
	}
	return {};
}

/* ---- main ------------------------------------------------------------------ */

int server::main()
{
	auto c = shmdev::context::create();
	if (!c) {
		std::fprintf(stderr, "zone_server: shmdev_ctx_new: %s\n", c.message().c_str());
		return 1;
	}
	ctx_ = std::move(*c);
	if (auto r = load_conf(); !r) {
		fail_status("error", r);
		return 1;
	}
	if (opt_.destroy) {
		auto r = shmdev::pool::destroy(ctx_, conf_);
		if (!r && r.error() != -ENOENT) {
			fail_status("error", r);
			return 1;
		}
		status("phase=destroyed existed=%s", r ? "yes" : "no");
		return 0;
	}
	if (auto r = open_pool(); !r)
		return r.error() == -EINVAL ? 3 : r.error() == -EUCLEAN ? 4 : 1;
	if (!populate())
		return 1;
	if (opt_.verify) {
		std::uint64_t t = mono_ns();
		counts k;

		if (auto r = verify(false, k); !r) {
			fail_status("error", r);
			return 1;
		}
		status("phase=verify objects=%" PRIu64 " bad_checksums=%" PRIu64 " dangling=%" PRIu64
		       " orphans=%" PRIu64 " ms=%.3f", k.objects, k.bad_sums, k.dangling,
		       k.orphans, (double)(mono_ns() - t) / 1e6);
		if (k.bad_sums || k.dangling || k.orphans)
			return 4;
	}
	if (!run())
		return 1;
	std::uint64_t t = mono_ns(), ticks = zs_->ticks, objects = live_objects();
	if (auto r = pool_.close(); !r) {
		fail_status("error", r);
		return 1;
	}
	status("phase=stop reason=%s ticks=%" PRIu64 " objects=%" PRIu64 " close_us=%.1f",
	       stop_requested ? "signal" : "ticks", ticks, objects, us_since(t));
	return 0;
}

} // namespace

int ZONE_MAIN(int argc, char **argv);

int ZONE_MAIN(int argc, char **argv)
{
	options o;
	struct sigaction sa {};

	switch (parse_args(argc, argv, now_ns(CLOCK_REALTIME), o)) {
	case 1: return 1;
	case 2: return 0;
	}
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	setvbuf(stdout, nullptr, _IOLBF, 0);

	server s(o);
	int rc = s.main();
	/*
	 * The pool closes itself when s goes.  On an error path it must not:
	 * the journal may hold a change in flight, which only the crash repair
	 * of the next start undoes.  server::main() leaves the pool open on
	 * every error, and ~server() would then close it cleanly, so an error
	 * exit abandons it first, as zone_server.c does.
	 */
	if (rc != 0)
		s.abandon();
	return rc;
}
