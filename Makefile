# magasin.platform development tasks. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# Which Helm major the integration tests use: 3, 4, or empty for both.
export MAGASIN_HELM ?=
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: help setup host-packages hosts-down lock tools-verify test lint ruff yamllint ansible-lint sanity pytest unit \
        integration bench build ee cluster-up cluster-down cluster-status demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.installed host-packages ## venv with the pinned, hash-locked tools; helm 3 + 4 and kubectl; test-host packages
	$(BIN)/python tools/binaries.py install --bin-dir $(BIN)
	$(BIN)/python tools/sanity.py bootstrap

# debootstrap and systemd-nspawn boot the Debian test hosts of the k3s role's tests; the
# backup scripts are tested against a real PostgreSQL server (tests/support/backup_servers.py).
host-packages:
	@if command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null \
	    && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container postgresql; \
	else echo "note: install debootstrap, systemd-container and postgresql (as root) to run the k3s host and backup tests"; fi

$(VENV)/.installed: requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	touch $@

lock: ## re-resolve requirements/dev.txt from requirements/dev.in (needs the network)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --generate-hashes --allow-unsafe --strip-extras -q \
	  -o requirements/dev.txt requirements/dev.in

tools-verify: ## check the installed helm/kubectl against their pinned SHA-256
	$(BIN)/python tools/binaries.py verify --bin-dir $(BIN)

test: lint sanity pytest ## every check, in order: ruff, yamllint, ansible-lint, sanity, pytest

lint: ruff yamllint ansible-lint

ruff:
	$(BIN)/ruff check .

yamllint:
	$(BIN)/yamllint --strict .

ansible-lint:
	$(BIN)/ansible-lint --profile production

sanity: ## ansible-test sanity on a copy laid out as ansible_collections/magasin/platform
	$(BIN)/python tools/sanity.py run

# Two pytest-xdist workers, each with a test cluster of its own and whole test files (--dist loadfile); the
# longest files first (tests/integration/conftest.py), in that order, not by test count; then, alone, the
# tests that stop and restart the cluster and those marked `alone` (the smoke tests).
# PYTEST_WORKERS=0 runs everything in one process, as before.
PYTEST_WORKERS ?= 2
pytest: ## unit and integration tests, on two workers with a test cluster each; then the lifecycle and smoke tests
	$(BIN)/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder) --durations=40 \
	  -m "not cluster_lifecycle and not alone" tests/unit tests/integration
	$(BIN)/pytest --durations=10 -m "cluster_lifecycle or alone" tests/integration

unit:
	$(BIN)/pytest tests/unit

integration:
	$(BIN)/pytest tests/integration

bench: ## benchmark on the test cluster: no-op/fresh converges vs kubernetes.core and plain helm, medians of 3 (not a test)
	$(BIN)/python tools/bench.py

build: ## build the collection tarball
	$(BIN)/ansible-galaxy collection build --force --output-path .

ee: build ## execution environment build context in context/ (ansible-builder create; building the image needs podman or docker)
	$(BIN)/ansible-builder create --file execution-environment.yml --context context

cluster-up: ## start the local test cluster (builds it the first time)
	$(PYTHON) tests/cluster/harness.py up

cluster-down: ## stop the local test cluster (and the pytest workers' clusters) and remove their state
	$(PYTHON) tests/cluster/harness.py down --all

cluster-status: ## what the local test cluster runs
	$(PYTHON) tests/cluster/harness.py status

hosts-down: ## stop the Debian test hosts of the k3s tests, if any are left
	$(PYTHON) tests/hosts/harness.py down

# Charts: MAGASIN_CHARTS_DIR; else the real magasin charts beside the checkout; else the public
# repository when reachable; else stop. inventories/local resolves the same way, so a later plain
# `ansible-playbook -i inventories/local site.yml` uses the same charts.
SHARED_CHARTS := $(abspath $(CURDIR)/../shared/charts/magasin)
PUBLIC_CHARTS := https://unicef.github.io/magasin

demo: ## test cluster up, then site.yml with inventories/local (charts: MAGASIN_CHARTS_DIR, ../shared/charts/magasin, or the public repository)
	@if [ -n "$${MAGASIN_CHARTS_DIR:-}" ]; then \
	  echo "demo: charts from MAGASIN_CHARTS_DIR=$$MAGASIN_CHARTS_DIR"; \
	elif [ -f "$(SHARED_CHARTS)/index.yaml" ]; then \
	  echo "demo: charts from $(SHARED_CHARTS) (the real magasin charts beside this checkout)"; \
	elif timeout 30 $(BIN)/helm4 show chart drill --repo $(PUBLIC_CHARTS) --version 0.9.0 >/dev/null 2>&1; then \
	  echo "demo: charts from the public magasin chart repository $(PUBLIC_CHARTS)"; \
	else \
	  echo "demo: no charts: MAGASIN_CHARTS_DIR is not set, $(SHARED_CHARTS) does not exist, and $(PUBLIC_CHARTS) cannot be reached." >&2; \
	  echo "demo: set MAGASIN_CHARTS_DIR to a directory of <chart>-<version>.tgz archives, or run online." >&2; \
	  exit 1; \
	fi
	$(PYTHON) tests/cluster/harness.py up
	$(BIN)/ansible-playbook -i inventories/local site.yml
	@echo "demo: the test cluster simulates its nodes with kwok: pods are scheduled and marked Ready, but no container runs."

clean: cluster-down ## remove the venv, built tarballs and test output
	rm -rf $(VENV) tests/output magasin-platform-*.tar.gz
