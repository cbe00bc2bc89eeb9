# Two commands do all the set-up:  `make lab` opens the course, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch by default; a GPU user can say e.g. `make lab TORCH="torch==2.13.0 --index-url ..."`.
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: lab test unit notebooks release bench site clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so nothing below can pull a CUDA build as a dependency
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=lessons $$(ls lessons/00_*.ipynb 2>/dev/null | head -1 | xargs -r basename)

NOTEBOOKS = $(wildcard lessons/*.ipynb solutions/*.ipynb exercises/*.ipynb)

test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests

release: $(STAMP)
	$(BIN)/symml release

site: $(STAMP)
	$(BIN)/symml site --out _site

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV)
