# `make run` and `make test` work on a fresh machine: they create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test quick lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/opsim up $(ARGS)

# The whole suite: about 8 minutes on 2 cores (docs/performance.md); it prints how long it took.
test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/ruff check . && $(BIN)/mypy && $(BIN)/pytest -n auto --maxschedchunk 1; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

# A first check in about 4 minutes: everything but the whole conformance runs (tests marked slow).
quick: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n auto --maxschedchunk 1 -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .opsim reports
