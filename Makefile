# 金融客服助手: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash

# python3.10 itself, wherever this machine keeps it (PATH, pyenv, /usr).
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 \
	/usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(PY) -m rasa
MODEL := models/bot.tar.gz
# Everything a trained model depends on: when none of it changed, no retrain.
TRAINING_INPUTS := config.yml domain.yml $(shell find data bot/jieba bot/nlu -type f \( -name '*.yml' -o -name '*.txt' -o -name '*.py' \) 2>/dev/null)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
# No training cache: every `rasa train` here is cold, so a model depends on
# its inputs alone and CI's fresh clone trains the model measured here. Seen
# on 2026-11-30: cold trainings in two checkouts wrote byte-identical DIET
# weights, while a retrain that took the featurizers' output from Rasa's
# cache wrote different ones (held-out figures moved by a few lines).
export RASA_MAX_CACHE_SIZE := 0
# glibc gives freed memory back to the kernel and maps large blocks afresh,
# so TensorFlow's and NumPy's per-batch arrays fault their pages in again at
# every step. Seen on this 2-core machine while training: 43-50% of the CPU
# in the kernel and 22-33 s per ResponseSelector epoch without these
# settings, about 3% and 6-14 s with them (README, "Training time"). They
# apply to everything make starts (training, the servers, the tests).
export MALLOC_TRIM_THRESHOLD_ := 1073741824
export MALLOC_TOP_PAD_ := 268435456
export MALLOC_MMAP_THRESHOLD_ := 33554432

.PHONY: run run-scaled test install data validate train shell evaluate report bench clean chromium nginx

run: data validate $(MODEL)
	$(PY) -m bot.db.seed --list
	$(PY) -m bot.handoff.seed --list
	$(PY) -m bot.launch

# The scale-out deployment (README, "Scale-out"): replicas behind nginx, on
# this machine's PostgreSQL and Redis unless the environment names others.
SCALEOUT_DATABASE_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/test
SCALEOUT_REDIS_URL ?= redis://127.0.0.1:6379/0
run-scaled: export DATABASE_URL := $(or $(DATABASE_URL),$(SCALEOUT_DATABASE_URL))
run-scaled: export BOT_TRACKER_STORE_URL := $(or $(BOT_TRACKER_STORE_URL),$(SCALEOUT_DATABASE_URL))
run-scaled: export BOT_REDIS_URL := $(or $(BOT_REDIS_URL),$(SCALEOUT_REDIS_URL))
run-scaled: data validate $(MODEL) nginx
	$(PY) -m bot.db.seed --list
	$(PY) -m bot.handoff.seed --list
	$(PY) -m bot.scaleout

test: validate $(MODEL) chromium nginx
	$(PY) -m pytest -q

# The browser tests drive Debian's chromium through Playwright (no download).
chromium:
	.ci/ensure-chromium

# The scale-out deployment and its tests balance with Debian's nginx.
nginx:
	.ci/ensure-nginx

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON310)" || { echo "python3.10 is needed (Rasa 3.6 supports 3.8-3.10)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'setuptools<70' wheel
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Compile faq/ into Rasa training data (writes only what changed).
data: install
	$(PY) -m bot.faq.generate

# The library's own rules, then Rasa's, with no warning tolerated.
validate: install
	$(PY) -m bot.faq.validate
	$(PY) -m bot.validate_rasa

train: $(MODEL)

$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	$(RASA) train --config config.yml --domain domain.yml --data data \
		--out models --fixed-model-name bot
	@touch $@

shell: install
	$(PY) -m bot.chat

evaluate: $(MODEL)
	$(PY) -m bot.evaluate

# Issue 6's figures (README, "Figures"). Both are long: the report trains the
# plain Rasa recipe (config/baseline.yml) when it is stale and runs a 5-fold
# cross-validation of ours; the benchmark drives both bots at N = 1…100.
report: $(MODEL)
	$(PY) -m bot.report

bench: $(MODEL)
	$(PY) -m bot.bench

clean:
	rm -rf models var .pytest_cache
