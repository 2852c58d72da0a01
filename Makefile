# Two commands do everything on a fresh machine with Python 3.11:
#   make run    install, migrate, load demo data, serve web + worker on http://127.0.0.1:8000
#   make test   install the test needs (and Debian's chromium and haproxy), lint, type-check, run the whole suite
SHELL := /bin/bash
# pipefail: a failing pip in `pip ... | grep` must fail the recipe (and leave the stamp untouched)
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs in PYTEST_WORKERS processes (pytest-xdist; tests/settings.py gives each its own
# Redis database and scratch folder, pytest-django its own test database): most tests wait on
# workers, browsers and servers rather than the CPU. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=
# Every package, transitive ones included, pinned with its hashes (docs/operations.md): `make lock`
# writes both from pyproject.toml with uv; installs take them with --require-hashes.
APP_LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest allowed; `LOCK_ARGS="-P django"` one package
LOCK_ARGS ?=
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
PIP_QUIET := --quiet --disable-pip-version-check
# pip warns about a find-links folder of this machine on every run; nothing to act on
PIP_FILTER := { grep -v '^WARNING: Location' || true; }
# The llm queue waits on HTTP, so its worker is a thread pool; the media queue is CPU-bound (prefork).
LLM_CONCURRENCY ?= 8

.PHONY: help install install-test run web worker test lint typecheck lock bench clean

help:
	@echo "make run      start web + worker on http://$(HOST):$(PORT) with demo data (SQLite, filesystem broker, offline model)"
	@echo "make test     install test needs, lint, type-check and run the suite"
	@echo "make install  create $(VENV) and install the app (idempotent)"
	@echo "make lint     ruff check + format check"
	@echo "make typecheck  mypy (django-stubs) on triage/"
	@echo "make lock     re-pin $(APP_LOCK) and $(TEST_LOCK) after a change to pyproject.toml"

# The stamp files make `install` idempotent: pip runs again only when a lockfile or pyproject.toml
# changes. The locked packages go in with their hashes, then the app itself without dependencies;
# `pip check` catches a dependency added to pyproject.toml but not to the lock.
$(VENV)/.stamp-app: $(APP_LOCK) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the app into $(VENV) from $(APP_LOCK) ..."
	@$(PIP) install $(PIP_QUIET) --require-hashes -r $(APP_LOCK) 2>&1 | $(PIP_FILTER)
	@$(PIP) install $(PIP_QUIET) --no-deps -e . 2>&1 | $(PIP_FILTER)
	@$(PIP) check >/dev/null || { $(PIP) check; echo "pyproject.toml and $(APP_LOCK) disagree: run 'make lock'"; exit 1; }
	@$(PY) -c "import imageio_ffmpeg; print('ffmpeg:', imageio_ffmpeg.get_ffmpeg_exe())"
	@touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-app $(TEST_LOCK)
	@echo "installing the test needs from $(TEST_LOCK) ..."
	@$(PIP) install $(PIP_QUIET) --require-hashes -r $(TEST_LOCK) 2>&1 | $(PIP_FILTER)
	@$(PIP) check >/dev/null || { $(PIP) check; echo "pyproject.toml and $(TEST_LOCK) disagree: run 'make lock'"; exit 1; }
	@touch $@

install: $(VENV)/.stamp-app

# Browser tests drive Debian's chromium through Playwright (Playwright's own download cannot work here).
/usr/bin/chromium:
	@echo "installing Debian's chromium for the browser tests ..."
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# The router test (tests/deploy/test_router_live.py) runs Debian's haproxy with deploy/haproxy.cfg.
/usr/sbin/haproxy:
	@echo "installing Debian's haproxy for the router test ..."
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null

install-test: $(VENV)/.stamp-test /usr/bin/chromium /usr/sbin/haproxy

run: install
	@mkdir -p var/staticfiles
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py seed_demo --url http://$(HOST):$(PORT)/
	@echo "serving web + worker on http://$(HOST):$(PORT)  (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/celery -A triage worker -B --schedule var/celerybeat-schedule -Q media,intake,reports --pool prefork --concurrency 2 --loglevel WARNING -n media@%h & \
	  $(VENV)/bin/celery -A triage worker -Q llm --pool threads --concurrency $(LLM_CONCURRENCY) --loglevel WARNING -n llm@%h & \
	  $(VENV)/bin/celery -A triage worker -Q outbound --pool threads --concurrency 4 --loglevel WARNING -n outbound@%h & \
	  $(VENV)/bin/celery -A triage worker -Q webhooks --pool threads --concurrency 8 --loglevel WARNING -n webhooks@%h & \
	  $(VENV)/bin/celery -A triage worker -Q handoff --pool threads --concurrency 4 --loglevel WARNING -n handoff@%h & \
	  $(PY) manage.py runserver $(HOST):$(PORT) --noreload

web: install
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/celery -A triage worker -B --schedule var/celerybeat-schedule -Q media,intake,reports --pool prefork --concurrency 2 --loglevel INFO -n media@%h & \
	  $(VENV)/bin/celery -A triage worker -Q llm --pool threads --concurrency $(LLM_CONCURRENCY) --loglevel INFO -n llm@%h & \
	  $(VENV)/bin/celery -A triage worker -Q outbound --pool threads --concurrency 4 --loglevel INFO -n outbound@%h & \
	  $(VENV)/bin/celery -A triage worker -Q webhooks --pool threads --concurrency 8 --loglevel INFO -n webhooks@%h

# Lint and types first: a suite that passes on code ruff or mypy reject is not green.
test: install-test lint typecheck
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.stamp-test
	$(VENV)/bin/mypy

$(UV):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install $(PIP_QUIET) uv==$(UV_VERSION) 2>&1 | $(PIP_FILTER)

# One command after any change to the dependencies in pyproject.toml: existing pins are kept unless
# LOCK_ARGS says otherwise; the test lock is constrained to the app lock's versions.
lock: $(UV)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) -o $(APP_LOCK)
	$(UV) pip compile pyproject.toml --extra test $(LOCK_FLAGS) $(LOCK_ARGS) -c $(APP_LOCK) -o $(TEST_LOCK)

bench: $(VENV)/.stamp-test
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf var test-artifacts
