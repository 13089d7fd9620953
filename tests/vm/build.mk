# VM bench (tests/vm/README.md): shmpool.ko built for every kernel series with
# W=1 and sparse, then one qemu round per series running every binary of
# VM_TEST_BINS (appended to by other fragments) against that module.
# VM_EXTRA_PROGS: host programs (absolute paths) the binaries run, copied
# into the initramfs at the same path with their libraries.
#
# VM_SERIES: the stock Debian kernels 6.1 6.12 7.x (the default), and
# "debug", the custom 7.x kernel with KASAN, lockdep, kmemleak and KFENCE
# whose round (test-vm-debug) runs its own set of binaries; it is not in the
# default yet (make test-debug runs it).  `make test-vm VM_SERIES=6.1` runs
# one stock round.
VM_SERIES ?= 6.1 6.12 7.x
VM_STOCK_SERIES := $(filter-out debug,$(VM_SERIES))
VM_KO := $(VM_STOCK_SERIES:%=$(BUILD)/kmod/%/shmpool.ko)
VM_DEBUG_KO := $(BUILD)/kmod/debug/shmpool.ko

.PHONY: vm-kernels vm-debug-kernel vm-force test-vm-stock test-vm-debug

# Kernel images and headers in the cache; fast and offline once done.
vm-kernels:
	@$(if $(VM_STOCK_SERIES),tests/vm/kernels.sh $(VM_STOCK_SERIES))

# Built from Debian's newest 7.x linux-source; rebuilt only when its version
# or tests/vm/debug.config changes (tests/vm/debug-kernel.sh).
vm-debug-kernel:
	@tests/vm/kernels.sh debug

vm-force:

# Always asked; build-kmod.sh rebuilds only if sources, kernel or flags changed.
$(VM_DEBUG_KO): vm-debug-kernel vm-force
	@BUILD=$(BUILD) tests/vm/build-kmod.sh debug

$(BUILD)/kmod/%/shmpool.ko: vm-kernels vm-force
	@BUILD=$(BUILD) tests/vm/build-kmod.sh $*

test-kmod:: $(VM_KO) $(if $(filter debug,$(VM_SERIES)),$(VM_DEBUG_KO))

# VM_TEST_BINS is read after every fragment is included (some come later).
.SECONDEXPANSION:
test-vm-stock: $(VM_KO) $$(VM_TEST_BINS)
	@$(if $(VM_STOCK_SERIES),BUILD=$(BUILD) VM_TEST_BINS="$(VM_TEST_BINS)" \
		VM_EXTRA_PROGS="$(VM_EXTRA_PROGS)" tests/vm/run.sh $(VM_STOCK_SERIES))

test-vm:: test-vm-stock $(if $(filter debug,$(VM_SERIES)),test-vm-debug)

# The debug round (issue 16; tests/vm/README.md): the module's suites (with
# the multi-process stress and the random ioctl sequences of
# kmod_test_stress and kmod_test_badinput) and the stress runners (trinity,
# exhaustion) on the debug kernel.  kmemleak is scanned after rmmod; a
# KASAN, lockdep, kmemleak, KFENCE or atomic-sleep report fails the round.
# Under TCG the debug kernel is several times slower than a stock one, so
# the longest knobs are scaled down (VM_DEBUG_ENV; SHMPOOL_VM_ENV adds to
# it).
VM_DEBUG_BINS ?= $(KMODTEST_BINS) $(STRESS_VM_BINS)
# trinity's ioctl run is skipped there: each of its calls took about 20 s on
# that kernel (371 s of a 948 s round), and none of them (trinity 2023.01)
# uses shmpool's numbers (all fail with ENOTTY); its file and mapping run is
# kept, shorter.  The trinity run (20000 calls: 234 s) and the exhaustion
# (5000 regions: 198 s) were then the round's longest parts; they run 5000
# calls and 1000 regions here (the stock rounds keep the full counts), so
# that the round leaves room for the system test in make test.
VM_DEBUG_ENV ?= SHMPOOL_FUZZ_OPS=20000 SHMPOOL_SEQ_OPS=5000 SHMPOOL_STRESS_SECONDS=10 \
	SHMPOOL_ATTACH_RACE_ITERS=1000 SHMPOOL_TRINITY_IOCTLS=0 SHMPOOL_TRINITY_CALLS=5000 \
	SHMPOOL_STRESS_REGIONS=1000
VM_DEBUG_TIMEOUT ?= 3600
VM_DEBUG_CK_MULT ?= 30

test-vm-debug: $(VM_DEBUG_KO) $$(VM_DEBUG_BINS)
	@BUILD=$(BUILD) VM_TEST_BINS="$(VM_DEBUG_BINS)" VM_EXTRA_PROGS="$(VM_EXTRA_PROGS)" \
		SHMPOOL_VM_TIMEOUT=$(VM_DEBUG_TIMEOUT) SHMPOOL_VM_CK_MULT=$(VM_DEBUG_CK_MULT) \
		SHMPOOL_VM_ENV="$(VM_DEBUG_ENV) $(SHMPOOL_VM_ENV)" tests/vm/run.sh debug

# The kernel-log judge of run.sh (vm_kernel_bad), on kept console logs.
.PHONY: test-vm-judge
test-vm-judge:
	@tests/vm/test_judge.sh

# vm_first_available (tests/vm/lib.sh), which picks the image package
# kernels.sh downloads, against a stub apt-cache.
.PHONY: test-vm-pkg-pick
test-vm-pkg-pick:
	@tests/vm/test_pkg_pick.sh

test-host:: test-vm-judge test-vm-pkg-pick
