# Each target bootstraps its own environment: uv (found, or installed into a private venv by
# scripts/uv-path), then the locked deps. A stock python3 is enough.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: dev test lint schema migrate worker env

env: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@uv="$$(scripts/uv-path)" && echo "$$uv sync --frozen" && "$$uv" sync --frozen
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
