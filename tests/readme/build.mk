# The README's C example compiles and does what the README says.
.PHONY: test-readme
test-readme: $(LIBSHMDEV_A) $(BUILD)/shmpoolctl
	@BUILD=$(BUILD) CC=$(CC) tests/readme/check-example.sh

test-host:: test-readme
