# ProjMan: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Development defaults: the app's own settings refuse to start without SECRET_KEY
# unless DEBUG is on, and a dev server is what these targets run.
DEV_ENV := DEBUG=true

.PHONY: run test lint migrations-check pytest pytest-mariadb bench-generate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

$(VENV)/.mysql: requirements/mysql.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/mysql.txt
	touch $@

run: $(VENV)/.base
	$(DEV_ENV) $(BIN)/python manage.py migrate --verbosity 0
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python manage.py create_admin_login
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: $(VENV)/.dev
	$(DEV_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

# The suite on SQLite (the zero-setup default). Tests marked `mariadb` need a
# real server and run only in the pass below.
pytest: $(VENV)/.dev
	env -u DATABASE_URL $(DEV_ENV) $(BIN)/python -m pytest -m "not mariadb"

# The whole suite again on MariaDB, when PROJMAN_TEST_DATABASE_URL names one
# (mysql://USER[:PASSWORD]@127.0.0.1:PORT/NAME; tests use a test_NAME database).
# Under CI=true a missing server is a failure, never a skip.
pytest-mariadb: $(VENV)/.dev
	@if [ -n "$$PROJMAN_TEST_DATABASE_URL" ]; then \
		$(MAKE) --no-print-directory $(VENV)/.mysql && \
		$(DEV_ENV) DATABASE_URL="$$PROJMAN_TEST_DATABASE_URL" $(BIN)/python -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true but PROJMAN_TEST_DATABASE_URL is not set: the MariaDB pass cannot run." >&2; exit 1; \
	else \
		echo "*** MariaDB pass not run: set PROJMAN_TEST_DATABASE_URL=mysql://root@127.0.0.1:3306/projman to run it. ***"; \
	fi

test: lint migrations-check pytest pytest-mariadb

bench-generate: $(VENV)/.dev $(VENV)/.mysql
	$(BIN)/python bench/generate.py --write

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
