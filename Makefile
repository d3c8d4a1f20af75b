# Two commands matter: `make demo` (offline deploy of app.py) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii prints a banner on Node 20 (end of life for jsii since 2026-10-30); it still works.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup demo demo-lifecycle bench test lint typecheck unit clean integ integ-snapshot

$(VENV)/.installed: pyproject.toml requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

## Synthesize app.py and deploy it to local S3 + CodeArtifact emulators; print the versions.
demo: setup
	$(PY) -m codeartifact_generic.testing demo --app "python3 app.py"

## Deploy, bump the version, fail and roll back, destroy: CodeArtifact state after each step.
demo-lifecycle: setup
	$(PY) -m codeartifact_generic.testing demo-lifecycle --app "python3 app.py"

## Lint, type-check, then the whole pytest suite on PYTEST_WORKERS pytest-xdist workers.
## Tests sharing an expensive fixture stay on one worker (--dist loadgroup), long tests are
## handed out first (tests/conftest.py orders them; --no-loadscope-reorder keeps that order).
## PYTEST_WORKERS=0 runs the suite serially in one process.
PYTEST_WORKERS ?= 3
test: setup lint
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

## Integration test on real AWS (credentials, a bootstrapped account/region): deploy each
## tests/integ/integ_*.py app and its assertion stack, run the assertions (every asset listed by
## CodeArtifact with its SHA256), destroy both, update the snapshot. INTEG_ARGS="--profile NAME".
INTEG_ARGS ?=
integ: setup
	$(PY) tests/integ/driver.py deploy $(INTEG_ARGS)

## Rewrite tests/integ's snapshots after an intended change (offline: synthesis only).
integ-snapshot: setup
	$(PY) tests/integ/driver.py snapshot

lint: setup typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy cannot follow setuptools' package-dir mapping of lambda/ to codeartifact_generic.handler,
# so it checks a symlinked copy of the installed layout.
typecheck: setup
	rm -rf build/typecheck && mkdir -p build/typecheck/codeartifact_generic
	ln -s $(CURDIR)/constructs/codeartifact_generic/* build/typecheck/codeartifact_generic/
	ln -s $(CURDIR)/lambda build/typecheck/codeartifact_generic/handler
	$(VENV)/bin/mypy -p codeartifact_generic
	$(VENV)/bin/mypy app.py
	$(VENV)/bin/mypy tests/integ/integ_generic_package_version.py tests/integ/driver.py

## Data-path benchmark of issue 5 (not part of `make test`): AWS CLI v1 baseline vs the handler vs
## the floors at 64 MiB, 256 MiB and 1 GiB, plus synth scaling; writes bench/results/.
## BENCH_ARGS="--with-4g" adds 4 GiB; BENCH_ARGS="--profile --py-spy PATH" adds py-spy profiles.
BENCH_ARGS ?=
bench: setup
	$(PY) -m bench.run --repeat 3 $(BENCH_ARGS)

clean:
	rm -rf build cdk.out .local-deploy .pytest_cache .mypy_cache .ruff_cache
