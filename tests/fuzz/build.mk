# libFuzzer harnesses (issue 7 §2).  Every tests/fuzz/fuzz_*.c is one
# harness: it defines LLVMFuzzerTestOneInput() and is linked with libshmdev
# built by clang with coverage, ASan and UBSan.  Its seed corpus is
# tests/fuzz/corpus/<harness>/, its optional dictionary tests/fuzz/<harness>.dict.
# New inputs go to $(BUILD)/fuzz/work/<harness>/ (the tree is not written),
# crashes to $(BUILD)/fuzz/artifacts/.
#
#   make test-fuzz                 short bounded pass (part of test-host)
#   make fuzz FUZZ_TIME=3600       long pass, FUZZ_TIME seconds per harness
#   make fuzz FUZZ_ONLY=fuzz_conf  one harness only
#   reproduce: build/fuzz/bin/<harness> build/fuzz/artifacts/<file>

FUZZ_CC ?= clang
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(notdir $(FUZZ_SRCS:.c=))
FUZZ_ONLY ?= $(FUZZ_NAMES)
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/bin/%)
FUZZ_LIB_SRCS := $(sort $(wildcard libshmdev/*.c))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)

# clang's warnings differ from gcc's: they are shown, and gcc's -Werror
# build stays the gate, so that a clang-only warning never blocks the tests.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -Werror -O2,$(CFLAGS_COMMON)) -O1 $(FUZZ_SAN)

# Short pass: FUZZ_RUNS inputs or FUZZ_SHORT_TIME seconds, whichever first.
FUZZ_RUNS ?= 200000
FUZZ_SHORT_TIME ?= 30
FUZZ_TIME ?= 600

# Keep the objects: they are intermediate to make, and slow to rebuild.
.SECONDARY: $(FUZZ_LIB_OBJS)

$(BUILD)/fuzz/libshmdev/%.o: libshmdev/%.c $(wildcard libshmdev/*.h) include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -fvisibility=hidden -c -o $@ $<

$(BUILD)/fuzz/bin/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(LIBSHMDEV_LIBS) -lrt

# $(1): extra libFuzzer options.  The log of each run is kept in
# $(BUILD)/fuzz/<harness>.log and its tail shown when the harness fails.
define FUZZ_RUN
	@set -e; mkdir -p $(BUILD)/fuzz/artifacts; \
	for h in $(FUZZ_ONLY); do \
		mkdir -p $(BUILD)/fuzz/work/$$h; \
		dict=; if [ -f tests/fuzz/$$h.dict ]; then dict=-dict=tests/fuzz/$$h.dict; fi; \
		log=$(BUILD)/fuzz/$$h.log; \
		if ! $(BUILD)/fuzz/bin/$$h $(1) $$dict -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$h- \
			$(BUILD)/fuzz/work/$$h tests/fuzz/corpus/$$h >$$log 2>&1; then \
			tail -n 60 $$log; echo "== fuzz $$h: FAILED (log: $$log)"; exit 1; \
		fi; \
		echo "== fuzz $$h: $$(grep -m1 '^Done' $$log || tail -n1 $$log)" \
			"($$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) inputs," \
			"corpus $$(ls $(BUILD)/fuzz/work/$$h | wc -l) new)"; \
	done
endef

.PHONY: test-fuzz fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

test-fuzz: $(FUZZ_BINS)
	$(call FUZZ_RUN,-runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SHORT_TIME))

fuzz: $(FUZZ_BINS)
	$(call FUZZ_RUN,-max_total_time=$(FUZZ_TIME))

test-host:: test-fuzz
