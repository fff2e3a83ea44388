# cdc-facts — the two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv mariadb demo test test-unit lint bench bench-engine bench-pipeline soak stack-up \
	stack-down clean

help:
	@echo "make demo        start the local stack and run the legacy-shop demo"
	@echo "make test        run the whole suite (unit + integration against the real stack)"
	@echo "make test-unit   run only the tests that need no stack"
	@echo "make lint        ruff + mypy strict"
	@echo "make bench       both benchmarks below (not part of make test)"
	@echo "make bench-engine    the pure engine: decode -> evaluate -> encode"
	@echo "make bench-pipeline  pgbench -> PostgreSQL -> Debezium -> Kafka -> translator"
	@echo "make soak        pipeline load with the translator killed every minute (SOAK_MINUTES=10)"
	@echo "make stack-up / stack-down   start / stop the local stack"

# Installing builds the C decoder (cdc_facts/envelope/_projection.c) and the C fact ids and
# encoder (cdc_facts/_facts.c) in place; the check after it fails loudly instead of letting
# the engine fall back to pure Python unnoticed.
# A venv without pip (its creation failed half-way: no ensurepip) is made again.
$(STAMP): pyproject.toml cdc_facts/envelope/_projection.c cdc_facts/_facts.c
	@test -x $(BIN)/pip || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); } || { \
	  echo "could not create $(VENV): install the venv module (Debian: apt-get install python3-venv)"; \
	  rm -rf $(VENV); exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -c 'from cdc_facts.envelope.projection import compiled; assert compiled(), "the C decoder did not build"'
	$(BIN)/python -c 'from cdc_facts.facts import compiled; assert compiled(), "the C fact encoder did not build"'
	@touch $(STAMP)

venv: $(STAMP)

# MariaDB comes from Debian's packages; install it when it is missing.
mariadb:
	@if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then \
	  echo "installing mariadb-server (Debian package)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mariadb-server >/dev/null; \
	fi

demo: venv
	$(BIN)/cdc-facts demo

test: venv mariadb
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest -m "not stack"

lint: venv
	$(BIN)/ruff check cdc_facts tests benchmarks
	$(BIN)/mypy

bench: bench-engine bench-pipeline

bench-engine: venv
	$(BIN)/python benchmarks/engine_bench.py

# pgbench -> PostgreSQL -> Debezium -> Kafka -> cdc-facts run, on the running local stack.
# Knobs: BENCH_SCALE, BENCH_CLIENTS, BENCH_RATES, BENCH_SECONDS, BENCH_CEILING_SECONDS.
bench-pipeline: venv
	$(BIN)/cdc-facts local up
	eval "$$($(BIN)/cdc-facts local env)" && $(BIN)/python -m benchmarks.pipeline.run

# Load for SOAK_MINUTES (default 10), SIGKILL the translator every minute, verify exactly.
soak: venv
	$(BIN)/cdc-facts local up
	eval "$$($(BIN)/cdc-facts local env)" && $(BIN)/python -m benchmarks.pipeline.soak

stack-up: venv mariadb
	$(BIN)/cdc-facts local up --with mariadb

stack-down: venv
	$(BIN)/cdc-facts local down

clean: stack-down
	rm -rf .cdc-facts $(VENV) .pytest_cache .mypy_cache .ruff_cache
