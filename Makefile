# Two commands do everything on a fresh machine with Python 3.11:
#   make run    install, migrate, load demo data, serve web + worker on http://127.0.0.1:8000
#   make test   install the test needs (and Debian's chromium) and run the whole suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The llm queue waits on HTTP, so its worker is a thread pool; the media queue is CPU-bound (prefork).
LLM_CONCURRENCY ?= 8

.PHONY: help install install-test run web worker test lint bench clean

help:
	@echo "make run      start web + worker on http://$(HOST):$(PORT) with demo data (SQLite, filesystem broker, offline model)"
	@echo "make test     install test needs and run the suite"
	@echo "make install  create $(VENV) and install the app (idempotent)"
	@echo "make lint     ruff check + format check"

# The stamp files make `install` idempotent: pip runs again only when pyproject.toml changes.
$(VENV)/.stamp-app: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the app into $(VENV) ..."
	@$(PIP) install --quiet --disable-pip-version-check -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -c "import imageio_ffmpeg; print('ffmpeg:', imageio_ffmpeg.get_ffmpeg_exe())"
	@touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-app
	@echo "installing the test needs ..."
	@$(PIP) install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

install: $(VENV)/.stamp-app

# Browser tests drive Debian's chromium through Playwright (Playwright's own download cannot work here).
/usr/bin/chromium:
	@echo "installing Debian's chromium for the browser tests ..."
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

install-test: $(VENV)/.stamp-test /usr/bin/chromium

run: install
	@mkdir -p var/staticfiles
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py seed_demo
	@echo "serving web + worker on http://$(HOST):$(PORT)  (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/celery -A triage worker -B --schedule var/celerybeat-schedule -Q media,intake,reports --pool prefork --concurrency 2 --loglevel WARNING -n media@%h & \
	  $(VENV)/bin/celery -A triage worker -Q llm --pool threads --concurrency $(LLM_CONCURRENCY) --loglevel WARNING -n llm@%h & \
	  $(PY) manage.py runserver $(HOST):$(PORT) --noreload

web: install
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/celery -A triage worker -B --schedule var/celerybeat-schedule -Q media,intake,reports --pool prefork --concurrency 2 --loglevel INFO -n media@%h & \
	  $(VENV)/bin/celery -A triage worker -Q llm --pool threads --concurrency $(LLM_CONCURRENCY) --loglevel INFO -n llm@%h

test: install-test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.stamp-test
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf var test-artifacts
