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

# JupyterLab on the whole course (lessons/, exercises/, docs/ in its file browser), lesson 00 open
FIRST_LESSON = $(firstword $(sort $(wildcard lessons/00_*.ipynb)))
LAB_FLAGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(LAB_FLAGS) $(FIRST_LESSON)

NOTEBOOKS = $(wildcard lessons/*.ipynb solutions/*.ipynb)
EXERCISES = $(wildcard exercises/*.ipynb)

# Every stage runs, whatever an earlier one did; `make test` fails at the end if any stage failed.
# Tests that need a system program (chromium, bwrap) are skipped, with the reason, where it is missing.
# `make unit TESTS="tests/test_site.py -k offline"` runs some tests only. JOBS workers (pytest-xdist;
# a notebook's cells stay on one worker, in order); JOBS=0 runs everything in this process. Unit
# test files start in the order tests/conftest.py gives (LONGEST_FIRST), notebooks most cells first.
TESTS ?= tests
JOBS  ?= auto
XDIST  = $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadfile)
NBVAL  = --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider
UNIT_TESTS     = $(BIN)/python -m pytest $(XDIST) $(if $(XDIST),--no-loadscope-reorder) $(TESTS)
# lessons/ and solutions/ are committed with outputs: nbval compares every cell to them
NOTEBOOK_TESTS = $(BIN)/python -m pytest $(XDIST) --nbval $(NBVAL) $(NOTEBOOKS)
# exercises/ are committed without outputs (a student sees no answer): every cell must run
EXERCISE_TESTS = $(BIN)/python -m pytest $(XDIST) --nbval-lax $(NBVAL) $(EXERCISES)
test: $(STAMP)
	@failed=""; \
	echo "$(UNIT_TESTS)"; $(UNIT_TESTS) || failed="$$failed unit-tests"; \
	echo "$(NOTEBOOK_TESTS)"; $(NOTEBOOK_TESTS) || failed="$$failed notebooks"; \
	echo "$(EXERCISE_TESTS)"; $(EXERCISE_TESTS) || failed="$$failed exercises"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: every stage passed"

unit: $(STAMP)
	$(UNIT_TESTS)

release: $(STAMP)
	$(BIN)/symml release

site: $(STAMP)
	$(BIN)/symml site --out _site

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV)
