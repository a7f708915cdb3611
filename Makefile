# Policy Watcher: every target creates or reuses .venv, so a fresh checkout needs nothing but python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv lint test bench run demo clean

help:
	@echo "make run    - set up .venv and start the watcher"
	@echo "make test   - lint, type-check and run the tests"
	@echo "make demo   - replay the fixture history through a loopback server and watch it"
	@echo "make bench  - print parser and history benchmarks"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check watcher tests bench
	$(BIN)/ruff format --check watcher tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.parse_bench
	$(BIN)/python -m bench.history_bench
	$(BIN)/python -m bench.actions_bench
	$(BIN)/python -m bench.poll_bench

run: $(STAMP)
	$(BIN)/watcher run --config config/watcher.toml

demo: $(STAMP)
	$(BIN)/python -m watcher.demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
