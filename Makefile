# shmpool top-level Makefile (user space, tests, packaging).
# The kernel module is built by ./Kbuild through kmod/build.mk.
#
# Each component adds its own rules in <dir>/build.mk, using double-colon
# rules for the shared targets below so that fragments never edit each other.
#
#   make            build the library and the tool (shmpoolctl), nothing else
#   make examples   the demo zone servers (C and C++) and player, README's example
#   make test       install what the tests need, then run every suite
#                   (host, module builds on every kernel, VM rounds)
#   make demo       the hot-restart story (examples/)
#   make bench      benchmarks (bench/)
#   make install    PREFIX=/usr/local DESTDIR=

PACKAGE_VERSION := 0.1.0

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror
OPT ?= -O2 -g
CPPFLAGS_COMMON := -Iinclude/uapi -Ilibshmdev
CFLAGS_COMMON := $(CSTD) $(WARN) $(OPT) $(CPPFLAGS_COMMON)

# Sanitizer build flavour used by the host test suites.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# ThreadSanitizer flavour: the suites of SHMDEV_POOL_THREADS (tests/lib/build.mk).
# -Wno-tsan: TSan does not model atomic_thread_fence; the library's fences
# order the owner's stores for a read-only checker in another process, never
# for threads of one process (those meet on the type locks).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan

# test-commands (tests/readme/build.mk): the README's other commands, small.
# test-system (tests/system/build.mk): README's installation on real systems.
.PHONY: all deps test test-host test-kmod test-vm test-commands clean install uninstall demo bench
.DEFAULT_GOAL := all

all::

# The README's test command.  It must work on a fresh machine: deps first.
# Then three lanes side by side (scripts/test-lanes.sh), each in its own
# build directory: the host suites, everything that boots the busybox VMs,
# and the system test (README's installation walked on real bookworm and
# trixie systems).  The host lane goes on with the custom debug kernel's
# rounds (built and cached on first use): the debug round and the
# live-update round.  Two cores, three lanes: the lanes are mostly waiting
# on qemu, and the summary gives each lane's wall and CPU time.
TEST_LANE_HOST := test-host test-vm-debug test-vm-kexec
TEST_LANE_VM := test-kmod test-vm test-commands
TEST_LANE_SYSTEM := test-system
test:
	@scripts/install-deps.sh
	@MAKE="$(MAKE)" scripts/test-lanes.sh "host:$(BUILD):$(strip $(TEST_LANE_HOST))" \
		"vm:$(BUILD)-vm:$(strip $(TEST_LANE_VM))" \
		"system:$(BUILD)-system:$(strip $(TEST_LANE_SYSTEM))"

# The custom debug kernel's rounds (tests/vm/README.md): its build is cached.
.PHONY: test-debug
test-debug:
	@$(MAKE) --no-print-directory test-vm-debug
	@$(MAKE) --no-print-directory test-vm-kexec

deps:
	@scripts/install-deps.sh

test-host::
test-kmod::
test-vm::
install::
uninstall::

clean::
	rm -rf $(BUILD)

# The library first (others link against $(LIBSHMDEV_A)), the VM bench last
# (it consumes the VM_TEST_BINS every other fragment appends to).
FRAGMENTS_FIRST := libshmdev/build.mk
FRAGMENTS_LAST := tests/vm/build.mk
include $(FRAGMENTS_FIRST)
include $(filter-out $(FRAGMENTS_FIRST) $(FRAGMENTS_LAST),$(sort $(wildcard */build.mk */*/build.mk)))
include $(wildcard $(FRAGMENTS_LAST))
