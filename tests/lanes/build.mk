# scripts/test-lanes.sh, which runs make test's lanes: prefixes, the
# summary's wall and CPU times, a failing lane, serial mode, bad lane specs.
.PHONY: test-lanes-script
test-lanes-script:
	@tests/lanes/run.sh

test-host:: test-lanes-script
