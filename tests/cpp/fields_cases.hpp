// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Field lists from C++ (issue 13 through shmdev.hpp): SHMDEV_FIELDS gives
 * a registered type its fields, with the kinds C's SHMDEV_FIELD gives, and
 * a Hero grown from v1 to v2 migrates on resume through pool::open().
 * Included by test_cpp.cpp (its helpers and runner).
 */
namespace mig1 {
struct Hero {
	std::uint32_t id;
	std::int16_t hp;
	char name[8];
	shmdev::handle<Item> pet;
};
} // namespace mig1

namespace mig2 {
/* id and hp widened, mana new (default 50), name longer, fields moved. */
struct Hero {
	std::uint32_t mana;
	char name[12];
	std::int32_t hp;
	std::uint64_t id;
	shmdev::handle<Item> pet;
};
} // namespace mig2

SHMDEV_TYPE(mig1::Hero, 3, "Hero", 1, shmdev::plain);
SHMDEV_FIELDS(mig1::Hero, SHMDEV_FIELD(mig1::Hero, id), SHMDEV_FIELD(mig1::Hero, hp),
	      SHMDEV_FIELD(mig1::Hero, name), SHMDEV_FIELD(mig1::Hero, pet));

static const std::uint32_t hero_mana = 50;
SHMDEV_TYPE(mig2::Hero, 3, "Hero", 2, shmdev::plain);
SHMDEV_FIELDS(mig2::Hero, SHMDEV_FIELD(mig2::Hero, id), SHMDEV_FIELD(mig2::Hero, hp),
	      SHMDEV_FIELD_DEFAULT(mig2::Hero, mana, &hero_mana), SHMDEV_FIELD(mig2::Hero, name),
	      SHMDEV_FIELD(mig2::Hero, pet));

/* The kinds C's _Generic gives, from the C++ types. */
enum class hero_class : std::uint8_t { mage = 1 };
struct Kinds {
	int x;
};
static_assert(shmdev::detail::field_kind<std::int16_t>() == SHMDEV_FIELD_INT, "int16");
static_assert(shmdev::detail::field_kind<char>() == SHMDEV_FIELD_INT, "char (signed here, as C)");
static_assert(shmdev::detail::field_kind<std::uint8_t>() == SHMDEV_FIELD_UINT, "uint8");
static_assert(shmdev::detail::field_kind<bool>() == SHMDEV_FIELD_UINT, "bool");
static_assert(shmdev::detail::field_kind<const std::uint64_t>() == SHMDEV_FIELD_UINT, "const u64");
static_assert(shmdev::detail::field_kind<hero_class>() == SHMDEV_FIELD_UINT, "an enum: its int");
static_assert(shmdev::detail::field_kind<float>() == SHMDEV_FIELD_FLOAT, "float");
static_assert(shmdev::detail::field_kind<double>() == SHMDEV_FIELD_DOUBLE, "double");
static_assert(shmdev::detail::field_kind<char[4]>() == SHMDEV_FIELD_BYTES, "char array");
static_assert(shmdev::detail::field_kind<unsigned char[4]>() == SHMDEV_FIELD_BYTES, "byte array");
static_assert(shmdev::detail::field_kind<int[4]>() == SHMDEV_FIELD_NONE, "an int array: not a leaf");
static_assert(shmdev::detail::field_kind<shmdev::handle<Item>>() == SHMDEV_FIELD_HANDLE, "handle");
static_assert(shmdev::detail::field_kind<Kinds>() == SHMDEV_FIELD_NONE, "a struct: not a leaf");
static_assert(shmdev::fields_of<mig2::Hero>::count == 5 && shmdev::fields_of<Item>::count == 0,
	      "SHMDEV_FIELDS counts; a type without it has none");
static_assert(shmdev::fields_of<mig2::Hero>::list[0].offset == offsetof(mig2::Hero, id) &&
	      shmdev::fields_of<mig2::Hero>::list[0].size == 8, "offset and size from the struct");

START_TEST(test_fields_migrate)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev_handle_t raw[3];
	int i;

	{
		auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig1::Hero>(10) });

		ck_assert_msg(r.has_value(), "open v1: %s", r.message().c_str());
		for (i = 0; i < 3; i++) {
			auto h = r->alloc<mig1::Hero>().value();

			h->id = 4000000000u + (std::uint32_t)i;
			h->hp = (std::int16_t)(-100 - i);
			std::snprintf(h->name, sizeof(h->name), "hero%d", i);
			raw[i] = h.handle.raw();
		}
	}	/* closed cleanly */
	auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig2::Hero>(10) });
	ck_assert_msg(r.has_value(), "open v2: %s", r.message().c_str());
	ck_assert_int_eq(r->start(), SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(r->stats().migrated_objects, 3);
	for (i = 0; i < 3; i++) {
		mig2::Hero *h = r->get(shmdev::handle<mig2::Hero>::from_raw(raw[i]));
		char want[12];

		ck_assert_ptr_nonnull(h);
		ck_assert_uint_eq(h->id, 4000000000u + (std::uint32_t)i);
		ck_assert_int_eq(h->hp, -100 - i);
		ck_assert_uint_eq(h->mana, 50);
		std::snprintf(want, sizeof(want), "hero%d", i);
		ck_assert_str_eq(h->name, want);
		ck_assert(!h->pet);
	}
	ck_assert(r->check().has_value());
}
END_TEST

/*
 * Converters from C++ (SHMDEV_CONVERTER): v3 of the Hero turns hp (int32)
 * into a float and computes power from the old id and hp, which no exact
 * rule does; the old struct is mig2::Hero, typed.  mig3b::Hero declares a
 * converter from v1 while the pool stores v2: refused, nothing changed.
 */
namespace mig3 {
struct Hero {
	std::uint64_t id;
	float hp;		/* int32 -> float: the converter */
	std::uint32_t mana;
	std::uint64_t power;	/* new, computed */
	char name[12];
	shmdev::handle<Item> pet;
};
} // namespace mig3

namespace mig3b {
struct Hero {
	std::uint64_t id;
	float hp;
};
} // namespace mig3b

SHMDEV_TYPE(mig3::Hero, 3, "Hero", 3, shmdev::plain);
SHMDEV_FIELDS(mig3::Hero, SHMDEV_FIELD(mig3::Hero, id), SHMDEV_FIELD(mig3::Hero, hp),
	      SHMDEV_FIELD(mig3::Hero, mana), SHMDEV_FIELD(mig3::Hero, power),
	      SHMDEV_FIELD(mig3::Hero, name), SHMDEV_FIELD(mig3::Hero, pet));
static int hero_conversions;
SHMDEV_CONVERTER(mig3::Hero, mig2::Hero, [](const mig2::Hero &o, mig3::Hero &n) {
	n.hp = static_cast<float>(o.hp) / 2, n.power = o.id % 1000 + o.mana;
	hero_conversions++;
	return o.hp == -7777 ? -1 : 0;	/* a planted failure */
});

SHMDEV_TYPE(mig3b::Hero, 3, "Hero", 3, shmdev::plain);
SHMDEV_FIELDS(mig3b::Hero, SHMDEV_FIELD(mig3b::Hero, id), SHMDEV_FIELD(mig3b::Hero, hp));
SHMDEV_CONVERTER(mig3b::Hero, mig1::Hero, [](const mig1::Hero &o, mig3b::Hero &n) {
	n.hp = o.hp;
});

static_assert(shmdev::type<mig3::Hero>(1).desc.convert_from_version == 2 &&
	      shmdev::type<mig3::Hero>(1).desc.convert_from_size == sizeof(mig2::Hero) &&
	      shmdev::type<mig2::Hero>(1).desc.convert == nullptr,
	      "the converter and the old struct it reads are attached; none without");

START_TEST(test_converter_migrate)
{
	shmdev::context ctx = new_ctx();
	shmdev::config conf = zone_conf(ctx);
	shmdev_handle_t raw[3];
	int i;

	{
		auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig2::Hero>(10) });

		ck_assert_msg(r.has_value(), "open v2: %s", r.message().c_str());
		for (i = 0; i < 3; i++) {
			auto h = r->alloc<mig2::Hero>().value();

			h->id = 5000 + (std::uint64_t)i;
			h->hp = -7777;		/* the converter fails on it */
			h->mana = 7;
			std::snprintf(h->name, sizeof(h->name), "h%d", i);
			raw[i] = h.handle.raw();
		}
	}
	/* A converter for v1 while v2 is stored: refused, naming both versions. */
	{
		auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig3b::Hero>(10) });

		ck_assert(!r.has_value());
		ck_assert_int_eq(r.error(), -EINVAL);
		ck_assert_msg(r.message().find("its converter reads version 1 (24 bytes), but the stored type is version 2 (40 bytes)") != std::string::npos,
			      "%s", r.message().c_str());
	}
	/* The converter fails: the open fails, v2 stays whole. */
	{
		auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig3::Hero>(10) });

		ck_assert(!r.has_value());
		ck_assert_msg(r.message().find("the converter failed on slot 0") != std::string::npos,
			      "%s", r.message().c_str());
	}
	{
		auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig2::Hero>(10) });

		ck_assert_msg(r.has_value(), "v2 again: %s", r.message().c_str());
		ck_assert_int_eq(r->start(), SHMDEV_START_RESUMED_CLEAN);
		for (i = 0; i < 3; i++) {
			mig2::Hero *h = r->get(shmdev::handle<mig2::Hero>::from_raw(raw[i]));

			ck_assert_ptr_nonnull(h);
			h->hp = -100 * (i + 1);
		}
	}
	hero_conversions = 0;
	auto r = shmdev::pool::open(ctx, conf, { shmdev::type<mig3::Hero>(10) });
	ck_assert_msg(r.has_value(), "open v3: %s", r.message().c_str());
	ck_assert_uint_eq(r->stats().migrated_objects, 3);
	ck_assert_int_eq(hero_conversions, 3);
	for (i = 0; i < 3; i++) {
		mig3::Hero *h = r->get(shmdev::handle<mig3::Hero>::from_raw(raw[i]));
		char want[12];

		ck_assert_ptr_nonnull(h);
		ck_assert_uint_eq(h->id, 5000 + (std::uint64_t)i);
		ck_assert(h->hp == -50.0f * (float)(i + 1));
		ck_assert_uint_eq(h->mana, 7);
		ck_assert_uint_eq(h->power, (5000 + (std::uint64_t)i) % 1000 + 7);
		std::snprintf(want, sizeof(want), "h%d", i);
		ck_assert_str_eq(h->name, want);
	}
	ck_assert(r->check().has_value());
}
END_TEST
