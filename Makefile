# The README's two commands: `make demo` and `make test`.
# Each creates .venv if missing and installs the package (dependencies from PyPI) into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test bench soak clean

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

# Results are kept as dated files under benchmarks/results/ (benchmarks/results/README.md).
RESULTS := benchmarks/results/$(shell date +%Y-%m-%d)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,archive,bench]'
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,min,max,rounds \
	  --benchmark-json=$(RESULTS)-benchmarks.json

# The hour-long soak (docs/reliability.md): 16 channels with flapping and stalling
# sources on a small tmpfs that fills twice. Mounting it needs root.
SOAK_SECONDS ?= 3600
soak: $(STAMP)
	@d=$$(mktemp -d) && mount -t tmpfs -o size=64m tmpfs $$d && \
	  { $(BIN)/nvr bench soak --state-dir $$d/state --seconds $(SOAK_SECONDS); rc=$$?; \
	    umount -l $$d; rmdir $$d; exit $$rc; }

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .benchmarks
