# Customer self-service assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY310 ?= $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'print(1)' >/dev/null 2>&1 && echo python3.10 || ls -d /root/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | tail -n1)
PY311 ?= $(shell command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'print(1)' >/dev/null 2>&1 && echo python3.11 || ls -d /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | tail -n1)
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
RASA := $(RASA_VENV)/bin/rasa
MODEL := models/kestrel.tar.gz
RASA_DATA := domain.yml config.yml $(filter-out rasa_addons/channels.py rasa_addons/broker.py rasa_addons/lock_store.py rasa_addons/tracker_store.py,$(wildcard rasa_addons/*.py)) $(shell find data/nlu data/rules data/stories -name '*.yml' 2>/dev/null)

export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install gateway run run-production test test-py test-production test-kb test-rasa validate train index lint bench bench-kb bench-guided bench-widget bench-console bench-conversations bench-intents bench-hostile bench-load bench-faults bench-insights bench-scale clean browser

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(RASA_VENV)/.installed: requirements-rasa.txt
	@test -n "$(PY310)" || { echo "Python 3.10 is needed for Rasa 3.6 (set PY310=/path/to/python3.10)"; exit 1; }
	$(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q --upgrade pip
	$(RASA_VENV)/bin/pip install -q -r requirements-rasa.txt
	touch $@

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY311)" || { echo "Python 3.11 is needed (set PY311=/path/to/python3.11)"; exit 1; }
	test -x $(PY) || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(RASA_VENV)/.installed $(VENV)/.installed ## create both virtualenvs (Rasa on 3.10, the rest on 3.11)

browser: ## install Debian's Chromium for the browser tests (if missing)
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

gateway: ## install Debian's nginx, the gateway in front of everything (if missing; it is not started as a system service)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; }

$(MODEL): $(RASA_VENV)/.installed $(RASA_DATA)
	$(RASA) train --fixed-model-name kestrel --out models

train: $(MODEL) ## train the Rasa model when its data changed

index: $(VENV)/.installed ## build kb_index/ from data/kb: tunes the encoder when the example questions changed (~4 min), re-embeds only changed articles
	$(VENV)/bin/assistant kb build --tune

validate: $(VENV)/.installed ## check articles and editor settings (file and line for each problem)
	$(VENV)/bin/assistant validate

run: install gateway train index ## install what is missing, train, index, start every service, print the URLs
	$(PY) -m assistant.stack

run-production: install gateway train index ## the same on PostgreSQL, Redis and RabbitMQ with 2 Rasa instances and 2 action servers (docs/deployment.md)
	$(PY) -m assistant.stack --production

test-py: install gateway train index browser ## pytest (unit, API, and the real stack end to end)
	$(PY) -m pytest -q

# The end-to-end conversation tests again, on the production profile's stack (PostgreSQL, Redis,
# RabbitMQ, two Rasa instances, two action servers), with the tests that only it runs.
PRODUCTION_TESTS := tests/integration/test_production.py tests/integration/test_two_processes.py tests/integration/test_conversation.py tests/integration/test_stages.py tests/integration/test_follow_the_customer.py
test-production: install gateway train index browser ## the end-to-end tests on the production profile (pytest --profile production)
	$(PY) -m pytest -q --profile production $(PRODUCTION_TESTS)

test-kb: index ## the knowledge-base regression tests, data/kb_tests.yml (file:line for each failure)
	$(VENV)/bin/assistant kb test

test-rasa: install train ## rasa data validate + conversation tests
	$(RASA) data validate
	$(RASA) test --stories tests/test_stories.yml --model $(MODEL) --fail-on-prediction-errors --out var/rasa-test-results

test: lint test-py test-production test-kb test-rasa ## everything CI runs: lint, pytest (both profiles), rasa data validate, rasa test

lint: $(VENV)/.installed ## ruff and mypy
	$(VENV)/bin/ruff check assistant actions tests rasa_addons bench
	$(VENV)/bin/mypy

bench-kb: $(RASA_VENV)/.installed $(VENV)/.installed ## knowledge-base benchmark, one JSON object (about 50 min with the Rasa baseline)
	@mkdir -p var
	$(PY) bench/kb_bench.py --out var/bench-kb.json

bench-guided: $(VENV)/.installed ## guided Q&A benchmark: recommender leave-one-out, typed-answer matching (JSON, ~1 min)
	@mkdir -p var
	$(PY) bench/guided_bench.py --out var/bench-guided.json

bench-widget: $(VENV)/.installed ## the chat widget's size on a host page, raw and gzip (JSON)
	@mkdir -p var
	$(PY) bench/widget_bench.py --out var/bench-widget.json

bench-console: $(VENV)/.installed ## the agent console's staff API over 1,000 handoffs: latencies (JSON, ~1 min)
	@mkdir -p var
	$(PY) bench/console_bench.py --out var/bench-console.json

bench-conversations: install gateway train index ## held-out scripted customers against the real stack: goals reached, turns, re-asks, dead ends (JSON, ~10 min)
	@mkdir -p var
	$(PY) bench/conversations_bench.py --out var/bench-conversations.json
	@echo "wrote var/bench-conversations.json"

bench-intents: install train ## held-out customer phrasings against Rasa alone: intent accuracy, confusions, fallbacks (JSON, ~2 min)
	@mkdir -p var
	$(PY) bench/intents_bench.py --out var/bench-intents.json
	@echo "wrote var/bench-intents.json"

bench-hostile: install gateway train index ## 100 hostile 60 KB messages on each public entry through the gateway: outcomes, memory and reply time before/after (JSON, ~4 min)
	@mkdir -p var
	$(PY) bench/hostile_bench.py --out var/bench-hostile.json
	@echo "wrote var/bench-hostile.json"

# Two Rasa processes (both cores) need Redis: make bench-load LOAD_ARGS="--rasa-processes 2 --redis-url redis://127.0.0.1:6379/0"
LOAD_ARGS ?=
bench-load: install gateway train index ## simulated customers over socket.io (and REST) at 50-400 customers and at the ceiling: turns/s, p50/p95/p99 per kind of turn, lost messages, memory (JSON, ~15 min)
	@mkdir -p var
	$(PY) bench/load_bench.py --out var/bench-load.json $(LOAD_ARGS)
	@echo "wrote var/bench-load.json"

bench-faults: install gateway train index ## the action server, Rasa and the web app killed, the database locked, clients gone mid-turn, under customers: what they received, recovery, losses (JSON, ~6 min)
	@mkdir -p var
	$(PY) bench/faults_bench.py --out var/bench-faults.json
	@echo "wrote var/bench-faults.json"

bench-insights: $(VENV)/.installed index ## analytics: events consumed/s, dashboard p95 over 100,000 conversations, clustering 10,000 failed questions, held-out suggestion precision, accept-to-answer time (JSON, ~5 min)
	@mkdir -p var
	$(PY) bench/insights_bench.py --out var/bench-insights.json
	@echo "wrote var/bench-insights.json"

bench-scale: install gateway train index ## 200 simulated customers through the gateway with 1 and 2 Rasa instances (production profile), broker events/s into analytics, article edit live on every action server (JSON, ~10 min)
	@mkdir -p var
	$(PY) bench/scale_bench.py --out var/bench-scale.json
	@echo "wrote var/bench-scale.json"

bench: bench-scale bench-insights bench-widget bench-guided bench-console bench-conversations bench-intents bench-hostile bench-load bench-faults bench-kb ## every benchmark (JSON)

clean: ## remove built and runtime files (keeps the virtualenvs)
	rm -rf kb_index models var .pytest_cache .mypy_cache .ruff_cache
