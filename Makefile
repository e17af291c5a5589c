# One task runner. `make demo` and `make test` do all set-up on a fresh Debian machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_TEST_PACKAGES := unixodbc odbc-mariadb chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
APT_RUN_PACKAGES  := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core

.PHONY: venv install install-test system-test system-run demo test lint audit bench config clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=70" wheel

venv: $(BIN)/python

install: venv system-run
	$(BIN)/pip install -q -e .

install-test: venv system-test
	$(BIN)/pip install -q -e '.[test]'

# Debian packages, installed only when missing (root, or sudo when available).
system-test:
	@bash .ci/apt-ensure $(APT_TEST_PACKAGES)

system-run:
	@bash .ci/apt-ensure $(APT_RUN_PACKAGES)

demo: install
	$(BIN)/bpo2-bridge demo $(DEMO_ARGS)

test: install-test
	bash .ci/services
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies. It needs PyPI's JSON API (per release) or
# OSV; --strict fails when a package could not be checked, so an unreachable service never passes.
audit: install
	$(BIN)/pip install -q -e '.[audit]'
	$(BIN)/pip-audit --strict --skip-editable

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info data artifacts

config: install
	$(BIN)/python .ci/regen-docs
