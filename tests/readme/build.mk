# The README's commands run as a user would type them, at small sizes where
# they take knobs, so that none of them can rot.  The C example compiles and
# does what the README says.
.PHONY: test-readme test-commands
test-readme: $(LIBSHMDEV_A) $(BUILD)/shmpoolctl
	@BUILD=$(BUILD) CC=$(CC) tests/readme/check-example.sh

test-host:: test-readme

# After the VM rounds (make test): these boot VMs too and need the kernels.
test-commands:
	@echo "== README: make demo BACKEND=posix"
	@$(MAKE) --no-print-directory demo BACKEND=posix
	@echo "== README: make demo (the device, in the VM here)"
	@$(MAKE) --no-print-directory demo
	@echo "== README: make bench (small sizes, one run)"
	@$(MAKE) --no-print-directory bench BENCH_SIZES=64 BENCH_COUNTS=1000 BENCH_RUNS=1 BENCH_OPS=20000
	@echo "== README: make fuzz FUZZ_TIME=5"
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=5
	@echo "== README: make stress (small counts)"
	@$(MAKE) --no-print-directory stress STRESS_BITFLIP_ITERS=300 STRESS_REGIONS=500 \
		STRESS_CRASH_RUNS=1 STRESS_TRINITY_IOCTLS=5 STRESS_TRINITY_CALLS=2000 \
		CAMPAIGN_STRESS_RESTARTS=50 CAMPAIGN_STRESS_VM_RESTARTS=20
	@echo "== README: make module KDIR=... (6.1 headers), make module-clean"
	@$(MAKE) --no-print-directory module KDIR=$$(. $(or $(SHMPOOL_CACHE),/var/cache/shmpool/kernels)/6.1/kernel.env && echo $$KDIR) >/dev/null
	@test -f shmpool.ko && $(MAKE) --no-print-directory module-clean >/dev/null && test ! -e shmpool.ko
	@echo "== README: make examples"
	@$(MAKE) --no-print-directory examples >/dev/null
	@for b in zone_server zone_server_cpp zone_demo player; do \
		test -x $(EXAMPLES_DIR)/$$b || { echo "make examples: no $(EXAMPLES_DIR)/$$b"; exit 1; }; done
	@echo "README commands: 7 passed, 0 failed"
