# The two commands: `make run` starts everything, `make test` tests everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false
PY := .venv/bin/python
BOTPY := .venv-bot/bin/python

.PHONY: help run test check lint format prepare envs env-app env-bot system db model vad bench lock nlu-eval eval

help:
	@echo "make run    prepare what is missing and start the hotline (web chat on :8000)"
	@echo "make test   lint, then every test (unit to end-to-end)"
	@echo "make bench  benchmarks under bench/"
	@echo "make eval   the end-to-end question set against a running hotline (URL=http://127.0.0.1:8000)"
	@echo "make nlu-eval  NLU cross-validation and held-out report (a diagnostic, ~15 min)"
	@echo "make check  the fast loop: lint and type checks, then every test that needs no stack and no browser"
	@echo "make lint / make format / make lock"

env-app:
	@scripts/ensure_env.sh app || { echo "step 'app environment' failed; see .venv/install.log"; exit 1; }

env-bot:
	@scripts/ensure_env.sh bot || { echo "step 'assistant environment' failed; see the log named above"; exit 1; }

envs: env-app env-bot

system:
	@scripts/system_packages.sh $${HOTLINE_APP_INSTANCES:+--scale-out}

db: env-app
	@.venv/bin/hotline db upgrade || { echo "step 'database' failed: check HOTLINE_DATABASE_URL"; exit 1; }
	@.venv/bin/hotline user ensure-admin || { echo "step 'first admin account' failed (see above)"; exit 1; }

model: env-bot
	@scripts/train_if_changed.sh > /dev/null

vad: env-app
	@$(PY) -m voice.model_fetch --vad || echo "warning: no voice-activity model; calls use loudness alone"

prepare: system envs db vad model

run: prepare
	@$(PY) scripts/stack.py --model "$$(scripts/train_if_changed.sh)"

lint: envs
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m ruff check bot
	$(PY) -m ruff format --check bot
	$(PY) -m mypy
	cd bot && ../$(BOTPY) -m mypy
	.venv/bin/lint-imports --no-cache > /dev/null || .venv/bin/lint-imports --no-cache

format: env-app
	$(PY) -m ruff format . bot
	$(PY) -m ruff check --fix . bot

# The developers' loop: no Rasa server, no browser, SQLite only, tests handed one at a time to CHECK_WORKERS
# processes (more than the cores: much of the time is the phone-line tests playing audio in real time, and
# tests/conftest.py starts those first);
# `make test` remains the whole truth and runs the tests one at a time.
CHECK_WORKERS ?= 4
check: envs
	@$(MAKE) --no-print-directory lint
	@RASA_TELEMETRY_ENABLED=false HOTLINE_TEST_POSTGRES_URL= $(PY) -m pytest -q -m "not stack and not browser" -n $(CHECK_WORKERS) --maxschedchunk 1

test: envs vad
	@scripts/system_packages.sh --with-tests
	@scripts/run_tests.sh

bench: prepare
	@for b in bench/*.py; do echo "==> $$b"; $(PY) $$b || exit 1; done

eval: env-app
	$(PY) -m tests.conversation.runner --url "$${URL:-http://127.0.0.1:8000}" --show-failures

nlu-eval: model
	$(BOTPY) bot/tests/nlu_eval.py --model "$$(scripts/train_if_changed.sh)" --out test-artifacts/nlu

lock:
	.venv/bin/python -m pip freeze --exclude-editable > requirements/app.lock
	.venv-bot/bin/python -m pip freeze > requirements/bot.lock
