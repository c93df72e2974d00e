# regulake — the two commands a person needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
DEMO  ?= demo
LAKE  ?= $(DEMO)/lake
PORT  ?= 10000
# The generator's batches are month ends from 2024-01-31; classify and score on the last one
# (today's date would find every window empty).
DEMO_AS_OF ?= 2024-03-31
# pytest-xdist workers of `make test`, each with its own JVM; a module's tests stay on one worker.
# --no-loadscope-reorder: modules go out in collection order (tests/conftest.py puts the longest first),
# not xdist's default of the most tests first, which left the few long chaos tests to run last, alone.
TEST_WORKERS ?= 2
# The Python that `make lint` checks (whichever of these folders exist).
PY_DIRS := $(wildcard apps benchmarks dags jobs regulake scripts synth tests)
# `make train-linking`: the generated data the committed name-linking model is trained on.
TRAIN_DIR         ?= .train/linking
TRAIN_ENTERPRISES ?= 10000
TRAIN_SEED        ?= 21

.PHONY: setup demo test lint generate check-generated train-linking lock airflow serve clean

setup:            ## idempotent: .venv, Python stack from the lock, JVM jars, Java check
	@bash scripts/setup.sh

demo: setup       ## generate a small landing, run the main DAG over it, then a re-sent delivery (under 60 lines)
	@$(BIN)/regulake generate --out $(DEMO) --enterprises 2000 --batches 3 --seed 7 --no-progress
	@echo "--- afterwards: $(BIN)/regulake status --lake $(DEMO)/lake   (feeds, held deliveries, the last run)"
	@echo "    SQL: make serve LAKE=$(DEMO)/lake, a user from   regulake users add NAME --role analyst, then"
	@echo "    beeline / DBeaver: jdbc:hive2://127.0.0.1:$(PORT)/default · Superset: hive://127.0.0.1:$(PORT)/default"
	@echo "    or   $(BIN)/regulake sql \"SELECT * FROM public.efficacy_scorecard\" --lake $(DEMO)/lake   (README: SQL endpoint)"
	@echo "--- the main DAG over $(DEMO)/landing:"
	@$(BIN)/regulake run --landing $(DEMO)/landing --lake $(DEMO)/lake --as-of $(DEMO_AS_OF)
	@echo "--- a department re-sends deliveries it already sent: logged as duplicates, nothing loaded or rebuilt:"
	@$(BIN)/regulake run --landing $(DEMO)/landing_resend --lake $(DEMO)/lake --as-of $(DEMO_AS_OF)

test: setup       ## the whole suite (what CI runs) on TEST_WORKERS processes; "no tests collected" is a failure too
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi; exit $$rc

lint: setup       ## ruff over the Python, sqlfluff over dbt_project/ (.sqlfluff, .sqlfluffignore)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/sqlfluff lint dbt_project

generate: setup   ## regenerate every derived file: dbt sources, staging docs, seeds, public view docs (+ GX suites for review)
	$(BIN)/python scripts/generate.py

check-generated: setup  ## fail, naming the file, when a committed derived file is stale (rerun `make generate`)
	$(BIN)/python scripts/generate.py --check

train-linking: setup  ## slow: generate training data, retrain the name-linking model into conf/linking_model.json
	$(BIN)/regulake generate --out $(TRAIN_DIR) --enterprises $(TRAIN_ENTERPRISES) --seed $(TRAIN_SEED) --no-progress
	$(BIN)/python -m synth.scoring.linking_train --generated $(TRAIN_DIR)

lock:             ## re-resolve requirements.lock (production + dev group) and requirements-prod.lock (same pins, no dev)
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml --group dev -o requirements.lock -q --no-header
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml -c requirements.lock -o requirements-prod.lock -q --no-header

serve: setup      ## SQL endpoint (Spark Thrift Server, HiveServer2) over LAKE on loopback PORT; Ctrl-C stops it
	$(BIN)/regulake serve --lake $(LAKE) --port $(PORT)

airflow: setup    ## Airflow itself (API server + UI, scheduler, DAG processor) on the embedded default
	$(BIN)/regulake airflow

clean:
	rm -rf $(DEMO) .airflow .state .train

# `make bench`: the whole-pipeline benchmark at one size, a point of the cost curve (100000, 200000, 400000 ...).
ENTERPRISES ?= 100000
BATCHES     ?= 4
.PHONY: bench
bench: setup      ## slow: full / incremental / nothing-new runs vs a raw-copy floor → benchmarks/results/pipeline.md
	$(BIN)/python benchmarks/pipeline.py --enterprises $(ENTERPRISES) --batches $(BATCHES) --profile

# The loopback cluster (README: Run on a cluster): the production topology as processes on 127.0.0.1.
.PHONY: setup-cluster cluster-up cluster-down cluster-status cluster-demo
setup-cluster: setup  ## once: build SeaweedFS into .tools/, fetch hadoop-aws + AWS SDK jars, check PostgreSQL
	@bash scripts/cluster.sh setup

cluster-up: setup-cluster  ## start PostgreSQL, SeaweedFS S3, a Spark master + 2 workers, the Spark Connect server, Airflow (LocalExecutor)
	@bash scripts/cluster.sh up

cluster-down:     ## stop every server of the loopback cluster (data stays under .cluster/)
	@bash scripts/cluster.sh down

cluster-status:
	@bash scripts/cluster.sh status

cluster-demo: setup-cluster  ## the demo's sample on the cluster: landing into S3, the main DAG through the Airflow scheduler
	$(BIN)/regulake generate --out $(DEMO) --enterprises 2000 --batches 3 --seed 7
	@bash scripts/cluster.sh run $(DEMO)/landing $(DEMO_AS_OF)
