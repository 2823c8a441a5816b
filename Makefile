# Perkline: `make demo` to try it, `make test` to check it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 8000
NAME ?=
SCALE ?= quick

.PHONY: demo test lint format audit bench messages icons venv browser-libs clean lock

venv: $(INSTALLED) browser-libs

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $@

# Browser libraries the tests inject into pages (axe-core), pinned in package-lock.json and
# installed here, never at test time. Without npm, the tests that need them skip (and fail
# under CI=true, tests/support/ci.py).
browser-libs: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel error && touch $@; \
	else \
	  echo "npm not found: no browser libraries, the accessibility tests will skip (Debian: apt-get install npm)"; \
	fi

demo: export DEBUG ?= 1
demo: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --output var/demo.json --reuse
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@echo ""
	@echo "Perkline is starting on http://127.0.0.1:$(PORT)/ (Ctrl-C stops the web server, worker and beat)"
	@echo "  citizen app      http://127.0.0.1:$(PORT)/app/"
	@echo "  merchant portal  http://127.0.0.1:$(PORT)/portal/"
	@echo "  partner API docs http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  operator admin   http://127.0.0.1:$(PORT)/admin/"
	@echo "  health           http://127.0.0.1:$(PORT)/healthz"
	@echo "  logins           var/demo.json"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" PERKLINE_PORT=$(PORT) $(BIN)/honcho -f Procfile start

test: $(INSTALLED) browser-libs
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .
	$(BIN)/lint-imports

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# bandit over the code that runs (its settings: [tool.bandit] in pyproject.toml). bandit warns
# of an unused `nosec` on each piece of an f-string it accepts (PyCQA/bandit#1204): that
# false warning is dropped, the rest of what bandit says is shown, and its status kept.
AUDITED := config loyalty perks surfaces demo bench .ci manage.py gunicorn.conf.py
audit: $(INSTALLED)
	@mkdir -p var
	@status=0; $(BIN)/bandit -c pyproject.toml -q -r $(AUDITED) 2>var/bandit.log || status=$$?; \
	  grep -v 'but no failed test on file' var/bandit.log >&2; \
	  test $$status -eq 0 && echo "bandit: no findings in $(AUDITED)"; exit $$status
	@echo "pip-audit not run: it needs network access to its vulnerability database (PyPI's advisories, OSV)."
	@echo "  Where there is network: pip install pip-audit && pip-audit --require-hashes -r requirements.txt"

bench: export DEBUG ?= 1
bench: $(INSTALLED)
	$(BIN)/python -m bench $(NAME) --scale $(SCALE)

# The app's home-screen icons (static/app/icon-*.png), drawn by demo/icons.py and committed.
icons: $(INSTALLED)
	$(BIN)/python -m demo.icons

# Needs GNU gettext; the compiled catalogue is committed so nobody else does.
messages: $(INSTALLED)
	DEBUG=1 $(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=node_modules --ignore=var --ignore=tests --ignore=bench
	DEBUG=1 $(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=node_modules

# Recompile the pinned, hashed requirement files from the .in files (needs PyPI).
# Versions already pinned stay put; `make lock LOCK_ARGS=--upgrade` moves them all.
lock: $(INSTALLED)
	for f in requirements requirements-dev; do \
	  CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	    --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	    $(LOCK_ARGS) -o $$f.txt $$f.in || exit 1; \
	done

clean:
	rm -rf var/ $(VENV)
