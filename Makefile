# Safer Together — set-up, demo and tests. `make demo` and `make test` work on a fresh machine with
# Python 3.11+, git, make, Node.js and npm; everything else is installed here, as needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WEB    := src/safertogether/web
DATA   ?= ../shared/data
PYTEST_ARGS ?=

.PHONY: setup demo test test-all bench browser lint clean

setup: $(VENV)/.installed $(WEB)/node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: browser tests will be skipped (install Debian's chromium)"; fi; }

demo: setup
	$(BIN)/safer demo --data $(DATA)

test: setup browser
	SAFER_DATA=$(DATA) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-all: setup browser
	SAFER_DATA=$(DATA) $(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/import_speed.py --data $(DATA)
	$(BIN)/python bench/api_latency.py --data $(DATA)
	$(BIN)/python bench/ogc_paging.py --data $(DATA)

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) $(WEB)/node_modules .pytest_cache
