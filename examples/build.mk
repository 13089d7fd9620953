# examples/: the hot-restart demo zone server and `make demo`.
#
#   $(BUILD)/examples/zone_server{,_v2,_grown}   the server, three builds
#   $(BUILD)/examples/zone_demo                 the story: one binary holding
#                                               the three builds and the driver
#   $(BUILD)/vm/demo/zone_demo                  the same, static, for the VM
#
#   make demo                 the story on /dev/shmpool, here or in the VM
#   make demo BACKEND=posix   the story on the host with the POSIX fallback
#   make demo BACKEND=vm      force the VM even where /dev/shmpool exists

EXAMPLES_DIR := $(BUILD)/examples
EXAMPLES_CFLAGS := $(CFLAGS_COMMON) -I$(EXAMPLES_DIR)
# name:defines of the three builds of zone_server.c
EXAMPLES_VARIANTS := v1: v2:-DDEMO_V2 grown:-DDEMO_PLAYER_GROWN kind:-DDEMO_PLAYER_KIND
ZONE_BINS := $(EXAMPLES_DIR)/zone_server $(EXAMPLES_DIR)/zone_server_v2 \
	$(EXAMPLES_DIR)/zone_server_grown
ZONE_DEMO := $(EXAMPLES_DIR)/zone_demo
ZONE_DEMO_STATIC := $(BUILD)/vm/demo/zone_demo
ZONE_DEMO_OBJS := $(EXAMPLES_DIR)/zone_demo.o \
	$(foreach v,$(EXAMPLES_VARIANTS),$(EXAMPLES_DIR)/zone_$(firstword $(subst :, ,$(v))).o)
ZONE_DEPS := examples/zone_server.c examples/zone_types.h examples/zone_fields.h \
	$(EXAMPLES_DIR)/zone_tmpl.h libshmdev/shmdev.h

# player: README's C example, long-running (installed with the samples; the
# system test builds it there with pkg-config).
EXAMPLES_PLAYER := $(EXAMPLES_DIR)/player

# Not part of "make": a production host needs the library and the tool;
# the examples (half of the user-space build's time) are "make examples".
.PHONY: examples
examples:: $(ZONE_BINS) $(ZONE_DEMO) $(EXAMPLES_PLAYER)

$(EXAMPLES_PLAYER): examples/player.c libshmdev/shmdev.h $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

# The template, compiled in as a C string.
$(EXAMPLES_DIR)/zone_tmpl.h: examples/zone.ini.tmpl
	@mkdir -p $(@D)
	{ echo '/* generated from examples/zone.ini.tmpl by examples/build.mk */'; \
	  echo 'static const char zone_tmpl[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } >$@.tmp && mv $@.tmp $@

$(EXAMPLES_DIR)/zone_server: $(ZONE_DEPS) $(LIBSHMDEV_A)
	$(CC) $(EXAMPLES_CFLAGS) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt
$(EXAMPLES_DIR)/zone_server_v2: $(ZONE_DEPS) $(LIBSHMDEV_A)
	$(CC) $(EXAMPLES_CFLAGS) -DDEMO_V2 -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt
$(EXAMPLES_DIR)/zone_server_grown: $(ZONE_DEPS) $(LIBSHMDEV_A)
	$(CC) $(EXAMPLES_CFLAGS) -DDEMO_PLAYER_GROWN -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

# zone_demo: each build's main renamed, plus the story driver.
define ZONE_VARIANT_RULE
ZONE_OBJ_FLAGS_zone_$(1) := $(2) -DZONE_MAIN=zone_main_$(1)
ZONE_OBJ_SRC_zone_$(1) := examples/zone_server.c
$(EXAMPLES_DIR)/zone_$(1).o: $(ZONE_DEPS)
	@mkdir -p $$(@D)
	$$(CC) $$(EXAMPLES_CFLAGS) $$(ZONE_OBJ_FLAGS_zone_$(1)) -c -o $$@ $$<
endef
ZONE_OBJ_SRC_zone_demo := examples/zone_demo.c
$(foreach v,$(EXAMPLES_VARIANTS),$(eval $(call ZONE_VARIANT_RULE,$(firstword $(subst :, ,$(v))),$(word 2,$(subst :, ,$(v))))))

$(EXAMPLES_DIR)/zone_demo.o: examples/zone_demo.c libshmdev/shmdev.h
	@mkdir -p $(@D)
	$(CC) $(EXAMPLES_CFLAGS) -c -o $@ $<

$(ZONE_DEMO): $(ZONE_DEMO_OBJS) $(LIBSHMDEV_A)
	$(CC) -o $@ $(ZONE_DEMO_OBJS) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(ZONE_DEMO_STATIC): $(ZONE_DEMO_OBJS) $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CC) -static -o $@ $(ZONE_DEMO_OBJS) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS_STATIC)

# The story at a small scale runs in every VM round too: the device path
# (crash noticed by the module, resume, refusal, destroy) on each kernel.
VM_TEST_BINS += $(ZONE_DEMO_STATIC)

# And under ASan+UBSan on the host.
ZONE_DEMO_SAN := $(BUILD)/san/examples/zone_demo
ZONE_DEMO_SAN_OBJS := $(ZONE_DEMO_OBJS:$(EXAMPLES_DIR)/%=$(BUILD)/san/examples/%)

$(BUILD)/san/examples/%.o: $(EXAMPLES_DIR)/%.o
	@mkdir -p $(@D)
	$(CC) $(EXAMPLES_CFLAGS) $(SAN_FLAGS) $(ZONE_OBJ_FLAGS_$*) -c -o $@ $(ZONE_OBJ_SRC_$*)

$(ZONE_DEMO_SAN): $(ZONE_DEMO_SAN_OBJS) $(LIBSHMDEV_SAN_A)
	$(CC) $(SAN_FLAGS) -o $@ $(ZONE_DEMO_SAN_OBJS) $(LIBSHMDEV_SAN_A) $(LIBSHMDEV_LIBS) -lrt

BACKEND ?= auto

.PHONY: demo demo-build test-demo
demo-build: $(ZONE_BINS) $(ZONE_DEMO) $(ZONE_DEMO_STATIC)

# A fresh machine has no compiler deps yet: install them, then build.
demo:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory demo-build >/dev/null
	@BUILD=$(BUILD) examples/demo.sh $(BACKEND)

# The demo story at a small scale on the POSIX backend, so that it cannot rot.
test-demo: $(ZONE_DEMO) $(ZONE_DEMO_SAN)
	@echo "== zone_demo story (small, posix)"
	@SHMDEV_BACKEND=posix SHMDEV_POSIX_PREFIX=shmpool-test-demo.$$$$ \
		$(ZONE_DEMO) story --small --zone 901
	@echo "== zone_demo story (small, posix, ASan+UBSan)"
	@SHMDEV_BACKEND=posix SHMDEV_POSIX_PREFIX=shmpool-test-demo-san.$$$$ \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(ZONE_DEMO_SAN) story --small --zone 902

test-host:: test-demo

# The C++ version: zone_server.cpp on libshmdev/shmdev.hpp, the same world,
# config and checksums (each resumes the other's pool), built without
# exceptions.  tests/cpp/build.mk links zone_cpp.o (its main renamed) with
# zone_v1.o into the suite that proves it, on the host and in the VM.
ZONE_CPP_FLAGS := -std=c++17 $(WARN) -pedantic -fno-exceptions $(OPT) $(CPPFLAGS_COMMON) -I$(EXAMPLES_DIR)
ZONE_CPP_DEPS := examples/zone_server.cpp examples/zone_options.hpp examples/zone_types.h $(EXAMPLES_DIR)/zone_tmpl.h \
	libshmdev/shmdev.h libshmdev/shmdev.hpp
ZONE_SERVER_CPP := $(EXAMPLES_DIR)/zone_server_cpp

examples:: $(ZONE_SERVER_CPP)

$(ZONE_SERVER_CPP): $(ZONE_CPP_DEPS) $(LIBSHMDEV_A)
	$(CXX) $(ZONE_CPP_FLAGS) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(EXAMPLES_DIR)/zone_cpp.o: $(ZONE_CPP_DEPS)
	$(CXX) $(ZONE_CPP_FLAGS) -DZONE_MAIN=zone_cpp_main -c -o $@ $<

$(BUILD)/san/examples/zone_cpp.o: $(ZONE_CPP_DEPS)
	@mkdir -p $(@D)
	$(CXX) $(ZONE_CPP_FLAGS) $(SAN_FLAGS) -DZONE_MAIN=zone_cpp_main -c -o $@ $<
