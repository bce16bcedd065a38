# Two entry points, each doing its own set-up on a fresh clone:
#   make demo   creates .venv, installs the package, runs the showcase
#   make test   creates .venv, installs the test extras, runs the linter and the whole suite
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The first Python >= 3.11 on PATH.
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  && { echo $$p; break; }; done)

.PHONY: demo test docs clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[examples]"
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,examples]"
	@touch $@

demo: $(VENV)/.demo
	$(BIN)/python examples/demo.py

# The suite runs with float64 on (tests/conftest.py); the docstring examples
# run in a second process with JAX's default float32, as users see them.
test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadgroup -q tests
	$(BIN)/python -m pytest -q --doctest-modules jaxopt_notes

# The docs site (also built, strictly, by the test suite).
docs: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) demo_output site .pytest_cache .hypothesis
