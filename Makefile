.DEFAULT_GOAL := help
VENV := .venv/bin

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## Create .venv and .venv-flink and install everything
	./scripts/setup.sh

demo: setup ## Set up, then run the one-command demo on the embedded stack
	$(VENV)/roadwatch demo

test: setup ## Set up, then run the default test suite (unit + integration, not slow; no torch)
	$(VENV)/pytest -m "not slow and not ultralytics and not rfdetr and not cluster" -q

test-engines: ## Set up with the [ultralytics] and [rfdetr] extras (torch; uv caches it), then their engine tests
	ROADWATCH_WITH_ULTRALYTICS=1 ROADWATCH_WITH_RFDETR=1 ROADWATCH_SKIP_FLINK=1 ./scripts/setup.sh
	$(VENV)/pytest -m "ultralytics or rfdetr" -q

test-unit: ## Unit tests only (no broker)
	$(VENV)/pytest tests/unit -q

test-slow: ## The slow suites (reliability, benches)
	$(VENV)/pytest -m "slow and not cluster" -q

test-cluster: setup ## The cluster profile's suite: its stack, the pipeline on it, Spark reading it, four faults
	./scripts/setup-spark.sh
	$(VENV)/pytest -m cluster -q tests/cluster

lint: ## ruff check + format check + mypy
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

fmt: ## Format and autofix
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

schemas: ## Regenerate schemas/json from the typed models
	$(VENV)/python -m schemas.export

.PHONY: help setup demo test test-engines test-unit test-slow test-cluster lint fmt schemas

images: ## Docker images of the compose stack (engine, base, wheelhouse, jars; builds need no network)
	./scripts/images.sh

compose-up: images ## The compose stack on this host (host networking, 127.0.0.1:39xxx), healthy
	./scripts/compose.sh up

compose-down: ## Stop the compose stack (its volumes stay; ./scripts/compose.sh down --volumes wipes)
	./scripts/compose.sh down

test-docker: ## Images, the compose smoke test, the integration suite on testcontainers; skips without Docker
	./scripts/test-docker.sh

.PHONY: images compose-up compose-down test-docker
