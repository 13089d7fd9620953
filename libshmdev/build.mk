# libshmdev: every libshmdev/*.c is part of the library.
LIBSHMDEV_SRCS := $(sort $(wildcard libshmdev/*.c))
LIBSHMDEV_SOVERSION := 0
LIBSHMDEV_SONAME := libshmdev.so.$(LIBSHMDEV_SOVERSION)
LIBSHMDEV_LIBS := $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
LIBSHMDEV_LIBS_STATIC := -linih -lrt

LIBSHMDEV_OBJS := $(LIBSHMDEV_SRCS:%.c=$(BUILD)/%.o)
LIBSHMDEV_SAN_OBJS := $(LIBSHMDEV_SRCS:%.c=$(BUILD)/san/%.o)
LIBSHMDEV_TSAN_OBJS := $(LIBSHMDEV_SRCS:%.c=$(BUILD)/tsan/%.o)

LIBSHMDEV_A := $(BUILD)/libshmdev.a
LIBSHMDEV_SO := $(BUILD)/$(LIBSHMDEV_SONAME)
LIBSHMDEV_SAN_A := $(BUILD)/san/libshmdev.a
LIBSHMDEV_TSAN_A := $(BUILD)/tsan/libshmdev.a

LIBSHMDEV_CFLAGS := $(CFLAGS_COMMON) -fPIC -fvisibility=hidden

all:: $(LIBSHMDEV_A) $(LIBSHMDEV_SO)

$(BUILD)/libshmdev/%.o: libshmdev/%.c $(wildcard libshmdev/*.h) include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(LIBSHMDEV_CFLAGS) -MMD -c -o $@ $<

$(BUILD)/san/libshmdev/%.o: libshmdev/%.c $(wildcard libshmdev/*.h) include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(LIBSHMDEV_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# ThreadSanitizer (SHMDEV_POOL_THREADS; tests/lib/build.mk test-lib-tsan)
$(BUILD)/tsan/libshmdev/%.o: libshmdev/%.c $(wildcard libshmdev/*.h) include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(LIBSHMDEV_CFLAGS) $(TSAN_FLAGS) -c -o $@ $<

$(LIBSHMDEV_TSAN_A): $(LIBSHMDEV_TSAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBSHMDEV_A): $(LIBSHMDEV_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBSHMDEV_SAN_A): $(LIBSHMDEV_SAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBSHMDEV_SO): $(LIBSHMDEV_OBJS) libshmdev/libshmdev.sym
	$(CC) -shared -Wl,-soname,$(LIBSHMDEV_SONAME) \
		-Wl,--version-script=libshmdev/libshmdev.sym -Wl,-z,defs \
		-o $@ $(LIBSHMDEV_OBJS) $(LIBSHMDEV_LIBS) -lrt
	ln -sf $(LIBSHMDEV_SONAME) $(BUILD)/libshmdev.so

-include $(LIBSHMDEV_OBJS:.o=.d)
