# Two commands on a fresh machine: `make run` (the system) and `make test` (the suite).
# Each creates .venv and installs the project into it first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test faults lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m picloud.fleet

# The database tests run twice: on SQLite (with everything) and on PostgreSQL.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
DB_TESTS := tests/webui tests/apikeys tests/browser tests/http_api tests/crons

test: install
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
