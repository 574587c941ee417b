# Two commands: `make demo` and `make test`. Everything else is a step they take.
SHELL := /bin/bash
BIN := node_modules/.bin
CLI := node bin/mcp-orch.js

.PHONY: help install temporal browser build demo hello test typecheck lint unit integration up down status clean schema package-check

help:
	@echo "make demo   install, start the local stack (Temporal dev server, MCP servers, workers), run the seed pipeline"
	@echo "make hello  the small walking-skeleton DAG (pipelines/hello.yaml) on the same stack"
	@echo "make test   install, typecheck, lint, and run unit + integration tests on a real Temporal dev server"
	@echo "make down   stop the local stack;  make up  start it;  make clean  remove .data/ and dist/"

node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

temporal:
	@./scripts/install-temporal.sh >/dev/null

browser:
	@./scripts/install-chromium.sh >/dev/null || true

build: install
	$(BIN)/tsc -p tsconfig.build.json

schema: install
	$(BIN)/tsx src/client/export-schema.ts

up: build temporal
	$(CLI) up

down:
	@$(CLI) down

status:
	@$(CLI) servers

demo: up
	$(CLI) run pipelines/recommendation.yaml --log
	@echo

hello: up
	$(CLI) run pipelines/hello.yaml
	@echo
	@echo "The stack is still running: Temporal Web UI http://127.0.0.1:8233 ; stop it with: make down"

typecheck: install
	$(BIN)/tsc -p tsconfig.json --noEmit

lint: install
	$(BIN)/eslint src test

unit: install
	$(BIN)/jest --ci --selectProjects unit

integration: install temporal browser
	$(BIN)/jest --ci --selectProjects integration --maxWorkers=2

test: install temporal browser typecheck lint
	$(BIN)/jest --ci --maxWorkers=2
	./scripts/check-package.sh

# npm pack, npm install -g of the tarball into a scratch prefix, mcp-orch --help/plan from a scratch folder.
package-check: install
	./scripts/check-package.sh

clean:
	rm -rf dist .data
