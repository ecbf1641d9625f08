# Each target bootstraps its own environment: uv (found, or installed into a private venv by
# scripts/uv-path), then the locked deps. A stock python3 is enough.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: dev test test-faults lint schema migrate worker env graphiql clients web web-test chromium

env: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@uv="$$(scripts/uv-path)" && echo "$$uv sync --frozen" && "$$uv" sync --frozen
	@touch $@

# GraphiQL's scripts from npm (app/http/graphiql.py); without npm, /graphql says how to query with curl.
GRAPHIQL := app/static/graphiql/.installed

graphiql: $(GRAPHIQL)

$(GRAPHIQL): clients/graphiql/package-lock.json app/http/graphiql.py | env
	cd clients/graphiql && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PY) -m app.http.graphiql clients/graphiql/node_modules
	@touch $@

# The example clients (clients/): both generators, then the TypeScript type check and build.
clients: env
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error \
	  && npx graphql-codegen --config codegen.ts && npx tsc
	cd clients/python && "$$(../../scripts/uv-path)" tool run --from 'ariadne-codegen[subscriptions]==0.19.0' ariadne-codegen

dev: env
	@if command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory graphiql || echo "GraphiQL's files could not be installed: /graphql shows how to query with curl instead"; \
	else echo "npm not found: GraphiQL is not installed, /graphql shows how to query with curl instead"; fi
	.venv/bin/parley dev

worker: env
	.venv/bin/parley worker

migrate: env
	.venv/bin/parley migrate

# Two pytest-xdist workers by default (a 2-core machine); each has its own server, var dir,
# PostgreSQL database and Redis databases (tests/support/server.py). WORKERS=0: one process.
# The tests marked serial measure timing or pacing: they run afterwards, alone.
WORKERS ?= 2

test: env
	.venv/bin/pytest -n $(WORKERS) -m "not serial and not faults"; parallel=$$?; \
	  .venv/bin/pytest -m "serial and not faults" && exit $$parallel

# Redis and PostgreSQL restarted and an API process killed mid-work (tests/faults/): slower, in
# a pytest process of their own (they start their own server, Redis, PostgreSQL cluster and
# `parley serve`).
test-faults: env
	.venv/bin/pytest -m faults

lint: env
	.venv/bin/ruff check app tests bench
	.venv/bin/ruff format --check app tests bench
	.venv/bin/mypy app
	.venv/bin/lint-imports

schema: env
	.venv/bin/parley export-schema

# The inbox SPA (web/): install, codegen (typed documents + the trusted-documents manifest), build.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error \
	  && npx graphql-codegen --config codegen.ts && npm run build

# Browsers cannot be downloaded by test runners here: Debian's chromium, through apt when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Headless Chromium against `parley dev` on a fresh embedded stack, the build served under /app in
# trusted-documents-only mode; screenshots in web/test-artifacts/.
web-test: env web chromium
	cd web && node --test --test-concurrency=1 tests/
