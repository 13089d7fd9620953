# VM bench (tests/vm/README.md): shmpool.ko built for every kernel series with
# W=1 and sparse, then one qemu round per series running every binary of
# VM_TEST_BINS (appended to by other fragments) against that module.
# VM_EXTRA_PROGS: host programs (absolute paths) the binaries run, copied
# into the initramfs at the same path with their libraries.
VM_SERIES ?= 6.1 6.12 7.x
VM_KO := $(VM_SERIES:%=$(BUILD)/kmod/%/shmpool.ko)

.PHONY: vm-kernels vm-force

# Kernel images and headers in the cache; fast and offline once done.
vm-kernels:
	@tests/vm/kernels.sh $(VM_SERIES)

vm-force:

# Always asked; build-kmod.sh rebuilds only if sources, kernel or flags changed.
$(BUILD)/kmod/%/shmpool.ko: vm-kernels vm-force
	@BUILD=$(BUILD) tests/vm/build-kmod.sh $*

test-kmod:: $(VM_KO)

# VM_TEST_BINS is read after every fragment is included (some come later).
.SECONDEXPANSION:
test-vm:: $(VM_KO) $$(VM_TEST_BINS)
	@BUILD=$(BUILD) VM_TEST_BINS="$(VM_TEST_BINS)" VM_EXTRA_PROGS="$(VM_EXTRA_PROGS)" \
		tests/vm/run.sh $(VM_SERIES)

# The kernel-log judge of run.sh (vm_kernel_bad), on kept console logs.
.PHONY: test-vm-judge
test-vm-judge:
	@tests/vm/test_judge.sh

test-host:: test-vm-judge
