# Course kit for the dropout assignment. Two commands do everything on a fresh machine:
#   make demo   a whole grading round on sample submissions
#   make test   the project's tests
#   make hub    the course on a local JupyterHub (instructor + 3 students), until Ctrl-C
#   make hub-test  the browser test of the course on that hub (also part of make test)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The hub's Python environment: outside the clone and built on Debian's python, so
# that every user's server can run it (a clone under /root, or a pyenv python, is not
# readable by other users). README: "Running the course on JupyterHub".
HUB_PREFIX ?= /opt/dropout-kit-hub/venv
HUB_STAMP  := $(HUB_PREFIX)/.installed

.PHONY: demo test bench release clean hub hub-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[hub,test]"
	# An editable install leaves out the package's data files: the formgrader extension
	# enabled by hand (jupyter-config/), as a regular install enables it.
	mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	cp jupyter-config/jupyter_server_config.d/dropout-kit.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	touch $(STAMP)

$(HUB_STAMP): pyproject.toml $(shell find dropout_kit jupyter-config -type f -not -name "*.pyc")
	scripts/system-packages.sh --hub
	umask 022 && /usr/bin/python3 -m venv $(HUB_PREFIX)
	umask 022 && $(HUB_PREFIX)/bin/pip install --quiet --upgrade pip
	umask 022 && $(HUB_PREFIX)/bin/pip install --quiet ".[hub]"
	touch $(HUB_STAMP)

release: $(STAMP)
	$(BIN)/dropout-kit release

demo: $(STAMP)
	scripts/system-packages.sh
	$(BIN)/dropout-kit demo

test: $(STAMP) $(HUB_STAMP)
	scripts/system-packages.sh --tests
	$(BIN)/python -m pytest --durations=15

hub: $(HUB_STAMP)
	$(HUB_PREFIX)/bin/python hub/run.py --state build/hub

hub-test: $(STAMP) $(HUB_STAMP)
	scripts/system-packages.sh --tests
	$(BIN)/python -m pytest tests/test_hub.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) submitted autograded/*/ feedback gradebook.db build reports
