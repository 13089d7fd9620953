# Installation of the library, headers, pkg-config file, man pages and udev
# rule (shmpoolctl installs itself from tools/build.mk), and the DKMS source
# tree.  Everything honours PREFIX and DESTDIR; "make uninstall" removes
# exactly the files "make install" wrote and the directories it created
# (packaging/dirs.sh keeps their list in $(DOCDIR)/.installed-dirs).
# Installed as root without DESTDIR, "make install" also creates the group
# shmpool if it is missing, before the udev rule that names it.
#
#   make install   PREFIX=/usr/local DESTDIR=   LIBDIR= MANDIR= UDEVRULESDIR=
#   make dkms-install   sources to /usr/src/shmpool-$(PACKAGE_VERSION), dkms add
#   make dkms-uninstall dkms remove --all, then the sources

BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/shmpool
# udev reads only /etc, /run and /lib (= /usr/lib): not PREFIX.
UDEVRULESDIR ?= /lib/udev/rules.d
DKMS_SRCDIR ?= /usr/src/shmpool-$(PACKAGE_VERSION)

INSTALL ?= install

PKG_PC := $(BUILD)/libshmdev.pc
PKG_MAN3 := $(wildcard libshmdev/*.3)
PKG_EXAMPLES := conf/modprobe.d/shmpool.conf conf/modules-load.d/shmpool.conf \
	$(wildcard conf/memorypool.ini conf/memorypool.ini.tmpl)
PKG_UDEV_RULE := conf/udev/60-shmpool.rules
PKG_EXAMPLE_SRC := examples/player.c
PKG_DIRS_MANIFEST = $(DESTDIR)$(DOCDIR)/.installed-dirs
# Every directory an install rule creates (here and in tools/build.mk).
PKG_INSTALL_DIRS = $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	$(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/linux \
	$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(DOCDIR)/examples \
	$(if $(PKG_MAN3),$(DESTDIR)$(MANDIR)/man3)

# The module sources DKMS needs: the root Kbuild, kmod/ and the UAPI header.
DKMS_FILES = dkms.conf Kbuild include/uapi/linux/shmpool.h \
	$(sort $(wildcard kmod/*.c kmod/*.h kmod/Kbuild kmod/Makefile))

# Rebuilt when the install paths change (the .pc records them).
$(PKG_PC): libshmdev/libshmdev.pc.in Makefile packaging/build.mk FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(PACKAGE_VERSION)|' \
		$< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

.PHONY: FORCE dkms-install dkms-uninstall
FORCE:

all:: $(PKG_PC)

install:: $(BUILD)/libshmdev.a $(BUILD)/libshmdev.so.0 $(PKG_PC)
	@packaging/dirs.sh record $(PKG_DIRS_MANIFEST) $(PKG_INSTALL_DIRS)
	@# The group before the rule that names it: udev drops an unknown group
	@# when it reads the rule and does not re-read an unchanged rule later.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent group shmpool >/dev/null; then \
		echo "groupadd --system shmpool"; groupadd --system shmpool; fi
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BUILD)/libshmdev.so.0 $(DESTDIR)$(LIBDIR)/libshmdev.so.0
	ln -sf libshmdev.so.0 $(DESTDIR)$(LIBDIR)/libshmdev.so
	$(INSTALL) -m 0644 $(BUILD)/libshmdev.a $(DESTDIR)$(LIBDIR)/libshmdev.a
	$(INSTALL) -m 0644 $(PKG_PC) $(DESTDIR)$(PKGCONFIGDIR)/libshmdev.pc
	$(INSTALL) -m 0644 libshmdev/shmdev.h $(DESTDIR)$(INCLUDEDIR)/shmdev.h
	$(INSTALL) -m 0644 libshmdev/shmdev.hpp $(DESTDIR)$(INCLUDEDIR)/shmdev.hpp
	$(INSTALL) -m 0644 include/uapi/linux/shmpool.h $(DESTDIR)$(INCLUDEDIR)/linux/shmpool.h
	$(INSTALL) -m 0644 $(PKG_UDEV_RULE) $(DESTDIR)$(UDEVRULESDIR)/60-shmpool.rules
	@# A module already loaded gets the rule now, not at the next boot.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && [ -e /dev/shmpool ] && command -v udevadm >/dev/null; then \
		udevadm control --reload && udevadm trigger --action=add --subsystem-match=misc --sysname-match=shmpool; fi
	$(INSTALL) -m 0644 $(PKG_EXAMPLE_SRC) $(DESTDIR)$(DOCDIR)/examples/player.c
	$(INSTALL) -m 0644 conf/modprobe.d/shmpool.conf $(DESTDIR)$(DOCDIR)/examples/modprobe.d-shmpool.conf
	$(INSTALL) -m 0644 conf/modules-load.d/shmpool.conf $(DESTDIR)$(DOCDIR)/examples/modules-load.d-shmpool.conf
	$(foreach f,$(filter conf/memorypool.%,$(PKG_EXAMPLES)),\
		$(INSTALL) -m 0644 $(f) $(DESTDIR)$(DOCDIR)/examples/$(notdir $(f)) &&) true
	$(if $(PKG_MAN3),$(INSTALL) -d $(DESTDIR)$(MANDIR)/man3 && \
		$(INSTALL) -m 0644 $(PKG_MAN3) $(DESTDIR)$(MANDIR)/man3/)
	@# The dynamic linker cache only matters for a real install as root.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig || true; fi

uninstall::
	rm -f $(DESTDIR)$(BINDIR)/shmpoolctl $(DESTDIR)$(MANDIR)/man8/shmpoolctl.8 \
		$(DESTDIR)$(DOCDIR)/examples/player.c
	rm -f $(DESTDIR)$(LIBDIR)/libshmdev.so.0 $(DESTDIR)$(LIBDIR)/libshmdev.so \
		$(DESTDIR)$(LIBDIR)/libshmdev.a $(DESTDIR)$(PKGCONFIGDIR)/libshmdev.pc \
		$(DESTDIR)$(INCLUDEDIR)/shmdev.h $(DESTDIR)$(INCLUDEDIR)/shmdev.hpp \
		$(DESTDIR)$(INCLUDEDIR)/linux/shmpool.h \
		$(DESTDIR)$(UDEVRULESDIR)/60-shmpool.rules \
		$(DESTDIR)$(DOCDIR)/examples/modprobe.d-shmpool.conf \
		$(DESTDIR)$(DOCDIR)/examples/modules-load.d-shmpool.conf \
		$(foreach f,$(filter conf/memorypool.%,$(PKG_EXAMPLES)),$(DESTDIR)$(DOCDIR)/examples/$(notdir $(f))) \
		$(foreach f,$(PKG_MAN3),$(DESTDIR)$(MANDIR)/man3/$(notdir $(f)))
	@packaging/dirs.sh remove $(PKG_DIRS_MANIFEST)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig || true; fi

# DKMS source tree.  With DESTDIR empty the tree is also registered with
# dkms; "dkms install shmpool/$(PACKAGE_VERSION) -k KVER" then builds and
# installs the module for kernel KVER.
dkms-install:
	@test -f Kbuild || { echo "dkms-install: no Kbuild at the top: the module sources are missing" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(DKMS_SRCDIR)
	@set -e; for f in $(DKMS_FILES); do \
		$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f; done
	@if [ -z "$(DESTDIR)" ]; then dkms add -m shmpool -v $(PACKAGE_VERSION); fi

dkms-uninstall:
	@if [ -z "$(DESTDIR)" ] && dkms status -m shmpool -v $(PACKAGE_VERSION) 2>/dev/null | grep -q .; then \
		dkms remove -m shmpool -v $(PACKAGE_VERSION) --all; fi
	rm -rf $(DESTDIR)$(DKMS_SRCDIR)

# Only the Debian packages that building and running shmpool needs (README,
# "Installation for real use"); `make deps` is the whole test toolchain.
.PHONY: deps-build
deps-build:
	@scripts/install-deps.sh --build
