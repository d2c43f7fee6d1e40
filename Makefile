# Renkei. `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Metaflow needs a user name and treats root as none: give it one unless the caller did.
export METAFLOW_USER ?= $(or $(USER),renkei)
ifeq ($(METAFLOW_USER),root)
  override METAFLOW_USER := renkei
endif

.PHONY: setup demo test test-fast lint format bench clean deploy-aws deploy-aws-dry-run \
	deploy-aws-service

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: setup  ## ingest, train, approve, promote, score a fresh drifted batch, two days
	PY=$(PY) RENKEI=$(BIN)/renkei scripts/demo.sh
	@echo
	@echo "Open the app:   $(BIN)/renkei app        (http://127.0.0.1:8501)"
	@echo "Serve the API:  $(BIN)/renkei serve      (POST http://127.0.0.1:8000/predict)"
	@echo "Also: $(BIN)/renkei lineage <version>, $(BIN)/renkei monitoring, $(BIN)/renkei audit verify"

# one worker per core (pytest-xdist; each has its own Metaflow datastore, PostgreSQL server
# and trained-ledger templates); the slowest tests listed at the end: where suite time goes
# Bytecode compiled once first: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every
# flow task and CLI process would otherwise compile the modules it imports (~0.1 s each).
test: setup  ## the whole suite (unit, ledger on SQLite + PostgreSQL, flows, reliability)
	$(PY) -m compileall -q -j 0 shared flows app scripts > /dev/null
	$(BIN)/pytest -q -n auto --durations=25

test-fast: setup
	$(BIN)/pytest -q tests/unit tests/reliability tests/lifecycle

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layers contract in pyproject.toml ([tool.importlinter])

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup  ## benchmarks beside their baselines; results in bench/results/
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_train.py
	$(PY) bench/bench_guard.py
	$(PY) bench/bench_app.py
	$(PY) bench/bench_drift.py
	$(PY) bench/bench_trust.py
	$(PY) bench/bench_capture.py
	$(PY) bench/bench_serve.py  # needs `hey` (apt-get install -y hey)

deploy-aws: setup  ## deploy the four flows to AWS Step Functions (config/aws.yaml)
	$(BIN)/renkei deploy aws

deploy-aws-dry-run: setup  ## write the state machine JSON files to deploy/state-machines/
	$(BIN)/renkei deploy aws --dry-run

deploy-aws-service: setup  ## deploy the scoring endpoint: ECS Fargate behind an HTTPS ALB
	$(BIN)/renkei deploy aws --service

clean:
	rm -rf data .metaflow bench/results
