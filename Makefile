# tinypush: `make run` serves the demo on 127.0.0.1:8080, `make test` runs every test.
CARGO ?= cargo
ADDR ?= 127.0.0.1:8080

.PHONY: run test lint release check autobahn

run:
	$(CARGO) run --release -- serve --addr $(ADDR) --static-dir static

test:
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

check: lint test

release:
	$(CARGO) build --release

# Autobahn|TestSuite cases 1-7 and 10 against /echo; HTML report in reports/autobahn/.
autobahn: release
	python3 tests/autobahn/run.py
