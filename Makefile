# Quick start: `make run` serves a demo city; `make test` installs everything and runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest -q
STAMP := $(VENV)/.installed

.PHONY: install oidc-provider system-packages lint test test-unit test-rest test-postgres test-concurrency test-stack image-test stack run bench vectors clean

$(STAMP): pyproject.toml setup.py cardformat/_base45.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The real OpenID provider the single sign-on tests start (tests/oidc: node, from its lock file).
OIDC_STAMP := tests/oidc/node_modules/.installed
$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	touch $(OIDC_STAMP)

oidc-provider: $(OIDC_STAMP)

# Debian packages the suite needs (Chromium, nginx, podman, softhsm2, node, ...): installed when
# missing and run as root on Debian, otherwise the script names the one command to run.
system-packages:
	bash scripts/system-packages.sh

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/import_cycles.py

# The card format's unit tests carry the coverage gate; everything else runs on SQLite, then
# the database tests run again on PostgreSQL when TEST_POSTGRES_URL names a server (CI sets it,
# and the tests fail rather than skip when that server cannot be reached).
test: system-packages lint test-unit test-rest test-postgres test-concurrency test-stack

test-unit: install
	$(PYTEST) tests/unit --cov=cardformat --cov-branch --cov-report=term-missing:skip-covered --cov-fail-under=95

test-rest: install oidc-provider
	env -u TEST_POSTGRES_URL $(PYTEST) --ignore=tests/unit --ignore=tests/concurrency --ignore=tests/stack

test-postgres: install oidc-provider
ifdef TEST_POSTGRES_URL
	$(PYTEST) -m postgres
else
	@echo "TEST_POSTGRES_URL is not set: PostgreSQL pass not run (CI always runs it)"
endif

# The container images, built with podman from a Debian base made here (no Docker, no registry),
# then booted against TEST_POSTGRES_URL's server and checked; root on Debian (docs/operations.md).
image-test: system-packages install
	$(BIN)/python scripts/image.py test

# The reference deployment (scripts/stack.py): nginx over HTTPS, two cardservice instances, the
# verifier, on PostgreSQL (TEST_POSTGRES_URL's server) and Redis; in Chromium. Fails, never skips,
# without those servers.
test-stack: install
	$(PYTEST) -m stack tests/stack

# The same stack for a person: prints the URLs and the staff sign-in; Ctrl-C stops it and drops
# its databases.
stack: install
	$(BIN)/python scripts/stack.py up

# The reference stack's two instances on one PostgreSQL under concurrent load (scripts/stack.py,
# tests/concurrency/conftest.py): needs TEST_POSTGRES_URL and fails without it; the Redis database of TEST_REDIS_URL holds the
# rate limits. A few minutes.
test-concurrency: install
	$(PYTEST) tests/concurrency

run: install
	$(BIN)/python scripts/demo.py

bench: install
	$(BIN)/python bench/bench_cardformat.py

vectors: install
	$(BIN)/python tests/vectors/generate_cards.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
