# HarmMap: `make demo` sets everything up and serves the map; `make test` runs the test suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: demo test bench setup system clean

demo: setup
	@echo "HarmMap is at http://$(HOST):$(PORT)"
	$(VENV)/bin/harmmap serve --host $(HOST) --port $(PORT)

# Packages, .venv, PostgreSQL server, demo database and reference data.
setup:
	@bash scripts/bootstrap.sh

# Packages, .venv and PostgreSQL server only: the test fixtures make their own databases.
system:
	@bash scripts/bootstrap.sh --system

# pytest's exit code 5 means it collected no tests: that is a failure, and says so.
test: system
	@rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

bench: setup
	@$(VENV)/bin/python -m pip install --quiet -e '.[test,bench]'
	@if [ -f bench/__main__.py ]; then \
		$(VENV)/bin/python -m bench; \
	else \
		echo "no benchmarks yet"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache build dist test-results *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	find . -path ./.git -prune -o -type f -name '*.py[co]' -exec rm -f {} +
