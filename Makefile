# regulake — the two commands a person needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
DEMO  ?= demo

.PHONY: setup demo test lint lock airflow clean

setup:            ## idempotent: .venv, Python stack from the lock, JVM jars, Java check
	@bash scripts/setup.sh

demo: setup       ## generate a small landing, run the main DAG over it, print a summary
	$(BIN)/regulake generate --out $(DEMO) --enterprises 2000 --batches 3 --seed 7
	$(BIN)/regulake run --landing $(DEMO)/landing --lake $(DEMO)/lake
	@echo "--- a department re-sends a delivery it already sent: logged as duplicate, loads nothing"
	$(BIN)/regulake run --landing $(DEMO)/landing_resend --lake $(DEMO)/lake
	$(BIN)/regulake status --lake $(DEMO)/lake

test: setup       ## the whole suite (what CI runs)
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check regulake jobs dags tests

lock:             ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml -o requirements.lock -q --no-header

airflow: setup    ## Airflow itself (API server + UI, scheduler, DAG processor) on the embedded default
	$(BIN)/regulake airflow

clean:
	rm -rf $(DEMO) .airflow .state
