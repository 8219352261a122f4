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

.PHONY: help venv install chromium check-services run test lint fmt migrate web worker beat

help:
	@echo "make run     development server on http://$(HOST):$(PORT) with demo data (SQLite, no Redis)"
	@echo "make test    lint and the whole test suite on PostgreSQL + Redis + Chromium"
	@echo "make lint    ruff check and format check       make fmt      format and fix"
	@echo "make web     gunicorn (production settings)    make migrate  apply migrations"
	@echo "make worker  Celery worker                     make beat     Celery beat scheduler"

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

