# The install test (host): make install into a temporary DESTDIR, a program
# built with pkg-config against it, make uninstall.  See tests/install/run.sh.
.PHONY: test-install
test-install: all
	@MAKE="$(MAKE)" BUILD="$(BUILD)" CC="$(CC)" tests/install/run.sh

test-host:: test-install
