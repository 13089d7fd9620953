// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Built by tests/install/run.sh against an installed DESTDIR tree with
 * "pkg-config --cflags --libs libshmdev", as C++17: proves that the
 * installed shmdev.hpp is found through the same .pc file and works
 * (registration, the error-code API, the RAII objects).
 */
#include <cstdio>
#include <shmdev.hpp>

struct Item {
	std::uint64_t stamp;
	std::uint32_t n;
};
SHMDEV_TYPE(Item, 0, "Item", 1, shmdev::plain);

static const char ini[] =
	"ProcessList = zone\n"
	"[zone]\n"
	"BaseKey = 0x1000\n"
	"BlockSize = 64K\n"
	"BlockKeys = 0x1001-0x1004\n";

int main()
{
	auto ctx = shmdev::context::create();
	if (!ctx)
		return 1;
	auto conf = shmdev::config::load_string(*ctx, ini, "hello.ini", "zone");
	auto key = ctx->render_template("key=$((${ZONE} * 2))", "t", { "ZONE=7" });
	if (!conf || !key) {
		std::fprintf(stderr, "hello_cpp: %s%s\n", conf.message().c_str(), key.message().c_str());
		return 1;
	}
	const shmdev_proc_conf *p = conf->self();
	std::printf("c++: %s: base 0x%llx, %zu blocks, %s, Item %u bytes\n", p->name,
		    (unsigned long long)p->base_key, p->nr_blocks, key->c_str(),
		    shmdev::type<Item>(10).desc.size);
	return 0;
}
