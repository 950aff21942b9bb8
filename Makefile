# carelm developer commands.  `make demo` and `make test` work on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint format clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[ml,ray,dev]'
	touch $@

setup: $(VENV)/.installed  ## create .venv with torch (CPU) and carelm with all extras

demo: setup  ## ingest the bundled sample, run the pipeline, print a summary, serve the API on :8000
	$(VENV)/bin/carelm demo

lint: setup
	$(VENV)/bin/ruff check src tests bench

test: lint  ## lint and run the whole test suite
	$(PY) -m pytest

format: setup
	$(VENV)/bin/ruff format src tests bench

clean:
	rm -rf carelm-data .pytest_cache
