# Two commands: `make run` and `make test`. Each bootstraps .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: install run test test-pg test-browser bench ci clean

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

clean:
	rm -rf $(VENV) .pytest_cache
