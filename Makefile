# The two commands of the README: `make run` serves the local stack, `make test` runs every
# check. Both install what they need on a fresh clone (Python 3.12 from pyenv or PATH).

SHELL := /bin/bash
PYTHON312 := $(shell PYENV_VERSION=3.12.1 python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3.12)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/layers/scrip:$(CURDIR)/local
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: run test tests unit-tests stack-tests lint typecheck validate build bench invoke clean

$(VENV)/.installed: requirements-dev.txt layers/scrip/requirements.txt
	@test -n "$(PYTHON312)" || { echo "python3.12 not found (pyenv 3.12.1 or python3.12 on PATH)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# SAM CLI pins older boto3/pydantic than the application: it lives in its own environment.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m scrip_local serve

# The pure unit tests first: they take seconds, and a broken rule shows there before the stack starts.
test: lint typecheck unit-tests stack-tests validate

# Every test, without the checks around them.
tests: unit-tests stack-tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit-tests: $(VENV)/.installed
	$(VENV)/bin/pytest -n 0 tests/unit

# Everything but tests/unit: services against the emulator, HTTP through the local stack.
stack-tests: $(VENV)/.installed
	$(VENV)/bin/pytest --ignore=tests/unit

# cfn-lint, then SAM's own validation (plain `sam validate` is the one that catches unknown
# event properties), then a real `sam build` (no Docker needed: it only needs the registry).
validate: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate
	$(SAM_VENV)/bin/sam validate --lint
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAM_VENV)/bin/sam build --build-dir .aws-sam/build

build: $(SAM_VENV)/.installed
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAM_VENV)/bin/sam build

bench: $(VENV)/.installed
	$(PY) bench/local_stack_scaling.py
	$(PY) bench/ledger_writes.py
	$(PY) bench/event_processing.py
	$(PY) bench/webhook_delivery.py
	$(PY) bench/cold_import.py
	$(PY) bench/event_cost.py
	$(PY) bench/redemption_burst.py
	$(PY) bench/fanout.py
	$(PY) bench/tier_period_end.py
	$(PY) bench/automation_fanout.py
	$(PY) bench/subscriptions.py

# make invoke FUNCTION=ProgramsPostFunction EVENT=events/programs/post.json
invoke: $(VENV)/.installed
	$(PY) -m scrip_local invoke $(FUNCTION) -e $(EVENT)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
