# The two commands a newcomer needs: `make demo` (run the product) and `make test` (run every test).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/skillsforward
REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=
# `make bench` runs every benchmark; `make bench BENCH=web` one of them.
BENCH ?= all

.PHONY: venv demo test lint typecheck bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The third-party Open Badges 3.0 verifiers the tests run (node packages pinned by the lockfile).
VERIFIERS := tests/verifiers
$(VERIFIERS)/node_modules/.installed: $(VERIFIERS)/package.json $(VERIFIERS)/package-lock.json
	npm ci --prefix $(VERIFIERS) --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed $(VERIFIERS)/node_modules/.installed

demo: venv
	$(PY) -m sandbox.demo

test: venv
	@DATABASE_URL="$(DATABASE_URL)" REDIS_URL="$(REDIS_URL)" $(PY) scripts/run_tests.py $(PYTEST_ARGS)

lint: venv typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The sandbox app only loads when enabled, so its models must be installed for mypy to see them.
typecheck: venv
	SANDBOX_ENABLED=true $(VENV)/bin/mypy lti canvas badging skillsforward sandbox

# bench web drives the learner page with wrk (a Debian package).
bench: venv
	@command -v wrk >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)
	$(PY) -m bench $(BENCH)

clean:
	rm -rf var test-artifacts .pytest_cache
