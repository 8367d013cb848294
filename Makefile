# OpenVolcano developer entry points.
#   make demo   - install what is needed, then run the most complete real thing we have
#   make test   - install what is needed, then lint, type-check, check import contracts, run pytest
# Both are safe to run twice: installs are skipped when already satisfied.

SHELL      := /bin/bash
PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
STAMPS     := $(VENV)/.stamps
# Debian packages the tests and the demo drive for real.
APT_PKGS   := openvswitch-switch openvswitch-common iproute2 iputils-ping iperf3 ethtool libvirt-dev pkg-config criu mosquitto netsniff-ng qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu busybox-static linux-image-cloud-amd64
PYTEST_ARGS ?=
# Faucet (interop tests) pins an os-ken and prometheus-client that conflict with ours: own venv.
FAUCET_VENV := .venv-faucet

.PHONY: all venv faucet-venv deps apt test lint types contracts pytest demo clean help

help:
	@echo "make demo   - two edge sites: a Personal Network and a virtual NAS following its user"
	@echo "make test   - ruff, mypy --strict, import-linter, pytest (installs what it needs)"
	@echo "make deps   - only install Debian and Python dependencies"
	@echo "make clean  - remove the virtual environment and caches"

deps: apt venv faucet-venv osken-apps

# Debian packages: install only the missing ones (apt-get update only when needed).
apt: $(STAMPS)/apt
$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install Debian packages:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@touch $@

# Python virtual environment with the project installed (editable) and dev tools.
venv: $(STAMPS)/py
$(STAMPS)/py: pyproject.toml $(STAMPS)/apt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@mkdir -p $(STAMPS)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# Faucet's virtualenv, from requirements/faucet.txt (reinstalled only when that file changes).
faucet-venv: $(FAUCET_VENV)/.installed
$(FAUCET_VENV)/.installed: requirements/faucet.txt
	@test -x $(FAUCET_VENV)/bin/python || $(PYTHON) -m venv $(FAUCET_VENV)
	$(FAUCET_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/faucet.txt
	@touch $@

# os-ken's sample app simple_switch_13 (controller of tests/interop/controllers): the os-ken
# wheels no longer ship it, so take the original from the ryu 4.34 sdist on PyPI (os-ken is
# ryu's fork) and rename it for os-ken, exactly as os-ken's own copy does: `from ryu.` ->
# `from os_ken.`, `app_manager.RyuApp` -> `app_manager.OSKenApp`. The diff is checked to touch
# only those lines. Built into the venv at install time, never committed (docs/interop.md).
# pip needs setuptools and wheel to read an sdist's metadata: they go in a throwaway venv.
.PHONY: osken-apps
OSKEN_APPS := $(VENV)/share/openvolcano/osken_apps
RYU_SDIST  := $(VENV)/share/openvolcano/ryu-4.34.tar.gz
RYU_SHA256 := a31041eb53aee0c36ca428645ad2607163ca5e1390f5a3d6ef2025b7829ce93e
RYU_TMP    := $(VENV)/share/openvolcano/.ryu-tmp
osken-apps: $(OSKEN_APPS)/simple_switch_13.py
$(RYU_SDIST): | $(STAMPS)/py
	rm -rf $(RYU_TMP) && mkdir -p $(RYU_TMP)
	$(PYTHON) -m venv $(RYU_TMP)/venv
	$(RYU_TMP)/venv/bin/pip install -q --disable-pip-version-check setuptools==65.5.0 wheel==0.48.0
	$(RYU_TMP)/venv/bin/pip download -q --disable-pip-version-check --no-deps \
	  --no-binary :all: --no-build-isolation -d $(RYU_TMP) ryu==4.34
	echo "$(RYU_SHA256)  $(RYU_TMP)/ryu-4.34.tar.gz" | sha256sum -c --quiet
	mv $(RYU_TMP)/ryu-4.34.tar.gz $@ && rm -rf $(RYU_TMP)
$(OSKEN_APPS)/simple_switch_13.py: $(RYU_SDIST)
	@mkdir -p $(OSKEN_APPS)
	tar -xzOf $< ryu-4.34/ryu/app/simple_switch_13.py > $@.ryu
	sed -E -e 's/^from ryu\./from os_ken./' -e 's/app_manager\.RyuApp\b/app_manager.OSKenApp/' $@.ryu > $@.tmp
	@# Only the renamed lines differ, and nothing still refers to ryu.
	@! diff $@.ryu $@.tmp | grep '^[<>]' \
	  | grep -vE '^[<>] (from (ryu|os_ken)\.|class SimpleSwitch13\(app_manager\.(RyuApp|OSKenApp)\):$$)'
	@! grep -nw ryu $@.tmp
	mv $@.tmp $@ && rm -f $@.ryu

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

types: venv
	$(VENV)/bin/mypy

contracts: venv
	$(VENV)/bin/lint-imports

pytest: deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: deps lint types contracts pytest

bench: deps
	$(PY) -m benchmarks.quake_bench

demo: deps
	$(VENV)/bin/openvolcano demo

clean:
	rm -rf $(VENV) $(FAUCET_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build src/*.egg-info
