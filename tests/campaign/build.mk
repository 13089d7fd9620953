# tests/campaign/: crash campaigns against the demo zone server (issue 7 §4).
#
#   campaign_kill9   kill -9 of examples/zone_server at random moments, a
#                    restart and a full check after every round (see the
#                    comment at the top of campaign_kill9.c)
#
#   make test-campaign   the bounded pass of `make test` (host, POSIX backend):
#                        1000 restarts at the medium scale, 200 under ASan+UBSan
#   make stress          the long passes: 5000 restarts on the host
#                        (CAMPAIGN_STRESS_RESTARTS), 2000 in one VM round
#                        (CAMPAIGN_STRESS_VM_RESTARTS, CAMPAIGN_VM_SERIES)
#   in every VM round    300 restarts on /dev/shmpool, small scale (VM_TEST_BINS)
#
#   campaign_tx, campaign_migrate: see their rules below.
#
# SHMPOOL_TEST_SEED=N replays a campaign's plan; CAMPAIGN_ARGS adds options.

CAMPAIGN_DIR := $(BUILD)/tests/campaign
CAMPAIGN_BIN := $(CAMPAIGN_DIR)/campaign_kill9
CAMPAIGN_VM_BIN := $(BUILD)/vm/bin/campaign_kill9
# The server's v1 build, its main renamed zone_main_v1 (examples/build.mk).
CAMPAIGN_SERVER_OBJ := $(EXAMPLES_DIR)/zone_v1.o
CAMPAIGN_DEPS := tests/campaign/campaign_kill9.c examples/zone_types.h \
	$(EXAMPLES_DIR)/zone_tmpl.h libshmdev/shmdev.h $(CAMPAIGN_SERVER_OBJ) $(LIBSHMDEV_A)
CAMPAIGN_CFLAGS := $(CFLAGS_COMMON) -Iexamples -I$(EXAMPLES_DIR)
CAMPAIGN_ARGS ?=
CAMPAIGN_STRESS_RESTARTS ?= 5000
CAMPAIGN_STRESS_VM_RESTARTS ?= 2000
CAMPAIGN_VM_SERIES ?= 6.1

# Built by their test targets, not by "make".
.PHONY: campaigns
campaigns:: $(CAMPAIGN_BIN)

$(CAMPAIGN_BIN): $(CAMPAIGN_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CAMPAIGN_CFLAGS) -o $@ $< $(CAMPAIGN_SERVER_OBJ) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(CAMPAIGN_VM_BIN): $(CAMPAIGN_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CAMPAIGN_CFLAGS) -static -o $@ $< $(CAMPAIGN_SERVER_OBJ) $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS_STATIC)

# Inside the VM it sees SHMPOOL_VM=1: 100 restarts at the tiny scale.
VM_TEST_BINS += $(CAMPAIGN_VM_BIN)

# The same under ASan+UBSan (the server's repair paths run only after kills).
CAMPAIGN_SAN_BIN := $(BUILD)/san/tests/campaign/campaign_kill9
CAMPAIGN_SAN_SERVER_OBJ := $(BUILD)/san/examples/zone_v1.o

$(CAMPAIGN_SAN_BIN): $(CAMPAIGN_DEPS) $(CAMPAIGN_SAN_SERVER_OBJ) $(LIBSHMDEV_SAN_A)
	@mkdir -p $(@D)
	$(CC) $(CAMPAIGN_CFLAGS) $(SAN_FLAGS) -o $@ $< $(CAMPAIGN_SAN_SERVER_OBJ) $(LIBSHMDEV_SAN_A) $(LIBSHMDEV_LIBS) -lrt

# campaign_tx: the trading world under transactions (issue 14, item 3):
# 1000 restarts with transactions, no violation allowed; 300 without,
# where violations must show (the campaign can fail).
CAMPAIGN_TX_BIN := $(CAMPAIGN_DIR)/campaign_tx
CAMPAIGN_TX_VM_BIN := $(BUILD)/vm/bin/campaign_tx
CAMPAIGN_TX_DEPS := tests/campaign/campaign_tx.c tests/campaign/campaign_common.h libshmdev/shmdev.h $(LIBSHMDEV_A)

campaigns:: $(CAMPAIGN_TX_BIN)

$(CAMPAIGN_TX_BIN): $(CAMPAIGN_TX_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(CAMPAIGN_TX_VM_BIN): $(CAMPAIGN_TX_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -static -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS_STATIC)

# Inside the VM (SHMPOOL_VM=1, no arguments): 300 restarts with transactions.
VM_TEST_BINS += $(CAMPAIGN_TX_VM_BIN)

.PHONY: test-campaign-tx
test-campaign-tx: $(CAMPAIGN_TX_BIN)
	@echo "== campaign_tx (posix, 1000 restarts, transactions on: no violation)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_TX_BIN) --restarts 1000 --max-seconds 300 $(CAMPAIGN_TX_ARGS)
	@echo "== campaign_tx (posix, up to 300 restarts, transactions off: violations must show)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_TX_BIN) --restarts 300 --no-tx --expect-violations --max-seconds 300 $(CAMPAIGN_TX_ARGS)

test-host:: test-campaign-tx

.PHONY: test-campaign stress
test-campaign: $(CAMPAIGN_BIN) $(CAMPAIGN_SAN_BIN)
	@echo "== campaign_kill9 (posix, 1000 restarts, medium scale)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_BIN) --restarts 1000 --max-seconds 300 $(CAMPAIGN_ARGS)
	@echo "== campaign_kill9 (posix, 200 restarts, small scale, ASan+UBSan)"
	@SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CAMPAIGN_SAN_BIN) --restarts 200 --scale small --zone 961 --max-seconds 300 $(CAMPAIGN_ARGS)

test-host:: test-campaign

stress:: $(CAMPAIGN_BIN)
	@echo "== campaign_kill9 (posix, $(CAMPAIGN_STRESS_RESTARTS) restarts, medium scale)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_BIN) --restarts $(CAMPAIGN_STRESS_RESTARTS) --max-seconds 3600 $(CAMPAIGN_ARGS)

# And a VM round of its own on /dev/shmpool.
stress:: $(BUILD)/kmod/$(CAMPAIGN_VM_SERIES)/shmpool.ko $(CAMPAIGN_VM_BIN)
	@echo "== campaign_kill9 (VM $(CAMPAIGN_VM_SERIES), $(CAMPAIGN_STRESS_VM_RESTARTS) restarts, small scale)"
	@BUILD=$(BUILD) VM_TEST_BINS="$(CAMPAIGN_VM_BIN)" \
	SHMPOOL_VM_ENV="SHMPOOL_CAMPAIGN_RESTARTS=$(CAMPAIGN_STRESS_VM_RESTARTS) $(SHMPOOL_VM_ENV)" \
	tests/vm/run.sh $(CAMPAIGN_VM_SERIES)

# campaign_migrate: kills during migrations on resume (issue 13, item 5):
# a described world (KEYED Units, plain Items, handles between them)
# migrated v1 -> v2 -> v3 -> v1 at every restart, the owner killed at the
# migration's crash points or after a random delay; no violation allowed.
# make test-host: 1000 restarts plain, 200 under ASan+UBSan, 100 under
# valgrind; every VM round: 200 on /dev/shmpool; make stress: 5000
# (CAMPAIGN_MIG_STRESS_RESTARTS).
CAMPAIGN_MIG_BIN := $(CAMPAIGN_DIR)/campaign_migrate
CAMPAIGN_MIG_SAN_BIN := $(BUILD)/san/tests/campaign/campaign_migrate
CAMPAIGN_MIG_VM_BIN := $(BUILD)/vm/bin/campaign_migrate
CAMPAIGN_MIG_DEPS := tests/campaign/campaign_migrate.c tests/campaign/campaign_migrate_types.h \
	tests/campaign/campaign_common.h \
	libshmdev/shmdev.h $(LIBSHMDEV_A)
CAMPAIGN_MIG_ARGS ?=
CAMPAIGN_MIG_STRESS_RESTARTS ?= 5000

campaigns:: $(CAMPAIGN_MIG_BIN)

$(CAMPAIGN_MIG_BIN): $(CAMPAIGN_MIG_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS) -lrt

$(CAMPAIGN_MIG_SAN_BIN): $(CAMPAIGN_MIG_DEPS) $(LIBSHMDEV_SAN_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< $(LIBSHMDEV_SAN_A) $(LIBSHMDEV_LIBS) -lrt

$(CAMPAIGN_MIG_VM_BIN): $(CAMPAIGN_MIG_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -static -o $@ $< $(LIBSHMDEV_A) $(LIBSHMDEV_LIBS_STATIC)

# Inside the VM (SHMPOOL_VM=1, no arguments): 200 restarts on /dev/shmpool.
VM_TEST_BINS += $(CAMPAIGN_MIG_VM_BIN)

.PHONY: test-campaign-migrate
test-campaign-migrate: $(CAMPAIGN_MIG_BIN) $(CAMPAIGN_MIG_SAN_BIN)
	@echo "== campaign_migrate (posix, 1000 restarts, kills during migrations: no violation)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_MIG_BIN) --restarts 1000 --max-seconds 300 $(CAMPAIGN_MIG_ARGS)
	@echo "== campaign_migrate (posix, 200 restarts, ASan+UBSan)"
	@SHMDEV_BACKEND=posix ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CAMPAIGN_MIG_SAN_BIN) --restarts 200 --max-seconds 300 $(CAMPAIGN_MIG_ARGS)
	@echo "== campaign_migrate (posix, 100 restarts, valgrind)"
	@SHMDEV_BACKEND=posix valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite \
		$(CAMPAIGN_MIG_BIN) --restarts 100 --max-seconds 300 $(CAMPAIGN_MIG_ARGS)

test-host:: test-campaign-migrate

stress:: $(CAMPAIGN_MIG_BIN)
	@echo "== campaign_migrate (posix, $(CAMPAIGN_MIG_STRESS_RESTARTS) restarts)"
	@SHMDEV_BACKEND=posix $(CAMPAIGN_MIG_BIN) --restarts $(CAMPAIGN_MIG_STRESS_RESTARTS) --max-seconds 3600 $(CAMPAIGN_MIG_ARGS)
