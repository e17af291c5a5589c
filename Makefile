# One task runner. `make demo` and `make test` do all set-up on a fresh Debian machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_TEST_PACKAGES := unixodbc odbc-mariadb chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
APT_RUN_PACKAGES  := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
APT_BENCH_PACKAGES := wrk

.PHONY: venv install install-test install-bench system-test system-run system-bench demo test lint audit bench config clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=70" wheel

venv: $(BIN)/python

install: venv system-run
	$(BIN)/pip install -q -e .

install-test: venv system-test
	$(BIN)/pip install -q -e '.[test]'

# the benchmarks compare with Datasette and load with wrk
install-bench: venv system-test system-bench
	$(BIN)/pip install -q -e '.[test,bench]'

# Debian packages, installed only when missing (root, or sudo when available).
system-test:
	@bash .ci/apt-ensure $(APT_TEST_PACKAGES)

system-run:
	@bash .ci/apt-ensure $(APT_RUN_PACKAGES)

system-bench:
	@bash .ci/apt-ensure $(APT_BENCH_PACKAGES)

demo: install
	$(BIN)/bpo2-bridge demo $(DEMO_ARGS)

test: install-test
	bash .ci/services
	$(BIN)/ruff check . .ci/audit
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check . .ci/audit
	$(BIN)/ruff format --check . .ci/audit
	$(BIN)/mypy

# Known vulnerabilities in every package installed for the tests, as pinned by `pip freeze`.
# pip-audit lives in a venv of its own, so its own dependencies are not the ones audited;
# .ci/audit answers its queries from PyPI's project JSON: in full for latest releases, for older
# ones only with the advisories still open in the latest (see that file for what it cannot see).
AUDIT_VENV ?= .venv-audit
audit: install-test
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install -q "pip-audit>=2.10"
	$(BIN)/pip freeze --all --exclude-editable > $(AUDIT_VENV)/pinned.txt
	$(AUDIT_VENV)/bin/python .ci/audit --strict --no-deps --disable-pip -r $(AUDIT_VENV)/pinned.txt

bench: install-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(AUDIT_VENV) build dist *.egg-info data artifacts

config: install
	$(BIN)/python .ci/regen-docs
