# Herald: `make run` starts everything for development, `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi
# The Redis the app uses: REDIS_URL from the environment, else from .env, else the default.
REDIS_URL_OF_APP = $(BIN)/python -c 'from app.core.config import redis_url; print(redis_url())'
HOST ?= 127.0.0.1
PORT ?= 5000
MAIL_PORT ?= 1025
# Debian packages the project needs: Chromium for the browser tests, redis-server when no Redis runs.
APT_PACKAGES := chromium chromium-driver

.PHONY: run test lint test-postgres bench bench-scale install system-packages redis smtp-sink clean

$(STAMP): setup.cfg pyproject.toml
	@$(MAKE) --no-print-directory system-packages
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV) || { \
	  echo "Cannot create a virtualenv: install python3-venv (apt-get install python3-venv)." >&2; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Installs what is missing from Debian's packages when running as root; otherwise says what to install.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "Missing Debian packages:$$missing (sudo apt-get install$$missing)" >&2; fi; \
	fi

# Redis must answer at REDIS_URL; if none does, start a private redis-server under instance/redis.
redis: install
	@url=$$($(REDIS_URL_OF_APP)); \
	if ! $(BIN)/python -c 'import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()' "$$url" 2>/dev/null; then \
	  if ! command -v redis-server >/dev/null; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	    else echo "Redis does not answer at $$url: install it (sudo apt-get install redis-server) or set REDIS_URL." >&2; exit 1; fi; \
	  fi; \
	  port=$$($(BIN)/python -c 'import sys; from urllib.parse import urlparse; print(urlparse(sys.argv[1]).port or 6379)' "$$url"); \
	  mkdir -p instance/redis; echo "Starting a private redis-server on 127.0.0.1:$$port (instance/redis)"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port $$port --dir $(CURDIR)/instance/redis --save "" \
	    --appendonly no --pidfile $(CURDIR)/instance/redis/redis.pid --logfile $(CURDIR)/instance/redis/redis.log; \
	  for i in $$(seq 50); do redis-cli -p $$port ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	fi

run: redis
	$(BIN)/flask dev --host $(HOST) --port $(PORT) --mail-port $(MAIL_PORT)

# The layers of app/ (docs/architecture.md) are checked before the suite runs.
lint: install
	$(BIN)/lint-imports --no-cache

test: redis lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-postgres: redis
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Postfix's smtp-sink (the benchmark's sink) and smtp-source (its C baseline client), installed so
# that no Postfix daemon starts (policy-rc.d).
smtp-sink:
	@if ! { [ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/smtp-source ]; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's postfix for smtp-sink and smtp-source (no daemon is started)"; \
	  made=""; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; }; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null || true; \
	  [ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; \
	fi

bench: redis smtp-sink
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-scale: redis
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
