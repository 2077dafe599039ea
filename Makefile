# The README's two commands: `make demo` and `make test`.
# Each creates .venv if missing and installs the package (dependencies from PyPI) into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,archive]'
	touch $(STAMP)

# Boots the appliance on the shipped sample channels, replays a simulated day
# at full speed, then exports a daily report per analysed channel.
demo: $(STAMP)
	$(BIN)/nvr demo --out $(DEMO)

# Benchmarks run once each (--benchmark-disable) so CI checks they work
# without spending minutes; `make bench` runs them for real.
test: $(STAMP)
	$(BIN)/python -m pytest -q --benchmark-disable

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,archive,bench]'
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,min,max,rounds

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .benchmarks
