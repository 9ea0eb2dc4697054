# Course kit for the dropout assignment. Two commands do everything on a fresh machine:
#   make demo   a whole grading round on sample submissions
#   make test   the project's tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench release clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

release: $(STAMP)
	$(BIN)/dropout-kit release

demo: $(STAMP)
	scripts/system-packages.sh
	$(BIN)/dropout-kit demo

test: $(STAMP)
	scripts/system-packages.sh --tests
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) submitted autograded/*/ feedback gradebook.db build reports
