# The two commands: `make run` and `make test` (`make help` lists the rest).
# Each builds .venv from the lock files in requirements/ (the tested versions), then
# installs chunkup itself on top without resolving again.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
TOOLS := .venv-tools
LOCK_FLAGS := --quiet --universal --python-version 3.11

.PHONY: help run test lint format bench lock clean
.DEFAULT_GOAL := help

## make help    list the targets
help:
	@sed -n 's/^## /  /p' $(MAKEFILE_LIST)

# the server, the test tools and the cluster extras (postgres, s3): make test, lint, bench
$(STAMP): pyproject.toml requirements/test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# the server's runtime dependencies only: make run
$(RUN_STAMP): pyproject.toml requirements/run.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(RUN_STAMP)

## make run     serve on http://127.0.0.1:8000 (ARGS="--port 9000 ..." passes flags)
run: $(RUN_STAMP)
	$(BIN)/chunkup serve $(ARGS)

## make test    run the test suite: provisioning, 3 xdist workers, branch coverage (PYTEST_ARGS="tests/api -x ..." narrows it)
# 3 workers on 2 cores: the tests wait on timers, servers and browsers about as much as
# they compute (fresh clone, this suite: -n 2 299 s, -n 3 271 s, -n 4 267 s)
test: $(STAMP)  # provision npm packages + Chromium, then 3 workers, one module each at a time
	$(BIN)/python -m tests.provision
	$(BIN)/python -m pytest -n $(or $(TEST_WORKERS),3) --dist loadscope \
		--cov --cov-branch --cov-report=term $(PYTEST_ARGS)

## make lint    ruff (lint and format check) and mypy --strict over src/
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

## make format  reformat and fix what ruff can
format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

## make bench   measure against the floor and peers (BENCH_ARGS=--quick: about a minute)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## make lock    regenerate requirements/*.txt from pyproject.toml (newest releases within its bounds)
lock:
	test -x $(TOOLS)/bin/uv || ($(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet uv)
	$(TOOLS)/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml -o requirements/run.txt
	$(TOOLS)/bin/uv pip compile $(LOCK_FLAGS) --extra test pyproject.toml -o requirements/test.txt

# issue 18's budget: completion time and peak memory of a 5 MiB photo and a PDF
.PHONY: bench-completion
bench-completion: $(STAMP)
	$(BIN)/python -m bench.completion $(BENCH_ARGS)

## make bench-attacks  issue 14's attacks on a real server: answer, time, worker peak, limit (bench/results/attacks.md)
.PHONY: bench-attacks
bench-attacks: $(STAMP)
	$(BIN)/python -m bench.attacks

## make clean   remove the virtualenvs and the default data directory
clean:
	rm -rf $(VENV) $(TOOLS) chunkup-data .pytest_cache .mypy_cache
