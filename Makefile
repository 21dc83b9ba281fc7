# citygate: `make demo` runs the whole system, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration stack-up stack-down system-deps browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --progress-bar off -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash deploy/local/install-system-deps.sh

browser:
	bash deploy/local/install-browser.sh

stack-up: system-deps $(STAMP)
	$(BIN)/citygate stack up

stack-down:
	$(BIN)/citygate stack down

demo: stack-up
	$(BIN)/citygate stack status
	$(BIN)/citygate demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# mypy cannot map the folder firmware-sim/ to its import name; a symlink does.
	@mkdir -p .cache/mypy-path && ln -sfn ../../firmware-sim .cache/mypy-path/firmware_sim
	MYPYPATH=.cache/mypy-path $(BIN)/mypy -p firmware_sim

unit: $(STAMP)
	$(BIN)/pytest -m 'not integration'

integration: stack-up browser
	$(BIN)/pytest -m integration

test: lint stack-up browser
	$(BIN)/pytest

bench: stack-up
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
