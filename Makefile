# The two commands: `make demo` and `make test`. Everything they need is set up here.
VENV      ?= .venv
PYTHON    ?= python3
PY        := $(VENV)/bin/python
DEMO_END  ?= 2026-02-14T18:00:00Z
DEMO_DAYS ?= 7
PYTEST_ARGS ?=

.PHONY: demo test setup system-demo system-test lint bench clean

demo: setup system-demo
	$(VENV)/bin/obskit demo lab --end $(DEMO_END) --days $(DEMO_DAYS)

test: setup system-test
	@git status --porcelain > .git/obskit-status-before
	$(VENV)/bin/pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg tests notebooks $(PYTEST_ARGS)
	@git status --porcelain | diff .git/obskit-status-before - \
	  || (echo "make test changed files in the work tree (diff above)" >&2; exit 1)

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

system-demo:
	@scripts/system-deps demo

system-test:
	@scripts/system-deps test

lint: setup
	$(VENV)/bin/ruff check obskit tests
	$(VENV)/bin/mypy obskit

bench: setup system-demo
	$(PY) benchmarks/demo_startup.py

clean:
	rm -rf $(VENV) .pytest_cache
