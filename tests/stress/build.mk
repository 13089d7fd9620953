# Stress and exhaustion (issue 7 §4, §5).
#
# tests/stress/test_*.c are Check runners for the VM bench only (they talk to
# /dev/shmpool): static $(BUILD)/vm/bin/stress_test_*, linked with
# tests/kmod/kutil.c, appended to VM_TEST_BINS, so
# `make test` runs their bounded versions in every VM round.  test_trinity.c
# runs Debian's trinity (scripts/install-deps.sh installs it) against the
# device: /usr/bin/trinity joins VM_EXTRA_PROGS, which the bench copies into
# the initramfs with its libraries.
# The library campaigns (tests/lib/test_bitflip.c, test_exhaust.c) run in
# test-host and in the VM through tests/lib/build.mk.
#
#   make stress                 longer campaigns: host (posix, ASan+UBSan)
#                               and one VM round (STRESS_VM_SERIES)
#   make stress-host            the host part only
#   make stress-vm              the VM part only
#
# Knobs: STRESS_BITFLIP_ITERS (bit flips per run, 100000), STRESS_REGIONS
# (regions created at once, 20000), STRESS_CRASH_RUNS (runs of the
# fork-and-kill crash test, 5), STRESS_VM_SERIES (6.1), STRESS_TRINITY_IOCTLS
# and STRESS_TRINITY_CALLS (trinity's ioctl run and file/mapping run in the
# VM, 200 and 1000000; `make test` makes 20 and 100000 per kernel, see
# tests/stress/test_trinity.c), STRESS_MEMCG=0 (skips the memory cgroup
# case, whose expected OOM kill is announced to the bench: see
# tests/vm/README.md).
STRESS_VM_SRCS := $(sort $(wildcard tests/stress/test_*.c))
STRESS_VM_BINS := $(patsubst tests/stress/test_%.c,$(BUILD)/vm/bin/stress_test_%,$(STRESS_VM_SRCS))
VM_TEST_BINS += $(STRESS_VM_BINS)
VM_EXTRA_PROGS += /usr/bin/trinity
STRESS_UTIL := tests/kmod/kutil.c

STRESS_BITFLIP_ITERS ?= 100000
STRESS_REGIONS ?= 20000
STRESS_CRASH_RUNS ?= 5
STRESS_VM_SERIES ?= 6.1
STRESS_MEMCG ?= 1
STRESS_TRINITY_IOCTLS ?= 200
STRESS_TRINITY_CALLS ?= 1000000

$(BUILD)/vm/bin/stress_test_%: tests/stress/test_%.c $(STRESS_UTIL) tests/kmod/kutil.h \
		include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Itests/kmod -Itests/stress -static -o $@ $< $(STRESS_UTIL) \
		-lcheck -lsubunit -lrt -lm -lpthread

STRESS_SAN_ENV := SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: stress stress-host stress-vm
stress:: stress-host stress-vm

stress-host: $(BUILD)/san/tests/lib/test_bitflip $(BUILD)/tests/lib/test_exhaust \
		$(BUILD)/san/tests/lib/test_crash
	@set -e; echo "== stress: bit flips ($(STRESS_BITFLIP_ITERS), ASan+UBSan)"; \
	$(STRESS_SAN_ENV) SHMDEV_BITFLIP_ITERS=$(STRESS_BITFLIP_ITERS) $(BUILD)/san/tests/lib/test_bitflip
	@set -e; echo "== stress: exhaustion ($(STRESS_REGIONS) regions)"; \
	SHMDEV_BACKEND=posix SHMDEV_EXHAUST_REGIONS=$(STRESS_REGIONS) $(BUILD)/tests/lib/test_exhaust
	@set -e; for i in $$(seq $(STRESS_CRASH_RUNS)); do \
		echo "== stress: crash injection, run $$i of $(STRESS_CRASH_RUNS) (ASan+UBSan)"; \
		$(STRESS_SAN_ENV) $(BUILD)/san/tests/lib/test_crash; done

STRESS_VM_RUN_BINS = $(STRESS_VM_BINS) $(BUILD)/vm/bin/lib_test_bitflip $(BUILD)/vm/bin/lib_test_exhaust
stress-vm: $(BUILD)/kmod/$(STRESS_VM_SERIES)/shmpool.ko $(STRESS_VM_BINS) \
		$(BUILD)/vm/bin/lib_test_bitflip $(BUILD)/vm/bin/lib_test_exhaust
	@BUILD=$(BUILD) VM_TEST_BINS="$(STRESS_VM_RUN_BINS)" VM_EXTRA_PROGS="$(VM_EXTRA_PROGS)" \
	SHMPOOL_VM_ENV="SHMPOOL_TRINITY_IOCTLS=$(STRESS_TRINITY_IOCTLS) SHMPOOL_TRINITY_CALLS=$(STRESS_TRINITY_CALLS) SHMPOOL_STRESS_MEMCG=$(STRESS_MEMCG) SHMPOOL_STRESS_REGIONS=$(STRESS_REGIONS) SHMDEV_BITFLIP_ITERS=$(STRESS_BITFLIP_ITERS) SHMDEV_EXHAUST_REGIONS=$(STRESS_REGIONS) $(SHMPOOL_VM_ENV)" \
	tests/vm/run.sh $(STRESS_VM_SERIES)
