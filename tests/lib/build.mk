# Host test suites of libshmdev: every tests/lib/test_*.c is one Check
# runner, linked with tests/lib/util_*.c.  Each runs three ways on the host
# (plain, ASan+UBSan, valgrind) and once more inside the VM bench, where the
# device backend is used.
LIBTEST_SRCS := $(sort $(wildcard tests/lib/test_*.c))
LIBTEST_UTIL_SRCS := $(sort $(wildcard tests/lib/util_*.c))
LIBTEST_NAMES := $(notdir $(LIBTEST_SRCS:.c=))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)
CHECK_LIBS_STATIC := -lcheck -lsubunit -lrt -lm -lpthread

LIBTEST_BINS := $(LIBTEST_NAMES:%=$(BUILD)/tests/lib/%)
LIBTEST_SAN_BINS := $(LIBTEST_NAMES:%=$(BUILD)/san/tests/lib/%)
# ThreadSanitizer: the suites that run threads (SHMDEV_POOL_THREADS).  The
# others are single-threaded, where it has nothing to find.
LIBTEST_TSAN_NAMES := test_threads
LIBTEST_TSAN_BINS := $(LIBTEST_TSAN_NAMES:%=$(BUILD)/tsan/tests/lib/%)
LIBTEST_VM_BINS := $(LIBTEST_NAMES:%=$(BUILD)/vm/bin/lib_%)
VM_TEST_BINS += $(LIBTEST_VM_BINS)

LIBTEST_CFLAGS := $(CFLAGS_COMMON) -Itests/lib -DSHMPOOL_SRCDIR='"$(CURDIR)"'

$(BUILD)/tests/lib/%: tests/lib/%.c $(LIBTEST_UTIL_SRCS) $(wildcard tests/lib/*.h) $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) -o $@ $< $(LIBTEST_UTIL_SRCS) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(BUILD)/san/tests/lib/%: tests/lib/%.c $(LIBTEST_UTIL_SRCS) $(wildcard tests/lib/*.h) $(LIBSHMDEV_SAN_A)
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) $(SAN_FLAGS) -o $@ $< $(LIBTEST_UTIL_SRCS) $(LIBSHMDEV_SAN_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(BUILD)/tsan/tests/lib/%: tests/lib/%.c $(LIBTEST_UTIL_SRCS) $(wildcard tests/lib/*.h) $(LIBSHMDEV_TSAN_A)
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(LIBTEST_UTIL_SRCS) $(LIBSHMDEV_TSAN_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(BUILD)/vm/bin/lib_%: tests/lib/%.c $(LIBTEST_UTIL_SRCS) $(wildcard tests/lib/*.h) $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) -static -o $@ $< $(LIBTEST_UTIL_SRCS) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS_STATIC) $(CHECK_LIBS_STATIC)

.PHONY: test-lib test-lib-san test-lib-valgrind test-lib-tsan
test-lib: $(LIBTEST_BINS)
	@set -e; for t in $^; do echo "== $$t"; SHMDEV_BACKEND=posix $$t; done

test-lib-san: $(LIBTEST_SAN_BINS)
	@set -e; for t in $^; do echo "== $$t (ASan+UBSan)"; \
		SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

# CK_FORK stays on: valgrind follows fork() without --trace-children.
test-lib-valgrind: $(LIBTEST_BINS)
	@set -e; for t in $^; do echo "== $$t (valgrind)"; \
		SHMDEV_BACKEND=posix SHMDEV_TEST_QUICK=1 valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite $$t; done

# halt_on_error: the first race fails the suite (a planted one must).
test-lib-tsan: $(LIBTEST_TSAN_BINS)
	@set -e; for t in $^; do echo "== $$t (ThreadSanitizer)"; \
		SHMDEV_BACKEND=posix SHMDEV_TEST_QUICK=1 \
		TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 $$t; done

test-host:: test-lib test-lib-san test-lib-valgrind test-lib-tsan
