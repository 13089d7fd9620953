# The live-update round (tests/vm/kexec.sh): on the custom kernel of series
# KEXEC_SERIES (default debug: KEXEC_HANDOVER, LIVEUPDATE, LIVEUPDATE_MEMFD),
# the demo zone server's pool crosses a kexec with shmpoolctl liveupdate
# save/restore, then a kexec without save starts cold.  `make test` runs it
# in its host lane, after the debug round.  EXPORT/ADOPT themselves are tested on the
# stock kernels too (tests/kmod/test_handover.c, in VM_TEST_BINS).
KEXEC_SERIES ?= debug

.PHONY: test-vm-kexec
# kernels.sh builds the debug kernel if it is not cached (tests/vm/
# debug-kernel.sh), then the module is built for it (W=1 C=1).
test-vm-kexec: $(BUILD)/shmpoolctl $(BUILD)/vm/demo/zone_demo
	@tests/vm/kernels.sh $(KEXEC_SERIES)
	@BUILD=$(BUILD) tests/vm/build-kmod.sh $(KEXEC_SERIES)
	@BUILD=$(BUILD) tests/vm/kexec.sh $(KEXEC_SERIES)
