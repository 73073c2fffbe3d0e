# Two commands for a fresh machine with only Python 3.10+:
#   make demo   a plain answer, a background run and a batch (on the built-in emulator when no
#               YC_* credentials are set)
#   make test   runs linters, type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest record bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,frameworks]'
	touch $(STAMP)

# the built-in emulator unless YC_* credentials are set (in the environment or .env)
EMULATOR_UNLESS_CREDENTIALS = $(shell $(BIN)/python -c "from yc_responses.testing import has_credentials; print('' if has_credentials() else '--emulator')")

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py
	@mkdir -p .demo && rm -f .demo/results.jsonl .demo/results.jsonl.journal
	$(BIN)/yc-responses $(EMULATOR_UNLESS_CREDENTIALS) batch examples/prompts.jsonl .demo/results.jsonl

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# Re-record cassettes/: against the live service when YC_API_KEY and YC_FOLDER_ID are set
# (and billed to that folder), else against the built-in emulator. Tests replay them offline.
record: $(STAMP)
	$(BIN)/pytest -q tests/test_cassettes.py --record-mode=rewrite
	$(BIN)/pytest -q tests/test_cassettes.py

# Benchmarks against the built-in emulator: tables on stdout, figures in
# benchmarks/results/latest.json. `python -m benchmarks --quick` for a smoke test.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
