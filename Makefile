# Advisor Copilot: `make run` serves the bot, `make test` runs the whole suite.
# Both build .venv from Python 3.10 first (Rasa 3.6 needs Python < 3.11).

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
# python3.10 on PATH if it really runs (a pyenv shim may not), else pyenv's newest 3.10.
PYTHON310 := $(shell for p in python3.10 $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n 1); do \
                 if $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then command -v $$p; break; fi; done)

.PHONY: run test lint validate stories pytest prepare bench clean system-deps soak

run: $(STAMP)
	$(BIN)/copilot up

test: prepare lint validate stories pytest

prepare: $(STAMP)
	$(BIN)/copilot prepare

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/rasa data validate --fail-on-warnings --domain domain \
	    --data data/nlu data/stories data/rules

stories: prepare
	$(BIN)/rasa test core --stories tests/stories --model models/copilot.tar.gz \
	    --fail-on-prediction-errors --no-plot --out results/stories

pytest: prepare system-deps
	$(BIN)/pytest -q

# Tests start a throwaway PostgreSQL server and drive Debian's Chromium (with CJK
# fonts for readable screenshots); `copilot up --replicas N` and its tests run
# nginx and redis-server: install what is missing.
system-deps:
	@missing=""; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then \
	    echo "Installing with apt-get:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# The fault test alone (also part of `make test`): two Rasa replicas behind nginx, 16
# advisors talking, one replica SIGKILLed mid-run; prints the turns that failed.
soak: prepare system-deps
	$(BIN)/pytest -q -s tests/test_replicas.py

bench: $(STAMP)
	$(BIN)/copilot bench

$(STAMP): pyproject.toml requirements.lock
	@if [ -z "$(PYTHON310)" ]; then \
	    echo "Python 3.10 not found. Rasa 3.6 needs Python 3.10: install it (e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv') and run make again." >&2; \
	    exit 1; fi
	@echo "Building $(VENV) with $(PYTHON310)"
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/pip install --quiet --progress-bar off -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV) models results .pytest_cache .mypy_cache .ruff_cache
