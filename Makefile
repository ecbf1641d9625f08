# Each target bootstraps its own environment: uv (installed if missing), then the locked deps.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python

.PHONY: dev test lint schema migrate worker env

env: .venv/.synced

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --user uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

dev: env
	.venv/bin/parley dev

worker: env
	.venv/bin/parley worker

migrate: env
	.venv/bin/parley migrate

test: env
	.venv/bin/pytest

lint: env
	.venv/bin/ruff check app tests bench
	.venv/bin/ruff format --check app tests bench
	.venv/bin/mypy app

schema: env
	.venv/bin/parley export-schema
