# OutSmart developer commands. `make run` to try it, `make test` before you push.
# Every variable below can be overridden on the command line (make run PORT=8001) or, where it
# is set with ?=, from the environment.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
VAR_DIR ?= $(or $(OUTSMART_VAR_DIR),var)
CHROMIUM ?= /usr/bin/chromium

# make run
HOST ?= 127.0.0.1
PORT ?= 8000

# make test
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: help venv install chromium check-services run test lint fmt migrate web worker beat \
	bench bench-smoke wrk faults

help:
	@echo "make run     development server on http://$(HOST):$(PORT) with demo data (SQLite, no Redis)"
	@echo "make test    lint and the whole test suite on PostgreSQL + Redis + Chromium"
	@echo "make lint    ruff check and format check       make fmt      format and fix"
	@echo "make web     gunicorn (production settings)    make migrate  apply migrations"
	@echo "make worker  Celery worker                     make beat     Celery beat scheduler"
	@echo "make faults  races and faults: Redis, workers, mail server, PostgreSQL failing"
	@echo "make bench   benchmarks (bench/README.md)       make bench-smoke  the same in seconds (CI)"

# --- virtualenv: created once, re-installed only when pyproject.toml changes ----------------
venv: $(BIN)/python

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian: apt-get install python3-venv" >&2; \
	  rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "$(CHROMIUM) is missing; installing Debian's chromium"; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

check-services:
	bin/check-services

# --- development server --------------------------------------------------------------------
# DEBUG is forced on; DATABASE_URL, REDIS_URL and EMAIL_URL are used only if you set them
# (defaults: SQLite in var/, tasks in-process, mail in the outbox at /dev/outbox/).
run: export DEBUG = true
# Links in emails, SMS and printed slips point at this server, whatever port it runs on.
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: install
	@mkdir -p "$(VAR_DIR)"
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) runserver $(HOST):$(PORT)

# --- tests ---------------------------------------------------------------------------------
# The suite runs on PostgreSQL and Redis, as production does; --create-db rebuilds the test
# schema (addopts has --reuse-db for quick local reruns through plain pytest).
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/outsmart
test: export REDIS_URL ?= redis://127.0.0.1:6379/0
test: export DEBUG ?= false
test: export SECRET_KEY ?= test-only-secret-key-not-for-production-0123456789abcdefghijklmnop
test: export ACCESS_CODE_SECRET ?= test-only-access-code-secret-not-for-production-0123456789abcdef
test: export ALLOWED_HOSTS ?= localhost,127.0.0.1,testserver
test: export SECURE_SSL_REDIRECT ?= false
test: install chromium
	bin/check-services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --create-db $(PYTEST_ARGS)

# make faults: the race and fault tests (a private Redis stopped and restarted, Celery workers
# killed with SIGKILL, a mail server that refuses or stalls, a private PostgreSQL cluster
# restarted under gunicorn) with the longer runs `make test` skips: PostgreSQL stopped and
# crashed four times under reading and writing tabs. It needs the PostgreSQL server binaries
# (initdb, pg_ctl; OUTSMART_PG_BIN to point elsewhere) and root, or a user that may run them.
# Its own test database and Redis databases, so it can run beside `make test`.
faults: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/outsmart_faults
faults: export REDIS_URL ?= redis://127.0.0.1:6379/0
faults: export OUTSMART_TEST_REDIS_DB ?= 7
faults: export DEBUG ?= false
faults: export SECRET_KEY ?= test-only-secret-key-not-for-production-0123456789abcdefghijklmnop
faults: export ACCESS_CODE_SECRET ?= test-only-access-code-secret-not-for-production-0123456789abcdef
faults: export ALLOWED_HOSTS ?= localhost,127.0.0.1,testserver
faults: export SECURE_SSL_REDIRECT ?= false
faults: export OUTSMART_FAULTS = 1
faults: install
	bin/check-services
	$(BIN)/python -m pytest -v -p no:cacheprovider --create-db $(PYTEST_ARGS) \
	  tests/integration/test_faults.py tests/integration/test_races.py tests/test_cache_outage.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- production-style processes (settings from the environment, see README) ----------------
migrate: install
	$(MANAGE) migrate --noinput

web: install
	@mkdir -p "$(VAR_DIR)"
	$(MANAGE) collectstatic --noinput
	$(BIN)/gunicorn -c gunicorn.conf.py outsmart.wsgi

worker: install
	$(BIN)/celery -A outsmart worker -l info

beat: install
	@mkdir -p "$(VAR_DIR)"
	$(BIN)/celery -A outsmart beat -l info --schedule "$(VAR_DIR)/celerybeat-schedule"

# --- benchmarks (bench/README.md) ----------------------------------------------------------
# Their own databases (outsmart_bench, outsmart_bench_smoke) and Redis dbs (13, 14) on these
# servers; ports 8600-8699. BENCH_ARGS=--rebuild builds the data set again.
BENCH_ARGS ?=
bench bench-smoke: export BENCH_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432
bench bench-smoke: export BENCH_REDIS_URL ?= redis://127.0.0.1:6379

wrk:
	@if ! command -v wrk >/dev/null; then \
	  echo "wrk is missing; installing Debian's wrk"; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; \
	fi

bench: install wrk
	DATABASE_URL="$$BENCH_POSTGRES_URL/postgres" REDIS_URL="$$BENCH_REDIS_URL/0" bin/check-services
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-smoke: install wrk
	DATABASE_URL="$$BENCH_POSTGRES_URL/postgres" REDIS_URL="$$BENCH_REDIS_URL/0" bin/check-services
	$(BIN)/python -m bench.run --smoke $(BENCH_ARGS)
