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

# W=1 and sparse: any warning fails.
module-check: $(KMOD_SRCS)
	@test -n "$(KDIR)" || { echo "kmod: no kernel build tree (set KDIR)" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=1 modules >$(BUILD)/kmod-check.log 2>&1; \
		rc=$$?; cat $(BUILD)/kmod-check.log; exit $$rc
	@! grep -E 'warning:|error:' $(BUILD)/kmod-check.log

module-clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean

clean:: module-clean
