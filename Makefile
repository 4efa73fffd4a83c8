# Luna-IEMS: one Makefile for developers and CI (.ci/run calls `make test`).
# `make run` and `make test` are the two commands; everything else is optional.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LUNA := $(VENV)/bin/luna
# torch first, as the CPU build: a plain `torch` requirement would pull a multi-GB CUDA build.
# Elsewhere, point pip at the CPU wheels: make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Compose: the stack's profiles follow the ENABLE_* flags of .env.
-include .env
COMPOSE ?= docker compose
COMPOSE_FILES := --env-file $(if $(wildcard .env),.env,.env.example) -f deploy/compose.yml
PROFILES := $(if $(filter true,$(ENABLE_OBSERVABILITY)),--profile observability) \
            $(if $(filter true,$(ENABLE_MINIO)),--profile minio)

.PHONY: help run test install install-dev lint fmt typecheck pytest bench openapi migrate seed preflight up down logs clean web web-check web-optional screenshots

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(VENV)/bin/python
	$(PIP) install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[postgres,qdrant,embeddings]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e ".[postgres,qdrant,embeddings,dev]"
	@touch $@

install: $(VENV)/.installed  ## create .venv and install the service
install-dev: $(VENV)/.installed-dev  ## … plus test and lint tools

# The web app (frontend/): npm ci from the committed lock, then vite build + the bundle budget; a stamp
# file in dist/ skips both while nothing under frontend/ changed. Never downloads browsers.
WEB := frontend
NPM ?= npm
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public $(WEB)/scripts -type f 2>/dev/null) \
               $(wildcard $(WEB)/index.html $(WEB)/package.json $(WEB)/vite.config.ts $(WEB)/tsconfig.json)

$(WEB)/node_modules/.installed: $(WEB)/package-lock.json $(WEB)/package.json
	cd $(WEB) && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB)/dist/.built: $(WEB)/node_modules/.installed $(WEB_SOURCES)
	cd $(WEB) && $(NPM) run build
	@touch $@

web: $(WEB)/dist/.built  ## build the web app when its sources changed (npm ci, vite build, bundle budget)

web-optional:
	@if command -v $(NPM) >/dev/null; then $(MAKE) --no-print-directory web; \
	else echo "npm not found: the web app is not built; the API runs without it (see frontend/README.md)"; fi

web-check: $(WEB)/node_modules/.installed  ## web app: eslint, tsc --noEmit, API types vs openapi.json, vitest
	cd $(WEB) && $(NPM) run --silent lint && $(NPM) run --silent typecheck && $(NPM) run --silent check:api && $(NPM) test

run: install web-optional  ## build the web app if needed, then start the API and the UI on http://localhost:8001/
	$(LUNA) db upgrade
	$(LUNA) serve

lint: install-dev  ## ruff lint + format check + architecture contracts (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

fmt: install-dev  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

typecheck: install-dev  ## mypy strict on src/
	$(VENV)/bin/mypy src

pytest: install-dev  ## the test suite only (SQLite and a PostgreSQL the suite starts itself)
	$(PY) -m pytest $(PYTEST_ARGS)

# pytest includes tests/e2e/test_web_ui.py: Playwright + Debian's Chromium against a real `luna serve`.
test: lint typecheck web-check web pytest  ## the whole suite: lint, types, web checks, tests (incl. the browser test)

screenshots: install-dev web  ## refresh docs/screenshots/ (every page, dark and light) with the browser test
	LUNA_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/e2e/test_web_ui.py -q

bench: install-dev  ## benchmarks; results go to benchmarks/results/ and BENCHMARKS.md
	$(PY) -m benchmarks.run $(BENCH_ARGS)

openapi: install-dev  ## regenerate the committed openapi.json
	$(PY) -c "import json; from luna_iems.main import create_app; from luna_iems.settings import Settings; print(json.dumps(create_app(Settings(_env_file=None)).openapi(), indent=2, sort_keys=True))" > openapi.json

migrate: install  ## apply database migrations (DATABASE_URL)
	$(LUNA) db upgrade

seed: install  ## load demo data (arrives with the energy-data and knowledge capabilities)
	$(LUNA) seed

preflight: install  ## check ports, data directories and running stacks for `make up`
	$(LUNA) preflight --scope stack

up: preflight  ## start the compose stack (profiles from ENABLE_* in .env)
	$(COMPOSE) $(COMPOSE_FILES) $(PROFILES) up -d --build

down:  ## stop the compose stack
	$(COMPOSE) $(COMPOSE_FILES) --profile '*' down

logs:  ## follow the compose stack's logs
	$(COMPOSE) $(COMPOSE_FILES) $(PROFILES) logs -f --tail=200

clean:  ## remove caches (keeps .venv and ./var)
	rm -rf .pytest_cache .mypy_cache .ruff_cache benchmarks/results $(WEB)/test-results
