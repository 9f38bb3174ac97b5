# Two entry points: `make run` (the main job) and `make test` (the test suite).
# Each creates .venv when missing; the stamp file makes a second call install nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_ARGS ?=

.PHONY: run test venv clean-venv

venv: $(STAMP)

# betty-ml 0.2.x declares Requires-Python <3.11; its code runs on 3.11, so it is
# installed alone first, without the python check (see ../shared/DESIGN.md).
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python betty-ml==0.2.1
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/e2eaug run $(RUN_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

clean-venv:
	rm -rf $(VENV)
