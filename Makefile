# citygate: `make demo` runs the whole system, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# uv is bootstrapped with pip at the version the lock pins for it (dev group in pyproject.toml).
UV_VERSION := $(shell sed -n 's/.*"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)
STAMP := $(VENV)/.synced

.PHONY: demo test lint lock lock-check unit integration stack-up stack-down system-deps browser bench bench-gateway telegraf docs clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on "uv==$(UV_VERSION)"

# Exactly what uv.lock says, nothing else; fails when the lock does not match pyproject.toml.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras
	touch $(STAMP)

lock: | $(UV)
	$(UV) lock

lock-check: | $(UV)
	$(UV) lock --check

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
	$(BIN)/lint-imports
	@# mypy cannot map the folder firmware-sim/ to its import name; a symlink does.
	@mkdir -p .cache/mypy-path && ln -sfn ../../firmware-sim .cache/mypy-path/firmware_sim
	MYPYPATH=.cache/mypy-path $(BIN)/mypy -p firmware_sim
	@# The gateway benchmark's scripts import each other from bench/, which is not a package.
	MYPYPATH=bench $(BIN)/mypy bench/gateway_bench.py bench/gateway_peers.py bench/gateway_report.py bench/naive_bridge.py bench/proc_stats.py

unit: $(STAMP)
	$(BIN)/pytest -m 'not integration'

integration: stack-up browser
	$(BIN)/pytest -m integration

test: lock-check lint stack-up browser
	$(BIN)/pytest

# docs/configuration.md from the configuration schemas (a unit test fails when it is stale).
docs: $(STAMP)
	$(BIN)/python docs/generate_configuration.py

bench: stack-up
	$(BIN)/python bench/run_all.py

# Telegraf v1.39.3, a custom build from its Go module, into the cache once (the gateway's peer).
telegraf:
	bash bench/peers/build_telegraf.sh

# The gateway against Telegraf, a naive bridge and the limits: bench/results/gateway.{json,md,png}.
# Long (1,000,000 readings, 3 repetitions); `$(BIN)/python bench/gateway_bench.py --quick` is
# the five-minute version.
bench-gateway: stack-up telegraf
	$(BIN)/python bench/gateway_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
