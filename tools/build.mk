# shmpoolctl: every tools/*.c but main.c is the tool's code (main.c is only
# its entry point, so that the test runner can link the tool in, busybox
# style, for the VM).  Linked with libshmdev.a and libkmod.
SHMPOOLCTL := $(BUILD)/shmpoolctl
SHMPOOLCTL_SRCS := $(filter-out tools/main.c,$(sort $(wildcard tools/*.c)))
SHMPOOLCTL_OBJS := $(SHMPOOLCTL_SRCS:%.c=$(BUILD)/%.o)
SHMPOOLCTL_CFLAGS := $(CFLAGS_COMMON) -DPACKAGE_VERSION='"$(PACKAGE_VERSION)"' \
	$(shell pkg-config --cflags libkmod 2>/dev/null)
KMOD_LIBS := $(shell pkg-config --libs libkmod 2>/dev/null || echo -lkmod)
SHMPOOLCTL_MAN := tools/shmpoolctl.8

all:: $(SHMPOOLCTL)

$(BUILD)/tools/%.o: tools/%.c $(wildcard tools/*.h) libshmdev/shmdev.h include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(SHMPOOLCTL_CFLAGS) -MMD -c -o $@ $<

$(SHMPOOLCTL): $(BUILD)/tools/main.o $(SHMPOOLCTL_OBJS) $(LIBSHMDEV_A)
	$(CC) -o $@ $(BUILD)/tools/main.o $(SHMPOOLCTL_OBJS) $(LIBSHMDEV_A) \
		$(LIBSHMDEV_LIBS) -lrt $(KMOD_LIBS)

install:: $(SHMPOOLCTL)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(SHMPOOLCTL) $(DESTDIR)$(BINDIR)/shmpoolctl
	$(INSTALL) -m 0644 $(SHMPOOLCTL_MAN) $(DESTDIR)$(MANDIR)/man8/shmpoolctl.8

# Its uninstall is in packaging/build.mk, before the directories go.

-include $(SHMPOOLCTL_OBJS:.o=.d) $(BUILD)/tools/main.d

# The tool's objects under ASan+UBSan, for tests/tools' sanitizer runner.
$(BUILD)/san/tools/%.o: tools/%.c $(wildcard tools/*.h) libshmdev/shmdev.h include/uapi/linux/shmpool.h
	@mkdir -p $(@D)
	$(CC) $(SHMPOOLCTL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
