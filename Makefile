# Two commands: `make run` and `make test`. Each bootstraps .venv on first use.
# Also: `make test-browser` (real-browser journeys) and `make bench` (figures, not tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: install run test test-pg test-browser chromium wrk bench ci clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Migrate, seed the demo trial if the database is empty, start the worker and the web app.
run: install
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	@echo "Web app on http://$(HOST):$(PORT)  (Ctrl-C stops the app and the worker)"
	@echo "Staff log in with a second factor: '$(FLASK) users totp EMAIL' prints the current code of a demo account."
	@$(FLASK) worker & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null; wait $$WORKER 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

## The whole suite on the embedded default (SQLite). PostgreSQL tests skip unless
## ICBT_TEST_DATABASE_URL is set (.ci/run sets it).
test: install
	$(BIN)/python -m pytest

## The same suite with PostgreSQL as the main database.
ICBT_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
test-pg: install
	ICBT_TEST_DATABASE_URL=$(ICBT_TEST_DATABASE_URL) $(BIN)/python -m pytest

## Real-browser journeys (tests/browser): Debian's Chromium driven by Playwright (never a
## downloaded browser), axe-core from npm, the real server on a free loopback port.
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.browser-installed
AXE_JS := tests/browser/node_modules/axe-core/axe.min.js

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,browser]"
	@touch $@

$(AXE_JS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium (or set CHROMIUM=/path/to/chromium)"; exit 1; fi; }

test-browser: install $(BROWSER_STAMP) $(AXE_JS) chromium
	ICBT_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -m browser tests/browser

## Benchmarks (bench/): pages under gunicorn (wrk), SQL statements per page, 50 users for
## 60 s. Prints tables; PostgreSQL too when it answers at ICBT_BENCH_PG_URL.
ICBT_BENCH_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is missing: sudo apt-get install wrk"; exit 1; fi; }

bench: install wrk
	ICBT_BENCH_PG_URL=$(ICBT_BENCH_PG_URL) $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache tests/browser/node_modules test-output
