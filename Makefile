# 协商助手 — every command a user or CI needs. See README.md.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)
export BOT_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export BOT_HOST ?= 127.0.0.1

.PHONY: run test train shell bench venv clean run-scaled

$(STAMP): pyproject.toml scripts/setup_venv.sh scripts/setup_web.sh web/package-lock.json
	@bash scripts/setup_venv.sh $(VENV)
	@touch $(STAMP)

venv: $(STAMP)

train: $(STAMP)
	@$(PY) scripts/train.py

run: train
	@bash scripts/run.sh

# scale-out profile: 2 Rasa replicas + PostgreSQL + Redis behind nginx (docs/operations.md)
run-scaled: train
	@bash scripts/run_scaled.sh

shell: train
	@bash scripts/run.sh --shell

test: train
	@bash scripts/test.sh

bench: train
	@$(PY) bench/run.py

clean:
	rm -rf models var .pytest_cache
