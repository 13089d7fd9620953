// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmdev.hpp: the C++17 layer of libshmdev, header-only, over shmdev.h.
 *
 *   struct Item { std::uint64_t kind; };
 *   SHMDEV_TYPE(Item, 0, "Item", 1, shmdev::plain);
 *   struct Player { std::uint64_t id, gold; shmdev::handle<Item> bag; };
 *   SHMDEV_TYPE(Player, 1, "Player", 1, shmdev::keyed);
 *
 *   auto ctx  = shmdev::context::create().value();
 *   auto conf = shmdev::config::load(ctx, "memorypool.ini", "zone").value();
 *   auto pool = shmdev::pool::open(ctx, conf, { shmdev::type<Player>(1000),
 *                                              shmdev::type<Item>(5000) }).value();
 *   auto p = pool.force_get<Player>(42).value();   // p.ptr, p.handle, p.created
 *   Player *q = pool.get(p.handle);                // nullptr once freed
 *   pool.for_each<Player>([](Player &pl) { pl.gold++; }).value();
 *   // pool closes cleanly at the end of its scope (the next open resumes clean)
 *
 * What it promises:
 *  - Typed handles: handle<Player> and handle<Item> are different types and
 *    neither converts to the other (a compile error, proven by
 *    tests/cpp/compile_fail.sh).  A handle is 8 bytes, trivially copyable
 *    and standard-layout, the same bits as shmdev_handle_t, so it may be
 *    stored inside shared objects.  Raw values (from a C struct, from disk)
 *    come in only through the explicit handle<T>::from_raw(); every lookup
 *    through a handle<T> uses the library's typed calls, so a raw value of
 *    another type resolves to nullptr (get) or -EINVAL (free), never to an
 *    object of the wrong type.
 *  - Types register from the struct: SHMDEV_TYPE(T, id, name, version,
 *    flags) (or a hand-written shmdev::type_traits<T> specialisation) gives
 *    id, name, version and flags; size and align come from sizeof/alignof.
 *    static_asserts refuse a type that is not trivially copyable and
 *    standard-layout (so no virtual functions, no std::string or other
 *    owner of heap memory), and a type that is used without being
 *    registered; find/force_get on a type registered without
 *    shmdev::keyed do not compile.  A plain pointer member still compiles
 *    (C++17 cannot see it): store handles, which stay valid in the next
 *    process.
 *  - RAII, move-only: context, config and pool.  A pool that goes out of
 *    scope is closed cleanly (shmdev_pool_close); pool::abandon() leaves it
 *    as a crash would.
 *  - Errors without exceptions: every fallible call returns
 *    shmdev::result<T>, which holds the value or the library's negative
 *    errno and its message (shmdev_errmsg(), copied at the failure; nothing
 *    is allocated on success).  When exceptions are enabled (not
 *    -fno-exceptions, and SHMDEV_NO_EXCEPTIONS not defined), result::value()
 *    on an error throws shmdev::error, a std::system_error carrying the
 *    errno and the message; without them it prints the message and aborts.
 *    Test has_value() / error() first to stay on the error-code path.
 *  - Cost: every call is an inline call of the C function it wraps (get:
 *    the typed one; free: an inline compare of the handle's type bits,
 *    then shmdev_free); the type id is a compile-time constant and the
 *    failure path (the message copy) is out of line, so the success path
 *    is the C call and a compare.  pool::fast<T>() gives the inline get
 *    (shmdev_get_fast) and, keyed, find (shmdev_find_fast) as
 *    fast_path<T>.  bench/bench_cpp.cpp measures each against its C call
 *    (make bench-cpp).
 *  - Threads: as shmdev.h (a context and what is made from it is used by one
 *    thread at a time, unless the pool is opened with shmdev::pool_threads:
 *    then the pool's calls may come from several threads at once, see
 *    SHMDEV_POOL_THREADS; a result's message is copied in the calling
 *    thread, from that thread's own shmdev_errmsg()).
 *
 * Extension points, left open on purpose (nothing here pretends to do them):
 *  - Transactions (issue 14): done, see shmdev::transaction below
 *    (pool::begin(); the destructor aborts unless commit() was called).
 *  - Field lists for migration (issue 13): done, an optional trait,
 *    shmdev::fields_of<T>, declared by SHMDEV_FIELDS(T, SHMDEV_FIELD(T, m),
 *    ...), so that types registered with SHMDEV_TYPE alone compile
 *    unchanged; detail::describe<T>() attaches the table.  Converters:
 *    SHMDEV_CONVERTER(T, Old, fn), typed (fn(const Old &, T &), Old the
 *    struct T was stored as, registered with T's id and name); misuse is
 *    a compile error, a stored version other than Old's a refused open.
 *  - Thread-safe pools: shmdev::pool_threads (SHMDEV_POOL_THREADS) passed
 *    through pool::open(..., flags); shmdev.h says what threads may then
 *    do at once.
 */
#ifndef SHMDEV_HPP
#define SHMDEV_HPP

#if __cplusplus < 201703L
#error "shmdev.hpp needs C++17 (-std=c++17)"
#endif

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmdev.h"

#if (defined(__cpp_exceptions) || defined(__EXCEPTIONS)) && !defined(SHMDEV_NO_EXCEPTIONS)
#define SHMDEV_HPP_EXCEPTIONS 1
#include <exception>
#else
#define SHMDEV_HPP_EXCEPTIONS 0
#endif

namespace shmdev {

/* ---- errors ------------------------------------------------------------ */

#if SHMDEV_HPP_EXCEPTIONS
/*
 * What result<T>::value() throws: code() is the positive errno in
 * std::generic_category(), what() the library's message followed by
 * strerror's text; errnum() is the library's negative errno.
 */
class error : public std::system_error {
public:
	error(int negative_errno, const std::string &message)
		: std::system_error(std::error_code(-negative_errno, std::generic_category()),
				    message) {}
	int errnum() const noexcept { return -code().value(); }
};
#endif

/* Tag for result's error constructor. */
struct failure_t {
	explicit failure_t() = default;
};
inline constexpr failure_t failure{};

#if defined(__GNUC__)
#define SHMDEV_HPP_COLD __attribute__((cold, noinline))
#else
#define SHMDEV_HPP_COLD
#endif

namespace detail {

/*
 * The message of a failure: the context's, or strerror's when it has none.
 * Out of line and cold, so that the success path of every call stays the
 * C call and a compare.
 */
SHMDEV_HPP_COLD inline std::unique_ptr<std::string> message_of(const shmdev_ctx *ctx, int err)
{
	const char *m = ctx ? shmdev_errmsg(ctx) : "";

	if (!m || !*m)
		return std::make_unique<std::string>(std::generic_category().message(-err));
	return std::make_unique<std::string>(m);
}

[[noreturn]] SHMDEV_HPP_COLD inline void raise_failure(int err, const std::string &msg)
{
#if SHMDEV_HPP_EXCEPTIONS
	throw error(err, msg);
#else
	std::fprintf(stderr, "shmdev: value() of a failed result: %s (errno %d)\n",
		     msg.c_str(), -err);
	std::abort();
#endif
}

inline const std::string &empty_string()
{
	static const std::string s;
	return s;
}

} // namespace detail

/*
 * The value of a call, or its failure: error() is 0 or the library's
 * negative errno, message() the library's message (empty on success).
 * T must be default-constructible and movable.
 */
template <class T>
class [[nodiscard]] result {
public:
	result(T v) : val_(std::move(v)) {}
	result(failure_t, int err, std::unique_ptr<std::string> msg)
		: err_(err < 0 ? err : -EINVAL), msg_(std::move(msg)) {}
	result(failure_t, int err, const shmdev_ctx *ctx)
		: result(failure, err, detail::message_of(ctx, err)) {}

	bool has_value() const noexcept { return err_ == 0; }
	explicit operator bool() const noexcept { return err_ == 0; }
	int error() const noexcept { return err_; }
	const std::string &message() const noexcept
	{
		return msg_ ? *msg_ : detail::empty_string();
	}
	std::error_code error_code() const noexcept
	{
		return std::error_code(-err_, std::generic_category());
	}

	/* The value; on a failure: throws shmdev::error, or aborts (see top). */
	T &value() & { check(); return val_; }
	const T &value() const & { check(); return val_; }
	T &&value() && { check(); return std::move(val_); }
	template <class U>
	T value_or(U &&alt) const & { return err_ ? T(std::forward<U>(alt)) : val_; }

	/* Unchecked access, as std::optional's. */
	T &operator*() & noexcept { return val_; }
	const T &operator*() const & noexcept { return val_; }
	T &&operator*() && noexcept { return std::move(val_); }
	T *operator->() noexcept { return &val_; }
	const T *operator->() const noexcept { return &val_; }

private:
	void check() const
	{
		if (err_)
			detail::raise_failure(err_, message());
	}
	T val_{};
	int err_ = 0;
	std::unique_ptr<std::string> msg_;
};

template <>
class [[nodiscard]] result<void> {
public:
	result() noexcept = default;
	result(failure_t, int err, std::unique_ptr<std::string> msg)
		: err_(err < 0 ? err : -EINVAL), msg_(std::move(msg)) {}
	result(failure_t, int err, const shmdev_ctx *ctx)
		: result(failure, err, detail::message_of(ctx, err)) {}
	/* 0 or a negative errno from a C call, with the context's message. */
	static result from(int ret, const shmdev_ctx *ctx)
	{
		return ret ? result(failure, ret, ctx) : result();
	}

	bool has_value() const noexcept { return err_ == 0; }
	explicit operator bool() const noexcept { return err_ == 0; }
	int error() const noexcept { return err_; }
	const std::string &message() const noexcept
	{
		return msg_ ? *msg_ : detail::empty_string();
	}
	std::error_code error_code() const noexcept
	{
		return std::error_code(-err_, std::generic_category());
	}
	/* Nothing on success; on a failure: throws shmdev::error, or aborts. */
	void value() const
	{
		if (err_)
			detail::raise_failure(err_, message());
	}

private:
	int err_ = 0;
	std::unique_ptr<std::string> msg_;
};

/* ---- type registration ---------------------------------------------------- */

/* Flags of a registered type (SHMDEV_TYPE_*). */
inline constexpr std::uint32_t plain = 0;
inline constexpr std::uint32_t keyed = SHMDEV_TYPE_KEYED;

/* Flags of pool::open() (SHMDEV_POOL_*). */
inline constexpr unsigned int pool_rdonly = SHMDEV_POOL_RDONLY;
inline constexpr unsigned int pool_fixed_addr = SHMDEV_POOL_FIXED_ADDR;
inline constexpr unsigned int pool_threads = SHMDEV_POOL_THREADS;

/*
 * Specialise for each object type, or use SHMDEV_TYPE():
 *   template <> struct shmdev::type_traits<Player> {
 *       static constexpr std::uint16_t id = 1;
 *       static constexpr const char *name = "Player";
 *       static constexpr std::uint32_t version = 1;
 *       static constexpr std::uint32_t flags = shmdev::keyed;
 *   };
 * The primary template is left undefined: using a type that is not
 * registered is a compile error.
 */
template <class T>
struct type_traits;

/*
 * SHMDEV_TYPE(T, id, name, version, flags): register T, at global scope
 * (T spelled with its namespaces).  Size and align are T's own.
 */
#define SHMDEV_TYPE(T, ID, NAME, VERSION, FLAGS)                               \
	template <>                                                            \
	struct shmdev::type_traits<T> {                                        \
		static constexpr std::uint16_t id = (ID);                     \
		static constexpr const char *name = (NAME);                    \
		static constexpr std::uint32_t version = (VERSION);           \
		static constexpr std::uint32_t flags = (FLAGS);               \
	}

namespace detail {

template <class T, class = void>
struct is_registered : std::false_type {};
template <class T>
struct is_registered<T, std::void_t<decltype(type_traits<T>::id)>> : std::true_type {};

/* Every check a type must pass to live in a pool. */
template <class T>
constexpr bool check_type()
{
	static_assert(is_registered<T>::value,
		      "shmdev: this type is not registered: use SHMDEV_TYPE(T, id, name, version, flags)");
	static_assert(std::is_trivially_copyable<T>::value,
		      "shmdev: a pool object type must be trivially copyable (its bytes are the object)");
	static_assert(std::is_standard_layout<T>::value,
		      "shmdev: a pool object type must be standard-layout (no virtual functions, one access level)");
	static_assert(!std::is_polymorphic<T>::value,
		      "shmdev: a pool object type must not have virtual functions");
	static_assert(sizeof(T) <= UINT32_MAX, "shmdev: a pool object type is at most 4 GiB");
	return true;
}

template <class T>
constexpr std::uint16_t type_id()
{
	static_assert(check_type<T>());
	return type_traits<T>::id;
}

template <class T>
constexpr bool is_keyed()
{
	return (type_traits<T>::flags & SHMDEV_TYPE_KEYED) != 0;
}

} // namespace detail

/*
 * The fields of T for migration on resume (issue 13), from SHMDEV_FIELDS():
 * absent, T keeps the rules of a type without fields.
 */
template <class T>
struct fields_of {
	static constexpr std::size_t count = 0;
};

/*
 * T's converter for migration on resume (issue 13), from SHMDEV_CONVERTER():
 * absent, a change of T that needs one is refused, naming the field.
 */
template <class T>
struct converter_of {
	static constexpr bool present = false;
};

namespace detail {

template <class T>
int convert_trampoline(const void *old_obj, void *new_obj, void *data) noexcept;

/* The one place a struct shmdev_type is made from T (issue 13 hooks here). */
template <class T>
constexpr shmdev_type describe(std::uint64_t max_count)
{
	static_assert(check_type<T>());
	shmdev_type t{};
	t.id = type_traits<T>::id;
	t.name = type_traits<T>::name;
	t.size = static_cast<std::uint32_t>(sizeof(T));
	t.align = static_cast<std::uint32_t>(alignof(T));
	t.version = type_traits<T>::version;
	t.max_count = max_count;
	t.flags = type_traits<T>::flags;
	if constexpr (fields_of<T>::count > 0) {
		t.nr_fields = static_cast<std::uint32_t>(fields_of<T>::count);
		t.fields = fields_of<T>::list;
	}
	if constexpr (converter_of<T>::present) {
		using Old = typename converter_of<T>::old_type;

		t.convert = &convert_trampoline<T>;
		t.convert_from_version = type_traits<Old>::version;
		t.convert_from_size = static_cast<std::uint32_t>(sizeof(Old));
	}
	return t;
}

} // namespace detail

/* One type of a pool.open(): T's description and its capacity. */
struct type_spec {
	shmdev_type desc;
};

template <class T>
constexpr type_spec type(std::uint64_t max_count)
{
	return type_spec{ detail::describe<T>(max_count) };
}

/* ---- handles ------------------------------------------------------------ */

/*
 * A typed handle: the 64 bits of a shmdev_handle_t, usable only where a T
 * is expected.  Value-initialised it is none (SHMDEV_HANDLE_NONE).
 */
template <class T>
class handle {
public:
	constexpr handle() noexcept = default;
	/* Another type's handle never converts (the type-safety promise). */
	template <class U, class = std::enable_if_t<!std::is_same<U, T>::value>>
	handle(const handle<U> &) = delete;

	/* Adopt a raw handle.  Unchecked here; lookups check its type. */
	static constexpr handle from_raw(shmdev_handle_t raw) noexcept
	{
		handle h;
		h.raw_ = raw;
		return h;
	}
	constexpr shmdev_handle_t raw() const noexcept { return raw_; }
	constexpr explicit operator bool() const noexcept { return raw_ != SHMDEV_HANDLE_NONE; }
	/*
	 * The type id and slot inside the bits (shmdev_handle_type/slot).  The
	 * type is the top 12 bits (shmdev.h, "A handle names one object"),
	 * read inline so that free() checks it for nothing; test_cpp compares
	 * it with shmdev_handle_type().
	 */
	constexpr std::uint16_t type_id() const noexcept { return static_cast<std::uint16_t>(raw_ >> 52); }
	std::uint32_t slot() const noexcept { return shmdev_handle_slot(raw_); }

	friend constexpr bool operator==(handle a, handle b) noexcept { return a.raw_ == b.raw_; }
	friend constexpr bool operator!=(handle a, handle b) noexcept { return a.raw_ != b.raw_; }

private:
	shmdev_handle_t raw_ = SHMDEV_HANDLE_NONE;
};

namespace detail {

template <class M>
struct is_handle : std::false_type {};
template <class U>
struct is_handle<handle<U>> : std::true_type {};

/*
 * The kind C's SHMDEV_FIELD gives a member (its _Generic), from the
 * member's C++ type; a handle<U> is a HANDLE, an enum its underlying int.
 */
template <class M>
constexpr std::uint32_t field_kind()
{
	using U = std::remove_cv_t<M>;
	using E = std::remove_cv_t<std::remove_extent_t<U>>;

	if constexpr (is_handle<U>::value)
		return SHMDEV_FIELD_HANDLE;
	else if constexpr (std::is_enum<U>::value)
		return field_kind<std::underlying_type_t<U>>();
	else if constexpr (std::is_same<U, bool>::value)
		return SHMDEV_FIELD_UINT;
	else if constexpr (std::is_integral<U>::value)
		return std::is_signed<U>::value ? SHMDEV_FIELD_INT : SHMDEV_FIELD_UINT;
	else if constexpr (std::is_same<U, float>::value)
		return SHMDEV_FIELD_FLOAT;
	else if constexpr (std::is_same<U, double>::value)
		return SHMDEV_FIELD_DOUBLE;
	else if constexpr (std::rank<U>::value == 1 &&
			   (std::is_same<E, char>::value || std::is_same<E, signed char>::value ||
			    std::is_same<E, unsigned char>::value))
		return SHMDEV_FIELD_BYTES;
	else
		return SHMDEV_FIELD_NONE;
}

} // namespace detail

/*
 * SHMDEV_FIELD(T, m) and SHMDEV_FIELD_DEFAULT(T, m, &value), as in C (the
 * kind from the member's type), for SHMDEV_FIELDS(T, ...): register T's
 * fields, at global scope after SHMDEV_TYPE(T, ...):
 *   SHMDEV_FIELDS(Player, SHMDEV_FIELD(Player, id), SHMDEV_FIELD(Player, hp),
 *                 SHMDEV_FIELD_HANDLE_OF(Player, pet));
 * pool::open() then passes them, and a changed Player migrates on resume
 * (README, "Field descriptions and migration").  A change that needs a
 * converter takes SHMDEV_CONVERTER (below); without one it is refused,
 * naming the field.
 */
#define SHMDEV_FIELD(T, m)                                                     \
	SHMDEV_FIELD_AS(T, m, ::shmdev::detail::field_kind<decltype(std::declval<T &>().m)>())
#define SHMDEV_FIELD_DEFAULT(T, m, d)                                          \
	SHMDEV_FIELD_AS_DEF(T, m, ::shmdev::detail::field_kind<decltype(std::declval<T &>().m)>(), (d))
#define SHMDEV_FIELDS(T, ...)                                                  \
	template <>                                                            \
	struct shmdev::fields_of<T> {                                          \
		static constexpr shmdev_field list[] = { __VA_ARGS__ };       \
		static constexpr std::size_t count = sizeof(list) / sizeof(list[0]); \
	}

namespace detail {

constexpr bool same_name(const char *a, const char *b)
{
	while (*a && *a == *b) {
		++a;
		++b;
	}
	return *a == *b;
}

/* Every check SHMDEV_CONVERTER(T, Old, fn) makes, at compile time. */
template <class T, class Old, class F>
constexpr bool check_converter()
{
	static_assert(check_type<T>());
	static_assert(check_type<Old>());
	static_assert(!std::is_same<T, Old>::value,
		      "shmdev: a converter reads the struct T was stored as, not T itself");
	static_assert(type_traits<Old>::id == type_traits<T>::id,
		      "shmdev: a converter's old struct must be registered with T's type id");
	static_assert(same_name(type_traits<Old>::name, type_traits<T>::name),
		      "shmdev: a converter's old struct must be registered with T's type name");
	static_assert(type_traits<Old>::flags == type_traits<T>::flags,
		      "shmdev: a converter's old struct must be registered with T's flags");
	static_assert(type_traits<Old>::version != type_traits<T>::version,
		      "shmdev: a converter's old struct must be registered with another version than T");
	static_assert(std::is_invocable<F, const Old &, T &>::value,
		      "shmdev: a converter is called as fn(const Old &old, T &now)");
	if constexpr (std::is_invocable<F, const Old &, T &>::value) {
		using R = std::invoke_result_t<F, const Old &, T &>;

		static_assert(std::is_void<R>::value || std::is_same<R, int>::value,
			      "shmdev: a converter returns void, or int (0: converted; else the migration stops)");
	}
	return true;
}

template <class T, class Old, class F>
int run_converter(F &&fn, const Old &old, T &now)
{
	static_assert(check_converter<T, Old, F>());
	if constexpr (std::is_void<std::invoke_result_t<F, const Old &, T &>>::value) {
		fn(old, now);
		return 0;
	} else {
		return fn(old, now);
	}
}

/*
 * The C converter over converter_of<T>: the stored bytes copied into an
 * Old (a slot's object is aligned to the stored type's alignment, which
 * need not be alignof(Old)), then the user's function.  The library has
 * checked that the stored type is Old's version and size (shmdev_type's
 * convert_from_version and convert_from_size).  An exception would cross
 * C code: it stops the migration instead (-ECANCELED).
 */
template <class T>
int convert_trampoline(const void *old_obj, void *new_obj, void *) noexcept
{
	using Old = typename converter_of<T>::old_type;
	union holder {
		Old obj;
		holder() {}
	} h;

	std::memcpy(static_cast<void *>(&h.obj), old_obj, sizeof(Old));
#if SHMDEV_HPP_EXCEPTIONS
	try {
		return converter_of<T>::convert(h.obj, *static_cast<T *>(new_obj));
	} catch (...) {
		return -ECANCELED;
	}
#else
	return converter_of<T>::convert(h.obj, *static_cast<T *>(new_obj));
#endif
}

} // namespace detail

/*
 * SHMDEV_CONVERTER(T, Old, fn): T's converter for migration on resume, at
 * global scope after SHMDEV_TYPE of both.  Old is the struct T was stored
 * as, registered with T's id, name and flags and its own (older) version
 * (SHMDEV_FIELDS of Old is not needed, T's is); fn is a function or a
 * lambda callable as fn(const Old &old, T &now), returning void or int
 * (0: converted; anything else stops the migration, and the open fails
 * with -EINVAL naming the slot: the stored layout is kept whole).  It runs
 * once per live object, after the exact copies and defaults were made
 * into now (README, "Field descriptions and migration").
 *
 *   SHMDEV_CONVERTER(v3::Hero, v2::Hero, [](const v2::Hero &o, v3::Hero &n) {
 *           n.hp = static_cast<float>(o.hp);
 *   });
 *
 * Compile errors: an Old that is T, or registered with another id, name
 * or flags or the same version; an fn that takes another type, a
 * non-const Old, or returns something else.  At run time an open whose
 * stored T is not Old's version and size is refused (-EINVAL, nothing
 * changed): one converter per T, from one stored version.
 */
#define SHMDEV_CONVERTER(T, OLD, ...)                                          \
	template <>                                                            \
	struct shmdev::converter_of<T> {                                       \
		using old_type = OLD;                                          \
		static constexpr bool present = true;                          \
		static int convert(const OLD &old, T &now)                     \
		{                                                              \
			return ::shmdev::detail::run_converter<T, OLD>(__VA_ARGS__, old, now); \
		}                                                              \
	}

/* An object and its handle, as alloc, find and force_get give them. */
template <class T>
struct ref {
	T *ptr = nullptr;
	shmdev::handle<T> handle;
	bool created = false;	/* force_get: a new object under the key */

	explicit operator bool() const noexcept { return ptr != nullptr; }
	T *operator->() const noexcept { return ptr; }
	T &operator*() const noexcept { return *ptr; }
};

/*
 * The inline get of one type (shmdev_get_fast): pool::fast<T>() fills it,
 * get(h) resolves a handle<T> in the caller's code, without a call, and
 * gives exactly what pool::get(h) gives (nullptr for a stale, freed, none
 * or, through from_raw, another type's handle); for a keyed T, find(key)
 * is the inline find.  Valid while its pool is open; copyable, in the
 * caller's memory.  A default-made one resolves every handle to nullptr
 * and finds nothing.
 */
template <class T>
class fast_path {
public:
	fast_path() noexcept : f_(), ff_() {}

	T *get(handle<T> h) const noexcept
	{
		return static_cast<T *>(shmdev_get_fast(&f_, h.raw()));
	}

	/*
	 * The inline find of a keyed T (shmdev_find_fast): exactly what
	 * pool::find<T>(key) gives; on a SHMDEV_POOL_THREADS pool every find
	 * is that call.
	 */
	ref<T> find(std::uint64_t key) const noexcept
	{
		static_assert(detail::is_keyed<T>(),
			      "shmdev::fast_path::find needs a keyed type (SHMDEV_TYPE(..., shmdev::keyed))");
		ref<T> r;
		shmdev_handle_t h = SHMDEV_HANDLE_NONE;

		r.ptr = static_cast<T *>(shmdev_find_fast(&ff_, key, &h));
		if (r.ptr)
			r.handle = handle<T>::from_raw(h);
		return r;
	}

private:
	friend class pool;
	struct shmdev_fast f_;
	struct shmdev_find_fast ff_;	/* zeroed (finds nothing) unless T is keyed */
};

/* ---- context ------------------------------------------------------------- */

/* struct shmdev_ctx, owned.  Move-only; a moved-from context is empty. */
class context {
public:
	context() noexcept = default;
	/* Adopt a context the caller owns (one reference). */
	explicit context(shmdev_ctx *owned) noexcept : ctx_(owned) {}
	context(context &&o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
	context &operator=(context &&o) noexcept
	{
		if (this != &o) {
			reset();
			ctx_ = std::exchange(o.ctx_, nullptr);
		}
		return *this;
	}
	context(const context &) = delete;
	context &operator=(const context &) = delete;
	~context() { reset(); }

	static result<context> create()
	{
		shmdev_ctx *c = nullptr;
		int ret = shmdev_ctx_new(&c);

		if (ret)
			return result<context>(failure, ret, nullptr);
		return context(c);
	}

	shmdev_ctx *native() const noexcept { return ctx_; }
	explicit operator bool() const noexcept { return ctx_ != nullptr; }
	/* The message of the last failure ("" if none); a copy. */
	std::string errmsg() const { return shmdev_errmsg(ctx_); }
	void set_log_fn(shmdev_log_fn fn, void *data) noexcept { shmdev_set_log_fn(ctx_, fn, data); }
	void set_log_priority(int priority) noexcept { shmdev_set_log_priority(ctx_, priority); }
	int log_priority() const noexcept { return shmdev_get_log_priority(ctx_); }

	/* shmdev_template_render(): "NAME=VALUE" strings in @vars. */
	result<std::string> render_template(const char *tmpl, const char *name,
					    std::initializer_list<const char *> vars) const
	{
		std::vector<const char *> v(vars);
		char *out = nullptr;
		int ret = shmdev_template_render(ctx_, tmpl, name, v.data(), v.size(), &out);

		if (ret)
			return result<std::string>(failure, ret, ctx_);
		std::string s(out);
		std::free(out);
		return s;
	}

private:
	void reset() noexcept
	{
		if (ctx_)
			shmdev_ctx_unref(ctx_);
		ctx_ = nullptr;
	}
	shmdev_ctx *ctx_ = nullptr;
};

/* ---- configuration --------------------------------------------------------- */

/* A loaded memorypool.ini (struct shmdev_conf), owned.  Move-only. */
class config {
public:
	config() noexcept = default;
	explicit config(shmdev_conf *owned) noexcept : conf_(owned) {}
	config(config &&o) noexcept : conf_(std::exchange(o.conf_, nullptr)) {}
	config &operator=(config &&o) noexcept
	{
		if (this != &o) {
			shmdev_conf_free(conf_);
			conf_ = std::exchange(o.conf_, nullptr);
		}
		return *this;
	}
	config(const config &) = delete;
	config &operator=(const config &) = delete;
	~config() { shmdev_conf_free(conf_); }

	/* shmdev_conf_load(); @process may be nullptr (load and check only). */
	static result<config> load(const context &ctx, const char *path, const char *process)
	{
		shmdev_conf *c = nullptr;
		int ret = shmdev_conf_load(ctx.native(), path, process, &c);

		if (ret)
			return result<config>(failure, ret, ctx.native());
		return config(c);
	}
	/* shmdev_conf_load_string(); @name stands for the file in messages. */
	static result<config> load_string(const context &ctx, const char *text,
					  const char *name, const char *process)
	{
		shmdev_conf *c = nullptr;
		int ret = shmdev_conf_load_string(ctx.native(), text, name, process, &c);

		if (ret)
			return result<config>(failure, ret, ctx.native());
		return config(c);
	}

	const shmdev_conf *native() const noexcept { return conf_; }
	explicit operator bool() const noexcept { return conf_ != nullptr; }
	/* The selected process's section, or nullptr. */
	const shmdev_proc_conf *self() const noexcept { return shmdev_conf_self(conf_); }
	const shmdev_proc_conf *process(const char *name) const noexcept
	{
		return shmdev_conf_process(conf_, name);
	}
	std::size_t nr_processes() const noexcept { return shmdev_conf_nr_processes(conf_); }
	const shmdev_proc_conf *process_at(std::size_t i) const noexcept
	{
		return shmdev_conf_process_at(conf_, i);
	}

private:
	shmdev_conf *conf_ = nullptr;
};

/* ---- pool ----------------------------------------------------------------- */

namespace detail {

template <class T, class F>
struct walk {
	F *fn;
	bool stopped;
#if SHMDEV_HPP_EXCEPTIONS
	std::exception_ptr thrown;
#endif
};

/*
 * The C callback of for_each.  It never lets an exception cross the C
 * frames: one thrown by the lambda stops the walk and is rethrown after
 * shmdev_foreach() returns.
 */
template <class T, class F>
int walk_one(void *obj, shmdev_handle_t h, void *data)
{
	auto *w = static_cast<walk<T, F> *>(data);
	T &o = *static_cast<T *>(obj);
	handle<T> th = handle<T>::from_raw(h);

#if SHMDEV_HPP_EXCEPTIONS
	try {
#endif
		if constexpr (std::is_invocable<F &, T &, handle<T>>::value) {
			using R = std::invoke_result_t<F &, T &, handle<T>>;
			if constexpr (std::is_void<R>::value) {
				(*w->fn)(o, th);
			} else {
				static_assert(std::is_same<R, bool>::value,
					      "shmdev::pool::for_each: the function returns void, or bool (false stops the walk)");
				if (!(*w->fn)(o, th))
					w->stopped = true;
			}
		} else {
			static_assert(std::is_invocable<F &, T &>::value,
				      "shmdev::pool::for_each: the function takes (T &, shmdev::handle<T>) or (T &)");
			using R = std::invoke_result_t<F &, T &>;
			if constexpr (std::is_void<R>::value) {
				(*w->fn)(o);
			} else {
				static_assert(std::is_same<R, bool>::value,
					      "shmdev::pool::for_each: the function returns void, or bool (false stops the walk)");
				if (!(*w->fn)(o))
					w->stopped = true;
			}
		}
#if SHMDEV_HPP_EXCEPTIONS
	} catch (...) {
		w->thrown = std::current_exception();
		w->stopped = true;
	}
#endif
	return w->stopped ? 1 : 0;
}

} // namespace detail

/* ---- transactions (shmdev.h, "transactions") ------------------------------ */


namespace detail {

/* A new T from @fn (shmdev_alloc, shmdev_alloc_raw, shmdev_tx_alloc) as a ref<T>. */
template <class T, class Fn>
result<ref<T>> alloc_ref(Fn fn, shmdev_pool *p, shmdev_ctx *ctx)
{
	void *obj = nullptr;
	shmdev_handle_t h = SHMDEV_HANDLE_NONE;
	int ret = fn(p, type_id<T>(), &obj, &h);

	if (ret)
		return result<ref<T>>(failure, ret, ctx);
	ref<T> r;
	r.ptr = static_cast<T *>(obj);
	r.handle = handle<T>::from_raw(h);
	return r;
}

} // namespace detail
/*
 * One open transaction on a pool, made by pool::begin().  Move-only.  Its
 * destructor aborts it unless commit() or abort() ended it, so that an
 * early return or an exception undoes the changes:
 *
 *   auto tx = pool.begin().value();
 *   tx.add(a).value(); tx.add(b).value();        // snapshot, then write
 *   a->gold -= 10; b->gold += 10;
 *   auto it = tx.alloc<Item>().value();          // freed if not committed
 *   tx.free(old).value();                        // freed at the commit
 *   tx.commit().value();
 *
 * Every call is the C call (shmdev_tx_*) and its result; an error leaves
 * the transaction open (the destructor still aborts it).  The pool must
 * outlive it.
 */
class transaction {
public:
	transaction() noexcept = default;
	transaction(transaction &&o) noexcept
		: pool_(std::exchange(o.pool_, nullptr)), ctx_(std::exchange(o.ctx_, nullptr)) {}
	transaction &operator=(transaction &&o) noexcept
	{
		if (this != &o) {
			(void)abort();
			pool_ = std::exchange(o.pool_, nullptr);
			ctx_ = std::exchange(o.ctx_, nullptr);
		}
		return *this;
	}
	transaction(const transaction &) = delete;
	transaction &operator=(const transaction &) = delete;
	~transaction() { (void)abort(); }

	/* Whether this object still holds an open transaction. */
	explicit operator bool() const noexcept { return pool_ != nullptr; }

	/* Snapshot @len bytes at @ptr (inside one live object), before writing them. */
	result<void> add(const void *ptr, std::size_t len)
	{
		return result<void>::from(shmdev_tx_add(pool_, ptr, len), ctx_);
	}
	/* Snapshot the whole object (or field) @obj points to. */
	template <class T>
	result<void> add(const T *obj)
	{
		static_assert(std::is_trivially_copyable<T>::value, "shmdev: add() copies bytes");
		return add(obj, sizeof(T));
	}
	/* A zeroed new T, freed if the transaction does not commit. */
	template <class T>
	result<ref<T>> alloc()
	{
		return detail::alloc_ref<T>(shmdev_tx_alloc, pool_, ctx_);
	}
	/* Free @h at the commit (not at all on an abort). */
	template <class T>
	result<void> free(handle<T> h)
	{
		if (h.type_id() != detail::type_id<T>())
			return result<void>(failure, -EINVAL, std::make_unique<std::string>(
				"tx free: the handle names another type"));
		return result<void>::from(shmdev_tx_free(pool_, h.raw()), ctx_);
	}
	/* Make it durable; the object is empty afterwards (also on a failure). */
	result<void> commit()
	{
		if (!pool_)
			return result<void>(failure, -ENOENT, std::make_unique<std::string>(
				"tx commit: no transaction"));
		int ret = shmdev_tx_commit(pool_);
		result<void> r = result<void>::from(ret, ctx_);

		if (!ret)
			pool_ = nullptr;
		return r;
	}
	/* Undo it; nothing if already ended.  The object is empty afterwards. */
	result<void> abort() noexcept
	{
		if (!pool_)
			return result<void>();
		int ret = shmdev_tx_abort(std::exchange(pool_, nullptr));
		if (!ret)
			return result<void>();
#if SHMDEV_HPP_EXCEPTIONS
		try {
			return result<void>(failure, ret, ctx_);
		} catch (...) {
			return result<void>(failure, ret, std::unique_ptr<std::string>());
		}
#else
		return result<void>(failure, ret, ctx_);
#endif
	}

private:
	friend class pool;
	transaction(shmdev_pool *p, shmdev_ctx *c) noexcept : pool_(p), ctx_(c) {}
	shmdev_pool *pool_ = nullptr;
	shmdev_ctx *ctx_ = nullptr;	/* borrowed from the pool */
};

/*
 * An open pool (struct shmdev_pool), owned; it holds a reference on its
 * context, so it may outlive the context object.  Move-only.  Destroyed
 * open, it is closed cleanly (a failure of that close is lost: call
 * close() to see it).
 */
class pool {
public:
	pool() noexcept = default;
	pool(pool &&o) noexcept
		: pool_(std::exchange(o.pool_, nullptr)), ctx_(std::exchange(o.ctx_, nullptr)) {}
	pool &operator=(pool &&o) noexcept
	{
		if (this != &o) {
			(void)close();
			pool_ = std::exchange(o.pool_, nullptr);
			ctx_ = std::exchange(o.ctx_, nullptr);
		}
		return *this;
	}
	pool(const pool &) = delete;
	pool &operator=(const pool &) = delete;
	~pool() { (void)close(); }

	/*
	 * shmdev_pool_open() with the types given as shmdev::type<T>(max_count).
	 * @flags: SHMDEV_POOL_RDONLY, SHMDEV_POOL_FIXED_ADDR, SHMDEV_POOL_THREADS
	 * (shmdev::pool_rdonly, pool_fixed_addr, pool_threads).
	 */
	static result<pool> open(const context &ctx, const config &conf,
				 std::initializer_list<type_spec> types, unsigned int flags = 0)
	{
		return open(ctx, conf, types.begin(), types.size(), flags);
	}
	static result<pool> open(const context &ctx, const config &conf,
				 const std::vector<type_spec> &types, unsigned int flags = 0)
	{
		return open(ctx, conf, types.data(), types.size(), flags);
	}
	/* Destroy every region of @conf's pool: the next open is a cold start. */
	static result<void> destroy(const context &ctx, const config &conf)
	{
		return result<void>::from(shmdev_pool_destroy(ctx.native(), conf.native()),
					  ctx.native());
	}

	/* Clean exit (shmdev_pool_close); the pool is empty afterwards. */
	result<void> close() noexcept
	{
		if (!pool_)
			return result<void>();
		int ret = shmdev_pool_close(std::exchange(pool_, nullptr));
		result<void> r;
		if (ret) {
#if SHMDEV_HPP_EXCEPTIONS
			try {
				r = result<void>(failure, ret, ctx_);
			} catch (...) {
				r = result<void>(failure, ret, std::unique_ptr<std::string>());
			}
#else
			r = result<void>(failure, ret, ctx_);
#endif
		}
		release_ctx();
		return r;
	}
	/* Leave as a crash does (shmdev_pool_abandon); the pool is empty afterwards. */
	void abandon() noexcept
	{
		if (pool_)
			shmdev_pool_abandon(std::exchange(pool_, nullptr));
		release_ctx();
	}

	shmdev_pool *native() const noexcept { return pool_; }
	explicit operator bool() const noexcept { return pool_ != nullptr; }
	shmdev_start start() const noexcept { return shmdev_pool_start(pool_); }
	struct shmdev_pool_stats stats() const noexcept
	{
		struct shmdev_pool_stats st{};
		shmdev_pool_stats(pool_, &st);
		return st;
	}
	template <class T>
	result<shmdev_type_stats> type_stats() const
	{
		return type_stats(detail::type_id<T>());
	}
	result<shmdev_type_stats> type_stats(std::uint16_t type) const
	{
		shmdev_type_stats st{};
		int ret = shmdev_pool_type_stats(pool_, type, &st);

		if (ret)
			return result<shmdev_type_stats>(failure, ret, ctx_);
		return st;
	}
	result<shmdev_block_stats> block_stats(std::uint32_t index) const
	{
		shmdev_block_stats st{};
		int ret = shmdev_pool_block_stats(pool_, index, &st);

		if (ret)
			return result<shmdev_block_stats>(failure, ret, ctx_);
		return st;
	}
	/* shmdev_pool_check(): 0, or -EUCLEAN / -EAGAIN with the message. */
	result<void> check() { return result<void>::from(shmdev_pool_check(pool_), ctx_); }

	/* shmdev_tx_begin(): an open transaction (-EBUSY if one is open already). */
	result<transaction> begin()
	{
		int ret = shmdev_tx_begin(pool_);

		if (ret)
			return result<transaction>(failure, ret, ctx_);
		return transaction(pool_, ctx_);
	}

	/*
	 * shmdev_alloc_publish(): a new T, filled by @init(T &) (may return
	 * void, or int: non-zero cancels and is returned), and its handle
	 * stored in *@dest (a field of another live object) as one step.
	 */
	template <class T, class F>
	result<ref<T>> alloc_publish(handle<T> *dest, F &&init)
	{
		struct call {
			static int fn(void *obj, shmdev_handle_t, void *arg)
			{
				F &f = *static_cast<std::remove_reference_t<F> *>(arg);

				if constexpr (std::is_void<decltype(f(*static_cast<T *>(obj)))>::value) {
					f(*static_cast<T *>(obj));
					return 0;
				} else {
					return static_cast<int>(f(*static_cast<T *>(obj)));
				}
			}
		};
		static_assert(sizeof(handle<T>) == sizeof(shmdev_handle_t), "handle is 8 bytes");
		void *obj = nullptr;
		shmdev_handle_t h = SHMDEV_HANDLE_NONE;
		int ret = shmdev_alloc_publish(pool_, detail::type_id<T>(),
					       reinterpret_cast<shmdev_handle_t *>(dest), call::fn,
					       const_cast<void *>(static_cast<const void *>(&init)), &obj, &h);

		if (ret)
			return result<ref<T>>(failure, ret, ctx_);
		ref<T> r;
		r.ptr = static_cast<T *>(obj);
		r.handle = handle<T>::from_raw(h);
		return r;
	}

	/* A zeroed new T (shmdev_alloc).  -ENOSPC when the type is full. */
	template <class T>
	result<ref<T>> alloc()
	{
		return alloc_with<T>(shmdev_alloc);
	}
	/* A new T holding the slot's old bytes (shmdev_alloc_raw). */
	template <class T>
	result<ref<T>> alloc_raw()
	{
		return alloc_with<T>(shmdev_alloc_raw);
	}

	/* The object, or nullptr if @h is none, stale, freed, or of another type. */
	template <class T>
	T *get(handle<T> h) const noexcept
	{
		return static_cast<T *>(shmdev_get_typed(pool_, detail::type_id<T>(), h.raw()));
	}

	/*
	 * The inline get (and, keyed, find) of T (shmdev_fast_init,
	 * shmdev_find_fast_init): -ENOENT if T is not in the pool.
	 */
	template <class T>
	result<fast_path<T>> fast() const
	{
		fast_path<T> f;
		int ret = shmdev_fast_init(pool_, detail::type_id<T>(), &f.f_);

		if (!ret && detail::is_keyed<T>())
			ret = shmdev_find_fast_init(pool_, detail::type_id<T>(), &f.ff_);
		if (ret)
			return result<fast_path<T>>(failure, ret, ctx_);
		return f;
	}

	/*
	 * Free it: -ESTALE if @h names no live object, -EINVAL if another
	 * type's.  The type compare is inline (a handle made by from_raw may
	 * lie), so the right type costs what shmdev_free() costs.
	 */
	template <class T>
	result<void> free(handle<T> h)
	{
		int ret = h.type_id() == detail::type_id<T>()
				  ? shmdev_free(pool_, h.raw())
				  : shmdev_free_typed(pool_, detail::type_id<T>(), h.raw());

		return result<void>::from(ret, ctx_);
	}

	/* The handle of a live object from the address get/alloc gave, or none. */
	template <class T>
	handle<T> handle_of(const T *obj) const noexcept
	{
		shmdev_handle_t h = shmdev_handle_of(pool_, obj);

		if (shmdev_handle_type(h) != detail::type_id<T>())
			return handle<T>();
		return handle<T>::from_raw(h);
	}

	/* The live T under @key of a keyed type; empty (ptr nullptr) if none. */
	template <class T>
	ref<T> find(std::uint64_t key) const noexcept
	{
		static_assert(detail::is_keyed<T>(),
			      "shmdev::pool::find needs a keyed type (SHMDEV_TYPE(..., shmdev::keyed))");
		ref<T> r;
		shmdev_handle_t h = SHMDEV_HANDLE_NONE;

		r.ptr = static_cast<T *>(shmdev_find(pool_, detail::type_id<T>(), key, &h));
		if (r.ptr)
			r.handle = handle<T>::from_raw(h);
		return r;
	}

	/* ForceGetObj: the live T under @key, or a new zeroed one (created). */
	template <class T>
	result<ref<T>> force_get(std::uint64_t key)
	{
		static_assert(detail::is_keyed<T>(),
			      "shmdev::pool::force_get needs a keyed type (SHMDEV_TYPE(..., shmdev::keyed))");
		void *obj = nullptr;
		shmdev_handle_t h = SHMDEV_HANDLE_NONE;
		bool created = false;
		int ret = shmdev_force_get(pool_, detail::type_id<T>(), key, &obj, &h, &created);

		if (ret)
			return result<ref<T>>(failure, ret, ctx_);
		ref<T> r;
		r.ptr = static_cast<T *>(obj);
		r.handle = handle<T>::from_raw(h);
		r.created = created;
		return r;
	}

	/*
	 * Call @fn(T &, handle<T>) (or @fn(T &)) for every live T in slot order.
	 * @fn returns void, or bool: false stops the walk.  The value is true
	 * if every object was visited, false if @fn stopped it.  @fn may free
	 * the object it is given, and nothing else.  An exception thrown by
	 * @fn stops the walk and is rethrown from here.
	 */
	template <class T, class F>
	result<bool> for_each(F &&fn)
	{
		using W = detail::walk<T, std::remove_reference_t<F>>;
		W w{ &fn, false
#if SHMDEV_HPP_EXCEPTIONS
			, nullptr
#endif
		};
		int ret = shmdev_foreach(pool_, detail::type_id<T>(),
					 detail::walk_one<T, std::remove_reference_t<F>>, &w);
#if SHMDEV_HPP_EXCEPTIONS
		if (w.thrown)
			std::rethrow_exception(w.thrown);
#endif
		if (w.stopped)
			return false;
		if (ret)
			return result<bool>(failure, ret, ctx_);
		return true;
	}

private:
	static result<pool> open(const context &ctx, const config &conf, const type_spec *types,
				 std::size_t n, unsigned int flags)
	{
		static_assert(sizeof(type_spec) == sizeof(shmdev_type) &&
			      std::is_standard_layout<type_spec>::value,
			      "type_spec is a shmdev_type");
		std::vector<shmdev_type> t;
		shmdev_pool *p = nullptr;
		int ret;

		t.reserve(n);
		for (std::size_t i = 0; i < n; i++)
			t.push_back(types[i].desc);
		ret = shmdev_pool_open(ctx.native(), conf.native(), n ? t.data() : nullptr, n,
				       flags, &p);
		if (ret)
			return result<pool>(failure, ret, ctx.native());
		pool r;
		r.pool_ = p;
		r.ctx_ = shmdev_ctx_ref(ctx.native());
		return r;
	}

	template <class T, class Fn>
	result<ref<T>> alloc_with(Fn fn)
	{
		return detail::alloc_ref<T>(fn, pool_, ctx_);
	}

	void release_ctx() noexcept
	{
		if (ctx_)
			shmdev_ctx_unref(std::exchange(ctx_, nullptr));
	}

	shmdev_pool *pool_ = nullptr;
	shmdev_ctx *ctx_ = nullptr;	/* a reference of our own */
};

} // namespace shmdev

#endif /* SHMDEV_HPP */
