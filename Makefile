# lipviz: two commands on a fresh machine with Python 3.10+:  `make book`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lipviz-installed
BOOK_BUILD := jupyter-book build book --all --config jupyter_book.yml -W --keep-going

# Real data: LIPVIZ_DATA_DIR if set, else ../shared/data beside the checkout if it exists,
# else lipviz's own default (data/ of this checkout, then the user cache).
LIPVIZ_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export LIPVIZ_DATA_DIR

.PHONY: help setup book test lint format lab bench clean

help:
	@echo "make book   set up .venv, execute every chapter (smoke preset) and build the HTML book"
	@echo "make test   set up .venv and run lint + the whole test suite"
	@echo "make lab    JupyterLab on the book (live widgets)"
	@echo "make bench  run benchmarks/ and append to benchmarks/RESULTS.md"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

# No network: data comes from LIPVIZ_DATA_DIR when it holds the files; chapters that need data
# that is absent skip those cells with a sentence saying why (LIPVIZ_OFFLINE forbids downloads).
book: setup
	LIPVIZ_STATIC=1 LIPVIZ_OFFLINE=1 $(BIN)/$(BOOK_BUILD)
	$(BIN)/python -c "import lipviz.experiments as e; [print('pruned stale cache', p) for p in e.prune_cache('book/cache')]"
	@echo
	@echo "The book is built: file://$(CURDIR)/book/_build/html/index.html"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab --notebook-dir=book

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf book/_build .pytest_cache .ruff_cache .mypy_cache
