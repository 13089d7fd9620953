# shmpoolctl's Check suite (tests/tools/test_shmpoolctl.c).  It runs the tool
# as a program; the runner links the tool's code too and is shmpoolctl
# itself when called as "RUNNER __shmpoolctl ARGS" (multicall).
#   host, plain:      SHMPOOLCTL=build/shmpoolctl (the real binary), POSIX
#   host, ASan+UBSan: multicall, so the tool runs under the sanitizers too
#   VM:               multicall, device backend, module load/unload (--ko)
# The tools/build.mk variables are not defined yet here (fragments are
# included in name order), hence the paths spelt out.
CTLTEST_TOOL_SRCS := $(filter-out tools/main.c,$(sort $(wildcard tools/*.c)))
CTLTEST_TOOL_OBJS := $(CTLTEST_TOOL_SRCS:%.c=$(BUILD)/%.o)
CTLTEST_TOOL_SAN_OBJS := $(CTLTEST_TOOL_SRCS:%.c=$(BUILD)/san/%.o)
CTLTEST_CFLAGS := $(CFLAGS_COMMON) -Itests/lib -Itools
CTLTEST_SRCS := tests/tools/test_shmpoolctl.c tests/tools/ctltest_util.c tests/tools/ctltest_pool.c $(sort $(wildcard tests/lib/util_*.c))
CTLTEST_DEPS := $(CTLTEST_SRCS) $(wildcard tests/lib/*.h tools/*.h tests/tools/*.h)
CTLTEST_KMOD_LIBS := $(shell pkg-config --libs libkmod 2>/dev/null || echo -lkmod)
CTLTEST_CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)

CTLTEST := $(BUILD)/tests/tools/test_shmpoolctl
CTLTEST_SAN := $(BUILD)/san/tests/tools/test_shmpoolctl
# Dynamic (libkmod has no static archive): the VM bench copies the libraries.
CTLTEST_VM := $(BUILD)/vm/bin/tools_test_shmpoolctl
VM_TEST_BINS += $(CTLTEST_VM)

$(CTLTEST): $(CTLTEST_DEPS) $(CTLTEST_TOOL_OBJS) $(BUILD)/libshmdev.a
	@mkdir -p $(@D)
	$(CC) $(CTLTEST_CFLAGS) -o $@ $(CTLTEST_SRCS) $(CTLTEST_TOOL_OBJS) $(BUILD)/libshmdev.a \
		-linih -lrt $(CTLTEST_KMOD_LIBS) $(CTLTEST_CHECK_LIBS)

$(CTLTEST_SAN): $(CTLTEST_DEPS) $(CTLTEST_TOOL_SAN_OBJS) $(BUILD)/san/libshmdev.a
	@mkdir -p $(@D)
	$(CC) $(CTLTEST_CFLAGS) $(SAN_FLAGS) -o $@ $(CTLTEST_SRCS) $(CTLTEST_TOOL_SAN_OBJS) \
		$(BUILD)/san/libshmdev.a -linih -lrt $(CTLTEST_KMOD_LIBS) $(CTLTEST_CHECK_LIBS)

$(CTLTEST_VM): $(CTLTEST)
	@mkdir -p $(@D)
	cp $< $@

.PHONY: test-tools test-tools-san
test-tools: $(CTLTEST) $(BUILD)/shmpoolctl
	@echo "== $(CTLTEST)"
	@SHMDEV_BACKEND=posix SHMPOOLCTL=$(BUILD)/shmpoolctl $(CTLTEST)

test-tools-san: $(CTLTEST_SAN)
	@echo "== $(CTLTEST_SAN) (ASan+UBSan, multicall)"
	@SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTLTEST_SAN)

test-host:: test-tools test-tools-san
