# The install test (host): make install into a temporary DESTDIR, a program
# built with pkg-config against it, make uninstall.  See tests/install/run.sh.
.PHONY: test-install
test-install: all
	@MAKE="$(MAKE)" BUILD="$(BUILD)" CC="$(CC)" tests/install/run.sh

test-host:: test-install

# DKMS (needs root and the kernels of tests/vm/kernels.sh, which it fetches
# when missing): add, build and install for 6.1 and 6.12 in private trees.
.PHONY: test-dkms
test-dkms:
	@MAKE="$(MAKE)" BUILD="$(BUILD)" tests/install/dkms.sh

test-kmod:: test-dkms
