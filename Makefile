# Safer Together — set-up, demo and tests. `make demo` and `make test` work on a fresh machine with
# Python 3.11+, git, make, Node.js and npm; everything else is installed here, as needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WEB    := src/safertogether/web
JS_CLIENTS := tests/js_clients
DATA   ?= ../shared/data
PYTEST_ARGS ?=

.PHONY: setup demo test test-all test-wheel dist bench browser proxy java postgres lint clean

setup: $(VENV)/.installed $(WEB)/node_modules/.installed $(JS_CLIENTS)/node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Existing data.police.uk JavaScript clients, which the tests run unchanged against the server.
$(JS_CLIENTS)/node_modules/.installed: $(JS_CLIENTS)/package.json $(JS_CLIENTS)/package-lock.json
	cd $(JS_CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: browser tests will be skipped (install Debian's chromium)"; fi; }

# nginx for the test of the README's reverse-proxy example (Debian's package, as root).
proxy:
	@command -v nginx >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	  else echo "nginx is not installed: the reverse-proxy test will be skipped (install Debian's nginx-light)"; fi; }

# Debian's Java for the Spark linkage engine (PySpark in local mode; Spark 4 needs Java 17+: Debian 12's default
# is 17, 13's is 21). Without it the Spark tests are skipped outside CI, and `safer link --engine spark` says why.
java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
	  else echo "java is not installed: Spark tests will be skipped (install Debian's default-jre-headless)"; fi; }

# Debian's PostgreSQL for the tests that run on both engines (each test session starts a throwaway cluster of
# its own on a loopback port: tests/postgres_server.py); nothing is started here.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL is not installed: the PostgreSQL half of the engine tests will be skipped (install Debian's postgresql)"; fi; }

demo: setup
	$(BIN)/safer demo --data $(DATA)

test: setup browser proxy java postgres
	SAFER_DATA=$(DATA) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-wheel

test-all: setup browser proxy java postgres
	SAFER_DATA=$(DATA) $(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-wheel

# The browser test against the page an installed wheel serves: sdist, wheel from it without npm, a fresh
# virtual environment, the installed `safer` importing and serving with no node on PATH (tests/installed_wheel.py).
test-wheel: setup browser
	$(BIN)/python tests/installed_wheel.py --data $(DATA)

# The sdist and the wheel, both carrying the page's libraries from npm (setup.py), into dist/.
dist: setup
	rm -rf dist build
	$(BIN)/python -c "from setuptools import build_meta as b; b.build_sdist('dist'); b.build_wheel('dist')" >/dev/null
	@ls -l dist

bench: setup
	$(BIN)/python bench/import_speed.py --data $(DATA)
	$(BIN)/python bench/api_latency.py --data $(DATA)
	$(BIN)/python bench/ogc_paging.py --data $(DATA)

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(JS_CLIENTS)/node_modules .pytest_cache build dist
