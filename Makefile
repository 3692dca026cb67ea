# Halyard's front door. `make demo` runs the platform locally; `make test` runs every test.
# Both start what they need (a throwaway PostgreSQL, emulators) and clean up after themselves.

.PHONY: demo test bench build fmt lint pg-stop clean-local help

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: ## Build and run the whole platform locally (Ctrl-C stops everything)
	@bash scripts/demo.sh

test: ## Run every test: unit, integration against a real PostgreSQL, infrastructure
	@bash scripts/test.sh

bench: ## Run the benchmarks and print their figures (see docs/benchmarks.md)
	@bash scripts/bench.sh

.PHONY: images
images: ## Build the three service images with buildah and check them (size, no shell, uid, healthcheck)
	@bash scripts/images.sh

build: ## Build every binary (debug)
	cargo build --workspace

fmt: ## Format the code
	cargo fmt --all

lint: ## Formatting and clippy with warnings denied
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

pg-stop: ## Stop the local PostgreSQL servers left by plain `cargo test` runs
	@bash scripts/pg-local.sh stop $(CURDIR)/.local/pg-test
	@bash scripts/pg-local.sh stop $(CURDIR)/.local/pg-demo

clean-local: pg-stop ## Delete local databases, virtualenvs and archives under .local/
	rm -rf .local
