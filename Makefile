# Two commands on a fresh machine: `make run` (the system) and `make test` (the suite).
# Each creates .venv and installs the project into it first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install chromium run test faults lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m picloud.fleet

# The browser tests drive Debian's Chromium (Playwright never downloads one): installed here when
# it is missing and we are root with apt-get; otherwise one line says what to run.
CHROMIUM := /usr/bin/chromium

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	        echo "installing Debian's chromium for the browser tests (apt-get)"; \
	        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	            apt-get install -y -qq chromium) >/dev/null \
	            || echo "apt-get could not install chromium: the browser tests will fail"; \
	    else \
	        echo "no $(CHROMIUM): the browser tests will fail; run: sudo apt-get install -y chromium"; \
	    fi; \
	fi

# The database tests run twice: on SQLite (with everything) and on PostgreSQL.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
DB_TESTS := tests/webui tests/apikeys tests/browser tests/http_api tests/crons

test: install chromium
	$(PY) -m pytest
	DATABASE_URL=$(POSTGRES_URL) DJANGO_TEST_DATABASE=test_picloud_$$$$ $(PY) -m pytest -q -m "not sqlite_only" $(DB_TESTS)

# The fault tests at the full sizes of reliability-notes §5 (about 10 min), then one table.
faults: install
	PICLOUD_FAULTS_FULL=1 $(PY) -m pytest -m chaos tests/faults

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
