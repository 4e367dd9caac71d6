# Mat Coach: `make run` and `make test` set up everything on a fresh Debian / Raspberry Pi OS
# machine (system packages through apt, with sudo when not root; a .venv; the package), then
# run or test. CI runs `make test` (see .ci/run).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What `make run` passes to `assistant run`, e.g. make run ARGS="--text --speed 10"
ARGS ?=
# `make run` first sets up the Vosk English model when none is there (progress bar, checksum,
# resume); with no network it says so in one line and the session listens with PocketSphinx.
# MODEL_DOWNLOAD=no skips the attempt (an offline Pi, CI); MODEL picks another model of the
# server's list (assistant model list).
MODEL_DOWNLOAD ?= yes
MODEL ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# espeak-ng: the voice; libportaudio2: sound devices; libatomic1: the aarch64 libvosk needs it;
# libspeexdsp1: echo cancellation (so "stop" is heard while the coach talks);
# pulseaudio*: the virtual room the tests speak and listen in; graphviz: the state diagram;
# sox: test helpers; python3-venv: Debian's python3 needs it for `python3 -m venv`;
# flite: a voice of the development set the room tests speak with (tests/voices.py).
APT_PACKAGES := espeak-ng libportaudio2 libatomic1 libspeexdsp1 pulseaudio pulseaudio-utils \
	libasound2-plugins graphviz sox python3-venv flite
# festival's ked voice: the rest of the development set (bench/devset.py; not needed by the tests).
BENCH_APT_PACKAGES := festival festvox-kdlpc16k

.PHONY: run test test-pi system lint typecheck unit diagram clean bench-hearing train-verifier

run: $(VENV)/.installed
	@if [ "$(MODEL_DOWNLOAD)" != no ]; then $(BIN)/assistant model download --if-missing $(MODEL); fi
	$(BIN)/assistant run $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check assistant tests
	$(BIN)/mypy
	$(BIN)/pytest -q

# The test suite inside an emulated 64-bit Raspberry Pi OS (Debian 12 arm64 through qemu-user),
# made by the development workspace's shared/pi/setup.sh; needs root. Not part of `make test`
# or CI: it takes well over 20 minutes (see docs/raspberry-pi.md). Inside, `make system` installs the apt packages
# (PulseAudio too, so the sound-room tests run) and PI_EMULATED=1 skips the tests marked
# not_emulated, each with its reason.
PI_TOOLS ?= ../shared/pi
PI_ROOT ?= /tmp/pi-root
PYTEST_ARGS ?=
test-pi:
	PI_ROOT=$(PI_ROOT) $(PI_TOOLS)/run-in-pi.sh $(CURDIR) 'set -e; \
		command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq make; }; \
		make system; \
		python3 -m venv /tmp/venv; \
		/tmp/venv/bin/pip install -q -e ".[test]"; \
		echo "Installed after $$SECONDS s; running the tests."; \
		/tmp/venv/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
		echo "Whole run: $$SECONDS s."'

# Installs the apt packages that are missing (does nothing when all are there).
system:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | system $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | system $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

# The ear on the development set: makes the clips once (cached in .bench-cache/devset, about
# 15 min), then plain PocketSphinx and Mat Coach's on the half nothing was tuned on (bench/RESULTS.md).
bench-hearing: $(VENV)/.installed-test
	$(MAKE) system APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/python bench/devset.py
	$(BIN)/python bench/hearing.py --half report

# The second opinion's weights (assistant/verifier.npz, committed) from the tune half of the
# development set; bench/train_verifier.py --check holds each tune voice out in turn instead.
train-verifier: $(VENV)/.installed-test
	$(MAKE) system APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python bench/devset.py
	$(BIN)/python bench/train_verifier.py

diagram: $(VENV)/.installed-test
	$(BIN)/assistant diagram --out docs/session.svg

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
