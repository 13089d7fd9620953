// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The promises of shmdev.hpp that are compile errors, one per CASE
 * (tests/cpp/compile_fail.sh compiles each with -DCASE=N and expects the
 * compiler to fail with the message it names).  CASE=0 must compile: it
 * proves that the failures come from the line under test, not from the
 * rest of this file.
 */
#include "shmdev.hpp"

struct Item {
	std::uint64_t stamp;
};
SHMDEV_TYPE(Item, 0, "Item", 1, shmdev::plain);

struct Player {
	std::uint64_t id;
};
SHMDEV_TYPE(Player, 1, "Player", 1, shmdev::keyed);

#if CASE == 3
#include <string>
struct HasString {
	std::string name;	/* owns heap memory: not trivially copyable */
};
SHMDEV_TYPE(HasString, 2, "HasString", 1, shmdev::plain);
#elif CASE == 4
struct Virtual {
	virtual ~Virtual() = default;
	std::uint64_t x;
};
SHMDEV_TYPE(Virtual, 2, "Virtual", 1, shmdev::plain);
#elif CASE == 5
struct MixedAccess {	/* trivially copyable, but not standard-layout */
	int a;
private:
	int b = 0;
public:
	int get_b() const { return b; }
};
SHMDEV_TYPE(MixedAccess, 2, "MixedAccess", 1, shmdev::plain);
#elif CASE == 6
struct Unregistered {
	std::uint64_t x;
};
#endif

/* Converters (SHMDEV_CONVERTER): v2 of Player, read from v1. */
struct Player2 {
	std::uint64_t id;
	float score;
};
SHMDEV_TYPE(Player2, 1, "Player", 2, shmdev::keyed);
#if CASE == 0
SHMDEV_CONVERTER(Player2, Player, [](const Player &o, Player2 &n) { n.score = (float)o.id; });
#elif CASE == 14
SHMDEV_CONVERTER(Player2, Player, [](Player &o, Player2 &n) { n.score = (float)o.id; });
#elif CASE == 15
SHMDEV_CONVERTER(Player2, Item, [](const Item &o, Player2 &n) { n.score = (float)o.stamp; });
#elif CASE == 16
SHMDEV_CONVERTER(Player2, Player2, [](const Player2 &o, Player2 &n) { n = o; });
#elif CASE == 17
SHMDEV_CONVERTER(Player2, Player, [](const Player &o, Player2 &n) { n.score = (float)o.id; return true; });
#endif

static void use_item(shmdev::handle<Item>) {}

int main()
{
	shmdev::pool pool;
	shmdev::handle<Player> ph;
	shmdev::handle<Item> ih;

	use_item(ih);
	(void)pool.get(ph);
	(void)pool.find<Player>(1);
	(void)shmdev::fast_path<Player>().get(ph);
#if CASE == 1
	use_item(ph);		/* a Player handle where an Item is expected */
#elif CASE == 2
	ih = ph;		/* assigned */
#elif CASE == 3
	(void)pool.alloc<HasString>();
#elif CASE == 4
	(void)pool.alloc<Virtual>();
#elif CASE == 5
	(void)pool.alloc<MixedAccess>();
#elif CASE == 6
	(void)pool.alloc<Unregistered>();
#elif CASE == 7
	(void)pool.find<Item>(1);	/* Item is not keyed */
#elif CASE == 8
	(void)pool.force_get<Item>(1);
#elif CASE == 9
	ih = shmdev::handle<Item>(ph.raw());	/* raw bits need from_raw() */
#elif CASE == 10
	Item *it = pool.get(ph);	/* get of a Player handle is a Player */
	(void)it;
#elif CASE == 11
	(void)pool.get<Item>(ph);
#elif CASE == 12
	pool.alloc<Item>();		/* a result must not be dropped */
#elif CASE == 13
	shmdev::pool copy = pool;	/* move-only */
#elif CASE == 18
	(void)shmdev::fast_path<Item>().get(ph);	/* the inline get is typed too */
#elif CASE == 19
	(void)shmdev::fast_path<Item>().find(1);	/* Item is not keyed */
#endif
	return 0;
}
