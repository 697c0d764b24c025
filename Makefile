# Two commands: `make run` starts the app with its embedded defaults; `make test` runs the tests.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 8000

# Development defaults for `make run` only; production sets real values in the environment.
RUN_ENV := SHOPIFY_API_KEY=$${SHOPIFY_API_KEY:-dev-api-key} \
	SHOPIFY_API_SECRET=$${SHOPIFY_API_SECRET:-dev-api-secret-only-for-local-runs-000} \
	CX_DEMO=$${CX_DEMO:-1} MAIL_URL=$${MAIL_URL:-outbox} HOST=$${HOST:-127.0.0.1} PORT=$(PORT) \
	APP_URL=$${APP_URL:-http://localhost:$(PORT)} WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2}

.PHONY: run test lint clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	@export $(RUN_ENV); \
	$(FLASK) db upgrade && $(FLASK) cx demo || exit 1; \
	$(FLASK) cx worker & worker=$$!; \
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app & web=$$!; \
	trap 'kill $$worker $$web 2>/dev/null; wait; echo; echo "cxplugin stopped."' INT TERM; \
	sleep 2; \
	echo; \
	echo "  cxplugin is running (Ctrl-C stops the web server and the worker)"; \
	echo "  start here:         http://localhost:$(PORT)/"; \
	echo "  merchant (scores):  http://localhost:$(PORT)/demo/admin?to=/admin/scores"; \
	echo "  shopper (product):  http://localhost:$(PORT)/demo/storefront?country=NL&locale=nl"; \
	echo "  mail sent (outbox): http://localhost:$(PORT)/demo/admin?to=/admin/outbox"; \
	echo "  health:             http://localhost:$(PORT)/healthz"; \
	echo "  webhooks endpoint:  http://localhost:$(PORT)/webhooks"; \
	echo; \
	wait

test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
