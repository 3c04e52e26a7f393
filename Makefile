# The two commands: `make run` and `make test`. Everything else is a step they call.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PORT ?= 8000

.PHONY: run test install deps-python deps-node assets messages static lint typecheck audit api-fuzz migrate pin clean chromium ops-deps prod prod-reload

run: install migrate  ## set up everything and start the whole system in the foreground
	$(PY) manage.py seed_demo
	DJANGO_SETTINGS_MODULE=config.settings.dev $(PY) -m config.devstack

# The suite includes the schemathesis run against the live app (core/tests/fuzz, `make api-fuzz`).
test: install  ## install what is missing and run the whole suite (lint, types, audit, tests)
	$(MAKE) --no-print-directory lint typecheck audit
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

install: deps-python deps-node assets messages

# The virtualenv is rebuilt only when requirements.txt changes.
$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9 2>&1 | grep -v "is ignored" || true
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.txt
	touch $@

deps-python: $(VENV)/.installed

# `npm ci`: exactly what the committed lock pins, never rewriting it. The lock lists every
# platform's optional anvil build (npm skips the ones that do not match this machine).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps-node: node_modules/.installed

# Front-end packages, pinned by the lock, copied or bundled into static/vendor/ (gitignored:
# nothing third-party is committed). Rebuilt when the installed packages or this file change.
# walletconnect.js: WalletConnect v2 (QR code, deep links), loaded only when a project id is set.
# internet-identity.js: @dfinity/auth-client and its session key, loaded by the pages that
# offer Internet Identity (static/js/internet-identity.js).
VENDOR := static/vendor
ESBUILD := node_modules/.bin/esbuild --bundle --format=esm --minify --platform=browser \
	--target=es2020 --log-level=warning --define:process.env.NODE_ENV='"production"' \
	--define:global=globalThis

$(VENDOR)/.built: node_modules/.installed Makefile
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	echo 'export { EthereumProvider } from "@walletconnect/ethereum-provider";' \
		| $(ESBUILD) --outfile=$(VENDOR)/walletconnect.js
	echo 'export { AuthClient } from "@dfinity/auth-client"; export { ECDSAKeyIdentity } from "@dfinity/identity";' \
		| $(ESBUILD) --outfile=$(VENDOR)/internet-identity.js
	touch $@

assets: $(VENDOR)/.built  ## build the front-end packages into static/vendor/

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:  ## install Chromium for the browser tests (needs root; tests skip without it)
	@{ test -x /usr/bin/chromium && dpkg -s fonts-noto-core >/dev/null 2>&1; } || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-noto-core; }

# promtool (Debian's prometheus) checks and unit-tests deploy/prometheus; pg_dump and
# pg_restore (postgresql-client) back up and restore; nginx and supervisor run `make prod`.
# Their tests skip, saying so, without them.
OPS_PACKAGES := prometheus postgresql-client nginx supervisor
ops-deps:  ## install the operations tools: promtool, pg_dump, nginx, supervisor (needs root)
	@{ command -v promtool && command -v pg_dump && command -v nginx && command -v supervisord; } >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(OPS_PACKAGES); }

# The production topology on this machine (README: "Production topology"): nginx, web
# processes, workers and one beat under supervisor, with the prod settings; it refuses to
# start without their required variables.
prod: install  ## run the production topology in the foreground (needs nginx and supervisor)
	$(PY) -m config.prodstack

# A new release of this checkout onto the running `make prod` (same environment): each web
# process out of nginx's rotation, restarted, back once /health/ready answers on its socket;
# then the workers and the beat. Rolls back to the previous release if one is not ready.
prod-reload: install  ## health-gated rolling restart of the running make prod onto this checkout
	$(PY) -m config.prodreload $(PROD_RELOAD_ARGS)

# The crash run (README "Crash run"): SWAPS swaps through the API of a `make prod` of its own
# (its own PostgreSQL cluster, Redis and anvils) while processes are SIGKILLed, PostgreSQL
# and Redis restart and a chain's RPC is cut; then every outcome is checked from the chains.
# Last line: "chaos: N swaps, K kills, V violations". CHAOS_ARGS: see bench/chaos.py --help.
SWAPS ?= 100
.PHONY: chaos
chaos: install  ## kill -9 monkey, restarts and an RPC cut during SWAPS swaps; checked from the chains
	$(PY) bench/chaos.py --swaps $(SWAPS) $(CHAOS_ARGS)

messages: deps-python  ## compile the translations (.mo files are never committed)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

static: install
	$(PY) manage.py collectstatic --noinput -v 0

migrate: install
	$(PY) manage.py migrate --noinput -v 0

lint: deps-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps-python
	$(VENV)/bin/mypy .

# Known vulnerabilities in the pinned Python and npm packages; fails on a finding that
# .ci/audit-ignore.txt does not list (README: "Dependency audit").
audit: deps-python deps-node
	$(PY) .ci/audit.py

# Schemathesis against the live app alone (seed, examples: core/tests/fuzz); report in var/schemathesis.
api-fuzz: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest core/tests/fuzz -p no:cacheprovider

# Benchmarks (README "Performance"). Each creates and drops its own database next to the one
# DATABASE_URL names (named BENCH_DB_PREFIX_<benchmark>_<pid>, prefix "bench" by default) and
# prints its rows; `make bench` runs them all and prints one table. BENCH_ARGS="--quick" for a
# short run while developing.
.PHONY: bench bench-listings bench-server bench-watcher bench-prices bench-swaps
bench: install  ## every benchmark, then one table: figure, floor, ratio, goal (needs DATABASE_URL and REDIS_URL)
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "make bench needs DATABASE_URL=postgres://... and REDIS_URL=redis://..."; exit 1; }
	$(PY) bench/all.py $(BENCH_ARGS)

# Shapes LOCKSxPER_BLOCK (default 600x1,5000x10); e.g. BENCH_WATCHER_ARGS="--shapes 20000x50".
bench-watcher: install  ## watcher catch-up events/s beside the RPC floor (add DATABASE_URL for PostgreSQL)
	$(PY) bench/watcher.py $(BENCH_WATCHER_ARGS)

bench-listings: install  ## offer-book search p50/p95 with 100,000 listings beside the SQL alone (needs DATABASE_URL)
	@test -n "$$DATABASE_URL" || { echo "bench-listings needs DATABASE_URL=postgres://..."; exit 1; }
	$(PY) bench/listings.py $(BENCH_LISTINGS_ARGS)

# The ASGI server as `make run` starts it, 2 processes, 32 keep-alive clients, 30 s per endpoint.
bench-server: install  ## server requests/s and p95 per endpoint beside /health/live (needs DATABASE_URL)
	@test -n "$$DATABASE_URL" || { echo "bench-server needs DATABASE_URL=postgres://..."; exit 1; }
	$(PY) bench/server.py $(BENCH_SERVER_ARGS)

# 500 /ws/prices/ sockets on the ASGI server (2 processes), 20 stored prices, beside a ping.
bench-prices: install  ## live price store to 500 sockets p50/p95 beside the sockets' ping (needs DATABASE_URL, REDIS_URL)
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "bench-prices needs DATABASE_URL=postgres://... and REDIS_URL"; exit 1; }
	$(PY) bench/prices.py $(BENCH_PRICES_ARGS)

# The stack as `make run` starts it (SQLite, or PostgreSQL and Redis when DATABASE_URL and
# REDIS_URL are set), 50 swaps 4 at once through the API; BENCH_SWAPS_ARGS="--swaps 10".
bench-swaps: install  ## swap latency beyond the chains' confirmations per step (p50/p95, s and blocks), then peak RSS per process
	$(PY) bench/swaps.py $(BENCH_SWAPS_ARGS)

# The load scenario of issue #19 (bench/load/, README "Performance"): make prod on free ports
# in /tmp/prodstack-load-* with two anvils, an exchange server, a throwaway database beside
# DATABASE_URL's with LOAD_LISTINGS listings and funded wallets, then locust headless; prints
# per endpoint req/s, p50/p95/p99, failures and 5xx against the goals. LOAD_ARGS="--target
# https://host:port" aims it at a running stack instead. A killed run: pkill -f /tmp/prodstack-load-
# (anvils, supervisord, nginx, web) and pkill -f "celery -A config" (workers).
.PHONY: load
LOAD_USERS ?= 200
LOAD_MINUTES ?= 5
LOAD_LISTINGS ?= 3000
load: install  ## locust against make prod: p50/p95/p99 per endpoint, 5xx, error rate vs the goals (needs DATABASE_URL)
	$(PY) bench/load/run.py --users $(LOAD_USERS) --minutes $(LOAD_MINUTES) --listings $(LOAD_LISTINGS) $(LOAD_ARGS)

pin: deps-python  ## re-pin requirements.txt after editing requirements.in
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt

clean:
	rm -rf var .mypy_cache .ruff_cache
