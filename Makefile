# Set-up contract: `make demo` and `make test` work on a fresh clone with nothing else installed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_WORKSPACE ?= ./demo-workspace

.PHONY: demo test lint typecheck bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,scale,embeddings,onnx,mlflow,serve]'
	$(BIN)/python -m pip install --quiet -r tests/requirements-reference.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dcai demo --workspace $(DEMO_WORKSPACE) --fresh

# Headless Chromium for the tests that render HTML reports (Debian/Ubuntu: apt-get).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
	  { echo "make: could not install Chromium (needed by the browser tests); install it and retry" >&2; exit 1; }

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

# Benchmarks run in their own environment: peer tools such as cleanlab (AGPL) are installed
# there, never in dcai's runtime.
BENCH_VENV  ?= .venv-bench
BENCH_BIN   := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench-env

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --upgrade pip

$(BENCH_STAMP): $(BENCH_BIN)/python pyproject.toml benchmarks/requirements.txt
	$(BENCH_BIN)/python -m pip install --quiet -e . -r benchmarks/requirements.txt
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

bench: bench-env
	$(BENCH_BIN)/python benchmarks/ingest.py
	$(BENCH_BIN)/python benchmarks/label_issues.py
	$(BENCH_BIN)/python benchmarks/audit_digits.py
	$(BENCH_BIN)/python benchmarks/outliers_duplicates.py
	$(BENCH_BIN)/python benchmarks/consensus.py
	$(BENCH_BIN)/python benchmarks/slices.py
	$(BENCH_BIN)/python benchmarks/clean_vs_collect.py
	$(BENCH_BIN)/python benchmarks/tracking.py
	$(BENCH_BIN)/python benchmarks/serving.py
	$(BENCH_BIN)/python benchmarks/model_files.py
	$(BENCH_BIN)/python benchmarks/startup.py
	$(BENCH_BIN)/python benchmarks/streams.py
	$(BENCH_BIN)/python benchmarks/drift.py
	$(BENCH_BIN)/python benchmarks/monitoring.py
	$(BENCH_BIN)/python benchmarks/weak_supervision.py

clean:
	rm -rf $(VENV) $(DEMO_WORKSPACE) .pytest_cache .mypy_cache .ruff_cache
