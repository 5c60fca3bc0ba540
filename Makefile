# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# checkov pins its own dependency tree: it gets a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
STAMP_CHECKOV := $(CHECKOV_VENV)/.installed
# The report's browser test opens the HTML report in Debian's chromium, installed where missing.
STAMP_CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: deps demo test test-under-load bench bench-full serve lint clean

deps: $(STAMP_PY) $(STAMP_NODE) $(STAMP_CHECKOV) $(STAMP_CHROMIUM)

$(STAMP_PY): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

$(STAMP_CHECKOV): infra/requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $<
	touch $@

$(STAMP_CHROMIUM):
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium; }

# The main job end to end on the embedded sample tenant: Azurite + Graph emulator, started and
# stopped by the command itself.
demo: deps
	$(PY) -m local.demo $(ARGS)

# The whole suite. Services are started by pytest fixtures on free ports and always stopped.
test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

# The whole suite while every core is kept busy by CPU-bound loops (always stopped afterwards):
# no test may depend on machine speed or load. `make test-under-load RUNS=3` runs it 3 times.
RUNS ?= 1
test-under-load: deps
	$(PY) -m local.cpu_load --runs $(RUNS) -- $(PY) -m pytest $(PYTEST_ARGS)

# Every benchmark, within 15 minutes on a 2-core machine (docs/benchmarks.md).
bench: deps
	$(PY) -m bench

# What takes longer (an hour or more on 2 cores): analyze of 5M rows as one 4 GB file too, and
# the archive's whole Monday run over 45,000 users.
bench-full: deps
	$(PY) -m bench --full analyze_bench archive_bench

serve: deps
	$(PY) -m local.serve

lint: deps
	$(VENV)/bin/ruff check shared local tests bench function_app.py
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
