# Haein — run `make help` for the list of targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

node_modules/.package-lock.json: package.json package-lock.json
	npm ci

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (Node 24 comes as a devDependency).

.PHONY: build
build: deps ## Compile TypeScript to dist/.
	npm run build

.PHONY: lint
lint: deps ## Type-check and lint.
	npm run lint

.PHONY: test-unit
test-unit: deps ## Unit and property tests (no cluster).
	npm run test:unit

.PHONY: test
test: test-unit ## Everything CI runs: unit, integration and end-to-end tests.
