# shmpool.ko: `make module` builds it against KDIR, by default the running
# kernel's build tree if it has one, else the newest in /lib/modules.  The
# module's own build description is ./Kbuild; the multi-kernel build and the
# VM rounds live in tests/vm/.
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h) Kbuild include/uapi/linux/shmpool.h

KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),$(lastword $(sort $(wildcard /lib/modules/*/build))))
# Extra kbuild arguments, e.g. KMOD_ARGS="W=1 C=1".
KMOD_ARGS ?=

.PHONY: module module-clean module-check

module: shmpool.ko

shmpool.ko: $(KMOD_SRCS)
	@test -n "$(KDIR)" || { echo "kmod: no kernel build tree (set KDIR)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMOD_ARGS) modules

# W=1 and sparse against KDIR, in a private copy of the sources under
# $(BUILD)/kmod-check (kbuild's clean would sweep every *.[aios] of the
# repository): any warning or error fails.
KMOD_CHECK_DIR := $(BUILD)/kmod-check

module-check: $(KMOD_SRCS)
	@test -n "$(KDIR)" || { echo "kmod: no kernel build tree (set KDIR)" >&2; exit 1; }
	rm -rf $(KMOD_CHECK_DIR) && mkdir -p $(KMOD_CHECK_DIR)/kmod $(KMOD_CHECK_DIR)/include/uapi/linux
	cp Kbuild $(KMOD_CHECK_DIR)/ && cp kmod/*.c kmod/*.h $(KMOD_CHECK_DIR)/kmod/
	cp include/uapi/linux/shmpool.h $(KMOD_CHECK_DIR)/include/uapi/linux/
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_CHECK_DIR)) W=1 C=1 modules >$(KMOD_CHECK_DIR)/build.log 2>&1; \
		rc=$$?; cat $(KMOD_CHECK_DIR)/build.log; exit $$rc
	@! grep -E 'warning:|error:' $(KMOD_CHECK_DIR)/build.log

# Not kbuild's clean: for M= it deletes every *.[aios] under the repository.
module-clean:
	rm -f shmpool.ko shmpool.o shmpool.mod shmpool.mod.c shmpool.mod.o \
		.module-common.o Module.symvers modules.order kmod/*.o \
		.*.cmd kmod/.*.cmd

clean:: module-clean
