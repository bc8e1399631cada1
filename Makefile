# Everyday commands. `make run` and `make test` set up the virtualenv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
LANGS   = en it ru es fr de
STAMP   = $(VENV)/.installed

.PHONY: help install wheel run test test-sqlite test-postgres lint format typecheck i18n i18n-extract i18n-update i18n-check migrate migration bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)  ## Create the virtualenv; install the bot (editable) with its dev and bench tools

run: $(STAMP)  ## Run the bot (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/concierge run

test: $(STAMP)  ## Run the tests on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set
	$(BIN)/python -m pytest

test-sqlite: $(STAMP)  ## Run the tests on SQLite only
	TEST_DATABASE_URL= $(BIN)/python -m pytest

test-postgres: $(STAMP)  ## Run the tests on the local PostgreSQL
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest

lint: $(STAMP)  ## ruff (format check + lint), mypy and the catalog check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(MAKE) i18n-check

format: $(STAMP)  ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

PYBABEL_EXTRACT = $(BIN)/pybabel extract -F pyproject.toml -k _ -k gettext -k ngettext:1,2 -k noop \
	--add-comments=TRANSLATORS: --sort-by-file --no-location --project=Concierge --version=0.1 --copyright-holder="the Concierge authors"
PYBABEL_UPDATE = $(BIN)/pybabel update -d locales -D messages --no-wrap --ignore-obsolete
i18n-extract: $(STAMP)  ## Extract messages into locales/messages.pot
	$(PYBABEL_EXTRACT) -o locales/messages.pot .

i18n-update: i18n-extract  ## Merge new messages into every catalog
	$(PYBABEL_UPDATE) -i locales/messages.pot

i18n-check: $(STAMP)  ## Fail if a catalog is stale or a translation is missing
	$(PYBABEL_EXTRACT) -o $(VENV)/messages.pot . >/dev/null 2>&1
	$(PYBABEL_UPDATE) -i $(VENV)/messages.pot --ignore-pot-creation-date --check
	$(BIN)/python -m bot.catalogs

i18n: i18n-update i18n-check  ## Extract, update and check the catalogs

migrate: $(STAMP)  ## Migrate the database ($$DATABASE_URL) to the newest schema
	$(BIN)/concierge db upgrade

migration: $(STAMP)  ## Generate a migration from the models: make migration m="what changed"
	$(BIN)/python -c "from alembic import command; from bot.db import make_engine, alembic_config; import os; command.revision(alembic_config(make_engine(os.environ.get('DATABASE_URL', 'sqlite:///concierge.db'))), message='$(m)', autogenerate=True)"

wheel:  ## Build the wheel into dist/ (what the Dockerfile installs)
	rm -rf build dist  # a build left in the tree would add files that are gone since
	$(PYTHON) -m pip wheel --no-deps --quiet -w dist .

bench: $(STAMP)  ## Benchmarks (see docs/benchmarks.md)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info build dist
