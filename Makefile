# cityos — the two commands of the quick start are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint lock clean

$(BIN)/cityos: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(BIN)/cityos

run: $(BIN)/cityos
	$(BIN)/cityos demo --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

test: $(BIN)/cityos
	$(BIN)/python -m pytest -q

# The broker figures (issue 2), temporal and notification figures (issue 3), MQTT ingestion
# (issue 9, needs mosquitto), then the 42 a/b dial-a-ride instances (issue 11) and the 7
# generated ones (issue 22); DARP_LIMIT seconds per instance (published results use 60).
DARP_LIMIT ?= 10
bench: $(BIN)/cityos
	$(BIN)/python -m bench ngsi
	$(BIN)/python -m bench temporal
	$(BIN)/python -m bench notify
	$(BIN)/python -m bench consent
	$(BIN)/python -m bench iot
	$(BIN)/python -m bench darp --time-limit $(DARP_LIMIT) --workers 2
	$(BIN)/python -m bench energy

lint: $(BIN)/cityos
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/cityos

# Regenerate the lock file from pyproject.toml (needs the package registry).
lock:
	$(PY) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --strip-extras --extra dev -o requirements.lock pyproject.toml
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
