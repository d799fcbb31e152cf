# Two commands for a fresh machine: `make demo` and `make test`.
VENV   := .venv
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: demo test install chromium serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Seed demo data under ./var and serve the console and web chat on http://127.0.0.1:8000
demo: install
	$(VENV)/bin/keyworker demo

## Run the whole test suite (installs Debian's chromium for the browser tests if missing)
test: install chromium
	$(VENV)/bin/pytest -n 2

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

serve: install
	$(VENV)/bin/keyworker serve

clean:
	rm -rf $(VENV) var .pytest_cache
