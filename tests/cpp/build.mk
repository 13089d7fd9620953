# The C++ layer's suite (libshmdev/shmdev.hpp): tests/cpp/test_cpp.cpp, a
# Check runner compiled as C++17 twice, with exceptions (test_cpp) and with
# -fno-exceptions (test_cpp_noexc), linked with tests/lib/util_common.c
# compiled as C.  Each runs plain, under ASan+UBSan and under valgrind, as
# tests/lib does, and the first once more in every VM round on the device;
# compile_fail.sh proves the promises that must not compile.
CXXSTD := -std=c++17
CPPTEST_CXXFLAGS := $(CXXSTD) $(WARN) -pedantic $(OPT) $(CPPFLAGS_COMMON) -Itests/lib
CPPTEST_DIR := $(BUILD)/tests/cpp
CPPTEST_SAN_DIR := $(BUILD)/san/tests/cpp
CPPTEST_BINS := $(CPPTEST_DIR)/test_cpp $(CPPTEST_DIR)/test_cpp_noexc
CPPTEST_SAN_BINS := $(CPPTEST_SAN_DIR)/test_cpp $(CPPTEST_SAN_DIR)/test_cpp_noexc
CPPTEST_DEPS := tests/cpp/test_cpp.cpp tests/cpp/fields_cases.hpp libshmdev/shmdev.hpp libshmdev/shmdev.h tests/lib/testutil.h
CPPTEST_FLAVOUR_test_cpp :=
CPPTEST_FLAVOUR_test_cpp_noexc := -fno-exceptions

$(CPPTEST_DIR)/util_common.o: tests/lib/util_common.c tests/lib/testutil.h libshmdev/shmdev.h
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) -c -o $@ $<

$(CPPTEST_SAN_DIR)/util_common.o: tests/lib/util_common.c tests/lib/testutil.h libshmdev/shmdev.h
	@mkdir -p $(@D)
	$(CC) $(LIBTEST_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(CPPTEST_BINS): $(CPPTEST_DIR)/%: $(CPPTEST_DEPS) $(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A)
	$(CXX) $(CPPTEST_CXXFLAGS) $(CPPTEST_FLAVOUR_$*) -o $@ $< \
		$(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(CPPTEST_SAN_BINS): $(CPPTEST_SAN_DIR)/%: $(CPPTEST_DEPS) $(CPPTEST_SAN_DIR)/util_common.o $(LIBSHMDEV_SAN_A)
	$(CXX) $(CPPTEST_CXXFLAGS) $(SAN_FLAGS) $(CPPTEST_FLAVOUR_$*) -o $@ $< \
		$(CPPTEST_SAN_DIR)/util_common.o $(LIBSHMDEV_SAN_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

# And once in every VM round, on /dev/shmpool (the exceptions build).
CPPTEST_VM_BIN := $(BUILD)/vm/bin/cpp_test_cpp
VM_TEST_BINS += $(CPPTEST_VM_BIN)

$(CPPTEST_VM_BIN): $(CPPTEST_DEPS) $(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CXX) $(CPPTEST_CXXFLAGS) -static -o $@ $< $(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A) \
		$(LIBSHMDEV_LIBS_STATIC) $(CHECK_LIBS_STATIC)

.PHONY: test-cpp test-cpp-san test-cpp-valgrind test-cpp-compile-fail
test-cpp: $(CPPTEST_BINS)
	@set -e; for t in $^; do echo "== $$t"; SHMDEV_BACKEND=posix $$t; done

test-cpp-san: $(CPPTEST_SAN_BINS)
	@set -e; for t in $^; do echo "== $$t (ASan+UBSan)"; \
		SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

test-cpp-valgrind: $(CPPTEST_BINS)
	@set -e; for t in $^; do echo "== $$t (valgrind)"; \
		SHMDEV_BACKEND=posix SHMDEV_TEST_QUICK=1 valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite $$t; done

# The C++ demo zone server against kill -9 and against the C server
# (test_zone_cpp.cpp): one binary with both servers and the suite; on the
# host plain and under ASan+UBSan, and static in every VM round.
ZONE_CPP_TEST := $(CPPTEST_DIR)/test_zone_cpp
ZONE_CPP_TEST_SAN := $(CPPTEST_SAN_DIR)/test_zone_cpp
ZONE_CPP_TEST_VM := $(BUILD)/vm/bin/cpp_test_zone_cpp
VM_TEST_BINS += $(ZONE_CPP_TEST_VM)

$(ZONE_CPP_TEST): tests/cpp/test_zone_cpp.cpp $(EXAMPLES_DIR)/zone_cpp.o $(EXAMPLES_DIR)/zone_v1.o \
		$(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A)
	$(CXX) $(CPPTEST_CXXFLAGS) -o $@ $< $(filter %.o,$^) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(ZONE_CPP_TEST_SAN): tests/cpp/test_zone_cpp.cpp $(BUILD)/san/examples/zone_cpp.o \
		$(BUILD)/san/examples/zone_v1.o $(CPPTEST_SAN_DIR)/util_common.o $(LIBSHMDEV_SAN_A)
	$(CXX) $(CPPTEST_CXXFLAGS) $(SAN_FLAGS) -o $@ $< $(filter %.o,$^) $(LIBSHMDEV_SAN_A) \
		$(LIBSHMDEV_LIBS) $(CHECK_LIBS)

$(ZONE_CPP_TEST_VM): tests/cpp/test_zone_cpp.cpp $(EXAMPLES_DIR)/zone_cpp.o $(EXAMPLES_DIR)/zone_v1.o \
		$(CPPTEST_DIR)/util_common.o $(LIBSHMDEV_A)
	@mkdir -p $(@D)
	$(CXX) $(CPPTEST_CXXFLAGS) -static -o $@ $< $(filter %.o,$^) $(LIBSHMDEV_A) \
		$(LIBSHMDEV_LIBS_STATIC) $(CHECK_LIBS_STATIC)

.PHONY: test-zone-cpp
test-zone-cpp: $(ZONE_CPP_TEST) $(ZONE_CPP_TEST_SAN)
	@echo "== $(ZONE_CPP_TEST) (posix)"
	@SHMDEV_BACKEND=posix $(ZONE_CPP_TEST)
	@echo "== $(ZONE_CPP_TEST_SAN) (posix, ASan+UBSan)"
	@SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(ZONE_CPP_TEST_SAN)

# Each case of compile_fail.cpp must fail to compile with its message.
test-cpp-compile-fail:
	@CXX="$(CXX)" CXXFLAGS="$(CXXSTD) $(WARN) -pedantic $(CPPFLAGS_COMMON)" \
		tests/cpp/compile_fail.sh

test-host:: test-cpp test-cpp-san test-cpp-valgrind test-cpp-compile-fail test-zone-cpp

# The README's C++ example (tests/cpp/check-readme-cpp.sh).
.PHONY: test-cpp-readme
test-cpp-readme: $(LIBSHMDEV_A) $(BUILD)/shmpoolctl
	@BUILD=$(BUILD) CC="$(CC)" CXX="$(CXX)" tests/cpp/check-readme-cpp.sh

test-host:: test-cpp-readme
