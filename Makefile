# topic-archive: `make run` serves the app with sample data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= archive-data
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-test lint clean bench bench-extract

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/archive --data $(DATA) load-samples --if-empty
	$(BIN)/archive --data $(DATA) user ensure-editor
	$(BIN)/archive --data $(DATA) serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest

# Import and search at BENCH_ARTICLES synthetic articles, beside SQLite FTS5 (see archive/benchmark.py).
BENCH_ARTICLES ?= 100000
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/archive bench --articles $(BENCH_ARTICLES) --json bench-report.json --chart bench-latency.png

# Extraction against plain trafilatura on pages with reference text (see ingest/benchmark.py).
EXTRACTION_PAGES ?= ../shared/extraction/wcxb-dev
bench-extract: install
	$(BIN)/python -m ingest.benchmark $(EXTRACTION_PAGES)

lint: install-test
	$(BIN)/ruff check archive ingest web tests
	$(BIN)/ruff format --check archive ingest web tests

clean:
	rm -rf $(VENV) build *.egg-info
