# The system test (tests/system/README.md): README's "Installation for real
# use" walked as written on real Debian systems (bookworm 6.1, trixie 6.12)
# with systemd, udev, logind and DKMS, booted in qemu.  Needs root the first
# time (debootstrap into /var/cache/shmpool/system).
#
#   make test-system                       both systems
#   make test-system SYSTEM_SUITES=trixie  one
SYSTEM_SUITES ?= bookworm trixie
.PHONY: test-system test-system-readme
test-system: test-system-readme
	@BUILD=$(BUILD) tests/system/run.sh $(SYSTEM_SUITES)

# Cheap and on the host: README's package list = make deps-build's.
test-system-readme:
	@tests/system/check-readme.sh

test-host:: test-system-readme
