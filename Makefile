# The two commands: `make run` (the demo, end to end) and `make test`;
# `make bench` runs the benchmark suite (BENCHMARKS.md).
# Both create .venv and install what they need on first use.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test bench down

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[worker,embedded,test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) starter.py run

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench --markdown bench/last-results.md

down: $(STAMP)
	$(PY) starter.py down
