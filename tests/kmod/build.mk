# Check suites for shmpool.ko.  They run only inside the VM bench (the host
# kernel has no module support): every tests/kmod/test_*.c becomes a static
# $(BUILD)/vm/bin/kmod_test_*, linked with tests/kmod/kutil.c, and joins
# VM_TEST_BINS.  Contract: the module is loaded before the first binary runs
# (SHMPOOL_KO names the .ko for reloads); each binary exits 0 on success and
# leaves the module loaded with no region behind.
#
# test_ns.c runs children in new IPC namespaces (unshare, setns).
# test_attack.c tries every path around a read-only or noexec mapping (as
# root and nobody, mounting a noexec devtmpfs under /run), races ATTACH
# against munmap of its output area (SHMPOOL_ATTACH_RACE_ITERS, default
# 3000) and checks nmaps, max_total_bytes and the fixed size.
# test_quota.c, test_perm.c, test_owner.c and test_nsproc.c use tests/kmod/kns.h
# (users, capabilities, user and IPC namespaces, SCM_RIGHTS).
# Knobs (environment, inside the VM): SHMPOOL_TEST_SEED (fuzz seed),
# SHMPOOL_FUZZ_OPS (default 100000), SHMPOOL_STRESS_SECONDS (default 20),
# SHMPOOL_STRESS_PROCS (default 4), SHMPOOL_SEQ_OPS (default 20000 per
# process) and SHMPOOL_SEQ_PROCS (default 4) for the multi-process sequence.
KMODTEST_SRCS := $(sort $(wildcard tests/kmod/test_*.c))
KMODTEST_UTIL := tests/kmod/kutil.c
KMODTEST_BINS := $(patsubst tests/kmod/test_%.c,$(BUILD)/vm/bin/kmod_test_%,$(KMODTEST_SRCS))
VM_TEST_BINS += $(KMODTEST_BINS)

KMODTEST_CFLAGS := $(CFLAGS_COMMON) -Itests/kmod -pthread

$(BUILD)/vm/bin/kmod_test_%: tests/kmod/test_%.c $(KMODTEST_UTIL) tests/kmod/kutil.h tests/kmod/kns.h include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(KMODTEST_CFLAGS) -static -o $@ $< $(KMODTEST_UTIL) -lcheck -lsubunit -lrt -lm -lpthread

.PHONY: kmod-tests
kmod-tests: $(KMODTEST_BINS)

# No mainline UAPI header (the cached 7.x headers) uses SHMPOOL_IOC_MAGIC;
# host-side, needs the kernel cache (vm-kernels).
.PHONY: test-ioctl-magic
test-ioctl-magic: vm-kernels
	@tests/kmod/ioctl_magic.sh

test-kmod:: test-ioctl-magic
