# bench/: `make bench` (see bench/README.md).
#
#   $(BUILD)/bench/bench_tick     shmpool against the slab floor, glibc,
#                                 jemalloc, mimalloc and tcmalloc (each with
#                                 an id table) and Boost.Interprocess node
#                                 allocators, in one process; restart
#   $(BUILD)/vm/bench/bench_kpath the kernel path, static, run in the VM

BENCH_DIR := $(BUILD)/bench
BENCH_TICK := $(BENCH_DIR)/bench_tick
BENCH_KPATH := $(BUILD)/vm/bench/bench_kpath
BENCH_TICK_SRCS := bench/bench_tick.cpp bench/bench_tick_report.cpp
BENCH_TICK_HDRS := bench/bench_tick.h bench/peers.h bench/oatable.h bench/bench_boost_peer.h \
	bench/peer_shmpool.h bench/bench_proc.h

# Not in `all`: it needs the peers' packages (install-deps.sh), which only
# make bench and make test install.

# -fno-ipa-icf: the malloc families' identical blocks keep their own symbols
# for callgrind (bench/counts.sh).  The shmpool adapter is C (the library's own flags); the rest is C++ for
# Boost.Interprocess.  The other malloc families are dlmopen()ed at run time.
$(BENCH_DIR)/peer_shmpool.o: bench/peer_shmpool.c bench/peer_shmpool.h libshmdev/shmdev.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -c -o $@ $<

$(BENCH_TICK): $(BENCH_TICK_SRCS) $(BENCH_TICK_HDRS) $(BENCH_DIR)/peer_shmpool.o $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -g -fno-ipa-icf -Wall -Wextra -Werror $(CPPFLAGS_COMMON) -Ibench -o $@ $(BENCH_TICK_SRCS) \
		$(BENCH_DIR)/peer_shmpool.o $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt -lpthread -ldl

$(BENCH_KPATH): bench/bench_kpath.c include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -static -o $@ $<

.PHONY: bench bench-build bench-smoke bench-counts test-bench

bench-build: $(BENCH_TICK) $(BENCH_KPATH)

bench:
	@scripts/install-deps.sh
	@bench/bench.sh

# Instructions and simulated cache misses per operation (callgrind).
bench-counts: $(BENCH_TICK)
	@BUILD=$(BUILD) bench/counts.sh

# Tiny counts, one repetition: every peer and every table, never a timing
# assertion (bench/smoke.sh checks the output's shape).
bench-smoke: $(BENCH_TICK)
	@echo "== bench smoke (tiny counts, no timing checks)"
	@BUILD=$(BUILD) bench/smoke.sh

test-bench: bench-smoke

test-host:: bench-smoke

# bench_tx: a transaction's cost (issue 14): bench/bench_tx.c.  Run by
# bench.sh after the tick tables; built (and run once, tiny) by bench-smoke.
BENCH_TX := $(BENCH_DIR)/bench_tx

$(BENCH_TX): bench/bench_tx.c bench/bench_median.h libshmdev/shmdev.h $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

bench-build: $(BENCH_TX)

bench-smoke: bench-smoke-tx
.PHONY: bench-smoke-tx
bench-smoke-tx: $(BENCH_TX)
	@echo "== bench_tx smoke (tiny counts, no timing checks)"
	@$(BENCH_TX) --iters 1000 --reps 1 | grep -q '^| transaction overhead |'

# bench_threads (bench/bench_threads.c): SHMDEV_POOL_THREADS, alloc+free
# throughput by thread count; with the library's lock per type, and with
# the alternatives measured against it (libshmdev/pool_lock.c: one lock for
# the pool, a glibc adaptive mutex per type).  `make bench-threads` prints all three.
BENCH_THREADS_VARIANTS := one mutex
BENCH_THREADS := $(BENCH_DIR)/bench_threads
BENCH_THREADS_LIBOBJS := $(filter-out %/pool_lock.o,$(LIBSHMDEV_OBJS))

$(BENCH_THREADS): bench/bench_threads.c bench/bench_median.h libshmdev/shmdev.h $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lpthread

$(BENCH_DIR)/pool_lock_%.o: libshmdev/pool_lock.c $(wildcard libshmdev/*.h)
	@mkdir -p $(@D)
	$(CC) $(LIBSHMDEV_CFLAGS) -DPOOL_LOCK_$(shell echo $* | tr a-z A-Z) -c -o $@ $<

$(BENCH_THREADS)_%: bench/bench_threads.c bench/bench_median.h $(BENCH_DIR)/pool_lock_%.o $(BENCH_THREADS_LIBOBJS)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(BENCH_DIR)/pool_lock_$*.o $(BENCH_THREADS_LIBOBJS) \
		$(LIBSHMDEV_LIBS) -lpthread

.PHONY: bench-threads bench-threads-counts bench-threads-smoke
bench-threads: $(BENCH_THREADS) $(BENCH_THREADS_VARIANTS:%=$(BENCH_THREADS)_%)
	@echo "== lock per type (the library)"; SHMDEV_BACKEND=posix $(BENCH_THREADS) $(BENCH_THREADS_ARGS)
	@for v in $(BENCH_THREADS_VARIANTS); do echo "== variant: $$v"; \
		SHMDEV_BACKEND=posix $(BENCH_THREADS)_$$v $(BENCH_THREADS_ARGS); done

# Instructions per get, alloc, free, find and force_get without the flag
# (callgrind): the
# single-threaded fast path's cost, compared before and after in README.md.
BENCH_THREADS_COUNTS ?= 160000
bench-threads-counts: $(BENCH_THREADS)
	@BENCH=$(BENCH_THREADS) N=$(BENCH_THREADS_COUNTS) OUT=$(BENCH_DIR)/threads.callgrind bench/threads_counts.sh

# Part of test-host: every variant and the counts at tiny sizes (no timing).
bench-threads-smoke:
	@echo "== bench threads smoke (tiny counts, no timing checks)"
	@$(MAKE) --no-print-directory bench-threads BENCH_THREADS_ARGS="--pairs 1600 --reps 1" >/dev/null
	@$(MAKE) --no-print-directory bench-threads-counts BENCH_THREADS_COUNTS=3200 | grep -c "instructions per call" | grep -qx 5

test-host:: bench-threads-smoke

# Issue 13: the migration rate of a resume that grows a type (bench/bench_migrate.c).
BENCH_MIGRATE := $(BENCH_DIR)/bench_migrate
BENCH_MIGRATE_COUNTS ?= 100000,1000000

$(BENCH_MIGRATE): bench/bench_migrate.c bench/bench_proc.h libshmdev/shmdev.h $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

.PHONY: bench-migrate bench-migrate-smoke
# As root, in a mount namespace of its own with a huge=advise tmpfs on
# /dev/shm (as bench.sh runs bench_tick), so that its HugePages = yes rows
# get huge pages; nothing changes outside that namespace.
bench-migrate: $(BENCH_MIGRATE)
	@echo "== bench migrate: Player 256 -> 320 bytes, old objects per second (target >= 1 GB/s)"
	@if [ "$$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then \
		unshare --mount --propagation private -- sh -c \
		'mount -t tmpfs -o huge=advise,mode=1777,size=50% bench-shm /dev/shm && exec "$$@"' sh \
		$(BENCH_MIGRATE) --counts $(BENCH_MIGRATE_COUNTS); \
	else \
		echo "bench migrate: not root or no unshare: the HugePages = yes rows get what /dev/shm gives"; \
		$(BENCH_MIGRATE) --counts $(BENCH_MIGRATE_COUNTS); \
	fi

bench: bench-migrate

bench-migrate-smoke: $(BENCH_MIGRATE)
	@echo "== bench migrate smoke (1000 objects, one run, no timing checks)"
	@$(BENCH_MIGRATE) --counts 1000 --runs 1 >/dev/null

test-host:: bench-migrate-smoke

# bench_cpp (bench/bench_cpp.cpp): the C++ layer against the C calls it
# wraps, on one pool (issue 15, item 5).  `make bench-cpp` prints the table
# and the instructions per call (callgrind, bench/cpp_counts.sh); bench.sh
# prints the table after bench_tx; bench-smoke runs it once, tiny.
BENCH_CPP := $(BENCH_DIR)/bench_cpp
# -fno-ipa-icf: the C and C++ sides of an operation may compile to the same
# code; folded into one symbol, callgrind would give both calls to one name.
BENCH_CPP_FLAGS := -std=c++17 $(WARN) -pedantic $(OPT) -fno-ipa-icf $(CPPFLAGS_COMMON)

$(BENCH_CPP): bench/bench_cpp.cpp bench/bench_median.h libshmdev/shmdev.h libshmdev/shmdev.hpp $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CXX) $(BENCH_CPP_FLAGS) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

bench-build: $(BENCH_CPP)

.PHONY: bench-cpp bench-smoke-cpp
bench-cpp: $(BENCH_CPP)
	@$(BENCH_CPP) $(BENCH_CPP_ARGS)
	@echo
	@BENCH=$(BENCH_CPP) N=$(or $(BENCH_CPP_COUNTS),100000) OUT=$(BENCH_DIR)/bench_cpp.callgrind bench/cpp_counts.sh

bench-smoke: bench-smoke-cpp
bench-smoke-cpp: $(BENCH_CPP)
	@echo "== bench_cpp smoke (tiny counts, no timing checks)"
	@$(BENCH_CPP) --ops 2000 --reps 1 --items 1000 --players 500 >$(BENCH_DIR)/bench_cpp.smoke 2>&1 && \
		grep -q '^| force_get |' $(BENCH_DIR)/bench_cpp.smoke || { cat $(BENCH_DIR)/bench_cpp.smoke; exit 1; }
