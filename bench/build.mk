# bench/: `make bench` (see bench/README.md).
#
#   $(BUILD)/bench/bench_pool     libshmdev vs glibc malloc and a free list;
#                                 restart vs shmget+shmat
#   $(BUILD)/bench/bench_boost    Boost.Interprocess, the same operations
#                                 (built only where Boost's headers are)
#   $(BUILD)/vm/bench/bench_kpath the kernel path, static, run in the VM

BENCH_DIR := $(BUILD)/bench
BENCH_POOL := $(BENCH_DIR)/bench_pool
BENCH_BOOST := $(BENCH_DIR)/bench_boost
BENCH_KPATH := $(BUILD)/vm/bench/bench_kpath
BENCH_HAVE_BOOST := $(wildcard /usr/include/boost/interprocess/managed_shared_memory.hpp)
BENCH_TICK := $(BENCH_DIR)/bench_tick
BENCH_TICK_HDRS := bench/peers.h bench/oatable.h bench/bench_boost_peer.h bench/peer_shmpool.h

# The shmpool adapter is C (the library's own flags); the rest is C++ for
# Boost.Interprocess.  The other malloc families are dlmopen()ed at run time.
$(BENCH_DIR)/peer_shmpool.o: bench/peer_shmpool.c bench/peer_shmpool.h libshmdev/shmdev.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -c -o $@ $<

$(BENCH_TICK): bench/bench_tick.cpp $(BENCH_TICK_HDRS) $(BENCH_DIR)/peer_shmpool.o $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror $(CPPFLAGS_COMMON) -Ibench -o $@ $< \
		$(BENCH_DIR)/peer_shmpool.o $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt -lpthread -ldl

all:: $(BENCH_POOL)

$(BENCH_POOL): bench/bench_pool.c libshmdev/shmdev.h $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(BENCH_BOOST): bench/bench_boost.cpp
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -o $@ $< -lrt -lpthread

$(BENCH_KPATH): bench/bench_kpath.c include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -static -o $@ $<

.PHONY: bench bench-build test-bench

bench-build: $(BENCH_POOL) $(BENCH_KPATH)

# Boost's headers are the bench's own dependency, not the tests'.
bench:
	@scripts/install-deps.sh
	@bench/bench.sh

# Tiny sizes, one run: the code paths only.  Never a timing assertion.
test-bench: $(BENCH_POOL) $(if $(BENCH_HAVE_BOOST),$(BENCH_BOOST))
	@echo "== bench smoke (tiny sizes, no timing checks)"
	@SHMDEV_BACKEND=posix $(BENCH_POOL) pool --sizes 64 --counts 1000 --runs 1 --ops 2000 >/dev/null
	@SHMDEV_BACKEND=posix $(BENCH_POOL) restart --counts 1000 --runs 1 >/dev/null
	@$(if $(BENCH_HAVE_BOOST),$(BENCH_BOOST) pool --sizes 64 --counts 1000 --runs 1 --ops 2000 >/dev/null && \
		$(BENCH_BOOST) restart --counts 1000 --runs 1 >/dev/null,echo "bench smoke: no Boost headers, bench_boost skipped")
	@echo "bench smoke: ok"

test-host:: test-bench
